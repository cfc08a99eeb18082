"""Plots of single-arm sequential binary designs: stopping regions and OC curves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rdstats.plotting._plots import _axes


def plot_sequential_binary(
    design: Any, ax: Any = None, kind: str = "boundaries", p: Sequence[float] | None = None
) -> Any:
    """Stopping regions (``kind="boundaries"``) or OC curves (``kind="oc"``)."""
    if kind not in ("boundaries", "oc"):
        raise ValueError(f"kind must be 'boundaries' or 'oc', got {kind!r}")
    ax = _axes(ax)
    if kind == "boundaries":
        n = design.looks
        fut, eff = design.futility, design.efficacy
        lw = float(np.clip(240.0 / n.size, 2.0, 14.0))
        last = n.size - 1
        cont = np.where(np.arange(n.size) == last, np.nan, 1.0)
        ax.vlines(n, fut + 0.5, (eff - 0.5) * cont, color="0.85", lw=lw, label="continue")
        ax.vlines(n, -0.5, fut + 0.5, color="C3", lw=lw, alpha=0.7, label="stop: futility")
        has_eff = eff <= n
        ax.vlines(
            n[has_eff], eff[has_eff] - 0.5, n[has_eff] + 0.5, color="C2", lw=lw, alpha=0.7,
            label="stop: efficacy (at the end: success)",
        )  # fmt: skip
        ax.set_xlabel("patients")
        ax.set_ylabel("responders")
        ax.set_title(design.label)
        ax.legend(fontsize=7, loc="upper left")
        return ax
    grid = np.linspace(0.0, 1.0, 101) if p is None else np.asarray(p, dtype=float)
    oc = design.oc(grid)
    ax.plot(oc.p, oc.p_reject, label="P(reject H0)")
    ax.plot(oc.p, oc.pet, label="P(early stop)")
    ax.set_xlabel("true response rate")
    ax.set_ylabel("probability")
    ax.set_ylim(-0.02, 1.02)
    if design.p0 is not None:
        ax.axvline(float(design.p0), color="0.6", ls=":")
    twin = ax.twinx()
    twin.plot(oc.p, oc.en, color="C2", ls="--", label="expected N")
    twin.set_ylabel("expected sample size")
    lines = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8)
    return ax
