"""Time-to-event outcomes in matched or weighted samples: weighted Kaplan-Meier curves,
weighted Cox regression with robust (optionally clustered) standard errors (the log-rank
test is in ``_logrank``, the restricted-mean-survival-time difference in ``_rmst``).

The estimators are lifelines' (``KaplanMeierFitter`` with ``weights``, ``CoxPHFitter``
with ``weights_col`` and ``robust=True``, ``logrank_test`` with ``weights_A/B``); this
module validates the data, passes the weights and packages the results.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from rdstats._provenance import provenance
from rdstats.external._data import check_frame, covariate_matrix, treatment_indicator
from rdstats.external._effects import check_groups, resolve_cluster, resolve_weights

__all__ = [
    "CoxEstimate",
    "WeightedKM",
    "check_events",
    "quiet",
    "survival_data",
    "weighted_cox",
    "weighted_km",
]

_GROUPS = ((1, "treated"), (0, "control"))


@contextmanager
def quiet() -> Iterator[None]:
    """Silence lifelines' StatisticalWarning about non-integer weights: the caveat it
    states (naive variances) is documented here and the robust / bootstrap variances are
    the ones reported."""
    from lifelines.exceptions import StatisticalWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        yield


def survival_data(
    data: Any, time: str, event: str, treatment: str, weights: Any
) -> tuple[pd.DataFrame, NDArray[np.float64], NDArray[np.int64], NDArray[np.int64], Any]:
    data = check_frame(data)
    t = treatment_indicator(data, treatment)
    for name, col in (("time", time), ("event", event)):
        if col not in data.columns:
            raise ValueError(f"{name}={col!r} is not a column of the data")
    tm = pd.to_numeric(data[time], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(tm) | (tm <= 0)
    if bad.any():
        rows = data.index[bad][:5].tolist()
        raise ValueError(
            f"time column {time!r} must be finite and > 0; {int(bad.sum())} rows are not "
            f"(rows {rows}, values {data[time][bad].head(5).tolist()})"
        )
    ev_raw = data[event]
    ok = ev_raw.isin([0, 1]).to_numpy()
    if not ok.all():
        raise ValueError(
            f"event column {event!r} must be 0/1 (1 = event); got values "
            f"{sorted(map(str, pd.unique(ev_raw[~ok])))[:10]}"
        )
    ev = ev_raw.astype(int).to_numpy().astype(np.int64)
    w = resolve_weights(data, weights)
    check_groups(t, w)
    return data, tm, ev, t, w


def check_events(ev: NDArray[Any], t: NDArray[Any], event: str, treatment: str) -> None:
    """A clear error when there are no events, or an arm has none: the Cox partial
    likelihood is then flat or monotone (its maximum is at a hazard ratio of 0 or
    infinity), so the hazard ratio is not estimable."""
    if not np.any(ev == 1):
        raise ValueError(
            f"event column {event!r} has no events (1s) among the rows with positive weight: "
            "the hazard ratio is not estimable"
        )
    for g, name in _GROUPS:
        if not np.any(ev[t == g] == 1):
            raise ValueError(
                f"event column {event!r} has no events in the {name} group ({treatment!r} == "
                f"{g}): the Cox partial likelihood is monotone and the hazard ratio is not "
                "estimable (its estimate tends to 0 or infinity); report the event counts, "
                "or compare restricted mean survival times (rmst_difference)"
            )


@dataclass(frozen=True)
class WeightedKM:
    """Per-group weighted Kaplan-Meier fits (see :func:`weighted_km`).

    ``fits`` maps ``"treated"`` and ``"control"`` to lifelines ``KaplanMeierFitter``.
    """

    fits: dict[str, Any]
    level: float
    provenance: dict[str, Any] = field(repr=False, compare=False)

    def survival_at(self, times: Any) -> pd.DataFrame:
        """Survival probability of each group at ``times`` (step function, right-continuous)."""
        tt = np.atleast_1d(np.asarray(times, dtype=float))
        return pd.DataFrame(
            {
                g: np.asarray(f.survival_function_at_times(tt), dtype=float)
                for g, f in self.fits.items()
            },
            index=pd.Index(tt, name="time"),
        )

    def summary(self) -> pd.DataFrame:
        """Survival tables of both groups: time, survival and pointwise CI."""
        rows = []
        for g, f in self.fits.items():
            sf = f.survival_function_.iloc[:, 0]
            ci = f.confidence_interval_survival_function_
            rows.append(
                pd.DataFrame(
                    {
                        "group": g,
                        "time": sf.index.to_numpy(dtype=float),
                        "survival": sf.to_numpy(dtype=float),
                        "ci_lower": ci.iloc[:, 0].to_numpy(dtype=float),
                        "ci_upper": ci.iloc[:, 1].to_numpy(dtype=float),
                    }
                )
            )
        return pd.concat(rows, ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description (the survival tables as lists)."""
        table = self.summary()
        return {
            "level": self.level,
            "curves": {
                g: {c: table.loc[table.group == g, c].tolist() for c in table.columns[1:]}
                for g in self.fits
            },
            "provenance": dict(self.provenance),
        }

    def _repr_html_(self) -> str:
        med = {g: f.median_survival_time_ for g, f in self.fits.items()}
        return (
            "<p><b>Weighted Kaplan-Meier</b>, median survival "
            + ", ".join(f"{g} {m:.4g}" for g, m in med.items())
            + "</p>"
        )

    def plot(self, ax: Any = None, ci: bool = True, **kwargs: Any) -> Any:
        """Weighted Kaplan-Meier curves of both groups."""
        from rdstats.plotting._external_survival import plot_weighted_km

        return plot_weighted_km(self, ax=ax, ci=ci, **kwargs)


def weighted_km(
    data: pd.DataFrame,
    time: str,
    event: str,
    treatment: str,
    weights: Any = None,
    *,
    level: float = 0.95,
) -> WeightedKM:
    """Weighted Kaplan-Meier curves of the treated and control groups.

    Parameters
    ----------
    data : DataFrame
        One row per patient.
    time, event, treatment : str
        Follow-up time (> 0), event indicator (1 = event, 0 = censored), binary treatment.
    weights : str or array, optional
        Matching or balancing weights (finite, >= 0); passed to lifelines.
    level : float
        Level of the pointwise confidence bands (lifelines' Greenwood-type intervals;
        with non-integer weights they are approximate).

    Returns
    -------
    WeightedKM

    References
    ----------
    Xie J, Liu C (2005). Adjusted Kaplan-Meier estimator and log-rank test with inverse
    probability of treatment weighting for survival data. Stat Med 24(20):3089-3110.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"t": [1, 1, 1, 0, 0, 0], "time": [2.0, 3, 5, 1, 2, 4],
    ...                    "event": [1, 0, 1, 1, 1, 0]})
    >>> km = weighted_km(df, "time", "event", "t")
    >>> km.survival_at([2.5]).round(3).to_dict("list")
    {'treated': [0.667], 'control': [0.333]}
    """
    from lifelines import KaplanMeierFitter

    data, tm, ev, t, w = survival_data(data, time, event, treatment, weights)
    if not 0 < float(level) < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    fits = {}
    for g, label in _GROUPS:
        s = (t == g) & (w > 0)
        with quiet():
            fits[label] = KaplanMeierFitter(alpha=1 - float(level)).fit(
                tm[s], ev[s], weights=w[s], label=label
            )
    return WeightedKM(
        fits=fits,
        level=float(level),
        provenance=provenance(
            arguments={"time": time, "event": event, "treatment": treatment, "level": level}
        ),
    )


@dataclass(frozen=True)
class CoxEstimate:
    """Hazard ratio of treatment from a weighted Cox model (see :func:`weighted_cox`).

    ``se`` is the robust standard error of the log hazard ratio.
    """

    hazard_ratio: float
    log_hr: float
    se: float
    ci_lower: float
    ci_upper: float
    p_value: float
    level: float
    n: int
    n_events: int
    table: pd.DataFrame = field(repr=False)
    provenance: dict[str, Any] = field(repr=False, compare=False)

    def summary(self) -> pd.DataFrame:
        """Coefficients of all terms (treatment first): log HR, HR, robust SE, CI, p."""
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {
            "hazard_ratio": self.hazard_ratio,
            "log_hr": self.log_hr,
            "se": self.se,
            "ci_lower": self.ci_lower,
            "ci_upper": self.ci_upper,
            "p_value": self.p_value,
            "level": self.level,
            "n": self.n,
            "n_events": self.n_events,
            "table": self.table.to_dict("records"),
            "provenance": dict(self.provenance),
        }

    def _repr_html_(self) -> str:
        return (
            f"<p><b>Weighted Cox</b>: HR {self.hazard_ratio:.4g} ({self.level:.0%} CI "
            f"{self.ci_lower:.4g} to {self.ci_upper:.4g}), robust SE {self.se:.4g}</p>"
            + self.table.to_html(index=False)
        )


def weighted_cox(
    data: pd.DataFrame,
    time: str,
    event: str,
    treatment: str,
    weights: Any = None,
    cluster: Any = None,
    covariates: Any = None,
    *,
    level: float = 0.95,
) -> CoxEstimate:
    """Weighted Cox proportional-hazards model with robust standard errors.

    Fitted by lifelines' ``CoxPHFitter`` (Efron ties) with ``weights_col`` and
    ``robust=True`` (the sandwich of Lin and Wei 1989), clustered by ``cluster``
    (``cluster_col``) when given; equivalent to R's
    ``coxph(Surv(time, event) ~ treatment, weights = w, robust = TRUE)`` (with
    ``cluster(subclass)``).

    Parameters
    ----------
    data : DataFrame
    time, event, treatment : str
        Follow-up time (> 0), event indicator (0/1), binary treatment.
    weights : str or array, optional
        Matching or balancing weights (finite, >= 0); rows of weight 0 are left out.
    cluster : str or array, optional
        Matched-set labels for cluster-robust standard errors.
    covariates : str or list of str, optional
        Additional adjustment covariates (categoricals as indicators).
    level : float
        Confidence level (normal intervals on the log scale).

    Returns
    -------
    CoxEstimate

    Raises
    ------
    ValueError
        On invalid data; when there are no events or an arm has none (monotone
        likelihood: the hazard ratio is not estimable); when lifelines' Newton-Raphson
        does not converge (its ConvergenceWarning or ConvergenceError, as from a
        covariate that separates events from non-events).

    References
    ----------
    Lin DY, Wei LJ (1989). The robust inference for the Cox proportional hazards model.
    JASA 84(408):1074-1078.
    Austin PC (2013). The performance of different propensity score methods for
    estimating marginal hazard ratios. Stat Med 32(16):2837-2849.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"t": [1, 1, 1, 1, 0, 0, 0, 0], "time": [2.0, 3, 5, 6, 1, 2, 4, 3],
    ...                    "event": [1, 0, 1, 1, 1, 1, 0, 1]})
    >>> round(weighted_cox(df, "time", "event", "t").hazard_ratio, 3)  # R coxph: 0.256
    0.256
    """
    from lifelines import CoxPHFitter

    data, tm, ev, t, w = survival_data(data, time, event, treatment, weights)
    if not 0 < float(level) < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    frame = pd.DataFrame({"_time": tm, "_event": ev, treatment: t.astype(float), "_w": w})
    if covariates is not None:
        x = covariate_matrix(data, covariates, drop_first=True)
        clash = [c for c in x.columns if c in frame.columns]
        if clash:
            raise ValueError(f"covariates {clash} clash with the treatment or internal columns")
        frame = pd.concat([frame, x.reset_index(drop=True)], axis=1)
    c = resolve_cluster(data, cluster)
    if c is not None:
        frame["_cluster"] = c
    frame = frame[frame["_w"] > 0].reset_index(drop=True)
    check_events(frame["_event"].to_numpy(), frame[treatment].to_numpy(), event, treatment)
    # The HR and its robust SE do not depend on the scale of the weights, but lifelines'
    # stopping rule does (it looks at the size of the log-likelihood): mean-one weights
    # and a tight tolerance make the fit reproduce coxph whatever the scale.
    frame["_w"] = frame["_w"] / frame["_w"].mean()
    cph = CoxPHFitter(alpha=1 - float(level))
    from lifelines.exceptions import ConvergenceError, ConvergenceWarning

    try:
        with quiet(), warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            cph.fit(
                frame,
                duration_col="_time",
                event_col="_event",
                weights_col="_w",
                robust=True,
                cluster_col="_cluster" if c is not None else None,
                fit_options={"precision": 1e-10},
            )
    except (ConvergenceWarning, ConvergenceError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(
            "the weighted Cox model did not converge (lifelines: "
            f"{first}); a covariate or the treatment {treatment!r} may (almost) determine "
            f"who has an event in {event!r} (monotone likelihood), or covariates are "
            "collinear: the hazard ratios are not estimable"
        ) from exc
    z = float(stats.norm.ppf(0.5 + float(level) / 2))
    params = cph.params_
    ses = cph.standard_errors_
    b = float(params[treatment])
    se = float(ses[treatment])
    zs = params / ses
    table = pd.DataFrame(
        {
            "term": list(params.index),
            "log_hr": params.to_numpy(dtype=float),
            "hazard_ratio": np.exp(params.to_numpy(dtype=float)),
            "robust_se": ses.to_numpy(dtype=float),
            "ci_lower": np.exp(params.to_numpy(dtype=float) - z * ses.to_numpy(dtype=float)),
            "ci_upper": np.exp(params.to_numpy(dtype=float) + z * ses.to_numpy(dtype=float)),
            "p_value": 2 * stats.norm.sf(np.abs(zs.to_numpy(dtype=float))),
        }
    )
    return CoxEstimate(
        hazard_ratio=float(np.exp(b)),
        log_hr=b,
        se=se,
        ci_lower=float(np.exp(b - z * se)),
        ci_upper=float(np.exp(b + z * se)),
        p_value=float(2 * stats.norm.sf(abs(b / se))),
        level=float(level),
        n=len(frame),
        n_events=int(frame["_event"].sum()),
        table=table,
        provenance=provenance(
            arguments={
                "time": time,
                "event": event,
                "treatment": treatment,
                "covariates": covariates,
                "cluster": cluster if isinstance(cluster, str) else cluster is not None,
                "level": level,
            }
        ),
    )
