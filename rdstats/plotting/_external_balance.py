"""Plots for external-control balance diagnostics: the Love plot of standardised mean
differences and the propensity-score overlap histogram."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rdstats.plotting._plots import _axes

__all__ = ["love_plot", "overlap_plot"]


def love_plot(balance_table: pd.DataFrame, threshold: float = 0.1, ax: Any = None) -> Any:
    """Absolute standardised mean differences per covariate, unadjusted (open circles)
    and adjusted (filled), with a vertical threshold line."""
    if "smd_un" not in balance_table.columns:
        raise ValueError("balance_table must be the output of balance() (no 'smd_un' column)")
    thr = float(threshold)
    if not np.isfinite(thr) or thr < 0:
        raise ValueError(f"threshold must be a non-negative number, got {threshold!r}")
    n = len(balance_table)
    ax = _axes(ax, figsize=(6, 0.35 * n + 1.5))
    y = np.arange(n)[::-1]
    ax.plot(np.abs(balance_table["smd_un"]), y, "o", mfc="white", mec="0.3", label="unadjusted")
    if "smd_adj" in balance_table.columns:
        ax.plot(np.abs(balance_table["smd_adj"]), y, "o", color="C0", label="adjusted")
    ax.axvline(thr, color="0.5", ls="--", lw=1)
    ax.set_yticks(y)
    ax.set_yticklabels([str(i) for i in balance_table.index])
    ax.set_xlabel("absolute standardised mean difference")
    ax.legend(loc="lower right", frameon=False)
    return ax


def overlap_plot(scores: np.ndarray, treatment: np.ndarray, ax: Any = None, bins: int = 30) -> Any:
    """Mirrored histograms of the propensity scores: treated above, controls below."""
    ax = _axes(ax)
    edges = np.linspace(0.0, 1.0, bins + 1)
    h1, _ = np.histogram(scores[treatment == 1], bins=edges)
    h0, _ = np.histogram(scores[treatment == 0], bins=edges)
    width = np.diff(edges)
    ax.bar(edges[:-1], h1, width=width, align="edge", color="C1", alpha=0.8, label="treated")
    ax.bar(edges[:-1], -h0, width=width, align="edge", color="C0", alpha=0.8, label="control")
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_xlabel("propensity score")
    ax.set_ylabel("count (controls below)")
    ax.legend(frameon=False)
    return ax
