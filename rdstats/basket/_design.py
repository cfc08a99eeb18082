"""BasketDesign: a single-analysis basket trial with exact operating characteristics from
a decision table over every possible outcome vector."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special

from rdstats._provenance import provenance
from rdstats._validation import as_int_array, readonly
from rdstats.basket._design_rules import BasketRule

Array = NDArray[np.float64]
IntArray = NDArray[np.int64]

__all__ = ["BasketDesign", "BasketOC"]


def _binom_pmf(n: int, p: float) -> NDArray[np.float64]:
    """Binomial probabilities of 0..n, from logs (exact for rates down to the smallest
    float, where boost's pmf overflows)."""
    k = np.arange(n + 1, dtype=float)
    log_c = special.gammaln(n + 1.0) - special.gammaln(k + 1.0) - special.gammaln(n - k + 1.0)
    return np.asarray(np.exp(log_c + special.xlogy(k, p) + special.xlog1py(n - k, -p)))


@dataclass(frozen=True)
class BasketOC:
    """Exact operating characteristics of a :class:`BasketDesign` over scenarios.

    Attributes
    ----------
    baskets : pandas.DataFrame
        One row per scenario and basket: ``scenario``, ``basket``, true rate ``p``,
        ``threshold``, ``null`` (``p <= threshold``), ``p_go`` (type I error for a null
        basket, power otherwise), ``bias`` and ``mse`` of the posterior mean, ``mcse``
        (0: exact).
    overall : pandas.DataFrame
        One row per scenario: ``fwer`` (probability of a go in at least one null
        basket), ``p_any_go``, ``expected_gos``, ``n_total``.
    method : str
        ``"exact"``.
    provenance : dict
        How the result was produced.
    """

    baskets: pd.DataFrame
    overall: pd.DataFrame
    method: str = "exact"
    provenance: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def summary(self) -> pd.DataFrame:
        """Tidy table (scenario x basket) with the scenario's FWER and expected number of
        gos repeated on its rows."""
        cols = ["scenario", "fwer", "p_any_go", "expected_gos"]
        return self.baskets.merge(self.overall[cols], on="scenario", how="left", sort=False)

    def go_matrix(self) -> pd.DataFrame:
        """Go probabilities as a scenario x basket table."""
        order = list(dict.fromkeys(self.baskets["basket"]))
        scen = list(dict.fromkeys(self.baskets["scenario"]))
        wide = self.baskets.pivot(index="scenario", columns="basket", values="p_go")
        return wide.loc[scen, order]

    def plot(self, ax: Any = None) -> Any:
        """Grouped bars of the go probabilities by scenario (hatched: null baskets)."""
        from rdstats.plotting._basket_design import plot_basket_oc

        return plot_basket_oc(self, ax=ax)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""

        def records(df: pd.DataFrame) -> list[dict[str, Any]]:
            out = []
            for rec in df.to_dict(orient="records"):
                out.append({str(k): _plain(v) for k, v in rec.items()})
            return out

        return {
            "method": self.method,
            "baskets": records(self.baskets),
            "overall": records(self.overall),
            "provenance": dict(self.provenance),
        }

    def _repr_html_(self) -> str:
        return (
            "<p><b>Basket design: exact operating characteristics</b></p>"
            + self.overall.to_html(index=False, float_format="{:.4f}".format)
            + self.go_matrix().to_html(float_format="{:.4f}".format)
        )


def _plain(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    return str(v)


@dataclass(frozen=True, eq=False)
class BasketDesign:
    """Basket trial with one final analysis and a go / no-go decision per basket.

    Every possible outcome vector ``(r_1, ..., r_K)`` (``prod(n_j + 1)`` of them) is
    analysed once by the model (one call of ``model.posterior_table``) and its decisions,
    posterior means and tail probabilities are stored as a read-only decision table.
    Operating characteristics at any true rates are then binomial-weighted sums over the
    table: exact, with no Monte Carlo error. Larger designs are simulated through
    :func:`rdstats.simulate.operating_characteristics` (``simulate(...,
    method="monte_carlo")``), each distinct simulated outcome vector analysed once.

    Parameters
    ----------
    model : BHM, EXNEX, MEM, Fujikawa, CalibratedBHM, Stratified, Pooled, ...
        Any model with ``posterior_table(r, n, p0) -> {"mean", "prob_above"}``.
    n : sequence of int
        Patients per basket (unequal allowed; ``n_j = 0`` allowed: such a basket is
        decided on what it borrows).
    rule : BasketRule
        Go rule per basket.
    names : sequence of str, optional
        Basket names.
    max_outcomes : int
        Largest decision table built for exact operating characteristics.
    table_options : mapping, optional
        Keyword arguments of ``model.posterior_table`` (e.g. ``grid_step``).

    Notes
    -----
    Interim looks, early stopping of baskets and futility rules are not offered yet:
    the design has a single final analysis.

    Engine outcomes per trial (``simulate``): ``success`` (a go in at least one
    basket), ``n_enrolled``, ``n_go``, ``fwe`` (a go in at least one null basket),
    and per basket ``j = 1..K``: ``r_j``, ``mean_j`` (posterior mean), ``go_j``,
    ``error_j`` (posterior mean minus the true rate) and ``sq_error_j``. The metrics
    ``go_j`` (go probability), ``error_j`` (bias), ``sq_error_j`` (MSE), ``n_go`` and
    ``fwe`` (FWER) come with their MCSE. Scenario parameters are ``p_1, ..., p_K``.

    References
    ----------
    .. [1] Neuenschwander B, Wandel S, Roychoudhury S, Bailey S. Robust exchangeability
       designs for early phase clinical trials with multiple strata. Pharm Stat
       2016;15:123-134.
    .. [2] Berry SM, Broglio KR, Groshen S, Berry DA. Bayesian hierarchical modeling of
       patient subpopulations: efficient designs of phase II oncology clinical trials.
       Clin Trials 2013;10:720-734.

    Examples
    --------
    >>> from rdstats.basket import BasketDesign
    >>> from rdstats.basket import BasketRule
    >>> from rdstats.basket import Stratified
    >>> design = BasketDesign(Stratified(), [10, 10], BasketRule(prob=0.9, threshold=0.1))
    >>> oc = design.oc([[0.1, 0.1], [0.1, 0.4]])
    >>> oc.baskets[["p", "p_go"]].round(4)
         p    p_go
    0  0.1  0.2639
    1  0.1  0.2639
    2  0.1  0.2639
    3  0.4  0.9536
    >>> oc.overall["fwer"].round(4).tolist()
    [0.4582, 0.2639]
    """

    model: Any
    n: Any
    rule: BasketRule
    names: Sequence[str] | None = None
    max_outcomes: int = 250_000
    table_options: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not callable(getattr(self.model, "posterior_table", None)):
            raise TypeError(
                f"model must have a posterior_table(r, n, p0) method, got "
                f"{type(self.model).__name__}"
            )
        n = as_int_array(self.n, "n")
        if n.ndim != 1 or n.size == 0:
            raise ValueError(f"n must be a non-empty 1-D sequence of counts, got {self.n!r}")
        object.__setattr__(self, "n", readonly(n))
        k = n.size
        if not isinstance(self.rule, BasketRule):
            raise TypeError(f"rule must be a BasketRule, got {type(self.rule).__name__}")
        self.rule.resolve(k)  # lengths
        if self.names is None:
            names = [f"basket {j + 1}" for j in range(k)]
        else:
            if isinstance(self.names, str):
                raise TypeError(f"names must be a sequence of str, got {self.names!r}")
            names = [str(x) for x in self.names]
            if len(names) != k:
                raise ValueError(f"names must have {k} entries (one per basket), got {names!r}")
            if len(set(names)) != k:
                raise ValueError(f"names must be distinct, got {names!r}")
        object.__setattr__(self, "names", tuple(names))
        m = self.max_outcomes
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
            raise ValueError(f"max_outcomes must be a positive integer, got {m!r}")
        opts = {} if self.table_options is None else dict(self.table_options)
        object.__setattr__(self, "table_options", opts)

    # -- basic properties ---------------------------------------------------------------
    @property
    def n_baskets(self) -> int:
        return int(self.n.size)

    @property
    def n_outcomes(self) -> int:
        """Number of possible outcome vectors, ``prod(n_j + 1)``."""
        return math.prod(int(x) + 1 for x in self.n)

    @property
    def threshold(self) -> Array:
        return self.rule.resolve(self.n_baskets)[1]

    @property
    def _parameters(self) -> tuple[str, ...]:
        return tuple(f"p_{j + 1}" for j in range(self.n_baskets))

    @property
    def _mean_outcomes(self) -> tuple[str, ...]:
        k = range(1, self.n_baskets + 1)
        per = [f"{c}_{j}" for c in ("go", "error", "sq_error") for j in k]
        return ("n_go", "fwe", *per)

    # -- analysis -----------------------------------------------------------------------
    def _analyse(self, r: IntArray) -> dict[str, NDArray[Any]]:
        tab = self.model.posterior_table(r, self.n, self.threshold, **(self.table_options or {}))
        m, k = r.shape
        mean = np.asarray(tab["mean"], dtype=float).reshape(m, k)
        above = np.asarray(tab["prob_above"], dtype=float).reshape(m, k)
        go = self.rule.decide(mean, above, k)
        return {"r": r, "mean": mean, "prob_above": above, "go": go}

    def _table(self) -> dict[str, NDArray[Any]]:
        cache = self.__dict__.get("_cache_table")
        if cache is not None:
            return dict(cache)
        size = self.n_outcomes
        if size > self.max_outcomes:
            raise ValueError(
                f"exact operating characteristics need all prod(n_j + 1) = {size:,} outcome "
                f"vectors of n={self.n.tolist()}, more than max_outcomes={self.max_outcomes:,}; "
                "use design.simulate(scenarios, method='monte_carlo') or raise max_outcomes"
            )
        r = np.indices(tuple(int(x) + 1 for x in self.n)).reshape(self.n_baskets, -1).T
        table = self._analyse(np.ascontiguousarray(r, dtype=np.int64))
        for v in table.values():
            readonly(v)
        self.__dict__["_cache_table"] = table
        return dict(table)

    def decision_table(self) -> pd.DataFrame:
        """Every outcome vector with its go decisions, posterior means and
        ``P(p_j > threshold_j)`` (columns ``r``, ``go``, ``mean``, ``prob_above`` per
        basket)."""
        t = self._table()
        cols: dict[tuple[str, str], Any] = {}
        for what in ("r", "go", "mean", "prob_above"):
            for j, name in enumerate(self.names or ()):
                cols[(what, name)] = t[what][:, j]
        return pd.DataFrame(cols)

    def _lookup(self, r: IntArray) -> dict[str, NDArray[Any]]:
        """Decisions and means of outcome rows: from the table if built, else by
        analysing each distinct row once."""
        t = self.__dict__.get("_cache_table")
        if t is not None:
            idx = np.ravel_multi_index(tuple(r.T), tuple(int(x) + 1 for x in self.n))
            return {"mean": t["mean"][idx], "go": t["go"][idx]}
        uniq, inv = np.unique(r, axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        res = self._analyse(uniq)
        return {"mean": res["mean"][inv], "go": res["go"][inv]}

    # -- engine hooks -------------------------------------------------------------------
    def _rates(self, params: Mapping[str, float]) -> Array:
        return np.array([float(params[k]) for k in self._parameters])

    def _check_scenario(self, params: Mapping[str, float]) -> None:
        for k in self._parameters:
            v = float(params[k])
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{k} must be a probability in [0, 1], got {v!r}")

    def _is_null(self, params: Mapping[str, float]) -> bool | None:
        """All baskets null: True (p_success is the FWER); none null: False (p_success is
        the probability of at least one go); mixed: None."""
        null = self._rates(params) <= self.threshold
        return True if null.all() else (False if not null.any() else None)

    def _outcomes(
        self, r: IntArray, res: Mapping[str, NDArray[Any]], p: Array
    ) -> dict[str, NDArray[Any]]:
        go = np.asarray(res["go"], dtype=bool)
        mean = np.asarray(res["mean"], dtype=float)
        null = p <= self.threshold
        err = mean - p
        out: dict[str, NDArray[Any]] = {
            "success": np.asarray(go.any(axis=1)),
            "n_enrolled": np.full(r.shape[0], int(self.n.sum())),
            "n_go": go.sum(axis=1),
            "fwe": np.asarray((go & null).any(axis=1)),
        }
        for j in range(self.n_baskets):
            out[f"r_{j + 1}"] = r[:, j]
            out[f"mean_{j + 1}"] = mean[:, j]
            out[f"go_{j + 1}"] = go[:, j]
            out[f"error_{j + 1}"] = err[:, j]
            out[f"sq_error_{j + 1}"] = err[:, j] ** 2
        return out

    def _weights(self, r: IntArray, p: Array) -> Array:
        w = np.ones(r.shape[0])
        for j in range(self.n_baskets):
            pmf = _binom_pmf(int(self.n[j]), float(p[j]))
            w *= pmf[r[:, j]]
        return w

    def _exact(self, params: Mapping[str, float]) -> tuple[dict[str, NDArray[Any]], Array]:
        t = self._table()
        p = self._rates(params)
        return self._outcomes(t["r"], t, p), self._weights(t["r"], p)

    def _simulate(
        self, params: Mapping[str, float], size: int, rng: np.random.Generator
    ) -> dict[str, NDArray[Any]]:
        p = self._rates(params)
        r = rng.binomial(self.n[None, :], p[None, :], size=(size, self.n_baskets))
        r = np.asarray(r, dtype=np.int64)
        return self._outcomes(r, self._lookup(r), p)

    # -- operating characteristics ------------------------------------------------------
    def _grid(self, scenarios: Any) -> Any:
        from rdstats.simulate._engine import as_grid, check_scenarios
        from rdstats.simulate._scenarios import ScenarioGrid

        if not isinstance(scenarios, (ScenarioGrid, pd.DataFrame, Mapping)):
            arr = np.asarray(scenarios, dtype=float)
            if arr.ndim == 1:
                arr = arr[None, :]
            if arr.ndim != 2 or arr.shape[1] != self.n_baskets:
                raise ValueError(
                    f"scenarios must be true rates of shape (S, {self.n_baskets}) (one column "
                    f"per basket) or a table with columns {list(self._parameters)}, got shape "
                    f"{arr.shape}"
                )
            scenarios = {k: arr[:, j] for j, k in enumerate(self._parameters)}
        grid = as_grid(scenarios)
        check_scenarios(self, grid)
        return grid

    def oc(self, scenarios: ArrayLike | Any) -> BasketOC:
        """Exact operating characteristics from the decision table.

        Parameters
        ----------
        scenarios : array_like (S, K), ScenarioGrid, DataFrame or mapping
            True response rates, one row per scenario (columns ``p_1, ..., p_K``; an
            optional ``label`` column names the scenarios).

        Returns
        -------
        BasketOC
        """
        grid = self._grid(scenarios)
        t = self._table()
        r, go, mean = t["r"], t["go"], t["mean"]
        thr = self.threshold
        brows: list[dict[str, Any]] = []
        orows: list[dict[str, Any]] = []
        for s in grid:
            p = self._rates(s)
            w = self._weights(r, p)
            null = p <= thr
            p_go = np.clip(w @ go, 0.0, 1.0)
            err = mean - p
            bias, mse = w @ err, w @ err**2
            for j, name in enumerate(self.names or ()):
                brows.append(
                    {
                        "scenario": s.label,
                        "basket": name,
                        "n": int(self.n[j]),
                        "p": float(p[j]),
                        "threshold": float(thr[j]),
                        "null": bool(null[j]),
                        "p_go": float(p_go[j]),
                        "bias": float(bias[j]),
                        "mse": float(mse[j]),
                        "mcse": 0.0,
                    }
                )
            orows.append(
                {
                    "scenario": s.label,
                    "n_null": int(null.sum()),
                    "fwer": float(np.clip(w @ (go & null).any(axis=1), 0.0, 1.0)),
                    "p_any_go": float(np.clip(w @ go.any(axis=1), 0.0, 1.0)),
                    "expected_gos": float(p_go.sum()),
                    "n_total": int(self.n.sum()),
                    "enumerated_mass": float(w.sum()),
                }
            )
        prov = provenance({"design": self.to_dict(), "scenarios": grid.to_dict()})
        return BasketOC(pd.DataFrame(brows), pd.DataFrame(orows), "exact", prov)

    def simulate(self, scenarios: ArrayLike | Any, **kwargs: Any) -> Any:
        """Operating characteristics through :func:`rdstats.simulate.operating_characteristics`
        (``method="monte_carlo"`` by default, ``"exact"`` from the decision table);
        keyword arguments (``n_trials``, ``rng``, ``executor`` ...) are passed on."""
        from rdstats.simulate import operating_characteristics

        return operating_characteristics(self, self._grid(scenarios), **kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "BasketDesign",
            "model": repr(self.model),
            "n": self.n.tolist(),
            "rule": self.rule.to_dict(),
            "names": list(self.names or ()),
            "max_outcomes": int(self.max_outcomes),
            "table_options": {k: _plain(v) for k, v in (self.table_options or {}).items()},
        }

    def __repr__(self) -> str:
        return f"BasketDesign(model={self.model!r}, n={self.n.tolist()}, rule={self.rule!r})"
