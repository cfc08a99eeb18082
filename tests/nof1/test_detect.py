"""detect_jump: brute-force checks of the closed forms, the public series with documented
change points, Monte Carlo checks of every jump distribution, invariants (hypothesis),
calibration of the credible statements by simulation, and bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from rdstats.datasets import load_coal, load_nile
from rdstats.nof1 import JumpResult, detect_jump
from rdstats.nof1._normal_kernel import normal_fit

ROOT = Path(__file__).resolve().parents[2]
REF = {
    c["kind"]: c
    for c in json.loads((ROOT / "tests/reference/nof1_series.json").read_text())["cases"]
}


def step_series(seed: int = 1, n: int = 24, at: int = 12, jump: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=n) + jump * (np.arange(n) >= at)


# -- closed forms against brute force ---------------------------------------------------------
@pytest.mark.parametrize("trend", [False, True])
@pytest.mark.parametrize("slope", [False, True])
def test_kernel_equals_full_covariance_gls(trend: bool, slope: bool) -> None:
    rng = np.random.default_rng(0)
    n = 11
    t = np.cumsum(rng.uniform(0.5, 2, n))
    y = rng.normal(size=(2, n)) + (np.arange(n) >= 6) * 1.5
    rho = np.array([0.0, 0.4, 0.85])
    fit = normal_fit(y, t, trend=trend, slope=slope, rho=rho, unit=1.3, v_delta=2.0, v_gamma=0.5)
    p0 = 2 if trend else 1
    base = [np.ones(n)] + ([t - t.mean()] if trend else [])
    for b in range(2):
        for g, r in enumerate(rho):
            corr = r ** (np.abs(t[:, None] - t[None, :]) / 1.3)
            w = np.linalg.inv(corr)

            def logm(
                x: np.ndarray,
                lam: np.ndarray,
                yb: np.ndarray = y[b],
                w: np.ndarray = w,
                corr: np.ndarray = corr,
            ) -> tuple[float, np.ndarray, np.ndarray]:
                m = x.T @ w @ x + np.diag(lam)
                coef = np.linalg.solve(m, x.T @ w @ yb)
                ssr = yb @ w @ yb - yb @ w @ x @ coef
                out = (
                    -0.5 * np.linalg.slogdet(corr)[1]
                    + 0.5 * np.sum(np.log(lam[lam > 0]))
                    - 0.5 * np.linalg.slogdet(m)[1]
                    - 0.5 * (n - p0) * np.log(ssr)
                )
                return out, coef, ssr / (n - p0) * np.linalg.inv(m)

            x0 = np.stack(base, 1)
            assert logm(x0, np.zeros(p0))[0] == pytest.approx(fit.log_m_null[b, g], abs=1e-9)
            for j in range(1, n):
                cols = [*base, (np.arange(n) >= j).astype(float)]
                lam = [0.0] * p0 + [0.5]
                if slope:
                    cols.append(np.where(np.arange(n) >= j, t - t[j], 0.0))
                    lam.append(2.0)
                lm, coef, cov = logm(np.stack(cols, 1), np.array(lam))
                assert lm == pytest.approx(fit.log_m_change[b, g, j], abs=1e-8)
                np.testing.assert_allclose(coef[p0:], fit.coef_mean[b, g, j], atol=1e-9)
                np.testing.assert_allclose(cov[p0:, p0:], fit.coef_scale[b, g, j], atol=1e-9)


def test_bayes_factor_by_quadrature_over_sigma() -> None:
    """Integrate sigma^2 numerically (Gaussian integral over mu and delta in closed form
    with full matrices) and compare the Bayes factor of each change visit."""
    y = np.array([1.2, 0.4, 0.9, 2.8, 3.1, 2.2, 2.9])
    n = y.size
    v = 1.5

    def marginal(x: np.ndarray, lam: np.ndarray) -> float:
        def integrand(log_s2: float) -> float:
            s2 = math.exp(log_s2)
            m = x.T @ x + np.diag(lam)
            coef = np.linalg.solve(m, x.T @ y)
            q = y @ y - y @ x @ coef
            k_prior = np.sum(lam > 0)
            log_f = (
                -0.5 * n * math.log(2 * math.pi * s2)
                - q / (2 * s2)
                + 0.5 * x.shape[1] * math.log(2 * math.pi * s2)
                - 0.5 * np.linalg.slogdet(m)[1]
                + 0.5 * np.sum(np.log(lam[lam > 0]))
                - 0.5 * k_prior * math.log(2 * math.pi * s2)
            )
            return math.exp(log_f)  # p(sigma^2) d sigma^2 / sigma^2 = d log sigma^2

        return integrate.quad(integrand, -12, 8, limit=200, epsabs=0)[0]

    null = marginal(np.ones((n, 1)), np.zeros(1))
    res = detect_jump(y, change_prior="uniform", jump_prior_sd=math.sqrt(v))
    bfs = []
    for j in range(1, n):
        x = np.stack([np.ones(n), (np.arange(n) >= j).astype(float)], 1)
        bfs.append(marginal(x, np.array([0.0, 1 / v])) / null)
    assert res.bayes_factor == pytest.approx(np.mean(bfs), rel=1e-6)
    post = np.array(bfs) / np.sum(bfs) * res.prob_change
    np.testing.assert_allclose(res.change_time_posterior.to_numpy(), post, rtol=1e-6)


# -- documented answers -------------------------------------------------------------------------
def test_nile() -> None:
    exp = REF["nile"]["expected"]
    d = load_nile()
    res = detect_jump(d["flow"], d["year"])
    assert res.map_change_time == exp["map_first_new_year"]
    cs = res.credible_set(0.95)
    lo, hi = exp["credible_set_within"]
    assert cs.min() >= lo and cs.max() <= hi
    assert res.prob_change > exp["prob_change_min"]
    assert res.jump["upper"] < 0  # the flow dropped
    ar = detect_jump(d["flow"], d["year"], ar1=True)
    assert ar.map_change_time == exp["map_first_new_year"]


def test_coal() -> None:
    exp = REF["coal"]["expected"]
    d = load_coal()
    res = detect_jump(d["disasters"], d["year"], family="poisson")
    assert res.map_change_time - 1 in exp["last_old_year_in"]
    lo, hi = exp["rate_ratio_interval_within"]
    assert lo < res.jump["lower"] < res.jump["upper"] < hi
    assert res.prob_change > exp["prob_change_min"]
    trend = detect_jump(d["disasters"], d["year"], family="poisson", trend=True)
    assert 1885 <= trend.map_change_time <= 1895


# -- jump distributions against Monte Carlo --------------------------------------------------
def test_rate_ratio_components_against_monte_carlo() -> None:
    d = load_coal()
    res = detect_jump(d["disasters"], d["year"], family="poisson")
    c = res.fit.components
    rng = np.random.default_rng(0)
    for j in (20, 41, 80):
        r = rng.gamma(c.a_post[0, j], 1 / c.b_post[0, j], 400_000) / rng.gamma(
            c.a_pre[0, j], 1 / c.b_pre[0, j], 400_000
        )
        for x in (0.2, 0.3, 0.5):
            assert c.sf(x)[0, j] == pytest.approx(np.mean(r > x), abs=0.003)
        assert c.mean()[0, j] == pytest.approx(r.mean(), rel=0.01)


def test_score_difference_components_against_monte_carlo() -> None:
    y = np.r_[[3, 4, 4, 3, 5, 4, 3, 4], [6, 7, 6, 5, 7, 6, 7]]
    res = detect_jump(y, family="ordinal", score_range=(1, 9), mcid=1.0, ordinal_model="binomial")
    c = res.fit.components
    rng = np.random.default_rng(1)
    j = 8
    dd = 8 * (
        rng.beta(c.a_post[0, j], c.b_post[0, j], 400_000)
        - rng.beta(c.a_pre[0, j], c.b_pre[0, j], 400_000)
    )
    for x in (1.0, 2.0, 2.5):
        assert c.sf(x)[0, j] == pytest.approx(np.mean(dd > x), abs=0.003)
    assert c.var()[0, j] == pytest.approx(dd.var(), rel=0.02)


def test_categorical_scores_polya_urn_and_dirichlet_monte_carlo() -> None:
    """Dirichlet-categorical segments: the Bayes factor of each change visit equals the
    Polya-urn product of predictive probabilities, and the moment-matched jump is close to
    Dirichlet draws of the mean-score difference."""
    y = np.array([2, 3, 2, 4, 3, 2, 3, 5, 6, 5, 7, 6, 5])
    lo, hi = 1, 7
    k = hi - lo + 1
    res = detect_jump(y, family="ordinal", score_range=(lo, hi), change_prior="uniform")

    def urn(seg: np.ndarray) -> float:
        counts = np.zeros(k)
        logp = 0.0
        for i, v in enumerate(seg):
            logp += math.log((1 / k + counts[v - lo]) / (1 + i))
            counts[v - lo] += 1
        return logp

    null = urn(y)
    bf = [math.exp(urn(y[:j]) + urn(y[j:]) - null) for j in range(1, y.size)]
    assert res.bayes_factor == pytest.approx(np.mean(bf), rel=1e-9)
    rng = np.random.default_rng(2)
    j = 7
    c = res.fit.components
    pre = np.bincount(y[:j] - lo, minlength=k) + 1 / k
    post = np.bincount(y[j:] - lo, minlength=k) + 1 / k
    scores = np.arange(lo, hi + 1)
    diff = rng.dirichlet(post, 200_000) @ scores - rng.dirichlet(pre, 200_000) @ scores
    assert c.mean()[0, j] == pytest.approx(diff.mean(), abs=0.01)
    assert c.var()[0, j] == pytest.approx(diff.var(), rel=0.02)
    for x in (1.5, 2.5, 3.5):  # the documented moment-matching error (small segments here)
        assert c.sf(x)[0, j] == pytest.approx(np.mean(diff > x), abs=0.03)


def test_categorical_scores_resist_overdispersion() -> None:
    """Scores spread uniformly over 1-7 with no change: the binomial segment model (which
    assumes binomial dispersion) reports changes far more often than the categorical one."""
    rng = np.random.default_rng(0)
    strong = {"categorical": 0, "binomial": 0}
    for _ in range(100):
        y = rng.integers(1, 8, 30)
        for model in strong:
            r = detect_jump(y, family="ordinal", score_range=(1, 7), ordinal_model=model)
            strong[model] += r.prob_change > 0.9
    assert strong["categorical"] <= 10
    assert strong["binomial"] >= 2 * strong["categorical"]


def test_jump_mixture_quantiles_and_sustained_against_monte_carlo() -> None:
    t = np.arange(30.0)
    rng = np.random.default_rng(3)
    y = rng.normal(size=30) + (t >= 14) * (1.5 + 0.05 * (t - 14))
    res = detect_jump(y, t, treatment_start=12, slope=True, mcid=1.0)
    # sample the mixture: component by weight, then the joint t of (delta, gamma)
    w = res.weights.ravel() / res.weights.sum()
    mean, scale, df = res.fit.joint
    idx = rng.choice(w.size, 200_000, p=w)
    comp_mean = mean.reshape(-1, 2)[idx]
    chol = np.linalg.cholesky(scale.reshape(-1, 2, 2)[idx])
    z = rng.standard_normal((idx.size, 2)) / np.sqrt(rng.chisquare(df, idx.size) / df)[:, None]
    draws = comp_mean + np.einsum("kab,kb->ka", chol, z)
    assert res.jump_quantile(0.1) == pytest.approx(np.quantile(draws[:, 0], 0.1), abs=0.02)
    assert res.jump_quantile(0.9) == pytest.approx(np.quantile(draws[:, 0], 0.9), abs=0.02)
    j = np.tile(np.arange(30), res.weights.shape[0])[idx]
    lag = np.minimum(j + 4, 29) - j  # 5th visit after the change (all within the data here)
    lag = np.where(j + 4 <= 29, t[np.minimum(j + 4, 29)] - t[j], t[29] + (j + 4 - 29) - t[j])
    after = t[j] >= 12
    ok = (draws[:, 0] > 1.0) & (draws[:, 0] + draws[:, 1] * lag > 1.0) & after
    assert res.sustained(5) == pytest.approx(res.prob_change * np.mean(ok), abs=0.005)
    assert res.sustained(1) == pytest.approx(res.prob_jump_exceeds(), abs=1e-6)


# -- invariants -------------------------------------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(st.floats(0.01, 100.0), st.floats(-50.0, 50.0), st.integers(0, 5))
def test_affine_invariance(a: float, b: float, seed: int) -> None:
    y = step_series(seed, n=16, at=9)
    r1 = detect_jump(y, treatment_start=6, mcid=1.0)
    r2 = detect_jump(a * y + b, treatment_start=6, mcid=a)
    np.testing.assert_allclose(r1.change_time_posterior, r2.change_time_posterior, atol=1e-7)
    assert r2.jump["median"] == pytest.approx(a * r1.jump["median"], rel=1e-6, abs=1e-9)
    assert r2.prob_jump_exceeds() == pytest.approx(r1.prob_jump_exceeds(), abs=1e-7)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 50), st.booleans(), st.booleans())
def test_direction_symmetry_and_probabilities(seed: int, trend: bool, ar1: bool) -> None:
    y = step_series(seed, n=20, at=10, jump=1.0)
    up = detect_jump(y, treatment_start=8, mcid=0.5, trend=trend, ar1=ar1)
    down = detect_jump(-y, treatment_start=8, mcid=0.5, direction="decrease", trend=trend, ar1=ar1)
    assert down.prob_jump_exceeds() == pytest.approx(up.prob_jump_exceeds(), abs=1e-9)
    assert 0 <= up.prob_jump_exceeds() <= up.prob_jump_exceeds(after_start=False) <= up.prob_change
    assert up.change_time_posterior.sum() == pytest.approx(up.prob_change)
    assert up.jump["lower"] <= up.jump["median"] <= up.jump["upper"]


def test_anchored_prior() -> None:
    y = step_series()
    res = detect_jump(y, treatment_start=10, max_lag=4, off_window=0.1)
    prior = pd.Series(res.prior[1:], index=res.times[1:])
    inside = prior.loc[10:14]
    assert inside.sum() == pytest.approx(0.9)
    assert np.allclose(inside, 0.9 / 5)
    assert prior.drop(inside.index).sum() == pytest.approx(0.1)
    uni = detect_jump(y, treatment_start=10, change_prior="uniform")
    assert np.allclose(uni.prior[1:], 1 / 23)
    custom = detect_jump(y, change_prior=np.r_[np.zeros(11), 1.0, np.zeros(11)])
    assert custom.map_change_time == 12.0


@pytest.mark.slow
def test_credible_statements_are_calibrated_under_the_prior() -> None:
    """Draw the change visit and the jump from the prior (sigma = 1, any level): the 90%
    jump interval covers the truth in 90% of series and the 90% change-time set in at
    least 90% (its mass), within Monte Carlo error."""
    rng = np.random.default_rng(11)
    n, n_sim = 15, 300
    cover_jump, cover_time, mass = [], [], []
    for _ in range(n_sim):
        j = int(rng.integers(1, n))
        delta = rng.normal()
        y = 5.0 + rng.normal(size=n) + delta * (np.arange(n) >= j)
        res = detect_jump(y, change_prior="uniform", prob_change=0.999999, level=0.9)
        jmp = res.jump
        cover_jump.append(jmp["lower"] <= delta <= jmp["upper"])
        cs = res.credible_set(0.9)
        cover_time.append(float(j) in cs)
        mass.append(res.change_time_posterior.loc[cs].sum() / res.prob_change)
    se = math.sqrt(0.09 / n_sim)
    assert np.mean(cover_jump) == pytest.approx(0.9, abs=4 * se)
    assert np.mean(cover_time) == pytest.approx(np.mean(mass), abs=4 * se)


@pytest.mark.slow
def test_known_jump_is_covered_at_nominal_rates() -> None:
    """A fixed jump of 2.5 SD after visit 12 of 24: the 90% jump interval covers it in
    about 90% of simulated series and the 90% change-time set contains visit 12 at least
    as often (sets over a discrete time are conservative)."""
    rng = np.random.default_rng(2)
    n_sim = 300
    cj, ct = [], []
    for _ in range(n_sim):
        y = 3.0 + rng.normal(size=24) + 2.5 * (np.arange(24) >= 12)
        res = detect_jump(y, change_prior="uniform", prob_change=0.999999, level=0.9)
        cj.append(res.jump["lower"] <= 2.5 <= res.jump["upper"])
        ct.append(12.0 in res.credible_set(0.9))
    se = math.sqrt(0.09 / n_sim)
    assert np.mean(cj) == pytest.approx(0.9, abs=4 * se)
    assert np.mean(ct) >= 0.9 - 4 * se


def test_cauchy_jump_prior_is_the_normal_prior_mixed_over_its_scale() -> None:
    """Zellner-Siow: the Bayes factor equals the normal-prior Bayes factor integrated over
    g ~ InvGamma(1/2, 1/2) (adaptive quadrature in log g), to the documented 1e-4."""
    y = np.array([1.2, 0.4, 0.9, 2.8, 3.1, 2.2, 2.9, 3.5])
    res = detect_jump(y, change_prior="uniform", jump_prior="cauchy", jump_prior_sd=1.0)

    def integrand(u: float) -> float:
        g = math.exp(u)
        bf = detect_jump(y, change_prior="uniform", jump_prior_sd=math.sqrt(g)).bayes_factor
        return bf * stats.invgamma.pdf(g, 0.5, scale=0.5) * g

    exact = integrate.quad(integrand, -25, 45, limit=400)[0]
    assert res.bayes_factor == pytest.approx(exact, rel=1e-4)


@pytest.mark.slow
def test_cauchy_prior_covers_a_large_jump_after_few_visits() -> None:
    """15 visits before and 3 after a known change of 6 SD: the normal prior (scaled by
    sigma) shrinks the jump and undercovers; the Cauchy prior holds the 90% coverage."""
    rng = np.random.default_rng(8)
    prior = np.r_[np.zeros(14), 1.0, 0.0, 0.0]
    cover = {"normal": [], "cauchy": []}
    for _ in range(200):
        y = 10.0 + rng.normal(size=18) + 6.0 * (np.arange(18) >= 15)
        for jp in cover:
            j = detect_jump(y, change_prior=prior, jump_prior=jp, level=0.9).jump
            cover[jp].append(j["lower"] <= 6.0 <= j["upper"])
    se = math.sqrt(0.09 / 200)
    assert np.mean(cover["cauchy"]) == pytest.approx(0.9, abs=4 * se)
    assert np.mean(cover["normal"]) < np.mean(cover["cauchy"])


def test_large_offsets_and_degenerate_series() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(0, 0.5, 30) + (np.arange(30) >= 15) * 0.6
    ref = detect_jump(y, trend=True).prob_change
    for off in (1e6, 1e8, 1e10):
        assert detect_jump(y + off, trend=True).prob_change == pytest.approx(ref, abs=1e-6)
    with pytest.raises(ValueError, match="no residual variation after fitting the level and trend"):
        detect_jump(2 * np.arange(12.0) + 1, trend=True, ar1=True)


def test_count_jump_summary_is_finite() -> None:
    rng = np.random.default_rng(0)
    y = np.r_[0, rng.poisson(4, 19), rng.poisson(1.5, 20)]
    res = detect_jump(y, family="poisson")
    j = res.jump
    assert math.isinf(j["mean"])  # a possible change after the first (zero) count
    assert j["lower"] < j["geometric_mean"] < j["upper"]
    assert res.summary()["jump_mean"].iloc[0] == j["geometric_mean"]
    big = detect_jump(np.r_[rng.normal(0, 1, 50), rng.normal(100, 1, 50)])
    assert math.log(big.bayes_factor) == pytest.approx(big.log_bayes_factor, rel=1e-12)
    huge = detect_jump(np.r_[rng.normal(0, 1, 400), rng.normal(100, 1, 400)], jump_prior="cauchy")
    assert math.isinf(huge.bayes_factor) and huge.log_bayes_factor > 709


# -- several outcomes -------------------------------------------------------------------------
def test_multi_outcome_reduces_to_single_and_poisson_binomial() -> None:
    rng = np.random.default_rng(5)
    t = np.arange(30) * 7.0
    df = pd.DataFrame(
        {
            "week": t,
            "clin": np.r_[rng.normal(20, 2, 15), rng.normal(24, 2, 15)],
            "carer": np.r_[rng.normal(5, 1, 15), rng.normal(6.5, 1, 15)],
        }
    )
    one = detect_jump(df, "week", treatment_start=100, outcomes=["clin"], mcid=2.0)
    single = detect_jump(df["clin"], t, treatment_start=100, mcid=2.0)
    assert one.prob_change == pytest.approx(single.prob_change, rel=1e-10)
    assert one.results["clin"].prob_jump_exceeds() == pytest.approx(
        single.prob_jump_exceeds(), rel=1e-9
    )
    assert one.prob_at_least(1) == pytest.approx(single.prob_jump_exceeds(), rel=1e-9)
    both = detect_jump(
        df,
        "week",
        treatment_start=100,
        outcomes=["clin", "carer"],
        mcid={"clin": 2.0, "carer": 1.0},
    )
    p1, p2 = both.prob_at_least(1), both.prob_at_least(2)
    assert p2 <= min(both.jumps()["prob_exceeds_mcid"]) + 1e-12
    assert p1 >= max(both.jumps()["prob_exceeds_mcid"]) - 1e-12
    assert p1 + p2 == pytest.approx(both.jumps()["prob_exceeds_mcid"].sum(), rel=1e-9)
    assert both.results["clin"].change_time_posterior.equals(both.change_time_posterior)
    json.dumps(both.to_dict())
    assert "Joint jump detection" in both._repr_html_()


# -- presentation -----------------------------------------------------------------------------
def test_result_surface_and_plot() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    res = detect_jump(step_series(), treatment_start=10, mcid=1.0, trend=True, ar1=True)
    assert isinstance(res, JumpResult)
    s = res.summary()
    assert {"prob_change", "bayes_factor", "prob_jump_exceeds_mcid"} <= set(s.columns)
    assert res.grid_posterior is not None
    assert res.grid_posterior.sum() == pytest.approx(1.0)
    f = res.fitted()
    assert list(f.columns) == ["time", "y", "fitted"]
    json.dumps(res.to_dict())
    assert len(res.plot()) == 3
    for fam, y, kw in (
        ("poisson", np.r_[np.full(10, 4), np.full(10, 1)], {}),
        ("ordinal", np.r_[np.full(10, 3), np.full(10, 6)], {"score_range": (1, 9)}),
    ):
        detect_jump(y, family=fam, **kw).plot()
    plt.close("all")


# -- bad input --------------------------------------------------------------------------------
def test_bad_input() -> None:
    y = step_series()
    with pytest.raises(
        ValueError, match="has 4 visits; the normal model with trend\\+AR\\(1\\) needs at least 6"
    ):
        detect_jump(y[:4], trend=True, ar1=True)
    nan = y.copy()
    nan[3] = np.nan
    with pytest.raises(ValueError, match=r"1 missing or non-finite values .* dropna=True"):
        detect_jump(nan)
    assert detect_jump(nan, dropna=True).times.size == y.size - 1
    with pytest.raises(ValueError, match="strictly increasing"):
        detect_jump(y, times=np.r_[np.arange(12), np.arange(12)])
    with pytest.raises(ValueError, match="treatment_start=40 is outside the observed range"):
        detect_jump(y, treatment_start=40)
    with pytest.raises(ValueError, match="non-negative integer counts"):
        detect_jump(np.r_[3, -1, 2, 4], family="poisson")
    with pytest.raises(ValueError, match="not an integer score in score_range"):
        detect_jump(np.r_[3, 10, 2, 4], family="ordinal", score_range=(1, 9))
    with pytest.raises(ValueError, match="needs score_range"):
        detect_jump(np.r_[3, 5, 2, 4], family="ordinal")
    with pytest.raises(ValueError, match="ordinal_model must be 'categorical' or 'binomial'"):
        detect_jump(np.r_[3, 5, 2, 4], family="ordinal", score_range=(1, 9), ordinal_model="x")
    with pytest.raises(ValueError, match="family must be one of"):
        detect_jump(y, family="binomial")
    with pytest.raises(ValueError, match="direction must be one of"):
        detect_jump(y, direction="up")
    with pytest.raises(ValueError, match="mcid is a rate ratio"):
        detect_jump(np.r_[3, 1, 2, 4], family="poisson", mcid=0)
    with pytest.raises(ValueError, match="ar1=True is available for family='normal' only"):
        detect_jump(np.r_[3, 1, 2, 4], family="poisson", ar1=True)
    with pytest.raises(ValueError, match="change_prior='anchored' needs treatment_start"):
        detect_jump(y, change_prior="anchored")
    with pytest.raises(ValueError, match="one value per candidate"):
        detect_jump(y, change_prior=np.ones(5))
    with pytest.raises(ValueError, match="is constant"):
        detect_jump(np.ones(10))
    with pytest.raises(ValueError, match="give mcid"):
        detect_jump(y).prob_jump_exceeds()
    with pytest.raises(ValueError, match="k must be a positive integer"):
        detect_jump(y, mcid=1).sustained(0)
    with pytest.raises(ValueError, match="score_range must be two integers"):
        detect_jump(np.r_[3, 5, 2, 4], family="ordinal", score_range=(1.5, 9))
    with pytest.raises(ValueError, match="score_range applies to family='ordinal' only"):
        detect_jump(y, score_range=(1, 9))
    with pytest.raises(ValueError, match="exposure applies to family='poisson' only"):
        detect_jump(y, exposure=np.ones(y.size))
    with pytest.raises(ValueError, match=r"with direction='decrease' it must be in \(0, 1\]"):
        detect_jump(np.r_[3, 1, 2, 4], family="poisson", direction="decrease", mcid=2)
    with pytest.raises(ValueError, match="jump_prior must be 'normal' or 'cauchy'"):
        detect_jump(y, jump_prior="t")


def test_bad_input_several_outcomes() -> None:
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {"a": rng.normal(size=20), "c": rng.poisson(3, 20), "s": rng.integers(1, 8, 20)}
    )
    kw = {"treatment_start": 10}
    with pytest.raises(ValueError, match="off_window must be in"):
        detect_jump(df, outcomes=["a"], off_window=1.5, **kw)
    with pytest.raises(ValueError, match="jump_prior_sd must be positive"):
        detect_jump(df, outcomes=["a"], jump_prior_sd=0, **kw)
    with pytest.raises(ValueError, match="ar1=True is available for family='normal' only"):
        detect_jump(df, outcomes=["c"], family="poisson", ar1=True, **kw)
    with pytest.raises(ValueError, match="trend=True is not available for family='ordinal'"):
        detect_jump(df, outcomes=["s"], family="ordinal", trend=True, score_range=(1, 7), **kw)
    with pytest.raises(ValueError, match="ordinal_model must be"):
        detect_jump(
            df, outcomes=["s"], family="ordinal", score_range=(1, 7), ordinal_model="x", **kw
        )
    with pytest.raises(ValueError, match="not numeric columns"):
        detect_jump(df.assign(a=["x"] * 20), outcomes=["a"], **kw)
    with pytest.raises(ValueError, match="has entries \\['z'\\] that are not outcomes"):
        detect_jump(df, outcomes=["a"], mcid={"z": 1.0}, **kw)
    partial = detect_jump(df, outcomes=["a", "c"], family={"a": "normal", "c": "poisson"}, **kw)
    assert partial.results["c"].mcid is None  # optional per-outcome settings may be omitted
    expo = np.r_[np.ones(10), 2 * np.ones(10)]
    joint = detect_jump(df.assign(e=expo), outcomes=["c"], family="poisson", exposure="e", **kw)
    single = detect_jump(df["c"], family="poisson", exposure=expo, **kw)
    assert joint.prob_change == pytest.approx(single.prob_change, rel=1e-10)
