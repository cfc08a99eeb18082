"""Quantitative bias analysis for an unmeasured binary confounder (Lash, Fox & Fink
2009): the estimate adjusted for given bias parameters, or - with bias parameters drawn
from distributions - the distribution of adjusted estimates. The bias model is that of
:mod:`rdstats.external._tipping`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import ndtri

from rdstats._provenance import provenance
from rdstats._validation import readonly, real_number
from rdstats.external._tipping import (
    _adjust,
    _bias,
    _check_effect,
    _check_prevalence,
    _common,
    _interval,
    _level,
    _measure,
)

__all__ = ["BiasAnalysis", "bias_adjust"]

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
