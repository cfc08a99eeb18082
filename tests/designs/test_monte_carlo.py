"""Exact design OCs and assurance against brute-force simulation of trials.

Each simulated trial is decided from its own exact posterior by a route independent of
the designs' grid quadrature: ``DecisionRule`` on conjugate posteriors (adaptive quadrature
in ``prob_difference``) for discrete endpoints, cached over the few hundred distinct
outcomes, and a hand-written normal-mixture posterior for normal endpoints.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pytest
from scipy import special, stats

from rdstats.designs import DecisionRule, OneArmDesign, TwoArmDesign
from rdstats.priors import BetaMixture, GammaMixture, NormalMixture

N_SIM = 100_000


def assert_within_mc(simulated: float, exact: float, n: int = N_SIM) -> None:
    """|simulated − exact| within 4 Monte Carlo standard errors (floor at 1/n)."""
    se = np.sqrt(max(exact * (1 - exact), 1.0 / n) / n)
    assert abs(simulated - exact) <= 4 * se, (simulated, exact, se)


# -- independent decisions -------------------------------------------------------------------
_DECIDERS: dict[int, Any] = {}


def discrete_decider(design: OneArmDesign | TwoArmDesign) -> Any:
    """Vectorised decision over simulated counts via cached exact posteriors (the cache is
    shared by all tests of one design)."""
    if id(design) not in _DECIDERS:
        _DECIDERS[id(design)] = _make_decider(design)
    return _DECIDERS[id(design)]


def _make_decider(design: OneArmDesign | TwoArmDesign) -> Any:
    two = isinstance(design, TwoArmDesign)
    prior_1 = design.prior_1 if two else design.prior
    n_1 = design.n_1 if two else design.n

    def post(prior: Any, y: int, n: float) -> Any:
        if isinstance(prior, BetaMixture):
            return prior.posterior(int(y), int(n))
        return prior.posterior(float(y), float(n))

    @cache
    def decide(y1: int, y2: int) -> int:
        p1 = post(prior_1, y1, n_1)
        if not two:
            return design.rule(p1)
        p2 = post(design.prior_2, y2, design.n_2) if design.n_2 > 0 else design.prior_2
        return design.rule(p1, p2)

    def decisions(y1: np.ndarray, y2: np.ndarray) -> np.ndarray:
        pairs, inverse = np.unique(np.stack([y1, y2], axis=1), axis=0, return_inverse=True)
        d = np.array([decide(int(a), int(b)) for a, b in pairs])
        return d[inverse.ravel()]

    return decisions


def normal_mixture_posterior(
    prior: NormalMixture, ybar: np.ndarray, n: float
) -> tuple[np.ndarray, ...]:
    """Weights, means, variances (shape (len(ybar), K)) of the conjugate posterior."""
    w, m, s = (np.asarray(v, float) for v in (prior.weights, prior.mean, prior.sd))
    se2 = prior.sigma**2 / n
    ybar = ybar[:, None]
    prec = 1 / s**2 + 1 / se2
    pm = (m / s**2 + ybar / se2) / prec
    log_ml = stats.norm.logpdf(ybar, m, np.sqrt(s**2 + se2))
    lw = np.log(w) + log_ml
    pw = np.exp(lw - special.logsumexp(lw, axis=1, keepdims=True))
    return pw, pm, np.broadcast_to(1 / prec, pm.shape)


def normal_decisions(design: Any, y1: np.ndarray, y2: np.ndarray | None) -> np.ndarray:
    two = isinstance(design, TwoArmDesign)
    prior_1 = design.prior_1 if two else design.prior
    w1, m1, v1 = normal_mixture_posterior(prior_1, y1, design.n_1 if two else design.n)
    if two and design.n_2 > 0:
        w2, m2, v2 = normal_mixture_posterior(design.prior_2, y2, design.n_2)
    elif two:
        w2, m2, v2 = (
            np.broadcast_to(np.asarray(a, float), (y1.size, design.prior_2.n_components))
            for a in (design.prior_2.weights, design.prior_2.mean, design.prior_2.sd**2)
        )
    else:
        w2, m2, v2 = np.ones((y1.size, 1)), np.zeros((y1.size, 1)), np.zeros((y1.size, 1))
    ok = np.ones(y1.size, dtype=bool)
    rule = design.rule
    for p, t, lt in zip(rule.prob, rule.threshold, rule.lower_tail, strict=True):
        z = (t - (m1[:, :, None] - m2[:, None, :])) / np.sqrt(v1[:, :, None] + v2[:, None, :])
        cdf = np.einsum("ij,ik,ijk->i", w1, w2, special.ndtr(z))
        ok &= (cdf if lt else 1 - cdf) > p
    return ok


# -- simulation of data -------------------------------------------------------------------------
def simulate_counts(endpoint: str, n: float, theta: np.ndarray, rng: np.random.Generator) -> Any:
    if endpoint == "binomial":
        return rng.binomial(int(n), theta)
    return rng.poisson(n * theta)


def simulate_means(prior: NormalMixture, n: float, theta: np.ndarray, rng: Any) -> np.ndarray:
    return theta + prior.sigma / np.sqrt(n) * rng.standard_normal(theta.shape)


def simulated_oc(design: Any, theta_1: float, theta_2: float, rng: np.random.Generator) -> float:
    two = isinstance(design, TwoArmDesign)
    t1 = np.full(N_SIM, theta_1)
    t2 = np.full(N_SIM, theta_2)
    if design.endpoint == "normal":
        prior_1 = design.prior_1 if two else design.prior
        y1 = simulate_means(prior_1, design.n_1 if two else design.n, t1, rng)
        y2 = simulate_means(design.prior_2, design.n_2, t2, rng) if two and design.n_2 else None
        return float(normal_decisions(design, y1, y2).mean())
    y1 = simulate_counts(design.endpoint, design.n_1 if two else design.n, t1, rng)
    if two and design.n_2 > 0:
        y2 = simulate_counts(design.endpoint, design.n_2, t2, rng)
    else:
        y2 = np.zeros(N_SIM, dtype=int)
    return float(discrete_decider(design)(y1, y2).mean())


def simulated_assurance(design: Any, rng: np.random.Generator) -> float:
    two = isinstance(design, TwoArmDesign)
    prior_1 = design.prior_1 if two else design.prior
    t1 = prior_1.rvs(N_SIM, rng=rng)
    t2 = design.prior_2.rvs(N_SIM, rng=rng) if two else np.zeros(N_SIM)
    if design.endpoint == "normal":
        y1 = simulate_means(prior_1, design.n_1 if two else design.n, t1, rng)
        y2 = simulate_means(design.prior_2, design.n_2, t2, rng) if two and design.n_2 else None
        return float(normal_decisions(design, y1, y2).mean())
    y1 = simulate_counts(design.endpoint, design.n_1 if two else design.n, t1, rng)
    if two and design.n_2 > 0:
        y2 = simulate_counts(design.endpoint, design.n_2, t2, rng)
    else:
        y2 = np.zeros(N_SIM, dtype=int)
    return float(discrete_decider(design)(y1, y2).mean())


# -- designs -------------------------------------------------------------------------------------
UPPER = DecisionRule([0.9, 0.5], [0.0, 0.1])
BETA3 = BetaMixture([0.5, 0.3, 0.2], [2, 6, 1], [8, 14, 1])


def _designs() -> dict[str, tuple[Any, list[tuple[float, float]]]]:
    return {
        "binomial one-arm 3-comp": (
            OneArmDesign(BETA3, 24, DecisionRule(0.9, 0.2)),
            [(0.2, 0.0), (0.35, 0.0), (0.45, 0.0)],
        ),
        "binomial two-arm": (
            TwoArmDesign(BetaMixture(1, 1, 1), 14, BETA3, 10, UPPER),
            [(0.3, 0.3), (0.55, 0.25)],
        ),
        "binomial two-arm n_2=0": (
            TwoArmDesign(BETA3, 20, BetaMixture(1, 6, 18), 0, DecisionRule(0.8, 0.0)),
            [(0.3, 0.0), (0.45, 0.0)],
        ),
        "binomial two-arm lower tail": (
            TwoArmDesign(
                BetaMixture(1, 10, 40),
                20,
                BetaMixture(1, 1, 2),
                20,
                DecisionRule(0.9, 0.2, lower_tail=True),
            ),
            [(0.2, 0.2), (0.3, 0.1)],
        ),
        "normal one-arm 2-comp": (
            OneArmDesign(
                NormalMixture([0.7, 0.3], [0.5, 0.0], [0.3, 3.0], sigma=2.0),
                30,
                DecisionRule([0.9, 0.5], [0.0, 0.3]),
            ),
            [(0.2, 0.0), (0.6, 0.0), (1.0, 0.0)],
        ),
        "normal two-arm 2-comp": (
            TwoArmDesign(
                NormalMixture(1, 0.0, 5.0, sigma=1.5),
                25,
                NormalMixture([0.8, 0.2], [0.0, 0.0], [0.2, 2.0], sigma=1.5),
                15,
                DecisionRule(0.95, 0.0),
            ),
            [(0.5, 0.0), (1.0, 0.2)],
        ),
        "poisson one-arm": (
            OneArmDesign(
                GammaMixture([0.6, 0.4], [2, 0.5], [4, 0.5]),
                10.0,
                DecisionRule(0.9, 0.8, lower_tail=True),
            ),
            [(0.3, 0.0), (0.6, 0.0)],
        ),
        "poisson two-arm": (
            TwoArmDesign(
                GammaMixture(1, 1.0, 1.0),
                4.0,
                GammaMixture([0.7, 0.3], [6, 3], [6, 3]),
                3.0,
                DecisionRule(0.9, 0.0, lower_tail=True),
            ),
            [(0.4, 1.0), (0.8, 1.0)],
        ),
    }


DESIGNS = _designs()
FAST = {"binomial one-arm 3-comp", "normal one-arm 2-comp", "normal two-arm 2-comp"}
PARAMS = [pytest.param(name, marks=() if name in FAST else pytest.mark.slow) for name in DESIGNS]


@pytest.mark.parametrize("name", PARAMS)
def test_oc_matches_simulation(name: str) -> None:
    design, points = DESIGNS[name]
    rng = np.random.default_rng(np.random.SeedSequence([20260, len(name)]))
    for theta_1, theta_2 in points:
        if isinstance(design, TwoArmDesign):
            exact = design.oc(theta_1, theta_2 if design.n_2 > 0 else None)
        else:
            exact = design.oc(theta_1)
        assert_within_mc(simulated_oc(design, theta_1, theta_2, rng), float(exact))


@pytest.mark.parametrize("name", PARAMS)
def test_probability_of_success_matches_simulation(name: str) -> None:
    design, _ = DESIGNS[name]
    rng = np.random.default_rng(np.random.SeedSequence([7, len(name)]))
    assert_within_mc(simulated_assurance(design, rng), design.probability_of_success())
