"""Matplotlib plots for rdstats objects (imported lazily by their ``plot`` methods)."""

from rdstats.plotting._plots import plot_boundary, plot_distribution, plot_oc

__all__ = ["plot_boundary", "plot_distribution", "plot_oc"]
