"""Tests for the power priors (``rdstats.borrowing._power``) and the effective number of
borrowed patients (``rdstats.borrowing._borrowed``).

Independent reference values (normalised power prior by QUADPACK over a0 with closed
forms in theta; empirical-Bayes a0 by grid maximisation) are in
``tests/reference/borrowing_power.json``, written by
``tests/reference/scripts/borrowing_power_reference.py``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

import rdstats.priors as rp
from rdstats.borrowing._borrowed import EffectiveBorrowed, effective_borrowed, mixture_ess
from rdstats.borrowing._power import PowerPosterior, PowerPrior, power_prior
from rdstats.borrowing._power_normalized import (
    NormalizedPowerPrior,
    eb_power_prior,
    normalized_power_prior,
)
from rdstats.borrowing._quadrature import QuadratureDistribution, adaptive_rule
from rdstats.priors import BetaMixture, GammaMixture, NormalMixture, ess

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "borrowing_power.json"
CASES = [c for c in json.loads(REFERENCE.read_text())["cases"] if c["kind"] in ("npp", "eb")]
UNIFORM = BetaMixture(1.0, 1, 1)
HIST = {"r": [12], "n": [40]}


def build(spec: dict[str, Any]) -> Any:
    kw = dict(spec)
    cls = getattr(rp, kw.pop("class"))
    return cls(**kw)


def close(got: float, want: float, tol: dict[str, float]) -> bool:
    return abs(got - want) <= tol.get("abs", 0.0) + tol.get("rel", 0.0) * abs(want)


# -- reference values -----------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:ELIR is undefined")
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_reference(case: dict[str, Any]) -> None:
    inp, exp, tol = case["inputs"], case["expected"], case["tolerance"]
    initial = build(inp["initial"])
    if case["kind"] == "npp":
        npp = normalized_power_prior(initial, inp["historical"], tuple(inp["a0_prior"]))
        post = npp.posterior(**inp["current"])
        assert post.a0_posterior is not None
        got = {
            "posterior_mean": post.posterior.mean(),
            "posterior_sf_x": post.prob_above(inp["x"]),
            "a0_mean": post.a0_posterior.mean(),
            "a0_sf_half": post.a0_posterior.sf(0.5),
            "log_marginal": post.log_marginal,
        }
    else:
        got = {"a0": float(eb_power_prior(initial, inp["historical"], inp["current"]).a0[0])}
    for key, want in exp.items():
        assert close(float(got[key]), want, tol), (key, got[key], want)


# -- closed forms: fixed a0 ---------------------------------------------------------------
def test_beta_power_prior_parameters_exact() -> None:
    pp = power_prior(UNIFORM, {"r": [12, 5], "n": [40, 10]}, a0=[0.5, 0.2])
    assert pp.prior.a[0] == pytest.approx(1 + 0.5 * 12 + 0.2 * 5, abs=1e-14)
    assert pp.prior.b[0] == pytest.approx(1 + 0.5 * 28 + 0.2 * 5, abs=1e-14)
    # ELIR of Be(a, b) with a, b > 1 is a + b
    assert pp.ess == pytest.approx(pp.prior.a[0] + pp.prior.b[0], abs=1e-12)


@pytest.mark.parametrize(
    ("initial", "hist", "pooled"),
    [
        (
            BetaMixture([0.3, 0.7], [1, 4], [1, 6]),
            {"r": [12, 5], "n": [40, 10]},
            {"r": 17, "n": 50},
        ),
        (
            NormalMixture([0.4, 0.6], [0.0, 1.0], [3.0, 0.5], sigma=2.0),
            {"mean": [1.2, 0.4], "n": [40, 10]},
            {"mean": (1.2 * 40 + 0.4 * 10) / 50, "n": 50},
        ),
        (
            GammaMixture([0.5, 0.5], [2.0, 8.0], [1.0, 2.0]),
            {"total": [14, 6], "n": [7.0, 5.0]},
            {"total": 20, "n": 12.0},
        ),
        (
            GammaMixture([0.5, 0.5], [2.0, 8.0], [1.0, 2.0], likelihood="exp"),
            {"total": [14.5, 6.25], "n": [7, 5]},
            {"total": 20.75, "n": 12},
        ),
    ],
)
def test_a0_one_is_full_pooling_and_a0_zero_is_initial(
    initial: Any, hist: dict[str, Any], pooled: dict[str, Any]
) -> None:
    full = power_prior(initial, hist, 1.0).prior
    want = initial.posterior(**pooled)
    np.testing.assert_allclose(full.weights, want.weights, rtol=1e-12)
    for got_p, want_p in zip(full._params(), want._params(), strict=True):
        np.testing.assert_allclose(got_p, want_p, rtol=1e-12)
    none = power_prior(initial, hist, 0.0).prior
    np.testing.assert_allclose(none.weights, initial.weights, rtol=1e-14)
    for got_p, want_p in zip(none._params(), initial._params(), strict=True):
        np.testing.assert_allclose(got_p, want_p, rtol=1e-14)


def test_mixture_reweighting_matches_numerical_normalisation() -> None:
    """The power-prior density equals L^a0 pi0 normalised by brute-force quadrature."""
    initial = BetaMixture([0.6, 0.4], [2, 10], [8, 3])
    a0, r0, n0 = 0.35, 14, 30
    pp = power_prior(initial, {"r": [r0], "n": [n0]}, a0).prior

    def kernel(p: float) -> float:
        return float(initial.pdf(p)) * (p**r0 * (1 - p) ** (n0 - r0)) ** a0

    z = integrate.quad(kernel, 0, 1, epsabs=0, epsrel=1e-13)[0]
    for x in (0.1, 0.33, 0.5, 0.8):
        assert float(pp.pdf(x)) == pytest.approx(kernel(x) / z, rel=1e-10)
    w = np.array([0.6, 0.4]) * np.exp(
        special.betaln(initial.a + a0 * r0, initial.b + a0 * (n0 - r0))
        - special.betaln(initial.a, initial.b)
    )
    np.testing.assert_allclose(pp.weights, w / w.sum(), rtol=1e-12)


def test_normal_power_prior_closed_form_and_ess() -> None:
    sigma, s0, a0 = 2.0, 5.0, [0.5, 0.25]
    initial = NormalMixture(1.0, 0.0, s0, sigma=sigma)
    pp = power_prior(initial, {"mean": [1.0, 2.0], "n": [40, 20]}, a0)
    prec = 1 / s0**2 + (0.5 * 40 + 0.25 * 20) / sigma**2
    mean = (0.5 * 40 * 1.0 + 0.25 * 20 * 2.0) / sigma**2 / prec
    assert pp.prior.mean() == pytest.approx(mean, rel=1e-12)
    assert pp.prior.sd() == pytest.approx(prec**-0.5, rel=1e-12)
    assert pp.ess == pytest.approx(sigma**2 / s0**2 + 0.5 * 40 + 0.25 * 20, rel=1e-12)
    np.testing.assert_array_equal(pp.n0, [40.0, 20.0])
    post = pp.posterior(mean=0.3, n=25)
    assert post.borrowed == pytest.approx(pp.ess, rel=1e-10)  # conjugate: data-independent
    assert post.n_current == 25


def test_posterior_of_fixed_power_prior_is_conjugate_update() -> None:
    pp = power_prior(UNIFORM, HIST, 0.5)
    post = pp.posterior(r=9, n=20)
    assert isinstance(post, PowerPosterior)
    assert post.posterior.a[0] == 16 and post.posterior.b[0] == 26
    assert post.borrowed == pytest.approx(22.0, abs=1e-9)
    assert post.ess_prior == pytest.approx(22.0, abs=1e-12)
    want = stats.betabinom.logpmf(9, 20, 7, 15)
    assert post.log_marginal == pytest.approx(want, rel=1e-12)


# -- normalised power prior --------------------------------------------------------------------
def test_npp_prior_mean_and_a0_prior() -> None:
    npp = normalized_power_prior(UNIFORM, HIST, (2.0, 3.0))
    assert isinstance(npp, NormalizedPowerPrior)
    want = integrate.quad(
        lambda a: stats.beta.pdf(a, 2, 3) * (1 + 12 * a) / (2 + 40 * a), 0, 1, epsrel=1e-13
    )[0]
    assert npp.prior.mean() == pytest.approx(want, abs=1e-10)
    # the a0 marginal of a normalised power prior is its prior
    assert npp.a0.mean() == pytest.approx(0.4, abs=1e-10)
    assert npp.a0.cdf(0.3) == pytest.approx(stats.beta.cdf(0.3, 2, 3), abs=1e-9)
    assert float(npp.a0.ppf(0.7)) == pytest.approx(stats.beta.ppf(0.7, 2, 3), abs=1e-8)


def test_npp_a0_distribution_quantiles_invert_cdf() -> None:
    post = normalized_power_prior(UNIFORM, {"r": [10], "n": [200]}).posterior(r=60, n=80)
    a0 = post.a0_posterior
    assert isinstance(a0, QuadratureDistribution)
    for q in (0.01, 0.25, 0.5, 0.9, 0.999):
        x = float(a0.ppf(q))
        assert float(a0.cdf(x)) == pytest.approx(q, abs=1e-9)
    lo, hi = a0.interval(0.9)
    assert 0 < lo < hi < 0.05  # strong conflict: a0 piles up near 0
    assert float(a0.sf(0.5)) < 1e-10
    assert a0.pdf(0.5) >= 0 and float(a0.pdf(2.0)) == 0.0


def test_npp_summary_dict_html() -> None:
    npp = normalized_power_prior(UNIFORM, HIST)
    tab = npp.summary()
    assert list(tab.index) == ["initial prior", "normalised power prior", "a0 (prior)"]
    assert "<table" in npp._repr_html_()
    json.dumps(npp.to_dict())
    post = npp.posterior(r=9, n=20)
    tab = post.summary()
    assert "a0 (posterior)" in tab.index and "effective borrowed" in tab.index
    assert tab.loc["effective borrowed", "estimate"] == pytest.approx(post.borrowed)
    json.dumps(post.to_dict())
    assert "<table" in post._repr_html_()


def test_npp_gamma_with_shape_below_one_falls_back_to_moment_ess() -> None:
    initial = GammaMixture(1.0, 0.5, 0.1)
    with pytest.warns(UserWarning, match="ELIR is undefined"):
        npp = normalized_power_prior(initial, {"total": [40], "n": [20.0]})
    assert npp.ess_method == "moment"
    assert npp.ess == pytest.approx(ess(npp.prior, "moment"), rel=1e-12)


# -- empirical Bayes ---------------------------------------------------------------------------
def test_eb_matches_fixed_power_prior_at_estimate() -> None:
    res = eb_power_prior(UNIFORM, HIST, {"r": 9, "n": 20})
    assert res.method == "empirical_bayes"
    fixed = power_prior(UNIFORM, HIST, float(res.a0[0])).posterior(r=9, n=20)
    assert res.posterior.mean() == pytest.approx(fixed.posterior.mean(), rel=1e-12)
    assert res.log_marginal == pytest.approx(fixed.log_marginal, rel=1e-12)


def test_eb_boundaries() -> None:
    assert float(eb_power_prior(UNIFORM, HIST, {"r": 15, "n": 20}).a0[0]) == 0.0
    assert float(eb_power_prior(UNIFORM, HIST, {"r": 6, "n": 20}).a0[0]) == 1.0


# -- ESS ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "dist",
    [
        BetaMixture([0.5, 0.3, 0.2], [3, 20, 1.5], [5, 8, 1.2]),
        BetaMixture([0.8, 0.2], [11, 1.5], [31, 1.5]),
        NormalMixture([0.3, 0.7], [0, 1], [1, 0.3], sigma=2),
        NormalMixture([0.5, 0.5], [0, 0], [0.2, 3], sigma=1),
        GammaMixture([0.4, 0.6], [2, 30], [1, 10]),
        GammaMixture([0.4, 0.6], [2, 30], [1, 10], likelihood="exp"),
    ],
)
def test_fast_elir_equals_priors_ess(dist: rp.Mixture) -> None:
    assert mixture_ess(dist, "elir") == pytest.approx(ess(dist, "elir"), rel=1e-8)
    assert mixture_ess(dist, "moment") == pytest.approx(ess(dist, "moment"), rel=1e-12)


def test_effective_borrowed() -> None:
    prior = BetaMixture([0.8, 0.2], a=[11, 1], b=[31, 1])
    agree = effective_borrowed(prior, prior.posterior(r=7, n=25), n_current=25)
    conflict = effective_borrowed(prior, prior.posterior(r=18, n=25), n_current=25)
    assert isinstance(agree, EffectiveBorrowed)
    assert agree.borrowed == pytest.approx(ess(prior.posterior(r=7, n=25)) - 25, rel=1e-7)
    assert float(agree) == agree.borrowed
    assert conflict.borrowed < agree.borrowed  # conflict: little is borrowed
    assert list(agree.summary().columns) == ["prior ESS", "posterior ESS", "n current", "borrowed"]
    json.dumps(agree.to_dict())
    assert "<table" in agree._repr_html_()


# -- adaptive quadrature -------------------------------------------------------------------------
def test_adaptive_rule_integrates_and_interpolates() -> None:
    rule = adaptive_rule(lambda x: stats.norm.logpdf(x, 0.3, 0.05), [-1.0, 0.0, 1.0])
    assert float(np.sum(rule.weights * np.exp(rule.logvals[..., 0]))) == pytest.approx(1, abs=1e-12)
    dist = QuadratureDistribution(rule, name="x")
    assert dist.mean() == pytest.approx(0.3, abs=1e-12)
    assert float(dist.cdf(0.33)) == pytest.approx(stats.norm.cdf(0.33, 0.3, 0.05), abs=1e-10)
    assert float(dist.ppf(0.9)) == pytest.approx(stats.norm.ppf(0.9, 0.3, 0.05), abs=1e-9)
    assert float(dist.pdf(0.31)) == pytest.approx(stats.norm.pdf(0.31, 0.3, 0.05), rel=1e-8)


# -- properties ---------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hist=st.integers(min_value=2, max_value=80).flatmap(
        lambda n: st.tuples(st.integers(1, n - 1), st.just(n))
    ),
    cur=st.integers(min_value=2, max_value=40).flatmap(
        lambda n: st.tuples(st.integers(1, n - 1), st.just(n))
    ),
    a0=st.floats(min_value=0.0, max_value=1.0),
)
def test_borrowed_between_zero_and_n0(
    hist: tuple[int, int], cur: tuple[int, int], a0: float
) -> None:
    (r0, n0), (r, n) = hist, cur
    fixed = power_prior(UNIFORM, {"r": [r0], "n": [n0]}, a0).posterior(r=r, n=n)
    # Be(1,1) adds 2 (the ELIR of any Be(a, b) with a, b > 1 is a + b)
    assert fixed.borrowed == pytest.approx(2 + a0 * n0, abs=1e-8)
    npp = normalized_power_prior(UNIFORM, {"r": [r0], "n": [n0]}).posterior(r=r, n=n)
    assert npp.a0_posterior is not None
    # never more than the historical patients plus the uniform's 2; under conflict the
    # spread over a0 may cost information (negative values, see the test below)
    assert -n <= npp.borrowed <= 2 + n0 + 1e-6
    assert 0 <= npp.a0_posterior.mean() <= 1


def test_npp_conflict_can_cost_information() -> None:
    """Historical 15/38 against current 1/39: the a0 posterior has a tail, the posterior is
    wider than with the uniform alone, and the ESS (ELIR, checked against
    rdstats.priors.ess) falls below the current sample size."""
    npp = normalized_power_prior(UNIFORM, {"r": [15], "n": [38]}).posterior(r=1, n=39)
    # ELIR by brute force: finite-difference curvature of log p on a grid graded in logit
    x = special.expit(np.linspace(-14, 6, 40001))
    logp = np.asarray(npp.posterior.logpdf(x))
    curv = np.gradient(np.gradient(logp, x), x)
    elir = integrate.trapezoid(np.exp(logp) * -curv * x * (1 - x), x)
    assert npp.borrowed == pytest.approx(elir - 39, abs=2e-3)
    assert npp.borrowed < -5
    assert npp.posterior.sd() > BetaMixture(1.0, 2, 39).sd()


@settings(max_examples=25, deadline=None)
@given(
    y0=st.floats(-3, 3),
    y=st.floats(-3, 3),
    n0=st.integers(1, 100),
    n=st.integers(1, 100),
    a0=st.floats(0.0, 1.0),
)
def test_normal_posterior_mean_between_current_and_historical(
    y0: float, y: float, n0: int, n: int, a0: float
) -> None:
    initial = NormalMixture(1.0, 0.0, 1e4, sigma=1.0)  # essentially flat
    lo, hi = min(y0, y) - 1e-6, max(y0, y) + 1e-6
    fixed = power_prior(initial, {"mean": [y0], "n": [n0]}, a0).posterior(mean=y, n=n)
    assert lo <= fixed.posterior.mean() <= hi
    eb = eb_power_prior(initial, {"mean": [y0], "n": [n0]}, {"mean": y, "n": n})
    assert lo <= eb.posterior.mean() <= hi


@settings(max_examples=10, deadline=None)
@given(y0=st.floats(-2, 2), y=st.floats(-2, 2), n0=st.integers(2, 80), n=st.integers(2, 40))
def test_npp_normal_posterior_mean_between(y0: float, y: float, n0: int, n: int) -> None:
    initial = NormalMixture(1.0, 0.0, 1e3, sigma=1.0)
    post = normalized_power_prior(initial, {"mean": [y0], "n": [n0]}).posterior(mean=y, n=n)
    assert min(y0, y) - 1e-6 <= post.posterior.mean() <= max(y0, y) + 1e-6


@settings(max_examples=20, deadline=None)
@given(
    y0=st.floats(-2, 2),
    y=st.floats(-2, 2),
    n0=st.integers(1, 80),
    grid=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=6, unique=True),
)
def test_borrowing_monotone_in_a0(y0: float, y: float, n0: int, grid: list[float]) -> None:
    initial = NormalMixture(1.0, 0.0, 10.0, sigma=1.0)
    a0s = sorted(grid)
    posts = [
        power_prior(initial, {"mean": [y0], "n": [n0]}, a).posterior(mean=y, n=20) for a in a0s
    ]
    ess_prior = [p.ess_prior for p in posts]
    sds = [p.posterior.sd() for p in posts]
    dist = [abs(p.posterior.mean() - y0) for p in posts]
    assert np.all(np.diff(ess_prior) >= -1e-9)
    assert np.all(np.diff(sds) <= 1e-12)
    assert np.all(np.diff(dist) <= 1e-9)  # the posterior moves towards the historical mean
    beta = [power_prior(UNIFORM, HIST, a).ess for a in a0s]
    assert np.all(np.diff(beta) >= -1e-9)


# -- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("a0", [-0.1, 1.5, [0.5, 2.0]])
def test_a0_outside_unit_interval(a0: Any) -> None:
    with pytest.raises(ValueError, match=r"a0 must be in \[0, 1\]"):
        power_prior(UNIFORM, {"r": [3, 4], "n": [10, 10]}, a0)


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: power_prior(UNIFORM, HIST, float("nan")), ValueError, "a0 must not contain NaN"),
        (lambda: power_prior(UNIFORM, HIST, [0.1, 0.2, 0.3]), ValueError, "one value per"),
        (
            lambda: power_prior(UNIFORM, {"r": [12], "n": [10]}, 0.5),
            ValueError,
            "r=12 exceeds n=10",
        ),
        (lambda: power_prior(UNIFORM, {"r": [0], "n": [0]}, 0.5), ValueError, "n must be >= 1"),
        (lambda: power_prior(UNIFORM, {"r": [1.5], "n": [10]}, 0.5), ValueError, "integer"),
        (lambda: power_prior(UNIFORM, {"r": [3]}, 0.5), ValueError, "needs 'r' and 'n'"),
        (lambda: power_prior(UNIFORM, {"r": [3], "n": [9], "x": 1}, 0.5), ValueError, "unknown"),
        (lambda: power_prior(UNIFORM, [3, 9], 0.5), TypeError, "mapping"),  # type: ignore[arg-type]
        (lambda: power_prior("beta", HIST, 0.5), TypeError, "initial must be"),  # type: ignore[type-var]
        (
            lambda: power_prior(NormalMixture(1.0, 0, 1), {"mean": [1], "n": [3]}, 0.5),
            ValueError,
            "sigma",
        ),
        (
            lambda: power_prior(NormalMixture(1.0, 0, 1, sigma=1), {"mean": [1], "se": [-1]}, 1),
            ValueError,
            "se must be strictly positive",
        ),
        (
            lambda: power_prior(
                NormalMixture(1.0, 0, 1, sigma=1), {"mean": [float("nan")], "n": [3]}, 1
            ),
            ValueError,
            "NaN",
        ),
        (
            lambda: power_prior(NormalMixture(1.0, 0, 1, sigma=1), {"mean": [1], "n": [0]}, 1),
            ValueError,
            "n must be >= 1",
        ),
        (
            lambda: power_prior(GammaMixture(1.0, 1, 1), {"total": [3], "n": [0.0]}, 1),
            ValueError,
            "strictly positive",
        ),
        (lambda: power_prior(UNIFORM, HIST, 0.5).posterior(r=5), ValueError, "needs 'r' and 'n'"),
        (
            lambda: power_prior(UNIFORM, HIST, 0.5).posterior(r=[1, 2], n=[5, 5]),
            TypeError,
            "scalars",
        ),
        (lambda: normalized_power_prior(UNIFORM, HIST, (0.0, 1.0)), ValueError, "a0_prior"),
        (lambda: normalized_power_prior(UNIFORM, HIST, "uniform"), TypeError, "a0_prior"),  # type: ignore[arg-type]
        (lambda: eb_power_prior(UNIFORM, HIST, {"r": 25, "n": 20}), ValueError, "exceeds"),
        (lambda: mixture_ess(UNIFORM, "fisher"), ValueError, "ess_method"),  # type: ignore[arg-type]
        (lambda: effective_borrowed(UNIFORM, "x", 3), TypeError, "posterior must be"),  # type: ignore[arg-type]
        (
            lambda: effective_borrowed(UNIFORM, NormalMixture(1.0, 0, 1, sigma=1), 3),
            TypeError,
            "same family",
        ),
        (lambda: effective_borrowed(UNIFORM, UNIFORM, -1), ValueError, "n_current"),
    ],
)
def test_bad_input(call: Any, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        call()


def test_returns_types() -> None:
    assert isinstance(power_prior(UNIFORM, HIST, 0.5), PowerPrior)
    pp = power_prior(UNIFORM, HIST, 0.5)
    assert list(pp.summary().index) == ["initial prior", "power prior"]
    json.dumps(pp.to_dict())
    assert "<table" in pp._repr_html_()


# -- bugs found elsewhere -------------------------------------------------------------------------
def test_priors_ess_binomial_family_wide_normal_component() -> None:
    val = ess(NormalMixture(1.0, 0.0, 3.0), family="binomial")
    assert math.isfinite(val)
    assert val == pytest.approx((2 + 2 * math.exp(4.5)) / 9, rel=1e-6)


def test_priors_ess_beta_component_just_above_one() -> None:
    assert ess(BetaMixture(1.0, 1 + 1e-6, 5.0)) == pytest.approx(6.000001, rel=1e-6)
