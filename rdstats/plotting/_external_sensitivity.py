"""Plots for sensitivity analyses of unmeasured confounding: E-value bias plot,
tipping-point heat map and quantitative-bias-analysis histogram."""

from __future__ import annotations

from typing import Any

import numpy as np

from rdstats.plotting._plots import _axes


def _explaining_curve(rr: float, x_max: float, n: int = 400) -> tuple[Any, Any]:
    """Pairs (RR_EU, RR_UD) whose bounding factor RR_EU RR_UD / (RR_EU + RR_UD - 1)
    equals ``rr`` (>= 1): RR_UD = rr (RR_EU - 1) / (RR_EU - rr) for RR_EU > rr."""
    x = np.geomspace(rr * (1 + 1e-3) if rr > 1 else 1.0 + 1e-3, x_max, n)
    y = rr * (x - 1.0) / (x - rr)
    return x, y


def plot_evalue_bias(result: Any, ax: Any = None, **kwargs: Any) -> Any:
    """Curve of confounder strengths (RR_EU, RR_UD) that would just explain away the
    point estimate (and the confidence limit closer to the null); the E-values sit
    where each curve meets the diagonal."""
    ax = _axes(ax)
    ratio = result.rr / result.rr_true
    rr = ratio if ratio >= 1 else 1 / ratio
    top = float(kwargs.pop("xmax", max(4.0 * result.e_value, 5.0)))
    x, y = _explaining_curve(rr, top)
    keep = y <= top
    ax.plot(x[keep], y[keep], color=kwargs.pop("color", "C0"), label="point estimate", **kwargs)
    ax.plot([result.e_value], [result.e_value], "o", color="C0")
    ax.annotate(
        f"E-value {result.e_value:.2f}",
        (result.e_value, result.e_value),
        textcoords="offset points",
        xytext=(6, 6),
    )
    if result.e_value_ci is not None and result.e_value_ci > 1:
        limit = result.rr_lower if result.ci_limit == "lower" else result.rr_upper
        r_ci = limit / result.rr_true
        r_ci = r_ci if r_ci >= 1 else 1 / r_ci
        xc, yc = _explaining_curve(r_ci, top)
        keep = yc <= top
        ax.plot(xc[keep], yc[keep], "--", color="C1", label="confidence limit")
        ax.plot([result.e_value_ci], [result.e_value_ci], "o", color="C1")
    ax.plot([1, top], [1, top], ":", color="0.6", lw=0.8)
    ax.set_xlim(1, top)
    ax.set_ylim(1, top)
    ax.set_xlabel("RR_EU (confounder-treatment risk ratio)")
    ax.set_ylabel("RR_UD (confounder-outcome risk ratio)")
    ax.set_title("Confounding that would explain away the estimate")
    ax.legend()
    return ax


def plot_tipping_heatmap(result: Any, ax: Any = None, **kwargs: Any) -> Any:
    """Heat map of the bias-adjusted estimate over the prevalence of U among the
    treated (x) and the effect of U on the outcome (y), with the tipping frontiers."""
    ax = _axes(ax)
    grid = result.grid
    table = grid.pivot(index="outcome_effect", columns="prevalence_treated", values="adjusted")
    x = table.columns.to_numpy(dtype=float)
    y = table.index.to_numpy(dtype=float)
    z = table.to_numpy(dtype=float)
    cmap = kwargs.pop("cmap", "RdBu_r")
    if result.measure == "MD":
        span = float(np.max(np.abs(z - result.true))) or 1.0
        vmin, vmax = result.true - span, result.true + span
        values = z
    else:
        span = float(np.max(np.abs(np.log(z / result.true)))) or 1.0
        vmin, vmax = -span, span
        values = np.log(z / result.true)
    mesh = ax.pcolormesh(x, y, values, shading="nearest", cmap=cmap, vmin=vmin, vmax=vmax)
    cbar = ax.figure.colorbar(mesh, ax=ax)
    cbar.set_label("adjusted estimate" if result.measure == "MD" else "log(adjusted / true value)")
    front = result.frontier
    ax.plot(front["prevalence_treated"], front["effect_estimate"], "k-", label="estimate tips")
    ax.plot(front["prevalence_treated"], front["effect_ci"], "k--", label="CI tips")
    ax.set_xlim(x.min(), x.max())
    ax.set_ylim(y.min(), y.max())
    ax.set_xlabel("prevalence of U among the treated")
    ax.set_ylabel("effect of U on the outcome" + (" (RR_UD)" if result.measure != "MD" else ""))
    ax.set_title(f"Tipping-point analysis (U prevalence in controls {result.prevalence_control:g})")
    ax.legend(loc="best")
    return ax


def plot_bias_analysis(result: Any, ax: Any = None, **kwargs: Any) -> Any:
    """Histogram of bias-adjusted draws, or the conventional and adjusted intervals."""
    ax = _axes(ax)
    if result.systematic_draws is not None:
        bins = kwargs.pop("bins", 60)
        ax.hist(result.systematic_draws, bins=bins, alpha=0.6, density=True, label="systematic")
        if result.total_draws is not None:
            ax.hist(
                result.total_draws,
                bins=bins,
                alpha=0.4,
                density=True,
                label="systematic and random",
            )
        ax.axvline(result.estimate, color="k", ls=":", label="conventional estimate")
        ax.set_xlabel("bias-adjusted estimate")
        ax.set_ylabel("density")
    else:
        table = result.summary()
        ypos = np.arange(len(table))[::-1]
        for yv, (_, row) in zip(ypos, table.iterrows(), strict=True):
            if row["lower"] is not None and row["upper"] is not None:
                ax.hlines(yv, row["lower"], row["upper"], color="C0")
            ax.plot(row["estimate"], yv, "o", color="C0")
        ax.set_yticks(ypos)
        ax.set_yticklabels(table["analysis"])
        ax.set_xlabel("estimate")
    if result.measure != "MD":
        ax.set_xscale("log")
    if result.systematic_draws is not None:
        ax.legend()
    ax.set_title(f"Quantitative bias analysis ({result.method})")
    return ax
