"""Data of the commensurate prior: validated historical and current data (pooled
binomial counts or a precision-weighted normal mean) and the initial prior of theta0."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rdstats._validation import as_float_array, as_int_array, check_positive
from rdstats.priors import NormalMixture
from rdstats.priors._beta import check_counts

Array = NDArray[np.float64]


# -- data ----------------------------------------------------------------------------------
Family = Literal["binomial", "normal"]


@dataclass(frozen=True)
class _Obs:
    """One (pooled) data set: binomial (y, n) or normal (mean, se); ``n`` in ESS units."""

    y: float
    se: float
    n: float
    raw: dict[str, Any]


def _get(data: Any, name: str, key: str) -> Any:
    if key not in data:
        raise ValueError(f"{name} needs {key!r}")
    return data[key]


def _obs(data: Any, name: str, family: str, sigma: float | None, scalar: bool) -> _Obs:
    if not (isinstance(data, Mapping) or isinstance(data, pd.DataFrame)):
        raise TypeError(f"{name} must be a mapping (dict or DataFrame), got {type(data).__name__}")
    allowed = {"r", "n"} if family == "binomial" else {"mean", "n", "se"}
    extra = set(data.keys()) - allowed
    if extra:
        raise ValueError(f"{name} has unknown entries {sorted(extra)} for family={family!r}")

    def arr(v: Any) -> Any:
        a = np.asarray(v)
        if (scalar and a.ndim) or a.ndim > 1:
            raise TypeError(
                f"{name} must hold {'scalars' if scalar else 'scalars or 1-D arrays'}, got {v!r}"
            )
        return np.atleast_1d(a)

    if family == "binomial":
        r, n = check_counts(arr(_get(data, name, "r")), arr(_get(data, name, "n")))
        r, n = np.broadcast_arrays(r, n)
        if (n < 1).any():
            raise ValueError(f"{name}: n must be >= 1, got {n.tolist()}")
        return _Obs(float(r.sum()), math.nan, float(n.sum()), {"r": r.tolist(), "n": n.tolist()})
    assert sigma is not None
    mean = as_float_array(arr(_get(data, name, "mean")), f"{name} mean")
    if ("se" in data) == ("n" in data):
        raise ValueError(f"{name} needs exactly one of 'se' or 'n' together with 'mean'")
    if "se" in data:
        se = check_positive(arr(data["se"]), f"{name} se")
    else:
        se = sigma / np.sqrt(as_int_array(arr(data["n"]), f"{name} n", minimum=1).astype(float))
    mean, se = np.broadcast_arrays(mean, se)
    prec = np.sum(1 / se**2)
    return _Obs(
        float(np.sum(mean / se**2) / prec),
        float(prec**-0.5),
        float(sigma**2 * prec),
        {"mean": mean.tolist(), "se": se.tolist()},
    )


def _initial(initial: Any, family: str) -> tuple[Array, Array, Array] | None:
    """Prior of theta0 as mixture arrays (weights, means, sds), or None for flat."""
    if initial is None:
        return None
    if isinstance(initial, NormalMixture):
        m, v = initial._component_moments()
        out = (initial.weights, np.asarray(m), np.sqrt(v))
    elif isinstance(initial, tuple) and len(initial) == 2:
        mean = float(as_float_array(initial[0], "initial mean"))
        sd = float(check_positive(initial[1], "initial sd"))
        out = (np.ones(1), np.array([mean]), np.array([sd]))
    else:
        raise TypeError(
            f"initial must be None (flat), a pair (mean, sd) or a NormalMixture, got {initial!r}"
        )
    if family == "binomial" and out[0].size > 1:
        raise ValueError(
            "the binomial commensurate prior takes a single normal initial prior for the "
            f"historical logit, got a mixture of {out[0].size} components"
        )
    return out
