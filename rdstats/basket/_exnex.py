"""EXNEX: exchangeability-nonexchangeability model of Neuenschwander et al. (2016),
computed deterministically (see :mod:`rdstats.basket._quadrature`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from rdstats._provenance import provenance
from rdstats._validation import as_float_array, real_number
from rdstats.basket import _quadrature as q
from rdstats.basket._posterior import BasketPosterior

Array = NDArray[np.float64]

__all__ = ["EXNEX"]


def _pair(value: Any, name: str) -> tuple[float, float]:
    try:
        a, b = value
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a pair (mean, sd), got {value!r}") from err
    m, s = real_number(a, f"{name} mean"), real_number(b, f"{name} sd")
    if s <= 0:
        raise ValueError(f"{name} sd must be > 0, got {s!r}")
    return m, s


@dataclass(frozen=True)
class EXNEX:
    """Exchangeability-nonexchangeability (EXNEX) model for basket trials.

    Per basket, with probability ``w_ex`` (``w_ex1``, ``w_ex2``) the logit response
    rate is exchangeable, ``theta_j ~ N(mu, tau^2)`` with ``mu ~ N(mu_mean, mu_sd^2)`` and
    ``tau ~ half-normal(tau_scale)``, and with probability ``w_nex`` it has its own
    prior ``theta_j ~ N(nex_mean_j, nex_sd_j^2)``.

    Parameters
    ----------
    ex : sequence of (mu_mean, mu_sd, tau_scale)
        One or two exchangeable components (``mu ~ N(mu_mean, mu_sd^2)``,
        ``tau ~ half-normal(tau_scale)``). Two components are computed by exact
        enumeration of the baskets' allocations (3^K of them; up to about 10 baskets).
    nex : (mean, sd) or sequence of them
        Non-exchangeable priors of the logit rates, shared or one per basket.
    weights : (w_ex, w_nex), (w_ex1, w_ex2, w_nex) or (K, C + 1) array
        Prior probabilities of the EX components and NEX, shared or per basket; rows
        sum to one. ``p_exchangeable`` of the result is the posterior probability of
        all EX components together.

    References
    ----------
    Neuenschwander B, Wandel S, Roychoudhury S, Bailey S (2016). Robust exchangeability
    designs for early phase clinical trials with multiple strata. Pharmaceutical
    Statistics 15:123-134.

    Examples
    --------
    >>> from rdstats.basket import EXNEX
    >>> model = EXNEX(ex=[(-1.735, 0.146**-0.5, 1.0)], nex=(-1.734, 0.128**-0.5))
    >>> post = model.fit([2, 0, 1, 6, 7, 3, 5, 1, 0, 3], [15, 13, 12, 28, 29, 29, 26, 5, 2, 20])
    >>> [round(float(x), 3) for x in post.mean()[:4]]
    [0.151, 0.053, 0.128, 0.188]
    """

    ex: Sequence[tuple[float, float, float]] = ((-1.735, 0.146**-0.5, 1.0),)
    nex: Any = (-1.734, 0.128**-0.5)
    weights: Any = (0.5, 0.5)

    def __post_init__(self) -> None:
        comps = list(self.ex)
        if len(comps) not in (1, 2):
            raise ValueError(f"ex must hold one or two components, got {len(comps)}")
        parsed = []
        for i, c in enumerate(comps):
            try:
                m, s, t = c
            except (TypeError, ValueError) as err:
                raise TypeError(f"ex[{i}] must be (mu_mean, mu_sd, tau_scale), got {c!r}") from err
            m, s, t = (real_number(x, f"ex[{i}]") for x in (m, s, t))
            if s <= 0 or t <= 0:
                raise ValueError(f"ex[{i}]: mu_sd and tau_scale must be > 0, got {c!r}")
            parsed.append((m, s, t))
        object.__setattr__(self, "ex", tuple(parsed))
        w = as_float_array(self.weights, "weights")
        if w.shape[-1] != len(parsed) + 1 or w.ndim > 2:
            raise ValueError(
                f"weights must have {len(parsed) + 1} entries (EX components, then NEX) per "
                f"row, got shape {w.shape}"
            )
        if np.any(w < 0) or np.any(np.abs(w.sum(axis=-1) - 1) > 1e-9):
            raise ValueError(f"weights must be >= 0 and sum to 1, got {w.tolist()}")

    # -- helpers -----------------------------------------------------------------------
    def _per_basket(self, k: int) -> tuple[Array, list[tuple[float, float]]]:
        w = np.asarray(self.weights, dtype=float)
        if w.ndim == 2 and w.shape[0] != k:
            raise ValueError(f"weights has {w.shape[0]} rows for {k} baskets")
        w = np.broadcast_to(w, (k, w.shape[-1]))
        raw = self.nex
        if len(raw) == 2 and not isinstance(raw[0], (tuple, list, np.ndarray)):
            nex = [_pair(raw, "nex")] * k
        else:
            nex = [_pair(x, f"nex[{i}]") for i, x in enumerate(raw)]
            if len(nex) == 1:
                nex = nex * k
            if len(nex) != k:
                raise ValueError(f"nex has {len(nex)} priors for {k} baskets")
        return np.asarray(w), nex

    def _setup(
        self,
        n: NDArray[np.int64],
        rs: list[NDArray[np.int64]],
        p0: Array,
        grid_step: float,
        dv: float,
    ) -> tuple[Array, list[q.Component], list[list[q.BasketTables]], Array]:
        k = n.size
        w, nex = self._per_basket(k)
        grid = q.uniform_grid(grid_step)
        comps = [
            q.Component.build(grid, m, s, q.halfnormal_tau_rule(t, grid_step, dv))
            for m, s, t in self.ex
        ]
        if len(comps) > 1:
            size = (1 << k) * max(c.kern.shape[0] for c in comps) * grid.size
            if size > 3e7:
                raise ValueError(
                    f"{k} baskets are too many for the exact two-component EXNEX at "
                    f"grid_step={grid_step} (2^{k} subsets x {size >> k} nodes); use a "
                    "coarser grid_step/dv or method='mcmc'"
                )
        with np.errstate(divide="ignore"):
            thr = special.logit(p0)
        tabs = [
            [
                q.basket_tables(rs[j], int(n[j]), grid, c.kern, 0.0, float(thr[j]), nex[j])
                for j in range(k)
            ]
            for c in comps
        ]
        with np.errstate(divide="ignore"):
            return grid, comps, tabs, np.log(w)

    # -- public ------------------------------------------------------------------------
    def fit(
        self,
        r: ArrayLike,
        n: ArrayLike,
        names: Sequence[str] | None = None,
        *,
        method: str = "exact",
        rng: Any = None,
        grid_step: float = 0.01,
        dv: float = 0.1,
        **mcmc: Any,
    ) -> BasketPosterior:
        """Posterior of the baskets' response rates.

        Parameters
        ----------
        r, n : array_like
            Responders and patients per basket (``n = 0`` allowed: such a basket's
            posterior is its prior predictive under borrowing).
        names : sequence of str, optional
            Basket names.
        method : {"exact", "mcmc"}
            Deterministic quadrature on a logit grid (default) or NUTS with PyMC.
        rng : int, SeedSequence, Generator or None
            Seed for ``method="mcmc"``.
        grid_step, dv : float
            Step of the logit grid and of the rule in ``log tau`` (exact method).
        **mcmc
            ``draws``, ``tune``, ``chains``, ``target_accept`` for PyMC.
        """
        r_, n_, labels = q.check_counts(r, n, names)
        if method == "mcmc":
            from rdstats.basket._basket_mcmc import exnex_mcmc

            w, nex = self._per_basket(n_.size)
            return exnex_mcmc(self, r_, n_, labels, w, nex, rng=rng, **mcmc)
        if method != "exact":
            raise ValueError(f"method must be 'exact' or 'mcmc', got {method!r}")
        gs, dv_ = q.check_step(grid_step, dv)
        p0 = np.full(n_.size, 0.5)
        grid, comps, tabs, log_w = self._setup(n_, [np.array([x]) for x in r_], p0, gs, dv_)
        ridx = np.zeros((1, n_.size), dtype=np.intp)
        extra: dict[str, Any] = {}
        if len(comps) == 1:
            st = q.hierarchical_stats(
                comps[0], tabs[0], ridx, log_w[:, 0], log_w[:, -1], density=True
            )
            assert st.hyper is not None
            tau = comps[0].tau.tau
            extra = {
                "mu_mean": float(np.sum(st.hyper.sum(axis=0) * grid)),
                "tau_mean": float(np.sum(st.hyper.sum(axis=1) * tau)),
                "tau_nodes": tau,
                "tau_weights": st.hyper.sum(axis=1),
            }
        else:
            st = allocation_stats(comps, tabs, ridx, log_w, density=True)
        assert st.density is not None
        dens = st.density / np.asarray(np.trapezoid(st.density, grid, axis=1))[:, None]
        extra |= {
            "grid_step": gs,
            "dv": dv_,
        }
        args = {"r": r_.tolist(), "n": n_.tolist(), "method": method, "model": repr(self)}
        return BasketPosterior(
            model="EXNEX",
            r=r_,
            n=n_,
            names=labels,
            grid=grid,
            density=dens,
            p_exchangeable=st.p_ex[0],
            extra=extra,
            provenance=provenance(args),
        )

    def posterior_table(
        self,
        r: ArrayLike,
        n: ArrayLike,
        p0: ArrayLike,
        *,
        grid_step: float = 0.04,
        dv: float = 0.2,
        chunk: int = 128,
    ) -> dict[str, Array]:
        """Posterior means, ``P(p_j > p0_j)`` and ``P(EX)`` for many outcome vectors.

        Parameters
        ----------
        r : array_like
            (M, K) responders, one outcome vector per row.
        n : array_like
            (K,) patients per basket.
        p0 : array_like
            (K,) (or scalar) thresholds of the tail probabilities.
        grid_step, dv : float
            As in :meth:`fit`; the results equal ``fit(row, n, grid_step=..., dv=...)``.
            The coarser defaults are within about 2e-5 (means) and 1e-4 (tail
            probabilities) of the fine rules. When the rows cover at least 1/40 of all
            count combinations, every combination is computed at once (matrix products
            over two halves of the baskets; all 53,361 outcomes of four baskets with
            n = 20, 20, 10, 10 in a few seconds), else row by row.
        chunk : int
            Outcome vectors processed together (row by row).

        Returns
        -------
        dict
            ``"mean"``, ``"prob_above"``, ``"p_exchangeable"``: (M, K) arrays.
        """
        r_arr, n_, p0_ = _check_table(r, n, p0)
        gs, dv_ = q.check_step(grid_step, dv)
        rs = [np.arange(int(x) + 1) for x in n_]
        _, comps, tabs, log_w = self._setup(n_, rs, p0_, gs, dv_)
        if len(comps) == 1:
            return _run_table(comps[0], tabs[0], r_arr, log_w[:, 0], log_w[:, -1], chunk)
        mean, tail, p_ex = allocation_table(comps, tabs, r_arr.astype(np.intp), log_w)
        return {"mean": mean, "prob_above": tail, "p_exchangeable": p_ex}


def _check_table(
    r: ArrayLike, n: ArrayLike, p0: ArrayLike
) -> tuple[NDArray[np.int64], NDArray[np.int64], Array]:
    from rdstats._validation import as_int_array, check_probability

    n_ = as_int_array(n, "n")
    if n_.ndim != 1 or n_.size == 0:
        raise ValueError(f"n must be a non-empty 1-D sequence, got shape {n_.shape}")
    r_arr = as_int_array(r, "r")
    if r_arr.ndim == 1:
        r_arr = r_arr[None, :]
    if r_arr.ndim != 2 or r_arr.shape[1] != n_.size:
        raise ValueError(f"r must have shape (M, {n_.size}), got {r_arr.shape}")
    if np.any(r_arr > n_):
        i, j = map(int, np.argwhere(r_arr > n_)[0])
        raise ValueError(f"r={int(r_arr[i, j])} exceeds n={int(n_[j])} (row {i}, basket {j})")
    p0_ = np.broadcast_to(check_probability(p0, "p0"), (n_.size,)).astype(float)
    return r_arr, n_, p0_


def _run_table(
    comp: q.Component,
    tabs: list[q.BasketTables],
    r_arr: NDArray[np.int64],
    lwe: Array,
    lwn: Array,
    chunk: int,
) -> dict[str, Array]:
    m = r_arr.shape[0]
    if m == 0:
        return {key: np.empty(r_arr.shape) for key in ("mean", "prob_above", "p_exchangeable")}
    mean, tail, p_ex = q.fast_stats(comp, tabs, r_arr.astype(np.intp), lwe, lwn, max(1, chunk))
    return {"mean": mean, "prob_above": tail, "p_exchangeable": p_ex}


def allocation_stats(
    comps: list[q.Component],
    tables: list[list[q.BasketTables]],
    ridx: NDArray[np.intp],
    log_w: Array,
    *,
    density: bool = False,
) -> q.Stats:
    """Like :func:`hierarchical_stats` for any number of EX components (used for two),
    by exact enumeration of the baskets' allocations to the components and NEX.

    Given the allocation, each component's baskets are a BHM of their own, so the
    evidence of a set S of baskets in component c is ``I_c(S) = sum_a p_c(a)
    prod_{j in S} A_j(a)`` over that component's (tau, mu) nodes; the allocations
    (``(C + 1)^K``) are weighted by the prior weights, the ``I_c`` and the NEX
    marginals, and basket j's EX-c part is its likelihood times the kernels weighted by
    ``E(a) = sum_{S contains j} P(S_c = S) / I_c(S) prod_{k in S, k != j} A_k(a)``.
    ``tables[c][j]`` are basket j's tables for component c; ``log_w`` (K, C + 1)."""
    b, k = ridx.shape
    nc = len(comps)
    nsub = 1 << k
    alloc = np.array(np.unravel_index(np.arange((nc + 1) ** k), (nc + 1,) * k)).T  # (Z, K)
    bits = 1 << np.arange(k)
    masks = [(alloc == c) @ bits for c in range(nc)]
    low = [int(s & -s).bit_length() - 1 for s in range(nsub)]
    mean, tail, p_ex = np.empty((b, k)), np.empty((b, k)), np.empty((b, k))
    dens = np.empty((k, comps[0].log_mu.size)) if density else None
    for i in range(b):
        ri = ridx[i]
        smax = np.array([tables[0][j].smax[ri[j]] for j in range(k)])
        log_nex = np.array([tables[0][j].log_nex[ri[j]] for j in range(k)]) - smax
        ee, mx, log_i = [], [], []
        for c, comp in enumerate(comps):
            la = np.stack([tables[c][j].log_a[ri[j]].ravel() - smax[j] for j in range(k)])
            le = np.empty((nsub, la.shape[1]))
            le[0] = (comp.tau.logw[:, None] + comp.log_mu[None, :]).ravel()
            for s in range(1, nsub):
                le[s] = le[s & (s - 1)] + la[low[s]]
            m = le.max(axis=1)
            e = q.exp_floor(le - m[:, None])
            ee.append(e)
            mx.append(m)
            log_i.append(m + np.log(e.sum(axis=1)))
        lz = np.take_along_axis(log_w, alloc.T, axis=1).T.sum(axis=1)
        lz = lz + sum(log_i[c][masks[c]] for c in range(nc))
        lz = lz + ((alloc == nc) * log_nex).sum(axis=1)
        pz = np.exp(lz - lz.max())
        pz /= pz.sum()
        p_set = [np.bincount(masks[c], weights=pz, minlength=nsub) for c in range(nc)]
        for j in range(k):
            tab0 = tables[0][j]
            rj = ri[j]
            has = np.flatnonzero(np.arange(nsub) & (1 << j))
            acc_mean = acc_tail = acc_ex = 0.0
            parts = []
            for c in range(nc):
                pc = p_set[c][has].sum()
                acc_ex += pc
                rest = has ^ (1 << j)
                with np.errstate(divide="ignore"):
                    lco = np.log(p_set[c][has]) - log_i[c][has] + mx[c][rest]
                co = q.exp_zero(lco - lco.max()) if np.isfinite(lco).any() else 0 * lco
                ew = co @ ee[c][rest]
                tab = tables[c][j]
                z = ew @ tab.norm[rj].ravel()
                if pc > 0 and z > 0:
                    acc_mean += pc * (ew @ tab.mean[rj].ravel()) / z
                    acc_tail += pc * (ew @ tab.tail[rj].ravel()) / z
                    if dens is not None:
                        kq = ew.reshape(comps[c].kern.shape[0], -1)
                        qd = q.convolve_rows(kq, comps[c].kern)
                        parts.append(pc * tab.lt[rj] * qd.sum(axis=0) / z)
            pn = max(1.0 - acc_ex, 0.0)
            mean[i, j] = acc_mean + pn * tab0.nex_mean[rj] / tab0.nex_norm[rj]
            tail[i, j] = acc_tail + pn * tab0.nex_tail[rj] / tab0.nex_norm[rj]
            p_ex[i, j] = acc_ex
            if dens is not None:
                nex_part = pn * tab0.lt[rj] * tab0.nex_mass / tab0.nex_norm[rj]
                dens[j] = sum(parts, nex_part)
    return q.Stats(mean=mean, tail=np.clip(tail, 0.0, 1.0), p_ex=p_ex, density=dens)


def allocation_table(
    comps: list[q.Component],
    tables: list[list[q.BasketTables]],
    ridx: NDArray[np.intp],
    log_w: Array,
) -> tuple[Array, Array, Array]:
    """Mean, tail probability and P(EX) of :func:`allocation_stats` for many outcome
    vectors (row by row, :func:`allocation_rows`, when they are few).

    The evidence ``I_c(S)`` of a set S of baskets in component c, and the integrals
    of basket j's norm, mean and tail tables against the others' marginals, depend on
    the counts of the baskets in S only: they are computed for every subset by
    :func:`~rdstats.basket._quadrature.product_sums` (matrix products over the two
    halves of S for all distinct half-outcomes), and the ``(C + 1)^K`` allocations
    are then weighted per outcome vector on the log scale."""
    m, k = ridx.shape
    nc = len(comps)
    nsub = 1 << k
    alloc = np.array(np.unravel_index(np.arange((nc + 1) ** k), (nc + 1,) * k)).T
    bits = 1 << np.arange(k)
    masks = [(alloc == c) @ bits for c in range(nc)]
    lw_alloc = np.take_along_axis(log_w, alloc.T, axis=1).T.sum(axis=1)  # (Z,)
    dims = tuple(t.lt.shape[0] for t in tables[0])
    if not q.dense_ok(dims, m, tables[0][0].log_a[0].size, 3 * k * nsub * nc):
        return allocation_rows(comps, tables, ridx, log_w)
    cols = np.arange(k)
    log_i = np.zeros((nc, m, nsub))
    ratio = np.zeros((nc, m, nsub, k, 3))
    for c, comp in enumerate(comps):
        base = (comp.tau.logw[:, None] + comp.log_mu[None, :]).ravel()
        prior = q.linear_floor(np.exp(base - base.max()), k)
        log_i[c, :, 0] = base.max() + np.log(prior.sum())
        amax, facs, tabs = [], [], []
        for j in range(k):
            tab = tables[c][j]
            la = tab.log_a.reshape(tab.log_a.shape[0], -1)
            am = la.max(axis=1)
            amax.append(am)
            facs.append(q.linear_floor(np.exp(la - am[:, None]), k))
            scale = np.exp(tab.smax - am)[:, None, None]
            stack = np.stack(
                [getattr(tab, x).reshape(la.shape) for x in ("norm", "mean", "tail")], 1
            )
            tabs.append(q.linear_floor(stack * scale, k))
        for s in range(1, nsub):
            js = cols[(s >> cols) & 1 == 1]
            tot, rat = q.product_table(prior, [facs[j] for j in js], [tabs[j] for j in js])
            code = np.ravel_multi_index(tuple(ridx[:, js].T), tuple(dims[j] for j in js))
            tot, rat = tot[code], rat[code]
            shift = base.max() + sum(amax[j][ridx[:, j]] for j in js)
            with np.errstate(divide="ignore"):
                log_i[c, :, s] = shift + np.log(tot)
            ratio[c, :, s][:, js] = rat
    log_nex = np.stack([tables[0][j].log_nex[ridx[:, j]] for j in cols], axis=1)  # (M, K)
    lz = lw_alloc[None, :] + log_nex @ (alloc == nc).T.astype(float)
    for c in range(nc):
        lz = lz + log_i[c][:, masks[c]]
    pz = np.exp(lz - lz.max(axis=1, keepdims=True))
    pz /= pz.sum(axis=1, keepdims=True)
    mean, tail, p_ex = np.zeros((m, k)), np.zeros((m, k)), np.zeros((m, k))
    subsets = np.arange(nsub)
    for c in range(nc):
        p_set = pz @ np.eye(nsub)[masks[c]]  # (M, nsub)
        for j in range(k):
            has = subsets[(subsets >> j) & 1 == 1]
            pc = p_set[:, has].sum(axis=1)
            num = np.einsum("ms,msq->mq", p_set[:, has], ratio[c][:, has, j])
            ok = (pc > 0) & (num[:, 0] > 0)
            z = np.where(ok, num[:, 0], 1.0)
            mean[:, j] += np.where(ok, pc * num[:, 1] / z, 0.0)
            tail[:, j] += np.where(ok, pc * num[:, 2] / z, 0.0)
            p_ex[:, j] += pc
    for j in range(k):
        t0, rj = tables[0][j], ridx[:, j]
        pn = np.maximum(1.0 - p_ex[:, j], 0.0)
        mean[:, j] += pn * t0.nex_mean[rj] / t0.nex_norm[rj]
        tail[:, j] += pn * t0.nex_tail[rj] / t0.nex_norm[rj]
    return mean, np.clip(tail, 0.0, 1.0), p_ex


def allocation_rows(
    comps: list[q.Component],
    tables: list[list[q.BasketTables]],
    ridx: NDArray[np.intp],
    log_w: Array,
    chunk: int = 4,
) -> tuple[Array, Array, Array]:
    """:func:`allocation_table` row by row, vectorised over chunks of outcomes (batched
    matrix products; for few outcome vectors)."""
    m, k = ridx.shape
    nc = len(comps)
    nsub = 1 << k
    alloc = np.array(np.unravel_index(np.arange((nc + 1) ** k), (nc + 1,) * k)).T
    bits = 1 << np.arange(k)
    masks = [(alloc == c) @ bits for c in range(nc)]
    onehot = [np.eye(nsub)[mk] for mk in masks]  # (Z, nsub)
    lw_alloc = np.take_along_axis(log_w, alloc.T, axis=1).T.sum(axis=1)  # (Z,)
    low = [int(s & -s).bit_length() - 1 for s in range(nsub)]
    is_nex = (alloc == nc).astype(float)  # (Z, K)
    subsets = np.arange(nsub)
    # linear-scale tables: each factor >= 10^(-300/(K+1)), so that products of K + 1 of
    # them stay normal numbers (no exponentials per outcome)
    floor = -300.0 * np.log(10.0) / (k + 1)
    amax, alin, prior_lin, pmax = [], [], [], []
    for c, comp in enumerate(comps):
        base = (comp.tau.logw[:, None] + comp.log_mu[None, :]).ravel()
        pmax.append(float(base.max()))
        prior_lin.append(np.exp(np.maximum(base - base.max(), floor)))
        am_c, al_c = [], []
        for j in range(k):
            la = tables[c][j].log_a.reshape(tables[c][j].log_a.shape[0], -1)
            am = la.max(axis=1)
            am_c.append(am)
            al_c.append(np.exp(np.maximum(la - am[:, None], floor)))
        amax.append(am_c)
        alin.append(al_c)
    bits_of = [[j for j in range(k) if s & (1 << j)] for s in range(nsub)]
    mean, tail, p_ex = np.zeros((m, k)), np.zeros((m, k)), np.zeros((m, k))
    for s0 in range(0, m, chunk):
        rid = ridx[s0 : s0 + chunk]
        b = rid.shape[0]
        cols = np.arange(k)
        log_nex = np.stack([tables[0][j].log_nex[rid[:, j]] for j in cols], axis=1)
        ee, mx, log_i = [], [], []
        for c in range(nc):
            am = np.stack([amax[c][j][rid[:, j]] for j in cols], axis=1)  # (B, K)
            e = np.empty((b, nsub, prior_lin[c].size))
            e[:, 0] = prior_lin[c]
            for s in range(1, nsub):
                e[:, s] = e[:, s & (s - 1)] * alin[c][low[s]][rid[:, low[s]]]
            shift = pmax[c] + np.stack([am[:, bits_of[s]].sum(axis=1) for s in range(nsub)], 1)
            ee.append(e)
            mx.append(shift)
            log_i.append(shift + np.log(e.sum(axis=2)))
        lz = lw_alloc[None, :] + log_nex @ is_nex.T  # (B, Z)
        for c in range(nc):
            lz = lz + log_i[c][:, masks[c]]
        pz = np.exp(lz - lz.max(axis=1, keepdims=True))
        pz /= pz.sum(axis=1, keepdims=True)
        p_set = [pz @ oh for oh in onehot]  # (B, nsub)
        for j in range(k):
            has = subsets[(subsets & (1 << j)) > 0]
            rest = has ^ (1 << j)
            rj = rid[:, j]
            t0 = tables[0][j]
            acc_mean, acc_tail, acc_ex = np.zeros(b), np.zeros(b), np.zeros(b)
            for c in range(nc):
                tab = tables[c][j]
                pc = p_set[c][:, has].sum(axis=1)
                with np.errstate(divide="ignore"):
                    lco = np.log(p_set[c][:, has]) - log_i[c][:, has] + mx[c][:, rest]
                top = np.max(lco, axis=1, keepdims=True)
                co = q.exp_zero(lco - np.where(np.isfinite(top), top, 0.0))
                tabs3 = np.stack(
                    [
                        tab.norm[rj].reshape(b, -1),
                        tab.mean[rj].reshape(b, -1),
                        tab.tail[rj].reshape(b, -1),
                    ],
                    axis=2,
                )  # (B, N, 3)
                ew = np.matmul(co[:, None, :], ee[c][:, rest])  # (B, 1, N)
                num = np.matmul(ew, tabs3)[:, 0]  # (B, 3)
                ok = (pc > 0) & (num[:, 0] > 0)
                z = np.where(ok, num[:, 0], 1.0)
                acc_mean += np.where(ok, pc * num[:, 1] / z, 0.0)
                acc_tail += np.where(ok, pc * num[:, 2] / z, 0.0)
                acc_ex += pc
            pn = np.maximum(1.0 - acc_ex, 0.0)
            mean[s0 : s0 + b, j] = acc_mean + pn * t0.nex_mean[rj] / t0.nex_norm[rj]
            tail[s0 : s0 + b, j] = acc_tail + pn * t0.nex_tail[rj] / t0.nex_norm[rj]
            p_ex[s0 : s0 + b, j] = acc_ex
    return mean, np.clip(tail, 0.0, 1.0), p_ex
