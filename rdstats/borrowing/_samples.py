"""Distribution of a scalar parameter represented by (MCMC) draws."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rdstats._validation import as_float_array, check_probability
from rdstats.borrowing._dist_summary import SummaryMixin

__all__ = ["SampleDistribution"]

Array = NDArray[np.float64]


# -- distributions from draws --------------------------------------------------------------
class SampleDistribution(SummaryMixin):
    """Distribution represented by (MCMC) draws: moments, empirical quantiles and tails.

    Examples
    --------
    >>> import numpy as np
    >>> from rdstats.borrowing._samples import SampleDistribution
    >>> d = SampleDistribution(np.arange(1.0, 101.0), "x")
    >>> d.mean(), float(d.sf(90))
    (50.5, 0.1)
    """

    def __init__(self, draws: ArrayLike, name: str = "x") -> None:
        d = np.asarray(draws, dtype=float).ravel()
        d.flags.writeable = False
        self.draws, self.name = d, name

    def mean(self) -> float:
        """Mean of the draws."""
        return float(np.mean(self.draws))

    def var(self) -> float:
        """Variance of the draws."""
        return float(np.var(self.draws, ddof=1)) if self.draws.size > 1 else 0.0

    def sd(self) -> float:
        """Standard deviation of the draws."""
        return math.sqrt(self.var())

    def cdf(self, x: ArrayLike) -> Array | float:
        """Empirical P(X <= x)."""
        xa = as_float_array(x, "x", allow_inf=True)
        out = np.mean(self.draws <= xa[..., None], axis=-1)
        return float(out) if out.ndim == 0 else np.asarray(out)

    def sf(self, x: ArrayLike) -> Array | float:
        """Empirical P(X > x)."""
        out = 1.0 - np.asarray(self.cdf(x))
        return float(out) if out.ndim == 0 else np.asarray(out)

    def ppf(self, q: ArrayLike) -> Array | float:
        """Empirical quantiles."""
        out = np.quantile(self.draws, check_probability(q, "q"))
        return float(out) if np.ndim(out) == 0 else np.asarray(out)

    def to_dict(self) -> dict[str, Any]:
        """Summary (JSON-safe); the draws stay in ``idata``."""
        row = self.summary().iloc[0]
        out: dict[str, Any] = {"class": "SampleDistribution", "name": self.name}
        out.update({str(k): float(v) for k, v in row.items()})
        return out

    def __repr__(self) -> str:
        return f"SampleDistribution({self.name!r}, {self.draws.size} draws, mean={self.mean():.6g})"
