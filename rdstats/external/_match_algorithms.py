"""Matching algorithms on distances, free of pandas: greedy nearest-neighbour matching and
optimal (minimum total distance) k:1 matching.

Units are positions: focal units (the treated, for the ATT) ``0 .. n_focal - 1`` and
candidate units (the controls) ``0 .. n_control - 1``. A match matrix has one row per focal
unit and ``ratio`` columns holding candidate positions, ``-1`` where no match was made.
Forbidden pairs (outside a caliper or an exact-matching stratum) have infinite cost.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "abs_difference_rows",
    "ate_set_weights",
    "full_matching",
    "greedy_nearest",
    "mahalanobis_rows",
    "match_order",
    "optimal_matching",
    "total_cost",
]

CostRow = Callable[[int], NDArray[np.float64]]


def match_order(
    n: int, distance: NDArray[np.float64] | None, order: str, rng: np.random.Generator | None
) -> NDArray[np.int64]:
    """Order in which the ``n`` focal units choose their matches: ``"largest"`` (largest
    distance first), ``"smallest"``, ``"data"`` or ``"random"``; ties keep the data order."""
    if order == "data":
        return np.arange(n, dtype=np.int64)
    if order == "random":
        if rng is None:
            raise ValueError("order='random' needs rng")
        return rng.permutation(n).astype(np.int64)
    if distance is None:
        raise ValueError(f"order {order!r} needs a scalar distance")
    if order == "largest":
        return np.argsort(-distance, kind="stable").astype(np.int64)
    if order == "smallest":
        return np.argsort(distance, kind="stable").astype(np.int64)
    raise ValueError(f"unknown order {order!r}")


def abs_difference_rows(
    focal: NDArray[np.float64],
    candidate: NDArray[np.float64],
    caliper: float | None = None,
    focal_stratum: NDArray[np.int64] | None = None,
    candidate_stratum: NDArray[np.int64] | None = None,
) -> CostRow:
    """Cost rows ``|focal[i] - candidate|`` with infinite cost outside the caliper or the
    exact-matching stratum."""

    def row(i: int) -> NDArray[np.float64]:
        cost = np.abs(candidate - focal[i])
        if caliper is not None:
            cost[cost > caliper] = np.inf
        if focal_stratum is not None and candidate_stratum is not None:
            cost[candidate_stratum != focal_stratum[i]] = np.inf
        return cost

    return row


def mahalanobis_rows(
    focal: NDArray[np.float64],
    candidate: NDArray[np.float64],
    covariance: NDArray[np.float64],
    focal_stratum: NDArray[np.int64] | None = None,
    candidate_stratum: NDArray[np.int64] | None = None,
) -> CostRow:
    """Cost rows of Mahalanobis distances ``sqrt((x - y)' S^-1 (x - y))``."""
    chol = np.linalg.cholesky(np.linalg.pinv(covariance, hermitian=True) + 0.0)
    zf = focal @ chol
    zc = candidate @ chol

    def row(i: int) -> NDArray[np.float64]:
        cost = np.sqrt(np.sum((zc - zf[i]) ** 2, axis=1))
        if focal_stratum is not None and candidate_stratum is not None:
            cost[candidate_stratum != focal_stratum[i]] = np.inf
        return cost

    return row


def greedy_nearest(
    cost_row: CostRow,
    n_focal: int,
    n_control: int,
    order: NDArray[np.int64],
    ratio: int = 1,
    replace: bool = False,
) -> NDArray[np.int64]:
    """Greedy nearest-neighbour matching.

    Focal units take their turns in ``order``; each takes the nearest candidate it may
    still use (the first in candidate order among exact ties). Without replacement, all focal
    units get their first match before any gets its second (and so on up to ``ratio``),
    and a used candidate is no longer available; with replacement each focal unit takes
    its ``ratio`` nearest distinct candidates. Focal units with no finite-cost candidate
    left stay unmatched (``-1``).
    """
    matches = np.full((n_focal, ratio), -1, dtype=np.int64)
    if replace:
        for i in order:
            cost = cost_row(int(i))
            finite = np.flatnonzero(np.isfinite(cost))
            if finite.size == 0:
                continue
            best = finite[np.argsort(cost[finite], kind="stable")[:ratio]]
            matches[i, : best.size] = best
        return matches
    available = np.ones(n_control, dtype=bool)
    rows = {int(i): cost_row(int(i)) for i in order}
    for k in range(ratio):
        for i in order:
            ii = int(i)
            if k > 0 and matches[ii, k - 1] < 0:
                continue
            cost = np.where(available, rows[ii], np.inf)
            j = int(np.argmin(cost))
            if not np.isfinite(cost[j]):
                continue
            matches[ii, k] = j
            available[j] = False
    return matches


def optimal_matching(cost: NDArray[np.float64], ratio: int = 1) -> NDArray[np.int64]:
    """Optimal k:1 matching without replacement: the largest possible number of matched
    pairs with finite cost and, among those, the smallest total cost (each focal unit
    replicated ``ratio`` times, solved by :func:`scipy.optimize.linear_sum_assignment`)."""
    from scipy.optimize import linear_sum_assignment

    n_focal, _ = cost.shape
    big = np.repeat(cost, ratio, axis=0)
    finite = np.isfinite(big)
    matches = np.full((n_focal, ratio), -1, dtype=np.int64)
    if not finite.any():
        return matches
    fmax = float(np.max(np.abs(big[finite])))
    # a forbidden pair costs more than any set of allowed pairs, so the solver first
    # maximises the number of allowed pairs, then minimises their total cost
    penalty = (fmax + 1.0) * (min(big.shape) + 1) * 2.0
    work = np.where(finite, big, penalty)
    rows, cols = linear_sum_assignment(work)
    slot = np.zeros(n_focal, dtype=np.int64)
    for r, c in zip(rows, cols, strict=True):
        if finite[r, c]:
            i = r // ratio
            matches[i, slot[i]] = c
            slot[i] += 1
    for i in range(n_focal):  # matched candidates in increasing cost, for display
        got = matches[i][matches[i] >= 0]
        matches[i, : got.size] = got[np.argsort(cost[i, got], kind="stable")]
    return matches


def total_cost(cost: NDArray[np.float64], matches: NDArray[np.int64]) -> float:
    """Sum of the costs of the matched pairs."""
    i, k = np.nonzero(matches >= 0)
    return float(np.sum(cost[i, matches[i, k]]))


def full_matching(cost: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Optimal full matching: a partition of the units into matched sets, each one focal
    unit with one or more candidates or one candidate with one or more focal units, that
    minimises the total focal-candidate distance within sets (Rosenbaum 1991).

    Solved as a minimum-cost edge cover of the bipartite graph of allowed (finite-cost)
    pairs, an integer programme whose LP relaxation is integral (bipartite incidence
    matrix), by :func:`scipy.optimize.milp`; zero-cost edges that join two sets are then
    dropped so that every set is a star. Units with no allowed partner are left out.
    Returns the set label of every focal unit and every candidate (``-1``: unmatched).
    """
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse.csgraph import connected_components

    n_f, n_c = cost.shape
    fi, cj = np.nonzero(np.isfinite(cost))
    lab_f = np.full(n_f, -1, dtype=np.int64)
    lab_c = np.full(n_c, -1, dtype=np.int64)
    if fi.size == 0:
        return lab_f, lab_c
    ne = fi.size
    inc = sparse.vstack(
        [
            sparse.csr_matrix((np.ones(ne), (fi, np.arange(ne))), shape=(n_f, ne)),
            sparse.csr_matrix((np.ones(ne), (cj, np.arange(ne))), shape=(n_c, ne)),
        ]
    ).tocsr()
    covered = np.asarray(inc.sum(axis=1)).ravel() > 0
    res = milp(
        c=cost[fi, cj],
        constraints=LinearConstraint(inc[covered], lb=1.0, ub=np.inf),
        integrality=np.ones(ne),
        bounds=Bounds(0.0, 1.0),
    )
    if res.x is None:  # pragma: no cover - the edge cover always exists
        raise RuntimeError(f"full matching failed: {res.message}")
    keep = res.x > 0.5
    deg_f = np.bincount(fi[keep], minlength=n_f)
    deg_c = np.bincount(cj[keep], minlength=n_c)
    for e in np.flatnonzero(keep)[np.argsort(-cost[fi[keep], cj[keep]], kind="stable")]:
        if deg_f[fi[e]] > 1 and deg_c[cj[e]] > 1:  # a (zero-cost) edge between two stars
            keep[e] = False
            deg_f[fi[e]] -= 1
            deg_c[cj[e]] -= 1
    graph = sparse.csr_matrix(
        (np.ones(int(keep.sum())), (fi[keep], n_f + cj[keep])), shape=(n_f + n_c, n_f + n_c)
    )
    _, comp = connected_components(graph, directed=False)
    in_set = np.concatenate([deg_f > 0, deg_c > 0])
    _, labels = np.unique(comp[in_set], return_inverse=True)
    full = np.full(n_f + n_c, -1, dtype=np.int64)
    full[in_set] = labels
    return full[:n_f], full[n_f:]


def ate_set_weights(
    sets: list[tuple[NDArray[np.int64], NDArray[np.int64]]],
    fpos: NDArray[np.int64],
    cpos: NDArray[np.int64],
    n: int,
) -> NDArray[np.float64]:
    """ATE weights of matched sets (focal positions, candidate positions into ``fpos`` and
    ``cpos``): every unit weighs ``1 + n_other / n_own`` in its set (the set size over the
    number of units of its own group there), rescaled within each group to sum to the
    group's number of matched units (MatchIt's ATE weights for full matching). Unmatched
    units weigh 0."""
    w = np.zeros(n)
    for f, c in sets:
        w[fpos[f]] = 1.0 + c.size / f.size
        w[cpos[c]] = 1.0 + f.size / c.size
    for pos in (fpos, cpos):
        used = pos[w[pos] > 0]
        w[used] *= used.size / w[used].sum()
    return w
