"""Online (prospective) change detection for a treated patient: Adams and MacKay's (2007)
Bayesian online change-point detection.

After each visit the detector holds the posterior of the *run length* ``r`` (visits in
the current segment, the current visit included) and, for every run length, the summed
sufficient statistics of that segment (:mod:`rdstats.nof1._segments`). A new value ``x``
either extends each run (probability ``1 - H(r)``, predictive ``p(x | run)``) or starts a
new segment (probability ``H(r)``, prior predictive ``p(x)``). Run length 1 at visit
``j`` means a change between visits ``j - 1`` and ``j`` (as in ``detect_jump``). With a
constant hazard ``h`` segment lengths are geometric with mean ``1 / h``; the model is
then exactly Fearnhead's with ``SegmentLength(1 / h)``, so the filter's final run-length
posterior and evidence equal :func:`~rdstats.nof1._fearnhead.multiple_changes`'.

Visit times only label the visits: the hazard is per visit, whatever the spacing.

P(a change since treatment start) after visit ``t`` is the posterior probability that the
current segment began at or after the first visit at or after ``treatment_start``.

Pruning: run lengths whose posterior probability falls below ``prune`` (default
``1e-12``) are dropped after each update and the rest renormalised (the most probable run
is always kept); ``prune=0`` keeps every run (exact, O(t) per visit).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rdstats._provenance import provenance
from rdstats._validation import readonly, real_number
from rdstats.nof1._inputs import FAMILIES, _score_range, check_series
from rdstats.nof1._online_result import OnlineResult
from rdstats.nof1._segments import SegmentLength, SegmentModel, segment_model

Array = NDArray[np.float64]

__all__ = ["OnlineDetector", "OnlineResult", "OnlineState"]

MAX_VISITS = 5000


def _lse(x: Array) -> float:
    m = float(np.max(x))
    if not math.isfinite(m):
        return m
    return m + math.log(float(np.sum(np.exp(x - m))))


@dataclass(frozen=True)
class OnlineDetector:
    """Configuration of an online (Adams-MacKay) change detector for one patient.

    Parameters
    ----------
    family : {"normal", "poisson", "ordinal"}
        Segment model (:mod:`rdstats.nof1._segments`).
    hazard : float or SegmentLength
        Constant probability of a change before each visit (``1 / expected run length``;
        default 0.02, 50 visits) or a segment-length prior (run-length dependent hazard).
    prior : mapping, optional
        Segment prior (normal: ``mean, kappa, shape, scale``; poisson: ``shape, rate``;
        ordinal: ``a, b``). Parameters not given are set from data: by
        :meth:`from_baseline`, or by :meth:`run` from the pre-treatment visits (at least
        three; else the whole series, a retrospective replay). :meth:`start` needs them
        complete (ordinal: default ``Beta(1, 1)``).
    score_range : (int, int), optional
        Ordinal: lowest and highest score.
    threshold : float
        Alarm when P(change since treatment start) exceeds it.
    prune : float
        Run lengths with posterior probability below this are dropped (0: exact).

    References
    ----------
    .. [1] Adams RP, MacKay DJC. Bayesian online changepoint detection. arXiv:0710.3742,
       2007.
    .. [2] Fearnhead P, Liu Z. On-line inference for multiple changepoint problems. JRSS B
       2007;69:589-605.

    Examples
    --------
    >>> import numpy as np
    >>> from rdstats.nof1 import OnlineDetector
    >>> rng = np.random.default_rng(2)
    >>> y = np.r_[rng.normal(10, 1, 15), rng.normal(13, 1, 10)]
    >>> det = OnlineDetector.from_baseline(y[:15], hazard=0.02, threshold=0.9)
    >>> state = det.start(treatment_start=15)
    >>> for t, v in enumerate(y):
    ...     state = state.update(v, t)
    >>> state.map_run_length, round(state.prob_change_since_start, 3), state.alarm
    (10, 1.0, True)
    >>> res = det.run(y, treatment_start=15)
    >>> res.first_alarm
    17.0
    """

    family: str = "normal"
    hazard: float | SegmentLength = 0.02
    prior: Mapping[str, float] | None = None
    score_range: tuple[int, int] | None = None
    threshold: float = 0.95
    prune: float = 1e-12

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        if not isinstance(self.hazard, SegmentLength):
            h = real_number(self.hazard, "hazard")
            if not 0 < h < 1:
                raise ValueError(
                    f"hazard must be in (0, 1) (1 / expected run length) or a SegmentLength, "
                    f"got {self.hazard!r}"
                )
            object.__setattr__(self, "hazard", h)
        if self.family == "ordinal":
            object.__setattr__(self, "score_range", _score_range(self.score_range))
        thr = real_number(self.threshold, "threshold")
        if not 0 < thr < 1:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold!r}")
        pr = real_number(self.prune, "prune")
        if not 0 <= pr < 0.01:
            raise ValueError(f"prune must be in [0, 0.01), got {self.prune!r}")
        object.__setattr__(self, "threshold", thr)
        object.__setattr__(self, "prune", pr)
        if self.prior is not None:
            segment_model(self.family, self.prior, y=np.ones(3), score_range=self.score_range)
            object.__setattr__(self, "prior", dict(self.prior))

    @classmethod
    def from_baseline(
        cls, y_baseline: Any, family: str = "normal", *, exposure: Any = None, **kwargs: Any
    ) -> OnlineDetector:
        """Detector whose segment prior is scaled by a baseline (pre-treatment) series,
        as :func:`~rdstats.nof1._fearnhead.multiple_changes` does with its data."""
        prior = kwargs.pop("prior", None)
        sr = kwargs.get("score_range")
        s = check_series(
            y_baseline,
            None,
            family=family,
            trend=False,
            slope=False,
            ar1=False,
            dropna=False,
            exposure=exposure,
            score_range=sr,
            name="y_baseline",
        )
        rng_ = _score_range(sr) if family == "ordinal" else None
        model = segment_model(family, prior, y=s.y, exposure=s.exposure, score_range=rng_)
        return cls(family=family, prior=dict(model.prior), **kwargs)

    def _model(self, y: Array | None = None, exposure: Array | None = None) -> SegmentModel:
        return segment_model(
            self.family, self.prior, y=y, exposure=exposure, score_range=self.score_range
        )

    def start(
        self, treatment_start: float | None = None, *, model: SegmentModel | None = None
    ) -> OnlineState:
        """Empty state before the first visit (``treatment_start``: time treatment
        started; None counts any change since the first visit)."""
        start = None if treatment_start is None else real_number(treatment_start, "treatment_start")
        return OnlineState(
            detector=self,
            model=self._model() if model is None else model,
            treatment_start=start,
            n=0,
            time=-math.inf,
            log_prob=readonly(np.zeros(0)),
            run_start=readonly(np.zeros(0, dtype=int)),
            stats=readonly(np.zeros((0, 3))),
            start_index=0 if start is None else None,
            log_evidence=0.0,
            log_predictive=math.nan,
        )

    def run(
        self,
        y: Any,
        times: Any = None,
        treatment_start: float | None = None,
        *,
        exposure: Any = None,
        dropna: bool = False,
    ) -> OnlineResult:
        """Replay a whole series visit by visit; returns the trajectory.

        Parameters
        ----------
        y : array_like or Series
            Outcomes in visit order (at most 5000 visits).
        times : array_like, optional
            Strictly increasing visit times (default: a numeric Series index, else 0, 1,
            ...).
        treatment_start : float, optional
            Time treatment started (``P(change since start)`` counts changes from the
            first visit at or after it; None: any change since the first visit).
        exposure : array_like, optional
            Counts: exposure of each visit.
        dropna : bool
            Drop visits with missing outcomes (otherwise an error).
        """
        s = check_series(
            y,
            times,
            family=self.family,
            trend=False,
            slope=False,
            ar1=False,
            dropna=dropna,
            exposure=exposure,
            score_range=self.score_range,
        )
        if s.y.size > MAX_VISITS:
            raise ValueError(
                f"y has {s.y.size} visits; run keeps the (n, n) run-length posterior and "
                f"handles at most {MAX_VISITS} (use start() and update() for longer series)"
            )
        start = None if treatment_start is None else real_number(treatment_start, "treatment_start")
        if start is not None and not s.times[0] < start <= s.times[-1]:
            raise ValueError(
                f"treatment_start={start:g} is outside the observed range: it must be after "
                f"the first visit ({s.times[0]:g}) and not after the last ({s.times[-1]:g})"
            )
        base = s.times < start if start is not None else np.ones(s.y.size, dtype=bool)
        if base.sum() < 3:
            base[:] = True
        model = self._model(s.y[base], s.exposure[base])
        n = s.y.size
        state = self.start(start, model=model)
        rl = np.zeros((n, n))
        rows: list[dict[str, Any]] = []
        for i in range(n):
            state = state.update(float(s.y[i]), float(s.times[i]), exposure=float(s.exposure[i]))
            rl[i, state.n - state.run_start - 1] = np.exp(state.log_prob)
            r = state.map_run_length
            rows.append(
                {
                    "time": s.times[i],
                    "y": s.y[i],
                    "prob_change_since_start": state.prob_change_since_start,
                    "map_run_length": r,
                    "map_segment_start": s.times[i - r + 1],
                    "log_predictive": state.log_predictive,
                    "predictive_cdf": state.predictive_cdf,
                    "alarm": state.alarm,
                }
            )
        args = {
            "family": self.family,
            "hazard": self.hazard
            if not isinstance(self.hazard, SegmentLength)
            else {"mean": self.hazard.mean, "shape": self.hazard.shape},
            "prior": dict(model.prior),
            "threshold": self.threshold,
            "prune": self.prune,
            "treatment_start": start,
            "dropna": dropna,
            "n_visits": n,
        }
        return OnlineResult(
            detector=self,
            model=model,
            treatment_start=start,
            trajectory=pd.DataFrame(rows),
            run_length_posterior=readonly(rl),
            log_evidence=state.log_evidence,
            final_state=state,
            provenance=provenance(arguments=args),
        )


@dataclass(frozen=True)
class OnlineState:
    """Posterior after the visits seen so far (immutable: :meth:`update` returns a new
    state).

    Attributes
    ----------
    n : int
        Visits seen.
    time : float
        Time of the last visit.
    log_prob : ndarray
        Log posterior probabilities of the retained run lengths.
    run_start : ndarray of int
        Visit index at which each retained run began (run length ``n - run_start``).
    log_evidence : float
        ``log p(y_1..y_n)``.
    log_predictive : float
        Log one-step-ahead predictive density (mass) of the last visit.
    predictive_cdf : float
        One-step-ahead predictive P(Y <= y) of the last visit's value (near 0 or 1: a
        surprising value).
    """

    detector: OnlineDetector
    model: SegmentModel
    treatment_start: float | None
    n: int
    time: float
    log_prob: Array = field(repr=False)
    run_start: NDArray[np.int_] = field(repr=False)
    stats: Array = field(repr=False)
    start_index: int | None
    log_evidence: float
    log_predictive: float
    predictive_cdf: float = math.nan

    def _check(self, y: Any, t: Any, exposure: Any) -> tuple[float, float, float]:
        x = real_number(y, "y")
        fam = self.model.family
        if fam == "poisson" and (x < 0 or x != round(x)):
            raise ValueError(f"family='poisson' needs a non-negative integer count, got y={y!r}")
        if fam == "ordinal":
            lo, hi = self.model.score_range or (0, 1)
            if x < lo or x > hi or x != round(x):
                raise ValueError(f"y={y!r} is not an integer score in score_range ({lo}, {hi})")
        tt = float(self.n if self.n == 0 or math.isinf(self.time) else self.time + 1.0)
        if t is not None:
            tt = real_number(t, "t")
            if not tt > self.time:
                raise ValueError(
                    f"times must be strictly increasing: t={t!r} follows the last visit at "
                    f"{self.time:g}"
                )
        e = 1.0 if exposure is None else real_number(exposure, "exposure")
        if not e > 0:
            raise ValueError(f"exposure must be positive, got {exposure!r}")
        return x, tt, e

    def update(
        self, y: float, t: float | None = None, *, exposure: float | None = None
    ) -> OnlineState:
        """State after one more visit with outcome ``y`` at time ``t`` (default: the
        previous time + 1, or 0 for the first visit)."""
        x, tt, e = self._check(y, t, exposure)
        model, det = self.model, self.detector
        xs = model.obs_stats(np.array([x]), np.array([e]))[0]
        lp_new = float(model.log_marginal(xs))
        if self.n == 0:
            cdf = float(model.predictive_cdf(np.zeros(3), x, e))
            log_joint = np.array([lp_new])
            starts = np.array([0])
            stats = xs[None, :]
        else:
            r = self.n - self.run_start
            if isinstance(det.hazard, SegmentLength):
                log_h = det.hazard.log_pmf(r) - det.hazard.log_sf(r)
                log_stay = det.hazard.log_sf(r + 1) - det.hazard.log_sf(r)
            else:
                log_h = np.full(r.size, math.log(float(det.hazard)))
                log_stay = np.full(r.size, math.log1p(-float(det.hazard)))
            grown = self.stats + xs
            lp_grow = model.log_marginal(grown) - model.log_marginal(self.stats)
            log_w_new = _lse(self.log_prob + log_h)
            log_change = log_w_new + lp_new
            log_joint = np.concatenate([[log_change], self.log_prob + log_stay + lp_grow])
            cdf = math.exp(log_w_new) * float(model.predictive_cdf(np.zeros(3), x, e)) + float(
                np.sum(np.exp(self.log_prob + log_stay) * model.predictive_cdf(self.stats, x, e))
            )
            starts = np.concatenate([[self.n], self.run_start])
            stats = np.concatenate([xs[None, :], grown])
        log_pred = _lse(log_joint)
        log_prob = log_joint - log_pred
        # runs of probability exactly 0 (a segment-length prior with finite support in
        # floating point) are always dropped; ``prune`` drops the negligible ones
        keep = log_prob >= (math.log(det.prune) if det.prune > 0 else -math.inf)
        keep &= np.isfinite(log_prob)
        keep[int(np.argmax(log_prob))] = True
        if not keep.all():
            log_prob, starts, stats = log_prob[keep], starts[keep], stats[keep]
            log_prob = log_prob - _lse(log_prob)
        idx = self.start_index
        if idx is None and self.treatment_start is not None and tt >= self.treatment_start:
            idx = self.n
        return replace(
            self,
            n=self.n + 1,
            time=tt,
            log_prob=readonly(log_prob),
            run_start=readonly(starts),
            stats=readonly(stats),
            start_index=idx,
            log_evidence=self.log_evidence + log_pred,
            log_predictive=log_pred,
            predictive_cdf=min(max(cdf, 0.0), 1.0),
        )

    @property
    def run_length_posterior(self) -> pd.Series:
        """P(run length = r | data so far) over the retained run lengths (ascending)."""
        r = self.n - self.run_start
        order = np.argsort(r)
        return pd.Series(
            np.exp(self.log_prob[order]),
            index=pd.Index(r[order], name="run_length"),
            name="posterior",
        )

    @property
    def map_run_length(self) -> int:
        """Most probable run length (0 before the first visit)."""
        if self.n == 0:
            return 0
        return int(self.n - self.run_start[int(np.argmax(self.log_prob))])

    @property
    def prob_change_since_start(self) -> float:
        """P(a change at or after the first visit on or after treatment start | data);
        NaN until that visit has been seen."""
        if self.start_index is None or self.n == 0:
            return math.nan
        first = max(self.start_index, 1)
        return float(np.sum(np.exp(self.log_prob[self.run_start >= first])))

    @property
    def alarm(self) -> bool:
        """P(change since start) above the detector's threshold."""
        p = self.prob_change_since_start
        return bool(p > self.detector.threshold) if not math.isnan(p) else False
