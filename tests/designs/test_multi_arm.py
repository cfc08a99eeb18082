"""MultiArmDesign, allocation rules and threshold calibration.

Reference values (``tests/reference/designs_multi_arm.json``) are computed independently
with scipy by ``tests/reference/scripts/multi_arm_reference.py``. Exact special cases
(one look, no adaptation; two looks with balanced allocation; normal endpoints) are
enumerated here and compared with the Monte Carlo engine within 4 binomial SDs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, stats

from rdstats.designs._calibrate import calibrate_threshold
from rdstats.designs._multi_arm import MultiArmDesign
from rdstats.designs._multi_arm_posterior import BetaTables
from rdstats.designs._multi_arm_run import rounded_counts, run_trials
from rdstats.designs._rar import FixedAllocation, ThompsonAllocation
from rdstats.priors import BetaMixture, NormalMixture
from rdstats.simulate import operating_characteristics

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "designs_multi_arm.json"
CASES: list[dict[str, Any]] = json.loads(REFERENCE.read_text())["cases"]
FLAT = BetaMixture(1, 1, 1)


def beta(spec: dict[str, Any]) -> BetaMixture:
    return BetaMixture(spec["weights"], spec["a"], spec["b"])


def cases(kind: str) -> list[Any]:
    return [pytest.param(c, id=c["name"]) for c in CASES if c["kind"] == kind]


def success_mc(design: MultiArmDesign, params: dict[str, float], n: int, seed: int) -> float:
    res = operating_characteristics(
        design, {k: [v] for k, v in params.items()}, n_trials=n, rng=seed, progress=False
    )
    return float(res.metric("p_success")["value"].iloc[0])


def within_mc(estimate: float, exact: float, n: int, z: float = 4.0) -> bool:
    sd = np.sqrt(max(exact * (1 - exact), 1.0 / n) / n)
    return abs(estimate - exact) <= z * sd


# -- posterior probabilities against independent quadrature ---------------------------------
@pytest.mark.parametrize("case", cases("prob_greater"))
def test_prob_greater_reference(case: dict[str, Any]) -> None:
    i = case["inputs"]
    tb = BetaTables([beta(i["prior_control"]), beta(i["prior"])], 200, [i["delta"]], 64)
    rk = tb.rows(1, np.array([i["n_k"]]), np.array([i["r_k"]]))
    rc = tb.rows(0, np.array([i["n_c"]]), np.array([i["r_c"]]))
    got = tb.prob_greater(rk, rc, i["delta"])[0]
    assert got == pytest.approx(case["expected"], abs=case["tolerance"])


@pytest.mark.parametrize("case", cases("prob_best"))
def test_prob_best_reference(case: dict[str, Any]) -> None:
    i = case["inputs"]
    tb = BetaTables([beta(i["prior"]), beta(i["prior"])], 60, [0.0], 64)
    rows = tb.rows(1, np.array(i["n"]), np.array(i["r"]))[None, :]
    got = tb.prob_best(rows, np.ones((1, 3), dtype=bool))[0]
    np.testing.assert_allclose(got, case["expected"], atol=case["tolerance"])


# -- exact enumeration: one look, no adaptation ----------------------------------------------
def one_look_design(i: dict[str, Any]) -> MultiArmDesign:
    return MultiArmDesign(
        1,
        i["n_max"],
        beta(i["prior"]),
        beta(i["prior_control"]),
        efficacy=i["efficacy"],
        delta=i["delta"],
        randomization=i["randomization"],
    )


def exact_two_arm(design: MultiArmDesign, p_c: float, p_t: float) -> float:
    """Sum of binomial pmfs over the decision region, the posterior probability computed
    by scipy quad (independent of the design's quadrature)."""
    n = design.n_max
    splits = (
        [(n - n // 2, 1.0)]
        if design.randomization == "rounded"
        else [(m, stats.binom.pmf(m, n, 0.5)) for m in range(n + 1)]
    )
    total = 0.0
    for n_c, w in splits:
        n_t = n - n_c
        for rc in range(n_c + 1):
            post_c = design.prior_control.posterior(r=rc, n=n_c)
            for rt in range(n_t + 1):
                post_t = design.prior.posterior(r=rt, n=n_t)
                p = integrate.quad(
                    lambda x, pc=post_c, pt=post_t: pc.pdf(x) * pt.sf(x + design.delta),
                    0,
                    1,
                    limit=200,
                    points=[post_c.mean()],
                    epsabs=1e-12,
                )[0]
                if p > design.efficacy:
                    total += w * stats.binom.pmf(rc, n_c, p_c) * stats.binom.pmf(rt, n_t, p_t)
    return total


@pytest.mark.parametrize(
    "case", [c for c in cases("exact_oc") if c.values[0]["inputs"]["randomization"] == "rounded"]
)
def test_one_look_exact_enumeration(case: dict[str, Any]) -> None:
    i = case["inputs"]
    design = one_look_design(i)
    exact = exact_two_arm(design, i["p_control"], i["p_1"])
    assert exact == pytest.approx(case["expected"], abs=case["tolerance"])
    est = success_mc(design, {"p_control": i["p_control"], "p_1": i["p_1"]}, 20_000, 11)
    assert within_mc(est, exact, 20_000)


@pytest.mark.parametrize(
    "case", [c for c in cases("exact_oc") if c.values[0]["inputs"]["randomization"] == "random"]
)
def test_one_look_random_allocation_reference(case: dict[str, Any]) -> None:
    i = case["inputs"]
    est = success_mc(one_look_design(i), {"p_control": i["p_control"], "p_1": i["p_1"]}, 20_000, 12)
    assert within_mc(est, case["expected"], 20_000)


def test_one_look_decisions_match_quadrature_everywhere() -> None:
    """Every outcome's decision equals the quad-based decision (not only on average)."""
    design = MultiArmDesign(
        1,
        30,
        FLAT,
        BetaMixture([0.7, 0.3], [3, 1], [9, 1]),
        efficacy=0.9,
        delta=0.05,
        randomization="rounded",
    )
    eng = design._posterior_engine()
    rc, rt = np.meshgrid(np.arange(16), np.arange(16), indexing="ij")
    p = eng.prob_greater(
        eng.rows(1, np.full(rt.size, 15), rt.ravel()),
        eng.rows(0, np.full(rc.size, 15), rc.ravel()),
        0.05,
    )
    for k in range(0, rc.size, 7):
        post_c = design.prior_control.posterior(r=int(rc.ravel()[k]), n=15)
        post_t = design.prior.posterior(r=int(rt.ravel()[k]), n=15)
        ref = integrate.quad(
            lambda x, a=post_c, b=post_t: a.pdf(x) * b.sf(x + 0.05),
            0,
            1,
            limit=400,
            points=[post_c.mean(), post_t.mean() - 0.05],
            epsabs=1e-13,
            epsrel=1e-12,
        )[0]
        assert p[k] == pytest.approx(ref, abs=1e-9)


def test_two_looks_exact_enumeration() -> None:
    """Balanced allocation, interim at 10 (5 + 5) with efficacy and inferiority stops."""
    design = MultiArmDesign(
        1, 20, FLAT, looks=[10], efficacy=0.95, inferiority=0.2, randomization="rounded"
    )
    p_c, p_t = 0.3, 0.6

    def prob(rt: int, nt: int, rc: int, nc: int) -> float:
        a = FLAT.posterior(r=rc, n=nc)
        b = FLAT.posterior(r=rt, n=nt)
        return integrate.quad(lambda x: a.pdf(x) * b.sf(x), 0, 1, epsabs=1e-12)[0]

    pmf5c, pmf5t = stats.binom.pmf(np.arange(6), 5, p_c), stats.binom.pmf(np.arange(6), 5, p_t)
    final = {(rt, rc): prob(rt, 10, rc, 10) for rt in range(11) for rc in range(11)}
    exact, stop1 = 0.0, 0.0
    for rc1 in range(6):
        for rt1 in range(6):
            w1 = pmf5c[rc1] * pmf5t[rt1]
            p1 = prob(rt1, 5, rc1, 5)
            if p1 > 0.95:
                exact += w1
                stop1 += w1
                continue
            if p1 < 0.2:
                stop1 += w1
                continue
            for rc2 in range(6):
                for rt2 in range(6):
                    if final[(rt1 + rt2, rc1 + rc2)] > 0.95:
                        exact += w1 * pmf5c[rc2] * pmf5t[rt2]
    res = operating_characteristics(
        design, {"p_control": [p_c], "p_1": [p_t]}, n_trials=20_000, rng=3, progress=False
    )
    wide = res.summary(wide=True).iloc[0]
    assert within_mc(wide["p_success"], exact, 20_000)
    assert within_mc(wide["p_stop_look_1"], stop1, 20_000)


def test_normal_one_look_exact() -> None:
    sigma, n_arm, delta = 2.0, 15, 0.2
    prior = NormalMixture(1, 0.0, 5.0, sigma=sigma)
    design = MultiArmDesign(1, 2 * n_arm, prior, efficacy=0.9, delta=delta, randomization="rounded")
    v = 1 / (1 / 25 + n_arm / sigma**2)
    shrink = v * n_arm / sigma**2  # posterior mean = shrink * ybar for both arms

    def p_post(d: float) -> float:
        return float(stats.norm.sf((delta - shrink * d) / np.sqrt(2 * v)))

    d_star = optimize.brentq(lambda d: p_post(d) - 0.9, -10, 10, xtol=1e-13)
    mu_c, mu_t = 0.0, 1.0
    exact = stats.norm.sf(d_star, mu_t - mu_c, sigma * np.sqrt(2 / n_arm))
    est = success_mc(design, {"mu_control": mu_c, "mu_1": mu_t}, 20_000, 5)
    assert within_mc(est, float(exact), 20_000)


# -- allocation rules --------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
    lo=st.floats(0.0, 1.0),
    hi=st.floats(0.0, 1.0),
    power=st.one_of(st.none(), st.floats(0.0, 3.0)),
    control=st.one_of(st.just("matched"), st.floats(0.05, 0.9)),
)
def test_thompson_caps_and_sums(
    k: int, seed: int, lo: float, hi: float, power: Any, control: Any
) -> None:
    lo, hi = lo / k, 1 / k + hi * (1 - 1 / k)  # a consistent box for k arms
    rule = ThompsonAllocation(power=power, min_allocation=lo, max_allocation=hi, control=control)
    rng = np.random.default_rng(seed)
    active = rng.random((50, k)) < 0.8
    pb = rng.dirichlet(np.ones(k), 50) * active
    prob = rule.probabilities(active, pb, n=30, n_max=60)
    any_active = active.any(axis=1)
    np.testing.assert_allclose(prob.sum(axis=1), any_active.astype(float), atol=1e-12)
    assert np.all(prob[:, 1:][~active] == 0)
    shares = prob[:, 1:] / np.maximum(prob[:, 1:].sum(axis=1, keepdims=True), 1e-300)
    full = active.sum(axis=1) == k  # all arms active: the caps are feasible
    assert np.all(shares[full] >= lo - 1e-9) and np.all(shares[full] <= hi + 1e-9)
    if control == "matched":
        np.testing.assert_allclose(prob[any_active, 0], prob[any_active, 1:].max(axis=1))
    else:
        np.testing.assert_allclose(prob[any_active, 0], control)


@settings(max_examples=40, deadline=None)
@given(k=st.integers(2, 5), seed=st.integers(0, 2**32 - 1))
def test_thompson_monotone_in_p_best(k: int, seed: int) -> None:
    rule = ThompsonAllocation(power=0.7)
    pb = np.random.default_rng(seed).dirichlet(np.ones(k), 30)
    prob = rule.probabilities(np.ones((30, k), dtype=bool), pb)
    order = np.argsort(pb, axis=1)
    assert np.all(np.diff(np.take_along_axis(prob[:, 1:], order, axis=1), axis=1) >= -1e-12)


@settings(max_examples=40, deadline=None)
@given(m=st.integers(0, 200), seed=st.integers(0, 2**32 - 1), k=st.integers(2, 6))
def test_rounded_counts_sum_and_balance(m: int, seed: int, k: int) -> None:
    p = np.random.default_rng(seed).dirichlet(np.ones(k), 20)
    c = rounded_counts(np.full(20, m), p)
    assert np.all(c.sum(axis=1) == m)
    assert np.all(np.abs(c - m * p) < 1 + 1e-9)


def test_fixed_allocation_redistributes_dropped_arms() -> None:
    prob = FixedAllocation((2, 1, 1)).probabilities(np.array([[True, False], [False, False]]))
    np.testing.assert_allclose(prob, [[2 / 3, 1 / 3, 0], [0, 0, 0]])


def test_thompson_allocates_more_to_the_better_arm() -> None:
    design = MultiArmDesign(
        2,
        90,
        FLAT,
        looks=[30, 60],
        allocation=ThompsonAllocation(power=1.0, min_allocation=0.1),
        efficacy=0.999,
    )
    out = run_trials(design, np.array([0.2, 0.5, 0.2]), 2000, np.random.default_rng(4))
    assert out["alloc_1"].mean() > out["alloc_2"].mean() + 0.1
    shares = out["n_1"] / (out["n_1"] + out["n_2"])
    assert shares.mean() > 0.6
    fixed = MultiArmDesign(2, 90, FLAT, looks=[30, 60], efficacy=0.999, randomization="rounded")
    out = run_trials(fixed, np.array([0.2, 0.5, 0.2]), 200, np.random.default_rng(4))
    assert np.all(out["n_1"] == out["n_2"])


def test_thompson_respects_caps_in_simulation() -> None:
    design = MultiArmDesign(
        2,
        100,
        FLAT,
        looks=[20],
        allocation=ThompsonAllocation(power=2, min_allocation=0.25, max_allocation=0.75),
        efficacy=0.9999,
        randomization="rounded",
    )
    out = run_trials(design, np.array([0.3, 0.6, 0.2]), 500, np.random.default_rng(0))
    # stage 1: 7/7/6 patients; stage 2: 80 patients with shares of the experimental
    # allocation capped to [0.25, 0.75] and the control matched to the largest share
    ran = out["stopped_at"] == 0
    assert ran.mean() > 0.5
    assert np.all(out["n_2"][ran] >= 6 + np.floor(80 * 0.25 / 1.75))
    assert np.all(out["n_1"][ran] <= 7 + np.ceil(80 * 0.75 / 1.75))


# -- conclusions, metrics and reproducibility ----------------------------------------------
def test_conclusions_partition_and_metrics() -> None:
    design = MultiArmDesign(
        3,
        120,
        FLAT,
        looks=[40, 80],
        allocation=ThompsonAllocation(),
        efficacy=0.98,
        inferiority=0.1,
        futility=0.2,
        delta_futility=0.1,
        equivalence=0.8,
        equivalence_margin=0.15,
        stop_on_success=False,
    )
    res = design.simulate(
        {"p_control": [0.3], "p_1": [0.3], "p_2": [0.55], "p_3": [0.1]},
        n_trials=3000,
        rng=2,
        progress=False,
    )
    arms = design.arm_summary(res)
    act = arms[arms["arm"] != "control"]
    total = act[["p_effective", "p_dropped", "p_equivalent", "p_inconclusive"]].sum(axis=1)
    np.testing.assert_allclose(total.astype(float), 1.0)
    np.testing.assert_allclose(act["p_selected"].astype(float).sum(), 1.0)
    np.testing.assert_allclose(arms["allocation"].astype(float).sum(), 1.0)
    by = act.set_index("arm")
    assert by.loc["2", "p_effective"] > 0.5 and by.loc["3", "p_dropped"] > 0.8
    sel = design.selection_summary(res).iloc[0]
    assert sel["p_best_selected"] > 0.7 and 0 < sel["rmse_selected"] < 0.3
    assert set(design.summary().columns) >= {"look", "n", "efficacy"}
    assert json.dumps(design.to_dict()) and "MultiArmDesign" in design._repr_html_()


def test_reproducible_with_seed_and_batches() -> None:
    design = MultiArmDesign(
        2, 60, FLAT, looks=[20, 40], allocation=ThompsonAllocation(), efficacy=0.97, inferiority=0.1
    )
    grid = {"p_control": [0.2], "p_1": [0.4], "p_2": [0.3]}
    a = operating_characteristics(design, grid, n_trials=1000, rng=9, progress=False)
    b = operating_characteristics(design, grid, n_trials=1000, rng=9, progress=False)
    c = operating_characteristics(design, grid, n_trials=1000, rng=10, progress=False)
    pd_a, pd_b = a.outcomes, b.outcomes
    assert pd_a is not None and pd_b is not None and c.outcomes is not None
    assert pd_a.equals(pd_b)
    assert not pd_a["n_1"].equals(c.outcomes["n_1"])


# -- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"efficacy": 1.0}, ValueError, "efficacy must be in \\(0, 1\\), got 1.0"),
        ({"efficacy": 0}, ValueError, "efficacy must be in"),
        ({"efficacy": [0.9, 0.95, 0.99]}, ValueError, "efficacy has 3 thresholds"),
        ({"inferiority": -0.1}, ValueError, "inferiority must be in"),
        ({"futility": 1.5}, ValueError, "futility must be in"),
        ({"equivalence": 0.9}, ValueError, "equivalence_margin must be positive"),
        ({"looks": [30, 90]}, ValueError, "exceed n_max=60"),
        ({"looks": [40, 30]}, ValueError, "strictly increasing"),
        ({"looks": [-10]}, ValueError, "looks must be a positive integer, got -10"),
        ({"looks": [2]}, ValueError, "one patient per arm"),
        ({"n_max": -5}, ValueError, "n_max must be a positive integer, got -5"),
        ({"n_arms": 0}, ValueError, "n_arms must be a positive integer"),
        ({"n_max": 60.5}, TypeError, "n_max must be an integer"),
        ({"delta": 1.5}, ValueError, "delta must be in \\(-1, 1\\)"),
        ({"randomization": "urn"}, ValueError, "randomization must be one of"),
        ({"allocation": "thompson"}, TypeError, "allocation must be"),
        ({"allocation": FixedAllocation((1, 1))}, ValueError, "ratio has 2 entries"),
        (
            {"allocation": ThompsonAllocation(min_allocation=0.6)},
            ValueError,
            "caps are inconsistent",
        ),
        (
            {"allocation": ThompsonAllocation(max_allocation=0.4)},
            ValueError,
            "caps are inconsistent",
        ),
        ({"prior": NormalMixture(1, 0, 1)}, ValueError, "without sigma"),
        ({"prior_control": NormalMixture(1, 0, 1, sigma=1)}, TypeError, "prior_control"),
    ],
)
def test_bad_design_input(kwargs: dict[str, Any], error: type, match: str) -> None:
    args: dict[str, Any] = {"n_arms": 2, "n_max": 60, "prior": FLAT, "looks": [30]}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        MultiArmDesign(**args)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_allocation": 0.5, "max_allocation": 0.4}, "min_allocation=0.5 exceeds"),
        ({"min_allocation": -0.1}, "min_allocation must be in"),
        ({"max_allocation": 0.0}, "max_allocation must be in"),
        ({"power": -1.0}, "power must be in"),
        ({"control": "best"}, "control must be 'matched'"),
        ({"control": 1.0}, "control must be a share in \\(0, 1\\)"),
    ],
)
def test_bad_thompson_input(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ThompsonAllocation(**kwargs)


def test_bad_fixed_ratio_and_scenario() -> None:
    with pytest.raises(ValueError, match="positive numbers"):
        FixedAllocation((1, -1))
    design = MultiArmDesign(1, 20, FLAT)
    with pytest.raises(ValueError, match="p_1 must be a response rate in \\[0, 1\\]"):
        design.simulate({"p_control": [0.2], "p_1": [1.2]}, n_trials=10, rng=1, progress=False)
    with pytest.raises(ValueError, match="needs"):
        design.simulate({"theta": [0.2]}, n_trials=10, rng=1, progress=False)


# -- calibration ------------------------------------------------------------------------------
NULLS = {"p_control": [0.2, 0.4], "p_1": [0.2, 0.4], "p_2": [0.2, 0.4]}


@pytest.mark.parametrize("stop_on_success", [True, False])
def test_calibration_rethresholding_equals_resimulation(stop_on_success: bool) -> None:
    design = MultiArmDesign(
        2,
        60,
        FLAT,
        looks=[20, 40],
        allocation=ThompsonAllocation(min_allocation=0.1),
        inferiority=0.05,
        stop_on_success=stop_on_success,
    )
    cal = calibrate_threshold(design, NULLS, alpha=0.05, n_trials=3000, rng=7, progress=False)
    assert 0.5 < cal.threshold < 1 and cal.type_i_error <= 0.05
    assert cal.design.efficacy == cal.threshold
    res = cal.design.simulate(NULLS, n_trials=3000, rng=7, progress=False)
    assert res.outcomes is not None
    for label, m in zip(res.scenarios.labels, cal.max_probs, strict=True):
        part = res.outcomes[res.outcomes["scenario"] == label]
        # same seed, same patients: trial by trial, success iff the stored maximum > c
        np.testing.assert_array_equal(part["success"].to_numpy(), m > cal.threshold)
    # the next lower candidate threshold would exceed alpha in some scenario
    below = max(float(m[m < cal.threshold].max()) for m in cal.max_probs)
    assert cal.type_i_error_at(below)["type_i_error"].max() > 0.05 - 1e-12 or below < 0.5


def test_calibration_mcse_margin_and_result_surface() -> None:
    design = MultiArmDesign(2, 60, FLAT, looks=[30])
    grid = {"p_control": [0.3], "p_1": [0.3], "p_2": [0.3]}
    plain = calibrate_threshold(design, grid, alpha=0.1, n_trials=2000, rng=3, progress=False)
    safe = calibrate_threshold(
        design, grid, alpha=0.1, n_trials=2000, rng=3, progress=False, mcse_margin=2.0
    )
    assert safe.threshold >= plain.threshold
    assert safe.type_i_error + 2 * safe.mcse <= 0.1
    errs = [plain.type_i_error_at(c)["type_i_error"].iloc[0] for c in (0.8, 0.9, 0.95, 0.99)]
    assert errs == sorted(errs, reverse=True)
    assert {"threshold", "type_i_error", "mcse"} <= set(plain.summary().columns)
    assert json.dumps(plain.to_dict()) and "ThresholdCalibration" in plain._repr_html_()
    import matplotlib

    matplotlib.use("Agg")
    assert plain.plot() is not None


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"alpha": 0.0}, ValueError, "alpha must be in \\(0, 1\\), got 0.0"),
        ({"alpha": 1.2}, ValueError, "alpha must be in"),
        ({"mcse_margin": -1.0}, ValueError, "mcse_margin must be a non-negative"),
        (
            {"scenarios": {"p_control": [0.2], "p_1": [0.4], "p_2": [0.2]}},
            ValueError,
            "is not null",
        ),
        ({"design": "design"}, TypeError, "design must be a MultiArmDesign"),
    ],
)
def test_calibration_bad_input(kwargs: dict[str, Any], error: type, match: str) -> None:
    args: dict[str, Any] = {
        "design": MultiArmDesign(2, 30, FLAT),
        "scenarios": {"p_control": [0.2], "p_1": [0.2], "p_2": [0.2]},
        "alpha": 0.05,
        "n_trials": 100,
        "rng": 1,
        "progress": False,
    }
    args.update(kwargs)
    with pytest.raises(error, match=match):
        calibrate_threshold(**args)


@settings(max_examples=25, deadline=None)
@given(
    k=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
    thompson=st.booleans(),
    rounded=st.booleans(),
    theta=st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4),
)
def test_trial_invariants(
    k: int, seed: int, thompson: bool, rounded: bool, theta: list[float]
) -> None:
    alloc = ThompsonAllocation(min_allocation=0.05) if thompson else FixedAllocation()
    design = MultiArmDesign(
        k,
        40,
        FLAT,
        looks=[12, 24],
        allocation=alloc,
        efficacy=0.95,
        inferiority=0.1,
        futility=0.2,
        delta_futility=0.1,
        randomization="rounded" if rounded else "random",
    )
    out = run_trials(design, np.array(theta[: k + 1]), 50, np.random.default_rng(seed))
    arms = np.column_stack([out["n_control"], *(out[f"n_{j}"] for j in range(1, k + 1))])
    np.testing.assert_array_equal(arms.sum(axis=1), out["n_enrolled"])
    looks = np.array(design.looks)
    assert np.all(
        out["n_enrolled"] == looks[np.where(out["stopped_at"] > 0, out["stopped_at"] - 1, 2)]
    )
    parts = sum(
        out[f"{c}_{j}"]
        for c in ("effective", "dropped", "equivalent", "inconclusive")
        for j in range(1, k + 1)
    )
    np.testing.assert_allclose(parts, k)
    sel = sum(out[f"selected_{j}"] for j in range(1, k + 1))
    np.testing.assert_allclose(sel, 1.0)
    alloc_sum = out["alloc_control"] + sum(out[f"alloc_{j}"] for j in range(1, k + 1))
    np.testing.assert_allclose(alloc_sum, 1.0)
    assert np.all(out["success"] == (sum(out[f"effective_{j}"] for j in range(1, k + 1)) > 0))
    assert np.all((out["max_prob_efficacy"] >= 0) & (out["max_prob_efficacy"] <= 1))


def test_process_pool_bit_identical_with_mixture_prior() -> None:
    """Designs (with their cached tables) travel to worker processes; results equal the
    serial run's. The zero-weight component must not warn."""
    prior = BetaMixture([0.5, 0.5, 0.0], [1, 2, 3], [1, 2, 3])
    design = MultiArmDesign(
        2, 60, prior, looks=[20, 40], allocation=ThompsonAllocation(), inferiority=0.05
    )
    grid = {"p_control": [0.2, 0.3], "p_1": [0.2, 0.5], "p_2": [0.2, 0.3]}
    kw: dict[str, Any] = {"n_trials": 2000, "rng": 4, "progress": False, "batch_size": 1000}
    serial = design.simulate(grid, **kw)
    pooled = design.simulate(grid, backend="processes", workers=2, **kw)
    assert serial.compare(pooled) == []


def test_normal_posterior_probabilities() -> None:
    """Closed-form comparisons (incl. equivalence) against quad and P(best) against
    direct draws from the mixture posteriors."""
    from rdstats.designs._multi_arm_posterior import NormalPosteriors

    prior_c = NormalMixture([0.6, 0.4], [0.0, 1.0], [0.5, 3.0], sigma=2.0)
    prior = NormalMixture(1, 0.0, 10.0, sigma=2.0)
    eng = NormalPosteriors([prior_c, prior], 2.0)
    pc = eng.components(0, np.array([10.0]), np.array([4.0]))
    pk = eng.components(1, np.array([12.0]), np.array([12.0]))
    post_c = prior_c.posterior(mean=0.4, n=10)
    post_k = prior.posterior(mean=1.0, n=12)
    for d in (-0.3, 0.0, 0.3):
        ref = integrate.quad(
            lambda x, d=d: post_c.pdf(x) * post_k.sf(x + d), -8, 8, limit=400, epsabs=1e-13
        )[0]
        assert eng.prob_greater(pk, pc, d)[0] == pytest.approx(ref, abs=1e-9)
    p2 = eng.components(1, np.array([8.0]), np.array([10.0]))
    p3 = eng.components(1, np.array([5.0]), np.array([2.0]))
    best = eng.prob_best([pk, p2, p3], np.ones((1, 3), dtype=bool))[0]
    rng = np.random.default_rng(0)
    draws = np.column_stack([rng.normal(p[1][0, 0], p[2][0, 0], 400_000) for p in (pk, p2, p3)])
    freq = np.bincount(draws.argmax(axis=1), minlength=3) / 400_000
    np.testing.assert_allclose(best, freq, atol=4e-3)
    np.testing.assert_allclose(best.sum(), 1.0)


def test_equivalence_rule_stops_identical_arms() -> None:
    design = MultiArmDesign(
        1,
        400,
        NormalMixture(1, 0.0, 10.0, sigma=1.0),
        looks=[200],
        efficacy=0.99,
        equivalence=0.9,
        equivalence_margin=0.5,
    )
    out = run_trials(design, np.array([0.0, 0.0]), 300, np.random.default_rng(2))
    # SD of the difference at the interim is ~0.14: P(|diff| < 0.5) > 0.9 almost always
    assert out["equivalent_1"].mean() > 0.95
    assert np.mean(out["stopped_at"][out["equivalent_1"] == 1] == 1) > 0.9


def test_table_cache_trimming_leaves_results_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    design = MultiArmDesign(
        2,
        60,
        FLAT,
        looks=[20, 40],
        allocation=ThompsonAllocation(),
        inferiority=0.05,
        futility=0.1,
        delta_futility=0.1,
    )
    theta = np.array([0.2, 0.4, 0.3])
    ref = run_trials(design, theta, 500, np.random.default_rng(8))
    fresh = MultiArmDesign(
        2,
        60,
        FLAT,
        looks=[20, 40],
        allocation=ThompsonAllocation(),
        inferiority=0.05,
        futility=0.1,
        delta_futility=0.1,
    )
    original = BetaTables.trim
    monkeypatch.setattr(BetaTables, "trim", lambda self, max_rows=0: original(self, 0))
    out = run_trials(fresh, theta, 500, np.random.default_rng(8))
    for k, v in ref.items():
        np.testing.assert_array_equal(out[k], v, err_msg=k)


@pytest.mark.parametrize(
    "case",
    [c for c in cases("exact_oc") if c.values[0]["inputs"]["randomization"] == "rounded"],
)
def test_exact_method_equals_reference(case: dict[str, Any]) -> None:
    i = case["inputs"]
    res = operating_characteristics(
        one_look_design(i), {"p_control": [i["p_control"]], "p_1": [i["p_1"]]}, method="exact"
    )
    got = res.metric("p_success")["value"].iloc[0]
    assert got == pytest.approx(case["expected"], abs=1e-9)


def test_exact_method_three_arms_against_monte_carlo() -> None:
    design = MultiArmDesign(2, 36, FLAT, efficacy=0.95, inferiority=0.2, randomization="rounded")
    grid = {"p_control": [0.2], "p_1": [0.5], "p_2": [0.3]}
    exact = operating_characteristics(design, grid, method="exact").summary(wide=True).iloc[0]
    mc = design.simulate(grid, n_trials=20_000, rng=21, progress=False)
    wide = mc.summary(wide=True).iloc[0]
    for name in (
        "p_success",
        "effective_1",
        "effective_2",
        "dropped_2",
        "selected_1",
        "best_selected",
    ):
        assert within_mc(wide[name], exact[name], 20_000), name
    assert exact["enumerated_mass"] == pytest.approx(1.0)
    assert exact["n_mean"] == pytest.approx(36) and exact["alloc_control"] == pytest.approx(1 / 3)


def test_exact_method_refuses_adaptive_designs() -> None:
    grid = {"p_control": [0.2], "p_1": [0.5]}
    for design in (
        MultiArmDesign(1, 20, FLAT, looks=[10], randomization="rounded"),
        MultiArmDesign(1, 20, FLAT),
        MultiArmDesign(1, 20, FLAT, allocation=ThompsonAllocation(), randomization="rounded"),
    ):
        with pytest.raises(TypeError, match="method='exact' needs"):
            operating_characteristics(design, grid, method="exact")
