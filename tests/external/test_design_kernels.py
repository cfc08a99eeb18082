"""Kernels of the external-control design simulation against the data-level functions
(statsmodels GLM, match, weight, ps_power_prior, hybrid_control) on the same data."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from rdstats.external import _design_analyses as bayes
from rdstats.external import _design_kernels as kern
from rdstats.external._design import ExternalControlDesign

COVS = ["x1", "x2", "x3"]
SCEN = {"effect": 0.3, "shift": 0.5, "unmeasured": 0.2, "drift": 0.1}


def _trials(n_c: int = 0, binary: bool = False, size: int = 3, seed: int = 3, **scen: float):
    d = ExternalControlDesign(n_control=n_c, endpoint="binary" if binary else "continuous")
    x, y = d._data({**SCEN, **scen}, size, np.random.default_rng(seed))
    return d, x, y


def _frame(x: np.ndarray, y: np.ndarray, n_t: int, n_c: int) -> pd.DataFrame:
    df = pd.DataFrame(x, columns=COVS)
    df["y"] = y
    df["study"] = (np.arange(len(y)) < n_t + n_c).astype(int)
    df["arm"] = (np.arange(len(y)) < n_t).astype(int)
    return df


def _lead(module: str, name: str):
    """The lead's data-level function (skip while its module has not landed)."""
    try:
        return getattr(importlib.import_module(f"rdstats.external.{module}"), name)
    except (ImportError, AttributeError):
        pytest.skip(f"rdstats.external.{module}.{name} is not available yet")


# -- propensity model --------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_logistic_fit_equals_statsmodels_glm(seed: int) -> None:
    import statsmodels.api as sm

    _, x, _ = _trials(n_c=5, size=2, seed=seed, shift=0.8)
    t = np.zeros(x.shape[:2])
    t[:, :30] = 1.0
    e, ok = kern.logistic_fit(x, t)
    assert ok.all()
    for b in range(2):
        fit = sm.GLM(t[b], sm.add_constant(x[b]), family=sm.families.Binomial()).fit(tol=1e-12)
        np.testing.assert_allclose(e[b], fit.fittedvalues, rtol=0, atol=1e-8)


def test_logistic_fit_flags_separation_and_keeps_others() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 40, 1))
    t = np.zeros((2, 40))
    t[:, :10] = 1.0
    x[0, :10, 0] += 10.0  # trial 0: complete separation
    e, ok = kern.logistic_fit(x, t)
    assert ok.tolist() == [False, True]
    assert np.all(np.isfinite(e[1]))


# -- matching and weighting -----------------------------------------------------------
@pytest.mark.parametrize(("n_c", "caliper"), [(0, None), (5, None), (0, 0.1)])
def test_matching_kernel_equals_match(n_c: int, caliper: float | None) -> None:
    from rdstats.external import match

    _, x, y = _trials(n_c=n_c, size=2, shift=0.7)
    t = np.zeros(y.shape)
    t[:, :30] = 1.0
    e, ok = kern.logistic_fit(x, t)
    res = kern.matching(e, y, 30, caliper, ok)
    for b in range(2):
        df = _frame(x[b], y[b], 30, n_c)
        m = match(df, "arm", COVS, method="nearest", ratio=1, replace=False, caliper=caliper)
        mm = m.match_matrix[1]
        expected = np.array([-1 if v is None or pd.isna(v) else int(v) - 30 for v in mm])
        np.testing.assert_array_equal(res["partner"][b], expected)
        w = m.weights
        yt, yc = y[b][(df.arm == 1) & (w > 0)], y[b][(df.arm == 0) & (w > 0)]
        assert res["n_matched"][b] == yt.size
        assert res["estimate"][b] == pytest.approx(yt.mean() - yc.mean(), abs=1e-12)
        diffs = y[b][:30][expected >= 0] - y[b][30:][expected[expected >= 0]]
        se = diffs.std(ddof=1) / np.sqrt(diffs.size)
        assert res["se"][b] == pytest.approx(se, rel=1e-12)


@pytest.mark.parametrize("n_c", [0, 8])
def test_weighting_kernel_equals_weight(n_c: int) -> None:
    from rdstats.external import weight

    _, x, y = _trials(n_c=n_c, size=2, shift=0.6)
    t = np.zeros(y.shape)
    t[:, :30] = 1.0
    e, ok = kern.logistic_fit(x, t)
    res = kern.weighting(e, y, 30, n_c, ok)
    for b in range(2):
        df = _frame(x[b], y[b], 30, n_c)
        w = weight(df, "arm", COVS, estimand="ATT").weights
        np.testing.assert_allclose(res["weights"][b], w[30:], rtol=1e-8)
        diff = y[b][:30].mean() - np.average(y[b][30:], weights=w[30:])
        assert res["estimate"][b] == pytest.approx(diff, abs=1e-8)
        we = w[30 + n_c :]
        assert res["ess_external"][b] == pytest.approx(we.sum() ** 2 / np.sum(we**2), rel=1e-8)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n_t=st.integers(2, 8),
    extra=st.integers(0, 6),
    caliper=st.one_of(st.none(), st.floats(0.05, 2.0)),
)
def test_matching_uses_each_control_once(
    seed: int, n_t: int, extra: int, caliper: float | None
) -> None:
    rng = np.random.default_rng(seed)
    n = 2 * n_t + extra
    ps = np.round(rng.random((3, n)), 2)  # ties are common
    y = rng.standard_normal((3, n))
    res = kern.matching(ps, y, n_t, caliper, np.ones(3, dtype=bool))
    for b in range(3):
        used = res["partner"][b][res["partner"][b] >= 0]
        assert used.size == np.unique(used).size == res["n_matched"][b]
        if caliper is None:
            assert used.size == n_t


# -- PS-integrated Bayesian analyses -------------------------------------------------
@pytest.mark.parametrize(
    ("n_c", "binary", "overlap"),
    [
        (0, False, "ovl"),
        (10, False, "ovl"),
        (0, True, "ovl"),
        (6, True, "equal"),
        (0, False, "equal"),
    ],
)
def test_ps_borrowing_kernel_equals_ps_power_prior(n_c: int, binary: bool, overlap: str) -> None:
    ps_power_prior = _lead("_ps_borrowing", "ps_power_prior")
    _, x, y = _trials(n_c=n_c, binary=binary, size=2)
    s = np.zeros(y.shape)
    s[:, : 30 + n_c] = 1.0
    e, ok = kern.logistic_fit(x, s)
    res = bayes.ps_borrowing(
        e, y, 30, n_c, n_strata=5, n_borrow=40.0, overlap=overlap, binary=binary,
        alpha=0.025, margin=0.1,
    )  # fmt: skip
    assert ok.all() and not res["failed"].any()
    for b in range(2):
        r = ps_power_prior(
            _frame(x[b], y[b], 30, n_c), "y", COVS, study="study",
            treatment="arm" if n_c else None, n_borrow=40, overlap=overlap, threshold=0.1,
        )  # fmt: skip
        got = [res[k][b] for k in ("estimate", "se", "lower", "upper", "prob", "borrowed")]
        want = [r.estimate, r.sd, r.ci_lower, r.ci_upper, r.prob_effect, r.n_borrowed]
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    ("n_c", "binary", "prior"),
    [
        (0, False, "power"),
        (10, False, "power"),
        (10, False, "eb_power"),
        (10, False, "commensurate"),
        (4, True, "power"),  # the data-level beta difference is slow: one binary case
    ],
)
def test_hybrid_kernel_equals_hybrid_control(n_c: int, binary: bool, prior: str) -> None:
    hybrid_control = _lead("_hybrid_control", "hybrid_control")
    _, x, y = _trials(n_c=n_c, binary=binary, size=2, seed=5)
    s = np.zeros(y.shape)
    s[:, : 30 + n_c] = 1.0
    e, _ = kern.logistic_fit(x, s)
    res = bayes.hybrid(
        e, y, 30, n_c, prior=prior, a0=0.5, tau_scale=0.7, binary=binary, alpha=0.025,
        margin=0.1,
    )  # fmt: skip
    for b in range(1 if binary else 2):  # the data-level beta difference is slow
        r = hybrid_control(
            _frame(x[b], y[b], 30, n_c), "y", COVS, study="study",
            treatment="arm" if n_c else None, prior=prior, a0=0.5,
            tau_prior=0.7 if prior == "commensurate" else None, threshold=0.1,
        )  # fmt: skip
        got = [res[k][b] for k in ("estimate", "se", "lower", "upper", "prob")]
        want = [r.estimate, r.sd, r.ci_lower, r.ci_upper, r.prob_effect]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)  # quadrature tolerances
        # the data level starts from a vague (SD 1e4 sigma) rather than flat prior
        assert res["borrowed"][b] == pytest.approx(r.borrowed, abs=1e-6)
        if r.a0 is not None:
            assert res["a0"][b] == pytest.approx(r.a0, abs=1e-8)


def test_beta_difference_against_numerical_integration() -> None:
    at, bt = np.array([3.0, 12.5, 1.0]), np.array([9.0, 4.0, 30.0])
    ac, bc = np.array([20.3, 2.0, 1.5]), np.array([41.2, 7.5, 1.0])
    prob, lo, hi = bayes._beta_difference(at, bt, ac, bc, 0.05, 0.025)
    for i in range(3):
        t, c = stats.beta(at[i], bt[i]), stats.beta(ac[i], bc[i])

        def sf(d: float, t=t, c=c) -> float:
            kinks = sorted({min(max(-d, 0.0), 1.0), min(max(1.0 - d, 0.0), 1.0)})
            f = lambda v: c.pdf(v) * t.sf(v + d)  # noqa: E731
            return integrate.quad(f, 0, 1, epsabs=1e-14, epsrel=1e-12, points=kinks, limit=200)[0]

        assert prob[i] == pytest.approx(sf(0.05), abs=1e-10)
        assert 1 - sf(lo[i]) == pytest.approx(0.025, abs=1e-10)
        assert 1 - sf(hi[i]) == pytest.approx(0.975, abs=1e-10)


def test_tau_rule_integrates_the_half_normal() -> None:
    tau, w = bayes._tau_rule(2.0)
    assert w.sum() == pytest.approx(1.0)
    assert np.sum(w * tau**2) == pytest.approx(4.0, rel=1e-9)  # E tau^2 = scale^2
    assert np.sum(w * tau) == pytest.approx(2.0 * np.sqrt(2 / np.pi), rel=1e-9)


def test_regression_kernel_equals_ols() -> None:
    import statsmodels.api as sm

    _, x, y = _trials(n_c=4, size=2)
    res = kern.regression(x, y, 30)
    for b in range(2):
        t = (np.arange(y.shape[1]) < 30).astype(float)
        fit = sm.OLS(y[b], np.column_stack([np.ones_like(t), t, x[b]])).fit()
        assert res["estimate"][b] == pytest.approx(fit.params[1], abs=1e-10)
        assert res["se"][b] == pytest.approx(fit.bse[1], rel=1e-10)


def test_weighting_mestimation_se_equals_numerical_sandwich() -> None:
    """The ATT weighting SE of the design kernel equals the sandwich of the stacked
    estimating equations with a numerically differentiated bread (statsmodels MLE)."""
    import statsmodels.api as sm
    from scipy import special
    from scipy.optimize import approx_fprime

    rng = np.random.default_rng(1)
    nt, ne, p = 30, 300, 3
    x = np.r_[rng.normal(0.5, 1, (nt, p)), rng.normal(0, 1, (ne, p))][None]
    y = (x[0] @ np.array([1.0, 0.5, 0.5]) + rng.normal(size=nt + ne))[None]
    t = np.zeros((1, nt + ne))
    t[:, :nt] = 1
    e, ok = kern.logistic_fit(x, t)
    res = kern.weighting(e, y, nt, 0, ok, x)
    xd = np.c_[np.ones(nt + ne), x[0]]
    tt, yy, n = t[0], y[0], nt + ne

    def psi(th: np.ndarray) -> np.ndarray:
        ee = special.expit(xd @ th[:4])
        w = ee / (1 - ee)
        return np.c_[(tt - ee)[:, None] * xd, tt * (yy - th[4]), (1 - tt) * w * (yy - th[5])]

    b = sm.GLM(tt, xd, family=sm.families.Binomial()).fit().params
    ee = special.expit(xd @ b)
    w = ee / (1 - ee)
    th = np.r_[b, yy[tt == 1].mean(), np.sum((1 - tt) * w * yy) / np.sum((1 - tt) * w)]
    bread = -np.array([approx_fprime(th, lambda v, k=k: psi(v).mean(0)[k], 1e-7) for k in range(6)])
    meat = psi(th).T @ psi(th) / n
    inv = np.linalg.inv(bread)
    cov = inv @ meat @ inv.T / n
    c = np.r_[0, 0, 0, 0, 1, -1]
    assert res["se"][0] == pytest.approx(np.sqrt(c @ cov @ c), rel=1e-6)
    assert res["estimate"][0] == pytest.approx(th[4] - th[5], rel=1e-9)
