"""NormalHybridControlDesign: closed forms (z-test, conjugate normal control prior),
Monte Carlo cross-checks of the quadrature OCs, decision boundary, empirical-Bayes power
prior, calibration and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from rdstats.borrowing import (
    NormalEBPowerBorrowing,
    NormalHybridControlDesign,
    NormalPriorBorrowing,
    compare_borrowing,
)
from rdstats.designs import DecisionRule
from rdstats.priors import NormalMixture, robustify
from rdstats.simulate import ScenarioGrid

Z975 = stats.norm.ppf(0.975)
ROBUST = robustify(
    NormalMixture([0.6, 0.4], [-50.0, -45.0], [10.0, 20.0], sigma=88.0), 0.2, mean=-50.0
)


def p_success(design: NormalHybridControlDesign, tt: float, tc: float) -> float:
    return float(design.oc([tt], [tc]).loc[0, "p_success"])


@pytest.mark.parametrize("diff", [0.0, 0.25, 0.5, -0.3])
def test_flat_priors_give_the_two_sample_z_test(diff: float) -> None:
    d = NormalHybridControlDesign(40, 25, sigma=1.0, borrowing=None)
    se = math.sqrt(1 / 40 + 1 / 25)
    assert p_success(d, diff, 0.0) == pytest.approx(stats.norm.sf(Z975 - diff / se), abs=1e-10)


@pytest.mark.parametrize("tc", [-0.2, 0.0, 0.3])
def test_normal_control_prior_matches_the_closed_form(tc: float) -> None:
    """Control prior N(m0, s0^2), flat treatment prior: the decision is linear in the two
    means, so P(success) is one normal probability."""
    m0, s0, n_t, n_c, tt = -0.1, 0.2, 30, 15, 0.3
    d = NormalHybridControlDesign(n_t, n_c, 1.0, NormalMixture(1.0, m0, s0, sigma=1.0))
    sc2, st2 = 1 / n_c, 1 / n_t
    vc = 1 / (1 / s0**2 + 1 / sc2)
    k, c = vc / sc2, vc * m0 / s0**2  # posterior mean of theta_c = k ybar_c + c
    mean, sd = tt - k * tc - c, math.sqrt(st2 + k * k * sc2)
    expected = stats.norm.sf((Z975 * math.sqrt(st2 + vc) - mean) / sd)
    oc = d.oc([tt], [tc])
    assert float(oc.loc[0, "p_success"]) == pytest.approx(expected, abs=1e-10)
    # bias of the estimated difference and borrowed controls, also closed form
    assert float(oc.loc[0, "bias"]) == pytest.approx(-(k * tc + c - tc), abs=1e-9)
    assert float(oc.loc[0, "borrowed"]) == pytest.approx(1 / vc - n_c, abs=1e-8)


@pytest.mark.parametrize(
    "borrowing",
    [ROBUST, NormalEBPowerBorrowing(-50.0, 300), None],
    ids=["robust mixture", "EB power", "flat"],
)
def test_quadrature_agrees_with_simulation(borrowing: object) -> None:
    d = NormalHybridControlDesign(40, 20, 88.0, borrowing)
    grid = ScenarioGrid({"theta_t": [-50.0, -10.0, 10.0], "theta_c": [-50.0, -40.0, 0.0]})
    exact = d.simulate(grid, method="exact").summary(wide=True)
    mc = d.simulate(grid, n_trials=40_000, rng=11, progress=False).summary(wide=True)
    p = exact["p_success"].to_numpy()
    se = np.sqrt(np.maximum(p * (1 - p), 1e-4) / 40_000)
    assert np.all(np.abs(p - mc["p_success"].to_numpy()) < 4.5 * se)
    np.testing.assert_allclose(exact["rmse"], mc["rmse"], rtol=0.02)
    np.testing.assert_allclose(exact["borrowed"], mc["borrowed"], rtol=0.02, atol=0.5)


def test_decision_boundary_is_where_the_posterior_probability_equals_the_threshold() -> None:
    d = NormalHybridControlDesign(40, 20, 88.0, ROBUST)
    yc = np.array([-120.0, -50.0, 0.0, 60.0, 300.0, 360.0])
    crit = d.decision_boundary(yc)["critical"].to_numpy()
    prob = d._outcomes(crit, yc, 0.0)["post_prob"]
    np.testing.assert_allclose(prob, 0.975, atol=1e-9)
    # the robust prior stops borrowing for far-off control means: the boundary then
    # follows the control mean nearly one to one (the robust component is worth one
    # patient: slope 20/21), as without borrowing
    flat = NormalHybridControlDesign(40, 20, 88.0, None).decision_boundary(yc)["critical"]
    assert abs((crit[-1] - crit[-2]) - (flat.iloc[-1] - flat.iloc[-2])) < 4.0
    assert abs((crit[3] - crit[2]) - (flat.iloc[3] - flat.iloc[2])) > 8.0  # still borrowing


def test_lower_tail_rule_mirrors_the_upper_tail() -> None:
    up = NormalHybridControlDesign(30, 30, 1.0, None, rule=DecisionRule(0.95, 0.0))
    down = NormalHybridControlDesign(30, 30, 1.0, None, rule=DecisionRule(0.95, 0.0, True))
    for diff in (0.0, 0.2, 0.5):
        assert p_success(down, -diff, 0.0) == pytest.approx(p_success(up, diff, 0.0), abs=1e-10)


def test_two_criteria_intersect() -> None:
    """Success needs P(diff > 0) > 0.975 and P(diff > 0.2) > 0.5: with flat priors that
    is ybar_t - ybar_c > max(1.96 se, 0.2)."""
    rule = DecisionRule([0.975, 0.5], [0.0, 0.2])
    d = NormalHybridControlDesign(20, 20, 1.0, None, rule=rule)
    se = math.sqrt(2 / 20)
    cut = max(Z975 * se, 0.2)
    assert p_success(d, 0.4, 0.0) == pytest.approx(stats.norm.sf((cut - 0.4) / se), abs=1e-9)


def test_eb_power_prior_discount() -> None:
    b = NormalEBPowerBorrowing(hist_mean=0.0, hist_n=100)
    y = np.array([0.0, 0.1, 0.3, 1.0, 3.0])
    a0 = b.a0(y, n_c=20, sigma=1.0)
    assert a0[0] == 1.0 and np.all(np.diff(a0) <= 0) and a0[-1] < 0.01
    # where the conflict exceeds the control SE, a0 solves d^2 = s0^2 / a0 + se^2
    assert (0.3**2) == pytest.approx(1 / (100 * a0[2]) + 1 / 20, rel=1e-12)
    _, m, _ = b.posterior(y, 20, 1.0)
    assert np.all((m[:, 0] >= 0) & (m[:, 0] <= y))  # shrunk towards the history


def test_no_borrowing_ignores_the_external_data() -> None:
    """Regression: a flat control prior's OCs cannot depend on any external data."""
    base = NormalHybridControlDesign(30, 15, 2.0, NormalPriorBorrowing.flat())
    other = NormalHybridControlDesign(30, 15, 2.0, None)
    a, b = base.oc([0.0, 1.0], [0.0, 0.5]), other.oc([0.0, 1.0], [0.0, 0.5])
    np.testing.assert_allclose(a["p_success"], b["p_success"], rtol=0, atol=0)


def test_calibrate_holds_the_type_i_error_over_drift() -> None:
    d = NormalHybridControlDesign(40, 20, 88.0, ROBUST)
    drift = [-80.0, -50.0, -20.0, 10.0]
    c = d.calibrate(theta_c=drift, alpha=0.025)
    errors = c.oc(drift, drift, paired=True)["p_success"]
    assert errors.max() <= 0.025 + 1e-9
    assert errors.max() == pytest.approx(0.025, abs=1e-6)
    assert c.rule.prob[0] > d.rule.prob[0]


def test_compare_borrowing_runs_normal_designs_side_by_side() -> None:
    designs = {
        "flat": NormalHybridControlDesign(40, 20, 88.0, None),
        "robust": NormalHybridControlDesign(40, 20, 88.0, ROBUST),
    }
    out = compare_borrowing(designs, ScenarioGrid({"theta_t": [-50.0], "theta_c": [-50.0]}))
    assert out["design"].tolist() == ["flat", "robust"]
    assert out.loc[1, "borrowed"] > 10 > abs(out.loc[0, "borrowed"])


@settings(max_examples=15, deadline=None)
@given(st.floats(-60.0, 40.0), st.floats(1.0, 30.0))
def test_power_increases_with_the_treatment_effect(tc: float, step: float) -> None:
    d = NormalHybridControlDesign(25, 15, 88.0, ROBUST)
    low, high = p_success(d, tc, tc), p_success(d, tc + step, tc)
    assert high >= low - 1e-12


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_t": 0}, "n_t must be a positive integer"),
        ({"n_c": 2.5}, "n_c must be a positive integer"),
        ({"sigma": 0.0}, "sigma must be a positive finite number"),
        ({"sigma": float("nan")}, "sigma must be a positive finite number"),
        ({"borrowing": "MAP"}, "borrowing must be a NormalMixture"),
        ({"prior_t": 3.0}, "prior_t must be a NormalMixture or None"),
        ({"rule": 0.975}, "rule must be a DecisionRule"),
    ],
)
def test_bad_input(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"n_t": 10, "n_c": 10, "sigma": 1.0, "borrowing": None}
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        NormalHybridControlDesign(**args)  # type: ignore[arg-type]


def test_bad_scenarios_and_mechanisms() -> None:
    d = NormalHybridControlDesign(10, 10, 1.0, None)
    with pytest.raises(ValueError, match="theta_t"):
        d.oc([float("inf")], [0.0])
    with pytest.raises(ValueError, match="hist_n must be a positive number"):
        NormalEBPowerBorrowing(0.0, -5)
    with pytest.raises(ValueError, match=r"a0_max must be in \(0, 1\]"):
        NormalEBPowerBorrowing(0.0, 5, a0_max=1.5)
    with pytest.raises(TypeError, match="prior must be a NormalMixture or None"):
        NormalPriorBorrowing("flat")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ybar_c must be finite"):
        d.decision_boundary([np.nan])
