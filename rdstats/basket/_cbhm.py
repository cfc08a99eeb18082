"""Calibrated Bayesian hierarchical model (Chu & Yuan 2018).

``logit p_j = theta_j``, ``theta_j ~ N(mu, sigma^2)``, ``mu ~ N(mu0, s0^2)``, where the
shrinkage variance is not estimated but set from the data's homogeneity:
``sigma^2 = exp(a + b log T)`` with ``T`` the Pearson chi-square statistic of the K x 2
table of responders and non-responders. ``(a, b)`` are calibrated by simulation
(:meth:`CalibratedBHM.calibrate`): ``T_H``, the median of ``T`` when every basket has the
target rate ``p1``, is mapped to a small variance (strong borrowing) and ``T_HE``, the
smallest median of ``T`` over the heterogeneous scenarios (each non-empty proper subset of
baskets at ``p1``, the others at ``p0``), to a large one (little borrowing).

Given ``sigma`` the posterior is computed deterministically on the logit grid: the
per-basket marginal likelihoods ``m_j(mu) = int L_j(x) N(x; mu, sigma^2) dx`` and the
posterior densities ``f_j(x) ∝ L_j(x) int N(x; mu, sigma^2) pi(mu) prod_{k != j} m_k(mu) dmu``
are Gaussian convolutions, done by FFT with the exact Gaussian transfer function
``exp(-sigma^2 omega^2 / 2)`` (so the rule stays exact as ``sigma -> 0``: full pooling),
with the likelihood's mass beyond the grid (r = 0 or r = n) added in closed form. ``mu`` is
restricted to the grid ([-12, 12] on the logit scale).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import fft as sfft
from scipy import special, stats

from rdstats._provenance import provenance
from rdstats._validation import as_float_array, as_int_array, readonly, real_number
from rdstats.basket._mem import check_counts, check_table
from rdstats.basket._posterior import LOGIT_GRID, BasketPosterior

Array = NDArray[np.float64]

__all__ = ["CalibratedBHM", "fixed_sigma_bhm", "homogeneity_statistic"]

_TINY = 1e-300


def homogeneity_statistic(r: ArrayLike, n: ArrayLike) -> Array:
    """Pearson chi-square statistic of homogeneity of the baskets' response rates
    (rows of ``r`` (M, K), ``n`` (K,)); baskets with n = 0 are left out, and T = 0 when
    every patient or none responded."""
    rr = np.atleast_2d(np.asarray(r, dtype=float))
    nn = np.asarray(n, dtype=float)
    tot = nn.sum()
    if tot == 0:
        return np.zeros(rr.shape[0])
    ph = rr.sum(axis=1, keepdims=True) / tot
    den = nn[None, :] * ph * (1.0 - ph)
    with np.errstate(divide="ignore", invalid="ignore"):
        cell = np.where(den > 0, (rr - nn[None, :] * ph) ** 2 / den, 0.0)
    return np.asarray(cell.sum(axis=1))


def fixed_sigma_bhm(
    r: NDArray[np.int64],
    n: NDArray[np.int64],
    sigma: Array,
    mu_prior: tuple[float, float],
    grid: Array = LOGIT_GRID,
) -> Array:
    """Kernel: posterior densities (M, K, G) of ``logit p_j`` on ``grid`` under the normal
    hierarchical model with known ``sigma`` (one per row of ``r`` (M, K))."""
    r = np.atleast_2d(r)
    m = r.shape[0]
    g = grid.size
    dx = float(grid[1] - grid[0])
    sig = np.broadcast_to(np.asarray(sigma, dtype=float), (m,))
    # circular convolution: padding by the kernel's reach (7 sd) on one side avoids wrap-around
    p = sfft.next_fast_len(int(g + np.ceil(7.0 * sig.max() / dx) + 1), real=True)
    omega = 2.0 * np.pi * sfft.rfftfreq(p, d=dx)
    transfer = np.exp(-0.5 * (sig[:, None] * omega[None, :]) ** 2)[:, None, :]  # (M, 1, F)

    def gauss_conv(y: Array) -> Array:
        return np.asarray(sfft.irfft(sfft.rfft(y, p, axis=-1) * transfer, p, axis=-1)[..., :g])

    f = n[None, :] - r
    lp = -np.logaddexp(0.0, -grid)
    lq = -np.logaddexp(0.0, grid)
    log_l = r[..., None] * lp + f[..., None] * lq
    nn = np.maximum(n, 1)[None, :]
    log_sup = special.xlogy(r, r / nn) + special.xlogy(f, f / nn)  # sup of the likelihood
    lik = np.exp(log_l - log_sup[..., None])  # (M, K, G), max 1
    marg = gauss_conv(lik)
    with np.errstate(divide="ignore", invalid="ignore"):
        z_lo = (grid[0] - dx / 2 - grid)[None, :] / sig[:, None]
        z_hi = (grid - grid[-1] - dx / 2)[None, :] / sig[:, None]
    marg += (r == 0)[..., None] * stats.norm.cdf(z_lo)[:, None, :]
    marg += (f == 0)[..., None] * stats.norm.cdf(z_hi)[:, None, :]
    marg = np.where((n == 0)[None, :, None], 1.0, marg)
    log_m = np.log(np.maximum(marg, _TINY))
    log_prior = stats.norm.logpdf(grid, mu_prior[0], mu_prior[1])
    total = log_prior[None, :] + log_m.sum(axis=1)  # (M, G): log p(mu | D) + const
    loo = total[:, None, :] - log_m
    h = np.exp(loo - loo.max(axis=-1, keepdims=True))
    mix = np.maximum(gauss_conv(h), 0.0)
    dens = lik * mix
    area = np.trapezoid(dens, grid, axis=-1)
    return np.asarray(dens / area[..., None])


def _summaries(dens: Array, p0: Array, grid: Array = LOGIT_GRID) -> tuple[Array, Array]:
    """Mean and P(p > p0) from densities (..., K, G) exactly as BasketPosterior does."""
    pr = special.expit(grid)
    mean = np.trapezoid(dens * pr, grid, axis=-1)
    inc = 0.5 * (dens[..., 1:] + dens[..., :-1]) * np.diff(grid)
    c = np.concatenate([np.zeros((*dens.shape[:-1], 1)), np.cumsum(inc, axis=-1)], axis=-1)
    c = c / c[..., -1:]
    # linear interpolation of the CDF at logit(p0) (as np.interp on the uniform grid)
    x = np.clip(special.logit(p0), grid[0], grid[-1])
    pos = (x - grid[0]) / (grid[1] - grid[0])
    i0 = np.minimum(np.floor(pos).astype(int), grid.size - 2)
    t = pos - i0
    kk = np.arange(dens.shape[-2])
    lo = np.take_along_axis(c, np.broadcast_to(i0[:, None], (*c.shape[:-1], 1)), -1)[..., 0]
    hi = np.take_along_axis(c, np.broadcast_to(i0[:, None] + 1, (*c.shape[:-1], 1)), -1)[..., 0]
    del kk
    out = 1.0 - ((1.0 - t) * lo + t * hi)
    return np.asarray(mean), np.asarray(out)


@dataclass(frozen=True)
class CalibratedBHM:
    """Calibrated Bayesian hierarchical model for basket trials (Chu & Yuan 2018).

    Parameters
    ----------
    a, b : float
        Calibrated coefficients of ``sigma^2 = exp(a + b log T)`` (see :meth:`calibrate`).
    mu_prior : (mean, sd)
        Normal prior of the common mean ``mu`` on the logit scale (default ``(0, 10)``).
    sigma2_max : float
        Upper bound on ``sigma^2`` (default 100: beyond it the baskets are practically
        analysed separately).

    References
    ----------
    Chu Y, Yuan Y (2018). A Bayesian basket trial design using a calibrated Bayesian
    hierarchical model. Clinical Trials 15:149-158.

    Examples
    --------
    >>> from rdstats.basket import CalibratedBHM
    >>> a, b = CalibratedBHM.calibrate([20, 20, 20], 0.15, 0.35, n_sim=2000, rng=1)
    >>> round(a, 2), round(b, 2)
    (-1.58, 4.43)
    >>> post = CalibratedBHM(a, b).fit([3, 4, 9], [20, 20, 20])
    >>> post.mean().round(3)
    array([0.151, 0.2  , 0.45 ])
    """

    a: float
    b: float
    mu_prior: tuple[float, float] = (0.0, 10.0)
    sigma2_max: float = 100.0

    def __post_init__(self) -> None:
        real_number(self.a, "a")
        real_number(self.b, "b")
        mp = as_float_array(self.mu_prior, "mu_prior")
        if mp.shape != (2,) or mp[1] <= 0:
            raise ValueError(f"mu_prior must be (mean, sd) with sd > 0, got {self.mu_prior!r}")
        if real_number(self.sigma2_max, "sigma2_max") <= 0:
            raise ValueError(f"sigma2_max must be > 0, got {self.sigma2_max!r}")

    # ------------------------------------------------------------------ calibration
    @staticmethod
    def calibrate(
        n: ArrayLike,
        p0: ArrayLike,
        p1: ArrayLike,
        *,
        sigma2_homogeneous: float = 1.0,
        sigma2_heterogeneous: float = 80.0,
        n_sim: int = 10_000,
        rng: int | np.random.SeedSequence | np.random.Generator | None = None,
    ) -> tuple[float, float]:
        """Calibrate ``(a, b)`` by the paper's simulation procedure.

        ``T_H`` = median of ``T`` with every basket at ``p1``; ``T_HE`` = the smallest
        median of ``T`` over the scenarios with a non-empty proper subset of baskets at
        ``p1`` and the others at ``p0``. Then ``b = log(s2_HE / s2_H) / log(T_HE / T_H)``
        and ``a = log(s2_H) - b log(T_H)``.
        """
        nn = np.atleast_1d(as_int_array(n, "n"))
        k = nn.size
        if k < 2:
            raise ValueError(f"calibration needs at least 2 baskets, got n={nn.tolist()}")
        q0 = np.broadcast_to(as_float_array(p0, "p0"), (k,))
        q1 = np.broadcast_to(as_float_array(p1, "p1"), (k,))
        for nm, q in (("p0", q0), ("p1", q1)):
            if ((q <= 0) | (q >= 1)).any():
                raise ValueError(f"{nm} must be strictly between 0 and 1, got {q.tolist()}")
        if np.allclose(q0, q1):
            raise ValueError(f"p1 must differ from p0, got p0={q0.tolist()}, p1={q1.tolist()}")
        s2h = real_number(sigma2_homogeneous, "sigma2_homogeneous")
        s2e = real_number(sigma2_heterogeneous, "sigma2_heterogeneous")
        if not 0 < s2h < s2e:
            raise ValueError(
                "need 0 < sigma2_homogeneous < sigma2_heterogeneous, got "
                f"{sigma2_homogeneous!r}, {sigma2_heterogeneous!r}"
            )
        if isinstance(n_sim, bool) or not isinstance(n_sim, (int, np.integer)) or n_sim < 10:
            raise ValueError(f"n_sim must be an integer >= 10, got {n_sim!r}")
        if k > 12:
            raise ValueError(f"calibration enumerates 2^K scenarios and allows K <= 12, got {k}")
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        t_h = float(np.median(homogeneity_statistic(gen.binomial(nn, q1, (n_sim, k)), nn)))
        meds = []
        for code in range(1, 2**k - 1):
            active = ((code >> np.arange(k)) & 1).astype(bool)
            pr = np.where(active, q1, q0)
            meds.append(np.median(homogeneity_statistic(gen.binomial(nn, pr, (n_sim, k)), nn)))
        t_he = float(min(meds))
        if not 0 < t_h < t_he:
            raise ValueError(
                f"calibration failed: median T under homogeneity ({t_h:.4g}) must be positive "
                f"and below the smallest heterogeneous median ({t_he:.4g}); increase n or "
                f"the difference p1 - p0"
            )
        b = float(np.log(s2e / s2h) / np.log(t_he / t_h))
        a = float(np.log(s2h) - b * np.log(t_h))
        return a, b

    # ------------------------------------------------------------------ analysis
    def sigma2(self, r: ArrayLike, n: ArrayLike) -> Array:
        """Shrinkage variance ``exp(a + b log T)`` (capped at ``sigma2_max``) per row."""
        t = homogeneity_statistic(r, n)
        with np.errstate(divide="ignore", over="ignore"):
            s2 = np.exp(float(self.a) + float(self.b) * np.log(t))
        return np.asarray(np.minimum(s2, float(self.sigma2_max)))

    def fit(
        self, r: ArrayLike, n: ArrayLike, names: Sequence[str] | None = None
    ) -> BasketPosterior:
        """Posterior of every basket's response rate (deterministic quadrature)."""
        rr, nn, labels = check_counts(r, n, names)
        s2 = self.sigma2(rr[None, :], nn)
        mp = (float(self.mu_prior[0]), float(self.mu_prior[1]))
        dens = fixed_sigma_bhm(rr[None, :], nn, np.sqrt(s2), mp)[0]
        t = float(homogeneity_statistic(rr[None, :], nn)[0])
        extra: dict[str, Any] = {"T": t, "sigma2": float(s2[0])}
        return BasketPosterior(
            model="CalibratedBHM",
            r=readonly(rr),
            n=readonly(nn),
            names=labels,
            grid=LOGIT_GRID,
            density=dens,
            extra=extra,
            provenance=provenance(
                {
                    "model": "CalibratedBHM",
                    "a": float(self.a),
                    "b": float(self.b),
                    "mu_prior": list(mp),
                    "sigma2_max": float(self.sigma2_max),
                    "r": rr.tolist(),
                    "n": nn.tolist(),
                }
            ),
        )

    def posterior_table(
        self, r: ArrayLike, n: ArrayLike, p0: ArrayLike, *, batch: int = 64
    ) -> dict[str, Array]:
        """Posterior means and P(p_j > p0_j) for outcome rows ``r`` (M, K), computed in
        batches with the same quadrature as :meth:`fit` (distinct rows analysed once)."""
        rr, nn, q = check_table(r, n, p0)
        uniq, inv = np.unique(rr, axis=0, return_inverse=True)
        mp = (float(self.mu_prior[0]), float(self.mu_prior[1]))
        s = np.sqrt(self.sigma2(uniq, nn))
        order = np.argsort(s, kind="stable")  # batches of similar sigma share an FFT size
        uniq, s = uniq[order], s[order]
        inv = np.argsort(order)[inv.ravel()]
        mean = np.empty(uniq.shape)
        tail = np.empty(uniq.shape)
        for i in range(0, len(uniq), batch):
            d = fixed_sigma_bhm(uniq[i : i + batch], nn, s[i : i + batch], mp)
            mean[i : i + batch], tail[i : i + batch] = _summaries(d, q)
        return {"mean": readonly(mean[inv]), "prob_above": readonly(tail[inv])}
