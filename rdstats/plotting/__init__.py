"""Matplotlib plots for rdstats objects (imported lazily by their ``plot`` methods)."""

from rdstats.plotting._plots import _axes as axes_for
from rdstats.plotting._plots import plot_boundary, plot_distribution, plot_oc
from rdstats.plotting._sequential import plot_sequential_binary
from rdstats.plotting._simulation import plot_oc_result

__all__ = [
    "axes_for",
    "plot_boundary",
    "plot_distribution",
    "plot_oc",
    "plot_oc_result",
    "plot_sequential_binary",
]
