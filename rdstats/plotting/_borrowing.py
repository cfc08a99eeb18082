"""Plots for borrowing: the MAP forest plot."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from rdstats.plotting._plots import _axes


def _link_to_response(family: str, x: Any) -> Any:
    if family == "binomial":
        return special.expit(x)
    if family == "poisson":
        return np.exp(x)
    return x


def plot_map_forest(result: Any, ax: Any = None, **kwargs: Any) -> Any:
    """Forest plot of a MAP analysis: each historical study's observed estimate (95%
    interval from its own data, open circle) and shrunken estimate (filled), the
    population mean mu and the MAP prior (diamond), on the response scale."""
    import matplotlib.pyplot as plt

    table = result.study_estimates
    n = len(table)
    if ax is None:
        _, ax = plt.subplots(figsize=kwargs.pop("figsize", (6.5, 0.45 * (n + 3) + 1)))
    ax = _axes(ax)
    fam = result.family
    y = np.arange(n)[::-1] + 2.0
    est, se = table["link_estimate"].to_numpy(), table["link_se"].to_numpy()
    lo = _link_to_response(fam, est - 1.96 * se)
    hi = _link_to_response(fam, est + 1.96 * se)
    obs = table["observed"].to_numpy()
    ax.hlines(y + 0.15, lo, hi, color="0.55", lw=1.2)
    ax.plot(obs, y + 0.15, "o", mfc="white", mec="0.35", label="observed (95% CI)")
    ax.hlines(y - 0.15, table["2.5%"], table["97.5%"], color="C0", lw=2)
    ax.plot(table["50%"], y - 0.15, "o", color="C0", label="shrunken estimate (95% CrI)")
    mu = result.mu
    mu_r = _link_to_response(fam, np.array([mu["2.5%"], mu["50%"], mu["97.5%"]]))
    ax.hlines(1.0, mu_r[0], mu_r[2], color="C2", lw=2)
    ax.plot(mu_r[1], 1.0, "s", color="C2", label="population mean (95% CrI)")
    m = result.predictive
    ax.fill(
        [m["2.5%"], m["50%"], m["97.5%"], m["50%"]],
        [0.0, 0.25, 0.0, -0.25],
        color="C3",
        alpha=0.8,
        label="MAP prior (95% interval)",
    )
    ax.set_yticks([*y, 1.0, 0.0])
    ax.set_yticklabels([str(s) for s in table["study"]] + ["mean", "MAP"])
    ax.set_ylim(-0.8, n + 2.8)
    ax.axhline(1.6, color="0.85", lw=0.8)
    xlabel = {"binomial": "response rate", "poisson": "event rate", "normal": "mean"}[fam]
    ax.set_xlabel(xlabel)
    ax.set_title(kwargs.pop("title", f"MAP prior from {n} historical studies ({result.method})"))
    ax.legend(loc=kwargs.pop("legend_loc", "best"), fontsize="small", frameon=False)
    return ax
