"""operating_characteristics: the engine every rdstats design plugs into."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from rdstats._provenance import provenance
from rdstats.simulate._executors import check_backend, open_executor, run_jobs, submit_all
from rdstats.simulate._metrics import compute_metrics
from rdstats.simulate._result import OCResult
from rdstats.simulate._scenarios import Scenario, ScenarioGrid
from rdstats.simulate._store import Store
from rdstats.simulate._streams import (
    DEFAULT_BATCH_SIZE,
    batch_seed,
    batch_sizes,
    root_seed,
    seed_record,
)

__all__ = ["operating_characteristics"]

METHODS = ("monte_carlo", "exact")
Job = tuple[int, int, int, np.random.SeedSequence]  # scenario index, batch, size, stream


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def design_spec(design: Any) -> dict[str, Any]:
    """JSON-safe specification of a design: its specification-file table when the design
    type is registered, else its ``to_dict()`` (or its repr)."""
    from rdstats.simulate._spec import spec_from_design

    try:
        return spec_from_design(design)
    except (TypeError, AttributeError):
        pass
    if hasattr(design, "to_dict"):
        return dict(design.to_dict())
    return {"type": type(design).__name__, "repr": repr(design)}


def as_grid(scenarios: Any) -> ScenarioGrid:
    if isinstance(scenarios, ScenarioGrid):
        return scenarios
    if isinstance(scenarios, (pd.DataFrame, Mapping)):
        return ScenarioGrid(scenarios)
    raise TypeError(
        "scenarios must be a ScenarioGrid, a DataFrame or a mapping of parameter columns, "
        f"got {type(scenarios).__name__}"
    )


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_scenarios(design: Any, grid: ScenarioGrid) -> None:
    """The grid's parameters are the design's, and every value is in range."""
    expected = list(getattr(design, "_parameters", grid.parameters))
    if sorted(grid.parameters) != sorted(expected):
        raise ValueError(
            f"scenarios have parameters {grid.parameters}, but {type(design).__name__} "
            f"needs {expected}"
        )
    check = getattr(design, "_check_scenario", None)
    if check is not None:
        for s in grid:
            try:
                check(s)
            except (ValueError, TypeError) as err:
                raise type(err)(f"scenario {s.label!r}: {err}") from None


def _check_design(design: Any, grid: ScenarioGrid, method: str) -> None:
    hook = "_simulate" if method == "monte_carlo" else "_exact"
    if not callable(getattr(design, hook, None)):
        raise TypeError(
            f"design {type(design).__name__} does not implement {hook}(); "
            + ("it cannot be simulated" if method == "monte_carlo" else "use method='monte_carlo'")
        )
    check_scenarios(design, grid)
    prepare = getattr(design, "_prepare", None)
    if prepare is not None:  # caches (boundaries, lookup tables) travel with the design
        prepare(grid)


def store_fingerprint(design: Any, root: np.random.SeedSequence, batch_size: int) -> dict[str, Any]:
    """What a checkpoint store must match to be resumed: design, seed and batch size."""
    return {"design": design_spec(design), "seed": seed_record(root), "batch_size": batch_size}


def _null_flag(design: Any, s: Scenario) -> bool | None:
    if s.null is not None:
        return s.null
    hook = getattr(design, "_is_null", None)
    return None if hook is None else hook(s)


def _truth(design: Any, s: Scenario) -> float | None:
    hook = getattr(design, "_truth", None)
    return None if hook is None else hook(s)


def _checked(design: Any, out: Any, size: int) -> dict[str, np.ndarray]:
    name = type(design).__name__
    if not isinstance(out, Mapping) or "success" not in out:
        raise TypeError(f"{name}._simulate() must return a mapping with a 'success' array")
    res = {}
    for k, v in out.items():
        a = np.asarray(v)
        if a.shape != (size,):
            raise ValueError(
                f"{name}._simulate() returned {k!r} with shape {a.shape}, expected ({size},)"
            )
        res[str(k)] = a
    return res


def _progress_disabled(progress: bool) -> bool:
    if not progress:
        return True
    if "ipykernel" in sys.modules:
        return False
    return not sys.stderr.isatty()


def _simulate_all(
    design: Any,
    grid: ScenarioGrid,
    jobs: list[Job],
    executor: Any,
    store: Store | None,
    progress: bool,
) -> dict[tuple[int, int], dict[str, np.ndarray]]:
    from tqdm.auto import tqdm

    done: dict[tuple[int, int], dict[str, np.ndarray]] = {}
    pending: list[Job] = []
    for job in jobs:
        i, b, size, _ = job
        stored = None if store is None else store.load(grid[i].key(), b, size)
        if stored is None:
            pending.append(job)
        else:
            done[(i, b)] = stored
    bar = tqdm(
        total=len(jobs),
        initial=len(done),
        unit="batch",
        delay=2.0,
        disable=_progress_disabled(progress),
        desc="simulating",
    )

    def finish(i: int, b: int, size: int, out: Any) -> None:
        res = _checked(design, out, size)
        if store is not None:
            store.save(grid[i].key(), b, res)
        done[(i, b)] = res
        bar.update(1)

    try:
        if executor is None:
            for i, b, size, seed in pending:
                finish(i, b, size, run_jobs(design, [(dict(grid[i]), size, seed)])[0])
        else:
            for (i, b, size), out in submit_all(executor, design, grid, pending):
                finish(i, b, size, out)
    finally:
        bar.close()
    return done


def operating_characteristics(
    design: Any,
    scenarios: Any,
    *,
    n_trials: int = 10_000,
    method: str = "monte_carlo",
    rng: Any = None,
    executor: Any = None,
    backend: str | None = None,
    batch_size: int | None = None,
    store: str | os.PathLike[str] | None = None,
    progress: bool = True,
    workers: int | None = None,
    address: str | None = None,
) -> OCResult:
    """Operating characteristics of a design over a grid of true-parameter scenarios.

    Parameters
    ----------
    design : object
        Any design implementing the simulation hook ``_simulate(params, size, rng)``
        (and ``_exact(params)`` for ``method="exact"``); see Notes.
    scenarios : ScenarioGrid, DataFrame or mapping
        True parameter values, one row per scenario.
    n_trials : int
        Simulated trials per scenario (Monte Carlo).
    method : {"monte_carlo", "exact"}
        Simulation, or exact enumeration of the outcome distribution (MCSE = 0).
    rng : None, int, SeedSequence or Generator
        Root seed. ``None`` draws fresh entropy, recorded in ``provenance["seed"]``.
    executor : concurrent.futures.Executor or distributed.Client, optional
        Any executor (a process pool, ``distributed.Client(...).get_executor()``, ...) or
        a Dask ``Client`` (used through its own API).
    backend : {"serial", "processes", "dask"}, optional
        Executor created for this call; ``"dask"`` starts a ``LocalCluster`` unless
        ``address`` names a running scheduler.
    batch_size : int, optional
        Trials per batch (default 10,000). Each batch has its own random stream, so the
        result depends on ``rng`` and ``batch_size`` only, never on the executor.
    store : path, optional
        Checkpoint directory: completed batches are written as they finish and reused
        by a re-run with the same store.
    progress : bool
        Show a progress bar (after 2 s; never when stderr is not a terminal).
    workers : int, optional
        Workers of a process pool or LocalCluster (default: CPU count).
    address : str, optional
        Address of a running Dask scheduler (``backend="dask"``).

    Returns
    -------
    OCResult

    Notes
    -----
    The design protocol: ``_parameters`` (names of the scenario parameters),
    ``_simulate(params, size, rng)`` returning per-trial arrays (``success`` required;
    ``n_enrolled``, ``stopped_at``, ``estimate``, ``lower``, ``upper`` and anything else
    optional), optionally ``_exact(params)`` returning ``(outcomes, probabilities)`` of
    the enumerated outcome distribution, ``_truth(params)`` (estimand, for bias, RMSE
    and coverage), ``_is_null(params)``, ``_check_scenario(params)`` and ``_n_looks``.

    Each scenario-batch pair gets a SeedSequence child spawned from the root before
    anything is scheduled, keyed by the scenario's parameter values and the batch
    number: serial, process-pool and Dask runs are bit-identical, adding a scenario
    leaves the others unchanged, and two designs on one grid use common random numbers.
    Batches are fixed-size, so the first ``k * batch_size`` trials of a longer run equal
    a shorter run's.

    References
    ----------
    .. [1] Morris TP, White IR, Crowther MJ. Using simulation studies to evaluate
       statistical methods. Stat Med 2019;38:2074-2102.
    .. [2] L'Ecuyer P, Munger D, Oreshkin B, Simard R. Random numbers for parallel
       computers: requirements and methods. Math Comput Simul 2017;135:3-17.

    Examples
    --------
    >>> from rdstats.designs import DecisionRule, OneArmDesign
    >>> from rdstats.priors import BetaMixture
    >>> from rdstats.simulate import ScenarioGrid, operating_characteristics
    >>> design = OneArmDesign(BetaMixture(1, 1, 1), 20, DecisionRule(0.9, 0.2))
    >>> grid = ScenarioGrid.cartesian(theta=[0.2, 0.4])
    >>> exact = operating_characteristics(design, grid, method="exact")
    >>> exact.metric("power")[["theta", "value"]].round(4)
       theta  value
    0    0.4   0.75
    """
    grid = as_grid(scenarios)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    n_trials = _check_positive_int(n_trials, "n_trials")
    bsize = (
        DEFAULT_BATCH_SIZE if batch_size is None else _check_positive_int(batch_size, "batch_size")
    )
    check_backend(executor, backend, workers, address)
    _check_design(design, grid, method)
    st = None if store is None else Store(store)
    if st is not None and method == "exact":
        raise ValueError("store is for Monte Carlo runs; method='exact' needs no checkpoints")
    started = _now()
    spec = design_spec(design)
    record: dict[str, Any] = {
        "design": spec,
        "scenarios": grid.to_dict(),
        "method": method,
        "platform": platform.platform(),
        "started": started,
    }
    looks = int(getattr(design, "_n_looks", 1))
    extra = tuple(getattr(design, "_mean_outcomes", ()))
    rows: list[dict[str, Any]] = []
    outcomes = None
    if method == "exact":
        root_seed(rng)  # validated although exact results need no random numbers
        for s in grid:
            support, prob = design._exact(s)
            ms = compute_metrics(
                support,
                prob,
                truth=_truth(design, s),
                null=_null_flag(design, s),
                n_looks=looks,
                means=extra,
            )
            rows += [_row(s, grid, _null_flag(design, s), m, None) for m in ms]
    else:
        root = root_seed(rng)
        seed = seed_record(root)
        sizes = batch_sizes(n_trials, bsize)
        jobs: list[Job] = [
            (i, b, size, batch_seed(root, s.key(), b))
            for i, s in enumerate(grid)
            for b, size in enumerate(sizes)
        ]
        record.update(
            seed=seed,
            n_trials=n_trials,
            batch_size=bsize,
            scenario_keys={s.label: list(s.key()) for s in grid},
        )
        with open_executor(executor, backend, workers, address) as (ex, description):
            record["executor"] = description
            if st is not None:  # after the executor is up: a failed connection writes nothing
                st.open(
                    store_fingerprint(design, root, bsize),
                    {
                        "scenarios": grid.to_dict(),
                        "n_trials": n_trials,
                        "scenario_keys": [list(s.key()) for s in grid],
                        "batches": [len(sizes)] * len(grid),
                    },
                )
            done = _simulate_all(design, grid, jobs, ex, st, progress)
        columns = _assemble(done, len(grid), sizes)
        for i, s in enumerate(grid):
            part = slice(i * n_trials, (i + 1) * n_trials)
            out = {k: v[part] for k, v in columns.items()}
            ms = compute_metrics(
                out,
                None,
                truth=_truth(design, s),
                null=_null_flag(design, s),
                n_looks=looks,
                means=extra,
            )
            rows += [_row(s, grid, _null_flag(design, s), m, n_trials) for m in ms]
        codes = np.repeat(np.arange(len(grid), dtype=np.int32), n_trials)
        outcomes = pd.DataFrame(
            {
                "scenario": pd.Categorical.from_codes(codes, categories=pd.Index(grid.labels)),
                "trial": np.tile(np.arange(n_trials), len(grid)),
                **columns,
            },
            copy=False,
        )
    record["finished"] = _now()
    prov = provenance({"n_trials": n_trials, "batch_size": bsize}, record.get("seed"))
    prov.update(record)
    metrics = pd.DataFrame(rows)
    return OCResult(design, grid, metrics, outcomes, method, prov)


def _assemble(
    done: dict[tuple[int, int], dict[str, np.ndarray]], n_scenarios: int, sizes: list[int]
) -> dict[str, np.ndarray]:
    """One preallocated column per outcome, scenario after scenario, batch after batch;
    batches are released as they are copied."""
    first = done[(0, 0)]
    total = n_scenarios * sum(sizes)
    dtypes = {
        k: np.result_type(*(done[(i, b)][k] for i in range(n_scenarios) for b in range(len(sizes))))
        for k in first
    }
    columns = {k: np.empty(total, dtype=dt) for k, dt in dtypes.items()}
    start = 0
    for i in range(n_scenarios):
        for b, size in enumerate(sizes):
            part = done.pop((i, b))
            if part.keys() != first.keys():
                raise ValueError(
                    f"batches return different outcome columns: {sorted(part)} and {sorted(first)}"
                )
            for k, v in part.items():
                columns[k][start : start + size] = v
            start += size
    return columns


def _row(
    s: Scenario, grid: ScenarioGrid, null: bool | None, m: tuple[str, float, float], n: int | None
) -> dict[str, Any]:
    row: dict[str, Any] = {"scenario": s.label}
    row.update({k: s[k] for k in grid.parameters})
    row["null"] = null
    row.update(metric=m[0], value=m[1], mcse=m[2], n_trials=n)
    return row
