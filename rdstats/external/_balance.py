"""Covariate balance diagnostics between treated (trial) and control (external) groups:
standardised mean differences, variance ratios and empirical-CDF statistics, before and
after weighting or matching.

Conventions (those documented for R's cobalt ``bal.tab`` with ``binary = "std"``):

* the standardising SD always comes from the **unweighted** sample: the treated group's SD
  for the ATT, the control group's for the ATC and the pooled ``sqrt((s1^2 + s0^2) / 2)``
  otherwise (ATE, ATO);
* continuous SDs use the ``n - 1`` divisor; binary variables use ``sqrt(p (1 - p))``;
* when that SD is 0 (the covariate is constant in the group whose SD standardises, e.g.
  in all treated units for the ATT) the pooled SD is used instead and the row's
  ``sd_fallback`` column is True; when the pooled SD is 0 too (constant within both
  groups) the SMD is 0 for equal means and NaN otherwise (no scale to express the
  difference on; the eCDF statistics still show it). The table never holds an infinite
  SMD. (This is a documented choice of rdstats; other software may differ.)
* weighted means normalise the weights within each group; weighted variances (for
  variance ratios) use the unbiased weighted form ``sum w / ((sum w)^2 - sum w^2) *
  sum w (x - m)^2``;
* eCDF statistics are the mean and the maximum (Kolmogorov-Smirnov) absolute differences
  of the two groups' weighted empirical CDFs over the pooled distinct values; for a
  binary variable both are the absolute difference in proportions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rdstats._validation import as_float_array
from rdstats.external._data import (
    check_frame,
    check_weights,
    covariate_matrix,
    is_binary,
    treatment_indicator,
)

__all__ = ["balance", "love_plot"]

_DENOMS = {"ATT": "treated", "ATC": "control", "ATE": "pooled", "ATO": "pooled"}


def _wmean(x: NDArray[np.float64], w: NDArray[np.float64]) -> float:
    return float(np.sum(w * x) / np.sum(w))


def _wvar(x: NDArray[np.float64], w: NDArray[np.float64]) -> float:
    sw, sw2 = np.sum(w), np.sum(w**2)
    m = np.sum(w * x) / sw
    den = sw**2 - sw2
    return float(sw / den * np.sum(w * (x - m) ** 2)) if den > 0 else float("nan")


def _ecdf_stats(
    x1: NDArray[np.float64],
    w1: NDArray[np.float64],
    x0: NDArray[np.float64],
    w0: NDArray[np.float64],
) -> tuple[float, float]:
    grid = np.unique(np.concatenate([x1, x0]))

    def cdf(x: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
        order = np.argsort(x, kind="stable")
        xs, cw = x[order], np.cumsum(w[order]) / np.sum(w)
        idx = np.searchsorted(xs, grid, side="right")
        return np.where(idx > 0, cw[np.maximum(idx - 1, 0)], 0.0)

    d = np.abs(cdf(x1, w1) - cdf(x0, w0))
    return float(d.mean()), float(d.max())


def _stats(
    x: NDArray[np.float64], t: NDArray[np.int64], w: NDArray[np.float64], binary: bool, sd: float
) -> dict[str, float]:
    x1, x0, w1, w0 = x[t == 1], x[t == 0], w[t == 1], w[t == 0]
    if w1.sum() <= 0 or w0.sum() <= 0:
        raise ValueError("weights must have a positive sum in each group")
    m1, m0 = _wmean(x1, w1), _wmean(x0, w0)
    smd = (m1 - m0) / sd if sd > 0 else (0.0 if m1 == m0 else float("nan"))
    vr = float("nan")
    if not binary:
        v0 = _wvar(x0, w0)
        vr = _wvar(x1, w1) / v0 if v0 > 0 else float("nan")
    if binary:  # one jump: both eCDF statistics are the difference in proportions
        em = ex = abs(m1 - m0)
    else:
        em, ex = _ecdf_stats(x1, w1, x0, w0)
    return {
        "mean_treated": m1,
        "mean_control": m0,
        "smd": smd,
        "var_ratio": vr,
        "ecdf_mean": em,
        "ecdf_max": ex,
    }


def balance(
    data: pd.DataFrame,
    treatment: str,
    covariates: Sequence[str] | str,
    weights: Any = None,
    estimand: str = "ATT",
    s_d_denom: str | None = None,
    distance: Any = None,
) -> pd.DataFrame:
    """Balance table: one row per covariate (categorical covariates expanded to all their
    levels), plus the propensity-score ``distance`` if given.

    Parameters
    ----------
    data : DataFrame
        One row per patient.
    treatment : str
        Name of the 0/1 treatment (trial) column.
    covariates : sequence of str
        Covariates to assess.
    weights : array-like or WeightResult, optional
        Balancing (or matching) weights, one per row. Without weights only the unadjusted
        columns are reported.
    estimand : {"ATT", "ATE", "ATC", "ATO"}
        Sets the default standardising SD (treated, pooled, control, pooled).
    s_d_denom : {"treated", "control", "pooled"}, optional
        Overrides the estimand's standardising SD.
    distance : array-like or PropensityScores, optional
        Propensity scores; reported as the first row, ``"distance"``, on the probability
        scale (as cobalt reports MatchIt's distance).

    Returns
    -------
    DataFrame
        Columns ``type`` ("binary" / "contin."), and for the unadjusted sample (suffix
        ``_un``) and, with weights, the adjusted sample (suffix ``_adj``): ``mean_treated``,
        ``mean_control``, ``smd``, ``var_ratio`` (continuous only), ``ecdf_mean``,
        ``ecdf_max``; last ``sd_fallback``: True where the estimand's standardising SD
        was 0 and the pooled SD was used instead (see the module notes; an SMD is NaN,
        never infinite, when the covariate is constant within both groups but differs
        between them).

    References
    ----------
    Austin PC (2009). Balance diagnostics for comparing the distribution of baseline
    covariates between treatment groups in propensity-score matched samples. Statistics
    in Medicine 28:3083-3107.

    Greifer N (2024). cobalt: Covariate Balance Tables and Plots. R package; vignette
    "Covariate Balance Tables and Plots: A Guide to the cobalt Package".

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"t": [1, 1, 0, 0, 0], "x": [1.0, 3.0, 0.0, 1.0, 2.0]})
    >>> tab = balance(d, "t", ["x"])
    >>> round(float(tab.loc["x", "smd_un"]), 4)
    0.7071
    """
    data = check_frame(data)
    t = treatment_indicator(data, treatment)
    if estimand not in _DENOMS:
        raise ValueError(f"estimand must be one of {sorted(_DENOMS)}, got {estimand!r}")
    denom = _DENOMS[estimand] if s_d_denom is None else s_d_denom
    if denom not in ("treated", "control", "pooled"):
        raise ValueError(f"s_d_denom must be 'treated', 'control' or 'pooled', got {s_d_denom!r}")
    x = covariate_matrix(data, covariates, drop_first=False)
    if distance is not None:
        d = as_float_array(getattr(distance, "scores", distance), "distance")
        if d.shape != (len(data),):
            raise ValueError(f"distance must have one value per row ({len(data)}), got {d.shape}")
        x.insert(0, "distance", d)
    n = len(data)
    w = None
    if weights is not None:
        w = check_weights(getattr(weights, "weights", weights), n)
    ones = np.ones(n)
    rows = {}
    for c in x.columns:
        v = x[c].to_numpy(dtype=float)
        binary = c != "distance" and is_binary(x[c])
        sds = {}
        for g in (1, 0):
            xg = v[t == g]
            if binary:
                p = xg.mean()
                sds[g] = p * (1 - p)
            else:
                sds[g] = float(np.var(xg, ddof=1)) if xg.size > 1 else 0.0
        var = {"treated": sds[1], "control": sds[0], "pooled": (sds[1] + sds[0]) / 2}[denom]
        fallback = not var > 0 and (sds[1] + sds[0]) > 0
        if fallback:  # the chosen group is constant: standardise by the pooled SD
            var = (sds[1] + sds[0]) / 2
        sd = float(np.sqrt(var))
        row: dict[str, Any] = {"type": "binary" if binary else "contin."}
        row.update({f"{k}_un": val for k, val in _stats(v, t, ones, binary, sd).items()})
        if w is not None:
            row.update({f"{k}_adj": val for k, val in _stats(v, t, w, binary, sd).items()})
        row["sd_fallback"] = fallback
        rows[str(c)] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def love_plot(balance_table: pd.DataFrame, threshold: float = 0.1, ax: Any = None) -> Any:
    """Love plot of absolute standardised mean differences before and after adjustment.

    Parameters
    ----------
    balance_table : DataFrame
        Output of :func:`balance`.
    threshold : float
        Reference line (commonly 0.1).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    References
    ----------
    Ahmed A et al. (2006). Heart failure, chronic diuretic use, and increase in mortality
    and hospitalization. European Heart Journal 27:1431-1439 (the "Love plot").

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"t": [1, 1, 0, 0, 0], "x": [1.0, 3.0, 0.0, 1.0, 2.0]})
    >>> ax = love_plot(balance(d, "t", ["x"], weights=[1, 1, 1, 1, 1]))
    """
    from rdstats.plotting._external_balance import love_plot as _love

    return _love(balance_table, threshold=threshold, ax=ax)
