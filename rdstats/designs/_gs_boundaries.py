"""Critical values, futility bounds and drift of group-sequential designs (no validation).

All boundaries are on the z scale; ``t`` are information fractions (``t_K = 1``). A
sweep carries the sub-density of the score statistic on the continuation region from
look to look (:mod:`rdstats.designs._gs_kernels`); at each look the boundary is the root
of a one-dimensional equation in the exit probability, solved by Brent's method to
``1e-12`` on the z scale.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, stats

from rdstats.designs._gs_kernels import (
    crossing_probabilities,
    exit_above,
    exit_below,
    first_look,
    propagate,
)
from rdstats.designs._spending import HaybittlePeto, UserSpending, WangTsiatis

Array = NDArray[np.float64]
Z_MAX = 38.0  # beyond this the tail probability underflows; such a bound never is crossed
_XTOL = 1e-12
_MAX_EXPANSIONS = 60  # bracket searches: at most this many widenings before an error


def spent(spec: Any, t: Array, total: float) -> Array:
    """Cumulative error at the looks for a spending function."""
    if isinstance(spec, UserSpending):
        return spec.at_looks(t.size, total)
    out = spec.cumulative(t, total)
    out[-1] = total
    return out


class _Sweep:
    """Sub-density of the score statistic at the last look passed, under one drift."""

    def __init__(self, t: Array, drift: float, r: int) -> None:
        self.t, self.drift, self.r = t, drift, r
        self.k = -1
        self.x: Array = np.zeros(0)
        self.hw: Array = np.zeros(0)

    def _dt(self) -> float:
        return float(self.t[self.k + 1] - (self.t[self.k] if self.k >= 0 else 0.0))

    def above(self, c: float) -> float:
        """P(reach the next look and Z > c there)."""
        st = np.sqrt(self.t[self.k + 1])
        if c >= Z_MAX:
            return 0.0
        if self.k < 0:
            return float(stats.norm.sf(c - self.drift * st))
        return exit_above(self.x, self.hw, c * st, self.drift, self._dt())

    def below(self, c: float) -> float:
        """P(reach the next look and Z < c there)."""
        st = np.sqrt(self.t[self.k + 1])
        if c <= -Z_MAX:
            return 0.0
        if self.k < 0:
            return float(stats.norm.cdf(c - self.drift * st))
        return exit_below(self.x, self.hw, c * st, self.drift, self._dt())

    def advance(self, lower: float, upper: float) -> None:
        """Move to the next look with continuation region (lower, upper) on the z scale."""
        st = np.sqrt(self.t[self.k + 1])
        lo = -np.inf if lower <= -Z_MAX else lower * st
        hi = np.inf if upper >= Z_MAX else upper * st
        if self.k < 0:
            self.x, self.hw, _, _ = first_look(float(self.t[0]), lo, hi, self.drift, self.r)
        else:
            self.x, self.hw = propagate(
                self.x, self.hw, float(self.t[self.k + 1]), lo, hi, self.drift, self._dt(), self.r
            )
        self.k += 1


def _root(f: Callable[[float], float], lo: float, hi: float) -> float:
    """Root of a decreasing function on [lo, hi]; the bracket end if it has none."""
    flo, fhi = f(lo), f(hi)
    if flo <= 0:
        return lo
    if fhi >= 0:
        return hi
    return float(optimize.brentq(f, lo, hi, xtol=_XTOL, rtol=4 * np.finfo(float).eps))


def _expand(
    below: Callable[[float], bool], start: float, what: str, *, step: float | None = None
) -> float:
    """Upper end of a bracket: ``start``, widened (by ``step``, else doubled) while
    ``below`` holds; a ValueError after ``_MAX_EXPANSIONS`` widenings."""
    x = start
    for _ in range(_MAX_EXPANSIONS):
        if not below(x):
            return x
        x = x + step if step is not None else 2.0 * x
    raise ValueError(
        f"no bracket for {what} found up to {x:.4g} after {_MAX_EXPANSIONS} widenings; "
        "the design's error rates cannot be met with this boundary"
    )


def _secant(f: Callable[[float], float], x0: float, x1: float) -> float | None:
    """Root of a nearly linear ``f`` by secant steps (a few integrations where Brent's
    method needs ten or more); None when the steps stall or wander, so that the caller
    falls back to bracketing."""
    f0 = f(x0)
    for _ in range(12):
        f1 = f(x1)
        if abs(f1) < 1e-12:
            return x1
        if f1 == f0 or not np.isfinite(f1):
            return None
        step = f1 * (x1 - x0) / (f1 - f0)
        x0, f0, x1 = x1, f1, x1 - step
        if not (np.isfinite(x1) and 0 < x1 < 100):
            return None
        if abs(step) < 1e-10:  # the next step would be below 1e-15
            return x1
    return None


def spending_upper(t: Array, alpha: float, spec: Any, sided: int, lower: Array, r: int) -> Array:
    """Critical values from an α-spending function (``lower``: binding futility bounds
    on the z scale, ``-inf`` where none; ignored for two-sided designs). Two-sided
    designs spend ``f(t; alpha / 2)`` on each side."""
    if sided == 2 and not isinstance(spec, UserSpending):  # each side spends alpha / 2
        cum = 2.0 * spent(spec, t, alpha / 2)
    else:
        cum = spent(spec, t, alpha)
    inc = np.diff(np.concatenate([[0.0], cum]))
    c = np.empty(t.size)
    sw = _Sweep(t, 0.0, r)
    for k in range(t.size):
        target = inc[k]
        if target <= 0:
            c[k] = np.inf
        else:
            if sided == 2:

                def f(b: float, target: float = target) -> float:
                    return sw.above(b) + sw.below(-b) - target

                c[k] = _root(f, 0.0, Z_MAX)
            else:
                lo_k = max(float(lower[k]), -Z_MAX) if np.isfinite(lower[k]) else -Z_MAX

                def f(b: float, target: float = target) -> float:
                    return sw.above(b) - target

                c[k] = _root(f, lo_k, Z_MAX)
        if k < t.size - 1:
            low = -c[k] if sided == 2 else lower[k]
            sw.advance(low, c[k])
    return c


def _classical_shape(spec: Any, t: Array, scale: float) -> Array:
    if isinstance(spec, HaybittlePeto):
        c = np.full(t.size, spec.z)
        c[-1] = scale
        return c
    return np.asarray(scale * spec.shape(t), dtype=float)


def classical_upper(
    t: Array, alpha: float, spec: WangTsiatis | HaybittlePeto, sided: int, lower: Array, r: int
) -> Array:
    """Critical values of a classical boundary, its constant solved for total ``alpha``."""
    low_fixed = lower.copy()

    def total(scale: float) -> float:
        c = _classical_shape(spec, t, scale)
        low = -c if sided == 2 else low_fixed
        up, lo = crossing_probabilities(t, c, low, 0.0, r)
        return float(up.sum() + (lo.sum() if sided == 2 else 0.0))

    start = stats.norm.isf(alpha / sided)
    z_alpha = float(stats.norm.isf(alpha))

    def probit_gap(scale: float) -> float:
        return float(stats.norm.isf(max(total(scale), 1e-300))) - z_alpha

    if isinstance(spec, HaybittlePeto) and t.size > 1:
        interim = total(np.inf)  # what the fixed interim looks spend on their own
        if interim >= alpha * (1.0 - 1e-9):
            raise ValueError(
                f"Haybittle-Peto interim bound z={spec.z:g} already spends {interim:.6g} of "
                f"alpha={alpha:.6g} over {t.size - 1} interim look(s), leaving nothing for "
                "the final look; raise z or alpha"
            )
    guess = start + 0.1 if isinstance(spec, HaybittlePeto) else start + 0.3
    found = _secant(probit_gap, guess, guess + 0.1)
    if found is not None:
        return _classical_shape(spec, t, found)
    hi = _expand(lambda s: total(s) > alpha, start + 3.0, "the boundary constant", step=3.0)
    scale = optimize.brentq(
        lambda s: total(s) - alpha, start * 0.5, hi, xtol=_XTOL, rtol=4 * np.finfo(float).eps
    )
    return _classical_shape(spec, t, scale)


def upper_bounds(t: Array, alpha: float, spec: Any, sided: int, lower: Array, r: int) -> Array:
    if isinstance(spec, (WangTsiatis, HaybittlePeto)):
        return classical_upper(t, alpha, spec, sided, lower, r)
    return spending_upper(t, alpha, spec, sided, lower, r)


def rejection(
    t: Array, upper: Array, lower: Array, sided: int, drift: float, r: int
) -> tuple[Array, Array]:
    """Per-look probabilities of rejecting H0 and of stopping for futility."""
    if sided == 2:
        up, lo = crossing_probabilities(t, upper, -upper, drift, r)
        return up + lo, np.zeros(t.size)
    up, lo = crossing_probabilities(t, upper, lower, drift, r)
    return up, lo


def drift_for_power(
    t: Array, upper: Array, lower: Array, sided: int, power: float, r: int
) -> float:
    """Drift (mean of Z at full information) at which the design has ``power``.

    The power's probit is nearly linear in the drift (slope close to 1), so a secant
    iteration on that scale converges in a few integrations; Brent's method on a
    bracket takes over if it does not.
    """

    def probit_gap(d: float) -> float:
        p = float(rejection(t, upper, lower, sided, d, r)[0].sum())
        return float(stats.norm.ppf(min(max(p, 1e-300), 1 - 1e-16)) - target)

    target = float(stats.norm.ppf(power))
    d0 = max(float(upper[-1]) + target, 0.1)
    found = _secant(probit_gap, d0, d0 + 0.1)
    if found is not None:
        return found

    def g(d: float) -> float:
        return float(rejection(t, upper, lower, sided, d, r)[0].sum()) - power

    hi = _expand(lambda d: g(d) < 0, max(float(upper[-1]) + target, 0.1) * 1.5, "the drift")
    lo = hi / 2 if g(hi / 2) < 0 else 0.0
    return float(optimize.brentq(g, lo, hi, xtol=1e-11, rtol=4 * np.finfo(float).eps))


def fixed_drift(alpha: float, beta: float, sided: int) -> float:
    """Drift of the fixed-sample design with the same error rates."""
    za = stats.norm.isf(alpha / sided)
    if sided == 1:
        return float(za + stats.norm.isf(beta))

    def g(d: float) -> float:
        return float(stats.norm.sf(za - d) + stats.norm.cdf(-za - d)) - (1 - beta)

    return float(optimize.brentq(g, 0.0, za + 10.0, xtol=1e-13))


def beta_spending(
    t: Array,
    alpha: float,
    beta: float,
    alpha_spec: Any,
    beta_spec: Any,
    binding: bool,
    r: int,
) -> tuple[Array, Array, float]:
    """Critical values, futility bounds and drift of a one-sided design with β-spending
    futility bounds: at each look the futility bound spends the β increment under the
    alternative drift, which is solved so that the last futility bound meets the last
    critical value (Pampallona, Tsiatis & Kim 2001)."""
    k_max = t.size
    b_cum = spent(beta_spec, t, beta)
    b_inc = np.diff(np.concatenate([[0.0], b_cum]))
    none = np.full(k_max, -np.inf)
    fixed_upper = None if binding else upper_bounds(t, alpha, alpha_spec, 1, none, r)
    a_inc = np.diff(np.concatenate([[0.0], spent(alpha_spec, t, alpha)])) if binding else none

    def sweep(drift: float) -> tuple[Array, Array]:
        c = np.empty(k_max)
        a = np.empty(k_max)
        h1 = _Sweep(t, drift, r)
        h0 = _Sweep(t, 0.0, r)
        for k in range(k_max):
            if fixed_upper is not None:
                c[k] = fixed_upper[k]
            elif a_inc[k] <= 0:
                c[k] = np.inf
            else:

                def fc(b: float, tg: float = a_inc[k]) -> float:
                    return h0.above(b) - tg

                c[k] = _root(fc, -Z_MAX, Z_MAX)
            if b_inc[k] <= 0:
                a[k] = -np.inf
            else:

                def fa(x: float, tb: float = b_inc[k]) -> float:
                    return tb - h1.below(x)

                a[k] = _root(fa, -Z_MAX, Z_MAX)
            if k < k_max - 1:
                a[k] = min(a[k], c[k])
                h1.advance(a[k], c[k])
                if fixed_upper is None:
                    h0.advance(a[k], c[k])
        return c, a

    def gap(drift: float) -> float:
        c, a = sweep(drift)
        return float(a[-1] - c[-1])

    z = float(stats.norm.isf(alpha) + stats.norm.isf(beta))
    found = _secant(gap, z * 1.02, z * 1.08)
    if found is None:
        hi = _expand(lambda d: gap(d) < 0, 1.5 * z, "the β-spending drift")
        lo = hi / 2 if gap(hi / 2) < 0 else 0.0
        found = float(optimize.brentq(gap, lo, hi, xtol=1e-11, rtol=4 * np.finfo(float).eps))
    drift = found
    c, a = sweep(drift)
    a[-1] = c[-1]
    return c, a, drift
