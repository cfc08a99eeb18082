"""Bayesian hierarchical model of Berry et al. (2013) for basket trials, computed
deterministically (see :mod:`rdstats.basket._quadrature`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from rdstats._provenance import provenance
from rdstats._validation import check_probability, real_number
from rdstats.basket import _quadrature as q
from rdstats.basket._exnex import _check_table, _run_table
from rdstats.basket._posterior import BasketPosterior

Array = NDArray[np.float64]

__all__ = ["BHM"]


@dataclass(frozen=True)
class BHM:
    """Berry et al. (2013) Bayesian hierarchical model.

    ``logit p_j = theta_j + logit(target_j)``, ``theta_j ~ N(mu, sigma^2)``,
    ``mu ~ N(mu_mean, mu_sd^2)``, ``sigma^2 ~ inverse-gamma(shape, scale)``.

    Parameters
    ----------
    mu_prior : (mean, sd)
        Normal prior of ``mu`` (default: Berry et al. 2013, N(-1.34, 10^2)).
    sigma2_prior : (shape, scale)
        Inverse-gamma prior of ``sigma^2`` (default (0.0005, 0.000005)).
    targets : array_like, optional
        Target response rates per basket; their logits are offsets, so that the
        baskets' log odds relative to their targets are exchangeable.

    References
    ----------
    Berry SM, Broglio KR, Groshen S, Berry DA (2013). Bayesian hierarchical modeling of
    patient subpopulations: efficient designs of phase II oncology clinical trials.
    Clinical Trials 10:720-734.

    Examples
    --------
    >>> from rdstats.basket import BHM
    >>> post = BHM().fit([2, 0, 1, 6], [15, 13, 12, 28])
    >>> [round(float(x), 3) for x in post.mean()]
    [0.13, 0.109, 0.121, 0.15]
    """

    mu_prior: tuple[float, float] = (-1.34, 10.0)
    sigma2_prior: tuple[float, float] = (0.0005, 0.000005)
    targets: Any = None

    def __post_init__(self) -> None:
        try:
            m, s = self.mu_prior
            a, b = self.sigma2_prior
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"mu_prior and sigma2_prior must be pairs, got {self.mu_prior!r}, "
                f"{self.sigma2_prior!r}"
            ) from err
        m, s = real_number(m, "mu_prior mean"), real_number(s, "mu_prior sd")
        a, b = real_number(a, "sigma2_prior shape"), real_number(b, "sigma2_prior scale")
        if s <= 0 or a <= 0 or b <= 0:
            raise ValueError(
                f"mu_prior sd and sigma2_prior shape/scale must be > 0, got "
                f"{self.mu_prior!r}, {self.sigma2_prior!r}"
            )
        object.__setattr__(self, "mu_prior", (m, s))
        object.__setattr__(self, "sigma2_prior", (a, b))
        if self.targets is not None:
            t = check_probability(self.targets, "targets", open_interval=True)
            object.__setattr__(self, "targets", tuple(np.atleast_1d(t).tolist()))

    def _offsets(self, k: int) -> Array:
        if self.targets is None:
            return np.zeros(k)
        t = np.asarray(self.targets, dtype=float)
        if t.size == 1:
            t = np.full(k, float(t[0]))
        if t.size != k:
            raise ValueError(f"targets has {t.size} entries for {k} baskets")
        return np.asarray(special.logit(t))

    def _setup(
        self, n: NDArray[np.int64], rs: list[NDArray[np.int64]], p0: Array, gs: float, dv: float
    ) -> tuple[Array, q.Component, list[q.BasketTables], Array]:
        grid = q.uniform_grid(gs)
        off = self._offsets(n.size)
        rule = q.invgamma_var_rule(*self.sigma2_prior, h=gs, dv=dv)
        comp = q.Component.build(grid, *self.mu_prior, rule)
        with np.errstate(divide="ignore"):
            thr = special.logit(p0)
        tabs = [
            q.basket_tables(rs[j], int(n[j]), grid, comp.kern, float(off[j]), float(thr[j]), None)
            for j in range(n.size)
        ]
        return grid, comp, tabs, off

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
            Responders and patients per basket (``n = 0`` allowed).
        names : sequence of str, optional
            Basket names.
        method : {"exact", "mcmc"}
            Deterministic quadrature on a logit grid (default) or NUTS with PyMC.
        rng : int, SeedSequence, Generator or None
            Seed for ``method="mcmc"``.
        grid_step, dv : float
            Step of the logit grid and of the rule in ``log sigma`` (exact method).
        **mcmc
            ``draws``, ``tune``, ``chains``, ``target_accept`` for PyMC.
        """
        r_, n_, labels = q.check_counts(r, n, names)
        if method == "mcmc":
            from rdstats.basket._basket_mcmc import bhm_mcmc

            return bhm_mcmc(self, r_, n_, labels, self._offsets(n_.size), rng=rng, **mcmc)
        if method != "exact":
            raise ValueError(f"method must be 'exact' or 'mcmc', got {method!r}")
        gs, dv_ = q.check_step(grid_step, dv)
        k = n_.size
        grid, comp, tabs, off = self._setup(
            n_, [np.array([x]) for x in r_], np.full(k, 0.5), gs, dv_
        )
        zero = np.zeros(k)
        st = q.hierarchical_stats(
            comp, tabs, np.zeros((1, k), dtype=np.intp), zero, np.full(k, -np.inf), density=True
        )
        assert st.density is not None and st.hyper is not None
        dens = np.array([np.interp(grid - off[j], grid, st.density[j]) for j in range(k)])
        dens /= np.trapezoid(dens, grid, axis=1)[:, None]
        tau = comp.tau.tau
        extra = {
            "mu_mean": float(np.sum(st.hyper.sum(axis=0) * grid)),
            "sigma_mean": float(np.sum(st.hyper.sum(axis=1) * tau)),
            "sigma_nodes": tau,
            "sigma_weights": st.hyper.sum(axis=1),
            "offsets": off,
            "grid_step": gs,
            "dv": dv_,
        }
        args = {"r": r_.tolist(), "n": n_.tolist(), "method": method, "model": repr(self)}
        return BasketPosterior(
            model="BHM",
            r=r_,
            n=n_,
            names=labels,
            grid=grid,
            density=dens,
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
        """Posterior means and ``P(p_j > p0_j)`` for many outcome vectors (M, K) at once
        (see :meth:`EXNEX.posterior_table`; equal to :meth:`fit` with the same
        ``grid_step`` and ``dv`` when there are no targets)."""
        r_arr, n_, p0_ = _check_table(r, n, p0)
        gs, dv_ = q.check_step(grid_step, dv)
        k = n_.size
        _, comp, tabs, _ = self._setup(n_, [np.arange(int(x) + 1) for x in n_], p0_, gs, dv_)
        out = _run_table(comp, tabs, r_arr, np.zeros(k), np.full(k, -np.inf), chunk)
        out.pop("p_exchangeable")
        return out
