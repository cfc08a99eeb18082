"""Batched kernels of the PS-integrated Bayesian analyses of the external-control design
simulation: the PS-stratified power prior (Wang et al. 2019) and the hybrid control on
odds-weighted external data (power, empirical-Bayes power or commensurate prior).

Layout as in :mod:`rdstats.external._design_kernels`: arrays (B, n), patients ordered
treated, concurrent controls, external controls; ``e`` is the propensity score of trial
membership. The method is specified in the project's shared specification (the same
conventions as :func:`rdstats.external.ps_power_prior` and
:func:`rdstats.external.hybrid_control`). Every function returns ``estimate`` (posterior
mean of the effect), ``se`` (posterior SD), ``lower``/``upper`` (equal-tailed interval at
``alpha`` in each tail), ``prob`` (``P(effect > margin)``), ``failed`` and ``borrowed``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy import special

__all__ = ["hybrid", "ps_borrowing", "stratum_overlap"]

Array = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
_GRID = 201
_CHUNK = 128
_GL_X, _GL_W = np.polynomial.legendre.leggauss(64)
_CC_X = (1.0 - np.cos(np.pi * (_GL_X + 1.0) / 2.0)) / 2.0  # nodes clustered at both ends
_CC_W = _GL_W * np.pi / 4.0 * np.sin(np.pi * (_GL_X + 1.0) / 2.0)


def _ndtri(p: float) -> float:
    return float(special.ndtri(p))


def _beta_moments(a: Array, b: Array) -> tuple[Array, Array]:
    s = a + b
    return a / s, a * b / (s**2 * (s + 1.0))


def _strata(e: Array, n_trial: int, k: int) -> tuple[Array, NDArray[np.int64], BoolArray]:
    """Cut points (B, K+1), stratum of every patient (B, n) and the used-patient mask
    (trial patients and external patients within the trial's score range)."""
    cuts = np.quantile(e[:, :n_trial], np.arange(k + 1) / k, axis=1).T
    stratum = np.sum(e[:, :, None] > cuts[:, None, 1:k], axis=2)
    used = np.ones(e.shape, dtype=bool)
    ext = e[:, n_trial:]
    used[:, n_trial:] = (ext >= cuts[:, :1]) & (ext <= cuts[:, k:])
    return cuts, stratum, used


def stratum_overlap(
    e: Array, n_trial: int, cuts: Array, stratum: NDArray[np.int64], used: BoolArray
) -> Array:
    """Overlapping coefficient (B, K) of the trial's and the external patients' score
    densities in every stratum: Gaussian kernel density estimates (bandwidth
    ``1.06 s_g n_g^(-1/5)``, ``s_g`` the group's SD in the stratum, the pooled SD where
    the group has no spread), each renormalised to integrate to 1 over the stratum, and
    the integral of their minimum, by the trapezoidal rule on 201 points. 0 where a group
    is empty, 1 where the pooled scores have no spread (as
    :func:`rdstats.external._ps_borrowing.overlap_coefficient`)."""
    b, n = e.shape
    k = cuts.shape[1] - 1
    group = np.zeros(n, dtype=np.int64)
    group[n_trial:] = 1
    onehot = (stratum[:, :, None] == np.arange(k)) & used[:, :, None]  # (B, n, K)
    counts = np.stack(
        [onehot[:, :n_trial].sum(axis=1), onehot[:, n_trial:].sum(axis=1)], axis=2
    )  # (B, K, 2)
    pooled = counts.sum(axis=2)
    sd = _sd(e, onehot)  # (B, K)
    own = np.stack(
        [_sd(e[:, :n_trial], onehot[:, :n_trial]), _sd(e[:, n_trial:], onehot[:, n_trial:])], axis=2
    )
    spread = np.where(own > 1e-9 * sd[:, :, None], own, sd[:, :, None])  # as _ps_borrowing
    h = 1.06 * spread * np.maximum(counts, 1) ** -0.2  # (B, K, 2)
    lo, hi = cuts[:, :-1], cuts[:, 1:]
    h = np.maximum(h, ((hi - lo) / (_GRID - 1))[:, :, None])  # the grid's resolution
    frac = np.linspace(0.0, 1.0, _GRID)
    r = np.zeros((b, k))
    for start in range(0, b, _CHUNK):
        sl = slice(start, min(start + _CHUNK, b))
        st = np.clip(stratum[sl], 0, k - 1)
        rows = np.arange(st.shape[0])[:, None]
        hi_i = h[sl][rows, st, group[None, :]]  # (b, n)
        lo_i, width_i = lo[sl][rows, st], (hi[sl] - lo[sl])[rows, st]
        grid = lo_i[:, :, None] + width_i[:, :, None] * frac  # (b, n, G)
        safe_h = np.where(hi_i > 0, hi_i, 1.0)
        kern = np.exp(-0.5 * ((grid - e[sl][:, :, None]) / safe_h[:, :, None]) ** 2)
        member = onehot[sl].astype(float)
        f_trial = np.einsum("bnk,bng->bkg", member[:, :n_trial], kern[:, :n_trial])
        f_ext = np.einsum("bnk,bng->bkg", member[:, n_trial:], kern[:, n_trial:])
        dx = (hi[sl] - lo[sl])[:, :, None] / (_GRID - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            f_trial = f_trial / _trapz(f_trial, dx)
            f_ext = f_ext / _trapz(f_ext, dx)
            ovl = _trapz(np.minimum(f_trial, f_ext), dx)[:, :, 0]
        r[sl] = ovl
    degenerate = (sd == 0) | (pooled < 2) | ~(hi > lo)
    r = np.where(degenerate, 1.0, np.clip(r, 0.0, 1.0))
    r = np.where((counts[:, :, 0] > 0) & (counts[:, :, 1] > 0), r, 0.0)
    return np.asarray(np.where(np.isfinite(r), r, 0.0))


def _sd(v: Array, member: BoolArray) -> Array:
    """SD (ddof = 1) of the values of every stratum (B, K); 0 for fewer than two."""
    cnt = member.sum(axis=1)
    mean = np.einsum("bn,bnk->bk", v, member) / np.maximum(cnt, 1)
    ss = np.einsum("bnk,bnk->bk", (v[:, :, None] - mean[:, None, :]) ** 2, member)
    return np.asarray(np.where(cnt > 1, np.sqrt(ss / np.maximum(cnt - 1, 1)), 0.0))


def _trapz(f: Array, dx: Array) -> Array:
    """Trapezoidal integral over the last axis (kept as a length-1 axis)."""
    inner = f[..., 1:-1].sum(axis=-1, keepdims=True)
    return np.asarray(dx * (inner + 0.5 * (f[..., :1] + f[..., -1:])))


def ps_borrowing(
    e: Array,
    y: Array,
    n_t: int,
    n_c: int,
    *,
    n_strata: int,
    n_borrow: float,
    overlap: str,
    binary: bool,
    alpha: float,
    margin: float,
) -> dict[str, Array]:
    """PS-stratified power prior: trial-quantile strata of the trial-membership score,
    ``n_borrow`` external patients allocated to strata in proportion to the overlap,
    stratum power ``a_k = min(1, A_k / n_e,k)``, stratum estimates combined with the
    trial's stratum proportions; normal posterior (beta moments for a binary endpoint)."""
    n = e.shape[1]
    k = n_strata
    n_trial = n_t + n_c
    cuts, stratum, used = _strata(e, n_trial, k)
    onehot = ((stratum[:, :, None] == np.arange(k)) & used[:, :, None]).astype(float)
    if overlap == "ovl":
        r = stratum_overlap(e, n_trial, cuts, stratum, used)
    else:
        r = (onehot[:, n_trial:].sum(axis=1) > 0).astype(float)
    groups = {"t": slice(0, n_t), "c": slice(n_t, n_trial), "e": slice(n_trial, n)}
    cnt = {g: onehot[:, s].sum(axis=1) for g, s in groups.items()}
    tot = {g: np.einsum("bn,bnk->bk", y[:, s], onehot[:, s]) for g, s in groups.items()}
    rsum = r.sum(axis=1, keepdims=True)
    share = np.where(rsum > 0, r / np.where(rsum > 0, rsum, 1.0), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(cnt["e"] > 0, np.minimum(1.0, n_borrow * share / cnt["e"]), 0.0)
    trial_k = cnt["t"] + cnt["c"]
    w = trial_k / n_trial
    n_ctrl = cnt["c"] + a * cnt["e"]
    present = trial_k > 0
    failed = np.any(present & ((cnt["t"] == 0) | (n_ctrl <= 0)), axis=1)
    nt1 = np.maximum(cnt["t"], 1.0)
    if binary:
        at, bt = 1.0 + tot["t"], 1.0 + cnt["t"] - tot["t"]
        ac = 1.0 + a * tot["e"] + tot["c"]
        bc = 1.0 + a * (cnt["e"] - tot["e"]) + cnt["c"] - tot["c"]
        mt, vt = _beta_moments(at, bt)
        mc, vc = _beta_moments(ac, bc)
        mean = np.sum(w * (mt - mc), axis=1)
        var = np.sum(w**2 * (vt + vc), axis=1)
    else:
        ctrl = onehot.copy()
        ctrl[:, :n_t] = 0.0
        n_all = ctrl.sum(axis=1)
        m_all = np.einsum("bn,bnk->bk", y, ctrl) / np.maximum(n_all, 1)
        ss = np.einsum("bnk,bnk->bk", (y[:, :, None] - m_all[:, None, :]) ** 2, ctrl)
        sd_k = np.sqrt(ss / np.maximum(n_all - 1, 1))
        cu = used[:, n_t:]
        yc = y[:, n_t:]
        nu = cu.sum(axis=1)
        mu = np.sum(yc * cu, axis=1) / np.maximum(nu, 1)
        sd_u = np.sqrt(np.sum((yc - mu[:, None]) ** 2 * cu, axis=1) / np.maximum(nu - 1, 1))
        sd_c = np.where(n_all >= 2, sd_k, sd_u[:, None])
        st = np.std(y[:, :n_t], axis=1, ddof=1)
        n_ctrl1 = np.where(n_ctrl > 0, n_ctrl, 1.0)
        mean_c = (tot["c"] + a * tot["e"]) / n_ctrl1
        mean = np.sum(w * (tot["t"] / nt1 - mean_c), axis=1)
        var = np.sum(w**2 * (st[:, None] ** 2 / nt1 + sd_c**2 / n_ctrl1), axis=1)
        failed |= ~np.isfinite(var) | (var <= 0)
    se = np.sqrt(np.where(failed, 1.0, var))
    z = _ndtri(1.0 - alpha)
    return {
        "estimate": mean,
        "se": se,
        "lower": mean - z * se,
        "upper": mean + z * se,
        "prob": special.ndtr((mean - margin) / se),
        "failed": failed,
        "borrowed": np.sum(a * cnt["e"], axis=1),
    }


def _external_summary(e: Array, y: Array, n_trial: int) -> tuple[Array, Array, Array]:
    """Odds-weighted mean, its standard error ``sd_w / sqrt(ESS)`` and the ESS of the
    external patients."""
    ee, ye = e[:, n_trial:], y[:, n_trial:]
    with np.errstate(divide="ignore"):
        w = ee / (1.0 - ee)
    w = np.where(np.isfinite(w), w, 0.0)
    sw = w.sum(axis=1)
    sw1 = np.where(sw > 0, sw, 1.0)
    ess = sw**2 / np.maximum(np.sum(w**2, axis=1), np.finfo(float).tiny)
    m = np.sum(w * ye, axis=1) / sw1
    sd = np.sqrt(np.sum(w * (ye - m[:, None]) ** 2, axis=1) / sw1)
    return m, sd / np.sqrt(np.maximum(ess, np.finfo(float).tiny)), ess


def _tau_rule(scale: float, step: float = 0.1) -> tuple[Array, Array]:
    """Nodes and prior weights for tau ~ HalfNormal(scale): the trapezoidal rule in
    log(tau) from 1e-6 scale to 10 scale (geometric convergence for this smooth,
    rapidly decaying integrand), plus a node at 0 carrying the prior mass below."""
    v = np.arange(math.log(1e-6), math.log(10.0) + step / 2, step)
    t = np.exp(v)
    dens = math.sqrt(2.0 / math.pi) * np.exp(-0.5 * t**2) * t * step
    dens[[0, -1]] *= 0.5
    mass0 = math.erf(1e-6 / math.sqrt(2.0))
    tau = np.concatenate([[0.0], t]) * scale
    weights = np.concatenate([[mass0], dens])
    return tau, weights / weights.sum()


def _beta_difference(
    at: Array, bt: Array, ac: Array, bc: Array, margin: float, alpha: float
) -> tuple[Array, Array, Array]:
    """Exact ``P(theta_t - theta_c > margin)`` and the ``alpha`` and ``1 - alpha``
    quantiles of the difference ``D`` of independent Beta(at, bt) and Beta(ac, bc)
    variables.

    ``P(D > d) = F_c(-d) + int_A^B f_c(x) S_t(x + d) dx`` with ``[A, B]`` the part of the
    control's range (beyond its 1e-13 tails) where ``0 < x + d < 1``, so that the
    integrand has no kink inside; 64-point Gauss-Legendre after ``x = A + (B - A)
    (1 - cos(pi s)) / 2``, which tames the algebraic end-point behaviour of beta
    densities. Quantiles by safeguarded Newton steps with the density
    ``int f_c(x) f_t(x + d) dx`` (same rule).
    """
    lo_c = special.betaincinv(ac, bc, 1e-13)
    hi_c = special.betaincinv(ac, bc, 1.0 - 1e-13)
    a_c, b_c, a_t, b_t = (v[:, None] for v in (ac, bc, at, bt))
    lb_c, lb_t = special.betaln(a_c, b_c), special.betaln(a_t, b_t)

    def logpdf(v: Array, a: Array, b: Array, lb: Array) -> Array:
        vv = np.clip(v, 1e-300, 1.0 - 1e-16)
        return np.asarray((a - 1) * np.log(vv) + (b - 1) * np.log1p(-vv) - lb)

    def parts(d: Array) -> tuple[Array, Array]:
        lo = np.maximum(lo_c, np.maximum(-d, 0.0))
        hi = np.maximum(np.minimum(hi_c, 1.0 - d), lo)
        x = lo[:, None] + (hi - lo)[:, None] * _CC_X[None, :]
        w = (hi - lo)[:, None] * _CC_W[None, :] * np.exp(logpdf(x, a_c, b_c, lb_c))
        v = x + d[:, None]
        sf = np.sum(w * special.betaincc(a_t, b_t, np.clip(v, 0.0, 1.0)), axis=1)
        dens = np.sum(w * np.exp(logpdf(v, a_t, b_t, lb_t)), axis=1)
        below = special.betainc(ac, bc, np.clip(-d, 0.0, 1.0))
        return np.asarray(below + sf), np.asarray(dens)

    prob = parts(np.full(at.shape, float(margin)))[0]
    mean_t, var_t = _beta_moments(at, bt)
    mean_c, var_c = _beta_moments(ac, bc)
    out = []
    for q in (alpha, 1.0 - alpha):
        lo, hi = np.full(at.shape, -1.0), np.full(at.shape, 1.0)
        d = np.clip(mean_t - mean_c + _ndtri(q) * np.sqrt(var_t + var_c), -0.999, 0.999)
        for _ in range(60):
            sf, dens = parts(d)
            f = (1.0 - sf) - q
            lo, hi = np.where(f < 0, d, lo), np.where(f < 0, hi, d)
            with np.errstate(divide="ignore", invalid="ignore"):
                new = d - f / dens
            bad = ~np.isfinite(new) | (new <= lo) | (new >= hi)
            new = np.where(bad, 0.5 * (lo + hi), new)
            done = (np.abs(new - d) < 1e-13) | (hi - lo < 1e-13)
            d = new
            if done.all():
                break
        out.append(d)
    return prob, out[0], out[1]


def _mixture_quantile(w: Array, mu: Array, sd: Array, q: float) -> Array:
    """Quantile ``q`` of every row's normal mixture (weights, means, SDs (B, J)), by
    bisection to about 1e-12 of the mixture's spread."""
    lo = np.min(mu - 12.0 * sd, axis=1)
    hi = np.max(mu + 12.0 * sd, axis=1)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        cdf = np.sum(w * special.ndtr((mid[:, None] - mu) / sd), axis=1)
        below = cdf < q
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return np.asarray(0.5 * (lo + hi))


def hybrid(
    e: Array,
    y: Array,
    n_t: int,
    n_c: int,
    *,
    prior: str,
    a0: float,
    tau_scale: float,
    binary: bool,
    alpha: float,
    margin: float,
) -> dict[str, Array]:
    """Hybrid control: the concurrent controls' mean combined with the odds-weighted
    external summary ``(m_w, se_h)`` by a power prior (fixed or empirical-Bayes a0) or a
    commensurate prior (tau ~ HalfNormal(tau_scale), exact tau mixture)."""
    b = e.shape[0]
    n_trial = n_t + n_c
    m_w, se_h, ess = _external_summary(e, y, n_trial)
    yt, yc = y[:, :n_t], y[:, n_t:n_trial]
    mt, st2 = yt.mean(axis=1), np.var(yt, axis=1, ddof=1)
    z = _ndtri(1.0 - alpha)
    a0_used = np.full(b, float(a0))
    if binary:  # power prior with ESS pseudo-counts (validated upstream)
        rt, rc = yt.sum(axis=1), yc.sum(axis=1)
        m0 = a0 * ess
        ac, bc = 1.0 + m0 * m_w + rc, 1.0 + m0 * (1.0 - m_w) + n_c - rc
        at, bt = 1.0 + rt, 1.0 + n_t - rt
        mean_t, var_t = _beta_moments(at, bt)
        mean_c, var_c = _beta_moments(ac, bc)
        mean, var = mean_t - mean_c, var_t + var_c
        se = np.sqrt(var)
        prob, lower, upper = _beta_difference(at, bt, ac, bc, margin, alpha)
        return {
            "estimate": mean,
            "se": se,
            "lower": lower,
            "upper": upper,
            "prob": prob,
            "failed": ~np.isfinite(mean),
            "borrowed": ac + bc - 2.0 - n_c,
            "a0": a0_used,
        }
    if n_c >= 2:
        s2 = ((n_t - 1) * st2 + (n_c - 1) * np.var(yc, axis=1, ddof=1)) / (n_trial - 2)
    else:
        s2 = st2
    ybar_c = yc.mean(axis=1) if n_c > 0 else np.zeros(b)
    se_c2 = s2 / n_c if n_c > 0 else np.full(b, np.inf)
    vh = se_h**2
    var_t = s2 / n_t
    if prior in ("power", "eb_power"):
        if prior == "eb_power":
            excess = (ybar_c - m_w) ** 2 - se_c2
            with np.errstate(divide="ignore", invalid="ignore"):
                a0_used = np.where(excess > 0, np.minimum(1.0, vh / excess), 1.0)
        prec = a0_used / vh + (n_c / s2 if n_c > 0 else 0.0)
        mean_c = (a0_used * m_w / vh + (n_c * ybar_c / s2 if n_c > 0 else 0.0)) / prec
        mean = mt - mean_c
        se = np.sqrt(var_t + 1.0 / prec)
        lower, upper = mean - z * se, mean + z * se
        prob = special.ndtr((mean - margin) / se)
        var_c = 1.0 / prec
    else:  # commensurate
        tau, wprior = _tau_rule(float(tau_scale))
        v = vh[:, None] + tau[None, :] ** 2  # (B, J)
        tot = v + se_c2[:, None]
        logw = np.log(wprior) - 0.5 * np.log(tot) - 0.5 * (ybar_c - m_w)[:, None] ** 2 / tot
        wt = np.exp(logw - logw.max(axis=1, keepdims=True))
        wt /= wt.sum(axis=1, keepdims=True)
        prec_j = 1.0 / v + 1.0 / se_c2[:, None]
        mc_j = (m_w[:, None] / v + (ybar_c / se_c2)[:, None]) / prec_j
        mean_c = np.sum(wt * mc_j, axis=1)
        var_c = np.sum(wt * (1.0 / prec_j + mc_j**2), axis=1) - mean_c**2
        mu_j = mt[:, None] - mc_j
        sd_j = np.sqrt(var_t[:, None] + 1.0 / prec_j)
        mean = mt - mean_c
        se = np.sqrt(var_t + var_c)
        prob = np.sum(wt * special.ndtr((mu_j - margin) / sd_j), axis=1)
        lower = _mixture_quantile(wt, mu_j, sd_j, alpha)
        upper = _mixture_quantile(wt, mu_j, sd_j, 1.0 - alpha)
    failed = ~(np.isfinite(mean) & np.isfinite(se) & (se > 0))
    return {
        "estimate": mean,
        "se": se,
        "lower": lower,
        "upper": upper,
        "prob": prob,
        "failed": failed,
        "borrowed": s2 / var_c - n_c,
        "a0": a0_used,
    }
