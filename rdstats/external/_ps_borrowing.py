"""Propensity-score-integrated power prior (Wang et al. 2019): borrow a prespecified total
number of external patients, split across strata of the trial-membership propensity score
by how well the external patients overlap the trial patients in each stratum.

Steps (conventions of the psrwe R package where the paper leaves a choice):

1. The propensity score ``e(x) = P(trial | x)`` by logistic regression on all patients.
2. ``K`` strata cut at the ``k/K`` quantiles of the trial patients' scores; external
   patients outside the trial patients' range are trimmed.
3. The overlap ``r_k`` of the two groups' score distributions in each stratum: the
   overlapping coefficient of Gaussian kernel density estimates (normal-reference
   bandwidth ``1.06 sd n^-1/5`` with each group's own SD in the stratum), each
   renormalised over the
   stratum, integrated by the trapezoidal rule on 201 points; or ``r_k = 1`` for every
   stratum with external patients (``overlap="equal"``).
4. ``A_k = A r_k / sum(r)`` patients borrowed in stratum ``k``: the external likelihood is
   raised to the power ``a_k = min(1, A_k / n_ext,k)``.
5. Within each stratum a flat initial prior: the control mean's posterior combines the
   concurrent controls (if any) with the discounted external patients; the treated mean
   is estimated from the trial's treated patients. Continuous outcomes use normal
   likelihoods with plug-in SDs, binary outcomes beta posteriors.
6. The overall means average the strata with weights proportional to the number of trial
   patients; the treatment effect is their difference. Its posterior is normal for a
   continuous outcome (exact under the model); for a binary outcome the exact posterior
   mean and variance are used with a normal approximation for intervals and
   probabilities.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from rdstats._provenance import provenance
from rdstats._validation import real_number
from rdstats.external._borrowing_data import (
    TrialExternalData,
    analysis_arguments,
    check_level,
    trial_external_data,
)
from rdstats.external._propensity import PropensityScores

__all__ = ["PSPowerPrior", "overlap_coefficient", "ps_power_prior"]

Array = NDArray[np.float64]
_OVERLAP = ("ovl", "equal")
_GRID = 201
_TINY = 1e-9  # a group SD below this fraction of the pooled SD counts as no spread


def overlap_coefficient(a: Any, b: Any, lower: float, upper: float) -> float:
    """Overlapping coefficient of two samples' score distributions on ``[lower, upper]``.

    ``int min(f_a, f_b)`` for Gaussian kernel density estimates with the normal-reference
    bandwidth ``1.06 s n^(-1/5)`` (``s`` and ``n`` the SD and size of the group's sample;
    the pooled sample's SD for a group of one or without spread; at least the spacing of
    the integration grid), each renormalised to
    integrate to one over the interval; trapezoidal rule on 201 points. 0 when a sample
    is empty; 1 when the pooled sample has no spread.

    Examples
    --------
    >>> from rdstats.external import overlap_coefficient
    >>> x = np.linspace(0.2, 0.4, 50)
    >>> round(overlap_coefficient(x, x, 0.2, 0.4), 6)
    1.0
    >>> overlap_coefficient(x, [], 0.2, 0.4)
    0.0
    """
    xa, xb = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if xa.size == 0 or xb.size == 0:
        return 0.0
    pooled = np.concatenate([xa, xb])
    sd = float(np.std(pooled, ddof=1)) if pooled.size > 1 else 0.0
    if sd == 0.0 or not upper > lower:
        return 1.0
    grid = np.linspace(lower, upper, _GRID)
    step = (upper - lower) / (_GRID - 1)

    def density(v: Array) -> Array:
        own = float(np.std(v, ddof=1)) if v.size > 1 else 0.0
        # identical scores give an SD of rounding size: no spread of their own
        h = 1.06 * (own if own > _TINY * sd else sd) * v.size ** (-0.2)
        h = max(h, step)  # no narrower than the integration grid can resolve
        d = np.exp(-0.5 * ((grid[:, None] - v[None, :]) / h) ** 2).sum(axis=1)
        return np.asarray(d / np.trapezoid(d, grid))

    return float(np.clip(np.trapezoid(np.minimum(density(xa), density(xb)), grid), 0.0, 1.0))


@dataclass(frozen=True)
class PSPowerPrior:
    """Result of :func:`ps_power_prior`.

    Attributes
    ----------
    estimate, sd, ci_lower, ci_upper : float
        Posterior mean, SD and equal-tailed credible interval of the treatment effect
        (treated minus control mean: a mean or risk difference).
    prob_effect : float
        Posterior probability that the effect exceeds ``threshold``.
    treated_mean, treated_sd, control_mean, control_sd : float
        Posterior mean and SD of the stratum-averaged treated and control means.
    n_borrow : float
        Prespecified total number of external patients to borrow.
    n_borrowed : float
        Patients actually borrowed (``sum a_k n_ext,k``; less than ``n_borrow`` when a
        stratum has fewer external patients than its share).
    strata : DataFrame
        One row per stratum: score range, trial/treated/concurrent/external patients,
        overlap, share of the borrowing, patients borrowed, power ``a0``, stratum weight
        and the stratum's posterior means and SDs.
    n_trimmed : int
        External patients outside the trial patients' score range (not used).
    ps : PropensityScores
        The trial-membership propensity model.
    """

    estimate: float
    sd: float
    ci_lower: float
    ci_upper: float
    level: float
    threshold: float
    prob_effect: float
    treated_mean: float
    treated_sd: float
    control_mean: float
    control_sd: float
    n_borrow: float
    n_borrowed: float
    n_strata: int
    overlap: str
    outcome_type: str
    strata: pd.DataFrame
    n_trimmed: int
    ps: PropensityScores = field(repr=False)
    provenance: dict[str, Any] = field(repr=False, compare=False)

    def prob(self, threshold: float = 0.0) -> float:
        """Posterior probability that the effect exceeds ``threshold``."""
        thr = real_number(threshold, "threshold")
        return float(stats.norm.sf(thr, self.estimate, self.sd))

    def summary(self) -> pd.DataFrame:
        """Posterior mean, SD and credible interval of the treated mean, the control mean
        and the effect."""
        z = float(stats.norm.ppf(0.5 + self.level / 2))
        rows = []
        for name, m, s in (
            ("treated", self.treated_mean, self.treated_sd),
            ("control", self.control_mean, self.control_sd),
        ):
            rows.append(
                {"quantity": name, "mean": m, "sd": s, "lower": m - z * s, "upper": m + z * s}
            )
        rows.append(
            {
                "quantity": "effect",
                "mean": self.estimate,
                "sd": self.sd,
                "lower": self.ci_lower,
                "upper": self.ci_upper,
            }
        )
        return pd.DataFrame(rows).set_index("quantity")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        keys = (
            "estimate sd ci_lower ci_upper level threshold prob_effect treated_mean treated_sd "
            "control_mean control_sd n_borrow n_borrowed n_strata overlap outcome_type n_trimmed"
        ).split()
        out: dict[str, Any] = {k: getattr(self, k) for k in keys}
        out["strata"] = [
            {str(c): (v if isinstance(v, str) else float(v)) for c, v in row.items()}
            for _, row in self.strata.reset_index().iterrows()
        ]
        out["provenance"] = dict(self.provenance)
        return out

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>PS-integrated power prior</b>: {self.n_borrowed:.1f} of "
            f"{self.n_borrow:g} planned external patients borrowed over {self.n_strata} strata "
            f"({self.overlap} overlap); effect {self.estimate:.4g} "
            f"({self.level:.0%} CrI {self.ci_lower:.4g} to {self.ci_upper:.4g}), "
            f"P(effect &gt; {self.threshold:g}) = {self.prob_effect:.3f}</p>"
        )
        return head + self.strata.to_html(float_format="{:.4g}".format)

    def plot(self, ax: Any = None) -> Any:
        """Two panels: external patients available and borrowed per stratum (with the
        overlap), and each stratum's effect with the overall effect."""
        from rdstats.plotting._external_borrowing import ps_power_prior_plot

        return ps_power_prior_plot(self, ax=ax)


def _check_n_borrow(n_borrow: Any) -> float:
    a = real_number(n_borrow, "n_borrow")
    if not a > 0:
        raise ValueError(f"n_borrow must be a positive number of patients, got {n_borrow!r}")
    return a


def _check_strata(n_strata: Any, n_trial: int) -> int:
    if isinstance(n_strata, bool) or not isinstance(n_strata, (int, np.integer)) or n_strata < 1:
        raise ValueError(f"n_strata must be a positive integer, got {n_strata!r}")
    if n_strata > n_trial:
        raise ValueError(
            f"n_strata={n_strata} exceeds the {n_trial} trial patients; use fewer strata"
        )
    return int(n_strata)


def _allocation(r: Array, n_ext: Array, n_borrow: float) -> tuple[Array, Array]:
    """Power a_k and patients borrowed per stratum from the overlaps."""
    total = float(r.sum())
    share = r / total if total > 0 else np.zeros_like(r)
    with np.errstate(divide="ignore", invalid="ignore"):
        a0 = np.where(n_ext > 0, np.minimum(1.0, n_borrow * share / np.maximum(n_ext, 1)), 0.0)
    return share, a0


def _stratum_posteriors(
    d: TrialExternalData, k: NDArray[np.int64], used: NDArray[np.bool_], a0: Array, n_strata: int
) -> pd.DataFrame:
    """Per-stratum posterior mean and variance of the treated and control means."""
    y = d.y
    tr, conc, ext = d.treated == 1, d.concurrent & used, d.external & used
    ctrl_all = conc | ext
    rows = []
    for j in range(n_strata):
        t_j, c_j, e_j = tr & (k == j), conc & (k == j), ext & (k == j)
        nt, nc, ne = int(t_j.sum()), int(c_j.sum()), int(e_j.sum())
        m0 = nc + a0[j] * ne  # control information in patients
        if nt == 0 or m0 <= 0:
            what = "no treated patients" if nt == 0 else "no control patients to borrow or compare"
            raise ValueError(
                f"stratum {j + 1} of {n_strata} has {what}; use fewer strata (n_strata) or "
                "check the overlap of the trial and external data"
            )
        if d.binary:
            a_c = 1.0 + a0[j] * y[e_j].sum() + y[c_j].sum()
            b_c = 1.0 + a0[j] * (ne - y[e_j].sum()) + (nc - y[c_j].sum())
            a_t, b_t = 1.0 + y[t_j].sum(), 1.0 + nt - y[t_j].sum()
            mc, vc = a_c / (a_c + b_c), a_c * b_c / ((a_c + b_c) ** 2 * (a_c + b_c + 1))
            mt, vt = a_t / (a_t + b_t), a_t * b_t / ((a_t + b_t) ** 2 * (a_t + b_t + 1))
        else:
            ctrl_j = c_j | e_j
            pool = y[ctrl_j] if ctrl_j.sum() >= 2 else y[ctrl_all]
            s_c = float(np.std(pool, ddof=1))
            if not s_c > 0:  # no spread in this stratum: the SD of all control outcomes
                s_c = float(np.std(y[ctrl_all], ddof=1)) if ctrl_all.sum() > 1 else 0.0
            s_t = float(np.std(y[tr], ddof=1)) if tr.sum() > 1 else 0.0
            if not (s_c > 0 and s_t > 0):
                which = "treated" if not s_t > 0 else "control"
                raise ValueError(
                    f"the {which} outcomes have no spread (SD 0); the plug-in normal "
                    "posterior is degenerate -- check the outcome column"
                )
            mc = (y[c_j].sum() + a0[j] * y[e_j].sum()) / m0
            vc = s_c**2 / m0
            mt, vt = float(y[t_j].mean()), s_t**2 / nt
        rows.append(
            {
                "treated_mean": mt,
                "treated_sd": math.sqrt(vt),
                "control_mean": mc,
                "control_sd": math.sqrt(vc),
                "effect_mean": mt - mc,
                "effect_sd": math.sqrt(vt + vc),
            }
        )
    return pd.DataFrame(rows)


def ps_power_prior(
    data: pd.DataFrame,
    outcome: str,
    covariates: Sequence[str] | str | None = None,
    *,
    study: str,
    treatment: str | None = None,
    n_borrow: float,
    n_strata: int = 5,
    overlap: str = "ovl",
    outcome_type: str = "auto",
    level: float = 0.95,
    threshold: float = 0.0,
    formula: str | None = None,
) -> PSPowerPrior:
    """Propensity-score-integrated power prior for a trial with external controls.

    Parameters
    ----------
    data : DataFrame
        One row per patient: trial patients (treated, and optionally concurrent
        controls) and external (natural-history / real-world) controls.
    outcome : str
        Outcome column: continuous, or binary 0/1.
    covariates : sequence of str, optional
        Baseline covariates of the trial-membership propensity model (or ``formula``).
    study : str
        0/1 column: 1 for trial patients, 0 for external patients.
    treatment : str, optional
        0/1 column of the trial's randomised arm (external patients must be 0). ``None``
        (default): a single-arm trial, every trial patient is treated.
    n_borrow : float
        Total number of external patients to borrow (``A``), split across strata.
    n_strata : int
        Number of propensity-score strata (quantiles of the trial patients' scores).
        Tied scores (e.g. from categorical covariates only) can make quantiles coincide;
        the coinciding cut points are merged, with a warning, and ``n_strata`` of the
        result is the number of strata used.
    overlap : {"ovl", "equal"}
        How the borrowing is split: by the overlapping coefficient of the two groups'
        score densities in each stratum, or equally among strata with external patients.
    outcome_type : {"auto", "continuous", "binary"}
        ``"auto"``: binary if the outcome takes only the values 0 and 1.
    level : float
        Credible level of the intervals.
    threshold : float
        Report the posterior probability that the effect exceeds it.
    formula : str, optional
        Propensity model formula (``"study ~ terms"``) instead of ``covariates``.

    Returns
    -------
    PSPowerPrior

    Raises
    ------
    ValueError
        Bad columns or values (see :func:`propensity_scores`), a non-positive
        ``n_borrow``, more strata than trial patients, or a stratum without treated
        patients or without any control information.

    Notes
    -----
    With no concurrent controls, the control mean of stratum ``k`` has posterior
    ``N(ybar_ext,k, s_k^2 / (a_k n_ext,k))``: the external data count as ``A_k`` patients
    however many there are, so the prespecified ``A`` caps the external data's weight.
    Plug-in SDs make the continuous posterior approximate for very small strata. The
    interval is deliberately conservative when ``n_borrow`` is smaller than the number of
    external patients: the control means use all external patients in a stratum, but
    their precision counts only the ``A_k`` borrowed ones (the power prior's discount).

    References
    ----------
    .. [1] Wang C, Li H, Chen W-C, Lu N, Tiwari R, Xu Y, Yue LQ. Propensity score-integrated
       power prior approach for incorporating real-world evidence in single-arm clinical
       studies. J Biopharm Stat 2019;29:731-748.
    .. [2] Ibrahim JG, Chen M-H. Power prior distributions for regression models.
       Statistical Science 2000;15:46-60.

    Examples
    --------
    >>> from rdstats.datasets import load_lalonde
    >>> from rdstats.external import ps_power_prior
    >>> covs = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
    >>> res = ps_power_prior(load_lalonde(), "re78", covs, study="treat", n_borrow=185)
    >>> res.strata["n_external"].tolist()
    [299, 19, 25, 18, 11]
    >>> round(res.n_borrowed, 1), round(res.estimate, 1), round(res.sd, 1)
    (103.1, 879.7, 875.0)
    """
    lev = check_level(level)
    thr = real_number(threshold, "threshold")
    a_total = _check_n_borrow(n_borrow)
    if overlap not in _OVERLAP:
        raise ValueError(f"overlap must be one of {_OVERLAP}, got {overlap!r}")
    d = trial_external_data(
        data,
        outcome,
        covariates,
        study=study,
        treatment=treatment,
        outcome_type=outcome_type,
        formula=formula,
    )
    trial = d.study == 1
    K = _check_strata(n_strata, int(trial.sum()))
    e = d.scores
    cuts = np.unique(np.quantile(e[trial], np.linspace(0.0, 1.0, K + 1)))
    if cuts.size - 1 < K:  # tied scores (e.g. categorical covariates only)
        warnings.warn(
            f"tied propensity scores: the {K} requested strata have only "
            f"{max(cuts.size - 1, 1)} distinct cut intervals; using those",
            UserWarning,
            stacklevel=2,
        )
        K = max(cuts.size - 1, 1)
        if cuts.size == 1:
            cuts = np.repeat(cuts, 2)
    k = np.searchsorted(cuts[1:K], e, side="left").astype(np.int64)
    used = trial | ((e >= cuts[0]) & (e <= cuts[K]))
    n_trimmed = int(np.sum(~used))
    ext = d.external & used
    n_ext = np.array([np.sum(ext & (k == j)) for j in range(K)], dtype=float)
    n_trial = np.array([np.sum(trial & (k == j)) for j in range(K)], dtype=float)
    if overlap == "equal":
        r = (n_ext > 0).astype(float)
    else:
        r = np.array(
            [
                overlap_coefficient(e[trial & (k == j)], e[ext & (k == j)], cuts[j], cuts[j + 1])
                for j in range(K)
            ]
        )
    share, a0 = _allocation(r, n_ext, a_total)
    post = _stratum_posteriors(d, k, used, a0, K)
    w = n_trial / n_trial.sum()
    t_mean = float(w @ post["treated_mean"])
    c_mean = float(w @ post["control_mean"])
    t_sd = float(np.sqrt(w**2 @ post["treated_sd"] ** 2))
    c_sd = float(np.sqrt(w**2 @ post["control_sd"] ** 2))
    est, sd = t_mean - c_mean, math.hypot(t_sd, c_sd)
    z = float(stats.norm.ppf(0.5 + lev / 2))
    strata = pd.DataFrame(
        {
            "ps_lower": cuts[:-1],
            "ps_upper": cuts[1:],
            "n_trial": n_trial.astype(int),
            "n_treated": [int(np.sum((d.treated == 1) & (k == j))) for j in range(K)],
            "n_concurrent": [int(np.sum(d.concurrent & (k == j))) for j in range(K)],
            "n_external": n_ext.astype(int),
            "overlap": r,
            "share": share,
            "borrowed": a0 * n_ext,
            "a0": a0,
            "weight": w,
        },
        index=pd.RangeIndex(1, K + 1, name="stratum"),
    )
    post.index = strata.index
    strata = pd.concat([strata, post], axis=1)
    args = analysis_arguments(
        d,
        outcome=outcome,
        covariates=covariates,
        study=study,
        treatment=treatment,
        formula=formula,
        level=lev,
        threshold=thr,
        n_borrow=a_total,
        n_strata=K,
        overlap=overlap,
    )
    return PSPowerPrior(
        estimate=est,
        sd=sd,
        ci_lower=est - z * sd,
        ci_upper=est + z * sd,
        level=lev,
        threshold=thr,
        prob_effect=float(stats.norm.sf(thr, est, sd)),
        treated_mean=t_mean,
        treated_sd=t_sd,
        control_mean=c_mean,
        control_sd=c_sd,
        n_borrow=a_total,
        n_borrowed=float(np.sum(a0 * n_ext)),
        n_strata=K,
        overlap=overlap,
        outcome_type="binary" if d.binary else "continuous",
        strata=strata,
        n_trimmed=n_trimmed,
        ps=d.ps,
        provenance=provenance(arguments=args),
    )
