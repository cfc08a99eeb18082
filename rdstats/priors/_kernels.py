"""Vectorised conjugate-update kernels (no validation, broadcast over a batch axis).

Each update takes component parameters of shape ``(K,)`` (or ``(..., K)``) and data of
shape ``(...)``; data are broadcast against the component axis.  The returned log
marginal likelihoods omit factors that do not depend on the component, which is all
that reweighting needs.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

Array = NDArray[np.float64]


def reweight(weights: Array, log_marginal: Array) -> Array:
    """Posterior mixture weights ``w_k m_k / sum_j w_j m_j`` computed in log space."""
    with np.errstate(divide="ignore"):
        lw = np.log(weights) + log_marginal
    lw = lw - np.max(lw, axis=-1, keepdims=True)
    w = np.exp(lw)
    return np.asarray(w / np.sum(w, axis=-1, keepdims=True))


def beta_binomial_update(
    a: Array, b: Array, r: ArrayLike, n: ArrayLike
) -> tuple[Array, Array, Array]:
    """Be(a, b) prior, r responders of n: posterior (a + r, b + n - r) and log marginal."""
    r = np.asarray(r, dtype=float)[..., None]
    n = np.asarray(n, dtype=float)[..., None]
    a_post = a + r
    b_post = b + n - r
    return a_post, b_post, special.betaln(a_post, b_post) - special.betaln(a, b)


def normal_update(m: Array, s: Array, y: Array, se: Array) -> tuple[Array, Array, Array]:
    """N(m, s^2) prior, estimate y with standard error se: posterior and log marginal."""
    y = np.asarray(y, dtype=float)[..., None]
    se = np.asarray(se, dtype=float)[..., None]
    prec = 1.0 / s**2 + 1.0 / se**2
    m_post = (m / s**2 + y / se**2) / prec
    tot_var = s**2 + se**2
    lml = -0.5 * np.log(tot_var) - 0.5 * (y - m) ** 2 / tot_var
    return m_post, np.sqrt(1.0 / prec), lml


def gamma_poisson_update(
    shape: Array, rate: Array, total: Array, n: Array
) -> tuple[Array, Array, Array]:
    """Ga(shape, rate) prior, ``total`` events in exposure ``n``: posterior and log marginal."""
    y = np.asarray(total, dtype=float)[..., None]
    n = np.asarray(n, dtype=float)[..., None]
    shape_post = shape + y
    rate_post = rate + n
    lml = (
        special.gammaln(shape_post)
        - special.gammaln(shape)
        + shape * np.log(rate)
        - shape_post * np.log(rate_post)
    )
    return shape_post, rate_post, lml


def gamma_exp_update(
    shape: Array, rate: Array, total: Array, n: Array
) -> tuple[Array, Array, Array]:
    """Ga(shape, rate) prior, ``n`` exponential times summing to ``total``: posterior, log ML."""
    t = np.asarray(total, dtype=float)[..., None]
    n = np.asarray(n, dtype=float)[..., None]
    shape_post = shape + n
    rate_post = rate + t
    lml = (
        special.gammaln(shape_post)
        - special.gammaln(shape)
        + shape * np.log(rate)
        - shape_post * np.log(rate_post)
    )
    return shape_post, rate_post, lml
