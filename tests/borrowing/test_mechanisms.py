"""Borrowing mechanisms of the hybrid-control design: fixed (mixture) priors, MAP priors,
priors on the logit scale and the empirical-Bayes power prior."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from rdstats.borrowing import (
    Borrowing,
    ControlPosteriors,
    EmpiricalBayesPowerBorrowing,
    HalfNormal,
    HybridControlDesign,
    LogitDensityBorrowing,
    MAPResult,
    PriorBorrowing,
    map_prior,
    no_borrowing,
)
from rdstats.designs import DecisionRule
from rdstats.priors import BetaMixture, GammaMixture, NormalMixture, robustify
from rdstats.simulate import ScenarioGrid, operating_characteristics

SCRIPT = Path(__file__).resolve().parents[1] / "reference" / "scripts" / "hybrid_reference.py"
AS = pd.DataFrame(
    {
        "study": range(1, 9),
        "n": [107, 44, 51, 39, 139, 20, 78, 35],
        "r": [23, 12, 19, 9, 39, 6, 9, 10],
    }
)
EDGES = np.linspace(0.0, 1.0, 4001)


def reference_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hybrid_reference", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def logit_beta(a: float, b: float) -> Any:
    """Log density (up to a constant) of logit(p) for p ~ Be(a, b)."""

    def log_density(theta: np.ndarray) -> np.ndarray:
        return np.asarray(a * special.log_expit(theta) + b * special.log_expit(-theta))

    return log_density


@pytest.fixture(scope="module")
def as_map() -> MAPResult:
    return map_prior(AS, "binomial", tau_prior=HalfNormal(1.0))


# -- fixed priors -------------------------------------------------------------------------------
def test_prior_borrowing_posteriors_are_conjugate() -> None:
    prior = BetaMixture([0.3, 0.7], [2.0, 12.0], [5.0, 30.0])
    n_c = 9
    post = PriorBorrowing(prior, "p").control_posteriors(n_c, EDGES)
    assert isinstance(post, ControlPosteriors)
    assert post.cdf.shape == (n_c + 1, EDGES.size)
    for y in range(n_c + 1):
        a, b = np.array([2.0, 12.0]) + y, np.array([5.0, 30.0]) + n_c - y
        lw = np.log([0.3, 0.7]) + special.betaln(a, b) - special.betaln(a - y, b - n_c + y)
        w = np.exp(lw - special.logsumexp(lw))
        comps = [stats.beta(ai, bi) for ai, bi in zip(a, b, strict=True)]
        mean = sum(wi * c.mean() for wi, c in zip(w, comps, strict=True))
        second = sum(wi * (c.var() + c.mean() ** 2) for wi, c in zip(w, comps, strict=True))
        cdf = sum(wi * c.cdf(EDGES) for wi, c in zip(w, comps, strict=True))
        assert post.mean[y] == pytest.approx(mean, abs=1e-13)
        assert post.var[y] == pytest.approx(second - mean**2, rel=1e-10)
        np.testing.assert_allclose(post.cdf[y], cdf, rtol=0, atol=1e-13)


@pytest.mark.parametrize(("a", "b", "n_c"), [(4.0, 16.0, 20), (1.0, 1.0, 6), (30.0, 10.0, 12)])
def test_single_beta_prior_borrows_its_own_ess(a: float, b: float, n_c: int) -> None:
    post = PriorBorrowing(BetaMixture(1, a, b), "p").control_posteriors(n_c, EDGES)
    np.testing.assert_allclose(post.ess - n_c, a + b, rtol=1e-10)


def test_no_borrowing() -> None:
    nb = no_borrowing()
    assert isinstance(nb, PriorBorrowing) and isinstance(nb, Borrowing)
    assert nb.prior == BetaMixture(1.0, 1.0, 1.0)
    assert nb.label == "no borrowing"
    jeffreys = no_borrowing(BetaMixture(1, 0.5, 0.5))
    assert jeffreys.prior == BetaMixture(1, 0.5, 0.5)
    assert HybridControlDesign(10, 4, jeffreys).borrowed().to_numpy() == pytest.approx(1.0)
    assert nb.to_dict() == {
        "type": "PriorBorrowing",
        "label": "no borrowing",
        "prior": BetaMixture(1.0, 1.0, 1.0).to_dict(),
    }


def test_prior_borrowing_from_map(as_map: MAPResult) -> None:
    mix = as_map.to_mixture()
    assert isinstance(mix, BetaMixture)
    plain = PriorBorrowing.from_map(as_map)
    assert plain.prior == mix
    assert plain.label == "MAP"
    robust = PriorBorrowing.from_map(as_map, robust_weight=0.2)
    assert robust.prior == robustify(mix, 0.2, 0.5)
    assert robust.label == "robust MAP (w = 0.2)"
    shifted = PriorBorrowing.from_map(as_map, robust_weight=0.1, robust_mean=0.3, label="r")
    assert shifted.prior == robustify(mix, 0.1, 0.3)
    assert shifted.label == "r"
    two = PriorBorrowing.from_map(as_map, robust_weight=0.2, n_components=2)
    assert two.prior.n_components == 3
    # a weight of zero means no robust component
    assert PriorBorrowing.from_map(as_map, robust_weight=0).prior == mix


def test_from_map_rejects_negative_robust_weight(as_map: MAPResult) -> None:
    with pytest.raises(ValueError, match="weight"):
        PriorBorrowing.from_map(as_map, robust_weight=-0.1)


@pytest.mark.parametrize("weight", [1.0, 1.5])
def test_from_map_rejects_robust_weight_of_one_or_more(as_map: MAPResult, weight: float) -> None:
    with pytest.raises(ValueError, match="weight"):
        PriorBorrowing.from_map(as_map, robust_weight=weight)


@pytest.mark.parametrize(
    "prior", [NormalMixture(1, 0.0, 1.0, sigma=1.0), GammaMixture(1, 2.0, 3.0), "Be(1, 1)"]
)
def test_prior_borrowing_needs_a_beta_mixture(prior: Any) -> None:
    with pytest.raises(TypeError, match="prior"):
        PriorBorrowing(prior, "x")


# -- priors on the logit scale ---------------------------------------------------------------------
@pytest.mark.parametrize(("a", "b"), [(4.0, 16.0), (2.5, 7.0), (12.0, 5.0)])
def test_logit_density_reproduces_beta_prior(a: float, b: float) -> None:
    n_c = 12
    logit = LogitDensityBorrowing(logit_beta(a, b), "logit Be")
    beta = PriorBorrowing(BetaMixture(1, a, b), "Be")
    pl, pb = logit.control_posteriors(n_c, EDGES), beta.control_posteriors(n_c, EDGES)
    np.testing.assert_allclose(pl.cdf, pb.cdf, rtol=0, atol=1e-5)
    np.testing.assert_allclose(pl.mean, pb.mean, rtol=0, atol=1e-5)
    np.testing.assert_allclose(pl.ess, pb.ess, rtol=1e-3)
    rule = DecisionRule([0.95, 0.5], [0.0, 0.1])
    dl = HybridControlDesign(24, n_c, logit, rule=rule)
    db = HybridControlDesign(24, n_c, beta, rule=rule)
    np.testing.assert_array_equal(dl.decision_matrix().to_numpy(), db.decision_matrix().to_numpy())
    grid = ScenarioGrid.cartesian(theta_t=[0.2, 0.5], theta_c=[0.2, 0.35])
    el = operating_characteristics(dl, grid, method="exact").summary(wide=True)
    eb = operating_characteristics(db, grid, method="exact").summary(wide=True)
    for metric in ("p_success", "estimate_mean", "control_error"):
        np.testing.assert_allclose(el[metric], eb[metric], rtol=0, atol=1e-5)


def test_logit_map_close_to_its_mixture_approximation(as_map: MAPResult) -> None:
    exact = HybridControlDesign(24, 6, LogitDensityBorrowing.from_map(as_map))
    approx = HybridControlDesign(24, 6, PriorBorrowing.from_map(as_map))
    assert exact.borrowing.label == "MAP (exact)"
    tt, tc = [0.2, 0.3, 0.45, 0.6], [0.15, 0.25, 0.35, 0.5]
    oe, oa = exact.oc(theta_t=tt, theta_c=tc), approx.oc(theta_t=tt, theta_c=tc)
    np.testing.assert_allclose(oe["p_success"], oa["p_success"], rtol=0, atol=0.01)
    np.testing.assert_allclose(oe["control_error"], oa["control_error"], rtol=0, atol=0.005)
    # posterior means agree closely unless the data conflict strongly with the MAP prior,
    # where the mixture's approximation of the tail matters (y_c = 6 of 6: 0.549 vs 0.537)
    pe = exact.borrowing.control_posteriors(6, EDGES)
    pa = approx.borrowing.control_posteriors(6, EDGES)
    np.testing.assert_allclose(pe.mean[:5], pa.mean[:5], rtol=0, atol=0.002)
    np.testing.assert_allclose(pe.mean, pa.mean, rtol=0, atol=0.02)
    assert pe.mean[0] == pytest.approx(as_map.mean(), abs=0.1)


def test_logit_density_rejects_non_finite_density() -> None:
    mech = LogitDensityBorrowing(lambda t: np.full_like(t, -np.inf), "nothing")
    with pytest.raises(ValueError, match="not finite"):
        HybridControlDesign(10, 5, mech).decision_matrix()


def test_logit_density_rejects_nan() -> None:
    def log_density(theta: np.ndarray) -> np.ndarray:
        return np.where(theta > 5, np.nan, -0.5 * theta**2)

    with pytest.raises(ValueError):
        HybridControlDesign(10, 5, LogitDensityBorrowing(log_density, "nan")).decision_matrix()


def test_logit_from_map_needs_a_binomial_exact_map() -> None:
    normal = SimpleNamespace(family="normal", _pred=SimpleNamespace())
    with pytest.raises(ValueError, match="binomial"):
        LogitDensityBorrowing.from_map(normal)
    draws = SimpleNamespace(family="binomial", _pred=SimpleNamespace())
    with pytest.raises(ValueError, match="exact"):
        LogitDensityBorrowing.from_map(draws)


# -- empirical-Bayes power prior -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("r0", "n0", "n_c", "initial"),
    [(15, 60, 20, (1.0, 1.0)), (3, 40, 10, (1.0, 1.0)), (20, 25, 8, (0.5, 0.5))],
)
def test_eb_a0_matches_brute_force(
    r0: int, n0: int, n_c: int, initial: tuple[float, float]
) -> None:
    ref = reference_script()
    mech = EmpiricalBayesPowerBorrowing(r0, n0, BetaMixture(1, *initial))
    a0 = mech.a0(n_c)
    brute = [ref.eb_a0(y, n_c, r0, n0, *initial) for y in range(n_c + 1)]
    np.testing.assert_allclose(a0, brute, rtol=0, atol=1e-6)
    assert np.all((a0 >= 0) & (a0 <= 1))
    # the posterior is Be(a + a0 r0 + y, b + a0 (n0 - r0) + n_c - y)
    post = mech.control_posteriors(n_c, EDGES)
    y = np.arange(n_c + 1)
    a = initial[0] + a0 * r0 + y
    b = initial[1] + a0 * (n0 - r0) + n_c - y
    np.testing.assert_allclose(post.mean, a / (a + b), rtol=1e-13)
    np.testing.assert_allclose(post.ess, a + b, rtol=1e-9)
    np.testing.assert_allclose(post.cdf[:, 2000], special.betainc(a, b, 0.5), atol=1e-14)


def test_eb_borrows_fully_under_agreement_and_not_under_conflict() -> None:
    mech = EmpiricalBayesPowerBorrowing(15, 60)  # historical rate 0.25
    a0 = mech.a0(20)
    assert a0[5] == 1.0  # y_c / n_c = 0.25: full borrowing
    assert a0[20] == 0.0 and a0[15] == 0.0  # clear conflict: none
    borrowed = HybridControlDesign(40, 20, mech).borrowed().to_numpy()
    np.testing.assert_allclose(borrowed, 2.0 + 60 * a0, rtol=0, atol=1e-9)


def test_eb_default_initial_is_uniform() -> None:
    a = EmpiricalBayesPowerBorrowing(5, 20).control_posteriors(8, EDGES)
    b = EmpiricalBayesPowerBorrowing(5, 20, BetaMixture(1, 1.0, 1.0)).control_posteriors(8, EDGES)
    np.testing.assert_array_equal(a.cdf, b.cdf)
    np.testing.assert_array_equal(a.mean, b.mean)


@pytest.mark.parametrize(("r0", "n0"), [(21, 20), (-1, 20), (0, 0), (1, -5)])
def test_eb_bad_counts(r0: int, n0: int) -> None:
    with pytest.raises(ValueError, match="r0"):
        EmpiricalBayesPowerBorrowing(r0, n0)


def test_eb_needs_single_component_initial() -> None:
    with pytest.raises(ValueError, match="single"):
        EmpiricalBayesPowerBorrowing(5, 20, BetaMixture([0.5, 0.5], [1.0, 2.0], [1.0, 2.0]))


def test_eb_initial_must_be_beta() -> None:
    with pytest.raises(TypeError, match="initial"):
        EmpiricalBayesPowerBorrowing(5, 20, NormalMixture(1, 0.0, 1.0, sigma=1.0))  # type: ignore[arg-type]


def test_eb_to_dict_records_initial_prior() -> None:
    a = EmpiricalBayesPowerBorrowing(5, 20, BetaMixture(1, 0.5, 0.5)).to_dict()
    b = EmpiricalBayesPowerBorrowing(5, 20).to_dict()
    assert a != b
