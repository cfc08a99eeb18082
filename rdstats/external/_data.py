"""Validation and encoding of the data of an external-control analysis: a DataFrame with
one row per patient, a binary treatment (trial) indicator and covariates.

Categorical covariates (object, category or bool columns other than 0/1) are expanded
into indicator columns named ``"{column}_{level}"``: all levels for balance tables (as
cobalt reports them), all but the first level for model matrices (R's treatment
contrasts, so that fitted coefficients agree with ``glm``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = [
    "check_frame",
    "check_weights",
    "covariate_matrix",
    "is_binary",
    "treatment_indicator",
]


def check_frame(data: Any, name: str = "data") -> pd.DataFrame:
    """The data as a DataFrame (a clear error for anything else or an empty frame)."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError(f"{name} has no rows")
    return data


def _columns(data: pd.DataFrame, columns: Any, name: str) -> list[str]:
    cols = [columns] if isinstance(columns, str) else list(columns)
    if not cols:
        raise ValueError(f"{name} must name at least one column")
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise ValueError(f"{name} {missing} not in the data; its columns are {list(data.columns)}")
    return cols


def treatment_indicator(data: pd.DataFrame, treatment: str) -> NDArray[np.int64]:
    """The treatment column as 0/1 (1 = trial / treated), checked to be binary with both
    groups present."""
    _columns(data, treatment, "treatment")
    col = data[treatment]
    if col.isna().any():
        rows = list(data.index[col.isna()][:5])
        raise ValueError(
            f"treatment column {treatment!r} has {int(col.isna().sum())} missing values "
            f"(rows {rows}{' ...' if col.isna().sum() > 5 else ''})"
        )
    values = set(pd.unique(col))
    if not values <= {0, 1}:  # (True == 1 and False == 0)
        raise ValueError(
            f"treatment column {treatment!r} must be binary (0/1 or False/True), got values "
            f"{sorted(map(str, values))[:10]}"
        )
    t = np.asarray(col.astype(int).to_numpy(), dtype=np.int64)
    if t.min() == t.max():
        raise ValueError(f"treatment column {treatment!r} has only one group ({t[0]})")
    return t


def is_binary(col: pd.Series) -> bool:
    """Whether a numeric column takes only the values 0 and 1."""
    vals = pd.unique(col.dropna())
    return len(vals) <= 2 and set(np.asarray(vals, dtype=float).tolist()) <= {0.0, 1.0}


def covariate_matrix(
    data: pd.DataFrame, covariates: Sequence[str] | str, *, drop_first: bool = True
) -> pd.DataFrame:
    """Numeric covariate matrix: numeric columns as they are, categorical columns as
    indicators (``drop_first``: omit the first level, for model matrices). Missing values
    are an error that says how many and where."""
    cols = _columns(data, covariates, "covariates")
    sub = data[cols]
    na = sub.isna().sum()
    if na.any():
        where = {c: int(k) for c, k in na.items() if k}
        first = sub.index[sub.isna().any(axis=1)][:5].tolist()
        raise ValueError(
            f"covariates have missing values: {where} (first rows {first}); impute or drop "
            "them before the analysis"
        )
    parts = []
    for c in cols:
        col = sub[c]
        if pd.api.types.is_bool_dtype(col):
            parts.append(col.astype(float).rename(c))
        elif pd.api.types.is_numeric_dtype(col):
            if not np.all(np.isfinite(col.to_numpy(dtype=float))):
                raise ValueError(f"covariate {c!r} has non-finite values")
            parts.append(col.astype(float))
        else:
            levels = sorted(pd.unique(col).tolist(), key=str)
            if len(levels) < 2:
                raise ValueError(f"categorical covariate {c!r} has a single level {levels}")
            keep = levels[1:] if drop_first else levels
            for lev in keep:
                parts.append((col == lev).astype(float).rename(f"{c}_{lev}"))
    return pd.concat(parts, axis=1)


def check_weights(weights: Any, n: int, name: str = "weights") -> NDArray[np.float64]:
    """Weights as a float array of length ``n``: finite and non-negative (the positions
    of offending values are named)."""
    try:
        w = np.asarray(weights, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numeric, got {type(weights).__name__}") from exc
    if w.shape != (n,):
        raise ValueError(f"{name} must have one value per row ({n}), got shape {w.shape}")
    bad = ~np.isfinite(w)
    if bad.any():
        raise ValueError(
            f"{name} have {int(bad.sum())} non-finite values (positions "
            f"{np.flatnonzero(bad)[:5].tolist()}); weights must be finite"
        )
    if (w < 0).any():
        raise ValueError(
            f"{name} must be non-negative (>= 0); {int((w < 0).sum())} are negative "
            f"(positions {np.flatnonzero(w < 0)[:5].tolist()})"
        )
    return w
