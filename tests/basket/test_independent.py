"""Stratified and pooled comparators: closed-form Beta posteriors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from rdstats.basket._independent import Pooled, Stratified

R = np.array([2, 0, 1, 6])
N = np.array([15, 13, 12, 28])


def test_stratified_matches_beta() -> None:
    f = Stratified(a=1.0, b=2.0).fit(R, N)
    a, b = 1.0 + R, 2.0 + N - R
    # the logit grid stops at +-12: a Beta(a, .) density of logit p decays like
    # exp(a x), so Beta(1, .) loses ~exp(-12) (with a = 0.5 and r = 0 the loss is 1 % of
    # the mean: ``posterior_table`` uses the closed forms)
    np.testing.assert_allclose(f.mean(), a / (a + b), rtol=1e-4)
    np.testing.assert_allclose(f.prob_above(0.2), stats.beta.sf(0.2, a, b), atol=1e-3)
    np.testing.assert_allclose(f.quantile(0.5), stats.beta.median(a, b), atol=1e-3)


def test_pooled_matches_beta() -> None:
    f = Pooled().fit(R, N)
    a, b = 1 + R.sum(), 1 + N.sum() - R.sum()
    np.testing.assert_allclose(f.mean(), np.full(4, a / (a + b)), atol=1e-6)
    assert f.model == "Pooled"


def test_tables() -> None:
    rows = np.array([[0, 0, 0, 0], [2, 0, 1, 6]])
    for model in (Stratified(), Pooled()):
        tab = model.posterior_table(rows, N, 0.2)
        for i, row in enumerate(rows):
            f = model.fit(row, N)
            np.testing.assert_allclose(tab["mean"][i], f.mean(), atol=1e-5)
            np.testing.assert_allclose(tab["prob_above"][i], f.prob_above(0.2), atol=1e-4)


def test_empty_basket() -> None:
    f = Stratified().fit([0, 3], [0, 5])
    np.testing.assert_allclose(f.mean()[0], 0.5, atol=1e-6)
    assert Pooled().fit([0, 3], [0, 5]).mean()[0] == pytest.approx(4 / 7, abs=1e-6)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="a must be strictly positive"):
        Stratified(a=0.0)
    with pytest.raises(ValueError, match="exceeds"):
        Pooled().fit([4], [3])
    with pytest.raises(ValueError, match="p0"):
        Stratified().posterior_table([[1]], [3], 1.5)
