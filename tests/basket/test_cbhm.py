"""Tests of the calibrated Bayesian hierarchical model (rdstats.basket._cbhm)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from rdstats.basket._cbhm import CalibratedBHM, fixed_sigma_bhm, homogeneity_statistic
from rdstats.basket._posterior import LOGIT_GRID, BasketPosterior


def nested_quad_bhm(r, n, sigma, mu0, s0, p0):
    """Posterior mean and P(p_1 > p0) of basket 1 (two baskets) by nested adaptive quadrature."""

    def lik(x, k):
        return np.exp(r[k] * -np.logaddexp(0, -x) + (n[k] - r[k]) * -np.logaddexp(0, x))

    def inner(mu, k, f=lambda x: 1.0, lo=-np.inf):
        def h(x):
            return f(x) * lik(x, k) * stats.norm.pdf(x, mu, sigma)

        return integrate.quad(h, max(lo, mu - 12 * sigma), mu + 12 * sigma, limit=200)[0]

    def outer(g):
        return integrate.quad(
            lambda mu: stats.norm.pdf(mu, mu0, s0) * g(mu), -12, 12, limit=200, points=[mu0]
        )[0]

    z = outer(lambda mu: inner(mu, 0) * inner(mu, 1))
    mean = outer(lambda mu: inner(mu, 0, special.expit) * inner(mu, 1)) / z
    tail = outer(lambda mu: inner(mu, 0, lo=special.logit(p0)) * inner(mu, 1)) / z
    return mean, tail


def _post(dens):
    return BasketPosterior(
        model="t",
        r=np.zeros(dens.shape[0], dtype=np.int64),
        n=np.ones(dens.shape[0], dtype=np.int64),
        names=[str(i) for i in range(dens.shape[0])],
        grid=LOGIT_GRID,
        density=dens,
    )


@pytest.mark.parametrize("sigma", [0.3, 1.0, 3.0])
def test_fixed_sigma_against_nested_quadrature(sigma):
    r, n = np.array([3, 9]), np.array([14, 16])
    dens = fixed_sigma_bhm(r[None, :], n, np.array([sigma]), (-0.5, 1.5))[0]
    post = _post(dens)
    mean, tail = nested_quad_bhm(r, n, sigma, -0.5, 1.5, 0.25)
    assert post.mean()[0] == pytest.approx(mean, abs=2e-5)
    assert post.prob_above(0.25)[0] == pytest.approx(tail, abs=2e-4)


def test_sigma_zero_is_full_pooling_and_large_sigma_separates():
    r, n = np.array([3, 9, 0]), np.array([14, 16, 10])
    d0 = fixed_sigma_bhm(r[None, :], n, np.array([0.0]), (0.0, 2.0))[0]
    lp = (
        stats.norm.logpdf(LOGIT_GRID, 0, 2)
        + r.sum() * -np.logaddexp(0, -LOGIT_GRID)
        + (n - r).sum() * -np.logaddexp(0, LOGIT_GRID)
    )
    pooled = np.exp(lp - lp.max())
    pooled /= np.trapezoid(pooled, LOGIT_GRID)
    for j in range(3):
        np.testing.assert_allclose(d0[j], pooled, atol=1e-8 * pooled.max())
    tiny = fixed_sigma_bhm(r[None, :], n, np.array([1e-4]), (0.0, 2.0))[0]
    np.testing.assert_allclose(_post(tiny).mean(), _post(d0).mean(), atol=1e-6)


def test_monte_carlo_importance_sampling():
    r, n, sigma = np.array([2, 6, 11]), np.array([15, 15, 15]), 0.8
    post = _post(fixed_sigma_bhm(r[None, :], n, np.array([sigma]), (-1.0, 1.0))[0])
    gen = np.random.default_rng(2024)
    mu = gen.normal(-1.0, 1.0, 400_000)
    x = mu[:, None] + sigma * gen.standard_normal((mu.size, 3))
    logw = (r * -np.logaddexp(0, -x) + (n - r) * -np.logaddexp(0, x)).sum(axis=1)
    w = np.exp(logw - logw.max())
    w /= w.sum()
    p = special.expit(x)
    np.testing.assert_allclose(post.mean(), w @ p, atol=4e-3)
    np.testing.assert_allclose(post.prob_above(0.3), w @ (p > 0.3), atol=1e-2)


def test_homogeneity_statistic_is_pearson_chi_square():
    r, n = np.array([3, 9, 5, 0]), np.array([14, 16, 12, 0])
    keep = n > 0
    table = np.c_[r[keep], n[keep] - r[keep]]
    expected = stats.chi2_contingency(table, correction=False)[0]
    assert homogeneity_statistic(r[None, :], n)[0] == pytest.approx(expected, rel=1e-12)
    assert homogeneity_statistic([[0, 0]], [5, 6])[0] == 0.0
    assert homogeneity_statistic([[2, 2]], [10, 10])[0] == 0.0


def test_calibration_follows_the_procedure():
    n, p0, p1 = np.array([15, 20, 25]), 0.15, 0.4
    a, b = CalibratedBHM.calibrate(n, p0, p1, n_sim=3000, rng=9)
    gen = np.random.default_rng(9)
    t_h = np.median(homogeneity_statistic(gen.binomial(n, p1, (3000, 3)), n))
    meds = []
    for code in range(1, 7):
        act = ((code >> np.arange(3)) & 1).astype(bool)
        meds.append(
            np.median(homogeneity_statistic(gen.binomial(n, np.where(act, p1, p0), (3000, 3)), n))
        )
    assert np.exp(a + b * np.log(t_h)) == pytest.approx(1.0, rel=1e-10)
    assert np.exp(a + b * np.log(min(meds))) == pytest.approx(80.0, rel=1e-10)
    assert b > 0
    model = CalibratedBHM(a, b)
    homo = model.fit([6, 8, 10], n)
    het = model.fit([1, 9, 3], n)
    assert homo.extra["sigma2"] < het.extra["sigma2"]
    assert homo.extra["T"] == pytest.approx(homogeneity_statistic([[6, 8, 10]], n)[0])


def test_table_equals_fit_row_by_row():
    rng = np.random.default_rng(5)
    n = np.array([10, 14, 0, 12])
    r = rng.binomial(n, 0.3, size=(20, 4))
    model = CalibratedBHM(-1.5, 3.0)
    tab = model.posterior_table(r, n, [0.2, 0.25, 0.2, 0.3], batch=7)
    for i in range(len(r)):
        post = model.fit(r[i], n)
        np.testing.assert_allclose(tab["mean"][i], post.mean(), atol=1e-12)
        np.testing.assert_allclose(
            tab["prob_above"][i], post.prob_above([0.2, 0.25, 0.2, 0.3]), atol=1e-12
        )


@settings(max_examples=20, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), min_size=2, max_size=4),
    seed=st.integers(0, 2**16),
)
def test_permutation_and_ranges(data, seed):
    n = np.array([max(a, b) for a, b in data])
    r = np.array([min(a, b) for a, b in data])
    perm = np.random.default_rng(seed).permutation(len(r))
    model = CalibratedBHM(-1.0, 2.0)
    t1 = model.posterior_table([r], n, 0.2)
    t2 = model.posterior_table([r[perm]], n[perm], 0.2)
    np.testing.assert_allclose(t2["mean"][0], t1["mean"][0][perm], atol=1e-9)
    np.testing.assert_allclose(t2["prob_above"][0], t1["prob_above"][0][perm], atol=1e-9)
    assert np.all((t1["prob_above"] >= -1e-12) & (t1["prob_above"] <= 1 + 1e-12))
    assert np.all((t1["mean"] > 0) & (t1["mean"] < 1))


def test_bad_input_and_empty_baskets():
    model = CalibratedBHM(-1.0, 2.0)
    with pytest.raises(ValueError, match="r=4 exceeds n=3"):
        model.fit([4, 1], [3, 3])
    with pytest.raises(ValueError, match="same length"):
        model.fit([1, 1], [3, 3, 3])
    with pytest.raises(ValueError, match="mu_prior"):
        CalibratedBHM(0.0, 1.0, mu_prior=(0.0, -1.0))
    with pytest.raises(TypeError, match="a must be a real number"):
        CalibratedBHM("x", 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="p1 must differ"):
        CalibratedBHM.calibrate([10, 10], 0.2, 0.2)
    with pytest.raises(ValueError, match="at least 2 baskets"):
        CalibratedBHM.calibrate([10], 0.2, 0.4)
    with pytest.raises(ValueError, match="sigma2_homogeneous"):
        CalibratedBHM.calibrate([10, 10], 0.2, 0.4, sigma2_homogeneous=100.0)
    post = model.fit([0, 6, 7], [0, 20, 20])
    assert np.isfinite(post.mean()).all()
    assert 0.2 < post.mean()[0] < 0.45  # the empty basket borrows from the others
    s = post.summary(p0=0.2)
    assert s.shape[0] == 3
    assert model.fit([2], [9]).n_baskets == 1
