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
from scipy import special

from rdstats._provenance import provenance as _provenance
from rdstats._validation import readonly
from rdstats.borrowing._borrowed import EssMethod, _json_float, ess_with_fallback, mixture_ess
from rdstats.borrowing._power_data import _check_a0, _Data, _parse
from rdstats.borrowing._quadrature import QuadratureDistribution
from rdstats.priors import BetaMixture, GammaMixture, Mixture, NormalMixture
from rdstats.priors._kernels import (
    beta_binomial_update,
    gamma_exp_update,
    gamma_poisson_update,
    normal_update,
    reweight,
)

__all__ = ["PowerPosterior", "PowerPrior", "power_prior"]

Array = NDArray[np.float64]
M = TypeVar("M", BetaMixture, NormalMixture, GammaMixture)


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
