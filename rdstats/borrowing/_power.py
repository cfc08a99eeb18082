"""Power priors: fixed a0, normalised power prior with a0 ~ Beta, empirical-Bayes a0.

For a conjugate initial prior the power prior ``L(theta | D0)^a0 pi0(theta)`` is again a
mixture of the same family: the historical sufficient statistics enter multiplied by a0
(beta: ``a + a0 r0``, ``b + a0 (n0 - r0)``; gamma: ``shape + a0 events``, ``rate + a0
exposure``; normal: a Gaussian kernel with variance ``se0^2 / a0``) and each component's
weight is multiplied by its normalising constant ``C_k(a0) = int L^a0 f_k``. The normalised
power prior ``pi(theta, a0) = L^a0 pi0 pi(a0) / C(a0)`` is, given a0, this power prior with
a0 distributed as its prior, so it is an (a0-continuous) mixture of them; integrating a0
with an adaptive Gauss-Legendre rule on a sigmoidally graded axis turns prior and posterior
into finite mixtures (many components) of the same family, accurate to about 1e-10 also
when the a0 posterior piles up at 0 or 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

from rdstats._provenance import provenance as _provenance
from rdstats._validation import as_float_array, as_int_array, check_positive, readonly
from rdstats.borrowing._borrowed import (
    EssMethod,
    QuadratureDistribution,
    Rule,
    _json_float,
    adaptive_rule,
    ess_with_fallback,
    mixture_ess,
)
from rdstats.priors import BetaMixture, GammaMixture, Mixture, NormalMixture
from rdstats.priors._beta import check_counts
from rdstats.priors._kernels import (
    beta_binomial_update,
    gamma_exp_update,
    gamma_poisson_update,
    normal_update,
    reweight,
)

__all__ = [
    "NormalizedPowerPrior",
    "PowerPosterior",
    "PowerPrior",
    "eb_power_prior",
    "normalized_power_prior",
    "power_prior",
]

Array = NDArray[np.float64]
M = TypeVar("M", BetaMixture, NormalMixture, GammaMixture)
_LOG_2PI = math.log(2 * math.pi)


# -- data ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Data:
    """Sufficient statistics of one or more studies, per unit of a0.

    ``s1``/``s2`` are what each study adds to the component parameters at a0 = 1 (beta:
    responders and non-responders; gamma: shape and rate increments; normal: precision
    ``1/se^2`` and precision-weighted mean ``mean/se^2``). ``n`` is each study's size in
    ESS units and ``const`` the part of the log likelihood free of the parameter.
    """

    s1: Array
    s2: Array
    n: Array
    raw: dict[str, list[float]]
    const: float = 0.0


def _fetch(data: Any, key: str, aliases: tuple[str, ...] = ()) -> Any:
    for k in (key, *aliases):
        if k in data:
            return data[k]
    return None


def _parse(initial: Mixture, data: Any, name: str, *, scalar: bool = False) -> _Data:
    """Validate the data of ``name`` (historical or current) for ``initial``'s family."""
    if not isinstance(initial, (BetaMixture, NormalMixture, GammaMixture)):
        raise TypeError(
            "initial must be a BetaMixture, NormalMixture or GammaMixture, "
            f"got {type(initial).__name__}"
        )
    if not (isinstance(data, Mapping) or isinstance(data, pd.DataFrame)):
        raise TypeError(
            f"{name} must be a mapping (dict or DataFrame) of the data, e.g. "
            f"{_example(initial)}; got {type(data).__name__}"
        )
    keys = set(data.keys())
    allowed = _allowed_keys(initial)
    extra = keys - allowed
    if extra:
        raise ValueError(
            f"{name} has unknown entries {sorted(extra)}; expected e.g. {_example(initial)}"
        )

    def arr(value: Any) -> Any:
        a = np.asarray(value)
        if scalar and a.ndim:
            raise TypeError(f"{name} must hold scalars (one current study), got {value!r}")
        if a.ndim > 1:
            raise ValueError(f"{name} entries must be scalars or 1-D, got shape {a.shape}")
        return np.atleast_1d(a)

    if isinstance(initial, BetaMixture):
        r_raw, n_raw = _fetch(data, "r"), _fetch(data, "n")
        if r_raw is None or n_raw is None:
            raise ValueError(f"{name} needs 'r' and 'n' (responders out of patients)")
        r, n = check_counts(arr(r_raw), arr(n_raw))
        r, n = np.broadcast_arrays(r, n)
        if (n < 1).any():
            raise ValueError(f"{name}: n must be >= 1, got {np.asarray(n_raw).tolist()}")
        const = float(
            np.sum(special.gammaln(n + 1) - special.gammaln(r + 1) - special.gammaln(n - r + 1))
        )
        return _Data(
            r.astype(float),
            (n - r).astype(float),
            n.astype(float),
            {"r": r.tolist(), "n": n.tolist()},
            const,
        )
    if isinstance(initial, NormalMixture):
        if initial.sigma is None:
            raise ValueError(
                "a normal initial prior needs the sampling standard deviation: construct the "
                "NormalMixture with sigma= (it also defines the ESS in patients)"
            )
        m_raw = _fetch(data, "mean")
        se_raw, n_raw = _fetch(data, "se"), _fetch(data, "n")
        if m_raw is None or (se_raw is None) == (n_raw is None):
            raise ValueError(f"{name} needs 'mean' and exactly one of 'se' or 'n'")
        mean = as_float_array(arr(m_raw), f"{name} mean")
        if se_raw is not None:
            se = check_positive(arr(se_raw), f"{name} se")
            size = (initial.sigma / se) ** 2
        else:
            size = as_int_array(arr(n_raw), f"{name} n", minimum=1).astype(float)
            se = initial.sigma / np.sqrt(size)
        mean, se, size = np.broadcast_arrays(mean, se, size)
        raw = {"mean": mean.tolist(), "se": se.tolist()}
        const = -0.5 * _LOG_2PI * se.size
        return _Data(1 / se**2, mean / se**2, size.astype(float), raw, const)
    # gamma
    total_raw = _fetch(data, "total", ("events",) if initial.likelihood == "poisson" else ("time",))
    n_raw = _fetch(data, "n", ("exposure",) if initial.likelihood == "poisson" else ("events",))
    if initial.likelihood == "exp" and "events" in keys and "n" not in keys:
        n_raw = data["events"]
    if total_raw is None or n_raw is None:
        raise ValueError(f"{name} needs 'total' and 'n' ({_example(initial)})")
    if initial.likelihood == "poisson":
        t = as_int_array(arr(total_raw), f"{name} total").astype(float)
        e = check_positive(arr(n_raw), f"{name} n")
        t, e = np.broadcast_arrays(t, e)
        const = float(np.sum(t * np.log(e) - special.gammaln(t + 1)))
        return _Data(t, e, e, {"total": t.tolist(), "n": e.tolist()}, const)
    tt = check_positive(arr(total_raw), f"{name} total")
    d = as_int_array(arr(n_raw), f"{name} n", minimum=1).astype(float)
    tt, d = np.broadcast_arrays(tt, d)
    const = float(np.sum((d - 1) * np.log(tt) - special.gammaln(d)))
    return _Data(d, tt, d, {"total": tt.tolist(), "n": d.tolist()}, const)


def _allowed_keys(initial: Mixture) -> set[str]:
    if isinstance(initial, BetaMixture):
        return {"r", "n"}
    if isinstance(initial, NormalMixture):
        return {"mean", "se", "n"}
    if getattr(initial, "likelihood", "") == "poisson":
        return {"total", "n", "events", "exposure"}
    return {"total", "n", "time", "events"}


def _example(initial: Mixture) -> str:
    if isinstance(initial, BetaMixture):
        return "{'r': [12, 9], 'n': [40, 35]}"
    if isinstance(initial, NormalMixture):
        return "{'mean': [-0.5], 'n': [30]} or {'mean': [-0.5], 'se': [0.2]}"
    if getattr(initial, "likelihood", "") == "poisson":
        return "{'total': [14], 'n': [20.5]} (events, exposure)"
    return "{'total': [52.3], 'n': [9]} (total time, events)"


def _check_a0(a0: ArrayLike, h: int) -> Array:
    a = as_float_array(a0, "a0")
    if a.ndim > 1 or (a.ndim == 1 and a.size not in (1, h)):
        raise ValueError(f"a0 must be a scalar or one value per historical study ({h}), got {a0!r}")
    if ((a < 0) | (a > 1)).any():
        raise ValueError(f"a0 must be in [0, 1], got {a.tolist()}")
    return np.broadcast_to(a, (h,)).astype(float)


# -- conjugate algebra, vectorised over rows of a0 values -------------------------------
def _components(initial: Mixture, hist: _Data, c: Array) -> tuple[Array, tuple[Array, Array]]:
    """Power-prior mixtures for the rows of ``c`` (N, H) of per-study a0 values:
    weights (N, K) and the two parameter arrays (N, K)."""
    p1, p2 = initial._params()
    w0 = np.broadcast_to(initial.weights, (c.shape[0], initial.n_components))
    x1, x2 = c @ hist.s1, c @ hist.s2
    if isinstance(initial, NormalMixture):
        # Gaussian kernel with precision P = x1 and mean x2 / x1, written in P so that
        # P -> 0 (a0 -> 0) is exact; the log normalisers drop terms common to all components
        big_p = x1[:, None]
        ybar = np.divide(x2, x1, out=np.zeros_like(x2), where=x1 > 0)[:, None]
        v = p2**2
        prec = 1 / v + big_p
        m = (p1 / v + big_p * ybar) / prec
        lml = -0.5 * np.log1p(big_p * v) - big_p * (ybar - p1) ** 2 / (2 * (1 + big_p * v))
        return reweight(w0, lml), (m, 1 / np.sqrt(prec))
    if isinstance(initial, BetaMixture):
        a, b, lml = beta_binomial_update(p1, p2, x1, x1 + x2)
        return reweight(w0, lml), (a, b)
    shape, rate, lml = gamma_poisson_update(p1, p2, x1, x2)
    return reweight(w0, lml), (shape, rate)


def _update(
    initial: Mixture, w: Array, p1: Array, p2: Array, cur: _Data
) -> tuple[Array, Array, Array, Array]:
    """Conjugate update of the row mixtures with the current data: posterior weights and
    parameters, and the full log marginal likelihood of every row (N,)."""
    if isinstance(initial, NormalMixture):
        y, se = float(cur.s2[0] / cur.s1[0]), float(1 / np.sqrt(cur.s1[0]))
        q1, q2, lml = normal_update(p1, p2, np.asarray(y), np.asarray(se))
    elif isinstance(initial, BetaMixture):
        q1, q2, lml = beta_binomial_update(p1, p2, cur.s1[0], cur.s1[0] + cur.s2[0])
    elif initial.likelihood == "poisson":  # type: ignore[attr-defined]
        q1, q2, lml = gamma_poisson_update(p1, p2, cur.s1[0], cur.s2[0])
    else:
        q1, q2, lml = gamma_exp_update(p1, p2, cur.s2[0], cur.s1[0])
    with np.errstate(divide="ignore"):
        logm = special.logsumexp(np.log(w) + lml, axis=-1) + cur.const
    return reweight(w, lml), q1, q2, np.asarray(logm)


def _mixture(initial: M, w: Array, p1: Array, p2: Array) -> M:
    """One mixture from weights/parameters of any shape; negligible components dropped."""
    w, p1, p2 = w.ravel(), p1.ravel(), p2.ravel()
    keep = w > 1e-15 * w.max()
    return initial._with(w[keep] / w[keep].sum(), p1[keep], p2[keep])


def _logpdf_rows(initial: Mixture, w: Array, p1: Array, p2: Array, x: Array) -> Array:
    """log density of each row mixture (N,) at every point of x (L,): (N, L)."""
    comp = initial._dist(p1[:, None, :], p2[:, None, :]).logpdf(x[None, :, None])
    with np.errstate(divide="ignore"):
        return np.asarray(special.logsumexp(np.log(w)[:, None, :] + comp, axis=-1))


# -- results ------------------------------------------------------------------------------
_ROWS = ["estimate", "sd", "2.5%", "50%", "97.5%"]


def _dist_row(d: Any) -> list[float]:
    q = np.asarray(d.ppf([0.025, 0.5, 0.975]), dtype=float)
    return [d.mean(), d.sd(), float(q[0]), float(q[1]), float(q[2])]


def _scalar_row(v: float) -> list[float]:
    return [v, math.nan, math.nan, math.nan, math.nan]


def _initial_ess(initial: Mixture, method: str) -> float:
    """ESS of the initial prior for summaries (moment ESS where the ELIR does not exist)."""
    try:
        return mixture_ess(initial, method)  # type: ignore[arg-type]
    except ValueError:
        return mixture_ess(initial, "moment")


def _param_label(initial: Mixture) -> str:
    if isinstance(initial, BetaMixture):
        return "response rate"
    if isinstance(initial, NormalMixture):
        return "mean"
    return "rate"


@dataclass(frozen=True, eq=False)
class PowerPosterior(Generic[M]):
    """Posterior under a power prior (fixed, normalised or empirical-Bayes a0).

    Attributes
    ----------
    method : {"fixed", "normalized", "empirical_bayes"}
    prior, posterior : Mixture
        The power prior used and the posterior after the current data (same family as
        the initial prior), usable with everything in :mod:`rdstats.priors`.
    a0 : numpy.ndarray
        Fixed a0 per historical study, the empirical-Bayes estimate, or (normalised power
        prior) the posterior mean of a0.
    a0_posterior : QuadratureDistribution or None
        Normalised power prior only: the posterior of a0 (``mean()``, ``ppf``, ``sf``...).
    ess_prior, ess_posterior : float
        Effective sample sizes of prior and posterior.
    n_current : float
        Current patients (exposure for Poisson data; ``(sigma/se)^2`` for a normal estimate).
    log_marginal : float
        Log marginal likelihood of the current data's sufficient statistic under the prior.
    """

    method: str
    prior: M
    posterior: M
    a0: NDArray[np.float64]
    a0_posterior: QuadratureDistribution | None
    ess_prior: float
    ess_posterior: float
    ess_method: str
    n_current: float
    log_marginal: float
    current: dict[str, Any]
    provenance: dict[str, Any] = field(repr=False)

    @property
    def borrowed(self) -> float:
        """Effective number of borrowed patients, ``ess_posterior - n_current``."""
        return self.ess_posterior - self.n_current

    def prob_above(self, x: float) -> float:
        """Posterior probability that the parameter exceeds ``x``."""
        return float(self.posterior.sf(x))

    def summary(self) -> pd.DataFrame:
        """Posterior of the parameter (and of a0), ESS and borrowed patients.

        ``estimate`` is the posterior mean for distributions and the value otherwise.
        """
        rows = {f"{_param_label(self.prior)} (posterior)": _dist_row(self.posterior)}
        if self.a0_posterior is not None:
            rows["a0 (posterior)"] = _dist_row(self.a0_posterior)
        else:
            for i, v in enumerate(np.atleast_1d(self.a0)):
                rows[f"a0[{i}]" if np.size(self.a0) > 1 else "a0"] = _scalar_row(float(v))
        rows["prior ESS"] = _scalar_row(self.ess_prior)
        rows["posterior ESS"] = _scalar_row(self.ess_posterior)
        rows["n current"] = _scalar_row(self.n_current)
        rows["effective borrowed"] = _scalar_row(self.borrowed)
        return pd.DataFrame.from_dict(rows, orient="index", columns=_ROWS)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {
            "method": self.method,
            "prior": self.prior.to_dict(),
            "posterior": self.posterior.to_dict(),
            "a0": np.atleast_1d(self.a0).tolist(),
            "a0_posterior": None if self.a0_posterior is None else self.a0_posterior.to_dict(),
            "ess_prior": _json_float(self.ess_prior),
            "ess_posterior": _json_float(self.ess_posterior),
            "ess_method": self.ess_method,
            "n_current": self.n_current,
            "borrowed": _json_float(self.borrowed),
            "log_marginal": self.log_marginal,
            "current": self.current,
            "provenance": self.provenance,
        }

    def _repr_html_(self) -> str:
        title = {
            "fixed": "fixed a0",
            "normalized": "normalised",
            "empirical_bayes": "empirical-Bayes a0",
        }
        return (
            f"<p><b>Power prior posterior</b> ({title.get(self.method, self.method)})</p>"
            + self.summary().to_html(float_format=lambda v: f"{v:.6g}", na_rep="")
        )

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Plot the posterior density (see :meth:`rdstats.priors.Mixture.plot`)."""
        return self.posterior.plot(ax=ax, **kwargs)


@dataclass(frozen=True, eq=False)
class PowerPrior(Generic[M]):
    """Power prior with fixed a0 (see :func:`power_prior`).

    Attributes
    ----------
    prior : Mixture
        The power prior, a mixture of the initial prior's family.
    initial : Mixture
        The initial prior pi0.
    historical : dict
        The historical data (validated; normal data as mean and se).
    a0 : numpy.ndarray
        a0 of every historical study.
    n0 : numpy.ndarray
        Size of every historical study (patients; exposure or events for gamma).
    ess : float
        Prior effective sample size (about ``sum(a0 * n0)`` plus the initial prior's).
    """

    prior: M
    initial: M
    historical: dict[str, list[float]]
    a0: NDArray[np.float64]
    n0: NDArray[np.float64]
    ess: float
    ess_method: str
    provenance: dict[str, Any] = field(repr=False)

    def posterior(self, **current: Any) -> PowerPosterior[M]:
        """Posterior after the current data, given with the keywords of the initial
        prior's ``posterior`` (``r=, n=``; ``mean=, n=`` or ``se=``; ``total=, n=``)."""
        cur = _parse(self.initial, current, "current data", scalar=True)
        p1, p2 = self.prior._params()
        w, q1, q2, logm = _update(self.initial, self.prior.weights[None], p1[None], p2[None], cur)
        post = self.initial._with(w[0], q1[0], q2[0])
        return PowerPosterior(
            method="fixed",
            prior=self.prior,
            posterior=post,
            a0=self.a0,
            a0_posterior=None,
            ess_prior=self.ess,
            ess_posterior=mixture_ess(post, self.ess_method),  # type: ignore[arg-type]
            ess_method=self.ess_method,
            n_current=float(cur.n[0]),
            log_marginal=float(logm[0]),
            current=cur.raw,
            provenance=_provenance({"a0": self.a0.tolist(), "current": cur.raw}),
        )

    def summary(self) -> pd.DataFrame:
        """The initial and the power prior: mean, sd, quantiles and ESS."""
        rows = {
            "initial prior": [
                *_dist_row(self.initial),
                _initial_ess(self.initial, self.ess_method),
            ],
            "power prior": [*_dist_row(self.prior), self.ess],
        }
        return pd.DataFrame.from_dict(rows, orient="index", columns=[*_ROWS, "ESS"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {
            "prior": self.prior.to_dict(),
            "initial": self.initial.to_dict(),
            "historical": self.historical,
            "a0": self.a0.tolist(),
            "n0": self.n0.tolist(),
            "ess": _json_float(self.ess),
            "ess_method": self.ess_method,
            "provenance": self.provenance,
        }

    def _repr_html_(self) -> str:
        return f"<p><b>Power prior</b>, a0 = {self.a0.tolist()}</p>" + self.summary().to_html(
            float_format=lambda v: f"{v:.6g}"
        )

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Plot the prior density (see :meth:`rdstats.priors.Mixture.plot`)."""
        return self.prior.plot(ax=ax, **kwargs)


def power_prior(
    initial: M,
    historical: Mapping[str, Any] | pd.DataFrame,
    a0: ArrayLike,
    *,
    ess_method: EssMethod = "elir",
) -> PowerPrior[M]:
    """Power prior with fixed discounting ``a0`` (Ibrahim & Chen 2000).

    ``pi(theta | D0, a0) ∝ prod_h L(theta | D0h)^a0h pi0(theta)``, computed in closed form
    for conjugate initial priors; a mixture initial prior gives a mixture whose weights are
    re-weighted by each component's normalising constant of ``L^a0``.

    Parameters
    ----------
    initial : BetaMixture, NormalMixture or GammaMixture
        Initial prior pi0 (a normal mixture needs ``sigma``, the sampling SD).
    historical : dict or DataFrame
        Historical data, one entry per study, named as in the initial prior's
        ``posterior``: binomial ``r``, ``n``; normal ``mean`` with ``n`` or ``se``; Poisson
        ``total`` (events) and ``n`` (exposure); exponential ``total`` (time) and ``n``
        (events).
    a0 : float or array_like
        Discounting in [0, 1], one value or one per study (0: ignore, 1: pool).
    ess_method : {"elir", "moment", "morita"}
        How the prior ESS is computed.

    Returns
    -------
    PowerPrior
        With ``prior`` (a mixture), ``ess`` and ``posterior(**current)``.

    References
    ----------
    .. [1] Ibrahim JG, Chen M-H. Power prior distributions for regression models.
       Statistical Science 2000;15:46-60.
    .. [2] Ibrahim JG, Chen M-H, Gwon Y, Chen F. The power prior: theory and applications.
       Statistics in Medicine 2015;34:3724-3749.

    Examples
    --------
    >>> from rdstats.priors import BetaMixture
    >>> from rdstats.borrowing._power import power_prior
    >>> pp = power_prior(BetaMixture(1.0, 1, 1), {"r": [12], "n": [40]}, a0=0.5)
    >>> pp.prior.a, pp.prior.b, round(pp.ess, 6)
    (array([7.]), array([15.]), 22.0)
    >>> post = pp.posterior(r=9, n=20)
    >>> round(post.posterior.mean(), 4), round(post.borrowed, 4)
    (0.381, 22.0)
    """
    hist = _parse(initial, historical, "historical")
    a = _check_a0(a0, hist.s1.size)
    w, (p1, p2) = _components(initial, hist, a[None, :])
    prior = initial._with(w[0], p1[0], p2[0])
    ess_val, ess_used = ess_with_fallback(prior, ess_method)
    return PowerPrior(
        prior=prior,
        initial=initial,
        historical=hist.raw,
        a0=readonly(a.copy()),
        n0=readonly(hist.n.copy()),
        ess=ess_val,
        ess_method=ess_used,
        provenance=_provenance({"a0": a.tolist(), "historical": hist.raw, "ess_method": ess_used}),
    )


# -- normalised power prior ------------------------------------------------------------
def _check_a0_prior(a0_prior: Any) -> tuple[float, float]:
    if isinstance(a0_prior, (str, bytes)) or np.ndim(a0_prior) != 1 or len(a0_prior) != 2:
        raise TypeError(f"a0_prior must be a pair (alpha, beta) of a Beta prior, got {a0_prior!r}")
    al, be = (float(v) for v in check_positive(a0_prior, "a0_prior"))
    return al, be


def _grading(alpha: float, beta: float) -> float:
    """Power of the sigmoidal a0 axis: enough to smooth Beta(alpha, beta) at both ends."""
    return float(max(3.0, math.ceil(4.0 / min(alpha, beta))))


class _A0Axis:
    """a0 = u^m / (u^m + (1 - u)^m) with the log Beta(alpha, beta) prior density in u."""

    def __init__(self, alpha: float, beta: float) -> None:
        self.alpha, self.beta, self.m = alpha, beta, _grading(alpha, beta)

    def a0(self, u: Array) -> Array:
        um, vm = u**self.m, (1 - u) ** self.m
        return np.asarray(um / (um + vm))

    def logprior(self, u: Array) -> Array:
        """log pi(a0(u)) + log da0/du, computed without cancellation near 0 and 1."""
        m = self.m
        lu, lv = np.log(u), np.log1p(-u)
        lden = np.logaddexp(m * lu, m * lv)
        la0, l1a0 = m * lu - lden, m * lv - lden
        ljac = math.log(m) + (m - 1) * (lu + lv) - 2 * lden
        lbeta = (
            (self.alpha - 1) * la0 + (self.beta - 1) * l1a0 - special.betaln(self.alpha, self.beta)
        )
        return np.asarray(lbeta + ljac)


def _probe_points(initial: Mixture, mixtures: list[Mixture]) -> Array:
    """Parameter values at which the a0-mixture is required to be resolved."""
    pts = [np.asarray(mx.ppf([0.001, 0.02, 0.16, 0.5, 0.84, 0.98, 0.999])) for mx in mixtures]
    return np.unique(np.concatenate(pts))


def _a0_rule(
    initial: Mixture, hist: _Data, axis: _A0Axis, probes: Array, cur: _Data | None
) -> tuple[Rule, Array, tuple[Array, Array], Array]:
    """Adaptive rule in u for the prior (cur None) or the posterior of (theta, a0)."""
    h = hist.s1.size

    def rows(u: Array) -> tuple[Array, tuple[Array, Array], Array]:
        a0 = axis.a0(u)
        w, (p1, p2) = _components(initial, hist, np.repeat(a0[:, None], h, axis=1))
        if cur is None:
            return w, (p1, p2), np.zeros(u.size)
        w2, q1, q2, logm = _update(initial, w, p1, p2, cur)
        return w2, (q1, q2), logm

    def logf(u: Array) -> Array:
        w, (p1, p2), logm = rows(u)
        base = axis.logprior(u) + logm
        dens = _logpdf_rows(initial, w, p1, p2, probes)
        return np.column_stack([base, base[:, None] + dens])

    rule = adaptive_rule(logf, np.linspace(0.0, 1.0, 5), order=16, rtol=1e-10)
    u = rule.nodes.ravel()
    w, params, logm = rows(u)
    return rule, w, params, logm


def _npp_mixture(
    initial: M, rule: Rule, w: Array, params: tuple[Array, Array], logm: Array, axis: _A0Axis
) -> tuple[M, QuadratureDistribution, float]:
    """The mixture over a0 nodes, the a0 distribution and log of the a0 integral."""
    u = rule.nodes.ravel()
    lognode = np.log(rule.weights.ravel()) + axis.logprior(u) + logm
    total = special.logsumexp(lognode)
    node_w = np.exp(lognode - total)
    mix = _mixture(initial, node_w[:, None] * w, params[0], params[1])
    a0_rule = Rule(rule.edges, rule.nodes, rule.weights, rule.logvals[..., :1])
    a0_dist = QuadratureDistribution(a0_rule, kind="sigmoid", s=axis.m, name="a0")
    return mix, a0_dist, float(total)


@dataclass(frozen=True, eq=False)
class NormalizedPowerPrior(Generic[M]):
    """Normalised power prior with a0 ~ Beta(alpha, beta) (see :func:`normalized_power_prior`).

    Attributes
    ----------
    prior : Mixture
        Marginal prior of theta: a mixture over a0 nodes of the fixed-a0 power priors.
    a0 : QuadratureDistribution
        The a0 prior on its quadrature nodes (the Beta prior).
    ess : float
        Prior effective sample size.
    """

    prior: M
    initial: M
    historical: dict[str, list[float]]
    a0_prior: tuple[float, float]
    a0: QuadratureDistribution
    n0: NDArray[np.float64]
    ess: float
    ess_method: str
    _hist: _Data = field(repr=False)
    provenance: dict[str, Any] = field(repr=False)

    def posterior(self, **current: Any) -> PowerPosterior[M]:
        """Joint posterior of (theta, a0) after the current data (keywords as for the
        initial prior's ``posterior``); the a0 rule is re-adapted to the posterior."""
        cur = _parse(self.initial, current, "current data", scalar=True)
        axis = _A0Axis(*self.a0_prior)
        full = _full_pooling(self.initial, self._hist)
        probes = _probe_points(self.initial, [_post(self.initial, cur), _post(full, cur)])
        rule, w, params, logm = _a0_rule(self.initial, self._hist, axis, probes, cur)
        post, a0_post, log_int = _npp_mixture(self.initial, rule, w, params, logm, axis)
        return PowerPosterior(
            method="normalized",
            prior=self.prior,
            posterior=post,
            a0=readonly(np.asarray([a0_post.mean()])),
            a0_posterior=a0_post,
            ess_prior=self.ess,
            ess_posterior=mixture_ess(post, self.ess_method),  # type: ignore[arg-type]
            ess_method=self.ess_method,
            n_current=float(cur.n[0]),
            log_marginal=log_int,
            current=cur.raw,
            provenance=_provenance({"a0_prior": list(self.a0_prior), "current": cur.raw}),
        )

    def summary(self) -> pd.DataFrame:
        """The initial prior, the normalised power prior and the a0 prior."""
        rows = {
            "initial prior": [
                *_dist_row(self.initial),
                _initial_ess(self.initial, self.ess_method),
            ],
            "normalised power prior": [*_dist_row(self.prior), self.ess],
            "a0 (prior)": [*_dist_row(self.a0), math.nan],
        }
        return pd.DataFrame.from_dict(rows, orient="index", columns=[*_ROWS, "ESS"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {
            "prior": self.prior.to_dict(),
            "initial": self.initial.to_dict(),
            "historical": self.historical,
            "a0_prior": list(self.a0_prior),
            "ess": _json_float(self.ess),
            "ess_method": self.ess_method,
            "provenance": self.provenance,
        }

    def _repr_html_(self) -> str:
        return (
            f"<p><b>Normalised power prior</b>, a0 ~ Beta{self.a0_prior}</p>"
            + self.summary().to_html(float_format=lambda v: f"{v:.6g}", na_rep="")
        )

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Plot the prior density (see :meth:`rdstats.priors.Mixture.plot`)."""
        return self.prior.plot(ax=ax, **kwargs)


def _as_kwargs(initial: Mixture, cur: _Data) -> dict[str, Any]:
    if isinstance(initial, BetaMixture):
        return {"r": int(cur.s1[0]), "n": int(cur.s1[0] + cur.s2[0])}
    if isinstance(initial, NormalMixture):
        return {"mean": float(cur.s2[0] / cur.s1[0]), "se": float(1 / math.sqrt(cur.s1[0]))}
    if initial.likelihood == "poisson":  # type: ignore[attr-defined]
        return {"total": int(cur.s1[0]), "n": float(cur.s2[0])}
    return {"total": float(cur.s2[0]), "n": int(cur.s1[0])}


def _post(prior: Mixture, cur: _Data) -> Mixture:
    post: Mixture = prior.posterior(**_as_kwargs(prior, cur))  # type: ignore[attr-defined]
    return post


def _full_pooling(initial: M, hist: _Data) -> M:
    """The power prior at a0 = 1 (all historical data pooled)."""
    w, (p1, p2) = _components(initial, hist, np.ones((1, hist.s1.size)))
    return initial._with(w[0], p1[0], p2[0])


def normalized_power_prior(
    initial: M,
    historical: Mapping[str, Any] | pd.DataFrame,
    a0_prior: tuple[float, float] = (1.0, 1.0),
    *,
    ess_method: EssMethod = "elir",
) -> NormalizedPowerPrior[M]:
    """Normalised power prior with a0 ~ Beta(alpha, beta) (Duan, Ye & Smith 2006).

    ``pi(theta, a0 | D0) = L(theta | D0)^a0 pi0(theta) pi(a0) / C(a0)`` with
    ``C(a0) = int L^a0 pi0``, so that a0 keeps its prior as marginal and the prior of theta
    given a0 is the fixed-a0 power prior (Neuenschwander, Branson & Spiegelhalter 2009 on
    why the normalisation matters). One a0 is shared by all historical studies.

    a0 is integrated out with an adaptive Gauss-Legendre rule on the axis
    ``a0 = u^m / (u^m + (1-u)^m)``, which grades the nodes geometrically towards 0 and 1
    (boundary layers of the a0 posterior, singular Beta priors); the rule is refined until
    the a0 density and the mixture's density at probe points are resolved to 1e-10.

    Parameters
    ----------
    initial : BetaMixture, NormalMixture or GammaMixture
        Initial prior pi0.
    historical : dict or DataFrame
        Historical data (as for :func:`power_prior`).
    a0_prior : (float, float)
        Parameters (alpha, beta) of the Beta prior of a0; default uniform.
    ess_method : {"elir", "moment", "morita"}
        How the ESS is computed.

    Returns
    -------
    NormalizedPowerPrior
        ``prior`` is a mixture of the initial family (one component per a0 node and initial
        component); ``posterior(**current)`` also gives the posterior of a0.

    References
    ----------
    .. [1] Duan Y, Ye K, Smith EP. Evaluating water quality using power priors to
       incorporate historical information. Environmetrics 2006;17:95-106.
    .. [2] Neuenschwander B, Branson M, Spiegelhalter DJ. A note on the power prior.
       Statistics in Medicine 2009;28:3562-3566.

    Examples
    --------
    >>> from rdstats.priors import BetaMixture
    >>> from rdstats.borrowing._power import normalized_power_prior
    >>> npp = normalized_power_prior(BetaMixture(1.0, 1, 1), {"r": [12], "n": [40]})
    >>> round(npp.prior.mean(), 6)
    0.330445
    >>> post = npp.posterior(r=9, n=20)
    >>> round(post.a0_posterior.mean(), 4), round(post.posterior.mean(), 4)
    (0.5082, 0.3869)
    """
    hist = _parse(initial, historical, "historical")
    al, be = _check_a0_prior(a0_prior)
    axis = _A0Axis(al, be)
    probes = _probe_points(initial, [initial, _full_pooling(initial, hist)])
    rule, w, params, logm = _a0_rule(initial, hist, axis, probes, None)
    prior, a0_dist, _ = _npp_mixture(initial, rule, w, params, logm, axis)
    ess_val, ess_used = ess_with_fallback(prior, ess_method)
    return NormalizedPowerPrior(
        prior=prior,
        initial=initial,
        historical=hist.raw,
        a0_prior=(al, be),
        a0=a0_dist,
        n0=readonly(hist.n.copy()),
        ess=ess_val,
        ess_method=ess_used,
        _hist=hist,
        provenance=_provenance({"a0_prior": [al, be], "historical": hist.raw}),
    )


# -- empirical Bayes -------------------------------------------------------------------------
def eb_power_prior(
    initial: M,
    historical: Mapping[str, Any] | pd.DataFrame,
    current: Mapping[str, Any],
    *,
    ess_method: EssMethod = "elir",
) -> PowerPosterior[M]:
    """Power prior with a0 estimated by empirical Bayes (Gravestock & Held 2017).

    a0 maximises the marginal likelihood of the current data under the (normalised)
    fixed-a0 power prior, ``m(D | a0) = int L(theta | D) pi(theta | D0, a0) dtheta``, which
    is closed-form (beta-binomial, normal, negative binomial); the maximum over [0, 1] is
    found on a grid graded towards 0 and 1 and refined by bounded Brent. The estimate is
    often 0 or 1. One a0 is shared by all historical studies.

    Parameters
    ----------
    initial : BetaMixture, NormalMixture or GammaMixture
        Initial prior.
    historical : dict or DataFrame
        Historical data (as for :func:`power_prior`).
    current : dict
        Current data, e.g. ``{"r": 9, "n": 20}``.
    ess_method : {"elir", "moment", "morita"}
        How the ESS is computed.

    Returns
    -------
    PowerPosterior
        With ``a0`` the estimate and the posterior at that a0.

    References
    ----------
    .. [1] Gravestock I, Held L. Adaptive power priors with empirical Bayes for clinical
       trials. Pharmaceutical Statistics 2017;16:349-360.

    Examples
    --------
    >>> from rdstats.priors import BetaMixture
    >>> from rdstats.borrowing._power import eb_power_prior
    >>> res = eb_power_prior(BetaMixture(1.0, 1, 1), {"r": [12], "n": [40]}, {"r": 9, "n": 20})
    >>> round(float(res.a0[0]), 4)
    0.3605
    >>> res = eb_power_prior(BetaMixture(1.0, 1, 1), {"r": [12], "n": [40]}, {"r": 15, "n": 20})
    >>> round(float(res.a0[0]), 4)
    0.0
    """
    hist = _parse(initial, historical, "historical")
    cur = _parse(initial, current, "current", scalar=True)
    h = hist.s1.size

    def logm(a0: Array) -> Array:
        a = np.asarray(a0, dtype=float).reshape(-1)
        w, (p1, p2) = _components(initial, hist, np.repeat(a[:, None], h, axis=1))
        return _update(initial, w, p1, p2, cur)[3]

    axis = _A0Axis(3.0, 3.0)
    grid = np.concatenate([[0.0], axis.a0(np.linspace(0, 1, 401)[1:-1]), [1.0]])
    vals = logm(grid)
    i = int(np.argmax(vals))
    best_a0, best = float(grid[i]), float(vals[i])
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    if hi > lo:
        res = optimize.minimize_scalar(
            lambda t: -float(logm(np.array([t]))[0]),
            bounds=(lo, hi),
            method="bounded",
            options={"xatol": 1e-10},
        )
        if -res.fun > best:
            best_a0, best = float(res.x), float(-res.fun)
    pp = power_prior(initial, historical, best_a0, ess_method=ess_method)
    out = pp.posterior(**{k: v for k, v in current.items()})
    return PowerPosterior(
        method="empirical_bayes",
        prior=out.prior,
        posterior=out.posterior,
        a0=readonly(np.asarray([best_a0])),
        a0_posterior=None,
        ess_prior=out.ess_prior,
        ess_posterior=out.ess_posterior,
        ess_method=out.ess_method,
        n_current=out.n_current,
        log_marginal=out.log_marginal,
        current=out.current,
        provenance=_provenance({"historical": hist.raw, "current": cur.raw, "a0_hat": best_a0}),
    )
