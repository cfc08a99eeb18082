"""Plots of time-to-event analyses of external-control studies: weighted Kaplan-Meier
curves."""

from __future__ import annotations

from typing import Any

from rdstats.plotting._plots import _axes


def plot_weighted_km(result: Any, ax: Any = None, ci: bool = True, **kwargs: Any) -> Any:
    """Step plot of each group's weighted Kaplan-Meier curve (a
    :class:`rdstats.external.WeightedKM`), with pointwise confidence bands when ``ci``."""
    ax = _axes(ax)
    for label, fit in result.fits.items():
        fit.plot_survival_function(ax=ax, ci_show=ci, label=label, **kwargs)
    ax.set_xlabel("time")
    ax.set_ylabel("survival probability")
    ax.set_ylim(0, 1.02)
    ax.legend()
    return ax
