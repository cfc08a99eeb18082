"""False-alarm calibration, power and detection delay of a jump-detection rule, by
simulating patients with no (or a given) treatment effect through the simulation engine."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from rdstats._provenance import provenance
from rdstats._validation import readonly, real_number
from rdstats.nof1._null_models import FlareEnrolment, NullModel
from rdstats.nof1._rules import JumpRule

Array = NDArray[np.float64]

__all__ = ["CalibrationResult", "JumpDetectionDesign", "calibrate"]

_ONE_SD = float(stats.norm.cdf(1.0))


@dataclass(frozen=True, eq=False)
class JumpDetectionDesign:
    """A jump-detection rule applied to simulated patients (engine hooks for
    :func:`rdstats.simulate.operating_characteristics`; the scenario parameter ``effect``
    is the true jump added from the first treated visit, in outcome units, or the rate
    ratio for counts: 0, or 1 for counts, is no effect).

    Outcomes per simulated patient: ``success`` (the rule fires on the whole series),
    ``statistic``, ``flared`` (with an enrolment rule: treatment followed a flare) and, when
    ``sequential``, ``delay``: the rule applied after every visit from the first treated
    one, ``delay = k - s + 1`` where ``k`` is the first visit (0-based) at which it fires
    and ``s`` the first treated visit (1: it fires on the first treated visit; NaN: it
    never fires within the series). Looks with fewer visits than the model needs are
    skipped. Each look uses the rule's threshold unchanged, so the chance of firing at
    some look exceeds the single-look false-alarm rate.
    """

    rule: JumpRule
    null_model: NullModel
    enrolment: FlareEnrolment | None = None
    sequential: bool = False

    _parameters: ClassVar[tuple[str, ...]] = ("effect",)

    def __post_init__(self) -> None:
        if not isinstance(self.rule, JumpRule):
            raise TypeError(f"rule must be a JumpRule, got {type(self.rule).__name__}")
        if not isinstance(self.null_model, NullModel):
            raise TypeError(f"null_model must be a NullModel, got {type(self.null_model).__name__}")
        if self.enrolment is not None and not isinstance(self.enrolment, FlareEnrolment):
            raise TypeError(
                f"enrolment_rule must be a FlareEnrolment or None, got "
                f"{type(self.enrolment).__name__}"
            )
        if self.rule.family != self.null_model.family:
            raise ValueError(
                f"the rule's family ({self.rule.family!r}) differs from the null model's "
                f"({self.null_model.family!r})"
            )
        n = int(self.null_model.n_visits)
        if n < self.rule.min_visits:
            raise ValueError(
                f"the null model has {n} visits; the rule's model needs {self.rule.min_visits}"
            )
        if self.enrolment is not None and not self.null_model.equally_spaced:
            raise ValueError("FlareEnrolment needs a null model with equally spaced visits")

    @property
    def null_effect(self) -> float:
        return 1.0 if self.null_model.family == "poisson" else 0.0

    def _check_scenario(self, params: dict[str, float]) -> None:
        e = float(params["effect"])
        if not math.isfinite(e) or (self.null_model.family == "poisson" and not e > 0):
            raise ValueError(f"effect must be a finite jump (a rate ratio > 0 for counts), got {e}")

    def _is_null(self, params: dict[str, float]) -> bool:
        return float(params["effect"]) == self.null_effect

    def series(
        self, effect: float, size: int, rng: np.random.Generator
    ) -> tuple[Array, NDArray[np.bool_] | None]:
        """Simulated series the detector sees (size, n_visits) and the flare flags."""
        eff = None if effect == self.null_effect else effect
        null = self.null_model
        if self.enrolment is None:
            return null.path(size, rng, np.asarray(null.times), eff), None
        return self.enrolment.draw(null, size, rng, direction=self.rule.direction, effect=eff)

    def delays(self, y: Array) -> Array:
        """Visits from the first treated visit to the first look at which the rule fires
        (1 = at the first treated visit; NaN = never)."""
        null = self.null_model
        times, s, start = np.asarray(null.times), int(null.start_visit), null.treatment_start  # type: ignore[arg-type]
        first = max(s, self.rule.min_visits - 1, 2)
        delay = np.full(y.shape[0], np.nan)
        for k in range(first, y.shape[1]):
            todo = np.isnan(delay)
            if not todo.any():
                break
            v = self.rule.batch_values(y[todo, : k + 1], times[: k + 1], float(start))  # type: ignore[arg-type]
            idx = np.flatnonzero(todo)[self.rule.fires(v)]
            delay[idx] = k - s + 1
        return delay

    def _simulate(
        self, params: dict[str, float], size: int, rng: np.random.Generator
    ) -> dict[str, Any]:
        y, flared = self.series(float(params["effect"]), size, rng)
        null = self.null_model
        v = self.rule.batch_values(y, np.asarray(null.times), float(null.treatment_start))  # type: ignore[arg-type]
        out: dict[str, Any] = {"success": self.rule.fires(v), "statistic": v}
        if flared is not None:
            out["flared"] = flared
        if self.sequential:
            out["delay"] = self.delays(y)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "JumpDetectionDesign",
            "rule": self.rule.to_dict(),
            "null_model": self.null_model.to_dict(),
            "enrolment": None if self.enrolment is None else self.enrolment.to_dict(),
            "sequential": self.sequential,
        }


def _order_stat(xs: Array, q: float) -> tuple[float, tuple[float, float]]:
    """MC uncertainty of the empirical ``q`` quantile of sorted ``xs``: half the distance
    between the order statistics at the binomial +-1 SD ranks, and the distribution-free
    95% interval (order statistics at the binomial 2.5% and 97.5% ranks)."""
    n = xs.size

    def at(p: float) -> float:
        r = int(stats.binom.ppf(p, n, q))
        return float(xs[min(max(r - 1, 0), n - 1)])

    return (at(_ONE_SD) - at(1 - _ONE_SD)) / 2, (at(0.025), at(0.975))


def _threshold(
    values: Array, target: float, above: bool
) -> tuple[float, float, tuple[float, float]]:
    xs = np.sort(values)
    n = xs.size
    if above:  # fires when > thr: the smallest value with at most target * n above it
        q = 1.0 - target
        thr = float(np.quantile(xs, q, method="inverted_cdf"))
    else:  # fires when < thr: at most floor(target * n) values below it
        q = target
        thr = float(xs[min(math.floor(target * n + 1e-9), n - 1)])
    mcse, interval = _order_stat(xs, q)
    return thr, mcse, interval


@dataclass(frozen=True, eq=False)
class CalibrationResult:
    """False-alarm calibration of a jump-detection rule (from :func:`calibrate`).

    Attributes
    ----------
    rule, null_model, enrolment
        What was simulated.
    target : float
        Target false-alarm rate.
    statistics : ndarray
        The rule's statistic for every simulated null patient (read-only): re-threshold
        with :meth:`false_alarm_at` without simulating again.
    false_alarm_rate, false_alarm_mcse : float
        Fraction of null patients on whom the rule (at its own threshold) fires, and its
        Monte Carlo standard error ``sqrt(p (1 - p) / n)``.
    threshold : float
        Threshold achieving at most ``target`` false alarms on these null patients: the
        empirical ``1 - target`` quantile of the statistics (the ``target`` quantile of
        naive p-values).
    threshold_mcse, threshold_interval
        Its MC uncertainty: half the distance between the order statistics at the
        binomial +-1 SD ranks, and the distribution-free 95% interval.
    flare_fraction : float or None
        With a flare enrolment rule: fraction of patients enrolled right after a flare.
    curve : DataFrame or None
        Power and detection-delay curve (:meth:`power`).
    """

    rule: JumpRule
    null_model: NullModel
    enrolment: FlareEnrolment | None
    target: float
    statistics: Array
    false_alarm_rate: float
    false_alarm_mcse: float
    threshold: float
    threshold_mcse: float
    threshold_interval: tuple[float, float]
    flare_fraction: float | None
    curve: pd.DataFrame | None = field(default=None, repr=False)
    provenance: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def n_series(self) -> int:
        return int(self.statistics.size)

    @property
    def calibrated_rule(self) -> JumpRule:
        """The rule with the calibrated threshold."""
        return self.rule.with_threshold(self.threshold)

    def false_alarm_at(self, threshold: float) -> tuple[float, float]:
        """False-alarm rate (and MCSE) of the rule at another threshold, on the same null
        patients."""
        g = real_number(threshold, "threshold")
        p = float(np.mean(self.rule.fires(self.statistics, g)))
        return p, math.sqrt(p * (1 - p) / self.n_series)

    def power(
        self,
        effects: Any,
        *,
        n_series: int = 2000,
        threshold: float | str = "calibrated",
        sequential: bool = True,
        rng: Any = None,
        **engine: Any,
    ) -> CalibrationResult:
        """A copy with the power and detection-delay curve for true jumps ``effects``.

        Parameters
        ----------
        effects : array_like
            True jumps (outcome units, signed; rate ratios for counts), added from the first
            treated visit; include the null (0, or 1) for the false-alarm rate on fresh
            patients.
        n_series : int
            Simulated patients per effect.
        threshold : "calibrated", "rule" or float
            The threshold applied (default the calibrated one).
        sequential : bool
            Also the detection delay (the rule applied after every treated visit; see
            :class:`JumpDetectionDesign`).
        rng : None, int, SeedSequence or Generator
            Seed (new random numbers: the null patients of the calibration are not reused).
        **engine
            Passed to :func:`~rdstats.simulate.operating_characteristics` (``executor``,
            ``backend``, ``workers``, ``batch_size``, ``progress``).

        Notes
        -----
        Columns: ``power`` (fires on the whole series) with its MCSE; with ``sequential``,
        ``p_detected`` (fires at some look; equal to ``power`` or larger), ``mean_delay``
        (visits, among detected patients) with its MCSE and ``median_delay`` over all
        patients (``inf`` when fewer than half are detected).
        """
        from rdstats.simulate import operating_characteristics

        g = (
            self.threshold
            if threshold == "calibrated"
            else self.rule.threshold
            if threshold == "rule"
            else real_number(threshold, "threshold")
        )
        if not 0 < g < 1:
            raise ValueError(f"threshold must be in (0, 1), got {g!r}")
        eff = np.atleast_1d(np.asarray(effects, dtype=float))
        if eff.ndim != 1 or eff.size == 0 or not np.all(np.isfinite(eff)):
            raise ValueError(f"effects must be one or more finite jumps, got {effects!r}")
        eff = np.unique(eff)
        design = JumpDetectionDesign(
            self.rule.with_threshold(g), self.null_model, self.enrolment, sequential
        )
        engine.setdefault("progress", False)
        oc = operating_characteristics(
            design, {"effect": eff}, n_trials=n_series, rng=rng, **engine
        )
        out = oc.outcomes
        assert out is not None
        rows = []
        for label, e in zip(oc.scenarios.labels, eff, strict=True):
            part = out[out["scenario"] == label]
            succ = part["success"].to_numpy(dtype=float)
            p = float(succ.mean())
            row: dict[str, Any] = {
                "effect": float(e),
                "threshold": g,
                "power": p,
                "power_mcse": math.sqrt(p * (1 - p) / succ.size),
            }
            if sequential:
                d = part["delay"].to_numpy(dtype=float)
                hit = np.isfinite(d)
                pd_ = float(hit.mean())
                row["p_detected"] = pd_
                row["p_detected_mcse"] = math.sqrt(pd_ * (1 - pd_) / d.size)
                k = int(hit.sum())
                row["mean_delay"] = float(d[hit].mean()) if k else math.nan
                row["mean_delay_mcse"] = (
                    float(d[hit].std(ddof=1) / math.sqrt(k)) if k > 1 else math.nan
                )
                row["median_delay"] = float(np.median(np.where(hit, d, np.inf)))
            row["n_series"] = int(succ.size)
            rows.append(row)
        prov = dict(self.provenance)
        prov["power"] = {
            "seed": oc.provenance.get("seed"),
            "n_series": n_series,
            "threshold": g,
            "sequential": sequential,
        }
        return replace(self, curve=pd.DataFrame(rows), provenance=prov)

    # -- presentation -----------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        """One row: the rule, the false-alarm rate at its threshold (MCSE), the calibrated
        threshold (MCSE, 95% interval) for the target rate."""
        row: dict[str, Any] = {
            "rule": self.rule.describe(),
            "enrolment": "random" if self.enrolment is None else "after a flare",
            "n_series": self.n_series,
            "threshold": self.rule.threshold,
            "false_alarm_rate": self.false_alarm_rate,
            "false_alarm_mcse": self.false_alarm_mcse,
            "target": self.target,
            "calibrated_threshold": self.threshold,
            "calibrated_threshold_mcse": self.threshold_mcse,
            "calibrated_threshold_lower": self.threshold_interval[0],
            "calibrated_threshold_upper": self.threshold_interval[1],
        }
        if self.flare_fraction is not None:
            row["flare_fraction"] = self.flare_fraction
        return pd.DataFrame([row])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description (not the raw statistics)."""

        def clean(v: Any) -> Any:
            return None if isinstance(v, float) and not math.isfinite(v) else v

        curve = (
            None
            if self.curve is None
            else [{k: clean(v) for k, v in r.items()} for r in self.curve.to_dict("records")]
        )
        return {
            "rule": self.rule.to_dict(),
            "null_model": self.null_model.to_dict(),
            "enrolment": None if self.enrolment is None else self.enrolment.to_dict(),
            "n_series": self.n_series,
            "target": self.target,
            "false_alarm_rate": self.false_alarm_rate,
            "false_alarm_mcse": self.false_alarm_mcse,
            "threshold": self.threshold,
            "threshold_mcse": self.threshold_mcse,
            "threshold_interval": list(self.threshold_interval),
            "flare_fraction": self.flare_fraction,
            "curve": curve,
            "provenance": self.provenance,
        }

    def _repr_html_(self) -> str:
        html = "<p><b>False-alarm calibration</b></p>" + self.summary().to_html(
            index=False, float_format="{:.4g}".format
        )
        if self.curve is not None:
            html += "<p>Power and detection delay</p>" + self.curve.to_html(
                index=False, float_format="{:.4g}".format
            )
        return html

    def plot(self, ax: Any = None) -> Any:
        """Null distribution of the statistic with the rule's and the calibrated
        thresholds, and (after :meth:`power`) the power and detection-delay curves."""
        from rdstats.plotting._nof1_calibration import calibration_plot

        return calibration_plot(self, ax=ax)


def calibrate(
    rule: JumpRule,
    null_model: NullModel,
    n_series: int = 10_000,
    enrolment_rule: FlareEnrolment | None = None,
    rng: Any = None,
    target: float = 0.05,
    *,
    effects: Any = None,
    n_series_power: int = 2000,
    **engine: Any,
) -> CalibrationResult:
    """False-alarm rate of a jump-detection rule on simulated patients with no treatment
    effect, and the threshold achieving a target rate.

    Parameters
    ----------
    rule : JumpRule
        The decision rule (detector settings, statistic, threshold).
    null_model : NullModel
        Untreated patients (specified, or :meth:`NullModel.fit` to natural-history data).
    n_series : int
        Simulated null patients.
    enrolment_rule : FlareEnrolment, optional
        Treatment started right after a flare (the physician's fallacy); default: at the
        null model's fixed start visit.
    rng : None, int, SeedSequence or Generator
        Seed; ``None`` draws fresh entropy, recorded in ``provenance``.
    target : float
        Target false-alarm rate.
    effects : array_like, optional
        Also the power / detection-delay curve at these true jumps (:meth:`CalibrationResult.power`,
        on new patients from an independent stream).
    n_series_power : int
        Patients per effect for the curve.
    **engine
        Passed to :func:`~rdstats.simulate.operating_characteristics` (``executor``,
        ``backend``, ``workers``, ``batch_size``, ``progress``).

    Returns
    -------
    CalibrationResult

    Notes
    -----
    The null patients are simulated by :func:`rdstats.simulate.operating_characteristics`
    with :class:`JumpDetectionDesign` at the single scenario ``effect = 0`` (1 for counts),
    so results are reproducible from ``rng`` and independent of the executor. The
    calibrated threshold is the empirical quantile of the null statistics (at most
    ``target * n_series`` null patients fire at it); applied to new null patients its
    false-alarm rate is ``target`` up to Monte Carlo error (``threshold_interval``).

    References
    ----------
    .. [1] Morris TP, White IR, Crowther MJ. Using simulation studies to evaluate
       statistical methods. Stat Med 2019;38:2074-2102.
    .. [2] Senn S. Individual response to treatment: is it a valid assumption? BMJ
       2004;329:966-968 (regression to the mean after selection on a bad value).

    Examples
    --------
    >>> from rdstats.nof1 import calibrate
    >>> from rdstats.nof1 import NullModel
    >>> from rdstats.nof1 import JumpRule
    >>> null = NullModel(n_visits=20, rho=0.6)
    >>> res = calibrate(JumpRule(ar1=False, mcid=0.5), null, n_series=2000, rng=1)
    >>> round(res.false_alarm_rate, 3), round(res.threshold, 3)
    (0.041, 0.922)
    """
    from rdstats.simulate import operating_characteristics
    from rdstats.simulate._streams import root_seed

    if isinstance(n_series, bool) or not isinstance(n_series, (int, np.integer)) or n_series < 20:
        raise ValueError(f"n_series must be an integer of at least 20, got {n_series!r}")
    t = real_number(target, "target")
    if not 0 < t < 0.5:
        raise ValueError(f"target must be a false-alarm rate in (0, 0.5), got {target!r}")
    design = JumpDetectionDesign(rule, null_model, enrolment_rule)
    root = root_seed(rng)
    seeds = root.spawn(2)
    engine.setdefault("progress", False)
    oc = operating_characteristics(
        design, {"effect": [design.null_effect]}, n_trials=int(n_series), rng=seeds[0], **engine
    )
    out = oc.outcomes
    assert out is not None
    values = out["statistic"].to_numpy(dtype=float).copy()
    p = float(np.mean(out["success"].to_numpy(dtype=bool)))
    thr, mcse, interval = _threshold(values, t, rule.fires_above)
    flare = float(np.mean(out["flared"].to_numpy(dtype=bool))) if "flared" in out else None
    from rdstats.simulate._streams import seed_record

    prov = provenance(
        {"n_series": int(n_series), "target": t, "design": design.to_dict()},
        seed_record(root),
    )
    prov["engine"] = {k: v for k, v in oc.provenance.items() if k in ("seed", "executor")}
    res = CalibrationResult(
        rule=rule,
        null_model=null_model,
        enrolment=enrolment_rule,
        target=t,
        statistics=readonly(values),
        false_alarm_rate=p,
        false_alarm_mcse=math.sqrt(p * (1 - p) / values.size),
        threshold=thr,
        threshold_mcse=mcse,
        threshold_interval=interval,
        flare_fraction=flare,
        provenance=prov,
    )
    if effects is not None:
        res = res.power(effects, n_series=n_series_power, rng=seeds[1], **engine)
    return res
