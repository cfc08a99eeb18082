"""Plot of a basket design's operating characteristics: go probabilities by scenario."""

from __future__ import annotations

from typing import Any

import numpy as np

from rdstats.plotting._plots import _axes


def plot_basket_oc(result: Any, ax: Any = None) -> Any:
    """Grouped bars: one group per scenario, one bar per basket (height: go probability;
    hatched: null baskets, whose go probability is a type I error); the scenario's FWER
    is printed under its label."""
    tab = result.baskets
    scen = list(dict.fromkeys(tab["scenario"]))
    baskets = list(dict.fromkeys(tab["basket"]))
    s, k = len(scen), len(baskets)
    ax = _axes(ax, (max(6.0, 1.2 * s + 2), 4))
    width = 0.8 / k
    x = np.arange(s)
    fwer = dict(zip(result.overall["scenario"], result.overall["fwer"], strict=True))
    for j, name in enumerate(baskets):
        rows = tab[tab["basket"] == name].set_index("scenario").loc[scen]
        pos = x - 0.4 + width * (j + 0.5)
        bars = ax.bar(pos, rows["p_go"], width, color=f"C{j % 10}", label=str(name))
        for bar, null in zip(bars, rows["null"], strict=True):
            if null:
                bar.set_hatch("//")
                bar.set_alpha(0.6)
    ax.set_xticks(x)
    ax.set_xticklabels([f"{lab}\nFWER {fwer[lab]:.3f}" for lab in scen], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("P(go)")
    ax.set_title("Go probability by scenario and basket (hatched: null basket)")
    ax.legend(fontsize=8, ncol=min(k, 4))
    return ax
