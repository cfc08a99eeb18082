"""Tests of the multisource exchangeability model (rdstats.basket._mem)."""

from __future__ import annotations

import itertools
import json
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from rdstats.basket._mem import MEM, MEMPosterior

REF = json.loads((pathlib.Path(__file__).parents[1] / "reference" / "basket_mem.json").read_text())


def brute_force_mem(r, n, pi, a, b, p0):
    """Independent enumeration: basket j's models as explicit lists of included baskets."""
    k = len(r)
    out_mean, out_tail, out_exch = [], [], np.eye(k)

    def lb(x, y):
        return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)

    for j in range(k):
        others = [h for h in range(k) if h != j]
        logws, comps, incl = [], [], []
        for bits in itertools.product([False, True], repeat=k - 1):
            group = [j] + [h for h, s in zip(others, bits, strict=True) if s]
            alone = [h for h, s in zip(others, bits, strict=True) if not s]
            rs = sum(r[h] for h in group)
            ns = sum(n[h] for h in group)
            lw = sum(math.log(pi) if s else math.log(1 - pi) for s in bits)
            lw += lb(a + rs, b + ns - rs) - lb(a, b)
            lw += sum(lb(a + r[h], b + n[h] - r[h]) - lb(a, b) for h in alone)
            logws.append(lw)
            comps.append((a + rs, b + ns - rs))
            incl.append(bits)
        w = np.exp(np.array(logws) - max(logws))
        w /= w.sum()
        out_mean.append(sum(wi * pa / (pa + pb) for wi, (pa, pb) in zip(w, comps, strict=True)))
        out_tail.append(
            sum(wi * stats.beta.sf(p0, pa, pb) for wi, (pa, pb) in zip(w, comps, strict=True))
        )
        for i, h in enumerate(others):
            out_exch[j, h] = sum(wi for wi, bits in zip(w, incl, strict=True) if bits[i])
    return np.array(out_mean), np.array(out_tail), out_exch


# ----------------------------------------------------------------------- exact values
@pytest.mark.parametrize("case", REF["cases"], ids=lambda c: str(c["inputs"]["r"]))
def test_reference_values(case):
    inp, exp = case["inputs"], case["expected"]
    model = MEM(prior_exch=inp["prior_exch"], beta_prior=tuple(inp["beta_prior"]))
    tab = model.posterior_table([inp["r"]], inp["n"], inp["p0"])
    tol = REF["tolerance"]
    np.testing.assert_allclose(tab["mean"][0], exp["mean"], atol=tol["closed_form"])
    np.testing.assert_allclose(tab["prob_above"][0], exp["prob_above"], atol=tol["closed_form"])
    post = model.fit(inp["r"], inp["n"])
    np.testing.assert_allclose(post.exchangeability, exp["exchangeability"], atol=1e-10)
    np.testing.assert_allclose(post.p_exchangeable, exp["p_exchangeable"], atol=1e-10)
    np.testing.assert_allclose(post.extra["mean_exact"], exp["mean"], atol=1e-10)
    # the logit-grid representation agrees to the grid's accuracy
    np.testing.assert_allclose(post.mean(), exp["mean"], atol=tol["grid"])
    np.testing.assert_allclose(post.prob_above(inp["p0"]), exp["prob_above"], atol=tol["grid"])


def test_brute_force_three_baskets():
    r, n = [4, 1, 6], [12, 9, 14]
    model = MEM(prior_exch=0.4, beta_prior=(1.0, 2.0))
    mean, tail, exch = brute_force_mem(r, n, 0.4, 1.0, 2.0, 0.3)
    tab = model.posterior_table([r], n, 0.3)
    np.testing.assert_allclose(tab["mean"][0], mean, atol=1e-12)
    np.testing.assert_allclose(tab["prob_above"][0], tail, atol=1e-12)
    np.testing.assert_allclose(model.fit(r, n).exchangeability, exch, atol=1e-12)


def test_prior_matrix_and_two_baskets_symmetric():
    pm = np.array([[1.0, 0.2, 0.9], [0.2, 1.0, 0.5], [0.9, 0.5, 1.0]])
    post = MEM(prior_exch=pm).fit([3, 5, 4], [10, 10, 10])
    assert post.exchangeability[0, 2] > post.exchangeability[0, 1]
    two = MEM().fit([3, 8], [10, 12])
    assert two.exchangeability[0, 1] == pytest.approx(two.exchangeability[1, 0], abs=1e-12)
    # prior 0 on exchangeability = independent beta posteriors
    sep = MEM(prior_exch=0.0).posterior_table([[3, 8]], [10, 12], 0.3)
    np.testing.assert_allclose(sep["mean"][0], [3.5 / 11, 8.5 / 13], atol=1e-12)


def test_table_equals_fit_row_by_row():
    rng = np.random.default_rng(3)
    n = np.array([10, 14, 8, 0])
    r = rng.binomial(n, 0.3, size=(25, 4))
    model = MEM(prior_exch=0.5)
    tab = model.posterior_table(r, n, [0.2, 0.25, 0.2, 0.3])
    for i in range(len(r)):
        post = model.fit(r[i], n)
        np.testing.assert_allclose(tab["mean"][i], post.extra["mean_exact"], atol=1e-12)
        np.testing.assert_allclose(tab["mean"][i], post.mean(), atol=5e-3)
        np.testing.assert_allclose(
            tab["prob_above"][i], post.prob_above([0.2, 0.25, 0.2, 0.3]), atol=5e-3
        )


# ----------------------------------------------------------------------- sampler
def test_gibbs_matches_exact():
    r, n = [2, 3, 9, 4, 0], [15, 15, 15, 12, 10]
    exact = MEM(method="exact").fit(r, n)
    mc = MEM(method="mcmc", n_iter=6000).fit(r, n, rng=11)
    np.testing.assert_allclose(mc.exchangeability, exact.exchangeability, atol=0.03)
    np.testing.assert_allclose(mc.p_exchangeable, exact.p_exchangeable, atol=0.03)
    np.testing.assert_allclose(mc.mean(), exact.mean(), atol=0.01)
    assert mc.extra["method"] == "mcmc" and mc.provenance["seed"] is not None
    again = MEM(method="mcmc", n_iter=6000).fit(r, n, rng=11)
    np.testing.assert_array_equal(again.density, mc.density)


def test_auto_switches_and_exact_refuses_large_k():
    r, n = [1, 2, 3, 4, 5, 6, 7, 8], [10] * 8
    post = MEM(n_iter=300, burn_in=50).fit(r, n, rng=1)
    assert post.extra["method"] == "mcmc"
    with pytest.raises(ValueError, match=r"max_exact=7 baskets, got K=8.*method=.mcmc."):
        MEM(method="exact").fit(r, n)
    with pytest.raises(ValueError, match="max_exact"):
        MEM(method="exact").posterior_table([r], n, 0.2)
    assert MEM(method="exact", max_exact=8).fit(r, n).extra["method"] == "exact"
    tab = MEM(n_iter=300, burn_in=50).posterior_table([r, r], n, 0.2, rng=5)
    assert tab["mean"].shape == (2, 8) and np.all(
        (tab["prob_above"] >= 0) & (tab["prob_above"] <= 1)
    )


# ----------------------------------------------------------------------- properties
@settings(max_examples=30, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), min_size=2, max_size=4),
    seed=st.integers(0, 2**16),
)
def test_permutation_and_ranges(data, seed):
    n = np.array([max(a, b) for a, b in data])
    r = np.array([min(a, b) for a, b in data])
    perm = np.random.default_rng(seed).permutation(len(r))
    model = MEM()
    t1 = model.posterior_table([r], n, 0.2)
    t2 = model.posterior_table([r[perm]], n[perm], 0.2)
    np.testing.assert_allclose(t2["mean"][0], t1["mean"][0][perm], atol=1e-12)
    np.testing.assert_allclose(t2["prob_above"][0], t1["prob_above"][0][perm], atol=1e-12)
    e1 = model.fit(r, n).exchangeability
    e2 = model.fit(r[perm], n[perm]).exchangeability
    np.testing.assert_allclose(e2, e1[np.ix_(perm, perm)], atol=1e-12)
    assert np.all((t1["prob_above"] >= 0) & (t1["prob_above"] <= 1))
    assert np.all((e1 >= -1e-12) & (e1 <= 1 + 1e-12))


# ----------------------------------------------------------------------- bad input
def test_bad_input():
    with pytest.raises(ValueError, match="r=5 exceeds n=4"):
        MEM().fit([5, 1], [4, 3])
    with pytest.raises(ValueError, match="same length"):
        MEM().fit([1, 2], [4, 3, 5])
    with pytest.raises(ValueError, match=r"prior_exch must be a scalar or a \(2, 2\)"):
        MEM(prior_exch=np.full((3, 3), 0.5)).fit([1, 2], [4, 3])
    with pytest.raises(ValueError, match="prior_exch must hold probabilities"):
        MEM(prior_exch=1.5)
    with pytest.raises(ValueError, match="beta_prior"):
        MEM(beta_prior=(0.0, 1.0))
    with pytest.raises(ValueError, match="method"):
        MEM(method="gibbs")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n must have one entry per basket"):
        MEM().posterior_table([[1, 2]], [4, 3, 2], 0.2)
    with pytest.raises(ValueError, match="p0"):
        MEM().posterior_table([[1, 2]], [4, 3], 1.2)


def test_empty_basket_borrows():
    post = MEM().fit([0, 6, 7], [0, 20, 20])
    assert isinstance(post, MEMPosterior)
    assert 0.2 < post.mean()[0] < 0.5  # pulled towards the others (prior mean 0.5)
    assert post.p_exchangeable[0] > 0.5
    single = MEM().fit([3], [10])
    assert single.mean()[0] == pytest.approx(3.5 / 11, abs=1e-3)
    s = post.summary(p0=0.2)
    assert {"mean", "prob_above_p0", "p_exchangeable"} <= set(s.columns)
    json.dumps(post.to_dict())
    assert not post.density.flags.writeable


def test_plots():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    post = MEM().fit([2, 3, 9, 0], [15, 15, 15, 0])
    for kind in ("heatmap", "network"):
        ax = post.plot_exchangeability(kind=kind)
        assert ax is not None
    with pytest.raises(ValueError, match="kind"):
        post.plot_exchangeability(kind="pie")
    post.plot()
    plt.close("all")


def test_import_does_not_load_matplotlib():
    code = "import sys, rdstats.basket._mem; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
