"""Vectorised jump statistics equal detect_jump series by series; the naive t-test equals
scipy's."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from rdstats.nof1._batch import batch_jump_statistics, naive_pvalues
from rdstats.nof1._detect import detect_jump

NORMAL_SETTINGS = [
    {},
    {"ar1": True},
    {"trend": True},
    {"trend": True, "ar1": True, "slope": True},
    {"trend": True, "direction": "decrease", "max_lag": 4.0},
    {"change_prior": "uniform", "mcid": 0.3},
    {"ar1": True, "jump_prior_sd": 0.7, "prob_change": 0.2, "off_window": 0.2},
    {"ar1": True, "time_unit": 2.5},
]


def _series(rng: np.random.Generator, b: int = 6, n: int = 24) -> np.ndarray:
    y = rng.normal(size=(b, n))
    y[:, n // 2 + 2 :] += np.linspace(-1.0, 2.0, b)[:, None]
    return y


@pytest.mark.parametrize("kw", NORMAL_SETTINGS)
@pytest.mark.parametrize("unequal", [False, True])
def test_normal_equals_detect_jump(kw: dict, unequal: bool) -> None:
    rng = np.random.default_rng(7)
    y = _series(rng)
    n = y.shape[1]
    times = np.cumsum(rng.uniform(0.5, 2.0, n)) if unequal else np.arange(n, dtype=float)
    start = float(times[n // 2])
    kw = dict(kw)
    mcid = kw.pop("mcid", 0.5)
    out = batch_jump_statistics(y, times, start, mcid=mcid, **kw)
    for i in range(y.shape[0]):
        res = detect_jump(y[i], times, start, mcid=mcid, **kw)
        assert out["prob_change"][i] == pytest.approx(res.prob_change, abs=1e-10)
        assert out["prob_exceeds"][i] == pytest.approx(res.prob_jump_exceeds(), abs=1e-10)


@pytest.mark.parametrize(
    "kw",
    [{"mcid": 1.2}, {"mcid": 1.2, "trend": True}, {"mcid": 0.8, "direction": "decrease"}],
)
def test_poisson_equals_detect_jump(kw: dict) -> None:
    rng = np.random.default_rng(3)
    y = rng.poisson(3.0, size=(6, 30)).astype(float)
    y[:, 18:] = rng.poisson(np.linspace(1.0, 6.0, 6)[:, None], size=(6, 12))
    y[0] = 0.0  # all-zero counts are allowed
    out = batch_jump_statistics(y, None, 15, family="poisson", **kw)
    for i in range(y.shape[0]):
        res = detect_jump(y[i], None, 15, family="poisson", **kw)
        assert out["prob_change"][i] == pytest.approx(res.prob_change, abs=1e-10)
        assert out["prob_exceeds"][i] == pytest.approx(res.prob_jump_exceeds(), abs=1e-10)


def test_without_treatment_start_and_chunking() -> None:
    y = _series(np.random.default_rng(11), b=7)
    whole = batch_jump_statistics(y, ar1=True, mcid=0.2)
    parts = batch_jump_statistics(y, ar1=True, mcid=0.2, chunk_size=2)
    np.testing.assert_array_equal(whole["prob_change"], parts["prob_change"])
    for i in range(y.shape[0]):
        res = detect_jump(y[i], ar1=True, mcid=0.2)  # uniform prior, no "after start"
        assert whole["prob_exceeds"][i] == pytest.approx(
            res.prob_jump_exceeds(after_start=False), abs=1e-10
        )


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n=st.integers(6, 30),
    ar1=st.booleans(),
    direction=st.sampled_from(["increase", "decrease"]),
)
def test_property_matches_detect_jump(seed: int, n: int, ar1: bool, direction: str) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(2, n)) * rng.uniform(0.1, 10.0) + rng.normal(0, 5)
    start = float(rng.integers(1, n))
    out = batch_jump_statistics(y, None, start, ar1=ar1, direction=direction, mcid=0.3)
    for i in range(2):
        res = detect_jump(y[i], None, start, ar1=ar1, direction=direction, mcid=0.3)
        assert out["prob_change"][i] == pytest.approx(res.prob_change, abs=1e-10)
        assert out["prob_exceeds"][i] == pytest.approx(res.prob_jump_exceeds(), abs=1e-10)


def test_naive_equals_scipy() -> None:
    rng = np.random.default_rng(5)
    y = rng.normal(size=(5, 15))
    t = np.arange(15.0)
    for direction, alt in (("increase", "greater"), ("decrease", "less")):
        p = naive_pvalues(y, t, 6.0, direction)
        for i in range(5):
            ref = stats.ttest_ind(y[i, 6:], y[i, :6], alternative=alt).pvalue
            assert p[i] == pytest.approx(ref, abs=1e-12)
    const = np.r_[np.zeros(6), np.ones(9)][None, :]
    assert naive_pvalues(const, t, 6.0, "increase")[0] == 0.0
    assert naive_pvalues(const, t, 6.0, "decrease")[0] == 1.0


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"family": "ordinal"}, "family"),
        ({"family": "poisson", "ar1": True}, "normal"),
        ({"direction": "up"}, "direction"),
        ({"change_prior": "flat"}, "change_prior"),
        ({"treatment_start": 99.0}, "treatment_start"),
        ({"off_window": 1.0}, "off_window"),
        ({"jump_prior_sd": 0.0}, "jump_prior_sd"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"times": np.zeros(10)}, "times"),
    ],
)
def test_bad_input(kw: dict, match: str) -> None:
    y = np.random.default_rng(1).normal(size=(2, 10))
    with pytest.raises(ValueError, match=match):
        batch_jump_statistics(y, **kw)


def test_bad_series() -> None:
    with pytest.raises(ValueError, match="finite"):
        batch_jump_statistics(np.array([[1.0, np.nan, 2.0, 3.0, 4.0, 5.0]]))
    with pytest.raises(ValueError, match="needs at least"):
        batch_jump_statistics(np.ones((2, 4)), ar1=True, trend=True)
    with pytest.raises(ValueError, match="shape"):
        batch_jump_statistics(np.ones((2, 4, 3)))
    with pytest.raises(ValueError, match="counts"):
        batch_jump_statistics(np.full((1, 6), 1.5), family="poisson")
    with pytest.raises(TypeError, match="numeric"):
        batch_jump_statistics([["a", "b"]])
