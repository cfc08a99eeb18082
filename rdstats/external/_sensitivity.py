"""E-values for unmeasured confounding (VanderWeele & Ding 2017).

The E-value is the minimum strength of association, on the risk-ratio scale, that an
unmeasured confounder would need to have with both the treatment and the outcome,
conditional on the measured covariates, to fully explain away an observed association.
Odds ratios, hazard ratios and standardised mean differences are first converted to the
approximate risk-ratio scale with the conversions of VanderWeele & Ding (2017) and
VanderWeele, Ding & Mathur (2019). A risk difference needs the risks and group sizes
(Ding & VanderWeele 2016; see :mod:`rdstats.external._evalue_rd`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from rdstats._provenance import provenance
from rdstats._validation import real_number
from rdstats.external._evalue_rd import rd_bias_factor, rd_bias_factor_ci

__all__ = ["EValue", "canonical_measure", "e_value", "e_value_rr"]

_MEASURES = ("RR", "OR", "HR", "MD")
#: long spellings (as :func:`rdstats.external.estimate_effect` names its measures)
MEASURE_ALIASES = {
    "RISK_RATIO": "RR",
    "ODDS_RATIO": "OR",
    "HAZARD_RATIO": "HR",
    "MEAN_DIFFERENCE": "MD",
    "RISK_DIFFERENCE": "RD",
}


def canonical_measure(measure: Any, allowed: Sequence[str], name: str = "measure") -> str:
    """The short upper-case name of an effect measure, accepting either spelling
    (``"RR"`` or ``"risk_ratio"``, ``"OR"`` or ``"odds_ratio"``, ``"HR"`` or
    ``"hazard_ratio"``, ``"MD"`` or ``"mean_difference"``, ``"RD"`` or
    ``"risk_difference"``; any case); a clear error unless it is one of ``allowed``.

    Examples
    --------
    >>> from rdstats.external._sensitivity import canonical_measure
    >>> canonical_measure("risk_ratio", ["RR", "MD"])
    'RR'
    """
    key = (
        measure.strip().upper().replace("-", "_").replace(" ", "_")
        if isinstance(measure, str)
        else None
    )
    key = MEASURE_ALIASES.get(key, key) if key is not None else None
    if key not in allowed:
        long = {v: k.lower() for k, v in MEASURE_ALIASES.items()}
        spelled = [f"{m!r} ({long[m]!r})" if m in long else repr(m) for m in allowed]
        raise ValueError(f"{name} must be one of {', '.join(spelled)}, got {measure!r}")
    return str(key)


def e_value_rr(rr: float) -> float:
    """E-value of a risk ratio relative to the null ``1``: ``RR + sqrt(RR (RR - 1))``
    after replacing a protective ratio by its reciprocal (no validation)."""
    r = rr if rr >= 1.0 else 1.0 / rr
    return r + math.sqrt(r * (r - 1.0))


def _to_rr(value: float, measure: str, rare: bool | None, sd: float | None) -> float:
    """Approximate risk ratio corresponding to ``value`` on the scale of ``measure``."""
    if measure == "RR":
        return value
    if measure == "OR":
        return value if rare else math.sqrt(value)
    if measure == "HR":
        if rare:
            return value
        return (1.0 - 0.5 ** math.sqrt(value)) / (1.0 - 0.5 ** math.sqrt(1.0 / value))
    assert sd is not None
    return math.exp(0.91 * value / sd)


@dataclass(frozen=True)
class EValue:
    """E-values for a point estimate and the confidence limit closer to the null.

    Attributes
    ----------
    measure : str
        Scale of the observed estimate (``"RR"``, ``"OR"``, ``"HR"``, ``"MD"`` or ``"RD"``).
    estimate, lower, upper : float or None
        The observed estimate and confidence limits (on the scale of ``measure``; for
        ``"RD"`` the Wald interval computed from the risks and group sizes).
    true : float
        The true value against which the estimate is assessed (the null by default).
    rr, rr_lower, rr_upper, rr_true : float or None
        The same quantities on the (approximate) risk-ratio scale. For ``"RD"``: ``rr``
        is the bounding factor ``B`` that reduces the bound of the causal risk difference
        to ``true``, ``rr_lower`` the factor for the confidence limit (``rr_true = 1``;
        reciprocals, with ``rr_upper``, when the difference lies below ``true``).
    e_value : float
        E-value of the point estimate.
    e_value_ci : float or None
        E-value of the confidence limit closer to the null (1 when the interval
        contains ``true``); ``None`` without a confidence interval.
    """

    measure: str
    estimate: float
    lower: float | None
    upper: float | None
    true: float
    rare: bool | None
    sd: float | None
    rr: float
    rr_lower: float | None
    rr_upper: float | None
    rr_true: float
    e_value: float
    e_value_ci: float | None
    provenance: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    risk_difference: dict[str, Any] | None = None

    @property
    def ci_limit(self) -> str | None:
        """Which confidence limit is closer to the null (``"lower"``/``"upper"``)."""
        if self.risk_difference is not None:
            return "upper" if self.risk_difference["reversed"] else "lower"
        if self.rr_lower is None:
            return None
        return "lower" if self.rr >= self.rr_true else "upper"

    def summary(self) -> pd.DataFrame:
        """One row for the point estimate and one for the confidence limit closer to
        the null: observed value, risk-ratio-scale value and E-value."""
        rows = [
            {
                "quantity": "point estimate",
                "observed": self.estimate,
                "rr_scale": self.rr,
                "e_value": self.e_value,
            }
        ]
        if self.e_value_ci is not None:
            closer_is_lower = self.ci_limit == "lower"
            rows.append(
                {
                    "quantity": f"{self.ci_limit} confidence limit",
                    "observed": self.lower if closer_is_lower else self.upper,
                    "rr_scale": self.rr_lower if closer_is_lower else self.rr_upper,
                    "e_value": self.e_value_ci,
                }
            )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of the inputs, conversions and E-values."""
        return {
            "measure": self.measure,
            "estimate": self.estimate,
            "lower": self.lower,
            "upper": self.upper,
            "true": self.true,
            "rare": self.rare,
            "sd": self.sd,
            "rr": self.rr,
            "rr_lower": self.rr_lower,
            "rr_upper": self.rr_upper,
            "rr_true": self.rr_true,
            "e_value": self.e_value,
            "e_value_ci": self.e_value_ci,
            "risk_difference": None if self.risk_difference is None else dict(self.risk_difference),
            "provenance": dict(self.provenance),
        }

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>E-value</b> ({self.measure}, true value {self.true:g}): point "
            f"estimate {self.e_value:.4g}"
        )
        if self.e_value_ci is not None:
            head += f", confidence limit {self.e_value_ci:.4g}"
        return head + "</p>" + self.summary().to_html(index=False)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Bias plot: the pairs (RR_EU, RR_UD) of confounder-treatment and
        confounder-outcome risk ratios that would just explain away the estimate (and
        the confidence limit), with the E-value marked on the diagonal."""
        from rdstats.plotting._external_sensitivity import plot_evalue_bias

        return plot_evalue_bias(self, ax=ax, **kwargs)


def _optional(value: Any, name: str) -> float | None:
    return None if value is None else real_number(value, name)


def e_value(
    estimate: float | None = None,
    lower: float | None = None,
    upper: float | None = None,
    *,
    measure: str = "RR",
    rare: bool | None = None,
    sd: float | None = None,
    se: float | None = None,
    true: float | None = None,
    counts: Sequence[int] | None = None,
    risks: Sequence[float] | None = None,
    n: Sequence[int] | None = None,
    alpha: float | None = None,
) -> EValue:
    """E-value for an observed association and its confidence interval.

    Parameters
    ----------
    estimate : float
        Observed association: a risk, odds or hazard ratio (> 0), a mean difference, or
        (optional for ``"RD"``, then checked against ``risks``) a risk difference.
    lower, upper : float, optional
        Confidence limits on the same scale. Give both or neither (not for ``"RD"``,
        whose interval is computed from the risks and group sizes).
    measure : {"RR", "OR", "HR", "MD", "RD"}
        Scale of ``estimate``; the long spellings ``"risk_ratio"``, ``"odds_ratio"``,
        ``"hazard_ratio"``, ``"mean_difference"`` and ``"risk_difference"`` (as
        :func:`estimate_effect` reports them) are accepted too. ``"RD"``: the
        population-standardised risk difference of Ding & VanderWeele (2016), which
        needs ``counts`` or ``risks`` and ``n``.
    rare : bool, optional
        Required for ``"OR"`` and ``"HR"``: whether the outcome is rare (below about 15%
        at the end of follow-up). A rare-outcome OR or HR is used as a risk ratio; a
        common-outcome OR is converted by ``sqrt(OR)`` and a common-outcome HR by
        ``(1 - 0.5**sqrt(HR)) / (1 - 0.5**sqrt(1/HR))``.
    sd : float, optional
        Required for ``"MD"``: the outcome standard deviation used to standardise the
        difference, ``d = MD / sd``, converted by ``RR = exp(0.91 d)``.
    se : float, optional
        ``"MD"`` only: standard error of the mean difference; the interval on the risk
        ratio scale is ``exp(0.91 d -/+ 1.78 se / sd)``. Alternatively give ``lower``
        and ``upper``, converted limit by limit (nearly the same for a Wald interval,
        since 0.91 x 1.96 = 1.78).
    true : float, optional
        True value to test against, on the scale of ``measure`` (default: the null,
        1 for ratios and 0 for ``"MD"`` and ``"RD"``). E-values are then computed for
        ``RR / RR_true`` (for ``"RD"``: for the bounding factor that reduces the bound to
        ``true``).
    counts : sequence of 4 int, optional
        ``"RD"``: the 2x2 table ``(n11, n10, n01, n00)``: treated with and without the
        outcome, controls with and without the outcome (the order of R's
        ``EValue::evalues.RD``).
    risks, n : sequences of 2, optional
        ``"RD"``, instead of ``counts``: the risks ``(p1, p0)`` of the treated and the
        controls and the group sizes ``(n1, n0)`` (for example weighted risks and
        effective sample sizes after matching or weighting).
    alpha : float, optional
        ``"RD"``: the confidence interval is ``1 - alpha`` (default 0.05); the E-value of
        the confidence limit uses its one-sided Wald limit.

    Returns
    -------
    EValue
        Frozen result with the E-values of the point estimate and of the confidence
        limit closer to the null (1 when the interval contains ``true``).

    References
    ----------
    VanderWeele TJ, Ding P (2017). Sensitivity analysis in observational research:
    introducing the E-value. Ann Intern Med 167:268-274.
    VanderWeele TJ, Ding P, Mathur M (2019). Technical considerations in the use of the
    E-value. J Causal Inference 7:20180007.
    Ding P, VanderWeele TJ (2016). Sensitivity analysis without assumptions.
    Epidemiology 27:368-377.
    Chinn S (2000). A simple method for converting an odds ratio to effect size for use
    in meta-analysis. Stat Med 19:3127-3131.

    Examples
    --------
    >>> from rdstats.external import e_value
    >>> ev = e_value(3.9, 1.8, 8.7, measure="RR")
    >>> round(ev.e_value, 2), round(ev.e_value_ci, 2)
    (7.26, 3.0)
    >>> round(e_value(0.80, 0.71, 0.91).e_value_ci, 2)
    1.43
    >>> rd = e_value(measure="RD", counts=(397, 78557, 51, 108778))  # Hammond & Holl 1958
    >>> round(rd.rr, 4), round(rd.e_value, 2)  # with true = 0, B is the risk ratio
    (10.7298, 20.95)
    """
    measure = canonical_measure(measure, (*_MEASURES, "RD"))
    if measure == "RD":
        return _e_value_rd(estimate, lower, upper, rare, sd, se, true, counts, risks, n, alpha)
    for name, v in (("counts", counts), ("risks", risks), ("n", n), ("alpha", alpha)):
        if v is not None:
            raise ValueError(f"{name} applies only to measure='RD', got {name}={v!r}")
    if estimate is None:
        raise ValueError(f"estimate is required for measure={measure!r}")
    est = real_number(estimate, "estimate")
    lo = _optional(lower, "lower")
    hi = _optional(upper, "upper")
    if (lo is None) != (hi is None):
        raise ValueError(
            f"lower and upper must be given together, got lower={lower!r}, upper={upper!r}"
        )
    ratio = measure != "MD"
    null = 1.0 if ratio else 0.0
    t = null if true is None else real_number(true, "true")
    if ratio:
        for name, v in (("estimate", est), ("lower", lo), ("upper", hi), ("true", t)):
            if v is not None and v <= 0:
                raise ValueError(f"{name} must be a positive {measure}, got {v!r}")
    if measure in ("OR", "HR"):
        if not isinstance(rare, bool):
            raise TypeError(f"rare must be True or False for measure={measure!r}, got {rare!r}")
    elif rare is not None:
        raise ValueError(f"rare applies only to measure 'OR' or 'HR', got rare={rare!r}")
    sdv = _optional(sd, "sd")
    sev = _optional(se, "se")
    if measure == "MD":
        if sdv is None:
            raise ValueError("sd (outcome standard deviation) is required for measure='MD'")
        if sdv <= 0:
            raise ValueError(f"sd must be > 0, got {sd!r}")
        if sev is not None:
            if sev <= 0:
                raise ValueError(f"se must be > 0, got {se!r}")
            if lo is not None:
                raise ValueError("give either se or lower/upper for measure='MD', not both")
    else:
        if sdv is not None or sev is not None:
            raise ValueError(
                f"sd and se apply only to measure='MD', got sd={sd!r}, se={se!r} "
                f"with measure={measure!r}"
            )
    if lo is not None and hi is not None:
        if lo > hi:
            raise ValueError(f"lower must not exceed upper, got lower={lo!r}, upper={hi!r}")
        if not lo <= est <= hi:
            raise ValueError(f"estimate={est!r} lies outside the interval [{lo!r}, {hi!r}]")

    rr = _to_rr(est, measure, rare, sdv)
    rr_true = _to_rr(t, measure, rare, sdv)
    rr_lo = rr_hi = None
    if measure == "MD" and sev is not None:
        assert sdv is not None
        d, s = est / sdv, sev / sdv
        rr_lo, rr_hi = math.exp(0.91 * d - 1.78 * s), math.exp(0.91 * d + 1.78 * s)
    elif lo is not None and hi is not None:
        rr_lo, rr_hi = _to_rr(lo, measure, rare, sdv), _to_rr(hi, measure, rare, sdv)

    e_point = e_value_rr(rr / rr_true)
    e_ci: float | None = None
    if rr_lo is not None and rr_hi is not None:
        if rr_lo <= rr_true <= rr_hi:
            e_ci = 1.0
        else:
            closer = rr_lo if rr > rr_true else rr_hi
            e_ci = e_value_rr(closer / rr_true)
    args = {
        "estimate": est,
        "lower": lo,
        "upper": hi,
        "measure": measure,
        "rare": rare,
        "sd": sdv,
        "se": sev,
        "true": t,
    }
    return EValue(
        measure=measure,
        estimate=est,
        lower=lo,
        upper=hi,
        true=t,
        rare=rare,
        sd=sdv,
        rr=rr,
        rr_lower=rr_lo,
        rr_upper=rr_hi,
        rr_true=rr_true,
        e_value=e_point,
        e_value_ci=e_ci,
        provenance=provenance(arguments=args),
    )


def _rd_inputs(
    counts: Sequence[int] | None, risks: Sequence[float] | None, n: Sequence[int] | None
) -> tuple[float, float, float, float]:
    """Risks and group sizes ``(p1, p0, n1, n0)`` of a risk difference."""
    if counts is not None:
        if risks is not None or n is not None:
            raise ValueError("give either counts or risks and n for measure='RD', not both")
        c = list(counts)
        if len(c) != 4 or any(isinstance(v, bool) or not float(v).is_integer() or v < 0 for v in c):
            raise ValueError(
                f"counts must be 4 non-negative integers (n11, n10, n01, n00), got {counts!r}"
            )
        n11, n10, n01, n00 = (float(v) for v in c)
        n1, n0 = n11 + n10, n01 + n00
        if n1 == 0 or n0 == 0:
            raise ValueError(f"counts must have treated and control units, got {counts!r}")
        return n11 / n1, n01 / n0, n1, n0
    if risks is None or n is None:
        raise ValueError(
            "measure='RD' needs counts=(n11, n10, n01, n00) or risks=(p1, p0) with "
            "n=(n1, n0): the E-value of a risk difference depends on the risks and the "
            "proportion treated (Ding & VanderWeele 2016)"
        )
    r, m = list(risks), list(n)
    if len(r) != 2 or len(m) != 2:
        raise ValueError(f"risks and n must have 2 values each, got risks={risks!r}, n={n!r}")
    p1, p0 = (real_number(v, "risks") for v in r)
    n1, n0 = (real_number(v, "n") for v in m)
    if not (0.0 <= p1 <= 1.0 and 0.0 <= p0 <= 1.0):
        raise ValueError(f"risks must lie in [0, 1], got {risks!r}")
    if n1 <= 0 or n0 <= 0:
        raise ValueError(f"n must be positive group sizes, got {n!r}")
    return p1, p0, n1, n0


def _e_value_rd(
    estimate: Any,
    lower: Any,
    upper: Any,
    rare: Any,
    sd: Any,
    se: Any,
    true: Any,
    counts: Sequence[int] | None,
    risks: Sequence[float] | None,
    n: Sequence[int] | None,
    alpha: Any,
) -> EValue:
    """E-value of a risk difference (see :mod:`rdstats.external._evalue_rd`)."""
    from scipy.stats import norm

    if lower is not None or upper is not None:
        raise ValueError(
            "lower and upper are not used with measure='RD': the interval is computed from "
            f"the risks and group sizes, got lower={lower!r}, upper={upper!r}"
        )
    if rare is not None or sd is not None or se is not None:
        raise ValueError(
            f"rare, sd and se do not apply to measure='RD', got rare={rare!r}, sd={sd!r}, se={se!r}"
        )
    p1, p0, n1, n0 = _rd_inputs(counts, risks, n)
    a = 0.05 if alpha is None else real_number(alpha, "alpha")
    if not 0.0 < a < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    rd = p1 - p0
    if estimate is not None:
        est = real_number(estimate, "estimate")
        if abs(est - rd) > 1e-8:
            raise ValueError(
                f"estimate={est!r} is not the risk difference p1 - p0 = {rd!r} of the "
                "counts/risks; leave estimate out or correct it"
            )
    t = 0.0 if true is None else real_number(true, "true")
    if not -1.0 < t < 1.0:
        raise ValueError(f"true must be a risk difference in (-1, 1), got {true!r}")
    z = float(norm.ppf(1.0 - a / 2.0))
    half = z * math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    f = n1 / (n1 + n0)
    flip = rd < t
    if flip:  # reverse the coding of treatment (as EValue asks), so that RD >= true
        q1, q0, m1, m0, g, tt = p0, p1, n0, n1, 1.0 - f, -t
    else:
        q1, q0, m1, m0, g, tt = p1, p0, n1, n0, f, t
    b = rd_bias_factor(q1, q0, g, tt)
    b_ci = rd_bias_factor_ci(q1, q0, m1, m0, g, z, tt)
    e_point = e_value_rr(b) if math.isfinite(b) else math.inf
    e_ci = e_value_rr(b_ci) if math.isfinite(b_ci) else math.inf
    info = {
        "p1": p1,
        "p0": p0,
        "n1": n1,
        "n0": n0,
        "f": f,
        "alpha": a,
        "reversed": flip,
        "bias_factor": b,
        "bias_factor_ci": b_ci,
    }
    args: dict[str, Any] = {
        "measure": "RD",
        "counts": None if counts is None else [int(v) for v in counts],
        "risks": None if risks is None else [p1, p0],
        "n": None if n is None else [n1, n0],
        "true": t,
        "alpha": a,
    }
    return EValue(
        measure="RD",
        estimate=rd,
        lower=rd - half,
        upper=rd + half,
        true=t,
        rare=None,
        sd=None,
        rr=1.0 / b if flip else b,
        rr_lower=None if flip else b_ci,
        rr_upper=1.0 / b_ci if flip else None,
        rr_true=1.0,
        e_value=e_point,
        e_value_ci=e_ci,
        provenance=provenance(arguments=args),
        risk_difference=info,
    )
