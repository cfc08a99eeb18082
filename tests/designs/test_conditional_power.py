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
