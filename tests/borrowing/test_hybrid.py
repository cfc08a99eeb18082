"""HybridControlDesign and compare_borrowing: published and independent reference values,
the same design written as a TwoArmDesign, Monte Carlo against exact enumeration, the
no-borrowing regression, drift behaviour, properties, bad input and the engine.

Reference values live in ``tests/reference/borrowing_hybrid.json`` (published: Schmidli et
al. 2014; independent: ``tests/reference/scripts/hybrid_reference.py``, scipy only).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rdstats.borrowing import (
    EmpiricalBayesPowerBorrowing,
    HalfNormal,
    HybridControlDesign,
    LogitDensityBorrowing,
    MAPResult,
    PriorBorrowing,
    compare_borrowing,
    map_prior,
    no_borrowing,
)
from rdstats.designs import DecisionRule, TwoArmDesign
from rdstats.priors import BetaMixture, NormalMixture, robustify
from rdstats.simulate import OCResult, ScenarioGrid, operating_characteristics

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "borrowing_hybrid.json"
SCRIPT = REFERENCE.parent / "scripts" / "hybrid_reference.py"
CASES: list[dict[str, Any]] = json.loads(REFERENCE.read_text())["cases"]
PUBLISHED = [c for c in CASES if c["kind"] == "published_oc"]
INDEPENDENT = [c for c in CASES if c["kind"] == "independent_design"]

AS = pd.DataFrame(
    {
        "study": range(1, 9),
        "n": [107, 44, 51, 39, 139, 20, 78, 35],
        "r": [23, 12, 19, 9, 39, 6, 9, 10],
    }
)
ROBUST = robustify(BetaMixture([0.6, 0.4], [6.7, 36.5], [19.6, 111.1]), 0.2, 0.5)
UNIFORM = BetaMixture(1.0, 1.0, 1.0)
OC_METRICS = ("p_success", "bias", "borrowed", "control_error")


# -- helpers --------------------------------------------------------------------------------
def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [c["name"] for c in cases]


def make_prior(spec: dict[str, Any]) -> BetaMixture:
    assert spec["class"] == "BetaMixture"
    return BetaMixture(spec["weights"], spec["a"], spec["b"])


def make_mechanism(spec: dict[str, Any]) -> Any:
    if spec["mechanism"] == "prior":
        return PriorBorrowing(make_prior(spec["prior"]), "reference prior")
    assert spec["mechanism"] == "eb_power"
    return EmpiricalBayesPowerBorrowing(spec["r0"], spec["n0"], make_prior(spec["initial"]))


def make_design(inputs: dict[str, Any]) -> HybridControlDesign:
    rule = inputs["rule"]
    return HybridControlDesign(
        inputs["n_t"],
        inputs["n_c"],
        make_mechanism(inputs["control"]),
        make_prior(inputs["prior_t"]),
        DecisionRule(rule["prob"], rule["threshold"], rule["lower_tail"]),
    )


def exact_table(design: HybridControlDesign, inputs: dict[str, Any]) -> pd.DataFrame:
    """Exact OCs in the order of the reference file (paired or Cartesian, theta_t outer)."""
    tt, tc = inputs["theta_t"], inputs["theta_c"]
    if inputs["paired"]:
        res = operating_characteristics(design, {"theta_t": tt, "theta_c": tc}, method="exact")
        table = res.summary(wide=True).reset_index(drop=True)
        pairs = list(zip(tt, tc, strict=True))
    else:
        table = design.oc(theta_t=tt, theta_c=tc)
        pairs = [(a, b) for a in tt for b in tc]
    np.testing.assert_array_equal(table[["theta_t", "theta_c"]].to_numpy(), np.array(pairs))
    return table


def reference_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hybrid_reference", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def decision_strings(design: HybridControlDesign) -> list[str]:
    d = design.decision_matrix().to_numpy()
    return ["".join("1" if v else "0" for v in row) for row in d]


@pytest.fixture(scope="module")
def as_map() -> MAPResult:
    return map_prior(AS, "binomial", tau_prior=HalfNormal(1.0))


# -- 1. published reference (Schmidli et al. 2014) -----------------------------------------
@pytest.mark.parametrize("case", PUBLISHED, ids=_ids(PUBLISHED))
def test_published_schmidli_2014(case: dict[str, Any]) -> None:
    inputs = case["inputs"]
    table = exact_table(make_design(inputs), inputs)
    np.testing.assert_allclose(
        table["p_success"], case["expected"]["p_success"], rtol=0, atol=case["tolerance"]["abs"]
    )
    # delta = 0 scenarios are null (type I error), delta = 0.3 alternatives (power)
    is_null = np.isclose(table["theta_t"], table["theta_c"])
    column = "type_i_error" if is_null.all() else "power"
    assert (is_null.all() or not is_null.any()) and column in table
    np.testing.assert_array_equal(table[column], table["p_success"])


def test_published_example_in_docstring_matches_paper() -> None:
    design = HybridControlDesign(40, 20, PriorBorrowing(BetaMixture(1, 4, 16), "Be(4, 16)"))
    oc = design.oc(theta_t=[0.5], theta_c=[0.2])
    assert oc["power"].to_numpy()[0] == pytest.approx(0.872, abs=5e-4)
    assert oc["borrowed"].to_numpy()[0] == pytest.approx(20.0, abs=1e-9)  # ESS of Be(4, 16)


# -- 3. independent reference values ---------------------------------------------------------
@pytest.mark.parametrize("case", INDEPENDENT, ids=_ids(INDEPENDENT))
def test_independent_reference(case: dict[str, Any]) -> None:
    inputs, expected, tol = case["inputs"], case["expected"], case["tolerance"]
    design = make_design(inputs)
    assert decision_strings(design) == expected["decision"]
    n_c = inputs["n_c"]
    ctrl = design.borrowing.control_posteriors(n_c, np.linspace(0.0, 1.0, 11))
    np.testing.assert_allclose(ctrl.mean, expected["mean_c"], rtol=0, atol=tol["mean_c"]["abs"])
    np.testing.assert_allclose(
        design.borrowed().to_numpy(),
        expected["borrowed_by_y_c"],
        rtol=0,
        atol=tol["borrowed_by_y_c"]["abs"],
    )
    if "a0" in expected:
        np.testing.assert_allclose(
            design.borrowing.a0(n_c), expected["a0"], rtol=0, atol=tol["a0"]["abs"]
        )
    table = exact_table(design, inputs)
    for metric, values in expected["oc"].items():
        np.testing.assert_allclose(
            table[metric], values, rtol=0, atol=tol[metric]["abs"], err_msg=metric
        )


@pytest.mark.parametrize("case", INDEPENDENT, ids=_ids(INDEPENDENT))
def test_stored_values_recomputed_independently(case: dict[str, Any]) -> None:
    """The stored numbers themselves, from the scipy-only script: per-outcome summaries
    and OCs in full, decision probabilities at cells on both sides of the boundary."""
    ref = reference_script()
    inputs, expected = case["inputs"], case["expected"]
    s = ref.summaries(inputs)
    # an EB a0 is a grid argmax: another platform's last digits may pick a neighbouring
    # node of the 1e-8 grid, which moves the prior by n0 * 1e-8 observations
    eb = "a0" in expected
    atol = {"mean_c": 1e-9 if eb else 1e-13, "borrowed": 1e-5 if eb else 1e-9}
    np.testing.assert_allclose(s["mean_c"], expected["mean_c"], rtol=0, atol=atol["mean_c"])
    np.testing.assert_allclose(
        s["borrowed"], expected["borrowed_by_y_c"], rtol=0, atol=atol["borrowed"]
    )
    if eb:
        np.testing.assert_allclose(s["a0"], expected["a0"], rtol=0, atol=1e-7)
    decision = np.array([[c == "1" for c in row] for row in expected["decision"]])
    oc = ref.exact_oc(inputs, decision, s["mean_t"], s["mean_c"], s["borrowed"])
    paired = inputs["paired"]
    k = len(inputs["theta_c"])
    for metric, values in oc.items():
        got = [values[i * k + i] for i in range(k)] if paired else values
        tol = atol["borrowed"] if metric == "borrowed" else atol["mean_c"]
        np.testing.assert_allclose(got, expected["oc"][metric], rtol=0, atol=tol)
    # boundary cells: the last failure and the first success in three columns
    cols = np.unique(np.linspace(0, inputs["n_c"], 3).astype(int))
    checked = 0
    for j in cols:
        flips = np.flatnonzero(decision[1:, j] != decision[:-1, j])
        for i in flips[:1]:
            for y_t in (i, i + 1):
                ok, margin = ref.cell_decision(inputs, s["posts_t"][y_t], s["posts_c"][j])
                assert ok == decision[y_t, j]
                assert margin >= case["min_margin"] * (1 - 1e-9)
                checked += 1
    assert checked > 0


def test_published_values_are_the_rounded_exact_values() -> None:
    """Schmidli et al.'s figures (one decimal of a percent) are the exact values rounded."""
    exact = {c["name"]: c for c in INDEPENDENT}
    pairs = [
        (
            "Schmidli 2014 power, Be(4, 16) control prior, 40 vs 20",
            "Schmidli design Be(4, 16) control prior, 40 vs 20, exact",
        ),
        (
            "Schmidli 2014 type I error, Be(1, 1) control prior, 40 vs 38",
            "Schmidli design no borrowing, 40 vs 38, exact",
        ),
    ]
    for pub_name, exact_name in pairs:
        pub = next(c for c in PUBLISHED if c["name"] == pub_name)
        values = np.array(exact[exact_name]["expected"]["oc"]["p_success"])
        np.testing.assert_array_equal(
            np.round(100 * values, 1), np.round(100 * np.array(pub["expected"]["p_success"]), 1)
        )


def test_reference_file_is_well_formed() -> None:
    names = _ids(CASES)
    assert len(names) == len(set(names))
    for c in CASES:
        assert set(c) >= {"name", "kind", "source", "inputs", "expected", "tolerance"}
        assert c["source"].startswith("independent") == (c["kind"] == "independent_design")
    for c in INDEPENDENT:
        assert c["min_margin"] >= 1e-6
        assert set(c["expected"]["oc"]) == set(OC_METRICS)


# -- 2. the same design as a TwoArmDesign ---------------------------------------------------
CROSS = [
    ("robust mixture, superiority", ROBUST, UNIFORM, DecisionRule(0.975, 0.0), 24, 12),
    (
        "mixture both arms, two criteria",
        BetaMixture([0.5, 0.5], [3.0, 12.0], [9.0, 30.0]),
        BetaMixture([0.7, 0.3], [1.0, 3.0], [1.0, 5.0]),
        DecisionRule([0.95, 0.5], [0.0, 0.1]),
        30,
        15,
    ),
    (
        "robust mixture, lower tail",
        robustify(BetaMixture(1, 5.0, 15.0), 0.3, 0.25),
        UNIFORM,
        DecisionRule(0.9, 0.05, lower_tail=True),
        20,
        10,
    ),
    (
        "Be(4, 16), negative margin",
        BetaMixture(1, 4.0, 16.0),
        UNIFORM,
        DecisionRule(0.8, -0.1),
        40,
        20,
    ),
]


@pytest.mark.parametrize(
    ("control", "prior_t", "rule", "n_t", "n_c"), [c[1:] for c in CROSS], ids=[c[0] for c in CROSS]
)
def test_same_design_as_two_arm_design(
    control: BetaMixture, prior_t: BetaMixture, rule: DecisionRule, n_t: int, n_c: int
) -> None:
    """TwoArmDesign decides on theta_1 - theta_2: arm 1 is the treatment, arm 2 the control."""
    hybrid = HybridControlDesign(n_t, n_c, PriorBorrowing(control, "c"), prior_t, rule)
    two = TwoArmDesign(prior_t, n_t, control, n_c, rule)
    np.testing.assert_array_equal(hybrid.decision_matrix().to_numpy(), two.decision_matrix())
    tt, tc = [0.1, 0.3, 0.45, 0.7], [0.15, 0.3, 0.5]
    ocs = hybrid.oc(theta_t=tt, theta_c=tc)
    grid_t, grid_c = np.meshgrid(tt, tc, indexing="ij")
    np.testing.assert_allclose(ocs["p_success"], two.oc(grid_t.ravel(), grid_c.ravel()), atol=1e-9)
    # the engine's exact metrics agree too (posterior mean of theta_t - theta_c, nulls)
    a = operating_characteristics(
        hybrid, ScenarioGrid.cartesian(theta_t=tt, theta_c=tc), method="exact"
    ).summary(wide=True)
    b = operating_characteristics(
        two, ScenarioGrid.cartesian(theta_1=tt, theta_2=tc), method="exact"
    ).summary(wide=True)
    for metric in ("p_success", "estimate_mean", "bias", "rmse"):
        np.testing.assert_allclose(a[metric].to_numpy(), b[metric].to_numpy(), atol=1e-9)
    for metric in ("type_i_error", "power"):  # the same scenarios are null hypotheses
        np.testing.assert_array_equal(a[metric].isna(), b[metric].isna())


# -- 4. Monte Carlo against exact enumeration -------------------------------------------------
def _mechanisms(as_map: MAPResult) -> dict[str, Any]:
    return {
        "no borrowing": no_borrowing(),
        "Be(4, 16)": PriorBorrowing(BetaMixture(1, 4.0, 16.0), "Be(4, 16)"),
        "robust MAP": PriorBorrowing.from_map(as_map, robust_weight=0.2),
        "MAP on the logit scale": LogitDensityBorrowing.from_map(as_map),
        "EB power prior": EmpiricalBayesPowerBorrowing(15, 60),
    }


@pytest.mark.slow
def test_monte_carlo_agrees_with_exact_for_every_mechanism(as_map: MAPResult) -> None:
    grid = ScenarioGrid.cartesian(theta_t=[0.25, 0.5], theta_c=[0.2, 0.4])
    prior_t = BetaMixture([0.8, 0.2], [1.0, 4.0], [1.0, 4.0])
    for name, mech in _mechanisms(as_map).items():
        design = HybridControlDesign(20, 10, mech, prior_t, DecisionRule(0.95, 0.0))
        exact = design.simulate(grid, method="exact").summary(wide=True)
        mc = design.simulate(grid, n_trials=20_000, rng=20240611, progress=False)
        sim = mc.summary(wide=True)
        assert mc.n_trials == 20_000
        for metric in OC_METRICS:
            diff = np.abs(sim[metric] - exact[metric]).to_numpy()
            bound = 4 * sim[f"{metric}_mcse"].to_numpy() + 1e-12
            assert np.all(diff <= bound), (name, metric, diff, bound)
            assert np.all(exact[f"{metric}_mcse"] == 0)


# -- 5. regression: no borrowing does not depend on the external data ------------------------
@pytest.mark.parametrize("method", ["exact", "monte_carlo"])
def test_no_borrowing_rows_do_not_depend_on_external_data(as_map: MAPResult, method: str) -> None:
    grid = ScenarioGrid.cartesian(theta_t=[0.25, 0.45], theta_c=[0.2, 0.25, 0.4])
    kwargs: dict[str, Any] = (
        {"n_trials": 3000, "rng": 11, "progress": False} if method == "monte_carlo" else {}
    )
    none = HybridControlDesign(24, 12, no_borrowing())
    shifted = AS.assign(r=[40, 20, 30, 15, 70, 10, 30, 15])  # different historical data
    other_map = map_prior(shifted, "binomial", tau_prior=HalfNormal(0.5))
    runs = [
        {"MAP": HybridControlDesign(24, 12, PriorBorrowing.from_map(as_map)), "none": none},
        {
            "none": none,
            "robust MAP (other data)": HybridControlDesign(
                24, 12, PriorBorrowing.from_map(other_map, robust_weight=0.5)
            ),
            "EB": HybridControlDesign(24, 12, EmpiricalBayesPowerBorrowing(40, 100)),
        },
        {
            "logit MAP": HybridControlDesign(24, 12, LogitDensityBorrowing.from_map(other_map)),
            "fixed": HybridControlDesign(24, 12, BetaMixture(1, 30.0, 10.0)),
            "none": none,
        },
    ]
    rows = []
    for designs in runs:
        table = compare_borrowing(designs, grid, method=method, **kwargs)
        rows.append(table[table["design"] == "none"].drop(columns="design").reset_index(drop=True))
    alone_design = HybridControlDesign(24, 12, no_borrowing())  # built separately
    alone = compare_borrowing({"none": alone_design}, grid, method=method, **kwargs)
    rows.append(alone.drop(columns="design").reset_index(drop=True))
    direct = operating_characteristics(alone_design, grid, method=method, **kwargs)
    rows.append(direct.summary(wide=True).reset_index(drop=True))
    for other in rows[1:]:
        pd.testing.assert_frame_equal(rows[0], other, check_exact=True)
    np.testing.assert_allclose(rows[0]["borrowed"], 2.0, rtol=0, atol=1e-12)


def test_compare_borrowing_layout(as_map: MAPResult) -> None:
    designs = {
        "none": HybridControlDesign(24, 6, no_borrowing()),
        "MAP": HybridControlDesign(24, 6, PriorBorrowing.from_map(as_map)),
    }
    table = compare_borrowing(designs, ScenarioGrid.cartesian(theta_t=[0.3], theta_c=[0.3, 0.5]))
    assert table["design"].tolist() == ["none", "none", "MAP", "MAP"]
    assert {"borrowed", "control_error", "type_i_error"} <= set(table.columns)
    assert (table.loc[table.design == "MAP", "borrowed"] > 2).all()


def test_compare_borrowing_shares_random_numbers_with_an_integer_seed() -> None:
    grid = ScenarioGrid.cartesian(theta_t=[0.3, 0.5], theta_c=[0.3])
    d = HybridControlDesign(20, 10, no_borrowing())
    table = compare_borrowing(
        {"a": d, "b": d}, grid, method="monte_carlo", n_trials=2000, rng=3, progress=False
    )
    a = table[table.design == "a"].drop(columns="design").reset_index(drop=True)
    b = table[table.design == "b"].drop(columns="design").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_compare_borrowing_generator_rng_keeps_no_borrowing_rows(as_map: MAPResult) -> None:
    grid = ScenarioGrid.cartesian(theta_t=[0.3, 0.5], theta_c=[0.3])
    none = HybridControlDesign(20, 10, no_borrowing())
    kw: dict[str, Any] = {"method": "monte_carlo", "n_trials": 2000, "progress": False}
    first = compare_borrowing({"none": none}, grid, rng=np.random.default_rng(3), **kw)
    later = compare_borrowing(
        {"MAP": HybridControlDesign(20, 10, PriorBorrowing.from_map(as_map)), "none": none},
        grid,
        rng=np.random.default_rng(3),
        **kw,
    )
    pd.testing.assert_frame_equal(
        first.drop(columns="design").reset_index(drop=True),
        later[later.design == "none"].drop(columns="design").reset_index(drop=True),
    )


def test_compare_borrowing_default_rng_shares_random_numbers() -> None:
    grid = ScenarioGrid.cartesian(theta_t=[0.3, 0.5], theta_c=[0.3])
    d = HybridControlDesign(20, 10, no_borrowing())
    table = compare_borrowing(
        {"a": d, "b": d}, grid, method="monte_carlo", n_trials=2000, progress=False
    )
    a = table[table.design == "a"].drop(columns="design").reset_index(drop=True)
    b = table[table.design == "b"].drop(columns="design").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


# -- 6. drift: prior-data conflict --------------------------------------------------------------
DRIFT = [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7]


def _null_ocs(design: HybridControlDesign) -> pd.DataFrame:
    res = operating_characteristics(design, {"theta_t": DRIFT, "theta_c": DRIFT}, method="exact")
    table = res.summary(wide=True).reset_index(drop=True)
    assert "power" not in table and table["type_i_error"].notna().all()
    return table


@pytest.mark.parametrize("sizes", [(24, 6), (40, 20)], ids=["24 vs 6", "40 vs 20"])
@pytest.mark.parametrize("source", ["AS MAP mixture", "Be(10, 30)"])
def test_drift_robust_prior_limits_type_i_error(
    as_map: MAPResult, sizes: tuple[int, int], source: str
) -> None:
    n_t, n_c = sizes
    if source == "AS MAP mixture":
        informative = PriorBorrowing.from_map(as_map)
        robust = PriorBorrowing.from_map(as_map, robust_weight=0.2)
        assert informative.prior.mean() == pytest.approx(0.258, abs=0.005)
    else:
        informative = PriorBorrowing(BetaMixture(1, 10.0, 30.0), "Be(10, 30)")
        robust = PriorBorrowing(robustify(BetaMixture(1, 10.0, 30.0), 0.2, 0.5), "robust")
    none = _null_ocs(HybridControlDesign(n_t, n_c, no_borrowing()))
    inf = _null_ocs(HybridControlDesign(n_t, n_c, informative))
    rob = _null_ocs(HybridControlDesign(n_t, n_c, robust))
    above = np.array(DRIFT) >= 0.25
    # drifting above the prior inflates the type I error ...
    for table in (inf, rob):
        tie = table["type_i_error"].to_numpy()
        assert tie[DRIFT.index(0.35)] > tie[DRIFT.index(0.25)]
    assert np.all(np.diff(inf["type_i_error"].to_numpy()[above][:6]) > 0)
    # ... far beyond the nominal level without robustification, much less with it
    assert inf["type_i_error"].max() > 2 * none["type_i_error"].max()
    assert rob["type_i_error"].max() < inf["type_i_error"].max()
    assert rob["type_i_error"].max() < 0.75 * inf["type_i_error"].max()
    # the robust prior borrows less and less as the conflict grows (up to 0.6; beyond it
    # the moment-matched ESS of the bimodal posterior can dip below 0 and turn back to 2)
    conflict = above & (np.array(DRIFT) <= 0.6)
    assert np.all(np.diff(rob["borrowed"].to_numpy()[conflict]) < 0)
    assert rob["borrowed"].to_numpy()[-1] < 0.2 * rob["borrowed"].to_numpy()[DRIFT.index(0.25)]
    np.testing.assert_allclose(none["borrowed"], 2.0, rtol=0, atol=1e-10)


@pytest.mark.parametrize("n_c", [1, 6, 20, 38, 100])
def test_no_borrowing_borrows_the_uniform_prior_only(n_c: int) -> None:
    """Be(1, 1) is worth 2 patients: the moment-matched ESS of Be(1 + y, 1 + n - y) is n + 2."""
    design = HybridControlDesign(10, n_c, no_borrowing())
    borrowed = design.borrowed()
    assert borrowed.index.tolist() == list(range(n_c + 1))
    # floating point: m (1 - m) / v - 1 is not bit-exact (see the report: ~1e-11 at n_c = 100)
    np.testing.assert_allclose(borrowed.to_numpy(), 2.0, rtol=0, atol=1e-10)
    oc = design.oc(theta_t=0.3, theta_c=[0.1, 0.5])
    np.testing.assert_allclose(oc["borrowed"], 2.0, rtol=0, atol=1e-10)


# -- 8. properties (hypothesis) ------------------------------------------------------------------
@st.composite
def beta_mixtures(draw: Any, max_components: int = 3) -> BetaMixture:
    k = draw(st.integers(1, max_components))
    raw = np.array(draw(st.lists(st.floats(0.05, 1.0), min_size=k, max_size=k)))
    shape = st.floats(0.3, 40.0)
    a = draw(st.lists(shape, min_size=k, max_size=k))
    b = draw(st.lists(shape, min_size=k, max_size=k))
    return BetaMixture(raw / raw.sum(), a, b)


@st.composite
def rules(draw: Any, lower_tail: bool) -> DecisionRule:
    k = draw(st.integers(1, 2))
    prob = draw(st.lists(st.floats(0.5, 0.99), min_size=k, max_size=k))
    thr = draw(st.lists(st.floats(-0.3, 0.3), min_size=k, max_size=k))
    return DecisionRule(prob, thr, lower_tail)


# scipy.stats.binom.pmf raises OverflowError (Boost ibeta_derivative) at exactly
# p = 2.2250738585072014e-308, the smallest normal double: rates that small are left out
RATES = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(1e-12, 1.0 - 1e-12))
PROPERTY_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(
    control=beta_mixtures(),
    prior_t=beta_mixtures(2),
    rule=rules(lower_tail=False),
    n_t=st.integers(1, 12),
    n_c=st.integers(1, 10),
)
def test_decisions_monotone_upper_tail(
    control: BetaMixture, prior_t: BetaMixture, rule: DecisionRule, n_t: int, n_c: int
) -> None:
    # a coarser grid keeps the test fast; the summation by parts that makes the decisions
    # monotone holds on any grid
    design = HybridControlDesign(n_t, n_c, PriorBorrowing(control, "c"), prior_t, rule, 1000)
    d = design.decision_matrix().to_numpy()
    assert d.shape == (n_t + 1, n_c + 1)
    assert np.all(d[1:] >= d[:-1])  # more treated responders never turn success to failure
    assert np.all(d[:, 1:] <= d[:, :-1])  # more control responders never turn failure to success
    assert np.all(np.isfinite(design.borrowed().to_numpy()))


@PROPERTY_SETTINGS
@given(
    control=beta_mixtures(),
    rule=rules(lower_tail=True),
    n_t=st.integers(1, 12),
    n_c=st.integers(1, 10),
)
def test_decisions_monotone_lower_tail(
    control: BetaMixture, rule: DecisionRule, n_t: int, n_c: int
) -> None:
    d = HybridControlDesign(n_t, n_c, control, UNIFORM, rule, 1000).decision_matrix().to_numpy()
    assert np.all(d[1:] <= d[:-1])
    assert np.all(d[:, 1:] >= d[:, :-1])


@PROPERTY_SETTINGS
@given(
    control=beta_mixtures(),
    n_t=st.integers(1, 15),
    n_c=st.integers(1, 15),
    theta_t=RATES,
    theta_c=RATES,
)
def test_exact_probabilities_sum_to_one(
    control: BetaMixture, n_t: int, n_c: int, theta_t: float, theta_c: float
) -> None:
    design = HybridControlDesign(n_t, n_c, PriorBorrowing(control, "c"), n_grid=1000)
    outcomes, prob = design._exact({"theta_t": theta_t, "theta_c": theta_c})
    prob = np.asarray(prob)
    assert prob.shape == ((n_t + 1) * (n_c + 1),)
    assert np.all(prob >= 0)
    assert float(prob.sum()) == pytest.approx(1.0, abs=1e-12)
    for key in ("success", "estimate", "borrowed", "control_error", "y_t", "y_c"):
        assert np.asarray(outcomes[key]).shape == prob.shape
    assert np.all(np.isfinite(outcomes["borrowed"]))
    res = operating_characteristics(
        design, {"theta_t": [theta_t], "theta_c": [theta_c]}, method="exact"
    )
    mass = res.metric("enumerated_mass")["value"].iloc[0]
    assert mass == pytest.approx(1.0, abs=1e-12)


def test_tables_layout_and_caching() -> None:
    design = HybridControlDesign(12, 5, BetaMixture(1, 4.0, 16.0))
    dm = design.decision_matrix()
    assert dm.shape == (13, 6) and all(dt == np.dtype(bool) for dt in dm.dtypes)
    assert (dm.index.name, dm.columns.name) == ("y_t", "y_c")
    assert dm.index.tolist() == list(range(13)) and dm.columns.tolist() == list(range(6))
    borrowed = design.borrowed()
    assert borrowed.index.name == "y_c" and borrowed.index.tolist() == list(range(6))
    # the cached tables cannot be changed through what the accessors return
    with pytest.raises(ValueError):
        dm.iloc[0, 0] = not dm.iloc[0, 0]
    pd.testing.assert_frame_equal(dm, design.decision_matrix())
    with pytest.raises(AttributeError):
        design.n_t = 3  # type: ignore[misc]
    assert repr(design) == "HybridControlDesign(n_t=12, n_c=5, borrowing='prior')"
    scalar = design.oc(theta_t=0.5, theta_c=0.2)
    assert len(scalar) == 1 and scalar["theta_t"].iloc[0] == 0.5


# -- 9. bad input ---------------------------------------------------------------------------------
BAD_SIZES = [(name, v) for name in ("n_t", "n_c") for v in (-3, True, False, 2.5, "10", None)]


# n_c = 0 (a prior-only, fully external control) is rejected today as well; it is left out
# here on purpose, since a rare-disease design may well need it (see TwoArmDesign n_2 = 0)
@pytest.mark.parametrize(("name", "value"), [("n_t", 0), *BAD_SIZES])
def test_bad_sample_sizes(name: str, value: Any) -> None:
    kwargs: dict[str, Any] = {"n_t": 10, "n_c": 5, "borrowing": no_borrowing()}
    kwargs[name] = value
    with pytest.raises((ValueError, TypeError), match=name):
        HybridControlDesign(**kwargs)


def test_numpy_integer_sample_sizes_accepted() -> None:
    design = HybridControlDesign(np.int64(10), np.int32(5), no_borrowing())  # type: ignore[arg-type]
    assert design.decision_matrix().shape == (11, 6)


@pytest.mark.parametrize(
    "borrowing", ["Be(1, 1)", None, 0.5, NormalMixture(1, 0.0, 1.0, sigma=1.0), {"a": 1}]
)
def test_borrowing_of_wrong_type(borrowing: Any) -> None:
    with pytest.raises(TypeError, match="borrowing"):
        HybridControlDesign(10, 5, borrowing)


def test_beta_mixture_is_accepted_as_a_fixed_prior() -> None:
    a = HybridControlDesign(10, 5, BetaMixture(1, 4.0, 16.0))
    b = HybridControlDesign(10, 5, PriorBorrowing(BetaMixture(1, 4.0, 16.0), "x"))
    assert isinstance(a.borrowing, PriorBorrowing)
    np.testing.assert_array_equal(a.decision_matrix(), b.decision_matrix())


@pytest.mark.parametrize("prior_t", [NormalMixture(1, 0.0, 1.0, sigma=1.0), "Be(1, 1)", (1, 1)])
def test_prior_t_must_be_a_beta_mixture(prior_t: Any) -> None:
    with pytest.raises(TypeError, match="prior_t"):
        HybridControlDesign(10, 5, no_borrowing(), prior_t)


def test_rule_must_be_a_decision_rule() -> None:
    with pytest.raises(TypeError, match="rule"):
        HybridControlDesign(10, 5, no_borrowing(), UNIFORM, 0.975)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("theta_t", "theta_c", "name"),
    [(1.2, 0.3, "theta_t"), (0.3, -0.1, "theta_c"), (float("nan"), 0.3, "theta_t")],
)
def test_scenario_rates_outside_unit_interval(theta_t: float, theta_c: float, name: str) -> None:
    design = HybridControlDesign(10, 5, no_borrowing())
    with pytest.raises(ValueError, match=name):
        design.oc(theta_t=theta_t, theta_c=theta_c)
    with pytest.raises(ValueError, match=name):
        design.simulate({"theta_t": [theta_t], "theta_c": [theta_c]}, n_trials=10, rng=1)


def test_scenarios_with_wrong_parameters() -> None:
    design = HybridControlDesign(10, 5, no_borrowing())
    with pytest.raises(ValueError, match="theta_t"):
        design.simulate({"theta_1": [0.3], "theta_2": [0.3]}, method="exact")


# -- 10. engine integration --------------------------------------------------------------------
def test_provenance_records_the_design(as_map: MAPResult) -> None:
    grid = ScenarioGrid.cartesian(theta_t=[0.3, 0.5], theta_c=[0.3])
    for mech in (no_borrowing(), EmpiricalBayesPowerBorrowing(15, 60)):
        design = HybridControlDesign(20, 10, mech, rule=DecisionRule(0.9, 0.05))
        res = design.simulate(grid, method="exact")
        assert isinstance(res, OCResult)
        spec = res.provenance["design"]
        assert spec["type"] == "HybridControlDesign"
        assert (spec["n_t"], spec["n_c"]) == (20, 10)
        assert spec["rule"]["prob"] == [0.9] and spec["rule"]["threshold"] == [0.05]
        json.dumps(spec)
        assert res.provenance["method"] == "exact"
    # a mechanism that is not a fixed prior is described by its own dictionary
    assert spec["borrowing"]["type"] == "EmpiricalBayesPowerBorrowing"
    assert (spec["borrowing"]["r0"], spec["borrowing"]["n0"]) == (15, 60)


def test_provenance_records_n_grid() -> None:
    design = HybridControlDesign(20, 10, no_borrowing(), n_grid=500)
    res = design.simulate({"theta_t": [0.3], "theta_c": [0.3]}, method="exact")
    assert res.provenance["design"]["n_grid"] == 500


def test_summary_has_borrowing_columns() -> None:
    design = HybridControlDesign(20, 10, BetaMixture(1, 4.0, 16.0))
    res = design.simulate(
        {"theta_t": [0.3, 0.5], "theta_c": [0.3, 0.2]}, n_trials=500, rng=2, progress=False
    )
    wide = res.summary(wide=True)
    for col in ("borrowed", "borrowed_mcse", "control_error", "control_error_mcse"):
        assert col in wide.columns
    assert res.outcomes is not None
    assert {"y_t", "y_c", "borrowed", "control_error", "success"} <= set(res.outcomes.columns)
    oc = design.oc(theta_t=[0.3], theta_c=[0.3])
    assert {"borrowed", "control_error", "type_i_error"} <= set(oc.columns)


@pytest.mark.slow
def test_serial_and_processes_bit_identical() -> None:
    grid = ScenarioGrid.cartesian(theta_t=[0.3, 0.5], theta_c=[0.25, 0.35])
    design = HybridControlDesign(20, 10, PriorBorrowing(ROBUST, "robust"))
    eb = HybridControlDesign(20, 10, EmpiricalBayesPowerBorrowing(15, 60))
    for d in (design, eb):
        kw: dict[str, Any] = {"n_trials": 1500, "batch_size": 500, "rng": 99, "progress": False}
        serial = d.simulate(grid, **kw)
        pooled = d.simulate(grid, backend="processes", workers=2, **kw)
        assert serial.compare(pooled) == []
        assert "process" in str(pooled.provenance["executor"]).lower()


def test_logit_map_design_runs_in_a_process_pool(as_map: MAPResult) -> None:
    design = HybridControlDesign(20, 10, LogitDensityBorrowing.from_map(as_map))
    grid = ScenarioGrid.cartesian(theta_t=[0.3], theta_c=[0.3])
    kw: dict[str, Any] = {"n_trials": 400, "batch_size": 200, "rng": 1, "progress": False}
    pooled = design.simulate(grid, backend="processes", workers=2, **kw)
    assert design.simulate(grid, **kw).compare(pooled) == []
