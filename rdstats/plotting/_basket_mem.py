"""Plots of MEM exchangeability: heat map or network of pairwise posterior probabilities."""

from __future__ import annotations

from typing import Any

import numpy as np

from rdstats.plotting._plots import _axes


def plot_exchangeability(result: Any, ax: Any = None, kind: str = "heatmap") -> Any:
    """Pairwise posterior exchangeability of a MEM result.

    ``kind="heatmap"``: matrix of ``exchangeability[j, h]`` (row ``j``: basket ``j``'s
    model) with the probabilities printed in the cells. ``kind="network"``: baskets on a
    circle (node size ~ patients, colour ~ observed rate), edges drawn with width and
    opacity proportional to the symmetrised probability.
    """
    if result.exchangeability is None:
        raise ValueError("result has no exchangeability matrix (fit it with MEM)")
    if kind not in ("heatmap", "network"):
        raise ValueError(f"kind must be 'heatmap' or 'network', got {kind!r}")
    x = np.asarray(result.exchangeability, dtype=float)
    k = x.shape[0]
    labels = [f"{nm} ({r}/{n})" for nm, r, n in zip(result.names, result.r, result.n, strict=True)]
    new_figure = ax is None
    if kind == "heatmap":
        ax = _axes(ax, (0.6 * k + 4, 0.6 * k + 3))
        im = ax.imshow(x, vmin=0, vmax=1, cmap="viridis")
        for i in range(k):
            for j in range(k):
                ax.text(
                    j,
                    i,
                    f"{x[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="black" if x[i, j] > 0.6 else "white",
                )
        ax.set_xticks(range(k))
        ax.set_yticks(range(k))
        ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=8)
        ax.set_yticklabels(labels, fontsize=8)
        ax.figure.colorbar(im, ax=ax, label="P(exchangeable | data)")
        ax.set_title(f"{result.model}: pairwise posterior exchangeability")
        if new_figure:
            ax.figure.tight_layout()
        return ax
    ax = _axes(ax, (6, 6))
    sym = 0.5 * (x + x.T)
    ang = np.pi / 2 - 2 * np.pi * np.arange(k) / k
    px, py = np.cos(ang), np.sin(ang)
    for i in range(k):
        for j in range(i + 1, k):
            if sym[i, j] > 0.01:
                ax.plot(
                    [px[i], px[j]],
                    [py[i], py[j]],
                    color="C0",
                    lw=0.5 + 5 * sym[i, j],
                    alpha=float(0.2 + 0.8 * sym[i, j]),
                    zorder=1,
                )
    with np.errstate(invalid="ignore", divide="ignore"):
        obs = np.where(result.n > 0, result.r / np.maximum(result.n, 1), np.nan)
    size = 100 + 400 * np.asarray(result.n, dtype=float) / max(float(np.max(result.n)), 1.0)
    sc = ax.scatter(
        px,
        py,
        s=size,
        c=obs,
        cmap="plasma",
        vmin=0,
        vmax=1,
        zorder=2,
        edgecolors="black",
        plotnonfinite=True,
    )
    for i in range(k):
        ax.annotate(
            labels[i],
            (px[i], py[i]),
            xytext=(1.3 * px[i], 1.3 * py[i]),
            ha="center",
            va="center",
            fontsize=8,
        )
    ax.figure.colorbar(sc, ax=ax, label="observed response rate", shrink=0.7)
    ax.set_xlim(-1.5, 1.5)
    ax.set_ylim(-1.5, 1.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"{result.model}: exchangeability network (edge ~ probability)")
    return ax
