"""Propensity-score models other than plain logistic regression: binomial GLMs with probit
and complementary log-log links, and an additive logistic model with natural cubic
regression splines for the continuous covariates.

Everything here works on a numeric design matrix (a DataFrame whose first column is the
intercept); :func:`rdstats.external._propensity.propensity_scores` validates the data,
chooses the model and builds the result.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rdstats.external._data import covariate_matrix, is_binary

__all__ = [
    "GLM_LINKS",
    "MODELS",
    "fit_binomial_glm",
    "natural_spline_basis",
    "off_support",
    "separated_lp",
    "spline_design",
    "spline_df",
]

#: the propensity models of :func:`propensity_scores`
MODELS = ("logistic", "probit", "cloglog", "spline", "cbps")
#: binomial GLM link of each model fitted by maximum likelihood
GLM_LINKS = {"logistic": "logit", "probit": "probit", "cloglog": "cloglog", "spline": "logit"}
_OPTIONS = {"logistic": (), "probit": (), "cloglog": (), "spline": ("df",), "cbps": ("estimand",)}
_EXTREME = 1.0 / (1.0 + np.exp(15.0))  # a fitted probability this close to 0 or 1 is extreme


def check_options(model: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate ``model_options`` for ``model`` (unknown keys are an error)."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise TypeError(f"model_options must be a dict or None, got {type(options).__name__}")
    bad = [k for k in options if k not in _OPTIONS[model]]
    if bad:
        raise ValueError(
            f"model_options {bad} do not apply to model={model!r}; "
            f"its options are {list(_OPTIONS[model]) or 'none'}"
        )
    return dict(options)


def spline_df(options: Mapping[str, Any]) -> int:
    """The spline degrees of freedom per continuous covariate (default 4, at least 1)."""
    df = options.get("df", 4)
    if isinstance(df, bool) or not isinstance(df, (int, np.integer)) or df < 1:
        raise ValueError(f"model_options['df'] must be an integer >= 1, got {df!r}")
    return int(df)


def natural_spline_basis(
    x: NDArray[np.float64], df: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Natural cubic regression-spline basis of ``x`` without the constant.

    Boundary knots at the range of ``x``; ``df - 1`` interior knots at the quantiles
    ``k / df`` (``k = 1 .. df - 1``, linear interpolation as R's type 7), of which only the
    distinct values strictly inside the range are kept (so a covariate with many ties,
    such as earnings with a point mass at 0, gets fewer columns). The basis spans the same
    functions as R's ``splines::ns(x, knots = knots, Boundary.knots = range(x))``; it is
    the truncated-power form of Hastie, Tibshirani & Friedman (2009, eq. 5.4-5.5) on ``x``
    rescaled to [0, 1]. Returns the basis (one column per interior knot plus one) and the
    knots (boundaries included).
    """
    lo, hi = float(np.min(x)), float(np.max(x))
    inner = np.quantile(x, np.arange(1, df) / df) if df > 1 else np.zeros(0)
    inner = np.unique(inner[(inner > lo) & (inner < hi)])
    knots = np.concatenate([[lo], inner, [hi]])
    u = (x - lo) / (hi - lo)
    k = (knots - lo) / (hi - lo)

    def d(j: int) -> NDArray[np.float64]:
        return (np.maximum(u - k[j], 0.0) ** 3 - np.maximum(u - k[-1], 0.0) ** 3) / (k[-1] - k[j])

    cols = [u] + [d(j) - d(k.size - 2) for j in range(k.size - 2)]
    return np.column_stack(cols), knots


def spline_design(
    data: pd.DataFrame, covariates: Sequence[str], df: int
) -> tuple[pd.DataFrame, dict[str, list[float]]]:
    """Design matrix of the additive spline model: an intercept, a natural cubic spline
    basis (``df`` degrees of freedom) for every numeric covariate with more than
    ``df + 1`` distinct values, and the other covariates (binary, categorical with R's
    treatment contrasts, numeric with few values) entering linearly. Returns the matrix
    and the knots of every splined covariate."""
    parts: list[pd.DataFrame] = [pd.DataFrame({"Intercept": np.ones(len(data))}, index=data.index)]
    knots: dict[str, list[float]] = {}
    for c in covariates:
        col = data[c]
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        if numeric and not is_binary(col) and col.nunique() > df + 1:
            basis, kn = natural_spline_basis(col.to_numpy(dtype=float), df)
            names = [f"ns({c})[{j + 1}]" for j in range(basis.shape[1])]
            parts.append(pd.DataFrame(basis, columns=names, index=data.index))
            knots[str(c)] = kn.tolist()
        else:
            parts.append(covariate_matrix(data, [c], drop_first=True))
    return pd.concat(parts, axis=1), knots


def _family(link: str) -> Any:
    import statsmodels.api as sm

    links = {
        "logit": sm.families.links.Logit,
        "probit": sm.families.links.Probit,
        "cloglog": sm.families.links.CLogLog,
    }
    return sm.families.Binomial(link=links[link]())


def separated_lp(t: NDArray[np.int64], exog: pd.DataFrame) -> bool:
    """Exact check for (quasi-)complete separation: whether some direction ``b != 0`` has
    ``x_i'b >= 0`` for every treated and ``<= 0`` for every control unit (then the
    likelihood has no finite maximum). Solved as a linear programme (HiGHS): maximise
    ``sum_i s_i x_i'b`` with ``s_i = 2 t_i - 1`` subject to ``s_i x_i'b >= 0`` and
    ``|b_j| <= 1`` on columns scaled to unit maximum."""
    from scipy.optimize import linprog

    x = exog.to_numpy(dtype=float)
    scale = np.abs(x).max(axis=0)
    scale[scale == 0] = 1.0
    a = (x / scale) * (2.0 * np.asarray(t, dtype=float) - 1.0)[:, None]
    res = linprog(
        -a.sum(axis=0),
        A_ub=-a,
        b_ub=np.zeros(len(a)),
        bounds=[(-1.0, 1.0)] * a.shape[1],
        method="highs",
    )
    return bool(res.status == 0 and -res.fun > 1e-7 * len(a))


def fit_binomial_glm(
    t: NDArray[np.int64], exog: pd.DataFrame, link: str, exact_check: bool = False
) -> tuple[Any, bool]:
    """Maximum-likelihood binomial GLM of ``t`` on ``exog`` (which holds the intercept)
    with the given link. Returns the statsmodels results and whether the fit shows
    (quasi-)complete separation, that is, whether the likelihood has no finite maximum:
    statsmodels' detection of perfect prediction, no convergence within 200 iterations,
    non-finite standard errors, or the exact linear-programming check
    :func:`separated_lp`. The linear programme runs whenever a fitted probability lies
    within 3e-7 of 0 or 1 (a separated unit's probability always tends there), and always
    with ``exact_check``. Extreme fitted probabilities alone are not separation: in a large
    cohort a converged fit with finite coefficients may legitimately give controls far
    from the treated scores below 3e-7."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationError, PerfectSeparationWarning

    glm = sm.GLM(t.astype(float), exog, family=_family(link))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PerfectSeparationWarning)
            warnings.simplefilter("ignore", RuntimeWarning)  # overflow on the way to separation
            res = glm.fit(maxiter=200, tol=1e-12)
    except (PerfectSeparationError, PerfectSeparationWarning, np.linalg.LinAlgError):
        return None, True
    if not bool(getattr(res, "converged", True)) or not np.all(np.isfinite(res.bse)):
        return res, True
    mu = np.asarray(res.fittedvalues, dtype=float)
    if exact_check or extreme(mu):
        return res, separated_lp(t, exog)
    return res, False


def extreme(ps: NDArray[np.float64]) -> bool:
    """Whether any fitted probability is within 3e-7 of 0 or 1."""
    return bool(np.any(ps < _EXTREME) or np.any(ps > 1.0 - _EXTREME))


def off_support(ps: NDArray[np.float64], t: NDArray[np.int64]) -> tuple[int, int]:
    """Numbers of treated units with a score below 3e-7 and of controls with a score above
    1 - 3e-7: units with essentially no counterpart in the other group, whose inverse
    probability weights are extreme."""
    t = np.asarray(t)
    return int(np.sum(ps[t == 1] < _EXTREME)), int(np.sum(ps[t == 0] > 1.0 - _EXTREME))
