"""Tipping-point and quantitative bias analysis for an unmeasured binary confounder.

An unmeasured binary confounder U with prevalence ``p1`` among the treated and ``p0``
among the controls, and effect ``gamma`` on the outcome (a mean difference) or ``RR_UD``
(a risk ratio), biases the observed estimate by

* ``gamma * (p1 - p0)`` for a mean difference (additive bias), and
* ``(1 + (RR_UD - 1) p1) / (1 + (RR_UD - 1) p0)`` for a risk ratio (multiplicative bias
  factor; a hazard ratio is treated as a risk ratio, appropriate for a rare outcome),

assuming no effect modification by U (Lin, Psaty & Kronmal 1998; VanderWeele & Arah 2011).
The bias-adjusted estimate is the observed estimate minus (divided by) the bias.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtri

from rdstats._provenance import provenance
from rdstats._validation import as_float_array, real_number
from rdstats.external._sensitivity import canonical_measure

__all__ = ["TippingPointResult", "tipping_point"]

_MEASURES = ("MD", "RR", "HR")


def _measure(measure: Any) -> str:
    return canonical_measure(measure, _MEASURES)


def _bias(measure: str, effect: Any, p1: Any, p0: Any) -> Any:
    """Additive bias (MD) or multiplicative bias factor (ratios); vectorised."""
    if measure == "MD":
        return effect * (p1 - p0)
    return (1.0 + (effect - 1.0) * p1) / (1.0 + (effect - 1.0) * p0)


def _adjust(measure: str, estimate: Any, bias: Any) -> Any:
    return estimate - bias if measure == "MD" else estimate / bias


def _interval(measure: str, centre: Any, se: float, z: float) -> tuple[Any, Any]:
    if measure == "MD":
        return centre - z * se, centre + z * se
    return centre * np.exp(-z * se), centre * np.exp(z * se)


def _level(level: Any) -> float:
    lv = real_number(level, "level")
    if not 0 < lv < 1:
        raise ValueError(f"level must be strictly between 0 and 1, got {level!r}")
    return lv


def _common(estimate: Any, se: Any, measure: str, true: Any) -> tuple[float, float | None, float]:
    est = real_number(estimate, "estimate")
    if measure != "MD" and est <= 0:
        raise ValueError(f"estimate must be a positive {measure}, got {estimate!r}")
    sev = None if se is None else real_number(se, "se")
    if sev is not None and sev <= 0:
        raise ValueError(f"se must be > 0, got {se!r}")
    null = 0.0 if measure == "MD" else 1.0
    t = null if true is None else real_number(true, "true")
    if measure != "MD" and t <= 0:
        raise ValueError(f"true must be a positive {measure}, got {true!r}")
    return est, sev, t


def _check_effect(effect: NDArray[np.float64], measure: str, name: str) -> None:
    if measure != "MD" and (effect <= 0).any():
        raise ValueError(f"{name} must be positive risk ratios RR_UD, got {effect.tolist()!r}")


def _check_prevalence(p: NDArray[np.float64], name: str) -> None:
    if ((p < 0) | (p > 1)).any():
        raise ValueError(f"{name} must be probabilities between 0 and 1, got {p.tolist()!r}")


def _solve_effect(measure: str, target: float, true: float, p1: Any, p0: float) -> Any:
    """Outcome effect of U at which the bias moves ``target`` exactly onto ``true``;
    NaN where no confounder with these prevalences can do so."""
    p1 = np.asarray(p1, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "MD":
            gap = target - true
            if gap == 0:
                return np.zeros_like(p1)
            out = gap / (p1 - p0)
            return np.where(p1 == p0, np.nan, out)
        ratio = target / true
        if ratio == 1:
            return np.ones_like(p1)
        r = 1.0 + (ratio - 1.0) / (p1 - ratio * p0)
        return np.where(np.isfinite(r) & (r > 0), r, np.nan)


@dataclass(frozen=True)
class TippingPointResult:
    """Grid of bias-adjusted estimates and the tipping frontier.

    Attributes
    ----------
    grid : pandas.DataFrame
        One row per (outcome_effect, prevalence_treated): the bias, the adjusted
        estimate and confidence limits, and whether the adjusted estimate
        (``estimate_tipped``) or the interval (``ci_tipped``) reaches the true value.
    frontier : pandas.DataFrame
        Per treated-group prevalence, the exact outcome effect of U at which the
        adjusted estimate (``effect_estimate``) and the confidence limit closer to the
        null (``effect_ci``) reach the true value; NaN where no confounder with that
        prevalence can.
    """

    measure: str
    estimate: float
    se: float
    true: float
    level: float
    prevalence_control: float
    grid: pd.DataFrame = field(repr=False)
    frontier: pd.DataFrame = field(repr=False)
    provenance: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def summary(self) -> pd.DataFrame:
        """The tipping frontier (a copy)."""
        return self.frontier.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (NaN written as ``None``)."""

        def records(df: pd.DataFrame) -> list[dict[str, Any]]:
            clean = df.astype(object).where(pd.notna(df), None)
            return [
                {str(k): (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
                for row in clean.to_dict(orient="records")
            ]

        return {
            "measure": self.measure,
            "estimate": self.estimate,
            "se": self.se,
            "true": self.true,
            "level": self.level,
            "prevalence_control": self.prevalence_control,
            "grid": records(self.grid),
            "frontier": records(self.frontier),
            "provenance": dict(self.provenance),
        }

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>Tipping-point analysis</b> ({self.measure}): estimate {self.estimate:.4g}, "
            f"SE {self.se:.4g}, true value {self.true:g}, control prevalence of U "
            f"{self.prevalence_control:g}</p>"
        )
        return head + self.frontier.to_html(index=False)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Heat map of the adjusted estimate over (prevalence of U among the treated,
        outcome effect of U), with the tipping frontiers of the estimate and the CI."""
        from rdstats.plotting._external_sensitivity import plot_tipping_heatmap

        return plot_tipping_heatmap(self, ax=ax, **kwargs)


def tipping_point(
    estimate: float,
    se: float,
    *,
    measure: str = "MD",
    outcome_effect: ArrayLike | None = None,
    prevalence_treated: ArrayLike | None = None,
    prevalence_control: float = 0.0,
    true: float | None = None,
    level: float = 0.95,
) -> TippingPointResult:
    """Tipping-point analysis for an unmeasured binary confounder.

    Parameters
    ----------
    estimate : float
        Observed treatment effect: a mean difference (``"MD"``) or a risk or hazard ratio.
    se : float
        Standard error of the estimate (of its logarithm for ``"RR"``/``"HR"``).
    measure : {"MD", "RR", "HR"}
        Scale of the estimate. The risk-ratio bias factor is used for ``"HR"``, which is
        appropriate when the outcome is rare.
    outcome_effect : array_like, optional
        Grid of effects of U on the outcome: mean differences ``gamma`` for ``"MD"``,
        risk ratios ``RR_UD`` otherwise. Default: 41 values from no effect to twice the
        effect that tips the estimate when U is present in all treated and no controls
        (MD), or 1 to 10 (0.1 for a protective ratio) on a log scale.
    prevalence_treated : array_like, optional
        Grid of prevalences of U among the treated (default 0, 0.05, ..., 1).
    prevalence_control : float
        Prevalence of U among the controls (default 0).
    true : float, optional
        Value the adjusted estimate is compared with (default the null: 0 or 1).
    level : float
        Confidence level of the adjusted intervals.

    Returns
    -------
    TippingPointResult

    References
    ----------
    Lin DY, Psaty BM, Kronmal RA (1998). Assessing the sensitivity of regression results
    to unmeasured confounders in observational studies. Biometrics 54:948-963.
    VanderWeele TJ, Arah OA (2011). Bias formulas for sensitivity analysis of unmeasured
    confounding for general outcomes, treatments, and confounders. Epidemiology 22:42-52.

    Examples
    --------
    >>> from rdstats.external import tipping_point
    >>> tp = tipping_point(4.0, 1.0, measure="MD", prevalence_treated=[0.5, 1.0])
    >>> tp.frontier[["prevalence_treated", "effect_estimate"]].round(3).values.tolist()
    [[0.5, 8.0], [1.0, 4.0]]
    """
    m = _measure(measure)
    est, sev, t = _common(estimate, se, m, true)
    if sev is None:
        raise ValueError("se is required for a tipping-point analysis, got None")
    lv = _level(level)
    p0 = real_number(prevalence_control, "prevalence_control")
    _check_prevalence(np.asarray([p0]), "prevalence_control")
    if outcome_effect is None:
        if m == "MD":
            span = 2.0 * (est - t) if est != t else 1.0
            effects = np.linspace(0.0, span, 41)
        else:
            effects = np.geomspace(1.0, 10.0 if est >= t else 0.1, 41)
    else:
        effects = np.atleast_1d(as_float_array(outcome_effect, "outcome_effect")).ravel()
    _check_effect(effects, m, "outcome_effect")
    if prevalence_treated is None:
        p1 = np.linspace(0.0, 1.0, 21)
    else:
        p1 = np.atleast_1d(as_float_array(prevalence_treated, "prevalence_treated")).ravel()
    _check_prevalence(p1, "prevalence_treated")
    if effects.size == 0 or p1.size == 0:
        raise ValueError("outcome_effect and prevalence_treated must not be empty")

    z = float(ndtri(0.5 + lv / 2.0))
    g, p = np.meshgrid(effects, p1, indexing="ij")
    bias = _bias(m, g, p, p0)
    adjusted = _adjust(m, est, bias)
    lower, upper = _interval(m, adjusted, sev, z)
    above = est >= t
    grid = pd.DataFrame(
        {
            "outcome_effect": g.ravel(),
            "prevalence_treated": p.ravel(),
            "prevalence_difference": (p - p0).ravel(),
            "bias": bias.ravel(),
            "adjusted": adjusted.ravel(),
            "lower": lower.ravel(),
            "upper": upper.ravel(),
            "estimate_tipped": ((adjusted <= t) if above else (adjusted >= t)).ravel(),
            "ci_tipped": ((lower <= t) & (upper >= t)).ravel(),
        }
    )
    lo0, hi0 = _interval(m, est, sev, z)
    if lo0 <= t <= hi0:
        eff_ci = np.full(p1.shape, 0.0 if m == "MD" else 1.0)
    else:
        eff_ci = _solve_effect(m, float(lo0 if above else hi0), t, p1, p0)
    frontier = pd.DataFrame(
        {
            "prevalence_treated": p1,
            "prevalence_difference": p1 - p0,
            "effect_estimate": _solve_effect(m, est, t, p1, p0),
            "effect_ci": eff_ci,
        }
    )
    args = {
        "estimate": est,
        "se": sev,
        "measure": m,
        "outcome_effect": effects.tolist(),
        "prevalence_treated": p1.tolist(),
        "prevalence_control": p0,
        "true": t,
        "level": lv,
    }
    return TippingPointResult(
        measure=m,
        estimate=est,
        se=sev,
        true=t,
        level=lv,
        prevalence_control=p0,
        grid=grid,
        frontier=frontier,
        provenance=provenance(arguments=args),
    )
