"""PromisingZoneDesign: the promising-zone adaptive trial in the simulation engine.

Checks: the CHW test keeps the one-sided level (exactly by quadrature, and within 4 MCSE
in 100,000 simulated trials) while the naive pooled test's type I error is inflated
for a low ``cp_min``; exact and Monte Carlo operating characteristics agree within 4
MCSE; power increases with the effect; the expected sample size lies between the
planned and the largest total; seeds reproduce runs; bad input is rejected.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rdstats.designs._ssr import promising_zone_rule
from rdstats.designs._ssr_design import PromisingZoneDesign

ALPHA = 0.025
C = float(stats.norm.isf(ALPHA))


def wide(result: Any) -> pd.DataFrame:
    return result.summary(wide=True).set_index("theta")


@pytest.fixture(scope="module")
def inflating() -> PromisingZoneDesign:
    """A rule that enlarges the trial even at very low conditional power."""
    return PromisingZoneDesign(n1=100, n2=100, n2_max=1000, cp_min=0.01)


@pytest.fixture(scope="module")
def mc_null(inflating: PromisingZoneDesign) -> pd.DataFrame:
    res = inflating.simulate({"theta": [0.0]}, n_trials=100_000, rng=20261122, progress=False)
    return wide(res)


def test_exact_type_i_error_is_alpha(inflating: PromisingZoneDesign) -> None:
    for design in (
        inflating,
        PromisingZoneDesign(40, 60, 200, alpha=0.05, cp_min=0.2, cp_target=0.9),
        PromisingZoneDesign(30, 10, 90, futility_cp=None, drift=2.0),
    ):
        row = wide(design.simulate({"theta": [0.0]}, method="exact")).loc[0.0]
        assert abs(row["type_i_error"] - design.alpha) < 1e-9
        assert abs(row["enumerated_mass"] - 1.0) < 1e-12


def test_exact_naive_test_inflated(inflating: PromisingZoneDesign) -> None:
    row = wide(inflating.simulate({"theta": [0.0]}, method="exact")).loc[0.0]
    assert row["naive_success"] > ALPHA + 0.002


def test_simulated_chw_keeps_alpha_naive_inflated(mc_null: pd.DataFrame) -> None:
    row = mc_null.loc[0.0]
    assert abs(row["type_i_error"] - ALPHA) < 4 * row["type_i_error_mcse"]
    assert row["naive_success"] > ALPHA + 4 * row["naive_success_mcse"]


def test_exact_matches_monte_carlo(inflating: PromisingZoneDesign, mc_null: pd.DataFrame) -> None:
    exact = wide(inflating.simulate({"theta": [0.0]}, method="exact")).loc[0.0]
    sim = mc_null.loc[0.0]
    for name in ("p_success", "naive_success", "n_mean", "promising", "favourable", "bias"):
        assert abs(exact[name] - sim[name]) < 4 * sim[f"{name}_mcse"], name


def test_exact_matches_monte_carlo_with_interim_stops() -> None:
    design = PromisingZoneDesign(60, 60, 240, cp_min=0.2, efficacy_z=2.6, futility_cp=0.05)
    grid = {"theta": [0.0, 0.6, 1.0]}
    exact = wide(design.simulate(grid, method="exact"))
    sim = wide(design.simulate(grid, n_trials=50_000, rng=7, progress=False))
    names = ("p_success", "naive_success", "n_mean", "p_early_stop", "promising", "bias", "rmse")
    for theta in grid["theta"]:
        for name in names:
            diff = abs(exact.loc[theta][name] - sim.loc[theta][name])
            assert diff < 4 * sim.loc[theta][f"{name}_mcse"], (theta, name)


def test_efficacy_stop_keeps_level() -> None:
    design = PromisingZoneDesign(50, 50, 150, efficacy_z=2.8)
    assert design.critical_value > C
    # closed form: P(Z1 >= e) + P(Z1 < e, CHW >= c) under H0 (bivariate normal)
    t = design.information_fraction
    rho = math.sqrt(t)
    mvn = stats.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]])
    cont = stats.norm.cdf(2.8) - mvn.cdf([2.8, design.critical_value])
    assert abs(stats.norm.sf(2.8) + cont - ALPHA) < 1e-6
    row = wide(design.simulate({"theta": [0.0]}, method="exact")).loc[0.0]
    assert abs(row["type_i_error"] - ALPHA) < 1e-9
    fut = PromisingZoneDesign(50, 50, 150, efficacy_z=2.8, futility_cp=0.1)
    assert wide(fut.simulate({"theta": [0.0]}, method="exact")).loc[0.0]["type_i_error"] < ALPHA


def test_exact_power_by_direct_integration() -> None:
    """Power from a fine midpoint rule over z1 using the kernel rule directly (the rule's
    ~240 jumps limit the midpoint rule to about 2e-6 here; it converges to the exact
    value with finer grids)."""
    design = PromisingZoneDesign(80, 80, 320, cp_min=0.3)
    t, c, drift = design.information_fraction, design.critical_value, design._drift
    m1 = drift * math.sqrt(t)
    h = 18.0 / 400_000
    z1 = m1 - 9.0 + h * (np.arange(400_000) + 0.5)
    n_new, _ = promising_zone_rule(z1, t, c, 80, 320, 0.3, 0.8)
    mu2 = drift * np.sqrt((1 - t) * n_new / 80)
    cp = stats.norm.sf((c - math.sqrt(t) * z1) / math.sqrt(1 - t) - mu2)
    direct = float(np.sum(stats.norm.pdf(z1 - m1) * cp) * h)
    en = float(np.sum(stats.norm.pdf(z1 - m1) * (80 + n_new)) * h)
    exact = wide(design.simulate({"theta": [1.0]}, method="exact")).loc[1.0]
    assert abs(exact["power"] - direct) < 1e-5
    assert abs(exact["n_mean"] - en) < 1e-2


def test_power_increases_and_sample_size_in_range() -> None:
    design = PromisingZoneDesign(100, 100, 300, cp_min=0.3)
    res = wide(design.simulate({"theta": [0.0, 0.25, 0.5, 0.75, 1.0, 1.5]}, method="exact"))
    assert np.all(np.diff(res["p_success"].to_numpy()) > 0)
    assert res.loc[1.0]["power"] > 0.8  # the promising zone raises the fixed design's 80%
    n = res["n_mean"].to_numpy()
    assert np.all((n > 200) & (n < 400))
    zones = res[["promising", "unfavourable", "favourable"]].sum(axis=1)
    assert np.allclose(zones, 1.0)


def test_simulated_sample_size_and_zones() -> None:
    design = PromisingZoneDesign(100, 100, 300, cp_min=0.3, futility_cp=0.1)
    res = design.simulate({"theta": [0.5]}, n_trials=5_000, rng=3, progress=False)
    out = res.outcomes
    n = out["n_enrolled"].to_numpy()
    stopped = out["stopped_at"].to_numpy() == 1
    assert np.all(n[stopped] == 100)
    assert np.all((n[~stopped] >= 200) & (n[~stopped] <= 400))
    zones = out[["promising", "unfavourable", "favourable"]].sum(axis=1).to_numpy()
    assert np.array_equal(zones, (~stopped).astype(float))
    assert np.all(n[out["promising"].to_numpy() == 1] >= 200)


def test_reproducible_with_seed() -> None:
    design = PromisingZoneDesign(30, 30, 90)
    a = design.simulate({"theta": [0.0, 1.0]}, n_trials=2_000, rng=11, progress=False)
    b = design.simulate({"theta": [0.0, 1.0]}, n_trials=2_000, rng=11, progress=False)
    c = design.simulate({"theta": [0.0, 1.0]}, n_trials=2_000, rng=12, progress=False)
    pd.testing.assert_frame_equal(a.outcomes, b.outcomes)
    pd.testing.assert_frame_equal(a.metrics, b.metrics)
    assert not a.outcomes["n_enrolled"].equals(c.outcomes["n_enrolled"])


def test_null_flag_and_truth() -> None:
    design = PromisingZoneDesign(30, 30, 90)
    res = wide(design.simulate({"theta": [-0.5, 0.0, 1.0]}, method="exact"))
    assert res.loc[-0.5]["type_i_error"] < ALPHA
    assert np.isnan(res.loc[1.0]["type_i_error"])
    assert res.loc[1.0]["power"] == res.loc[1.0]["p_success"]


def test_presentation() -> None:
    design = PromisingZoneDesign(100, 100, 300, efficacy_z=3.0, futility_cp=0.1)
    table = design.summary()
    assert table.loc["critical_value", "value"] == design.critical_value
    assert "PromisingZoneDesign" in design._repr_html_()
    d = design.to_dict()
    assert d["design"] == "PromisingZoneDesign" and d["n2_max"] == 300
    json.dumps(d)
    b = design.zone_boundaries()
    order = np.array([b[k] for k in ("futility", "promising", "favourable", "efficacy")], float)
    assert np.all(np.diff(order) > 0)
    assert design.provenance["arguments"]["n1"] == 100
    with pytest.raises(dataclasses.FrozenInstanceError):
        design.n1 = 5  # type: ignore[misc]


def test_plot() -> None:
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    design = PromisingZoneDesign(100, 100, 300, cp_min=0.3, futility_cp=0.1)
    ax = design.plot()
    assert ax.get_xlabel() == "interim z1"
    assert len(ax.get_lines()) == 1
    plt.close("all")
    fig, ax2 = plt.subplots()
    assert design.plot(ax=ax2, z1=[0.0, 1.0, 2.0]) is ax2
    plt.close(fig)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n2_max": 50}, ValueError, "n2_max must be at least n2=100"),
        ({"alpha": 0.0}, ValueError, "alpha must be strictly between 0 and 1"),
        ({"alpha": 1.5}, ValueError, "alpha"),
        ({"cp_min": 0.8}, ValueError, "cp_min must be below cp_target"),
        ({"cp_min": 0.9, "cp_target": 0.8}, ValueError, "cp_min"),
        ({"cp_target": 1.0}, ValueError, "cp_target"),
        ({"n1": -10}, ValueError, "n1 must be a positive"),
        ({"n2": 0}, ValueError, "n2 must be a positive"),
        ({"n1": 10.5}, ValueError, "n1 must be a whole number"),
        ({"n1": "100"}, TypeError, "n1 must be a whole number"),
        ({"n2": None}, TypeError, "n2"),
        ({"n1": True}, TypeError, "n1"),
        ({"alpha": "0.05"}, TypeError, "alpha must be a real number"),
        ({"drift": -1.0}, ValueError, "drift must be positive"),
        ({"drift": float("nan")}, ValueError, "drift must be finite"),
        ({"efficacy_z": 1.5}, ValueError, "efficacy_z must exceed"),
        ({"futility_cp": 0.6}, ValueError, "futility_cp must not exceed cp_min"),
        ({"futility_cp": [0.1]}, TypeError, "futility_cp"),
    ],
)
def test_bad_input(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    args: dict[str, Any] = {"n1": 100, "n2": 100, "n2_max": 300, **kwargs}
    with pytest.raises(error, match=match):
        PromisingZoneDesign(**args)


def test_whole_float_sizes_accepted() -> None:
    design = PromisingZoneDesign(100.0, 100, np.int64(300))  # type: ignore[arg-type]
    assert design.n1 == 100 and isinstance(design.n1, int) and design.n2_max == 300


def test_bad_scenarios() -> None:
    design = PromisingZoneDesign(30, 30, 90)
    with pytest.raises(ValueError, match=r"theta.* must be finite"):
        design.simulate({"theta": [np.inf]}, method="exact")
    with pytest.raises(ValueError, match="parameters"):
        design.simulate({"p": [0.1]}, method="exact")
