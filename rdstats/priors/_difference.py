"""Distribution of the difference of two independent mixtures of the same family."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import integrate, optimize, stats

from rdstats._validation import as_float_array, check_probability
from rdstats.priors._base import Mixture
from rdstats.priors._beta import BetaMixture
from rdstats.priors._gamma import GammaMixture
from rdstats.priors._normal import NormalMixture

__all__ = ["prob_difference", "quantile_difference"]

_FAMILIES = (BetaMixture, NormalMixture, GammaMixture)
_TAIL = 1e-13


def _check_pair(dist_1: Mixture, dist_2: Mixture) -> None:
    for name, d in (("dist_1", dist_1), ("dist_2", dist_2)):
        if not isinstance(d, _FAMILIES):
            raise TypeError(
                f"{name} must be a BetaMixture, NormalMixture or GammaMixture, got "
                f"{type(d).__name__}"
            )
    if type(dist_1) is not type(dist_2):
        raise TypeError(
            "dist_1 and dist_2 must be mixtures of the same family, got "
            f"{type(dist_1).__name__} and {type(dist_2).__name__}"
        )


def _breakpoints(dist: Mixture, shift: float, lo: float, hi: float) -> list[float]:
    q = np.asarray(dist._frozen().ppf(np.array([1e-6, 0.01, 0.5, 0.99, 1 - 1e-6])[:, None]))
    pts = np.unique(q.ravel() - shift)
    return [float(p) for p in pts if lo < p < hi]


def _cdf_one(dist_1: Mixture, dist_2: Mixture, q: float) -> float:
    if isinstance(dist_1, NormalMixture):
        m1, v1 = dist_1._component_moments()
        m2, v2 = dist_2._component_moments()
        z = (q - (m1[:, None] - m2[None, :])) / np.sqrt(v1[:, None] + v2[None, :])
        w = dist_1.weights[:, None] * dist_2.weights[None, :]
        return float(np.clip(np.sum(w * stats.norm.cdf(z)), 0.0, 1.0))
    # P(theta_1 - theta_2 <= q) = int p_2(t) F_1(t + q) dt  (+ mass where F_1 = 1)
    s_lo, s_hi = dist_1.support
    t_lo, t_hi = dist_2.support
    lo = max(t_lo, s_lo - q)
    hi = min(t_hi, s_hi - q)
    if not np.isfinite(hi):
        hi = max(
            float(np.max(dist_2._frozen().isf(_TAIL))),
            float(np.max(dist_1._frozen().isf(_TAIL))) - q,
        )
    if lo >= hi:
        return 1.0 if q >= s_hi - t_lo else 0.0
    upper_mass = float(dist_2.sf(hi))

    def integrand(t: float) -> float:
        return float(dist_2.pdf(t)) * float(dist_1.cdf(t + q))

    pts = sorted(set(_breakpoints(dist_2, 0.0, lo, hi) + _breakpoints(dist_1, q, lo, hi)))
    val, _ = integrate.quad(
        integrand, lo, hi, points=pts or None, epsabs=1e-14, epsrel=1e-11, limit=500
    )
    return float(np.clip(val + upper_mass, 0.0, 1.0))


def prob_difference(
    dist_1: Mixture, dist_2: Mixture, q: ArrayLike = 0.0
) -> float | NDArray[np.float64]:
    """P(θ1 − θ2 ≤ q) for independent θ1 ~ ``dist_1`` and θ2 ~ ``dist_2``.

    Parameters
    ----------
    dist_1, dist_2 : BetaMixture, NormalMixture or GammaMixture
        Two mixtures of the same family.
    q : float or array_like
        Threshold(s) for the difference.

    Returns
    -------
    float or ndarray
        The distribution function of the difference at ``q``.

    Notes
    -----
    Normal mixtures use the closed form (a mixture of normal differences). Beta and
    gamma mixtures use adaptive Gauss-Kronrod quadrature of ``p2(t) F1(t + q)`` with
    break points at the components' quantiles, accurate to about 1e-11.

    References
    ----------
    .. [1] Schmidli H, Gsteiger S, Roychoudhury S, O'Hagan A, Spiegelhalter D,
       Neuenschwander B. Robust meta-analytic-predictive priors in clinical trials with
       historical control information. Biometrics 2014;70:1023-1032.

    Examples
    --------
    >>> from rdstats.priors import BetaMixture, prob_difference
    >>> p = 1 - prob_difference(BetaMixture(1, 11, 4), BetaMixture(1, 8, 7), 0.0)
    >>> round(p, 7)
    0.8817696
    """
    _check_pair(dist_1, dist_2)
    qa = as_float_array(q, "q")
    out = np.array([_cdf_one(dist_1, dist_2, float(v)) for v in qa.ravel()]).reshape(qa.shape)
    return float(out) if out.ndim == 0 else out


def quantile_difference(
    dist_1: Mixture, dist_2: Mixture, p: ArrayLike
) -> float | NDArray[np.float64]:
    """Quantile of θ1 − θ2: the q solving P(θ1 − θ2 ≤ q) = p.

    Examples
    --------
    >>> from rdstats.priors import NormalMixture, quantile_difference
    >>> q = quantile_difference(NormalMixture(1, 1.0, 3.0), NormalMixture(1, 0.0, 4.0), 0.5)
    >>> round(q, 10)
    1.0
    """
    _check_pair(dist_1, dist_2)
    pa = check_probability(p, "p", open_interval=True)
    lo1, hi1 = dist_1.support
    lo2, hi2 = dist_2.support
    lo = lo1 - hi2 if np.isfinite(lo1 - hi2) else None
    hi = hi1 - lo2 if np.isfinite(hi1 - lo2) else None
    if lo is None or hi is None:
        spread = 40 * (dist_1.sd() + dist_2.sd())
        centre = dist_1.mean() - dist_2.mean()
        lo = centre - spread if lo is None else lo
        hi = centre + spread if hi is None else hi

    def solve(target: float) -> float:
        return float(
            optimize.brentq(
                lambda x: _cdf_one(dist_1, dist_2, x) - target, lo, hi, xtol=1e-12, rtol=1e-12
            )
        )

    out = np.array([solve(float(v)) for v in pa.ravel()]).reshape(pa.shape)
    return float(out) if out.ndim == 0 else out
