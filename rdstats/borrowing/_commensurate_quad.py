"""Exact (quadrature) engine of the commensurate prior: the rule for tau, the
logistic-normal convolution kernel, and the normal and binomial analyses of theta
(see :mod:`rdstats.borrowing._commensurate` for the method)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from rdstats._warnings import ConvergenceWarning
from rdstats.borrowing._commensurate_data import _Obs
from rdstats.borrowing._hyperpriors import Fixed, TauPrior, Uniform
from rdstats.borrowing._precision_priors import SpikeSlabPrecision
from rdstats.borrowing._quadrature import QuadratureDistribution, Rule, adaptive_rule
from rdstats.borrowing._samples import SampleDistribution
from rdstats.priors import NormalMixture

Array = NDArray[np.float64]
_NEG = 45.0  # log-density drop treated as no mass


# -- tau rule --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _TauNodes:
    tau: Array  # (J,) all nodes: continuous nodes then atoms
    log_prior: Array  # (J,) log prior weight
    log_m: Array  # (J,) log m(D | tau)
    rule: Rule | None  # v-axis rule of the continuous part (columns: prior, posterior)
    atoms: Array
    atom_log_prior: Array
    atom_log_m: Array


def _tau_nodes(
    prior: TauPrior, logm: Callable[[Array], Array], scale: float, small: float
) -> _TauNodes:
    """Quadrature for tau adapted to the prior and to the posterior ``prior * m(D|tau)``.

    ``scale`` is the spread of the data (sets the upper end when the prior's tail is
    heavy), ``small`` the narrowest likelihood scale: below ``1e-3 * small`` the data
    cannot tell tau from 0 (``m(D | tau) = m(D | 0) (1 + O(tau^2 / small^2))``), so that
    prior mass goes to a node at tau = 0.
    """
    atoms: list[tuple[float, float]] = []
    rule = None
    if isinstance(prior, Fixed):
        atoms.append((prior.value, 1.0))
    elif isinstance(prior, SpikeSlabPrecision) and prior.p_spike == 1.0:
        atoms.append((prior.spike**-0.5, 1.0))
    else:
        if isinstance(prior, SpikeSlabPrecision):
            if prior.p_spike > 0:
                atoms.append((prior.spike**-0.5, prior.p_spike))
            lo, hi = prior._slab_range()
        elif isinstance(prior, Uniform):
            lo, hi = prior.lower, prior.upper
        else:
            lo, hi = 0.0, math.inf
        v_lo = math.log(max(lo, 1e-3 * small))
        top = float(prior.ppf(1 - 1e-13)) if not math.isfinite(hi) else hi
        v_hi = math.log(min(hi, max(top if math.isfinite(top) else 0.0, 10 * scale), 1e8 * scale))
        v_hi = max(v_hi, v_lo + 1.0)

        def cols(v: Array) -> Array:
            t = np.exp(v)
            lp = np.asarray(prior.logpdf(t), dtype=float) + v
            return np.column_stack([lp, lp + logm(t)])

        grid = np.linspace(v_lo, v_hi, math.ceil((v_hi - v_lo) / 0.25) + 1)
        val = cols(grid)
        keep = np.any(val > np.max(val, axis=0) - _NEG, axis=1)
        idx = np.flatnonzero(keep)
        a = grid[max(idx[0] - 1, 0)]
        b = grid[min(idx[-1] + 1, grid.size - 1)]
        rule = adaptive_rule(
            cols, np.linspace(a, b, math.ceil((b - a) / 3) + 1), order=12, rtol=1e-8
        )
        if lo == 0.0 and not isinstance(prior, SpikeSlabPrecision):
            # prior mass below the rule, placed at its conditional mean (tau is tiny here)
            ta = math.exp(a)
            mass0 = float(prior.cdf(ta))
            if mass0 > 0:
                x, w = np.polynomial.legendre.leggauss(16)
                t = ta * (x + 1) / 2
                dens = np.exp(np.asarray(prior.logpdf(t), dtype=float)) * w
                loc = float(np.sum(dens * t) / np.sum(dens)) if np.sum(dens) > 0 else 0.0
                atoms.append((loc, mass0))
    at = np.array([t for t, _ in atoms], dtype=float)
    with np.errstate(divide="ignore"):
        alp = np.log(np.array([m for _, m in atoms], dtype=float))
    alm = logm(at) if at.size else np.zeros(0)
    if rule is not None:
        tau_c = np.exp(rule.nodes.ravel())
        lp_c = np.log(rule.weights.ravel()) + rule.logvals[..., 0].ravel()
        lm_c = rule.logvals[..., 1].ravel() - rule.logvals[..., 0].ravel()
    else:
        tau_c = lp_c = lm_c = np.zeros(0)
    return _TauNodes(
        tau=np.concatenate([tau_c, at]),
        log_prior=np.concatenate([lp_c, alp]),
        log_m=np.concatenate([lm_c, alm]),
        rule=rule,
        atoms=at,
        atom_log_prior=alp,
        atom_log_m=alm,
    )


def _tau_distribution(tn: _TauNodes) -> QuadratureDistribution | SampleDistribution:
    """Posterior of tau from the nodes (continuous part on the log scale plus atoms)."""
    if tn.rule is None:
        return SampleDistribution(np.full(1, float(tn.atoms[0])), name="tau")
    post = Rule(tn.rule.edges, tn.rule.nodes, tn.rule.weights, tn.rule.logvals[..., 1:2])
    return QuadratureDistribution(
        post, kind="exp", atoms=tn.atoms, atom_logmass=tn.atom_log_prior + tn.atom_log_m, name="tau"
    )


# -- logistic-normal convolution kernel -------------------------------------------------
@dataclass(frozen=True)
class _LogitLik:
    """h(t) = y t - m softplus(t) - (t - m0)^2 / (2 s0^2) + const (s0 = inf: no prior)."""

    y: float
    m: float
    m0: float = 0.0
    s0: float = math.inf
    const: float = 0.0

    def terms(self, t: Array) -> tuple[Array, Array, Array]:
        p = special.expit(t)
        h = self.y * t - self.m * np.logaddexp(0.0, t) + self.const
        d1 = self.y - self.m * p
        d2 = -self.m * p * (1 - p)
        if math.isfinite(self.s0):
            h = h - (t - self.m0) ** 2 / (2 * self.s0**2)
            d1 = d1 - (t - self.m0) / self.s0**2
            d2 = d2 - 1 / self.s0**2
        return h, d1, d2

    def centre(self) -> tuple[float, float]:
        """Approximate mode and curvature (a starting point only)."""
        p = (self.y + 0.5) / (self.m + 1.0)
        t = math.log(p / (1 - p))
        lam = self.m * p * (1 - p) + (1 / self.s0**2 if math.isfinite(self.s0) else 0.0)
        return t, lam


def _convolve(lik: _LogitLik, x: Array, tau: Array, derivs: bool = False) -> tuple[Array, ...]:
    """log int exp(h(t)) N(t; x, tau^2) dt for broadcast x and tau > 0, and (``derivs``)
    the means of h' and h'' + h'^2 under the normalised integrand.

    The integrand's mode is found by safeguarded Newton (h is concave, so the root of the
    derivative is bracketed); the integral is then a trapezoid rule in z with
    ``t = mode + sd * sinh(z)`` (sd from the curvature at the mode), which converges
    geometrically for these smooth integrands from tau -> 0 (the normal kernel dominates)
    to tau -> infinity (h dominates). h must decay on both sides (0 < y < m or a prior).
    """
    x, tau = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(tau, dtype=float))
    prec_t = 1 / tau**2
    ps0 = 1 / lik.s0**2 if math.isfinite(lik.s0) else 0.0
    big_p = prec_t + ps0
    c = x * prec_t + lik.m0 * ps0
    lo, hi = (c + lik.y - lik.m) / big_p, (c + lik.y) / big_p
    tc, lam = lik.centre()
    t = np.clip((x * prec_t + tc * lam) / (prec_t + lam), lo, hi)
    for _ in range(200):
        _, d1, d2 = lik.terms(t)
        f = d1 - (t - x) * prec_t
        step = f / (d2 - prec_t)
        small = np.abs(step) <= 1e-13 * (1 + np.abs(t))
        lo = np.where(f > 0, t, lo)
        hi = np.where(f < 0, t, hi)
        new = t - step
        t = np.where(((new < lo) | (new > hi)) & ~small, (lo + hi) / 2, new)
        if small.all():
            break
    _, _, d2 = lik.terms(t)
    sig = 1 / np.sqrt(prec_t - d2)
    slope = min(lik.y, lik.m - lik.y)
    reach = 45.0 / slope + 10 * sig if slope > 0 else np.full_like(sig, np.inf)
    if math.isfinite(lik.s0):
        reach = np.minimum(reach, np.abs(t - lik.m0) + 10 * lik.s0 + 10 * sig)
    reach = np.maximum(np.minimum(np.abs(x - t) + 10 * tau, reach), 10 * sig)
    zmax = np.arcsinh(reach / sig)
    z = zmax[..., None] * _Z
    tk = t[..., None] + sig[..., None] * np.sinh(z)
    h, d1, d2k = lik.terms(tk)
    lv = (
        np.log(sig * zmax * (_Z[1] - _Z[0]))[..., None]
        + np.log(np.cosh(z))
        + h
        - (tk - x[..., None]) ** 2 * prec_t[..., None] / 2
    )
    lse = special.logsumexp(lv, axis=-1)
    logi = lse - 0.5 * math.log(2 * math.pi) + np.log(prec_t) / 2
    if not derivs:
        return (logi,)
    wk = np.exp(lv - lse[..., None])
    return logi, np.sum(wk * d1, axis=-1), np.sum(wk * (d2k + d1**2), axis=-1)


_Z = np.linspace(-1.0, 1.0, 48)


def _mix_convolve(
    lik: _LogitLik, x: Array, tn: _TauNodes, keep: Array
) -> tuple[Array, Array, Array]:
    """log g(x) = log sum_j u_j int exp(h) N(.; x, tau_j^2), and (log g)' and -(log g)''."""
    tau, lw = tn.tau[keep], tn.log_prior[keep]
    x = np.asarray(x, dtype=float)
    out_l, out_1, out_i = (np.empty(x.size) for _ in range(3))
    for s in range(0, x.size, 128):
        xs = x[s : s + 128][:, None]
        pos = tau > 0
        li = np.empty((xs.shape[0], tau.size))
        e1 = np.empty_like(li)
        e2 = np.empty_like(li)
        if pos.any():
            li[:, pos], e1[:, pos], e2[:, pos] = _convolve(lik, xs, tau[pos][None, :], derivs=True)
        if (~pos).any():
            h, d1, d2 = lik.terms(xs)
            li[:, ~pos], e1[:, ~pos], e2[:, ~pos] = h, d1, d2 + d1**2
        lv = li + lw
        tot = special.logsumexp(lv, axis=1)
        wk = np.exp(lv - tot[:, None])
        g1 = np.sum(wk * e1, axis=1)
        g2 = np.sum(wk * e2, axis=1)
        out_l[s : s + 128], out_1[s : s + 128], out_i[s : s + 128] = tot, g1, g1**2 - g2
    return out_l, out_1, out_i


# -- exact engines ---------------------------------------------------------------------------
def _prune(w: Array, *params: Array) -> tuple[Array, ...]:
    keep = w > 1e-15 * w.max()
    return (w[keep] / w[keep].sum(), *(p[keep] for p in params))


def _normal_exact(
    hist: _Obs, cur: _Obs, init: Any, tau_prior: TauPrior, sigma: float
) -> tuple[NormalMixture, NormalMixture, _TauNodes]:
    """Prior and posterior of theta (normal mixtures over the tau nodes)."""
    if init is None:
        qw, qm, qv = np.ones(1), np.array([hist.y]), np.array([hist.se**2])
    else:
        post0 = NormalMixture(*init).posterior(mean=hist.y, se=hist.se)
        m, v = post0._component_moments()
        qw, qm, qv = post0.weights, np.asarray(m), np.asarray(v)
    se2 = cur.se**2

    def logm(tau: Array) -> Array:
        tot = qv + np.asarray(tau, dtype=float)[..., None] ** 2 + se2
        with np.errstate(divide="ignore"):
            lv = np.log(qw) - 0.5 * np.log(2 * math.pi * tot) - (cur.y - qm) ** 2 / (2 * tot)
        return np.asarray(special.logsumexp(lv, axis=-1))

    scale = math.sqrt(float(np.max(qv)) + se2)
    tn = _tau_nodes(tau_prior, logm, scale, math.sqrt(min(float(np.min(qv)), se2)))
    v = qv[None, :] + tn.tau[:, None] ** 2  # (J, K)
    with np.errstate(divide="ignore"):
        lw = tn.log_prior[:, None] + np.log(qw)[None, :]
    w = np.exp(lw - lw.max())
    pw, pm_, ps = _prune(w.ravel(), np.broadcast_to(qm, v.shape).ravel(), np.sqrt(v).ravel())
    prior = NormalMixture(pw, pm_, ps, sigma=sigma)
    tot = v + se2
    lpost = lw - 0.5 * np.log(tot) - (cur.y - qm) ** 2 / (2 * tot)
    wp = np.exp(lpost - lpost.max())
    prec = 1 / v + 1 / se2
    mp = (qm / v + cur.y / se2) / prec
    qw2, qm2, qs2 = _prune(wp.ravel(), mp.ravel(), (1 / np.sqrt(prec)).ravel())
    post = NormalMixture(qw2, qm2, qs2, sigma=sigma)
    return prior, post, tn


def _q_lik(hist: _Obs, init: Any) -> _LogitLik:
    """Normalised historical posterior of theta0 (logit) as a _LogitLik."""
    if init is None:
        if not 0 < hist.y < hist.n:
            raise ValueError(
                "a flat initial prior on the historical logit needs 0 < r0 < n0, got "
                f"r0={hist.y:g} of n0={hist.n:g}; give initial=(mean, sd)"
            )
        return _LogitLik(hist.y, hist.n, const=-float(special.betaln(hist.y, hist.n - hist.y)))
    m0, s0 = float(init[1][0]), float(init[2][0])
    raw = _LogitLik(hist.y, hist.n, m0, s0, const=-0.5 * math.log(2 * math.pi * s0**2))
    t, lam = raw.centre()
    sd = 1 / math.sqrt(lam)
    rule = adaptive_rule(
        lambda u: raw.terms(t + sd * np.sinh(u))[0] + np.log(sd * np.cosh(u)),
        np.linspace(-4, 4, 9),
        rtol=1e-12,
        extend=(-40.0, 40.0),
    )
    logz = special.logsumexp(np.log(rule.weights) + rule.logvals[..., 0])
    return _LogitLik(hist.y, hist.n, m0, s0, const=raw.const - float(logz))


def _theta_axis(q: _LogitLik, cur: _Obs) -> tuple[float, float, Array]:
    """Centre and scale of the sinh-mapped theta axis and its initial edges in u."""
    tq, lq = q.centre()
    tl, ll = _LogitLik(cur.y, cur.n).centre()
    s = 0.5 / math.sqrt(max(lq, ll))
    lo, hi = min(tq, tl) - 10 / math.sqrt(min(lq, ll)), max(tq, tl) + 10 / math.sqrt(min(lq, ll))
    return tq, s, np.linspace(math.asinh((lo - tq) / s), math.asinh((hi - tq) / s), 17)


class _BinomialModel:
    """Exact commensurate analysis of binomial data on the logit scale.

    The posterior of theta is built at once; the prior of theta and the ELIR integrals
    (which reach far into the tails) are built when first asked for.
    """

    def __init__(self, hist: _Obs, cur: _Obs, init: Any, tau_prior: TauPrior) -> None:
        self.q = q = _q_lik(hist, init)
        lc = (
            special.gammaln(cur.n + 1)
            - special.gammaln(cur.y + 1)
            - special.gammaln(cur.n - cur.y + 1)
        )
        self.lik = lik = _LogitLik(cur.y, cur.n, const=float(lc))
        self.c, self.s, self.edges = _theta_axis(q, cur)
        lam_l = _LogitLik(cur.y, cur.n).centre()[1]
        scale = math.sqrt(1 / q.centre()[1] + 1 / lam_l)
        small = 1 / math.sqrt(max(q.centre()[1], lam_l))
        # a theta rule resolving L(theta) g_tau(theta) over the whole range of tau
        probe = np.concatenate([[0.0], scale * np.geomspace(1e-2, 1e8, 21)])
        base = adaptive_rule(
            self._u_cols(lambda th: lik.terms(th)[0][:, None] + self._log_g(th, probe)),
            self.edges,
            rtol=1e-10,
            extend=_U_BOUNDS,
        )
        th_b = self._theta(base.nodes.ravel())
        lw_b = np.log(base.weights.ravel() * self.s * np.cosh(base.nodes.ravel()))
        lw_b = lw_b + lik.terms(th_b)[0]

        def logm(tau: Array) -> Array:
            t = np.atleast_1d(np.asarray(tau, dtype=float))
            return np.asarray(special.logsumexp(lw_b[:, None] + self._log_g(th_b, t), axis=0))

        self.tn = tn = _tau_nodes(tau_prior, logm, scale, small)
        lpost = tn.log_prior + tn.log_m
        self.keep_post = lpost > lpost.max() - 36
        self.keep_prior = tn.log_prior > tn.log_prior.max() - 36
        self.log_evidence = float(special.logsumexp(lpost))
        self.post_rule = adaptive_rule(
            self._u_cols(lambda th: self._log_f(th)[:, None]),
            self.edges,
            rtol=1e-10,
            extend=_U_BOUNDS,
        )
        z_post = _rule_integral(self.post_rule, 0)
        if abs(z_post - 1.0) > 1e-6:
            warnings.warn(
                f"the two integration orders of the commensurate posterior disagree by "
                f"{z_post - 1:.2g} (relative); results may be inaccurate",
                ConvergenceWarning,
                stacklevel=4,
            )
        self._cache: dict[str, Any] = {}

    # -- pieces ------------------------------------------------------------------------------
    def _theta(self, u: Array) -> Array:
        return np.asarray(self.c + self.s * np.sinh(u))

    def _u_cols(self, fn: Callable[[Array], Any]) -> Callable[[Array], Any]:
        def wrapped(u: Array) -> Any:
            out = fn(self._theta(u))
            val, extra = out if isinstance(out, tuple) else (out, None)
            val = val + np.log(self.s * np.cosh(u))[:, None]
            return val if extra is None else (val, extra)

        return wrapped

    def _log_g(self, theta: Array, tau: Array) -> Array:
        """log g_tau(theta) for all pairs: (N,) x (T,) -> (N, T)."""
        out = np.empty((theta.size, tau.size))
        pos = tau > 0
        if pos.any():
            out[:, pos] = _convolve(self.q, theta[:, None], tau[pos][None, :])[0]
        if (~pos).any():
            out[:, ~pos] = self.q.terms(theta)[0][:, None]
        return out

    def _log_f(self, th: Array) -> Array:
        lg, _, _ = _mix_convolve(self.q, th, self.tn, self.keep_post)
        return np.asarray(self.lik.terms(th)[0] + lg - self.log_evidence)

    def _info_cols(self, ld: Array, info: Array, th: Array) -> tuple[Array, Array]:
        """Refined on: log density and log density / (p(1-p)) (capped); carried: the
        information -(log g)'' and -log(p(1-p))."""
        lfac = np.logaddexp(0.0, th) + np.logaddexp(0.0, -th)
        vals = np.column_stack([ld, ld + np.minimum(lfac, _LFAC_CAP)])
        return vals, np.column_stack([info, lfac])

    # -- distributions -----------------------------------------------------------------------
    def theta_posterior(self, outer: str = "identity") -> QuadratureDistribution:
        name = "logit response rate" if outer == "identity" else "response rate"
        return QuadratureDistribution(
            self.post_rule, "sinh", self.c, self.s, outer=outer, name=name
        )

    def _prior_rule(self) -> Rule:
        if "prior" not in self._cache:

            def cols(th: Array) -> tuple[Array, Array]:
                lg, _, info = _mix_convolve(self.q, th, self.tn, self.keep_prior)
                return self._info_cols(lg, info, th)

            self._cache["prior"] = adaptive_rule(
                self._u_cols(cols), self.edges, rtol=1e-10, extend=_U_BOUNDS
            )
        rule: Rule = self._cache["prior"]
        return rule

    def theta_prior(self, outer: str = "identity") -> QuadratureDistribution:
        name = "logit response rate" if outer == "identity" else "response rate"
        return QuadratureDistribution(
            self._prior_rule(), "sinh", self.c, self.s, outer=outer, name=name
        )

    def tau_posterior(self) -> QuadratureDistribution | SampleDistribution:
        return _tau_distribution(self.tn)

    # -- information -------------------------------------------------------------------------
    def info(self, th: Array) -> Array:
        """-(log g)''(theta) of the prior of theta at arbitrary points."""
        return _mix_convolve(self.q, np.asarray(th, dtype=float), self.tn, self.keep_prior)[2]

    def prior_elir(self) -> float:
        return _elir_on_rule(self._prior_rule())

    def borrowed_elir(self) -> float:
        if "borrowed" not in self._cache:

            def cols(th: Array) -> tuple[Array, Array]:
                lg, _, info = _mix_convolve(self.q, th, self.tn, self.keep_post)
                return self._info_cols(self.lik.terms(th)[0] + lg - self.log_evidence, info, th)

            rule = adaptive_rule(self._u_cols(cols), self.edges, rtol=1e-10, extend=_U_BOUNDS)
            self._cache["borrowed"] = _elir_on_rule(rule)
        return float(self._cache["borrowed"])


_U_BOUNDS = (-40.0, 40.0)


def _rule_integral(rule: Rule, col: int) -> float:
    return float(np.sum(rule.weights * np.exp(rule.logvals[..., col])))


_LFAC_CAP = 60.0  # the ELIR integrand is evaluated where p(1 - p) > exp(-60)


def _elir_on_rule(rule: Rule) -> float:
    """E[i(theta) / (p(1-p))] with i carried in ``rule.extras``.

    Returns inf when the integrand has non-negligible mass where p(1-p) < exp(-60) or at
    the ends of the theta axis: the ELIR does not exist (the tails on the logit scale are
    heavier than the binomial likelihood's).
    """
    assert rule.extras is not None
    mass = _rule_integral(rule, 0)
    capped = rule.weights * np.exp(rule.logvals[..., 1])
    info = rule.extras[..., 0]
    inside = rule.extras[..., 1] < _LFAC_CAP
    contrib = np.where(inside, capped * info, 0.0)
    scale = max(float(np.abs(contrib).sum()), 1e-300)
    outside = float(np.sum(np.where(inside, 0.0, capped * np.abs(info))))
    ends = float(np.abs(capped[0] * info[0]).sum() + np.abs(capped[-1] * info[-1]).sum())
    if outside > 1e-9 * scale or ends > 1e-9 * scale:
        return math.inf
    return float(contrib.sum() / mass)
