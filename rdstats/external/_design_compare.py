"""compare_external_analyses: several analyses of an external-control design simulated on
identical trials (one seed), with bias, RMSE, coverage and rejection rates side by side."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from rdstats._provenance import provenance
from rdstats.external._design import ANALYSES, ExternalControlDesign

__all__ = ["ExternalDesignComparison", "compare_external_analyses"]

_METRICS = ("bias", "rmse", "coverage", "p_success")
_DEFAULT = ("naive", "matching", "weighting", "ps_borrowing", "hybrid")


@dataclasses.dataclass(frozen=True, eq=False)
class ExternalDesignComparison:
    """Operating characteristics of several analyses of one external-control design on the
    same simulated trials (result of :func:`compare_external_analyses`).

    Attributes
    ----------
    design : ExternalControlDesign
        The base design (its ``analysis`` field is replaced in turn).
    analyses : tuple of str
        The analyses compared, in order.
    results : dict
        One :class:`~rdstats.simulate.OCResult` per analysis (raw per-trial outcomes,
        all metrics, provenance).
    table : DataFrame
        One row per analysis and scenario: scenario parameters, ``null``, ``bias``,
        ``rmse``, ``coverage``, ``p_success`` (type I error in null scenarios, power
        otherwise), ``failed``, each with its Monte Carlo SE ``<metric>_mcse``.
    seed : dict
        The root seed record shared by every analysis (``rdstats.simulate._streams``).
    provenance : dict
    """

    design: ExternalControlDesign
    analyses: tuple[str, ...]
    results: dict[str, Any] = dataclasses.field(repr=False)
    table: pd.DataFrame = dataclasses.field(repr=False)
    seed: dict[str, Any]
    provenance: dict[str, Any] = dataclasses.field(repr=False)

    @property
    def parameters(self) -> list[str]:
        return list(ExternalControlDesign._parameters)

    def summary(self) -> pd.DataFrame:
        """Long table: one row per analysis and scenario (see ``table``)."""
        return self.table.copy()

    def plot(
        self,
        x: str | None = None,
        where: Mapping[str, float] | None = None,
        axes: Any = None,
    ) -> Any:
        """2x2 panels (bias, rejection rate, coverage, RMSE) against the scenario
        parameter ``x``, one line per analysis with +-2 MCSE bars; ``where`` fixes the
        other parameters when several vary. Returns the array of axes."""
        from rdstats.plotting._external_design import plot_design_comparison

        return plot_design_comparison(self, x=x, where=where, axes=axes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description (design, analyses, the comparison table, provenance)."""
        records = self.table.astype(object).where(self.table.notna(), None)
        return {
            "design": self.design.to_dict(),
            "analyses": list(self.analyses),
            "seed": self.seed,
            "table": records.to_dict(orient="records"),
            "provenance": self.provenance,
        }

    def _repr_html_(self) -> str:
        n = self.provenance.get("arguments", {}).get("n_trials")
        head = (
            f"<p><b>ExternalDesignComparison</b>: {len(self.analyses)} analyses "
            f"({', '.join(self.analyses)}) on the same {n:,} simulated trials per scenario; "
            f"{self.design.n_treated} treated, {self.design.n_control} concurrent and "
            f"{self.design.n_external} external controls, {self.design.endpoint} endpoint</p>"
        )
        cols = ["analysis", *self.parameters, *_METRICS, "failed"]
        return head + self.table[cols].to_html(index=False, float_format=lambda v: f"{v:.4g}")


def _check_analyses(analyses: Any) -> tuple[str, ...]:
    if isinstance(analyses, str):
        analyses = (analyses,)
    try:
        out = tuple(analyses)
    except TypeError:
        raise TypeError(
            f"analyses must be a sequence of analysis names, got {analyses!r}"
        ) from None
    bad = [a for a in out if not isinstance(a, str) or a not in ANALYSES]
    if not out or bad:
        raise ValueError(f"analyses must be names from {list(ANALYSES)}, got {analyses!r}")
    if len(set(out)) != len(out):
        raise ValueError(f"analyses must not repeat, got {analyses!r}")
    return out


def compare_external_analyses(
    scenarios: Any,
    analyses: Sequence[str] = _DEFAULT,
    *,
    design: ExternalControlDesign | None = None,
    n_trials: int = 1000,
    rng: Any = None,
    **kwargs: Any,
) -> ExternalDesignComparison:
    """Simulate several analyses of an external-control design on the same trials.

    Parameters
    ----------
    scenarios : ScenarioGrid, DataFrame or mapping
        Scenarios with parameters ``effect``, ``shift``, ``unmeasured``, ``drift``
        (:meth:`ExternalControlDesign.scenarios`).
    analyses : sequence of str
        Analyses to compare (default naive, matching, weighting, ps_borrowing, hybrid).
    design : ExternalControlDesign, optional
        Base design (sample sizes, endpoint, settings); default
        ``ExternalControlDesign(hybrid_prior="power")`` (a single-arm trial: the
        commensurate and empirical-Bayes priors need concurrent controls). Its
        ``analysis`` is replaced by each of ``analyses``.
    n_trials : int
        Simulated trials per scenario.
    rng : None, int, SeedSequence or Generator
        Root seed, used for every analysis (common random numbers: the analyses see
        identical trials). ``None`` draws fresh entropy, recorded in ``seed``.
    **kwargs
        Passed to :func:`rdstats.simulate.operating_characteristics` (``backend``,
        ``workers``, ``batch_size``, ``progress``, ...; not ``store``).

    Returns
    -------
    ExternalDesignComparison

    References
    ----------
    .. [1] Morris TP, White IR, Crowther MJ. Using simulation studies to evaluate
       statistical methods. Stat Med 2019;38:2074-2102.

    Examples
    --------
    >>> from rdstats.external import ExternalControlDesign
    >>> from rdstats.external import compare_external_analyses
    >>> grid = ExternalControlDesign.scenarios(effect=0.0, shift=[0.0, 1.0])
    >>> cmp = compare_external_analyses(grid, ["naive", "weighting"], n_trials=200, rng=7,
    ...                                 progress=False)
    >>> cmp.summary()[["analysis", "shift", "bias"]].round(1)
        analysis  shift  bias
    0      naive    0.0  -0.0
    1      naive    1.0   2.0
    2  weighting    0.0  -0.0
    3  weighting    1.0   0.0
    """
    from rdstats.simulate import operating_characteristics
    from rdstats.simulate._streams import root_seed, seed_record

    names = _check_analyses(analyses)
    base = ExternalControlDesign(hybrid_prior="power") if design is None else design
    if not isinstance(base, ExternalControlDesign):
        raise TypeError(f"design must be an ExternalControlDesign, got {type(base).__name__}")
    if "store" in kwargs:
        raise ValueError("store is not available here; simulate each design with store=")
    designs = {a: dataclasses.replace(base, analysis=a) for a in names}  # validates each
    root = root_seed(rng)
    results: dict[str, Any] = {}
    frames = []
    for a, d in designs.items():
        res = operating_characteristics(d, scenarios, n_trials=n_trials, rng=root, **kwargs)
        results[a] = res
        wide = res.summary(wide=True)
        nulls = res.metrics.groupby("scenario", sort=False)["null"].first()
        wide["null"] = nulls.reindex(wide.index).to_numpy()
        wide = wide.reset_index(drop=True)
        wide.insert(0, "analysis", a)
        frames.append(wide)
    table = pd.concat(frames, ignore_index=True)
    params = list(ExternalControlDesign._parameters)
    keep = ["analysis", *params, "null"]
    for m in (*_METRICS, "failed"):
        keep += [m, f"{m}_mcse"]
    table = table[[c for c in keep if c in table.columns]]
    seed = seed_record(root)
    args = {"analyses": list(names), "n_trials": int(n_trials), "design": base.to_dict()}
    args.update({k: v for k, v in kwargs.items() if isinstance(v, (int, float, str, bool))})
    return ExternalDesignComparison(
        design=base,
        analyses=names,
        results=results,
        table=table,
        seed=seed,
        provenance=provenance(arguments=args, seed=seed),
    )
