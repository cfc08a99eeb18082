"""Flexible propensity models: probit / cloglog GLMs and the natural-spline logistic model
against R's glm (tests/reference/external_flexible_ps.json), score equations, the spline
basis, CBPS balance properties and hand-derived cases, and bad input for every model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from rdstats.datasets import load_lalonde
from rdstats.external._cbps import balance_residual, cbps_fit
from rdstats.external._entropy import entropy_weights
from rdstats.external._propensity import propensity_scores
from rdstats.external._ps_models import natural_spline_basis
from rdstats.external._weighting import weight

ROOT = Path(__file__).resolve().parents[2]
REF = json.loads((ROOT / "tests" / "reference" / "external_flexible_ps.json").read_text())
COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
MODELS = ["logistic", "probit", "cloglog", "spline", "cbps"]


@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    return load_lalonde()


def small(seed: int = 1, n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    g = rng.choice(["a", "b", "c"], size=n)
    lp = -0.3 + 0.8 * x + np.where(g == "b", 0.5, 0.0)
    t = (rng.uniform(size=n) < 1 / (1 + np.exp(-lp))).astype(int)
    return pd.DataFrame({"t": t, "x": x, "g": g, "b": rng.integers(0, 2, size=n)})


# ------------------------------------------------------------------ R glm references


@pytest.mark.parametrize("model", ["probit", "cloglog"])
def test_glm_links_match_r(lalonde: pd.DataFrame, model: str) -> None:
    ref = REF[model]
    ps = propensity_scores(lalonde, "treat", COVS, model=model)
    np.testing.assert_allclose(ps.scores, ref["fitted"], atol=ref["tolerance"]["fitted"])
    est = ps.coefficients["estimate"].to_numpy()
    np.testing.assert_allclose(est, list(ref["coefficients"].values()), rtol=1e-6, atol=1e-9)
    se = ps.coefficients["std_error"].to_numpy()
    np.testing.assert_allclose(se, list(ref["std_errors"].values()), rtol=1e-5)
    assert ps.model.llf == pytest.approx(ref["loglik"], abs=1e-6)
    assert ps.model_name == model and ps.to_dict()["model"] == model
    link = {"probit": norm.ppf, "cloglog": lambda p: np.log(-np.log1p(-p))}[model]
    np.testing.assert_allclose(ps.linear_predictor, link(ps.scores), rtol=1e-8, atol=1e-8)


def test_spline_matches_r_ns(lalonde: pd.DataFrame) -> None:
    ref = REF["spline"]
    ps = propensity_scores(lalonde, "treat", COVS, model="spline", model_options={"df": 4})
    np.testing.assert_allclose(ps.scores, ref["fitted"], atol=ref["tolerance"]["fitted"])
    assert ps.model.llf == pytest.approx(ref["loglik"], abs=1e-6)
    assert len(ps.coefficients) == ref["n_coefficients"]
    knots = ps.provenance["arguments"]["spline_knots"]
    for name, inner in ref["interior_knots"].items():
        np.testing.assert_allclose(knots[name][1:-1], inner, rtol=1e-12)
    # race, married and nodegree enter linearly; re74 has tied quantiles at 0: 3 columns
    assert "married" in ps.coefficients.index and "race_white" in ps.coefficients.index
    assert sum(i.startswith("ns(re74)") for i in ps.coefficients.index) == 3
    assert sum(i.startswith("ns(age)") for i in ps.coefficients.index) == 4


def test_spline_basis_is_natural_cubic() -> None:
    x = np.linspace(-2.0, 3.0, 20001)
    h = x[1] - x[0]
    basis, knots = natural_spline_basis(x, 5)
    assert basis.shape == (20001, 5) and knots.size == 6
    np.testing.assert_allclose(knots[1:-1], np.quantile(x, [0.2, 0.4, 0.6, 0.8]))
    # cubic between knots: third differences are constant away from the knots
    d3 = np.diff(basis, n=3, axis=0) / h**3
    mid = x[:-3] + 1.5 * h
    inside = (mid > knots[1] + 0.01) & (mid < knots[2] - 0.01)
    assert np.ptp(d3[inside], axis=0).max() < 1e-3 * np.abs(d3).max()
    # natural: zero second derivative at both boundary knots (linear beyond them)
    d2 = np.diff(basis, n=2, axis=0) / h**2
    scale = np.abs(d2).max()
    assert np.abs(d2[0]).max() < 1e-3 * scale and np.abs(d2[-1]).max() < 1e-3 * scale
    # the basis (with a constant) reproduces straight lines exactly
    design = np.column_stack([np.ones_like(x), basis])
    coef, *_ = np.linalg.lstsq(design, 1.0 + 2.0 * x, rcond=None)
    np.testing.assert_allclose(design @ coef, 1.0 + 2.0 * x, atol=1e-9)


# ------------------------------------------------------------------ score equations


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), model=st.sampled_from(["probit", "cloglog"]))
def test_glm_score_equations_vanish(seed: int, model: str) -> None:
    d = small(seed)
    ps = propensity_scores(d, "t", ["x", "g", "b"], model=model)
    x = ps.model.model.exog
    mu, eta = ps.scores, ps.linear_predictor
    dmu = norm.pdf(eta) if model == "probit" else np.exp(eta - np.exp(eta))
    score = x.T @ ((ps.treatment - mu) * dmu / (mu * (1 - mu)))
    assert np.abs(score).max() < 1e-6 * len(d)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), model=st.sampled_from(MODELS))
def test_scores_in_unit_interval_with_overlap_table(seed: int, model: str) -> None:
    d = small(seed, n=120)
    ps = propensity_scores(d, "t", ["x", "g", "b"], model=model)
    assert np.all((ps.scores > 0) & (ps.scores < 1))
    assert ps.summary().shape == (2, 4)
    assert ps.overlap["n"].sum() == len(d)
    json.dumps(ps.to_dict())
    assert model in ps._repr_html_()


# ------------------------------------------------------------------ CBPS


def _att_balance(ps: np.ndarray, t: np.ndarray, x: np.ndarray) -> np.ndarray:
    odds = ps[t == 0] / (1 - ps[t == 0])
    return odds @ x[t == 0] / odds.sum() - x[t == 1].mean(axis=0)


def _ate_balance(ps: np.ndarray, t: np.ndarray, x: np.ndarray) -> np.ndarray:
    w1, w0 = 1 / ps[t == 1], 1 / (1 - ps[t == 0])
    return w1 @ x[t == 1] / w1.sum() - w0 @ x[t == 0] / w0.sum()


@pytest.mark.parametrize("estimand", ["ATT", "ATE"])
def test_cbps_balances_lalonde_exactly(lalonde: pd.DataFrame, estimand: str) -> None:
    ps = propensity_scores(
        lalonde, "treat", COVS, model="cbps", model_options={"estimand": estimand}
    )
    x = ps.model.exog[:, 1:]
    t = ps.treatment
    bal = (_att_balance if estimand == "ATT" else _ate_balance)(ps.scores, t, x)
    assert np.abs(bal / x.std(axis=0)).max() < 1e-8  # standardised differences ~ 0
    if estimand == "ATT":  # odds weights also sum to the number treated
        odds = ps.scores[t == 0] / (1 - ps.scores[t == 0])
        assert odds.sum() == pytest.approx(t.sum(), rel=1e-9)
    assert np.abs(balance_residual(ps.model, t)).max() < 1e-6
    assert np.all(np.isfinite(ps.coefficients["std_error"]))
    # the logistic MLE does not balance exactly: CBPS moved away from its start
    mle = propensity_scores(lalonde, "treat", COVS)
    assert np.abs((_att_balance if estimand == "ATT" else _ate_balance)(mle.scores, t, x)).max() > 1


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), estimand=st.sampled_from(["ATT", "ATE"]))
def test_cbps_balance_property(seed: int, estimand: str) -> None:
    d = small(seed, n=150)
    ps = propensity_scores(
        d, "t", ["x", "g", "b"], model="cbps", model_options={"estimand": estimand}
    )
    x = ps.model.exog[:, 1:]
    bal = (_att_balance if estimand == "ATT" else _ate_balance)(ps.scores, ps.treatment, x)
    assert np.abs(bal).max() < 1e-8


def test_cbps_att_equals_entropy_balancing(lalonde: pd.DataFrame) -> None:
    """Just-identified ATT CBPS odds weights exp(x'b) are entropy-balancing weights
    (Zhao & Percival 2017): compare with rdstats' independent entropy balancing."""
    ps = propensity_scores(lalonde, "treat", COVS, model="cbps")
    t = ps.treatment
    x = ps.model.exog[:, 1:]
    odds = ps.scores[t == 0] / (1 - ps.scores[t == 0])
    eb = entropy_weights(x[t == 0], x[t == 1])
    np.testing.assert_allclose(odds / odds.sum(), eb / eb.sum(), rtol=1e-6, atol=1e-12)


def test_cbps_hand_derived_saturated_cases() -> None:
    # intercept only: ATT balance sum_ctl e/(1-e) = n1 gives e = n1 / n; same for ATE
    t = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    one = pd.DataFrame({"Intercept": np.ones(10)})
    for est in ("ATT", "ATE"):
        fit = cbps_fit(t, one, pd.Series([0.0], index=["Intercept"]), est)
        np.testing.assert_allclose(fit.fittedvalues, 0.3, rtol=1e-12)
    # one binary covariate: the model is saturated, so CBPS = MLE = cell proportions
    z = np.array([0, 0, 1, 0, 0, 0, 1, 1, 1, 0])
    d = pd.DataFrame({"t": t, "z": z})
    cell = pd.Series(t).groupby(z).transform("mean").to_numpy()
    for est in ("ATT", "ATE"):
        ps = propensity_scores(d, "t", ["z"], model="cbps", model_options={"estimand": est})
        np.testing.assert_allclose(ps.scores, cell, rtol=1e-10)


def test_cbps_without_solution_is_an_error() -> None:
    # groups overlap (no separation) but the treated mean lies above every control
    d = pd.DataFrame({"t": [1, 1, 1, 1, 0, 0, 0, 0, 0], "x": [0.5, 5, 6, 7, 0, 0.2, 0.6, 0.9, 1]})
    propensity_scores(d, "t", ["x"])  # the logistic fit exists
    with pytest.raises(ValueError, match=r"CBPS .*balance"):
        propensity_scores(d, "t", ["x"], model="cbps")


# ------------------------------------------------------------------ weight() and match()


def test_weight_and_match_accept_the_models(lalonde: pd.DataFrame) -> None:
    from rdstats.external._matching import match

    w = weight(lalonde, "treat", COVS, estimand="ATE", ps_model="cbps")
    assert w.propensity is not None and w.propensity.model.estimand == "ATE"
    assert w.provenance["arguments"]["ps_model"] == "cbps"
    bal = w.balance()
    assert np.abs(bal.loc[[*COVS[:2], "married", "re74"], "smd_adj"]).max() < 1e-8
    ws = weight(lalonde, "treat", COVS, ps_model="spline", ps_options={"df": 3})
    assert ws.propensity is not None and ws.propensity.model_name == "spline"
    df = lalonde.set_index("id")
    m = match(df, "treat", COVS, distance="probit")
    probit = propensity_scores(df, "treat", COVS, model="probit").scores
    np.testing.assert_allclose(m.distance, probit)
    m2 = match(df, "treat", COVS, distance="cbps", caliper=0.2, caliper_scale="logit")
    assert "cbps" in m2.distance_kind
    m3 = match(df, "treat", COVS, distance="spline", distance_options={"df": 3})
    assert m3.provenance["arguments"]["distance_options"] == {"df": 3}


# ------------------------------------------------------------------ bad input


def test_bad_model_and_options() -> None:
    d = small()
    with pytest.raises(ValueError, match="model must be one of"):
        propensity_scores(d, "t", ["x"], model="gam")
    with pytest.raises(ValueError, match=r"model_options\['df'\]"):
        propensity_scores(d, "t", ["x"], model="spline", model_options={"df": 0})
    for bad in (2.5, "4", True):
        with pytest.raises(ValueError, match="df"):
            propensity_scores(d, "t", ["x"], model="spline", model_options={"df": bad})
    with pytest.raises(ValueError, match="do not apply"):
        propensity_scores(d, "t", ["x"], model="probit", model_options={"df": 4})
    with pytest.raises(ValueError, match="do not apply"):
        propensity_scores(d, "t", ["x"], model="spline", model_options={"knots": 4})
    with pytest.raises(TypeError, match="model_options"):
        propensity_scores(d, "t", ["x"], model="spline", model_options=4)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="estimand"):
        propensity_scores(d, "t", ["x"], model="cbps", model_options={"estimand": "ATO"})
    with pytest.raises(ValueError, match="formula cannot"):
        propensity_scores(d, "t", formula="t ~ x", model="spline")
    with pytest.raises(ValueError, match="distance_options"):
        from rdstats.external._matching import match

        match(d, "t", ["x"], distance="mahalanobis", distance_options={"df": 3})


@pytest.mark.parametrize("model", MODELS)
def test_separation_is_an_error_for_every_model(model: str) -> None:
    d = small()
    d["z"] = d["t"] * 5.0 + np.linspace(0, 1, len(d))
    with pytest.raises(ValueError, match=r"separation.*'z'"):
        propensity_scores(d, "t", ["x", "z"], model=model)


def test_formula_with_probit_and_cbps() -> None:
    d = small()
    a = propensity_scores(d, "t", ["x", "g"], model="probit")
    b = propensity_scores(d, "t", formula="t ~ x + g", model="probit")
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-10)
    c = propensity_scores(d, "t", formula="t ~ x + I(x**2)", model="cbps")
    assert "I(x ** 2)" in c.coefficients.index
