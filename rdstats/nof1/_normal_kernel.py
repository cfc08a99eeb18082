"""Exact marginal likelihoods of one change point in a normal segmented regression, for
every candidate change visit at once (kernel layer: numpy only, no validation).

Model, given the first post-change visit ``j`` and the AR(1) coefficient ``rho``::

    y_i = mu + beta (t_i - tbar) [trend] + delta 1(i >= j) + gamma (t_i - t_j) 1(i >= j) [slope]
          + e_i,     corr(e_i, e_k) = rho^(|t_i - t_k| / d)   (Ornstein-Uhlenbeck, d = time unit)

Priors: flat on the nuisance coefficients (mu, beta), ``p(sigma^2) ∝ 1/sigma^2`` and
``(delta, gamma) | sigma^2 ~ N(0, sigma^2 diag(v_delta, v_gamma))``. Whitening by the AR(1)
precision factor ``L`` (``z_1 = v_1``, ``z_i = (v_i - phi_i v_{i-1}) / c_i`` with
``phi_i = rho^(dt_i/d)``, ``c_i = sqrt(1 - phi_i^2)``) makes the errors independent; the change
columns' whitened inner products with any vector are reverse cumulative sums, so the Gram
matrices for all candidates cost O(n). The change coefficients are eliminated by their
Schur complement (at most 2 x 2), giving closed forms:

    log m_j = -1/2 log|A| - 1/2 log|S_j| + 1/2 log|Lambda| + log|L| - nu/2 log(SSR_j) + const

with ``A`` the nuisance Gram matrix, ``S_j = C_j - B_j' A^-1 B_j``, ``nu = n - p0`` and the
constant common to every model (including "no change", whose ``S`` and ``Lambda`` terms are
absent). Given ``(j, rho)`` the change coefficients are Student-t with ``nu`` degrees of
freedom, location ``S_j^-1 r_j`` and scale matrix ``SSR_j / nu * S_j^-1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

__all__ = ["NormalFit", "normal_fit", "whitening"]


def whitening(times: Array, rho: Array, unit: float) -> tuple[Array, Array]:
    """``phi`` and ``c`` of the AR(1) whitening, shape (G, n); ``phi[:, 0] = 0``,
    ``c[:, 0] = 1``."""
    dt = np.diff(times) / unit
    phi = np.zeros((rho.size, times.size))
    with np.errstate(divide="ignore"):
        phi[:, 1:] = np.where(rho[:, None] > 0, rho[:, None] ** dt[None, :], 0.0)
    c = np.sqrt(1.0 - phi**2)
    return phi, c


def _white(v: Array, phi: Array, c: Array) -> Array:
    """Whitened vectors: ``v`` (..., n) against phi, c (G, n) -> (..., G, n)."""
    v = v[..., None, :]
    out = np.empty(np.broadcast_shapes(v.shape, phi.shape))
    out[..., 0] = v[..., 0]
    out[..., 1:] = (v[..., 1:] - phi[:, 1:] * v[..., :-1]) / c[:, 1:]
    return out


def _rsum(f: Array) -> Array:
    """``R[f](j) = sum_{i > j} f_i`` along the last axis."""
    r = np.cumsum(f[..., ::-1], axis=-1)[..., ::-1]
    out = np.zeros_like(r)
    out[..., :-1] = r[..., 1:]
    return out


@dataclass(frozen=True)
class NormalFit:
    """Kernel output. Shapes: B series, G values of rho, n visits (candidate ``j`` is the
    index of the first post-change visit; ``j = 0`` is not a valid candidate and carries
    ``-inf``)."""

    log_m_change: Array  # (B, G, n)
    log_m_null: Array  # (B, G)
    coef_mean: Array  # (B, G, n, q): delta (and gamma)
    coef_scale: Array  # (B, G, n, q, q): scale matrix of the t (SSR/nu S^-1)
    null_level: Array  # (B, G, p0): nuisance posterior mean under no change
    nu: int
    degenerate: NDArray[np.bool_]  # (B,): no residual variation after level (and trend)


def normal_fit(
    y: Array,
    times: Array,
    *,
    trend: bool,
    slope: bool,
    rho: Array,
    unit: float,
    v_delta: float | Array,
    v_gamma: float,
) -> NormalFit:
    """Log marginal likelihoods (up to a constant common to all models) and the posterior
    t parameters of the change coefficients, for every series in ``y`` (B, n), every
    ``rho`` and every candidate change visit. ``v_delta`` may hold one jump-prior
    variance per value of ``rho`` (a grid over both)."""
    y = np.atleast_2d(np.asarray(y, dtype=float))
    n = times.size
    v_d = np.broadcast_to(np.asarray(v_delta, dtype=float), rho.shape)  # per grid value
    # the model is affine invariant: work with standardised outcomes (accuracy for large
    # offsets) and scale the change coefficients back at the end
    centre = y.mean(axis=1, keepdims=True)
    spread = y.std(axis=1, keepdims=True)
    spread = np.where(spread > 0, spread, 1.0)
    y = (y - centre) / spread
    phi, c = whitening(times, rho, unit)
    log_l = -np.sum(np.log(c[:, 1:]), axis=1)  # (G,) log|L|
    tc = times - times.mean()
    base = [np.ones(n)] + ([tc] if trend else [])
    p0 = len(base)
    x0 = np.stack([_white(b, phi, c) for b in base], axis=-1)  # (G, n, p0)
    ys = _white(y, phi, c)  # (B, G, n)
    u = np.zeros_like(c)
    u[:, 1:] = (1.0 - phi[:, 1:]) / c[:, 1:]
    tw = _white(times, phi, c)  # T_i = (t_i - phi_i t_{i-1}) / c_i for i >= 1
    inv_c = 1.0 / c

    def step_dot(a: Array) -> Array:  # <s^j, a>, a (..., G, n)
        return np.asarray(a * inv_c + _rsum(u * a))

    def slope_dot(a: Array) -> Array:  # <g^j, a>
        return np.asarray(_rsum(tw * a) - times * _rsum(u * a))

    # nuisance Gram and its inverse (p0 <= 2, explicit)
    A = np.einsum("gnp,gnq->gpq", x0, x0)
    if p0 == 1:
        a_inv = 1.0 / A
        log_det_a = np.log(A[:, 0, 0])
    else:
        det = A[:, 0, 0] * A[:, 1, 1] - A[:, 0, 1] ** 2
        a_inv = (
            np.stack(
                [np.stack([A[:, 1, 1], -A[:, 0, 1]], -1), np.stack([-A[:, 1, 0], A[:, 0, 0]], -1)],
                -2,
            )
            / det[:, None, None]
        )
        log_det_a = np.log(det)
    b0 = np.einsum("bgn,gnp->bgp", ys, x0)  # (B, G, p0)
    yy = np.einsum("bgn,bgn->bg", ys, ys)
    q0 = np.einsum("bgp,gpq,bgq->bg", b0, a_inv, b0)
    ssr0 = yy - q0
    degenerate = np.any(ssr0 <= 1e-12 * n, axis=1)
    ssr0 = np.maximum(ssr0, 1e-300)  # degenerate series are flagged, not logged as NaN
    nu = n - p0
    log_m_null = -0.5 * log_det_a[None] + log_l[None] - 0.5 * nu * np.log(ssr0)
    null_level = np.einsum("gpq,bgq->bgp", a_inv, b0)

    # change columns: Gram blocks for every candidate j (axis n)
    cols_x0 = [x0[..., k] for k in range(p0)]  # each (G, n)
    q = 2 if slope else 1
    B = np.empty((rho.size, n, p0, q))  # X0' X1_j
    C = np.empty((rho.size, n, q, q))  # X1_j' X1_j + Lambda
    r1 = np.empty((*ys.shape, q))  # X1_j' y
    for k, col in enumerate(cols_x0):
        B[:, :, k, 0] = step_dot(col)
        if slope:
            B[:, :, k, 1] = slope_dot(col)
    r1[..., 0] = step_dot(ys)
    C[..., 0, 0] = inv_c**2 + _rsum(u * u) + 1.0 / v_d[:, None]
    if slope:
        r1[..., 1] = slope_dot(ys)
        tt = times[None, :]
        C[..., 1, 1] = (
            _rsum(tw * tw) - 2 * tt * _rsum(tw * u) + tt**2 * _rsum(u * u) + 1.0 / v_gamma
        )
        C[..., 0, 1] = C[..., 1, 0] = _rsum(u * tw) - tt * _rsum(u * u)
    S = C - np.einsum("gjpx,gpq,gjqz->gjxz", B, a_inv, B)
    S[:, 0] = np.eye(q)  # j = 0 is not a candidate (its step is the intercept)
    r = r1 - np.einsum("gjpx,gpq,bgq->bgjx", B, a_inv, b0)
    if q == 1:
        s_inv = 1.0 / S
        log_det_s = np.log(S[..., 0, 0])
        log_det_lam = -np.log(v_d)
    else:
        det_s = S[..., 0, 0] * S[..., 1, 1] - S[..., 0, 1] * S[..., 1, 0]
        s_inv = (
            np.stack(
                [
                    np.stack([S[..., 1, 1], -S[..., 0, 1]], -1),
                    np.stack([-S[..., 1, 0], S[..., 0, 0]], -1),
                ],
                -2,
            )
            / det_s[..., None, None]
        )
        log_det_s = np.log(det_s)
        log_det_lam = -np.log(v_d) - np.log(v_gamma)
    mean = np.einsum("gjxz,bgjz->bgjx", s_inv, r)
    ssr = ssr0[..., None] - np.einsum("bgjx,bgjx->bgj", r, mean)
    ssr = np.maximum(ssr, 1e-300)
    log_m = (
        log_m_null[..., None]
        - 0.5 * log_det_s[None]
        + 0.5 * log_det_lam[None, :, None]
        - 0.5 * nu * (np.log(ssr) - np.log(ssr0)[..., None])
    )
    log_m[..., 0] = -np.inf  # the first visit cannot be post-change
    scale = (ssr / nu)[..., None, None] * s_inv[None]
    sp = spread[:, :, None]  # (B, 1, 1)
    jac = (n - p0) * np.log(spread)  # (B, 1): y = centre + spread z, flat nuisance priors
    return NormalFit(
        log_m_change=log_m - jac[..., None],
        log_m_null=log_m_null - jac,
        coef_mean=mean * sp[..., None],
        coef_scale=scale * (sp**2)[..., None, None],
        null_level=null_level * sp + np.where(np.arange(p0) == 0, centre[:, :, None], 0.0),
        nu=nu,
        degenerate=degenerate,
    )
