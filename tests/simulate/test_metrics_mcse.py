"""Metrics and their Monte Carlo standard errors.

* Exact enumeration (``method="exact"``) agrees with the designs' own exact OCs.
* Over many independent scenarios, the exact value lies within ±2 MCSE of the simulated
  one about 95.4% of the time, and the standardised errors have unit variance: the MCSE
  is neither too small nor too large.
* ``compute_metrics`` unit tests: weighted (exact) versus unweighted, quantile MCSE,
  look-wise stopping probabilities of a toy sequential design.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rdstats.designs import DecisionRule, OneArmDesign, TwoArmDesign
from rdstats.priors import BetaMixture, GammaMixture, NormalMixture
from rdstats.simulate import ScenarioGrid, operating_characteristics
from rdstats.simulate._metrics import compute_metrics

N_TRIALS = 2000
RULE_0 = DecisionRule(0.9, 0.0)

DESIGNS: dict[str, Any] = {
    "binomial-1a": OneArmDesign(
        BetaMixture([0.5, 0.5], [1, 3], [1, 7]), 25, DecisionRule(0.9, 0.25)
    ),
    "binomial-1b": OneArmDesign(
        BetaMixture(1, 0.5, 0.5), 14, DecisionRule([0.8, 0.5], [0.3, 0.45])
    ),
    "poisson-1a": OneArmDesign(GammaMixture(1, 1, 1), 10, DecisionRule(0.9, 0.5)),
    "poisson-1b": OneArmDesign(
        GammaMixture([0.7, 0.3], [2, 1], [4, 0.5]), 6.5, DecisionRule(0.95, 0.8, lower_tail=True)
    ),
    "normal-1a": OneArmDesign(NormalMixture(1, 0, 2, sigma=1.5), 20, DecisionRule(0.9, 0.0)),
    "normal-1b": OneArmDesign(
        NormalMixture([0.8, 0.2], [0, 0], [0.5, 5], sigma=2), 12, DecisionRule(0.8, 0.2)
    ),
    "binomial-2a": TwoArmDesign(BetaMixture(1, 1, 1), 20, BetaMixture(1, 1, 1), 20, RULE_0),
    "binomial-2b": TwoArmDesign(
        BetaMixture(1, 2, 2),
        18,
        BetaMixture([0.8, 0.2], [4, 1], [12, 1]),
        9,
        DecisionRule([0.9, 0.5], [0.0, 0.15]),
    ),
    "poisson-2a": TwoArmDesign(GammaMixture(1, 1, 1), 10, GammaMixture(1, 1, 1), 10, RULE_0),
    "poisson-2b": TwoArmDesign(
        GammaMixture(1, 0.5, 0.5),
        8,
        GammaMixture(1, 6, 10),
        4,
        DecisionRule(0.85, 0.0, lower_tail=True),
    ),
    "normal-2a": TwoArmDesign(
        NormalMixture(1, 0, 2, sigma=1), 15, NormalMixture(1, 0, 2, sigma=1), 15, RULE_0
    ),
    "normal-2b": TwoArmDesign(
        NormalMixture(1, 0, 3, sigma=1.2),
        10,
        NormalMixture([0.5, 0.5], [0, 0.3], [0.3, 2], sigma=1.2),
        6,
        DecisionRule(0.9, 0.1),
    ),
}
PER_DESIGN = 10  # 12 designs x 10 scenarios = 120 independent scenarios
RANGES = {"binomial": (0.0, 1.0), "poisson": (0.0, 4.0), "normal": (-2.5, 3.0)}
CONTROL = {"binomial": 0.3, "poisson": 0.6, "normal": 0.0}


def two_arm(design: Any) -> bool:
    return isinstance(design, TwoArmDesign)


def scenarios_for(key: str, design: Any, rng: np.random.Generator) -> ScenarioGrid:
    """Scenarios whose exact success probability is spread over [0.05, 0.95]: θ (or θ1 at a
    slightly jittered control value θ2) found by inverting the design's own OC curve."""
    lo, hi = RANGES[design.endpoint]
    theta = np.linspace(lo, hi, 221)
    targets = np.sort(rng.uniform(0.05, 0.95, PER_DESIGN))
    if two_arm(design):
        t2 = CONTROL[design.endpoint] + 0.002 * np.arange(PER_DESIGN)
        t1 = []
        for target, c in zip(targets, t2, strict=True):
            oc = np.asarray(design.oc(theta, c))
            t1.append(np.interp(target, *_increasing(oc, theta)))
        return ScenarioGrid({"theta_1": t1, "theta_2": t2})
    oc = np.asarray(design.oc(theta))
    return ScenarioGrid({"theta": np.interp(targets, *_increasing(oc, theta))})


def _increasing(oc: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if oc[-1] < oc[0]:
        oc, theta = oc[::-1], theta[::-1]
    oc = np.maximum.accumulate(oc)
    keep = np.concatenate([[True], np.diff(oc) > 0])
    return oc[keep], theta[keep]


def design_oc(design: Any, grid: ScenarioGrid) -> np.ndarray:
    t = grid.table
    if two_arm(design):
        return np.asarray(design.oc(t["theta_1"].to_numpy(), t["theta_2"].to_numpy()))
    return np.asarray(design.oc(t["theta"].to_numpy()))


@pytest.fixture(scope="module")
def runs() -> dict[str, tuple[Any, Any, Any]]:
    """(grid, exact result, Monte Carlo result) per design."""
    rng = np.random.default_rng(20260601)
    out = {}
    for i, (key, design) in enumerate(DESIGNS.items()):
        grid = scenarios_for(key, design, rng)
        exact = operating_characteristics(design, grid, method="exact")
        mc = operating_characteristics(
            design, grid, n_trials=N_TRIALS, rng=1000 + i, progress=False
        )
        out[key] = (grid, exact, mc)
    return out


def paired(exact: Any, mc: Any) -> pd.DataFrame:
    e = exact.metrics[["scenario", "metric", "value", "mcse"]]
    m = mc.metrics[["scenario", "metric", "value", "mcse"]]
    return e.merge(m, on=["scenario", "metric"], suffixes=("_exact", "_mc"))


# -- exact enumeration against the designs' exact OCs ---------------------------------------
@pytest.mark.parametrize("key", list(DESIGNS))
def test_exact_matches_design_oc(runs, key):
    design = DESIGNS[key]
    grid, exact, _ = runs[key]
    p = exact.metric("p_success")["value"].to_numpy()
    tol = 1e-8 if design.endpoint == "normal" else 1e-9
    np.testing.assert_allclose(p, design_oc(design, grid), rtol=0, atol=tol)
    assert (exact.metrics["mcse"] == 0).all()
    assert exact.outcomes is None and exact.n_trials is None
    mass = exact.metric("enumerated_mass")["value"].to_numpy()
    np.testing.assert_allclose(mass, 1.0, rtol=0, atol=1e-12)
    # the scenarios really spread over the OC curve
    assert p.min() > 0.03 and p.max() < 0.97


@pytest.mark.parametrize("key", list(DESIGNS))
def test_exact_null_flags_and_error_rows(runs, key):
    design = DESIGNS[key]
    _, exact, mc = runs[key]
    for res in (exact, mc):
        wide = res.summary(wide=True)
        for s in res.scenarios:
            flag = design._is_null(s)
            row = wide.loc[s.label]
            if flag is None:
                assert np.isnan(row.get("power", np.nan)) and np.isnan(
                    row.get("type_i_error", np.nan)
                )
            else:
                name = "type_i_error" if flag else "power"
                assert row[name] == row["p_success"]
                assert row[f"{name}_mcse"] == row["p_success_mcse"]


def test_exact_agrees_with_mc_metric_names(runs):
    for _, exact, mc in runs.values():
        e, m = set(exact.metrics["metric"]), set(mc.metrics["metric"])
        assert e - m == {"enumerated_mass"}
        assert m <= e


# -- MCSE calibration -----------------------------------------------------------------------
def _calibration(z: np.ndarray) -> tuple[float, float]:
    return float(np.mean(np.abs(z) <= 2)), float(np.mean(z**2))


@pytest.mark.slow
def test_p_success_mcse_is_calibrated(runs):
    table = pd.concat([paired(e, m) for _, e, m in runs.values()])
    ps = table[table["metric"] == "p_success"]
    assert len(ps) == 120
    assert (ps["mcse_mc"] > 0).all()
    z = ((ps["value_mc"] - ps["value_exact"]) / ps["mcse_mc"]).to_numpy()
    within, mean_sq = _calibration(z)
    # binomial(120, 0.954): P(within < 0.90) ~ 0.3%; chi2(120)/120 0.1%..99.9%: 0.64..1.43
    assert 0.90 <= within <= 0.99, within
    assert 0.64 <= mean_sq <= 1.43, mean_sq
    # MCSE formula: sqrt(p(1-p)/n) at the simulated p
    p = ps["value_mc"].to_numpy()
    np.testing.assert_allclose(ps["mcse_mc"], np.sqrt(p * (1 - p) / N_TRIALS), rtol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("metric", ["bias", "rmse", "estimate_mean"])
def test_estimation_mcse_is_calibrated(runs, metric):
    table = pd.concat([paired(e, m) for _, e, m in runs.values()])
    rows = table[table["metric"] == metric]
    assert len(rows) == 120
    assert (rows["mcse_mc"] > 0).all()
    z = ((rows["value_mc"] - rows["value_exact"]) / rows["mcse_mc"]).to_numpy()
    within, mean_sq = _calibration(z)
    assert 0.90 <= within <= 0.99, (metric, within)
    assert 0.64 <= mean_sq <= 1.43, (metric, mean_sq)


@pytest.mark.slow
def test_coverage_mcse_is_calibrated(runs):
    """Coverage of the 95% interval (one-arm designs and normal two-arm designs; discrete
    two-arm designs report no interval). Scenarios with coverage above 0.99 are left out:
    with 2000 trials the binomial MCSE estimated from a handful of non-covering trials is
    itself too variable."""
    table = pd.concat([paired(e, m) for _, e, m in runs.values()])
    coverage = table[table["metric"] == "coverage"]
    assert len(coverage) == 80
    rows = coverage[coverage["value_exact"] < 0.99]
    assert len(rows) >= 50
    z = ((rows["value_mc"] - rows["value_exact"]) / rows["mcse_mc"]).to_numpy()
    within, mean_sq = _calibration(z)
    lo, hi = stats.chi2.ppf([0.001, 0.999], len(z)) / len(z)
    assert within >= 0.8, within
    assert lo <= mean_sq <= hi, (mean_sq, lo, hi)


def _posterior_normal(prior_sd: float, se: float) -> tuple[float, float]:
    """Posterior variance v and shrinkage c (posterior mean = c * ybar) for a N(0, prior_sd²)
    prior and a normal mean with standard error se."""
    v = 1 / (1 / prior_sd**2 + 1 / se**2)
    return v, v / se**2


def test_exact_coverage_normal_one_arm_closed_form():
    """The coverage indicator jumps where the interval's ends cross θ; the enumeration
    must break its quadrature there (it did not at first: errors up to 5e-3)."""
    sigma, n, prior_sd = 1.5, 20, 2.0
    design = OneArmDesign(NormalMixture(1, 0, prior_sd, sigma=sigma), n, RULE_0)
    thetas = np.array([0.05, 0.1, 0.2, 0.3, 0.45, 0.6])
    exact = operating_characteristics(design, {"theta": thetas}, method="exact")
    se = sigma / np.sqrt(n)
    v, c = _posterior_normal(prior_sd, se)
    half = stats.norm.ppf(0.975) * np.sqrt(v)
    # covered iff |c ybar - theta| <= half, ybar ~ N(theta, se²)
    truth = stats.norm.cdf((thetas + half) / c, thetas, se) - stats.norm.cdf(
        (thetas - half) / c, thetas, se
    )
    bias = exact.metric("bias")["value"].to_numpy()
    np.testing.assert_allclose(bias, (c - 1) * thetas, atol=1e-12)  # smooth: accurate
    np.testing.assert_allclose(exact.metric("coverage")["value"], truth, rtol=0, atol=1e-6)


def test_exact_coverage_normal_two_arm_closed_form():
    """As above for the interval of θ1 − θ2 (errors of ~1e-3 before the fix)."""
    n, prior_sd = 15, 2.0
    prior = NormalMixture(1, 0, prior_sd, sigma=1.0)
    design = TwoArmDesign(prior, n, prior, n, RULE_0)
    t1 = np.array([0.0, 0.1, 0.3, 0.5, 0.7, 0.9])
    t2 = np.array([0.0, 0.01, 0.02, 0.03, 0.04, 0.05])
    exact = operating_characteristics(design, {"theta_1": t1, "theta_2": t2}, method="exact")
    v, c = _posterior_normal(prior_sd, 1 / np.sqrt(n))
    delta = t1 - t2
    half = stats.norm.ppf(0.975) * np.sqrt(2 * v)
    sd = c * np.sqrt(2 / n)  # posterior mean of the difference: c (ybar_1 - ybar_2)
    truth = stats.norm.cdf((delta + half - c * delta) / sd) - stats.norm.cdf(
        (delta - half - c * delta) / sd
    )
    np.testing.assert_allclose(exact.metric("coverage")["value"], truth, rtol=0, atol=1e-6)


@pytest.mark.parametrize("key", list(DESIGNS))
def test_fixed_sample_size_metrics(runs, key):
    design = DESIGNS[key]
    _, exact, mc = runs[key]
    n_total = design.n if not two_arm(design) else design.n_1 + design.n_2
    for res in (exact, mc):
        for name in ("n_mean", "n_q10", "n_median", "n_q90"):
            m = res.metric(name)
            assert (m["mcse"] == 0).all()
            if name == "n_mean" and res is exact:  # probability-weighted mean
                np.testing.assert_allclose(m["value"], n_total, rtol=1e-13)
            else:
                assert (m["value"] == n_total).all()


def test_bias_and_estimate_mean_are_consistent(runs):
    for grid, exact, mc in runs.values():
        truth = np.array([exact.design._truth(s) for s in grid])
        for res in (exact, mc):
            est = res.metric("estimate_mean")["value"].to_numpy()
            bias = res.metric("bias")["value"].to_numpy()
            np.testing.assert_allclose(bias, est - truth, rtol=0, atol=1e-12)
            rmse = res.metric("rmse")["value"].to_numpy()
            assert np.all(rmse >= np.abs(bias) - 1e-12)


def test_mc_metrics_recomputed_from_outcomes(runs):
    _, _, mc = runs["binomial-1a"]
    out = mc.outcomes
    for s in mc.scenarios:
        df = out[out["scenario"] == s.label]
        err = df["estimate"].to_numpy() - s["theta"]
        m = mc.metrics[mc.metrics["scenario"] == s.label].set_index("metric")
        assert m.loc["p_success", "value"] == pytest.approx(df["success"].mean(), abs=1e-15)
        assert m.loc["bias", "value"] == pytest.approx(err.mean(), abs=1e-15)
        assert m.loc["bias", "mcse"] == pytest.approx(err.std(ddof=1) / np.sqrt(N_TRIALS))
        assert m.loc["rmse", "value"] == pytest.approx(np.sqrt(np.mean(err**2)))
        cov = (df["lower"] <= s["theta"]) & (s["theta"] <= df["upper"])
        assert m.loc["coverage", "value"] == pytest.approx(cov.mean(), abs=1e-15)
        assert (m["n_trials"] == N_TRIALS).all()


# -- compute_metrics unit tests ---------------------------------------------------------------
def as_dict(rows: list[tuple[str, float, float]]) -> dict[str, tuple[float, float]]:
    names = [r[0] for r in rows]
    assert len(names) == len(set(names)), names
    return {r[0]: (r[1], r[2]) for r in rows}


TOY = {
    "success": np.array([True, False, True, True]),
    "n_enrolled": np.array([10.0, 20.0, 30.0, 40.0]),
    "estimate": np.array([0.1, 0.3, 0.2, 0.6]),
    "lower": np.array([0.0, 0.25, 0.0, 0.5]),
    "upper": np.array([0.2, 0.5, 0.3, 0.7]),
}


def test_compute_metrics_unweighted_toy():
    m = as_dict(compute_metrics(TOY, truth=0.2, null=False))
    assert m["p_success"] == pytest.approx((0.75, np.sqrt(0.75 * 0.25 / 4)))
    assert m["power"] == m["p_success"] and "type_i_error" not in m
    err = TOY["estimate"] - 0.2
    assert m["bias"] == pytest.approx((err.mean(), err.std(ddof=1) / 2))
    assert m["estimate_mean"][0] == pytest.approx(0.3)
    rmse = np.sqrt(np.mean(err**2))
    assert m["rmse"][0] == pytest.approx(rmse)
    assert m["rmse"][1] == pytest.approx((err**2).std(ddof=1) / 2 / (2 * rmse))
    assert m["coverage"] == pytest.approx((0.5, 0.25))  # trials 1 and 3 cover 0.2
    assert m["n_mean"] == pytest.approx((25.0, np.std([10, 20, 30, 40], ddof=1) / 2))
    assert m["n_median"][0] == 20.0  # inverted-CDF quantile
    assert m["n_q10"][0] == 10.0 and m["n_q90"][0] == 40.0
    assert "enumerated_mass" not in m


def test_compute_metrics_weighted_toy():
    w = np.array([0.1, 0.2, 0.3, 0.4])
    m = as_dict(compute_metrics(TOY, w, truth=0.2, null=True))
    assert m["p_success"] == (pytest.approx(0.8), 0.0)
    assert m["type_i_error"] == m["p_success"] and "power" not in m
    assert m["estimate_mean"] == (pytest.approx(0.01 + 0.06 + 0.06 + 0.24), 0.0)
    err = TOY["estimate"] - 0.2
    assert m["bias"] == (pytest.approx(np.dot(w, err)), 0.0)
    assert m["rmse"] == (pytest.approx(np.sqrt(np.dot(w, err**2))), 0.0)
    assert m["coverage"] == (pytest.approx(0.4), 0.0)
    assert m["n_mean"] == (pytest.approx(30.0), 0.0)
    # weighted CDF of n: 0.1, 0.3, 0.6, 1.0
    assert m["n_q10"] == (10.0, 0.0) and m["n_median"] == (30.0, 0.0)
    assert m["n_q90"] == (40.0, 0.0)
    assert m["enumerated_mass"] == (pytest.approx(1.0), 0.0)
    assert all(se == 0 for _, se in m.values())


def test_weights_are_normalised_and_match_repetition():
    w = np.array([1.0, 2.0, 3.0, 4.0])  # counts, not probabilities
    weighted = as_dict(compute_metrics(TOY, w, truth=0.2))
    repeated = {k: np.repeat(v, w.astype(int)) for k, v in TOY.items()}
    plain = as_dict(compute_metrics(repeated, truth=0.2))
    for name, (value, _) in plain.items():
        assert weighted[name][0] == pytest.approx(value, abs=1e-12), name
    assert weighted["enumerated_mass"][0] == 10.0


def test_equal_weights_equal_unweighted_values():
    rng = np.random.default_rng(3)
    out = {
        "success": rng.random(501) < 0.3,
        "n_enrolled": rng.integers(5, 40, 501).astype(float),
        "estimate": rng.normal(0.5, 0.1, 501),
        "lower": rng.normal(0.3, 0.1, 501),
        "upper": rng.normal(0.7, 0.1, 501),
    }
    a = as_dict(compute_metrics(out, truth=0.5))
    b = as_dict(compute_metrics(out, np.full(501, 1 / 501), truth=0.5))
    for name in a:
        assert b[name][0] == pytest.approx(a[name][0], rel=1e-12, abs=1e-12), name
        assert b[name][1] == 0.0


def test_no_truth_no_null():
    m = as_dict(compute_metrics({"success": TOY["success"], "estimate": TOY["estimate"]}))
    assert set(m) == {"p_success", "estimate_mean"}


def test_degenerate_proportion_and_rmse():
    m = as_dict(
        compute_metrics({"success": np.zeros(50, bool), "estimate": np.full(50, 0.4)}, truth=0.4)
    )
    assert m["p_success"] == (0.0, 0.0)
    assert m["rmse"] == (0.0, 0.0) and m["bias"] == (0.0, 0.0)


def test_quantile_mcse_matches_sampling_sd():
    """Order-statistic MCSE of the 10%, 50% and 90% quantiles against the asymptotic SD
    sqrt(q(1-q)/n)/f(x_q) and against the spread over replicates."""
    rng = np.random.default_rng(11)
    n, reps = 2000, 150
    names = {0.1: "n_q10", 0.5: "n_median", 0.9: "n_q90"}
    values = {q: [] for q in names}
    ses = {q: [] for q in names}
    for _ in range(reps):
        x = rng.normal(30.0, 4.0, n)
        m = as_dict(compute_metrics({"success": x > 30, "n_enrolled": x}))
        for q, name in names.items():
            values[q].append(m[name][0])
            ses[q].append(m[name][1])
    for q in names:
        xq = stats.norm.ppf(q, 30, 4)
        asymptotic = np.sqrt(q * (1 - q) / n) / stats.norm.pdf(xq, 30, 4)
        se = np.asarray(ses[q])
        assert np.all(se > 0)
        assert np.median(se) == pytest.approx(asymptotic, rel=0.15), q
        # 150 replicates: the SD of the estimates is known to about ±12%
        assert np.std(values[q], ddof=1) == pytest.approx(asymptotic, rel=0.3), q
        assert abs(np.mean(values[q]) - xq) < 4 * asymptotic / np.sqrt(reps)


def test_quantile_mcse_small_and_constant_samples():
    m = as_dict(compute_metrics({"success": np.ones(1, bool), "n_enrolled": np.array([7.0])}))
    assert m["n_median"] == (7.0, 0.0) and m["n_mean"] == (7.0, 0.0)
    m = as_dict(compute_metrics({"success": np.ones(9, bool), "n_enrolled": np.full(9, 12.0)}))
    assert m["n_q10"] == (12.0, 0.0) and m["n_q90"] == (12.0, 0.0)
    m = as_dict(compute_metrics({"success": np.ones(3, bool), "n_enrolled": np.array([3.0, 1, 2])}))
    assert m["n_median"][0] == 2.0 and m["n_median"][1] >= 0


def test_stopped_at_rows():
    out = {"success": np.ones(8, bool), "stopped_at": np.array([0, 1, 1, 2, 0, 0, 3, 1])}
    m = as_dict(compute_metrics(out, n_looks=2))
    assert m["p_early_stop"][0] == pytest.approx(5 / 8)
    assert m["p_stop_look_1"][0] == pytest.approx(3 / 8)
    assert m["p_stop_look_2"][0] == pytest.approx(1 / 8)
    assert m["p_stop_look_3"][0] == pytest.approx(1 / 8)  # beyond n_looks: still reported
    m = as_dict(
        compute_metrics({"success": np.ones(4, bool), "stopped_at": np.zeros(4)}, n_looks=3)
    )
    assert m["p_early_stop"] == (0.0, 0.0)
    assert [k for k in m if k.startswith("p_stop_look")] == [f"p_stop_look_{k}" for k in (1, 2, 3)]


# -- a toy two-look sequential design ---------------------------------------------------------
@dataclass(frozen=True)
class ToySequential:
    """Single-arm binomial trial in three stages of ``stage`` patients. At the interim
    looks 1 and 2 it stops for efficacy when the responders reach ``efficacy[k]`` and for
    futility at ``futility[k]`` or fewer; otherwise success at the end needs ``final``.
    Estimate: the response rate; interval: Jeffreys 95%."""

    stage: int = 10
    efficacy: tuple[int, int] = (8, 14)
    futility: tuple[int, int] = (1, 5)
    final: int = 13

    _parameters: ClassVar[tuple[str, ...]] = ("theta",)
    _n_looks: ClassVar[int] = 2

    def _truth(self, params: Mapping[str, float]) -> float:
        return float(params["theta"])

    def _outcomes(self, y: np.ndarray) -> dict[str, np.ndarray]:
        """Outcomes from per-stage responders ``y`` of shape (3, size)."""
        cum = np.cumsum(y, axis=0)
        size = y.shape[1]
        stopped = np.zeros(size, dtype=np.int64)
        success = np.zeros(size, dtype=bool)
        for k in (0, 1):
            active = stopped == 0
            eff = active & (cum[k] >= self.efficacy[k])
            fut = active & (cum[k] <= self.futility[k])
            success |= eff
            stopped[eff | fut] = k + 1
        end = stopped == 0
        success |= end & (cum[2] >= self.final)
        look = np.where(end, 3, stopped)
        n = self.stage * look
        r = cum[look - 1, np.arange(size)]
        return {
            "success": success,
            "n_enrolled": n,
            "stopped_at": stopped,
            "estimate": r / n,
            "lower": stats.beta.ppf(0.025, r + 0.5, n - r + 0.5),
            "upper": stats.beta.ppf(0.975, r + 0.5, n - r + 0.5),
        }

    def _simulate(self, params: Mapping[str, float], size: int, rng: np.random.Generator) -> dict:
        return self._outcomes(rng.binomial(self.stage, params["theta"], (3, size)))

    def _exact(self, params: Mapping[str, float]) -> tuple[dict, np.ndarray]:
        a = np.arange(self.stage + 1)
        p = stats.binom.pmf(a, self.stage, params["theta"])
        g = np.stack([x.ravel() for x in np.meshgrid(a, a, a, indexing="ij")])
        w = p[g[0]] * p[g[1]] * p[g[2]]
        return self._outcomes(g), w


TOY_DESIGN = ToySequential()
TOY_GRID = ScenarioGrid.cartesian(theta=np.round(np.linspace(0.12, 0.78, 12), 3))


@pytest.fixture(scope="module")
def toy_runs():
    exact = operating_characteristics(TOY_DESIGN, TOY_GRID, method="exact")
    mc = operating_characteristics(TOY_DESIGN, TOY_GRID, n_trials=3000, rng=77, progress=False)
    return exact, mc


SEQUENTIAL_ROWS = [
    "p_success",
    "n_mean",
    "n_q10",
    "n_median",
    "n_q90",
    "p_early_stop",
    "p_stop_look_1",
    "p_stop_look_2",
    "estimate_mean",
    "bias",
    "rmse",
    "coverage",
]


def test_sequential_metric_rows(toy_runs):
    exact, mc = toy_runs
    for res in (exact, mc):
        for s in TOY_GRID:
            names = list(res.metrics.loc[res.metrics["scenario"] == s.label, "metric"])
            assert names[: len(SEQUENTIAL_ROWS)] == SEQUENTIAL_ROWS
            assert "type_i_error" not in names and "power" not in names  # no _is_null
    wide = exact.summary(wide=True)
    np.testing.assert_allclose(
        wide["p_stop_look_1"] + wide["p_stop_look_2"], wide["p_early_stop"], atol=1e-14
    )
    p0 = 1 - wide["p_early_stop"]
    n_mean = 10 * wide["p_stop_look_1"] + 20 * wide["p_stop_look_2"] + 30 * p0
    np.testing.assert_allclose(wide["n_mean"], n_mean, atol=1e-12)
    np.testing.assert_allclose(exact.metric("enumerated_mass")["value"], 1.0, atol=1e-13)
    assert set(np.unique(mc.outcomes["n_enrolled"])) <= {10, 20, 30}
    for name in ("n_q10", "n_median", "n_q90"):
        assert set(exact.metric(name)["value"]) <= {10.0, 20.0, 30.0}


def test_sequential_null_flags_from_grid(toy_runs):
    grid = TOY_GRID.with_null(lambda s: s["theta"] <= 0.3)
    res = operating_characteristics(TOY_DESIGN, grid, method="exact")
    exact, _ = toy_runs
    null = res.metric("type_i_error")
    assert list(null["theta"]) == [t for t in TOY_GRID.table["theta"] if t <= 0.3]
    assert (res.metric("power")["theta"] > 0.3).all()
    merged = null.merge(exact.metric("p_success"), on="theta")
    np.testing.assert_array_equal(merged["value_x"], merged["value_y"])


def test_sequential_exact_against_simulation(toy_runs):
    exact, mc = toy_runs
    table = paired(exact, mc)
    table = table[table["metric"] != "enumerated_mass"]
    quantiles = table["metric"].isin(["n_q10", "n_median", "n_q90"])
    zero = table["mcse_mc"] == 0
    # zero MCSE (e.g. no failures at all in 3000 trials): the exact value is within the
    # rule-of-three bound of the simulated one
    degenerate = table[zero & ~quantiles]
    assert (np.abs(degenerate["value_mc"] - degenerate["value_exact"]) < 3 / 3000).all()
    ok = table[~zero & ~quantiles]
    z = (ok["value_mc"] - ok["value_exact"]) / ok["mcse_mc"]
    assert (np.abs(z) < 4.5).all(), ok[np.abs(z) >= 4.5]
    assert 0.85 <= np.mean(np.abs(z) <= 2) <= 1.0
    # quantiles of a 3-valued n: the simulated one equals the exact one unless the exact
    # CDF is within a few MCSE of the quantile level
    q = table[quantiles]
    agree = (q["value_mc"] == q["value_exact"]).mean()
    assert agree >= 0.9
