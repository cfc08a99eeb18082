"""Result objects of the designs: decision boundaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Boundary"]


@dataclass(frozen=True, eq=False)
class Boundary:
    """Where the decision flips: success iff ``lower <= statistic <= upper``.

    For a two-arm design there is one interval of arm 1's statistic for every value of
    arm 2's statistic (``y2``); an empty interval (``lower > upper``) means the decision
    is never positive for that ``y2``.

    Attributes
    ----------
    table : pandas.DataFrame
        Columns ``y2`` (two-arm only), ``lower``, ``upper`` and ``critical``: RBesT's
        single critical value (success iff ``y1 > critical`` for upper-tail rules,
        ``y1 <= critical`` for lower-tail rules; NaN when the rule mixes directions).
    statistic : str
        Name of the sufficient statistic (``"y"``: responders or events, ``"mean"``).
    provenance : dict
        Versions, arguments and time stamp.
    """

    table: pd.DataFrame
    statistic: str
    endpoint: str
    provenance: dict[str, Any] = field(repr=False)

    def summary(self) -> pd.DataFrame:
        """The boundary as a table."""
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        tab = self.table.astype(float).replace({np.inf: "inf", -np.inf: "-inf"})
        return {
            "statistic": self.statistic,
            "endpoint": self.endpoint,
            "table": tab.where(tab.notna(), None).to_dict(orient="list"),
            "provenance": self.provenance,
        }

    def _repr_html_(self) -> str:
        return f"<p><b>Decision boundary</b> ({self.endpoint})</p>" + self.table.to_html()

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Plot the success region; returns the matplotlib ``Axes``."""
        from rdstats.plotting import plot_boundary

        return plot_boundary(self, ax=ax, **kwargs)


def critical_values(
    lower: np.ndarray, upper: np.ndarray, kind: str, top: float, continuous: bool = False
) -> np.ndarray:
    """RBesT-style critical values from success intervals."""
    if continuous:
        return (
            lower if kind == "upper" else upper if kind == "lower" else np.full(lower.shape, np.nan)
        )
    if kind == "upper":
        return np.where(lower > upper, top, lower - 1)
    if kind == "lower":
        return np.where(lower > upper, -1, upper)
    return np.full(lower.shape, np.nan)
