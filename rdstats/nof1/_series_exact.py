"""Deterministic computation for a series of n-of-1 patients: each patient's exact jump
likelihood (summed over the change visit and the nuisance grid) on a common grid, and the
normal-normal hierarchical posterior of (mu, tau), of the patients' jumps and of the next
patient's jump (kernel layer: numpy/scipy, no validation).

Each patient's likelihood of the jump ``d`` is

    L_i(d) = sum_g sum_j pi_g pi_j p(y_i | change at j, grid value g, jump d)

with the patient's own change-time prior ``pi_j`` and nuisance-grid prior ``pi_g`` (the
AR(1) coefficient or the count trend) and every other parameter integrated out under the
detector's priors; only the detector's prior of the jump is replaced by the hierarchical
one. Normal family (see :mod:`rdstats.nof1._normal_kernel`): with the jump fixed, the
level (and trend) are integrated under their flat priors, ``sigma`` under
``p(sigma^2) ∝ 1/sigma^2`` and a slope change under its sigma-scaled normal prior, so
``p(y | j, rho, d) ∝ |A|^-1/2 |L| [v_g S_gg]^-1/2 Q_j(d)^(-nu/2)`` with ``Q_j`` quadratic in
``d``: a Student-t kernel (``nu - 1`` df). Its coefficients are recovered exactly from the
detector's closed forms (marginal likelihood and the jump's posterior t). Counts: the jump
is the log rate ratio ``theta``; with the pre-change rate ``~ Ga(a, b)`` as in the detector
and the post-change rate ``e^theta`` times it, ``p(y | j, beta, theta) = b^a Gamma(A) /
Gamma(a) e^(theta s_post) / (b + e_pre + e^theta e_post)^A``, ``A = a + s_pre + s_post``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special, stats

from rdstats.borrowing._hyperpriors import TauPrior
from rdstats.borrowing._map_exact import _panels

Array = NDArray[np.float64]

__all__ = ["Posterior", "flat_tail", "jump_likelihood", "posterior_on_grid"]

_MAX_GRID = 2**15
_PRUNE = 40.0  # components whose mass is below e^-40 of the largest are dropped


@dataclass(frozen=True)
class Likelihood:
    """A patient's jump likelihood as a sum of kernels (log-scale parameters)."""

    family: str
    log_h: Array  # log height (normal: at the kernel's centre)
    centre: Array
    width: Array  # a scale of each kernel (for the grid)
    tail: float  # kernel scales to cover on either side
    a: Array  # normal: curvature; poisson: log(B)
    b: Array  # normal: Qmin; poisson: log(e_post)
    c: Array  # normal: unused (0); poisson: s_post
    d: Array  # poisson: A
    nu: float

    def log_eval(self, x: Array) -> Array:
        out = np.full(x.size, -np.inf)
        step = max(1, 2_000_000 // max(x.size, 1))
        for s in range(0, self.log_h.size, step):
            sl = slice(s, s + step)
            if self.family == "normal":
                z = self.a[sl, None] * (x[None, :] - self.centre[sl, None]) ** 2 / self.b[sl, None]
                terms = self.log_h[sl, None] - 0.5 * self.nu * np.log1p(z)
            else:
                terms = (
                    self.log_h[sl, None]
                    + self.c[sl, None] * x[None, :]
                    - self.d[sl, None]
                    * np.logaddexp(self.a[sl, None], self.b[sl, None] + x[None, :])
                )
            top = terms.max(axis=0)
            top = np.where(np.isfinite(top), top, 0.0)
            out = np.logaddexp(out, top + np.log(np.exp(terms - top).sum(axis=0)))
        return out


def _normal_likelihood(res: Any) -> Likelihood:
    fit, opts = res.fit, res.options
    nu = float(fit.components.df)
    slope = bool(opts["slope"])
    vd = float(opts["v_delta"])
    diff = fit.log_m_change - fit.log_m_null[:, None]  # (G, n)
    ok = np.isfinite(diff) & (res.prior[None, :] > 0)
    if slope:
        mean, scale, _ = fit.joint
        vg = float(opts["v_gamma"])
        m = mean[ok]  # (C, 2)
        sc = scale[ok]
        det = sc[:, 0, 0] * sc[:, 1, 1] - sc[:, 0, 1] ** 2
        p_mat = (
            np.stack(
                [
                    np.stack([sc[:, 1, 1], -sc[:, 0, 1]], -1),
                    np.stack([-sc[:, 1, 0], sc[:, 0, 0]], -1),
                ],
                -2,
            )
            / det[:, None, None]
        )
        mpm = np.einsum("ci,cij,cj->c", m, p_mat, m)
        log_det_p = -np.log(det)
        log_det_s = -2 * diff[ok] - math.log(vd) - math.log(vg) - nu * np.log(nu / (nu + mpm))
        k = np.exp((log_det_s - log_det_p) / 2)
        s_mat = k[:, None, None] * p_mat
        r = np.einsum("cij,cj->ci", s_mat, m)
        ssr0 = k * (nu + mpm)
        s_gg = s_mat[:, 1, 1]
        s_dg = s_mat[:, 0, 1]
        a = s_mat[:, 0, 0] - 1.0 / vd - s_dg**2 / s_gg
        b = r[:, 0] - r[:, 1] * s_dg / s_gg
        c0 = ssr0 - r[:, 1] ** 2 / s_gg
        extra = -0.5 * np.log(vg * s_gg)
    else:
        m = fit.components.loc[ok]
        sc2 = fit.components.scale[ok] ** 2
        mpm = m**2 / sc2
        log_det_s = -2 * diff[ok] - math.log(vd) - nu * np.log(nu / (nu + mpm))
        k = np.exp(log_det_s) * sc2
        s1 = k / sc2
        a = s1 - 1.0 / vd
        b = s1 * m
        c0 = k * (nu + mpm)
        ssr0 = c0
        extra = np.zeros(m.size)
    centre = b / a
    qmin = np.maximum(c0 - b**2 / a, 1e-300 * c0)
    log_null = (fit.log_m_null + fit.log_grid_prior)[:, None] + np.log(
        np.where(res.prior > 0, res.prior, 1.0)
    )[None, :]
    log_h = log_null[ok] + extra - 0.5 * nu * (np.log(qmin) - np.log(ssr0))
    width = np.sqrt(qmin / a / (nu - 1.0))
    log_mass = log_h + np.log(width)
    keep = log_mass >= log_mass.max() - _PRUNE
    tail = min(float(stats.t.isf(1e-8, nu - 1.0)), 60.0)
    zero = np.zeros(int(keep.sum()))
    return Likelihood(
        "normal",
        log_h[keep],
        centre[keep],
        width[keep],
        tail,
        a[keep],
        qmin[keep],
        zero,
        zero,
        nu,
    )


def _poisson_likelihood(res: Any) -> Likelihood:
    fit = res.fit
    cp = fit.components
    a0 = cp.a_pre[:, :1]
    b0 = cp.b_pre[:, :1]
    s1, e1 = cp.a_pre - a0, cp.b_pre - b0
    s2, e2 = cp.a_post - a0, cp.b_post - b0
    big_a = a0 + s1 + s2
    big_b = b0 + e1
    seg_null = (
        a0[:, 0] * np.log(b0[:, 0])
        - special.gammaln(a0[:, 0])
        + special.gammaln(big_a[:, 0])
        - big_a[:, 0] * np.log(b0[:, 0] + e1[:, 0] + e2[:, 0])
    )
    shift = fit.log_m_null - seg_null  # the trend's common factor
    ok = (res.prior[None, :] > 0) & np.isfinite(fit.log_m_change)
    log_h = (
        (a0 * np.log(b0) - special.gammaln(a0) + special.gammaln(big_a))
        + (shift + fit.log_grid_prior)[:, None]
        + np.log(np.where(res.prior > 0, res.prior, 1.0))[None, :]
    )[ok]
    s_post, log_b, log_e2, aa = s2[ok], np.log(big_b[ok]), np.log(e2[ok]), big_a[ok]
    # kernels' location and spread from the log-gamma approximation of log(rate ratio)
    centre = (
        special.digamma(cp.a_post[ok])
        - np.log(cp.b_post[ok])
        - special.digamma(cp.a_pre[ok])
        + np.log(cp.b_pre[ok])
    )
    width = np.sqrt(special.polygamma(1, cp.a_post[ok]) + special.polygamma(1, cp.a_pre[ok]))
    peak = log_h + s_post * centre - aa * np.logaddexp(log_b, log_e2 + centre)
    keep = peak + np.log(width) >= float(np.max(peak + np.log(width))) - _PRUNE
    return Likelihood(
        "poisson",
        log_h[keep],
        centre[keep],
        width[keep],
        14.0,
        log_b[keep],
        log_e2[keep],
        s_post[keep],
        aa[keep],
        0.0,
    )


def jump_likelihood(res: Any) -> Likelihood:
    """The exact jump likelihood of one patient's :class:`JumpResult`."""
    return _normal_likelihood(res) if res.family == "normal" else _poisson_likelihood(res)


def flat_tail(lk: Likelihood) -> bool:
    """Whether the likelihood stays above 1e-10 of its peak as the jump goes to minus
    infinity (counts: candidate changes after which every count is zero)."""
    if lk.family != "poisson" or not np.any(lk.c == 0):
        return False
    far = float(np.min(lk.centre - 60 * lk.width)) - 60.0
    peak = float(np.max(lk.log_eval(lk.centre)))
    return bool(lk.log_eval(np.array([far]))[0] > peak - 23.0)


def make_grid(liks: list[Likelihood], resolution: int = 10, mean_prior: Any = None) -> Array:
    """Common uniform grid covering every likelihood's kernels (``tail`` scales) with
    ``resolution`` points per the narrowest important kernel scale; where a likelihood
    has a flat tail, also 10 SDs of a normal mean prior on that side."""
    lo = min(float(np.min(lk.centre - lk.tail * lk.width)) for lk in liks)
    hi = max(float(np.max(lk.centre + lk.tail * lk.width)) for lk in liks)
    if mean_prior is not None and any(flat_tail(lk) for lk in liks):
        lo = min(lo, mean_prior.mean - 10 * mean_prior.sd)
    h = min(float(np.min(lk.width)) for lk in liks) / resolution
    m = min(_MAX_GRID, math.ceil((hi - lo) / h) + 1)
    return np.linspace(lo, hi, m)


@dataclass(frozen=True)
class Posterior:
    """Grid posterior: ``weight[t, k]`` of (tau node t, mu = grid[k]); the patients'
    normalised log likelihoods on the grid; per-patient shrunken jump densities."""

    grid: Array
    tau: Array
    weight: Array
    tau_edges: Array  # log tau panel edges (empty for a fixed tau)
    log_lik: Array  # (P, M) log L_i on the grid, max 0
    shrunk: Array  # (P, M) posterior density of each patient's jump
    mu_density: Array  # (M,)
    pred_grid_density: Array  # (M,) the small-tau part of the predictive density
    pred_far: tuple[Array, Array, Array]  # (weights, mu, tau) of the large-tau part


def _tau_rule(prior: TauPrior, h: float, width: float) -> tuple[Array, Array, Array]:
    """Tau nodes, log weights (prior included) and the log tau panel edges: composite
    8-point Gauss-Legendre in log tau, and the prior mass below ``1e-3 h`` (where the
    patients' integrals no longer change) on one node at tau = 0 (first)."""
    if prior.fixed:
        return np.array([float(prior.ppf(0.5))]), np.zeros(1), np.empty(0)
    tau_lo = 1e-3 * h
    q_hi = float(prior.ppf(1 - 1e-9))
    tau_hi = min(q_hi if math.isfinite(q_hi) else np.inf, 50.0 * width)
    sup_lo, sup_hi = float(prior.ppf(0.0)), float(prior.ppf(1.0))
    lo, hi = math.log(max(tau_lo, sup_lo)), math.log(min(tau_hi, sup_hi))
    v, logw, edges = _panels(lo, hi, 1.0, 8)
    with np.errstate(divide="ignore"):
        lp = prior.logpdf(np.exp(v))
        mass = float(prior.cdf(math.exp(lo)))
        tau = np.r_[0.0, np.exp(v)]
        logw = np.r_[math.log(mass) if mass > 0 else -np.inf, logw + lp + v]
    return tau, logw, edges


class _Smoother:
    """Convolution of grid functions with N(0, tau^2): spectral (exact for functions the
    grid resolves) for tau up to a ninth of the grid's width, else a direct FFT
    convolution with the sampled kernel."""

    def __init__(self, grid: Array) -> None:
        self.m = grid.size
        self.h = float(grid[1] - grid[0])
        self.n = 2 * self.m
        self.omega = 2 * np.pi * np.fft.rfftfreq(self.n, d=self.h)
        self.limit = self.m * self.h / 9

    def __call__(self, f: Array, tau: float) -> Array:
        """``f`` (..., M) -> (..., M), convolved and evaluated on the same grid."""
        if tau == 0:
            return f.copy()
        if tau <= self.limit:
            spec = np.fft.rfft(f, n=self.n, axis=-1) * np.exp(-0.5 * (tau * self.omega) ** 2)
            out = np.fft.irfft(spec, n=self.n, axis=-1)[..., : self.m]
        else:  # linear convolution with the sampled kernel on offsets -(M-1)..(M-1)
            x = np.arange(-(self.m - 1), self.m) * self.h
            kern = stats.norm.pdf(x, scale=tau) * self.h
            size = 4 * self.m
            spec = np.fft.rfft(f, n=size, axis=-1) * np.fft.rfft(kern, n=size)
            out = np.fft.irfft(spec, n=size, axis=-1)[..., self.m - 1 : 2 * self.m - 1]
        return np.asarray(np.maximum(out, 0.0))


def posterior_on_grid(
    liks: list[Likelihood],
    tau_prior: TauPrior,
    mean_prior: Any,
    *,
    resolution: int = 10,
) -> Posterior:
    """Joint posterior of (mu, tau) on the grid x tau nodes, the shrunken jumps and the
    predictive."""
    grid = make_grid(liks, resolution, mean_prior)
    h = float(grid[1] - grid[0])
    log_lik = np.array([lk.log_eval(grid) for lk in liks])
    log_lik -= log_lik.max(axis=1, keepdims=True)
    lik = np.exp(log_lik)
    tau, logw_tau, edges = _tau_rule(tau_prior, h, float(grid[-1] - grid[0]))
    smooth = _Smoother(grid)
    log_prior_mu = np.zeros(grid.size) if mean_prior is None else mean_prior.logpdf(grid)
    floor = -1e4
    log_c = np.empty((tau.size, len(liks), grid.size))
    for t, tt in enumerate(tau):
        c = smooth(lik, float(tt))
        with np.errstate(divide="ignore"):
            lc = np.log(np.where(c > 1e-14 * c.max(axis=1, keepdims=True), c, 0.0))
        log_c[t] = np.maximum(lc, floor)
    total = log_c.sum(axis=1) + log_prior_mu[None, :] + logw_tau[:, None]
    log_z = special.logsumexp(total)
    weight = np.exp(total - log_z)
    mu_density = weight.sum(axis=0) / h
    # leave-one-out weights smoothed back to each patient's jump
    shrunk = np.zeros_like(lik)
    for i in range(len(liks)):
        loo = total - log_c[:, i, :]
        loo = np.exp(loo - loo.max())
        g = np.zeros(grid.size)
        for t, tt in enumerate(tau):
            g += smooth(loo[t], float(tt))
        dens = lik[i] * g
        shrunk[i] = dens / (dens.sum() * h)
    small = tau <= 2 * h
    pred = np.zeros(grid.size)
    for ti in np.flatnonzero(small):
        pred += smooth(weight[ti], float(tau[ti])) / h
    big = np.flatnonzero(~small)
    wt = weight[big]
    keep = wt > 1e-15
    tt_idx, kk = np.nonzero(keep)
    far = (wt[keep], grid[kk], tau[big][tt_idx])
    return Posterior(grid, tau, weight, edges, log_lik, shrunk, mu_density, pred, far)
