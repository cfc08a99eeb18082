"""Four-panel plot of an external-control design comparison: bias, rejection rate,
coverage and RMSE of every analysis against a scenario parameter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = ["plot_design_comparison"]

_PANELS = (
    ("bias", "bias"),
    ("p_success", "rejection rate (type I error / power)"),
    ("coverage", "coverage"),
    ("rmse", "RMSE"),
)
_LABELS = {
    "naive": "naive",
    "regression": "regression",
    "matching": "PS matching",
    "weighting": "PS weighting (ATT)",
    "ps_borrowing": "PS-stratified power prior",
    "hybrid": "hybrid control",
}


def _select(table: pd.DataFrame, params: list[str], x: str | None, where: Any) -> tuple[str, Any]:
    if where is not None:
        if not isinstance(where, Mapping):
            raise TypeError(f"where must be a mapping of parameter values, got {where!r}")
        for k, v in where.items():
            if k not in params:
                raise ValueError(f"where names {k!r}, which is not a parameter of {params}")
            sel = np.isclose(table[k].to_numpy(dtype=float), float(v))
            if not sel.any():
                values = sorted(set(table[k].to_numpy().tolist()))
                raise ValueError(f"where={dict(where)!r}: {k} takes the values {values}")
            table = table[sel]
    varying = [p for p in params if table[p].nunique() > 1]
    if x is None:
        if len(varying) != 1:
            raise ValueError(
                f"x is needed: the parameters {varying} vary; pass x= (and where= to fix "
                "the others)"
            )
        x = varying[0]
    if x not in params:
        raise ValueError(f"x={x!r} is not a scenario parameter; choose from {params}")
    others = [p for p in varying if p != x]
    if others:
        raise ValueError(
            f"parameters {others} vary besides x={x!r}; fix them with where=, e.g. "
            f"where={{{others[0]!r}: {table[others[0]].iloc[0]!r}}}"
        )
    return x, table


def plot_design_comparison(
    comparison: Any, x: str | None = None, where: Any = None, axes: Any = None
) -> Any:
    """Bias, rejection rate (with the nominal alpha), coverage (with ``1 - 2 alpha``) and
    RMSE of every analysis against scenario parameter ``x``, +-2 MCSE error bars."""
    params = list(comparison.parameters)
    x, table = _select(comparison.table, params, x, where)
    if axes is None:
        _, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
    axes = np.asarray(axes)
    if axes.size != 4:
        raise ValueError(f"axes must hold 4 Axes (2x2), got {axes.size}")
    flat = axes.ravel()
    alpha = float(comparison.design.alpha)
    n = len(comparison.analyses)
    span = float(np.ptp(table[x].to_numpy(dtype=float))) or 1.0
    for k, a in enumerate(comparison.analyses):
        df = table[table["analysis"] == a].sort_values(x)
        dx = (k - (n - 1) / 2) * 0.012 * span  # dodge overlapping error bars
        for ax, (metric, _) in zip(flat, _PANELS, strict=True):
            ax.errorbar(
                df[x].to_numpy(dtype=float) + dx,
                df[metric],
                yerr=2 * df[f"{metric}_mcse"].to_numpy(dtype=float),
                marker="o",
                ms=4,
                capsize=3,
                label=_LABELS.get(a, a),
            )
    flat[0].axhline(0.0, color="0.5", lw=0.8, ls=":")
    flat[1].axhline(alpha, color="k", lw=0.8, ls="--", label=f"nominal alpha = {alpha:g}")
    flat[2].axhline(1 - 2 * alpha, color="k", lw=0.8, ls="--", label=f"{1 - 2 * alpha:.0%}")
    for ax, (_, title) in zip(flat, _PANELS, strict=True):
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in flat[2:]:
        ax.set_xlabel(x)
    flat[1].set_ylim(-0.02, 1.02)
    flat[0].legend(fontsize=8, frameon=False)
    flat[1].legend(fontsize=8, frameon=False, loc="best", handles=flat[1].get_lines()[-1:])
    flat[2].legend(fontsize=8, frameon=False, handles=flat[2].get_lines()[-1:])
    fixed = {p: table[p].iloc[0] for p in params if p != x}
    flat[0].figure.suptitle(
        "Operating characteristics by analysis (same simulated trials; +-2 MCSE): "
        + ", ".join(f"{k} = {v:g}" for k, v in fixed.items()),
        fontsize=10,
    )
    return axes
