"""Deterministic integration for hierarchical basket models (BHM, EXNEX).

Every basket parameter ``theta_j`` lives on a uniform logit grid of step ``h``. Given
the hyperparameters ``(mu, tau)`` the baskets are independent, and the normal prior
``N(mu, tau^2)`` is discretised into the probability masses of the grid cells,

    K_tau(i) = Phi((i h + h/2) / tau) - Phi((i h - h/2) / tau),

so that every integral over ``theta_j`` is a discrete convolution (computed by FFT) of
the basket's binomial likelihood with ``K_tau``. The cell masses stay exact as
``tau -> 0`` (``K_0`` is the point mass at zero; no node spacing has to resolve the
spike) and equal the normal density to ``O(h^2 / tau^2)`` otherwise (the same as adding
``h^2 / 12`` to ``tau^2``). ``mu`` runs over the same grid (trapezoidal rule) and
``tau`` over a trapezoidal rule in ``log tau`` plus one node at ``tau = 0`` carrying the
prior mass below the rule. The posterior of the hyperparameters is then a weight per
``(tau, mu)`` node, and the posterior density of each ``theta_j`` is the likelihood
times the convolution of its leave-one-out weights with ``K_tau``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import signal, special

Array = NDArray[np.float64]

__all__ = [
    "TauRule",
    "binomial_loglik",
    "cell_kernels",
    "convolve",
    "halfnormal_tau_rule",
    "invgamma_var_rule",
    "uniform_grid",
]

_LOG_TINY = -700.0
# Values below 1e-100 of the largest are set to zero: products of up to three such
# factors then never reach subnormal numbers, which are ~100 times slower to multiply.
_FLOOR = 1e-100


def exp_zero(x: Array) -> Array:
    """exp(x) for x <= 0, exactly zero below exp(-230) (about 1e-100)."""
    return np.asarray(np.where(x < -230.0, 0.0, np.exp(np.maximum(x, -230.0))))


def exp_floor(x: Array) -> Array:
    """exp(x) for x <= 0, at least exp(-230) (about 1e-100; a relative weight that
    changes no sum of fewer than 1e80 terms)."""
    return np.asarray(np.exp(np.maximum(x, -230.0)))


def uniform_grid(step: float, half_width: float = 12.0) -> Array:
    """Uniform logit grid on ``[-half_width, half_width]`` with spacing ``step``."""
    m = round(half_width / step)
    return np.linspace(-m * step, m * step, 2 * m + 1)


@dataclass(frozen=True)
class TauRule:
    """Nodes of the between-basket SD and their log weights (rule x prior, summing to
    the prior mass covered)."""

    tau: Array  # (T,) first node 0 when the rule has a point mass there
    logw: Array  # (T,)


def _tau_rule(
    logpdf_v: Callable[[Array], Array],
    mass_below: Callable[[float], float],
    v_lo: float,
    v_hi: float,
    dv: float,
) -> TauRule:
    n = max(2, math.ceil((v_hi - v_lo) / dv) + 1)
    v = np.linspace(v_lo, v_hi, n)
    step = v[1] - v[0]
    logw = np.log(np.full(n, step))
    logw[[0, -1]] -= math.log(2.0)
    lw = logw + logpdf_v(v)
    m0 = mass_below(math.exp(v_lo))
    tau = np.exp(v)
    if m0 > 0:
        tau = np.concatenate([[0.0], tau])
        lw = np.concatenate([[math.log(m0)], lw])
    return TauRule(tau=tau, logw=lw)


def halfnormal_tau_rule(scale: float, h: float, dv: float = 0.1) -> TauRule:
    """Rule for ``tau ~ half-normal(scale)``: trapezoid in ``log tau`` from ``h / 8``
    (below which the cell masses are a point mass to 3e-7) to ``9 scale``."""

    def logpdf_v(v: Array) -> Array:
        t = np.exp(v)
        return np.asarray(
            math.log(2.0)
            - math.log(scale)
            - 0.5 * math.log(2 * math.pi)
            - 0.5 * (t / scale) ** 2
            + v
        )

    def below(t: float) -> float:
        return float(special.erf(t / (scale * math.sqrt(2.0))))

    return _tau_rule(logpdf_v, below, math.log(h / 8), math.log(9 * scale), dv)


def invgamma_var_rule(shape: float, scale: float, h: float, dv: float = 0.1) -> TauRule:
    """Rule for ``tau^2 ~ inverse-gamma(shape, scale)`` (Berry et al. 2013): trapezoid in
    ``log tau`` from ``h / 8`` to ``tau = 12`` (wider SDs on the logit scale of a grid
    on [-12, 12] are dropped; the likelihood makes them negligible a posteriori)."""

    def logpdf_v(v: Array) -> Array:
        x = np.exp(2 * v)
        return np.asarray(
            shape * math.log(scale)
            - special.gammaln(shape)
            - (shape + 1) * np.log(x)
            - scale / x
            + np.log(2 * x)
        )

    def below(t: float) -> float:
        return float(special.gammaincc(shape, scale / t**2))

    return _tau_rule(logpdf_v, below, math.log(h / 8), math.log(12.0), dv)


def cell_kernels(tau: Array, h: float, size: int) -> Array:
    """(T, 2 size - 1) masses of N(0, tau^2) on the cells of width ``h`` centred at
    offsets ``-(size-1) h .. (size-1) h`` (row for tau = 0: point mass at offset 0)."""
    off = np.arange(-(size - 1), size) * h
    t = np.asarray(tau, dtype=float)[:, None]
    safe = np.where(t > 0, t, 1.0)
    k = special.ndtr((off + h / 2) / safe) - special.ndtr((off - h / 2) / safe)
    delta = (np.abs(off) < h / 2).astype(float)
    return np.asarray(np.where(t > 0, k, delta))


def convolve(f: Array, kern: Array) -> Array:
    """``out[..., t, l] = sum_i f[..., i] kern[t, i - l + size - 1]`` for every kernel
    (symmetric kernels: the same as ``sum_i f[i] K_t(l - i)``), by FFT; tiny negative
    round-off is set to zero. ``f`` (..., G) broadcasts against the kernels (T, 2G-1)."""
    g = f.shape[-1]
    kk = kern.reshape((1,) * (f.ndim - 1) + kern.shape)
    out = signal.fftconvolve(f[..., None, :], kk, mode="full", axes=-1)
    out = out[..., g - 1 : 2 * g - 1]
    return np.asarray(np.where(out < _FLOOR, 0.0, out))


def binomial_loglik(r: NDArray[np.int64], n: NDArray[np.int64], x: Array) -> Array:
    """(..., G) binomial log likelihood (without the binomial coefficient) of ``r`` of
    ``n`` at logit values ``x`` (r, n broadcast with a trailing grid axis)."""
    r_ = np.asarray(r, dtype=float)[..., None]
    n_ = np.asarray(n, dtype=float)[..., None]
    return np.asarray(r_ * x - n_ * np.logaddexp(0.0, x))


def safe_log(x: Array) -> Array:
    """Natural log with zeros mapped to a very negative finite number."""
    with np.errstate(divide="ignore"):
        return np.asarray(np.maximum(np.log(x), _LOG_TINY))


def convolve_rows(f: Array, kern: Array) -> Array:
    """Row ``t`` of ``f`` (..., T, G) convolved with kernel row ``t`` (T, 2G-1)."""
    g = f.shape[-1]
    out = signal.fftconvolve(f, np.broadcast_to(kern, (*f.shape[:-1], kern.shape[-1])), axes=-1)
    return np.asarray(np.maximum(out[..., g - 1 : 2 * g - 1], 0.0))


def trapezoid_weights(grid: Array) -> Array:
    """Trapezoidal-rule weights of a uniform grid."""
    h = grid[1] - grid[0]
    w = np.full(grid.size, h)
    w[[0, -1]] = h / 2
    return w


def tail_weights(grid: Array, x: float) -> Array:
    """Weights ``a`` with ``sum(a * d)`` = the trapezoidal mass of ``d`` above ``x``, the
    complement of the cumulative trapezoid interpolated linearly at ``x`` (exactly what
    :meth:`BasketPosterior.prob_above` computes from a density on ``grid``)."""
    tw = trapezoid_weights(grid)
    h = grid[1] - grid[0]
    below = np.zeros(grid.size)
    if x <= grid[0]:
        return tw
    if x >= grid[-1]:
        return below
    k = min(int(np.searchsorted(grid, x, side="right")) - 1, grid.size - 2)
    if k > 0:
        below[0] = h / 2
        below[1:k] = h
        below[k] = h / 2
    t = (x - grid[k]) / h
    below[k] += t * h / 2
    below[k + 1] += t * h / 2
    return np.asarray(tw - below)


@dataclass(frozen=True)
class Component:
    """One exchangeable component on a grid: the rule for tau, the log prior of mu
    (with the trapezoidal weights) and the cell-mass kernels of every tau node."""

    tau: TauRule
    log_mu: Array  # (G,)
    kern: Array  # (T, 2G-1)

    @classmethod
    def build(cls, grid: Array, mu_mean: float, mu_sd: float, rule: TauRule) -> Component:
        log_mu = (
            -0.5 * ((grid - mu_mean) / mu_sd) ** 2
            - math.log(mu_sd)
            - 0.5 * math.log(2 * math.pi)
            + np.log(trapezoid_weights(grid))
        )
        kern = cell_kernels(rule.tau, grid[1] - grid[0], grid.size)
        return cls(tau=rule, log_mu=np.asarray(log_mu), kern=kern)


@dataclass(frozen=True)
class BasketTables:
    """Per basket and per value of r: the likelihood's integrals against the kernels.

    ``log_a[r]`` (T, G): log of the marginal likelihood of r given (tau, mu) on the
    node grid; ``norm``, ``mean``, ``tail`` (R, T, G): the trapezoidal integrals of the
    conditional density's unnormalised mass, times expit, above the threshold; ``nex_*``
    (R,) the same under the non-exchangeable prior (``log_nex`` its log marginal)."""

    log_a: Array
    norm: Array
    mean: Array
    tail: Array
    log_nex: Array
    nex_norm: Array
    nex_mean: Array
    nex_tail: Array
    lt: Array  # (R, G) likelihood scaled to max 1 (for densities)
    nex_mass: Array  # (G,)
    smax: Array  # (R,) log of the likelihood's maximum (lt = L / exp(smax))


def basket_tables(
    rs: NDArray[np.int64],
    n: int,
    grid: Array,
    kern: Array,
    offset: float,
    threshold: float,
    nex: tuple[float, float] | None,
) -> BasketTables:
    """Tables for one basket with ``n`` patients and responder counts ``rs`` (R,).

    The grid variable is ``theta`` with ``logit p = theta + offset``; ``threshold`` is
    the logit of ``p0`` (the tail is ``P(logit p > threshold)``)."""
    h = grid[1] - grid[0]
    ll = binomial_loglik(rs, np.full(rs.shape, n), grid + offset)  # (R, G)
    smax = ll.max(axis=-1, keepdims=True)
    lt = exp_zero(ll - smax)
    tw = trapezoid_weights(grid)
    ex = special.expit(grid + offset)
    om = tail_weights(grid, threshold - offset)
    stack = np.stack([lt, tw * lt, tw * ex * lt, om * lt], axis=1)  # (R, 4, G)
    conv = convolve(stack, kern)  # (R, 4, T, G)
    conv[conv < _FLOOR] = 0.0
    log_a = safe_log(conv[:, 0]) + smax[:, :, None]
    if nex is None:
        nex_mass = np.zeros(grid.size)
        log_nex = np.full(rs.shape, -np.inf)
    else:
        m, s = nex
        nex_mass = special.ndtr((grid + h / 2 - m) / s) - special.ndtr((grid - h / 2 - m) / s)
        log_nex = safe_log(lt @ nex_mass) + smax[:, 0]
    return BasketTables(
        log_a=log_a,
        norm=conv[:, 1],
        mean=conv[:, 2],
        tail=conv[:, 3],
        log_nex=np.asarray(log_nex),
        nex_norm=(tw * lt) @ nex_mass,
        nex_mean=(tw * ex * lt) @ nex_mass,
        nex_tail=(om * lt) @ nex_mass,
        lt=lt,
        nex_mass=np.asarray(nex_mass),
        smax=smax[:, 0],
    )


@dataclass(frozen=True)
class Stats:
    """Per outcome vector (B) and basket (K): posterior mean of p, P(p > p0), P(EX)."""

    mean: Array
    tail: Array
    p_ex: Array
    density: Array | None = None  # (K, G) unnormalised, for a single outcome
    hyper: Array | None = None  # (T, G) hyperparameter posterior for a single outcome


def hierarchical_stats(
    comp: Component,
    tables: list[BasketTables],
    ridx: NDArray[np.intp],
    log_w_ex: Array,
    log_w_nex: Array,
    *,
    density: bool = False,
) -> Stats:
    """Posterior summaries of the baskets for outcome vectors ``ridx`` (B, K) (row
    indices into each basket's tables), one exchangeable component plus optional
    non-exchangeable priors (weights ``exp(log_w_ex)`` and ``exp(log_w_nex)``)."""
    b, k = ridx.shape
    log_m = np.empty((b, k, *comp.kern.shape[:1], comp.log_mu.size))
    for j, tab in enumerate(tables):
        ex = log_w_ex[j] + tab.log_a[ridx[:, j]]
        nx = (log_w_nex[j] + tab.log_nex[ridx[:, j]])[:, None, None]
        log_m[:, j] = np.logaddexp(ex, nx) if np.isfinite(log_w_nex[j]) else ex
    base = comp.tau.logw[:, None] + comp.log_mu[None, :]
    total = base + log_m.sum(axis=1)  # (B, T, G)
    w_ex, w_nex = np.exp(log_w_ex), np.exp(log_w_nex)
    mean = np.empty((b, k))
    tail = np.empty((b, k))
    p_ex = np.empty((b, k))
    dens = np.empty((k, comp.log_mu.size)) if density else None
    for j, tab in enumerate(tables):
        lg = total - log_m[:, j]
        e = exp_zero(lg - lg.max(axis=(1, 2), keepdims=True))
        se = e.sum(axis=(1, 2))
        rj = ridx[:, j]
        ex_norm = np.einsum("btg,btg->b", e, tab.norm[rj])
        ex_mean = np.einsum("btg,btg->b", e, tab.mean[rj])
        ex_tail = np.einsum("btg,btg->b", e, tab.tail[rj])
        z = w_ex[j] * ex_norm + w_nex[j] * tab.nex_norm[rj] * se
        mean[:, j] = (w_ex[j] * ex_mean + w_nex[j] * tab.nex_mean[rj] * se) / z
        tail[:, j] = (w_ex[j] * ex_tail + w_nex[j] * tab.nex_tail[rj] * se) / z
        p_ex[:, j] = w_ex[j] * ex_norm / z
        if dens is not None:
            q = w_ex[j] * convolve_rows(e[0], comp.kern).sum(axis=0)
            q = q + w_nex[j] * tab.nex_mass * se[0]
            d = tab.lt[rj[0]] * q
            dens[j] = d
    hyper = None
    if density:
        t0 = total[0]
        hyper = np.exp(t0 - t0.max())
        hyper /= hyper.sum()
    return Stats(mean=mean, tail=np.clip(tail, 0.0, 1.0), p_ex=p_ex, density=dens, hyper=hyper)


def check_counts(
    r: object, n: object, names: object = None
) -> tuple[NDArray[np.int64], NDArray[np.int64], list[str]]:
    """Validated responders ``r`` and patients ``n`` per basket (1-D, equal length,
    0 <= r <= n; n = 0 allowed) and basket names."""
    from rdstats._validation import as_int_array

    r_ = as_int_array(r, "r")  # type: ignore[arg-type]
    n_ = as_int_array(n, "n")  # type: ignore[arg-type]
    if r_.ndim != 1 or n_.ndim != 1 or r_.size == 0:
        raise ValueError(
            f"r and n must be non-empty 1-D sequences (one count per basket), got shapes "
            f"{r_.shape} and {n_.shape}"
        )
    if r_.size != n_.size:
        raise ValueError(f"r and n must have the same length, got {r_.size} and {n_.size}")
    bad = np.flatnonzero(r_ > n_)
    if bad.size:
        j = int(bad[0])
        raise ValueError(f"r={int(r_[j])} exceeds n={int(n_[j])} (basket {j})")
    if names is None:
        labels = [f"basket {j + 1}" for j in range(r_.size)]
    else:
        labels = [str(x) for x in names]  # type: ignore[attr-defined]
        if len(labels) != r_.size:
            raise ValueError(f"names must have {r_.size} entries, got {len(labels)}")
    return r_, n_, labels


def check_step(grid_step: float, dv: float) -> tuple[float, float]:
    """Validated grid step of the logit grid and step of the rule in log tau."""
    if not (isinstance(grid_step, (int, float)) and 0 < grid_step <= 0.1):
        raise ValueError(f"grid_step must be in (0, 0.1], got {grid_step!r}")
    if not (isinstance(dv, (int, float)) and 0 < dv <= 0.5):
        raise ValueError(f"dv must be in (0, 0.5], got {dv!r}")
    return float(grid_step), float(dv)


def product_table(prior: Array, facs: list[Array], tabs: list[Array]) -> tuple[Array, Array]:
    """Sums over the nodes of products of per-basket factors, for every combination
    of counts (C order over the baskets).

    ``tot[r] = sum_a prior(a) prod_j facs[j][r_j, a]`` and ``ratio[r, j, q] = sum_a
    prior(a) prod_{k != j} facs[k][r_k, a] tabs[j][r_j, q, a] / tot[r]`` (0 where
    ``tot`` is 0), for ``prior`` (N,), ``facs[j]`` (R_j, N), ``tabs[j]`` (R_j, Q, N) on a
    common linear scale. The baskets are split into two halves; the products over each
    half are formed once per combination of its counts (outer products) and the two
    halves are combined by one matrix product per table."""
    k = len(facs)
    nn = prior.size
    halves = (list(range((k + 1) // 2)), list(range((k + 1) // 2, k)))

    def outer(h: int, swap: int = -1, qq: int = 0) -> Array:
        out = (prior if h == 0 else np.ones(nn))[None, :]
        for j in halves[h]:
            f = tabs[j][:, qq] if j == swap else facs[j]
            out = (out[:, None, :] * f[None, :, :]).reshape(-1, nn)
        return out

    left, right = outer(0), outer(1)
    tot = (left @ right.T).ravel()
    ok = tot > 0
    den = np.where(ok, tot, 1.0)
    nq = tabs[0].shape[1]
    ratio = np.zeros((tot.size, k, nq))
    for j in range(k):
        for qq in range(nq):
            if j in halves[0]:
                num = outer(0, j, qq) @ right.T
            else:
                num = left @ outer(1, j, qq).T
            ratio[:, j, qq] = np.where(ok, num.ravel() / den, 0.0)
    return tot, ratio


def dense_ok(dims: tuple[int, ...], m: int, nodes: int = 0, per_row: int = 0) -> bool:
    """Whether tables over all ``prod(dims)`` count combinations are cheaper than ``m``
    rows one by one (a combination costs about 1/40 of a row; at most 400,000
    combinations, ``nodes`` x the larger half's combinations at most 5e7 and ``m`` x
    ``per_row`` at most 1e8 numbers in memory)."""
    size = math.prod(dims)
    half = max(math.prod(dims[: (len(dims) + 1) // 2]), math.prod(dims[(len(dims) + 1) // 2 :]))
    return size <= 400_000 and 40 * m >= size and half * nodes <= 5e7 and m * per_row <= 1e8


def linear_floor(x: Array, k: int) -> Array:
    """``x`` (<= about 1) with entries below ``10^(-290 / (k + 1))`` set to zero, so
    that products of ``k + 1`` factors are zero or normal numbers (subnormal ones are
    slow to multiply)."""
    return np.asarray(np.where(x < 10.0 ** (-290.0 / (k + 1)), 0.0, x))


def fast_stats_rows(
    comp: Component,
    tables: list[BasketTables],
    ridx: NDArray[np.intp],
    log_w_ex: Array,
    log_w_nex: Array,
    chunk: int = 128,
) -> tuple[Array, Array, Array]:
    """Mean, tail probability and P(EX) for outcome vectors ``ridx`` (M, K): the same
    numbers as :func:`hierarchical_stats`, with the leave-one-out division folded into
    ratio tables (one exponential per node and outcome) and the sums over the nodes done
    as one matrix product per basket for all values of r at once."""
    base = (comp.tau.logw[:, None] + comp.log_mu[None, :]).ravel()
    k = len(tables)
    w_ex, w_nex = np.exp(log_w_ex), np.exp(log_w_nex)
    log_ms, vtab = [], []
    for j, tab in enumerate(tables):
        rr = tab.lt.shape[0]
        la = tab.log_a.reshape(rr, -1) - tab.smax[:, None]  # on the scale of lt
        lm = log_w_ex[j] + la
        if np.isfinite(log_w_nex[j]):
            lm = np.logaddexp(lm, (log_w_nex[j] + tab.log_nex - tab.smax)[:, None])
        lm = np.maximum(lm, _LOG_TINY)
        log_ms.append(lm)
        inv = np.exp(-lm)
        rows = []
        for name in ("norm", "mean", "tail"):
            v = w_ex[j] * getattr(tab, name).reshape(rr, -1)
            v = v + w_nex[j] * getattr(tab, "nex_" + name)[:, None]
            rows.append(v * inv)
        rows.append(w_ex[j] * tab.norm.reshape(rr, -1) * inv)
        vtab.append(np.stack(rows, axis=1))  # (R, 4, N)
    m = ridx.shape[0]
    mean, tail, p_ex = np.empty((m, k)), np.empty((m, k)), np.empty((m, k))
    for s in range(0, m, chunk):
        rid = ridx[s : s + chunk]
        tot = base + sum(log_ms[j][rid[:, j]] for j in range(k))
        e = exp_zero(tot - tot.max(axis=1, keepdims=True))
        for j in range(k):
            dots = np.empty((rid.shape[0], 4))
            vj = vtab[j]
            for rv in np.unique(rid[:, j]):
                sel = np.flatnonzero(rid[:, j] == rv)
                dots[sel] = e[sel] @ vj[rv].T
            mean[s : s + chunk, j] = dots[:, 1] / dots[:, 0]
            tail[s : s + chunk, j] = dots[:, 2] / dots[:, 0]
            p_ex[s : s + chunk, j] = dots[:, 3] / dots[:, 0]
    return mean, np.clip(tail, 0.0, 1.0), p_ex


def fast_stats(
    comp: Component,
    tables: list[BasketTables],
    ridx: NDArray[np.intp],
    log_w_ex: Array,
    log_w_nex: Array,
    chunk: int = 128,
) -> tuple[Array, Array, Array]:
    """Mean, tail probability and P(EX) for outcome vectors ``ridx`` (M, K): the same
    numbers as :func:`hierarchical_stats`. Each basket's factor (the mixture of its EX
    and NEX marginals) depends on its own count only, so when the rows cover a good part
    of all count combinations the sums over the nodes are done for every combination by
    :func:`product_table` and looked up; else row by row (:func:`fast_stats_rows`)."""
    dims = tuple(t.lt.shape[0] for t in tables)
    if not dense_ok(dims, ridx.shape[0], tables[0].log_a[0].size, 4 * len(dims)):
        return fast_stats_rows(comp, tables, ridx, log_w_ex, log_w_nex, chunk)
    base = (comp.tau.logw[:, None] + comp.log_mu[None, :]).ravel()
    k = len(tables)
    w_ex, w_nex = np.exp(log_w_ex), np.exp(log_w_nex)
    facs, tabs = [], []
    for j, tab in enumerate(tables):
        rr = tab.lt.shape[0]
        a = np.exp(tab.log_a.reshape(rr, -1) - tab.smax[:, None])
        nex = np.exp(tab.log_nex - tab.smax)[:, None]
        fac = w_ex[j] * a + w_nex[j] * nex
        scale = fac.max(axis=1, keepdims=True)
        scale = np.where(scale > 0, scale, 1.0)
        facs.append(linear_floor(fac / scale, k))
        rows = []
        for name in ("norm", "mean", "tail"):
            v = w_ex[j] * getattr(tab, name).reshape(rr, -1)
            rows.append(v + w_nex[j] * getattr(tab, "nex_" + name)[:, None])
        rows.append(w_ex[j] * tab.norm.reshape(rr, -1))
        tabs.append(linear_floor(np.stack(rows, axis=1) / scale[:, :, None], k))  # (R, 4, N)
    prior = linear_floor(np.exp(base - base.max()), k)
    _, ratio = product_table(prior, facs, tabs)
    ratio = ratio[np.ravel_multi_index(tuple(ridx.T), dims)]
    norm = np.where(ratio[:, :, 0] > 0, ratio[:, :, 0], 1.0)
    mean, tail, p_ex = (ratio[:, :, i] / norm for i in (1, 2, 3))
    return mean, np.clip(tail, 0.0, 1.0), p_ex
