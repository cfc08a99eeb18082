"""Exact posterior tail and density tables for all outcomes of a discrete endpoint.

For a conjugate mixture prior and every value ``y = 0..Y`` of the sufficient statistic,
``tail_table`` returns P(θ <= x | y) or P(θ > x | y) at many points ``x``.  Evaluating the
incomplete beta / gamma function for every (y, x, component) is the slow way; instead
two incomplete-function calls per (x, component) anchor the ends and the neighbouring
values are reached by the exact recurrences

    I_x(a, b) = I_x(a + 1, b - 1) + x^a (1 - x)^(b-1) / (a B(a, b))       (beta)
    P(a, X)   = P(a + 1, X) + X^a e^-X / Γ(a + 1)                          (gamma)

summed in the direction in which every term is positive, so no cancellation occurs and
each table entry keeps full relative accuracy in both tails.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from rdstats.priors import BetaMixture, GammaMixture
from rdstats.priors._kernels import beta_binomial_update, gamma_poisson_update, reweight

Array = NDArray[np.float64]


def posterior_components(prior: Any, n: float, ys: Array) -> tuple[Array, Array, Array]:
    """Posterior weights and parameters (each of shape ``(len(ys), K)``) for every y."""
    if isinstance(prior, BetaMixture):
        a, b, lml = beta_binomial_update(prior.a, prior.b, ys, np.full_like(ys, n))
    elif isinstance(prior, GammaMixture):
        a, b, lml = gamma_poisson_update(prior.shape, prior.rate, ys, np.full_like(ys, n))
    else:  # pragma: no cover - guarded by the designs
        raise TypeError(type(prior).__name__)
    return reweight(prior.weights, lml), a, np.broadcast_to(b, a.shape)


def _cumulate(t: Array, low_end: Array, high_end: Array) -> tuple[Array, Array]:
    """Given steps ``t[j] = F[j] - F[j+1]`` (j < Y), return F and 1 - F for j = 0..Y."""
    zeros = np.zeros((1, *t.shape[1:]))  # t[:1] would be empty when y_max = 0
    rev = np.concatenate([np.cumsum(t[::-1], axis=0)[::-1], zeros], axis=0)
    fwd = np.concatenate([zeros, np.cumsum(t, axis=0)], axis=0)
    return high_end[None] + rev, low_end[None] + fwd


def tail_table(prior: Any, n: float, y_max: int, x: Array, upper: bool) -> Array:
    """P(θ > x | y) (``upper``) or P(θ <= x | y) for y = 0..y_max; shape (y_max + 1, len(x)).

    For beta priors ``y_max`` must equal ``n``.
    """
    ys = np.arange(y_max + 1, dtype=float)
    w, pa, pb = posterior_components(prior, n, ys)
    x = np.asarray(x, dtype=float)
    if isinstance(prior, BetaMixture):
        xc = np.clip(x, 0.0, 1.0)[:, None]
        a, b = prior.a, prior.b
        with np.errstate(divide="ignore", invalid="ignore"):
            f_top = special.betainc(a + n, b, xc)  # y = n
            s_bottom = special.betaincc(a, b + n, xc)  # y = 0
            big_a, big_b = pa[:-1, None, :], pb[:-1, None, :]
            log_t = (
                big_a * np.log(xc)
                + (big_b - 1) * np.log1p(-xc)
                - np.log(big_a)
                - special.betaln(big_a, big_b)
            )
        steps = np.nan_to_num(np.exp(log_t), nan=0.0)
        cdf, sf = _cumulate(steps, s_bottom, f_top)
        below, above = x[None, :, None] <= 0, x[None, :, None] >= 1
        cdf = np.where(below, 0.0, np.where(above, 1.0, cdf))
        sf = np.where(below, 1.0, np.where(above, 0.0, sf))
    else:
        rate = prior.rate + n
        xc = np.maximum(x, 0.0)[:, None] * rate
        alpha = prior.shape
        with np.errstate(divide="ignore", invalid="ignore"):
            f_top = special.gammainc(alpha + y_max, xc)
            s_bottom = special.gammaincc(alpha, xc)
            big_a = pa[:-1, None, :]
            log_t = big_a * np.log(xc) - xc - special.gammaln(big_a + 1)
        steps = np.nan_to_num(np.exp(log_t), nan=0.0)
        cdf, sf = _cumulate(steps, s_bottom, f_top)
        below = x[None, :, None] <= 0
        cdf = np.where(below, 0.0, cdf)
        sf = np.where(below, 1.0, sf)
    table = sf if upper else cdf
    return np.clip(np.einsum("yk,ygk->yg", w, table), 0.0, 1.0)


def density_table(prior: Any, n: float, y_max: int, log_t: Array, aux: Array) -> Array:
    """Posterior density at points t for every y; shape (y_max + 1, len(t)).

    ``log_t`` is log t; ``aux`` is log(1 - t) for beta priors and t itself for gamma
    priors (passed separately so that both tails keep full accuracy).
    """
    ys = np.arange(y_max + 1, dtype=float)
    w, pa, pb = posterior_components(prior, n, ys)
    lt = np.asarray(log_t, dtype=float)[None, :, None]
    ax = np.asarray(aux, dtype=float)[None, :, None]
    big_a, big_b = pa[:, None, :], pb[:, None, :]
    with np.errstate(invalid="ignore"):
        if isinstance(prior, BetaMixture):
            log_d = (big_a - 1) * lt + (big_b - 1) * ax - special.betaln(big_a, big_b)
        else:
            log_d = big_a * np.log(big_b) + (big_a - 1) * lt - big_b * ax - special.gammaln(big_a)
    return np.einsum("yk,ygk->yg", w, np.nan_to_num(np.exp(log_d), nan=0.0))


def natural_moments(prior: Any, n: float, y_max: int) -> tuple[Array, Array]:
    """Mean and sd of every posterior component (flattened)."""
    ys = np.arange(y_max + 1, dtype=float)
    _, pa, pb = posterior_components(prior, n, ys)
    pa, pb = pa.ravel(), pb.ravel()
    if isinstance(prior, BetaMixture):
        m = pa / (pa + pb)
        return m, np.sqrt(m * (1 - m) / (pa + pb + 1))
    return pa / pb, np.sqrt(pa) / pb


def quantile_range(prior: Any, n: float, y_max: int, eps: float = 1e-15) -> tuple[float, float]:
    """Natural-scale range holding all but ``eps`` of every posterior component's mass."""
    ys = np.arange(y_max + 1, dtype=float)
    _, pa, pb = posterior_components(prior, n, ys)
    if isinstance(prior, BetaMixture):
        lo = special.betaincinv(pa, pb, eps)
        hi = special.betainccinv(pa, pb, eps)
    else:
        lo = special.gammaincinv(pa, eps) / pb
        hi = special.gammainccinv(pa, eps) / pb
    return float(np.nanmin(lo)), float(np.nanmax(hi))
