"""Tests for rdstats.borrowing fit_mixture: EM fits of beta, normal and gamma mixtures.

Independent references: the parameters that generated seeded samples (recovery within
sampling tolerance, 4-5 standard deviations of the estimates over repeated samples),
exact mixture densities on fine grids (weighted-points fits), scipy.stats' maximum
likelihood fits of single distributions, and the sample moments.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from rdstats import ConvergenceWarning
from rdstats.borrowing._mixfit import DEFAULT_N_OBS, MixtureFit, fit_mixture
from rdstats.priors import BetaMixture, GammaMixture, NormalMixture, ess

TRUE = {
    # family: (weights, first parameters, second parameters), heaviest component first
    "beta": ([0.6, 0.4], [19.19, 3.5], [57.78, 9.4]),
    "normal": ([0.7, 0.3], [0.0, 3.0], [1.0, 0.5]),
    "gamma": ([0.6, 0.4], [40.0, 5.0], [5.0, 2.0]),
}


def _draw(family: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w, p, q = TRUE[family]
    first = rng.random(n) < w[0]
    if family == "beta":
        return np.where(first, rng.beta(p[0], q[0], n), rng.beta(p[1], q[1], n))
    if family == "normal":
        return np.where(first, rng.normal(p[0], q[0], n), rng.normal(p[1], q[1], n))
    return np.where(first, rng.gamma(p[0], 1 / q[0], n), rng.gamma(p[1], 1 / q[1], n))


def _params(fit: MixtureFit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = fit.mixture
    return m.weights, *(np.asarray(v) for v in m._params())


def _true_pdf(family: str, grid: np.ndarray) -> np.ndarray:
    w, p, q = TRUE[family]
    if family == "beta":
        comps = [stats.beta(a, b) for a, b in zip(p, q, strict=True)]
    elif family == "normal":
        comps = [stats.norm(m, s) for m, s in zip(p, q, strict=True)]
    else:
        comps = [stats.gamma(a, scale=1 / r) for a, r in zip(p, q, strict=True)]
    return sum(wk * c.pdf(grid) for wk, c in zip(w, comps, strict=True))


# ----------------------------------------------------------------------- recovery
# Standard deviations of the estimates over 10 samples of 20000 draws: beta weight
# 0.012, a 2.6 %, b 2.8 %; normal weight 0.003, mean 0.011, sd 0.008; gamma weight
# 0.0035, shape 1.1 %, rate 1.9 %.
RECOVERY_TOL = {
    "beta": {"w": 0.05, "rel": 0.12},
    "normal": {"w": 0.015, "abs": 0.05},
    "gamma": {"w": 0.015, "rel": 0.08},
}


@pytest.mark.parametrize("family", ["beta", "normal", "gamma"])
def test_recovers_two_component_mixture_from_sample(family: str) -> None:
    x = _draw(family, 20000, seed=11)
    fit = fit_mixture(x, family, n_components=2)
    assert fit.converged and fit.n_components == 2 and fit.dropped == 0
    w, p, q = _params(fit)
    tw, tp, tq = (np.asarray(v) for v in TRUE[family])
    tol = RECOVERY_TOL[family]
    np.testing.assert_allclose(w, tw, atol=tol["w"])
    if family == "normal":
        np.testing.assert_allclose(p, tp, atol=tol["abs"])
        np.testing.assert_allclose(q, tq, atol=tol["abs"])
    else:
        np.testing.assert_allclose(p, tp, rtol=tol["rel"])
        np.testing.assert_allclose(q, tq, rtol=tol["rel"])


def _grid(family: str) -> tuple[np.ndarray, np.ndarray]:
    """Midpoints and density x spacing of the true mixture on a fine grid."""
    lo, hi, n = {
        "beta": (0.0, 1.0, 20000),
        "normal": (-8.0, 8.0, 16001),
        "gamma": (0.0, 20.0, 20001),
    }[family]
    edges = np.linspace(lo, hi, n + 1)
    mid = 0.5 * (edges[1:] + edges[:-1])
    return mid, _true_pdf(family, mid) * np.diff(edges)


@pytest.mark.parametrize("family", ["beta", "normal", "gamma"])
def test_weighted_grid_recovers_mixture_to_1e3(family: str) -> None:
    grid, dens = _grid(family)
    fit = fit_mixture(grid, family, weights=dens, n_components=2)
    assert fit.converged
    assert fit.n_obs == DEFAULT_N_OBS == 4000
    w, p, q = _params(fit)
    for est, true in zip((w, p, q), TRUE[family], strict=True):
        true = np.asarray(true, dtype=float)
        if family == "normal":  # a mean of 0 has no relative error
            np.testing.assert_allclose(est, true, rtol=1e-3, atol=1e-3)
        else:
            np.testing.assert_allclose(est, true, rtol=1e-3)


def test_weighted_loglik_scale_and_n_obs() -> None:
    grid, dens = _grid("normal")
    fit = fit_mixture(grid, "normal", weights=dens, n_components=2)
    w = dens / dens.sum()
    mean_ll = float(np.sum(w * np.log(fit.mixture.pdf(grid))))
    assert fit.loglik == pytest.approx(4000 * mean_ll, rel=1e-9)
    fit2 = fit_mixture(grid, "normal", weights=3.0 * dens, n_components=2, n_obs=250)
    assert fit2.n_obs == 250.0
    assert fit2.loglik == pytest.approx(250 * mean_ll, rel=1e-7)
    # unit weights are the ordinary sample log-likelihood with n_obs = len(x)
    x = _draw("normal", 3000, seed=4)
    a = fit_mixture(x, "normal", n_components=2)
    b = fit_mixture(x, "normal", weights=np.ones(x.size), n_obs=x.size, n_components=2)
    assert a.n_obs == 3000.0
    assert a.loglik == pytest.approx(float(np.sum(a.mixture.logpdf(x))), rel=1e-10)
    assert b.loglik == pytest.approx(a.loglik, rel=1e-10)
    np.testing.assert_allclose(b.mixture.weights, a.mixture.weights, rtol=1e-7)


# ---------------------------------------------------------- single components vs scipy
def test_single_component_matches_scipy_mle() -> None:
    rng = np.random.default_rng(2)
    xb = rng.beta(3.0, 8.0, 3000)
    fb = fit_mixture(xb, "beta", n_components=1)
    a, b, _, _ = stats.beta.fit(xb, floc=0, fscale=1)
    np.testing.assert_allclose([fb.mixture.a[0], fb.mixture.b[0]], [a, b], rtol=1e-6)
    xg = rng.gamma(3.0, 2.0, 3000)
    fg = fit_mixture(xg, "gamma", n_components=1)
    shape, _, scale = stats.gamma.fit(xg, floc=0)
    np.testing.assert_allclose(
        [fg.mixture.shape[0], fg.mixture.rate[0]], [shape, 1 / scale], rtol=1e-6
    )
    xn = rng.normal(5.0, 2.0, 3000)
    fn = fit_mixture(xn, "normal", n_components=1)
    np.testing.assert_allclose(
        [fn.mixture.mean[0], fn.mixture.sd[0]], [xn.mean(), xn.std()], rtol=1e-12
    )


# ------------------------------------------------------------- number of components
@pytest.mark.parametrize("seed", range(5))
def test_aic_picks_one_component_for_single_beta_sample(seed: int) -> None:
    x = np.random.default_rng(seed).beta(12.0, 30.0, 4000)
    fit = fit_mixture(x, "beta")
    assert fit.n_components == 1
    assert fit.criterion == "aic"
    assert fit_mixture(x, "beta", criterion="bic").n_components == 1


@pytest.mark.parametrize("seed", range(3))
def test_aic_picks_two_components_for_clear_mixture(seed: int) -> None:
    x = _draw("beta", 4000, seed=100 + seed)
    fit = fit_mixture(x, "beta")
    assert fit.n_components == 2
    assert fit_mixture(x, "beta", criterion="bic").n_components == 2


def test_criteria_table() -> None:
    x = _draw("gamma", 4000, seed=3)
    fit = fit_mixture(x, "gamma", max_components=3)
    crit = fit.criteria
    assert list(crit.columns) == [
        "K",
        "n_components",
        "n_params",
        "loglik",
        "aic",
        "bic",
        "converged",
        "iterations",
        "dropped",
    ]
    assert crit["K"].tolist() == [1, 2, 3]
    np.testing.assert_allclose(crit["aic"], -2 * crit["loglik"] + 6.0 * crit["n_params"])
    np.testing.assert_allclose(crit["bic"], -2 * crit["loglik"] + np.log(4000) * crit["n_params"])
    assert crit["n_params"].tolist() == [3 * k - 1 for k in crit["n_components"]]
    best = int(np.argmin(crit["aic"]))
    assert fit.n_components == crit["n_components"][best]
    assert fit.aic == crit["aic"][best] and fit.loglik == crit["loglik"][best]
    textbook = fit_mixture(x, "gamma", max_components=3, aic_penalty=2.0)
    np.testing.assert_allclose(
        textbook.criteria["aic"],
        -2 * textbook.criteria["loglik"] + 2 * textbook.criteria["n_params"],
    )


def test_loglik_does_not_decrease_with_more_components_on_clear_data() -> None:
    x = _draw("normal", 4000, seed=8)
    crit = fit_mixture(x, "normal", max_components=4).criteria
    assert (np.diff(crit["loglik"]) > -1e-6).all()


def test_max_components_capped_by_distinct_points() -> None:
    x = np.array([0.1, 0.2, 0.2, 0.3, 0.5])
    fit = fit_mixture(x, "beta", max_components=4)
    assert fit.criteria["K"].tolist() == [1, 2]


# ------------------------------------------------------------------ constraints
def test_constrain_keeps_beta_parameters_at_least_one() -> None:
    x = np.random.default_rng(5).beta(0.5, 0.5, 3000)  # U-shaped: the free MLE has a, b < 1
    free = fit_mixture(x, "beta", n_components=2, constrain=False).mixture
    assert (np.minimum(free.a, free.b) < 1).any()
    fit = fit_mixture(x, "beta", n_components=2)
    assert (fit.mixture.a >= 1).all() and (fit.mixture.b >= 1).all()
    assert np.isfinite(ess(fit.mixture, "elir"))  # ELIR is defined for a, b >= 1
    assert fit.loglik <= fit_mixture(x, "beta", n_components=2, constrain=False).loglik + 1e-6


# ------------------------------------------------------------ Monte Carlo cross-check
@pytest.mark.parametrize("family", ["beta", "normal", "gamma"])
def test_fitted_moments_match_sample(family: str) -> None:
    x = _draw(family, 8000, seed=21)
    fit = fit_mixture(x, family)
    se = x.std() / np.sqrt(x.size)
    assert abs(fit.mixture.mean() - x.mean()) < 0.1 * se
    assert abs(fit.mixture.sd() - x.std()) < 0.2 * se
    if family == "normal":  # the exact normal-mixture MLE reproduces both moments
        assert fit.mixture.mean() == pytest.approx(x.mean(), abs=1e-4 * x.std())
        assert fit.mixture.sd() == pytest.approx(x.std(), rel=1e-4)


def test_fitted_mixture_matches_sample_quantiles() -> None:
    x = _draw("beta", 8000, seed=22)
    fit = fit_mixture(x, "beta")
    probs = np.array([0.025, 0.25, 0.5, 0.75, 0.975])
    np.testing.assert_allclose(fit.mixture.ppf(probs), np.quantile(x, probs), atol=0.01)


# ---------------------------------------------------------------- result object
def test_result_surface() -> None:
    x = _draw("normal", 2000, seed=1)
    fit = fit_mixture(x, "normal", sigma=2.5)
    assert isinstance(fit.mixture, NormalMixture) and fit.mixture.sigma == 2.5
    assert fit.n_components == fit.mixture.n_components == 2
    assert (np.diff(fit.mixture.weights) <= 0).all()  # heaviest component first
    table = fit.summary()
    assert isinstance(table, pd.DataFrame) and len(table) == 2
    assert list(table.columns) == ["weight", "mean", "sd"]
    d = fit.to_dict()
    text = json.dumps(d)
    assert json.loads(text)["n_components"] == 2
    rebuilt = NormalMixture(
        d["mixture"]["weights"], d["mixture"]["mean"], d["mixture"]["sd"], sigma=2.5
    )
    assert rebuilt == fit.mixture
    html = fit._repr_html_()
    assert "<table" in html and "converged" in html
    assert "MixtureFit(family='normal'" in repr(fit)
    assert fit.trace[-1] == pytest.approx(fit.loglik, rel=1e-12)
    assert fit.iterations == len(fit.trace) - 1 >= 1  # the start, then one per iteration
    assert fit.provenance["arguments"]["family"] == "normal"
    with pytest.raises(AttributeError):
        fit.loglik = 0.0  # type: ignore[misc]


def test_plot_returns_axes() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fit = fit_mixture(_draw("beta", 1000, 3), "beta", n_components=2)
    ax = fit.plot()
    assert ax is not None
    plt.close("all")


def test_beta_and_gamma_results() -> None:
    fb = fit_mixture(_draw("beta", 3000, 2), "beta", n_components=2)
    assert isinstance(fb.mixture, BetaMixture)
    assert list(fb.summary().columns) == ["weight", "a", "b", "mean", "sd"]
    fg = fit_mixture(_draw("gamma", 3000, 2), "gamma", n_components=2, likelihood="exp")
    assert isinstance(fg.mixture, GammaMixture) and fg.mixture.likelihood == "exp"
    s = fg.summary()
    np.testing.assert_allclose(s["mean"], s["shape"] / s["rate"])


def test_trace_is_monotone() -> None:
    for family in ("beta", "normal", "gamma"):
        fit = fit_mixture(_draw(family, 3000, 6), family, n_components=3)
        tr = np.asarray(fit.trace)
        assert (np.diff(tr) >= -1e-12 * np.abs(tr[1:]).clip(1)).all()


def test_deterministic_and_no_global_rng() -> None:
    x = _draw("beta", 3000, seed=9)
    # the legacy global generator must be left untouched (read only, never seeded here)
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    a = fit_mixture(x, "beta")
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    b = fit_mixture(x, "beta")
    assert a.mixture == b.mixture
    assert a.trace == b.trace
    pd.testing.assert_frame_equal(a.criteria, b.criteria)


def test_does_not_modify_inputs() -> None:
    grid, dens = _grid("gamma")
    g0, d0 = grid.copy(), dens.copy()
    fit_mixture(grid, "gamma", weights=dens, n_components=1)
    np.testing.assert_array_equal(grid, g0)
    np.testing.assert_array_equal(dens, d0)


def test_zero_weight_points_are_ignored() -> None:
    grid, dens = _grid("beta")
    x = np.concatenate([grid, [0.0, 1.0]])  # outside the support but weightless
    w = np.concatenate([dens, [0.0, 0.0]])
    fit = fit_mixture(x, "beta", weights=w, n_components=2)
    ref = fit_mixture(grid, "beta", weights=dens, n_components=2)
    assert fit.mixture == ref.mixture


# --------------------------------------------------------- convergence and degeneracy
def test_convergence_warning_names_iterations_and_change() -> None:
    x = _draw("beta", 3000, seed=7)
    with pytest.warns(ConvergenceWarning, match=r"did not converge in 3 iterations.*last change"):
        fit = fit_mixture(x, "beta", n_components=2, max_iter=3)
    assert not fit.converged and fit.iterations == 3
    assert not fit.criteria["converged"][0]


def test_no_warning_when_converged() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_mixture(_draw("normal", 3000, seed=7), "normal")


def test_degenerate_component_is_dropped_and_reported() -> None:
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(0.0, 1.0, 500), np.full(50, 10.0)])  # a point mass
    with pytest.warns(ConvergenceWarning, match="degenerate component"):
        fit = fit_mixture(x, "normal", n_components=3)
    assert fit.dropped >= 1
    assert fit.n_components == 3 - fit.dropped == fit.mixture.n_components
    assert fit.criteria["n_components"][0] == fit.n_components
    assert (fit.mixture.sd > 1e-6 * x.std()).all()
    assert np.isfinite(fit.loglik)


# -------------------------------------------------------------------- properties
@st.composite
def _problem(draw: Any) -> dict[str, Any]:
    family = draw(st.sampled_from(["beta", "normal", "gamma"]))
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(12, 300))
    k_true = draw(st.integers(1, 3))
    rng = np.random.default_rng(seed)
    comp = rng.integers(0, k_true, n)
    if family == "beta":
        a, b = rng.uniform(0.3, 30, k_true), rng.uniform(0.3, 30, k_true)
        x = np.clip(rng.beta(a[comp], b[comp]), 1e-9, 1 - 1e-9)
    elif family == "normal":
        x = rng.normal(rng.normal(0, 5, k_true)[comp], rng.uniform(0.1, 3, k_true)[comp])
    else:
        x = rng.gamma(rng.uniform(0.3, 30, k_true)[comp], 1 / rng.uniform(0.1, 10, k_true)[comp])
        x = np.maximum(x, 1e-300)
    weights = rng.uniform(0, 1, n) if draw(st.booleans()) else None
    return {
        "x": x,
        "family": family,
        "weights": weights,
        "n_components": draw(st.one_of(st.none(), st.integers(1, 3))),
        "constrain": draw(st.booleans()),
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_problem())
def test_property_valid_mixture(problem: dict[str, Any]) -> None:
    n_distinct = np.unique(problem["x"]).size
    k = problem["n_components"]
    if k is not None and k > n_distinct // 2:
        with pytest.raises(ValueError, match="distinct points"):
            fit_mixture(**problem)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = fit_mixture(**problem, max_components=3)
    m = fit.mixture
    assert abs(m.weights.sum() - 1) < 1e-12 and (m.weights > 0).all()
    params = np.concatenate([np.asarray(p) for p in m._params()])
    assert np.isfinite(params).all()
    if problem["family"] != "normal":
        assert (params > 0).all()
    else:
        assert (np.asarray(m.sd) > 0).all()
    if problem["family"] == "beta" and problem["constrain"]:
        assert (m.a >= 1).all() and (m.b >= 1).all()
    assert np.isfinite(fit.loglik) and np.isfinite(fit.aic) and np.isfinite(fit.bic)
    tr = np.asarray(fit.trace)
    assert tr[-1] == pytest.approx(fit.loglik, rel=1e-12, abs=1e-12)
    if fit.dropped == 0:
        # EM and BFGS steps never lower the log-likelihood, up to rounding: small random
        # samples can give spikes with shapes near the 1e8 cap, whose log densities lose
        # ~1e-8 to cancellation (test_trace_is_monotone checks 1e-12 on regular fits)
        assert (np.diff(tr) >= -1e-7 * np.maximum(1.0, np.abs(tr[1:]))).all()
    assert fit.n_components == m.n_components <= 3
    json.dumps(fit.to_dict())


# --------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"x": [0.2, np.nan, 0.4], "family": "beta"}, ValueError, "NaN"),
        ({"x": [0.2, 1.0, 0.4], "family": "beta"}, ValueError, r"between 0 and 1.*x=1\.0"),
        ({"x": [0.2, -0.1, 0.4], "family": "beta"}, ValueError, r"x=-0\.1"),
        ({"x": [2.0, 0.0, 3.0], "family": "gamma"}, ValueError, r"strictly positive.*x=0\.0"),
        ({"x": [1.0, np.inf, 3.0], "family": "normal"}, ValueError, "finite"),
        ({"x": [[1.0, 2.0]], "family": "normal"}, ValueError, "1-D"),
        ({"x": [], "family": "normal"}, ValueError, "non-empty"),
        ({"x": "abc", "family": "normal"}, TypeError, "numeric"),
        ({"x": [1.0, 1.0, 1.0], "family": "normal"}, ValueError, "2 distinct"),
        ({"x": [1.0, 2.0], "family": "poisson"}, ValueError, "family must be one of"),
        ({"x": [1.0, 2.0], "family": "normal", "criterion": "dic"}, ValueError, "criterion"),
        ({"x": [1.0, 2.0], "family": "normal", "weights": [1.0]}, ValueError, "shape"),
        (
            {"x": [1.0, 2.0], "family": "normal", "weights": [1.0, -1.0]},
            ValueError,
            r"weights\[1\]=-1\.0",
        ),
        ({"x": [1.0, 2.0], "family": "normal", "weights": [0.0, 0.0]}, ValueError, "all be zero"),
        ({"x": [1.0, 2.0], "family": "normal", "weights": [1.0, np.nan]}, ValueError, "NaN"),
        (
            {"x": [1.0, 2.0, 3.0], "family": "normal", "n_components": 2},
            ValueError,
            "needs at least 4",
        ),
        (
            {"x": [1.0, 2.0], "family": "normal", "n_components": 0},
            ValueError,
            "n_components must be >= 1",
        ),
        ({"x": [1.0, 2.0], "family": "normal", "n_components": True}, TypeError, "n_components"),
        ({"x": [1.0, 2.0], "family": "normal", "n_components": 1.5}, TypeError, "n_components"),
        ({"x": [1.0, 2.0], "family": "normal", "max_components": 0}, ValueError, "max_components"),
        ({"x": [0.2, 0.4], "family": "beta", "sigma": 1.0}, ValueError, "sigma applies"),
        ({"x": [1.0, 2.0], "family": "normal", "sigma": -1.0}, ValueError, "sigma"),
        (
            {"x": [1.0, 2.0], "family": "normal", "likelihood": "exp"},
            ValueError,
            "likelihood applies",
        ),
        ({"x": [1.0, 2.0], "family": "gamma", "likelihood": "binomial"}, ValueError, "likelihood"),
        ({"x": [1.0, 2.0], "family": "normal", "tol": 0.0}, ValueError, "tol"),
        ({"x": [1.0, 2.0], "family": "normal", "max_iter": 0}, ValueError, "max_iter"),
        ({"x": [1.0, 2.0], "family": "normal", "n_obs": -5}, ValueError, "n_obs"),
        ({"x": [1.0, 2.0], "family": "normal", "n_obs": "many"}, TypeError, "n_obs"),
        ({"x": [1.0, 2.0], "family": "normal", "aic_penalty": 0}, ValueError, "aic_penalty"),
        ({"x": [1.0, 2.0], "family": "normal", "constrain": "yes"}, TypeError, "constrain"),
    ],
)
def test_bad_input(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        fit_mixture(**kwargs)
