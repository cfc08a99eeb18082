"""Benchmark of the single-arm sequential binary designs (issue 5 speed targets).

* Simon two-stage search for nmax = 100 (p0 = 0.1, p1 = 0.3, alpha = 0.05, beta = 0.2):
  target under 2 s.
* Exact OC of a 7-look BOP2 design (p0 = 0.2, looks 10, 15, ..., 40, efficacy stopping)
  at 100 values of p: target under 0.1 s.
* For information: the predictive-probability search (31 looks, 200 candidates) and the
  BOP2 calibration (the default grids, 3,100 candidates).

Every timing is the median over repeats after one warm-up call, after waiting for quiet
CPUs (other sessions share this machine). Writes ``benchmarks/results/single_arm.json``.

    .venv/bin/python benchmarks/bench_single_arm.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _machine import load_average, wait_quiet

from rdstats.designs import (
    SequentialBinaryDesign,
    calibrate_bop2,
    search_predictive_design,
    simon_two_stage,
)

OUT = Path(__file__).parent / "results" / "single_arm.json"


def measure(fn: Callable[[], Any], repeats: int, max_wait: float) -> dict[str, Any]:
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        if max_wait > 0:
            wait_quiet(max_wait)
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return {
        "median_wall_s": statistics.median(wall),
        "median_cpu_s": statistics.median(cpu),
        "min_wall_s": min(wall),
        "repeats": repeats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-wait", type=float, default=2.0)
    args = parser.parse_args()
    bop2 = SequentialBinaryDesign(
        list(range(10, 41, 5)), [1, 2, 3, 5, 7, 9, 11], [6, 8, 9, 10, 10, 11, 12], p0=0.2
    )
    p = np.linspace(0.0, 1.0, 100)
    tasks = {
        "simon_nmax100": (
            "simon_two_stage(0.1, 0.3, alpha=0.05, beta=0.2, nmax=100)",
            lambda: simon_two_stage(0.1, 0.3, alpha=0.05, beta=0.2, nmax=100),
            2.0,
        ),
        "bop2_oc_100p": (
            "exact OC of the 7-look BOP2-FE design at 100 values of p",
            lambda: bop2.oc(p),
            0.1,
        ),
        "pp_search": (
            "search_predictive_design(0.2, 0.4, range(10, 41)) (20 x 10 candidates)",
            lambda: search_predictive_design(0.2, 0.4, range(10, 41)),
            None,
        ),
        "bop2_calibration": (
            "calibrate_bop2(0.2, 0.4, range(10, 41, 5), efficacy='OF') (default grids)",
            lambda: calibrate_bop2(0.2, 0.4, range(10, 41, 5), efficacy="OF"),
            None,
        ),
    }
    load_start = load_average()
    results: dict[str, Any] = {}
    for name, (what, fn, target) in tasks.items():
        reps = args.repeats if target is not None else max(1, args.repeats // 2)
        stats = measure(fn, reps, args.max_wait)
        ok = None if target is None else stats["median_wall_s"] < target
        results[name] = {"task": what, **stats, "target_s": target, "pass": ok}
        flag = "" if target is None else f"  (target < {target} s: {'met' if ok else 'NOT met'})"
        print(f"{name:<18} {stats['median_wall_s'] * 1e3:9.1f} ms{flag}")
    doc = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "python": platform.python_version(),
            "numpy": np.__version__,
        },
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_start": load_start,
        "load_average_end": load_average(),
        "notes": "median wall-clock time after one warm-up call; the benchmark waited up to "
        "max_wait seconds for the CPUs to be quiet before every repeat",
        "results": results,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"written {OUT}")


if __name__ == "__main__":
    main()
