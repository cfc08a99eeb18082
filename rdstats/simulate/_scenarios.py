"""Scenario grids: the true parameter values at which a design is simulated."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Scenario", "ScenarioGrid"]


class Scenario(dict[str, float]):
    """One scenario: a mapping of parameter names to true values (plus label and null)."""

    label: str
    null: bool | None

    def __init__(self, values: Mapping[str, float], label: str, null: bool | None) -> None:
        super().__init__(values)
        self.label = label
        self.null = null

    def __reduce__(self) -> Any:
        return (Scenario, (dict(self), self.label, self.null))

    def key(self) -> tuple[int, ...]:
        """Stream key: four 32-bit words hashed from the parameter values alone.

        Keyed by content rather than position, so adding or reordering scenarios leaves
        every other scenario's random numbers unchanged and two designs simulated on the
        same scenario share them (common random numbers).
        """
        text = ";".join(f"{k}={float(v).hex()}" for k, v in sorted(self.items()))
        digest = hashlib.sha256(text.encode()).digest()
        return tuple(int.from_bytes(digest[4 * i : 4 * i + 4], "little") for i in range(4))


def _label(values: Mapping[str, float]) -> str:
    return ", ".join(
        f"{k}={np.format_float_positional(float(v), trim='-')}" for k, v in values.items()
    )


class ScenarioGrid:
    """Scenarios (true parameter values) at which operating characteristics are computed.

    Parameters
    ----------
    table : pandas.DataFrame or mapping of column name to values
        One row per scenario, one column per design parameter (e.g. ``theta`` for a
        one-arm design, ``theta_1`` and ``theta_2`` for a two-arm design). Optional
        columns ``label`` (str) and ``null`` (bool: the scenario is one in which a
        positive decision is an error, so its success probability is a type I error).

    Notes
    -----
    Use :meth:`cartesian` for full factorial grids and the constructor (or
    :meth:`from_records`) for explicit tables. Rows must be distinct: each scenario's
    random-number stream is derived from its parameter values.

    Examples
    --------
    >>> from rdstats.simulate import ScenarioGrid
    >>> grid = ScenarioGrid.cartesian(theta_1=[0.2, 0.4], theta_2=[0.2])
    >>> len(grid), grid.labels
    (2, ['theta_1=0.2, theta_2=0.2', 'theta_1=0.4, theta_2=0.2'])
    >>> grid.with_null(lambda s: s["theta_1"] <= s["theta_2"]).table["null"].tolist()
    [True, False]
    """

    __slots__ = ("_table",)
    _table: pd.DataFrame

    def __init__(self, table: pd.DataFrame | Mapping[str, Sequence[Any]]) -> None:
        if isinstance(table, pd.DataFrame):
            df = table.reset_index(drop=True).copy()
        elif isinstance(table, Mapping):
            try:
                df = pd.DataFrame({k: list(np.atleast_1d(v)) for k, v in table.items()})
            except ValueError as err:
                raise ValueError(f"table columns must have equal lengths: {err}") from None
        else:
            raise TypeError(
                f"table must be a DataFrame or a mapping of columns, got {type(table).__name__}"
            )
        object.__setattr__(self, "_table", _validated(df))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"ScenarioGrid is immutable; cannot set {name!r}")

    def __reduce__(self) -> Any:
        return (ScenarioGrid, (self.table,))

    # -- constructors ----------------------------------------------------------------
    @classmethod
    def cartesian(cls, **parameters: Any) -> ScenarioGrid:
        """Full factorial grid: every combination of the values given per parameter."""
        if not parameters:
            raise ValueError("cartesian() needs at least one parameter, e.g. theta=[0.2, 0.3]")
        values = {k: list(np.atleast_1d(np.asarray(v, dtype=float))) for k, v in parameters.items()}
        for k, v in values.items():
            if not v:
                raise ValueError(f"parameter {k!r} has no values")
        rows = list(itertools.product(*values.values()))
        return cls(pd.DataFrame(rows, columns=list(values)))

    @classmethod
    def from_records(cls, records: Sequence[Mapping[str, Any]]) -> ScenarioGrid:
        """Explicit table from a list of dicts (one per scenario)."""
        return cls(pd.DataFrame(list(records)))

    def with_null(self, null: Any) -> ScenarioGrid:
        """Copy with the ``null`` column set from a bool sequence or a function of a row."""
        df = self.table
        if callable(null):
            df["null"] = [bool(null(s)) for s in self]
        else:
            flags = np.asarray(null)
            if flags.shape != (len(df),) or flags.dtype != bool:
                raise ValueError(f"null must be {len(df)} booleans or a function, got {null!r}")
            df["null"] = flags
        return ScenarioGrid(df)

    def with_labels(self, labels: Sequence[str]) -> ScenarioGrid:
        """Copy with explicit scenario labels."""
        df = self.table
        df["label"] = list(labels)
        return ScenarioGrid(df)

    def __add__(self, other: ScenarioGrid) -> ScenarioGrid:
        if not isinstance(other, ScenarioGrid):
            return NotImplemented
        return ScenarioGrid(pd.concat([self._table, other._table], ignore_index=True))

    # -- access ---------------------------------------------------------------------
    @property
    def table(self) -> pd.DataFrame:
        """Copy of the scenario table (parameters, ``label``, ``null`` if set)."""
        return self._table.copy()

    @property
    def parameters(self) -> list[str]:
        """Names of the parameter columns."""
        return [c for c in self._table.columns if c not in ("label", "null")]

    @property
    def labels(self) -> list[str]:
        return [str(v) for v in self._table["label"]]

    def __len__(self) -> int:
        return len(self._table)

    def __getitem__(self, i: int) -> Scenario:
        row = self._table.iloc[i]
        null = row["null"] if "null" in self._table else None
        return Scenario(
            {k: float(row[k]) for k in self.parameters},
            str(row["label"]),
            None if null is None or pd.isna(null) else bool(null),
        )

    def __iter__(self) -> Iterator[Scenario]:
        return (self[i] for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScenarioGrid) and self._table.equals(other._table)

    def __hash__(self) -> int:
        return hash(tuple(s.key() for s in self))

    def __repr__(self) -> str:
        return f"ScenarioGrid({len(self)} scenarios: {', '.join(self.parameters)})"

    def _repr_html_(self) -> str:
        return self._table.to_html(index=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON/TOML-safe description (explicit table of records)."""
        out: dict[str, Any] = {k: [float(v) for v in self._table[k]] for k in self.parameters}
        out["label"] = self.labels
        if "null" in self._table:
            out["null"] = [bool(v) for v in self._table["null"]]
        return {"table": out}

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> ScenarioGrid:
        """Inverse of :meth:`to_dict`; also accepts ``{"grid": {param: values}}``."""
        keys = set(spec)
        if keys == {"table"}:
            return cls(dict(spec["table"]))
        if keys == {"grid"}:
            return cls.cartesian(**dict(spec["grid"]))
        raise ValueError(
            f"scenarios must have exactly one of the keys 'grid' or 'table', got {sorted(keys)}"
        )


def _validated(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty:
        raise ValueError("a scenario grid needs at least one scenario")
    params = [c for c in df.columns if c not in ("label", "null")]
    if not params:
        raise ValueError("a scenario grid needs at least one parameter column")
    for c in params:
        if not isinstance(c, str) or not c.isidentifier():
            raise ValueError(f"parameter names must be identifiers, got {c!r}")
        col = df[c]
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            raise ValueError(f"parameter {c!r} must be numeric, got {col.tolist()}")
        vals = col.astype(float)
        if not np.isfinite(vals).all():
            raise ValueError(f"parameter {c!r} must be finite, got {df[c].tolist()}")
        df[c] = vals
    if "null" in df:
        if not all(isinstance(v, (bool, np.bool_)) for v in df["null"]):
            raise ValueError(f"column 'null' must hold booleans, got {df['null'].tolist()}")
        df["null"] = df["null"].astype(bool)
    if "label" not in df:
        df["label"] = [_label({c: df[c].iloc[i] for c in params}) for i in range(len(df))]
    df["label"] = df["label"].astype(str)
    if df["label"].duplicated().any():
        dup = df["label"][df["label"].duplicated()].tolist()
        raise ValueError(f"scenario labels must be unique, duplicated: {dup}")
    repeated = df[params].duplicated(keep=False)
    if repeated.any():
        rows = df.loc[repeated, params].to_dict(orient="records")
        raise ValueError(
            f"scenarios must be distinct: rows {df.index[repeated].tolist()} repeat {rows}"
        )
    order = [*params, "label"] + (["null"] if "null" in df else [])
    return df[order]
