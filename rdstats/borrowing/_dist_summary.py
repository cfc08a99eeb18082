"""Summaries shared by the one-dimensional distributions of the borrowing results."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rdstats._validation import check_probability

__all__ = ["SummaryMixin"]


class SummaryMixin:
    """``interval`` and ``summary`` from ``ppf``, ``mean``, ``sd`` and ``name``."""

    name: str

    def ppf(self, q: Any) -> Any:  # pragma: no cover - provided by the distribution
        raise NotImplementedError

    def mean(self) -> float:  # pragma: no cover - provided by the distribution
        raise NotImplementedError

    def sd(self) -> float:  # pragma: no cover - provided by the distribution
        raise NotImplementedError

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Equal-tailed interval with coverage ``level``."""
        lvl = float(check_probability(level, "level", open_interval=True))
        lo, hi = np.asarray(self.ppf([(1 - lvl) / 2, (1 + lvl) / 2]))
        return float(lo), float(hi)

    def summary(self) -> pd.DataFrame:
        """Mean, sd and the 2.5 %, 50 % and 97.5 % quantiles as a one-row table."""
        q = np.asarray(self.ppf([0.025, 0.5, 0.975]))
        return pd.DataFrame(
            {
                "mean": [self.mean()],
                "sd": [self.sd()],
                "2.5%": [q[0]],
                "50%": [q[1]],
                "97.5%": [q[2]],
            },
            index=[self.name],
        )
