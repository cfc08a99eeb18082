"""Tests of rdstats.external prognostic-score adjustment (PROCOVA): statsmodels cross-checks,
Monte Carlo unbiasedness and variance reduction against the asymptotic 1 - rho^2, invariances
and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rdstats.external._procova import ProcovaResult, procova, procova_sample_size
from rdstats.external._prognostic import PrognosticModel, prognostic_model

EFFECT = 0.7
B = np.array([1.0, 1.0, 0.5])  # intercept, x1, x2 of the control outcome
SIGMA = 1.0
# prognostic part var = 1 + 0.25 with standard-normal covariates
RHO2 = 1.25 / (1.25 + SIGMA**2)


def _patients(rng: np.random.Generator, n: int) -> pd.DataFrame:
    x = rng.normal(size=(n, 2))
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1]})


def _control_mean(d: pd.DataFrame) -> np.ndarray:
    return B[0] + B[1] * d.x1.to_numpy() + B[2] * d.x2.to_numpy()


def _historical(rng: np.random.Generator, n: int = 3000) -> pd.DataFrame:
    d = _patients(rng, n)
    d["y"] = _control_mean(d) + rng.normal(scale=SIGMA, size=n)
    d["site"] = rng.choice(["a", "b", "c"], size=n)
    return d


def _trial(rng: np.random.Generator, n: int = 100) -> pd.DataFrame:
    d = _patients(rng, n)
    d["t"] = rng.permutation(np.repeat([0, 1], n // 2))
    d["y"] = _control_mean(d) + EFFECT * d.t + rng.normal(scale=SIGMA, size=n)
    return d


@pytest.fixture(scope="module")
def pm() -> PrognosticModel:
    return prognostic_model(_historical(np.random.default_rng(11)), "y", ["x1", "x2"])


@pytest.fixture(scope="module")
def monte_carlo(pm: PrognosticModel) -> pd.DataFrame:
    rng = np.random.default_rng(2024)
    rows = []
    for _ in range(300):
        r = procova(_trial(rng), "y", "t", pm)
        rows.append((r.estimate, r.std_error, r.unadjusted_estimate, r.unadjusted_std_error))
    return pd.DataFrame(rows, columns=["adj", "se_adj", "una", "se_una"])


def test_monte_carlo_unbiased(monte_carlo: pd.DataFrame) -> None:
    for col in ("adj", "una"):
        est = monte_carlo[col]
        mcse = est.std(ddof=1) / math.sqrt(len(est))
        assert abs(est.mean() - EFFECT) < 4 * mcse


def test_monte_carlo_standard_errors(monte_carlo: pd.DataFrame) -> None:
    assert (monte_carlo.se_adj < monte_carlo.se_una).mean() > 0.95
    # robust SEs track the Monte Carlo SDs of the estimates (within 15 %)
    assert monte_carlo.se_adj.mean() == pytest.approx(monte_carlo.adj.std(), rel=0.15)
    assert monte_carlo.se_una.mean() == pytest.approx(monte_carlo.una.std(), rel=0.15)


def test_monte_carlo_variance_ratio(monte_carlo: pd.DataFrame) -> None:
    """Empirical var(adjusted)/var(unadjusted) vs 1 - rho^2.

    Tolerance: with R replicates of a bivariate normal pair whose correlation is
    c = sqrt(r) (the efficient ANCOVA estimate is uncorrelated with its difference from the
    unadjusted one), var(log s_a^2 - log s_u^2) ~ 4 (1 - c^2) / (R - 1); allow 4 such SDs.
    The finite-sample inflation of the ANCOVA variance (about 1 + 1/(n - 4), n = 100) and the
    estimation error of the prognostic model (3000 historical patients) are far smaller.
    """
    r = 1 - RHO2
    reps = len(monte_carlo)
    ratio = monte_carlo.adj.var(ddof=1) / monte_carlo.una.var(ddof=1)
    sd_log = math.sqrt(4 * (1 - r) / (reps - 1))
    assert abs(math.log(ratio) - math.log(r)) < 4 * sd_log
    # the per-trial reported quantities agree with the same target on average
    assert monte_carlo.se_adj.pow(2).mean() / monte_carlo.se_una.pow(2).mean() == pytest.approx(
        r, rel=0.1
    )


def test_point_estimate_equals_statsmodels(pm: PrognosticModel) -> None:
    import statsmodels.api as sm

    trial = _trial(np.random.default_rng(5), 60)
    trial["age"] = np.random.default_rng(6).normal(50, 10, size=60)
    res = procova(trial, "y", "t", pm, covariates=["age"], level=0.9)
    score = pm.predict(trial)
    exog = np.column_stack([np.ones(60), trial.t, score, trial.age])
    fit = sm.OLS(trial.y.to_numpy(), exog).fit(cov_type="HC1")
    assert res.estimate == pytest.approx(fit.params[1], abs=1e-10)
    assert res.std_error == pytest.approx(fit.bse[1], rel=1e-10)
    assert [res.ci_lower, res.ci_upper] == pytest.approx(fit.conf_int(0.1)[1], rel=1e-10)
    una = sm.OLS(trial.y.to_numpy(), exog[:, :2]).fit(cov_type="HC1")
    diff = trial.y[trial.t == 1].mean() - trial.y[trial.t == 0].mean()
    assert res.unadjusted_estimate == pytest.approx(diff, abs=1e-10)
    assert res.unadjusted_std_error == pytest.approx(una.bse[1], rel=1e-10)
    assert res.variance_reduction == pytest.approx(1 - fit.bse[1] ** 2 / una.bse[1] ** 2)
    assert list(res.coefficients.index) == ["Intercept", "t", "prognostic_score", "age"]
    # the same analysis from a score column and from an array
    trial["s"] = score
    for prog in ("s", score):
        assert procova(trial, "y", "t", prog, covariates="age", level=0.9).estimate == (
            pytest.approx(res.estimate, abs=1e-12)
        )


def test_rho_and_patients_saved(pm: PrognosticModel) -> None:
    trial = _trial(np.random.default_rng(8), 200)
    res = procova(trial, "y", "t", pm)
    s, y, t = pm.predict(trial), trial.y.to_numpy(), trial.t.to_numpy()
    ry = np.concatenate([y[t == g] - y[t == g].mean() for g in (0, 1)])
    rs = np.concatenate([s[t == g] - s[t == g].mean() for g in (0, 1)])
    assert res.rho == pytest.approx(np.corrcoef(ry, rs)[0, 1], rel=1e-12)
    assert res.rho**2 == pytest.approx(RHO2, abs=0.15)
    assert res.patients_saved == pytest.approx(200 * res.rho**2)
    assert (res.n, res.n_treated, res.n_control) == (200, 100, 100)


def test_prognostic_score_reproduces_ols() -> None:
    import statsmodels.formula.api as smf

    hist = _historical(np.random.default_rng(3), 400)
    pm = prognostic_model(hist, "y", ["x1", "x2", "site"])
    fit = smf.ols("y ~ x1 + x2 + site", hist).fit()
    np.testing.assert_allclose(pm.predict(hist), fit.fittedvalues, rtol=0, atol=1e-10)
    names = ["Intercept", "x1", "x2", "site[T.b]", "site[T.c]"]
    np.testing.assert_allclose(pm.coefficients["estimate"], fit.params[names], atol=1e-10)
    np.testing.assert_allclose(pm.coefficients["std_error"], fit.bse[names], rtol=1e-8)
    assert pm.columns == ("x1", "x2", "site_b", "site_c")
    # new data with a subset of the levels, in another order
    new = hist.iloc[[5, 1, 2]].assign(site=["c", "c", "b"])
    np.testing.assert_allclose(pm.predict(new), fit.predict(new), atol=1e-10)


def test_logistic_prognostic_model_matches_glm() -> None:
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    hist = _historical(np.random.default_rng(4), 500)
    hist["event"] = (hist.y > 1).astype(int)
    pm = prognostic_model(hist, "event", ["x1", "x2"], model="logistic")
    fit = smf.glm("event ~ x1 + x2", hist, family=sm.families.Binomial()).fit()
    np.testing.assert_allclose(pm.predict(hist), fit.fittedvalues, atol=1e-8)
    np.testing.assert_allclose(
        pm.predict(hist, scale="linear"), fit.predict(hist, which="linear"), atol=1e-7
    )


def test_result_surface(pm: PrognosticModel) -> None:
    res = procova(_trial(np.random.default_rng(9)), "y", "t", pm)
    assert isinstance(res, ProcovaResult)
    tab = res.summary()
    assert list(tab.index) == ["unadjusted", "PROCOVA"]
    assert tab.loc["PROCOVA", "estimate"] == res.estimate
    json.dumps(res.to_dict())
    json.dumps(pm.to_dict())
    assert "ProcovaResult" in res._repr_html_()
    assert "PrognosticModel" in pm._repr_html_()
    assert not res.score.flags.writeable
    with pytest.raises(AttributeError):
        res.estimate = 0.0  # type: ignore[misc]


@settings(max_examples=25, deadline=None)
@given(shift=st.floats(-100, 100), scale=st.floats(0.1, 10))
def test_estimate_invariant_to_affine_score(shift: float, scale: float) -> None:
    trial = _trial(np.random.default_rng(1), 40)
    s = trial.x1.to_numpy() + 0.5 * trial.x2.to_numpy()
    a = procova(trial, "y", "t", s)
    b = procova(trial, "y", "t", shift + scale * s)
    assert b.estimate == pytest.approx(a.estimate, abs=1e-8)
    assert b.std_error == pytest.approx(a.std_error, rel=1e-7)
    assert b.rho == pytest.approx(a.rho, abs=1e-10)


@given(n=st.floats(1, 1e5), rho=st.floats(0, 0.999))
def test_sample_size_properties(n: float, rho: float) -> None:
    m = procova_sample_size(n, rho)
    assert 0 < m <= n
    assert m == pytest.approx((1 - rho**2) * n)


def test_sample_size_values() -> None:
    assert procova_sample_size(200, 0.5) == 150.0
    assert procova_sample_size(100, 0) == 100.0


@pytest.mark.parametrize(
    ("n", "rho", "exc", "msg"),
    [
        (100, 1.0, ValueError, "rho"),
        (100, -0.1, ValueError, "rho"),
        (100, 1.5, ValueError, "rho"),
        (100, float("nan"), ValueError, "rho"),
        (100, "0.5", TypeError, "rho"),
        (0, 0.5, ValueError, "n_unadjusted"),
        (-5, 0.5, ValueError, "n_unadjusted"),
    ],
)
def test_sample_size_bad_input(n: object, rho: object, exc: type, msg: str) -> None:
    with pytest.raises(exc, match=msg):
        procova_sample_size(n, rho)  # type: ignore[arg-type]


def test_bad_input(pm: PrognosticModel) -> None:
    trial = _trial(np.random.default_rng(10), 40)
    with pytest.raises(ValueError, match="outcome 'z'"):
        procova(trial, "z", "t", pm)
    with pytest.raises(ValueError, match="outcome 'z'"):
        prognostic_model(_historical(np.random.default_rng(1), 50), "z", ["x1"])
    with pytest.raises(ValueError, match="binary"):
        procova(trial.assign(t=np.arange(40) % 3), "y", "t", pm)
    s = pm.predict(trial)
    s[[3, 7]] = np.nan
    with pytest.raises(ValueError, match="2 missing or non-finite"):
        procova(trial, "y", "t", s)
    with pytest.raises(ValueError, match="one value per trial row"):
        procova(trial, "y", "t", s[:10])
    with pytest.raises(ValueError, match="constant"):
        procova(trial, "y", "t", np.ones(40))
    with pytest.raises(ValueError, match="missing or non-finite"):
        procova(trial.assign(y=np.where(np.arange(40) == 2, np.nan, trial.y)), "y", "t", pm)
    with pytest.raises(ValueError, match="prognostic covariates"):
        procova(trial.drop(columns="x2"), "y", "t", pm)
    with pytest.raises(ValueError, match="level"):
        procova(trial, "y", "t", pm, level=1.5)
    with pytest.raises(ValueError, match="model must be"):
        prognostic_model(_historical(np.random.default_rng(1), 50), "y", ["x1"], model="cox")
    with pytest.raises(ValueError, match="0/1"):
        prognostic_model(_historical(np.random.default_rng(1), 50), "y", ["x1"], model="logistic")
    with pytest.raises(TypeError, match="DataFrame"):
        procova(trial.to_numpy(), "y", "t", pm)  # type: ignore[arg-type]
    hist = _historical(np.random.default_rng(1), 50)
    pm_site = prognostic_model(hist, "y", ["x1", "site"])
    with pytest.raises(ValueError, match="not seen"):
        pm_site.predict(hist.assign(site="z"))
    with pytest.raises(ValueError, match="collinear"):
        prognostic_model(hist.assign(x3=2 * hist.x1), "y", ["x1", "x3"])


def test_no_statsmodels_on_import() -> None:
    import subprocess
    import sys

    code = "import sys, rdstats, rdstats.external._procova; assert 'statsmodels' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_hc1_by_hand_and_categorical_covariate(pm: PrognosticModel) -> None:
    """Independent check of the robust SE: HC1 = n/(n-k) (X'X)^-1 X' diag(e^2) X (X'X)^-1."""
    rng = np.random.default_rng(12)
    trial = _trial(rng, 50)
    trial["arm"] = trial.t.astype(bool)
    trial["sex"] = rng.choice(["f", "m"], size=50)
    res = procova(trial, "y", "arm", pm, covariates=["sex"])
    x = np.column_stack([np.ones(50), trial.t, pm.predict(trial), trial.sex == "m"]).astype(float)
    y = trial.y.to_numpy()
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    e = y - x @ beta
    cov = 50 / (50 - 4) * xtx_inv @ (x.T * e**2) @ x @ xtx_inv
    assert res.estimate == pytest.approx(beta[1], abs=1e-10)
    assert res.std_error == pytest.approx(math.sqrt(cov[1, 1]), rel=1e-10)
    assert list(res.coefficients.index) == ["Intercept", "arm", "prognostic_score", "sex_m"]
