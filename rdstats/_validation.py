"""Input validation shared by all subpackages.

Every check raises ``ValueError`` or ``TypeError`` whose message names the argument,
the offending value and what was expected, so that the mistake is reported at the call
that made it.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "as_float_array",
    "as_int_array",
    "check_positive",
    "check_probability",
    "readonly",
    "real_number",
]


def _show(value: Any) -> str:
    arr = np.asarray(value) if not isinstance(value, str) else value
    if isinstance(arr, np.ndarray) and arr.size > 8:
        return f"array of shape {arr.shape}"
    if isinstance(arr, np.ndarray):
        return repr(arr.tolist())
    return repr(value)


def readonly(arr: NDArray[Any]) -> NDArray[Any]:
    """Return ``arr`` marked read-only (in place) for storage inside frozen objects."""
    arr.flags.writeable = False
    return arr


def as_float_array(value: ArrayLike, name: str, *, allow_inf: bool = False) -> NDArray[np.float64]:
    """Convert ``value`` to a float array, rejecting NaN (and infinities unless allowed)."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be numeric, got {value!r}")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numeric, got {_show(value)}") from exc
    if np.isnan(arr).any():
        raise ValueError(f"{name} must not contain NaN, got {_show(value)}")
    if not allow_inf and np.isinf(arr).any():
        raise ValueError(f"{name} must be finite, got {_show(value)}")
    return arr


def as_int_array(value: ArrayLike, name: str, *, minimum: int | None = 0) -> NDArray[np.int64]:
    """Convert ``value`` to an integer array; non-integral values are an error (no rounding)."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be an integer count, got {value!r}")
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        arr = np.asarray(value, dtype=np.int64)
    else:
        raw = np.asarray(value)
        if raw.dtype == bool:
            raise TypeError(f"{name} must be an integer count, got booleans {_show(value)}")
        if raw.dtype.kind in "iu":
            arr = raw.astype(np.int64)
        else:
            flt = as_float_array(value, name)
            if not np.all(flt == np.round(flt)):
                raise ValueError(f"{name} must be integer-valued counts, got {_show(value)}")
            arr = flt.astype(np.int64)
    if minimum is not None and (arr < minimum).any():
        raise ValueError(f"{name} must be >= {minimum}, got {_show(value)}")
    return arr


def check_positive(value: ArrayLike, name: str) -> NDArray[np.float64]:
    """Float array whose entries are all finite and strictly positive."""
    arr = as_float_array(value, name)
    if (arr <= 0).any():
        raise ValueError(f"{name} must be strictly positive, got {_show(value)}")
    return arr


def check_probability(
    value: ArrayLike, name: str, *, open_interval: bool = False
) -> NDArray[np.float64]:
    """Float array of probabilities in [0, 1] (or (0, 1) with ``open_interval``)."""
    arr = as_float_array(value, name)
    if open_interval:
        bad = (arr <= 0) | (arr >= 1)
        expected = "strictly between 0 and 1"
    else:
        bad = (arr < 0) | (arr > 1)
        expected = "between 0 and 1"
    if bad.any():
        raise ValueError(f"{name} must be probabilities {expected}, got {_show(value)}")
    return arr


def real_number(value: Any, name: str) -> float:
    """A finite real number: not a bool, a string or NaN/inf."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v
