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
from rdstats._validation import as_float_array, readonly, real_number

__all__ = ["BiasAnalysis", "TippingPointResult", "bias_adjust", "tipping_point"]

_MEASURES = ("MD", "RR", "HR")


def _measure(measure: Any) -> str:
    if not isinstance(measure, str) or measure.upper() not in _MEASURES:
        raise ValueError(f"measure must be one of {list(_MEASURES)}, got {measure!r}")
    return measure.upper()


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


Parameter = float | Any  # a number, a scipy frozen distribution or a callable(rng, size)


def _draw(value: Any, name: str, rng: np.random.Generator, size: int) -> NDArray[np.float64]:
    if hasattr(value, "rvs"):
        out = np.asarray(value.rvs(size=size, random_state=rng), dtype=float)
    elif callable(value):
        out = np.asarray(value(rng, size), dtype=float)
    else:
        return np.full(size, real_number(value, name))
    if out.shape != (size,):
        raise ValueError(f"{name} must yield {size} draws, got an array of shape {out.shape}")
    if not np.isfinite(out).all():
        raise ValueError(f"{name} produced {int((~np.isfinite(out)).sum())} non-finite draws")
    return out


@dataclass(frozen=True)
class BiasAnalysis:
    """Bias-adjusted estimate (deterministic) or its distribution (probabilistic).

    Attributes
    ----------
    method : str
        ``"deterministic"`` or ``"probabilistic"``.
    adjusted : float
        Bias-adjusted estimate (median of the systematic-error draws when probabilistic).
    lower, upper : float or None
        Conventional interval around the adjusted estimate (deterministic) or
        percentile interval of the draws including random error (probabilistic; the
        systematic-error-only interval when no ``se`` was given).
    systematic_draws, total_draws : numpy.ndarray or None
        Adjusted estimates per draw of the bias parameters, without and with random
        error (read-only).
    """

    measure: str
    estimate: float
    se: float | None
    level: float
    method: str
    adjusted: float
    lower: float | None
    upper: float | None
    bias_parameters: dict[str, Any]
    systematic_draws: NDArray[np.float64] | None = field(default=None, repr=False)
    total_draws: NDArray[np.float64] | None = field(default=None, repr=False)
    provenance: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def summary(self) -> pd.DataFrame:
        """Conventional and bias-adjusted estimates with their intervals (median and
        percentile interval of the draws for a probabilistic analysis)."""
        q = [50.0 * (1 - self.level), 50.0, 50.0 * (1 + self.level)]
        rows: list[dict[str, Any]] = []
        conv = (None, None)
        if self.se is not None:
            z = float(ndtri(0.5 + self.level / 2))
            conv = _interval(self.measure, self.estimate, self.se, z)
        rows.append(
            {
                "analysis": "conventional",
                "estimate": self.estimate,
                "lower": conv[0],
                "upper": conv[1],
            }
        )
        if self.systematic_draws is None:
            rows.append(
                {
                    "analysis": "bias-adjusted",
                    "estimate": self.adjusted,
                    "lower": self.lower,
                    "upper": self.upper,
                }
            )
        else:
            for label, draws in (
                ("systematic error", self.systematic_draws),
                ("systematic and random error", self.total_draws),
            ):
                if draws is None:
                    continue
                lo, med, hi = np.percentile(draws, q)
                rows.append({"analysis": label, "estimate": med, "lower": lo, "upper": hi})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (the summary rather than the raw draws)."""
        table = self.summary().astype(object)
        table = table.where(pd.notna(table), None)
        return {
            "measure": self.measure,
            "estimate": self.estimate,
            "se": self.se,
            "level": self.level,
            "method": self.method,
            "adjusted": self.adjusted,
            "lower": self.lower,
            "upper": self.upper,
            "bias_parameters": {k: str(v) for k, v in self.bias_parameters.items()},
            "n_draws": None if self.systematic_draws is None else int(self.systematic_draws.size),
            "summary": table.to_dict(orient="records"),
            "provenance": dict(self.provenance),
        }

    def _repr_html_(self) -> str:
        head = f"<p><b>Quantitative bias analysis</b> ({self.method}, {self.measure})</p>"
        return head + self.summary().to_html(index=False)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Histogram of the bias-adjusted draws (probabilistic) or the conventional and
        adjusted intervals (deterministic)."""
        from rdstats.plotting._external_sensitivity import plot_bias_analysis

        return plot_bias_analysis(self, ax=ax, **kwargs)


def bias_adjust(
    estimate: float,
    se: float | None = None,
    *,
    measure: str = "MD",
    outcome_effect: Parameter,
    prevalence_treated: Parameter,
    prevalence_control: Parameter = 0.0,
    level: float = 0.95,
    draws: int | None = None,
    rng: Any = None,
) -> BiasAnalysis:
    """Adjust an estimate for an unmeasured binary confounder (quantitative bias analysis).

    Each bias parameter is a number (deterministic analysis) or, for a probabilistic
    analysis, a scipy frozen distribution (anything with ``rvs(size, random_state)``) or
    a callable ``f(rng, size)`` returning draws. In the probabilistic analysis every
    draw of the parameters gives one adjusted estimate (systematic error); when ``se``
    is given, random error is added by subtracting ``z * se`` with ``z ~ N(0, 1)`` (on
    the log scale for ratios), as in Lash, Fox & Fink (2009, ch. 8).

    Parameters
    ----------
    estimate : float
        Observed effect: a mean difference (``"MD"``) or a risk or hazard ratio.
    se : float, optional
        Standard error of the estimate (of its logarithm for ratios).
    measure : {"MD", "RR", "HR"}
        Scale of the estimate (the risk-ratio bias factor is used for ``"HR"``).
    outcome_effect : float or distribution
        Effect of U on the outcome: mean difference ``gamma`` or risk ratio ``RR_UD``.
    prevalence_treated, prevalence_control : float or distribution
        Prevalence of U among the treated and among the controls.
    level : float
        Interval level (conventional interval, or percentile interval of the draws).
    draws : int, optional
        Number of draws of the bias parameters (default 10,000 when any is random).
    rng : None, int, SeedSequence or Generator
        Seed for the probabilistic analysis (``None`` draws fresh entropy, recorded in
        ``provenance["seed"]``).

    Returns
    -------
    BiasAnalysis

    References
    ----------
    Lash TL, Fox MP, Fink AK (2009). Applying Quantitative Bias Analysis to
    Epidemiologic Data. Springer, New York.
    VanderWeele TJ, Arah OA (2011). Bias formulas for sensitivity analysis of unmeasured
    confounding for general outcomes, treatments, and confounders. Epidemiology 22:42-52.

    Examples
    --------
    >>> from rdstats.external import bias_adjust
    >>> res = bias_adjust(2.0, 0.1, measure="RR", outcome_effect=3.0,
    ...                   prevalence_treated=0.5, prevalence_control=0.2)
    >>> round(res.adjusted, 4)
    1.4
    """
    m = _measure(measure)
    est, sev, _ = _common(estimate, se, m, None)
    lv = _level(level)
    params = {
        "outcome_effect": outcome_effect,
        "prevalence_treated": prevalence_treated,
        "prevalence_control": prevalence_control,
    }
    random = [k for k, v in params.items() if hasattr(v, "rvs") or callable(v)]
    z = float(ndtri(0.5 + lv / 2.0))
    if not random:
        if draws is not None:
            raise ValueError(f"draws={draws!r} needs at least one random bias parameter")
        vals = {k: real_number(v, k) for k, v in params.items()}
        _check_effect(np.asarray([vals["outcome_effect"]]), m, "outcome_effect")
        for k in ("prevalence_treated", "prevalence_control"):
            _check_prevalence(np.asarray([vals[k]]), k)
        b = _bias(m, vals["outcome_effect"], vals["prevalence_treated"], vals["prevalence_control"])
        adj = float(_adjust(m, est, b))
        lo = hi = None
        if sev is not None:
            lo, hi = (float(x) for x in _interval(m, adj, sev, z))
        args = {"estimate": est, "se": sev, "measure": m, "level": lv, **vals}
        return BiasAnalysis(
            measure=m,
            estimate=est,
            se=sev,
            level=lv,
            method="deterministic",
            adjusted=adj,
            lower=lo,
            upper=hi,
            bias_parameters=vals,
            provenance=provenance(arguments=args),
        )
    n = 10_000 if draws is None else draws
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"draws must be an integer >= 2, got {draws!r}")
    from rdstats.simulate._streams import root_seed, seed_record

    root = root_seed(rng)
    gen = np.random.default_rng(root)
    sampled = {k: _draw(v, k, gen, int(n)) for k, v in params.items()}
    effect = sampled["outcome_effect"]
    if m != "MD" and (effect <= 0).any():
        raise ValueError(
            f"outcome_effect produced {int((effect <= 0).sum())} draws <= 0; risk ratios "
            "RR_UD must be positive (use a log-normal or truncated distribution)"
        )
    for k in ("prevalence_treated", "prevalence_control"):
        bad = (sampled[k] < 0) | (sampled[k] > 1)
        if bad.any():
            raise ValueError(
                f"{k} produced {int(bad.sum())} draws outside [0, 1] (use e.g. a beta distribution)"
            )
    b = _bias(m, effect, sampled["prevalence_treated"], sampled["prevalence_control"])
    systematic = np.asarray(_adjust(m, est, b), dtype=float)
    total = None
    if sev is not None:
        noise = gen.standard_normal(int(n)) * sev
        total = systematic - noise if m == "MD" else systematic * np.exp(-noise)
    report = total if total is not None else systematic
    lo, hi = (float(x) for x in np.percentile(report, [50 * (1 - lv), 50 * (1 + lv)]))
    args = {
        "estimate": est,
        "se": sev,
        "measure": m,
        "level": lv,
        "draws": int(n),
        **{k: str(v) for k, v in params.items()},
    }
    return BiasAnalysis(
        measure=m,
        estimate=est,
        se=sev,
        level=lv,
        method="probabilistic",
        adjusted=float(np.median(systematic)),
        lower=lo,
        upper=hi,
        bias_parameters=dict(params),
        systematic_draws=readonly(systematic),
        total_draws=None if total is None else readonly(total),
        provenance=provenance(arguments=args, seed=seed_record(root)),
    )
