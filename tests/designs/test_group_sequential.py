"""Group-sequential designs: invariants, edge designs, the engine hooks, power
conventions, monitoring (conditional power, operating characteristics), result objects
and bad input. Reference values and Monte Carlo cross-checks are in
test_group_sequential_reference.py."""

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

from rdstats.designs import _gs_boundaries as gsb
from rdstats.designs import _spending as sp
from rdstats.designs._group_sequential import GroupSequentialDesign
from rdstats.designs._gs_results import GroupSequentialCharacteristics, GroupSequentialSampleSize
from rdstats.simulate import ScenarioGrid, operating_characteristics


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
    user = GroupSequentialDesign(kmax=3, spending=sp.UserSpending((0.0, 0.01, 0.025)))
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
        ({"spending": sp.UserSpending((0.01, 0.025))}, ValueError, "kmax=3"),
        ({"spending": sp.UserSpending((0.01, 0.02, 0.03))}, ValueError, "total error"),
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
        sp.UserSpending((0.02, 0.01))
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


# -- review fixes: infeasible boundaries, power conventions, plots, monitoring ------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        {"kmax": 5, "alpha": 0.0025, "spending": "HP"},
        {"kmax": 3, "alpha": 0.025, "spending": sp.HaybittlePeto(2.0)},
        {"kmax": 3, "alpha": 0.025, "spending": sp.HaybittlePeto(1.0)},
        {"kmax": 2, "alpha": 0.0025, "sided": 2, "spending": "HP"},
        {"kmax": 3, "spending": sp.HaybittlePeto(1.5), "futility": (0.0, 0.0)},
    ],
)
def test_haybittle_peto_interim_spending_too_much(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"Haybittle-Peto interim bound z=.* already spends"):
        GroupSequentialDesign(**kwargs)


def test_haybittle_peto_just_feasible_and_bounded_brackets() -> None:
    interim = float(stats.norm.sf(3.0))  # one interim look at z = 3 spends this
    design = GroupSequentialDesign(kmax=2, alpha=interim * 1.02, spending="HP")
    assert design.alpha_spent[-1] == pytest.approx(interim * 1.02, abs=1e-10)
    assert design.critical_values[-1] > 3.0
    with pytest.raises(ValueError, match="no bracket for the drift"):
        gsb._expand(lambda x: True, 1.0, "the drift")
    assert gsb._expand(lambda x: x < 10, 1.0, "x", step=3.0) == 10.0


@pytest.mark.parametrize("two_sided_power", [False, True])
def test_power_reported_consistently(two_sided_power: bool) -> None:
    design = GroupSequentialDesign(
        kmax=4, alpha=0.05, beta=0.1, sided=2, spending="asP", two_sided_power=two_sided_power
    )
    ch = design.characteristics()
    summary = design.summary()["cumulative_power"].to_numpy()
    np.testing.assert_allclose(summary, ch.power, atol=1e-15)
    assert summary[-1] == pytest.approx(design.power(1.0), abs=1e-15)
    assert summary[-1] == pytest.approx(0.9, abs=1e-8)
    oc = design.oc([1.0, -1.0])
    np.testing.assert_allclose(oc[[f"reject_{k}" for k in range(1, 5)]].iloc[0], ch.rejection_h1)
    lower = oc["power"].iloc[1]  # the alternative in the other direction
    assert (lower > 0.85) if two_sided_power else (lower < 1e-4)
    assert ch.rejection_h0.sum() == pytest.approx(0.05, abs=1e-9)  # type I error: both sides


def test_plots_against_information_fraction() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = (0.15, 0.3, 0.8, 1.0)
    design = GroupSequentialDesign(
        kmax=4, spending="asOF", information_rates=rates, futility=(-1.0, 0.0, 0.5)
    )
    ax = design.plot()
    assert ax.get_xlabel() == "information fraction"
    for line in ax.lines[:2]:  # critical values, futility bounds
        np.testing.assert_allclose(line.get_xdata(), rates[: len(line.get_xdata())])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), design.critical_values)
    ax = design.characteristics().plot()
    np.testing.assert_allclose(ax.lines[0].get_xdata(), rates)
    plt.close("all")


def test_boundary_parameter_ranges() -> None:
    for bad in (5.0, -0.51, 1.01):
        with pytest.raises(ValueError, match=r"delta must lie in \[-0.5, 1\]"):
            sp.WangTsiatis(bad)
    for edge in (-0.5, 1.0):
        design = GroupSequentialDesign(kmax=3, spending=sp.WangTsiatis(edge))
        assert design.alpha_spent[-1] == pytest.approx(0.025, abs=1e-9)
    for bad_z in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="z must"):
            sp.HaybittlePeto(bad_z)
    for bad_gamma in (0.0, float("inf")):
        with pytest.raises(ValueError, match="gamma"):
            sp.KimDeMetsSpending(bad_gamma)
    for bad_gamma in (float("-inf"), 701.0):
        with pytest.raises(ValueError, match="gamma"):
            sp.HwangShihDeCaniSpending(bad_gamma)
    with pytest.raises(TypeError, match="delta"):
        sp.WangTsiatis("0.2")  # type: ignore[arg-type]


def test_oc_table() -> None:
    binding = GroupSequentialDesign(
        kmax=3, spending="asOF", futility=(0.0, 0.5), binding_futility=True
    )
    oc = binding.oc(np.array([0.0, 0.5, 1.0]))
    assert list(oc.columns) == [
        "theta",
        "power",
        "early_stop",
        "expected_information",
        "reject_1",
        "reject_2",
        "reject_3",
        "futility_1",
        "futility_2",
    ]
    assert oc["power"].iloc[0] == pytest.approx(binding.alpha_spent[-1], abs=1e-10)
    assert oc["power"].iloc[2] == pytest.approx(0.8, abs=1e-9)
    rej, fut = binding.stage_probabilities(0.5)
    assert oc["early_stop"].iloc[1] == pytest.approx(rej[:2].sum() + fut[:2].sum(), abs=1e-15)
    assert oc["expected_information"].iloc[1] == pytest.approx(
        binding.expected_information(0.5), abs=1e-15
    )
    assert np.all(np.diff(oc["power"]) > 0)
    free = GroupSequentialDesign(kmax=3, spending="asOF", futility="asOF")
    oc = free.oc(0.0)
    assert len(oc) == 1 and oc["power"].iloc[0] < 0.025  # non-binding bounds obeyed
    plain = GroupSequentialDesign(kmax=2).oc([0.0, 1.0])
    assert "futility_1" not in plain
    np.testing.assert_allclose(plain["power"], [0.025, 0.8], atol=1e-9)
    for bad, error in (([[0.0, 1.0]], ValueError), ([], ValueError), ("a", TypeError)):
        with pytest.raises(error, match="theta"):
            free.oc(bad)
    with pytest.raises(ValueError, match="theta"):
        free.oc([float("nan")])


def test_conditional_power_surface_and_bad_input() -> None:
    design = GroupSequentialDesign(kmax=3, spending="asOF")
    cp = np.asarray(design.conditional_power([0.0, 1.0, 2.0], look=1))
    assert cp.shape == (3,) and np.all(np.diff(cp) > 0)
    t = design.information_rates[0]
    trend = design.conditional_power(1.2, 1, "trend")
    assert trend == pytest.approx(
        design.conditional_power(1.2, 1, 1.2 / math.sqrt(t) / design.drift), abs=1e-14
    )
    two = GroupSequentialDesign(kmax=3, alpha=0.05, sided=2, two_sided_power=True)
    for theta in ("trend", "null"):  # symmetric boundaries, both directions counted
        assert two.conditional_power(-1.5, 1, theta) == pytest.approx(
            two.conditional_power(1.5, 1, theta), abs=1e-12
        )
    for look, error in ((0, ValueError), (3, ValueError), (True, TypeError), (1.0, TypeError)):
        with pytest.raises(error, match="look"):
            design.conditional_power(1.0, look)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="theta"):
        design.conditional_power(1.0, 1, "alternative")
    with pytest.raises(ValueError, match="theta"):
        design.conditional_power(1.0, 1, float("inf"))
    with pytest.raises(TypeError, match="z"):
        design.conditional_power("1", 1)
    with pytest.raises(ValueError, match="kmax"):
        GroupSequentialDesign(kmax=1).conditional_power(1.0, 1)
