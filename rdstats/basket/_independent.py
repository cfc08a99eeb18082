"""Comparators without borrowing: stratified (independent Beta per basket) and pooled
(one Beta for all baskets) analyses, with the same result type as the borrowing models."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from rdstats._provenance import provenance
from rdstats._validation import check_positive
from rdstats.basket import _quadrature as q
from rdstats.basket._posterior import LOGIT_GRID, BasketPosterior

Array = NDArray[np.float64]

__all__ = ["Pooled", "Stratified"]


def _beta_logit_density(a: Array, b: Array, grid: Array) -> Array:
    """(K, G) density of logit p for p ~ Beta(a_k, b_k)."""
    x = grid[None, :]
    logd = (
        a[:, None] * special.log_expit(x)
        + b[:, None] * special.log_expit(-x)
        - special.betaln(a, b)[:, None]
    )
    return np.asarray(np.exp(logd))


def _check_ab(a: float, b: float) -> tuple[float, float]:
    return float(check_positive(a, "a")), float(check_positive(b, "b"))


@dataclass(frozen=True)
class Stratified:
    """Independent analysis of every basket: ``p_j ~ Beta(a, b)`` a priori.

    Parameters
    ----------
    a, b : float
        Beta prior parameters (default uniform).

    References
    ----------
    Berry SM, Broglio KR, Groshen S, Berry DA (2013). Bayesian hierarchical modeling of
    patient subpopulations: efficient designs of phase II oncology clinical trials.
    Clinical Trials 10:720-734 (the independent analysis as comparator).

    Examples
    --------
    >>> from rdstats.basket import Stratified
    >>> post = Stratified(a=1, b=1).fit([2, 0], [15, 13])
    >>> [round(float(x), 4) for x in post.mean()]  # (r + 1) / (n + 2)
    [0.1765, 0.0667]
    """

    a: float = 1.0
    b: float = 1.0

    def __post_init__(self) -> None:
        a, b = _check_ab(self.a, self.b)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)

    def _ab(self, r: NDArray[np.int64], n: NDArray[np.int64]) -> tuple[Array, Array]:
        return (self.a + r).astype(float), (self.b + n - r).astype(float)

    def fit(
        self, r: ArrayLike, n: ArrayLike, names: Sequence[str] | None = None
    ) -> BasketPosterior:
        """Posterior ``Beta(a + r_j, b + n_j - r_j)`` of every basket (on the logit grid)."""
        r_, n_, labels = q.check_counts(r, n, names)
        a, b = self._ab(r_, n_)
        dens = _beta_logit_density(a, b, LOGIT_GRID)
        dens = dens / np.asarray(np.trapezoid(dens, LOGIT_GRID, axis=1))[:, None]
        lo, hi = special.expit(LOGIT_GRID[0]), special.expit(LOGIT_GRID[-1])
        tails = np.stack([special.betainc(a, b, lo), special.betaincc(a, b, hi)], axis=1)
        return BasketPosterior(
            model=type(self).__name__,
            r=r_,
            n=n_,
            names=labels,
            grid=LOGIT_GRID,
            density=dens,
            tails=tails,
            extra={"a": a, "b": b},
            provenance=provenance({"r": r_.tolist(), "n": n_.tolist(), "model": repr(self)}),
        )

    def posterior_table(self, r: ArrayLike, n: ArrayLike, p0: ArrayLike) -> dict[str, Array]:
        """Exact Beta posterior means and ``P(p_j > p0_j)`` for outcome vectors (M, K)."""
        from rdstats.basket._exnex import _check_table

        r_arr, n_, p0_ = _check_table(r, n, p0)
        a, b = self._table_ab(r_arr, n_)
        return {"mean": a / (a + b), "prob_above": stats.beta.sf(p0_, a, b)}

    def _table_ab(self, r: NDArray[np.int64], n: NDArray[np.int64]) -> tuple[Array, Array]:
        return (self.a + r).astype(float), (self.b + n - r).astype(float)


@dataclass(frozen=True)
class Pooled(Stratified):
    """Complete pooling: one ``p ~ Beta(a, b)`` shared by all baskets, updated with the
    total responders and patients.

    References
    ----------
    Neuenschwander B, Wandel S, Roychoudhury S, Bailey S (2016). Robust exchangeability
    designs for early phase clinical trials with multiple strata. Pharmaceutical
    Statistics 15:123-134 (stratified and pooled analyses as the extremes of borrowing).

    Examples
    --------
    >>> from rdstats.basket import Pooled
    >>> post = Pooled().fit([2, 0], [15, 13])
    >>> [round(float(x), 4) for x in post.mean()]  # (2 + 1) / (28 + 2)
    [0.1, 0.1]
    """

    def _ab(self, r: NDArray[np.int64], n: NDArray[np.int64]) -> tuple[Array, Array]:
        tot_r, tot_n = r.sum(), n.sum()
        k = r.size
        return np.full(k, self.a + tot_r, dtype=float), np.full(
            k, self.b + tot_n - tot_r, dtype=float
        )

    def _table_ab(self, r: NDArray[np.int64], n: NDArray[np.int64]) -> tuple[Array, Array]:
        tot_r = r.sum(axis=1, keepdims=True)
        a = np.broadcast_to(self.a + tot_r, r.shape).astype(float)
        return a, np.broadcast_to(self.b + n.sum() - tot_r, r.shape).astype(float)
