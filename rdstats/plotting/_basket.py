"""Plots of basket-trial posteriors: forest plot of the baskets' response rates."""

from __future__ import annotations

from typing import Any

import numpy as np

from rdstats.plotting._plots import _axes


def basket_forest(result: Any, ax: Any = None, p0: Any = None) -> Any:
    """Posterior medians with credible intervals (one row per basket), observed rates as
    open circles and the null rate(s) ``p0`` as a dashed line."""
    k = result.n_baskets
    ax = _axes(ax, (7, 0.45 * k + 1.5))
    lo, hi = (1 - result.level) / 2, (1 + result.level) / 2
    med, low, up = result.quantile(0.5), result.quantile(lo), result.quantile(hi)
    y = np.arange(k)[::-1]
    ax.errorbar(med, y, xerr=[med - low, up - med], fmt="o", color="C0", capsize=3,
                label=f"posterior median, {result.level:.0%} interval")  # fmt: skip
    with np.errstate(invalid="ignore", divide="ignore"):
        obs = np.where(result.n > 0, result.r / np.maximum(result.n, 1), np.nan)
    ax.plot(obs, y, "o", mfc="none", color="0.3", label="observed r/n")
    if p0 is not None:
        p = np.broadcast_to(np.asarray(p0, dtype=float), (k,))
        if np.all(p == p[0]):
            ax.axvline(p[0], color="C3", ls="--", lw=1, label=f"p0 = {p[0]:g}")
        else:
            ax.plot(p, y, "|", color="C3", ms=14, label="p0")
    ax.set_yticks(y)
    ax.set_yticklabels(
        [f"{nm} ({r}/{n})" for nm, r, n in zip(result.names, result.r, result.n, strict=True)]
    )
    ax.set_xlim(0, 1)
    ax.set_xlabel("response rate")
    ax.set_title(f"{result.model}: posterior response rate by basket")
    ax.legend(fontsize=8, loc="lower right")
    return ax
