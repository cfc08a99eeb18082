"""Deterministic MAP computation: quadrature over (mu, tau) with per-study adaptive
Gauss-Hermite integrals.

The posterior of the hyperparameters is represented by weighted nodes
``(mu_j, tau_j, w_j)``; the MAP prior is then the normal mixture
``sum_j w_j N(mu_j, tau_j^2)`` on the link scale.

Rules:

* tau (per stratum): Gauss-Legendre in ``v = log tau`` over the range that holds the
  posterior mass (located on a wide grid with the normal approximation of the study
  likelihoods, and widened until the end nodes carry negligible weight), plus one node
  at tau = 0 that carries the prior mass of ``[0, tau_lo]`` when that range is reached.
* the regression coefficients b = (mu, beta) given tau: adaptive (product)
  Gauss-Hermite, centred and scaled by the conditional posterior of b (its normal
  approximation first, then the mean and covariance of the exact conditional at the
  nodes, once more). Without covariates b is mu alone.
* theta_h given (mu, tau): adaptive Gauss-Hermite (``_kernels.study_marginal``).
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import special

from rdstats.borrowing._hyperpriors import Normal, TauPrior
from rdstats.borrowing._kernels import gh_rule, study_marginal
from rdstats.borrowing._studies import Studies

Array = NDArray[np.float64]

__all__ = ["Nodes", "exact_nodes"]

_NEGLIGIBLE = 36.0  # log-density drop (e^-36 ~ 2e-16) treated as no mass


@dataclass(frozen=True)
class Grids:
    """Density grids of the linear predictor given tau (see ``_mu_grids``)."""

    idx: NDArray[np.intp]  # tau nodes with a grid
    grid: Array  # (G, M) uniform grid of the linear predictor
    kern: Array  # (G, M) kernel weights, summing to each node's posterior weight
    h: Array  # (G,) kernel SD = grid step
    predictive: NDArray[np.bool_]  # (G,) tau narrow enough that the MAP prior needs it
    of_mu: bool  # the linear predictor is mu (no covariates): grids for every live node


@dataclass(frozen=True)
class Nodes:
    """Weighted nodes of the hyperparameter posterior, grouped by tau node."""

    coef: Array  # (C, K, D) regression coefficients (intercept mu first)
    tau: Array  # (C, S) tau of every stratum
    weight: Array  # (C, K), sums to 1
    cond_mean: Array  # (C, D) mean of b given tau_c and the data
    cond_cov: Array  # (C, D, D)
    log_evidence: float
    theta_mean: Array  # (C, K, H) E[theta_h | b, tau, y_h]
    theta_var: Array  # (C, K, H)
    # per stratum: tau nodes, log rule weights (-inf: the node at tau = 0) and the edges of
    # the rule's Gauss-Legendre panels in log tau (empty for a fixed tau)
    tau_rules: tuple[tuple[Array, Array, Array], ...]
    grids: Grids | None = None


def _approx_log_marginal(
    est: Array,
    se: Array,
    design: Array,
    stratum: NDArray[np.intp],
    b0: Array,
    sd0: Array,
    taus: Array,
) -> tuple[Array, Array, Array]:
    """Normal-approximation log p(data | tau) with b integrated out, and the conditional
    mean (C, D) and covariance (C, D, D) of b, for tau combinations ``taus`` (C, S)."""
    v = taus[:, stratum] ** 2 + se**2  # (C, H)
    w = 1.0 / v
    p0 = np.diag(1.0 / sd0**2)
    prec = np.einsum("ch,hd,he->cde", w, design, design) + p0
    rhs = np.einsum("ch,hd,h->cd", w, design, est) + p0 @ b0
    cov = np.linalg.inv(prec)
    m = np.einsum("cde,ce->cd", cov, rhs)
    resid = est - m @ design.T
    dev = m - b0
    logml = (
        -0.5 * np.sum(np.log(v) + w * resid**2, axis=1)
        - 0.5 * np.einsum("cd,de,ce->c", dev, p0, dev)
        - np.sum(np.log(sd0))
        - 0.5 * np.linalg.slogdet(prec)[1]
    )
    return logml, m, cov


def _gl(k: int) -> tuple[Array, Array]:
    return _GL.setdefault(k, np.polynomial.legendre.leggauss(k))


_GL: dict[int, tuple[Array, Array]] = {}


def _panels(lo: float, hi: float, width: float, k: int) -> tuple[Array, Array, Array]:
    """Composite Gauss-Legendre rule on [lo, hi]: panels of at most ``width``, ``k`` nodes
    each; returns nodes, log weights and the panel edges."""
    n = max(1, math.ceil((hi - lo) / width - 1e-9))
    edges = np.linspace(lo, hi, n + 1)
    x, w = _gl(k)
    half = np.diff(edges)[:, None] / 2
    nodes = (edges[:-1, None] + half * (x + 1)).ravel()
    return nodes, np.log((half * w).ravel()), edges


def _tau_nodes(
    priors: list[TauPrior],
    studies: Studies,
    est: Array,
    se: Array,
    design: Array,
    b0: Array,
    sd0: Array,
    width: float,
    per_panel: int,
    widen: float,
) -> tuple[Array, Array, tuple[tuple[Array, Array, Array], ...]]:
    """Tau combinations (C, S) and their log quadrature weights including the prior, and
    each stratum's rule (tau nodes and log weights without the prior; -inf marks tau = 0).

    Per stratum: composite Gauss-Legendre in v = log tau over the range where the
    (normal-approximation) posterior density of v is within e^-36 of its maximum,
    padded by ``widen``; below ``tau_lo = 1e-4 min(se)`` tau acts as 0 (the likelihood
    changes by a relative O(tau_lo^2 / se^2) = 1e-8), so that prior mass goes to one
    node at tau = 0.
    """
    tau_lo = 1e-4 * float(np.min(se))
    v_lo = math.log(tau_lo)
    per_stratum: list[tuple[Array, Array]] = []
    rules: list[tuple[Array, Array, Array]] = []
    pilot = 201 if len(priors) == 1 else 61
    base = np.array([float(p.ppf(0.5)) if math.isfinite(p.ppf(0.5)) else 1.0 for p in priors])
    for s, prior in enumerate(priors):
        if prior.fixed:
            per_stratum.append((np.array([float(prior.ppf(0.5))]), np.array([0.0])))
            rules.append((per_stratum[-1][0], np.array([0.0]), np.empty(0)))
            continue
        q_hi = float(prior.ppf(1.0 - 1e-12))
        tau_hi = q_hi if math.isfinite(q_hi) else 1e8 * float(np.max(se))
        v = np.linspace(v_lo, math.log(max(tau_hi, 10 * tau_lo)), pilot)
        # other strata at their prior medians while this stratum's mass is located
        taus = np.repeat(base[None, :], v.size, axis=0)
        taus[:, s] = np.exp(v)
        logml, _, _ = _approx_log_marginal(est, se, design, studies.stratum, b0, sd0, taus)
        logpost = np.where(np.isfinite(lp := prior.logpdf(np.exp(v))), logml + lp + v, -np.inf)
        keep = np.flatnonzero(logpost > logpost.max() - _NEGLIGIBLE)
        step = v[1] - v[0]
        lo = max(v[keep[0]] - step - widen, v_lo)
        hi = v[keep[-1]] + step + widen
        # a bounded prior (uniform) has a jump at its support's ends: end panels there
        sup_lo, sup_hi = float(prior.ppf(0.0)), float(prior.ppf(1.0))
        if math.isfinite(sup_hi):
            hi = min(hi, math.log(sup_hi))
        if sup_lo > 0:
            lo = max(lo, math.log(sup_lo))
        # far below the pooled SD of mu the integrand is ~ tau (x a smooth function of
        # tau^2): one panel suffices there
        split = math.log(0.1 / math.sqrt(float(np.sum(1.0 / se**2))))
        if lo < split - width and split + width < hi:
            v1, w1, e1 = _panels(lo, split, split - lo, per_panel)
            v2, w2, e2 = _panels(split, hi, width, per_panel)
            nodes_v, logw = np.concatenate([v1, v2]), np.concatenate([w1, w2])
            edges = np.concatenate([e1, e2[1:]])
        else:
            nodes_v, logw, edges = _panels(lo, hi, width, per_panel)
        lp_nodes = prior.logpdf(np.exp(nodes_v))
        ok = np.isfinite(lp_nodes)
        taus_s, logw_s = np.exp(nodes_v[ok]), logw[ok] + lp_nodes[ok] + nodes_v[ok]
        rule_s = logw[ok] + nodes_v[ok]  # d tau = tau d v
        mass = float(prior.cdf(math.exp(lo)))
        if mass > 0:
            taus_s = np.concatenate([[0.0], taus_s])
            logw_s = np.concatenate([[math.log(mass)], logw_s])
            rule_s = np.concatenate([[-np.inf], rule_s])
        per_stratum.append((taus_s, logw_s))
        rules.append((taus_s, rule_s, edges))
    combos = list(itertools.product(*[range(t.size) for t, _ in per_stratum]))
    idx = np.array(combos, dtype=np.intp).reshape(len(combos), len(priors))
    taus = np.column_stack([per_stratum[s][0][idx[:, s]] for s in range(len(priors))])
    logw = np.sum([per_stratum[s][1][idx[:, s]] for s in range(len(priors))], axis=0)
    return taus, np.atleast_1d(logw), tuple(rules)


def _log_joint(
    studies: Studies,
    est: Array,
    prec: Array,
    design: Array,
    b0: Array,
    sd0: Array,
    coef: Array,
    tau_study: Array,
    k_theta: int,
) -> tuple[Array, Array, Array]:
    """log p(b) + sum_h log m_h(x_h b, tau) and the conditional theta moments per study.
    ``coef`` is (C, K, D); ``tau_study`` is (C, H)."""
    total = np.sum(-0.5 * ((coef - b0) / sd0) ** 2 - np.log(sd0) - 0.5 * math.log(2 * math.pi), -1)
    lin = coef @ design.T  # (C, K, H)
    means, vars_ = [], []
    # all-or-none studies (r = 0, r = n, no events) have one-sided likelihoods whose
    # integrand is far from Gaussian at large tau: twice the nodes
    extreme = (studies.y == 0) | ((studies.family == "binomial") & (studies.y == studies.n))
    for h in range(studies.size):
        logm, dm, dv = study_marginal(
            studies.family,
            float(studies.y[h]),
            float(studies.n[h]),
            float(studies.se[h]),
            float(est[h]),
            float(prec[h]),
            lin[..., h],
            tau_study[:, h : h + 1],
            2 * k_theta if extreme[h] and studies.family != "normal" else k_theta,
        )
        total = total + logm
        means.append(lin[..., h] + dm)
        vars_.append(dv)
    return total, np.stack(means, axis=-1), np.stack(vars_, axis=-1)


NARROW = 3.0  # tau nodes with tau < NARROW * SD(mu | tau) need a density grid
_GRID_STEP = 1.0 / 7  # grid spacing in units of SD(mu | tau)
_GRID_HALF = 7.5  # grid half-width in the same units


@functools.lru_cache(maxsize=8)
def _interpolation_matrix(x: tuple[float, ...], t: tuple[float, ...]) -> Array:
    """(M, K) matrix taking values at the nodes ``x`` to the values of their interpolating
    polynomial at the points ``t`` (barycentric formula)."""
    xa, ta = np.array(x), np.array(t)
    diff = xa[:, None] - xa[None, :]
    np.fill_diagonal(diff, 1.0)
    bw = 1.0 / np.prod(diff, axis=1)
    d = ta[:, None] - xa[None, :]
    hit = d == 0.0
    c = bw / np.where(hit, 1.0, d)
    mat = c / c.sum(axis=1, keepdims=True)
    rows = hit.any(axis=1)  # a point on a node takes the node's value
    mat[rows] = hit[rows].astype(float)
    mat.flags.writeable = False
    return mat


def _unit_grid() -> Array:
    return np.arange(-_GRID_HALF, _GRID_HALF + _GRID_STEP / 2, _GRID_STEP)


def _kernels_from_log_density(logg: Array, w_node: Array) -> Array:
    """Second-order deconvolution of a density given by its log on a uniform grid: kernel
    weights ``h (p - (h^2 / 2) p'')`` (normalised to ``w_node`` per row)."""
    logg = logg - logg.max(axis=1, keepdims=True)
    dens = np.exp(logg)
    second = np.zeros_like(dens)
    second[:, 1:-1] = dens[:, 2:] - 2 * dens[:, 1:-1] + dens[:, :-2]
    kern = np.clip(dens - 0.5 * second, 0.0, None)
    return np.asarray(kern * (w_node / kern.sum(axis=1))[:, None])


def _mu_grids(
    z: Array,
    centre: Array,
    scale: Array,
    logj: Array,
    tau_new: Array,
    w_tau: Array,
    v: Array,
) -> Grids:
    """Continuous representation of mu | tau (no covariates), for every tau node with
    weight: mu's own quantiles need it everywhere, and where tau < NARROW SD(mu | tau) the
    new study's theta* = mu + tau z inherits the shape of mu's conditional posterior
    (skewed for binomial and Poisson data), which a few Gauss-Hermite points cannot carry
    into quantiles. mu's exact conditional log density ``logj`` is known at the
    Gauss-Hermite nodes ``centre + sqrt(2) scale z`` (it is smooth and nearly quadratic:
    the degree K-1 interpolating polynomial reproduces it to ~1e-10 within 7.5 SD); it is
    interpolated to a uniform grid (step h = scale / 7) and written as normal kernels of SD h
    with weights ``h (p - (h^2 / 2) p'')`` - the second-order deconvolution, so that the
    kernel sum reproduces p to O(h^4) and its mean and variance exactly.
    """
    sd = np.sqrt(np.maximum(v, 0.0))
    idx = np.flatnonzero(w_tau > 1e-14)
    zg = _unit_grid()
    # the grid shares the rule's centre and scale, so one matrix interpolates every node
    mat = _interpolation_matrix(tuple(z), tuple(zg / math.sqrt(2.0)))
    return Grids(
        idx=idx,
        grid=centre[idx, None] + scale[idx, None] * zg,  # (G, M)
        kern=_kernels_from_log_density(logj[idx] @ mat.T, w_tau[idx]),
        h=_GRID_STEP * scale[idx],
        predictive=tau_new[idx] < NARROW * sd[idx],
        of_mu=True,
    )


_N_CHEB = 21  # Chebyshev points carrying the log density of x* b | tau (covariates)
_K_ORTH = {2: 6, 3: 4}  # Gauss-Hermite nodes per direction orthogonal to x* b


def _linear_grids(
    studies: Studies,
    est: Array,
    prec: Array,
    x_mat: Array,
    b0: Array,
    sd0: Array,
    taus: Array,
    tau_new: Array,
    w_tau: Array,
    cm: Array,
    cc: Array,
    xnew: Array,
    k_theta: int,
) -> Grids | None:
    """The density grids of ``_mu_grids`` for the linear predictor ``l = x* b`` of a
    model with covariates (b of dimension d > 1), where the new study's tau is narrow.

    Given tau, ``p(l)`` integrates the exact conditional density of b over the hyperplane
    ``x* b = l``: b = m + (l - x* m) g + R y with g = C x* / (x* C x*) and R a square root
    of C - C x* x*' C / (x* C x*) (the normal approximation's regression of b on l), y by
    product Gauss-Hermite. log p(l) is evaluated at Chebyshev points of +-7.5 SD(l), where
    it is smooth and nearly quadratic, and interpolated to the uniform grid.
    """
    d = cm.shape[1]
    lin_m = cm @ xnew
    lin_v = np.einsum("d,cde,e->c", xnew, cc, xnew)
    sd = np.sqrt(np.maximum(lin_v, 0.0))
    idx = np.flatnonzero((tau_new < NARROW * sd) & (w_tau > 1e-14) & (sd > 0))
    if idx.size == 0:
        return None
    m_i, c_i, sd_i = cm[idx], cc[idx], sd[idx]
    cx = c_i @ xnew  # (Cn, d)
    g = cx / (sd_i**2)[:, None]
    rest = c_i - np.einsum("cd,ce->cde", cx, cx) / (sd_i**2)[:, None, None]
    vals, vecs = np.linalg.eigh(rest)  # ascending: the first is the null direction x*
    root = vecs[:, :, 1:] * np.sqrt(np.maximum(vals[:, None, 1:], 0.0))  # (Cn, d, d-1)
    y, logw_y = _product_gh(_K_ORTH.get(d, 4), d - 1)
    zc = _GRID_HALF * np.cos(np.pi * (2 * np.arange(_N_CHEB) + 1) / (2 * _N_CHEB))
    along = (sd_i[:, None] * zc)[:, :, None, None] * g[:, None, None, :]  # (Cn, N, 1, d)
    across = math.sqrt(2.0) * np.einsum("cde,ke->ckd", root, y)[:, None]  # (Cn, 1, K, d)
    coef = (m_i[:, None, None, :] + along + across).reshape(idx.size, -1, d)
    logj, _, _ = _log_joint(
        studies, est, prec, x_mat, b0, sd0, coef, taus[idx][:, studies.stratum], k_theta
    )
    logm = special.logsumexp(logj.reshape(idx.size, _N_CHEB, -1) + logw_y, axis=2)
    zg = _unit_grid()
    logg = logm @ _interpolation_matrix(tuple(zc), tuple(zg)).T
    return Grids(
        idx=idx,
        grid=lin_m[idx, None] + sd_i[:, None] * zg,
        kern=_kernels_from_log_density(logg, w_tau[idx]),
        h=_GRID_STEP * sd_i,
        predictive=np.ones(idx.size, dtype=bool),
        of_mu=False,
    )


@functools.lru_cache(maxsize=16)
def _product_gh(k: int, d: int) -> tuple[Array, Array]:
    """Product Gauss-Hermite rule in d dimensions: nodes (K, d) and log weights + |x|^2."""
    x, logw = gh_rule(k)
    grids = np.meshgrid(*([x] * d), indexing="ij")
    nodes = np.stack([g.ravel() for g in grids], axis=-1)
    lw = np.meshgrid(*([logw] * d), indexing="ij")
    logw_all = np.sum([g.ravel() for g in lw], axis=0) + np.sum(nodes**2, axis=1)
    return nodes, logw_all


def exact_nodes(
    studies: Studies,
    tau_priors: list[TauPrior],
    mean_prior: Normal,
    *,
    design: Array | None = None,
    beta_sd: Array | None = None,
    xnew: Array | None = None,
    s_new: int = 0,
    panel: float = 1.0,
    per_panel: int = 8,
    n_mu: int = 24,
    k_theta: int = 16,
) -> Nodes:
    """Quadrature nodes and weights of the posterior of (b, tau); with covariates, the
    density grids of narrow tau nodes are for the linear predictor ``xnew @ b`` (none
    without ``xnew``); ``s_new`` is the stratum of the new study."""
    est, se = studies.raw_estimates()
    prec = 1.0 / se**2
    x_mat = np.ones((studies.size, 1)) if design is None else np.asarray(design, dtype=float)
    d = x_mat.shape[1]
    b0 = np.zeros(d)
    b0[0] = mean_prior.mean
    sd0 = np.full(d, mean_prior.sd)
    if beta_sd is not None and d > 1:
        sd0[1:] = beta_sd
    k_b = n_mu if d == 1 else max(5, {2: 12, 3: 8}.get(d, 6))
    z, logw_gh = _product_gh(k_b, d)
    widen = 0.0
    for _attempt in range(4):
        taus, logw_tau, rules = _tau_nodes(
            tau_priors, studies, est, se, x_mat, b0, sd0, panel, per_panel, widen
        )
        _, m, cov = _approx_log_marginal(est, se, x_mat, studies.stratum, b0, sd0, taus)
        tau_study = taus[:, studies.stratum]
        for _refine in range(2):
            chol = np.linalg.cholesky(cov)  # (C, D, D)
            coef = m[:, None, :] + math.sqrt(2.0) * np.einsum("cde,ke->ckd", chol, z)
            centre, scale = m[:, 0], np.asarray(chol[:, 0, 0], dtype=float)  # (d = 1 rule)
            logdet = np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)
            logj, tmean, tvar = _log_joint(
                studies, est, prec, x_mat, b0, sd0, coef, tau_study, k_theta
            )
            terms = logj + logw_gh + (logdet + 0.5 * d * math.log(2.0))[:, None]
            cond = np.exp(terms - special.logsumexp(terms, axis=1, keepdims=True))
            m_new = np.einsum("ck,ckd->cd", cond, coef)
            dev = coef - m_new[:, None, :]
            cov_new = np.einsum("ck,ckd,cke->cde", cond, dev, dev)
            if studies.family == "normal":
                break  # the conditional is exactly normal: the first rule is exact
            jitter = 1e-14 * (1.0 + np.abs(m_new)) ** 2
            m, cov = m_new, cov_new + jitter[:, :, None] * np.eye(d)
        logw = terms + logw_tau[:, None]
        # the tau range must hold all the mass: the last node negligible, else widen
        by_tau = special.logsumexp(logw, axis=1)
        if len(tau_priors) > 1 or by_tau.size <= 2 or by_tau[-1] < by_tau.max() - 25.0:
            break  # (the lower end is closed by the node at tau = 0)
        widen += 2.0
    log_evidence = float(special.logsumexp(logw))
    weight = np.exp(logw - log_evidence)
    w_tau = weight.sum(axis=1)
    cm = np.einsum("ck,ckd->cd", weight, coef) / np.maximum(w_tau, 1e-300)[:, None]
    dev = coef - cm[:, None, :]
    cc = np.einsum("ck,ckd,cke->cde", weight, dev, dev) / np.maximum(w_tau, 1e-300)[:, None, None]
    grids = None
    if studies.family == "normal":
        pass  # b | tau is exactly normal
    elif d == 1:
        grids = _mu_grids(z[:, 0], centre, scale, logj, taus[:, s_new], w_tau, cc[:, 0, 0])
    elif xnew is not None:
        grids = _linear_grids(
            studies, est, prec, x_mat, b0, sd0, taus, taus[:, s_new], w_tau, cm, cc, xnew, k_theta
        )
    return Nodes(
        grids=grids,
        coef=coef,
        tau=taus,
        weight=weight,
        cond_mean=cm,
        cond_cov=cc,
        log_evidence=log_evidence,
        theta_mean=tmean,
        theta_var=tvar,
        tau_rules=rules,
    )
