"""Searches over the tuning parameters of the Bayesian single-arm designs: the
predictive-probability design's (theta_L, theta_T) (Lee & Liu 2008) and BOP2's
(lambda, gamma[, eta]) (Zhou, Lee & Yuan 2017). Every candidate's type I error, power and
expected sample sizes are exact; candidates with identical boundaries are evaluated once.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rdstats._provenance import provenance
from rdstats.designs._bayes_single_arm import (
    _bounds_from,
    _check_looks,
    _check_prob,
    _predictive_table,
    _prob_above,
    as_beta_prior,
    bop2_cutoffs,
)
from rdstats.designs._sequential_binary import SequentialBinaryDesign, stopping_masses
from rdstats.priors import BetaMixture

__all__ = ["DesignSearch", "calibrate_bop2", "search_predictive_design"]


@dataclass(frozen=True, eq=False)
class DesignSearch:
    """Result of a design search.

    Attributes
    ----------
    best : SequentialBinaryDesign
        The chosen design.
    table : pandas.DataFrame
        Every candidate: its tuning parameters, type I error (``alpha``), ``power``,
        ``EN0`` / ``EN1`` (expected sample sizes at p0 / p1) and ``feasible``.
    criterion : str
        How ``best`` was chosen among the feasible candidates.
    """

    best: SequentialBinaryDesign
    table: pd.DataFrame
    criterion: str
    provenance: dict[str, Any] = field(default_factory=dict, repr=False)

    def summary(self) -> pd.DataFrame:
        """The best design's boundaries and operating characteristics at p0 and p1."""
        return self.table[self.table.chosen].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        table = {str(k): v for k, v in self.table.to_dict(orient="list").items()}
        for key in ("futility", "efficacy"):
            table[key] = [[int(b) for b in bounds] for bounds in table[key]]
        return {
            "best": self.best.to_dict(),
            "criterion": self.criterion,
            "table": table,
            "provenance": self.provenance,
        }

    def _repr_html_(self) -> str:
        return (
            f"<p><b>Design search</b> ({self.criterion})</p>"
            + self.summary().to_html(index=False)
            + self.best.boundaries().to_html(index=False)
        )

    def plot(self, ax: Any = None) -> Any:
        """Power against type I error of every candidate, feasible ones highlighted."""
        from rdstats.plotting import axes_for

        ax = axes_for(ax, figsize=(6, 4))
        t = self.table
        ax.scatter(t.alpha, t.power, s=8, color="0.7", label="candidates")
        ok = t[t.feasible]
        ax.scatter(ok.alpha, ok.power, s=10, color="C0", label="feasible")
        b = t[t.chosen]
        ax.scatter(b.alpha, b.power, s=60, color="C3", marker="*", label="chosen")
        ax.set_xlabel("type I error")
        ax.set_ylabel("power")
        ax.legend(fontsize=8)
        return ax


def _evaluate(
    candidates: list[dict[str, Any]],
    bounds: Callable[[dict[str, Any]], tuple[list[int], list[int]]],
    looks: np.ndarray,
    p0: float,
    p1: float,
) -> pd.DataFrame:
    cache: dict[tuple[int, ...], tuple[float, float, float, float]] = {}
    rows = []
    for cand in candidates:
        fut, eff = bounds(cand)
        fut[-1] = eff[-1] - 1
        key = tuple(fut + eff)
        if key not in cache:
            masses = stopping_masses(np.array([p0, p1]), looks, np.array(fut), np.array(eff))
            rej, en = np.zeros(2), np.zeros(2)
            for k, mass in enumerate(masses):
                x = np.arange(mass.shape[1])
                rej += mass[:, x >= eff[k]].sum(axis=1)
                en += mass.sum(axis=1) * looks[k]
            cache[key] = (float(rej[0]), float(rej[1]), float(en[0]), float(en[1]))
        a, pw, en0, en1 = cache[key]
        rows.append({**cand, "alpha": a, "power": pw, "EN0": en0, "EN1": en1,
                     "futility": fut, "efficacy": eff})  # fmt: skip
    return pd.DataFrame(rows)


def _grid(values: Any, name: str, lo: float, hi: float) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(values, dtype=float))
    if arr.size == 0 or np.any(~np.isfinite(arr)) or np.any((arr < lo) | (arr > hi)):
        raise ValueError(f"{name} must be values in [{lo}, {hi}], got {arr.tolist()}")
    return arr


def _finish(table: pd.DataFrame, alpha: float, beta: float | None, objective: str) -> pd.DataFrame:
    feasible = table.alpha <= alpha
    if beta is not None:
        feasible &= table.power >= 1.0 - beta
    table = table.assign(feasible=feasible, chosen=False)
    if not feasible.any():
        meets = table[table.alpha <= alpha]
        if len(meets):
            best = meets.iloc[int(np.argmax(meets.power.to_numpy()))]
        else:
            best = table.iloc[int(np.argmin(table.alpha.to_numpy()))]
        target = f"type I error <= {alpha}" + ("" if beta is None else f" and power >= {1 - beta}")
        params = ", ".join(
            f"{k}={best[k]:g}" for k in ("theta_t", "theta_l", "lam", "gamma", "eta") if k in best
        )
        raise ValueError(
            f"no candidate design has {target}; the best found ({params}) has type I error "
            f"{best.alpha:.4f} and power {best.power:.4f} - widen the grids or the sample size"
        )
    ok = table[feasible]
    idx = (
        ok.EN0.idxmin()
        if objective == "EN0"
        else ok.sort_values(["power", "EN0"], ascending=[False, True]).index[0]
    )
    table.loc[idx, "chosen"] = True
    return table


def search_predictive_design(
    p0: float,
    p1: float,
    looks: Sequence[int],
    *,
    prior: Any = (1.0, 1.0),
    alpha: float = 0.1,
    beta: float = 0.2,
    theta_t: Sequence[float] = tuple(np.round(np.arange(0.80, 0.991, 0.01), 2)),
    theta_l: Sequence[float] = (0.001, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2),
) -> DesignSearch:
    """Search Lee & Liu's predictive-probability design over (theta_L, theta_T) for the
    design with type I error <= ``alpha`` and power >= ``1 - beta`` that has the smallest
    expected sample size under p0.

    References
    ----------
    .. [1] Lee JJ, Liu DD. A predictive probability design for phase II cancer clinical
       trials. Clin Trials 2008;5:93-106.

    Examples
    --------
    >>> from rdstats.designs import search_predictive_design
    >>> res = search_predictive_design(0.2, 0.4, range(10, 41), alpha=0.1, beta=0.2)
    >>> bool(res.summary().alpha[0] <= 0.1 and res.summary().power[0] >= 0.8)
    True
    """
    p0, p1 = _check_prob(p0, "p0"), _check_prob(p1, "p1")
    if not p0 < p1:
        raise ValueError(f"p1 must exceed p0, got p0={p0}, p1={p1}")
    alpha, beta = _check_prob(alpha, "alpha"), _check_prob(beta, "beta")
    pr = as_beta_prior(prior)
    lk = _check_looks(looks)
    tts, tls = _grid(theta_t, "theta_t", 0.0, 1.0), _grid(theta_l, "theta_l", 0.0, 1.0)
    nmax = int(lk[-1])
    final = _prob_above(pr, np.arange(nmax + 1, dtype=float), nmax, p0)
    tables: dict[float, list[np.ndarray]] = {
        float(t): [_predictive_table(pr, int(n), nmax, p0, float(t)) for n in lk[:-1]] + [final]
        for t in tts
    }
    cands = [{"theta_t": float(t), "theta_l": float(lo)} for t, lo in itertools.product(tts, tls)]

    def bounds(c: dict[str, Any]) -> tuple[list[int], list[int]]:
        lower = np.full(lk.size, c["theta_l"])
        upper = np.full(lk.size, np.inf)  # no efficacy stop at the interims
        upper[-1] = c["theta_t"]
        return _bounds_from(tables[c["theta_t"]], lower, upper)

    table = _finish(_evaluate(cands, bounds, lk, p0, p1), alpha, beta, "EN0")
    row = table[table.chosen].iloc[0]
    best = SequentialBinaryDesign(
        lk, row.futility, row.efficacy, p0=p0,
        label=f"predictive probability (θL={row.theta_l:g}, θT={row.theta_t:g})",
        settings={"design": "predictive_probability", "prior": pr.to_dict(), "p0": p0,
                  "theta_t": float(row.theta_t), "theta_l": float(row.theta_l), "theta_u": 1.0},
    )  # fmt: skip
    args = {"p0": p0, "p1": p1, "looks": lk.tolist(), "prior": pr.to_dict(), "alpha": alpha,
            "beta": beta, "theta_t": tts.tolist(), "theta_l": tls.tolist()}  # fmt: skip
    return DesignSearch(best, table, "smallest EN(p0) with alpha and power met", provenance(args))


def calibrate_bop2(
    p0: float,
    p1: float,
    looks: Sequence[int],
    *,
    alpha: float = 0.1,
    efficacy: str | None = None,
    lam: Sequence[float] = tuple(np.round(np.arange(0.50, 0.996, 0.005), 3)),
    gamma: Sequence[float] = tuple(np.round(np.arange(0.0, 3.01, 0.1), 2)),
    eta: Sequence[float] = (1.0,),
    prior: Any = None,
) -> DesignSearch:
    """BOP2's calibration: among the (lambda, gamma[, eta]) on the grids, the design with
    the highest power at p1 whose type I error at p0 is at most ``alpha`` (ties: smaller
    EN(p0)). Exact operating characteristics replace the paper's simulation.

    References
    ----------
    .. [1] Zhou H, Lee JJ, Yuan Y. BOP2: Bayesian optimal design for phase II clinical
       trials with simple and complex endpoints. Stat Med 2017;36:3302-3314.

    Examples
    --------
    >>> from rdstats.designs import calibrate_bop2
    >>> res = calibrate_bop2(0.2, 0.4, range(10, 41, 5), alpha=0.1, efficacy="OF")
    >>> bool(res.summary().alpha[0] <= 0.1)
    True
    """
    p0, p1 = _check_prob(p0, "p0"), _check_prob(p1, "p1")
    if not p0 < p1:
        raise ValueError(f"p1 must exceed p0, got p0={p0}, p1={p1}")
    alpha = _check_prob(alpha, "alpha")
    lk = _check_looks(looks)
    lams = _grid(lam, "lam", 0.0, 1.0 - 1e-12)
    gams = _grid(gamma, "gamma", 0.0, np.inf)
    etas = _grid(eta, "eta", 0.0, np.inf) if efficacy == "power" else np.array([1.0])
    pr = BetaMixture(1.0, p0, 1.0 - p0) if prior is None else as_beta_prior(prior)
    probs = [_prob_above(pr, np.arange(n + 1, dtype=float), int(n), p0) for n in lk]
    cands = [
        {"lam": float(a), "gamma": float(g), "eta": float(e)}
        for a, g, e in itertools.product(lams, gams, etas)
    ]

    def bounds(c: dict[str, Any]) -> tuple[list[int], list[int]]:
        fut_c, eff_c = bop2_cutoffs(lk, c["lam"], c["gamma"], efficacy, c["eta"])
        return _bounds_from(probs, fut_c, eff_c)

    table = _finish(_evaluate(cands, bounds, lk, p0, p1), alpha, None, "power")
    row = table[table.chosen].iloc[0]
    best = SequentialBinaryDesign(
        lk, row.futility, row.efficacy, p0=p0,
        label=f"BOP2 (λ={row.lam:g}, γ={row.gamma:g})",
        settings={"design": "BOP2", "prior": pr.to_dict(), "p0": p0,
                  "lam": float(row.lam), "gamma": float(row.gamma),
                  "efficacy": efficacy, "eta": float(row.eta)},
    )  # fmt: skip
    args = {"p0": p0, "p1": p1, "looks": lk.tolist(), "prior": pr.to_dict(), "alpha": alpha,
            "efficacy": efficacy, "lam": lams.tolist(), "gamma": gams.tolist(),
            "eta": etas.tolist()}  # fmt: skip
    return DesignSearch(best, table, "highest power with alpha met", provenance(args))
