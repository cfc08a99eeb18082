"""Univariate posterior distributions of a series of n-of-1 patients: on a grid (exact
method, with an optional part that is a mixture of normals) or from draws (MCMC)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import interpolate, optimize, special

Array = NDArray[np.float64]

__all__ = ["DrawDist", "GridDist", "NodeDist"]


class _Dist:
    def cdf(self, x: float) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _bracket(self) -> tuple[float, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def sf(self, x: float) -> float:
        return 1.0 - self.cdf(x)

    def quantile(self, p: float) -> float:
        lo, hi = self._bracket()
        for _ in range(60):
            if self.cdf(lo) <= p <= self.cdf(hi):
                break
            span = hi - lo
            lo, hi = lo - span, hi + span
        return float(optimize.brentq(lambda x: self.cdf(x) - p, lo, hi, xtol=1e-12, rtol=1e-12))


@dataclass(frozen=True)
class GridDist(_Dist):
    """Density ``density`` on a uniform ``grid`` plus, optionally, the normal mixture
    ``sum w N(mu, tau^2)`` (``far``). The grid part's distribution function is the
    cumulative trapezoid rule with its Euler-Maclaurin end correction (O(h^4)),
    interpolated by cubic Hermite polynomials that use the density as derivative."""

    grid: Array
    density: Array
    far: tuple[Array, Array, Array] | None = None
    _spline: interpolate.CubicHermiteSpline = field(init=False, repr=False, compare=False)
    _total: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for arr in (self.grid, self.density, *(self.far or ())):
            arr.flags.writeable = False
        h = float(self.grid[1] - self.grid[0])
        f = self.density
        cum = np.concatenate([[0.0], np.cumsum(0.5 * h * (f[1:] + f[:-1]))])
        d1 = np.gradient(f, h)
        cum = cum - h**2 / 12 * (d1 - d1[0])
        far_mass = 0.0 if self.far is None else float(self.far[0].sum())
        total = float(cum[-1]) + far_mass
        object.__setattr__(self, "_total", total)
        object.__setattr__(
            self, "_spline", interpolate.CubicHermiteSpline(self.grid, cum / total, f / total)
        )

    def cdf(self, x: float) -> float:
        g = self.grid
        part = float(self._spline(np.clip(x, g[0], g[-1])))
        if self.far is not None:
            w, mu, tau = self.far
            part += float(np.sum(w * special.ndtr((x - mu) / tau))) / self._total
        return min(max(part, 0.0), 1.0)

    def _bracket(self) -> tuple[float, float]:
        lo, hi = float(self.grid[0]), float(self.grid[-1])
        if self.far is not None and self.far[0].size:
            t = float(np.max(self.far[2]))
            lo, hi = lo - 12 * t, hi + 12 * t
        return lo, hi

    def moments(self) -> tuple[float, float]:
        g, f = self.grid, self.density
        h = float(g[1] - g[0])
        m0 = np.trapezoid(f, dx=h)
        m1 = np.trapezoid(g * f, dx=h)
        m2 = np.trapezoid(g * g * f, dx=h)
        if self.far is not None:
            w, mu, tau = self.far
            m0 += w.sum()
            m1 += np.sum(w * mu)
            m2 += np.sum(w * (mu**2 + tau**2))
        mean = float(m1 / m0)
        return mean, math.sqrt(max(float(m2 / m0) - mean**2, 0.0))


@dataclass(frozen=True)
class NodeDist(_Dist):
    """Posterior of tau on quadrature nodes: a point mass at ``nodes[0] = 0`` and 8-point
    Gauss-Legendre panels in log tau with ``edges``. Within a panel the density of
    log tau is the degree-7 polynomial through the node values (as the rule assumes), so
    the distribution function integrates it exactly; a fixed tau (one node) is a step."""

    nodes: Array
    weight: Array
    edges: Array

    def __post_init__(self) -> None:
        for arr in (self.nodes, self.weight, self.edges):
            arr.flags.writeable = False

    def _panel_polys(self) -> list[np.polynomial.Legendre]:
        x, w = np.polynomial.legendre.leggauss(8)
        wt = (self.weight / self.weight.sum())[1:].reshape(-1, 8)
        out = []
        for k in range(wt.shape[0]):
            f = wt[k] / w  # density in u (the panel mapped to [-1, 1]) at the nodes
            poly = np.polynomial.Legendre.fit(x, f, 7, domain=[-1, 1], window=[-1, 1])
            out.append(poly.integ(lbnd=-1))
        return out

    def cdf(self, x: float) -> float:
        w = self.weight / self.weight.sum()
        if self.nodes.size == 1:
            return float(x >= self.nodes[0])
        if x < 0:
            return 0.0
        total = float(w[0])
        if x == 0:
            return total
        v = math.log(x)
        polys = self._panel_polys()
        for k, integ in enumerate(polys):
            e0, e1 = self.edges[k], self.edges[k + 1]
            if v >= e1:
                total += float(integ(1.0))
            else:
                if v > e0:
                    total += float(integ(2 * (v - e0) / (e1 - e0) - 1))
                break
        return min(max(total, 0.0), 1.0)

    def _bracket(self) -> tuple[float, float]:
        if self.nodes.size == 1:
            return float(self.nodes[0]), float(self.nodes[0])
        return math.exp(self.edges[0]), math.exp(self.edges[-1])

    def quantile(self, p: float) -> float:
        if self.nodes.size == 1:
            return float(self.nodes[0])
        w = self.weight / self.weight.sum()
        if p <= w[0]:
            return 0.0
        return super().quantile(p)

    def moments(self) -> tuple[float, float]:
        w = self.weight / self.weight.sum()
        mean = float(np.sum(w * self.nodes))
        return mean, math.sqrt(max(float(np.sum(w * self.nodes**2)) - mean**2, 0.0))


@dataclass(frozen=True)
class DrawDist(_Dist):
    """Empirical distribution of draws."""

    draws: Array

    def __post_init__(self) -> None:
        self.draws.flags.writeable = False

    def cdf(self, x: float) -> float:
        return float(np.mean(self.draws <= x))

    def quantile(self, p: float) -> float:
        return float(np.quantile(self.draws, p))

    def moments(self) -> tuple[float, float]:
        return float(np.mean(self.draws)), float(np.std(self.draws, ddof=1))
