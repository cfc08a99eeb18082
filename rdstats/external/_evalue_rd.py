"""E-value of a population-standardised risk difference (Ding & VanderWeele 2016).

With risks ``p1`` (treated / exposed) and ``p0`` (controls), the proportion treated
``f = n1 / (n1 + n0)`` and an unmeasured confounder whose bounding factor is
``B = RR_EU RR_UD / (RR_EU + RR_UD - 1)``, the causal risk difference in the whole
population is at least

    RD(B) = (p1 - p0 B) (f + (1 - f) / B)

(each counterfactual risk of the other group is bounded by the observed risk times or
divided by ``B``: ``P(D1 = 1 | E = 0) >= p1 / B`` and ``P(D0 = 1 | E = 1) <= p0 B``).
``RD(B)`` decreases in ``B`` from the observed difference at ``B = 1``; the bias factor
that explains the estimate away is the root of ``RD(B) = true``, a quadratic in ``B``, and
the E-value is ``B + sqrt(B (B - 1))``. For the confidence limit, the root of
``RD(B) - z se(B) = true`` with the delta-method standard error
``se(B) = (f + (1 - f) / B) sqrt(p1 (1 - p1) / n1 + B^2 p0 (1 - p0) / n0)`` (``f``
treated as fixed), found by a bracketing search.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["rd_bias_factor", "rd_bias_factor_ci", "rd_bound"]


def rd_bound(b: float, p1: float, p0: float, f: float) -> float:
    """Lower bound of the causal risk difference under a bounding factor ``b >= 1``."""
    return (p1 - p0 * b) * (f + (1.0 - f) / b)


def rd_bias_factor(p1: float, p0: float, f: float, true: float = 0.0) -> float:
    """Smallest bounding factor ``B >= 1`` with ``rd_bound(B) <= true`` (1 when the
    observed difference ``p1 - p0`` is already at most ``true``; ``inf`` when no factor
    suffices, which happens only when ``p0 = 0``). With ``true = 0`` this is ``p1 / p0``.
    """
    if p1 - p0 <= true:
        return 1.0
    if p0 == 0.0:  # RD(B) = p1 (f + (1 - f) / B) decreases to p1 f
        return p1 * (1.0 - f) / (true - p1 * f) if true > p1 * f else math.inf
    # p0 f B^2 - (p1 f - p0 (1 - f) - true) B - p1 (1 - f) = 0, positive root
    lin = p1 * f - p0 * (1.0 - f) - true
    disc = lin * lin + 4.0 * p0 * f * p1 * (1.0 - f)
    return max(1.0, (lin + math.sqrt(disc)) / (2.0 * p0 * f))


def _lower_limit(b: float, p1: float, p0: float, n1: float, n0: float, f: float, z: float) -> float:
    se = (f + (1.0 - f) / b) * math.sqrt(p1 * (1 - p1) / n1 + b * b * p0 * (1 - p0) / n0)
    return rd_bound(b, p1, p0, f) - z * se


def rd_bias_factor_ci(
    p1: float, p0: float, n1: float, n0: float, f: float, z: float, true: float = 0.0
) -> float:
    """Smallest bounding factor ``B >= 1`` at which the Wald lower limit of the bound,
    ``rd_bound(B) - z se(B)``, reaches ``true`` (1 if it already does at ``B = 1``;
    ``inf`` if it never does)."""
    from scipy.optimize import brentq

    def g(b: float) -> float:
        return _lower_limit(b, p1, p0, n1, n0, f, z) - true

    if g(1.0) <= 0.0:
        return 1.0
    grid = np.geomspace(1.0, 1e8, 4001)
    vals = np.array([g(float(b)) for b in grid])
    hit = np.flatnonzero(vals <= 0.0)
    if hit.size == 0:
        return math.inf
    k = int(hit[0])
    return float(brentq(g, float(grid[k - 1]), float(grid[k]), xtol=1e-13, rtol=1e-13))
