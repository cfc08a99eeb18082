"""Summaries of a MAP analysis from quadrature nodes (deterministic method) or MCMC
draws: the MAP prior as a distribution, the population mean, tau and the shrunken study
estimates."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from numpy.polynomial import legendre
from numpy.typing import NDArray
from scipy import optimize

from rdstats._adaptive_quadrature import legendre_rule
from rdstats.borrowing._map_exact import Nodes
from rdstats.borrowing._map_result import LEVELS, summary_row
from rdstats.borrowing._predictive import (
    LinkMixture,
    LinkSample,
    Predictive,
    _to_response,
    mixture_quantiles,
)
from rdstats.borrowing._studies import Studies
from rdstats.priors import NormalMixture

Array = NDArray[np.float64]

__all__ = ["from_draws", "from_nodes", "tau_summary_draws", "tau_summary_exact"]


def _panel_cdf(v: Array, dens: Array, edges: Array) -> tuple[Array, Array, Array]:
    """Piecewise-polynomial density of v = log tau from its values at the Gauss-Legendre
    nodes ``v`` of the panels ``edges``: on every panel the interpolating polynomial
    through its m nodes (degree m - 1, so its integral equals the panel's quadrature sum).
    Returns the panels' half-widths, the Legendre coefficients of each panel's
    antiderivative in the local variable u in [-1, 1] (zero at u = -1), and the
    cumulative mass at the panels' left edges."""
    n_panels = edges.size - 1
    m = v.size // n_panels
    x, _, to_coef = legendre_rule(m)
    half = np.diff(edges) / 2
    vals = np.zeros((n_panels, m))
    panel = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, n_panels - 1)
    u = (v - edges[panel]) / half[panel] - 1.0
    slot = np.argmin(np.abs(u[:, None] - x[None, :]), axis=1)
    vals[panel, slot] = dens  # (nodes dropped outside a prior's support keep density 0)
    coef = vals @ to_coef.T
    integ = np.array([legendre.legint(c, lbnd=-1.0) for c in coef]) * half[:, None]
    mass = legendre.legval(1.0, integ.T)
    return half, integ, np.concatenate([[0.0], np.cumsum(mass)])


def tau_summary_exact(nodes: Nodes, strata: tuple[str, ...]) -> pd.DataFrame:
    w_tau = nodes.weight.sum(axis=1)
    rows = []
    for s, (t_nodes, rule, edges) in enumerate(nodes.tau_rules):
        name = "tau" if len(strata) == 1 else f"tau[{strata[s]}]"
        w = np.array([w_tau[nodes.tau[:, s] == t].sum() for t in t_nodes])
        mean = float(w @ t_nodes)
        sd = math.sqrt(max(float(w @ t_nodes**2) - mean**2, 0.0))
        if t_nodes.size == 1:
            rows.append(summary_row(name, mean, sd, [float(t_nodes[0])] * 3))
            continue
        # density of v = log tau at the rule's nodes, a polynomial on each Gauss-Legendre
        # panel, integrated exactly; the node at tau = 0 is a point mass at the start
        lump = ~np.isfinite(rule)
        v = np.log(t_nodes[~lump])
        dens = w[~lump] / np.exp(rule[~lump] - v)  # mass / (d tau weight) * tau = per dv
        start = float(w[lump].sum())
        half, integ, cum = _panel_cdf(v, dens, edges)
        scale = (1.0 - start) / cum[-1] if cum[-1] > 0 else 0.0
        qs = []
        for q in LEVELS:
            if q <= start or scale == 0.0:
                qs.append(0.0)
                continue
            target = (q - start) / scale
            p = int(np.clip(np.searchsorted(cum, target) - 1, 0, half.size - 1))

            def within(u: float, c: Array = integ[p], t: float = target - cum[p]) -> float:
                return float(legendre.legval(u, c)) - t

            lo_u, hi_u = -1.0, 1.0
            if within(lo_u) * within(hi_u) > 0:  # rounding at a panel edge
                qs.append(
                    math.exp(edges[p] if abs(within(lo_u)) < abs(within(hi_u)) else edges[p + 1])
                )
                continue
            u = optimize.brentq(within, lo_u, hi_u, xtol=1e-13)
            qs.append(math.exp(edges[p] + half[p] * (u + 1.0)))
        rows.append(summary_row(name, mean, sd, qs))
    return pd.DataFrame(rows)


def _studies_table(
    studies: Studies, mean: Array, sd: Array, q: Array, link_mean: Array, link_sd: Array
) -> pd.DataFrame:
    est, se = studies.raw_estimates()
    out = studies.table()
    out["observed"] = studies.observed()
    out["posterior_mean"] = mean
    out["posterior_sd"] = sd
    out["2.5%"], out["50%"], out["97.5%"] = q[:, 0], q[:, 1], q[:, 2]
    out["link_estimate"], out["link_se"] = est, se
    out["link_posterior_mean"], out["link_posterior_sd"] = link_mean, link_sd
    return out


def _response_moments(family: str, m: Array, s: Array, w: Array) -> tuple[float, float]:
    """Mean and SD on the response scale of sum_j w_j N(m_j, s_j^2) on the link scale."""
    return LinkMixture(family, NormalMixture(w / w.sum(), m, np.maximum(s, 1e-300))).moments()


def from_nodes(
    studies: Studies, nodes: Nodes, xnew: Array, s_new: int
) -> tuple[Predictive, dict[str, Any], pd.DataFrame, pd.DataFrame]:
    w = nodes.weight  # (C, K)
    w_tau = w.sum(axis=1)
    tau_new = nodes.tau[:, s_new]
    lin = nodes.coef @ xnew  # (C, K)
    cond_m = nodes.cond_mean @ xnew
    cond_s = np.sqrt(np.maximum(np.einsum("d,cde,e->c", xnew, nodes.cond_cov, xnew), 0.0))
    # tau nodes much wider than the conditional spread of the linear predictor keep their
    # Gauss-Hermite coefficient nodes (N(lin, tau^2) components are smooth in mu); narrower
    # ones use the smoothed density grid of the linear predictor given tau (one
    # moment-matched normal where a grid was not needed: negligible weight) - a mixture of
    # near point masses would be a step function
    live = w_tau > 1e-14 * w_tau.max()
    on_grid = np.zeros(w_tau.size, dtype=bool)
    grid_w, grid_m, grid_s = np.empty(0), np.empty(0), np.empty(0)
    g = nodes.grids
    if g is not None:
        use = g.predictive
        on_grid[g.idx[use]] = True
        grid_w = g.kern[use].ravel()
        grid_m = g.grid[use].ravel()
        grid_s = np.sqrt(g.h[use, None] ** 2 + tau_new[g.idx[use], None] ** 2 + 0 * g.grid[use])
        grid_s = grid_s.ravel()
    collapse = live & ~on_grid & (tau_new < cond_s)
    wide = live & ~on_grid & ~collapse
    comp_w = np.concatenate([w[wide].ravel(), grid_w, w_tau[collapse]])
    comp_m = np.concatenate([lin[wide].ravel(), grid_m, cond_m[collapse]])
    comp_s = np.concatenate(
        [
            np.repeat(tau_new[wide], w.shape[1]),
            grid_s,
            np.sqrt(cond_s[collapse] ** 2 + tau_new[collapse] ** 2),
        ]
    )
    keep = comp_w > 1e-13 * comp_w.max()  # (drops kernels at the far grid ends)
    comp_w = comp_w[keep] / comp_w[keep].sum()
    pred = LinkMixture(studies.family, NormalMixture(comp_w, comp_m[keep], comp_s[keep]))
    # population mean (intercept) on the link scale
    mu = nodes.coef[..., 0]
    mu_mean = float(np.sum(w * mu))
    mu_sd = float(math.sqrt(max(np.sum(w * mu**2) - mu_mean**2, 0.0)))
    # mu's quantiles: the density grids of mu | tau (no covariates; with covariates one
    # moment-matched normal per tau node)
    mu_w, mu_m, mu_s = w_tau, nodes.cond_mean[:, 0], np.sqrt(nodes.cond_cov[:, 0, 0])
    if g is not None and g.of_mu:
        rest = np.ones(w_tau.size, dtype=bool)
        rest[g.idx] = False
        mu_w = np.concatenate([w_tau[rest], g.kern.ravel()])
        mu_m = np.concatenate([mu_m[rest], g.grid.ravel()])
        mu_s = np.concatenate([mu_s[rest], (g.h[:, None] + 0 * g.grid).ravel()])
    big = mu_w > 1e-13 * mu_w.max()
    mu_q = mixture_quantiles(mu_w[big], mu_m[big], mu_s[big], LEVELS)
    mu_row = summary_row("mu (link scale)", mu_mean, mu_sd, mu_q)
    # study estimates: per tau node, a moment-matched normal of theta_h
    tm, tv = nodes.theta_mean, nodes.theta_var  # (C, K, H)
    wn = w / np.maximum(w_tau, 1e-300)[:, None]
    cm = np.einsum("ck,ckh->ch", wn, tm)
    cv = np.maximum(np.einsum("ck,ckh->ch", wn, tv + tm**2) - cm**2, 0.0)
    h_mean, h_sd = [], []
    for h in range(studies.size):
        m_r, s_r = _response_moments(studies.family, cm[:, h], np.sqrt(cv[:, h]), w_tau)
        h_mean.append(m_r)
        h_sd.append(s_r)
    h_q = _to_response(studies.family, mixture_quantiles(w_tau, cm, np.sqrt(cv), LEVELS))
    l_mean = w_tau @ cm
    l_sd = np.sqrt(np.maximum(w_tau @ (cv + cm**2) - l_mean**2, 0.0))
    table = _studies_table(studies, np.array(h_mean), np.array(h_sd), h_q, l_mean, l_sd)
    return pred, mu_row, table, pd.DataFrame()


def from_draws(
    studies: Studies, draws: Any, xnew: Array, s_new: int, seed: Any
) -> tuple[Predictive, dict[str, Any], pd.DataFrame, pd.DataFrame]:
    lin = draws.coef @ xnew
    tau_new = draws.tau[:, s_new]
    gen = np.random.default_rng(seed)
    theta_new = lin + tau_new * gen.standard_normal(lin.size)
    pred = LinkSample(studies.family, lin, tau_new, theta_new)
    mu = draws.coef[:, 0]
    mu_row = summary_row(
        "mu (link scale)",
        float(mu.mean()),
        float(mu.std(ddof=1)),
        np.quantile(mu, LEVELS).tolist(),
    )
    resp = _to_response(studies.family, draws.theta)
    table = _studies_table(
        studies,
        resp.mean(axis=0),
        resp.std(axis=0, ddof=1),
        np.quantile(resp, LEVELS, axis=0).T,
        draws.theta.mean(axis=0),
        draws.theta.std(axis=0, ddof=1),
    )
    return pred, mu_row, table, pd.DataFrame()


def tau_summary_draws(tau: Array, strata: tuple[str, ...]) -> pd.DataFrame:
    rows = []
    for s in range(tau.shape[1]):
        name = "tau" if len(strata) == 1 else f"tau[{strata[s]}]"
        t = tau[:, s]
        rows.append(
            summary_row(
                name, float(t.mean()), float(t.std(ddof=1)), np.quantile(t, LEVELS).tolist()
            )
        )
    return pd.DataFrame(rows)
