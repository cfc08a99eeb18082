"""Numerical helpers of the MAP predictive: normal-mixture quantiles (safeguarded Newton)
and the banded mixture density used for the mixture fit."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import special

from rdstats.borrowing._predictive import _banded_density, mixture_quantiles

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def mixture_cdf(x: float, w: np.ndarray, m: np.ndarray, s: np.ndarray) -> float:
    pos = s > 0
    z = np.where(pos, (x - m) / np.where(pos, s, 1.0), np.where(x >= m, np.inf, -np.inf))
    return float(w @ special.ndtr(z))


@st.composite
def mixtures(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.ones(k))
    m = rng.normal(0.0, 3.0, k)
    s = np.exp(rng.normal(-1.0, 2.0, k))
    if draw(st.booleans()):
        s[rng.random(k) < 0.3] = 0.0  # point masses
    return w, m, s


@SETTINGS
@given(mixtures(), st.lists(st.floats(1e-6, 1 - 1e-6), min_size=1, max_size=4))
def test_quantile_is_the_smallest_x_with_cdf_at_least_q(
    mix: tuple[np.ndarray, np.ndarray, np.ndarray], levels: list[float]
) -> None:
    w, m, s = mix
    x = mixture_quantiles(w, m, s, levels)
    for xi, q in zip(x, levels, strict=True):
        delta = 1e-9 * max(1.0, abs(xi))
        # F(x - delta) <= q <= F(x + delta), allowing for F's own rounding
        assert mixture_cdf(xi - delta, w, m, s) <= q + 1e-12
        assert mixture_cdf(xi + delta, w, m, s) >= q - 1e-12


def test_quantiles_of_one_normal_are_exact() -> None:
    q = np.array([1e-6, 0.025, 0.3, 0.5, 0.975])
    got = mixture_quantiles(np.ones(1), np.array([1.5]), np.array([0.7]), q)
    np.testing.assert_allclose(got, 1.5 + 0.7 * special.ndtri(q), rtol=0, atol=1e-13)


def test_columns_are_independent_mixtures() -> None:
    """(C, H) means and SDs: one mixture per column; a column that converges early must
    stay where it converged while the others iterate."""
    rng = np.random.default_rng(3)
    w = rng.dirichlet(np.ones(30))
    m, s = rng.normal(0, 2, (30, 3)), np.exp(rng.normal(-1, 1, (30, 3)))
    levels = [0.025, 0.5, 0.975]
    both = mixture_quantiles(w, m, s, levels)
    for h in range(3):
        np.testing.assert_allclose(both[h], mixture_quantiles(w, m[:, h], s[:, h], levels))


@SETTINGS
@given(mixtures())
def test_banded_density_equals_the_dense_sum(mix: tuple[np.ndarray, ...]) -> None:
    w, m, s = mix
    s = np.maximum(s, 1e-3)
    theta = np.linspace(m.min() - 3, m.max() + 3, 301)
    z = (theta[:, None] - m) / s
    dense = np.exp(-0.5 * z * z) @ (w / s)
    got = _banded_density(theta, w, m, s)
    np.testing.assert_allclose(got, dense, rtol=0, atol=1e-15 * dense.max() + 1e-300)
