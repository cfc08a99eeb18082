"""Benchmark of matching and balance on a large comparison cohort (issue 6 speed target).

The 185 NSW-treated men of the lalonde data against a 16,000-row comparison cohort
(resampled from lalonde's 429 comparison men with jittered earnings and ages, fixed
seed; the size of Dehejia & Wahba's CPS comparison group): propensity model (logistic),
greedy 1:1 nearest-neighbour matching without replacement, and the balance table before
and after. Target: faster than MatchIt on this machine (the issue quotes about 0.2 s).
When ``Rscript`` with MatchIt is available, the same work (``matchit`` + ``summary``) is
timed in R in the same run, R's start-up excluded.

Writes ``benchmarks/results/external.json``.

    .venv/bin/python benchmarks/bench_external.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _machine import load_average, wait_quiet

from rdstats.datasets import load_lalonde
from rdstats.external import balance, match

OUT = Path(__file__).parent / "results" / "external.json"
COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
N_COMPARISON = 16_000

R_SCRIPT = """
suppressMessages(library(MatchIt))
d <- read.csv(commandArgs(TRUE)[1])
f <- treat ~ age + educ + race + married + nodegree + re74 + re75
times <- numeric(0)
for (i in 1:(as.integer(commandArgs(TRUE)[2]) + 1)) {
  t0 <- proc.time()[["elapsed"]]
  m <- matchit(f, data = d, method = "nearest", distance = "glm")
  s <- summary(m)
  times <- c(times, proc.time()[["elapsed"]] - t0)
}
cat(median(times[-1]), packageDescription("MatchIt")$Version, "\\n")
"""


def cohort(seed: int = 2026) -> pd.DataFrame:
    """185 NSW-treated men + 16,000 comparison men resampled from lalonde's 429."""
    d = load_lalonde()
    rng = np.random.default_rng(seed)
    ctrl = d[d.treat == 0].sample(N_COMPARISON, replace=True, random_state=seed)
    ctrl = ctrl.reset_index(drop=True)
    ctrl["age"] = np.clip(ctrl["age"] + rng.integers(-2, 3, N_COMPARISON), 16, 60)
    for col in ("re74", "re75", "re78"):
        pos = ctrl[col] > 0
        ctrl.loc[pos, col] = ctrl.loc[pos, col] * np.exp(rng.normal(0.0, 0.1, int(pos.sum())))
    ctrl["id"] = [f"C{i}" for i in range(N_COMPARISON)]
    return pd.concat([d[d.treat == 1], ctrl], ignore_index=True)


def work(data: pd.DataFrame) -> Any:
    m = match(data, "treat", COVS)
    return m, balance(data, "treat", COVS, weights=m.weights)


def measure(data: pd.DataFrame, repeats: int, max_wait: float) -> dict[str, Any]:
    work(data)
    wall = []
    for _ in range(repeats):
        if max_wait > 0:
            wait_quiet(max_wait)
        t0 = time.perf_counter()
        work(data)
        wall.append(time.perf_counter() - t0)
    return {"median_wall_s": statistics.median(wall), "min_wall_s": min(wall), "repeats": repeats}


def matchit_time(data: pd.DataFrame, repeats: int) -> dict[str, Any] | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv, script = Path(tmp) / "cohort.csv", Path(tmp) / "bench.R"
        data.to_csv(csv, index=False)
        script.write_text(R_SCRIPT)
        run = subprocess.run(
            ["Rscript", str(script), str(csv), str(repeats)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    if run.returncode != 0:
        return {"error": run.stderr.strip()[-300:]}
    secs, version = run.stdout.split()
    return {"median_wall_s": float(secs), "MatchIt": version, "repeats": repeats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-wait", type=float, default=2.0)
    args = parser.parse_args()
    data = cohort()
    load_start = load_average()
    ours = measure(data, args.repeats, args.max_wait)
    r = matchit_time(data, args.repeats)
    m, _ = work(data)
    matched = int((m.weights[data.treat.to_numpy() == 0] > 0).sum())
    print(f"rdstats match + balance: {ours['median_wall_s']:.3f} s ({matched} controls matched)")
    if r is not None and "median_wall_s" in r:
        print(f"MatchIt {r['MatchIt']} matchit + summary: {r['median_wall_s']:.3f} s")
    doc = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "task": "185 treated vs 16,000 comparison: logistic PS, 1:1 nearest matching without "
        "replacement, balance table before and after (rdstats: match + balance; R: matchit + "
        "summary)",
        "load_average_start": load_start,
        "load_average_end": load_average(),
        "rdstats": ours,
        "matchit_measured": r,
        "anchor_issue_s": 0.2,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"written {OUT}")


if __name__ == "__main__":
    main()
