"""Covariate balancing propensity score (CBPS; Imai & Ratkovic 2014), just-identified.

The logistic propensity model ``e(x) = 1 / (1 + exp(-x'b))`` is fitted not by maximum
likelihood but by solving the covariate-balance conditions of the estimand, one equation
per coefficient (intercept included):

- ATT: ``sum_i [T_i - (1 - T_i) e_i / (1 - e_i)] x_i = 0``, i.e. the odds-weighted control
  means (and the weight total) equal the treated means (and count);
- ATE: ``sum_i [T_i / e_i - (1 - T_i) / (1 - e_i)] x_i = 0``, i.e. the inverse-probability
  weighted sums of the two groups are equal.

With the logit link, ``e / (1 - e) = exp(x'b)`` and ``1 / e = 1 + exp(-x'b)``, so both
systems are the gradients of strictly concave functions; the root is unique when it
exists, and it is found by :func:`scipy.optimize.root` (with the analytic Jacobian) started
at the logistic maximum-likelihood estimate, with a trust-region Newton maximisation as the
fallback. The ATT solution gives control weights ``exp(x'b)`` proportional to entropy
balancing weights (Zhao & Percival 2017).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["CBPSFit", "cbps_fit", "cbps_moments"]

_TOL = 1e-10  # largest absolute standardised balance residual accepted


@dataclass(frozen=True)
class CBPSFit:
    """A just-identified CBPS fit.

    Attributes
    ----------
    params, bse : Series
        Coefficients (on the logit scale) and sandwich standard errors.
    cov_params : DataFrame
        Sandwich (GMM) covariance of the coefficients, treating the moment scaling as fixed.
    exog : ndarray
        The design matrix (first column the intercept).
    estimand : str
        ``"ATT"`` or ``"ATE"``: which balance conditions were solved.
    start : Series
        The logistic maximum-likelihood estimate the solver started from.
    max_abs_moment : float
        Largest absolute balance condition at the solution (standardised covariates).
    method : str
        The solver that converged (``"root (hybr)"`` or ``"trust-exact"``).
    """

    params: pd.Series
    bse: pd.Series
    cov_params: pd.DataFrame
    exog: NDArray[np.float64] = field(repr=False)
    estimand: str
    start: pd.Series = field(repr=False)
    max_abs_moment: float
    method: str

    @property
    def fittedvalues(self) -> NDArray[np.float64]:
        """The propensity scores."""
        return np.asarray(1.0 / (1.0 + np.exp(-(self.exog @ self.params.to_numpy()))))


def _unit_terms(
    beta: NDArray[np.float64], x: NDArray[np.float64], t: NDArray[np.float64], estimand: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-unit moment multipliers ``r_i`` (moment ``r_i x_i``) and Jacobian multipliers
    ``-h_i`` (Jacobian ``-sum h_i x_i x_i'``)."""
    eta = np.clip(x @ beta, -700.0, 700.0)
    if estimand == "ATT":
        odds = np.exp(eta)
        return t - (1.0 - t) * odds, (1.0 - t) * odds
    ep, em = np.exp(eta), np.exp(-eta)
    return t * (1.0 + em) - (1.0 - t) * (1.0 + ep), t * em + (1.0 - t) * ep


def cbps_moments(
    beta: NDArray[np.float64], x: NDArray[np.float64], t: NDArray[np.float64], estimand: str
) -> NDArray[np.float64]:
    """The balance conditions (divided by the number of units) at ``beta``."""
    r, _ = _unit_terms(beta, x, t, estimand)
    return np.asarray(x.T @ r / len(t))


def _objective(
    beta: NDArray[np.float64], x: NDArray[np.float64], t: NDArray[np.float64], estimand: str
) -> float:
    """Minus the concave function whose gradient is the moment vector (times n)."""
    eta = np.clip(x @ beta, -700.0, 700.0)
    if estimand == "ATT":
        value = np.sum(t * eta) - np.sum((1.0 - t) * np.exp(eta))
    else:
        value = np.sum(t * (eta - np.exp(-eta))) - np.sum((1.0 - t) * (eta + np.exp(eta)))
    return float(-value / len(t))


def cbps_fit(
    t: NDArray[np.int64],
    exog: pd.DataFrame,
    start: pd.Series,
    estimand: str = "ATT",
) -> CBPSFit:
    """Solve the just-identified CBPS balance conditions.

    Parameters
    ----------
    t : ndarray
        0/1 treatment indicator.
    exog : DataFrame
        Design matrix whose first column is the intercept.
    start : Series
        Starting values (the logistic maximum-likelihood estimate).
    estimand : {"ATT", "ATE"}
        Which balance conditions to solve.

    Returns
    -------
    CBPSFit

    Raises
    ------
    ValueError
        When no solution balances the covariates (for the ATT: the treated means lie
        outside the convex hull of the controls).

    References
    ----------
    Imai K, Ratkovic M (2014). Covariate balancing propensity score. JRSS-B 76:243-263.
    Zhao Q, Percival D (2017). Entropy balancing is doubly robust. J Causal Inference 5.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from rdstats.external._cbps import cbps_fit
    >>> t = np.array([1, 1, 0, 0, 0, 0])
    >>> x = pd.DataFrame({"Intercept": 1.0, "x": [2.0, 1.0, 0.0, 1.0, 2.0, 3.0]})
    >>> fit = cbps_fit(t, x, pd.Series([0.0, 0.0], index=x.columns))
    >>> ps = fit.fittedvalues
    >>> odds = ps[t == 0] / (1 - ps[t == 0])
    >>> round(float(odds @ x["x"][t == 0] / odds.sum()), 8)  # the treated mean of x
    1.5
    """
    from scipy import optimize

    if estimand not in ("ATT", "ATE"):
        raise ValueError(f"CBPS estimand must be 'ATT' or 'ATE', got {estimand!r}")
    x = exog.to_numpy(dtype=float)
    tf = np.asarray(t, dtype=float)
    # standardise the non-constant columns (the solution is invariant to this)
    mean = x[:, 1:].mean(axis=0)
    sd = x[:, 1:].std(axis=0)
    sd[sd == 0] = 1.0
    a = np.eye(x.shape[1])
    a[1:, 1:] = np.diag(1.0 / sd)
    a[0, 1:] = -mean / sd
    xs = x @ a  # xs = x A, so x b = xs bs with b = A bs
    bs0 = np.linalg.solve(a, np.asarray(start, dtype=float))

    def fun(b: NDArray[np.float64]) -> NDArray[np.float64]:
        return cbps_moments(b, xs, tf, estimand)

    def jac(b: NDArray[np.float64]) -> NDArray[np.float64]:
        _, h = _unit_terms(b, xs, tf, estimand)
        return np.asarray(-(xs * h[:, None]).T @ xs / len(tf))

    sol = optimize.root(fun, bs0, jac=jac, method="hybr", options={"xtol": 1e-14})
    bs, method = np.asarray(sol.x), "root (hybr)"
    if not np.all(np.isfinite(bs)) or np.max(np.abs(fun(bs))) > _TOL:
        opt = optimize.minimize(
            _objective,
            bs0,
            args=(xs, tf, estimand),
            jac=lambda b, *_: -fun(b),
            hess=lambda b, *_: -jac(b),
            method="trust-exact",
            options={"gtol": 1e-13, "maxiter": 1000},
        )
        bs, method = np.asarray(opt.x), "trust-exact"
    resid = float(np.max(np.abs(fun(bs))))
    if not np.all(np.isfinite(bs)) or resid > 1e3 * _TOL:
        raise ValueError(
            f"CBPS ({estimand}) found no propensity scores that balance the covariates "
            f"(largest balance residual {resid:.3g}); the treated covariate means may lie "
            "outside the range the controls can be weighted to"
        )
    r, h = _unit_terms(bs, xs, tf, estimand)
    g = xs * r[:, None]
    big_g = -(xs * h[:, None]).T @ xs / len(tf)
    omega = g.T @ g / len(tf)
    ginv = np.linalg.inv(big_g)
    vs = ginv @ omega @ ginv.T / len(tf)
    beta = a @ bs
    v = a @ vs @ a.T
    names = list(exog.columns)
    return CBPSFit(
        params=pd.Series(beta, index=names),
        bse=pd.Series(np.sqrt(np.diag(v)), index=names),
        cov_params=pd.DataFrame(v, index=names, columns=names),
        exog=x,
        estimand=estimand,
        start=pd.Series(np.asarray(start, dtype=float), index=names),
        max_abs_moment=resid,
        method=method,
    )


def balance_residual(fit: Any, t: NDArray[np.int64]) -> NDArray[np.float64]:
    """Balance conditions at a fit's coefficients, on the original covariate scale."""
    return cbps_moments(np.asarray(fit.params), fit.exog, np.asarray(t, dtype=float), fit.estimand)
