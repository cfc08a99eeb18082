"""The jump's posterior as a weighted mixture of per-candidate components: distribution
function, quantiles, exceedance probabilities and the sustained-effect probability of the
normal slope model."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from rdstats.nof1._components import take

Array = NDArray[np.float64]

__all__ = ["active", "mixture_cdf", "mixture_quantile", "sustained_probability"]


def active(components: Any, weights: Array) -> tuple[Any, Array]:
    """Components whose weight is at least 1e-13 of the largest (the rest change no
    probability by more than about 1e-10)."""
    keep = weights >= 1e-13 * float(weights.max())
    return take(components, keep), weights[keep]


def mixture_cdf(components: Any, weights: Array, x: float) -> float:
    """``sum_c w_c F_c(x) / sum_c w_c`` over the components with positive weight."""
    total = float(weights.sum())
    return float(1.0 - np.sum(weights * components.sf(x)) / total)


def mixture_quantile(components: Any, weights: Array, p: float) -> float:
    """Quantile of the mixture by Brent's method between the components' extremes."""
    components, weights = active(components, weights)
    lo, hi = components.span()
    span = hi - lo if hi > lo else 1.0
    lo, hi = lo - 0.01 * span, hi + 0.01 * span
    f_lo, f_hi = mixture_cdf(components, weights, lo) - p, mixture_cdf(components, weights, hi) - p
    for _ in range(60):
        if f_lo <= 0 <= f_hi:
            break
        lo, hi = lo - span, hi + span
        f_lo = mixture_cdf(components, weights, lo) - p
        f_hi = mixture_cdf(components, weights, hi) - p
    return float(
        optimize.brentq(lambda x: mixture_cdf(components, weights, x) - p, lo, hi, xtol=1e-12)
    )


_U, _WU = np.polynomial.legendre.leggauss(48)
_U, _WU = (_U + 1) / 2, _WU / 2


def sustained_probability(
    mean: Array, scale: Array, df: float, lag: Array, threshold: float
) -> Array:
    """``P(delta > c, delta + gamma * lag > c)`` for bivariate Student-t ``(delta, gamma)``
    (location ``mean`` (..., 2), scale matrix ``scale`` (..., 2, 2), ``df``), per component.

    Integrates over ``delta``'s distribution function above ``c`` (48-point
    Gauss-Legendre in probability) the conditional t tail of ``gamma`` (``df + 1``
    degrees of freedom, location and scale of the conditional bivariate t).
    """
    m1, m2 = mean[..., 0], mean[..., 1]
    s11, s12, s22 = scale[..., 0, 0], scale[..., 0, 1], scale[..., 1, 1]
    sd1 = np.sqrt(s11)
    f_c = special.stdtr(df, (threshold - m1) / sd1)  # P(delta <= c)
    u = f_c[..., None] + (1.0 - f_c[..., None]) * _U  # probability scale above c
    z = special.stdtrit(df, np.clip(u, 1e-300, 1 - 1e-16))
    d1 = m1[..., None] + sd1[..., None] * z
    cond_mean = m2[..., None] + (s12 / s11)[..., None] * (d1 - m1[..., None])
    cond_var = ((df + z**2) / (df + 1.0)) * (s22 - s12**2 / s11)[..., None]
    lag_ = lag[..., None]
    # P(gamma * lag > c - delta | delta); lag > 0
    need = (threshold - d1) / np.where(lag_ > 0, lag_, 1.0)
    tail = special.stdtr(df + 1.0, -(need - cond_mean) / np.sqrt(np.maximum(cond_var, 1e-300)))
    tail = np.where(lag_ > 0, tail, 1.0)
    return np.asarray((1.0 - f_c) * (tail @ _WU))
