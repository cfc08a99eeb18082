"""MultipleChangeResult: posterior of a multiple-change-point segmentation (see
:func:`multiple_changes`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rdstats._validation import real_number
from rdstats.nof1._segments import SegmentLength, SegmentModel

__all__ = ["MultipleChangeResult"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class MultipleChangeResult:
    """Exact posterior of the change points of one series (Fearnhead 2006).

    Attributes
    ----------
    times, y : ndarray
        Visit times and outcomes.
    family : str
    model : SegmentModel
        Segment model with the prior used.
    segment_length : SegmentLength
        Prior of segment lengths in visits.
    max_changes : int or None
    log_evidence : float
        Log marginal likelihood of the data under the model.
    n_changes_posterior, n_changes_prior : Series
        Posterior and prior probabilities of 0, 1, 2, ... changes.
    change_probability : Series
        Posterior probability that a new segment starts at each visit (a change between
        the previous visit and this one; 0 for the first visit).
    last_segment_start : Series
        Posterior probability that the current (last) segment starts at each visit.
    map_changes : ndarray
        Times of the first visit of each new segment in the most probable segmentation.
    segments : DataFrame
        Segments of the most probable segmentation: first and last visit time, visits,
        posterior mean of the level and its equal-tailed ``level`` credible interval
        (mean; rate per unit exposure for counts; mean score for ordinal outcomes).
    samples : ndarray of bool
        ``(n_samples, n)`` posterior draws of segmentations (True: a segment starts).
    """

    times: Array
    y: Array
    family: str
    model: SegmentModel
    segment_length: SegmentLength
    max_changes: int | None
    level: float
    log_evidence: float
    n_changes_posterior: pd.Series
    n_changes_prior: pd.Series
    change_probability: pd.Series
    last_segment_start: pd.Series
    map_changes: Array
    segments: pd.DataFrame
    samples: NDArray[np.bool_] = field(repr=False)
    provenance: dict[str, Any] = field(repr=False, compare=False)

    @property
    def expected_n_changes(self) -> float:
        """Posterior mean number of changes."""
        p = self.n_changes_posterior
        return float(np.dot(p.index.to_numpy(float), p.to_numpy()))

    def prob_change_after(self, time: float) -> float:
        """P(at least one change at a visit at or after ``time``) (e.g. treatment start):
        the last segment starts at such a visit (other than the first)."""
        t = real_number(time, "time")
        keep = (self.times >= t) & (np.arange(self.times.size) > 0)
        return float(self.last_segment_start.to_numpy()[keep].sum())

    def sample_change_times(self) -> list[Array]:
        """Change times (first visit of each new segment) of every posterior draw."""
        return [self.times[row] for row in self.samples]

    def summary(self) -> pd.DataFrame:
        """One row per segment of the most probable segmentation, with the posterior
        probability of a change at its first visit."""
        seg = self.segments.copy()
        seg.insert(
            0,
            "prob_change_at_start",
            [
                float(self.change_probability.iloc[i]) if i > 0 else np.nan
                for i in np.searchsorted(self.times, seg["start"].to_numpy(float))
            ],
        )
        return seg

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {
            "family": self.family,
            "model": self.model.to_dict(),
            "segment_length": {
                "mean": self.segment_length.mean,
                "shape": self.segment_length.shape,
            },
            "max_changes": self.max_changes,
            "level": self.level,
            "log_evidence": self.log_evidence,
            "n_changes_posterior": {str(k): float(v) for k, v in self.n_changes_posterior.items()},
            "expected_n_changes": self.expected_n_changes,
            "change_probability": {str(k): float(v) for k, v in self.change_probability.items()},
            "last_segment_start": {str(k): float(v) for k, v in self.last_segment_start.items()},
            "map_changes": [float(v) for v in self.map_changes],
            "segments": [
                {k: (float(v) if k != "n_visits" else int(v)) for k, v in row.items()}
                for row in self.segments.to_dict(orient="records")
            ],
            "provenance": dict(self.provenance),
        }

    def _repr_html_(self) -> str:
        p = self.n_changes_posterior
        k = int(np.argmax(p.to_numpy()))
        return (
            f"<p><b>Multiple change points</b> ({self.family}; most probable number of "
            f"changes {k}, posterior {p.iloc[k]:.3f}; expected {self.expected_n_changes:.2f})</p>"
            + self.summary().to_html(index=False, float_format="{:.4g}".format)
        )

    def plot(self, ax: Any = None) -> Any:
        """Two panels: the series with the most probable segmentation (levels and
        credible bands) and the posterior probability of a change before each visit."""
        from rdstats.plotting._nof1_segments import multiple_changes_plot

        return multiple_changes_plot(self, ax=ax)


# -- core function ------------------------------------------------------------------------
