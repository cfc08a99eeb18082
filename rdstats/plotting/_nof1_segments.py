"""Plots of several change points (Fearnhead recursion) and of the online detector
(Adams-MacKay): segments, change probabilities, run-length heat map."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm


def _axes(ax: Any, k: int, what: str, **kw: Any) -> list[Any]:
    if ax is None:
        _, axes = plt.subplots(k, 1, layout="constrained", **kw)
        return list(np.ravel(axes))
    flat = list(np.ravel(np.asarray(ax, dtype=object)))
    if len(flat) != k:
        raise ValueError(f"ax must be {k} Axes ({what}), got {len(flat)}")
    return flat


def _edges(t: Any) -> Any:
    t = np.asarray(t, dtype=float)
    if t.size == 1:
        return np.array([t[0] - 0.5, t[0] + 0.5])
    mid = (t[1:] + t[:-1]) / 2
    return np.concatenate([[2 * t[0] - mid[0]], mid, [2 * t[-1] - mid[-1]]])


def multiple_changes_plot(result: Any, ax: Any = None) -> Any:
    """Series with the most probable segmentation (segment levels with credible bands)
    above the posterior probability of a change before each visit."""
    a_series, a_prob = _axes(
        ax, 2, "series, change probability", figsize=(10, 6), sharex=True, height_ratios=[2, 1]
    )
    t, y = result.times, result.y
    a_series.plot(t, y, "o-", color="0.45", ms=3, lw=0.6, label="observed")
    edges = _edges(t)
    lab = "level (most probable segmentation)"
    for k, row in enumerate(result.segments.itertuples(index=False)):
        i0 = int(np.searchsorted(t, row.start))
        i1 = int(np.searchsorted(t, row.end))
        x = [edges[i0], edges[i1 + 1]]
        a_series.plot(x, [row.mean] * 2, color="C0", lw=2, label=lab if k == 0 else None)
        a_series.fill_between(x, row.lower, row.upper, color="C0", alpha=0.2, lw=0)
    for c in result.map_changes:
        a_series.axvline(edges[int(np.searchsorted(t, c))], color="C3", ls="--", lw=1)
    k_map = int(np.argmax(result.n_changes_posterior.to_numpy()))
    a_series.set_title(
        f"Most probable number of changes {k_map} "
        f"(posterior {result.n_changes_posterior.iloc[k_map]:.3f}); "
        f"expected {result.expected_n_changes:.2f}"
    )
    a_series.set_ylabel("outcome")
    a_series.legend(fontsize=8)
    p = result.change_probability
    width = float(np.min(np.diff(t))) * 0.8 if t.size > 1 else 0.8
    a_prob.bar(p.index, p.to_numpy(), width=width, color="C3", alpha=0.8)
    a_prob.set_ylim(0, 1)
    a_prob.set_xlabel("time (first visit of a new segment)")
    a_prob.set_ylabel("P(change before visit)")
    return np.array([a_series, a_prob], dtype=object)


def online_plot(result: Any, ax: Any = None) -> Any:
    """Data; run-length posterior as a heat map (run length against time, with the most
    probable run length); P(change since treatment start) with the alarm threshold."""
    a_data, a_rl, a_p = _axes(
        ax,
        3,
        "data, run length, P(change since start)",
        figsize=(10, 8),
        sharex=True,
        height_ratios=[1.2, 1.5, 1],
    )
    tr = result.trajectory
    t = tr["time"].to_numpy(float)
    a_data.plot(t, tr["y"], "o-", color="0.35", ms=3, lw=0.6)
    a_data.set_ylabel("outcome")
    fa = result.first_alarm
    for a in (a_data, a_rl, a_p):
        if result.treatment_start is not None:
            a.axvline(result.treatment_start, color="C3", ls="--", lw=1)
        if fa is not None:
            a.axvline(fa, color="C1", ls=":", lw=1.5)
    title = "first alarm " + (f"at {fa:g}" if fa is not None else ": none")
    a_data.set_title(title)
    rl = np.asarray(result.run_length_posterior)
    n = rl.shape[0]
    z = np.where(rl > 1e-8, rl, np.nan).T
    mesh = a_rl.pcolormesh(
        _edges(t), np.arange(n + 1) + 0.5, z, norm=LogNorm(1e-8, 1), cmap="Greys", shading="flat"
    )
    a_rl.plot(t, tr["map_run_length"], color="C0", lw=1.2, label="most probable")
    a_rl.set_ylabel("run length (visits)")
    a_rl.legend(fontsize=8, loc="upper left")
    plt.colorbar(mesh, ax=a_rl, label="posterior")
    a_p.plot(t, tr["prob_change_since_start"], color="C0", lw=1.5)
    a_p.axhline(result.detector.threshold, color="C1", ls="--", lw=1, label="threshold")
    a_p.set_ylim(-0.02, 1.02)
    a_p.set_ylabel("P(change since start)")
    a_p.set_xlabel("time")
    a_p.legend(fontsize=8, loc="upper left")
    return np.array([a_data, a_rl, a_p], dtype=object)
