"""Hybrid control: a trial's concurrent control arm augmented by external controls that
are first re-weighted to the trial population by the propensity score of trial
membership, then borrowed through a power, empirical-Bayes power or commensurate prior
(the machinery of :mod:`rdstats.borrowing`).

External patient ``i`` gets the ATT (odds) weight ``w_i = e_i / (1 - e_i)``. The
weighted external data are summarised by their weighted mean, their Kish effective
sample size ``ESS = (sum w)^2 / sum w^2`` and (continuous outcomes) the standard error
``sd_w / sqrt(ESS)`` with the weighted SD ``sd_w``; a binary outcome becomes
``ESS * p_w`` responders out of ``ESS`` pseudo-patients. That summary is the historical
data of the prior.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rdstats._provenance import provenance
from rdstats._validation import real_number
from rdstats.external._borrowing_data import (
    TrialExternalData,
    analysis_arguments,
    check_level,
    trial_external_data,
)
from rdstats.external._propensity import PropensityScores
from rdstats.priors import BetaMixture, Mixture, NormalMixture, prob_difference, quantile_difference

__all__ = ["HybridControl", "hybrid_control", "weighted_external_summary"]

_PRIORS = ("power", "eb_power", "commensurate")
_VAGUE = 1e4  # SD of the (effectively flat) initial prior, in units of the outcome SD


def weighted_external_summary(d: TrialExternalData) -> dict[str, float]:
    """Weighted mean, SD, SE and effective sample size of the external patients under the
    odds-of-trial-membership weights."""
    ext = d.external
    e = d.scores[ext]
    w = e / (1.0 - e)
    y = d.y[ext]
    ess = float(w.sum() ** 2 / np.sum(w**2))
    mean = float(np.sum(w * y) / w.sum())
    sd = float(math.sqrt(np.sum(w * (y - mean) ** 2) / w.sum()))
    return {"mean": mean, "sd": sd, "se": sd / math.sqrt(ess), "ess": ess, "n": float(y.size)}


@dataclass(frozen=True)
class HybridControl:
    """Result of :func:`hybrid_control`.

    Attributes
    ----------
    estimate, sd, ci_lower, ci_upper : float
        Posterior mean, SD and equal-tailed credible interval of the treatment effect
        (treated minus control mean; a risk difference for binary outcomes).
    prob_effect : float
        Posterior probability that the effect exceeds ``threshold``.
    treated, control : Mixture
        Posterior distributions of the treated and control means (``rdstats.priors``
        mixtures: normal for continuous outcomes, beta for binary outcomes).
    prior : str
        ``"power"``, ``"eb_power"`` or ``"commensurate"``.
    a0 : float or None
        Power used (fixed, or estimated by empirical Bayes); None for the commensurate
        prior.
    borrowed : float
        Effective number of external patients in the control posterior
        (``sigma^2 / Var(control mean) - n_concurrent``; beta: ``a + b - 2 - n``). Under
        prior-data conflict the commensurate posterior (a mixture over tau) can be less
        precise than the concurrent controls alone, and ``borrowed`` is then slightly
        negative: the external data cost information instead of adding it.
    external : dict
        The weighted external summary: ``mean``, ``sd``, ``se``, ``ess``, ``n``.
    sigma : float or None
        Pooled within-trial SD used as the sampling SD (continuous outcomes).
    borrowing : object
        The underlying :mod:`rdstats.borrowing` result (PowerPosterior,
        CommensurateResult) or None.
    """

    estimate: float
    sd: float
    ci_lower: float
    ci_upper: float
    level: float
    threshold: float
    prob_effect: float
    treated: Mixture
    control: Mixture
    prior: str
    a0: float | None
    borrowed: float
    n_treated: int
    n_concurrent: int
    external: dict[str, float]
    sigma: float | None
    outcome_type: str
    ps: PropensityScores = field(repr=False)
    borrowing: Any = field(repr=False)
    provenance: dict[str, Any] = field(repr=False, compare=False)

    def prob(self, threshold: float = 0.0) -> float:
        """Posterior probability that the effect exceeds ``threshold``."""
        thr = real_number(threshold, "threshold")
        return float(1.0 - prob_difference(self.treated, self.control, thr))

    def summary(self) -> pd.DataFrame:
        """Posterior mean, SD and credible interval of the treated and control means and
        of the effect, with the borrowed external patients."""
        lo, hi = (1 - self.level) / 2, (1 + self.level) / 2
        rows = []
        for name, dist in (("treated", self.treated), ("control", self.control)):
            q = np.atleast_1d(dist.ppf([lo, hi]))
            rows.append(
                {
                    "quantity": name,
                    "mean": float(dist.mean()),
                    "sd": float(dist.sd()),
                    "lower": float(q[0]),
                    "upper": float(q[1]),
                }
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
        out = pd.DataFrame(rows).set_index("quantity")
        out["borrowed"] = [np.nan, self.borrowed, np.nan]
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        keys = (
            "estimate sd ci_lower ci_upper level threshold prob_effect prior a0 borrowed "
            "n_treated n_concurrent sigma outcome_type"
        ).split()
        out: dict[str, Any] = {k: getattr(self, k) for k in keys}
        out["external"] = dict(self.external)
        out["treated"] = self.treated.to_dict()
        out["control"] = self.control.to_dict()
        out["provenance"] = dict(self.provenance)
        return out

    def _repr_html_(self) -> str:
        a0 = "" if self.a0 is None else f", a0 = {self.a0:.3g}"
        head = (
            f"<p><b>Hybrid control</b> ({self.prior} prior{a0}): {self.borrowed:.1f} external "
            f"patients borrowed (weighted ESS {self.external['ess']:.1f} of "
            f"{self.external['n']:.0f}); effect {self.estimate:.4g} ({self.level:.0%} CrI "
            f"{self.ci_lower:.4g} to {self.ci_upper:.4g}), P(effect &gt; {self.threshold:g}) = "
            f"{self.prob_effect:.3f}</p>"
        )
        return head + self.summary().to_html(float_format="{:.4g}".format)

    def plot(self, ax: Any = None) -> Any:
        """Posterior densities of the control mean (with and without the external data)
        and of the treated mean."""
        from rdstats.plotting._external_borrowing import hybrid_control_plot

        return hybrid_control_plot(self, ax=ax)


def _check_prior_args(prior: Any, a0: Any, tau_prior: Any) -> tuple[float, Any]:
    if prior not in _PRIORS:
        raise ValueError(f"prior must be one of {_PRIORS}, got {prior!r}")
    a = real_number(a0, "a0")
    if not 0.0 <= a <= 1.0:
        raise ValueError(f"a0 must be in [0, 1], got {a0!r}")
    if prior == "commensurate":
        from rdstats.borrowing import HalfNormal, TauPrior

        if tau_prior is None:
            raise ValueError(
                "prior='commensurate' needs tau_prior (e.g. rdstats.borrowing.HalfNormal(s) "
                "with s on the outcome scale)"
            )
        if not isinstance(tau_prior, TauPrior) and not hasattr(tau_prior, "gamma_params"):
            tau_prior = HalfNormal(real_number(tau_prior, "tau_prior"))
    elif tau_prior is not None:
        raise ValueError(f"tau_prior applies to prior='commensurate' only, got prior={prior!r}")
    return a, tau_prior


def _continuous(
    d: TrialExternalData, ext: dict[str, float], prior: str, a0: float, tau_prior: Any
) -> tuple[NormalMixture, NormalMixture, float | None, float, Any]:
    from rdstats.borrowing import commensurate_prior, eb_power_prior, power_prior

    yt, yc = d.y[d.treated == 1], d.y[d.concurrent]
    nt, nc = yt.size, yc.size
    if nt < 2:
        raise ValueError(f"a continuous outcome needs at least 2 treated patients, got {nt}")
    ss = np.sum((yt - yt.mean()) ** 2) + (np.sum((yc - yc.mean()) ** 2) if nc else 0.0)
    s = float(math.sqrt(ss / (nt + nc - (2 if nc else 1))))
    if not s > 0:
        raise ValueError("the trial outcomes have no spread; the sampling SD is zero")
    treated = NormalMixture(1.0, float(yt.mean()), s / math.sqrt(nt), sigma=s)
    hist = {"mean": [ext["mean"]], "se": [ext["se"]]}
    current = {"mean": float(yc.mean()), "n": nc} if nc else None
    used_a0: float | None
    res: Any
    if prior == "commensurate":
        assert current is not None
        res = commensurate_prior(hist, current, "normal", tau_prior, sigma=s)
        control, used_a0 = res.posterior, None
    else:
        initial = NormalMixture(1.0, ext["mean"], _VAGUE * s, sigma=s)
        if prior == "eb_power":
            assert current is not None
            res = eb_power_prior(initial, hist, current)
        else:
            pp = power_prior(initial, hist, a0)
            res = pp.posterior(**current) if current else pp
        control = res.posterior if current else res.prior
        used_a0 = float(np.asarray(res.a0).ravel()[0])
    borrowed = s**2 / float(control.sd()) ** 2 - nc
    return treated, control, used_a0, borrowed, res


def _binary(
    d: TrialExternalData, ext: dict[str, float], a0: float
) -> tuple[BetaMixture, BetaMixture, float]:
    yt, yc = d.y[d.treated == 1], d.y[d.concurrent]
    r_t, r_c = float(yt.sum()), float(yc.sum())
    m = a0 * ext["ess"]
    treated = BetaMixture(1.0, 1.0 + r_t, 1.0 + yt.size - r_t)
    control = BetaMixture(
        1.0, 1.0 + m * ext["mean"] + r_c, 1.0 + m * (1.0 - ext["mean"]) + yc.size - r_c
    )
    return treated, control, m


def hybrid_control(
    data: pd.DataFrame,
    outcome: str,
    covariates: Sequence[str] | str | None = None,
    *,
    study: str,
    treatment: str | None = None,
    prior: str = "power",
    a0: float = 0.5,
    tau_prior: Any = None,
    outcome_type: str = "auto",
    level: float = 0.95,
    threshold: float = 0.0,
    formula: str | None = None,
) -> HybridControl:
    """Analyse a trial whose control information combines concurrent controls with
    propensity-weighted external controls through a power or commensurate prior.

    Parameters
    ----------
    data : DataFrame
        One row per patient: trial patients and external controls.
    outcome : str
        Outcome column (continuous, or binary 0/1).
    covariates : sequence of str, optional
        Covariates of the trial-membership propensity model (or ``formula``).
    study : str
        0/1 column: 1 for trial patients, 0 for external patients.
    treatment : str, optional
        0/1 randomised-arm column of the trial (external patients 0); ``None``: a
        single-arm trial (then only ``prior="power"`` is possible).
    prior : {"power", "eb_power", "commensurate"}
        Power prior with fixed ``a0``; power prior with ``a0`` by empirical Bayes
        (Gravestock & Held 2017; continuous outcomes, needs concurrent controls);
        commensurate prior with ``tau_prior`` (Hobbs et al. 2011; continuous outcomes,
        needs concurrent controls).
    a0 : float
        Power of the fixed power prior, in [0, 1].
    tau_prior : TauPrior or float, optional
        Prior of the commensurability SD on the outcome scale (a number is a half-normal
        scale).
    outcome_type : {"auto", "continuous", "binary"}
        ``"auto"``: binary if the outcome takes only the values 0 and 1.
    level : float
        Credible level.
    threshold : float
        Report ``P(effect > threshold)``.
    formula : str, optional
        Propensity model formula instead of ``covariates``.

    Returns
    -------
    HybridControl

    Raises
    ------
    ValueError
        Bad columns or values, an unknown prior, a0 outside [0, 1], a prior that needs
        concurrent controls without them, or a binary outcome with ``"eb_power"`` or
        ``"commensurate"`` (the weighted responder count is not an integer).

    Notes
    -----
    A continuous outcome uses the pooled within-trial SD ``s`` as the known sampling SD:
    the treated mean has posterior ``N(ybar_t, s^2/n_t)`` (flat prior), the concurrent
    control mean ``ybar_c`` has standard error ``s / sqrt(n_c)``. The initial prior of the
    power priors is normal with SD ``1e4 s`` (flat for all practical purposes).

    References
    ----------
    .. [1] Ibrahim JG, Chen M-H. Power prior distributions for regression models.
       Statistical Science 2000;15:46-60.
    .. [2] Hobbs BP, Carlin BP, Mandrekar SJ, Sargent DJ. Hierarchical commensurate and
       power prior models for adaptive incorporation of historical information in clinical
       trials. Biometrics 2011;67:1047-1056.
    .. [3] Gravestock I, Held L. Adaptive power priors with empirical Bayes for clinical
       trials. Pharm Stat 2017;16:349-360.
    .. [4] Lin J, Gamalo-Siebers M, Tiwari R. Propensity-score-based priors for Bayesian
       augmented control design. Pharm Stat 2019;18:223-238.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from rdstats.external import hybrid_control
    >>> rng = np.random.default_rng(1)
    >>> x = np.r_[rng.normal(0.5, 1, 40), rng.normal(0, 1, 200)]
    >>> study = np.r_[np.ones(40, int), np.zeros(200, int)]
    >>> arm = np.r_[np.ones(30, int), np.zeros(210, int)]
    >>> y = x + 0.8 * arm + rng.normal(0, 1, 240)
    >>> df = pd.DataFrame({"x": x, "study": study, "arm": arm, "y": y})
    >>> res = hybrid_control(df, "y", ["x"], study="study", treatment="arm", prior="commensurate",
    ...                      tau_prior=0.5)
    >>> round(res.estimate, 3), round(res.borrowed, 1)
    (0.414, 20.2)
    """
    lev = check_level(level)
    thr = real_number(threshold, "threshold")
    a, tau = _check_prior_args(prior, a0, tau_prior)
    d = trial_external_data(
        data,
        outcome,
        covariates,
        study=study,
        treatment=treatment,
        outcome_type=outcome_type,
        formula=formula,
    )
    if d.n_treated == 0:
        raise ValueError(f"no treated trial patients ({treatment!r} == 1 among {study!r} == 1)")
    if prior != "power" and d.n_concurrent == 0:
        raise ValueError(
            f"prior={prior!r} weighs the external data against concurrent controls, but the "
            "trial has none; use prior='power' with a prespecified a0"
        )
    if d.binary and prior != "power":
        raise ValueError(
            f"prior={prior!r} is not available for a binary outcome (the propensity-weighted "
            "responder count is not an integer); use prior='power'"
        )
    ext = weighted_external_summary(d)
    treated: Mixture
    control: Mixture
    res: Any = None
    if d.binary:
        treated, control, borrowed = _binary(d, ext, a)
        used_a0: float | None = a
        sigma = None
    else:
        treated, control, used_a0, borrowed, res = _continuous(d, ext, prior, a, tau)
        sigma = treated.sigma
    lo, hi = (1 - lev) / 2, (1 + lev) / 2
    est = float(treated.mean() - control.mean())
    sd = math.hypot(float(treated.sd()), float(control.sd()))
    args = analysis_arguments(
        d,
        outcome=outcome,
        covariates=covariates,
        study=study,
        treatment=treatment,
        formula=formula,
        level=lev,
        threshold=thr,
        prior=prior,
        a0=a,
        tau_prior=None if tau is None else repr(tau),
    )
    return HybridControl(
        estimate=est,
        sd=sd,
        ci_lower=float(quantile_difference(treated, control, lo)),
        ci_upper=float(quantile_difference(treated, control, hi)),
        level=lev,
        threshold=thr,
        prob_effect=float(1.0 - prob_difference(treated, control, thr)),
        treated=treated,
        control=control,
        prior=prior,
        a0=used_a0,
        borrowed=float(borrowed),
        n_treated=d.n_treated,
        n_concurrent=d.n_concurrent,
        external=ext,
        sigma=sigma,
        outcome_type="binary" if d.binary else "continuous",
        ps=d.ps,
        borrowing=res,
        provenance=provenance(arguments=args),
    )
