"""Bayesian decision rules built from posterior tail probabilities."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from rdstats._validation import as_float_array, check_probability
from rdstats.priors import BetaMixture, GammaMixture, NormalMixture, prob_difference

__all__ = ["DecisionRule"]


class DecisionRule:
    """One or more posterior-probability criteria that must all hold for a positive decision.

    Criterion ``i`` holds when ``P(θ > threshold_i | data) > prob_i`` (upper tail) or
    ``P(θ <= threshold_i | data) > prob_i`` (``lower_tail_i=True``). Applied to one
    distribution θ is the parameter of a single arm; applied to two it is the difference
    ``θ1 − θ2``.

    Parameters
    ----------
    prob : float or sequence of float
        Required posterior probabilities, strictly between 0 and 1.
    threshold : float or sequence of float
        Thresholds for θ (or θ1 − θ2).
    lower_tail : bool or sequence of bool
        Direction of each criterion; broadcast to all criteria when a single bool.

    Notes
    -----
    ``margin`` reports ``log P_i − log prob_i`` per criterion, positive when it holds;
    a go / no-go / gray-zone scheme is two rules evaluated together (e.g. "go" if the
    efficacy rule holds, "stop" if a futility rule holds, otherwise "gray zone").

    References
    ----------
    .. [1] Neuenschwander B, Rouyrre N, Hollaender N, Zuber E, Branson M. A proof of
       concept phase II non-inferiority criterion. Stat Med 2011;30:1618-1627.
    .. [2] Fisch R, Jones I, Jones J, Kerman J, Rosenkranz GK, Schmidli H. Bayesian design
       of proof-of-concept trials. Ther Innov Regul Sci 2015;49:155-162.

    Examples
    --------
    >>> from rdstats.designs import DecisionRule
    >>> from rdstats.priors import BetaMixture
    >>> rule = DecisionRule(prob=[0.95, 0.5], threshold=[0.0, 0.2])
    >>> rule(BetaMixture(1, 16, 6), BetaMixture(1, 4, 18))
    1
    >>> rule.margin(BetaMixture(1, 16, 6), BetaMixture(1, 4, 18)).round(4)
    array([0.0512, 0.6874])
    """

    __slots__ = ("lower_tail", "prob", "threshold")
    prob: NDArray[np.float64]
    threshold: NDArray[np.float64]
    lower_tail: NDArray[np.bool_]

    def __init__(
        self,
        prob: float | Sequence[float] | ArrayLike,
        threshold: float | Sequence[float] | ArrayLike,
        lower_tail: bool | Sequence[bool] = False,
    ) -> None:
        p = np.atleast_1d(check_probability(prob, "prob", open_interval=True))
        t = np.atleast_1d(as_float_array(threshold, "threshold"))
        lt_raw = np.atleast_1d(np.asarray(lower_tail))
        if lt_raw.dtype != bool:
            raise TypeError(f"lower_tail must be bool or a sequence of bool, got {lower_tail!r}")
        k = max(p.size, t.size, lt_raw.size)
        for name, arr in (("prob", p), ("threshold", t), ("lower_tail", lt_raw)):
            if arr.ndim != 1 or arr.size not in (1, k):
                raise ValueError(f"{name} has {arr.size} entries but the rule has {k} criteria")
        for name, arr in (
            ("prob", np.broadcast_to(p, (k,)).copy()),
            ("threshold", np.broadcast_to(t, (k,)).copy()),
            ("lower_tail", np.broadcast_to(lt_raw, (k,)).copy()),
        ):
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"DecisionRule is immutable; cannot set {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (DecisionRule, (self.prob.copy(), self.threshold.copy(), self.lower_tail.copy()))

    @property
    def n_criteria(self) -> int:
        """Number of criteria."""
        return int(self.prob.size)

    def _key(self) -> tuple[bytes, bytes, bytes]:
        return (self.prob.tobytes(), self.threshold.tobytes(), self.lower_tail.tobytes())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DecisionRule) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        parts = [
            f"P(θ {'<=' if lt else '>'} {t:g}) > {p:g}"
            for p, t, lt in zip(self.prob, self.threshold, self.lower_tail, strict=True)
        ]
        return "DecisionRule(" + " and ".join(parts) + ")"

    def probabilities(self, dist: Any, dist_2: Any = None) -> NDArray[np.float64]:
        """Posterior probability of each criterion's event (the ``P`` compared with ``prob``)."""
        _check_dist(dist, "dist")
        if dist_2 is None:
            cdf = np.asarray(dist.cdf(self.threshold), dtype=float)
            sf = np.asarray(dist.sf(self.threshold), dtype=float)
        else:
            _check_dist(dist_2, "dist_2")
            cdf = np.asarray(prob_difference(dist, dist_2, self.threshold), dtype=float)
            sf = 1.0 - cdf
        return np.where(self.lower_tail, cdf, sf)

    def margin(self, dist: Any, dist_2: Any = None) -> NDArray[np.float64]:
        """``log P − log prob`` per criterion; a criterion holds when its margin is > 0."""
        with np.errstate(divide="ignore"):
            return np.asarray(np.log(self.probabilities(dist, dist_2)) - np.log(self.prob))

    def __call__(self, dist: Any, dist_2: Any = None) -> int:
        """1 when every criterion holds for ``dist`` (or for ``dist − dist_2``), else 0."""
        return int(np.all(self.probabilities(dist, dist_2) > self.prob))

    def summary(self) -> pd.DataFrame:
        """One row per criterion."""
        return pd.DataFrame(
            {
                "event": ["θ <= threshold" if lt else "θ > threshold" for lt in self.lower_tail],
                "threshold": self.threshold,
                "prob": self.prob,
            },
            index=pd.RangeIndex(self.n_criteria, name="criterion"),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {
            "prob": self.prob.tolist(),
            "threshold": self.threshold.tolist(),
            "lower_tail": self.lower_tail.tolist(),
        }


def _check_dist(dist: Any, name: str) -> None:
    if not isinstance(dist, (BetaMixture, NormalMixture, GammaMixture)):
        raise TypeError(
            f"{name} must be a BetaMixture, NormalMixture or GammaMixture, got "
            f"{type(dist).__name__}"
        )
