"""Property-based checks of the simulation engine, scenario grids and results (hypothesis)."""

from __future__ import annotations

import itertools
import math
import tempfile

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rdstats.designs import DecisionRule, OneArmDesign, TwoArmDesign
from rdstats.priors import BetaMixture, GammaMixture
from rdstats.simulate import OCResult, Scenario, ScenarioGrid, operating_characteristics

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAST = settings(max_examples=60, deadline=None)

shape = st.floats(0.5, 8.0)
prob = st.floats(0.55, 0.97)
values = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, allow_subnormal=False)
# probabilities on a 1e-6 grid: scipy's binom.pmf overflows at p ~ 1e-308 (not rdstats')
unit = st.floats(0.0, 1.0).map(lambda v: round(v, 6))
# distinct values on a 1e-4 grid get distinct default labels
grid4 = st.integers(0, 10_000).map(lambda i: i / 10_000)
names = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(
    lambda s: s not in ("label", "null")
)


@st.composite
def one_arm_designs(draw: st.DrawFn) -> OneArmDesign:
    if draw(st.booleans()):
        prior = BetaMixture(1, draw(shape), draw(shape))
        return OneArmDesign(prior, draw(st.integers(3, 30)), DecisionRule(draw(prob), 0.3))
    prior = GammaMixture(1, draw(shape), draw(st.floats(0.5, 4.0)))
    n = draw(st.floats(1.0, 15.0))
    return OneArmDesign(prior, n, DecisionRule(draw(prob), 0.5, lower_tail=draw(st.booleans())))


def theta_for(design: OneArmDesign) -> st.SearchStrategy[list[float]]:
    hi = 1.0 if design.endpoint == "binomial" else 3.0
    return st.lists(unit.map(lambda v: round(v * hi, 5)), min_size=1, max_size=4, unique=True)


# -- simulated and exact metrics ------------------------------------------------------------
@SETTINGS
@given(st.data())
def test_mc_metrics_in_range(data):
    design = data.draw(one_arm_designs())
    thetas = data.draw(theta_for(design))
    n = data.draw(st.integers(1, 300))
    res = operating_characteristics(
        design,
        {"theta": thetas},
        n_trials=n,
        batch_size=data.draw(st.integers(1, 400)),
        rng=data.draw(st.integers(0, 2**63)),
        progress=False,
    )
    m = res.metrics
    assert np.isfinite(m["value"]).all()
    assert (m["mcse"] >= 0).all() and np.isfinite(m["mcse"]).all()
    for name in ("p_success", "coverage", "type_i_error", "power"):
        v = m.loc[m["metric"] == name, "value"]
        assert ((v >= 0) & (v <= 1)).all()
    assert (m.loc[m["metric"] == "rmse", "value"] >= 0).all()
    assert (m["n_trials"] == n).all()
    assert len(res.outcomes) == n * len(thetas)
    wide = res.summary(wide=True)
    p = wide["p_success"].to_numpy()
    np.testing.assert_allclose(wide["p_success_mcse"], np.sqrt(p * (1 - p) / n), rtol=1e-12)


@SETTINGS
@given(st.data())
def test_exact_metrics_have_zero_mcse(data):
    design = data.draw(one_arm_designs())
    thetas = data.draw(theta_for(design))
    res = operating_characteristics(design, {"theta": thetas}, method="exact")
    m = res.metrics
    assert (m["mcse"] == 0).all()
    p = m.loc[m["metric"] == "p_success", "value"].to_numpy()
    assert ((p >= 0) & (p <= 1)).all()
    np.testing.assert_allclose(p, design.oc(np.array(thetas)), atol=1e-9)
    assert res.outcomes is None and res.method == "exact"


def test_exact_p_success_not_above_one():
    design = OneArmDesign(GammaMixture(1, 2.0, 0.5), 2.0, DecisionRule(0.625, 0.5))
    res = operating_characteristics(design, {"theta": [3.0]}, method="exact")
    assert design.oc(3.0) == 1.0
    assert res.metric("p_success")["value"].iloc[0] <= 1.0


@SETTINGS
@given(st.integers(3, 15), st.integers(1, 12), prob, st.floats(-0.2, 0.3), unit, unit)
def test_two_arm_exact_p_in_unit_interval(n1, n2, pr, delta, t1, t2):
    design = TwoArmDesign(
        BetaMixture(1, 1, 1), n1, BetaMixture(1, 2, 3), n2, DecisionRule(pr, delta)
    )
    res = operating_characteristics(design, {"theta_1": [t1], "theta_2": [t2]}, method="exact")
    p = res.metric("p_success")["value"].iloc[0]
    assert 0 <= p <= 1
    assert abs(p - design.oc(t1, t2)) < 1e-9
    assert (res.metrics["mcse"] == 0).all()


# -- scenario grids -----------------------------------------------------------------------------
@FAST
@given(
    st.dictionaries(
        names,
        st.lists(
            st.integers(-1000, 1000).map(lambda i: i / 8), min_size=1, max_size=4, unique=True
        ),
        min_size=1,
        max_size=3,
    )
)
def test_cartesian_size_is_product(params):
    grid = ScenarioGrid.cartesian(**params)
    assert len(grid) == math.prod(len(v) for v in params.values())
    assert grid.parameters == list(params)
    expected = set(itertools.product(*[[float(x) for x in v] for v in params.values()]))
    assert {tuple(s[k] for k in params) for s in grid} == expected
    assert len(set(grid.labels)) == len(grid)


@FAST
@given(
    st.dictionaries(names, values, min_size=1, max_size=4),
    st.text(max_size=10),
    st.text(max_size=10),
    st.sampled_from([None, True, False]),
    st.randoms(use_true_random=False),
)
def test_scenario_key_depends_only_on_values(params, label_a, label_b, null, random):
    items = list(params.items())
    random.shuffle(items)
    a = Scenario(params, label_a, null)
    b = Scenario(dict(items), label_b, None)
    assert a.key() == b.key()
    assert len(a.key()) == 4 and all(0 <= w < 2**32 for w in a.key())
    # any change of value changes the key
    k0 = next(iter(params))
    changed = dict(params)
    changed[k0] = params[k0] + 1.0  # |value| <= 1e6: always a different float
    assert Scenario(changed, label_a, null).key() != a.key()
    # so does renaming a parameter
    renamed = {("z" + k if i == 0 else k): v for i, (k, v) in enumerate(params.items())}
    assert Scenario(renamed, label_a, null).key() != a.key()


def test_scenario_key_int_and_float_agree():
    assert Scenario({"theta": 1}, "a", None).key() == Scenario({"theta": 1.0}, "b", True).key()
    assert (
        Scenario({"a": 0.1, "b": 0.2}, "", None).key()
        != Scenario({"a": 0.2, "b": 0.1}, "", None).key()
    )


@FAST
@given(
    st.lists(grid4, min_size=1, max_size=6, unique=True),
    st.lists(grid4, min_size=1, max_size=3, unique=True),
    st.data(),
)
def test_grid_dict_roundtrip(t1, t2, data):
    grid = ScenarioGrid.cartesian(theta_1=t1, theta_2=t2)
    if data.draw(st.booleans()):
        grid = grid.with_null(
            data.draw(st.lists(st.booleans(), min_size=len(grid), max_size=len(grid)))
        )
    if data.draw(st.booleans()):
        grid = grid.with_labels([f"s{i}" for i in range(len(grid))])
    spec = grid.to_dict()
    back = ScenarioGrid.from_dict(spec)
    assert back == grid
    assert back.labels == grid.labels
    assert [s.key() for s in back] == [s.key() for s in grid]
    assert [s.null for s in back] == [s.null for s in grid]
    assert hash(back) == hash(grid)
    # the compact form rebuilds the same scenarios
    compact = ScenarioGrid.from_dict({"grid": {"theta_1": t1, "theta_2": t2}})
    assert [s.key() for s in compact] == [
        s.key() for s in ScenarioGrid.cartesian(theta_1=t1, theta_2=t2)
    ]


@pytest.mark.parametrize("thetas", [[0.1, 0.1000001], [1_000_000.0, 1_000_001.0]])
def test_distinct_values_get_distinct_default_labels(thetas):
    grid = ScenarioGrid.cartesian(theta=thetas)
    assert len(set(grid.labels)) == 2


# -- results ------------------------------------------------------------------------------------
DESIGN = OneArmDesign(BetaMixture(1, 1, 1), 12, DecisionRule(0.9, 0.25))


@st.composite
def results(draw: st.DrawFn) -> OCResult:
    thetas = draw(st.lists(unit, min_size=1, max_size=4, unique=True))
    grid = ScenarioGrid({"theta": thetas})
    if draw(st.booleans()):
        grid = grid.with_null([t <= 0.25 for t in thetas])
    if draw(st.booleans()):
        return operating_characteristics(DESIGN, grid, method="exact")
    return operating_characteristics(
        DESIGN,
        grid,
        n_trials=draw(st.integers(1, 200)),
        batch_size=64,
        rng=draw(st.integers(0, 99)),
        progress=False,
    )


@SETTINGS
@given(results())
def test_wide_summary_matches_tidy(res):
    tidy = res.summary()
    wide = res.summary(wide=True)
    assert list(wide.index) == res.scenarios.labels
    assert len(tidy) == len(res.metrics)
    for _, row in tidy.iterrows():
        assert wide.loc[row["scenario"], row["metric"]] == row["value"]
        assert wide.loc[row["scenario"], f"{row['metric']}_mcse"] == row["mcse"]
    metrics = set(tidy["metric"])
    assert set(wide.columns) >= metrics | {f"{m}_mcse" for m in metrics} | {"theta"}
    # one metric per scenario
    p = res.metric("p_success")
    assert list(p["scenario"]) == res.scenarios.labels
    np.testing.assert_array_equal(p["value"].to_numpy(), wide["p_success"].to_numpy())
    sub = res.summary(wide=True, metrics=["p_success"])
    assert list(sub.columns[-2:]) == ["p_success", "p_success_mcse"]


@SETTINGS
@given(results())
def test_save_load_roundtrip(res):
    with tempfile.TemporaryDirectory() as tmp:
        res.save(tmp)
        back = OCResult.load(tmp)
    assert back.compare(res) == [] and res.compare(back) == []
    assert back.scenarios == res.scenarios
    assert back.method == res.method
    assert back.n_trials == res.n_trials
    # the design is rebuilt from its recorded specification (None if not registered)
    if back.design is not None:
        assert type(back.design) is type(res.design)
        assert back.design.to_dict() == res.design.to_dict()
    assert back.provenance["design"] == res.provenance["design"]
    pd.testing.assert_frame_equal(back.summary(wide=True), res.summary(wide=True))


@SETTINGS
@given(results())
def test_to_dict_is_json_safe(res):
    import json

    d = json.loads(json.dumps(res.to_dict()))
    assert d["method"] == res.method
    assert len(d["metrics"]) == len(res.metrics)
    assert ScenarioGrid.from_dict(d["scenarios"]) == res.scenarios
