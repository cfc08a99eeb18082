"""Multi-arm multi-stage (MAMS) Bayesian designs with a common control and optional
response-adaptive randomisation."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rdstats._validation import real_number as _number
from rdstats.designs._multi_arm_run import exact_outcomes, mean_outcome_names, run_trials
from rdstats.designs._rar import FixedAllocation, ThompsonAllocation
from rdstats.priors import BetaMixture, NormalMixture

__all__ = ["MultiArmDesign"]

_RANDOMIZATION = ("random", "rounded")
_MAX_EXACT = 2_000_000


def _probability(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a probability threshold (a number), got {value!r}")
    v = float(value)
    if not 0.0 < v < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return v


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


@dataclass(frozen=True, eq=False)
class MultiArmDesign:
    """Bayesian multi-arm, multi-stage design: ``n_arms`` experimental arms and a common
    control, analysed at interim looks with conjugate posteriors.

    At each look, for every arm ``k`` still enrolling (``θ`` is a response rate for a
    beta prior, a mean for a normal prior with known ``sigma``):

    - **efficacy**: ``P(θ_k > θ_c + delta | data) > efficacy`` → arm declared effective
      (it stops enrolling; the trial stops when ``stop_on_success``);
    - **equivalence**: ``P(|θ_k − θ_c| < equivalence_margin) > equivalence`` → arm
      stopped as equivalent to control;
    - **inferiority**: ``P(θ_k > θ_c) < inferiority`` → arm dropped;
    - **futility**: ``P(θ_k > θ_c + delta_futility) < futility`` → arm dropped.

    Arms still enrolling at the final look are inconclusive. The trial stops early when
    no arm is left. Between looks the next stage's patients are allocated by
    ``allocation`` (fixed ratio or Thompson-type response-adaptive randomisation).

    Parameters
    ----------
    n_arms : int
        Number of experimental arms ``K`` (the control comes in addition).
    n_max : int
        Maximal total sample size (all arms).
    prior : BetaMixture or NormalMixture
        Prior of each experimental arm's parameter (``NormalMixture`` with ``sigma``).
    prior_control : BetaMixture or NormalMixture, optional
        Prior of the control arm (same family; default ``prior``), e.g. a robust MAP prior.
    looks : sequence of int, optional
        Cumulative total sample sizes of the analyses, increasing, ``<= n_max``; the
        final analysis at ``n_max`` is added when not listed. Default: one analysis.
    allocation : FixedAllocation or ThompsonAllocation
        Randomisation rule (default equal fixed allocation).
    efficacy : float or sequence of float
        Efficacy threshold, one for all looks or one per look.
    delta : float
        Superiority margin.
    inferiority, futility, equivalence : float, optional
        Thresholds of the arm-dropping rules (None: rule not used).
    delta_futility : float
        Margin of the futility rule.
    equivalence_margin : float
        Margin of the equivalence rule (required with ``equivalence``).
    stop_on_success : bool
        Stop the whole trial once an arm is declared effective.
    randomization : {"random", "rounded"}
        ``"random"``: each patient randomised independently (multinomial stage counts);
        ``"rounded"``: stage sizes split by the allocation probabilities with largest
        remainders (perfectly balanced blocks).
    n_panels : int, optional
        Panels of the 8-point Gauss-Legendre grid on (0, 1) for binary posteriors
        (default ``max(64, 4 sqrt(n_max))``).

    Notes
    -----
    Scenario parameters for :func:`rdstats.simulate.operating_characteristics` are
    ``p_control, p_1, ..., p_K`` (binary) or ``mu_control, mu_1, ..., mu_K`` (normal).
    A scenario is null when no arm exceeds control by more than ``delta``; success is
    any arm declared effective, so the type I error is family-wise. Per-arm
    probabilities of each conclusion, selection, mean sample size and allocation are
    outcome columns averaged by the engine with their MCSE (:meth:`arm_summary`).
    The selected arm is the effective arm with the largest posterior mean effect, else
    the largest among inconclusive arms, else among all; ``best_selected`` says whether
    it is an arm with the largest true parameter (ties count, so it is 1 under the
    global null); ``mse_selected`` is the
    squared error of its posterior mean effect ``θ_k − θ_c`` (:meth:`selection_summary`
    reports the RMSE).

    ``method="exact"`` enumerates every outcome of a binary design without adaptation
    (one look, ``FixedAllocation``, ``randomization="rounded"``): the product-binomial
    probabilities of all responder counts, decided by the same rules (MCSE 0).

    Thompson allocation uses ``P(arm k is best)`` among the arms still enrolling (the
    control excluded). Each patient has one uniform for the randomisation and one
    uniform (or standard normal) for the outcome, drawn whatever the trial's state, so
    designs simulated with one seed see the same patients (common random numbers).

    Posterior tail probabilities are computed without simulation: by composite
    Gauss-Legendre quadrature over the control posterior for beta mixtures,
    ``∫ f_c(x) S_k(x + δ) dx``, and in closed form for normal mixtures;
    ``P(arm k is best)`` by quadrature of ``f_k Π_j F_j``.

    References
    ----------
    .. [1] Wason JMS, Trippa L. A comparison of Bayesian adaptive randomization and
       multi-stage designs for multi-arm clinical trials. Stat Med 2014;33:2206-2221.
    .. [2] Thall PF, Wathen JK. Practical Bayesian adaptive randomisation in clinical
       trials. Eur J Cancer 2007;43:859-866.
    .. [3] Berry SM, Carlin BP, Lee JJ, Müller P. Bayesian Adaptive Methods for Clinical
       Trials. CRC Press, 2010, chapter 4.

    Examples
    --------
    >>> from rdstats.designs import MultiArmDesign
    >>> from rdstats.designs import ThompsonAllocation
    >>> from rdstats.priors import BetaMixture
    >>> design = MultiArmDesign(2, 60, BetaMixture(1, 1, 1), looks=[30],
    ...                         allocation=ThompsonAllocation(), efficacy=0.99,
    ...                         inferiority=0.05)
    >>> res = design.simulate({"p_control": [0.2, 0.2], "p_1": [0.2, 0.5],
    ...                        "p_2": [0.2, 0.2]}, n_trials=2000, rng=1, progress=False)
    >>> res.summary(wide=True)["p_success"].round(2).tolist()
    [0.02, 0.43]
    """

    n_arms: int
    n_max: int
    prior: Any
    prior_control: Any = None
    looks: Sequence[int] | None = None
    allocation: FixedAllocation | ThompsonAllocation = field(default_factory=FixedAllocation)
    efficacy: float | Sequence[float] = 0.975
    delta: float = 0.0
    inferiority: float | None = None
    futility: float | None = None
    delta_futility: float = 0.0
    equivalence: float | None = None
    equivalence_margin: float = 0.0
    stop_on_success: bool = True
    randomization: str = "random"
    n_panels: int | None = None

    def __post_init__(self) -> None:
        k = _count(self.n_arms, "n_arms")
        n_max = _count(self.n_max, "n_max")
        endpoint = self._family(self.prior, "prior")
        control = self.prior if self.prior_control is None else self.prior_control
        if self._family(control, "prior_control") != endpoint:
            raise TypeError(
                f"prior_control must be a {type(self.prior).__name__} like prior, "
                f"got {type(control).__name__}"
            )
        if endpoint == "normal" and control.sigma != self.prior.sigma:
            raise ValueError(
                f"prior_control has sigma={control.sigma}, but prior has sigma={self.prior.sigma}"
            )
        object.__setattr__(self, "prior_control", control)
        looks = self._looks(self.looks, n_max, k)
        object.__setattr__(self, "looks", looks)
        if not isinstance(self.allocation, (FixedAllocation, ThompsonAllocation)):
            raise TypeError(
                "allocation must be a FixedAllocation or ThompsonAllocation, "
                f"got {type(self.allocation).__name__}"
            )
        self.allocation.check_arms(k)
        self._thresholds(looks)
        if self.randomization not in _RANDOMIZATION:
            raise ValueError(
                f"randomization must be one of {_RANDOMIZATION}, got {self.randomization!r}"
            )
        if not isinstance(self.stop_on_success, (bool, np.bool_)):
            raise TypeError(f"stop_on_success must be a bool, got {self.stop_on_success!r}")
        panels = self.n_panels
        if panels is None:
            panels = max(64, int(4 * np.sqrt(n_max)) + 1)
        elif _count(panels, "n_panels") < 8:
            raise ValueError(f"n_panels must be at least 8, got {panels!r}")
        object.__setattr__(self, "n_panels", int(panels))
        object.__setattr__(self, "n_arms", k)
        object.__setattr__(self, "n_max", n_max)
        object.__setattr__(self, "endpoint", endpoint)

    endpoint: str = field(default="binomial", init=False)

    # -- validation --------------------------------------------------------------------
    @staticmethod
    def _family(prior: Any, name: str) -> str:
        if isinstance(prior, BetaMixture):
            return "binomial"
        if isinstance(prior, NormalMixture):
            if prior.sigma is None:
                raise ValueError(
                    f"{name} is a NormalMixture without sigma; give the known sampling SD: "
                    "NormalMixture(..., sigma=...)"
                )
            return "normal"
        raise TypeError(f"{name} must be a BetaMixture or NormalMixture, got {prior!r}")

    @staticmethod
    def _looks(looks: Any, n_max: int, k: int) -> tuple[int, ...]:
        if looks is None:
            return (n_max,)
        if isinstance(looks, (str, bytes)) or not isinstance(looks, (Sequence, np.ndarray)):
            raise TypeError(f"looks must be a sequence of sample sizes, got {looks!r}")
        out = [_count(v, "looks") for v in looks]
        if any(b <= a for a, b in itertools.pairwise(out)):
            raise ValueError(f"looks must be strictly increasing, got {list(looks)!r}")
        if out and out[-1] > n_max:
            raise ValueError(f"looks={list(looks)!r} exceed n_max={n_max}")
        if out and out[0] < k + 1:
            raise ValueError(
                f"the first look ({out[0]} patients) must allow one patient per arm "
                f"({k + 1} arms with control)"
            )
        if not out or out[-1] < n_max:
            out.append(n_max)
        return tuple(out)

    def _thresholds(self, looks: tuple[int, ...]) -> None:
        eff = self.efficacy
        if isinstance(eff, (Sequence, np.ndarray)) and not isinstance(eff, (str, bytes)):
            vals = tuple(_probability(v, "efficacy") for v in eff)
            if len(vals) != len(looks):
                raise ValueError(
                    f"efficacy has {len(vals)} thresholds but the design has {len(looks)} "
                    f"looks {list(looks)}"
                )
            object.__setattr__(self, "efficacy", vals)
        else:
            object.__setattr__(self, "efficacy", _probability(eff, "efficacy"))
        for name in ("inferiority", "futility", "equivalence"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, _probability(v, name))
        for name in ("delta", "delta_futility", "equivalence_margin"):
            object.__setattr__(self, name, _number(getattr(self, name), name))
        if isinstance(self.prior, BetaMixture):
            for name in ("delta", "delta_futility", "equivalence_margin"):
                v = getattr(self, name)
                if not -1.0 < v < 1.0:
                    raise ValueError(f"{name} must be in (-1, 1) for response rates, got {v!r}")
        if self.equivalence is not None and self.equivalence_margin <= 0:
            raise ValueError(
                f"equivalence_margin must be positive with an equivalence rule, "
                f"got {self.equivalence_margin!r}"
            )

    def efficacy_at(self, look: int) -> float:
        """Efficacy threshold at look ``look`` (0-based)."""
        eff = self.efficacy
        return float(eff[look]) if isinstance(eff, tuple) else float(eff)  # type: ignore[arg-type]

    @property
    def sigma(self) -> float:
        """Known sampling SD of one observation (normal endpoints)."""
        return float(self.prior.sigma)

    @property
    def n_looks(self) -> int:
        """Number of analyses, the final one included."""
        return len(self.looks)  # type: ignore[arg-type]

    def _deltas(self) -> list[float]:
        out = [self.delta]
        if self.inferiority is not None:
            out.append(0.0)
        if self.futility is not None:
            out.append(self.delta_futility)
        if self.equivalence is not None:
            out += [self.equivalence_margin, -self.equivalence_margin]
        return out

    def _posterior_engine(self) -> Any:
        eng = self.__dict__.get("_engine")
        if eng is None:
            from rdstats.designs._multi_arm_posterior import BetaTables, NormalPosteriors

            priors = [self.prior_control, self.prior]
            if self.endpoint == "binomial":
                eng = BetaTables(priors, self.n_max, self._deltas(), int(self.n_panels or 64))
            else:
                eng = NormalPosteriors(priors, self.sigma)
            self.__dict__["_engine"] = eng
        return eng

    # -- simulation hooks (rdstats.simulate) -------------------------------------------
    @property
    def _parameters(self) -> tuple[str, ...]:
        base = "p" if self.endpoint == "binomial" else "mu"
        return (f"{base}_control", *(f"{base}_{j}" for j in range(1, self.n_arms + 1)))

    @property
    def _mean_outcomes(self) -> tuple[str, ...]:
        return mean_outcome_names(self.n_arms)

    @property
    def _n_looks(self) -> int:
        return self.n_looks

    def _theta(self, params: Mapping[str, float]) -> np.ndarray:
        return np.array([float(params[p]) for p in self._parameters])

    def _check_scenario(self, params: Mapping[str, float]) -> None:
        for p in self._parameters:
            v = params[p]
            if not np.isfinite(v):
                raise ValueError(f"{p} must be finite, got {v!r}")
            if self.endpoint == "binomial" and not 0.0 <= v <= 1.0:
                raise ValueError(f"{p} must be a response rate in [0, 1], got {v!r}")

    def _is_null(self, params: Mapping[str, float]) -> bool:
        th = self._theta(params)
        return bool(np.all(th[1:] <= th[0] + self.delta + 1e-12))

    def _prepare(self, scenarios: Any) -> None:
        self._posterior_engine()

    def _simulate(
        self, params: Mapping[str, float], size: int, rng: np.random.Generator
    ) -> dict[str, Any]:
        return run_trials(self, self._theta(params), int(size), rng)

    def _exact(self, params: Mapping[str, float]) -> tuple[dict[str, Any], np.ndarray]:
        if not (
            self.endpoint == "binomial"
            and self.n_looks == 1
            and isinstance(self.allocation, FixedAllocation)
            and self.randomization == "rounded"
        ):
            raise TypeError(
                "method='exact' needs a binary design with one look, FixedAllocation and "
                "randomization='rounded' (no adaptation); use method='monte_carlo'"
            )
        size = int(np.prod([m + 1 for m in self._arm_sizes()]))
        if size > _MAX_EXACT:
            raise ValueError(
                f"exact enumeration needs {size} outcomes (more than {_MAX_EXACT}); "
                "use method='monte_carlo'"
            )
        return exact_outcomes(self, self._theta(params))

    def _arm_sizes(self) -> np.ndarray:
        from rdstats.designs._multi_arm_run import rounded_counts

        prob = self.allocation.probabilities(np.ones((1, self.n_arms), dtype=bool))
        return rounded_counts(np.array([self.n_max], dtype=np.int64), prob)[0]

    def simulate(self, scenarios: Any, **kwargs: Any) -> Any:
        """Operating characteristics over a scenario grid (see
        :func:`rdstats.simulate.operating_characteristics`, which takes ``kwargs``)."""
        from rdstats.simulate import operating_characteristics

        return operating_characteristics(self, scenarios, **kwargs)

    # -- summaries ---------------------------------------------------------------------
    def arm_summary(self, result: Any) -> pd.DataFrame:
        """Per-arm operating characteristics of a simulation result: probability of each
        conclusion, of being selected, mean patients and allocation proportion, each
        with its MCSE (one row per scenario and arm; the control has allocation only)."""
        m = result.metrics
        rows = []
        labels = ["control", *(str(j) for j in range(1, self.n_arms + 1))]
        cols = ("effective", "dropped", "equivalent", "inconclusive", "selected", "n", "alloc")
        for scen, part in m.groupby("scenario", sort=False):
            val = dict(zip(part["metric"], part["value"], strict=True))
            se = dict(zip(part["metric"], part["mcse"], strict=True))
            for arm in labels:
                row: dict[str, Any] = {"scenario": scen, "arm": arm}
                for c in cols:
                    key = f"{c}_{arm}"
                    name = "n_mean" if c == "n" else ("allocation" if c == "alloc" else f"p_{c}")
                    row[name] = val.get(key, np.nan)
                    row[f"{name}_mcse"] = se.get(key, np.nan)
                rows.append(row)
        return pd.DataFrame(rows)

    def selection_summary(self, result: Any) -> pd.DataFrame:
        """Per scenario: probability of selecting a truly best arm, bias and RMSE of the
        selected arm's posterior-mean effect, with MCSEs (RMSE's by the delta method)."""
        m = result.metrics
        out = []
        for scen, part in m.groupby("scenario", sort=False):
            val = dict(zip(part["metric"], part["value"], strict=True))
            se = dict(zip(part["metric"], part["mcse"], strict=True))
            rmse = float(np.sqrt(val["mse_selected"]))
            out.append(
                {
                    "scenario": scen,
                    "p_best_selected": val["best_selected"],
                    "p_best_selected_mcse": se["best_selected"],
                    "bias_selected": val["bias_selected"],
                    "bias_selected_mcse": se["bias_selected"],
                    "rmse_selected": rmse,
                    "rmse_selected_mcse": se["mse_selected"] / (2 * rmse) if rmse > 0 else 0.0,
                }
            )
        return pd.DataFrame(out)

    def summary(self) -> pd.DataFrame:
        """Design description, one row per look."""
        return pd.DataFrame(
            {
                "look": np.arange(1, self.n_looks + 1),
                "n": list(self.looks),  # type: ignore[arg-type]
                "efficacy": [self.efficacy_at(i) for i in range(self.n_looks)],
                "inferiority": self.inferiority,
                "futility": self.futility,
                "equivalence": self.equivalence,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        eff = self.efficacy
        return {
            "design": "MultiArmDesign",
            "endpoint": self.endpoint,
            "n_arms": self.n_arms,
            "n_max": self.n_max,
            "prior": self.prior.to_dict(),
            "prior_control": self.prior_control.to_dict(),
            "looks": list(self.looks),  # type: ignore[arg-type]
            "allocation": self.allocation.to_dict(),
            "efficacy": list(eff) if isinstance(eff, tuple) else eff,
            "delta": self.delta,
            "inferiority": self.inferiority,
            "futility": self.futility,
            "delta_futility": self.delta_futility,
            "equivalence": self.equivalence,
            "equivalence_margin": self.equivalence_margin,
            "stop_on_success": bool(self.stop_on_success),
            "randomization": self.randomization,
            "n_panels": self.n_panels,
        }

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>MultiArmDesign</b>: {self.n_arms} arms + control, {self.endpoint}, "
            f"N = {self.n_max}, allocation {self.allocation.to_dict()['rule']}</p>"
        )
        return head + self.summary().to_html(index=False)

    def __repr__(self) -> str:
        return (
            f"MultiArmDesign(n_arms={self.n_arms}, n_max={self.n_max}, "
            f"looks={list(self.looks)}, endpoint={self.endpoint!r}, "  # type: ignore[arg-type]
            f"allocation={type(self.allocation).__name__})"
        )
