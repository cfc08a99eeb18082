"""Group-sequential designs: rpact and published reference values, Monte Carlo
cross-checks of the recursive integration, invariants, the engine hooks and bad input."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from rdstats.designs import _spending as sp
from rdstats.designs._group_sequential import GroupSequentialDesign
from rdstats.designs._gs_kernels import crossing_probabilities, stopping_distribution
from rdstats.designs._gs_results import GroupSequentialCharacteristics, GroupSequentialSampleSize
from rdstats.simulate import ScenarioGrid, operating_characteristics

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
RPACT = json.loads((REFERENCE / "group_sequential_rpact.json").read_text())["cases"]
JT = json.loads((REFERENCE / "group_sequential_jennison_turnbull.json").read_text())["cases"]
N_MC = 200_000


def _spec(d: dict[str, Any]) -> Any:
    d = dict(d)
    cls = getattr(sp, d.pop("type"))
    if "values" in d:
        d["values"] = tuple(d["values"])
    return cls(**d)


def design_from(inputs: dict[str, Any]) -> GroupSequentialDesign:
    fut = inputs.get("futility")
    if isinstance(fut, dict):
        fut = _spec(fut)
    return GroupSequentialDesign(
        kmax=inputs["kmax"],
        alpha=inputs["alpha"],
        beta=inputs.get("beta", 0.2),
        sided=inputs.get("sided", 1),
        spending=_spec(inputs["spending"]),
        information_rates=inputs.get("information_rates"),
        futility=fut,
        binding_futility=inputs.get("binding_futility", False),
        two_sided_power=inputs.get("two_sided_power", False),
    )


def computed(design: GroupSequentialDesign, inputs: dict[str, Any]) -> dict[str, Any]:
    """Every quantity a reference case may name, computed by rdstats."""
    ch = design.characteristics()
    got: dict[str, Any] = {
        "critical_values": design.critical_values,
        "stage_levels": design.stage_levels,
        "alpha_spent": design.alpha_spent,
        "futility_bounds": design.futility_bounds[:-1],
        "shift": design.drift**2,
        "inflation_factor": design.inflation_factor,
        "power": ch.power,
        "futility_probabilities": ch.futility_h1,
        "beta_spent": np.cumsum(design.stage_probabilities(1.0)[1]),
        "asn_h0": ch.asn_h0,
        "asn_h01": ch.asn_h01,
        "asn_h1": ch.asn_h1,
    }
    endpoint = inputs.get("endpoint")
    if endpoint is not None:
        if endpoint == "means":
            ss = design.sample_size_means(
                inputs["difference"],
                inputs["sd"],
                groups=inputs["groups"],
                allocation=inputs.get("allocation", 1.0),
            )
        elif endpoint == "rates":
            ss = design.sample_size_rates(
                inputs["pi1"], inputs["pi2"], allocation=inputs.get("allocation", 1.0)
            )
        else:
            ss = design.sample_size_survival(
                inputs["hazard_ratio"], allocation=inputs.get("allocation", 1.0)
            )
        got.update(
            n_fixed=ss.n_fixed,
            n_max=ss.n_max,
            n_per_stage=ss.n_per_look,
            expected_n_h0=ss.expected_n["h0"],
            expected_n_h1=ss.expected_n["h1"],
            critical_effect=ss.critical_effect,
            futility_effect=ss.futility_effect[:-1],
            events_fixed=ss.n_fixed,
            events_max=ss.n_max,
            events_per_stage=ss.n_per_look,
        )
    return got


# -- reference values -------------------------------------------------------------------------
@pytest.mark.parametrize("case", RPACT, ids=[c["name"] for c in RPACT])
def test_rpact_reference(case: dict[str, Any]) -> None:
    design = design_from(case["inputs"])
    got = computed(design, case["inputs"])
    for key, expected in case["expected"].items():
        exp = np.asarray(expected, dtype=float)
        if key == "futility_bounds" and np.all(exp == -6):  # rpact's code for "none"
            assert design.futility is None
            continue
        tol = case["tolerance"]
        np.testing.assert_allclose(
            got[key],
            exp,
            rtol=tol.get("rel", 0.0),
            atol=tol["abs"],
            err_msg=f"{case['name']}: {key}",
        )


def test_visible_reference_values() -> None:
    of = GroupSequentialDesign(kmax=3, alpha=0.025, spending="OF")
    np.testing.assert_allclose(of.critical_values, [3.4710914, 2.4544323, 2.0040356], atol=1e-7)
    np.testing.assert_allclose(of.alpha_spent, [0.00025917, 0.00716006, 0.025], atol=1e-8)
    asof = GroupSequentialDesign(kmax=3, alpha=0.025, spending="asOF")
    np.testing.assert_allclose(asof.critical_values, [3.7103029, 2.5114275, 1.9930475], atol=1e-7)


@pytest.mark.parametrize("case", JT, ids=[c["name"] for c in JT])
def test_jennison_turnbull_constants(case: dict[str, Any]) -> None:
    design = design_from(case["inputs"])
    k = case["inputs"]["kmax"]
    constant = design.critical_values[-1]  # C_P, and C_B = c_K for O'Brien-Fleming
    assert constant == pytest.approx(case["expected"]["constant"], abs=case["tolerance"]["abs"])
    if case["inputs"]["spending"]["type"] == "OBrienFleming":
        np.testing.assert_allclose(
            design.critical_values, constant * np.sqrt(k / np.arange(1, k + 1)), rtol=1e-12
        )


def test_grid_convergence() -> None:
    """Boundaries agree to 1e-8 between the default grid and a 3x finer one."""
    for spending in ("OF", "asP"):
        coarse = GroupSequentialDesign(kmax=5, spending=spending)
        fine = GroupSequentialDesign(kmax=5, spending=spending, grid=96)
        np.testing.assert_allclose(coarse.critical_values, fine.critical_values, atol=2e-8)
        assert coarse.drift == pytest.approx(fine.drift, abs=1e-7)


# -- Monte Carlo cross-checks ---------------------------------------------------------------
def simulate_z(t: np.ndarray, drift: float, n: int, seed: int) -> np.ndarray:
    """Z_1..Z_K drawn jointly from their multivariate normal distribution (Cholesky of
    Cov(Z_i, Z_j) = sqrt(t_i / t_j), i <= j), independent of the design's own code."""
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    chol = np.linalg.cholesky(cov)
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, t.size)) @ chol.T + drift * np.sqrt(t)


def mc_stage_probabilities(design: GroupSequentialDesign, theta: float, seed: int) -> np.ndarray:
    t = np.asarray(design.information_rates)
    z = simulate_z(t, theta * design.drift, N_MC, seed)
    c = np.asarray(design.critical_values)
    reject = (np.abs(z) if design.sided == 2 else z) >= c
    stop = reject | (z <= np.asarray(design.futility_bounds))
    stop[:, -1] = True
    look = np.argmax(stop, axis=1)
    success = reject[np.arange(N_MC), look]
    k = design.kmax
    rej = np.bincount(look[success], minlength=k) / N_MC
    fut = np.bincount(look[~success], minlength=k) / N_MC
    return np.concatenate([rej, fut[:-1]])


def assert_within_mc(simulated: np.ndarray, exact: np.ndarray, n: int = N_MC) -> None:
    se = np.sqrt(np.maximum(exact * (1 - exact), 1.0 / n) / n)
    assert np.all(np.abs(simulated - exact) <= 4 * se), (simulated, exact, se)


MC_DESIGNS = {
    "OF": {"kmax": 4, "spending": "OF"},
    "asP unequal": {"kmax": 3, "spending": "asP", "information_rates": (0.3, 0.6, 1.0)},
    "two-sided HSD": {
        "kmax": 4,
        "alpha": 0.05,
        "sided": 2,
        "spending": sp.HwangShihDeCaniSpending(-2),
    },
    "beta-spending binding": {
        "kmax": 3,
        "spending": "asOF",
        "futility": sp.KimDeMetsSpending(2),
        "binding_futility": True,
    },
    "fixed futility": {"kmax": 3, "spending": "HP", "futility": (0.0, 0.5)},
}


@pytest.mark.parametrize("name", list(MC_DESIGNS))
@pytest.mark.parametrize("theta", [0.0, 1.0])
def test_exact_matches_independent_simulation(name: str, theta: float) -> None:
    design = GroupSequentialDesign(**MC_DESIGNS[name])
    rej, fut = design.stage_probabilities(theta)
    exact = np.concatenate([rej, fut[:-1]])
    seed = 1000 + list(MC_DESIGNS).index(name) + int(10 * theta)
    assert_within_mc(mc_stage_probabilities(design, theta, seed), exact)


def test_kernel_against_simulation_with_both_bounds() -> None:
    t = np.array([0.2, 0.5, 0.7, 1.0])
    upper = np.array([2.8, 2.4, 2.2, 2.0])
    lower = np.array([-1.0, 0.0, 0.5, 2.0])
    up, low = crossing_probabilities(t, upper, lower, 1.3)
    z = simulate_z(t, 1.3, N_MC, 7)
    stop = (z >= upper) | (z <= lower)
    look = np.argmax(stop, axis=1)
    hit = z[np.arange(N_MC), look] >= upper[look]
    assert_within_mc(np.bincount(look[hit], minlength=4) / N_MC, up)
    assert_within_mc(np.bincount(look[~hit], minlength=4) / N_MC, low)
    assert up.sum() + low.sum() == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("name", list(MC_DESIGNS))
def test_stopping_distribution_quadrature(name: str) -> None:
    """Simpson weights of the stopping regions sum to the exit probabilities."""
    design = GroupSequentialDesign(**MC_DESIGNS[name])
    rej, fut = design.stage_probabilities(0.7)
    pieces = stopping_distribution(
        np.asarray(design.information_rates),
        np.asarray(design.critical_values),
        np.asarray(design.futility_bounds),
        0.7 * design.drift,
        design.sided == 2,
    )
    k = design.kmax
    got_rej = np.zeros(k)
    got_fut = np.zeros(k)
    for look, rejected, _, w in pieces:
        (got_rej if rejected else got_fut)[look] += w.sum()
    # Simpson on the log-spaced tail nodes: about 1e-5 relative (the engine rescales
    # the weights to the exact region probabilities)
    np.testing.assert_allclose(got_rej, rej, rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(got_fut[:-1], fut[:-1], rtol=1e-4, atol=1e-9)
    assert got_rej.sum() + got_fut.sum() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("name", ["OF", "two-sided HSD", "beta-spending binding"])
def test_engine_exact_equals_simulated(name: str) -> None:
    design = GroupSequentialDesign(**MC_DESIGNS[name])
    grid = ScenarioGrid.cartesian(theta=[0.0, 0.5, 1.0])
    exact = operating_characteristics(design, grid, method="exact").metrics
    mc = operating_characteristics(design, grid, n_trials=40_000, rng=3, progress=False).metrics
    merged = exact.merge(mc, on=["scenario", "metric"], suffixes=("_exact", "_mc"))
    keep = ["p_success", "n_mean", "p_early_stop", "estimate_mean", "bias", "rmse"]
    merged = merged[merged["metric"].isin(keep)]
    assert len(merged) == 18
    for row in merged.itertuples():
        assert abs(row.value_mc - row.value_exact) <= 4 * row.mcse_mc + 1e-12, row


def test_engine_outcomes_and_sample_size_design() -> None:
    design = GroupSequentialDesign(kmax=3, spending="asOF", futility=(0.0, 0.5))
    out, w = design._exact({"theta": 1.0})
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    assert set(out) == {"success", "stopped_at", "n_enrolled", "estimate"}
    ss = design.sample_size_means(0.5, 1.0)
    grid = ScenarioGrid.cartesian(theta=[0.0, 1.0])
    res = operating_characteristics(ss, grid, method="exact").metrics
    n_mean = res[(res.metric == "n_mean")].set_index("theta")["value"]
    assert n_mean[0.0] == pytest.approx(ss.expected_n["h0"], rel=1e-9)
    assert n_mean[1.0] == pytest.approx(ss.expected_n["h1"], rel=1e-9)
    power = res[(res.metric == "power")]["value"].iloc[0]
    assert power == pytest.approx(design.power(1.0), abs=1e-12)
    sim = ss._simulate({"theta": 1.0}, 100, np.random.default_rng(1))
    assert set(np.unique(sim["n_enrolled"])) <= set(ss.n_per_look)


# -- invariants -------------------------------------------------------------------------------
SPENDINGS = st.sampled_from(
    [
        sp.OBrienFlemingSpending(),
        sp.PocockSpending(),
        sp.KimDeMetsSpending(1.5),
        sp.HwangShihDeCaniSpending(-3),
        sp.HwangShihDeCaniSpending(2),
    ]
)
FAST = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(
    spending=SPENDINGS,
    kmax=st.integers(1, 5),
    alpha=st.floats(0.001, 0.2),
    sided=st.sampled_from([1, 2]),
)
def test_spending_designs_spend_exactly(spending: Any, kmax: int, alpha: float, sided: int) -> None:
    design = GroupSequentialDesign(kmax=kmax, alpha=alpha, sided=sided, spending=spending)
    t = np.asarray(design.information_rates)
    per_side = spending.cumulative(t, alpha / sided if sided == 2 else alpha)
    target = per_side * (2 if sided == 2 else 1)
    target[-1] = alpha
    np.testing.assert_allclose(design.alpha_spent, target, atol=1e-9)
    assert np.all(np.diff(design.alpha_spent) >= -1e-15)
    if kmax == 1:
        assert design.critical_values[0] == pytest.approx(stats.norm.isf(alpha / sided))
        assert design.inflation_factor == pytest.approx(1.0, abs=1e-9)


@FAST
@given(kmax=st.integers(2, 5), delta=st.floats(0.0, 0.6), alpha=st.floats(0.005, 0.1))
def test_classical_shape_and_power(kmax: int, delta: float, alpha: float) -> None:
    design = GroupSequentialDesign(kmax=kmax, alpha=alpha, spending=sp.WangTsiatis(delta))
    c = design.critical_values
    t = np.asarray(design.information_rates)
    np.testing.assert_allclose(c / t ** (delta - 0.5), c[-1], rtol=1e-12)
    assert design.alpha_spent[-1] == pytest.approx(alpha, abs=1e-9)
    assert design.power(1.0) == pytest.approx(1 - design.beta, abs=1e-9)
    assert design.inflation_factor >= 1 - 1e-9
    powers = [design.power(th) for th in (0.0, 0.5, 1.0, 1.5)]
    assert np.all(np.diff(powers) > 0)
    assert 0.0 < design.expected_information(0.0) <= 1.0


@FAST
@given(kmax=st.integers(2, 4), beta=st.floats(0.05, 0.3), binding=st.booleans())
def test_beta_spending_meets_at_the_end(kmax: int, beta: float, binding: bool) -> None:
    design = GroupSequentialDesign(
        kmax=kmax, beta=beta, spending="asOF", futility="asOF", binding_futility=binding
    )
    assert design.futility_bounds[-1] == design.critical_values[-1]
    assert np.all(design.futility_bounds[:-1] <= design.critical_values[:-1])
    assert design.power(1.0) == pytest.approx(1 - beta, abs=1e-7)
    _, fut = design.stage_probabilities(1.0)
    target = sp.OBrienFlemingSpending().cumulative(design.information_rates, beta)
    np.testing.assert_allclose(np.cumsum(fut)[:-1], target[:-1], atol=1e-8)
    if binding:
        assert design.alpha_spent[-1] == pytest.approx(0.025, abs=1e-9)
    else:
        assert design.power(0.0) < 0.025


def test_binding_futility_lowers_critical_values() -> None:
    free = GroupSequentialDesign(kmax=3, spending="asP", futility=(0.0, 0.0))
    bound = GroupSequentialDesign(
        kmax=3, spending="asP", futility=(0.0, 0.0), binding_futility=True
    )
    assert np.all(bound.critical_values[1:] < free.critical_values[1:])
    assert bound.critical_values[0] == pytest.approx(free.critical_values[0], abs=1e-12)


def test_edge_designs() -> None:
    """Looks that spend nothing never stop; one look is the fixed design; non-binding
    β-spending works with classical boundaries too (rpact allows it for α-spending only)."""
    user = GroupSequentialDesign(kmax=3, spending=sp.UserSpending([0.0, 0.01, 0.025]))
    assert user.critical_values[0] == np.inf
    out, w = user._exact({"theta": 1.0})
    assert w[out["stopped_at"] == 1].sum() == 0.0
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    for spending in ("OF", "HP", "asOF"):
        one = GroupSequentialDesign(kmax=1, spending=spending)
        assert one.critical_values[0] == pytest.approx(stats.norm.isf(0.025), abs=1e-9)
        assert one.drift == pytest.approx(stats.norm.isf(0.025) + stats.norm.isf(0.2), abs=1e-9)
    hp = GroupSequentialDesign(kmax=3, spending="HP", futility="asOF")
    np.testing.assert_allclose(hp.critical_values[:2], 3.0)
    assert hp.power(1.0) == pytest.approx(0.8, abs=1e-7)
    assert hp.futility_bounds[-1] == hp.critical_values[-1]


def test_two_sided_is_symmetric() -> None:
    design = GroupSequentialDesign(kmax=3, alpha=0.05, sided=2, spending="OF")
    up = design.stage_probabilities(1.0)[0]
    np.testing.assert_allclose(design.stage_probabilities(-1.0)[0], up, atol=1e-12)
    assert design.stage_probabilities(0.0)[0].sum() == pytest.approx(0.05, abs=1e-9)
    both = GroupSequentialDesign(kmax=3, alpha=0.05, sided=2, two_sided_power=True)
    assert both.power(-1.0) == pytest.approx(both.power(1.0), abs=1e-10)
    assert both.power(1.0) == pytest.approx(0.8, abs=1e-9)
    assert design.power(1.0) == pytest.approx(0.8, abs=1e-9)  # upper boundary only
    assert abs(both.drift - design.drift) < 1e-4


def test_spending_functions() -> None:
    t = np.linspace(0, 1, 11)
    for f in (
        sp.OBrienFlemingSpending(),
        sp.PocockSpending(),
        sp.KimDeMetsSpending(3),
        sp.HwangShihDeCaniSpending(0),
        sp.HwangShihDeCaniSpending(-4),
    ):
        v = f.cumulative(t, 0.05)
        assert v[0] == pytest.approx(0.0, abs=1e-15)
        assert v[-1] == pytest.approx(0.05, rel=1e-12)
        assert np.all(np.diff(v) >= 0)
    np.testing.assert_allclose(sp.HwangShihDeCaniSpending(0).cumulative(t, 0.05), 0.05 * t)


# -- result objects ---------------------------------------------------------------------------
def test_results_surface(tmp_path: Path) -> None:
    design = GroupSequentialDesign(kmax=3, spending="asOF", futility="asOF")
    ch = design.characteristics()
    ss = design.sample_size_rates(0.4, 0.2)
    assert isinstance(ch, GroupSequentialCharacteristics)
    assert isinstance(ss, GroupSequentialSampleSize)
    for obj in (design, ch, ss):
        df = obj.summary()
        assert len(df) == 3
        json.dumps(obj.to_dict())
        assert "<table" in obj._repr_html_()
    with pytest.raises(ValueError):
        design.critical_values[0] = 1.0
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for obj in (design, ch, ss):
        ax = obj.plot()
        assert ax.get_xlabel()
        plt.close("all")
    two = GroupSequentialDesign(kmax=3, alpha=0.05, sided=2)
    ax = two.plot()
    assert len(ax.lines) >= 2
    plt.close("all")


def test_import_does_not_load_matplotlib() -> None:
    code = "import sys, rdstats.designs._group_sequential; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_effect_scale_directions() -> None:
    design = GroupSequentialDesign(kmax=2, spending="asOF")
    up = design.sample_size_means(0.5, 1.0).critical_effect
    down = design.sample_size_means(-0.5, 1.0).critical_effect
    np.testing.assert_allclose(up, -down)
    hr = design.sample_size_survival(1.25).critical_effect
    assert np.all(hr > 1)
    r = design.sample_size_rates(0.2, 0.4).critical_effect
    assert np.all(r < 0)
    ss = design.sample_size_means(0.5, 1.0, groups=1)
    assert ss.n_max == pytest.approx(design.drift**2 / 0.25)
    assert math.isclose(ss.n_per_look[-1], ss.n_max)


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"kmax": 0}, ValueError, "kmax"),
        ({"kmax": 2.5}, ValueError, "kmax"),
        ({"alpha": 0.6}, ValueError, "alpha"),
        ({"alpha": "0.05"}, TypeError, "alpha"),
        ({"beta": 0.99}, ValueError, "beta"),
        ({"alpha": 0.9, "sided": 2}, ValueError, "beta"),
        ({"sided": 3}, ValueError, "sided"),
        ({"spending": "XX"}, ValueError, "spending"),
        ({"spending": 3}, TypeError, "spending"),
        ({"information_rates": (0.5, 0.4, 1.0)}, ValueError, "information_rates"),
        ({"information_rates": (0.5, 1.0)}, ValueError, "information_rates"),
        ({"futility": (0.0,)}, ValueError, "futility"),
        ({"futility": (0.0, 5.0)}, ValueError, "futility"),
        ({"futility": "OF"}, TypeError, "futility"),
        ({"futility": 1.0}, TypeError, "futility"),
        ({"sided": 2, "alpha": 0.05, "futility": (0.0, 0.0)}, ValueError, "one-sided"),
        ({"futility": "asOF", "binding_futility": True}, ValueError, "binding"),
        ({"binding_futility": "yes"}, TypeError, "binding_futility"),
        ({"grid": 2}, ValueError, "grid"),
        ({"spending": sp.UserSpending([0.01, 0.025])}, ValueError, "kmax=3"),
        ({"spending": sp.UserSpending([0.01, 0.02, 0.03])}, ValueError, "total error"),
    ],
)
def test_bad_design_input(kwargs: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        GroupSequentialDesign(**kwargs)


def test_bad_spending_and_sample_size_input() -> None:
    with pytest.raises(ValueError, match="gamma"):
        sp.KimDeMetsSpending(-1)
    with pytest.raises(ValueError, match="gamma"):
        sp.HwangShihDeCaniSpending(float("nan"))
    with pytest.raises(ValueError, match="values"):
        sp.UserSpending([0.02, 0.01])
    with pytest.raises(TypeError, match="values"):
        sp.UserSpending("abc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="delta"):
        sp.OBrienFleming(0.3)
    with pytest.raises(ValueError, match="z"):
        sp.HaybittlePeto(-1)
    design = GroupSequentialDesign(kmax=2)
    with pytest.raises(ValueError, match="difference"):
        design.sample_size_means(0.0, 1.0)
    with pytest.raises(ValueError, match="sd"):
        design.sample_size_means(0.5, -1.0)
    with pytest.raises(ValueError, match="groups"):
        design.sample_size_means(0.5, 1.0, groups=3)
    with pytest.raises(ValueError, match="pi1"):
        design.sample_size_rates(1.2, 0.3)
    with pytest.raises(ValueError, match="differ"):
        design.sample_size_rates(0.3, 0.3)
    with pytest.raises(ValueError, match="hazard_ratio"):
        design.sample_size_survival(1.0)
    with pytest.raises(ValueError, match="allocation"):
        design.sample_size_survival(0.7, allocation=0)
    with pytest.raises(TypeError, match="theta"):
        design.power("1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="theta"):
        operating_characteristics(
            design, ScenarioGrid.cartesian(theta=[float("inf")]), method="exact"
        )
