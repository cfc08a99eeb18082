"""Data of the power priors: validated historical and current data as sufficient
statistics per unit of a0, for beta, normal and gamma initial priors."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special

from rdstats._validation import as_float_array, as_int_array, check_positive
from rdstats.priors import BetaMixture, GammaMixture, Mixture, NormalMixture
from rdstats.priors._beta import check_counts

Array = NDArray[np.float64]
_LOG_2PI = math.log(2 * math.pi)


# -- data ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Data:
    """Sufficient statistics of one or more studies, per unit of a0.

    ``s1``/``s2`` are what each study adds to the component parameters at a0 = 1 (beta:
    responders and non-responders; gamma: shape and rate increments; normal: precision
    ``1/se^2`` and precision-weighted mean ``mean/se^2``). ``n`` is each study's size in
    ESS units and ``const`` the part of the log likelihood free of the parameter.
    """

    s1: Array
    s2: Array
    n: Array
    raw: dict[str, list[float]]
    const: float = 0.0


def _fetch(data: Any, key: str, aliases: tuple[str, ...] = ()) -> Any:
    for k in (key, *aliases):
        if k in data:
            return data[k]
    return None


def _parse(initial: Mixture, data: Any, name: str, *, scalar: bool = False) -> _Data:
    """Validate the data of ``name`` (historical or current) for ``initial``'s family."""
    if not isinstance(initial, (BetaMixture, NormalMixture, GammaMixture)):
        raise TypeError(
            "initial must be a BetaMixture, NormalMixture or GammaMixture, "
            f"got {type(initial).__name__}"
        )
    if not (isinstance(data, Mapping) or isinstance(data, pd.DataFrame)):
        raise TypeError(
            f"{name} must be a mapping (dict or DataFrame) of the data, e.g. "
            f"{_example(initial)}; got {type(data).__name__}"
        )
    keys = set(data.keys())
    allowed = _allowed_keys(initial)
    extra = keys - allowed
    if extra:
        raise ValueError(
            f"{name} has unknown entries {sorted(extra)}; expected e.g. {_example(initial)}"
        )

    def arr(value: Any) -> Any:
        a = np.asarray(value)
        if scalar and a.ndim:
            raise TypeError(f"{name} must hold scalars (one current study), got {value!r}")
        if a.ndim > 1:
            raise ValueError(f"{name} entries must be scalars or 1-D, got shape {a.shape}")
        return np.atleast_1d(a)

    if isinstance(initial, BetaMixture):
        r_raw, n_raw = _fetch(data, "r"), _fetch(data, "n")
        if r_raw is None or n_raw is None:
            raise ValueError(f"{name} needs 'r' and 'n' (responders out of patients)")
        r, n = check_counts(arr(r_raw), arr(n_raw))
        r, n = np.broadcast_arrays(r, n)
        if (n < 1).any():
            raise ValueError(f"{name}: n must be >= 1, got {np.asarray(n_raw).tolist()}")
        const = float(
            np.sum(special.gammaln(n + 1) - special.gammaln(r + 1) - special.gammaln(n - r + 1))
        )
        return _Data(
            r.astype(float),
            (n - r).astype(float),
            n.astype(float),
            {"r": r.tolist(), "n": n.tolist()},
            const,
        )
    if isinstance(initial, NormalMixture):
        if initial.sigma is None:
            raise ValueError(
                "a normal initial prior needs the sampling standard deviation: construct the "
                "NormalMixture with sigma= (it also defines the ESS in patients)"
            )
        m_raw = _fetch(data, "mean")
        se_raw, n_raw = _fetch(data, "se"), _fetch(data, "n")
        if m_raw is None or (se_raw is None) == (n_raw is None):
            raise ValueError(f"{name} needs 'mean' and exactly one of 'se' or 'n'")
        mean = as_float_array(arr(m_raw), f"{name} mean")
        if se_raw is not None:
            se = check_positive(arr(se_raw), f"{name} se")
            size = (initial.sigma / se) ** 2
        else:
            size = as_int_array(arr(n_raw), f"{name} n", minimum=1).astype(float)
            se = initial.sigma / np.sqrt(size)
        mean, se, size = np.broadcast_arrays(mean, se, size)
        raw = {"mean": mean.tolist(), "se": se.tolist()}
        const = -0.5 * _LOG_2PI * se.size
        return _Data(1 / se**2, mean / se**2, size.astype(float), raw, const)
    # gamma
    total_raw = _fetch(data, "total", ("events",) if initial.likelihood == "poisson" else ("time",))
    n_raw = _fetch(data, "n", ("exposure",) if initial.likelihood == "poisson" else ("events",))
    if initial.likelihood == "exp" and "events" in keys and "n" not in keys:
        n_raw = data["events"]
    if total_raw is None or n_raw is None:
        raise ValueError(f"{name} needs 'total' and 'n' ({_example(initial)})")
    if initial.likelihood == "poisson":
        t = as_int_array(arr(total_raw), f"{name} total").astype(float)
        e = check_positive(arr(n_raw), f"{name} n")
        t, e = np.broadcast_arrays(t, e)
        const = float(np.sum(t * np.log(e) - special.gammaln(t + 1)))
        return _Data(t, e, e, {"total": t.tolist(), "n": e.tolist()}, const)
    tt = check_positive(arr(total_raw), f"{name} total")
    d = as_int_array(arr(n_raw), f"{name} n", minimum=1).astype(float)
    tt, d = np.broadcast_arrays(tt, d)
    const = float(np.sum((d - 1) * np.log(tt) - special.gammaln(d)))
    return _Data(d, tt, d, {"total": tt.tolist(), "n": d.tolist()}, const)


def _allowed_keys(initial: Mixture) -> set[str]:
    if isinstance(initial, BetaMixture):
        return {"r", "n"}
    if isinstance(initial, NormalMixture):
        return {"mean", "se", "n"}
    if getattr(initial, "likelihood", "") == "poisson":
        return {"total", "n", "events", "exposure"}
    return {"total", "n", "time", "events"}


def _example(initial: Mixture) -> str:
    if isinstance(initial, BetaMixture):
        return "{'r': [12, 9], 'n': [40, 35]}"
    if isinstance(initial, NormalMixture):
        return "{'mean': [-0.5], 'n': [30]} or {'mean': [-0.5], 'se': [0.2]}"
    if getattr(initial, "likelihood", "") == "poisson":
        return "{'total': [14], 'n': [20.5]} (events, exposure)"
    return "{'total': [52.3], 'n': [9]} (total time, events)"


def _check_a0(a0: ArrayLike, h: int) -> Array:
    a = as_float_array(a0, "a0")
    if a.ndim > 1 or (a.ndim == 1 and a.size not in (1, h)):
        raise ValueError(f"a0 must be a scalar or one value per historical study ({h}), got {a0!r}")
    if ((a < 0) | (a > 1)).any():
        raise ValueError(f"a0 must be in [0, 1], got {a.tolist()}")
    return np.broadcast_to(a, (h,)).astype(float)
