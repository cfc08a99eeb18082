"""Timings of the operating-characteristics engine (rdstats.simulate) against the targets.

Run with ``python benchmarks/bench_simulate.py``; results are written to
``benchmarks/results/simulate.json``. ``--quick`` is a smoke run (few trials, one repeat)
that prints its figures and writes a file only when ``--output`` is given.

Three parts:

1. Serial throughput (one core) of ``operating_characteristics`` for three designs — a
   one-arm binary design with a conjugate beta posterior, a one-arm normal design with a
   two-component normal-mixture prior (per-trial root finding for the credible interval)
   and a two-arm binary design with a robustified mixture prior — as simulated trials per
   minute of the whole engine call and of the design's ``_simulate`` hook alone.
2. Scale-out on this machine: a Dask ``LocalCluster`` with 2 worker processes (started
   once, its ``Client`` passed as ``executor=``) and ``backend="processes", workers=2``
   against the serial engine on 20 scenarios x 10^5 trials, for batch sizes 10,000 and
   50,000; results must be bit-identical (``OCResult.compare() == []``). Cluster start-up
   and a one-shot ``backend="dask"`` call (start-up included) are timed separately. A
   second, plain ``LocalCluster`` whose workers run with distributed's
   ``MALLOC_TRIM_THRESHOLD_`` setting (which rdstats's ``local_cluster`` drops) shows what
   that setting costs.
3. ``method="exact"`` on the same grids.

Serial throughput is measured in CPU time of the calling process (one core); scale-out
timings are wall-clock medians of repeats (``time.perf_counter``), repeats of different
backends interleaved so that load from other processes on the machine affects all of them
alike. That load is recorded for every run (other sessions may share the machine).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy
from _machine import load_average, machine_cpu_s, wait_quiet

import rdstats
from rdstats.designs import DecisionRule, OneArmDesign, TwoArmDesign
from rdstats.priors import BetaMixture, NormalMixture, robustify
from rdstats.simulate import ScenarioGrid, local_cluster, operating_characteristics

RESULTS = Path(__file__).resolve().parent / "results" / "simulate.json"

# Targets quoted in the issue.
TARGET_TRIALS_PER_MIN = 1e7  # one-arm binary design, conjugate posterior, one core
TARGET_DASK_SPEEDUP = 1.6  # 2 Dask workers vs serial on this 2-core machine
QUIET_CORES = 0.25  # a repeat is "quiet" when other processes used less than this

SEED = 20260101
THETA = np.linspace(0.1, 0.5, 20)


def binary_design() -> OneArmDesign:
    return OneArmDesign(BetaMixture(1, 1, 1), 40, DecisionRule(0.9, 0.2))


def normal_design() -> OneArmDesign:
    prior = NormalMixture([0.5, 0.5], [0.0, 0.3], [1.0, 0.2], sigma=1)
    return OneArmDesign(prior, 40, DecisionRule(0.9, 0.2))


def two_arm_design() -> TwoArmDesign:
    control = robustify(BetaMixture([0.6, 0.4], [10, 3], [40, 12]), weight=0.2, mean=0.5)
    rule = DecisionRule([0.95, 0.5], [0.0, 0.15])
    return TwoArmDesign(BetaMixture(1, 0.5, 1), 30, control, 15, rule)


def one_arm_grid() -> ScenarioGrid:
    return ScenarioGrid.cartesian(theta=THETA)


def two_arm_grid() -> ScenarioGrid:
    return ScenarioGrid.cartesian(theta_1=np.linspace(0.2, 0.65, 10), theta_2=[0.2, 0.3])


DESIGNS: dict[str, tuple[str, Callable[[], Any], Callable[[], ScenarioGrid]]] = {
    "one_arm_binary": (
        "OneArmDesign(BetaMixture(1, 1, 1), 40, DecisionRule(0.9, 0.2)); conjugate beta "
        "posterior, summaries looked up per outcome 0..40",
        binary_design,
        one_arm_grid,
    ),
    "one_arm_normal_mixture": (
        "OneArmDesign(NormalMixture([0.5, 0.5], [0, 0.3], [1, 0.2], sigma=1), 40, "
        "DecisionRule(0.9, 0.2)); per-trial root finding for the 95% credible interval",
        normal_design,
        one_arm_grid,
    ),
    "two_arm_binary_robust": (
        "TwoArmDesign(BetaMixture(1, 0.5, 1), 30, robustify(BetaMixture([0.6, 0.4], [10, 3], "
        "[40, 12]), weight=0.2, mean=0.5), 15, DecisionRule([0.95, 0.5], [0.0, 0.15]))",
        two_arm_design,
        two_arm_grid,
    ),
}


# -- helpers ----------------------------------------------------------------------------
def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall-clock seconds, CPU seconds of this process and the result of ``fn()``."""
    cpu, start = time.process_time(), time.perf_counter()
    out = fn()
    return time.perf_counter() - start, time.process_time() - cpu, out


def _own_cpu_s() -> tuple[float, dict[int, float]]:
    """CPU-seconds of this process plus its reaped children, and of each live descendant
    (Dask workers, pool workers)."""
    t = os.times()
    own = t.user + t.system + t.children_user + t.children_system
    live: dict[int, float] = {}
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with distributed
        return own, live
    for child in psutil.Process().children(recursive=True):
        try:
            c = child.cpu_times()
        except psutil.Error:
            continue
        live[child.pid] = c.user + c.system
    return own, live


def measured(fn: Callable[[], Any]) -> tuple[dict[str, float | None], Any]:
    """Run ``fn`` and measure its wall time, the CPU time of the calling process, of all
    processes of this benchmark (workers included), and the load that other processes put
    on the machine meanwhile (in cores)."""
    m0, (own0, live0), cpu0 = machine_cpu_s(), _own_cpu_s(), time.process_time()
    start = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - start
    caller = time.process_time() - cpu0
    m1, (own1, live1) = machine_cpu_s(), _own_cpu_s()
    ours = own1 - own0 + sum(v - live0.get(pid, 0.0) for pid, v in live1.items())
    others = None if m0 is None or m1 is None else max(0.0, (m1 - m0 - ours) / wall)
    return {"wall_s": wall, "caller_cpu_s": caller, "all_cpu_s": ours, "other_cores": others}, out


def per_min(trials: int, seconds: float) -> float:
    return trials / seconds * 60.0


def oc(design: Any, grid: ScenarioGrid, n_trials: int, **kw: Any) -> Any:
    return operating_characteristics(
        design, grid, n_trials=n_trials, rng=SEED, progress=False, **kw
    )


def hook_only(design: Any, grid: ScenarioGrid, n_trials: int, batch_size: int) -> float:
    """CPU seconds spent in ``design._simulate`` alone for batches of the engine's sizes."""
    design._prepare(grid)
    root = np.random.SeedSequence(SEED)
    children = iter(root.spawn(len(grid) * (-(-n_trials // batch_size))))
    seconds = 0.0
    for s in grid:
        params = dict(s)
        left = n_trials
        while left > 0:
            size = min(batch_size, left)
            rng = np.random.default_rng(next(children))
            start = time.process_time()
            design._simulate(params, size, rng)
            seconds += time.process_time() - start
            left -= size
    return seconds


def bytes_per_trial(design: Any, grid: ScenarioGrid) -> float:
    design._prepare(grid)
    out = design._simulate(dict(grid[0]), 1000, np.random.default_rng(0))
    return sum(np.asarray(v).nbytes for v in out.values()) / 1000


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "rdstats": getattr(rdstats, "__version__", "unknown"),
        "distributed": _version("distributed"),
    }


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


# -- 1. serial throughput -----------------------------------------------------------------
def serial_throughput(n_trials: dict[str, int], repeats: int, max_wait: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (what, make, make_grid) in DESIGNS.items():
        grid = make_grid()
        n = n_trials[name]
        total = n * len(grid)
        oc(make(), grid, n)  # warm-up: imports, and the allocator's first touch of the memory
        wall, cpu, hook, busy = [], [], [], []
        for _ in range(repeats):
            busy.append(wait_quiet(max_wait))
            w, c, _ = timed(lambda: oc(make(), grid, n))  # noqa: B023
            wall.append(w)
            cpu.append(c)
            hook.append(hook_only(make(), grid, n, 10_000))
        w, c, h = statistics.median(wall), statistics.median(cpu), statistics.median(hook)
        entry: dict[str, Any] = {
            "description": what,
            "scenarios": len(grid),
            "n_trials_per_scenario": n,
            "trials": total,
            "batch_size": 10_000,
            "repeats": repeats,
            "machine_busy_before": busy,
            "engine_wall_s": wall,
            "engine_cpu_s": cpu,
            "engine_wall_median_s": w,
            "engine_cpu_median_s": c,
            "engine_trials_per_min": per_min(total, c),
            "engine_trials_per_min_wall": per_min(total, w),
            "hook_cpu_s": hook,
            "hook_cpu_median_s": h,
            "hook_trials_per_min": per_min(total, h),
            "engine_time_outside_hook_share": max(0.0, 1 - h / c),
            "outcome_bytes_per_trial": bytes_per_trial(make(), grid),
        }
        if name == "one_arm_binary":
            entry["target_trials_per_min"] = TARGET_TRIALS_PER_MIN
            entry["pass_engine"] = bool(entry["engine_trials_per_min"] >= TARGET_TRIALS_PER_MIN)
            entry["pass_engine_wall"] = bool(
                entry["engine_trials_per_min_wall"] >= TARGET_TRIALS_PER_MIN
            )
            entry["pass_hook"] = bool(entry["hook_trials_per_min"] >= TARGET_TRIALS_PER_MIN)
        out[name] = entry
        print(
            f"{name:24s} engine {c:6.3f} s CPU ({w:6.3f} s wall) {per_min(total, c):9.3g} "
            f"trials/min | _simulate {h:6.3f} s {per_min(total, h):9.3g} trials/min"
        )
    return out


# -- 2. Dask / process pool vs serial -----------------------------------------------------
def start_cluster(rdstats_setup: bool = True) -> tuple[float, Any, Any]:
    """A 2-worker cluster + Client. ``rdstats_setup=True``: ``rdstats.simulate.local_cluster``
    (what ``backend="dask"`` starts: workers without distributed's
    ``MALLOC_TRIM_THRESHOLD_=65536``, which makes glibc hand freed memory back at once, so
    that every large temporary array is page-faulted in afresh). ``False``: a plain
    ``LocalCluster`` with distributed's defaults, for comparison."""
    from distributed import Client, LocalCluster

    start = time.perf_counter()
    with warnings.catch_warnings():
        # the scheduler's HTTP server falls back to a free port when another cluster
        # (ours, or another user's) holds 8787
        warnings.filterwarnings("ignore", message="Port .* is already in use")
        if rdstats_setup:
            cluster = local_cluster(2)
        else:
            cluster = LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                silence_logs=logging.ERROR,
            )
        client = Client(cluster)
        client.wait_for_workers(2)
    return time.perf_counter() - start, cluster, client


def _median_min(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), min(values)


def compare_backends(
    name: str,
    grid: ScenarioGrid,
    n_trials: int,
    bs: int,
    clients: dict[str, Any],
    repeats: int,
    wait: float,
) -> dict[str, Any]:
    make = DESIGNS[name][1]
    total = n_trials * len(grid)
    runners: dict[str, Callable[[], Any]] = {
        "serial": lambda: oc(make(), grid, n_trials, batch_size=bs),
        "dask": lambda: oc(make(), grid, n_trials, batch_size=bs, executor=clients["dask"]),
        "dask_defaults": lambda: oc(
            make(), grid, n_trials, batch_size=bs, executor=clients["dask_defaults"]
        ),
        "processes": lambda: oc(
            make(), grid, n_trials, batch_size=bs, backend="processes", workers=2
        ),
    }
    for client in clients.values():  # warm-up
        oc(make(), grid, n_trials, batch_size=bs, executor=client)
    figures = ("wall_s", "caller_cpu_s", "all_cpu_s", "other_cores")
    runs: dict[str, dict[str, list[Any]]] = {k: {f: [] for f in figures} for k in runners}
    diffs: dict[str, set[str]] = {k: set() for k in runners if k != "serial"}
    executors: dict[str, str] = {}
    busy = []
    for _ in range(repeats):
        busy.append(wait_quiet(wait))
        reference = None
        for kind, run in runners.items():  # interleaved, so outside load hits all alike
            fig, res = measured(run)
            for f in figures:
                runs[kind][f].append(fig[f])
            executors[kind] = str(res.provenance.get("executor", ""))
            if kind == "serial":
                reference = res
            else:
                assert reference is not None
                diffs[kind] |= set(reference.compare(res))
            del res
        del reference
    # CPU time of the _simulate calls alone, measured on every 5th scenario and scaled
    sub = ScenarioGrid(grid.table.iloc[::5])
    hook = hook_only(make(), sub, n_trials, bs) * len(grid) / len(sub)
    med = {k: _median_min(v["wall_s"])[0] for k, v in runs.items()}
    # repeats in which other processes used < QUIET_CORES of the machine during all of
    # runs of that repeat
    quiet = [
        i
        for i in range(repeats)
        if all(
            v["other_cores"][i] is not None and v["other_cores"][i] < QUIET_CORES
            for v in runs.values()
        )
    ]
    quiet_med = (
        {k: statistics.median(v["wall_s"][i] for i in quiet) for k, v in runs.items()}
        if quiet
        else {}
    )
    best = {k: _median_min(v["wall_s"])[1] for k, v in runs.items()}
    serial_cpu = statistics.median(runs["serial"]["caller_cpu_s"])
    # Amdahl: only the _simulate calls can run in parallel; outcome-table assembly and
    # metrics stay in the calling process (serial_cpu - hook of them).
    amdahl = serial_cpu / (serial_cpu - min(hook, serial_cpu) / 2)
    entry = {
        "batch_size": bs,
        "repeats": repeats,
        "machine_busy_before": busy,
        "runs": runs,
        "median_s": med,
        "min_s": best,
        "caller_cpu_median_s": {k: statistics.median(v["caller_cpu_s"]) for k, v in runs.items()},
        "all_cpu_median_s": {k: statistics.median(v["all_cpu_s"]) for k, v in runs.items()},
        "other_load_cores_median": {
            k: statistics.median(x for x in v["other_cores"] if x is not None)
            if any(x is not None for x in v["other_cores"])
            else None
            for k, v in runs.items()
        },
        "executor": executors,
        "serial_trials_per_min": per_min(total, med["serial"]),
        "dask_trials_per_min": per_min(total, med["dask"]),
        "processes_trials_per_min": per_min(total, med["processes"]),
        "speedup_dask": med["serial"] / med["dask"],
        "quiet_repeats": quiet,
        "quiet_median_s": quiet_med if quiet else None,
        "speedup_dask_quiet": quiet_med["serial"] / quiet_med["dask"] if quiet else None,
        "speedup_processes_quiet": (
            quiet_med["serial"] / quiet_med["processes"] if quiet else None
        ),
        "speedup_dask_defaults_quiet": (
            quiet_med["serial"] / quiet_med["dask_defaults"] if quiet else None
        ),
        "speedup_dask_best_of": best["serial"] / best["dask"],
        "speedup_dask_defaults": med["serial"] / med["dask_defaults"],
        "speedup_processes": med["serial"] / med["processes"],
        "speedup_processes_best_of": best["serial"] / best["processes"],
        "pass_dask": bool(med["serial"] / med["dask"] >= TARGET_DASK_SPEEDUP),
        "identical_dask": not diffs["dask"],
        "identical_processes": not diffs["processes"],
        "identical_dask_defaults": not diffs["dask_defaults"],
        "compare_dask": sorted(diffs["dask"]),
        "compare_processes": sorted(diffs["processes"]),
        "compare_dask_defaults": sorted(diffs["dask_defaults"]),
        "serial_hook_cpu_s": hook,
        "serial_hook_share": hook / serial_cpu,
        "amdahl_max_speedup_2_workers": amdahl,
    }
    print(
        f"{name:24s} batch {bs:6d}: serial {med['serial']:6.2f} s | dask {med['dask']:6.2f} s "
        f"x{entry['speedup_dask']:.2f} (best-of x{entry['speedup_dask_best_of']:.2f}, "
        f"identical={entry['identical_dask']}) | processes {med['processes']:6.2f} s "
        f"x{entry['speedup_processes']:.2f} (identical={entry['identical_processes']}) | "
        f"dask with distributed's defaults {med['dask_defaults']:6.2f} s "
        f"x{entry['speedup_dask_defaults']:.2f} | "
        f"_simulate {hook / serial_cpu:.0%} of serial CPU, Amdahl bound x{amdahl:.2f} | "
        f"quiet repeats {quiet}: dask x{entry['speedup_dask_quiet'] or float('nan'):.2f}, "
        f"processes x{entry['speedup_processes_quiet'] or float('nan'):.2f}"
    )
    return entry


def scale_out(
    n_trials: int, batch_sizes: list[int], repeats: dict[str, int], wait: float
) -> dict[str, Any]:
    wait_quiet(wait)
    startup, cluster, client = start_cluster()
    print(f"LocalCluster(2 workers) + Client start-up {startup:.2f} s")
    startup_2, cluster_2, client_2 = start_cluster(rdstats_setup=False)
    trim = client_2.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
    out: dict[str, Any] = {
        "grid": "ScenarioGrid.cartesian(theta=np.linspace(0.1, 0.5, 20))",
        "n_trials_per_scenario": n_trials,
        "cluster": "rdstats.simulate.local_cluster(2) + Client, passed as executor= "
        "(what backend='dask' starts)",
        "cluster_startup_s": startup,
        "target_speedup": TARGET_DASK_SPEEDUP,
        "dask_defaults": (
            "a plain LocalCluster(n_workers=2, threads_per_worker=1) with distributed's "
            "defaults, whose workers run with MALLOC_TRIM_THRESHOLD_=65536 "
            "(distributed.nanny.pre-spawn-environ); both clusters are up during all runs "
            "(idle workers cost a few % of a core)"
        ),
        "dask_defaults_cluster_startup_s": startup_2,
        "dask_defaults_workers_env": sorted({str(v) for v in trim.values()}),
        "designs": {},
    }
    grid = one_arm_grid()
    clients = {"dask": client, "dask_defaults": client_2}
    try:
        for name in ("one_arm_binary", "one_arm_normal_mixture"):
            what, make, _ = DESIGNS[name]
            design_out: dict[str, Any] = {
                "description": what,
                "outcome_bytes_per_trial": bytes_per_trial(make(), grid),
            }
            for bs in batch_sizes:
                design_out[f"batch_size_{bs}"] = compare_backends(
                    name, grid, n_trials, bs, clients, repeats[name], wait
                )
            out["designs"][name] = design_out
    finally:
        client_2.close()
        cluster_2.close()
        start = time.perf_counter()
        client.close()
        cluster.close()
        out["cluster_shutdown_s"] = time.perf_counter() - start
    print(f"LocalCluster shutdown {out['cluster_shutdown_s']:.2f} s")
    # one-shot backend="dask": a LocalCluster is started and shut down inside the call
    bs = batch_sizes[0]
    for name in ("one_arm_binary", "one_arm_normal_mixture"):
        make = DESIGNS[name][1]
        busy = wait_quiet(wait)
        fig, res = measured(
            lambda: oc(make(), grid, n_trials, batch_size=bs, backend="dask", workers=2)  # noqa: B023
        )
        seconds = float(fig["wall_s"] or 0.0)
        serial = out["designs"][name][f"batch_size_{bs}"]["median_s"]["serial"]
        out["designs"][name]["one_shot_backend_dask"] = {
            "batch_size": bs,
            "machine_busy_before": busy,
            "seconds": seconds,
            "all_cpu_s": fig["all_cpu_s"],
            "other_cores": fig["other_cores"],
            "speedup_vs_serial": serial / seconds,
            "executor": res.provenance.get("executor", ""),
        }
        print(f"{name:24s} one-shot backend='dask' (start-up, shutdown included) {seconds:6.2f} s")
    return out


# -- 3. exact ----------------------------------------------------------------------------
def exact(repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (what, make, make_grid) in DESIGNS.items():
        grid = make_grid()
        wall, cpu = [], []
        for i in range(repeats + 1):  # the first call is a warm-up
            w, c, _ = timed(lambda: operating_characteristics(make(), grid, method="exact"))  # noqa: B023
            if i:
                wall.append(w)
                cpu.append(c)
        w, c = statistics.median(wall), statistics.median(cpu)
        out[name] = {
            "description": what,
            "scenarios": len(grid),
            "wall_s": wall,
            "cpu_s": cpu,
            "wall_median_s": w,
            "cpu_median_s": c,
            "per_scenario_ms": c / len(grid) * 1e3,
        }
        print(
            f"{name:24s} exact on {len(grid)} scenarios {c * 1e3:8.1f} ms CPU ({w * 1e3:.1f} wall)"
        )
    return out


def _scale_entries(scale: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{name}/{k}": entry
        for name, d in scale["designs"].items()
        for k, entry in d.items()
        if k.startswith("batch_size_")
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: few trials, 1 repeat")
    parser.add_argument("--output", type=Path, default=None, help=f"default {RESULTS}")
    parser.add_argument(
        "--max-wait",
        type=float,
        default=None,
        help="seconds to wait for other processes to leave the CPUs idle before each "
        "repeat (default 5; 0 with --quick)",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    output = args.output if args.output is not None else (None if quick else RESULTS)
    wait = args.max_wait if args.max_wait is not None else (0.0 if quick else 5.0)

    if quick:
        n_serial = dict.fromkeys(DESIGNS, 2_000)
        n_scale, batch_sizes = 5_000, [1_000, 5_000]
        reps_serial, reps_exact = 1, 1
        reps_scale = {"one_arm_binary": 1, "one_arm_normal_mixture": 1}
    else:
        n_serial = {
            "one_arm_binary": 100_000,
            "one_arm_normal_mixture": 20_000,
            "two_arm_binary_robust": 100_000,
        }
        n_scale, batch_sizes = 100_000, [10_000, 50_000]
        reps_serial, reps_exact = 3, 3
        reps_scale = {"one_arm_binary": 4, "one_arm_normal_mixture": 3}

    started = time.perf_counter()
    load_start = load_average()
    print("== 1. serial throughput (one core)")
    serial = serial_throughput(n_serial, reps_serial, wait)
    print("== 2. Dask LocalCluster (2 workers) and process pool vs serial")
    scale = scale_out(n_scale, batch_sizes, reps_scale, wait)
    print("== 3. method='exact'")
    exact_res = exact(reps_exact)
    binary = serial["one_arm_binary"]
    entries = _scale_entries(scale)
    report = {
        "machine": machine(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "notes": (
            "Serial throughput is trials per CPU-second of the calling process (one core), "
            "robust to other processes on the machine; wall-clock figures are given too. "
            "Scale-out timings are wall-clock medians of interleaved repeats; "
            "machine_busy_before is the share of all CPUs busy in the second before a "
            "repeat (other sessions share this machine; each repeat waited up to "
            f"{wait:g} s for it to fall below 0.15). runs[*].other_cores is the CPU load "
            "(in cores) of processes outside this benchmark during each run, all_cpu_s the "
            "CPU time of this benchmark's processes (caller, scheduler, workers), "
            "caller_cpu_s that of the calling process (which, for a LocalCluster, also hosts "
            "the scheduler). *_quiet figures are medians over the repeats in which other "
            f"processes used less than {QUIET_CORES} core during every run of that repeat."
        ),
        "load_average_start": load_start,
        "load_average_end": load_average(),
        "targets": {
            "trials_per_min_one_arm_binary": TARGET_TRIALS_PER_MIN,
            "dask_speedup_2_workers": TARGET_DASK_SPEEDUP,
        },
        "summary": {
            "one_arm_binary_engine_trials_per_min": binary["engine_trials_per_min"],
            "one_arm_binary_engine_trials_per_min_wall": binary["engine_trials_per_min_wall"],
            "one_arm_binary_hook_trials_per_min": binary["hook_trials_per_min"],
            "pass_trials_per_min": binary["pass_engine"],
            "dask_speedups": {k: e["speedup_dask"] for k, e in entries.items()},
            "processes_speedups": {k: e["speedup_processes"] for k, e in entries.items()},
            "dask_defaults_speedups": {k: e["speedup_dask_defaults"] for k, e in entries.items()},
            "dask_speedups_quiet_repeats": {k: e["speedup_dask_quiet"] for k, e in entries.items()},
            "processes_speedups_quiet_repeats": {
                k: e["speedup_processes_quiet"] for k, e in entries.items()
            },
            "best_dask_speedup": max(e["speedup_dask"] for e in entries.values()),
            "pass_dask_speedup": any(e["pass_dask"] for e in entries.values()),
            "all_identical": all(
                e["identical_dask"] and e["identical_processes"] and e["identical_dask_defaults"]
                for e in entries.values()
            ),
        },
        "serial_throughput": serial,
        "scale_out": scale,
        "exact": exact_res,
        "benchmark_wall_s": 0.0,
    }
    report["benchmark_wall_s"] = time.perf_counter() - started
    print(f"total {report['benchmark_wall_s']:.0f} s")
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(report, indent=2, ensure_ascii=False, default=str)
        output.write_text(text + "\n", encoding="utf-8")
        print(f"written to {output}")
    return report


if __name__ == "__main__":
    main()
