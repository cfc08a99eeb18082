"""Monte Carlo cross-checks of every exact method in ``rdstats.priors``.

Each exact value (closed form, enumeration or quadrature) is compared with a simulation
that only uses numpy's generators and the mixtures' own ``rvs``; the comparison passes
when the two agree within 4 Monte Carlo standard errors. Every simulation uses a fixed
seed via ``rng=``, so the outcome is reproducible (no flaky failures).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from rdstats.priors import (
    BetaMixture,
    GammaMixture,
    NormalMixture,
    prob_difference,
    quantile_difference,
)

N = 200_000
Z = 4.0  # tolerance in Monte Carlo standard errors

BETA = BetaMixture([0.2, 0.5, 0.3], [1, 12, 3], [1, 4, 9])
NORMAL = NormalMixture([0.5, 0.3, 0.2], [-1.0, 2.0, 6.0], [1.0, 2.5, 0.7], sigma=4.0)
GAMMA = GammaMixture([0.3, 0.7], [20, 50], [4, 10])
GAMMA_EXP = GammaMixture([0.4, 0.6], [3, 30], [2, 10], likelihood="exp")
PRIORS = {"beta": BETA, "normal": NORMAL, "gamma": GAMMA, "gamma_exp": GAMMA_EXP}


def assert_within(estimate: Any, exact: Any, se: Any, what: str) -> None:
    estimate, exact, se = (np.asarray(v, dtype=float) for v in (estimate, exact, se))
    z = np.abs(estimate - exact) / np.maximum(se, 1e-300)
    assert np.all(z <= Z), f"{what}: MC {estimate} vs exact {exact}, z = {z}"


def check_proportions(draws: np.ndarray, x: np.ndarray, cdf: np.ndarray, what: str) -> None:
    """Empirical P(X <= x) against exact cdf values, binomial standard errors."""
    emp = (draws[:, None] <= x[None, :]).mean(axis=0)
    se = np.sqrt(cdf * (1 - cdf) / draws.size)
    assert_within(emp, cdf, se, what)


def check_moments(draws: np.ndarray, mean: float, var: float, what: str) -> None:
    n = draws.size
    assert_within(draws.mean(), mean, np.sqrt(var / n), f"{what} mean")
    centred = draws - draws.mean()
    m4 = np.mean(centred**4)
    assert_within(np.var(draws, ddof=1), var, np.sqrt((m4 - var**2) / n), f"{what} variance")


# ------------------------------------------------------------------------ rvs vs exact
@pytest.mark.parametrize("name", list(PRIORS))
def test_mean_var_cdf_against_draws(name: str) -> None:
    dist = PRIORS[name]
    draws = dist.rvs(N, rng=20240601)
    assert draws.shape == (N,)
    check_moments(draws, dist.mean(), dist.var(), name)
    x = np.asarray(dist.ppf([0.05, 0.25, 0.5, 0.75, 0.95]))
    check_proportions(draws, x, np.asarray(dist.cdf(x)), f"{name} cdf")
    # ppf: the exact quantiles cut off the stated fractions of the draws
    check_proportions(draws, x, np.array([0.05, 0.25, 0.5, 0.75, 0.95]), f"{name} ppf")


@pytest.mark.parametrize(
    "pred",
    [
        BETA.predictive(12),
        GAMMA.predictive(2.5),
        GAMMA_EXP.predictive(4),
        NORMAL.predictive(3),
    ],
    ids=["beta-binomial", "gamma-poisson", "gamma-time", "normal"],
)
def test_predictive_rvs_against_exact(pred: Any) -> None:
    draws = pred.rvs(N, rng=np.random.SeedSequence(7))
    check_moments(draws.astype(float), pred.mean(), pred.var(), type(pred).__name__)
    x = np.asarray(pred.ppf([0.1, 0.5, 0.9]), dtype=float)
    check_proportions(draws, x, np.asarray(pred.cdf(x)), f"{type(pred).__name__} cdf")


# ------------------------------------------------------------------------ predictive
def test_beta_binomial_pmf_against_prior_then_data() -> None:
    rng = np.random.default_rng(11)
    n = 12
    theta = BETA.rvs(N, rng=rng)
    r = rng.binomial(n, theta)
    k = np.arange(n + 1)
    pmf = np.asarray(BETA.predictive(n).pdf(k))
    freq = np.bincount(r, minlength=n + 1) / N
    assert_within(freq, pmf, np.sqrt(pmf * (1 - pmf) / N), "beta-binomial pmf")


def test_gamma_poisson_pmf_against_prior_then_data() -> None:
    rng = np.random.default_rng(12)
    exposure = 2.5
    lam = GAMMA.rvs(N, rng=rng)
    y = rng.poisson(lam * exposure)
    k = np.arange(0, 30)
    pmf = np.asarray(GAMMA.predictive(exposure).pdf(k))
    freq = np.bincount(y, minlength=k.size)[: k.size] / N
    assert_within(freq, pmf, np.sqrt(pmf * (1 - pmf) / N), "gamma-Poisson pmf")


def test_gamma_time_cdf_against_prior_then_data() -> None:
    rng = np.random.default_rng(13)
    events = 4
    lam = GAMMA_EXP.rvs(N, rng=rng)
    total = rng.gamma(events, 1.0 / lam)  # sum of `events` exponential times with rate lam
    pred = GAMMA_EXP.predictive(events)
    x = np.asarray(pred.ppf([0.05, 0.3, 0.6, 0.9]))
    check_proportions(total, x, np.asarray(pred.cdf(x)), "gamma-time cdf")


def test_normal_predictive_cdf_against_prior_then_data() -> None:
    rng = np.random.default_rng(14)
    n = 3
    theta = NORMAL.rvs(N, rng=rng)
    ybar = rng.normal(theta, NORMAL.sigma / np.sqrt(n))
    pred = NORMAL.predictive(n)
    x = np.array([-5.0, 0.0, 2.0, 7.0])
    check_proportions(ybar, x, np.asarray(pred.cdf(x)), "normal predictive cdf")


# ------------------------------------------------------------------------ differences
DIFF_PAIRS = {
    "beta": (BetaMixture([0.8, 0.2], [11, 1], [4, 1]), BETA, [-0.2, 0.1, 0.3]),
    "gamma": (GAMMA, GammaMixture([0.75, 0.25], [256, 20.25], [32, 2.25]), [-4.0, -2.0, 0.0]),
    "normal": (NORMAL, NormalMixture([0.6, 0.4], [0.0, 3.0], [1.0, 1.0]), [-2.0, 0.0, 3.0]),
}


@pytest.mark.slow
@pytest.mark.parametrize("family", list(DIFF_PAIRS))
def test_prob_difference_against_simulated_differences(family: str) -> None:
    d1, d2, q = DIFF_PAIRS[family]
    rng = np.random.default_rng(21)
    diff = d1.rvs(N, rng=rng) - d2.rvs(N, rng=rng)
    q = np.asarray(q)
    check_proportions(diff, q, np.asarray(prob_difference(d1, d2, q)), f"{family} difference")


@pytest.mark.slow
@pytest.mark.parametrize(("family", "p"), [("beta", [0.8]), ("normal", [0.1, 0.5, 0.9])])
def test_quantile_difference_against_simulated_differences(family: str, p: list[float]) -> None:
    # one beta quantile only: each costs ~2 s of quadrature inside a root search
    d1, d2, _ = DIFF_PAIRS[family]
    rng = np.random.default_rng(22)
    diff = d1.rvs(N, rng=rng) - d2.rvs(N, rng=rng)
    p = np.asarray(p)
    x = np.asarray(quantile_difference(d1, d2, p))
    check_proportions(diff, x, p, f"{family} difference quantiles")


# ------------------------------------------------------------------------ posterior
def importance_check(prior: Any, post: Any, loglik: Any, seed: int, what: str) -> None:
    """Posterior mean and cdf against self-normalised importance sampling from the prior."""
    theta = prior.rvs(N, rng=seed)
    lw = loglik(theta)
    w = np.exp(lw - lw.max())
    w /= w.sum()
    assert 1 / np.sum(w**2) > 2_000, "too few effective draws for a meaningful check"

    def weighted(h: np.ndarray, exact: float) -> tuple[float, float]:
        est = float(np.sum(w * h))
        # delta-method standard error of a ratio estimator
        return est, float(np.sqrt(np.sum(w**2 * (h - exact) ** 2)))

    est, se = weighted(theta, post.mean())
    assert_within(est, post.mean(), se, f"{what} posterior mean")
    for x in np.asarray(post.ppf([0.1, 0.5, 0.9])):
        p = float(post.cdf(x))
        est, se = weighted((theta <= x).astype(float), p)
        assert_within(est, p, se, f"{what} posterior cdf at {x:.4g}")


def test_beta_posterior_against_importance_sampling() -> None:
    r, n = 9, 20
    importance_check(
        BETA,
        BETA.posterior(r=r, n=n),
        lambda t: r * np.log(t) + (n - r) * np.log1p(-t),
        31,
        "beta",
    )


def test_normal_posterior_against_importance_sampling() -> None:
    y, se = 3.0, 1.2
    importance_check(
        NORMAL,
        NORMAL.posterior(mean=y, se=se),
        lambda t: -0.5 * ((y - t) / se) ** 2,
        32,
        "normal",
    )


@pytest.mark.parametrize("prior", [GAMMA, GAMMA_EXP], ids=["poisson", "exp"])
def test_gamma_posterior_against_importance_sampling(prior: GammaMixture) -> None:
    if prior.likelihood == "poisson":
        total, n = 21, 4.0

        def loglik(t: np.ndarray) -> np.ndarray:
            return total * np.log(t) - n * t
    else:
        total, n = 2.5, 5

        def loglik(t: np.ndarray) -> np.ndarray:
            return n * np.log(t) - t * total

    importance_check(prior, prior.posterior(total=total, n=n), loglik, 33, prior.likelihood)


def test_posterior_batch_against_importance_sampling() -> None:
    """Every member of a vectorised update against importance sampling."""
    rs, n = np.array([0, 5, 14]), 15
    batch = BETA.posterior_batch(rs, n)
    for i, r in enumerate(rs):
        importance_check(
            BETA,
            batch[i],
            lambda t, r=r: r * np.log(t) + (n - r) * np.log1p(-t),
            40 + i,
            f"beta batch r={r}",
        )


# ------------------------------------------------------------------------ reproducibility
@pytest.mark.parametrize("dist", [*PRIORS.values(), BETA.predictive(10), GAMMA.predictive(2.0)])
def test_rvs_reproducible_and_never_global(dist: Any) -> None:
    state = np.random.get_state()[1].copy()  # noqa: NPY002 - checking it is left alone
    a = dist.rvs(50, rng=5)
    b = dist.rvs(50, rng=np.random.default_rng(5))
    c = dist.rvs(50, rng=np.random.SeedSequence(5))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, dist.rvs(50, rng=6))
    assert dist.rvs((3, 4), rng=1).shape == (3, 4)
    assert dist.rvs(5).shape == (5,)  # rng=None: fresh entropy
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002
