"""Propensity scores: unpenalised logistic regression of the treatment (trial membership)
indicator on baseline covariates, with an overlap (common-support) summary.

The model is fitted by maximum likelihood with statsmodels (no penalty), so that the
coefficients agree with R's ``glm(..., family = binomial)`` as used by MatchIt and WeightIt.
"""

from __future__ import annotations

import ast
import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rdstats._provenance import provenance
from rdstats._validation import readonly
from rdstats.external._cbps import cbps_fit
from rdstats.external._data import check_frame, covariate_matrix, treatment_indicator
from rdstats.external._ps_models import (
    GLM_LINKS,
    MODELS,
    check_options,
    fit_binomial_glm,
    off_support,
    spline_design,
    spline_df,
)

__all__ = ["PropensityScores", "propensity_scores"]


@dataclasses.dataclass(frozen=True)
class PropensityScores:
    """Fitted propensity scores (probability of being in the treated / trial group).

    Attributes
    ----------
    scores : ndarray
        Estimated propensity score of every row, in the order of the data.
    linear_predictor : ndarray
        The model's linear predictor (the logit of the scores for the logistic, spline
        and CBPS models).
    treatment : ndarray
        The 0/1 treatment indicator used in the fit.
    coefficients : DataFrame
        Estimates, standard errors, z statistics and p-values (rows named as in R).
    overlap : DataFrame
        Per group: number of units, score range, and the number of units outside the
        common support (the intersection of the two groups' score ranges).
    model : object
        The fitted model: statsmodels GLM results, or a
        :class:`~rdstats.external._cbps.CBPSFit` for ``"cbps"``.
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
    model_name: str = "logistic"

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
            "model": self.model_name,
            "provenance": self.provenance,
        }

    def _repr_html_(self) -> str:
        return (
            f"<b>PropensityScores</b> ({self.model_name} model)<br>"
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
        if v.min() == v.max():
            continue
        if a.min() >= b.max() or b.min() >= a.max():  # (quasi-)complete: ranges touch
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
    model_options: Mapping[str, Any] | None = None,
) -> PropensityScores:
    """Estimate propensity scores (logistic by default, or a flexible model).

    Parameters
    ----------
    data : DataFrame
        One row per patient.
    treatment : str
        Name of the 0/1 treatment (trial) column.
    covariates : sequence of str, optional
        Covariate columns (categorical columns enter with R's treatment contrasts).
        Required unless ``formula`` is given.
    model : {"logistic", "probit", "cloglog", "spline", "cbps"}
        ``"logistic"``: unpenalised logistic regression (R's ``glm(family = binomial)``);
        ``"probit"`` and ``"cloglog"``: binomial GLMs with those links (R's
        ``binomial(link = "probit")`` / ``"cloglog"``); ``"spline"``: additive logistic model
        with a natural cubic regression spline for every numeric covariate with more than
        ``df + 1`` distinct values (other covariates enter linearly; see
        :func:`rdstats.external._ps_models.natural_spline_basis` for the knots);
        ``"cbps"``: just-identified covariate balancing propensity score (Imai & Ratkovic
        2014), a logistic model whose coefficients solve the balance conditions of the
        estimand instead of the score equations, started at the logistic MLE.
    formula : str, optional
        A statsmodels (patsy) formula such as ``"treat ~ age + I(age**2) + race"``; its
        left-hand side must be the treatment column. Not with ``model="spline"`` (write
        ``cr(x, df=4)`` terms in the formula instead).
    model_options : dict, optional
        ``{"df": 4}`` for ``"spline"`` (spline degrees of freedom per covariate);
        ``{"estimand": "ATT"}`` or ``"ATE"`` for ``"cbps"`` (which balance conditions).

    Returns
    -------
    PropensityScores
        ``linear_predictor`` is the model's linear predictor (the logit of the scores for
        the logistic, spline and CBPS models; the probit or cloglog index otherwise).

    Raises
    ------
    ValueError
        On an unknown model or option, a non-binary treatment, missing covariate values
        (also of the variables a formula uses), (quasi-)complete separation (naming the
        covariates that split the groups), no solution of the CBPS balance conditions,
        or no overlap of the groups' scores.

    Warns
    -----
    UserWarning
        When treated units get scores below 3e-7 or controls scores above 1 - 3e-7 (their
        inverse-probability weights are extreme). Scores near 0 for controls far from the
        treated, or near 1 for treated units, are legitimate and not reported.

    Notes
    -----
    Separation means the likelihood has no finite maximum: the fit does not converge,
    its standard errors are not finite, or an exact linear-programming check
    (:func:`rdstats.external._ps_models.separated_lp`, run whenever a score is within
    3e-7 of 0 or 1, and always for ``"spline"``) finds a direction that splits the
    groups. Extreme scores from a converged fit with finite coefficients, common in a
    large external cohort, are not separation.

    References
    ----------
    Rosenbaum PR, Rubin DB (1983). The central role of the propensity score in
    observational studies for causal effects. Biometrika 70:41-55.
    Imai K, Ratkovic M (2014). Covariate balancing propensity score. JRSS-B 76:243-263.
    Hastie T, Tibshirani R, Friedman J (2009). The Elements of Statistical Learning,
    2nd ed., section 5.2.1 (natural cubic splines).

    Examples
    --------
    >>> import pandas as pd
    >>> from rdstats.external._propensity import propensity_scores
    >>> d = pd.DataFrame({"t": [1, 1, 1, 0, 0, 0, 0, 0], "x": [3, 1, 4, 1, 5, 2, 0, 2]})
    >>> ps = propensity_scores(d, "t", ["x"])
    >>> ps.scores.shape
    (8,)
    >>> bool(((ps.scores > 0) & (ps.scores < 1)).all())
    True
    >>> cb = propensity_scores(d, "t", ["x"], model="cbps")
    >>> odds = cb.scores[3:] / (1 - cb.scores[3:])
    >>> round(float(odds @ d["x"][3:] / odds.sum()), 6)  # the treated mean
    2.666667
    """
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    data = check_frame(data)
    if not isinstance(model, str) or model not in MODELS:
        raise ValueError(f"model must be one of {list(MODELS)}, got {model!r}")
    options = check_options(model, model_options)
    t = treatment_indicator(data, treatment)
    knots: dict[str, list[float]] | None = None
    if formula is not None:
        if model == "spline":
            raise ValueError(
                "formula cannot be combined with model='spline'; write spline terms such as "
                "cr(age, df=4) in a logistic formula, or give covariates"
            )
        if not isinstance(formula, str) or "~" not in formula:
            raise ValueError(f"formula must be a string 'treatment ~ terms', got {formula!r}")
        lhs = formula.split("~", 1)[0].strip()
        if lhs != treatment:
            raise ValueError(f"formula left-hand side {lhs!r} must be the treatment {treatment!r}")
        used = _formula_variables(formula, data.columns)
        if covariates is not None:
            used = list(dict.fromkeys([*used, *_as_list(covariates)]))
        if used:
            covariate_matrix(data, used)  # missing-value check only (count and rows)
        frame = data.copy()
        frame[treatment] = t
        glm = smf.glm(formula, data=frame, family=sm.families.Binomial(), missing="raise")
        exog = pd.DataFrame(glm.exog, columns=glm.exog_names, index=data.index)
        xcheck = exog.iloc[:, 1:]
    else:
        if covariates is None:
            raise ValueError("covariates must be given when formula is None")
        xcheck = covariate_matrix(data, covariates, drop_first=True)
        if model == "spline":
            cov_list = [covariates] if isinstance(covariates, str) else list(covariates)
            exog, knots = spline_design(data, cov_list, spline_df(options))
        else:
            exog = sm.add_constant(xcheck, has_constant="add")
            exog = exog.rename(columns={"const": "Intercept"})
    flexible = model == "spline"
    res, separated = fit_binomial_glm(t, exog, GLM_LINKS.get(model, "logit"), flexible)
    if separated:
        raise ValueError(
            "perfect or quasi-perfect separation: the treatment is (almost) determined by "
            f"the covariates; covariates that split the groups: "
            f"{_separating(xcheck, t) or 'a combination'}"
            + (
                f"; with model='spline' a range of a covariate between two knots that holds "
                f"one group only separates it: lower model_options['df'] (now "
                f"{spline_df(options)}) or use model='logistic'"
                if flexible
                else ""
            )
        )
    if model == "cbps":
        estimand = options.get("estimand", "ATT")
        if estimand not in ("ATT", "ATE"):
            raise ValueError(f"model_options['estimand'] must be 'ATT' or 'ATE', got {estimand!r}")
        res = cbps_fit(t, exog, res.params, estimand)
    params = np.asarray(res.params, dtype=float)
    lp = np.asarray(exog.to_numpy(dtype=float) @ params, dtype=float)
    if GLM_LINKS.get(model, "logit") == "logit":
        ps = 1.0 / (1.0 + np.exp(-lp))
    else:
        ps = np.asarray(res.fittedvalues, dtype=float)
    n_t, n_c = off_support(ps, t)
    if n_t or n_c:
        warnings.warn(
            f"{n_t} treated units have propensity scores below 3e-7 and {n_c} controls "
            "scores above 1 - 3e-7: they have essentially no counterpart in the other group, "
            "and their inverse-probability weights are extreme; consider trimming or "
            "restricting to the common support",
            UserWarning,
            stacklevel=2,
        )
    ov = _overlap(ps, t)
    if ov["min"].max() > ov["max"].min():
        (t_lo, t_hi), (c_lo, c_hi) = ov[["min", "max"]].to_numpy(dtype=float)
        raise ValueError(
            "no overlap: the treated and control propensity-score ranges do not intersect "
            f"(treated {t_lo:.4g}-{t_hi:.4g}, control {c_lo:.4g}-{c_hi:.4g})"
        )
    bse = np.asarray(res.bse, dtype=float)
    z = params / bse
    coef = pd.DataFrame(
        {
            "estimate": params,
            "std_error": bse,
            "z": z,
            "p_value": 2.0 * _norm_sf(np.abs(z)),
        },
        index=list(exog.columns),
    )
    args: dict[str, Any] = {
        "treatment": treatment,
        "covariates": covariates,
        "model": model,
        "formula": formula,
        "model_options": options or None,
    }
    if covariates is not None and not isinstance(covariates, str):
        args["covariates"] = list(covariates)
    if knots is not None:
        args["spline_knots"] = knots
    return PropensityScores(
        scores=readonly(ps),
        linear_predictor=readonly(lp),
        treatment=readonly(t.copy()),
        coefficients=coef,
        overlap=ov,
        model=res,
        provenance=provenance(arguments=args),
        model_name=model,
    )


def _as_list(covariates: Sequence[str] | str) -> list[str]:
    return [covariates] if isinstance(covariates, str) else list(covariates)


def _formula_variables(formula: str, columns: pd.Index) -> list[str]:
    """The data columns named on the right-hand side of a patsy formula: bare names and
    ``Q("name")`` quotes (anything else the formula evaluates is left to patsy)."""
    from patsy import ModelDesc

    found: list[str] = []
    desc = ModelDesc.from_formula(formula)
    for term in desc.rhs_termlist:
        for factor in term.factors:
            try:
                tree = ast.parse(factor.name().strip(), mode="eval")
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Name):
                    names = [node.id]
                elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Q":
                    names = [str(a.value) for a in node.args if isinstance(a, ast.Constant)]
                else:
                    continue
                found.extend(v for v in names if v in columns and v not in found)
    return found


def _norm_sf(z: NDArray[np.float64]) -> NDArray[np.float64]:
    from scipy.stats import norm

    return np.asarray(norm.sf(z), dtype=float)
