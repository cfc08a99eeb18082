"""OCResult: per-scenario operating characteristics with MCSE, raw outcomes and provenance."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rdstats.simulate._scenarios import ScenarioGrid

__all__ = ["OCResult"]

_ORDER = [
    "p_success",
    "type_i_error",
    "power",
    "n_mean",
    "n_q10",
    "n_median",
    "n_q90",
    "p_early_stop",
]


@dataclass(frozen=True, eq=False)
class OCResult:
    """Operating characteristics of a design over a scenario grid.

    Attributes
    ----------
    design : object or None
        The simulated design (rebuilt from ``provenance["design"]`` for a result read
        back from files; ``None`` if its type is not registered for specification files).
    scenarios : ScenarioGrid
        The scenarios, in the order of the metrics table.
    metrics : pandas.DataFrame
        Tidy table, one row per scenario and metric: scenario label, parameter values,
        ``null``, ``metric``, ``value``, ``mcse`` (Monte Carlo standard error; 0 for
        exact results) and ``n_trials``.
    outcomes : pandas.DataFrame or None
        Raw per-trial outcomes (``scenario``, ``trial`` and the design's outcome
        columns) for Monte Carlo runs, kept so rules can be re-thresholded without
        re-simulating; ``None`` for exact results.
    method : str
        ``"monte_carlo"`` or ``"exact"``.
    provenance : dict
        Versions, platform, seed entropy and stream keys, design specification,
        scenario grid, n_trials, batch size, executor and timestamps.

    Examples
    --------
    >>> from rdstats.designs import DecisionRule, OneArmDesign
    >>> from rdstats.priors import BetaMixture
    >>> from rdstats.simulate import operating_characteristics
    >>> design = OneArmDesign(BetaMixture(1, 1, 1), 20, DecisionRule(0.9, 0.2))
    >>> res = operating_characteristics(design, {"theta": [0.2, 0.4]}, n_trials=2000,
    ...                                 rng=1, progress=False)
    >>> res.summary(wide=True)[["theta", "p_success", "p_success_mcse"]].round(3)
               theta  p_success  p_success_mcse
    scenario
    theta=0.2    0.2      0.090           0.006
    theta=0.4    0.4      0.752           0.010
    """

    design: Any
    scenarios: ScenarioGrid
    metrics: pd.DataFrame
    outcomes: pd.DataFrame | None
    method: str
    provenance: dict[str, Any]

    @property
    def n_trials(self) -> int | None:
        """Simulated trials per scenario (None for exact results)."""
        return self.provenance.get("n_trials") if self.method == "monte_carlo" else None

    def summary(self, wide: bool = False, metrics: list[str] | None = None) -> pd.DataFrame:
        """Metrics table: tidy (one row per scenario and metric) or ``wide=True`` (one
        row per scenario; a column per metric and ``<metric>_mcse``)."""
        df = self.metrics
        if metrics is not None:
            unknown = sorted(set(metrics) - set(df["metric"]))
            if unknown:
                raise ValueError(
                    f"metrics {unknown} are not in this result; available: "
                    f"{sorted(set(df['metric']))}"
                )
            df = df[df["metric"].isin(metrics)]
        if not wide:
            return df.reset_index(drop=True).copy()
        params = self.scenarios.parameters
        seen = list(dict.fromkeys(df["metric"]))
        order = sorted(
            seen, key=lambda m: (_ORDER.index(m) if m in _ORDER else len(_ORDER), seen.index(m))
        )
        value = df.pivot(index="scenario", columns="metric", values="value")[order]
        mcse = df.pivot(index="scenario", columns="metric", values="mcse")[order]
        mcse.columns = [f"{c}_mcse" for c in mcse.columns]
        cols = [c for pair in zip(value.columns, mcse.columns, strict=True) for c in pair]
        table = self.scenarios.table.set_index("label")
        table.index.name = "scenario"
        out = table[params + (["null"] if "null" in table else [])].join(value.join(mcse)[cols])
        return out.loc[[s for s in table.index if s in out.index]]

    def metric(self, name: str) -> pd.DataFrame:
        """One metric per scenario: parameters, value and mcse."""
        return self.summary(metrics=[name]).drop(columns="metric")

    def plot(
        self,
        metric: str = "p_success",
        x: str | None = None,
        by: str | None = None,
        ax: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Metric against a scenario parameter with ±2 MCSE bars, one line per ``by``."""
        from rdstats.plotting import plot_oc_result

        return plot_oc_result(self, metric=metric, x=x, by=by, ax=ax, **kwargs)

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>OCResult</b> ({self.method}, {len(self.scenarios)} scenarios"
            + (f", {self.n_trials:,} trials each" if self.n_trials else "")
            + ")</p>"
        )
        return head + self.summary(wide=True).to_html(float_format=lambda v: f"{v:.4g}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description (metrics and provenance; not the raw outcomes)."""
        records = self.metrics.replace({np.nan: None}).to_dict(orient="records")
        return {
            "method": self.method,
            "scenarios": self.scenarios.to_dict(),
            "metrics": records,
            "provenance": self.provenance,
        }

    # -- files ---------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``metrics.parquet``, ``outcomes.parquet`` (Monte Carlo) and
        ``provenance.json`` (written last: its presence marks a complete result)."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        (out / "provenance.json").unlink(missing_ok=True)
        self.metrics.to_parquet(out / "metrics.parquet", index=False)
        if self.outcomes is not None:
            self.outcomes.to_parquet(out / "outcomes.parquet", index=False)
        else:  # an exact result has no outcomes: remove those of an earlier run
            (out / "outcomes.parquet").unlink(missing_ok=True)
        tmp = out / "provenance.json.tmp"
        tmp.write_text(json.dumps(self.provenance, indent=1, default=str))
        os.replace(tmp, out / "provenance.json")
        return out

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> OCResult:
        """Read a result written by :meth:`save` (raises if it is incomplete)."""
        d = Path(directory)
        if not (d / "provenance.json").exists():
            raise FileNotFoundError(
                f"{str(d)!r} holds no complete simulation result (provenance.json missing)"
            )
        prov = json.loads((d / "provenance.json").read_text())
        metrics = pd.read_parquet(d / "metrics.parquet")
        outcomes = (
            pd.read_parquet(d / "outcomes.parquet") if (d / "outcomes.parquet").exists() else None
        )
        grid = ScenarioGrid.from_dict(prov["scenarios"])
        try:  # rebuild the design from its recorded specification when it is registered
            from rdstats.simulate._spec import design_from_spec

            design = design_from_spec(prov["design"])
        except (ValueError, TypeError, KeyError):
            design = None
        return cls(design, grid, metrics, outcomes, prov["method"], prov)

    def compare(self, other: OCResult) -> list[str]:
        """Differences from ``other`` (empty when every number is bit-identical)."""
        diffs: list[str] = []
        if not self.metrics.equals(other.metrics):
            diffs.append("metrics differ")
        a, b = self.outcomes, other.outcomes
        if (a is None) != (b is None):
            diffs.append("one result has outcomes, the other not")
        elif a is not None and b is not None:
            if list(a.columns) != list(b.columns) or len(a) != len(b):
                diffs.append("outcome tables have different shapes or columns")
            else:
                for c in a.columns:
                    if not np.array_equal(a[c].to_numpy(), b[c].to_numpy()):
                        diffs.append(f"outcome column {c!r} differs")
        return diffs
