"""ExternalControlDesign and compare_external_analyses: validation, estimand, paired data,
reproducibility and Monte Carlo operating characteristics."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from rdstats.external import _design_kernels as kern
from rdstats.external._design import ANALYSES, ExternalControlDesign
from rdstats.external._design_compare import ExternalDesignComparison, compare_external_analyses

D = ExternalControlDesign
NULL = {"effect": 0.0, "shift": 0.0, "unmeasured": 0.0, "drift": 0.0}


def _oc(design: ExternalControlDesign, n: int = 2000, seed: int = 11, **scen: float):
    grid = D.scenarios(**{**NULL, **scen})
    res = design.simulate(grid, n_trials=n, rng=seed, progress=False)
    return res.summary(wide=True).iloc[0]


# -- validation ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_treated": 1}, "n_treated must be an integer >= 2, got 1"),
        ({"n_treated": 3.5}, "n_treated must be an integer, got 3.5"),
        ({"n_external": 0}, "n_external must be an integer >= 1, got 0"),
        ({"n_control": -1}, "n_control must be an integer >= 0, got -1"),
        ({"n_control": True}, "n_control must be an integer, got True"),
        ({"endpoint": "survival"}, "endpoint must be one of .* got 'survival'"),
        ({"analysis": "ipw"}, "analysis must be one of .* got 'ipw'"),
        ({"prognostic": ()}, r"prognostic needs at least one coefficient, got \(\)"),
        ({"prognostic": (1.0, float("nan"))}, "prognostic must be finite, got nan"),
        ({"prognostic": "abc"}, "prognostic must be a sequence of numbers, got 'abc'"),
        ({"sigma": 0.0}, r"sigma must be in \(0, inf\), got 0.0"),
        ({"intercept": float("inf")}, "intercept must be finite, got inf"),
        ({"alpha": 0.5}, r"alpha must be in \(0, 0.5\), got 0.5"),
        ({"margin": "0"}, "margin must be a real number, got '0'"),
        ({"caliper": -0.1}, r"caliper must be in \(0, inf\), got -0.1"),
        ({"n_borrow": 0}, r"n_borrow must be in \(0, inf\), got 0"),
        ({"n_strata": 0}, "n_strata must be an integer >= 1, got 0"),
        ({"overlap": "kde"}, "overlap must be one of .* got 'kde'"),
        ({"hybrid_prior": "map"}, "hybrid_prior must be one of .* got 'map'"),
        ({"a0": 1.5}, r"a0 must be in \[0, 1\], got 1.5"),
        ({"tau_scale": -1}, r"tau_scale must be in \(0, inf\), got -1"),
    ],
)
def test_bad_field_names_argument_and_value(kwargs: dict, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        D(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"analysis": "regression", "endpoint": "binary"}, "regression.*continuous"),
        ({"analysis": "matching", "n_external": 10, "n_treated": 20}, "10 \\+ 0 < 20"),
        ({"analysis": "hybrid", "hybrid_prior": "commensurate"}, "n_control >= 1"),
        (
            {
                "analysis": "hybrid",
                "hybrid_prior": "eb_power",
                "n_control": 5,
                "endpoint": "binary",
            },
            "endpoint='continuous'",
        ),
        ({"analysis": "ps_borrowing", "n_treated": 4, "n_strata": 5}, "n_strata=5 exceeds"),
    ],
)
def test_bad_combinations(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        D(**kwargs)


def test_bad_scenarios_and_comparison_arguments() -> None:
    with pytest.raises(ValueError, match="needs"):
        D().simulate({"effect": [0.0]}, n_trials=10, progress=False)
    with pytest.raises(ValueError, match="'shift' must be finite"):
        D().simulate(D.scenarios(shift=np.inf), n_trials=10, progress=False)
    with pytest.raises(ValueError, match="analyses must be names from"):
        compare_external_analyses(D.scenarios(), ["naive", "ipw"], n_trials=10)
    with pytest.raises(ValueError, match="must not repeat"):
        compare_external_analyses(D.scenarios(), ["naive", "naive"], n_trials=10)
    with pytest.raises(TypeError, match="design must be an ExternalControlDesign"):
        compare_external_analyses(D.scenarios(), design="weighting", n_trials=10)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"regression.*continuous"):
        compare_external_analyses(
            D.scenarios(), ["regression"], design=D(endpoint="binary"), n_trials=10
        )


# -- estimand ------------------------------------------------------------------------
@pytest.mark.parametrize("scen", [(0.7, 0.5, 0.4), (-0.5, 0.0, 0.0), (1.2, 1.0, 0.8)])
def test_binary_truth_matches_monte_carlo(scen: tuple[float, float, float]) -> None:
    effect, shift, u = scen
    d = D(endpoint="binary", prognostic=(0.8, -0.3), intercept=-0.5)
    truth = d._truth({"effect": effect, "shift": shift, "unmeasured": u, "drift": 0.0})
    rng = np.random.default_rng(1)
    n = 2_000_000
    eta = -0.5 + rng.standard_normal((n, 2)) @ np.array([0.8, -0.3]) + 0.5 * shift + u
    eta += u * rng.standard_normal(n)
    mc = special.expit(eta + effect) - special.expit(eta)
    assert truth == pytest.approx(mc.mean(), abs=4 * mc.std() / np.sqrt(n) + 1e-4)
    assert d._is_null({"effect": 0.0, "shift": shift, "unmeasured": u, "drift": 0.0})


# -- paired data and reproducibility ------------------------------------------------------
def test_data_are_analysis_independent_and_analyses_use_no_random_numbers() -> None:
    scen = {"effect": 0.2, "shift": 0.5, "unmeasured": 0.3, "drift": 0.1}
    ref_x, ref_y = D(analysis="naive")._data(scen, 20, np.random.default_rng(5))
    for a in ANALYSES:
        d = D(analysis=a, n_control=4, hybrid_prior="power")
        d0 = D(analysis="naive", n_control=4)
        x, y = d._data(scen, 20, np.random.default_rng(5))
        x0, y0 = d0._data(scen, 20, np.random.default_rng(5))
        np.testing.assert_array_equal(x, x0)
        np.testing.assert_array_equal(y, y0)
        rng = np.random.default_rng(9)
        out = d._simulate(scen, 20, rng)
        after = np.random.default_rng(9)
        d._data(scen, 20, after)
        assert rng.random() == after.random()  # the analysis drew nothing
        if a == "naive":
            np.testing.assert_array_equal(
                out["estimate"],
                kern.naive(d._data(scen, 20, np.random.default_rng(9))[1], 30)["estimate"],
            )
    assert ref_x.shape == (20, 330, 3) and ref_y.shape == (20, 330)


def test_same_seed_same_results() -> None:
    grid = D.scenarios(effect=[0.0, 0.4], shift=0.5)
    d = D(analysis="ps_borrowing")
    a = d.simulate(grid, n_trials=60, rng=4, progress=False, batch_size=25)
    b = d.simulate(grid, n_trials=60, rng=4, progress=False, batch_size=25)
    assert a.compare(b) == []


@pytest.mark.parametrize("analysis", ANALYSES)
def test_a_trial_is_analysed_the_same_in_any_batch(analysis: str) -> None:
    d = D(analysis=analysis, n_control=5)
    x, y = d._data({**NULL, "shift": 0.7, "effect": 0.3}, 12, np.random.default_rng(2))
    whole, part = d._analyse(x, y), d._analyse(x[3:5], y[3:5])
    for k, v in part.items():
        np.testing.assert_allclose(v, whole[k][3:5], rtol=1e-13, atol=1e-15, err_msg=k)


def test_comparison_is_paired_and_reproducible() -> None:
    grid = D.scenarios(effect=[0.0, 0.5], shift=[0.0, 1.0])
    kw = {"n_trials": 50, "progress": False, "design": D(n_control=6)}
    cmp = compare_external_analyses(grid, rng=3, **kw)
    again = compare_external_analyses(grid, rng=3, **kw)
    assert isinstance(cmp, ExternalDesignComparison)
    assert cmp.summary().equals(again.summary())
    seeds = {json.dumps(r.provenance["seed"]) for r in cmp.results.values()}
    assert len(seeds) == 1
    # a failed trial reports the naive estimate, so trials agree where nothing failed
    naive = cmp.results["naive"].outcomes
    for a in cmp.analyses:
        out = cmp.results[a].outcomes
        failed = out["failed"].to_numpy() > 0
        np.testing.assert_array_equal(
            out["estimate"].to_numpy()[failed], naive["estimate"].to_numpy()[failed]
        )
        assert not out["success"].to_numpy()[failed].any()
    table = cmp.summary()
    assert list(table.columns[:6]) == ["analysis", "effect", "shift", "unmeasured", "drift", "null"]
    for m in ("bias", "rmse", "coverage", "p_success", "failed"):
        assert m in table and f"{m}_mcse" in table
    assert len(table) == 5 * 4
    json.dumps(cmp.to_dict())
    assert "ExternalDesignComparison" in cmp._repr_html_()
    fresh = compare_external_analyses(grid, ["naive"], n_trials=5, progress=False)
    assert fresh.seed["entropy"]  # fresh entropy is recorded


def test_comparison_plot() -> None:
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    grid = D.scenarios(effect=[0.0, 0.5], shift=[0.0, 1.0])
    cmp = compare_external_analyses(
        grid, ["naive", "weighting"], n_trials=40, rng=1, progress=False
    )
    axes = cmp.plot(x="shift", where={"effect": 0.0})
    assert axes.shape == (2, 2)
    assert axes[0, 1].get_lines()[-1].get_ydata()[0] == pytest.approx(0.025)
    with pytest.raises(ValueError, match="vary besides"):
        cmp.plot(x="shift")
    with pytest.raises(ValueError, match="x is needed"):
        cmp.plot()
    plt.close("all")


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    analysis=st.sampled_from(ANALYSES),
    binary=st.booleans(),
    shift=st.floats(-1.0, 1.5),
)
def test_outcomes_are_finite_and_consistent(
    seed: int, analysis: str, binary: bool, shift: float
) -> None:
    if analysis == "regression" and binary:
        return
    d = D(
        n_treated=12, n_external=60, n_control=3, analysis=analysis,
        endpoint="binary" if binary else "continuous", hybrid_prior="power",
    )  # fmt: skip
    out = d._simulate({**NULL, "shift": shift, "effect": 0.3}, 8, np.random.default_rng(seed))
    for k, v in out.items():
        assert np.all(np.isfinite(np.asarray(v, dtype=float))), k
    assert np.all(out["lower"] <= out["estimate"] + 1e-12)
    assert np.all(out["estimate"] <= out["upper"] + 1e-12)
    assert not np.any(out["success"] & (out["failed"] > 0))
    assert np.all(out["n_enrolled"] == 15)


def test_separation_is_counted_as_failure() -> None:
    d = D(analysis="weighting", n_treated=10, n_external=40, prognostic=(1.0,))
    out = d._simulate({**NULL, "shift": 8.0}, 20, np.random.default_rng(0))
    assert out["failed"].mean() > 0.5
    assert not out["success"][out["failed"] > 0].any()
    assert np.all(np.isfinite(out["estimate"]))


# -- Monte Carlo operating characteristics ---------------------------------------------
@pytest.mark.parametrize("analysis", ["naive", "regression", "matching", "weighting"])
def test_type_i_error_without_confounding(analysis: str) -> None:
    row = _oc(D(analysis=analysis))
    alpha, mcse = 0.025, np.sqrt(0.025 * 0.975 / 2000)
    assert row["type_i_error"] <= alpha + 4 * mcse
    if analysis in ("naive", "regression"):
        assert row["type_i_error"] >= alpha - 4 * mcse
    assert row["failed"] == 0


@pytest.mark.parametrize("analysis", ["ps_borrowing", "hybrid"])
def test_bayesian_analyses_do_not_inflate_type_i_error_without_bias(analysis: str) -> None:
    row = _oc(D(analysis=analysis, hybrid_prior="power"), n=600)
    assert row["type_i_error"] <= 0.025 + 4 * np.sqrt(0.025 * 0.975 / 600)
    assert abs(row["bias"]) < 4 * row["bias_mcse"] + 0.02


@pytest.mark.parametrize("analysis", ["naive", "regression", "matching", "weighting"])
def test_measured_confounding_biases_only_the_naive_analysis(analysis: str) -> None:
    row = _oc(D(analysis=analysis), n=1000, shift=0.5)
    if analysis == "naive":  # bias = shift * sum(prognostic) = 1
        assert row["bias"] == pytest.approx(1.0, abs=4 * row["bias_mcse"])
        assert row["type_i_error"] > 0.5
    else:
        assert abs(row["bias"]) < 4 * row["bias_mcse"] + 0.06


@pytest.mark.parametrize("analysis", ANALYSES)
def test_unmeasured_confounding_and_drift_bias_every_analysis(analysis: str) -> None:
    d = D(analysis=analysis, hybrid_prior="power")
    row = _oc(d, n=500, unmeasured=0.6, drift=-0.2)  # bias 0.6 + 0.2 in outcome units
    assert row["bias"] == pytest.approx(0.8, abs=4 * row["bias_mcse"] + 0.12)
