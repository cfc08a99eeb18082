"""Tests of Fujikawa et al.'s similarity-weighted basket model (rdstats.basket._fujikawa)."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from rdstats.basket._fujikawa import Fujikawa, jensen_shannon_beta

REF = json.loads(
    (pathlib.Path(__file__).parents[1] / "reference" / "basket_fujikawa.json").read_text()
)


def direct_jsd(a1, b1, a2, b2):
    """JSD (bits) by adaptive quadrature on the probability scale."""
    p, q = stats.beta(a1, b1), stats.beta(a2, b2)

    def kl_mid(f, g):
        def h(x):
            fx = f.pdf(x)
            return 0.0 if fx == 0 else fx * np.log2(2 * fx / (fx + g.pdf(x)))

        return integrate.quad(h, 0, 1, limit=200, points=[0.25, 0.5, 0.75])[0]

    return 0.5 * (kl_mid(p, q) + kl_mid(q, p))


@pytest.mark.parametrize("case", REF["cases"], ids=lambda c: str(c["inputs"]["r"]))
def test_reference_values(case):
    inp, exp = case["inputs"], case["expected"]
    model = Fujikawa(beta_prior=tuple(inp["beta_prior"]), epsilon=inp["epsilon"], tau=inp["tau"])
    post = model.fit(inp["r"], inp["n"])
    np.testing.assert_allclose(
        post.extra["weights"], exp["weights"], atol=REF["tolerance"]["weights"]
    )
    tab = model.posterior_table([inp["r"]], inp["n"], inp["p0"])
    tol = REF["tolerance"]["closed_form"]
    np.testing.assert_allclose(tab["mean"][0], exp["mean"], atol=tol)
    np.testing.assert_allclose(tab["prob_above"][0], exp["prob_above"], atol=tol)
    np.testing.assert_allclose(post.mean(), exp["mean"], atol=1e-3)


def test_jsd_direct_formula():
    for a1, b1, a2, b2 in [(3, 14, 10, 7), (1, 1, 4, 9), (21, 5, 20, 6), (2.5, 30.5, 1.5, 3.5)]:
        assert jensen_shannon_beta(a1, b1, a2, b2) == pytest.approx(
            direct_jsd(a1, b1, a2, b2), abs=1e-7
        )
    assert jensen_shannon_beta(4, 5, 4, 5) == pytest.approx(0.0, abs=1e-12)
    assert jensen_shannon_beta(1, 2000, 2000, 1) == pytest.approx(1.0, abs=1e-6)


def test_shared_posterior_formula():
    r, n = np.array([3, 5, 12]), np.array([15, 20, 18])
    model = Fujikawa(epsilon=1.5, tau=0.2)
    w = model.weights(r, n)
    a, b = 1 + r, 1 + n - r
    for i in range(3):
        for j in range(3):
            if i != j:
                s = (1 - direct_jsd(a[i], b[i], a[j], b[j])) ** 1.5
                assert w[i, j] == pytest.approx(s if s >= 0.2 else 0.0, abs=1e-7)
    pa, pb = w @ a, w @ b
    tab = model.posterior_table([r], n, 0.3)
    np.testing.assert_allclose(tab["mean"][0], pa / (pa + pb), atol=1e-12)
    np.testing.assert_allclose(tab["prob_above"][0], stats.beta.sf(0.3, pa, pb), atol=1e-12)


def test_limits_of_the_tuning_parameters():
    r, n = [3, 5, 12], [15, 20, 18]
    none = Fujikawa(tau=1.0).posterior_table([r], n, 0.3)  # no borrowing
    np.testing.assert_allclose(none["mean"][0], (1 + np.array(r)) / (2 + np.array(n)), atol=1e-12)
    full = Fujikawa(epsilon=0.0, tau=0.0).posterior_table([r], n, 0.3)  # all weights one
    np.testing.assert_allclose(full["mean"][0], (3 + sum(r)) / (6 + sum(n)), atol=1e-12)


def test_table_equals_fit_row_by_row():
    rng = np.random.default_rng(7)
    n = np.array([12, 8, 15, 0])
    r = rng.binomial(n, 0.35, size=(30, 4))
    model = Fujikawa()
    tab = model.posterior_table(r, n, 0.2)
    for i in range(len(r)):
        post = model.fit(r[i], n)
        np.testing.assert_allclose(tab["mean"][i], post.extra["mean_exact"], atol=1e-12)
        np.testing.assert_allclose(tab["mean"][i], post.mean(), atol=1e-4)
        np.testing.assert_allclose(tab["prob_above"][i], post.prob_above(0.2), atol=1e-4)


def test_monte_carlo_mean():
    """Draws from the shared beta posterior reproduce the reported mean and tail."""
    post = Fujikawa().fit([2, 9, 11, 13], [25, 25, 25, 25])
    gen = np.random.default_rng(1)
    for j in range(4):
        x = gen.beta(post.extra["shape1"][j], post.extra["shape2"][j], 200_000)
        assert x.mean() == pytest.approx(post.mean()[j], abs=3e-3)
        assert (x > 0.3).mean() == pytest.approx(post.prob_above(0.3)[j], abs=5e-3)


@settings(max_examples=30, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(0, 15), st.integers(0, 15)), min_size=2, max_size=5),
    seed=st.integers(0, 2**16),
)
def test_permutation_symmetry_and_ranges(data, seed):
    n = np.array([max(a, b) for a, b in data])
    r = np.array([min(a, b) for a, b in data])
    perm = np.random.default_rng(seed).permutation(len(r))
    model = Fujikawa()
    w1, w2 = model.weights(r, n), model.weights(r[perm], n[perm])
    np.testing.assert_allclose(w2, w1[np.ix_(perm, perm)], atol=1e-12)
    np.testing.assert_allclose(w1, w1.T)
    assert np.all((w1 >= 0) & (w1 <= 1))
    t = model.posterior_table([r], n, 0.25)
    assert np.all((t["prob_above"] >= 0) & (t["prob_above"] <= 1))
    assert np.all((t["mean"] > 0) & (t["mean"] < 1))


def test_bad_input():
    with pytest.raises(ValueError, match="r=7 exceeds n=6"):
        Fujikawa().fit([7, 1], [6, 3])
    with pytest.raises(ValueError, match="same length"):
        Fujikawa().fit([1], [4, 3])
    with pytest.raises(ValueError, match="epsilon"):
        Fujikawa(epsilon=-1)
    with pytest.raises(ValueError, match="tau"):
        Fujikawa(tau=1.5)
    with pytest.raises(TypeError, match="tau"):
        Fujikawa(tau="0.3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"r=3 exceeds n=2 \(row 1, basket 0\)"):
        Fujikawa().posterior_table([[1, 1], [3, 1]], [2, 2], 0.2)


def test_empty_basket_borrows():
    post = Fujikawa().fit([0, 6, 7], [0, 20, 20])
    assert post.extra["weights"][0, 1] > 0
    assert post.mean()[0] == pytest.approx(post.extra["mean_exact"][0], abs=1e-4)
    assert post.sd()[0] < stats.beta(1, 1).std()
    assert Fujikawa().fit([3], [10]).mean()[0] == pytest.approx(4 / 12, abs=1e-4)
