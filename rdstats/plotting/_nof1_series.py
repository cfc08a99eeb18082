"""Forest plot of a series of n-of-1 patients: each patient's unpooled and shrunken jump,
the population mean jump and the next patient's predictive interval, with the MCID."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np


def series_forest_plot(result: Any, ax: Any = None) -> Any:
    """Forest plot of a :class:`~rdstats.nof1.SeriesResult` (one Axes)."""
    n = len(result.patients)
    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 1.4 + 0.45 * (n + 3)), layout="constrained")
    lo_p, hi_p = (1 - result.level) / 2, (1 + result.level) / 2

    def interval(dist: Any) -> tuple[float, float, float]:
        return dist.quantile(lo_p), dist.quantile(0.5), dist.quantile(hi_p)

    ys = np.arange(n, 0, -1) + 2.0
    for k, (raw, post) in enumerate(zip(result.unpooled, result.jumps, strict=True)):
        y = ys[k]
        lo, med, hi = interval(raw)
        ax.plot([lo, hi], [y + 0.15] * 2, color="0.6", lw=1.5)
        ax.plot(
            med, y + 0.15, "o", mfc="white", mec="0.5", ms=5, label="unpooled" if k == 0 else None
        )
        lo, med, hi = interval(post)
        ax.plot([lo, hi], [y - 0.15] * 2, color="C0", lw=2)
        ax.plot(med, y - 0.15, "s", color="C0", ms=5, label="shrunken" if k == 0 else None)
    lo, med, hi = interval(result.mu)
    ax.plot([lo, hi], [1.5] * 2, color="k", lw=2.5)
    ax.plot(med, 1.5, "D", color="k", ms=7, label="population mean")
    lo, med, hi = interval(result.predictive)
    ax.plot([lo, hi], [0.7] * 2, color="C2", lw=2, ls="-")
    ax.plot(med, 0.7, "^", color="C2", ms=7, label="next patient (predictive)")
    labels = [f"patient {p}" for p in result.patients] + ["mean jump", "next patient"]
    ax.set_yticks([*ys, 1.5, 0.7], labels)
    ax.axvline(0.0, color="0.3", lw=0.8)
    title = f"Series of n-of-1 ({result.scale}, {result.level:.0%} intervals)"
    if result.threshold is not None:
        ax.axvline(result.threshold, color="C3", ls="--", lw=1, label="MCID")
        title += f"\nP(mean beyond MCID) = {result.prob_mean_exceeds():.3f}, "
        title += f"P(next beyond MCID) = {result.prob_next_exceeds():.3f}"
    ax.set_xlabel(result.scale)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax
