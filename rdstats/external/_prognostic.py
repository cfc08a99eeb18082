"""Prognostic-score adjustment (PROCOVA-style): a prognostic model fitted on historical /
natural-history data predicts each trial patient's outcome under control from baseline
covariates; the prediction enters the trial's ANCOVA as a covariate.

Under a linear outcome model the ANCOVA estimate of the treatment effect is unbiased
whatever the quality of the prognostic model (the score is a baseline covariate, fixed
before randomisation), and its variance is asymptotically ``(1 - rho^2)`` times that of the
unadjusted difference in means, where ``rho`` is the within-arm correlation between the
prognostic score and the outcome (Schuler et al. 2022). statsmodels is imported only inside
the functions.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from rdstats._provenance import provenance
from rdstats._validation import readonly, real_number
from rdstats.external._data import check_frame, covariate_matrix, treatment_indicator

__all__ = [
    "ProcovaResult",
    "PrognosticModel",
    "procova",
    "procova_sample_size",
    "prognostic_model",
]

_MODELS = ("linear", "logistic")


def _covariate_list(covariates: Sequence[str] | str) -> list[str]:
    return [covariates] if isinstance(covariates, str) else list(covariates)


def _is_categorical(col: pd.Series) -> bool:
    return not pd.api.types.is_bool_dtype(col) and not pd.api.types.is_numeric_dtype(col)


def _outcome(data: pd.DataFrame, outcome: str, name: str) -> NDArray[np.float64]:
    """The outcome column as finite floats (a clear error for a missing column or NaN)."""
    if not isinstance(outcome, str):
        raise TypeError(f"outcome must be a column name (str), got {outcome!r}")
    if outcome not in data.columns:
        raise ValueError(
            f"outcome {outcome!r} not in the {name}; its columns are {list(data.columns)}"
        )
    col = data[outcome]
    if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
        raise TypeError(f"outcome {outcome!r} in the {name} must be numeric, got {col.dtype}")
    y = col.to_numpy(dtype=float)
    bad = ~np.isfinite(y)
    if bad.any():
        rows = list(data.index[bad][:5])
        raise ValueError(
            f"outcome {outcome!r} in the {name} has {int(bad.sum())} missing or non-finite "
            f"values (rows {rows}{' ...' if bad.sum() > 5 else ''})"
        )
    return y


@dataclasses.dataclass(frozen=True)
class PrognosticModel:
    """A prognostic model fitted on historical (natural-history / real-world) data.

    Attributes
    ----------
    outcome : str
        The outcome column it predicts.
    covariates : tuple of str
        The baseline covariates it uses.
    model : {"linear", "logistic"}
        Linear regression (OLS) or logistic regression (binomial GLM, unpenalised).
    coefficients : DataFrame
        Estimates, standard errors, test statistics and p-values.
    columns : tuple of str
        Names of the model-matrix columns (after the intercept); categorical covariates
        enter as indicators of all but their first level (R's treatment contrasts).
    levels : dict
        The levels of each categorical covariate seen in the historical data.
    n : int
        Number of historical patients.
    fit : object
        The fitted statsmodels results object.
    provenance : dict
        How the result was produced.
    """

    outcome: str
    covariates: tuple[str, ...]
    model: str
    coefficients: pd.DataFrame
    columns: tuple[str, ...]
    levels: dict[str, tuple[Any, ...]]
    n: int
    fit: Any = dataclasses.field(repr=False)
    provenance: dict[str, Any] = dataclasses.field(repr=False)

    def _design(self, data: pd.DataFrame) -> NDArray[np.float64]:
        missing = [c for c in self.covariates if c not in data.columns]
        if missing:
            raise ValueError(
                f"data lacks the prognostic covariates {missing}; its columns are "
                f"{list(data.columns)}"
            )
        sub = data[list(self.covariates)]
        na = sub.isna().sum()
        if na.any():
            where = {c: int(k) for c, k in na.items() if k}
            first = sub.index[sub.isna().any(axis=1)][:5].tolist()
            raise ValueError(
                f"prognostic covariates have missing values: {where} (first rows {first})"
            )
        parts = [np.ones(len(data))]
        for c in self.covariates:
            col = sub[c]
            if c in self.levels:
                levels = self.levels[c]
                unseen = sorted({str(v) for v in pd.unique(col)} - {str(v) for v in levels})
                if unseen:
                    raise ValueError(
                        f"covariate {c!r} has levels {unseen} not seen in the historical data "
                        f"(levels {list(levels)})"
                    )
                parts.extend((col == lev).to_numpy(dtype=float) for lev in levels[1:])
            else:
                if _is_categorical(col):
                    raise TypeError(f"covariate {c!r} was numeric in the historical data")
                v = col.to_numpy(dtype=float)
                if not np.all(np.isfinite(v)):
                    raise ValueError(f"covariate {c!r} has non-finite values")
                parts.append(v)
        return np.column_stack(parts)

    def predict(self, data: pd.DataFrame, *, scale: str = "response") -> NDArray[np.float64]:
        """The prognostic score of each row of ``data``.

        Parameters
        ----------
        data : DataFrame
            New patients (e.g. the trial), with the model's covariate columns.
        scale : {"response", "linear"}
            For a logistic model, the predicted probability (``"response"``) or its logit
            (``"linear"``); the two coincide for a linear model.

        Returns
        -------
        ndarray
            One score per row, in the order of ``data``.
        """
        data = check_frame(data)
        if scale not in ("response", "linear"):
            raise ValueError(f"scale must be 'response' or 'linear', got {scale!r}")
        lp = self._design(data) @ self.coefficients["estimate"].to_numpy(dtype=float)
        if self.model == "logistic" and scale == "response":
            return np.asarray(1.0 / (1.0 + np.exp(-lp)), dtype=float)
        return np.asarray(lp, dtype=float)

    def summary(self) -> pd.DataFrame:
        """The coefficient table."""
        return self.coefficients.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of the model."""
        return {
            "outcome": self.outcome,
            "covariates": list(self.covariates),
            "model": self.model,
            "n": self.n,
            "columns": list(self.columns),
            "levels": {k: [str(v) for v in lv] for k, lv in self.levels.items()},
            "coefficients": {
                str(k): {c: float(v) for c, v in row.items()}
                for k, row in self.coefficients.iterrows()
            },
            "provenance": self.provenance,
        }

    def _repr_html_(self) -> str:
        return (
            f"<b>PrognosticModel</b> ({self.model} regression of {self.outcome!r} on "
            f"{len(self.covariates)} covariates, n = {self.n})<br>"
            + self.coefficients.to_html(float_format="{:.4g}".format)
        )


def prognostic_model(
    historical: pd.DataFrame,
    outcome: str,
    covariates: Sequence[str] | str,
    *,
    model: str = "linear",
) -> PrognosticModel:
    """Fit a prognostic model of the outcome on baseline covariates in historical data.

    Parameters
    ----------
    historical : DataFrame
        Historical control / natural-history patients, one row each.
    outcome : str
        The outcome column (numeric; 0/1 for ``model="logistic"``).
    covariates : sequence of str
        Baseline covariates (categorical columns enter with R's treatment contrasts).
    model : {"linear", "logistic"}
        Ordinary least squares or unpenalised logistic regression (statsmodels).

    Returns
    -------
    PrognosticModel
        Its ``predict(trial)`` gives the prognostic score for :func:`procova`.

    References
    ----------
    Schuler A, Walsh D, Hall D, Walsh J, Fisher C, et al. (2022). Increasing the efficiency
    of randomized trial estimates via linear adjustment for a prognostic score.
    International Journal of Biostatistics 18(2):329-356.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> hist = pd.DataFrame({"x": rng.normal(size=200)})
    >>> hist["y"] = 2.0 + 1.5 * hist.x + rng.normal(size=200)
    >>> pm = prognostic_model(hist, "y", ["x"])
    >>> pm.coefficients.index.tolist()
    ['Intercept', 'x']
    >>> b = pm.summary()["estimate"].to_numpy()
    >>> bool(np.allclose(pm.predict(pd.DataFrame({"x": [0.0, 1.0]})), [b[0], b[0] + b[1]]))
    True
    """
    import statsmodels.api as sm

    historical = check_frame(historical, "historical")
    if model not in _MODELS:
        raise ValueError(f"model must be one of {_MODELS}, got {model!r}")
    y = _outcome(historical, outcome, "historical data")
    covs = _covariate_list(covariates)
    if outcome in covs:
        raise ValueError(f"the outcome {outcome!r} cannot also be a covariate")
    x = covariate_matrix(historical, covs, drop_first=True)
    levels = {
        c: tuple(sorted(pd.unique(historical[c]).tolist(), key=str))
        for c in covs
        if _is_categorical(historical[c])
    }
    exog = np.column_stack([np.ones(len(x)), x.to_numpy(dtype=float)])
    if np.linalg.matrix_rank(exog) < exog.shape[1]:
        raise ValueError(
            f"the covariates {covs} are collinear in the historical data (model matrix of "
            f"rank {np.linalg.matrix_rank(exog)} < {exog.shape[1]} columns)"
        )
    if exog.shape[0] <= exog.shape[1]:
        raise ValueError(
            f"historical data has {exog.shape[0]} rows for {exog.shape[1]} coefficients"
        )
    names = ["Intercept", *map(str, x.columns)]
    if model == "linear":
        res = sm.OLS(y, exog).fit()
    else:
        if not set(np.unique(y).tolist()) <= {0.0, 1.0}:
            raise ValueError(f"outcome {outcome!r} must be 0/1 for model='logistic'")
        res = sm.GLM(y, exog, family=sm.families.Binomial()).fit(maxiter=100, tol=1e-12)
        if not np.all(np.isfinite(res.bse)) or np.max(np.abs(res.fittedvalues - 0.5)) > 0.5 - 1e-9:
            raise ValueError(
                "perfect or quasi-perfect separation in the logistic prognostic model: fitted "
                "probabilities of 0 or 1"
            )
    coef = pd.DataFrame(
        {
            "estimate": np.asarray(res.params),
            "std_error": np.asarray(res.bse),
            "statistic": np.asarray(res.tvalues),
            "p_value": np.asarray(res.pvalues),
        },
        index=names,
    )
    args = {"outcome": outcome, "covariates": covs, "model": model}
    return PrognosticModel(
        outcome=outcome,
        covariates=tuple(covs),
        model=model,
        coefficients=coef,
        columns=tuple(names[1:]),
        levels=levels,
        n=len(historical),
        fit=res,
        provenance=provenance(arguments=args),
    )


@dataclasses.dataclass(frozen=True)
class ProcovaResult:
    """Treatment effect adjusted for a prognostic score, compared with the unadjusted one.

    Attributes
    ----------
    estimate, std_error, ci_lower, ci_upper, p_value : float
        The ANCOVA (prognostic-score-adjusted) treatment effect, its HC1 robust standard
        error, normal-quantile confidence interval and two-sided p-value.
    unadjusted_estimate, unadjusted_std_error, unadjusted_ci_lower, unadjusted_ci_upper,
    unadjusted_p_value : float
        The same for the difference in means (OLS on treatment only, HC1).
    variance_reduction : float
        ``1 - std_error**2 / unadjusted_std_error**2`` (negative when adjusting lost
        precision).
    rho : float
        Pooled within-arm correlation between the prognostic score and the outcome.
    n, n_treated, n_control : int
        Trial sizes.
    patients_saved : float
        ``n * rho**2``: an unadjusted trial of ``n`` patients would reach the precision of
        the ANCOVA with about ``(1 - rho**2) * n`` patients (asymptotic approximation).
    level : float
        Confidence level.
    coefficients : DataFrame
        The full ANCOVA coefficient table (HC1 standard errors).
    score : ndarray
        The prognostic score of each trial patient.
    model : object
        The fitted statsmodels ANCOVA results object.
    provenance : dict
        How the result was produced.
    """

    estimate: float
    std_error: float
    ci_lower: float
    ci_upper: float
    p_value: float
    unadjusted_estimate: float
    unadjusted_std_error: float
    unadjusted_ci_lower: float
    unadjusted_ci_upper: float
    unadjusted_p_value: float
    variance_reduction: float
    rho: float
    n: int
    n_treated: int
    n_control: int
    patients_saved: float
    level: float
    coefficients: pd.DataFrame
    score: NDArray[np.float64] = dataclasses.field(repr=False)
    model: Any = dataclasses.field(repr=False)
    provenance: dict[str, Any] = dataclasses.field(repr=False)

    def summary(self) -> pd.DataFrame:
        """One row per analysis (unadjusted, PROCOVA): estimate, SE, CI and p-value."""
        rows = {
            "unadjusted": [
                self.unadjusted_estimate,
                self.unadjusted_std_error,
                self.unadjusted_ci_lower,
                self.unadjusted_ci_upper,
                self.unadjusted_p_value,
            ],
            "PROCOVA": [self.estimate, self.std_error, self.ci_lower, self.ci_upper, self.p_value],
        }
        return pd.DataFrame.from_dict(
            rows, orient="index", columns=["estimate", "std_error", "ci_lower", "ci_upper", "p"]
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of the result."""
        out: dict[str, Any] = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("coefficients", "score", "model", "provenance")
        }
        out = {k: (int(v) if k.startswith("n") else float(v)) for k, v in out.items()}
        out["coefficients"] = {
            str(k): {c: float(v) for c, v in row.items()} for k, row in self.coefficients.iterrows()
        }
        out["provenance"] = self.provenance
        return out

    def _repr_html_(self) -> str:
        return (
            f"<b>ProcovaResult</b> (n = {self.n}: {self.n_treated} treated, {self.n_control} "
            f"control; rho = {self.rho:.3f}, variance reduction "
            f"{self.variance_reduction:.1%}, patients saved ~ {self.patients_saved:.1f})<br>"
            + self.summary().to_html(float_format="{:.4g}".format)
        )


def _score(
    trial: pd.DataFrame, prognostic: PrognosticModel | str | ArrayLike
) -> NDArray[np.float64]:
    if isinstance(prognostic, PrognosticModel):
        s = prognostic.predict(trial)
    elif isinstance(prognostic, str):
        if prognostic not in trial.columns:
            raise ValueError(
                f"prognostic score column {prognostic!r} not in the trial data; its columns "
                f"are {list(trial.columns)}"
            )
        s = trial[prognostic].to_numpy(dtype=float)
    else:
        s = np.asarray(prognostic, dtype=float)
        if s.shape != (len(trial),):
            raise ValueError(
                f"prognostic score must have one value per trial row ({len(trial)}), got "
                f"shape {s.shape}"
            )
    bad = ~np.isfinite(s)
    if bad.any():
        raise ValueError(
            f"prognostic score has {int(bad.sum())} missing or non-finite values (trial rows "
            f"{list(trial.index[bad][:5])})"
        )
    if np.ptp(s) == 0:
        raise ValueError("prognostic score is constant in the trial; it cannot adjust anything")
    return s


def procova(
    trial: pd.DataFrame,
    outcome: str,
    treatment: str,
    prognostic: PrognosticModel | str | ArrayLike,
    *,
    covariates: Sequence[str] | str | None = None,
    level: float = 0.95,
) -> ProcovaResult:
    """Treatment effect by ANCOVA on a prognostic score (PROCOVA), vs the unadjusted one.

    Fits ``outcome ~ 1 + treatment + score (+ covariates)`` by OLS with HC1 robust standard
    errors and, for comparison, ``outcome ~ 1 + treatment`` (the difference in means) the
    same way; confidence intervals use normal quantiles.

    Parameters
    ----------
    trial : DataFrame
        The randomised trial, one row per patient.
    outcome : str
        The (numeric) outcome column.
    treatment : str
        The 0/1 treatment column (1 = experimental arm).
    prognostic : PrognosticModel, str or array-like
        A fitted :func:`prognostic_model` (its prediction for the trial is the score), the
        name of a trial column holding precomputed scores, or one score per trial row.
    covariates : sequence of str, optional
        Further baseline covariates of the ANCOVA.
    level : float
        Confidence level of the intervals.

    Returns
    -------
    ProcovaResult

    Notes
    -----
    ``rho`` is the correlation of score and outcome after centring both within each arm.
    The ANCOVA variance is asymptotically ``(1 - rho**2)`` times the unadjusted variance, so
    ``patients_saved = n * rho**2``; ``variance_reduction`` is the observed counterpart
    from the two robust standard errors. Both are approximations for moderate ``n``.

    References
    ----------
    Schuler A, Walsh D, Hall D, Walsh J, Fisher C, et al. (2022). Increasing the efficiency
    of randomized trial estimates via linear adjustment for a prognostic score.
    International Journal of Biostatistics 18(2):329-356.

    European Medicines Agency (2022). Qualification opinion for Prognostic Covariate
    Adjustment (PROCOVA). EMA/CHMP/SAWP/684121/2022.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(7)
    >>> hist = pd.DataFrame({"x": rng.normal(size=500)})
    >>> hist["y"] = hist.x + rng.normal(scale=0.5, size=500)
    >>> trial = pd.DataFrame({"x": rng.normal(size=80), "t": np.repeat([0, 1], 40)})
    >>> trial["y"] = trial.x + 0.5 * trial.t + rng.normal(scale=0.5, size=80)
    >>> res = procova(trial, "y", "t", prognostic_model(hist, "y", ["x"]))
    >>> bool(res.std_error < res.unadjusted_std_error)
    True
    >>> round(res.rho, 1), round(res.estimate, 1)
    (0.9, 0.5)
    """
    import statsmodels.api as sm
    from scipy import stats

    trial = check_frame(trial, "trial")
    lev = real_number(level, "level")
    if not 0.0 < lev < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1, got {level!r}")
    y = _outcome(trial, outcome, "trial data")
    t = treatment_indicator(trial, treatment).astype(float)
    s = _score(trial, prognostic)
    cols = [np.ones(len(trial)), t, s]
    names = ["Intercept", treatment, "prognostic_score"]
    covs: list[str] = []
    if covariates is not None:
        covs = _covariate_list(covariates)
        clash = {outcome, treatment} & set(covs)
        if clash:
            raise ValueError(f"covariates must not include the outcome or treatment: {clash}")
        x = covariate_matrix(trial, covs, drop_first=True)
        cols.extend(x.to_numpy(dtype=float).T)
        names.extend(map(str, x.columns))
    exog = np.column_stack(cols)
    if exog.shape[0] <= exog.shape[1]:
        raise ValueError(f"trial has {exog.shape[0]} rows for {exog.shape[1]} coefficients")
    if np.linalg.matrix_rank(exog) < exog.shape[1]:
        raise ValueError(
            "the ANCOVA model matrix (treatment, prognostic score, covariates) is collinear "
            "in the trial"
        )
    alpha = 1.0 - lev
    adj = sm.OLS(y, exog).fit(cov_type="HC1")
    una = sm.OLS(y, exog[:, :2]).fit(cov_type="HC1")
    ci_a = np.asarray(adj.conf_int(alpha=alpha))[1]
    ci_u = np.asarray(una.conf_int(alpha=alpha))[1]
    # within-arm (pooled) correlation of score and outcome
    yc, sc = y.copy(), s.copy()
    for g in (0.0, 1.0):
        m = t == g
        yc[m] -= yc[m].mean()
        sc[m] -= sc[m].mean()
    den = math.sqrt(float(yc @ yc) * float(sc @ sc))
    rho = float(sc @ yc) / den if den > 0 else 0.0
    coef = pd.DataFrame(
        {
            "estimate": np.asarray(adj.params),
            "std_error": np.asarray(adj.bse),
            "z": np.asarray(adj.tvalues),
            "p_value": 2.0 * stats.norm.sf(np.abs(np.asarray(adj.tvalues))),
        },
        index=names,
    )
    se_a, se_u = float(adj.bse[1]), float(una.bse[1])
    n = len(trial)
    args = {
        "outcome": outcome,
        "treatment": treatment,
        "prognostic": (
            "PrognosticModel"
            if isinstance(prognostic, PrognosticModel)
            else prognostic
            if isinstance(prognostic, str)
            else "array"
        ),
        "covariates": covs or None,
        "level": lev,
    }
    return ProcovaResult(
        estimate=float(adj.params[1]),
        std_error=se_a,
        ci_lower=float(ci_a[0]),
        ci_upper=float(ci_a[1]),
        p_value=float(coef["p_value"].iloc[1]),
        unadjusted_estimate=float(una.params[1]),
        unadjusted_std_error=se_u,
        unadjusted_ci_lower=float(ci_u[0]),
        unadjusted_ci_upper=float(ci_u[1]),
        unadjusted_p_value=float(2.0 * stats.norm.sf(abs(una.tvalues[1]))),
        variance_reduction=1.0 - se_a**2 / se_u**2,
        rho=rho,
        n=n,
        n_treated=int(t.sum()),
        n_control=int(n - t.sum()),
        patients_saved=n * rho**2,
        level=lev,
        coefficients=coef,
        score=readonly(s.copy()),
        model=adj,
        provenance=provenance(arguments=args),
    )


def procova_sample_size(n_unadjusted: float, rho: float) -> float:
    """Sample size of a PROCOVA analysis matching the precision of an unadjusted one.

    Returns ``(1 - rho**2) * n_unadjusted``, the asymptotic approximation of Schuler et al.
    (2022) (round up, and consider their finite-sample correction, in a design).

    Parameters
    ----------
    n_unadjusted : float
        Total sample size the unadjusted analysis (difference in means) needs.
    rho : float
        Anticipated within-arm correlation between the prognostic score and the outcome,
        in ``[0, 1)`` (e.g. estimated on held-out historical data).

    Returns
    -------
    float
        The reduced total sample size.

    References
    ----------
    Schuler A, Walsh D, Hall D, Walsh J, Fisher C, et al. (2022). Increasing the efficiency
    of randomized trial estimates via linear adjustment for a prognostic score.
    International Journal of Biostatistics 18(2):329-356.

    Examples
    --------
    >>> procova_sample_size(200, 0.5)
    150.0
    """
    n = real_number(n_unadjusted, "n_unadjusted")
    if n <= 0:
        raise ValueError(f"n_unadjusted must be positive, got {n_unadjusted!r}")
    r = real_number(rho, "rho")
    if not 0.0 <= r < 1.0:
        raise ValueError(f"rho must be in [0, 1) (a correlation below 1), got {rho!r}")
    return (1.0 - r * r) * n
