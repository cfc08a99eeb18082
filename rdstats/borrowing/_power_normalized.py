"""Power priors with a random a0: the normalised power prior with a0 ~ Beta (a0
integrated out by adaptive quadrature) and the empirical-Bayes estimate of a0."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import optimize, special

from rdstats._provenance import provenance as _provenance
from rdstats._validation import check_positive, readonly
from rdstats.borrowing._borrowed import EssMethod, _json_float, ess_with_fallback, mixture_ess
from rdstats.borrowing._power import (
    _ROWS,
    M,
    PowerPosterior,
    _components,
    _dist_row,
    _initial_ess,
    _logpdf_rows,
    _mixture,
    _update,
    power_prior,
)
from rdstats.borrowing._power_data import _Data, _parse
from rdstats.borrowing._quadrature import QuadratureDistribution, Rule, adaptive_rule
from rdstats.priors import BetaMixture, Mixture, NormalMixture

__all__ = ["NormalizedPowerPrior", "eb_power_prior", "normalized_power_prior"]

Array = NDArray[np.float64]


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
    >>> from rdstats.borrowing._power_normalized import normalized_power_prior
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
    >>> from rdstats.borrowing._power_normalized import eb_power_prior
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
