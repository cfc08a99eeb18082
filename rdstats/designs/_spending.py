"""Boundary families of group-sequential designs: classical boundary shapes and
Lan-DeMets error-spending functions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from rdstats._validation import real_number as _finite

__all__ = [
    "HaybittlePeto",
    "HwangShihDeCaniSpending",
    "KimDeMetsSpending",
    "OBrienFleming",
    "OBrienFlemingSpending",
    "Pocock",
    "PocockSpending",
    "UserSpending",
    "WangTsiatis",
]

Array = NDArray[np.float64]


# -- classical boundaries -------------------------------------------------------------------
@dataclass(frozen=True)
class WangTsiatis:
    """Wang-Tsiatis boundary shape ``c_k = C t_k^(delta - 1/2)``.

    The constant ``C`` is solved so that the design's total type I error is ``alpha``.
    ``delta = 0`` is O'Brien & Fleming's boundary, ``delta = 0.5`` Pocock's.

    Parameters
    ----------
    delta : float
        Shape parameter Δ in [-0.5, 1] (usually between 0 and 0.5).

    Notes
    -----
    Δ is restricted to [-0.5, 1], the range rpact accepts. On the score scale the
    boundary is ``C t^Δ``: Δ = 1 is a constant boundary on the estimate scale (the
    earliest looks already reject at the final look's estimate), and larger Δ would
    reject early on weaker evidence than at the end; Δ = -0.5 gives interim z bounds
    growing as ``1 / t``, beyond which the interim looks practically never stop
    (``WangTsiatis(5)`` would ask for z = 275 at the first of three looks).

    References
    ----------
    .. [1] Wang SK, Tsiatis AA. Approximately optimal one-parameter boundaries for group
       sequential trials. Biometrics 1987;43:193-199.

    Examples
    --------
    >>> WangTsiatis(0.25).shape([0.25, 1.0]).round(4)
    array([1.4142, 1.    ])
    """

    delta: float = 0.0

    def __post_init__(self) -> None:
        d = _finite(self.delta, "delta")
        if not -0.5 <= d <= 1.0:
            raise ValueError(
                f"delta must lie in [-0.5, 1] (Wang-Tsiatis shape), got {self.delta!r}"
            )
        object.__setattr__(self, "delta", d)

    def shape(self, t: ArrayLike) -> Array:
        """Boundary relative to its value at full information."""
        return np.asarray(t, dtype=float) ** (self.delta - 0.5)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {"type": type(self).__name__, "delta": self.delta}


@dataclass(frozen=True)
class OBrienFleming(WangTsiatis):
    """O'Brien-Fleming boundary ``c_k = C / sqrt(t_k)`` (Wang-Tsiatis Δ = 0).

    References
    ----------
    .. [1] O'Brien PC, Fleming TR. A multiple testing procedure for clinical trials.
       Biometrics 1979;35:549-556.

    Examples
    --------
    >>> OBrienFleming().shape([0.25, 1.0])
    array([2., 1.])
    """

    delta: float = 0.0

    def __post_init__(self) -> None:
        if self.delta != 0.0:
            raise ValueError(f"delta must be 0 for OBrienFleming, got {self.delta!r}")


@dataclass(frozen=True)
class Pocock(WangTsiatis):
    """Pocock boundary: the same critical value at every look (Wang-Tsiatis Δ = 0.5).

    References
    ----------
    .. [1] Pocock SJ. Group sequential methods in the design and analysis of clinical
       trials. Biometrika 1977;64:191-199.

    Examples
    --------
    >>> Pocock().shape([0.25, 1.0])
    array([1., 1.])
    """

    delta: float = 0.5

    def __post_init__(self) -> None:
        if self.delta != 0.5:
            raise ValueError(f"delta must be 0.5 for Pocock, got {self.delta!r}")


@dataclass(frozen=True)
class HaybittlePeto:
    """Haybittle-Peto boundary: ``z`` at every interim look, the final critical value
    solved so that the total type I error is ``alpha``.

    Parameters
    ----------
    z : float
        Interim critical value, positive and finite (default 3). The interim looks
        alone must spend less than the design's α (see
        :class:`~rdstats.designs.GroupSequentialDesign`).

    References
    ----------
    .. [1] Haybittle JL. Repeated assessment of results in clinical trials of cancer
       treatment. Br J Radiol 1971;44:793-797.
    .. [2] Peto R, Pike MC, Armitage P, et al. Design and analysis of randomized clinical
       trials requiring prolonged observation of each patient. I. Br J Cancer
       1976;34:585-612.

    Examples
    --------
    >>> HaybittlePeto(3.0)
    HaybittlePeto(z=3.0)
    """

    z: float = 3.0

    def __post_init__(self) -> None:
        z = _finite(self.z, "z")
        if z <= 0:
            raise ValueError(f"z must be a positive interim critical value, got {self.z!r}")
        object.__setattr__(self, "z", z)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {"type": "HaybittlePeto", "z": self.z}


# -- error-spending functions -----------------------------------------------------------------
class _Spending:
    """Base of the Lan-DeMets error-spending functions ``f(t; total)``, cumulative error
    spent at information fraction ``t`` (``f(0) = 0``, ``f(1) = total``)."""

    def cumulative(self, t: ArrayLike, total: float) -> Array:
        """Cumulative error spent by information fraction ``t``."""
        tt = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
        return np.asarray(self._f(tt, float(total)), dtype=float)

    def _f(self, t: Array, total: float) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        out: dict[str, Any] = {"type": type(self).__name__}
        out.update({k: v for k, v in vars(self).items() if not k.startswith("_")})
        return out


@dataclass(frozen=True)
class OBrienFlemingSpending(_Spending):
    """Lan-DeMets spending function of O'Brien-Fleming type,
    ``f(t) = 2 - 2 Phi(Phi^-1(1 - total/2) / sqrt(t))``.

    References
    ----------
    .. [1] Lan KKG, DeMets DL. Discrete sequential boundaries for clinical trials.
       Biometrika 1983;70:659-663.

    Examples
    --------
    >>> OBrienFlemingSpending().cumulative([0.5, 1.0], 0.025).round(6)
    array([0.001525, 0.025   ])
    """

    def _f(self, t: Array, total: float) -> Array:
        q = stats.norm.isf(total / 2)
        with np.errstate(divide="ignore"):
            return 2.0 * stats.norm.sf(q / np.sqrt(t))


@dataclass(frozen=True)
class PocockSpending(_Spending):
    """Lan-DeMets spending function of Pocock type, ``f(t) = total log(1 + (e - 1) t)``.

    References
    ----------
    .. [1] Lan KKG, DeMets DL. Discrete sequential boundaries for clinical trials.
       Biometrika 1983;70:659-663.

    Examples
    --------
    >>> PocockSpending().cumulative([0.5, 1.0], 0.025).round(6)
    array([0.015503, 0.025   ])
    """

    def _f(self, t: Array, total: float) -> Array:
        return total * np.log1p((np.e - 1.0) * t)


@dataclass(frozen=True)
class KimDeMetsSpending(_Spending):
    """Power-family spending function of Kim & DeMets, ``f(t) = total t^gamma``.

    Parameters
    ----------
    gamma : float
        Positive exponent (1: linear spending; about 3 resembles O'Brien-Fleming).

    References
    ----------
    .. [1] Kim K, DeMets DL. Design and analysis of group sequential tests based on the
       type I error spending rate function. Biometrika 1987;74:149-154.

    Examples
    --------
    >>> KimDeMetsSpending(2).cumulative([0.5, 1.0], 0.025)
    array([0.00625, 0.025  ])
    """

    gamma: float = 1.0

    def __post_init__(self) -> None:
        g = _finite(self.gamma, "gamma")
        if g <= 0:
            raise ValueError(f"gamma must be positive (Kim-DeMets exponent), got {self.gamma!r}")
        object.__setattr__(self, "gamma", g)

    def _f(self, t: Array, total: float) -> Array:
        return total * t**self.gamma


@dataclass(frozen=True)
class HwangShihDeCaniSpending(_Spending):
    """Spending family of Hwang, Shih & DeCani,
    ``f(t) = total (1 - exp(-gamma t)) / (1 - exp(-gamma))`` (linear for ``gamma = 0``).

    Parameters
    ----------
    gamma : float
        Finite shape in [-700, 700] (beyond, ``exp(-gamma)`` overflows); negative values
        spend late (-4 resembles O'Brien-Fleming), positive values early (1 resembles
        Pocock).

    References
    ----------
    .. [1] Hwang IK, Shih WJ, DeCani JS. Group sequential designs using a family of type I
       error probability spending functions. Stat Med 1990;9:1439-1445.

    Examples
    --------
    >>> HwangShihDeCaniSpending(-4).cumulative([0.5, 1.0], 0.025).round(6)
    array([0.00298, 0.025  ])
    """

    gamma: float = -4.0

    def __post_init__(self) -> None:
        g = _finite(self.gamma, "gamma")
        if abs(g) > 700:
            raise ValueError(f"gamma must lie in [-700, 700], got {self.gamma!r}")
        object.__setattr__(self, "gamma", g)

    def _f(self, t: Array, total: float) -> Array:
        if self.gamma == 0.0:
            return total * t
        return total * np.expm1(-self.gamma * t) / np.expm1(-self.gamma)


@dataclass(frozen=True)
class UserSpending(_Spending):
    """User-defined spending: the cumulative error (α, or β for futility) to be spent by
    each look; nondecreasing, the last value equal to the design's total error.

    Parameters
    ----------
    values : sequence of float
        Cumulative error at looks ``1..K``.

    Examples
    --------
    >>> UserSpending([0.0025, 0.01, 0.025]).at_looks(3, 0.025)
    array([0.0025, 0.01  , 0.025 ])
    """

    values: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.values, (str, bytes)) or not isinstance(
            self.values, (Sequence, np.ndarray)
        ):
            raise TypeError(f"values must be a sequence of numbers, got {self.values!r}")
        v = tuple(_finite(x, "values") for x in self.values)
        a = np.asarray(v)
        if a.size == 0 or np.any(a < 0) or np.any(a >= 1) or np.any(np.diff(a) < 0):
            raise ValueError(f"values must be nondecreasing in [0, 1), got {list(v)}")
        object.__setattr__(self, "values", v)

    def at_looks(self, k_max: int, total: float) -> Array:
        """Cumulative error at the ``k_max`` looks (checked against ``total``)."""
        if len(self.values) != k_max:
            raise ValueError(
                f"UserSpending has {len(self.values)} values, but the design has kmax={k_max} looks"
            )
        if abs(self.values[-1] - total) > 1e-10:
            raise ValueError(
                f"UserSpending values must end at the total error {total}, got {self.values[-1]}"
            )
        return np.asarray(self.values)

    def cumulative(self, t: ArrayLike, total: float) -> Array:
        """Cumulative error at the looks (``t`` gives only the number of looks)."""
        return self.at_looks(np.asarray(t).size, total)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {"type": "UserSpending", "values": list(self.values)}


Spending = _Spending
Classical = WangTsiatis | HaybittlePeto

_ALIASES: dict[str, Any] = {
    "OF": OBrienFleming,
    "P": Pocock,
    "HP": HaybittlePeto,
    "asOF": OBrienFlemingSpending,
    "asP": PocockSpending,
}


def as_boundary(value: Any, name: str, *, classical: bool = True) -> Any:
    """A spending function or classical boundary from an object or an alias string."""
    if isinstance(value, str):
        if value not in _ALIASES:
            raise ValueError(
                f"{name} must be one of {sorted(_ALIASES)} or an object, got {value!r}"
            )
        value = _ALIASES[value]()
    allowed: tuple[type, ...] = (
        (_Spending, WangTsiatis, HaybittlePeto) if classical else (_Spending,)
    )
    if not isinstance(value, allowed):
        what = "a spending function or classical boundary" if classical else "a spending function"
        raise TypeError(f"{name} must be {what}, got {type(value).__name__}")
    return value
