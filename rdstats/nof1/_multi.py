"""Several outcomes of one patient (clinician-, patient- and carer-reported) with one shared
change time: the outcomes are independent given the change visit, so their marginal
likelihoods multiply; each outcome keeps its own jump, and the probability that at least
``m`` of them move beyond their MCIDs is a Poisson-binomial sum given the change visit."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special

from rdstats._provenance import provenance
from rdstats._validation import readonly, real_number
from rdstats.nof1._detect import _unit, fit_series, posterior_weights
from rdstats.nof1._inputs import check_model, check_options, check_series
from rdstats.nof1._prior import change_time_prior
from rdstats.nof1._result import JumpResult

Array = NDArray[np.float64]

__all__ = ["MultiJumpResult", "detect_jump_multi"]


_OPTIONAL = ("mcid", "score_range", "exposure")  # settings that may be left out per outcome


def _per(value: Any, outcomes: Sequence[str], name: str) -> dict[str, Any]:
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in outcomes]
        if unknown:
            raise ValueError(f"{name} has entries {unknown} that are not outcomes {list(outcomes)}")
        missing = [o for o in outcomes if o not in value]
        if missing and name not in _OPTIONAL:
            raise ValueError(f"{name} has no entry for outcomes {missing}")
        return {o: value.get(o) for o in outcomes}
    return dict.fromkeys(outcomes, value)


def _poisson_binomial_tail(p: Array, m: int) -> Array:
    """P(at least m successes) for independent Bernoulli(p[:, k]) along axis 1."""
    dist = np.zeros((p.shape[0], p.shape[1] + 1))
    dist[:, 0] = 1.0
    for k in range(p.shape[1]):
        pk = p[:, k : k + 1]
        dist[:, 1:] = dist[:, 1:] * (1 - pk) + dist[:, :-1] * pk
        dist[:, :1] = dist[:, :1] * (1 - pk)
    return np.asarray(dist[:, m:].sum(axis=1))


@dataclass(frozen=True)
class MultiJumpResult:
    """Joint jump detection over several outcomes with one change time.

    Attributes
    ----------
    outcomes : list of str
    results : dict
        One :class:`JumpResult` per outcome, all sharing the joint change-time posterior
        (each outcome's jump given the change visit is its own).
    prob_change, bayes_factor : float
        Joint posterior probability of a change and Bayes factor against no change in
        any outcome.
    """

    outcomes: list[str]
    results: dict[str, JumpResult]
    times: Array
    treatment_start: float | None
    prob_change: float
    bayes_factor: float
    weights: Array
    level: float
    provenance: dict[str, Any] = field(repr=False, compare=False)

    @property
    def log_bayes_factor(self) -> float:
        """Natural logarithm of the joint Bayes factor."""
        return self.results[self.outcomes[0]].log_bayes_factor

    @property
    def change_time_posterior(self) -> pd.Series:
        """Joint posterior of the first post-change visit (sums to ``prob_change``)."""
        return self.results[self.outcomes[0]].change_time_posterior

    @property
    def map_change_time(self) -> float:
        return self.results[self.outcomes[0]].map_change_time

    def credible_set(self, level: float | None = None) -> Array:
        return self.results[self.outcomes[0]].credible_set(level)

    def jumps(self) -> pd.DataFrame:
        """Per outcome: jump mean and interval given a change, and P(jump beyond its MCID
        after treatment start) when an MCID is set."""
        rows = {}
        for o, r in self.results.items():
            j = r.jump
            row = {"mean": j["mean"], "lower": j["lower"], "upper": j["upper"], "mcid": r.mcid}
            row["prob_exceeds_mcid"] = r.prob_jump_exceeds() if r.mcid is not None else np.nan
            rows[o] = row
        return pd.DataFrame.from_dict(rows, orient="index")

    def prob_at_least(self, m: int, *, after_start: bool = True) -> float:
        """Posterior probability of a change (at or after treatment start unless
        ``after_start=False``) in which at least ``m`` outcomes jump beyond their MCIDs."""
        k = len(self.outcomes)
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not 1 <= m <= k:
            raise ValueError(f"m must be an integer from 1 to {k} (outcomes), got {m!r}")
        probs = []
        for o in self.outcomes:
            r = self.results[o]
            if r.mcid is None:
                raise ValueError(f"outcome {o!r} has no mcid; give mcid for every outcome")
            with np.errstate(invalid="ignore", divide="ignore"):
                cond = np.where(self.weights > 0, r.weights / self.weights, 0.0)
            probs.append(np.sum(cond * r.exceedance(), axis=0))  # given the change visit
        tail = _poisson_binomial_tail(np.stack(probs, axis=1), int(m))
        w = self.weights.sum(axis=0).copy()
        if after_start and self.treatment_start is not None:
            w[self.times < self.treatment_start] = 0.0
        return float(np.sum(w * tail))

    def summary(self) -> pd.DataFrame:
        """Per-outcome jump table with the joint P(change) and change time."""
        out = self.jumps()
        out.insert(0, "prob_change", self.prob_change)
        out.insert(1, "map_change_time", self.map_change_time)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcomes": list(self.outcomes),
            "prob_change": self.prob_change,
            "bayes_factor": self.bayes_factor,
            "change_time_posterior": {
                str(k): float(v) for k, v in self.change_time_posterior.items()
            },
            "jumps": {o: self.results[o].to_dict()["jump"] for o in self.outcomes},
            "provenance": dict(self.provenance),
        }

    def _repr_html_(self) -> str:
        return (
            f"<p><b>Joint jump detection</b> over {len(self.outcomes)} outcomes: P(change) = "
            f"{self.prob_change:.3f}, most probable change {self.map_change_time:g}</p>"
            + self.summary().to_html(float_format="{:.4g}".format)
        )

    def plot(self, ax: Any = None) -> Any:
        """One row per outcome: series with fitted segments, change time, jump."""
        from rdstats.plotting._nof1 import multi_jump_plot

        return multi_jump_plot(self, ax=ax)


def detect_jump_multi(
    data: Any,
    outcomes: Sequence[str],
    *,
    times: Any,
    treatment_start: Any,
    family: Any,
    trend: Any,
    ar1: Any,
    mcid: Any,
    direction: Any,
    change_prior: Any,
    max_lag: Any,
    slope: Any,
    prob_change: float,
    off_window: float,
    jump_prior_sd: float,
    slope_prior_sd: float | None,
    time_unit: float | None,
    score_range: Any,
    level: float,
    dropna: bool,
    ordinal_model: str = "categorical",
    exposure: Any = None,
    jump_prior: str = "normal",
) -> MultiJumpResult:
    """See :func:`rdstats.nof1.detect_jump` with ``outcomes``; per-outcome settings
    (family, trend, ar1, slope, mcid, direction, score_range, exposure) may be dicts;
    an exposure may be a column name."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"y must be a DataFrame when outcomes are given, got {type(data).__name__}")
    outs = [outcomes] if isinstance(outcomes, str) else list(outcomes)
    if not outs:
        raise ValueError("outcomes must name at least one column")
    missing = [o for o in outs if o not in data.columns]
    if missing:
        raise ValueError(f"outcomes {missing} are not columns of the data")
    if isinstance(times, str):
        if times not in data.columns:
            raise ValueError(f"times column {times!r} is not in the data")
        t_all = data[times].to_numpy(dtype=float)
    elif times is None:
        t_all = np.asarray(data.index, dtype=float)
    else:
        t_all = np.asarray(times, dtype=float)
    bad = [o for o in outs if not pd.api.types.is_numeric_dtype(data[o])]
    if bad:
        raise ValueError(f"outcomes {bad} are not numeric columns")
    sub = data[outs].astype(float)
    keep = np.ones(len(data), dtype=bool)
    if dropna:
        keep = sub.notna().all(axis=1).to_numpy()
    settings = {
        name: _per(v, outs, name)
        for name, v in (
            ("family", family),
            ("trend", trend),
            ("ar1", ar1),
            ("slope", slope),
            ("mcid", mcid),
            ("direction", direction),
            ("score_range", score_range),
            ("exposure", exposure),
        )
    }
    fits, series, opts, checked = {}, {}, {}, {}
    for o in outs:
        fam = settings["family"][o]
        check_model(
            fam,
            trend=bool(settings["trend"][o]),
            ar1=bool(settings["ar1"][o]),
            slope=bool(settings["slope"][o]),
            ordinal_model=ordinal_model,
            score_range=settings["score_range"][o],
            exposure=settings["exposure"][o],
            name=o,
        )
        expo = settings["exposure"][o]
        if isinstance(expo, str):
            if expo not in data.columns:
                raise ValueError(f"exposure column {expo!r} is not in the data")
            expo = data[expo].to_numpy(dtype=float)
        if expo is not None:
            expo = np.asarray(expo, dtype=float)
            if expo.shape != (len(data),):
                raise ValueError(
                    f"exposure of outcome {o!r} must have one value per row ({len(data)})"
                )
            expo = expo[keep]
        checked[o] = check_options(
            settings["direction"][o], settings["mcid"][o], fam, max_lag, prob_change, level
        )
        s = check_series(
            sub[o].to_numpy(dtype=float)[keep],
            t_all[keep],
            family=fam,
            trend=bool(settings["trend"][o]),
            slope=bool(settings["slope"][o]),
            ar1=bool(settings["ar1"][o]),
            dropna=False,
            exposure=expo,
            score_range=settings["score_range"][o],
            name=o,
        )
        series[o] = s
    t = series[outs[0]].times
    unit = _unit(t, time_unit)
    _, lag, p, lev = checked[outs[0]]
    start = None if treatment_start is None else real_number(treatment_start, "treatment_start")
    if start is not None and not t[0] < start <= t[-1]:
        raise ValueError(
            f"treatment_start={start:g} is outside the observed range ({t[0]:g}, {t[-1]:g}]"
        )
    kind = (
        change_prior
        if change_prior is not None
        else ("anchored" if start is not None else "uniform")
    )
    prior, label = change_time_prior(t, kind, start, lag, off_window)
    lm_total = np.zeros(t.size)
    l0_total = 0.0
    for o in outs:
        fam = settings["family"][o]
        fits[o], opts[o] = fit_series(
            series[o],
            fam,
            trend=bool(settings["trend"][o]),
            slope=bool(settings["slope"][o]),
            ar1=bool(settings["ar1"][o]),
            unit=unit,
            jump_prior_sd=jump_prior_sd,
            slope_prior_sd=slope_prior_sd,
            score_range=settings["score_range"][o],
            ordinal_model=ordinal_model,
            jump_prior=jump_prior,
        )
        f = fits[o]
        lm_total = lm_total + special.logsumexp(f.log_m_change + f.log_grid_prior[:, None], axis=0)
        l0_total += float(special.logsumexp(f.log_m_null + f.log_grid_prior))
    w, _, p_change, log_bf = posterior_weights(lm_total[None, :], np.array([l0_total]), prior, p)
    results = {}
    for o in outs:
        f = fits[o]
        lc = f.log_m_change + f.log_grid_prior[:, None]
        with np.errstate(invalid="ignore"):
            cond = np.exp(lc - special.logsumexp(lc, axis=0, keepdims=True))
        cond[:, 0] = 0.0
        lnull = f.log_m_null + f.log_grid_prior
        wo = readonly(w * cond)
        opts[o].update(
            null_weights=(1 - p_change) * np.exp(lnull - special.logsumexp(lnull)),
            log_bayes_factor=log_bf,
            dropped=int((~keep).sum()),
            max_lag=lag,
        )
        results[o] = JumpResult(
            times=readonly(t.copy()),
            y=readonly(series[o].y.copy()),
            family=settings["family"][o],
            direction=settings["direction"][o],
            mcid=checked[o][0],
            treatment_start=start,
            level=lev,
            prob_change=p_change,
            bayes_factor=float(np.exp(log_bf)) if log_bf < 709.0 else math.inf,
            prior=readonly(prior),
            prior_label=label,
            prior_prob_change=p,
            weights=wo,
            fit=f,
            options=opts[o],
            provenance=provenance(arguments={"outcome": o, "joint_with": outs}),
        )
    args = {"outcomes": outs, "treatment_start": start, "change_prior": label, "level": lev}
    return MultiJumpResult(
        outcomes=outs,
        results=results,
        times=readonly(t.copy()),
        treatment_start=start,
        prob_change=p_change,
        bayes_factor=float(np.exp(log_bf)) if log_bf < 709.0 else math.inf,
        weights=readonly(w),
        level=lev,
        provenance=provenance(arguments=args),
    )
