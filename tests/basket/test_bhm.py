"""Berry et al. (2013) BHM: Monte Carlo cross-check, refinement, targets, batch table,
limits (sigma -> 0: pooled) and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from rdstats.basket._bhm import BHM
from rdstats.basket._independent import Pooled

R = np.array([2, 0, 1, 6])
N = np.array([15, 13, 12, 28])


@pytest.fixture(scope="module")
def berry():
    return BHM().fit(R, N)


def test_refining_the_rules_changes_little(berry) -> None:
    fine = BHM().fit(R, N, grid_step=0.005, dv=0.05)
    assert np.max(np.abs(berry.mean() - fine.mean())) < 1e-5
    assert np.max(np.abs(berry.prob_above(0.2) - fine.prob_above(0.2))) < 5e-5


def test_monte_carlo_cross_check() -> None:
    """Importance sampling (mu, sigma) from a proposal, theta given (mu, sigma) from the
    prior; with a proper, moderate prior so that the sampler is efficient."""
    model = BHM(mu_prior=(-1.5, 1.0), sigma2_prior=(2.0, 0.5))
    r, n = np.array([1, 4, 0]), np.array([8, 10, 5])
    f = model.fit(r, n)
    rng = np.random.default_rng(8)
    m = 400_000
    mu = rng.normal(-1.5, 1.0, m)
    sigma = np.sqrt(0.5 / rng.gamma(2.0, 1.0, m))
    theta = mu[:, None] + sigma[:, None] * rng.standard_normal((m, 3))
    logw = np.sum(r * theta - n * np.logaddexp(0.0, theta), axis=1)
    w = np.exp(logw - logw.max())
    w /= w.sum()
    p = special.expit(theta)
    est = w @ p
    mcse = np.sqrt(w**2 @ (p - est) ** 2)
    assert np.all(np.abs(est - f.mean()) < 4 * mcse + 1e-4)
    assert abs(w @ mu - f.extra["mu_mean"]) < 4 * math.sqrt(w**2 @ (mu - w @ mu) ** 2) + 1e-4


def test_tiny_sigma_pools() -> None:
    """A prior that pins sigma near 0 gives the pooled analysis (normal prior on the
    common logit instead of a Beta, so only approximately the Beta-pooled means)."""
    pinned = BHM(mu_prior=(0.0, 100.0), sigma2_prior=(1000.0, 1e-6)).fit(R, N)
    m = pinned.mean()
    assert np.ptp(m) < 1e-3
    assert abs(m[0] - Pooled(a=0.5, b=0.5).fit(R, N).mean()[0]) < 0.01


def test_posterior_table_equals_fit() -> None:
    rows = np.array([[2, 0, 1, 6], [0, 0, 0, 0], [15, 13, 12, 28], [5, 5, 5, 5]])
    tab = BHM().posterior_table(rows, N, 0.2, grid_step=0.02, dv=0.2)
    for i, row in enumerate(rows):
        f = BHM().fit(row, N, grid_step=0.02, dv=0.2)
        np.testing.assert_allclose(tab["mean"][i], f.mean(), atol=1e-12)
        np.testing.assert_allclose(tab["prob_above"][i], f.prob_above(0.2), atol=1e-12)
    assert set(tab) == {"mean", "prob_above"}


def test_targets_shift_the_exchangeable_scale() -> None:
    model = BHM(targets=[0.2, 0.3, 0.2, 0.1])
    f = model.fit(R, N, grid_step=0.02, dv=0.2)
    tab = model.posterior_table(R[None, :], N, 0.2, grid_step=0.02, dv=0.2)
    # the table is exact on the shifted scale; the fit interpolates the density
    np.testing.assert_allclose(tab["mean"][0], f.mean(), atol=1e-3)
    # the basket with the highest target gets the highest prior mean of its own rate
    prior = model.fit([0, 0, 0, 0], [0, 0, 0, 0])
    assert int(np.argmax(prior.mean())) == 1


def test_empty_basket_borrows(berry) -> None:
    f = BHM().fit([2, 0, 1, 6, 0], [15, 13, 12, 28, 0])
    assert np.isfinite(f.mean()).all()
    assert 0.05 < f.mean()[4] < 0.3
    np.testing.assert_allclose(f.mean()[:4], berry.mean(), atol=0.02)


def test_result_surface(berry) -> None:
    s = berry.summary(p0=0.2)
    assert "prob_above_p0" in s and "p_exchangeable" not in s
    assert berry.model == "BHM"
    assert berry.extra["sigma_mean"] > 0
    assert not berry.density.flags.writeable


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="r=3 exceeds n=2"):
        BHM().fit([3], [2])
    with pytest.raises(ValueError, match="same length"):
        BHM().fit([1, 2], [3])
    with pytest.raises(ValueError, match="must be > 0"):
        BHM(sigma2_prior=(0.0, 1.0))
    with pytest.raises(TypeError, match="pairs"):
        BHM(mu_prior=1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="targets has 3 entries for 2 baskets"):
        BHM(targets=[0.1, 0.2, 0.3]).fit([1, 2], [3, 4])
    with pytest.raises(ValueError, match="targets"):
        BHM(targets=[0.0, 0.2])
    with pytest.raises(ValueError, match="grid_step"):
        BHM().fit([1], [3], grid_step=1.0)


@pytest.mark.slow
def test_mcmc_agrees_with_exact() -> None:
    """PyMC (NUTS, non-centred) with a moderate prior: posterior means within 4 MCSE."""
    pytest.importorskip("pymc")
    model = BHM(mu_prior=(-1.5, 2.0), sigma2_prior=(2.0, 0.5))
    exact = model.fit(R, N)
    mc = model.fit(R, N, method="mcmc", rng=3, draws=1000, tune=1000, chains=2)
    assert mc.extra["diagnostics"]["max_rhat"] < 1.01
    p = mc.extra["draws"]
    mcse = p.std(axis=0) / np.sqrt(mc.extra["diagnostics"]["min_bulk_ess"])
    assert np.all(np.abs(p.mean(axis=0) - exact.mean()) < 4 * mcse + 1e-3)
    assert mc.model == "BHM" and mc.extra["idata"] is not None


def test_mcmc_warns_on_poor_convergence() -> None:
    pytest.importorskip("pymc")
    from rdstats._warnings import ConvergenceWarning

    with pytest.warns(ConvergenceWarning, match="R-hat"):
        BHM().fit(R, N, method="mcmc", rng=1, draws=50, tune=50, chains=2)


def test_table_of_all_outcomes_equals_fit() -> None:
    """The table over all count combinations (matrix products over halves of the
    baskets) gives the numbers of fit."""
    model = BHM()
    n = np.array([5, 3, 4])
    rows = np.array(np.meshgrid(*[np.arange(x + 1) for x in n], indexing="ij")).reshape(3, -1).T
    tab = model.posterior_table(rows, n, 0.2, grid_step=0.05, dv=0.25)
    for i in (0, 33, rows.shape[0] - 1):
        f = model.fit(rows[i], n, grid_step=0.05, dv=0.25)
        np.testing.assert_allclose(tab["mean"][i], f.mean(), atol=1e-12)
        np.testing.assert_allclose(tab["prob_above"][i], f.prob_above(0.2), atol=1e-12)
