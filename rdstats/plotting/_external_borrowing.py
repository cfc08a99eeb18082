"""Plots of PS-integrated borrowing: the PS-stratified power prior (what was borrowed where,
and the stratum effects) and the hybrid control (control posterior with and without the
external data)."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from rdstats.plotting._plots import _axes


def _two_axes(ax: Any, figsize: tuple[float, float]) -> tuple[Any, Any]:
    """(left, right) axes: a new figure for ``None``, the pair given, or only the right
    panel on a single Axes."""
    if ax is None:
        _, axes = plt.subplots(1, 2, figsize=figsize)
        return axes[0], axes[1]
    if isinstance(ax, (list, tuple, np.ndarray)):
        flat = list(np.ravel(np.asarray(ax, dtype=object)))
        if len(flat) != 2:
            raise ValueError(f"ax must be one Axes or two, got {len(flat)}")
        return flat[0], flat[1]
    return None, ax


def ps_power_prior_plot(result: Any, ax: Any = None) -> Any:
    """Left: external patients available and borrowed per stratum, with the overlap
    coefficient. Right: each stratum's effect (mean and credible interval) and the
    overall effect."""
    left, right = _two_axes(ax, (11, 4))
    st = result.strata
    k = np.arange(1, len(st) + 1)
    if left is not None:
        left.bar(k, st["n_external"], color="0.82", label="external patients in stratum")
        left.bar(k, st["borrowed"], color="C0", label="borrowed (a0 x n)")
        for x, n, r in zip(k, st["n_external"], st["overlap"], strict=True):
            left.annotate(f"overlap {r:.2f}", (x, n), ha="center", va="bottom", fontsize=8)
        left.set_xticks(k)
        left.set_xlabel("propensity-score stratum (low to high P(trial))")
        left.set_ylabel("patients")
        left.set_title(
            f"Borrowing {result.n_borrowed:.0f} of {result.n_borrow:g} planned external patients"
        )
        left.legend(fontsize=8)
    z = float(stats.norm.ppf(0.5 + result.level / 2))
    m, s = st["effect_mean"].to_numpy(), st["effect_sd"].to_numpy()
    right.errorbar(k, m, yerr=z * s, fmt="o", color="C0", capsize=3, label="stratum")
    right.errorbar(
        [len(st) + 1.2],
        [result.estimate],
        yerr=[[result.estimate - result.ci_lower], [result.ci_upper - result.estimate]],
        fmt="D",
        color="C3",
        capsize=4,
        label="overall",
    )
    right.axhline(result.threshold, color="0.5", ls=":", lw=1)
    right.set_xticks([*k.tolist(), len(st) + 1.2])
    right.set_xticklabels([str(i) for i in k] + ["all"])
    right.set_xlabel("stratum")
    right.set_ylabel("effect (treated - control)")
    right.set_title(f"Effect with {result.level:.0%} credible intervals")
    right.legend(fontsize=8)
    return np.array([a for a in (left, right) if a is not None], dtype=object)


def hybrid_control_plot(result: Any, ax: Any = None) -> Any:
    """Posterior densities of the control mean (borrowing), the concurrent-only control
    information and the treated mean."""
    ax = _axes(ax, (7, 4))
    dists = [("treated", result.treated, "C3"), ("control (with external)", result.control, "C0")]
    lo = min(float(d.ppf(1e-4)) for _, d, _ in dists)
    hi = max(float(d.ppf(1 - 1e-4)) for _, d, _ in dists)
    ext = result.external
    if result.outcome_type == "continuous":
        lo, hi = min(lo, ext["mean"] - 4 * ext["se"]), max(hi, ext["mean"] + 4 * ext["se"])
    x = np.linspace(lo, hi, 400)
    for label, d, colour in dists:
        ax.plot(x, d.pdf(x), color=colour, label=label)
    ax.axvline(ext["mean"], color="0.4", ls="--", lw=1, label="weighted external mean")
    ax.set_xlabel("mean outcome" if result.outcome_type == "continuous" else "response rate")
    ax.set_ylabel("posterior density")
    ax.set_title(f"Hybrid control ({result.prior} prior): {result.borrowed:.1f} borrowed")
    ax.legend(fontsize=8)
    return ax
