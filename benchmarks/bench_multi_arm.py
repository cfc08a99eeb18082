"""Timing of a three-arm (two experimental arms + control) response-adaptive design.

Run with ``python benchmarks/bench_multi_arm.py``; results are written to
``benchmarks/results/multi_arm.json``. ``--quick`` is a smoke run (10^3 trials, one
repeat) that prints its figures and writes a file only when ``--output`` is given.

The design: binary endpoint, beta(1, 1) priors, N = 120 with looks at 30, 60, 90 and 120
(4 analyses), Thompson allocation with softening power n / (2N), allocation caps
[0.1, 0.9] of the experimental allocation, control matched to the best arm, efficacy
threshold 0.99 and inferiority dropping below 0.05, at one scenario (control 0.2, arms
0.45 and 0.3). Timed: ``operating_characteristics(design, scenario, n_trials=10^4)``
(engine included) on a fresh design object each repeat (the per-state posterior tables
are built inside the timing), and again on a warm design (tables cached). Also timed:
the normal-endpoint version (known σ = 1) and ``calibrate_threshold`` on two null
scenarios. Wall-clock medians of repeats, with CPU time of this process and the machine
load recorded (other sessions share the machine).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy
from _machine import load_average, wait_quiet

import rdstats
from rdstats.designs._calibrate import calibrate_threshold
from rdstats.designs._multi_arm import MultiArmDesign
from rdstats.designs._rar import ThompsonAllocation
from rdstats.priors import BetaMixture, NormalMixture
from rdstats.simulate import operating_characteristics

RESULTS = Path(__file__).resolve().parent / "results" / "multi_arm.json"
SCENARIO = {"p_control": [0.2], "p_1": [0.45], "p_2": [0.3]}
NORMAL_SCENARIO = {"mu_control": [0.0], "mu_1": [0.45], "mu_2": [0.3]}
NULLS = {"p_control": [0.2, 0.4], "p_1": [0.2, 0.4], "p_2": [0.2, 0.4]}


def make_design(prior: Any) -> MultiArmDesign:
    return MultiArmDesign(
        2,
        120,
        prior,
        looks=[30, 60, 90],
        allocation=ThompsonAllocation(min_allocation=0.1, max_allocation=0.9),
        efficacy=0.99,
        inferiority=0.05,
    )


def timed(fn: Any, repeats: int) -> dict[str, Any]:
    wall, cpu, busy = [], [], []
    out = None
    for _ in range(repeats):
        busy.append(wait_quiet(20.0))
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {
        "seconds_median": round(statistics.median(wall), 4),
        "seconds_min": round(min(wall), 4),
        "cpu_seconds_median": round(statistics.median(cpu), 4),
        "repeats": repeats,
        "machine_busy_before": busy,
        "result": out,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    n_trials = 1_000 if args.quick else 10_000
    repeats = 1 if args.quick else 5
    kw = {"n_trials": n_trials, "progress": False}

    def cold() -> float:
        d = make_design(BetaMixture(1, 1, 1))
        res = operating_characteristics(d, SCENARIO, rng=1, **kw)
        return float(res.metric("p_success")["value"].iloc[0])

    warm_design = make_design(BetaMixture(1, 1, 1))
    operating_characteristics(warm_design, SCENARIO, rng=0, **kw)

    def warm() -> float:
        res = operating_characteristics(warm_design, SCENARIO, rng=1, **kw)
        return float(res.metric("p_success")["value"].iloc[0])

    def normal() -> float:
        d = make_design(NormalMixture(1, 0.0, 10.0, sigma=1.0))
        res = operating_characteristics(d, NORMAL_SCENARIO, rng=1, **kw)
        return float(res.metric("p_success")["value"].iloc[0])

    def calibrate() -> float:
        cal = calibrate_threshold(make_design(BetaMixture(1, 1, 1)), NULLS, alpha=0.05, rng=1, **kw)
        return cal.threshold

    runs = {
        "binary_cold": timed(cold, repeats),
        "binary_warm": timed(warm, repeats),
        "normal": timed(normal, repeats),
        "calibrate_two_null_scenarios": timed(calibrate, max(1, repeats // 2)),
    }
    for name, r in runs.items():
        print(f"{name:30s} {r['seconds_median']:8.3f} s  (result {r['result']:.4f})")
    record = {
        "benchmark": "MultiArmDesign: 3 arms (2 + control), 4 looks, Thompson RAR",
        "n_trials": n_trials,
        "design": make_design(BetaMixture(1, 1, 1)).to_dict(),
        "scenario": SCENARIO,
        "timings": {
            k: {**{kk: vv for kk, vv in v.items() if kk != "result"}, "value": v["result"]}
            for k, v in runs.items()
        },
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average": load_average(),
        },
        "versions": {
            "rdstats": rdstats.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
        },
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    out = args.output if args.output is not None else (None if args.quick else RESULTS)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(record, indent=1) + "\n")
        print(f"written to {out}")


if __name__ == "__main__":
    main()
