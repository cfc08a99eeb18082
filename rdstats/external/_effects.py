"""Treatment effects on continuous and binary outcomes in matched or weighted samples.

The outcome model ``outcome ~ treatment`` is fitted by weighted least squares (identity
link) or weighted logistic regression (statsmodels GLM with ``var_weights``); with a
binary treatment as the only regressor the fitted group means are the weighted group
means. Standard errors come from the sandwich (HC1) covariance, clustered by matched set
when ``cluster`` is given (CR1, as ``sandwich::vcovCL``), which is what MatchIt's
vignette recommends for outcome analyses after matching or weighting (Greifer 2023).
Risk difference and risk ratio are functions of the two fitted means, with delta-method
standard errors; the odds ratio is the exponentiated treatment coefficient. The
bootstrap alternative resamples rows (or whole clusters) with their weights attached and
reports a percentile interval.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from rdstats._provenance import provenance
from rdstats.external._data import check_frame, check_weights, is_binary, treatment_indicator

__all__ = ["EffectEstimate", "estimate_effect", "resolve_cluster", "resolve_weights"]

Measure = Literal[
    "mean_difference", "risk_difference", "risk_ratio", "odds_ratio", "MD", "RD", "RR", "OR"
]
_MEASURES = ("mean_difference", "risk_difference", "risk_ratio", "odds_ratio")
_SHORT = {"MD": "mean_difference", "RD": "risk_difference", "RR": "risk_ratio", "OR": "odds_ratio"}
_N_PARAMS = 2  # intercept and treatment
_CIS = ("robust", "model", "bootstrap")


def _column_or_array(data: pd.DataFrame, value: Any, name: str) -> NDArray[Any]:
    if isinstance(value, str):
        if value not in data.columns:
            raise ValueError(
                f"{name}={value!r} is not a column of the data; columns: {list(data.columns)}"
            )
        return np.asarray(data[value].to_numpy())
    arr = np.asarray(value)
    if arr.ndim != 1 or len(arr) != len(data):
        raise ValueError(
            f"{name} must be a column name or a 1-d array with one value per row "
            f"({len(data)}), got shape {arr.shape}"
        )
    return arr


def resolve_weights(data: pd.DataFrame, weights: Any) -> NDArray[np.float64]:
    """Weights (a column name or an array) as a float array, all ones when ``None``:
    finite and non-negative."""
    if weights is None:
        return np.ones(len(data))
    return check_weights(_column_or_array(data, weights, "weights"), len(data))


def resolve_cluster(data: pd.DataFrame, cluster: Any) -> NDArray[np.int64] | None:
    """Cluster labels as integer codes 0..G-1 (``None`` stays ``None``)."""
    if cluster is None:
        return None
    raw = pd.Series(_column_or_array(data, cluster, "cluster"))
    if raw.isna().any():
        raise ValueError(
            f"cluster has {int(raw.isna().sum())} missing labels; give every analysed row a "
            "matched set (drop unmatched rows or give them weight 0 and their own label)"
        )
    codes, _ = pd.factorize(raw)
    return np.asarray(codes, dtype=np.int64)


def check_groups(t: NDArray[np.int64], w: NDArray[np.float64]) -> None:
    """Both groups must carry positive total weight."""
    for g, label in ((1, "treated"), (0, "control")):
        if not w[t == g].sum() > 0:
            raise ValueError(f"weights sum to zero in the {label} group (treatment == {g})")


def ess(w: NDArray[np.float64]) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2."""
    return float(w.sum() ** 2 / np.sum(w**2))


@dataclass(frozen=True)
class EffectEstimate:
    """A treatment effect in a matched or weighted sample (see :func:`estimate_effect`).

    ``se`` is on the scale of the estimate for differences and on the log scale for the
    risk and odds ratios (``ci_lower``/``ci_upper`` are on the ratio scale). For a
    bootstrap interval ``se`` is the bootstrap standard deviation (log scale for ratios),
    ``n_boot`` the number of resamples drawn and ``n_boot_used`` the number with a finite
    estimate, from which the SD and the percentile interval are computed.
    """

    measure: str
    estimate: float
    se: float
    ci_lower: float
    ci_upper: float
    level: float
    ci: str
    mean_treated: float
    mean_control: float
    n_treated: int
    n_control: int
    ess_treated: float
    ess_control: float
    n_clusters: int | None
    n_boot: int | None
    provenance: dict[str, Any] = field(repr=False, compare=False)
    n_boot_used: int | None = None

    def summary(self) -> pd.DataFrame:
        """One-row table of the estimate, its SE and CI, group means and sizes."""
        return pd.DataFrame([{k: v for k, v in self.to_dict().items() if k != "provenance"}])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {
            "measure": self.measure,
            "estimate": self.estimate,
            "se": self.se,
            "ci_lower": self.ci_lower,
            "ci_upper": self.ci_upper,
            "level": self.level,
            "ci": self.ci,
            "mean_treated": self.mean_treated,
            "mean_control": self.mean_control,
            "n_treated": self.n_treated,
            "n_control": self.n_control,
            "ess_treated": self.ess_treated,
            "ess_control": self.ess_control,
            "n_clusters": self.n_clusters,
            "n_boot": self.n_boot,
            "n_boot_used": self.n_boot_used,
            "provenance": dict(self.provenance),
        }

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>{self.measure.replace('_', ' ')}</b> {self.estimate:.4g} "
            f"({self.level:.0%} CI {self.ci_lower:.4g} to {self.ci_upper:.4g}, {self.ci})</p>"
        )
        return head + self.summary().to_html(index=False)


def _sandwich(
    model: Any, params: NDArray[np.float64], cluster: NDArray[np.int64] | None
) -> NDArray[np.float64]:
    """HC1 / CR1 sandwich covariance from statsmodels' per-row scores and Hessian."""
    scores = np.asarray(model.score_obs(params))
    bread = np.linalg.inv(-np.asarray(model.hessian(params)))
    n, k = scores.shape
    if cluster is None:
        meat = scores.T @ scores
        adj = n / (n - k)
    else:
        g = int(cluster.max()) + 1
        if g < 2:
            raise ValueError("cluster must have at least two distinct matched sets")
        sums = np.zeros((g, k))
        np.add.at(sums, cluster, scores)
        meat = sums.T @ sums
        adj = g / (g - 1) * (n - 1) / (n - k)
    return np.asarray(adj * bread @ meat @ bread)


def _from_means(measure: str, p1: NDArray[Any], p0: NDArray[Any]) -> NDArray[np.float64]:
    """Estimate (log scale for ratios) from group means; vectorised for the bootstrap."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure in ("mean_difference", "risk_difference"):
            return np.asarray(p1 - p0, dtype=float)
        if measure == "risk_ratio":
            return np.asarray(np.log(p1) - np.log(p0), dtype=float)
        return np.asarray(np.log(p1 / (1 - p1)) - np.log(p0 / (1 - p0)), dtype=float)


def _model_se(
    y: NDArray[np.float64],
    t: NDArray[np.int64],
    w: NDArray[np.float64],
    cluster: NDArray[np.int64] | None,
    measure: str,
    ci: str,
) -> float:
    import statsmodels.api as sm

    x = np.column_stack([np.ones(len(y)), t.astype(float)])
    family = sm.families.Gaussian() if measure == "mean_difference" else sm.families.Binomial()
    model = sm.GLM(y, x, family=family, var_weights=w)
    fit = model.fit()
    params = np.asarray(fit.params, dtype=float)
    if ci == "model":
        cov = np.asarray(fit.cov_params())
    else:
        cov = _sandwich(model, params, cluster)
    if measure in ("mean_difference", "odds_ratio"):
        grad = np.array([0.0, 1.0])
    else:
        p0 = 1 / (1 + np.exp(-params[0]))
        p1 = 1 / (1 + np.exp(-params.sum()))
        if measure == "risk_difference":
            grad = np.array([p1 * (1 - p1) - p0 * (1 - p0), p1 * (1 - p1)])
        else:
            grad = np.array([(1 - p1) - (1 - p0), 1 - p1])
    return float(np.sqrt(grad @ cov @ grad))


def _bootstrap(
    y: NDArray[np.float64],
    t: NDArray[np.int64],
    w: NDArray[np.float64],
    cluster: NDArray[np.int64] | None,
    measure: str,
    n_boot: int,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Bootstrap replicates of the estimate: rows (or clusters) drawn with replacement."""
    units = cluster if cluster is not None else np.arange(len(y))
    g = int(units.max()) + 1
    parts = np.column_stack([w * t, w * t * y, w * (1 - t), w * (1 - t) * y])
    sums = np.zeros((g, 4))
    np.add.at(sums, units, parts)
    out = np.empty(0)
    while out.size < n_boot:
        counts = rng.multinomial(g, np.full(g, 1.0 / g), size=n_boot - out.size)
        s = counts @ sums
        ok = (s[:, 0] > 0) & (s[:, 2] > 0)  # both groups present in the resample
        est = _from_means(measure, s[ok, 1] / s[ok, 0], s[ok, 3] / s[ok, 2])
        out = np.concatenate([out, est])
    return out


def _measure(measure: Any) -> str:
    """The measure's long name; the short spellings "MD", "RD", "RR", "OR" (any case)
    are accepted too."""
    if isinstance(measure, str):
        m = _SHORT.get(measure.strip().upper(), measure.strip().lower())
        if m in _MEASURES:
            return m
    raise ValueError(
        f"measure must be one of {list(_MEASURES)} (or {list(_SHORT)}), got {measure!r}"
    )


def _check_size(t: NDArray[np.int64], cluster: NDArray[np.int64] | None) -> None:
    """More analysed rows than model parameters (HC1 divides by n - k), and more
    matched sets than parameters for the cluster-robust (CR1) covariance."""
    n = len(t)
    if n <= _N_PARAMS:
        raise ValueError(
            f"estimate_effect needs more patients with positive weight than the "
            f"{_N_PARAMS} model parameters (intercept and treatment), got {n} "
            f"({int((t == 1).sum())} treated, {int((t == 0).sum())} control)"
        )
    if cluster is not None:
        g = int(cluster.max()) + 1
        if g <= _N_PARAMS:
            raise ValueError(
                f"cluster must have more matched sets (with positive weight) than the "
                f"{_N_PARAMS} model parameters, got {g}; give cluster=None or more sets"
            )


def _check_replicates(usable: int, n_boot: int, measure: str) -> None:
    """Warn when bootstrap replicates had to be dropped, fail when half or more did."""
    dropped = n_boot - usable
    if usable < 0.5 * n_boot or usable < 2:
        raise ValueError(
            f"only {usable} of {n_boot} bootstrap replicates give a finite {measure} (the "
            "others resample no events or no non-events in a group); the bootstrap "
            "interval is not reliable: use ci='robust' or a different measure"
        )
    if dropped:
        warnings.warn(
            f"{dropped} of {n_boot} bootstrap replicates gave a non-finite {measure} (a "
            f"resample without events or non-events in a group) and were left out; the "
            f"interval uses the other {usable} (n_boot_used)",
            UserWarning,
            stacklevel=3,
        )


def estimate_effect(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    *,
    weights: Any = None,
    cluster: Any = None,
    measure: Measure = "mean_difference",
    ci: Literal["robust", "model", "bootstrap"] = "robust",
    level: float = 0.95,
    n_boot: int = 2000,
    rng: np.random.Generator | int | None = None,
) -> EffectEstimate:
    """Treatment effect on a continuous or binary outcome in a matched or weighted sample.

    Parameters
    ----------
    data : DataFrame
        One row per patient.
    outcome, treatment : str
        Outcome column (binary 0/1 for the risk measures) and binary treatment column.
    weights : str or array, optional
        Matching or balancing weights (column name or one value per row); finite, >= 0,
        positive total in each group. Rows of weight 0 (unmatched units) are left out.
    cluster : str or array, optional
        Matched-set (subclass) labels for cluster-robust standard errors and the cluster
        bootstrap.
    measure : {"mean_difference", "risk_difference", "risk_ratio", "odds_ratio"}
        Treated minus (or over) control, from the weighted group means; the short
        spellings ``"MD"``, ``"RD"``, ``"RR"`` and ``"OR"`` are accepted too.
    ci : {"robust", "model", "bootstrap"}
        ``"robust"``: sandwich HC1 (CR1 with ``cluster``) and normal quantiles, log scale
        for ratios. ``"model"``: the model-based (classical) covariance, valid only
        without weights; unweighted with the mean difference this is the pooled-variance
        OLS standard error. ``"bootstrap"``: percentile interval from ``n_boot``
        resamples of rows (or clusters), weights kept attached; a resample without one
        of the groups is redrawn, one with a non-finite estimate (a ratio with no events
        in a group) is left out with a warning (``n_boot_used`` counts the rest), and
        fewer than half usable is an error.
    level : float
        Confidence level.
    n_boot : int
        Bootstrap resamples (``ci="bootstrap"`` only).
    rng : int, SeedSequence or Generator, optional
        Random source for the bootstrap; ``None`` draws fresh entropy, recorded in
        ``provenance["seed"]`` (as ``{"entropy": ..., "spawn_key": ...}``) so the
        interval can be reproduced.

    Returns
    -------
    EffectEstimate

    Raises
    ------
    ValueError
        On invalid input, and when there are no more patients with positive weight than
        the two model parameters (or, with ``cluster``, no more matched sets), since the
        sandwich's small-sample factor ``n / (n - k)`` is then undefined.

    References
    ----------
    Greifer N (2023). Estimating effects after matching. MatchIt vignette.
    Zeileis A, Köll S, Graham N (2020). Various versatile variances: an object-oriented
    implementation of clustered covariances in R. J Stat Softw 95(1).
    Austin PC, Small DS (2014). The use of bootstrapping when using propensity-score
    matching without replacement. Stat Med 33(24):4306-4319.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"t": [1, 1, 1, 0, 0, 0], "y": [5.0, 6.0, 7.0, 4.0, 5.0, 3.0]})
    >>> est = estimate_effect(df, "y", "t", ci="model")
    >>> round(est.estimate, 3), round(est.se, 3)
    (2.0, 0.816)
    """
    data = check_frame(data)
    measure_name = _measure(measure)
    if ci not in _CIS:
        raise ValueError(f"ci must be one of {_CIS}, got {ci!r}")
    level = float(level)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    t_all = treatment_indicator(data, treatment)
    if outcome not in data.columns:
        raise ValueError(f"outcome {outcome!r} is not a column of the data")
    ycol = data[outcome]
    if not pd.api.types.is_numeric_dtype(ycol) or ycol.isna().any():
        raise ValueError(f"outcome {outcome!r} must be numeric without missing values")
    y_all = ycol.to_numpy(dtype=float)
    if not np.all(np.isfinite(y_all)):
        raise ValueError(f"outcome {outcome!r} has non-finite values")
    if measure_name != "mean_difference" and not is_binary(ycol):
        raise ValueError(
            f"measure={measure_name!r} needs a binary 0/1 outcome; {outcome!r} has values "
            f"{sorted(pd.unique(ycol).tolist())[:10]}"
        )
    w_all = resolve_weights(data, weights)
    c_all = resolve_cluster(data, cluster)
    check_groups(t_all, w_all)
    if ci == "model" and (weights is not None or cluster is not None):
        raise ValueError(
            "ci='model' is valid only without weights and clusters; use 'robust' or 'bootstrap'"
        )
    keep = w_all > 0
    y, t, w = y_all[keep], t_all[keep], w_all[keep]
    c = None if c_all is None else np.unique(c_all[keep], return_inverse=True)[1]
    _check_size(t, c)
    m1 = float(np.average(y[t == 1], weights=w[t == 1]))
    m0 = float(np.average(y[t == 0], weights=w[t == 0]))
    if measure_name != "mean_difference" and (min(m1, m0) == 0 or max(m1, m0) == 1):
        raise ValueError(
            f"measure={measure_name!r}: outcome {outcome!r} has no events or no non-events in a "
            f"group (weighted risks {m1:.3g} treated, {m0:.3g} control); the ratio or its "
            "standard error is not finite"
        )
    est_link = float(_from_means(measure_name, np.array(m1), np.array(m0)))
    z = float(stats.norm.ppf(0.5 + level / 2))
    boots = None
    seed: Any = None
    if ci == "bootstrap":
        if int(n_boot) < 10:
            raise ValueError(f"n_boot must be >= 10, got {n_boot!r}")
        n_boot = int(n_boot)
        from rdstats.simulate._streams import root_seed, seed_record

        root = root_seed(rng)
        seed = seed_record(root)
        boots = _bootstrap(y, t, w, c, measure_name, n_boot, np.random.default_rng(root))
        fin = boots[np.isfinite(boots)]
        _check_replicates(fin.size, n_boot, measure_name)
        se = float(np.std(fin, ddof=1))
        lo, hi = np.quantile(fin, [(1 - level) / 2, (1 + level) / 2])
    else:
        se = _model_se(y, t, w, c, measure_name, ci)
        lo, hi = est_link - z * se, est_link + z * se
    ratio = measure_name in ("risk_ratio", "odds_ratio")
    tf = np.exp if ratio else (lambda v: v)
    return EffectEstimate(
        measure=measure_name,
        estimate=float(tf(est_link)),
        se=se,
        ci_lower=float(tf(lo)),
        ci_upper=float(tf(hi)),
        level=level,
        ci=ci,
        mean_treated=m1,
        mean_control=m0,
        n_treated=int((t == 1).sum()),
        n_control=int((t == 0).sum()),
        ess_treated=ess(w[t == 1]),
        ess_control=ess(w[t == 0]),
        n_clusters=None if c is None else int(c.max()) + 1,
        n_boot=None if boots is None else n_boot,
        n_boot_used=None if boots is None else int(np.isfinite(boots).sum()),
        provenance=provenance(
            arguments={
                "outcome": outcome,
                "treatment": treatment,
                "weights": weights if isinstance(weights, str) else weights is not None,
                "cluster": cluster if isinstance(cluster, str) else cluster is not None,
                "measure": measure_name,
                "ci": ci,
                "level": level,
                "n_boot": n_boot if ci == "bootstrap" else None,
            },
            seed=seed,
        ),
    )
