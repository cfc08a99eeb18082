"""Group-sequential designs against independent values: rpact and Jennison-Turnbull
reference values, Monte Carlo cross-checks of the recursive integration, the engine's
exact and simulated operating characteristics, and conditional power."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from rdstats.designs import _spending as sp
from rdstats.designs._group_sequential import GroupSequentialDesign
from rdstats.designs._gs_kernels import crossing_probabilities, stopping_distribution
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
        tol = case["tolerance"].get("by_key", {}).get(key, case["tolerance"])
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


MC_DESIGNS: dict[str, dict[str, Any]] = {
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
        gap = abs(float(row.value_mc) - float(row.value_exact))  # type: ignore[arg-type]
        assert gap <= 4 * float(row.mcse_mc) + 1e-12, row  # type: ignore[arg-type]


# -- conditional power ----------------------------------------------------------------------
def mc_conditional_power(
    design: GroupSequentialDesign, z: float, look: int, drift: float, seed: int
) -> float:
    """Simulated remaining score increments after Z = z at ``look`` (1-based)."""
    t = np.asarray(design.information_rates)[look - 1 :]
    rng = np.random.default_rng(seed)
    dt = np.diff(t)
    s = z * np.sqrt(t[0]) + np.cumsum(
        rng.standard_normal((N_MC, dt.size)) * np.sqrt(dt) + drift * dt, axis=1
    )
    zz = s / np.sqrt(t[1:])
    c = np.asarray(design.critical_values)[look:]
    two = design.sided == 2
    upper = zz >= c
    lower = zz <= -c if two else np.zeros_like(upper)
    if design.binding_futility and design.futility is not None:
        lower = lower | (zz <= np.asarray(design.futility_bounds)[look:])
    stop = upper | lower
    stop[:, -1] = True
    first = np.argmax(stop, axis=1)
    rows = np.arange(N_MC)
    success = upper[rows, first]
    if two and design.two_sided_power:
        success = success | (zz[rows, first] <= -c[first])
    return float(success.mean())


CP_CASES = [
    ({"kmax": 4, "spending": "asOF", "futility": (-0.5, 0.0, 0.5), "binding_futility": True}, 2),
    ({"kmax": 4, "spending": "asP", "futility": (0.0, 0.3, 0.6)}, 1),  # non-binding: ignored
    ({"kmax": 3, "alpha": 0.05, "sided": 2, "spending": "OF"}, 1),
    ({"kmax": 3, "alpha": 0.05, "sided": 2, "spending": "OF", "two_sided_power": True}, 1),
    ({"kmax": 3, "information_rates": (0.2, 0.45, 1.0), "spending": "OF"}, 1),
]


@pytest.mark.parametrize(("kwargs", "look"), CP_CASES)
@pytest.mark.parametrize("theta", ["trend", "design", "null", 0.6])
def test_conditional_power_matches_simulation(
    kwargs: dict[str, Any], look: int, theta: str | float
) -> None:
    design = GroupSequentialDesign(**kwargs)
    z = -0.3 if design.sided == 2 and design.two_sided_power else 0.9
    t = design.information_rates[look - 1]
    if isinstance(theta, str):
        drift = {"trend": z / math.sqrt(t), "design": design.drift, "null": 0.0}[theta]
    else:
        drift = theta * design.drift
    exact = design.conditional_power(z, look, theta)
    seed = 500 + CP_CASES.index((kwargs, look)) + 10 * ["trend", "design", "null", 0.6].index(theta)
    simulated = mc_conditional_power(design, z, look, drift, seed)
    assert_within_mc(np.array([simulated]), np.array([exact]))


def test_conditional_power_closed_form_two_looks() -> None:
    design = GroupSequentialDesign(kmax=2, spending="asOF", information_rates=(0.4, 1.0))
    t, c = design.information_rates[0], design.critical_values[1]
    z = np.array([-1.0, 0.5, 1.2, 2.0])
    for theta, delta in (
        ("trend", z / math.sqrt(t)),
        ("design", design.drift),
        ("null", 0.0),
        (0.5, 0.5 * design.drift),
    ):
        closed = stats.norm.sf((c - z * math.sqrt(t) - delta * (1 - t)) / math.sqrt(1 - t))
        np.testing.assert_allclose(design.conditional_power(z, 1, theta), closed, atol=1e-12)
    assert isinstance(design.conditional_power(1.0, 1), float)
