"""Timings of group-sequential designs (rdstats.designs.GroupSequentialDesign).

Run with ``python benchmarks/bench_group_sequential.py``; results are written to
``benchmarks/results/group_sequential.json``. ``--quick`` runs few repeats and writes
nothing unless ``--output`` is given.

Task: a design with 5 looks (boundaries, then the design characteristics: drift,
inflation factor, power by look, average sample numbers under H0, H0/H1 midpoint and H1),
for classical O'Brien-Fleming, O'Brien-Fleming-type α-spending and α-spending with
β-spending futility. The anchor is rpact's ``getDesignGroupSequential`` +
``getDesignCharacteristics`` (about 0.08 s on this machine, as quoted by the issue); when
``Rscript`` with rpact is installed the same calls are timed here as well (median of
repeats inside one R session, so R's start-up is not counted).

Timings are wall-clock medians of repeats (``time.perf_counter``) after a warm-up call,
each repeat after waiting (briefly) for quiet CPUs, since other sessions share the
machine; the load is recorded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy
from _machine import load_average, wait_quiet

import rdstats
from rdstats.designs._group_sequential import GroupSequentialDesign
from rdstats.designs._spending import OBrienFlemingSpending

RESULTS = Path(__file__).resolve().parent / "results" / "group_sequential.json"
RPACT_ANCHOR_S = 0.08  # quoted by the issue for this machine

TASKS: dict[str, tuple[str, Callable[[], Any], str]] = {
    "of_5": (
        "GroupSequentialDesign(kmax=5, spending='OF').characteristics()",
        lambda: GroupSequentialDesign(kmax=5, spending="OF").characteristics(),
        'd <- getDesignGroupSequential(kMax = 5, typeOfDesign = "OF"); getDesignCharacteristics(d)',
    ),
    "asof_5": (
        "GroupSequentialDesign(kmax=5, spending='asOF').characteristics()",
        lambda: GroupSequentialDesign(kmax=5, spending="asOF").characteristics(),
        'd <- getDesignGroupSequential(kMax = 5, typeOfDesign = "asOF"); '
        "getDesignCharacteristics(d)",
    ),
    "asof_bsof_5": (
        "GroupSequentialDesign(kmax=5, spending='asOF', futility=OBrienFlemingSpending())"
        ".characteristics() (non-binding beta-spending futility)",
        lambda: GroupSequentialDesign(
            kmax=5, spending="asOF", futility=OBrienFlemingSpending()
        ).characteristics(),
        'd <- getDesignGroupSequential(kMax = 5, typeOfDesign = "asOF", '
        'typeBetaSpending = "bsOF"); getDesignCharacteristics(d)',
    ),
}


def measure(fn: Callable[[], Any], repeats: int, max_wait: float) -> dict[str, Any]:
    fn()
    wall, busy = [], []
    for _ in range(repeats):
        busy.append(wait_quiet(max_wait) if max_wait > 0 else None)
        t0 = time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
    return {
        "median_wall_s": statistics.median(wall),
        "min_wall_s": min(wall),
        "repeats": repeats,
        "machine_busy_before": busy,
    }


def rpact_timing(call: str, repeats: int) -> dict[str, Any] | None:
    """Median seconds of ``call`` in R with rpact (None when R or rpact is missing)."""
    if shutil.which("Rscript") is None:
        return None
    script = (
        "suppressMessages(library(rpact)); f <- function() { " + call + " }; invisible(f()); "
        f"w <- replicate({repeats}, system.time(f())[['elapsed']]); "
        'cat(median(w), min(w), as.character(packageVersion("rpact")), "\\n")'
    )
    try:
        out = subprocess.run(
            ["Rscript", "-e", script], capture_output=True, text=True, timeout=600, check=True
        ).stdout.split()
    except (subprocess.SubprocessError, OSError):
        return None
    return {
        "median_wall_s": float(out[0]),
        "min_wall_s": float(out[1]),
        "repeats": repeats,
        "rpact": out[2],
        "call": call,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats, no file written")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=25)
    args = parser.parse_args()
    repeats = 3 if args.quick else args.repeats
    max_wait = 0.0 if args.quick else 5.0
    results: dict[str, Any] = {}
    for name, (desc, fn, r_call) in TASKS.items():
        ours = measure(fn, repeats, max_wait)
        rp = rpact_timing(r_call, repeats)
        anchor = rp["median_wall_s"] if rp else RPACT_ANCHOR_S
        results[name] = {
            "task": desc,
            "rdstats": ours,
            "rpact_measured": rp,
            "speedup_vs_rpact": anchor / ours["median_wall_s"],
            "pass": bool(ours["median_wall_s"] < min(anchor, RPACT_ANCHOR_S)),
        }
        rp_text = f"{rp['median_wall_s'] * 1e3:.1f} ms" if rp else "not run"
        print(
            f"{name:<12} rdstats {ours['median_wall_s'] * 1e3:7.1f} ms (median of {repeats}), "
            f"rpact {rp_text}, anchor {RPACT_ANCHOR_S * 1e3:.0f} ms"
        )
    record = {
        "benchmark": "group-sequential design with 5 looks: boundaries + characteristics",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "rdstats": getattr(rdstats, "__version__", "unknown"),
            "load_average": load_average(),
        },
        "rpact_anchor_s": RPACT_ANCHOR_S,
        "rpact_anchor_source": "issue: rpact getDesignGroupSequential + "
        "getDesignCharacteristics with 5 looks, about 0.08 s on this machine",
        "results": results,
    }
    out = args.output if args.output is not None else (None if args.quick else RESULTS)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
