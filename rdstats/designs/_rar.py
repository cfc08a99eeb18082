"""Allocation rules of multi-arm designs: fixed ratios and Thompson-type response-adaptive
randomisation, vectorised over simulated trials.

Columns of every allocation array are ``[control, arm 1, ..., arm K]``; rows are trials.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

__all__ = ["FixedAllocation", "ThompsonAllocation"]

Array = NDArray[np.float64]
Mask = NDArray[np.bool_]


def _check_share(value: Any, name: str, lo: float, hi: float, *, open_lo: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    v = float(value)
    below = v <= lo if open_lo else v < lo
    if not np.isfinite(v) or below or v > hi:
        left = "(" if open_lo else "["
        raise ValueError(f"{name} must be in {left}{lo:g}, {hi:g}], got {value!r}")
    return v


def _check_active(active: Any, n_arms: int | None = None) -> Mask:
    a = np.asarray(active)
    if a.dtype != np.bool_ or a.ndim != 2 or a.shape[1] < 1:
        raise ValueError(
            f"active must be a boolean array of shape (trials, arms), got dtype {a.dtype} "
            f"and shape {a.shape}"
        )
    if n_arms is not None and a.shape[1] != n_arms:
        raise ValueError(f"active has {a.shape[1]} arms, expected {n_arms}")
    return a


def cap_shares(q: Array, active: Mask, lower: float, upper: float) -> Array:
    """Keep shares ``q`` (rows summing to one over active arms) within
    ``[lower, upper]`` by rescaling: the capped shares are ``clip(λ q, lower, upper)``
    with the factor ``λ`` (per row, found by bisection) that makes them sum to one, so
    arms inside the box keep their ratios. Shares below 1e-12 count as 1e-12. Where the
    box cannot hold the mass (``k * upper < 1`` or ``k * lower > 1`` with ``k`` active
    arms) the active arms share equally; a row with no active arm stays zero."""
    if lower <= 0.0 and upper >= 1.0:
        return np.where(active, q, 0.0)
    qq = np.where(active, np.maximum(q, 1e-12), 0.0)
    k = active.sum(axis=1, keepdims=True)
    lo = np.zeros((q.shape[0], 1))
    hi = upper / np.where(active, qq, np.inf).min(axis=1, keepdims=True)
    hi = np.where(np.isfinite(hi), hi, 1.0)

    def total(lam: Array) -> Array:
        return np.where(active, np.clip(lam * qq, lower, upper), 0.0).sum(axis=1, keepdims=True)

    for _ in range(100):
        mid = 0.5 * (lo + hi)
        below = total(mid) < 1.0
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    out = np.where(active, np.clip(0.5 * (lo + hi) * qq, lower, upper), 0.0)
    tot = out.sum(axis=1, keepdims=True)
    out = np.where(tot > 0, out / np.where(tot > 0, tot, 1.0), 0.0)
    infeasible = (k * upper < 1.0 - 1e-12) | (k * lower > 1.0 + 1e-12)
    even = np.where(active, 1.0 / np.maximum(k, 1), 0.0)
    return np.where(infeasible, even, out)


@dataclass(frozen=True)
class FixedAllocation:
    """Fixed randomisation ratio ``control : arm 1 : ... : arm K``.

    When arms are dropped their share goes to the remaining arms (control included) in
    proportion to their ratios.

    Parameters
    ----------
    ratio : sequence of float, optional
        Positive weights, control first; ``None`` (default) means equal allocation.

    References
    ----------
    .. [1] Wason JMS, Trippa L. A comparison of Bayesian adaptive randomization and
       multi-stage designs for multi-arm clinical trials. Stat Med 2014;33:2206-2221.

    Examples
    --------
    >>> import numpy as np
    >>> from rdstats.designs import FixedAllocation
    >>> rule = FixedAllocation(ratio=(2, 1, 1))
    >>> rule.probabilities(np.array([[True, True], [True, False]])).round(3)
    array([[0.5  , 0.25 , 0.25 ],
           [0.667, 0.333, 0.   ]])
    """

    ratio: Sequence[float] | None = None
    needs_best: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.ratio is not None:
            if isinstance(self.ratio, (str, bytes)) or not isinstance(
                self.ratio, (Sequence, np.ndarray)
            ):
                raise TypeError(f"ratio must be a sequence of numbers, got {self.ratio!r}")
            r = tuple(float(v) for v in self.ratio)
            if len(r) < 2 or not all(np.isfinite(v) and v > 0 for v in r):
                raise ValueError(
                    f"ratio must hold at least two positive numbers (control first), "
                    f"got {self.ratio!r}"
                )
            object.__setattr__(self, "ratio", r)

    def check_arms(self, n_arms: int) -> None:
        """Raise ValueError unless the ratio fits a design with ``n_arms`` active arms."""
        if self.ratio is not None and len(self.ratio) != n_arms + 1:
            raise ValueError(
                f"ratio has {len(self.ratio)} entries, expected {n_arms + 1} "
                f"(control and {n_arms} arms)"
            )

    def probabilities(
        self,
        active: Any,
        p_best: Array | None = None,
        n: int = 0,
        n_max: int = 1,
    ) -> Array:
        """Allocation probabilities ``(trials, 1 + arms)`` given the active arms."""
        act = _check_active(active)
        self.check_arms(act.shape[1])
        ratio = np.ones(act.shape[1] + 1) if self.ratio is None else np.asarray(self.ratio)
        w = ratio * np.column_stack([act.any(axis=1), act])
        tot = w.sum(axis=1, keepdims=True)
        return np.where(tot > 0, w / np.where(tot > 0, tot, 1.0), 0.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {
            "rule": "FixedAllocation",
            "ratio": None if self.ratio is None else list(self.ratio),
        }


@dataclass(frozen=True)
class ThompsonAllocation:
    """Thompson-type response-adaptive randomisation.

    Each active arm's share of the experimental-arm allocation is proportional to
    ``P(arm k is best | data) ** c``; shares are then kept in
    ``[min_allocation, max_allocation]``. The control arm receives either a fixed share
    or, with ``control="matched"``, the same probability as the best-allocated active
    arm.

    Parameters
    ----------
    power : float, optional
        Softening power ``c >= 0``. ``None`` (default) uses ``c = n / (2 N)``, with ``n``
        the patients enrolled so far and ``N`` the maximal sample size, so allocation
        starts equal and becomes more adaptive as information accrues.
    min_allocation, max_allocation : float
        Bounds on each active arm's share of the experimental-arm allocation
        (``0 <= min_allocation <= 1/K <= max_allocation <= 1`` for ``K`` arms).
    control : "matched" or float
        ``"matched"`` or a fixed control probability in (0, 1).

    Notes
    -----
    The probabilities that each arm is best are computed by the design (by quadrature
    over the conjugate posteriors) and passed to :meth:`probabilities`. When arms have
    been dropped and the remaining ``k`` arms cannot respect ``max_allocation``
    (``k * max_allocation < 1``) they share equally.

    References
    ----------
    .. [1] Thall PF, Wathen JK. Practical Bayesian adaptive randomisation in clinical
       trials. Eur J Cancer 2007;43:859-866.
    .. [2] Trippa L, Lee EQ, Wen PY, et al. Bayesian adaptive randomized trial design for
       patients with recurrent glioblastoma. J Clin Oncol 2012;30:3258-3263.
    .. [3] Wathen JK, Thall PF. A simulation study of outcome adaptive randomization in
       multi-arm clinical trials. Clin Trials 2017;14:432-440.

    Examples
    --------
    >>> import numpy as np
    >>> from rdstats.designs import ThompsonAllocation
    >>> rule = ThompsonAllocation(power=1.0, min_allocation=0.1)
    >>> active = np.array([[True, True]])
    >>> rule.probabilities(active, p_best=np.array([[0.98, 0.02]])).round(3)
    array([[0.474, 0.474, 0.053]])
    """

    power: float | None = None
    min_allocation: float = 0.0
    max_allocation: float = 1.0
    control: str | float = "matched"
    needs_best: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.power is not None:
            p = _check_share(self.power, "power", 0.0, np.inf, open_lo=False)
            object.__setattr__(self, "power", p)
        lo = _check_share(self.min_allocation, "min_allocation", 0.0, 1.0, open_lo=False)
        hi = _check_share(self.max_allocation, "max_allocation", 0.0, 1.0, open_lo=True)
        if lo > hi:
            raise ValueError(
                f"min_allocation={lo} exceeds max_allocation={hi}: caps are inconsistent"
            )
        object.__setattr__(self, "min_allocation", lo)
        object.__setattr__(self, "max_allocation", hi)
        if isinstance(self.control, str):
            if self.control != "matched":
                raise ValueError(
                    f"control must be 'matched' or a share in (0, 1), got {self.control!r}"
                )
        else:
            c = _check_share(self.control, "control", 0.0, 1.0, open_lo=True)
            if c >= 1.0:
                raise ValueError(f"control must be a share in (0, 1), got {self.control!r}")
            object.__setattr__(self, "control", c)

    def check_arms(self, n_arms: int) -> None:
        """Raise ValueError unless the caps are feasible with ``n_arms`` active arms."""
        if n_arms * self.min_allocation > 1.0 + 1e-12:
            raise ValueError(
                f"min_allocation={self.min_allocation} is too large for {n_arms} arms: "
                f"the caps are inconsistent (need min_allocation <= 1/{n_arms})"
            )
        if n_arms * self.max_allocation < 1.0 - 1e-12:
            raise ValueError(
                f"max_allocation={self.max_allocation} is too small for {n_arms} arms: "
                f"the caps are inconsistent (need max_allocation >= 1/{n_arms})"
            )

    def exponent(self, n: int, n_max: int) -> float:
        """Softening power at ``n`` of ``n_max`` patients."""
        if self.power is not None:
            return float(self.power)
        return float(n) / (2.0 * float(n_max))

    def probabilities(
        self,
        active: Any,
        p_best: Array | None = None,
        n: int = 0,
        n_max: int = 1,
    ) -> Array:
        """Allocation probabilities ``(trials, 1 + arms)``.

        ``p_best`` (trials, arms) are the posterior probabilities that each active arm is
        the best; ``None`` means no data yet (equal shares). ``n`` of ``n_max`` patients
        have been enrolled (for the default softening power).
        """
        act = _check_active(active)
        self.check_arms(act.shape[1])
        c = self.exponent(n, n_max)
        if p_best is None:
            w = act.astype(float)
        else:
            pb = np.asarray(p_best, dtype=float)
            if pb.shape != act.shape:
                raise ValueError(f"p_best has shape {pb.shape}, expected {act.shape}")
            if np.any(~np.isfinite(pb[act])) or np.any(pb[act] < 0):
                raise ValueError("p_best must be finite and non-negative on active arms")
            w = np.where(act, np.power(np.clip(pb, 0.0, 1.0), c), 0.0)
        tot = w.sum(axis=1, keepdims=True)
        k = np.maximum(act.sum(axis=1, keepdims=True), 1)
        q = np.where(tot > 0, w / np.where(tot > 0, tot, 1.0), act / k)
        q = cap_shares(q, act, self.min_allocation, self.max_allocation)
        any_active = act.any(axis=1, keepdims=True)
        if self.control == "matched":
            top = q.max(axis=1, keepdims=True)
            out = np.column_stack([top, q]) / np.where(any_active, 1.0 + top, 1.0)
        else:
            share = float(self.control)
            out = np.column_stack([np.full((q.shape[0], 1), share), (1.0 - share) * q])
        return np.where(any_active, out, 0.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {
            "rule": "ThompsonAllocation",
            "power": self.power,
            "min_allocation": self.min_allocation,
            "max_allocation": self.max_allocation,
            "control": self.control,
        }


AllocationRule = FixedAllocation | ThompsonAllocation
