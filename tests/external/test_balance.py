"""Balance diagnostics: the issue's visible lalonde reference (cobalt conventions),
properties (self-balance, affine invariance, denominators) and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rdstats.datasets import load_lalonde
from rdstats.external._balance import balance, love_plot
from rdstats.external._propensity import propensity_scores

ROOT = Path(__file__).resolve().parents[2]


def lalonde() -> pd.DataFrame:
    return load_lalonde()


def small(seed: int = 1, n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    g = rng.choice(["a", "b", "c"], size=n)
    lp = -0.3 + 0.8 * x + np.where(g == "b", 0.5, 0.0)
    t = (rng.uniform(size=n) < 1 / (1 + np.exp(-lp))).astype(int)
    return pd.DataFrame({"t": t, "x": x, "g": g, "y": rng.normal(size=n)})


REF = json.loads(
    (Path(__file__).resolve().parents[1] / "reference" / "external_lalonde.json").read_text()
)


@pytest.mark.parametrize(
    "case", [c for c in REF["cases"] if c["kind"] == "balance_unadjusted"], ids=lambda c: c["name"]
)
def test_lalonde_reference_smd(case: dict) -> None:
    d = lalonde()
    inp = case["inputs"]
    ps = propensity_scores(d, inp["treatment"], inp["covariates"])
    tab = balance(d, inp["treatment"], inp["covariates"], estimand=inp["estimand"], distance=ps)
    for name, value in case["expected"].items():
        assert tab.loc[name, "smd_un"] == pytest.approx(value, abs=case["tolerance"]["abs"])
    # cobalt reports the distance on the propensity-score scale, not the logit
    lp = ps.linear_predictor
    t = ps.treatment
    logit_smd = (lp[t == 1].mean() - lp[t == 0].mean()) / lp[t == 1].std(ddof=1)
    assert abs(logit_smd - case["expected"]["distance"]) > 0.1


def test_lalonde_table_layout() -> None:
    d = lalonde()
    covs = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
    tab = balance(d, "treat", covs, weights=np.ones(len(d)))
    assert list(tab.index) == [
        "age", "educ", "race_black", "race_hispan", "race_white",
        "married", "nodegree", "re74", "re75",
    ]  # fmt: skip
    assert tab.loc["race_black", "type"] == "binary" and tab.loc["age", "type"] == "contin."
    assert np.isnan(tab["var_ratio_un"].to_numpy(dtype=float)[list(tab.index).index("married")])
    p1, p0 = tab.loc["married", ["mean_treated_un", "mean_control_un"]].to_numpy(dtype=float)
    assert tab.loc["married", "smd_un"] == pytest.approx((p1 - p0) / np.sqrt(p1 * (1 - p1)))
    assert tab.loc["married", "ecdf_max_un"] == pytest.approx(abs(p1 - p0))
    # KS statistic of age against scipy's two-sample KS
    from scipy.stats import ks_2samp

    t = d["treat"].to_numpy() == 1
    ks = ks_2samp(d.loc[t, "age"], d.loc[~t, "age"]).statistic
    assert tab.loc["age", "ecdf_max_un"] == pytest.approx(ks)
    # unit weights: adjusted == unadjusted
    for k in ("smd", "ecdf_mean", "ecdf_max", "mean_control"):
        np.testing.assert_allclose(tab[f"{k}_adj"], tab[f"{k}_un"])


def test_denominators() -> None:
    d = small(3)
    t = d["t"].to_numpy() == 1
    s1, s0 = d.loc[t, "x"].std(), d.loc[~t, "x"].std()
    diff = d.loc[t, "x"].mean() - d.loc[~t, "x"].mean()
    for est, sd in (("ATT", s1), ("ATC", s0), ("ATE", np.sqrt((s1**2 + s0**2) / 2))):
        tab = balance(d, "t", ["x"], estimand=est)
        assert tab.loc["x", "smd_un"] == pytest.approx(diff / sd)
    tab = balance(d, "t", ["x"], estimand="ATT", s_d_denom="control")
    assert tab.loc["x", "smd_un"] == pytest.approx(diff / s0)
    # weighted SMD keeps the unweighted denominator
    w = np.where(t, 1.0, 2.0 + d["x"].to_numpy() ** 2)
    tab = balance(d, "t", ["x"], weights=w)
    m0 = np.average(d.loc[~t, "x"], weights=w[~t])
    assert tab.loc["x", "smd_adj"] == pytest.approx((d.loc[t, "x"].mean() - m0) / s1)


def test_self_balance_zero() -> None:
    d = small(4)
    both = pd.concat([d.assign(t=1), d.assign(t=0)], ignore_index=True)
    tab = balance(both, "t", ["x", "g"])
    np.testing.assert_allclose(tab["smd_un"], 0.0, atol=1e-12)
    np.testing.assert_allclose(tab["ecdf_max_un"], 0.0, atol=1e-12)
    assert tab.loc["x", "var_ratio_un"] == pytest.approx(1.0)


@settings(max_examples=30, deadline=None)
@given(
    a=st.floats(0.01, 100) | st.floats(-100, -0.01),
    b=st.floats(-1e3, 1e3),
    seed=st.integers(0, 10_000),
)
def test_smd_affine_invariance(a: float, b: float, seed: int) -> None:
    d = small(seed, n=60)
    if d["t"].nunique() < 2 or min(d["t"].sum(), (1 - d["t"]).sum()) < 2:
        return
    w = np.random.default_rng(seed).uniform(0.2, 3.0, len(d))
    base = balance(d, "t", ["x"], weights=w)
    moved = balance(d.assign(x=a * d["x"] + b), "t", ["x"], weights=w)
    sign = np.sign(a)
    for k in ("smd_un", "smd_adj"):
        assert moved.loc["x", k] == pytest.approx(sign * base.loc["x", k], rel=1e-7, abs=1e-9)
    for k in ("var_ratio_un", "var_ratio_adj", "ecdf_max_adj"):
        assert moved.loc["x", k] == pytest.approx(base.loc["x", k], rel=1e-7)


def test_love_plot() -> None:
    import matplotlib

    matplotlib.use("Agg")
    d = small(5)
    ax = love_plot(balance(d, "t", ["x", "g"], weights=np.ones(len(d))), threshold=0.1)
    assert len(ax.get_yticklabels()) == 4
    with pytest.raises(ValueError, match="threshold"):
        love_plot(balance(d, "t", ["x"]), threshold=-1)
    with pytest.raises(ValueError, match="smd_un"):
        love_plot(pd.DataFrame({"a": [1]}))


def test_bad_input() -> None:
    d = small(6)
    n = len(d)
    with pytest.raises(ValueError, match=r"non-finite values \(positions \[2\]"):
        balance(d, "t", ["x"], weights=np.r_[1.0, 1.0, np.inf, np.ones(n - 3)])
    with pytest.raises(ValueError, match="non-negative"):
        balance(d, "t", ["x"], weights=-np.ones(n))
    with pytest.raises(ValueError, match="one value per row"):
        balance(d, "t", ["x"], weights=np.ones(n - 1))
    with pytest.raises(ValueError, match="estimand"):
        balance(d, "t", ["x"], estimand="ATX")
    with pytest.raises(ValueError, match="s_d_denom"):
        balance(d, "t", ["x"], s_d_denom="both")
    with pytest.raises(ValueError, match="distance"):
        balance(d, "t", ["x"], distance=np.ones(3))
    with pytest.raises(ValueError, match="binary"):
        balance(d.assign(t=d["t"] + 1), "t", ["x"])
    dd = d.copy()
    dd.loc[5, "x"] = np.nan
    with pytest.raises(ValueError, match=r"'x': 1.*\[5\]"):
        balance(dd, "t", ["x"])
    with pytest.raises(ValueError, match="positive sum"):
        balance(d, "t", ["x"], weights=np.where(d["t"] == 1, 0.0, 1.0))


@pytest.mark.parametrize(
    "case", [c for c in REF["cases"] if c["kind"] == "r_balance"], ids=lambda c: c["name"]
)
def test_lalonde_r_balance(case: dict) -> None:
    from rdstats.external._weighting import weight

    d = lalonde()
    inp = case["inputs"]
    ps = propensity_scores(d, inp["treatment"], inp["covariates"])
    w = None
    if inp["weights"] is not None:
        w = weight(d, inp["treatment"], inp["covariates"], estimand=inp["weights"], ps=ps)
    tab = balance(
        d, inp["treatment"], inp["covariates"], weights=w, estimand=inp["estimand"], distance=ps
    )
    suffix = "_un" if w is None else "_adj"
    tol = case["tolerance"]["abs"]
    for row, stats in case["expected"].items():
        for stat, value in stats.items():
            got = float(tab[stat + suffix].to_numpy(dtype=float)[list(tab.index).index(row)])
            if value is None:
                assert np.isnan(got)
            else:
                assert got == pytest.approx(value, abs=tol), (row, stat)


def test_zero_standardising_sd_falls_back_to_pooled_never_inf() -> None:
    d = lalonde().copy()
    t = d["treat"].to_numpy() == 1
    d["tc"] = np.where(t, 0.0, d["age"])  # constant among the treated (ATT SD = 0)
    d["const"] = 1.0
    d["split"] = t.astype(float) * 5.0  # constant within each group, different means
    tab = balance(d, "treat", ["tc", "const", "split", "age"], weights=np.ones(len(d)))
    smd = tab[["smd_un", "smd_adj"]].to_numpy(dtype=float)
    assert not np.isinf(smd).any()
    pooled = np.sqrt(np.var(d.loc[~t, "age"], ddof=1) / 2)
    assert tab.loc["tc", "smd_un"] == pytest.approx(-d.loc[~t, "age"].mean() / pooled)
    assert tab.loc["tc", "sd_fallback"]
    assert not tab.loc["age", "sd_fallback"] and not tab.loc["const", "sd_fallback"]
    assert tab.loc["const", "smd_un"] == 0.0
    assert np.isnan(tab.loc["split", "smd_un"]) and not tab.loc["split", "sd_fallback"]
    assert tab.loc["split", "ecdf_max_un"] == pytest.approx(1.0)
    # with a positive ATT SD nothing changes
    ref = balance(d, "treat", ["age"])
    assert tab.loc["age", "smd_un"] == ref.loc["age", "smd_un"]
