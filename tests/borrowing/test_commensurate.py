"""Tests for the commensurate prior (``rdstats.borrowing._commensurate``).

Independent reference values are in ``tests/reference/borrowing_power.json`` (written by
``tests/reference/scripts/borrowing_power_reference.py``): binomial data with a
half-normal tau prior by nested QUADPACK integration after integrating tau out
analytically (Bessel-K0 kernel), normal data by closed forms given tau and ``quad`` over
tau. The PyMC cross-check is marked slow.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from rdstats import ConvergenceWarning
from rdstats.borrowing import _hyperpriors as hp
from rdstats.borrowing._borrowed import mixture_ess
from rdstats.borrowing._commensurate import CommensurateResult, commensurate_prior
from rdstats.borrowing._commensurate_mcmc import _check_convergence, _seed
from rdstats.borrowing._precision_priors import GammaPrecision, SpikeSlabPrecision
from rdstats.borrowing._quadrature import QuadratureDistribution
from rdstats.borrowing._samples import SampleDistribution
from rdstats.priors import NormalMixture

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "borrowing_power.json"
CASES = [
    c for c in json.loads(REFERENCE.read_text())["cases"] if c["kind"].startswith("commensurate")
]
HIST_B = {"r": [12], "n": [40]}
HIST_N = {"mean": [1.2], "n": [40]}


def tau_from(spec: dict[str, Any]) -> hp.TauPrior:
    kw = dict(spec)
    name = kw.pop("type")
    cls = {"GammaPrecision": GammaPrecision, "SpikeSlabPrecision": SpikeSlabPrecision}.get(name)
    out: hp.TauPrior = (cls or getattr(hp, name))(**kw)
    return out


# -- reference values -------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_reference(case: dict[str, Any]) -> None:
    inp, exp, tol = case["inputs"], case["expected"], case["tolerance"]["abs"]
    init = None if inp["initial"] is None else tuple(inp["initial"])
    if case["kind"] == "commensurate_binomial":
        res = commensurate_prior(
            inp["historical"], inp["current"], "binomial", tau_from(inp["tau_prior"]), initial=init
        )
        got = {
            "posterior_mean_p": res.posterior.mean(),
            "posterior_sf_x": res.prob_above(inp["x"]),
            "tau_mean": res.tau.mean(),
            "prior_mean_p": res.prior.mean(),
        }
    else:
        res = commensurate_prior(
            inp["historical"],
            inp["current"],
            "normal",
            tau_from(inp["tau_prior"]),
            sigma=inp["sigma"],
            initial=init,
        )
        got = {
            "posterior_mean": res.posterior.mean(),
            "posterior_sf_x": res.prob_above(inp["x"]),
            "tau_mean": res.tau.mean(),
        }
    for key, want in exp.items():
        assert abs(got[key] - want) <= tol, (key, got[key], want)


# -- limits with closed forms ------------------------------------------------------------------
def test_normal_tau_zero_is_full_pooling() -> None:
    res = commensurate_prior(HIST_N, {"mean": 0.5, "n": 20}, "normal", hp.Fixed(0.0), sigma=2.0)
    assert isinstance(res.posterior, NormalMixture)
    assert res.posterior.mean() == pytest.approx((40 * 1.2 + 20 * 0.5) / 60, rel=1e-12)
    assert res.posterior.sd() == pytest.approx(2 / math.sqrt(60), rel=1e-12)
    assert res.ess_prior == pytest.approx(40, rel=1e-12)
    assert res.borrowed == pytest.approx(40, rel=1e-10)
    assert res.ess_posterior == pytest.approx(60, rel=1e-10)
    assert res.tau.mean() == 0.0


def test_normal_fixed_tau_closed_form() -> None:
    tau, se0, se = 0.4, 2 / math.sqrt(40), 2 / math.sqrt(20)
    res = commensurate_prior(HIST_N, {"mean": 0.5, "n": 20}, "normal", hp.Fixed(tau), sigma=2.0)
    v = se0**2 + tau**2
    assert res.prior.sd() == pytest.approx(math.sqrt(v), rel=1e-12)
    assert res.posterior.mean() == pytest.approx((1.2 / v + 0.5 / se**2) / (1 / v + 1 / se**2))
    assert res.ess_prior == pytest.approx(4 / v, rel=1e-12)
    assert res.borrowed == pytest.approx(4 / v, rel=1e-10)


def test_normal_prior_variance_half_normal() -> None:
    res = commensurate_prior(
        HIST_N, {"mean": 0.5, "n": 20}, "normal", hp.HalfNormal(0.3), sigma=2.0
    )
    # prior of theta: N(y0, se0^2 + tau^2) mixed over tau, so Var = se0^2 + E[tau^2]
    assert res.prior.var() == pytest.approx(0.1 + 0.09, rel=1e-9)
    assert res.prior.mean() == pytest.approx(1.2, rel=1e-12)


def test_normal_huge_tau_is_no_borrowing() -> None:
    res = commensurate_prior(HIST_N, {"mean": 0.5, "n": 20}, "normal", hp.Fixed(1e4), sigma=2.0)
    assert res.posterior.mean() == pytest.approx(0.5, abs=1e-8)
    assert abs(res.borrowed) < 1e-7


def test_binomial_tau_zero_is_beta_pooling() -> None:
    res = commensurate_prior(HIST_B, {"r": 9, "n": 20}, "binomial", hp.Fixed(0.0))
    pooled = stats.beta(21, 39)  # flat prior on the logit: Beta(r0 + r, n0 - r0 + n - r)
    assert res.posterior.mean() == pytest.approx(pooled.mean(), abs=1e-10)
    assert res.posterior.sd() == pytest.approx(pooled.std(), abs=1e-10)
    assert res.prob_above(0.4) == pytest.approx(pooled.sf(0.4), abs=1e-10)
    assert float(res.posterior.ppf(0.9)) == pytest.approx(pooled.ppf(0.9), abs=1e-9)
    assert res.prior.mean() == pytest.approx(12 / 40, abs=1e-10)
    # logit-scale ELIR of logit-Beta(r0, n0 - r0) is n0 exactly, and so is the borrowing
    assert res.ess_prior == pytest.approx(40, rel=1e-8)
    assert res.borrowed == pytest.approx(40, rel=1e-8)


def test_spike_only_equals_fixed() -> None:
    spike = SpikeSlabPrecision(spike=25.0, lower=0.5, upper=10.0, p_spike=1.0)
    a = commensurate_prior(HIST_B, {"r": 9, "n": 20}, "binomial", spike)
    b = commensurate_prior(HIST_B, {"r": 9, "n": 20}, "binomial", hp.Fixed(0.2))
    assert a.posterior.mean() == pytest.approx(b.posterior.mean(), abs=1e-12)
    assert a.prob_above(0.3) == pytest.approx(b.prob_above(0.3), abs=1e-12)


def test_binomial_fixed_tau_brute_force() -> None:
    tau, r0, n0, r, n = 0.6, 12, 40, 3, 20

    def q(t: float) -> float:
        return math.exp(r0 * t - n0 * np.logaddexp(0, t) - special.betaln(r0, n0 - r0))

    def g(th: float) -> float:
        return integrate.quad(
            lambda t: q(t) * stats.norm.pdf(th, t, tau), th - 12 * tau, th + 12 * tau, epsrel=1e-12
        )[0]

    def f(th: float) -> float:
        return math.exp(r * th - n * np.logaddexp(0, th)) * g(th)

    z = integrate.quad(f, -15, 10, epsrel=1e-11, limit=200)[0]
    mean = integrate.quad(lambda t: special.expit(t) * f(t), -15, 10, epsrel=1e-11)[0] / z
    res = commensurate_prior(HIST_B, {"r": r, "n": n}, "binomial", hp.Fixed(tau))
    assert res.posterior.mean() == pytest.approx(mean, abs=1e-8)


# -- ESS -------------------------------------------------------------------------------------------
def _fd_elir(dist: QuadratureDistribution, fisher: Any, lo: float, hi: float) -> float:
    """ELIR by finite differences of the log density on a grid (logit scale)."""
    x = np.linspace(lo, hi, 40001)
    logp = np.log(np.maximum(np.asarray(dist.pdf(x)), 1e-300))
    curv = np.gradient(np.gradient(logp, x), x)
    return float(integrate.trapezoid(np.exp(logp) * -curv / fisher(x), x))


def test_binomial_elir_matches_finite_differences() -> None:
    res = commensurate_prior(HIST_B, {"r": 9, "n": 20}, "binomial", hp.HalfNormal(0.3))
    fisher = special.expit

    def pq(x: Any) -> Any:
        return fisher(x) * fisher(-x)

    assert res.ess_prior == pytest.approx(_fd_elir(res.prior_logit, pq, -8, 6), rel=1e-4)
    post = res.posterior_logit
    want = _fd_elir(post, pq, -7, 5) - 20  # the posterior's ELIR includes the current n
    assert res.borrowed == pytest.approx(want, rel=1e-3)


def test_normal_elir_matches_priors_ess_and_moment() -> None:
    res = commensurate_prior(
        HIST_N, {"mean": 0.5, "n": 20}, "normal", hp.HalfNormal(0.3), sigma=2.0
    )
    assert res.ess_prior == pytest.approx(mixture_ess(res.prior, "elir"), rel=1e-12)
    x = np.linspace(-2, 4, 40001)
    logp = np.asarray(res.prior.logpdf(x))
    curv = np.gradient(np.gradient(logp, x), x)
    fd = integrate.trapezoid(np.exp(logp) * -curv * 4.0, x)
    assert res.ess_prior == pytest.approx(fd, rel=1e-5)
    mom = commensurate_prior(
        HIST_N, {"mean": 0.5, "n": 20}, "normal", hp.HalfNormal(0.3), sigma=2.0, ess_method="moment"
    )
    assert mom.ess_prior == pytest.approx(4 / res.prior.var(), rel=1e-12)


def test_binomial_moment_ess() -> None:
    res = commensurate_prior(
        HIST_B, {"r": 9, "n": 20}, "binomial", hp.HalfNormal(0.3), ess_method="moment"
    )
    m, v = res.prior.mean(), res.prior.var()
    assert res.ess_prior == pytest.approx(m * (1 - m) / v - 1, rel=1e-12)
    m, v = res.posterior.mean(), res.posterior.var()
    assert res.borrowed == pytest.approx(m * (1 - m) / v - 1 - 20, rel=1e-12)


def test_heavy_tails_give_infinite_elir_with_warning() -> None:
    res = commensurate_prior(HIST_B, {"r": 9, "n": 20}, "binomial", hp.HalfCauchy(1.0))
    with pytest.warns(UserWarning, match="infinite"):
        assert math.isinf(res.ess_prior)
    assert math.isfinite(res.borrowed)  # the current likelihood tames the tails


# -- result surface --------------------------------------------------------------------------------
def test_result_surface() -> None:
    res = commensurate_prior(
        HIST_B, {"r": 9, "n": 20}, "binomial", hp.HalfNormal(0.3), threshold=0.25
    )
    assert isinstance(res, CommensurateResult)
    tab = res.summary()
    assert list(tab.index) == [
        "response rate (prior)",
        "response rate (posterior)",
        "logit response rate (posterior)",
        "tau (posterior)",
        "P(response rate > 0.25)",
        "prior ESS",
        "posterior ESS",
        "n current",
        "effective borrowed",
    ]
    assert tab.loc["P(response rate > 0.25)", "estimate"] == pytest.approx(res.prob_above(0.25))
    json.dumps(res.to_dict())
    assert "<table" in res._repr_html_()
    # the logit-scale prior is a proper density
    dens = integrate.quad(lambda t: float(res.prior_logit.pdf(t)), -20, 20, limit=200)[0]
    assert dens == pytest.approx(1.0, abs=1e-8)
    for q in (0.05, 0.5, 0.95):
        assert float(res.tau.cdf(res.tau.ppf(q))) == pytest.approx(q, abs=1e-8)
    assert res.provenance["arguments"]["family"] == "binomial"
    normal = commensurate_prior(HIST_N, {"mean": 0.5, "se": 0.4}, "normal", 0.5, sigma=2.0)
    assert normal.prior_logit is None and normal.posterior_logit is None
    assert normal.n_current == pytest.approx(25.0)  # (sigma / se)^2
    assert "mean (posterior)" in normal.summary().index


def test_precision_priors() -> None:
    gp = GammaPrecision(2.0, 0.5)
    mass = integrate.quad(lambda t: math.exp(gp.logpdf(t)), 0, np.inf)[0]
    assert mass == pytest.approx(1.0, abs=1e-10)
    assert float(gp.cdf(0.7)) == pytest.approx(
        integrate.quad(lambda t: math.exp(gp.logpdf(t)), 0, 0.7)[0], abs=1e-10
    )
    assert float(gp.cdf(gp.ppf(0.3))) == pytest.approx(0.3, abs=1e-12)
    mean = integrate.quad(lambda t: t * math.exp(gp.logpdf(t)), 0, np.inf)[0]
    assert gp.mean() == pytest.approx(mean, rel=1e-9)
    ss = SpikeSlabPrecision(spike=200.0, lower=0.5, upper=20.0, p_spike=0.3)
    lo, hi = 20.0**-0.5, 0.5**-0.5
    slab = integrate.quad(lambda t: math.exp(ss.logpdf(t)), lo, hi)[0]
    assert slab == pytest.approx(0.7, abs=1e-10)
    assert float(ss.cdf(hi + 1)) == pytest.approx(1.0)
    mean = 0.3 * 200**-0.5 + integrate.quad(lambda t: t * math.exp(ss.logpdf(t)), lo, hi)[0]
    assert ss.mean() == pytest.approx(mean, rel=1e-9)
    draws = ss.rvs(20000, np.random.default_rng(1))
    assert np.mean(draws) == pytest.approx(ss.mean(), rel=0.02)


def test_sample_distribution() -> None:
    d = SampleDistribution(np.arange(1, 101, dtype=float), "x")
    assert d.mean() == 50.5 and float(d.cdf(50)) == 0.5 and float(d.sf(50)) == 0.5
    assert d.interval(0.9)[0] == pytest.approx(np.quantile(np.arange(1, 101), 0.05))
    json.dumps(d.to_dict())


# -- MCMC ---------------------------------------------------------------------------------------
def test_convergence_warning_from_diagnostics() -> None:
    import arviz as az

    rng = np.random.default_rng(0)
    stuck = {
        "theta0": rng.normal(size=(4, 100)) + np.arange(4)[:, None],
        "z": rng.normal(size=(4, 100)),
    }
    with pytest.warns(ConvergenceWarning, match="R-hat"):
        _check_convergence(az.from_dict(posterior=stuck), ["theta0", "z"])
    good = {"theta0": rng.normal(size=(4, 1000)), "z": rng.normal(size=(4, 1000))}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _check_convergence(az.from_dict(posterior=good), ["theta0", "z"])


def test_seed_records() -> None:
    _, rec = _seed(None)
    assert "entropy" in rec
    assert _seed(5)[1] == 5
    assert "spawn_key" in _seed(np.random.SeedSequence(3))[1]
    with pytest.raises(TypeError, match="rng"):
        _seed("seed")


@pytest.mark.slow
def test_binomial_exact_agrees_with_pymc() -> None:
    import arviz as az

    exact = commensurate_prior(HIST_B, {"r": 9, "n": 20}, "binomial", hp.HalfNormal(0.5))
    mc = commensurate_prior(
        HIST_B,
        {"r": 9, "n": 20},
        "binomial",
        hp.HalfNormal(0.5),
        method="mcmc",
        rng=20240611,
        draws=1000,
        tune=1000,
        chains=4,
    )
    assert mc.method == "mcmc" and mc.idata is not None
    assert mc.provenance["seed"] == 20240611
    theta = mc.idata.posterior["theta"].values
    tau = mc.idata.posterior["tau"].values
    p = special.expit(theta)
    for draws, want in (
        (p, exact.posterior.mean()),
        ((p > 0.3).astype(float), exact.prob_above(0.3)),
        (tau, exact.tau.mean()),
    ):
        mcse = float(np.asarray(az.mcse(draws)).ravel()[0])
        assert abs(float(np.mean(draws)) - want) < 4 * mcse, (np.mean(draws), want, mcse)
    assert mc.posterior.sd() == pytest.approx(exact.posterior.sd(), rel=0.08)
    assert mc.ess_prior == pytest.approx(exact.ess_prior, rel=1e-10)  # the prior is exact
    assert mc.borrowed == pytest.approx(exact.borrowed, rel=0.1)  # Monte Carlo estimate
    assert isinstance(mc.summary().loc["tau (posterior)", "estimate"], float)


# -- properties ---------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(
    y0=st.floats(-3, 3),
    y=st.floats(-3, 3),
    n0=st.integers(1, 200),
    n=st.integers(1, 100),
    scale=st.floats(0.01, 5.0),
)
def test_normal_posterior_between_and_borrowing_bounded(
    y0: float, y: float, n0: int, n: int, scale: float
) -> None:
    res = commensurate_prior(
        {"mean": [y0], "n": [n0]}, {"mean": y, "n": n}, "normal", hp.HalfNormal(scale), sigma=1.0
    )
    assert min(y0, y) - 1e-9 <= res.posterior.mean() <= max(y0, y) + 1e-9
    assert res.borrowed <= n0 + 1e-6
    assert res.ess_prior <= n0 + 1e-6


@settings(max_examples=20, deadline=None)
@given(
    y0=st.floats(-2, 2),
    y=st.floats(-2, 2),
    taus=st.lists(st.floats(0.0, 3.0), min_size=2, max_size=5, unique=True),
)
def test_borrowing_decreases_with_tau(y0: float, y: float, taus: list[float]) -> None:
    out = [
        commensurate_prior(
            {"mean": [y0], "n": [40]}, {"mean": y, "n": 20}, "normal", hp.Fixed(t), sigma=1.0
        )
        for t in sorted(taus)
    ]
    assert np.all(np.diff([r.borrowed for r in out]) <= 1e-9)
    assert np.all(np.diff([r.posterior.sd() for r in out]) >= -1e-12)
    assert np.all(np.diff([abs(r.posterior.mean() - y) for r in out]) <= 1e-12)


# -- bad input -----------------------------------------------------------------------------------
CUR = {"r": 9, "n": 20}


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"family": "poisson"}, ValueError, "family must be"),
        ({"method": "laplace"}, ValueError, "method must be"),
        ({"ess_method": "morita"}, ValueError, "morita"),
        ({"ess_method": "fisher"}, ValueError, "ess_method"),
        ({"sigma": 1.0}, ValueError, "sigma applies"),
        ({"tau_prior": "wide"}, TypeError, "tau_prior must be"),
        ({"historical": {"r": [0], "n": [40]}}, ValueError, "0 < r0 < n0"),
        ({"historical": {"r": [41], "n": [40]}}, ValueError, "r=41 exceeds n=40"),
        ({"historical": {"r": [1], "n": [0]}}, ValueError, "exceeds|n must be"),
        ({"historical": [12, 40]}, TypeError, "mapping"),
        ({"historical": {"r": [12], "n": [40], "se": [1]}}, ValueError, "unknown"),
        ({"current": {"r": [1, 2], "n": [5, 5]}}, TypeError, "scalars"),
        ({"current": {"r": 3}}, ValueError, "needs 'n'"),
        ({"current": {"r": float("nan"), "n": 5}}, ValueError, "NaN"),
        ({"threshold": 1.5}, ValueError, "threshold"),
        ({"draws": 0}, ValueError, "draws"),
        ({"chains": 2.5}, ValueError, "chains"),
        ({"initial": "flat"}, TypeError, "initial must be"),
        ({"initial": (0.0, -1.0)}, ValueError, "initial sd"),
        ({"initial": NormalMixture([0.5, 0.5], [0, 1], [1, 1])}, ValueError, "single normal"),
        (
            {"tau_prior": SpikeSlabPrecision(), "method": "mcmc"},
            NotImplementedError,
            "SpikeSlabPrecision",
        ),
    ],
)
def test_bad_input(kwargs: dict[str, Any], exc: type[Exception], match: str) -> None:
    args: dict[str, Any] = {
        "historical": HIST_B,
        "current": CUR,
        "family": "binomial",
        "tau_prior": hp.HalfNormal(0.5),
    }
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        commensurate_prior(**args)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"sigma": None}, ValueError, "needs sigma"),
        ({"sigma": -1.0}, ValueError, "sigma must be strictly positive"),
        ({"historical": {"mean": [1.0], "se": [-0.2]}}, ValueError, "se must be strictly"),
        ({"historical": {"mean": [1.0], "n": [0]}}, ValueError, "n must be >= 1"),
        ({"historical": {"mean": [1.0]}}, ValueError, "exactly one of 'se' or 'n'"),
        ({"current": {"mean": 1.0, "n": 3, "se": 1.0}}, ValueError, "exactly one"),
        ({"current": {"mean": float("nan"), "n": 3}}, ValueError, "NaN"),
    ],
)
def test_bad_input_normal(kwargs: dict[str, Any], exc: type[Exception], match: str) -> None:
    args: dict[str, Any] = {
        "historical": HIST_N,
        "current": {"mean": 0.5, "n": 20},
        "family": "normal",
        "tau_prior": hp.HalfNormal(0.5),
        "sigma": 2.0,
    }
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        commensurate_prior(**args)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: GammaPrecision(shape=-1.0), "shape must be > 0"),
        (lambda: GammaPrecision(rate=float("nan")), "NaN"),
        (lambda: SpikeSlabPrecision(lower=3.0, upper=2.0), "must exceed"),
        (lambda: SpikeSlabPrecision(p_spike=1.5), "p_spike"),
        (lambda: SpikeSlabPrecision(spike=0.0), "spike must be > 0"),
    ],
)
def test_bad_precision_priors(make: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()
