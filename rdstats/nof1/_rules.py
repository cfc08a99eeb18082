"""JumpRule: a decision rule "this patient's series shows a treatment jump", built on the
jump detector (or, as a comparator, on a naive pre/post t-test)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rdstats._validation import real_number
from rdstats.nof1._batch import DEFAULT_JUMP_PRIOR_SD, jump_kernel, naive_pvalues
from rdstats.nof1._inputs import check_options, check_series, min_visits
from rdstats.nof1._result import JumpResult

Array = NDArray[np.float64]

__all__ = ["STATISTICS", "JumpRule"]

STATISTICS = ("prob_exceeds", "prob_change", "naive")


@dataclass(frozen=True)
class JumpRule:
    """Decision rule on one patient's series: the jump detector's settings, a statistic and
    a threshold ``gamma``.

    Parameters
    ----------
    statistic : {"prob_exceeds", "prob_change", "naive"}
        ``"prob_exceeds"``: posterior probability of a change at or after treatment start
        with a jump beyond the MCID in the beneficial direction
        (:meth:`JumpResult.prob_jump_exceeds`); ``"prob_change"``: posterior probability of
        any change; ``"naive"``: one-sided p-value of a pooled-variance two-sample t-test
        of the visits from treatment start against those before it (ignores trend and
        autocorrelation; a comparator).
    threshold : float
        ``gamma`` in (0, 1): the rule fires when the statistic is ``> gamma`` (for
        ``"naive"``: when the p-value is ``< gamma``, i.e. ``gamma`` is the test's alpha).
    family, trend, ar1, slope, mcid, direction, change_prior, max_lag, prob_change,
    off_window, jump_prior_sd, slope_prior_sd, time_unit
        Detector settings, as for :func:`~rdstats.nof1.detect_jump` (family ``"normal"``
        or ``"poisson"``). ``mcid=None`` means any jump in the beneficial direction (0, or
        a rate ratio of 1); ``jump_prior_sd=None`` the detector's default.

    Examples
    --------
    >>> import numpy as np
    >>> from rdstats.nof1 import JumpRule
    >>> rule = JumpRule(ar1=True, mcid=1.0, threshold=0.9)
    >>> y = np.r_[np.zeros(10), np.full(10, 3.0)] + np.random.default_rng(1).normal(size=20)
    >>> round(rule.value(y, treatment_start=10), 3), rule.evaluate(y, treatment_start=10)
    (0.976, True)
    """

    statistic: str = "prob_exceeds"
    threshold: float = 0.95
    family: str = "normal"
    trend: bool = False
    ar1: bool = False
    slope: bool = False
    mcid: float | None = None
    direction: str = "increase"
    change_prior: str | None = None
    max_lag: float | None = None
    prob_change: float = 0.5
    off_window: float = 0.05
    jump_prior_sd: float | None = None
    slope_prior_sd: float | None = None
    time_unit: float | None = None

    def __post_init__(self) -> None:
        if self.statistic not in STATISTICS:
            raise ValueError(f"statistic must be one of {STATISTICS}, got {self.statistic!r}")
        g = real_number(self.threshold, "threshold")
        if not 0 < g < 1:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold!r}")
        if self.family not in ("normal", "poisson"):
            raise ValueError(f"family must be 'normal' or 'poisson', got {self.family!r}")
        for name in ("trend", "ar1", "slope"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if (self.ar1 or self.slope) and self.family != "normal":
            raise ValueError("ar1 and slope are available for family='normal' only")
        check_options(self.direction, self.mcid, self.family, self.max_lag, self.prob_change, 0.9)
        if self.change_prior not in (None, "anchored", "uniform"):
            raise ValueError(
                f"change_prior must be 'anchored', 'uniform' or None, got {self.change_prior!r}"
            )
        if not 0 <= real_number(self.off_window, "off_window") < 1:
            raise ValueError(f"off_window must be in [0, 1), got {self.off_window!r}")
        for name in ("jump_prior_sd", "slope_prior_sd", "time_unit"):
            v = getattr(self, name)
            if v is not None and not real_number(v, name) > 0:
                raise ValueError(f"{name} must be positive, got {v!r}")

    # -- settings -------------------------------------------------------------------------
    @property
    def mcid_value(self) -> float:
        """The MCID used (0, or a rate ratio of 1, when ``mcid`` is None)."""
        if self.mcid is not None:
            return float(self.mcid)
        return 1.0 if self.family == "poisson" else 0.0

    @property
    def min_visits(self) -> int:
        """Visits a series needs for this rule's model."""
        return min_visits(self.family, self.trend, self.slope, self.ar1)

    def detector_settings(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~rdstats.nof1.detect_jump` for this rule."""
        return {
            "family": self.family,
            "trend": self.trend,
            "ar1": self.ar1,
            "slope": self.slope,
            "mcid": self.mcid_value,
            "direction": self.direction,
            "change_prior": self.change_prior,
            "max_lag": self.max_lag,
            "prob_change": self.prob_change,
            "off_window": self.off_window,
            "jump_prior_sd": (
                DEFAULT_JUMP_PRIOR_SD if self.jump_prior_sd is None else self.jump_prior_sd
            ),
            "slope_prior_sd": self.slope_prior_sd,
            "time_unit": self.time_unit,
        }

    def with_threshold(self, threshold: float) -> JumpRule:
        """The same rule with another ``gamma``."""
        return replace(self, threshold=threshold)

    @property
    def fires_above(self) -> bool:
        """True when large statistics fire (posterior probabilities), False for p-values."""
        return self.statistic != "naive"

    def fires(self, values: Any, threshold: float | None = None) -> NDArray[np.bool_]:
        """Whether the rule fires for statistic ``values`` (at ``threshold``, default the
        rule's)."""
        g = self.threshold if threshold is None else threshold
        v = np.asarray(values, dtype=float)
        return np.asarray(v > g if self.fires_above else v < g)

    # -- statistics -------------------------------------------------------------------------
    def batch_values(self, y: Array, times: Array, treatment_start: float) -> Array:
        """The statistic for every row of ``y`` (B, n) on ``times`` (no validation)."""
        if self.statistic == "naive":
            return naive_pvalues(y, times, treatment_start, self.direction)
        out = jump_kernel(y, times, treatment_start, **self.detector_settings())
        return out[self.statistic]

    def detect(self, y: Any, times: Any = None, treatment_start: float | None = None) -> Any:
        """:func:`~rdstats.nof1.detect_jump` of one series with this rule's settings."""
        from rdstats.nof1._detect import detect_jump

        return detect_jump(y, times, treatment_start, **self.detector_settings())

    def value(
        self, result_or_series: Any, times: Any = None, treatment_start: float | None = None
    ) -> float:
        """The rule's statistic for one patient: a :class:`JumpResult` (``"naive"`` uses
        its series and treatment start) or a series with its ``times`` and
        ``treatment_start``."""
        if isinstance(result_or_series, JumpResult):
            res = result_or_series
            if self.statistic == "prob_change":
                return float(res.prob_change)
            if self.statistic == "prob_exceeds":
                return float(res.prob_jump_exceeds(self.mcid_value))
            y, tt, start = np.asarray(res.y), np.asarray(res.times), res.treatment_start
        else:
            if self.statistic != "naive":
                return self.value(self.detect(result_or_series, times, treatment_start))
            s = check_series(
                result_or_series,
                times,
                family=self.family,
                trend=False,
                slope=False,
                ar1=False,
                dropna=False,
            )
            y, tt, start = s.y, s.times, treatment_start
        if start is None:
            raise ValueError("the naive pre/post rule needs treatment_start")
        start = real_number(start, "treatment_start")
        pre = int(np.sum(tt < start))
        if pre < 1 or pre > tt.size - 1 or tt.size < 3:
            raise ValueError(
                f"the naive pre/post test needs visits before and from treatment_start={start:g} "
                f"(and 3 visits in all); got {pre} before and {tt.size - pre} from it"
            )
        return float(naive_pvalues(y[None, :], tt, start, self.direction)[0])

    def evaluate(
        self, result_or_series: Any, times: Any = None, treatment_start: float | None = None
    ) -> bool:
        """Whether the rule fires for one patient (see :meth:`value`)."""
        return bool(self.fires(self.value(result_or_series, times, treatment_start)))

    # -- presentation -----------------------------------------------------------------------
    def describe(self) -> str:
        if self.statistic == "naive":
            return f"naive pre/post t-test, p < {self.threshold:g}"
        model = "+".join(
            [self.family]
            + [
                k
                for k, on in (("trend", self.trend), ("AR(1)", self.ar1), ("slope", self.slope))
                if on
            ]
        )
        what = (
            f"P(jump beyond {self.mcid_value:g} after start)"
            if self.statistic == "prob_exceeds"
            else "P(change)"
        )
        return f"{what} > {self.threshold:g} ({model})"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "JumpRule", "statistic": self.statistic}
        d["threshold"] = float(self.threshold)
        for k, v in self.detector_settings().items():
            d[k] = v if not isinstance(v, float) or math.isfinite(v) else None
        return d
