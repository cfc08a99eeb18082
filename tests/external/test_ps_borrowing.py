"""PS-integrated power prior: the independent R implementation on lalonde, the overlap
coefficient against scipy quadrature, hand-computed strata, invariants (hypothesis),
Monte Carlo checks of the binary posterior moments, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from rdstats.datasets import load_lalonde
from rdstats.external._ps_borrowing import PSPowerPrior, overlap_coefficient, ps_power_prior

ROOT = Path(__file__).resolve().parents[2]
REF = json.loads((ROOT / "tests" / "reference" / "external_ps_borrowing.json").read_text())
COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]


def lalonde() -> pd.DataFrame:
    d = load_lalonde()
    d["employed78"] = (d["re78"] > 0).astype(int)
    return d


def trial(seed: int = 3, n_t: int = 40, n_c: int = 0, n_e: int = 300, shift: float = 0.5):
    """Simulated trial (treated + optional concurrent controls) and external cohort."""
    rng = np.random.default_rng(seed)
    n_trial = n_t + n_c
    x = np.r_[rng.normal(shift, 1, n_trial), rng.normal(0, 1, n_e)]
    study = np.r_[np.ones(n_trial, int), np.zeros(n_e, int)]
    arm = np.r_[np.ones(n_t, int), np.zeros(n_c + n_e, int)]
    y = 1.0 + x + 0.5 * arm + rng.normal(size=x.size)
    yb = (rng.uniform(size=x.size) < 1 / (1 + np.exp(-(y - 1.5)))).astype(int)
    return pd.DataFrame({"x": x, "study": study, "arm": arm, "y": y, "yb": yb})


@pytest.mark.parametrize(
    "case", [c for c in REF["cases"] if c["kind"] == "ps_power_prior"], ids=lambda c: c["name"]
)
def test_reference_r_implementation(case: dict) -> None:
    inp, exp, tol = case["inputs"], case["expected"], case["tolerance"]
    res = ps_power_prior(
        lalonde(),
        inp["outcome"],
        inp["covariates"],
        study=inp["study"],
        n_borrow=inp["n_borrow"],
        n_strata=inp["n_strata"],
        overlap=inp["overlap"],
    )
    st_ = res.strata
    assert st_["n_external"].tolist() == exp["n_external"]
    assert res.n_trimmed == exp["n_trimmed"]
    for col in ("overlap", "a0"):
        np.testing.assert_allclose(st_[col], exp[col], rtol=tol["rel"], atol=tol["abs"])
    for key in ("n_borrowed", "estimate", "sd", "treated_mean", "control_mean"):
        assert getattr(res, key) == pytest.approx(exp[key], rel=tol["rel"], abs=tol["abs"])


def test_overlap_coefficient_matches_scipy_kde_and_quad() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.beta(5, 3, 40), rng.beta(3, 5, 90)
    lo, hi = 0.3, 0.8
    a, b = a[(a >= lo) & (a <= hi)], b[(b >= lo) & (b <= hi)]

    def dens(v: np.ndarray):
        kde = stats.gaussian_kde(v, bw_method=1.06 * v.size**-0.2)  # factor x own SD
        z = integrate.quad(lambda x: kde(x)[0], lo, hi)[0]
        return lambda x: kde(x)[0] / z

    fa, fb = dens(a), dens(b)
    exact = integrate.quad(lambda x: min(fa(x), fb(x)), lo, hi, limit=200)[0]
    assert overlap_coefficient(a, b, lo, hi) == pytest.approx(exact, abs=2e-4)


def test_overlap_coefficient_special_cases() -> None:
    x = np.linspace(0, 1, 30)
    assert overlap_coefficient(x, x, 0, 1) == pytest.approx(1.0, abs=1e-12)
    assert overlap_coefficient([], x, 0, 1) == 0.0
    assert overlap_coefficient([0.5], [0.5], 0, 1) == 1.0  # no spread
    far = overlap_coefficient(np.full(20, 0.01) + x[:20] * 1e-3, 0.99 - x[:20] * 1e-3, 0, 1)
    assert far < 0.01


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.floats(0.0, 1.0), min_size=2, max_size=30),
    st.lists(st.floats(0.0, 1.0), min_size=2, max_size=30),
)
def test_overlap_coefficient_symmetric_and_bounded(a: list[float], b: list[float]) -> None:
    r = overlap_coefficient(a, b, 0.0, 1.0)
    assert 0.0 <= r <= 1.0
    assert r == pytest.approx(overlap_coefficient(b, a, 0.0, 1.0), abs=1e-12)


def test_hand_computed_strata_equal_split() -> None:
    d = trial(seed=5)
    res = ps_power_prior(d, "y", ["x"], study="study", n_borrow=60, n_strata=2, overlap="equal")
    e = res.ps.scores
    tr = d["study"].to_numpy() == 1
    cut = np.median(e[tr])
    lo, hi = e[tr].min(), e[tr].max()
    ext = ~tr & (e >= lo) & (e <= hi)
    y = d["y"].to_numpy()
    s_t = np.std(y[tr], ddof=1)
    est, var = 0.0, 0.0
    for j, sel in enumerate((e <= cut, e > cut)):
        n_e = np.sum(ext & sel)
        a0 = min(1.0, 30 / n_e)
        assert res.strata["a0"].iloc[j] == pytest.approx(a0)
        w = np.sum(tr & sel) / tr.sum()
        mc = y[ext & sel].mean()
        est += w * (y[tr & sel].mean() - mc)
        var += w**2 * (s_t**2 / np.sum(tr & sel) + np.var(y[ext & sel], ddof=1) / (a0 * n_e))
    assert res.estimate == pytest.approx(est, rel=1e-12)
    assert res.sd == pytest.approx(np.sqrt(var), rel=1e-12)
    assert res.n_trimmed == int(np.sum(~tr & ((e < lo) | (e > hi))))
    z = stats.norm.ppf(0.975)
    assert res.ci_lower == pytest.approx(est - z * res.sd)
    assert res.prob_effect == pytest.approx(stats.norm.sf(0, est, res.sd))
    assert res.prob(0.3) == pytest.approx(stats.norm.sf(0.3, est, res.sd))


def test_concurrent_controls_enter_every_stratum() -> None:
    d = trial(seed=8, n_t=40, n_c=20)
    tiny = ps_power_prior(d, "y", ["x"], study="study", treatment="arm", n_borrow=1e-9)
    # with (almost) nothing borrowed the control mean is the stratified concurrent mean
    e, y = tiny.ps.scores, d["y"].to_numpy()
    conc = (d["study"] == 1).to_numpy() & (d["arm"] == 0).to_numpy()
    cuts = np.quantile(e[d["study"].to_numpy() == 1], np.linspace(0, 1, 6))
    k = np.searchsorted(cuts[1:5], e, side="left")
    mc = [y[conc & (k == j)].mean() for j in range(5)]
    np.testing.assert_allclose(tiny.strata["control_mean"], mc, rtol=1e-7)
    big = ps_power_prior(d, "y", ["x"], study="study", treatment="arm", n_borrow=100)
    assert big.sd < tiny.sd
    assert big.strata["n_concurrent"].sum() == 20
    assert big.strata["n_treated"].sum() == 40


@settings(max_examples=15, deadline=None)
@given(st.floats(1.0, 2000.0), st.sampled_from(["ovl", "equal"]), st.integers(1, 6))
def test_invariants(n_borrow: float, overlap: str, n_strata: int) -> None:
    res = ps_power_prior(
        trial(seed=11),
        "y",
        ["x"],
        study="study",
        n_borrow=n_borrow,
        n_strata=n_strata,
        overlap=overlap,
    )
    s = res.strata
    assert res.n_borrowed <= n_borrow + 1e-9
    assert ((s["a0"] >= 0) & (s["a0"] <= 1)).all()
    assert s["share"].sum() == pytest.approx(1.0)
    assert s["weight"].sum() == pytest.approx(1.0)
    assert s["n_trial"].sum() == 40
    assert res.ci_lower < res.estimate < res.ci_upper
    # single-arm and flat priors: the point estimate does not depend on n_borrow
    ref = ps_power_prior(
        trial(seed=11), "y", ["x"], study="study", n_borrow=10, n_strata=n_strata, overlap=overlap
    )
    assert res.estimate == pytest.approx(ref.estimate, rel=1e-10)
    assert (res.sd <= ref.sd + 1e-12) == (n_borrow >= 10)


def test_binary_moments_against_monte_carlo() -> None:
    d = trial(seed=21, n_t=40, n_c=15)
    res = ps_power_prior(d, "yb", ["x"], study="study", treatment="arm", n_borrow=50)
    assert res.outcome_type == "binary"
    rng = np.random.default_rng(4)
    s = res.strata
    # rebuild the beta parameters from the means and SDs: a + b = m (1 - m) / v - 1
    draws = np.zeros(200_000)
    for _, row in s.iterrows():
        for arm, sign in (("treated", 1.0), ("control", -1.0)):
            m, v = row[f"{arm}_mean"], row[f"{arm}_sd"] ** 2
            tot = m * (1 - m) / v - 1
            draws += sign * row["weight"] * rng.beta(m * tot, (1 - m) * tot, draws.size)
    assert np.mean(draws) == pytest.approx(res.estimate, abs=4 * res.sd / np.sqrt(draws.size))
    assert np.std(draws) == pytest.approx(res.sd, rel=0.01)
    q = np.quantile(draws, [0.025, 0.975])
    assert q[0] == pytest.approx(res.ci_lower, abs=0.01)  # normal approximation
    assert q[1] == pytest.approx(res.ci_upper, abs=0.01)


def test_result_surface() -> None:
    res = ps_power_prior(trial(), "y", ["x"], study="study", n_borrow=40)
    assert isinstance(res, PSPowerPrior)
    summ = res.summary()
    assert list(summ.index) == ["treated", "control", "effect"]
    assert summ.loc["effect", "mean"] == res.estimate
    js = json.dumps(res.to_dict())
    assert "strata" in js
    assert "PS-integrated power prior" in res._repr_html_()
    assert res.provenance["arguments"]["n_borrow"] == 40


def test_plot() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    res = ps_power_prior(trial(), "y", ["x"], study="study", n_borrow=40)
    axes = res.plot()
    assert len(axes) == 2
    _, ax = plt.subplots()
    assert len(res.plot(ax=ax)) == 1
    plt.close("all")


def test_bad_input() -> None:
    d = trial()
    with pytest.raises(ValueError, match="n_borrow must be a positive"):
        ps_power_prior(d, "y", ["x"], study="study", n_borrow=0)
    with pytest.raises(ValueError, match="n_strata must be a positive integer"):
        ps_power_prior(d, "y", ["x"], study="study", n_borrow=10, n_strata=0)
    with pytest.raises(ValueError, match="n_strata=50 exceeds the 40 trial patients"):
        ps_power_prior(d, "y", ["x"], study="study", n_borrow=10, n_strata=50)
    with pytest.raises(ValueError, match="overlap must be one of"):
        ps_power_prior(d, "y", ["x"], study="study", n_borrow=10, overlap="kl")
    with pytest.raises(ValueError, match="level must be in"):
        ps_power_prior(d, "y", ["x"], study="study", n_borrow=10, level=1.5)
    with pytest.raises(ValueError, match="outcome 'z' is not a column"):
        ps_power_prior(d, "z", ["x"], study="study", n_borrow=10)
    bad = d.copy()
    bad.loc[bad.index[-1], "arm"] = 1
    with pytest.raises(ValueError, match=r"external patients .* must be controls"):
        ps_power_prior(bad, "y", ["x"], study="study", treatment="arm", n_borrow=10)
    nan = d.copy()
    nan.loc[3, "y"] = np.nan
    with pytest.raises(ValueError, match="outcome 'y' has 1 missing values"):
        ps_power_prior(nan, "y", ["x"], study="study", n_borrow=10)
    with pytest.raises(ValueError, match="outcome_type='binary' needs a 0/1 outcome"):
        ps_power_prior(d, "y", ["x"], study="study", n_borrow=10, outcome_type="binary")
    with pytest.raises(ValueError, match="treatment must differ from study"):
        ps_power_prior(d, "y", ["x"], study="study", treatment="study", n_borrow=10)
    # trial far from the external cohort: an upper stratum has no external patients
    far = trial(shift=3.0, n_e=200)
    with pytest.raises(ValueError, match="no control patients to borrow or compare"):
        ps_power_prior(far, "y", ["x"], study="study", n_borrow=10, n_strata=10)


def test_tied_scores_merge_strata_with_a_warning() -> None:
    rng = np.random.default_rng(0)
    n = 200
    g = rng.choice(["a", "b", "c"], n)
    p = np.where(g == "a", 0.2, np.where(g == "b", 0.4, 0.6))
    study = (rng.uniform(size=n) < p).astype(int)
    d = pd.DataFrame({"g": g, "study": study, "y": rng.normal(size=n) + study})
    with pytest.warns(UserWarning, match="3 requested strata have only 2 distinct"):
        res = ps_power_prior(d, "y", ["g"], study="study", n_borrow=50, n_strata=3)
    assert res.n_strata == 2
    assert res.strata["n_trial"].sum() == study.sum()
    assert (res.strata["n_trial"] > 0).all()


def test_outcome_without_spread_is_an_error() -> None:
    d = trial().assign(y=5.0)
    with pytest.raises(ValueError, match="treated outcomes have no spread"):
        ps_power_prior(d, "y", ["x"], study="study", n_borrow=10)


def test_overlap_coefficient_identical_scores_in_a_group() -> None:
    """Identical scores have an SD of rounding size, not a bandwidth (hypothesis case)."""
    r = overlap_coefficient([0.0, 0.0], [0.05320179296318607] * 3, 0.0, 1.0)
    assert np.isfinite(r) and 0.0 <= r <= 1.0
