"""Prognostic-score adjustment (PROCOVA-style): a prognostic model fitted on historical /
natural-history data predicts each trial patient's outcome under control from baseline
covariates; the prediction enters the trial's ANCOVA as a covariate.

Under a linear outcome model the ANCOVA estimate of the treatment effect is unbiased
whatever the quality of the prognostic model (the score is a baseline covariate, fixed
before randomisation), and its variance is asymptotically ``(1 - rho^2)`` times that of the
unadjusted difference in means, where ``rho`` is the within-arm correlation between the
prognostic score and the outcome (Schuler et al. 2022). statsmodels is imported only inside
the functions. The ANCOVA itself is :func:`rdstats.external.procova`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rdstats._provenance import provenance
from rdstats.external._data import check_frame, covariate_matrix
from rdstats.external._ps_models import separated_lp

__all__ = ["PrognosticModel", "prognostic_model"]

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
        extreme = np.max(np.abs(res.fittedvalues - 0.5)) > 0.5 - 1e-9
        if not np.all(np.isfinite(res.bse)) or (
            extreme and separated_lp(y.astype(np.int64), pd.DataFrame(exog))
        ):
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
