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

    Per basket, with probability ``w_ex`` the logit response rate is exchangeable,
    ``theta_j ~ N(mu, tau^2)`` with ``mu ~ N(mu_mean, mu_sd^2)`` and
    ``tau ~ half-normal(tau_scale)``, and with probability ``w_nex`` it has its own
    prior ``theta_j ~ N(nex_mean_j, nex_sd_j^2)``.

    Parameters
    ----------
    ex : sequence of (mu_mean, mu_sd, tau_scale)
        The exchangeable component (one; two components are not computed exactly yet).
    nex : (mean, sd) or sequence of them
        Non-exchangeable priors of the logit rates, shared or one per basket.
    weights : (w_ex, w_nex) or (K, 2) array
        Prior probabilities of EX and NEX, shared or per basket; rows sum to one.

    References
    ----------
    Neuenschwander B, Wandel S, Roychoudhury S, Bailey S (2016). Robust exchangeability
    designs for early phase clinical trials with multiple strata. Pharmaceutical
    Statistics 15:123-134.

    Examples
    --------
    >>> from rdstats.basket._exnex import EXNEX
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
    ) -> tuple[Array, q.Component, list[q.BasketTables], Array, Array]:
        if len(self.ex) != 1:
            raise NotImplementedError(
                "the exact computation handles one EX component; use method='mcmc' for two"
            )
        k = n.size
        w, nex = self._per_basket(k)
        grid = q.uniform_grid(grid_step)
        m, s, t = self.ex[0]
        comp = q.Component.build(grid, m, s, q.halfnormal_tau_rule(t, grid_step, dv))
        with np.errstate(divide="ignore"):
            thr = special.logit(p0)
        tabs = [
            q.basket_tables(rs[j], int(n[j]), grid, comp.kern, 0.0, float(thr[j]), nex[j])
            for j in range(k)
        ]
        with np.errstate(divide="ignore"):
            return grid, comp, tabs, np.log(w[:, 0]), np.log(w[:, -1])

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
        grid, comp, tabs, lwe, lwn = self._setup(n_, [np.array([x]) for x in r_], p0, gs, dv_)
        ridx = np.zeros((1, n_.size), dtype=np.intp)
        st = q.hierarchical_stats(comp, tabs, ridx, lwe, lwn, density=True)
        assert st.density is not None and st.hyper is not None
        dens = st.density / np.asarray(np.trapezoid(st.density, grid, axis=1))[:, None]
        hyper = st.hyper
        tau = comp.tau.tau
        extra = {
            "mu_mean": float(np.sum(hyper.sum(axis=0) * grid)),
            "tau_mean": float(np.sum(hyper.sum(axis=1) * tau)),
            "tau_nodes": tau,
            "tau_weights": hyper.sum(axis=1),
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
            probabilities) of the fine rules, at about 1,000 outcome vectors per second
            for four baskets.
        chunk : int
            Outcome vectors processed together.

        Returns
        -------
        dict
            ``"mean"``, ``"prob_above"``, ``"p_exchangeable"``: (M, K) arrays.
        """
        r_arr, n_, p0_ = _check_table(r, n, p0)
        gs, dv_ = q.check_step(grid_step, dv)
        rs = [np.arange(int(x) + 1) for x in n_]
        _, comp, tabs, lwe, lwn = self._setup(n_, rs, p0_, gs, dv_)
        return _run_table(comp, tabs, r_arr, lwe, lwn, chunk)


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
