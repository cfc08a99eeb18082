"""The MAP prior as a distribution of the new study's parameter: a normal mixture on the
link scale (deterministic method) or predictive draws (MCMC), with summaries on the
response scale (probability, rate or mean)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from rdstats.borrowing._kernels import gh_rule
from rdstats.priors import NormalMixture

Array = NDArray[np.float64]
_SQRT_2PI = math.sqrt(2.0 * math.pi)

__all__ = ["LinkMixture", "LinkSample", "Predictive", "mixture_quantiles"]


def _to_link(family: str, x: Any) -> Array:
    x = np.asarray(x, dtype=float)
    if family == "binomial":
        return np.asarray(special.logit(x), dtype=float)
    if family == "poisson":
        with np.errstate(divide="ignore"):
            return np.log(x)
    return x


def _to_response(family: str, theta: Any) -> Array:
    theta = np.asarray(theta, dtype=float)
    if family == "binomial":
        return np.asarray(special.expit(theta), dtype=float)
    if family == "poisson":
        return np.exp(theta)
    return theta


def mixture_quantiles(w: Array, m: Array, s: Array, levels: Sequence[float] | Array) -> Array:
    """Quantiles of normal mixtures ``sum_c w_c N(m_c, s_c^2)`` (``s_c`` may be 0: point
    masses). ``m`` and ``s`` are (C,) or (C, H); returns (len(levels),) or
    (H, len(levels)).

    Vectorised safeguarded Newton (the mixture density is the derivative) from the
    quantile of the moment-matched normal, falling back to bisection of the bracket when
    a step leaves it or fails to halve the step before last, until F(x) = q to the
    precision of F or the step is below double precision of x (a quantile on a point mass
    converges by bisection).
    """
    m2 = m.reshape(m.shape[0], -1)
    s2 = np.broadcast_to(s.reshape(s.shape[0], -1), m2.shape)
    q = np.asarray(levels, dtype=float)
    shape = (m2.shape[1], q.size)
    lo = np.broadcast_to((m2 - 10 * s2).min(axis=0)[:, None] - 1e-9, shape).copy()
    hi = np.broadcast_to((m2 + 10 * s2).max(axis=0)[:, None] + 1e-9, shape).copy()
    pos = s2 > 0
    safe = np.where(pos, s2, 1.0)
    wpdf = w[:, None] / (safe * _SQRT_2PI)

    def cdf_pdf(x: Array) -> tuple[Array, Array]:
        z = (x[None, :, :] - m2[:, :, None]) / safe[:, :, None]
        z = np.where(pos[:, :, None], z, np.where(x[None] >= m2[:, :, None], np.inf, -np.inf))
        cdf = np.einsum("c,chq->hq", w, special.ndtr(z))
        dens = np.einsum("ch,chq->hq", np.where(pos, wpdf, 0.0), np.exp(-0.5 * z * z))
        return cdf, dens

    # start at the quantile of the moment-matched normal, inside the bracket
    mean = w @ m2
    sd = np.sqrt(np.maximum(w @ (s2**2 + m2**2) - mean**2, 0.0))
    x = np.clip(mean[:, None] + sd[:, None] * special.ndtri(q), lo, hi)
    dx_old = dx = hi - lo
    done = np.zeros(x.shape, dtype=bool)
    eps = np.finfo(float).eps
    for _ in range(100):  # (a quantile on a point mass converges by bisection)
        cdf, dens = cdf_pdf(x)
        below = cdf < q
        lo = np.where(below, x, lo)
        hi = np.where(below, hi, x)
        mid = (lo + hi) / 2
        tol = 4 * eps * np.maximum(1.0, np.abs(x))
        # F(x) = q to the precision of F, or the bracket at double precision of x
        done |= (np.abs(cdf - q) <= 8 * eps) | (hi - lo <= tol)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = (q - cdf) / dens
        # Newton inside the bracket and at least halving the step before last, else bisect
        ok = (
            np.isfinite(step) & (x + step >= lo) & (x + step <= hi) & (np.abs(step) <= 0.5 * dx_old)
        )
        x_new = np.where(done, x, np.where(ok, x + step, mid))
        done |= ok & (np.abs(step) <= tol)  # a Newton step below double precision of x
        dx_old, dx = dx, np.abs(x_new - x)
        x = x_new
        if done.all():
            break
    return x[0] if m.ndim == 1 else x


def _banded_density(theta: Array, w: Array, m: Array, s: Array) -> Array:
    """``sum_c w_c N(theta; m_c, s_c^2)`` on a uniform grid ``theta``, each component
    evaluated only within 9 SD of its mean (beyond, its density is below e^-40 of its
    peak): components are grouped by the window they need (powers of two grid points)."""
    n = theta.size
    step = theta[1] - theta[0]
    need = np.ceil(18.0 * s / step).astype(np.int64) + 2
    out = np.zeros(n)
    dense = need >= n // 2
    if dense.any():
        z = (theta[:, None] - m[dense]) / s[dense]
        out += np.exp(-0.5 * z * z) @ (w[dense] / s[dense])
    width = np.maximum(1 << np.ceil(np.log2(np.maximum(need, 2))).astype(np.int64), 4)
    for wd in np.unique(width[~dense]):
        sel = (~dense) & (width == wd)
        start = np.clip(np.floor((m[sel] - theta[0]) / step).astype(np.int64) - wd // 2, 0, n - wd)
        idx = start[:, None] + np.arange(wd)
        z = (theta[idx] - m[sel, None]) / s[sel, None]
        vals = np.exp(-0.5 * z * z) * (w[sel] / s[sel])[:, None]
        out += np.bincount(idx.ravel(), weights=vals.ravel(), minlength=n)
    return out


def _dlink(family: str, x: Array) -> Array:
    """|d link / dx| (Jacobian from the link scale to the response scale)."""
    if family == "binomial":
        return 1.0 / (x * (1.0 - x))
    if family == "poisson":
        return 1.0 / x
    return np.ones_like(x)


class Predictive:
    """Distribution of the new study's parameter (abstract): ``link`` methods are on the
    link scale, the others on the response scale."""

    family: str

    def link_cdf(self, theta: Array) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def link_ppf(self, q: Array) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def link_draws(self, size: int, rng: np.random.Generator) -> Array:  # pragma: no cover
        raise NotImplementedError

    def moments(self) -> tuple[float, float]:  # pragma: no cover - abstract
        """Mean and SD on the response scale."""
        raise NotImplementedError

    def link_moments(self) -> tuple[float, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def pdf(self, x: ArrayLike) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def points(self) -> tuple[Array, Array | None]:  # pragma: no cover - abstract
        """Points (response scale) and weights for fitting a parametric mixture."""
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------
    def cdf(self, x: ArrayLike) -> Array:
        xa = np.asarray(x, dtype=float)
        if self.family == "normal":
            return self.link_cdf(xa)
        hi = np.inf if self.family == "poisson" else 1.0
        inside = (xa > 0) & (xa < hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            val = self.link_cdf(_to_link(self.family, np.where(inside, xa, 0.5)))
        return np.where(inside, val, np.where(xa <= 0, 0.0, 1.0))

    def ppf(self, q: ArrayLike) -> Array:
        return _to_response(self.family, self.link_ppf(np.asarray(q, dtype=float)))

    def sample(self, size: int, rng: np.random.Generator) -> Array:
        return _to_response(self.family, self.link_draws(size, rng))


class LinkMixture(Predictive):
    """Normal mixture on the link scale (deterministic MAP)."""

    def __init__(self, family: str, mixture: NormalMixture) -> None:
        self.family = family
        self.mixture = mixture
        self._w = np.asarray(mixture.weights)
        self._m = np.asarray(mixture.mean).view(np.ndarray)
        self._s = np.asarray(mixture.sd).view(np.ndarray)

    def link_cdf(self, theta: Array) -> Array:
        t = np.asarray(theta, dtype=float)
        return np.asarray(special.ndtr((t[..., None] - self._m) / self._s) @ self._w)

    def link_pdf(self, theta: Array) -> Array:
        t = np.asarray(theta, dtype=float)
        z = (t[..., None] - self._m) / self._s
        return np.asarray(np.exp(-0.5 * z * z) @ (self._w / (self._s * _SQRT_2PI)))

    def link_ppf(self, q: Array) -> Array:
        qa = np.asarray(q, dtype=float)
        inner = (qa > 0) & (qa < 1)
        if not inner.all():
            return np.asarray(self.mixture.ppf(q), dtype=float)
        return mixture_quantiles(self._w, self._m, self._s, qa.ravel()).reshape(qa.shape)

    def link_draws(self, size: int, rng: np.random.Generator) -> Array:
        comp = rng.choice(self._w.size, size=size, p=self._w)
        return self._m[comp] + self._s[comp] * rng.standard_normal(size)

    def link_moments(self) -> tuple[float, float]:
        return float(self.mixture.mean()), float(self.mixture.sd())

    def moments(self) -> tuple[float, float]:
        if self.family == "normal":
            return self.link_moments()
        if self.family == "poisson":
            m1 = np.exp(self._m + self._s**2 / 2) @ self._w
            m2 = np.exp(2 * self._m + 2 * self._s**2) @ self._w
        else:
            x, logw = gh_rule(40)
            p = special.expit(self._m[:, None] + math.sqrt(2.0) * self._s[:, None] * x)
            wq = np.exp(logw) / math.sqrt(math.pi)
            m1 = (p @ wq) @ self._w
            m2 = ((p**2) @ wq) @ self._w
        return float(m1), float(math.sqrt(max(m2 - m1**2, 0.0)))

    def pdf(self, x: ArrayLike) -> Array:
        xa = np.asarray(x, dtype=float)
        inside = (xa > 0) & (xa < 1) if self.family == "binomial" else xa > 0
        if self.family == "normal":
            inside = np.isfinite(xa)
        safe = np.where(inside, xa, 0.5)
        dens = self.link_pdf(_to_link(self.family, safe)) * _dlink(self.family, safe)
        return np.where(inside, dens, 0.0)

    def points(self) -> tuple[Array, Array | None]:
        lo, hi = self.link_ppf(np.array([1e-7, 1 - 1e-7]))
        theta = np.linspace(lo, hi, 301)
        # components below 1e-9 of the largest weight cannot move an EM fit
        big = self._w > 1e-9 * self._w.max()
        w = _banded_density(theta, self._w[big], self._m[big], self._s[big])
        w = w / w.sum()
        return _to_response(self.family, theta), w


class LinkSample(Predictive):
    """Predictive draws on the link scale (MCMC MAP)."""

    def __init__(self, family: str, mean: Array, tau: Array, draws: Array) -> None:
        self.family = family
        self._mean = np.asarray(mean, dtype=float)  # per posterior draw
        self._tau = np.asarray(tau, dtype=float)
        self._draws = np.sort(np.asarray(draws, dtype=float))

    def link_cdf(self, theta: Array) -> Array:
        t = np.asarray(theta, dtype=float)
        return np.searchsorted(self._draws, t, side="right") / self._draws.size

    def link_ppf(self, q: Array) -> Array:
        return np.asarray(np.quantile(self._draws, q), dtype=float)

    def link_draws(self, size: int, rng: np.random.Generator) -> Array:
        i = rng.integers(0, self._mean.size, size)
        return self._mean[i] + self._tau[i] * rng.standard_normal(size)

    def link_moments(self) -> tuple[float, float]:
        # Rao-Blackwellised over the normal predictive of every posterior draw
        m = float(self._mean.mean())
        v = float(np.mean(self._tau**2 + self._mean**2) - m**2)
        return m, math.sqrt(max(v, 0.0))

    def moments(self) -> tuple[float, float]:
        x = _to_response(self.family, self._draws)
        return float(x.mean()), float(x.std(ddof=1))

    def pdf(self, x: ArrayLike) -> Array:
        xa = np.asarray(x, dtype=float)
        theta = _to_link(self.family, np.clip(xa, 1e-300, None) if self.family != "normal" else xa)
        # Rao-Blackwellised density: average of the normal predictive of every draw
        tau = np.maximum(self._tau, 1e-12)
        dens = np.mean(stats.norm.pdf(theta[..., None], self._mean, tau), axis=-1)
        ok = np.isfinite(theta)
        return np.where(ok, dens * _dlink(self.family, np.where(ok, xa, 0.5)), 0.0)

    def points(self) -> tuple[Array, Array | None]:
        return _to_response(self.family, self._draws), None
