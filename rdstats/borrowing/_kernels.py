"""Numerical kernels of the random-effects models (no validation, vectorised).

``study_marginal`` integrates one study's likelihood over its random effect,
theta ~ N(mu, tau^2), by adaptive Gauss-Hermite quadrature (Liu & Pierce 1994): the rule
is centred at the mode of likelihood x normal density in ``d = theta - mu`` and scaled by
its curvature, so it stays accurate from tau -> 0 (the rule shrinks with tau) to large
tau (the rule follows the likelihood). The normal family is integrated in closed form.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

Array = NDArray[np.float64]

__all__ = ["gh_rule", "log_likelihood", "study_marginal"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


@functools.lru_cache(maxsize=32)
def gh_rule(k: int) -> tuple[Array, Array]:
    """Gauss-Hermite nodes and log weights for weight function exp(-x^2)."""
    x, w = np.polynomial.hermite.hermgauss(k)
    x.flags.writeable = False
    logw = np.log(w)
    logw.flags.writeable = False
    return x, logw


def log_likelihood(family: str, y: float, n: float, theta: Any) -> Any:
    """Log likelihood of one study as a function of theta (link scale), with constants."""
    if family == "binomial":
        const = special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)
        return const + y * theta - n * np.logaddexp(0.0, theta)
    # Poisson with log link and exposure offset
    return y * (theta + math.log(n)) - n * np.exp(theta) - special.gammaln(y + 1)


def _derivatives(family: str, y: float, n: float, theta: Any) -> tuple[Any, Any]:
    if family == "binomial":
        p = 0.5 * (1.0 + np.tanh(0.5 * theta))
        return y - n * p, -n * p * (1.0 - p)
    mu = n * np.exp(theta)
    return y - mu, -mu


def study_marginal(
    family: str,
    y: float,
    n: float,
    se: float,
    est: float,
    prec: float,
    mu: Array,
    tau: Array,
    k: int = 16,
) -> tuple[Array, Array, Array]:
    """``log m(mu, tau) = log int L(theta) N(theta; mu, tau^2) dtheta`` and the mean and
    variance of ``d = theta - mu`` given (mu, tau) and the study's data.

    ``mu`` and ``tau`` broadcast; ``tau == 0`` gives the likelihood at ``mu`` exactly.
    ``est`` and ``prec`` are a starting value and precision of theta from the data alone.
    """
    mu, tau = np.broadcast_arrays(np.asarray(mu, dtype=float), np.asarray(tau, dtype=float))
    if family == "normal":
        v = tau**2 + se**2
        logm = -0.5 * (y - mu) ** 2 / v - 0.5 * np.log(v) - _LOG_SQRT_2PI
        shrink = np.divide(tau**2, v)
        return logm, shrink * (y - mu), shrink * se**2
    zero = tau <= 0
    t = np.where(zero, 1.0, tau)
    inv = 1.0 / t**2
    # Newton for the mode of f(d) = log L(mu + d) - d^2 / (2 tau^2) (strictly concave)
    d = prec * (est - mu) / (prec + inv)
    for _ in range(50):
        g, h = _derivatives(family, y, n, mu + d)
        step = (g - d * inv) / (h - inv)
        d = d - step
        if np.all(np.abs(step) <= 1e-10 * (1.0 + np.abs(d))):
            break
    _, h = _derivatives(family, y, n, mu + d)
    s = 1.0 / np.sqrt(inv - h)
    x, logw = gh_rule(k)
    dk = d[..., None] + math.sqrt(2.0) * s[..., None] * x
    logf = (
        log_likelihood(family, y, n, mu[..., None] + dk)
        - 0.5 * dk**2 * inv[..., None]
        - np.log(t)[..., None]
        - _LOG_SQRT_2PI
    )
    terms = logw + x**2 + logf
    top = terms.max(axis=-1, keepdims=True)
    p = np.exp(terms - top)
    total = p.sum(axis=-1, keepdims=True)
    p /= total
    logm = (np.log(total) + top)[..., 0] + np.log(math.sqrt(2.0) * s)
    mean = np.sum(p * dk, axis=-1)
    var = np.maximum(np.sum(p * dk**2, axis=-1) - mean**2, 0.0)
    at_mu = log_likelihood(family, y, n, mu)
    return (
        np.where(zero, at_mu, logm),
        np.where(zero, 0.0, mean),
        np.where(zero, 0.0, var),
    )
