"""Benchmark of the external-control design simulation (issue 6 speed target: a 1,000-trial
design simulation with 30 treated and 300 external patients in under a minute on one core).

For every analysis of :class:`rdstats.external.ExternalControlDesign` (default settings:
30 treated, 300 external controls, three prognostic covariates, continuous endpoint), one
scenario (effect 0, covariate shift 0.5), 1,000 trials, serial backend, no progress bar:
wall-clock and CPU time of ``design.simulate``. Also the hybrid control with 10
concurrent controls and a commensurate prior, the binary endpoint, and the five default
analyses together through ``compare_external_analyses``. BLAS/OpenMP threads are pinned to
one, so the figures are one-core figures.

Writes ``benchmarks/results/external_design.json``.

    .venv/bin/python benchmarks/bench_external_design.py [--repeats 3] [--trials 1000]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _machine import load_average, wait_quiet  # noqa: E402

from rdstats.external._design import ExternalControlDesign  # noqa: E402
from rdstats.external._design_compare import compare_external_analyses  # noqa: E402

OUT = Path(__file__).parent / "results" / "external_design.json"
TARGET_S = 60.0
CASES: dict[str, dict[str, Any]] = {
    "naive": {"analysis": "naive"},
    "regression": {"analysis": "regression"},
    "matching": {"analysis": "matching"},
    "weighting": {"analysis": "weighting"},
    "ps_borrowing": {"analysis": "ps_borrowing"},
    "hybrid (power, single arm)": {"analysis": "hybrid", "hybrid_prior": "power"},
    "hybrid (commensurate, 10 concurrent controls)": {"analysis": "hybrid", "n_control": 10},
    "ps_borrowing (binary)": {"analysis": "ps_borrowing", "endpoint": "binary"},
    "hybrid (power, binary)": {"analysis": "hybrid", "hybrid_prior": "power", "endpoint": "binary"},
}


def timed(fn: Callable[[], Any], repeats: int, max_wait: float) -> dict[str, float]:
    fn()  # warm-up (imports, caches)
    wall, cpu = [], []
    for _ in range(repeats):
        if max_wait > 0:
            wait_quiet(max_wait)
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return {
        "median_wall_s": statistics.median(wall),
        "min_wall_s": min(wall),
        "median_cpu_s": statistics.median(cpu),
        "repeats": repeats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--max-wait", type=float, default=2.0)
    args = parser.parse_args()
    grid = ExternalControlDesign.scenarios(effect=0.0, shift=0.5)
    opts = {"n_trials": args.trials, "rng": 2026, "backend": "serial", "progress": False}
    load_start = load_average()
    results: dict[str, Any] = {}
    for name, kw in CASES.items():
        design = ExternalControlDesign(**kw)
        results[name] = timed(
            lambda d=design: d.simulate(grid, **opts), args.repeats, args.max_wait
        )
        print(f"{name:48s} {results[name]['median_wall_s']:6.2f} s")
    together = timed(lambda: compare_external_analyses(grid, **opts), args.repeats, args.max_wait)
    label = "five default analyses (compare_external_analyses)"
    print(f"{label:48s} {together['median_wall_s']:6.2f} s")
    doc = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "threads": os.environ.get("OMP_NUM_THREADS"),
        },
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "task": f"ExternalControlDesign.simulate: {args.trials} trials, 30 treated + 300 external "
        "(3 covariates, continuous unless noted), one scenario (effect 0, shift 0.5), serial "
        "backend, one core",
        "load_average_start": load_start,
        "load_average_end": load_average(),
        "analyses": results,
        "five_default_analyses_together": together,
        "target_s_per_analysis": TARGET_S,
        "all_within_target": all(r["median_wall_s"] < TARGET_S for r in results.values()),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"written {OUT}")


if __name__ == "__main__":
    main()
