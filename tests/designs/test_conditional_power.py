"""Conditional power and sample-size re-estimation (promising zone, Cui-Hung-Wang test).

Reference values live in ``tests/reference/conditional_power.json``; every case there was
computed without rdstats (closed forms, multivariate normal integration, brute-force
search, quadrature) and the cheap ones are recomputed here from scipy alone. Closed forms
are cross-checked by Monte Carlo with fixed seeds (tolerance 4 MCSE), and the type I
error of the adaptive trial is verified by simulating 200,000 two-stage trials.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from rdstats.designs._conditional_power import conditional_power
from rdstats.designs._conditional_power_result import ConditionalPower
from rdstats.designs._ssr import (
    SSRResult,
    chw_conditional_power,
    cui_hung_wang,
    naive_conditional_error,
    promising_zone,
    promising_zone_rule,
)

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "conditional_power.json"
CASES: list[dict[str, Any]] = json.loads(REFERENCE.read_text())["cases"]
C = float(stats.norm.isf(0.025))


def by_kind(kind: str) -> list[Any]:
    return [pytest.param(c, id=c["name"]) for c in CASES if c["kind"] == kind]


def close(actual: Any, expected: Any, tol: dict[str, float]) -> None:
    np.testing.assert_allclose(actual, expected, rtol=tol.get("rel", 0.0), atol=tol["abs"])


# -- reference values -----------------------------------------------------------------------
@pytest.mark.parametrize("case", by_kind("cp_final"))
def test_final_look_reference(case: dict[str, Any]) -> None:
    i, tol = case["inputs"], case["tolerance"]
    got = conditional_power(
        i["z_interim"], i["information_fraction"], i["critical_value"], theta=i["theta"]
    )
    close(got, case["expected"]["cp"], tol)
    t, z = i["information_fraction"], i["z_interim"]
    again = stats.norm.sf(
        (i["critical_value"] - z * math.sqrt(t) - i["theta"] * (1 - t)) / math.sqrt(1 - t)
    )
    close(again, case["expected"]["cp"], tol)


@pytest.mark.parametrize("case", by_kind("cp_multi"))
def test_multi_look_reference(case: dict[str, Any]) -> None:
    i = case["inputs"]
    got = conditional_power(
        i["z_interim"],
        i["information_fraction"],
        i["critical_value"],
        theta=i["theta"],
        information_rates=i["information_rates"],
        futility=i["futility"],
    )
    close(got, case["expected"]["cp"], case["tolerance"])


@pytest.mark.parametrize("case", by_kind("chw_cp"))
def test_chw_reference(case: dict[str, Any]) -> None:
    i, tol = case["inputs"], case["tolerance"]
    z, t, c = i["z_interim"], i["information_fraction"], i["critical_value"]
    ratio = i["n2_new"] / i["n2"]
    close(chw_conditional_power(z, t, c, ratio, i["theta"]), case["expected"]["cp"], tol)
    res = promising_zone(z, t, c, n2=i["n2"], n2_max=i["n2"] * 4)
    close(res.conditional_power(i["theta"], n2=i["n2_new"]), case["expected"]["cp"], tol)
    w1, w2 = math.sqrt(t), math.sqrt(1 - t)
    again = stats.norm.sf((c - w1 * z) / w2 - i["theta"] * math.sqrt((1 - t) * ratio))
    close(again, case["expected"]["cp"], tol)


@pytest.mark.parametrize("case", by_kind("promising_zone"))
def test_promising_zone_reference(case: dict[str, Any]) -> None:
    i, e, tol = case["inputs"], case["expected"], case["tolerance"]
    res = promising_zone(
        i["z_interim"],
        i["information_fraction"],
        i["critical_value"],
        n2=i["n2"],
        n2_max=i["n2_max"],
        cp_min=i["cp_min"],
        cp_target=i["cp_target"],
    )
    assert res.zone == e["zone"]
    assert res.n2_recommended == e["n2_recommended"]
    close(res.cp_trend, e["cp_trend"], tol)
    close(res.cp_trend_recommended, e["cp_trend_recommended"], tol)
    # brute force again, scipy only: smallest whole n2 reaching the target
    z, t, n2 = i["z_interim"], i["information_fraction"], i["n2"]
    b, trend = (i["critical_value"] - math.sqrt(t) * z) / math.sqrt(1 - t), z / math.sqrt(t)
    sizes = np.arange(n2, i["n2_max"] + 1)
    cps = stats.norm.sf(b - trend * np.sqrt((1 - t) * sizes / n2))
    if e["zone"] == "promising":
        reach = sizes[cps >= i["cp_target"]]
        assert e["n2_recommended"] == (reach[0] if reach.size else i["n2_max"])


@pytest.mark.parametrize("case", by_kind("type1"))
def test_type1_reference_by_quadrature(case: dict[str, Any]) -> None:
    """Exact type I error of the naive and CHW tests (trapezoid over z1 with rdstats kernels)."""
    i, e = case["inputs"], case["expected"]
    t, c = i["information_fraction"], i["critical_value"]
    z = np.linspace(-9.0, 9.0, 360_001)
    n2, _ = promising_zone_rule(z, t, c, i["n2"], i["n2_max"], i["cp_min"], i["cp_target"])
    dens = stats.norm.pdf(z)
    naive = np.trapezoid(naive_conditional_error(z, t, c, n2 / i["n2"]) * dens, z)
    chw = np.trapezoid(chw_conditional_power(z, t, c, n2 / i["n2"], 0.0) * dens, z)
    close(naive, e["alpha_naive"], case["tolerance"])
    close(chw, e["alpha_chw"], {"abs": 1e-9})


# -- Monte Carlo cross-checks ---------------------------------------------------------------
def assert_mc(hits: np.ndarray, exact: float, label: str) -> None:
    p = float(hits.mean())
    mcse = math.sqrt(max(exact * (1 - exact), 1e-12) / hits.size)
    assert abs(p - exact) < 4 * mcse, f"{label}: MC {p:.5f} vs exact {exact:.5f} (MCSE {mcse:.5f})"


@pytest.mark.parametrize("theta", ["trend", "null", 1.0, 3.0])
def test_final_look_cp_by_simulation(theta: Any) -> None:
    rng = np.random.default_rng(20261122)
    z1, t = 1.1, 0.4
    exact = conditional_power(z1, t, C, theta=theta)
    drift = {"trend": z1 / math.sqrt(t), "null": 0.0}.get(theta, theta)
    b_final = z1 * math.sqrt(t) + drift * (1 - t) + rng.standard_normal(200_000) * math.sqrt(1 - t)
    assert_mc(b_final >= C, exact, f"theta={theta}")


@pytest.mark.parametrize("futility", [None, [0.3, 0.8, 2.0]])
@pytest.mark.parametrize("theta", [0.0, 2.0])
def test_multi_look_cp_by_simulation(futility: Any, theta: float) -> None:
    """Brownian-motion paths from the interim through three more looks."""
    rng = np.random.default_rng(7)
    z1, t = 0.6, 0.25
    rates, upper = np.array([0.5, 0.75, 1.0]), np.array([2.8, 2.4, 2.0])
    lower = np.full(3, -np.inf) if futility is None else np.asarray(futility)
    exact = conditional_power(z1, t, upper, theta=theta, information_rates=rates, futility=futility)
    steps = np.diff(np.r_[t, rates])
    inc = rng.standard_normal((200_000, 3)) * np.sqrt(steps) + theta * steps
    z = (z1 * math.sqrt(t) + np.cumsum(inc, axis=1)) / np.sqrt(rates)
    alive = np.ones(z.shape[0], dtype=bool)
    hit = np.zeros(z.shape[0], dtype=bool)
    for j in range(3):
        cross = alive & (z[:, j] >= upper[j])
        hit |= cross
        alive &= ~cross & (z[:, j] > lower[j])
    assert_mc(hit, exact, f"futility={futility}, theta={theta}")


def test_from_means_by_patient_simulation() -> None:
    """Second-stage patients drawn with the design difference; final pooled z test."""
    rng = np.random.default_rng(11)
    m1, m2, sd, n, n_final, diff = 1.4, 0.2, 5.0, 30, 60, 3.0
    res = ConditionalPower.from_means(m1, m2, sd, n, n, n_final, n_final, C, difference=diff)
    assert res.cp_design is not None
    k, m = 100_000, n_final - n
    mean_new_1 = diff + rng.standard_normal(k) * sd / math.sqrt(m)
    mean_new_2 = rng.standard_normal(k) * sd / math.sqrt(m)
    final_1, final_2 = (n * m1 + m * mean_new_1) / n_final, (n * m2 + m * mean_new_2) / n_final
    z = (final_1 - final_2) / (sd * math.sqrt(2 / n_final))
    assert_mc(z >= C, res.cp_design, "from_means design")
    assert res.information_fraction == pytest.approx(0.5)


def test_from_rates_matches_z_and_information() -> None:
    res = ConditionalPower.from_rates(15, 30, 8, 30, 90, 90, C, p_1=0.5, p_2=0.3)
    pooled = 23 / 60
    z = (0.5 - 8 / 30) / math.sqrt(pooled * (1 - pooled) * 2 / 30)
    assert res.z_interim == pytest.approx(z, abs=1e-12)
    assert res.information_fraction == pytest.approx(1 / 3, abs=1e-12)
    delta = 0.2 / math.sqrt(0.4 * 0.6 * 2 / 90)
    assert res.delta == pytest.approx(delta, abs=1e-12)
    assert res.cp_trend == pytest.approx(conditional_power(z, 1 / 3, C, theta="trend"))


@pytest.mark.parametrize(
    ("x_1", "n_1", "x_2", "n_2", "n_final", "p_1", "p_2"),
    [(30, 100, 22, 100, 300, 0.35, 0.25), (60, 150, 45, 150, 300, 0.4, 0.3)],
)
def test_from_rates_by_patient_simulation(
    x_1: int, n_1: int, x_2: int, n_2: int, n_final: int, p_1: float, p_2: float
) -> None:
    """Binomial second stage at the design rates, final pooled-variance z test.

    The closed form treats the z statistic as Brownian motion, so besides 4 MCSE the
    tolerance allows 0.01 for the normal approximation of the binomial test.
    """
    rng = np.random.default_rng(5)
    res = ConditionalPower.from_rates(x_1, n_1, x_2, n_2, n_final, n_final, C, p_1=p_1, p_2=p_2)
    assert res.cp_design is not None
    k, m = 200_000, n_final - n_1
    y1, y2 = x_1 + rng.binomial(m, p_1, k), x_2 + rng.binomial(m, p_2, k)
    pooled = (y1 + y2) / (2 * n_final)
    z = (y1 - y2) / n_final / np.sqrt(pooled * (1 - pooled) * 2 / n_final)
    p = float((z >= C).mean())
    assert abs(p - res.cp_design) < 4 * math.sqrt(p * (1 - p) / k) + 0.01


def test_chw_cp_by_patient_simulation() -> None:
    """Enlarged stage 2 drawn at the current trend; CHW statistic from the stage-2 data."""
    rng = np.random.default_rng(3)
    res = promising_zone(1.3, 0.5, C, n2=50, n2_max=500, cp_min=0.3, cp_target=0.8)
    n_new, sigma = res.n2_recommended, 2.0
    effect_per_patient = res.theta_trend * sigma / math.sqrt(100)  # drift at n1 + n2 = 100
    means = effect_per_patient + rng.standard_normal(200_000) * sigma / math.sqrt(n_new)
    z2 = means * math.sqrt(n_new) / sigma
    final = cui_hung_wang(res.z_interim, z2, res.information_fraction)
    assert_mc(final >= C, res.cp_trend_recommended, "CHW CP at trend with the new n2")


def simulate_adaptive_trials(
    cp_min: float, k: int = 200_000, seed: int = 2026
) -> tuple[np.ndarray, np.ndarray]:
    """Two-arm trials under H0 with promising-zone re-estimation (sufficient statistics).

    Stage 1 has ``n1 = 100`` patients per arm, stage 2 plans 100 and may grow to 400. The
    stage means of normal outcomes (sigma = 1) are drawn directly.
    """
    rng = np.random.default_rng(seed)
    n1, n2, n2_max, sigma = 100, 100, 400, 1.0
    t = n1 / (n1 + n2)
    d1 = rng.standard_normal(k) * sigma * math.sqrt(2 / n1)  # mean difference, stage 1
    z1 = d1 / (sigma * math.sqrt(2 / n1))
    n_new, _ = promising_zone_rule(z1, t, C, n2, n2_max, cp_min, 0.8)
    d2 = rng.standard_normal(k) * sigma * np.sqrt(2 / n_new)  # mean difference, stage 2
    z2 = d2 / (sigma * np.sqrt(2 / n_new))
    chw = cui_hung_wang(z1, z2, t) >= C
    pooled = (n1 * d1 + n_new * d2) / (n1 + n_new)
    naive = pooled / (sigma * np.sqrt(2 / (n1 + n_new))) >= C
    return chw, naive


@pytest.mark.slow
def test_type1_error_chw_kept_naive_inflated() -> None:
    """CHW keeps one-sided α = 0.025; the pooled test after the same re-estimation does not."""
    chw, naive = simulate_adaptive_trials(cp_min=0.01)
    alpha, mcse = 0.025, math.sqrt(0.025 * 0.975 / chw.size)
    assert abs(chw.mean() - alpha) < 3 * mcse, (chw.mean(), mcse)
    assert naive.mean() > alpha + 4 * mcse, (naive.mean(), mcse)
    exact = next(c for c in CASES if c["kind"] == "type1" and c["inputs"]["cp_min"] == 0.01)
    assert_mc(naive, exact["expected"]["alpha_naive"], "naive alpha vs quadrature")


def test_type1_error_cdl_zone_not_inflated() -> None:
    """With cp_min = 0.5 (Chen, DeMets & Lan 2004) even the pooled test keeps α."""
    chw, naive = simulate_adaptive_trials(cp_min=0.5, seed=99)
    mcse = math.sqrt(0.025 * 0.975 / chw.size)
    assert abs(chw.mean() - 0.025) < 3 * mcse
    assert naive.mean() < 0.025 + 2 * mcse


# -- invariants (hypothesis) ----------------------------------------------------------------
zs = st.floats(-4.0, 5.0)
ts = st.floats(0.05, 0.95)
thetas = st.floats(-2.0, 6.0)


@settings(max_examples=60, deadline=None)
@given(z=zs, dz=st.floats(0.0, 2.0), t=ts, theta=thetas, dtheta=st.floats(0.0, 2.0))
def test_cp_is_a_probability_increasing_in_z_and_theta(
    z: float, dz: float, t: float, theta: float, dtheta: float
) -> None:
    rates, upper = [t + (1 - t) / 2, 1.0], [2.5, 2.0]
    base = conditional_power(z, t, upper, theta=theta, information_rates=rates)
    assert 0.0 <= base <= 1.0
    assert conditional_power(z + dz, t, upper, theta=theta, information_rates=rates) >= base - 1e-12
    assert (
        conditional_power(z, t, upper, theta=theta + dtheta, information_rates=rates)
        >= base - 1e-12
    )


@settings(max_examples=60, deadline=None)
@given(z=zs, t=st.floats(0.05, 0.7), theta=thetas, f=st.floats(-1.0, 1.5))
def test_extra_looks_and_futility_move_cp_the_right_way(
    z: float, t: float, theta: float, f: float
) -> None:
    rates = [t + (1 - t) / 3, t + 2 * (1 - t) / 3, 1.0]
    final_only = conditional_power(z, t, C, theta=theta)
    no_stop = conditional_power(z, t, [np.inf, np.inf, C], theta=theta, information_rates=rates)
    assert no_stop == pytest.approx(final_only, abs=1e-9)
    looks = conditional_power(z, t, [2.6, 2.3, C], theta=theta, information_rates=rates)
    assert looks >= final_only - 1e-12
    fut = conditional_power(
        z, t, [2.6, 2.3, C], theta=theta, information_rates=rates, futility=[f, f, -np.inf]
    )
    assert fut <= looks + 1e-12


@settings(max_examples=80, deadline=None)
@given(z=zs, t=ts, ratio=st.floats(0.1, 10.0))
def test_chw_conditional_error_does_not_depend_on_n2(z: float, t: float, ratio: float) -> None:
    """The CHW test's conditional type I error is fixed by the planned weights."""
    assert chw_conditional_power(z, t, C, ratio, 0.0) == pytest.approx(
        chw_conditional_power(z, t, C, 1.0, 0.0), abs=1e-14
    )
    assert chw_conditional_power(z, t, C, 1.0, 0.0) == pytest.approx(
        conditional_power(z, t, C, theta="null"), abs=1e-14
    )


@settings(max_examples=80, deadline=None)
@given(z=st.floats(0.0, 5.0), t=ts, ratio=st.floats(1.0, 10.0))
def test_cdl_no_inflation_when_trend_cp_at_least_half(z: float, t: float, ratio: float) -> None:
    """Chen, DeMets & Lan (2004): CP(trend) >= 0.5 => enlarging n2 cannot raise the
    pooled test's conditional type I error."""
    if conditional_power(z, t, C, theta="trend") >= 0.5:
        assert (
            naive_conditional_error(z, t, C, ratio) <= naive_conditional_error(z, t, C, 1.0) + 1e-14
        )


@settings(max_examples=80, deadline=None)
@given(
    z=st.floats(-2.0, 4.0),
    t=ts,
    n2=st.integers(1, 300),
    grow=st.integers(0, 900),
    lo=st.floats(0.01, 0.6),
    width=st.floats(0.05, 0.39),
)
def test_promising_zone_rule_invariants(
    z: float, t: float, n2: int, grow: int, lo: float, width: float
) -> None:
    res = promising_zone(z, t, C, n2, n2 + grow, cp_min=lo, cp_target=lo + width)
    assert n2 <= res.n2_recommended <= n2 + grow
    assert res.conditional_power("null") == pytest.approx(res.cp_null, abs=1e-14)
    if res.zone != "promising":
        assert res.n2_recommended == n2
    elif res.n2_recommended > n2:
        assert res.cp_trend_recommended >= res.cp_trend
        if res.n2_recommended < n2 + grow:  # smallest size reaching the target
            assert res.cp_trend_recommended >= res.cp_target - 1e-12
            assert res.conditional_power("trend", res.n2_recommended - 1) < res.cp_target


@settings(max_examples=50, deadline=None)
@given(z1=st.floats(-5, 5), z2=st.floats(-5, 5), t=ts)
def test_cui_hung_wang_weights(z1: float, z2: float, t: float) -> None:
    w = cui_hung_wang(z1, z2, t)
    assert w == pytest.approx(math.sqrt(t) * z1 + math.sqrt(1 - t) * z2, abs=1e-12)
    assert cui_hung_wang(z1, z1, t) == pytest.approx(z1 * (math.sqrt(t) + math.sqrt(1 - t)))


# -- result objects -------------------------------------------------------------------------
def test_conditional_power_result_surface() -> None:
    res = ConditionalPower.from_z(
        1.0, 1 / 3, [2.3, 2.0], delta=2.8, information_rates=[2 / 3, 1], futility=[0.0, 2.0]
    )
    tab = res.summary()
    assert list(tab.index) == ["design", "trend", "null"]
    assert tab.loc["null", "conditional_power"] == res.cp_null
    assert res.at("design") == pytest.approx(res.cp_design)
    assert np.shape(res.at([0.0, 1.0, 2.0])) == (3,)
    json.dumps(res.to_dict())
    assert "Conditional power" in res._repr_html_()
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.cp_trend = 0.5  # type: ignore[misc]
    no_delta = ConditionalPower.from_z(1.0, 0.5, C)
    assert no_delta.cp_design is None
    assert list(no_delta.summary().index) == ["trend", "null"]


def test_ssr_result_surface() -> None:
    res = promising_zone(1.2, 0.5, C, n2=50, n2_max=150, cp_min=0.3, delta=2.8)
    assert isinstance(res, SSRResult)
    tab = res.summary()
    for row in ("z_interim", "cp_design", "cp_trend", "cp_null", "zone", "n2_recommended"):
        assert row in tab.index
    assert tab.loc["w1", "value"] == pytest.approx(math.sqrt(0.5))
    assert res.weights == pytest.approx((math.sqrt(0.5), math.sqrt(0.5)))
    assert res.cp_design == pytest.approx(conditional_power(1.2, 0.5, C, theta=2.8))
    assert res.conditional_power("design", n2=50) == pytest.approx(res.cp_design)
    assert res.naive_conditional_error > res.cp_null  # low CP: enlarging inflates the pooled test
    json.dumps(res.to_dict())
    assert "promising zone" in res._repr_html_()
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.zone = "favourable"  # type: ignore[misc]


def test_vectorised_conditional_power() -> None:
    z = np.linspace(-1, 3, 7)
    got = conditional_power(z, 0.5, [2.5, 2.0], information_rates=[0.75, 1.0], theta="trend")
    one = [conditional_power(v, 0.5, [2.5, 2.0], information_rates=[0.75, 1.0]) for v in z]
    np.testing.assert_allclose(got, one, atol=1e-13)
    grid = conditional_power(z[:, None], 0.5, C, theta=np.array([0.0, 1.0, 2.0]))
    assert grid.shape == (7, 3)


# -- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"information_fraction": 1.0}, ValueError, "information_fraction"),
        ({"information_fraction": 0.0}, ValueError, "information_fraction"),
        ({"information_fraction": [0.5]}, TypeError, "information_fraction"),
        ({"z_interim": float("nan")}, ValueError, "z_interim"),
        ({"z_interim": "1.0"}, TypeError, "z_interim"),
        ({"critical_value": np.inf}, ValueError, "critical_value"),
        ({"critical_value": [2.5, 2.0]}, ValueError, "information_rates"),
        ({"theta": "optimistic"}, ValueError, "theta"),
        ({"theta": "design"}, ValueError, "delta"),
        ({"theta": True}, TypeError, "theta"),
        ({"critical_value": [2.5, 2.0], "information_rates": [0.4, 1.0]}, ValueError, "above"),
        ({"critical_value": [2.5, 2.0], "information_rates": [0.7, 0.9]}, ValueError, "end at 1"),
        ({"critical_value": [2.5, 2.0], "information_rates": [1.0]}, ValueError, "one entry"),
        (
            {"critical_value": [2.5, 2.0], "information_rates": [0.7, 1], "futility": [3.0, 0]},
            ValueError,
            "futility",
        ),
        ({"futility": [0.0, 1.0]}, ValueError, "futility"),
    ],
)
def test_conditional_power_bad_input(kwargs: dict[str, Any], exc: type, match: str) -> None:
    args = {"z_interim": 1.0, "information_fraction": 0.5, "critical_value": C}
    args.update(kwargs)
    pos = [args.pop(k) for k in ("z_interim", "information_fraction", "critical_value")]
    with pytest.raises(exc, match=match):
        conditional_power(*pos, **args)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"n2": 0}, ValueError, "n2"),
        ({"n2": 10.5}, ValueError, "n2"),
        ({"n2_max": 40}, ValueError, "n2_max"),
        ({"cp_min": 0.9}, ValueError, "cp_min"),
        ({"cp_target": 1.0}, ValueError, "cp_target"),
        ({"cp_min": [0.3]}, TypeError, "cp_min"),
        ({"critical_value": [1.96]}, TypeError, "critical_value"),
        ({"z_interim": np.array([1.0, 2.0])}, TypeError, "z_interim"),
        ({"delta": "big"}, TypeError, "delta"),
    ],
)
def test_promising_zone_bad_input(kwargs: dict[str, Any], exc: type, match: str) -> None:
    args: dict[str, Any] = {
        "z_interim": 1.2,
        "information_fraction": 0.5,
        "critical_value": C,
        "n2": 50,
        "n2_max": 150,
    }
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        promising_zone(**args)


def test_convenience_constructors_bad_input() -> None:
    with pytest.raises(ValueError, match="sd"):
        ConditionalPower.from_means(1.0, 0.0, -1.0, 10, 10, 20, 20, C)
    with pytest.raises(ValueError, match="n_1_final"):
        ConditionalPower.from_means(1.0, 0.0, 1.0, 10, 10, 5, 20, C)
    with pytest.raises(ValueError, match="information_fraction"):
        ConditionalPower.from_means(1.0, 0.0, 1.0, 10, 10, 10, 10, C)
    with pytest.raises(ValueError, match="x_1"):
        ConditionalPower.from_rates(12, 10, 3, 10, 20, 20, C)
    with pytest.raises(ValueError, match="pooled"):
        ConditionalPower.from_rates(0, 10, 0, 10, 20, 20, C)
    with pytest.raises(ValueError, match="p_2"):
        ConditionalPower.from_rates(5, 10, 3, 10, 20, 20, C, p_1=0.5)
    with pytest.raises(ValueError, match="p_1"):
        ConditionalPower.from_rates(5, 10, 3, 10, 20, 20, C, p_1=1.5, p_2=0.3)
    with pytest.raises(ValueError, match="n_2"):
        ConditionalPower.from_rates(5, 10, 3, 10.5, 20, 20, C)
    with pytest.raises(ValueError, match="z_1 and z_2"):
        cui_hung_wang([1.0, 2.0], [1.0, 2.0, 3.0], 0.5)
