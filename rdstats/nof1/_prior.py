"""Prior of the change time: which visit is the first after the change.

Candidates are visits ``1 .. n-1`` (the first visit cannot follow a change). A change
"at" candidate ``j`` happened between visits ``j-1`` and ``j``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

__all__ = ["change_time_prior"]

_NAMES = ("anchored", "uniform")


def change_time_prior(
    times: Array,
    change_prior: Any,
    treatment_start: float | None,
    max_lag: float | None,
    off_window: float,
) -> tuple[Array, str]:
    """Prior probabilities of the candidates (length n, 0 at index 0), summing to one,
    and a label of the prior.

    ``"anchored"``: mass ``1 - off_window`` spread evenly over the candidates with
    ``treatment_start <= t_j <= treatment_start + max_lag`` and ``off_window`` evenly
    over the others (natural fluctuation or a change before treatment). ``"uniform"``:
    all candidates equally likely. An array of ``n - 1`` non-negative weights gives the
    candidates' prior directly.
    """
    n = times.size
    prior = np.zeros(n)
    if isinstance(change_prior, str):
        if change_prior not in _NAMES:
            raise ValueError(
                f"change_prior must be one of {_NAMES} or an array of {n - 1} weights for "
                f"the candidate change visits, got {change_prior!r}"
            )
        if change_prior == "uniform":
            prior[1:] = 1.0 / (n - 1)
            return prior, "uniform"
        if treatment_start is None:
            raise ValueError("change_prior='anchored' needs treatment_start")
        hi = np.inf if max_lag is None else treatment_start + max_lag
        inside = (times >= treatment_start) & (times <= hi)
        inside[0] = False
        if not inside.any():
            raise ValueError(
                f"no visit lies in the anchoring window [{treatment_start:g}, {hi:g}]; "
                "increase max_lag"
            )
        outside = ~inside
        outside[0] = False
        if outside.any():
            prior[inside] = (1.0 - off_window) / inside.sum()
            prior[outside] = off_window / outside.sum()
        else:
            prior[inside] = 1.0 / inside.sum()
        lag = "" if max_lag is None else f", max_lag {max_lag:g}"
        return prior, f"anchored at {treatment_start:g}{lag} ({off_window:g} outside)"
    try:
        w = np.asarray(change_prior, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"change_prior must be 'anchored', 'uniform' or an array of weights, got "
            f"{type(change_prior).__name__}"
        ) from exc
    if w.shape != (n - 1,):
        raise ValueError(
            f"change_prior weights must have one value per candidate change visit "
            f"(visits 2..{n}: {n - 1} values), got shape {w.shape}"
        )
    if not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise ValueError("change_prior weights must be finite, non-negative and not all zero")
    prior[1:] = w / w.sum()
    return prior, "user weights"
