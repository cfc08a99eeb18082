"""EXNEX (Neuenschwander et al. 2016): the sarcoma re-analysis (published posterior
means), refinement of the rules, the batch table against fit, Monte Carlo cross-check
and bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from rdstats.basket._exnex import EXNEX, allocation_stats

REF = json.loads((Path(__file__).parents[1] / "reference" / "basket_sarcoma.json").read_text())
N = np.array(REF["data"]["n"])
R = np.array(REF["data"]["r"])
MODEL = REF["model"]
SARCOMA = EXNEX(
    ex=[(MODEL["ex"]["mu_mean"], math.sqrt(MODEL["ex"]["mu_var"]), 1.0)],
    nex=(MODEL["nex"]["mean"], math.sqrt(MODEL["nex"]["var"])),
    weights=(MODEL["weights"]["ex"], MODEL["weights"]["nex"]),
)
# Neuenschwander et al. (2016) Table V priors, one EX component (the first)
TABLE5 = EXNEX(ex=[(special.logit(0.1), 3.18, 1.0)], nex=(special.logit(0.2), 2.5))


@pytest.fixture(scope="module")
def sarcoma():
    return SARCOMA.fit(R, N)


def test_sarcoma_posterior_means(sarcoma) -> None:
    expected = np.array(REF["expected"]["posterior_mean"])
    np.testing.assert_allclose(sarcoma.mean(), expected, atol=REF["tolerance"]["abs"])


def test_sarcoma_summary(sarcoma) -> None:
    s = sarcoma.summary(p0=0.2)
    assert list(s.index)[:2] == ["basket 1", "basket 2"]
    assert np.all((s["p_exchangeable"] > 0) & (s["p_exchangeable"] < 1))
    # the all-zero basket 2 is the least exchangeable
    assert int(np.argmin(s["p_exchangeable"])) == 1
    np.testing.assert_allclose(np.trapezoid(sarcoma.density, sarcoma.grid, axis=1), 1.0)
    d = sarcoma.to_dict()
    assert d["model"] == "EXNEX"
    json.dumps(d)


def test_refining_the_rules_changes_little() -> None:
    r, n = R[:5], N[:5]
    base = SARCOMA.fit(r, n)
    fine = SARCOMA.fit(r, n, grid_step=0.005, dv=0.05)
    assert np.max(np.abs(base.mean() - fine.mean())) < 1e-5
    assert np.max(np.abs(base.prob_above(0.2) - fine.prob_above(0.2))) < 1e-5
    assert np.max(np.abs(base.p_exchangeable - fine.p_exchangeable)) < 1e-5


def test_posterior_table_equals_fit() -> None:
    n = np.array([20, 20, 10, 10])
    rows = np.array([[0, 0, 0, 0], [3, 8, 1, 5], [20, 0, 10, 0], [2, 2, 1, 1]])
    p0 = np.array([0.1, 0.2, 0.1, 0.3])
    tab = TABLE5.posterior_table(rows, n, p0, grid_step=0.02, dv=0.1)
    for i, row in enumerate(rows):
        f = TABLE5.fit(row, n, grid_step=0.02, dv=0.1)
        np.testing.assert_allclose(tab["mean"][i], f.mean(), atol=1e-12)
        np.testing.assert_allclose(tab["prob_above"][i], f.prob_above(p0), atol=1e-12)
        np.testing.assert_allclose(tab["p_exchangeable"][i], f.p_exchangeable, atol=1e-12)


def test_posterior_table_defaults_close_to_fine_rules() -> None:
    n = np.array([20, 20, 10, 10])
    rows = np.array([[3, 8, 1, 5], [0, 6, 0, 4]])
    tab = TABLE5.posterior_table(rows, n, 0.1)
    for i, row in enumerate(rows):
        f = TABLE5.fit(row, n)
        np.testing.assert_allclose(tab["mean"][i], f.mean(), atol=1e-4)
        np.testing.assert_allclose(tab["prob_above"][i], f.prob_above(0.1), atol=5e-4)


def test_monte_carlo_cross_check() -> None:
    """Importance sampling from the prior (weights = likelihood) agrees within 4 MCSE."""
    r, n = np.array([1, 4, 0]), np.array([8, 10, 5])
    f = SARCOMA.fit(r, n)
    rng = np.random.default_rng(20260)
    m = 400_000
    mu = rng.normal(-1.735, math.sqrt(1 / 0.146), m)
    tau = np.abs(rng.normal(0.0, 1.0, m))
    ex = rng.random((m, 3)) < 0.5
    theta = np.where(
        ex,
        mu[:, None] + tau[:, None] * rng.standard_normal((m, 3)),
        rng.normal(-1.734, math.sqrt(1 / 0.128), (m, 3)),
    )
    logw = np.sum(r * theta - n * np.logaddexp(0.0, theta), axis=1)
    w = np.exp(logw - logw.max())
    w /= w.sum()
    p = special.expit(theta)
    est = w @ p
    mcse = np.sqrt(w**2 @ (p - est) ** 2)
    assert np.all(np.abs(est - f.mean()) < 4 * mcse + 1e-4)
    est_ex = w @ ex
    assert np.all(np.abs(est_ex - f.p_exchangeable) < 4 * np.sqrt(w**2 @ (ex - est_ex) ** 2) + 1e-4)


def test_empty_basket_borrows() -> None:
    f = SARCOMA.fit([0, 10, 10], [0, 12, 12])
    alone = SARCOMA.fit([0], [0])
    assert f.mean()[0] > alone.mean()[0] + 0.05
    assert np.isfinite(f.summary().to_numpy(dtype=float)[:, 3:]).all()


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=2, max_size=4))
def test_posterior_mean_between_zero_and_one_and_monotone(rs: list[int]) -> None:
    r = np.array(rs)
    n = np.full(r.size, 6)
    up = r.copy()
    up[0] = min(r[0] + 1, 6)
    tab = TABLE5.posterior_table(np.vstack([r, up]), n, 0.2, grid_step=0.05)
    assert np.all((tab["mean"] > 0) & (tab["mean"] < 1))
    # one more responder in a basket cannot lower that basket's posterior (monotone
    # likelihood ratio); other baskets may move either way (their P(EX) changes)
    assert tab["mean"][1, 0] >= tab["mean"][0, 0] - 1e-12
    assert tab["prob_above"][1, 0] >= tab["prob_above"][0, 0] - 1e-12


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"weights": (0.6, 0.6)}, "sum to 1"),
        ({"weights": (0.5, 0.3, 0.2)}, "entries"),
        ({"ex": [(0.0, -1.0, 1.0)]}, "must be > 0"),
        ({"ex": []}, "one or two"),
        ({"ex": [(0.0, 1.0)]}, "mu_mean, mu_sd, tau_scale"),
    ],
)
def test_bad_model(kwargs: dict, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        EXNEX(**kwargs)


def test_bad_data() -> None:
    with pytest.raises(ValueError, match="r=5 exceeds n=4"):
        SARCOMA.fit([1, 5], [3, 4])
    with pytest.raises(ValueError, match="same length"):
        SARCOMA.fit([1, 2], [3, 4, 5])
    with pytest.raises(ValueError, match=">= 0"):
        SARCOMA.fit([-1, 2], [3, 4])
    with pytest.raises(ValueError, match="method"):
        SARCOMA.fit([1, 2], [3, 4], method="laplace")
    with pytest.raises(ValueError, match="3 priors for 2 baskets"):
        EXNEX(nex=[(0.0, 1.0)] * 3).fit([1, 2], [3, 4])
    with pytest.raises(ValueError, match="exceeds"):
        SARCOMA.posterior_table([[1, 5]], [3, 4], 0.2)
    with pytest.raises(ValueError, match="shape"):
        SARCOMA.posterior_table([[1, 2, 3]], [3, 4], 0.2)


@pytest.mark.slow
def test_mcmc_agrees_with_exact(sarcoma) -> None:
    """PyMC (NUTS, mixture marginalised) on the sarcoma data: means within 0.02 of the
    deterministic values (NUTS mixes slowly between the EX and NEX modes: the
    ConvergenceWarning about a low ESS is expected with this few draws)."""
    pytest.importorskip("pymc")
    import warnings

    from rdstats._warnings import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mc = SARCOMA.fit(R, N, method="mcmc", rng=11, draws=1000, tune=1000, chains=2)
    np.testing.assert_allclose(mc.extra["draw_mean"], sarcoma.mean(), atol=0.02)
    np.testing.assert_allclose(mc.p_exchangeable, sarcoma.p_exchangeable, atol=0.1)
    assert mc.extra["draws"].shape == (2000, 10)
    assert mc.provenance["seed"] == 11


# -- two EX components (Neuenschwander et al. 2016, Table V priors) ---------------------------
TWO = EXNEX(
    ex=[(special.logit(0.1), 3.18, 1.0), (special.logit(0.3), 1.94, 1.0)],
    nex=(special.logit(0.2), 2.5),
    weights=(0.25, 0.25, 0.5),
)


def test_allocation_enumeration_equals_one_component_engine() -> None:
    """The enumeration over allocations (used for two components) reproduces the
    direct one-component computation."""
    from rdstats.basket import _quadrature as q

    n = np.array([20, 20, 10, 10])
    r = np.array([3, 8, 1, 5])
    _grid, comps, tabs, log_w = TABLE5._setup(
        n, [np.array([x]) for x in r], np.full(4, 0.1), 0.04, 0.2
    )
    ridx = np.zeros((1, 4), dtype=np.intp)
    one = q.hierarchical_stats(comps[0], tabs[0], ridx, log_w[:, 0], log_w[:, 1], density=True)
    enum = allocation_stats(comps, tabs, ridx, log_w, density=True)
    np.testing.assert_allclose(enum.mean, one.mean, atol=1e-9)
    np.testing.assert_allclose(enum.tail, one.tail, atol=1e-9)
    np.testing.assert_allclose(enum.p_ex, one.p_ex, atol=1e-9)
    assert one.density is not None and enum.density is not None
    np.testing.assert_allclose(
        enum.density / enum.density.sum(axis=1, keepdims=True),
        one.density / one.density.sum(axis=1, keepdims=True),
        atol=1e-10,
    )


@pytest.mark.slow
def test_two_components_monte_carlo_and_refinement() -> None:
    n = np.array([20, 20, 10, 10])
    r = np.array([3, 8, 1, 5])
    f = TWO.fit(r, n)
    fine = TWO.fit(r, n, grid_step=0.005, dv=0.05)
    assert np.max(np.abs(f.mean() - fine.mean())) < 1e-5
    assert np.max(np.abs(f.prob_above(0.1) - fine.prob_above(0.1))) < 2e-5
    rng = np.random.default_rng(5)
    m = 400_000
    mu = np.column_stack(
        [rng.normal(special.logit(0.1), 3.18, m), rng.normal(special.logit(0.3), 1.94, m)]
    )
    tau = np.abs(rng.normal(0.0, 1.0, (m, 2)))
    z = rng.choice(3, size=(m, 4), p=[0.25, 0.25, 0.5])
    c = np.minimum(z, 1)
    ex = np.take_along_axis(mu, c, 1) + np.take_along_axis(tau, c, 1) * rng.standard_normal((m, 4))
    theta = np.where(z == 2, rng.normal(special.logit(0.2), 2.5, (m, 4)), ex)
    logw = np.sum(r * theta - n * np.logaddexp(0.0, theta), axis=1)
    w = np.exp(logw - logw.max())
    w /= w.sum()
    p = special.expit(theta)
    est = w @ p
    mcse = np.sqrt(w**2 @ (p - est) ** 2)
    assert np.all(np.abs(est - f.mean()) < 4 * mcse + 1e-4)
    pex = w @ (z < 2)
    assert np.all(np.abs(pex - f.p_exchangeable) < 4 * np.sqrt(w**2 @ ((z < 2) - pex) ** 2) + 1e-4)


def test_two_components_table_equals_fit() -> None:
    n = np.array([20, 20, 10, 10])
    rows = np.array([[0, 0, 0, 0], [3, 8, 1, 5], [20, 0, 10, 0]])
    tab = TWO.posterior_table(rows, n, 0.1)
    for i, row in enumerate(rows):
        f = TWO.fit(row, n, grid_step=0.04, dv=0.2)
        np.testing.assert_allclose(tab["mean"][i], f.mean(), atol=1e-12)
        np.testing.assert_allclose(tab["prob_above"][i], f.prob_above(0.1), atol=1e-12)
        np.testing.assert_allclose(tab["p_exchangeable"][i], f.p_exchangeable, atol=1e-12)


def test_two_components_too_many_baskets() -> None:
    with pytest.raises(ValueError, match="too many for the exact two-component"):
        TWO.fit(np.zeros(12, dtype=int), np.full(12, 5))


@pytest.mark.parametrize("model", [TABLE5, TWO], ids=["one component", "two components"])
def test_table_of_all_outcomes_equals_row_by_row(model: EXNEX) -> None:
    """All count combinations at once (products over two halves of the baskets, matrix
    products) give the row-by-row numbers, with n = 0 and unequal n among the baskets."""
    from rdstats.basket import _quadrature as q
    from rdstats.basket._exnex import allocation_rows, allocation_table

    n = np.array([4, 0, 3, 2])
    rows = np.array(np.meshgrid(*[np.arange(x + 1) for x in n], indexing="ij")).reshape(4, -1).T
    dims = tuple(int(x) + 1 for x in n)
    assert q.dense_ok(dims, rows.shape[0]) and not q.dense_ok(dims, 1)
    _grid, comps, tabs, log_w = model._setup(
        n, [np.arange(x + 1) for x in n], np.full(4, 0.15), 0.05, 0.25
    )
    ridx = rows.astype(np.intp)
    if len(comps) == 1:
        dense = q.fast_stats(comps[0], tabs[0], ridx, log_w[:, 0], log_w[:, 1])
        rowwise = q.fast_stats_rows(comps[0], tabs[0], ridx, log_w[:, 0], log_w[:, 1])
    else:
        dense = allocation_table(comps, tabs, ridx, log_w)
        rowwise = allocation_rows(comps, tabs, ridx, log_w)
    for a, b in zip(dense, rowwise, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)
    tab = model.posterior_table(rows, n, 0.15, grid_step=0.05, dv=0.25)
    np.testing.assert_allclose(tab["mean"], dense[0], atol=1e-15)
    f = model.fit(rows[17], n, grid_step=0.05, dv=0.25)
    np.testing.assert_allclose(tab["mean"][17], f.mean(), atol=1e-12)
    np.testing.assert_allclose(tab["prob_above"][17], f.prob_above(0.15), atol=1e-12)
