"""Plot of a matching result: the distance of matched and unmatched units by group."""

from __future__ import annotations

from typing import Any

import numpy as np

from rdstats.plotting._plots import _axes


def plot_match_jitter(result: Any, ax: Any = None, seed: int = 0) -> Any:
    """Jitter plot of the distance (propensity score) of matched and unmatched treated
    and control units, the marker size growing with the matching weight."""
    if result.distance is None:
        raise ValueError("the jitter plot needs a scalar distance; this matching used Mahalanobis")
    ax = _axes(ax)
    rng = np.random.default_rng(seed)
    t = np.asarray(result.treated)
    w = np.asarray(result.weights)
    d = np.asarray(result.distance)
    rows = [
        (3, (t == 0) & (w == 0), "unmatched controls", "0.6"),
        (2, (t == 0) & (w > 0), "matched controls", "C0"),
        (1, (t == 1) & (w > 0), "matched treated", "C1"),
        (0, (t == 1) & (w == 0), "unmatched treated", "C3"),
    ]
    for y, mask, label, colour in rows:
        yy = y + rng.uniform(-0.3, 0.3, int(mask.sum()))
        size = 12.0 * np.sqrt(np.where(w[mask] > 0, w[mask], 1.0))
        ax.scatter(d[mask], yy, s=size, alpha=0.5, color=colour, label=label)
    ax.set_yticks([r[0] for r in rows], [f"{r[2]} ({int(r[1].sum())})" for r in rows])
    ax.set_xlabel(result.distance_kind)
    ax.set_title(f"{result.method} {result.ratio}:1 matching")
    return ax
