"""Bad input to ``rdstats.priors`` raises ValueError/TypeError naming the argument and value."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from rdstats.priors import (
    BetaMixture,
    GammaMixture,
    NormalMixture,
    ess,
    prob_difference,
    quantile_difference,
    robustify,
)

BETA = BetaMixture([0.4, 0.6], [2, 8], [5, 3])
NORMAL = NormalMixture([0.5, 0.5], [0.0, 2.0], [1.0, 3.0], sigma=4.0)
NORMAL_NO_SIGMA = NormalMixture([0.5, 0.5], [0.0, 2.0], [1.0, 3.0])
GAMMA = GammaMixture([0.3, 0.7], [20, 50], [4, 10])
GAMMA_EXP = GammaMixture([0.3, 0.7], [20, 50], [4, 10], likelihood="exp")


def raises(exc: type[Exception], *fragments: str) -> Any:
    """pytest.raises whose message must contain every fragment (in any order)."""
    pattern = "".join(f"(?=[\\s\\S]*{re.escape(f)})" for f in fragments)
    return pytest.raises(exc, match=pattern)


# ------------------------------------------------------------------------ weights
@pytest.mark.parametrize(
    ("weights", "total"),
    [([0.5, 0.4], "0.9"), ([0.5, 0.5 + 2e-8], "0.50000002"), ([0.7, 0.7], "1.4")],
)
def test_weights_must_sum_to_one(weights: list[float], total: str) -> None:
    with raises(ValueError, "weights", "sum to 1", total):
        BetaMixture(weights, [1, 2], [1, 2])


def test_weights_within_tolerance_are_renormalised() -> None:
    dist = BetaMixture([0.5, 0.5 + 5e-9], [1, 2], [1, 2])
    assert dist.weights.sum() == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize(
    ("weights", "fragments"),
    [
        ([1.2, -0.2], ("weights", "non-negative", "-0.2")),
        ([0.5, np.nan], ("weights", "NaN")),
        ([0.5, np.inf], ("weights", "finite", "inf")),
        ([], ("weights", "non-empty")),
    ],
)
def test_bad_weights(weights: list[float], fragments: tuple[str, ...]) -> None:
    with raises(ValueError, *fragments):
        NormalMixture(weights, [0.0, 1.0][: max(len(weights), 1)], 1.0)


def test_weights_and_components_must_have_the_same_length() -> None:
    with raises(ValueError, "weights", "2", "3"):
        BetaMixture([0.5, 0.5], [1, 2, 3], [1, 2, 3])
    with raises(ValueError, "a", "3", "2"):
        BetaMixture([0.5, 0.5], [1, 2, 3], [1, 2])
    with raises(ValueError, "a", "1-D"):
        BetaMixture(1.0, [[1, 2]], 3)


# ------------------------------------------------------------------------ parameters
@pytest.mark.parametrize(
    ("make", "fragments"),
    [
        (lambda v: BetaMixture(1, v, 2), ("a", "strictly positive")),
        (lambda v: BetaMixture(1, 2, v), ("b", "strictly positive")),
        (lambda v: NormalMixture(1, 0.0, v), ("sd", "strictly positive")),
        (lambda v: NormalMixture(1, 0.0, 1.0, sigma=v), ("sigma", "strictly positive")),
        (lambda v: GammaMixture(1, v, 2), ("shape", "strictly positive")),
        (lambda v: GammaMixture(1, 2, v), ("rate", "strictly positive")),
    ],
    ids=["beta a", "beta b", "normal sd", "normal sigma", "gamma shape", "gamma rate"],
)
@pytest.mark.parametrize("value", [0.0, -1.5])
def test_shape_parameters_must_be_positive(
    make: Callable[[float], Any], fragments: tuple[str, ...], value: float
) -> None:
    with raises(ValueError, *fragments, repr(value)):
        make(value)


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda v: BetaMixture(1, [2, v], 3), "a"),
        (lambda v: BetaMixture(1, 2, v), "b"),
        (lambda v: NormalMixture(1, v, 1.0), "mean"),
        (lambda v: NormalMixture(1, 0.0, v), "sd"),
        (lambda v: GammaMixture(1, v, 1.0), "shape"),
        (lambda v: GammaMixture(1, 1.0, v), "rate"),
    ],
)
@pytest.mark.parametrize(("value", "word"), [(np.nan, "NaN"), (np.inf, "finite")])
def test_nan_and_inf_parameters(
    make: Callable[[float], Any], name: str, value: float, word: str
) -> None:
    with raises(ValueError, f"{name} must", word):
        make(value)


def test_non_numeric_and_misshapen_parameters() -> None:
    with raises(TypeError, "a must be numeric", "'x'"):
        BetaMixture(1, "x", 3)
    with raises(TypeError, "sigma", "scalar"):
        NormalMixture(1, 0.0, 1.0, sigma=[1.0, 2.0])
    with raises(ValueError, "likelihood", "'binomial'"):
        GammaMixture(1, 2, 3, likelihood="binomial")  # type: ignore[arg-type]


# ------------------------------------------------------------------------ data
@pytest.mark.parametrize(
    ("kwargs", "exc", "fragments"),
    [
        ({"r": 12, "n": 10}, ValueError, ("r=12", "n=10")),
        ({"r": 11, "n": 10}, ValueError, ("r=11", "exceeds", "n=10")),
        ({"r": 2.5, "n": 10}, ValueError, ("r", "integer", "2.5")),
        ({"r": 2, "n": 10.5}, ValueError, ("n", "integer", "10.5")),
        ({"r": -1, "n": 10}, ValueError, ("r", ">= 0", "-1")),
        ({"r": np.nan, "n": 10}, ValueError, ("r", "NaN")),
        ({"r": 3, "n": np.inf}, ValueError, ("n", "finite", "inf")),
        ({"r": True, "n": 10}, TypeError, ("r", "integer", "True")),
        ({"r": "3", "n": 10}, TypeError, ("r", "integer", "'3'")),
        ({"r": [1, 2], "n": 3}, TypeError, ("posterior_batch",)),
        ({"r": 3}, TypeError, ("r and n",)),
        ({"data": [0, 1, 2]}, ValueError, ("data", "0/1", "2")),
        ({"r": 1, "n": 2, "data": [0, 1]}, TypeError, ("data", "not both")),
    ],
)
def test_beta_posterior_bad_counts(
    kwargs: dict[str, Any], exc: type[Exception], fragments: tuple[str, ...]
) -> None:
    with raises(exc, *fragments):
        BETA.posterior(**kwargs)


def test_beta_posterior_batch_bad_counts() -> None:
    with raises(ValueError, "r=12", "n=10"):
        BETA.posterior_batch([1, 12, 3], 10)
    with raises(ValueError, "r", "n", "broadcast"):
        BETA.posterior_batch([1, 2, 3], [10, 11])
    with raises(ValueError, "r", "integer", "1.5"):
        BETA.posterior_batch([1.5, 2], 10)


@pytest.mark.parametrize(
    ("dist", "kwargs", "exc", "fragments"),
    [
        (GAMMA, {"total": 2.5, "n": 3}, ValueError, ("total", "integer", "2.5")),
        (GAMMA, {"total": -2, "n": 3}, ValueError, ("total", ">= 0", "-2")),
        (GAMMA, {"total": 2, "n": 0}, ValueError, ("n", "strictly positive", "0")),
        (GAMMA, {"total": 2, "n": np.nan}, ValueError, ("n", "NaN")),
        (GAMMA, {"data": [3, -1]}, ValueError, ("data", ">= 0", "-1")),
        (GAMMA, {"data": [1.5, 2]}, ValueError, ("data", "integer", "1.5")),
        (GAMMA, {"total": 2}, TypeError, ("total= and n=",)),
        (GAMMA_EXP, {"total": 2.5, "n": 2.5}, ValueError, ("n", "integer", "2.5")),
        (GAMMA_EXP, {"total": -1.0, "n": 2}, ValueError, ("total", "strictly positive", "-1")),
        (GAMMA_EXP, {"data": [1.0, -2.0]}, ValueError, ("data", "strictly positive", "-2")),
        (GAMMA_EXP, {"total": 1.0, "n": 0}, ValueError, ("n", ">= 1", "0")),
    ],
)
def test_gamma_posterior_bad_data(
    dist: GammaMixture, kwargs: dict[str, Any], exc: type[Exception], fragments: tuple[str, ...]
) -> None:
    with raises(exc, *fragments):
        dist.posterior(**kwargs)


def test_normal_posterior_with_n_needs_sigma() -> None:
    with raises(ValueError, "sigma"):
        NORMAL_NO_SIGMA.posterior(mean=1.0, n=10)
    with raises(ValueError, "sigma"):
        NORMAL_NO_SIGMA.posterior(data=[1.0, 2.0, 3.0])
    with raises(ValueError, "sigma"):
        NORMAL_NO_SIGMA.posterior_batch([1.0, 2.0], n=10)
    with raises(ValueError, "sigma"):
        NORMAL_NO_SIGMA.predictive(3)
    # with se= the reference scale is not needed
    assert NORMAL_NO_SIGMA.posterior(mean=1.0, se=0.5).sigma is None


@pytest.mark.parametrize(
    ("kwargs", "exc", "fragments"),
    [
        ({"mean": np.nan, "n": 10}, ValueError, ("mean", "NaN")),
        ({"mean": np.inf, "se": 1.0}, ValueError, ("mean", "finite")),
        ({"mean": 1.0, "se": -1.0}, ValueError, ("se", "strictly positive", "-1")),
        ({"mean": 1.0, "se": 1.0, "n": 3}, TypeError, ("se=", "n=")),
        ({"mean": 1.0}, TypeError, ("se=", "n=")),
        ({"mean": 1.0, "n": 0}, ValueError, ("n", ">= 1", "0")),
        ({"mean": 1.0, "n": 2.5}, ValueError, ("n", "integer", "2.5")),
        ({"data": [1.0, np.nan]}, ValueError, ("data", "NaN")),
        ({"data": []}, ValueError, ("data", "non-empty")),
        ({"mean": [1.0, 2.0], "n": 3}, TypeError, ("posterior_batch",)),
    ],
)
def test_normal_posterior_bad_data(
    kwargs: dict[str, Any], exc: type[Exception], fragments: tuple[str, ...]
) -> None:
    with raises(exc, *fragments):
        NORMAL.posterior(**kwargs)


# ------------------------------------------------------------------------ differences
@pytest.mark.parametrize(
    ("d1", "d2", "fragments"),
    [
        (BETA, GAMMA, ("dist_1 and dist_2", "same family", "BetaMixture", "GammaMixture")),
        (NORMAL, BETA, ("same family", "NormalMixture", "BetaMixture")),
        (GAMMA, NORMAL, ("same family", "GammaMixture", "NormalMixture")),
        (BETA, BETA.predictive(5), ("dist_2", "BetaBinomialMixture")),
        (0.5, BETA, ("dist_1", "float")),
    ],
)
def test_difference_of_mixed_families(d1: Any, d2: Any, fragments: tuple[str, ...]) -> None:
    with raises(TypeError, *fragments):
        prob_difference(d1, d2, 0.0)
    with raises(TypeError, *fragments):
        quantile_difference(d1, d2, 0.5)


def test_difference_bad_thresholds() -> None:
    with raises(ValueError, "q", "NaN"):
        prob_difference(NORMAL, NORMAL, [0.0, np.nan])
    for p in (0.0, 1.0, 1.5):
        with raises(ValueError, "p", "strictly between 0 and 1", repr(p)):
            quantile_difference(NORMAL, NORMAL, p)


# ------------------------------------------------------------------------ ESS
@pytest.mark.parametrize(
    ("dist", "fragments"),
    [
        (BetaMixture([0.5, 0.5], [0.5, 2], [2, 2]), ("ELIR", "a < 1", "a=0.5")),
        (BetaMixture(1.0, 2, 0.9), ("ELIR", "b < 1", "b=0.9")),
        (GammaMixture(1.0, 0.5, 2.0), ("ELIR", "shape < 1", "shape=0.5")),
    ],
)
def test_elir_outside_its_domain(dist: Any, fragments: tuple[str, ...]) -> None:
    with raises(ValueError, *fragments):
        ess(dist, "elir")
    ess(dist, "moment")  # the moment ESS remains defined


@pytest.mark.parametrize(
    ("call", "exc", "fragments"),
    [
        (lambda: ess(NORMAL_NO_SIGMA), ValueError, ("sigma",)),
        (lambda: ess(NORMAL, sigma=-1.0), ValueError, ("sigma", "-1")),
        (lambda: ess(NORMAL, sigma=np.nan), ValueError, ("sigma", "nan")),
        (lambda: ess(BETA, method="mean"), ValueError, ("method", "'mean'")),
        (lambda: ess(BETA, family="binomial"), ValueError, ("family", "'binomial'")),
        (lambda: ess(NORMAL, family="gamma"), ValueError, ("family", "'gamma'")),
        (lambda: ess(BETA, "morita", s=0.0), ValueError, ("s must", "0")),
        (lambda: ess(BETA.predictive(3)), TypeError, ("dist", "BetaBinomialMixture")),
        (lambda: ess(BetaMixture(1, 1, 1), "morita"), ValueError, ("Morita", "mode")),
    ],
)
def test_ess_bad_arguments(
    call: Callable[[], Any], exc: type[Exception], fragments: tuple[str, ...]
) -> None:
    with raises(exc, *fragments):
        call()


# ------------------------------------------------------------------------ robustify
@pytest.mark.parametrize(
    ("call", "exc", "fragments"),
    [
        (lambda: robustify(BETA, weight=0.0), ValueError, ("weight", "between 0 and 1", "0")),
        (lambda: robustify(BETA, weight=1.0), ValueError, ("weight", "1.0")),
        (lambda: robustify(BETA, weight=np.nan), ValueError, ("weight", "NaN")),
        (lambda: robustify(BETA, 0.1, mean=1.0), ValueError, ("mean", "between 0 and 1")),
        (lambda: robustify(BETA, 0.1, n=0), ValueError, ("n", "strictly positive", "0")),
        (lambda: robustify(NORMAL_NO_SIGMA, 0.1), ValueError, ("sigma",)),
        (lambda: robustify(NORMAL, 0.1, sigma=-2.0), ValueError, ("sigma", "-2")),
        (lambda: robustify(GAMMA, 0.1, mean=-1.0), ValueError, ("mean", "strictly positive")),
        (lambda: robustify(BETA.predictive(4), 0.1), TypeError, ("dist", "BetaBinomial")),
    ],
)
def test_robustify_bad_arguments(
    call: Callable[[], Any], exc: type[Exception], fragments: tuple[str, ...]
) -> None:
    with raises(exc, *fragments):
        call()


# ------------------------------------------------------------------------ methods
@pytest.mark.parametrize(
    ("call", "exc", "fragments"),
    [
        (lambda: BETA.ppf(1.5), ValueError, ("q", "between 0 and 1", "1.5")),
        (lambda: BETA.ppf([0.5, np.nan]), ValueError, ("q", "NaN")),
        (lambda: BETA.cdf(np.nan), ValueError, ("x", "NaN")),
        (lambda: BETA.pdf("a"), TypeError, ("x", "numeric")),
        (lambda: BETA.interval(1.0), ValueError, ("level", "1.0")),
        (lambda: BETA.predictive(-1), ValueError, ("n", ">= 0", "-1")),
        (lambda: BETA.predictive(2.5), ValueError, ("n", "integer", "2.5")),
        (lambda: GAMMA.predictive(0), ValueError, ("n", "strictly positive", "0")),
        (lambda: GAMMA_EXP.predictive(0), ValueError, ("n", ">= 1", "0")),
        (lambda: BetaMixture.from_mean_sd(0.5, 0.6), ValueError, ("sd=0.6", "mean=0.5")),
        (lambda: BetaMixture.from_mean_sd(1.2, 0.1), ValueError, ("mean", "1.2")),
        (lambda: BetaMixture.from_mean_n(0.5, 0), ValueError, ("n", "strictly positive")),
        (lambda: GammaMixture.from_mean_sd(-1.0, 1.0), ValueError, ("mean", "-1")),
    ],
)
def test_method_bad_arguments(
    call: Callable[[], Any], exc: type[Exception], fragments: tuple[str, ...]
) -> None:
    with raises(exc, *fragments):
        call()
