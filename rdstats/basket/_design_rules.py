"""BasketRule: the per-basket go / no-go rule of a basket design."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rdstats._validation import as_float_array

Array = NDArray[np.float64]

__all__ = ["BasketRule"]


def _values(value: Any, name: str) -> tuple[float, ...]:
    arr = np.atleast_1d(as_float_array(value, name))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"{name} must be a number or a 1-D sequence (one per basket), got {value!r}"
        )
    if ((arr < 0) | (arr >= 1)).any():
        raise ValueError(f"{name} must be in [0, 1), got {np.asarray(value).tolist()!r}")
    return tuple(float(x) for x in arr)


@dataclass(frozen=True)
class BasketRule:
    """Go / no-go rule of every basket at the final analysis.

    Basket ``j`` is a *go* when ``P(p_j > threshold_j | data) > prob_j`` and, if
    ``min_mean`` is given, ``E(p_j | data) > min_mean_j`` (the form of Neuenschwander et
    al. 2016, Table V: go if ``P(p_j > 0.1) > 0.9`` and ``E(p_j) > 0.2``).

    Parameters
    ----------
    prob : float or sequence of float
        Posterior probability cut-offs ``gamma_j`` in [0, 1), shared or one per basket.
    threshold : float or sequence of float
        Null response rates ``b_j`` in [0, 1): a basket with true rate ``p_j <= b_j`` is
        a null basket (its go probability is a type I error).
    min_mean : float or sequence of float, optional
        Minimum posterior means ``m_j`` in [0, 1).

    References
    ----------
    Neuenschwander B, Wandel S, Roychoudhury S, Bailey S (2016). Robust exchangeability
    designs for early phase clinical trials with multiple strata. Pharmaceutical
    Statistics 15:123-134 (Table V).

    Examples
    --------
    >>> from rdstats.basket import BasketRule
    >>> rule = BasketRule(prob=0.9, threshold=0.1, min_mean=0.2)
    >>> rule.decide([[0.25, 0.15]], [[0.95, 0.95]], 2).tolist()
    [[True, False]]
    """

    prob: Any = 0.9
    threshold: Any = 0.1
    min_mean: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "prob", _values(self.prob, "prob"))
        object.__setattr__(self, "threshold", _values(self.threshold, "threshold"))
        if self.min_mean is not None:
            object.__setattr__(self, "min_mean", _values(self.min_mean, "min_mean"))

    def resolve(self, k: int) -> tuple[Array, Array, Array | None]:
        """``(prob, threshold, min_mean)`` as (K,) arrays for ``k`` baskets."""

        def one(v: tuple[float, ...] | None, name: str) -> Array | None:
            if v is None:
                return None
            if len(v) not in (1, k):
                raise ValueError(
                    f"{name} must have 1 or {k} entries (one per basket), got {len(v)}: {list(v)}"
                )
            return np.broadcast_to(np.asarray(v, dtype=float), (k,)).copy()

        prob = one(self.prob, "prob")
        thr = one(self.threshold, "threshold")
        assert prob is not None and thr is not None
        return prob, thr, one(self.min_mean, "min_mean")

    def decide(self, mean: ArrayLike, prob_above: ArrayLike, k: int) -> NDArray[np.bool_]:
        """Go decisions (M, K) from posterior means and ``P(p_j > threshold_j)`` (M, K)."""
        prob, _, mm = self.resolve(k)
        go = np.asarray(prob_above, dtype=float) > prob
        if mm is not None:
            go &= np.asarray(mean, dtype=float) > mm
        return np.asarray(go)

    def to_dict(self) -> dict[str, Any]:
        return {
            "prob": list(self.prob),
            "threshold": list(self.threshold),
            "min_mean": None if self.min_mean is None else list(self.min_mean),
        }
