"""The expected local-information ratio (ELIR) of a conjugate mixture by its exact
decomposition

    ELIR = sum_k w_k E_k[-h_k(x) / i_F(x)] - E_p[ Var_r(g(x)) / i_F(x) ]

(``g_k``, ``h_k`` the first and second derivatives of ``log f_k``; ``r_k(x)`` the
responsibilities; ``i_F`` the Fisher information of one observation). The first term is
closed form per component (``_closed_part``); the second, non-negative term is the spread
of the components' scores, a smooth integral taken by adaptive composite Gauss-Legendre
quadrature on a working axis where every component is near-normal (logit for beta, log
for gamma, the identity for normal mixtures). It vanishes for one component, and it is
fast also for mixtures with hundreds of components.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import special

from rdstats._adaptive_quadrature import adaptive_rule
from rdstats.priors._base import Mixture
from rdstats.priors._beta import BetaMixture
from rdstats.priors._gamma import GammaMixture

__all__ = ["elir"]

Array = NDArray[np.float64]
Family = Literal["gaussian", "binomial", "poisson"]


def _closed_part(dist: Mixture, family: Family | None, sigma: float | None) -> float:
    """``sum_k w_k E_k[-h_k(x) / i_F(x)]``: each component's own curvature, in closed form.
    Because ``f(x) r_k(x) = w_k f_k(x)``, the responsibility-weighted curvature integrates
    component by component:

    * beta: ``(a-1) E[(1-x)/x] + (b-1) E[x/(1-x)] = b [a != 1] + a [b != 1]``;
    * gamma, Poisson: ``(a-1) E[1/lambda] = b [a != 1]``; exponential: ``a - 1``;
    * normal: ``E[1/i_F] / v`` (``sigma^2``; ``2 + 2 E[cosh eta]`` on the logit scale;
      ``E[exp(-eta)]`` on the log scale).

    Singular parts (a component with ``a`` just above 1 puts its contribution at
    ``x -> 0``, below any quadrature's reach) are thereby exact.
    """
    w = np.asarray(dist.weights)
    if isinstance(dist, BetaMixture):
        a, b = np.asarray(dist.a), np.asarray(dist.b)
        return float(np.sum(w * (np.where(a != 1, b, 0.0) + np.where(b != 1, a, 0.0))))
    if isinstance(dist, GammaMixture):
        shape, rate = np.asarray(dist.shape), np.asarray(dist.rate)
        if dist.likelihood == "poisson":
            return float(np.sum(w * np.where(shape != 1, rate, 0.0)))
        return float(np.sum(w * (shape - 1)))
    m, v = dist._component_moments()
    if family == "binomial":
        inv_fisher = 2.0 + 2.0 * np.exp(v / 2) * np.cosh(m)
    elif family == "poisson":
        inv_fisher = np.exp(-m + v / 2)
    else:
        assert sigma is not None
        inv_fisher = np.full_like(m, sigma**2)
    return float(np.sum(w * inv_fisher / v))


def _working_frame(dist: Mixture) -> tuple[Array, Array]:
    """Location and scale of every component on the working axis."""
    if isinstance(dist, BetaMixture):
        a, b = dist.a, dist.b
        loc = special.digamma(a) - special.digamma(b)
        return loc, np.sqrt(special.polygamma(1, a) + special.polygamma(1, b))
    if isinstance(dist, GammaMixture):
        loc = special.digamma(dist.shape) - np.log(dist.rate)
        return loc, np.sqrt(special.polygamma(1, dist.shape))
    m, v = dist._component_moments()
    return np.asarray(m, dtype=float), np.sqrt(v)


def _penalty_terms(
    dist: Mixture, family: Family | None, sigma: float | None, u: Array
) -> tuple[Array, Array, Array]:
    """On the working axis u: ``log(w_k f_k)`` as densities in u (N, K), the scores
    scaled to the working axis (N, K), and the log of the factor that turns the variance
    of the scaled scores into ``Var_r(g) / i_F``."""
    uu = u[:, None]
    with np.errstate(divide="ignore"):
        lw = np.log(dist.weights)
    if isinstance(dist, BetaMixture):
        a, b = dist.a, dist.b
        sp, sm = np.logaddexp(0.0, uu), np.logaddexp(0.0, -uu)  # -log(1-x), -log(x)
        lw = lw + a * uu - (a + b) * sp - special.betaln(a, b)
        x, xc = special.expit(uu), special.expit(-uu)
        return lw, (a - 1) * xc - (b - 1) * x, (sp + sm)[:, 0]  # score times x(1-x)
    if isinstance(dist, GammaMixture):
        sh, rt = dist.shape, dist.rate
        lw = lw + sh * np.log(rt) - special.gammaln(sh) + sh * uu - rt * np.exp(uu)
        lfac = -u if dist.likelihood == "poisson" else np.zeros_like(u)
        return lw, (sh - 1) - rt * np.exp(uu), lfac  # score times x
    m, v = dist._component_moments()
    lw = lw - 0.5 * np.log(2 * np.pi * v) - (uu - m) ** 2 / (2 * v)
    if family == "binomial":  # 1 / i_F = 1 / (expit(u) expit(-u))
        lfac = np.logaddexp(0.0, u) + np.logaddexp(0.0, -u)
    elif family == "poisson":
        lfac = -u
    else:
        assert sigma is not None
        lfac = np.full_like(u, 2 * math.log(sigma))
    return lw, -(uu - m) / v, lfac


def _penalty(dist: Mixture, family: Family | None, sigma: float | None) -> float:
    """``E_p[Var_r(g) / i_F]`` by adaptive quadrature on the working axis."""

    def logf(u: Array) -> Array:
        lw, gs, lfac = _penalty_terms(dist, family, sigma, u)
        lp = special.logsumexp(lw, axis=1, keepdims=True)
        r = np.exp(lw - np.where(np.isfinite(lp), lp, 0.0))
        gm = np.sum(r * gs, axis=1, keepdims=True)
        var = np.sum(r * (gs - gm) ** 2, axis=1)
        with np.errstate(divide="ignore"):
            out = lp[:, 0] + np.log(var) + lfac
        return np.where(np.isfinite(out), out, -np.inf)

    keep = np.asarray(dist.weights) > 0
    loc, scale = (arr[keep] for arr in _working_frame(dist))
    lo, hi = float(np.min(loc - 8 * scale)), float(np.max(loc + 8 * scale))
    n_pan = int(min(max(math.ceil((hi - lo) / float(np.min(scale))), 4), 400))
    normal = not isinstance(dist, (BetaMixture, GammaMixture))
    bounds = (-np.inf, np.inf) if normal else (-700.0, 700.0)
    rule = adaptive_rule(logf, np.linspace(lo, hi, n_pan + 1), order=16, rtol=1e-10, extend=bounds)
    return float(np.sum(rule.weights * np.exp(rule.logvals[..., 0])))


def elir(dist: Mixture, family: Family | None = None, sigma: float | None = None) -> float:
    """ELIR of a validated beta, gamma or normal mixture (normal: ``family`` gives the
    likelihood, ``sigma`` the reference scale of a gaussian one)."""
    closed = _closed_part(dist, family, sigma)
    if int(np.count_nonzero(np.asarray(dist.weights) > 0)) == 1:
        return closed
    return closed - _penalty(dist, family, sigma)
