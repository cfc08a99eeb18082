"""Timings of the EXNEX basket design of Neuenschwander et al. (2016), Table V.

Run with ``python benchmarks/bench_basket.py``; results are written to
``benchmarks/results/basket.json``. ``--quick`` is a smoke run (one repeat, no PyMC) that
prints its figures and writes a file only when ``--output`` is given.

The design: 4 baskets with n = 20, 20, 10, 10; EXNEX with two exchangeable components
(EX1 mu ~ N(logit 0.1, 3.18^2), EX2 mu ~ N(logit 0.3, 1.94^2), tau ~ half-normal(1) in
both) and NEX N(logit 0.2, 2.5^2), prior weights 0.25 / 0.25 / 0.5; a basket goes if
P(p_j > 0.1 | data) > 0.9 and E(p_j | data) > 0.2. The issue's target: operating
characteristics of 3 scenarios x 10,000 simulated trials in under 30 s on one core
(bhmbasket: about 0.65 s per trial).

Timed (one core: BLAS threads set to 1 before numpy is imported; wall clock with
``time.perf_counter``, median of the repeats):

1. ``EXNEX.posterior_table`` on all 21 x 21 x 11 x 11 = 53,361 outcome vectors (every
   count combination computed at once), and the row-by-row engine on 200 of them
   (the engine before this change; its rate extrapolated to all outcomes).
2. The exact operating characteristics of 3 scenarios (null: p = 0.1 in all baskets;
   mixed: 0.1, 0.3, 0.1, 0.3; alternative: 0.3 in all) as binomial-weighted sums of the
   decision table: no simulation error, so they stand for any number of simulated
   trials. Recorded: per-basket go probabilities, the probability of at least one
   false go (family-wise error) and the time of the sums.
   Outcomes within 1e-3 of a threshold are recomputed with rules of half the steps
   (grid_step 0.02, dv 0.1): the changes of their posteriors and decisions, and of the
   go probabilities, are recorded.
3. Unless ``--quick``: accuracy of the deterministic posterior against PyMC (NUTS) for
   a handful of outcome vectors (largest absolute differences of the posterior means
   and of P(p_j > 0.1), with naive standard errors of the PyMC means), and against
   importance sampling from the prior (2,000,000 draws; an independent check).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
from _machine import load_average, wait_quiet  # noqa: E402
from scipy import special, stats  # noqa: E402

import rdstats  # noqa: E402
from rdstats.basket._exnex import EXNEX, allocation_rows  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "basket.json"
N = np.array([20, 20, 10, 10])
MODEL = EXNEX(
    ex=[(special.logit(0.1), 3.18, 1.0), (special.logit(0.3), 1.94, 1.0)],
    nex=(special.logit(0.2), 2.5),
    weights=(0.25, 0.25, 0.5),
)
SCENARIOS = {
    "null": [0.1, 0.1, 0.1, 0.1],
    "mixed": [0.1, 0.3, 0.1, 0.3],
    "alternative": [0.3, 0.3, 0.3, 0.3],
}
BHMBASKET_S_PER_TRIAL = 0.65
TARGET_S = 30.0
PYMC_ROWS = [[2, 2, 1, 1], [6, 2, 3, 1], [0, 8, 1, 5], [10, 10, 6, 6]]


def all_outcomes() -> np.ndarray:
    grids = np.meshgrid(*[np.arange(x + 1) for x in N], indexing="ij")
    return np.array(grids).reshape(N.size, -1).T


def exact_oc(rows: np.ndarray, go: np.ndarray, p: list[float]) -> dict[str, Any]:
    """Go probabilities and family-wise error of true rates ``p`` (exact sums)."""
    w = np.prod([stats.binom.pmf(rows[:, j], N[j], p[j]) for j in range(N.size)], axis=0)
    null = np.array(p) <= 0.1
    any_false = (go & null).any(axis=1)
    return {
        "p": p,
        "go_probability": [round(float(x), 6) for x in w @ go],
        "family_wise_error": round(float(w @ any_false), 6) if null.any() else None,
        "probability_mass": float(w.sum()),
    }


def timed(fn: Any, repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        wait_quiet(30.0)
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def importance_means(row: list[int], draws: int = 2_000_000) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means by importance sampling from the prior (an independent check):
    estimate and its standard error from 4 independent batches."""
    rng = np.random.default_rng(7)
    r = np.asarray(row)
    ests = []
    for _ in range(4):
        m = draws // 4
        mu = np.column_stack([rng.normal(c[0], c[1], m) for c in MODEL.ex])
        tau = np.abs(rng.normal(0.0, 1.0, (m, 2)))
        z = rng.choice(3, size=(m, N.size), p=[0.25, 0.25, 0.5])
        c = np.minimum(z, 1)
        th = np.take_along_axis(mu, c, 1) + np.take_along_axis(tau, c, 1) * rng.standard_normal(
            (m, N.size)
        )
        th = np.where(z == 2, rng.normal(special.logit(0.2), 2.5, (m, N.size)), th)
        lw = np.sum(r * th - N * np.logaddexp(0.0, th), axis=1)
        w = np.exp(lw - lw.max())
        ests.append(w @ special.expit(th) / w.sum())
    e = np.array(ests)
    return e.mean(axis=0), e.std(axis=0, ddof=1) / 2


def pymc_accuracy(draws: int) -> list[dict[str, Any]]:
    """Exact posterior against PyMC draws: means and P(p_j > 0.1) of the draws, with
    naive standard errors (draw SD / sqrt(number of draws), no autocorrelation)."""
    out = []
    for row in PYMC_ROWS:
        exact = MODEL.fit(row, N)
        t0 = time.perf_counter()
        mc = MODEL.fit(row, N, method="mcmc", rng=1, draws=draws, tune=1000, chains=4)
        sec = time.perf_counter() - t0
        p = np.asarray(mc.extra["draws"])
        mean, above = p.mean(axis=0), (p > 0.1).mean(axis=0)
        se = np.sqrt(p.var(axis=0) / p.shape[0])
        is_mean, is_se = importance_means(row)
        out.append(
            {
                "r": row,
                "exact_mean": np.round(exact.mean(), 5).tolist(),
                "mcmc_mean": np.round(mean, 5).tolist(),
                "mcmc_naive_se_mean": np.round(se, 5).tolist(),
                "max_abs_diff_mean": round(float(np.max(np.abs(exact.mean() - mean))), 5),
                "max_abs_diff_mean_in_se": round(
                    float(np.max(np.abs(exact.mean() - mean) / se)), 2
                ),
                "exact_prob_above_0.1": np.round(exact.prob_above(0.1), 5).tolist(),
                "mcmc_prob_above_0.1": np.round(above, 5).tolist(),
                "max_abs_diff_prob_above_0.1": round(
                    float(np.max(np.abs(exact.prob_above(0.1) - above))), 5
                ),
                "mcmc_seconds": round(sec, 1),
                "importance_sampling_mean": np.round(is_mean, 5).tolist(),
                "importance_sampling_se": np.round(is_se, 5).tolist(),
                "max_abs_diff_mean_to_importance_sampling_in_se": round(
                    float(np.max(np.abs(exact.mean() - is_mean) / is_se)), 2
                ),
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--output", type=Path, default=None)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--draws", type=int, default=2000)
    args = ap.parse_args()
    repeats = 1 if args.quick else args.repeats
    load_start = load_average()
    rows = all_outcomes()
    p0 = 0.1
    MODEL.posterior_table(rows[:5], N, p0)  # warm-up
    t_table, tab = timed(lambda: MODEL.posterior_table(rows, N, p0), repeats)

    sample = rows[np.random.default_rng(1).choice(rows.shape[0], 200, replace=False)]
    _, comps, tabs, log_w = MODEL._setup(
        N, [np.arange(x + 1) for x in N], np.full(4, p0), 0.04, 0.2
    )
    t_rows, old = timed(lambda: allocation_rows(comps, tabs, sample.astype(np.intp), log_w), 1)
    idx = np.ravel_multi_index(tuple(sample.T), tuple(N + 1))
    agree = max(
        float(np.max(np.abs(old[i] - tab[key][idx])))
        for i, key in enumerate(("mean", "prob_above", "p_exchangeable"))
    )

    go = (tab["prob_above"] > 0.9) & (tab["mean"] > 0.2)
    t0 = time.perf_counter()
    ocs = {name: exact_oc(rows, go, p) for name, p in SCENARIOS.items()}
    t_oc = time.perf_counter() - t0
    # decisions near the boundaries, recomputed with rules of half the steps
    near = np.flatnonzero(
        (np.abs(tab["prob_above"] - 0.9) < 1e-3).any(axis=1)
        | (np.abs(tab["mean"] - 0.2) < 1e-3).any(axis=1)
    )
    fine = MODEL.posterior_table(rows[near], N, p0, grid_step=0.02, dv=0.1)
    go_fine = go.copy()
    go_fine[near] = (fine["prob_above"] > 0.9) & (fine["mean"] > 0.2)
    flips = np.flatnonzero((go_fine != go).any(axis=1))
    refine = {
        "outcomes_within_1e-3_of_a_threshold": int(near.size),
        "max_abs_diff_mean": float(np.max(np.abs(fine["mean"] - tab["mean"][near]), initial=0)),
        "max_abs_diff_prob_above": float(
            np.max(np.abs(fine["prob_above"] - tab["prob_above"][near]), initial=0)
        ),
        "decision_changes": int(flips.size),
        "max_change_of_go_probability": max(
            float(
                np.max(
                    np.abs(
                        np.subtract(
                            exact_oc(rows, go_fine, p)["go_probability"],
                            ocs[name]["go_probability"],
                        )
                    )
                )
            )
            for name, p in SCENARIOS.items()
        ),
    }
    total = t_table + t_oc
    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rdstats": rdstats.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": 1,
        "load_average_start": load_start,
        "design": {
            "n": N.tolist(),
            "model": repr(MODEL),
            "rule": "go if P(p_j > 0.1) > 0.9 and E(p_j) > 0.2",
            "grid_step": 0.04,
            "dv": 0.2,
        },
        "posterior_table_all_outcomes": {
            "outcomes": int(rows.shape[0]),
            "seconds": round(t_table, 3),
            "outcomes_per_second": round(rows.shape[0] / t_table),
        },
        "row_by_row_engine_before": {
            "outcomes": int(sample.shape[0]),
            "seconds": round(t_rows, 3),
            "outcomes_per_second": round(sample.shape[0] / t_rows, 1),
            "extrapolated_all_outcomes_seconds": round(rows.shape[0] * t_rows / 200, 1),
            "max_abs_diff_to_table": agree,
        },
        "exact_oc": {
            "scenarios": ocs,
            "sum_seconds": round(t_oc, 4),
            "total_seconds": round(total, 3),
            "target_seconds": TARGET_S,
            "equivalent_trials": "any number (no simulation error); target: 3 x 10,000",
            "bhmbasket_seconds_for_3x10000": round(3 * 10_000 * BHMBASKET_S_PER_TRIAL),
            "refined_rules_near_thresholds": refine,
        },
    }
    if not args.quick:
        result["pymc_accuracy"] = pymc_accuracy(args.draws)
    result["load_average_end"] = load_average()
    text = json.dumps(result, indent=2)
    print(text)
    out = args.output if (args.quick or args.output) else RESULTS
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")


if __name__ == "__main__":
    main()
