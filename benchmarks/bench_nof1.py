"""Timings of n-of-1 jump detection (rdstats.nof1) against the issue's targets.

Run with ``python benchmarks/bench_nof1.py``; results are written to
``benchmarks/results/nof1.json``. ``--quick`` is a smoke run (one repeat, 1,000 null
series) that prints its figures and writes a file only when ``--output`` is given.

Timed, on one core (BLAS/OpenMP threads pinned to 1 before numpy is imported):

1. ``detect_jump`` for one patient with 200 visits, trend + AR(1) (50-point rho grid);
   target under 0.2 s. Median of repeats after one warm-up call.
2. ``calibrate`` with 10,000 null series of 40 visits (AR(1) rho = 0.6, treatment
   start at visit 20) for the default rule (P(jump beyond the MCID after start)) with a
   white-noise, an AR(1) and a trend + AR(1) detector, and the naive pre/post t-test;
   target under 30 s. The whole call (simulation engine, vectorised exact kernel in
   chunks, threshold calibration) is timed once per repeat.

Wall clock (``time.perf_counter``) and CPU time of this process (``time.process_time``,
robust to other processes) are both recorded. Other sessions may share this machine: the
load average is recorded at the start and the end, and the share of all CPUs busy before
each repeat (the benchmark waits up to ``--max-wait`` seconds for it to fall below 0.15).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
from _machine import load_average, wait_quiet  # noqa: E402

import rdstats  # noqa: E402
from rdstats.nof1._calibrate import calibrate  # noqa: E402
from rdstats.nof1._detect import detect_jump  # noqa: E402
from rdstats.nof1._null_models import NullModel  # noqa: E402
from rdstats.nof1._rules import JumpRule  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "nof1.json"
TARGET_DETECT_S = 0.2
TARGET_CALIBRATE_S = 30.0
SEED = 20261122


def _time(fn: Callable[[], Any], repeats: int, max_wait: float) -> dict[str, Any]:
    fn()  # warm-up
    wall, cpu, busy = [], [], []
    for _ in range(repeats):
        busy.append(wait_quiet(max_wait))
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {
        "wall_s": statistics.median(wall),
        "cpu_s": statistics.median(cpu),
        "wall_all_s": wall,
        "cpu_all_s": cpu,
        "machine_busy_before": busy,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--max-wait", type=float, default=2.0)
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    repeats_detect = 1 if quick else 7
    repeats_cal = 1 if quick else 3
    n_series = 1000 if quick else 10_000
    load_start = load_average()

    rng = np.random.default_rng(SEED)
    e = np.zeros(200)
    for i in range(1, 200):
        e[i] = 0.6 * e[i - 1] + 0.8 * rng.standard_normal()
    y = 10 + 0.01 * np.arange(200) + e + np.where(np.arange(200) >= 120, 1.5, 0.0)
    detect = _time(
        lambda: detect_jump(y, treatment_start=100, trend=True, ar1=True, mcid=1.0),
        repeats_detect,
        args.max_wait,
    )
    res = detect_jump(y, treatment_start=100, trend=True, ar1=True, mcid=1.0)
    detect.update(
        n_visits=200,
        prob_change=res.prob_change,
        map_change_time=res.map_change_time,
        target_s=TARGET_DETECT_S,
        passes=detect["wall_s"] < TARGET_DETECT_S,
    )

    null = NullModel(n_visits=40, rho=0.6, start_visit=20)
    rules = {
        "white_noise": JumpRule(mcid=0.5),
        "ar1": JumpRule(mcid=0.5, ar1=True),
        "trend_ar1": JumpRule(mcid=0.5, trend=True, ar1=True),
        "naive_t_test": JumpRule(statistic="naive", threshold=0.05),
    }
    cal: dict[str, Any] = {}
    for name, rule in rules.items():
        timing = _time(
            lambda rule=rule: calibrate(rule, null, n_series=n_series, rng=SEED),
            repeats_cal,
            args.max_wait,
        )
        r = calibrate(rule, null, n_series=n_series, rng=SEED)
        timing.update(
            rule=rule.describe(),
            false_alarm_rate=r.false_alarm_rate,
            false_alarm_mcse=r.false_alarm_mcse,
            calibrated_threshold=r.threshold,
            target_s=TARGET_CALIBRATE_S,
            passes=timing["wall_s"] < TARGET_CALIBRATE_S,
        )
        cal[name] = timing
        print(f"calibrate {name}: {timing['wall_s']:.2f} s wall, {timing['cpu_s']:.2f} s CPU")
    print(f"detect_jump 200 visits trend+AR(1): {1000 * detect['wall_s']:.1f} ms")

    report = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "rdstats": getattr(rdstats, "__version__", None),
        },
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "notes": (
            "One core (BLAS/OpenMP threads 1). detect_jump: median of repeats after a "
            "warm-up; calibrate: 10,000 null series of 40 visits (AR(1) rho 0.6, start at "
            "visit 20) through the simulation engine, median of repeats. Wall clock and CPU "
            "time of this process; other sessions may share the machine (load averages)."
        ),
        "load_average_start": load_start,
        "load_average_end": load_average(),
        "summary": {
            "detect_jump_200_trend_ar1_ms": 1000 * detect["wall_s"],
            "calibrate_10000x40_s": {k: v["wall_s"] for k, v in cal.items()},
            "calibrate_10000x40_cpu_s": {k: v["cpu_s"] for k, v in cal.items()},
            "pass": bool(detect["passes"] and all(v["passes"] for v in cal.values())),
        },
        "detect_jump": detect,
        "calibrate": {"n_series": n_series, "n_visits": 40, "rules": cal},
    }
    output = args.output if args.output is not None else (None if quick else RESULTS)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    main()
