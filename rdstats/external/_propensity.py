"""Propensity scores: unpenalised logistic regression of the treatment (trial membership)
indicator on baseline covariates, with an overlap (common-support) summary.

The model is fitted by maximum likelihood with statsmodels (no penalty), so that the
coefficients agree with R's ``glm(..., family = binomial)`` as used by MatchIt and WeightIt.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rdstats._provenance import provenance
from rdstats._validation import readonly
from rdstats.external._data import check_frame, covariate_matrix, treatment_indicator

__all__ = ["PropensityScores", "propensity_scores"]

_SEPARATION_LOGIT = 15.0  # |logit| beyond this (p < 3e-7) marks a (quasi-)separated unit


@dataclasses.dataclass(frozen=True)
class PropensityScores:
    """Fitted propensity scores (probability of being in the treated / trial group).

    Attributes
    ----------
    scores : ndarray
        Estimated propensity score of every row, in the order of the data.
    linear_predictor : ndarray
        The logit of the scores.
    treatment : ndarray
        The 0/1 treatment indicator used in the fit.
    coefficients : DataFrame
        Estimates, standard errors, z statistics and p-values (rows named as in R).
    overlap : DataFrame
        Per group: number of units, score range, and the number of units outside the
        common support (the intersection of the two groups' score ranges).
    model : object
        The fitted statsmodels results object.
    provenance : dict
        How the result was produced.
    """

    scores: NDArray[np.float64]
    linear_predictor: NDArray[np.float64]
    treatment: NDArray[np.int64]
    coefficients: pd.DataFrame
    overlap: pd.DataFrame
    model: Any = dataclasses.field(repr=False)
    provenance: dict[str, Any] = dataclasses.field(repr=False)

    @property
    def common_support(self) -> tuple[float, float]:
        """The common-support interval of the scores (max of minima, min of maxima)."""
        return float(self.overlap["min"].max()), float(self.overlap["max"].min())

    def summary(self) -> pd.DataFrame:
        """The overlap table (one row per group)."""
        return self.overlap.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of the result."""
        return {
            "scores": self.scores.tolist(),
            "coefficients": {
                str(k): {c: float(v) for c, v in row.items()}
                for k, row in self.coefficients.iterrows()
            },
            "overlap": {
                str(k): {c: float(v) for c, v in row.items()} for k, row in self.overlap.iterrows()
            },
            "common_support": list(self.common_support),
            "provenance": self.provenance,
        }

    def _repr_html_(self) -> str:
        return (
            "<b>PropensityScores</b> (logistic regression)<br>"
            + self.coefficients.to_html(float_format="{:.4g}".format)
            + self.overlap.to_html(float_format="{:.4g}".format)
        )

    def plot(self, ax: Any = None) -> Any:
        """Histograms of the scores by group (overlap plot)."""
        from rdstats.plotting._external_balance import overlap_plot

        return overlap_plot(self.scores, self.treatment, ax=ax)


def _overlap(ps: NDArray[np.float64], t: NDArray[np.int64]) -> pd.DataFrame:
    lo = max(ps[t == 1].min(), ps[t == 0].min())
    hi = min(ps[t == 1].max(), ps[t == 0].max())
    rows = {}
    for name, g in (("treated", 1), ("control", 0)):
        s = ps[t == g]
        rows[name] = {
            "n": float(s.size),
            "min": float(s.min()),
            "max": float(s.max()),
            "outside_common_support": float(np.sum((s < lo) | (s > hi))),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def _separating(x: pd.DataFrame, t: NDArray[np.int64]) -> list[str]:
    """Covariates whose values perfectly split the groups on their own (for messages)."""
    out = []
    for c in x.columns:
        v = x[c].to_numpy(dtype=float)
        a, b = v[t == 1], v[t == 0]
        if a.min() > b.max() or b.min() > a.max() or a.max() < b.min() or b.max() < a.min():
            out.append(str(c))
        elif set(np.unique(v).tolist()) <= {0.0, 1.0}:
            # a level seen in one group only: that group's indicator is (quasi-)separating
            if a.max() == 0 or b.max() == 0 or a.min() == 1 or b.min() == 1:
                out.append(str(c))
    return out


def propensity_scores(
    data: pd.DataFrame,
    treatment: str,
    covariates: Sequence[str] | str | None = None,
    model: str = "logistic",
    formula: str | None = None,
) -> PropensityScores:
    """Estimate propensity scores by unpenalised logistic regression.

    Parameters
    ----------
    data : DataFrame
        One row per patient.
    treatment : str
        Name of the 0/1 treatment (trial) column.
    covariates : sequence of str, optional
        Covariate columns (categorical columns enter with R's treatment contrasts).
        Required unless ``formula`` is given.
    model : {"logistic"}
        The propensity model; only logistic regression is available.
    formula : str, optional
        A statsmodels (patsy) formula such as ``"treat ~ age + I(age**2) + race"``; its
        left-hand side must be the treatment column.

    Returns
    -------
    PropensityScores

    Raises
    ------
    ValueError
        On a non-binary treatment, missing covariates, (quasi-)complete separation
        (naming the covariates that split the groups) or no overlap of the groups' scores.

    References
    ----------
    Rosenbaum PR, Rubin DB (1983). The central role of the propensity score in
    observational studies for causal effects. Biometrika 70:41-55.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"t": [1, 1, 1, 0, 0, 0, 0, 0], "x": [3, 1, 4, 1, 5, 2, 0, 2]})
    >>> ps = propensity_scores(d, "t", ["x"])
    >>> ps.scores.shape
    (8,)
    >>> bool(((ps.scores > 0) & (ps.scores < 1)).all())
    True
    """
    import statsmodels.api as sm
    import statsmodels.formula.api as smf
    from statsmodels.tools.sm_exceptions import PerfectSeparationError, PerfectSeparationWarning

    data = check_frame(data)
    if model != "logistic":
        raise ValueError(f"model must be 'logistic', got {model!r}")
    t = treatment_indicator(data, treatment)
    if formula is not None:
        if not isinstance(formula, str) or "~" not in formula:
            raise ValueError(f"formula must be a string 'treatment ~ terms', got {formula!r}")
        lhs = formula.split("~", 1)[0].strip()
        if lhs != treatment:
            raise ValueError(f"formula left-hand side {lhs!r} must be the treatment {treatment!r}")
        if covariates is not None:
            covariate_matrix(data, covariates)  # missing-value check only
        frame = data.copy()
        frame[treatment] = t
        glm = smf.glm(formula, data=frame, family=sm.families.Binomial(), missing="raise")
        xcheck = pd.DataFrame(glm.exog[:, 1:], columns=glm.exog_names[1:])
    else:
        if covariates is None:
            raise ValueError("covariates must be given when formula is None")
        xcheck = covariate_matrix(data, covariates, drop_first=True)
        exog = sm.add_constant(xcheck, has_constant="add")
        exog = exog.rename(columns={"const": "Intercept"})
        glm = sm.GLM(t.astype(float), exog, family=sm.families.Binomial())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PerfectSeparationWarning)
            res = glm.fit(maxiter=100, tol=1e-12)
    except (PerfectSeparationError, PerfectSeparationWarning, np.linalg.LinAlgError) as exc:
        raise ValueError(
            "perfect or quasi-perfect separation: the treatment is (almost) determined by "
            f"the covariates; covariates that split the groups: {_separating(xcheck, t)}"
        ) from exc
    lp = np.asarray(glm.exog @ np.asarray(res.params), dtype=float)
    if np.max(np.abs(lp)) > _SEPARATION_LOGIT or not np.all(np.isfinite(res.bse)):
        raise ValueError(
            "perfect or quasi-perfect separation: fitted propensity scores of 0 or 1; "
            f"covariates that split the groups: {_separating(xcheck, t) or 'a combination'}"
        )
    ps = 1.0 / (1.0 + np.exp(-lp))
    ov = _overlap(ps, t)
    if ov["min"].max() > ov["max"].min():
        (t_lo, t_hi), (c_lo, c_hi) = ov[["min", "max"]].to_numpy(dtype=float)
        raise ValueError(
            "no overlap: the treated and control propensity-score ranges do not intersect "
            f"(treated {t_lo:.4g}-{t_hi:.4g}, control {c_lo:.4g}-{c_hi:.4g})"
        )
    coef = pd.DataFrame(
        {
            "estimate": np.asarray(res.params),
            "std_error": np.asarray(res.bse),
            "z": np.asarray(res.tvalues),
            "p_value": np.asarray(res.pvalues),
        },
        index=list(res.model.exog_names),
    )
    args = {"treatment": treatment, "covariates": covariates, "model": model, "formula": formula}
    if covariates is not None and not isinstance(covariates, str):
        args["covariates"] = list(covariates)
    return PropensityScores(
        scores=readonly(ps),
        linear_predictor=readonly(lp),
        treatment=readonly(t.copy()),
        coefficients=coef,
        overlap=ov,
        model=res,
        provenance=provenance(arguments=args),
    )
