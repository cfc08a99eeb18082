"""Calibration of a multi-arm design's efficacy threshold to a target Bayesian type I
error, by re-thresholding stored per-trial maximal posterior probabilities."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rdstats.designs._multi_arm import MultiArmDesign
from rdstats.designs._multi_arm_run import run_trials

__all__ = ["ThresholdCalibration", "calibrate_threshold"]

Array = NDArray[np.float64]


class _EfficacyOff:
    """The design simulated without efficacy decisions (engine hooks only): each trial's
    ``max_prob_efficacy`` is then its running maximum over the whole trial."""

    def __init__(self, design: MultiArmDesign) -> None:
        self.design = design
        self._parameters = design._parameters
        self._n_looks = design.n_looks

    def _check_scenario(self, params: Any) -> None:
        self.design._check_scenario(params)

    def _prepare(self, scenarios: Any) -> None:
        self.design._prepare(scenarios)

    def _simulate(self, params: Any, size: int, rng: np.random.Generator) -> dict[str, Any]:
        out = run_trials(self.design, self.design._theta(params), size, rng, efficacy_off=True)
        return {"success": out["success"], "max_prob_efficacy": out["max_prob_efficacy"]}

    def to_dict(self) -> dict[str, Any]:
        return {"design": "MultiArmDesign (efficacy off)", "base": self.design.to_dict()}


def _error_at(max_probs: list[Array], c: float) -> tuple[Array, Array]:
    """Type I error and binomial MCSE per scenario at threshold ``c`` (success: P > c)."""
    p = np.array([float(np.mean(m > c)) for m in max_probs])
    n = np.array([m.size for m in max_probs], dtype=float)
    return p, np.sqrt(p * (1 - p) / n)


@dataclass(frozen=True, eq=False)
class ThresholdCalibration:
    """Result of :func:`calibrate_threshold`.

    Attributes
    ----------
    threshold : float
        Calibrated efficacy threshold (the same at every look).
    alpha : float
        Target type I error.
    type_i_error, mcse : float
        Largest simulated type I error over the null scenarios at ``threshold`` and its
        Monte Carlo standard error.
    design : MultiArmDesign
        The design with ``efficacy=threshold``.
    scenarios : pandas.DataFrame
        The null scenarios.
    max_probs : tuple of numpy.ndarray
        Per scenario, every trial's maximal posterior probability of superiority over
        looks and arms (read-only, in trial order), for re-thresholding with
        :meth:`type_i_error_at`.
    provenance : dict
        Seed record and arguments of the simulation.
    """

    threshold: float
    alpha: float
    type_i_error: float
    mcse: float
    design: MultiArmDesign
    scenarios: pd.DataFrame
    max_probs: tuple[Array, ...]
    provenance: dict[str, Any]

    def type_i_error_at(self, threshold: float) -> pd.DataFrame:
        """Type I error and MCSE per null scenario at another threshold (no simulation)."""
        c = float(threshold)
        if not 0.0 < c < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
        p, se = _error_at(list(self.max_probs), c)
        out = self.scenarios.copy()
        out["type_i_error"], out["mcse"] = p, se
        return out

    def summary(self) -> pd.DataFrame:
        """Type I error (with MCSE) per null scenario at the calibrated threshold."""
        out = self.type_i_error_at(self.threshold)
        out.insert(0, "threshold", self.threshold)
        return out

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Largest type I error over the null scenarios against the threshold (±2 MCSE
        band), with the target ``alpha`` and the calibrated threshold marked."""
        from rdstats.plotting import axes_for

        ax = axes_for(ax)
        lo = max(0.5, self.threshold - 0.1)
        grid = np.linspace(lo, min(1 - 1e-9, self.threshold + 0.03), 200)
        err = np.array([_error_at(list(self.max_probs), c) for c in grid])
        worst = err[:, 0, :].argmax(axis=1)
        p = err[np.arange(grid.size), 0, worst]
        se = err[np.arange(grid.size), 1, worst]
        ax.plot(grid, p, **kwargs)
        ax.fill_between(grid, p - 2 * se, p + 2 * se, alpha=0.3)
        ax.axhline(self.alpha, linestyle="--", color="grey")
        ax.axvline(self.threshold, linestyle=":", color="grey")
        ax.set_xlabel("efficacy threshold")
        ax.set_ylabel("type I error (largest over null scenarios)")
        return ax

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description (without the per-trial maxima)."""
        return {
            "threshold": self.threshold,
            "alpha": self.alpha,
            "type_i_error": self.type_i_error,
            "mcse": self.mcse,
            "design": self.design.to_dict(),
            "scenarios": self.scenarios.to_dict(orient="list"),
            "provenance": self.provenance,
        }

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>ThresholdCalibration</b>: threshold {self.threshold:.6g} "
            f"(target α = {self.alpha:g}; type I error {self.type_i_error:.4f} "
            f"± {self.mcse:.4f} MCSE)</p>"
        )
        return head + self.summary().to_html(index=False)


def calibrate_threshold(
    design: MultiArmDesign,
    scenarios: Any,
    alpha: float = 0.05,
    *,
    n_trials: int = 10_000,
    rng: Any = None,
    mcse_margin: float = 0.0,
    **kwargs: Any,
) -> ThresholdCalibration:
    """Efficacy threshold (the same at every look) that keeps the simulated family-wise
    Bayesian type I error at or below ``alpha`` in every null scenario.

    Parameters
    ----------
    design : MultiArmDesign
        Design whose efficacy threshold is calibrated (its other rules, allocation and
        looks are kept; per-look efficacy thresholds are replaced by the single
        calibrated one).
    scenarios : ScenarioGrid, DataFrame or mapping
        Null scenarios (no arm better than control by more than ``delta``), e.g. a range
        of control rates.
    alpha : float
        Target type I error in (0, 1).
    n_trials : int
        Simulated trials per scenario.
    rng : None, int, SeedSequence or Generator
        Root seed (fresh entropy, recorded, when None). Running
        ``calibration.design.simulate(scenarios, n_trials=n_trials, rng=seed)`` with the
        same integer seed repeats the same trials (common random numbers), so its type I
        error equals the calibration's trial by trial.
    mcse_margin : float
        Conservativeness: the threshold keeps ``error + mcse_margin * MCSE <= alpha``
        (0: the point estimate; 2: about 97.5% confidence that the true error is below
        ``alpha``).
    **kwargs
        Passed to :func:`rdstats.simulate.operating_characteristics` (``executor``,
        ``backend``, ``batch_size``, ``progress``, ...).

    Returns
    -------
    ThresholdCalibration

    Notes
    -----
    The design is simulated once with efficacy decisions switched off, storing every
    trial's maximum over looks and arms of ``P(θ_k > θ_c + δ | data)``. With a threshold
    ``c`` applied at every look, a trial's path up to its first crossing does not depend
    on ``c``, so the trial declares an arm effective exactly when that maximum exceeds
    ``c``: every candidate threshold is evaluated by re-thresholding the stored maxima
    (no re-simulation). The type I error is a decreasing step function of ``c``; the
    smallest admissible threshold is found by bisection over the sorted stored maxima.

    References
    ----------
    .. [1] Berry SM, Carlin BP, Lee JJ, Müller P. Bayesian Adaptive Methods for Clinical
       Trials. CRC Press, 2010, section 2.5.
    .. [2] Food and Drug Administration. Adaptive Designs for Clinical Trials of Drugs and
       Biologics: Guidance for Industry, 2019, section VI.B (simulations).

    Examples
    --------
    >>> from rdstats.designs import calibrate_threshold
    >>> from rdstats.designs import MultiArmDesign
    >>> from rdstats.priors import BetaMixture
    >>> design = MultiArmDesign(2, 60, BetaMixture(1, 1, 1), looks=[30])
    >>> cal = calibrate_threshold(design, {"p_control": [0.2], "p_1": [0.2], "p_2": [0.2]},
    ...                           alpha=0.05, n_trials=4000, rng=1, progress=False)
    >>> round(cal.threshold, 3), cal.type_i_error <= 0.05
    (0.976, True)
    """
    from rdstats.simulate import operating_characteristics
    from rdstats.simulate._engine import as_grid

    if not isinstance(design, MultiArmDesign):
        raise TypeError(f"design must be a MultiArmDesign, got {type(design).__name__}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating)):
        raise TypeError(f"alpha must be a number, got {alpha!r}")
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if isinstance(mcse_margin, bool) or not isinstance(mcse_margin, (int, float, np.floating)):
        raise TypeError(f"mcse_margin must be a number, got {mcse_margin!r}")
    if not (np.isfinite(mcse_margin) and mcse_margin >= 0):
        raise ValueError(f"mcse_margin must be a non-negative number, got {mcse_margin!r}")
    grid = as_grid(scenarios)
    for s in grid:
        if set(design._parameters) <= set(s) and not design._is_null(s):
            raise ValueError(
                f"scenario {s.label!r} is not null (an arm beats control by more than "
                f"delta={design.delta}); calibrate under null scenarios only"
            )
    res = operating_characteristics(
        _EfficacyOff(design), grid, n_trials=n_trials, rng=rng, **kwargs
    )
    out = res.outcomes
    assert out is not None  # Monte Carlo results keep their outcomes
    max_probs = []
    for label in grid.labels:
        m = out.loc[out["scenario"] == label, "max_prob_efficacy"].to_numpy(float).copy()
        m.flags.writeable = False
        max_probs.append(m)
    a, z = float(alpha), float(mcse_margin)

    def admissible(c: float) -> bool:
        p, se = _error_at(max_probs, c)
        return bool(np.all(p + z * se <= a))

    cands = np.unique(np.concatenate([*max_probs, [0.5]]))
    cands = cands[(cands >= 0.5) & (cands < 1.0)]
    if cands.size == 0 or not admissible(float(cands[-1])):
        raise ValueError(
            f"no efficacy threshold below 1 keeps the type I error at alpha={alpha} with "
            f"mcse_margin={mcse_margin}: simulate more trials (n_trials={n_trials}) or "
            "raise alpha"
        )
    lo, hi = 0, cands.size - 1  # admissible(cands[hi]) holds; find the first that does
    if admissible(float(cands[0])):
        hi = 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if admissible(float(cands[mid])):
            hi = mid
        else:
            lo = mid
    c = float(cands[hi])
    p, se = _error_at(max_probs, c)
    worst = int(np.argmax(p))
    prov = dict(res.provenance)
    prov.update(alpha=a, mcse_margin=z)
    return ThresholdCalibration(
        threshold=c,
        alpha=a,
        type_i_error=float(p[worst]),
        mcse=float(se[worst]),
        design=dataclasses.replace(design, efficacy=c),
        scenarios=grid.table,
        max_probs=tuple(max_probs),
        provenance=prov,
    )
