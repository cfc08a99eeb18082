"""Posterior distributions of the jump given the change visit (and a grid value of the
nuisance parameter: the AR(1) coefficient or the count trend), one per component, with
vectorised survival functions. A jump posterior is a weighted mixture of them.

* :class:`TComponents` — normal outcomes: Student t (location, scale, degrees of freedom).
* :class:`RatioComponents` — counts: rate ratio ``lambda_post / lambda_pre`` of two
  independent gamma posteriors, ``P(R > c)`` a beta tail (exact).
* :class:`BetaDiffComponents` — bounded scores: ``m (p_post - p_pre)`` for two independent
  beta posteriors, ``P(. > x) = int_0^1 S_post(F_pre^-1(u) + x/m) du`` by 48-point
  Gauss-Legendre in ``u`` (accurate to about 1e-7).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special, stats

Array = NDArray[np.float64]

__all__ = ["BetaDiffComponents", "RatioComponents", "TComponents", "take"]


def take(components: Any, mask: NDArray[np.bool_]) -> Any:
    """The components selected by a boolean ``mask`` of their common shape (1-D)."""
    arrays = {
        f.name: np.asarray(getattr(components, f.name))[mask]
        for f in fields(components)
        if isinstance(getattr(components, f.name), np.ndarray)
    }
    return replace(components, **arrays)


@dataclass(frozen=True)
class TComponents:
    """Student-t components: ``loc``, ``scale`` (any common shape), ``df``."""

    loc: Array
    scale: Array
    df: float

    def sf(self, x: float) -> Array:
        return np.asarray(special.stdtr(self.df, -(x - self.loc) / self.scale))

    def mean(self) -> Array:
        return self.loc

    def var(self) -> Array:
        return (
            np.asarray(self.scale**2 * self.df / (self.df - 2.0))
            if self.df > 2
            else np.full(self.loc.shape, np.inf)
        )

    def span(self) -> tuple[float, float]:
        q = float(stats.t.ppf(1e-6, self.df))
        return float(np.min(self.loc + q * self.scale)), float(np.max(self.loc - q * self.scale))


@dataclass(frozen=True)
class RatioComponents:
    """Rate ratios ``R = lambda_post / lambda_pre`` with ``lambda_pre ~ Ga(a_pre, b_pre)``,
    ``lambda_post ~ Ga(a_post, b_post)`` (shape, rate)."""

    a_pre: Array
    b_pre: Array
    a_post: Array
    b_post: Array

    def sf(self, x: float) -> Array:
        if x <= 0:
            return np.ones(self.a_pre.shape)
        k = x * self.b_post / self.b_pre
        return np.asarray(special.betainc(self.a_pre, self.a_post, 1.0 / (1.0 + k)))

    def mean(self) -> Array:
        with np.errstate(divide="ignore"):
            return np.where(
                self.a_pre > 1,
                self.a_post / self.b_post * self.b_pre / np.maximum(self.a_pre - 1, 1e-300),
                np.inf,
            )

    def log_mean(self) -> Array:
        """``E[log R]`` (finite even when ``E[R]`` is not)."""
        return np.asarray(
            special.digamma(self.a_post)
            - np.log(self.b_post)
            - special.digamma(self.a_pre)
            + np.log(self.b_pre)
        )

    def var(self) -> Array:
        m = self.mean()
        with np.errstate(divide="ignore", invalid="ignore"):
            second = np.where(
                self.a_pre > 2,
                self.a_post
                * (self.a_post + 1)
                / self.b_post**2
                * self.b_pre**2
                / np.maximum((self.a_pre - 1) * (self.a_pre - 2), 1e-300),
                np.inf,
            )
        return np.asarray(second - m**2)

    def span(self) -> tuple[float, float]:
        lo = (
            stats.gamma.ppf(1e-6, self.a_post)
            / self.b_post
            / (stats.gamma.ppf(1 - 1e-6, self.a_pre) / self.b_pre)
        )
        hi = (
            stats.gamma.ppf(1 - 1e-6, self.a_post)
            / self.b_post
            / (stats.gamma.ppf(1e-6, self.a_pre) / self.b_pre)
        )
        return float(np.min(lo)), float(np.max(hi))


_U, _WU = np.polynomial.legendre.leggauss(48)
_U, _WU = (_U + 1) / 2, _WU / 2


@dataclass(frozen=True)
class BetaDiffComponents:
    """``m (p_post - p_pre)`` with independent ``p ~ Beta(a, b)``."""

    a_pre: Array
    b_pre: Array
    a_post: Array
    b_post: Array
    m: float

    def sf(self, x: float) -> Array:
        shape = self.a_pre.shape
        a1, b1 = self.a_pre.ravel()[:, None], self.b_pre.ravel()[:, None]
        a2, b2 = self.a_post.ravel()[:, None], self.b_post.ravel()[:, None]
        p1 = special.betaincinv(a1, b1, _U[None, :])
        p2 = np.clip(p1 + x / self.m, 0.0, 1.0)
        s2 = 1.0 - special.betainc(a2, b2, p2)
        return np.asarray((s2 @ _WU).reshape(shape))

    def mean(self) -> Array:
        return np.asarray(
            self.m
            * (self.a_post / (self.a_post + self.b_post) - self.a_pre / (self.a_pre + self.b_pre))
        )

    def var(self) -> Array:
        def v(a: Array, b: Array) -> Array:
            return np.asarray(a * b / ((a + b) ** 2 * (a + b + 1)))

        return np.asarray(self.m**2 * (v(self.a_pre, self.b_pre) + v(self.a_post, self.b_post)))

    def span(self) -> tuple[float, float]:
        return -self.m, self.m
