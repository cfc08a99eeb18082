"""Tests for ``prior_data_conflict`` and ``robust_weight``: closed forms from scipy's
beta-binomial, normal and negative-binomial distributions, monotonicity in the conflict,
bad input."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import special, stats

from rdstats.borrowing import ConflictCheck, prior_data_conflict, robust_weight
from rdstats.priors import BetaMixture, GammaMixture, NormalMixture, robustify

# the AS MAP prior of the RBesT vignette, robustified (weight 0.2, mean 0.5)
MAP_BETA = BetaMixture([0.6167, 0.3833], [19.19, 3.528], [57.78, 9.374])
ROBUST_BETA = robustify(MAP_BETA, 0.2, 0.5)
NORMAL = NormalMixture([0.8, 0.2], [-50.0, -50.0], [10.0, 88.0], sigma=88.0)
GAMMA = GammaMixture([0.7, 0.3], [30.0, 1.0], [250.0, 8.0])
PROPS = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


# -- closed forms ------------------------------------------------------------------------------
def beta_closed_form(prior: BetaMixture, r: int, n: int) -> dict[str, Any]:
    w = np.asarray(prior.weights)
    a, b = np.asarray(prior.a), np.asarray(prior.b)
    pmf = stats.betabinom.pmf(r, n, a, b)
    post = w * pmf / np.sum(w * pmf)
    return {
        "p_lower": float(w @ stats.betabinom.cdf(r, n, a, b)),
        "p_upper": float(w @ stats.betabinom.sf(r - 1, n, a, b)),
        "posterior_weights": post,
    }


def normal_closed_form(prior: NormalMixture, mean: float, n: int) -> dict[str, Any]:
    w = np.asarray(prior.weights)
    m, s = np.asarray(prior.mean), np.asarray(prior.sd)
    assert prior.sigma is not None
    pred_sd = np.sqrt(s**2 + prior.sigma**2 / n)
    dens = stats.norm.pdf(mean, m, pred_sd)
    lower = float(w @ stats.norm.cdf(mean, m, pred_sd))
    return {"p_lower": lower, "p_upper": 1 - lower, "posterior_weights": w * dens / (w @ dens)}


def gamma_closed_form(prior: GammaMixture, events: int, exposure: float) -> dict[str, Any]:
    """Negative-binomial predictive: NB(shape, rate / (rate + exposure)) per component."""
    w = np.asarray(prior.weights)
    a, b = np.asarray(prior.shape), np.asarray(prior.rate)
    p = b / (b + exposure)
    pmf = stats.nbinom.pmf(events, a, p)
    return {
        "p_lower": float(w @ stats.nbinom.cdf(events, a, p)),
        "p_upper": float(w @ stats.nbinom.sf(events - 1, a, p)),
        "posterior_weights": w * pmf / (w @ pmf),
    }


def check(got: ConflictCheck, ref: dict[str, Any], statistic: float) -> None:
    assert got.statistic == statistic
    assert got.p_lower == pytest.approx(ref["p_lower"], abs=1e-12)
    assert got.p_upper == pytest.approx(ref["p_upper"], abs=1e-12)
    assert got.p_value == pytest.approx(
        min(1.0, 2 * min(ref["p_lower"], ref["p_upper"])), abs=1e-12
    )
    np.testing.assert_allclose(
        got.posterior_weights, ref["posterior_weights"], rtol=1e-10, atol=1e-15
    )
    assert got.conflict == (got.p_value < 0.05)


@pytest.mark.parametrize("r", [0, 1, 5, 9, 15, 20])
def test_beta_prior_matches_beta_binomial(r: int) -> None:
    got = prior_data_conflict(ROBUST_BETA, r=r, n=20)
    check(got, beta_closed_form(ROBUST_BETA, r, 20), float(r))
    assert got.prior_weights == pytest.approx(tuple(ROBUST_BETA.weights), abs=1e-15)


def test_docstring_example_and_published_direction() -> None:
    """15 of 20 against a MAP prior centred near 0.26: p = 0.117 and the robust component
    takes 92% of the posterior weight (Schmidli et al. 2014: the robust component gains
    weight under conflict)."""
    prior = robustify(BetaMixture([0.6, 0.4], [19.2, 3.5], [57.8, 9.4]), 0.2, 0.5)
    got = prior_data_conflict(prior, r=15, n=20)
    assert round(got.p_value, 3) == 0.117
    assert round(got.posterior_weights[-1], 2) == 0.92
    assert not got.conflict


@pytest.mark.parametrize(("mean", "n"), [(-50.0, 10), (-20.0, 30), (30.0, 5), (-140.0, 50)])
def test_normal_prior_matches_normal_predictive(mean: float, n: int) -> None:
    got = prior_data_conflict(NORMAL, mean=mean, n=n)
    check(got, normal_closed_form(NORMAL, mean, n), mean)
    assert got.p_lower + got.p_upper == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize(("events", "exposure"), [(0, 10.0), (3, 25.0), (12, 100.0), (40, 80.0)])
def test_gamma_prior_matches_negative_binomial(events: int, exposure: float) -> None:
    got = prior_data_conflict(GAMMA, events=events, exposure=exposure)
    check(got, gamma_closed_form(GAMMA, events, exposure), float(events))


def test_discrete_tails_overlap_by_the_point_probability() -> None:
    for r in range(21):
        got = prior_data_conflict(ROBUST_BETA, r=r, n=20)
        pmf = float(ROBUST_BETA.weights @ stats.betabinom.pmf(r, 20, ROBUST_BETA.a, ROBUST_BETA.b))
        assert got.p_lower + got.p_upper == pytest.approx(1 + pmf, abs=1e-12)
    assert prior_data_conflict(ROBUST_BETA, r=0, n=20).p_upper == 1.0
    assert prior_data_conflict(GAMMA, events=0, exposure=5.0).p_upper == 1.0


def test_robust_weight_is_the_last_posterior_weight() -> None:
    for r in (0, 5, 12, 20):
        check_ = prior_data_conflict(ROBUST_BETA, r=r, n=20)
        assert robust_weight(ROBUST_BETA, r=r, n=20) == pytest.approx(check_.posterior_weights[-1])
        assert robust_weight(ROBUST_BETA, component=0, r=r, n=20) == pytest.approx(
            check_.posterior_weights[0]
        )
    ref = normal_closed_form(NORMAL, -10.0, 20)["posterior_weights"][-1]
    assert robust_weight(NORMAL, mean=-10.0, n=20) == pytest.approx(ref, rel=1e-10)
    ref = gamma_closed_form(GAMMA, 30, 60.0)["posterior_weights"][-1]
    assert robust_weight(GAMMA, total=30, n=60.0) == pytest.approx(ref, rel=1e-10)


def test_summary_and_to_dict() -> None:
    got = prior_data_conflict(ROBUST_BETA, r=15, n=20)
    table = got.summary()
    assert table.columns.tolist() == [
        "statistic", "p_lower", "p_upper", "p_value", "robust_weight_prior",
        "robust_weight_posterior",
    ]  # fmt: skip
    assert table.loc[0, "robust_weight_prior"] == pytest.approx(0.2)
    assert table.loc[0, "robust_weight_posterior"] == got.posterior_weights[-1]
    doc = got.to_dict()
    assert json.loads(json.dumps(doc))["p_value"] == got.p_value


# -- monotonicity in the conflict -----------------------------------------------------------
def test_beta_robust_weight_grows_with_distance_from_the_predictive_mode() -> None:
    """Robust Be(1, 1) against Be(a, b) with a, b >= 1: the Bayes factor is
    uniform / beta-binomial, and the beta-binomial is unimodal, so the robust weight falls
    to the predictive mode and rises after it; the two-sided p-value does the reverse."""
    prior = robustify(BetaMixture(1.0, 12.0, 28.0), 0.2, 0.5)
    n = 40
    w = np.array([robust_weight(prior, r=r, n=n) for r in range(n + 1)])
    p = np.array([prior_data_conflict(prior, r=r, n=n).p_value for r in range(n + 1)])
    mode = int(np.argmax(stats.betabinom.pmf(np.arange(n + 1), n, 12.0, 28.0)))
    assert np.all(np.diff(w[: mode + 1]) < 0) and np.all(np.diff(w[mode:]) > 0)
    assert np.all(np.diff(p[: mode + 1]) >= -1e-15) and np.all(np.diff(p[mode + 1 :]) <= 1e-15)
    assert w.min() < 0.2 < w.max()


@PROPS
@given(
    a=st.floats(1.0, 60.0), b=st.floats(1.0, 60.0), weight=st.floats(0.05, 0.95),
    n=st.integers(1, 60),
)  # fmt: skip
def test_beta_robust_weight_is_unimodal_in_r(a: float, b: float, weight: float, n: int) -> None:
    prior = robustify(BetaMixture(1.0, a, b), weight, 0.5)
    w = np.array([robust_weight(prior, r=r, n=n) for r in range(n + 1)])
    lo = int(np.argmin(w))
    assert np.all(np.diff(w[: lo + 1]) <= 1e-12) and np.all(np.diff(w[lo:]) >= -1e-12)
    assert np.all((w >= 0) & (w <= 1))  # (can round to 1 in far conflict)


@PROPS
@given(
    m=st.floats(-5, 5), s=st.floats(0.05, 2.0), sigma=st.floats(0.5, 5.0),
    weight=st.floats(0.05, 0.95), n=st.integers(1, 100), d1=st.floats(0, 6), d2=st.floats(0, 6),
)  # fmt: skip
def test_normal_robust_weight_grows_with_the_distance(
    m: float, s: float, sigma: float, weight: float, n: int, d1: float, d2: float
) -> None:
    """Robust N(m, sigma) and informative N(m, s) with s < sigma share the centre: the Bayes
    factor grows with |mean - m|, and so do the robust weight and the conflict."""
    s = min(s, 0.9 * sigma)
    prior = robustify(NormalMixture(1.0, m, s, sigma=sigma), weight)
    near, far = sorted((d1, d2))
    if far - near < 1e-6:
        return
    se = sigma / math.sqrt(n)
    w_near = robust_weight(prior, mean=m + near * se, n=n)
    w_far = robust_weight(prior, mean=m - far * se, n=n)  # either side: symmetric
    assert w_far > w_near
    p_near = prior_data_conflict(prior, mean=m + near * se, n=n).p_value
    p_far = prior_data_conflict(prior, mean=m - far * se, n=n).p_value
    assert p_far < p_near + 1e-12


def test_gamma_robust_weight_rises_in_both_tails() -> None:
    prior = robustify(GammaMixture(1.0, 40.0, 400.0), 0.2)  # rate 0.1, robust: 1 unit
    exposure = 100.0
    w = np.array([robust_weight(prior, total=k, n=exposure) for k in range(0, 60)])
    lo = int(np.argmin(w))
    assert 5 <= lo <= 15  # near the expected 10 events
    assert np.all(np.diff(w[: lo + 1]) < 0) and np.all(np.diff(w[lo:]) > 0)


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("prior", "data", "error", "match"),
    [
        (ROBUST_BETA, {"r": 25, "n": 20}, ValueError, r"r=25 exceeds n=20"),
        (ROBUST_BETA, {"r": -1, "n": 20}, ValueError, r"r must be >= 0, got -1"),
        (ROBUST_BETA, {"r": 2.5, "n": 20}, ValueError, r"r must be integer-valued .* 2.5"),
        (ROBUST_BETA, {"r": 2}, ValueError, r"beta prior needs the new data as r= and n="),
        (ROBUST_BETA, {"mean": 2.0, "n": 20}, ValueError, r"r= and n="),
        (NORMAL, {"mean": 1.0}, ValueError, r"normal prior needs the new data as mean= and n="),
        (NORMAL, {"mean": math.nan, "n": 10}, ValueError, r"mean must not contain NaN"),
        (NORMAL, {"mean": 1.0, "n": 10.5}, ValueError, r"n must be integer-valued .* 10.5"),
        (
            NormalMixture(1.0, 0.0, 1.0),
            {"mean": 1.0, "n": 10},
            ValueError,
            r"needs the reference scale: construct the NormalMixture with sigma=",
        ),
        (GAMMA, {"events": 3}, ValueError, r"gamma prior needs the new data as events= and expos"),
        (GAMMA, {"events": -3, "exposure": 10.0}, ValueError, r"total must be >= 0, got -3"),
        (GAMMA, {"events": 3.5, "exposure": 10.0}, ValueError, r"integer-valued .* 3.5"),
        ("Be(1, 1)", {"r": 1, "n": 2}, TypeError, r"prior must be a BetaMixture.*got str"),
    ],
)  # fmt: skip
def test_bad_input(prior: Any, data: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        prior_data_conflict(prior, **data)


def test_robust_weight_bad_input() -> None:
    with pytest.raises(TypeError, match="'events'"):
        robust_weight(ROBUST_BETA, events=3, n=20)
    with pytest.raises(TypeError, match="give both r and n"):
        robust_weight(ROBUST_BETA)
    with pytest.raises(ValueError, match=r"r=30 exceeds n=20"):
        robust_weight(ROBUST_BETA, r=30, n=20)


def test_robust_weight_names_a_bad_component() -> None:
    """(Raised numpy's bare IndexError before 2808367.) Negative indices count from the end."""
    with pytest.raises(ValueError, match=r"component=5 is out of range for a 3-component"):
        robust_weight(ROBUST_BETA, component=5, r=3, n=20)
    with pytest.raises(ValueError, match=r"component=-4"):
        robust_weight(ROBUST_BETA, component=-4, r=3, n=20)
    with pytest.raises(TypeError, match=r"component must be an integer .* 2.5"):
        robust_weight(ROBUST_BETA, component=2.5, r=3, n=20)  # type: ignore[arg-type]
    assert robust_weight(ROBUST_BETA, component=-3, r=3, n=20) == robust_weight(
        ROBUST_BETA, component=0, r=3, n=20
    )


def test_exponential_gamma_prior_is_not_taken_for_a_poisson_prior() -> None:
    """A GammaMixture with likelihood='exp' was treated as a Poisson prior before 2808367
    (events=20, exposure=100 at the prior mean rate gave p = 8.1e-11 and robust weight 1)."""
    prior = GammaMixture([0.8, 0.2], [20.0, 1.0], [100.0, 5.0], likelihood="exp")
    with pytest.raises(ValueError, match="likelihood='exp'"):
        prior_data_conflict(prior, events=20, exposure=100.0)


def test_helper_closed_forms_are_self_consistent() -> None:
    """The scipy references above agree with direct sums of the pmf (guards the helpers)."""
    a, b, n, r = 3.0, 7.0, 15, 6
    pmf = [math.exp(special.betaln(a + k, b + n - k) - special.betaln(a, b)) * math.comb(n, k)
           for k in range(n + 1)]  # fmt: skip
    ref = beta_closed_form(BetaMixture(1.0, a, b), r, n)
    assert ref["p_lower"] == pytest.approx(sum(pmf[: r + 1]), abs=1e-13)
    assert ref["p_upper"] == pytest.approx(sum(pmf[r:]), abs=1e-13)


def test_robust_weight_takes_the_data_as_prior_data_conflict_does() -> None:
    """events=/exposure= as in prior_data_conflict (and total=/n= as in posterior)."""
    rates = robustify(GammaMixture(1.0, 20.0, 100.0), 0.2)
    check = prior_data_conflict(rates, events=60, exposure=100.0)
    w = robust_weight(rates, events=60, exposure=100.0)
    assert w == pytest.approx(check.posterior_weights[-1], abs=1e-14)
    assert robust_weight(rates, total=60, n=100.0) == pytest.approx(w, abs=1e-14)
    with pytest.raises(ValueError, match="events= and exposure= or as total= and n="):
        robust_weight(rates, events=60, n=100.0)
