"""Distribution of the difference of two independent mixtures of the same family."""

from __future__ import annotations

import itertools
import warnings
from typing import Any

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
_PROBS = np.array([1e-8, 1e-4, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 1 - 1e-4, 1 - 1e-8])


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


def _cdf_one(dist_1: Mixture, dist_2: Mixture, q: float) -> float:
    if isinstance(dist_1, NormalMixture):
        m1, v1 = dist_1._component_moments()
        m2, v2 = dist_2._component_moments()
        z = (q - (m1[:, None] - m2[None, :])) / np.sqrt(v1[:, None] + v2[None, :])
        w = dist_1.weights[:, None] * dist_2.weights[None, :]
        return float(np.clip(np.sum(w * stats.norm.cdf(z)), 0.0, 1.0))
    # P(θ1 − θ2 <= q) = sum_k w_k ∫_0^1 F_1(G_k^{-1}(u) + q) du over the components G_k of
    # dist_2: in the probability scale of each component the integrand is bounded, so
    # U-shaped or J-shaped betas (infinite densities at the ends) cause no singularity.
    # break points: dist_1's quantiles and the ends of its support (kinks of F_1), shifted
    q1 = (
        np.concatenate(
            [
                np.asarray(dist_1._frozen().ppf(_PROBS[:, None])).ravel(),
                np.asarray(dist_1.support, dtype=float),
            ]
        )
        - q
    )
    total = 0.0
    for k, wk in enumerate(dist_2.weights):
        if wk == 0:
            continue
        comp = dist_2._dist(*(p[k] for p in dist_2._params()))
        cuts = np.unique(np.clip(np.asarray(comp.cdf(q1), dtype=float), 0.0, 1.0))
        edges = [0.0, *(float(v) for v in cuts if 1e-12 < v < 1 - 1e-12), 1.0]

        def integrand(u: float, comp: Any = comp) -> float:
            return float(dist_1.cdf(float(comp.ppf(u)) + q))

        # one adaptive (QAGS) integral per piece between break points: its extrapolation
        # copes with the kinks and end-point singularities that sit at piece ends
        val = 0.0
        with warnings.catch_warnings():
            # QUADPACK's round-off diagnostics fire on pieces whose integrand is flat at
            # 0 or 1 to machine precision; the pieces' error estimates are checked instead
            warnings.simplefilter("ignore", integrate.IntegrationWarning)
            for lo, hi in itertools.pairwise(edges):
                if hi > lo:
                    v, err = integrate.quad(
                        integrand, lo, hi, epsabs=1e-13, epsrel=1e-10, limit=200
                    )
                    if err > 1e-8:
                        raise RuntimeError(
                            f"prob_difference quadrature did not converge (error {err:.1e})"
                        )
                    val += v
        total += wk * val
    return float(np.clip(total, 0.0, 1.0))


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
    gamma mixtures use adaptive Gauss-Kronrod quadrature of ``F1(G_k^{-1}(u) + q)`` over
    the probability scale ``u`` of each component ``G_k`` of ``dist_2`` (a bounded
    integrand even for U-shaped betas), with break points at ``dist_1``'s quantiles;
    accurate to about 1e-11.

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
