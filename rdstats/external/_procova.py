"""PROCOVA: the trial's ANCOVA with a prognostic score (from :func:`prognostic_model` or a
precomputed column) as covariate, compared with the unadjusted difference in means; and
the sample size it saves (Schuler et al. 2022)."""

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
from rdstats.external._prognostic import (
    PrognosticModel,
    _covariate_list,
    _outcome,
)

__all__ = ["ProcovaResult", "procova", "procova_sample_size"]


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
    >>> from rdstats.external import procova, prognostic_model
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
