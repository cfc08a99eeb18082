"""Recursive numerical integration for group-sequential z statistics.

The canonical joint distribution (Jennison & Turnbull 2000, ch. 3): at information
fractions ``0 < t_1 < ... < t_K = 1`` the score statistics ``S_k = Z_k sqrt(t_k)`` have
independent increments ``S_k - S_{k-1} ~ N(drift (t_k - t_{k-1}), t_k - t_{k-1})``, where
``drift`` is the mean of the final z statistic ``Z_K``. The sub-density of ``S_k`` on the
continuation region is propagated from look to look by quadrature (Armitage, McPherson &
Rowe 1969), and the probability of leaving the region at the next look is the quadrature
sum of normal tail probabilities (exact in the last step, no density is differentiated).

Grid (Jennison & Turnbull 2000, section 19.2): for a look with mean ``mu`` and standard
deviation ``sd`` of ``S_k``, the ``6r - 1`` points

* ``mu + sd (-3 - 4 log(r / i))`` for ``i = 1 .. r-1`` (left tail, log spacing),
* ``mu + sd (-3 + 3 (i - r) / (2 r))`` for ``i = r .. 5r`` (centre, spacing ``1.5 / r`` SD),
* ``mu + sd (3 + 4 log(r / (6r - i)))`` for ``i = 5r+1 .. 6r-1`` (right tail),

are cut to the continuation interval ``(lo, hi)`` (whose finite end points are added),
then every interval gets its midpoint and Simpson's rule weights ``d/6 (1, 4, 1)``. The
grid therefore has at most ``12 r - 1`` points; the error of Simpson's rule falls as
``r^-4``. Kernels here are plain numpy with no validation.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import special

Array = NDArray[np.float64]

DEFAULT_GRID = 32  # Jennison-Turnbull r: boundaries to about 1e-8 on the z scale
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def _upper_tail(u: Array) -> Array:
    """1 - Phi(u), accurate far into the upper tail."""
    return 0.5 * special.erfc(u / np.sqrt(2.0))


def grid(mean: float, sd: float, lo: float, hi: float, r: int) -> tuple[Array, Array]:
    """Simpson points and weights on ``(lo, hi)`` for a normal-like density."""
    i = np.arange(1, 6 * r, dtype=float)
    x = np.empty(6 * r - 1)
    left = i < r
    right = i > 5 * r
    centre = ~(left | right)
    x[left] = -3.0 - 4.0 * np.log(r / i[left])
    x[centre] = -3.0 + 3.0 * (i[centre] - r) / (2.0 * r)
    x[right] = 3.0 + 4.0 * np.log(r / (6.0 * r - i[right]))
    x = mean + sd * x
    inside = x[(x > lo) & (x < hi)]
    pts = [inside]
    if lo > x[0]:
        pts.insert(0, np.array([lo]))
    if hi < x[-1]:
        pts.append(np.array([hi]))
    nodes = np.concatenate(pts)
    if nodes.size < 2:  # an interval narrower than the grid's spacing: its end points
        nodes = np.array([max(lo, x[0]), min(hi, x[-1])])
        if nodes[1] <= nodes[0]:
            return np.zeros(1), np.zeros(1)
    d = np.diff(nodes)
    out = np.empty(2 * nodes.size - 1)
    out[0::2] = nodes
    out[1::2] = nodes[:-1] + d / 2
    w = np.zeros_like(out)
    w[0:-1:2] += d / 6
    w[2::2] += d / 6
    w[1::2] = 4 * d / 6
    return out, w


def first_look(
    t1: float, lo: float, hi: float, drift: float, r: int
) -> tuple[Array, Array, float, float]:
    """Grid, density x weight on the continuation region, and exit probabilities above
    ``hi`` and below ``lo`` (score scale) at the first look."""
    sd = np.sqrt(t1)
    mean = drift * t1
    up = float(_upper_tail(np.array((hi - mean) / sd)))
    low = float(_upper_tail(np.array((mean - lo) / sd)))
    x, w = grid(mean, sd, lo, hi, r)
    dens = np.exp(-0.5 * ((x - mean) / sd) ** 2) * (_INV_SQRT_2PI / sd)
    return x, w * dens, up, low


def exit_above(x: Array, hw: Array, b: float, drift: float, dt: float) -> float:
    """P(continue so far and S_next > b) from the previous look's grid."""
    sd = np.sqrt(dt)
    return float(hw @ _upper_tail((b - x - drift * dt) / sd))


def exit_below(x: Array, hw: Array, a: float, drift: float, dt: float) -> float:
    """P(continue so far and S_next < a) from the previous look's grid."""
    sd = np.sqrt(dt)
    return float(hw @ _upper_tail((x + drift * dt - a) / sd))


def propagate(
    x: Array, hw: Array, t_next: float, lo: float, hi: float, drift: float, dt: float, r: int
) -> tuple[Array, Array]:
    """Grid and density x weight on ``(lo, hi)`` at the next look."""
    x_new, w_new = grid(drift * t_next, np.sqrt(t_next), lo, hi, r)
    return x_new, w_new * density(x, hw, x_new, drift, dt)


def density(x: Array, hw: Array, x_new: Array, drift: float, dt: float) -> Array:
    """Sub-density of the next look's score statistic at ``x_new``."""
    sd = np.sqrt(dt)
    u = np.subtract.outer(x_new * (1.0 / sd), (x + drift * dt) * (1.0 / sd))
    np.square(u, out=u)
    u *= -0.5
    np.exp(u, out=u)  # in place: no temporaries of the (new x old) kernel matrix
    return np.asarray(u @ hw * (_INV_SQRT_2PI / sd))


def stopping_distribution(
    t: Array, upper: Array, lower: Array, drift: float, two_sided: bool, r: int = DEFAULT_GRID
) -> list[tuple[int, bool, Array, Array]]:
    """Quadrature of the z statistic at stopping: ``(look, rejected, z nodes, weights)``
    for every stopping region (above ``upper``, below ``lower`` or ``-upper`` for
    two-sided designs, and the final non-rejection region). The weights are Simpson
    weights times the sub-density; they sum to the region's probability up to the
    quadrature error."""
    k_max = t.size
    pieces: list[tuple[int, bool, Array, Array]] = []
    x = hw = np.zeros(0)
    for k in range(k_max):
        st = np.sqrt(t[k])
        b = upper[k] * st
        a = -b if two_sided else lower[k] * st
        regions = [(b, np.inf, True), (-np.inf, a, two_sided)]
        if k == k_max - 1:
            regions = [(b, np.inf, True)]
            regions += [(-np.inf, -b, True), (-b, b, False)] if two_sided else [(-np.inf, b, False)]
        mean = drift * t[k]
        dt = t[k] - (t[k - 1] if k else 0.0)
        for lo, hi, rejected in regions:
            if not lo < hi:
                continue
            nodes, w = grid(mean, st, lo, hi, r)
            if k == 0:
                dens = np.exp(-0.5 * ((nodes - mean) / st) ** 2) * (_INV_SQRT_2PI / st)
            else:
                dens = density(x, hw, nodes, drift, dt)
            pieces.append((k, rejected, nodes / st, w * dens))
        if k < k_max - 1:
            if k == 0:
                x, hw, _, _ = first_look(t[0], a, b, drift, r)
            else:
                x, hw = propagate(x, hw, t[k], a, b, drift, dt, r)
    return pieces


def crossing_probabilities(
    t: Array, upper: Array, lower: Array, drift: float, r: int = DEFAULT_GRID
) -> tuple[Array, Array]:
    """Probabilities of stopping above ``upper`` and below ``lower`` at each look.

    ``t`` are information fractions, ``upper``/``lower`` z-scale boundaries (``-inf``
    for none; a trial stops when ``Z_k >= upper_k`` or ``Z_k <= lower_k``).
    """
    k_max = t.size
    up = np.zeros(k_max)
    low = np.zeros(k_max)
    st = np.sqrt(t)
    b = upper * st
    a = lower * st
    x, hw, up[0], low[0] = first_look(t[0], a[0], b[0], drift, r)
    for k in range(1, k_max):
        dt = t[k] - t[k - 1]
        up[k] = exit_above(x, hw, b[k], drift, dt) if np.isfinite(b[k]) else 0.0
        low[k] = exit_below(x, hw, a[k], drift, dt) if np.isfinite(a[k]) else 0.0
        if k < k_max - 1:
            x, hw = propagate(x, hw, t[k], a[k], b[k], drift, dt, r)
    return up, low
