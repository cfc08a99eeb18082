"""Operating-characteristic metrics with Monte Carlo standard errors.

Every metric is computed from per-trial outcomes, either simulated (equal weights,
MCSE from the sample) or enumerated exactly (outcome probabilities as weights,
MCSE = 0). Outcome keys understood here:

``success``      bool, the design's positive decision (required);
``n_enrolled``   patients (or exposure) used by the trial;
``stopped_at``   look at which the trial stopped early (1, 2, ...; 0 = ran to the end);
``estimate``     point estimate of the design's estimand;
``lower``, ``upper``  interval for the estimand (coverage).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

Array = NDArray[np.float64]
Row = tuple[str, float, float]
QUANTILES = (0.1, 0.5, 0.9)
_ONE_SD = stats.norm.cdf(1.0)


def _mean(x: Array, w: Array | None) -> tuple[float, float]:
    """Mean and its MCSE (0 for exact weights)."""
    if w is None:
        n = x.size
        sd = float(np.std(x, ddof=1)) if n > 1 else 0.0
        return float(np.mean(x)), sd / np.sqrt(n)
    return float(np.dot(w, x) / w.sum()), 0.0


def _proportion(x: Array, w: Array | None) -> tuple[float, float]:
    """Proportion and its binomial MCSE sqrt(p(1-p)/n)."""
    if w is None:
        p = float(np.mean(x))
        return p, float(np.sqrt(p * (1 - p) / x.size))
    return float(np.clip(np.dot(w, x) / w.sum(), 0.0, 1.0)), 0.0  # rounding can pass 1


def _quantile(x: Array, w: Array | None, q: float) -> tuple[float, float]:
    """Quantile with an order-statistic MCSE: half the distance between the order
    statistics at the binomial ±1 SD ranks around ``q n``."""
    if w is None:
        xs = x if bool(np.all(x[:-1] <= x[1:])) else np.sort(x)
        n = xs.size
        value = float(np.quantile(xs, q, method="inverted_cdf"))
        lo = int(stats.binom.ppf(1 - _ONE_SD, n, q))
        hi = int(stats.binom.ppf(_ONE_SD, n, q))
        lo, hi = min(max(lo - 1, 0), n - 1), min(max(hi - 1, 0), n - 1)
        return value, float(xs[hi] - xs[lo]) / 2
    order = np.argsort(x, kind="stable")
    cum = np.cumsum(w[order]) / w.sum()
    i = min(int(np.searchsorted(cum, q - 1e-12)), x.size - 1)
    return float(x[order][i]), 0.0


def compute_metrics(
    outcomes: Mapping[str, Any],
    weights: Array | None = None,
    *,
    truth: float | None = None,
    null: bool | None = None,
    n_looks: int = 1,
    means: tuple[str, ...] = (),
) -> list[Row]:
    """Metrics ``(name, value, mcse)`` from per-trial outcomes.

    ``weights`` are outcome probabilities for exact enumeration (MCSE = 0); ``None``
    means equally likely simulated trials. ``means`` names further outcome columns
    whose mean (with MCSE) is a metric of the same name (a design lists them in
    ``_mean_outcomes``).
    """
    w = None if weights is None else np.asarray(weights, dtype=float)
    rows: list[Row] = []
    success = np.asarray(outcomes["success"], dtype=float)
    p, se = _proportion(success, w)
    rows.append(("p_success", p, se))
    if null is not None:
        rows.append(("type_i_error" if null else "power", p, se))
    if "n_enrolled" in outcomes:
        n = np.asarray(outcomes["n_enrolled"], dtype=float)
        rows.append(("n_mean", *_mean(n, w)))
        if w is None:
            n = np.sort(n)
        for q in QUANTILES:
            name = "n_median" if q == 0.5 else f"n_q{round(100 * q):02d}"
            rows.append((name, *_quantile(n, w, q)))
    if "stopped_at" in outcomes:
        stop = np.asarray(outcomes["stopped_at"])
        rows.append(("p_early_stop", *_proportion((stop > 0).astype(float), w)))
        for k in range(1, max(n_looks, int(stop.max(initial=0))) + 1):
            rows.append((f"p_stop_look_{k}", *_proportion((stop == k).astype(float), w)))
    if "estimate" in outcomes:
        est = np.asarray(outcomes["estimate"], dtype=float)
        rows.append(("estimate_mean", *_mean(est, w)))
        if truth is not None:
            err = est - truth
            rows.append(("bias", *_mean(err, w)))
            mse, mse_se = _mean(err**2, w)
            rmse = float(np.sqrt(mse))
            rows.append(("rmse", rmse, mse_se / (2 * rmse) if rmse > 0 else 0.0))
            if "lower" in outcomes and "upper" in outcomes:
                lo = np.asarray(outcomes["lower"], dtype=float)
                hi = np.asarray(outcomes["upper"], dtype=float)
                covered = ((lo <= truth) & (truth <= hi)).astype(float)
                rows.append(("coverage", *_proportion(covered, w)))
    for name in means:
        if name in outcomes:
            rows.append((name, *_mean(np.asarray(outcomes[name], dtype=float), w)))
    if w is not None:
        rows.append(("enumerated_mass", float(w.sum()), 0.0))
    return rows
