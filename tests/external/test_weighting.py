"""Weighting: the issue's visible lalonde reference (ATT odds weights), weight formulas,
entropy balancing, trimming, stabilisation, properties and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rdstats.datasets import load_lalonde
from rdstats.external._propensity import propensity_scores
from rdstats.external._weighting import WeightResult, effective_sample_size, weight

ROOT = Path(__file__).resolve().parents[2]
REF = json.loads((ROOT / "tests" / "reference" / "external_lalonde.json").read_text())
COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]


def lalonde() -> pd.DataFrame:
    return load_lalonde()


def small(seed: int = 1, n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    g = rng.choice(["a", "b", "c"], size=n)
    lp = -0.3 + 0.8 * x + np.where(g == "b", 0.5, 0.0)
    t = (rng.uniform(size=n) < 1 / (1 + np.exp(-lp))).astype(int)
    return pd.DataFrame({"t": t, "x": x, "g": g, "y": rng.normal(size=n)})


@pytest.mark.parametrize(
    "case", [c for c in REF["cases"] if c["kind"] == "att_odds_weights"], ids=lambda c: c["name"]
)
def test_lalonde_reference_att_weights(case: dict) -> None:
    d = lalonde()
    inp = case["inputs"]
    w = weight(d, inp["treatment"], inp["covariates"], estimand="ATT")
    t = w.treatment == 1
    y = d[inp["outcome"]].to_numpy()
    got = {
        "control_ess": w.ess["control"],
        "att": y[t].mean() - np.average(y[~t], weights=w.weights[~t]),
    }
    for name, value in case["expected"].items():
        assert got[name] == pytest.approx(value, abs=case["tolerance"]["abs"])


def test_lalonde_result_object() -> None:
    d = lalonde()
    w = weight(d, "treat", COVS)
    assert isinstance(w, WeightResult)
    tab = w.balance()
    assert tab.index[0] == "distance"
    assert (tab["smd_adj"].abs() < 0.13).all() and (tab["smd_un"].abs() > 0.05).sum() >= 6
    summ = w.summary()
    assert summ.loc["treated", "cv"] == 0 and summ.loc["control", "ess"] == w.ess["control"]
    json.dumps(w.to_dict())
    assert "WeightResult" in w._repr_html_()


def test_lalonde_entropy_balancing() -> None:
    d = lalonde()
    w = weight(d, "treat", COVS, method="entropy")
    tab = w.balance()
    np.testing.assert_allclose(tab["smd_adj"], 0.0, atol=1e-8)
    w2 = weight(d, "treat", COVS, method="entropy", moments=2)
    x = d[["age", "educ", "re74", "re75"]].to_numpy(dtype=float)
    t = w2.treatment == 1
    m1 = x[t].mean(0)
    wc = w2.weights[~t] / w2.weights[~t].sum()
    np.testing.assert_allclose(wc @ x[~t], m1, rtol=1e-8)
    np.testing.assert_allclose(wc @ (x[~t] - m1) ** 2, ((x[t] - m1) ** 2).mean(0), rtol=1e-8)


def test_weight_formulas() -> None:
    d = small(2)
    e = propensity_scores(d, "t", ["x", "g"]).scores
    t = d["t"].to_numpy() == 1
    expected = {
        "ATT": np.where(t, 1.0, e / (1 - e)),
        "ATE": np.where(t, 1 / e, 1 / (1 - e)),
        "ATO": np.where(t, 1 - e, e),
    }
    for est, exp in expected.items():
        np.testing.assert_allclose(weight(d, "t", ["x", "g"], estimand=est).weights, exp)
    s = weight(d, "t", ["x", "g"], estimand="ATE", stabilize=True).weights
    np.testing.assert_allclose(s, expected["ATE"] * np.where(t, t.mean(), 1 - t.mean()))
    # given scores are used as they are
    np.testing.assert_allclose(weight(d, "t", ["x"], ps=e).weights, expected["ATT"])


def test_ato_exact_mean_balance() -> None:
    # overlap weights balance the logistic model's covariates exactly (Li et al. 2018)
    d = small(7)
    w = weight(d, "t", ["x", "g"], estimand="ATO")
    tab = w.balance().drop(index="distance")
    np.testing.assert_allclose(tab["smd_adj"], 0.0, atol=1e-7)


def test_entropy_ate_matches_full_sample_means() -> None:
    d = small(8)
    w = weight(d, "t", ["x", "g"], estimand="ATE", method="entropy")
    t = w.treatment == 1
    x = d["x"].to_numpy()
    for g in (t, ~t):
        assert np.average(x[g], weights=w.weights[g]) == pytest.approx(x.mean(), abs=1e-8)


def test_trimming() -> None:
    d = small(9)
    base = weight(d, "t", ["x"], estimand="ATE")
    tr = weight(d, "t", ["x"], estimand="ATE", trim=0.9)
    t = base.treatment == 1
    for g in (t, ~t):
        cap = np.quantile(base.weights[g], 0.9)
        np.testing.assert_allclose(tr.weights[g], np.minimum(base.weights[g], cap))
    ps = propensity_scores(d, "t", ["x"]).scores
    cr = weight(d, "t", ["x"], estimand="ATE", trim=("ps", 0.2))
    assert np.all(cr.weights[(ps < 0.2) | (ps > 0.8)] == 0)
    assert np.all(cr.weights[(ps >= 0.2) & (ps <= 0.8)] > 0)
    assert cr.weight_summary["n_zero"].sum() == np.sum((ps < 0.2) | (ps > 0.8))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), estimand=st.sampled_from(["ATT", "ATE", "ATO"]))
def test_weight_properties(seed: int, estimand: str) -> None:
    d = small(seed, n=80)
    if min(d["t"].sum(), (1 - d["t"]).sum()) < 5:
        return
    w = weight(d, "t", ["x"], estimand=estimand)
    assert np.all(w.weights >= 0) and np.all(np.isfinite(w.weights))
    if estimand == "ATT":
        assert np.all(w.weights[w.treatment == 1] == 1.0)
    for k, g in (("treated", 1), ("control", 0)):
        n = int(np.sum(w.treatment == g))
        assert 1 - 1e-9 <= w.ess[k] <= n + 1e-9
    eb = weight(d, "t", ["x"], method="entropy")
    t = eb.treatment == 1
    x = d["x"].to_numpy()
    assert np.average(x[~t], weights=eb.weights[~t]) == pytest.approx(x[t].mean(), abs=1e-8)
    assert np.all(eb.weights[t] == 1.0)


def test_effective_sample_size() -> None:
    assert effective_sample_size(np.ones(7)) == pytest.approx(7)
    assert effective_sample_size(np.array([1.0, 0.0, 0.0])) == pytest.approx(1)
    assert effective_sample_size(np.array([2.0, 2.0])) == pytest.approx(2)


def test_plot() -> None:
    import matplotlib

    matplotlib.use("Agg")
    ax = weight(small(3), "t", ["x", "g"]).plot()
    assert ax.get_xlabel() == "absolute standardised mean difference"


def test_bad_input() -> None:
    d = small(10)
    n = len(d)
    with pytest.raises(ValueError, match="estimand"):
        weight(d, "t", ["x"], estimand="ATC")
    with pytest.raises(ValueError, match="method"):
        weight(d, "t", ["x"], method="cbps")
    with pytest.raises(ValueError, match="stabilize"):
        weight(d, "t", ["x"], stabilize=True)
    with pytest.raises(TypeError, match="stabilize"):
        weight(d, "t", ["x"], estimand="ATE", stabilize="yes")  # type: ignore[arg-type]
    for bad in (0.3, 1.0, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"trim quantile must be in \[0.5, 1\)"):
            weight(d, "t", ["x"], trim=bad)
    for bad_a in (0.0, 0.5, 0.7):
        with pytest.raises(ValueError, match=r"0 < a < 0\.5"):
            weight(d, "t", ["x"], trim=("ps", bad_a))
    with pytest.raises(TypeError, match="trim"):
        weight(d, "t", ["x"], trim="0.9")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs propensity scores"):
        weight(d, "t", ["x"], method="entropy", trim=("ps", 0.1))
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        weight(d, "t", ["x"], ps=np.r_[1.0, np.full(n - 1, 0.5)])
    with pytest.raises(ValueError, match="NaN"):
        weight(d, "t", ["x"], ps=np.r_[np.nan, np.full(n - 1, 0.5)])
    with pytest.raises(ValueError, match="one value per row"):
        weight(d, "t", ["x"], ps=np.full(3, 0.5))
    with pytest.raises(ValueError, match="ATO"):
        weight(d, "t", ["x"], method="entropy", estimand="ATO")
    with pytest.raises(ValueError, match="moments"):
        weight(d, "t", ["x"], method="entropy", moments=3)
    with pytest.raises(ValueError, match="binary"):
        weight(d.assign(t=d["t"] * 3), "t", ["x"])
    dd = d.copy()
    dd.loc[[4, 9, 11], "x"] = np.nan
    with pytest.raises(ValueError, match=r"'x': 3.*\[4, 9, 11\]"):
        weight(dd, "t", ["x"])


def test_entropy_infeasible() -> None:
    d = small(11)
    # controls all below every treated value: the treated mean is out of reach
    d["z"] = np.where(d["t"] == 1, 10.0 + d["x"].abs(), -d["x"].abs())
    with pytest.raises(ValueError, match=r"infeasible.*'z'"):
        weight(d, "t", ["x", "z"], method="entropy")
    # a covariate constant among controls but not in the target
    d["c"] = np.where(d["t"] == 1, d["x"], 0.0)
    with pytest.raises(ValueError, match=r"infeasible.*'c'"):
        weight(d, "t", ["c"], method="entropy")


def _cases(kind: str) -> list[dict]:
    return [c for c in REF["cases"] if c["kind"] == kind]


@pytest.mark.parametrize("case", _cases("r_weights"), ids=lambda c: c["name"])
def test_lalonde_r_weights(case: dict) -> None:
    d = lalonde()
    inp = case["inputs"]
    w = weight(d, inp["treatment"], inp["covariates"], estimand=inp["estimand"])
    t = w.treatment == 1
    y = d[inp["outcome"]].to_numpy()
    got = {
        "ess_treated": w.ess["treated"],
        "ess_control": w.ess["control"],
        "effect_re78": np.average(y[t], weights=w.weights[t])
        - np.average(y[~t], weights=w.weights[~t]),
    }
    for name, value in case["expected"].items():
        assert got[name] == pytest.approx(value, rel=case["tolerance"]["rel"])


@pytest.mark.parametrize("case", _cases("r_coefficients"), ids=lambda c: c["name"])
def test_lalonde_r_coefficients(case: dict) -> None:
    ps = propensity_scores(lalonde(), case["inputs"]["treatment"], case["inputs"]["covariates"])
    for name, value in case["expected"].items():
        assert ps.coefficients.loc[name, "estimate"] == pytest.approx(
            value, rel=case["tolerance"]["rel"]
        )


@pytest.mark.parametrize("seed", [23, 46, 312, 487, 5, 6])
def test_entropy_feasibility_agrees_with_linear_program(seed: int) -> None:
    # independent check: the moment constraints are feasible iff a linear program finds
    # non-negative weights meeting them; entropy balancing succeeds exactly then
    from scipy.optimize import linprog

    from rdstats.external._data import covariate_matrix

    d = small(seed, n=80)
    x = covariate_matrix(d, ["x", "g"]).to_numpy()
    t = d["t"].to_numpy() == 1
    a = np.vstack([x[~t].T, np.ones((~t).sum())])
    lp = linprog(np.zeros((~t).sum()), A_eq=a, b_eq=np.r_[x[t].mean(0), 1.0], bounds=(0, None))
    if lp.status == 0:
        w = weight(d, "t", ["x", "g"], method="entropy")
        np.testing.assert_allclose(
            np.average(x[~t], axis=0, weights=w.weights[~t]), x[t].mean(0), atol=1e-8
        )
    else:
        with pytest.raises(ValueError, match="infeasible"):
            weight(d, "t", ["x", "g"], method="entropy")
