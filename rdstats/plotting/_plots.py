"""Plots of distributions, decision boundaries and operating-characteristic curves."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import ArrayLike


def _axes(ax: Any, figsize: tuple[float, float] = (6, 4)) -> Any:
    """``ax``, or the Axes of a new figure: the one place outside the plotting functions
    where the result objects' ``plot`` methods touch matplotlib."""
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_distribution(dist: Any, ax: Any = None, **kwargs: Any) -> Any:
    """Density (continuous) or mass function (discrete) of a mixture."""
    ax = _axes(ax)
    label = kwargs.pop("label", type(dist).__name__)
    if dist.discrete:
        hi = float(dist.ppf(0.9999))
        x = np.arange(0, int(hi) + 1)
        ax.vlines(x, 0, dist.pdf(x), label=label, **kwargs)
        ax.set_ylabel("probability")
    else:
        lo, hi = np.asarray(dist.ppf([0.0005, 0.9995]), dtype=float)
        x = np.linspace(lo, hi, 400)
        ax.plot(x, dist.pdf(x), label=label, **kwargs)
        ax.set_ylabel("density")
    ax.set_xlabel("θ" if not dist.discrete else "y")
    ax.legend()
    return ax


def plot_boundary(boundary: Any, ax: Any = None, **kwargs: Any) -> Any:
    """Success region of a design: arm-1 statistic interval for each arm-2 statistic."""
    ax = _axes(ax)
    tab = boundary.table
    if "y2" in tab and tab["y2"].notna().all() and len(tab) > 1:
        lo = tab["lower"].to_numpy(float)
        hi = np.minimum(
            tab["upper"].to_numpy(float),
            np.nanmax(np.where(np.isfinite(tab["upper"]), tab["upper"], np.nan))
            if np.isfinite(tab["upper"]).any()
            else tab["lower"].max() * 1.5 + 1,
        )
        ok = lo <= hi
        ax.fill_between(
            tab["y2"],
            np.where(ok, lo, np.nan),
            np.where(ok, hi, np.nan),
            step="mid" if boundary.statistic == "y" else None,
            alpha=0.4,
            label="positive decision",
            **kwargs,
        )
        ax.set_xlabel("arm 2 statistic")
        ax.set_ylabel("arm 1 statistic")
        ax.legend()
    else:
        ax.axvline(float(tab["lower"].iloc[0]), color="C0", label="lower")
        if np.isfinite(tab["upper"].iloc[0]):
            ax.axvline(float(tab["upper"].iloc[0]), color="C1", label="upper")
        ax.set_xlabel("statistic")
        ax.legend()
    ax.set_title("decision boundary")
    return ax


def plot_oc(
    design: Any, ax: Any = None, theta: ArrayLike | None = None, theta_2: Any = None, **kwargs: Any
) -> Any:
    """Probability of a positive decision against θ (θ1 at fixed θ2 for two arms)."""
    ax = _axes(ax)
    prior = getattr(design, "prior", None) or design.prior_1
    if theta is None:
        lo, hi = np.asarray(prior.ppf([0.001, 0.999]), dtype=float)
        if design.endpoint == "binomial":
            lo, hi = 0.0, 1.0
        theta = np.linspace(max(lo, 0.0) if design.endpoint != "normal" else lo, hi, 101)
    th = np.asarray(theta, dtype=float)
    if hasattr(design, "prior_1"):
        t2 = design.prior_2.mean() if theta_2 is None else theta_2
        y = design.oc(th, t2 if design.n_2 > 0 else None)
        label = kwargs.pop("label", f"θ2 = {float(np.mean(t2)):.3g}")
        ax.set_xlabel("θ1")
    else:
        y = design.oc(th)
        label = kwargs.pop("label", None)
        ax.set_xlabel("θ")
    ax.plot(th, y, label=label, **kwargs)
    ax.set_ylabel("P(positive decision)")
    ax.set_ylim(-0.02, 1.02)
    if label:
        ax.legend()
    return ax
