"""Conjugate posteriors of multi-arm designs, vectorised over simulated trials.

Binary endpoints (beta-mixture priors): the posterior of an arm depends only on its
state ``(n, r)``, so each distinct state gets one row of tables on a fixed composite
Gauss-Legendre grid over (0, 1) — density times quadrature weight, cdf, and the
survival function shifted by every margin the design uses. Comparisons are then dot
products over the grid, computed once per distinct pair of states:

    P(p_k > p_c + δ) = ∫ f_c(x) S_k(x + δ) dx,
    P(arm k is best) = ∫ f_k(x) Π_{j ≠ k} F_j(x) dx.

Normal endpoints (normal-mixture priors, known σ): pairwise probabilities are closed
forms summed over component pairs; P(best) is Gauss-Hermite quadrature over each
component of arm k. Rows are cached for the life of the object (states recur across
looks, batches and scenarios).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

Array = NDArray[np.float64]
IntArray = NDArray[np.int64]
_NODES_PER_PANEL = 8
_HERMITE_NODES = 40
_CHUNK = 4096
MAX_ROWS = 50_000  # cached binary states (~0.2 GB of tables per margin at 512 nodes)


def _log(w: Any) -> Array:
    """log of mixture weights; a zero weight gives -inf (that component never counts)."""
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(w, dtype=float))


def legendre_grid(n_panels: int) -> tuple[Array, Array]:
    """Composite Gauss-Legendre nodes and weights on (0, 1)."""
    x0, w0 = special.roots_legendre(_NODES_PER_PANEL)
    edges = np.linspace(0.0, 1.0, n_panels + 1)
    h = np.diff(edges)[:, None]
    x = edges[:-1, None] + h * (x0 + 1.0) / 2.0
    w = h * w0 / 2.0
    return x.ravel(), w.ravel()


class BetaTables:
    """Posterior tables per binary arm state, grown on demand.

    ``priors`` are the beta mixtures of the groups (0 = control, 1 = active arms);
    ``deltas`` the margins δ for which comparison tables are kept. For each δ the
    control's density is tabulated on a grid over the interval where
    ``0 < S_k(x + δ) < 1`` can hold, ``[max(0, −δ), min(1, 1 − δ)]`` (so the integrand
    has no kink inside a panel), the arm's survival at ``x + δ``, and the mass
    ``F_c(−δ)`` below that interval (where ``S_k = 1``).
    """

    def __init__(
        self, priors: Sequence[Any], n_max: int, deltas: Sequence[float], n_panels: int
    ) -> None:
        self.priors = [(_log(p.weights), np.asarray(p.a), np.asarray(p.b)) for p in priors]
        self.n_max = int(n_max)
        self.deltas = tuple(sorted({float(d) for d in deltas}))
        self.x, self.w = legendre_grid(n_panels)
        self._reset()

    def _reset(self) -> None:
        g = self.x.size
        self.keys = np.empty(0, dtype=np.int64)  # sorted state keys ...
        self.key_rows = np.empty(0, dtype=np.int64)  # ... and their table rows
        self.dens = np.empty((0, g))
        self.cdf = np.empty((0, g))
        self.dens_d = {d: np.empty((0, g)) for d in self.deltas}
        self.surv_d = {d: np.empty((0, g)) for d in self.deltas}
        self.mass_d = {d: np.empty(0) for d in self.deltas}
        self.means = np.empty(0)
        self.n_rows = 0

    def __getstate__(self) -> dict[str, Any]:  # tables are rebuilt where they are used
        return {k: self.__dict__[k] for k in ("priors", "n_max", "deltas", "x", "w")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset()

    def _components(self, group: int, n: IntArray, r: IntArray) -> tuple[Array, Array, Array]:
        logw, a, b = self.priors[group]
        ap = np.asarray(a + r[:, None], dtype=float)
        bp = np.asarray(b + (n - r)[:, None], dtype=float)
        lw = logw + special.betaln(ap, bp) - special.betaln(a, b)
        lw -= lw.max(axis=1, keepdims=True)
        w = np.exp(lw)
        return w / w.sum(axis=1, keepdims=True), ap, bp

    def _add(self, group: int, n: IntArray, r: IntArray) -> None:
        w, a, b = self._components(group, n, r)
        aa, bb, ww = a[:, None, :], b[:, None, :], w[:, None, :]

        def pdf(x: Array) -> Array:
            xx = x[None, :, None]
            logpdf = (aa - 1) * np.log(xx) + (bb - 1) * np.log1p(-xx) - special.betaln(aa, bb)
            return np.asarray((ww * np.exp(logpdf)).sum(axis=2))

        def cdf(x: Array, upper: bool = False) -> Array:
            xx = np.clip(x, 0.0, 1.0)[None, :, None]
            f = special.betaincc if upper else special.betainc
            return np.asarray((ww * f(aa, bb, xx)).sum(axis=2))

        self.dens = np.concatenate([self.dens, pdf(self.x) * self.w])
        self.cdf = np.concatenate([self.cdf, cdf(self.x)])
        for d in self.deltas:
            lo, hi = max(0.0, -d), min(1.0, 1.0 - d)
            x = lo + (hi - lo) * self.x
            self.dens_d[d] = np.concatenate([self.dens_d[d], pdf(x) * (hi - lo) * self.w])
            self.surv_d[d] = np.concatenate([self.surv_d[d], cdf(x + d, upper=True)])
            mass = cdf(np.array([lo]))[:, 0] if d < 0 else np.zeros(n.size)
            self.mass_d[d] = np.concatenate([self.mass_d[d], mass])
        self.means = np.concatenate([self.means, (w * a / (a + b)).sum(axis=1)])

    def rows(self, group: int, n: IntArray, r: IntArray) -> IntArray:
        """Table rows of the states ``(n, r)`` of one group (created when missing)."""
        side = self.n_max + 1
        key = (group * side + np.asarray(n, dtype=np.int64)) * side + np.asarray(r, np.int64)
        pos = np.minimum(np.searchsorted(self.keys, key), max(self.keys.size - 1, 0))
        found = self.keys[pos] == key if self.keys.size else np.zeros(key.shape, dtype=bool)
        if not found.all():
            new = np.unique(key[~found])
            nn, rr = (new // side) % side, new % side
            rows = np.arange(self.n_rows, self.n_rows + new.size)
            self.n_rows += new.size
            self._add(group, nn, rr)
            keys = np.concatenate([self.keys, new])
            order = np.argsort(keys, kind="stable")
            self.keys = keys[order]
            self.key_rows = np.concatenate([self.key_rows, rows])[order]
            pos = np.searchsorted(self.keys, key)
        return np.asarray(self.key_rows[pos])

    def trim(self, max_rows: int = MAX_ROWS) -> None:
        """Drop every table when more than ``max_rows`` states are cached (call only
        between looks: rows handed out before are invalid afterwards)."""
        if self.n_rows > max_rows:
            self._reset()

    def mean(self, rows: IntArray) -> Array:
        return self.means[rows]

    def prob_greater(self, rows_k: IntArray, rows_c: IntArray, delta: float) -> Array:
        """P(θ_k > θ_c + δ) per trial."""
        d = float(delta)
        dens, surv, mass = self.dens_d[d], self.surv_d[d], self.mass_d[d]
        pair = rows_k * max(self.n_rows, 1) + rows_c
        uniq, inv = np.unique(pair, return_inverse=True)
        uk, uc = uniq // max(self.n_rows, 1), uniq % max(self.n_rows, 1)
        out = np.empty(uniq.size)
        for s in range(0, uniq.size, _CHUNK):
            sl = slice(s, s + _CHUNK)
            out[sl] = mass[uc[sl]] + np.einsum("ij,ij->i", dens[uc[sl]], surv[uk[sl]])
        return np.clip(out[inv.ravel()], 0.0, 1.0)

    def prob_best(self, rows: IntArray, active: NDArray[np.bool_]) -> Array:
        """P(arm k is best among the active arms) per trial, ``rows`` of shape (T, K)."""
        keyed = np.where(active, rows, -1)
        uniq, inv = np.unique(keyed, axis=0, return_inverse=True)
        t, k = uniq.shape
        out = np.zeros((t, k))
        for s in range(0, t, _CHUNK):
            sl = slice(s, s + _CHUNK)
            act = uniq[sl] >= 0
            r = np.maximum(uniq[sl], 0)
            cdf = np.where(act[:, :, None], self.cdf[r], 1.0)
            dens = self.dens[r]
            for j in range(k):
                others = np.prod(cdf[:, [i for i in range(k) if i != j]], axis=1)
                out[sl, j] = np.where(act[:, j], np.einsum("ij,ij->i", dens[:, j], others), 0.0)
        tot = out.sum(axis=1, keepdims=True)
        out = np.where(tot > 0, out / np.where(tot > 0, tot, 1.0), 0.0)
        return out[inv.ravel()]


class NormalPosteriors:
    """Normal-mixture posteriors of arm means with known σ (no tables needed)."""

    def __init__(self, priors: Sequence[Any], sigma: float) -> None:
        self.priors = [
            (np.asarray(p.weights), np.asarray(p.mean, float), np.asarray(p.sd, float))
            for p in priors
        ]
        self.sigma = float(sigma)
        z, wz = special.roots_hermitenorm(_HERMITE_NODES)
        self.z, self.wz = z, wz / np.sqrt(2 * np.pi)

    def components(self, group: int, n: Array, total: Array) -> tuple[Array, Array, Array]:
        """Posterior weights, means and SDs (T, J) from ``n`` patients with sum ``total``."""
        w0, m0, s0 = self.priors[group]
        n = np.asarray(n, float)[:, None]
        tot = np.asarray(total, float)[:, None]
        s2 = self.sigma**2
        prec = 1.0 / s0**2 + n / s2
        mean = (m0 / s0**2 + tot / s2) / prec
        var_sum = np.where(n > 0, n * n * s0**2 + n * s2, 1.0)
        resid = np.where(n > 0, tot - n * m0, 0.0)
        lw = _log(w0) - 0.5 * resid**2 / var_sum - 0.5 * np.log(var_sum)
        lw -= lw.max(axis=1, keepdims=True)
        w = np.exp(lw)
        return w / w.sum(axis=1, keepdims=True), mean, 1.0 / np.sqrt(prec)

    @staticmethod
    def mean(post: tuple[Array, Array, Array]) -> Array:
        w, m, _ = post
        return np.asarray((w * m).sum(axis=1))

    @staticmethod
    def prob_greater(
        post_k: tuple[Array, Array, Array], post_c: tuple[Array, Array, Array], delta: float
    ) -> Array:
        """P(μ_k > μ_c + δ) per trial (closed form over component pairs)."""
        wk, mk, sk = (a[:, :, None] for a in post_k)
        wc, mc, sc = (a[:, None, :] for a in post_c)
        z = (mk - mc - delta) / np.sqrt(sk**2 + sc**2)
        return np.clip((wk * wc * special.ndtr(z)).sum(axis=(1, 2)), 0.0, 1.0)

    def prob_best(
        self, posts: Sequence[tuple[Array, Array, Array]], active: NDArray[np.bool_]
    ) -> Array:
        """P(arm k is best among the active arms) per trial (Gauss-Hermite)."""
        k = len(posts)
        t = active.shape[0]
        out = np.zeros((t, k))
        for i, (wi, mi, si) in enumerate(posts):
            x = mi[:, :, None] + si[:, :, None] * self.z  # (T, J, H)
            prod = np.ones_like(x)
            for j, (wj, mj, sj) in enumerate(posts):
                if j == i:
                    continue
                cdf = (
                    wj[:, None, None, :]
                    * special.ndtr((x[..., None] - mj[:, None, None, :]) / sj[:, None, None, :])
                ).sum(axis=3)
                prod *= np.where(active[:, j, None, None], cdf, 1.0)
            val = (wi[:, :, None] * prod * self.wz).sum(axis=(1, 2))
            out[:, i] = np.where(active[:, i], val, 0.0)
        tot = out.sum(axis=1, keepdims=True)
        return np.where(tot > 0, out / np.where(tot > 0, tot, 1.0), 0.0)
