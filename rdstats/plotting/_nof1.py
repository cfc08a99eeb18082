"""Plots of n-of-1 jump detection: the series with its fitted segments, the posterior of
the change time and the posterior density of the jump."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np


def _three_axes(ax: Any) -> list[Any]:
    if ax is None:
        _, axes = plt.subplots(
            1, 3, figsize=(15, 4), gridspec_kw={"width_ratios": [2, 1.2, 1.2]}, layout="constrained"
        )
        return list(axes)
    flat = list(np.ravel(np.asarray(ax, dtype=object)))
    if len(flat) != 3:
        raise ValueError(f"ax must be three Axes (series, change time, jump), got {len(flat)}")
    return flat


def jump_plot(result: Any, ax: Any = None) -> Any:
    """Series + fitted segments; change-time posterior; jump density with the MCID."""
    a_series, a_time, a_jump = _three_axes(ax)
    fit = result.fitted()
    a_series.plot(fit["time"], fit["y"], "o", color="0.35", ms=4, label="observed")
    a_series.plot(
        fit["time"],
        fit["fitted"],
        color="C0",
        lw=2,
        label="fitted (most probable change)"
        if result.prob_change >= 0.5
        else "fitted (no change)",
    )
    if result.treatment_start is not None:
        for a in (a_series, a_time):
            a.axvline(result.treatment_start, color="C3", ls="--", lw=1, label="treatment start")
    a_series.set_xlabel("time")
    a_series.set_ylabel("outcome")
    a_series.set_title(f"P(change) = {result.prob_change:.3f}, BF = {result.bayes_factor:.3g}")
    a_series.legend(fontsize=8)

    post = result.change_time_posterior
    width = float(np.min(np.diff(result.times))) * 0.8
    a_time.bar(post.index, post.to_numpy(), width=width, color="C0", alpha=0.8)
    prior = result.prior[1:] * result.prior_prob_change
    a_time.step(post.index, prior, where="mid", color="0.5", lw=1, label="prior")
    a_time.set_xlabel("first visit after the change")
    a_time.set_ylabel("posterior probability")
    a_time.set_title(f"Change time (most probable {result.map_change_time:g})")
    a_time.legend(fontsize=8)

    lo, hi = result.jump_quantile(0.0005), result.jump_quantile(0.9995)
    x = np.linspace(lo, hi, 300)
    cdf = np.array([result.jump_cdf(v) for v in x])
    dens = np.gradient(cdf, x)
    a_jump.plot(x, dens, color="C0")
    a_jump.fill_between(x, dens, alpha=0.2, color="C0")
    label = "rate ratio" if result.family == "poisson" else "jump"
    if result.mcid is not None:
        m = result.mcid
        ref = m if result.family == "poisson" or result.direction == "increase" else -m
        a_jump.axvline(ref, color="C3", ls="--", lw=1)
        a_jump.set_title(f"P({label} beyond MCID, after start) = {result.prob_jump_exceeds():.3f}")
    else:
        a_jump.set_title(f"Posterior of the {label} given a change")
    a_jump.set_xlabel(label)
    a_jump.set_ylabel("density")
    return np.array([a_series, a_time, a_jump], dtype=object)


def multi_jump_plot(result: Any, ax: Any = None) -> Any:
    """One row of :func:`jump_plot` panels per outcome (shared change-time posterior)."""
    k = len(result.outcomes)
    if ax is None:
        _, axes = plt.subplots(
            k,
            3,
            figsize=(15, 3.6 * k),
            gridspec_kw={"width_ratios": [2, 1.2, 1.2]},
            squeeze=False,
            layout="constrained",
        )
    else:
        axes = np.asarray(ax, dtype=object).reshape(k, 3)
    for row, o in zip(axes, result.outcomes, strict=True):
        jump_plot(result.results[o], ax=row)
        row[0].set_ylabel(o)
    return axes
