"""Batched kernels of the external-control design simulation: data generation, the
logistic propensity model fitted by Newton-Raphson, and the frequentist analyses (naive,
regression, 1:1 greedy matching, ATT odds weighting).

Every array has a leading batch axis of simulated trials, shape ``(B, n)`` with the
patients in the order treated ``[0, n_t)``, concurrent controls ``[n_t, n_t + n_c)``,
external controls ``[n_t + n_c, n)``. No validation, no pandas, no global random state.
An analysis returns a dict of ``(B,)`` arrays: ``estimate``, ``se`` and ``failed``
(plus analysis-specific outcomes); intervals and decisions are made by the caller.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import special

__all__ = [
    "generate",
    "logistic_fit",
    "matching",
    "naive",
    "regression",
    "weighting",
]

Array = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def generate(
    rng: np.random.Generator,
    size: int,
    n_t: int,
    n_c: int,
    n_e: int,
    prognostic: Array,
    *,
    sigma: float,
    intercept: float,
    binary: bool,
    effect: float,
    shift: float,
    unmeasured: float,
    drift: float,
) -> tuple[Array, Array]:
    """Covariates ``x`` (B, n, p) and outcomes ``y`` (B, n) of ``size`` trials.

    The draws are, in this order: the measured covariates (standard normal, (B, n, p)),
    the unmeasured covariate (standard normal, (B, n)) and the outcome noise (standard
    normal for a continuous, uniform for a binary endpoint, (B, n)); trial patients then
    have their covariates shifted by ``shift`` (measured) and 1 (unmeasured).
    """
    n_trial = n_t + n_c
    n = n_trial + n_e
    p = prognostic.size
    x = rng.standard_normal((size, n, p))
    u = rng.standard_normal((size, n))
    noise = rng.random((size, n)) if binary else rng.standard_normal((size, n))
    x[:, :n_trial, :] += shift
    u[:, :n_trial] += 1.0
    eta = intercept + x @ prognostic + unmeasured * u
    eta[:, n_trial:] += drift
    eta[:, :n_t] += effect
    if binary:
        y = (noise < special.expit(eta)).astype(float)
    else:
        y = eta + sigma * noise
    return x, y


def _design_matrix(x: Array) -> Array:
    """Covariates with a leading column of ones (B, n, p + 1)."""
    ones = np.ones((*x.shape[:2], 1))
    return np.concatenate([ones, x], axis=2)


def logistic_fit(
    x: Array, t: Array, *, tol: float = 1e-10, max_iter: int = 50
) -> tuple[Array, BoolArray]:
    """Maximum-likelihood logistic regression of ``t`` (B, n) on ``x`` (B, n, p) with an
    intercept, by Newton-Raphson from zero for every trial at once.

    A trial's fit stops when the largest absolute Newton step is below ``tol``; trials
    that do not get there within ``max_iter`` iterations (separation, where the
    coefficients drift off to infinity) or whose information matrix is singular are
    flagged. Returns the fitted probabilities (B, n) and the convergence flags (B,).
    """
    xd = _design_matrix(x)
    b, _, q = xd.shape
    beta = np.zeros((b, q))
    active = np.ones(b, dtype=bool)
    converged = np.zeros(b, dtype=bool)
    broken = np.zeros(b, dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        xa = xd[idx]
        p = special.expit(np.einsum("bnq,bq->bn", xa, beta[idx]))
        grad = np.einsum("bnq,bn->bq", xa, t[idx] - p)
        info = np.einsum("bnq,bn,bnr->bqr", xa, p * (1.0 - p), xa)
        step, bad = _solve(info, grad)
        bad |= ~np.all(np.isfinite(step), axis=1)
        step[bad] = 0.0
        beta[idx] += step
        done = np.max(np.abs(step), axis=1) < tol
        converged[idx[done & ~bad]] = True
        broken[idx[bad]] = True
        active[idx[done | bad]] = False
    ok = converged & ~broken & np.all(np.isfinite(beta), axis=1)
    with np.errstate(over="ignore", invalid="ignore"):
        e = special.expit(np.einsum("bnq,bq->bn", xd, beta))
    return e, ok


def _solve(a: Array, rhs: Array) -> tuple[Array, BoolArray]:
    """Batched solve of ``a x = rhs``; rows with a singular matrix are flagged."""
    bad = np.zeros(a.shape[0], dtype=bool)
    try:
        return np.asarray(np.linalg.solve(a, rhs[..., None])[..., 0], dtype=float), bad
    except np.linalg.LinAlgError:
        out = np.zeros_like(rhs)
        for i in range(a.shape[0]):
            try:
                out[i] = np.linalg.solve(a[i], rhs[i])
            except np.linalg.LinAlgError:
                bad[i] = True
        return out, bad


def _mean_var(y: Array) -> tuple[Array, Array]:
    """Row means and sample variances (ddof = 1; 0 for a single value)."""
    m = y.mean(axis=1)
    n = y.shape[1]
    v = np.sum((y - m[:, None]) ** 2, axis=1) / (n - 1) if n > 1 else np.zeros_like(m)
    return m, v


def naive(y: Array, n_t: int) -> dict[str, Array]:
    """Treated mean minus the mean of all controls (concurrent and external), with the
    Welch (unpooled) standard error."""
    mt, vt = _mean_var(y[:, :n_t])
    mc, vc = _mean_var(y[:, n_t:])
    se = np.sqrt(vt / n_t + vc / (y.shape[1] - n_t))
    return {"estimate": mt - mc, "se": se, "failed": np.zeros(y.shape[0], dtype=bool)}


def regression(x: Array, y: Array, n_t: int) -> dict[str, Array]:
    """OLS of ``y`` on an intercept, the treatment indicator and the covariates: the
    treatment coefficient with its classical standard error."""
    b, n, p = x.shape
    treated = np.zeros((b, n, 1))
    treated[:, :n_t] = 1.0
    xd = np.concatenate([np.ones((b, n, 1)), treated, x], axis=2)
    xtx = np.einsum("bnq,bnr->bqr", xd, xd)
    xty = np.einsum("bnq,bn->bq", xd, y)
    coef, bad = _solve(xtx, xty)
    resid = y - np.einsum("bnq,bq->bn", xd, coef)
    s2 = np.sum(resid**2, axis=1) / (n - p - 2)
    e1 = np.zeros((b, p + 2))
    e1[:, 1] = 1.0
    inv11, bad2 = _solve(xtx, e1)
    se = np.sqrt(s2 * inv11[:, 1])
    failed = bad | bad2 | ~np.isfinite(se)
    return {"estimate": coef[:, 1], "se": se, "failed": failed}


def matching(
    ps: Array, y: Array, n_t: int, caliper: float | None, ok: BoolArray
) -> dict[str, Array]:
    """1:1 greedy nearest-neighbour matching without replacement on the propensity score.

    Treated patients choose in descending order of their score (ties in data order),
    each taking the nearest control still available (the lowest control index among
    ties); with a caliper (in SDs of the score over all patients, ddof = 1) treated
    patients with no available control within it stay unmatched. Estimate: mean of the
    matched pair differences; SE: their SD over the square root of the number of pairs.
    Trials whose score did not converge (``ok`` False) or with fewer than two pairs fail.
    """
    b = ps.shape[0]
    rows = np.arange(b)
    pt, pc = ps[:, :n_t], ps[:, n_t:]
    order = np.argsort(-pt, axis=1, kind="stable")
    available = np.ones(pc.shape, dtype=bool)
    partner = np.full((b, n_t), -1, dtype=np.int64)
    width = None if caliper is None else caliper * np.std(ps, axis=1, ddof=1)
    for k in range(n_t):
        i = order[:, k]
        dist = np.abs(pc - pt[rows, i][:, None])
        dist[~available] = np.inf
        if width is not None:
            dist[dist > width[:, None]] = np.inf
        j = np.argmin(dist, axis=1)
        hit = np.isfinite(dist[rows, j])
        partner[rows[hit], i[hit]] = j[hit]
        available[rows[hit], j[hit]] = False
    matched = partner >= 0
    yc = np.take_along_axis(y[:, n_t:], np.where(matched, partner, 0), axis=1)
    diff = np.where(matched, y[:, :n_t] - yc, 0.0)
    pairs = matched.sum(axis=1)
    safe = np.maximum(pairs, 2)
    est = diff.sum(axis=1) / np.maximum(pairs, 1)
    ss = np.sum(np.where(matched, (diff - est[:, None]) ** 2, 0.0), axis=1)
    se = np.sqrt(ss / (safe - 1) / safe)
    failed = ~ok | (pairs < 2)
    return {
        "estimate": est,
        "se": se,
        "failed": failed,
        "n_matched": pairs.astype(float),
        "partner": partner,
    }


def odds_weights(e: Array, n_first: int) -> Array:
    """ATT odds weights ``e / (1 - e)`` of the patients from ``n_first`` on (B, n - n_first)."""
    ec = e[:, n_first:]
    with np.errstate(divide="ignore"):
        return np.asarray(ec / (1.0 - ec))


def weighting(
    e: Array, y: Array, n_t: int, n_c: int, ok: BoolArray, x: Array | None = None
) -> dict[str, Array]:
    """ATT odds weighting: treated mean minus the odds-weighted mean of all controls.

    With the covariates ``x`` (B, n, p) the standard error is the M-estimation sandwich of
    the stacked estimating equations (logistic score of the propensity model, treated
    mean, weighted control mean), which accounts for the estimation of the propensity
    score (Lunceford & Davidian 2004; Reifeis & Hudgens 2022 for the ATT). Without ``x``
    the weights are treated as fixed, ``se^2 = s_T^2 / n_T + sum w^2 (y - m_w)^2 /
    (sum w)^2`` (conservative here). ``ess_external`` is the Kish effective sample size
    of the external patients' weights."""
    w = odds_weights(e, n_t)
    w = np.where(np.isfinite(w), w, 0.0)
    yc = y[:, n_t:]
    sw = w.sum(axis=1)
    good = ok & (sw > 0)
    sw1 = np.where(good, sw, 1.0)
    mw = np.sum(w * yc, axis=1) / sw1
    mt, vt = _mean_var(y[:, :n_t])
    if x is None:
        var = vt / n_t + np.sum(w**2 * (yc - mw[:, None]) ** 2, axis=1) / sw1**2
    else:
        var = _att_mestimation_var(e, y, n_t, w, mt, mw, x)
    we = w[:, n_c:]
    s2 = np.sum(we**2, axis=1)
    ess = np.where(s2 > 0, we.sum(axis=1) ** 2 / np.where(s2 > 0, s2, 1.0), 0.0)
    se = np.sqrt(np.maximum(var, 0.0))
    return {
        "estimate": mt - mw,
        "se": se,
        "failed": ~good | ~np.isfinite(se),
        "ess_external": ess,
        "weights": w,
    }


def _att_mestimation_var(
    e: Array, y: Array, n_t: int, w: Array, mt: Array, mw: Array, x: Array
) -> Array:
    """Sandwich variance of ``mu_1 - mu_0`` from the influence functions
    ``IF_1 = T (Y - mu_1) / E[T]`` and
    ``IF_0 = [(1-T) w (Y - mu_0) + D' A^-1 (T - e) X] / E[(1-T) w]`` with
    ``A = E[e (1-e) X X']`` and ``D = E[(1-T) w (Y - mu_0) X]`` (logistic propensity model
    with intercept, odds weights ``w = e / (1 - e)``)."""
    xd = _design_matrix(x)
    n = y.shape[1]
    t = np.zeros(y.shape)
    t[:, :n_t] = 1.0
    wc = np.zeros(y.shape)
    wc[:, n_t:] = w
    res0 = wc * (y - mw[:, None])  # (1-T) w (Y - mu_0)
    a = np.einsum("bnq,bn,bnr->bqr", xd, e * (1.0 - e), xd) / n
    d = np.einsum("bn,bnq->bq", res0, xd) / n
    coef, _ = _solve(a, d)  # A^-1 D (A symmetric)
    psi_beta = (t - e)[:, :, None] * xd
    if0 = (res0 + np.einsum("bnq,bq->bn", psi_beta, coef)) / (wc.sum(axis=1) / n)[:, None]
    if1 = t * (y - mt[:, None]) / (n_t / n)
    return np.asarray(np.sum((if1 - if0) ** 2, axis=1) / n**2)
