"""Commensurate priors (Hobbs et al. 2011, 2012): theta ~ N(theta0, tau^2) given the
historical parameter theta0, with a prior on the commensurability tau.

Exact computation (``method="exact"``):

* tau: adaptive Gauss-Legendre in ``v = log tau`` over the range holding the prior and the
  posterior mass, plus point masses (tau = 0 for the prior mass below the range, the spike
  of a spike-and-slab prior, a fixed tau).
* normal data (known sampling SD): given tau everything is Gaussian, so prior and posterior
  of theta are normal mixtures over the tau nodes (exact up to the tau rule).
* binomial data (logit link): the convolutions ``int f(t) N(t; x, tau^2) dt`` of the
  historical posterior of theta0 (or the current likelihood) with the normal kernel are
  adaptive Gauss-Hermite integrals centred at the mode of the integrand (accurate from
  tau -> 0 to large tau); the density of theta is then resolved on an adaptive composite
  Gauss-Legendre rule of a sinh-mapped axis (a :class:`QuadratureDistribution`).

``method="mcmc"`` fits the same model with PyMC (NUTS, non-centred) as a cross-check.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special

from rdstats._provenance import provenance as _provenance
from rdstats._validation import as_float_array, check_positive, check_probability
from rdstats.borrowing._borrowed import EssMethod, _json_float, mixture_ess
from rdstats.borrowing._commensurate_data import Family, _initial, _obs
from rdstats.borrowing._commensurate_mcmc import _mcmc, _seed
from rdstats.borrowing._commensurate_quad import (
    _BinomialModel,
    _normal_exact,
    _q_lik,
    _tau_distribution,
)
from rdstats.borrowing._hyperpriors import TauPrior, as_tau_prior
from rdstats.borrowing._samples import SampleDistribution
from rdstats.priors import NormalMixture

__all__ = ["CommensurateResult", "commensurate_prior"]

Array = NDArray[np.float64]


# -- result ----------------------------------------------------------------------------------
def _normal_info(mix: NormalMixture, x: Array) -> Array:
    """-(log p)''(x) of a normal mixture (responsibility form)."""
    m, v = mix._component_moments()
    xx = np.asarray(x, dtype=float)[:, None]
    with np.errstate(divide="ignore"):
        lw = np.log(mix.weights) - 0.5 * np.log(v) - (xx - m) ** 2 / (2 * v)
    r = np.exp(lw - special.logsumexp(lw, axis=1, keepdims=True))
    g = -(xx - m) / v
    gm = np.sum(r * g, axis=1, keepdims=True)
    return np.asarray(np.sum(r / v, axis=1) - np.sum(r * (g - gm) ** 2, axis=1))


def _moment_ess_p(d: Any) -> float:
    m, v = d.mean(), d.var()
    return float(m * (1 - m) / v - 1) if v > 0 else math.inf


def _warn_inf(what: str) -> None:
    warnings.warn(
        f"the ELIR effective sample size of the {what} is infinite: its tails on the logit scale "
        "are heavier than the binomial likelihood's (typical of wide tau priors); "
        "ess_method='moment' gives a finite alternative",
        UserWarning,
        stacklevel=4,
    )


@dataclass(frozen=True, eq=False)
class CommensurateResult:
    """Analysis with a commensurate prior (see :func:`commensurate_prior`).

    Attributes
    ----------
    family : {"binomial", "normal"}
    method : {"exact", "mcmc"}
    posterior
        Posterior of the parameter on its reporting scale: the response rate (binomial; a
        :class:`QuadratureDistribution`) or the mean (normal; a ``NormalMixture``), or a
        :class:`SampleDistribution` of MCMC draws.
    posterior_logit
        Binomial only: posterior of the logit response rate.
    tau
        Posterior of the commensurability SD tau.
    prior
        Prior of the parameter implied by the historical data and the tau prior
        (computed on first access for binomial data).
    ess_prior, ess_posterior, borrowed : float
        Prior ESS, posterior ESS and effective number of borrowed patients
        ``ess_posterior - n_current`` (computed on first access).
    idata
        ArviZ InferenceData (``method="mcmc"``), else None.
    """

    family: str
    method: str
    posterior: Any
    posterior_logit: Any
    tau: Any
    tau_prior: TauPrior
    n_current: float
    threshold: float | None
    ess_method: str
    historical: dict[str, Any]
    current: dict[str, Any]
    idata: Any = field(repr=False)
    provenance: dict[str, Any] = field(repr=False)
    _engine: Any = field(repr=False)
    _draws: dict[str, Array] | None = field(repr=False, default=None)
    _cache: dict[str, Any] = field(repr=False, default_factory=dict)

    # -- lazily computed quantities ----------------------------------------------------------
    def _lazy(self, key: str, fn: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    @property
    def prior(self) -> Any:
        """Prior of the parameter (response rate for binomial data, mean for normal data)."""
        if self.family == "normal":
            return self._engine["prior"]
        return self._lazy("prior", lambda: self._engine.theta_prior("expit"))

    @property
    def prior_logit(self) -> Any:
        """Binomial only: prior of the logit response rate (its ``pdf`` is the density on the
        logit scale); None for normal data."""
        if self.family != "binomial":
            return None
        return self._lazy("prior_logit", lambda: self._engine.theta_prior())

    @property
    def ess_prior(self) -> float:
        """Prior effective sample size."""
        return float(self._lazy("ess_prior", self._compute_ess_prior))

    @property
    def borrowed(self) -> float:
        """Effective number of borrowed patients, ``ess_posterior - n_current``."""
        return float(self._lazy("borrowed", self._compute_borrowed))

    @property
    def ess_posterior(self) -> float:
        """Posterior effective sample size."""
        return self.n_current + self.borrowed

    def _compute_ess_prior(self) -> float:
        if self.family == "normal":
            return mixture_ess(self._engine["prior"], self.ess_method)  # type: ignore[arg-type]
        if self.ess_method == "moment":
            return _moment_ess_p(self.prior)
        val = self._engine.prior_elir()
        if math.isinf(val):
            _warn_inf("prior")
        return float(val)

    def _compute_borrowed(self) -> float:
        if self.family == "normal":
            prior = self._engine["prior"]
            sigma = prior.sigma
            if self._draws is None:
                post = self._engine["posterior"]
                return mixture_ess(post, self.ess_method) - self.n_current  # type: ignore[arg-type]
            th = self._draws["theta"]
            if self.ess_method == "moment":
                return float(sigma**2 / np.var(th, ddof=1) - self.n_current)
            return float(np.mean(sigma**2 * _normal_info(prior, th)))
        if self.ess_method == "moment":
            return _moment_ess_p(self.posterior) - self.n_current
        if self._draws is None:
            val = self._engine.borrowed_elir()
        else:
            th = self._draws["theta"]
            p = special.expit(th)
            val = float(np.mean(self._engine.info(th) / (p * (1 - p))))
        if math.isinf(val):
            _warn_inf("posterior")
        return float(val)

    # -- presentation ------------------------------------------------------------------------
    def prob_above(self, x: float) -> float:
        """Posterior probability that the parameter (response rate or mean) exceeds ``x``."""
        return float(self.posterior.sf(x))

    def _label(self) -> str:
        return "response rate" if self.family == "binomial" else "mean"

    def summary(self) -> pd.DataFrame:
        """Prior and posterior of the parameter, posterior of tau, ESS and borrowing.

        ``estimate`` is the mean for distributions and the value for single numbers.
        """
        lab = self._label()
        rows: dict[str, list[float]] = {
            f"{lab} (prior)": _row(self.prior),
            f"{lab} (posterior)": _row(self.posterior),
        }
        if self.posterior_logit is not None:
            rows[f"logit {lab} (posterior)"] = _row(self.posterior_logit)
        rows["tau (posterior)"] = _row(self.tau)
        if self.threshold is not None:
            rows[f"P({lab} > {self.threshold:g})"] = _one(self.prob_above(self.threshold))
        rows["prior ESS"] = _one(self.ess_prior)
        rows["posterior ESS"] = _one(self.ess_posterior)
        rows["n current"] = _one(self.n_current)
        rows["effective borrowed"] = _one(self.borrowed)
        return pd.DataFrame.from_dict(rows, orient="index", columns=_COLS)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description (summaries, not draws)."""
        tab = self.summary()
        return {
            "family": self.family,
            "method": self.method,
            "tau_prior": self.tau_prior.to_dict(),
            "summary": {
                k: [_json_float(float(v)) if v == v else None for v in row]
                for k, row in zip(tab.index, tab.to_numpy().tolist(), strict=True)
            },
            "columns": list(tab.columns),
            "ess_method": self.ess_method,
            "ess_prior": _json_float(self.ess_prior),
            "ess_posterior": _json_float(self.ess_posterior),
            "borrowed": _json_float(self.borrowed),
            "n_current": self.n_current,
            "historical": self.historical,
            "current": self.current,
            "provenance": self.provenance,
        }

    def _repr_html_(self) -> str:
        return (
            f"<p><b>Commensurate prior</b> ({self.family}, {self.method}), tau prior "
            f"{self.tau_prior!r}</p>"
            + self.summary().to_html(float_format=lambda v: f"{v:.6g}", na_rep="")
        )


_COLS = ["estimate", "sd", "2.5%", "50%", "97.5%"]


def _row(d: Any) -> list[float]:
    q = np.asarray(d.ppf([0.025, 0.5, 0.975]), dtype=float)
    return [d.mean(), d.sd(), float(q[0]), float(q[1]), float(q[2])]


def _one(v: float) -> list[float]:
    return [v, math.nan, math.nan, math.nan, math.nan]


# -- public function -------------------------------------------------------------------------
def commensurate_prior(
    historical: Mapping[str, Any] | pd.DataFrame,
    current: Mapping[str, Any],
    family: Family,
    tau_prior: Any,
    *,
    initial: Any = None,
    sigma: float | None = None,
    threshold: float | None = None,
    method: Literal["exact", "mcmc"] = "exact",
    ess_method: EssMethod = "elir",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    rng: Any = None,
) -> CommensurateResult:
    """Analyse current data with a commensurate prior built from historical data.

    Model (Hobbs et al. 2011): historical data ``D0 ~ p(. | theta0)`` with initial prior
    ``pi0(theta0)`` (flat by default), current data ``D ~ p(. | theta)``,
    ``theta | theta0, tau ~ N(theta0, tau^2)`` and a prior on the commensurability tau. A
    small tau pools the two data sets, a large tau ignores the historical data; the
    posterior of tau decides how much is borrowed. Several historical studies share
    theta0 (they are pooled); for between-study heterogeneity use a MAP prior.

    Parameters
    ----------
    historical : dict or DataFrame
        Binomial: ``r``, ``n`` (one entry per study). Normal: ``mean`` with ``n`` or ``se``.
    current : dict
        The current study, same keys, scalars.
    family : {"binomial", "normal"}
        Binomial responses (theta is the logit response rate) or a normal mean with known
        sampling SD ``sigma``.
    tau_prior : TauPrior
        Prior on tau: e.g. ``HalfNormal(0.5)``, ``HalfCauchy(1)``, ``LogNormal``,
        ``Uniform``, ``Fixed(0)`` (full pooling), or on the precision ``1/tau^2``:
        :class:`GammaPrecision`, :class:`SpikeSlabPrecision` (Hobbs et al. 2012). A number
        is a half-normal scale.
    initial : None, (mean, sd) or NormalMixture
        Initial prior of theta0 (flat if None; binomial: a single normal on the logit).
    sigma : float
        Normal only (required): sampling SD of one observation; sets the ESS unit.
    threshold : float, optional
        Report P(parameter > threshold), e.g. the null response rate p0.
    method : {"exact", "mcmc"}
        Deterministic quadrature (default) or PyMC NUTS as a cross-check.
    ess_method : {"elir", "moment", "morita"}
        ESS method (``"morita"`` for normal data only). The binomial ELIR is taken on the
        logit scale; it is infinite for priors whose logit-scale tails are too heavy.
    draws, tune, chains : int
        MCMC settings.
    rng : int, SeedSequence, Generator or None
        MCMC randomness (recorded in ``provenance``).

    Returns
    -------
    CommensurateResult

    References
    ----------
    .. [1] Hobbs BP, Carlin BP, Mandrekar SJ, Sargent DJ. Hierarchical commensurate and
       power prior models for adaptive incorporation of historical information in clinical
       trials. Biometrics 2011;67:1047-1056.
    .. [2] Hobbs BP, Sargent DJ, Carlin BP. Commensurate priors for incorporating historical
       information in clinical trials using general and generalized linear models. Bayesian
       Analysis 2012;7:639-674.

    Examples
    --------
    >>> from rdstats.borrowing._commensurate import commensurate_prior
    >>> from rdstats.borrowing._hyperpriors import HalfNormal
    >>> res = commensurate_prior(
    ...     {"mean": [1.2], "n": [40]}, {"mean": 0.9, "n": 20}, "normal", HalfNormal(0.5), sigma=2.0
    ... )
    >>> round(res.posterior.mean(), 4), round(res.tau.mean(), 4)
    (1.0455, 0.3462)
    >>> res = commensurate_prior(
    ...     {"r": [12], "n": [40]}, {"r": 9, "n": 20}, "binomial", HalfNormal(0.3), threshold=0.2
    ... )
    >>> round(res.posterior.mean(), 4), round(res.prob_above(0.2), 4)
    (0.3666, 0.995)
    """
    if family not in ("binomial", "normal"):
        raise ValueError(f"family must be 'binomial' or 'normal', got {family!r}")
    if method not in ("exact", "mcmc"):
        raise ValueError(f"method must be 'exact' or 'mcmc', got {method!r}")
    if ess_method not in ("elir", "moment", "morita"):
        raise ValueError(f"ess_method must be 'elir', 'moment' or 'morita', got {ess_method!r}")
    if ess_method == "morita" and family == "binomial":
        raise ValueError("ess_method='morita' is available for family='normal' only")
    tau = tau_prior if isinstance(tau_prior, TauPrior) else as_tau_prior(tau_prior, "tau_prior")
    if family == "normal":
        if sigma is None:
            raise ValueError("family='normal' needs sigma=, the sampling SD of one observation")
        sigma = float(check_positive(sigma, "sigma"))
    elif sigma is not None:
        raise ValueError(f"sigma applies to family='normal' only, got sigma={sigma!r}")
    if threshold is not None:
        threshold = float(as_float_array(threshold, "threshold"))
        if family == "binomial":
            check_probability(threshold, "threshold")
    for name, val in (("draws", draws), ("tune", tune), ("chains", chains)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise ValueError(f"{name} must be a positive integer, got {val!r}")
    init = _initial(initial, family)
    hist = _obs(historical, "historical", family, sigma, scalar=False)
    cur = _obs(current, "current", family, sigma, scalar=True)
    if init is None and family == "binomial":
        _q_lik(hist, None)  # flat prior needs 0 < r0 < n0: fail before any work

    args = {
        "family": family,
        "tau_prior": tau.to_dict(),
        "initial": None if init is None else [a.tolist() for a in init],
        "sigma": sigma,
        "threshold": threshold,
        "method": method,
        "ess_method": ess_method,
    }
    draws_out = idata = None
    seed_record = None
    if family == "normal":
        assert sigma is not None
        prior, post, tn = _normal_exact(hist, cur, init, tau, sigma)
        engine: Any = {"prior": prior, "posterior": post}
        posterior: Any = post
        posterior_logit = None
        tau_post: Any = _tau_distribution(tn)
    else:
        engine = _BinomialModel(hist, cur, init, tau)
        posterior = engine.theta_posterior("expit")
        posterior_logit = engine.theta_posterior()
        tau_post = engine.tau_posterior()
    if method == "mcmc":
        gen, seed_record = _seed(rng)
        idata, draws_out = _mcmc(
            family, hist, cur, init, tau, draws=draws, tune=tune, chains=chains, gen=gen
        )
        args.update(draws=draws, tune=tune, chains=chains)
        th = draws_out["theta"]
        posterior = SampleDistribution(
            special.expit(th) if family == "binomial" else th, _lab(family)
        )
        posterior_logit = (
            SampleDistribution(th, "logit response rate") if family == "binomial" else None
        )
        tau_post = SampleDistribution(draws_out["tau"], "tau")
    return CommensurateResult(
        family=family,
        method=method,
        posterior=posterior,
        posterior_logit=posterior_logit,
        tau=tau_post,
        tau_prior=tau,
        n_current=cur.n,
        threshold=threshold,
        ess_method=ess_method,
        historical=hist.raw,
        current=cur.raw,
        idata=idata,
        provenance=_provenance(args, seed=seed_record),
        _engine=engine,
        _draws=draws_out,
    )


def _lab(family: str) -> str:
    return "response rate" if family == "binomial" else "mean"
