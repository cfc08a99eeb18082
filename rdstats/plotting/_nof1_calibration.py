"""Plots of a jump-detection rule's calibration: the null distribution of its statistic
with the thresholds, and the power and detection-delay curves."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np


def _axes(ax: Any, k: int) -> list[Any]:
    if ax is None:
        _, axes = plt.subplots(1, k, figsize=(5.2 * k, 4), layout="constrained", squeeze=False)
        return list(axes[0])
    flat = list(np.ravel(np.asarray(ax, dtype=object)))
    if len(flat) != k:
        raise ValueError(f"ax must be {k} Axes for this result, got {len(flat)}")
    return flat


def _null_panel(result: Any, a: Any) -> None:
    v = np.asarray(result.statistics)
    a.hist(v, bins=50, color="0.6", edgecolor="white", density=True)
    a.axvline(
        result.rule.threshold,
        color="C0",
        ls="--",
        label=f"rule: {result.rule.threshold:.3g} (false alarms {result.false_alarm_rate:.3f})",
    )
    lo, hi = result.threshold_interval
    a.axvspan(lo, hi, color="C3", alpha=0.15)
    a.axvline(
        result.threshold,
        color="C3",
        label=f"calibrated to {result.target:g}: {result.threshold:.3g}",
    )
    a.set_xlabel("naive p-value" if result.rule.statistic == "naive" else result.rule.statistic)
    a.set_ylabel("density (null patients)")
    where = "random start" if result.enrolment is None else "start after a flare"
    a.set_title(f"Null distribution ({result.n_series:,} patients, {where})")
    a.legend(fontsize=8)


def calibration_plot(result: Any, ax: Any = None) -> Any:
    """Null distribution with the thresholds; with a power curve also power (fires on the
    whole series; detected at some look) against the true jump, and the mean detection
    delay. Error bars: +-2 MCSE."""
    curve = result.curve
    seq = curve is not None and "p_detected" in curve
    k = 1 if curve is None else (3 if seq else 2)
    axes = _axes(ax, k)
    _null_panel(result, axes[0])
    if curve is None:
        return axes[0]
    e = curve["effect"].to_numpy()
    a = axes[1]
    a.errorbar(
        e,
        curve["power"],
        yerr=2 * curve["power_mcse"],
        marker="o",
        capsize=3,
        label="fires on the whole series",
    )
    if seq:
        a.errorbar(
            e,
            curve["p_detected"],
            yerr=2 * curve["p_detected_mcse"],
            marker="s",
            capsize=3,
            label="fires at some look",
        )
    a.axhline(result.target, color="0.5", lw=1, ls=":")
    a.set_ylim(-0.02, 1.02)
    a.set_xlabel("true jump" if result.rule.family == "normal" else "true rate ratio")
    a.set_ylabel("probability the rule fires")
    a.set_title(f"Power at threshold {float(curve['threshold'].iloc[0]):.3g}")
    a.legend(fontsize=8)
    if seq:
        d = axes[2]
        d.errorbar(
            e,
            curve["mean_delay"],
            yerr=2 * curve["mean_delay_mcse"],
            marker="o",
            capsize=3,
            color="C2",
            label="mean (detected patients)",
        )
        med = curve["median_delay"].to_numpy(dtype=float)
        ok = np.isfinite(med)
        d.plot(e[ok], med[ok], "D--", color="C4", label="median (all patients)")
        d.set_xlabel(a.get_xlabel())
        d.set_ylabel("treated visits until the rule fires")
        d.set_title("Detection delay")
        d.legend(fontsize=8)
    return np.array(axes, dtype=object)
