"""Plots of simulated operating characteristics (metric against a scenario parameter)."""

from __future__ import annotations

from typing import Any

import numpy as np

from rdstats.plotting._plots import _axes

_LABELS = {
    "p_success": "P(positive decision)",
    "type_i_error": "type I error",
    "power": "power",
    "n_mean": "expected sample size",
    "n_median": "median sample size",
    "p_early_stop": "P(early stop)",
    "estimate_mean": "mean estimate",
    "bias": "bias",
    "rmse": "RMSE",
    "coverage": "coverage of 95% interval",
}


def metric_label(metric: str) -> str:
    """Readable axis label of a metric name."""
    return _LABELS.get(metric, metric.replace("_", " "))


def plot_oc_result(
    result: Any,
    metric: str = "p_success",
    x: str | None = None,
    by: str | None = None,
    ax: Any = None,
    **kwargs: Any,
) -> Any:
    """``metric`` against scenario parameter ``x`` with ±2 MCSE error bars, one line per
    value of ``by`` (default: the first and second scenario parameters)."""
    params = result.scenarios.parameters
    x = x or params[0]
    if by is None and len(params) > 1:
        by = next(p for p in params if p != x)
    for name, value in (("x", x), ("by", by)):
        if value is not None and value not in params:
            raise ValueError(f"{name}={value!r} is not a scenario parameter; choose from {params}")
    table = result.metric(metric)
    ax = _axes(ax)
    groups = [(None, table)] if by is None else list(table.groupby(by, sort=True))
    for key, df in groups:
        df = df.sort_values(x)
        label = kwargs.pop("label", None) if key is None else f"{by} = {key:g}"
        ax.errorbar(
            df[x],
            df["value"],
            yerr=2 * df["mcse"].to_numpy(),
            marker="o",
            ms=4,
            capsize=3,
            label=label,
            **kwargs,
        )
    ax.set_xlabel(x)
    ax.set_ylabel(metric_label(metric))
    if metric in ("p_success", "power", "type_i_error", "coverage") or metric.startswith("p_"):
        lo, hi = ax.get_ylim()
        ax.set_ylim(max(lo, -0.02), min(hi, 1.02))
    if by is not None:
        ax.legend(frameon=False)
    err = "±2 MCSE" if np.any(table["mcse"] > 0) else "exact"
    ax.set_title(f"{metric_label(metric)} ({err})", fontsize=10)
    return ax
