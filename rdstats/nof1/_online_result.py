"""OnlineResult: the trajectory of an online (Adams-MacKay) detector over a series."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rdstats.nof1._segments import SegmentLength, SegmentModel

if TYPE_CHECKING:
    from rdstats.nof1._online import OnlineDetector, OnlineState

__all__ = ["OnlineResult"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class OnlineResult:
    """Trajectory of an online detector over a whole series.

    Attributes
    ----------
    trajectory : DataFrame
        One row per visit: time, y, P(change since treatment start), most probable run
        length and the time its segment began, one-step-ahead log predictive density
        and predictive P(Y <= y), alarm flag.
    run_length_posterior : ndarray
        ``(n, n)``: row ``t`` is P(run length = r + 1 | y_1..y_t) in column ``r``.
    log_evidence : float
        Log marginal likelihood of the series.
    final_state : OnlineState
        State after the last visit (continue monitoring with ``final_state.update``).
    """

    detector: OnlineDetector
    model: SegmentModel
    treatment_start: float | None
    trajectory: pd.DataFrame
    run_length_posterior: Array = field(repr=False)
    log_evidence: float
    final_state: OnlineState = field(repr=False)
    provenance: dict[str, Any] = field(repr=False, compare=False)

    @property
    def first_alarm(self) -> float | None:
        """Time of the first visit with an alarm (None without one)."""
        hit = self.trajectory.loc[self.trajectory["alarm"], "time"]
        return float(hit.iloc[0]) if len(hit) else None

    def summary(self) -> pd.DataFrame:
        """One row: visits, treatment start, threshold, first alarm and its delay, final
        P(change since start), most probable current segment."""
        last = self.trajectory.iloc[-1]
        fa = self.first_alarm
        delay = (
            fa - self.treatment_start
            if fa is not None and self.treatment_start is not None
            else None
        )
        return pd.DataFrame(
            [
                {
                    "n_visits": len(self.trajectory),
                    "treatment_start": self.treatment_start,
                    "threshold": self.detector.threshold,
                    "first_alarm": fa,
                    "alarm_delay": delay,
                    "prob_change_since_start": float(last["prob_change_since_start"]),
                    "map_run_length": int(last["map_run_length"]),
                    "map_segment_start": float(last["map_segment_start"]),
                    "log_evidence": self.log_evidence,
                }
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description (NaN as None)."""

        def clean(v: Any) -> Any:
            if isinstance(v, (bool, np.bool_)):
                return bool(v)
            if isinstance(v, (int, np.integer)):
                return int(v)
            f = float(v)
            return None if math.isnan(f) else f

        h = self.detector.hazard
        return {
            "family": self.detector.family,
            "hazard": h if not isinstance(h, SegmentLength) else {"mean": h.mean, "shape": h.shape},
            "model": self.model.to_dict(),
            "threshold": self.detector.threshold,
            "prune": self.detector.prune,
            "treatment_start": self.treatment_start,
            "first_alarm": self.first_alarm,
            "log_evidence": self.log_evidence,
            "trajectory": {
                c: [clean(v) for v in self.trajectory[c]] for c in self.trajectory.columns
            },
            "provenance": dict(self.provenance),
        }

    def _repr_html_(self) -> str:
        return (
            f"<p><b>Online change detection</b> ({self.detector.family}, threshold "
            f"{self.detector.threshold:g})</p>"
            + self.summary().to_html(index=False, float_format="{:.4g}".format)
        )

    def plot(self, ax: Any = None) -> Any:
        """Three panels: the data, the run-length posterior as a heat map, and P(change
        since treatment start) with the alarm threshold."""
        from rdstats.plotting._nof1_segments import online_plot

        return online_plot(self, ax=ax)
