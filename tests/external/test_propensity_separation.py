"""Separation is a likelihood without a finite maximum, not merely extreme fitted scores
(issue 6 review: large external cohorts were wrongly rejected)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from rdstats.datasets import load_lalonde
from rdstats.external._hybrid_control import hybrid_control
from rdstats.external._matching import match
from rdstats.external._propensity import propensity_scores
from rdstats.external._ps_borrowing import ps_power_prior
from rdstats.external._weighting import weight


def _large_cohort(n1: int = 185, n0: int = 16_000, shift: float = 2.5) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(shift, 1, n1), rng.normal(0, 1, n0)]
    t = np.r_[np.ones(n1, int), np.zeros(n0, int)]
    return pd.DataFrame({"t": t, "x": x, "y": x + rng.normal(size=n1 + n0)})


def test_large_cohort_with_extreme_scores_is_not_separation() -> None:
    df = _large_cohort()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # controls far below the treated: no warning either
        ps = propensity_scores(df, "t", ["x"])
    # the converged MLE (statsmodels / R glm): intercept -7.8995, slope 2.6655
    coef = ps.coefficients["estimate"].to_numpy()
    np.testing.assert_allclose(coef, [-7.89953699, 2.66552503], rtol=1e-6)
    assert ps.scores.min() < 3e-7  # scores this extreme used to raise "separation"
    assert np.isfinite(ps.coefficients["std_error"]).all()


@pytest.mark.parametrize("model", ["probit", "cloglog", "cbps"])
def test_large_cohort_other_parametric_models(model: str) -> None:
    ps = propensity_scores(_large_cohort(), "t", ["x"], model=model)
    assert np.isfinite(ps.coefficients["estimate"]).all()


def test_matching_and_weighting_work_on_a_large_cohort() -> None:
    df = _large_cohort()
    m = match(df, "t", ["x"])
    assert m.weights[df["t"].to_numpy() == 1].sum() == 185
    w = weight(df, "t", ["x"])
    assert w.ess["treated"] == pytest.approx(185)
    assert 0 < w.ess["control"] < 16_000


def test_ps_borrowing_and_hybrid_control_work_on_a_large_cohort() -> None:
    rng = np.random.default_rng(0)
    n1, n0 = 30, 3000
    x = np.r_[rng.normal(2.2, 1, n1), rng.normal(0, 1, n0)]
    df = pd.DataFrame(
        {"s": np.r_[np.ones(n1, int), np.zeros(n0, int)], "x": x, "y": x + rng.normal(size=n1 + n0)}
    )
    assert np.isfinite(ps_power_prior(df, "y", ["x"], study="s", n_borrow=30).estimate)
    assert np.isfinite(hybrid_control(df, "y", ["x"], study="s").estimate)


def test_quasi_complete_separation_is_still_an_error() -> None:
    # the groups touch at one value of x only: no finite maximum of the likelihood
    x = np.r_[np.linspace(0, 3, 20), 0.0, np.linspace(-3, 0, 20)]
    t = np.r_[np.ones(20, int), np.zeros(21, int)]
    df = pd.DataFrame({"t": t, "x": x})
    with pytest.raises(ValueError, match=r"separation.*'x'"):
        propensity_scores(df, "t", ["x"])


def test_separation_by_a_combination_is_detected() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=200), rng.normal(size=200)
    t = (a + b > 0).astype(int)
    df = pd.DataFrame({"t": t, "a": a, "b": b})
    with pytest.raises(ValueError, match=r"separation.*a combination"):
        propensity_scores(df, "t", ["a", "b"])


def test_spline_separation_message_suggests_fewer_df() -> None:
    # the treated all lie above the second knot: the spline separates
    with pytest.raises(ValueError, match=r"separation.*model_options\['df'\]"):
        propensity_scores(_large_cohort(), "t", ["x"], model="spline")


def test_treated_without_counterpart_warns() -> None:
    rng = np.random.default_rng(4)
    x = np.r_[rng.normal(3, 1, 60), -9.0, rng.normal(0, 1, 2000)]
    t = np.r_[np.ones(61, int), np.zeros(2000, int)]
    df = pd.DataFrame({"t": t, "x": x})
    with pytest.warns(UserWarning, match="1 treated units have propensity scores below 3e-7"):
        propensity_scores(df, "t", formula="t ~ x")


def test_formula_with_missing_covariate_values_names_count_and_rows() -> None:
    lal = load_lalonde().copy()
    lal.loc[lal.index[[4, 9]], "age"] = np.nan
    with pytest.raises(ValueError, match=r"missing values: \{'age': 2\} \(first rows \[4, 9\]\)"):
        propensity_scores(lal, "treat", formula="treat ~ age + educ")
    with pytest.raises(ValueError, match=r"'age': 2"):
        propensity_scores(lal, "treat", formula="treat ~ np.log(age) + Q('educ')")
