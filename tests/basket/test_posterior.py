"""BasketPosterior: summaries from logit-grid densities against closed-form beta
posteriors, result surface and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import special, stats

from rdstats.basket import BasketPosterior
from rdstats.basket._posterior import LOGIT_GRID, normalise_density


def beta_posterior(r: np.ndarray, n: np.ndarray) -> BasketPosterior:
    p = special.expit(LOGIT_GRID)
    log_d = np.array(
        [
            stats.beta.logpdf(p, 1 + ri, 1 + ni - ri) + np.log(p * (1 - p))
            for ri, ni in zip(r, n, strict=True)
        ]
    )
    return BasketPosterior(
        "Beta(1, 1)", r, n, ["a", "b", "c"], LOGIT_GRID, normalise_density(log_d, LOGIT_GRID)
    )


def test_grid_summaries_equal_beta_closed_forms() -> None:
    r, n = np.array([2, 0, 5]), np.array([15, 13, 20])
    bp = beta_posterior(r, n)
    a, b = 1 + r, 1 + n - r
    np.testing.assert_allclose(bp.mean(), a / (a + b), atol=1e-5)
    np.testing.assert_allclose(bp.sd(), stats.beta.std(a, b), atol=1e-5)
    for q in (0.025, 0.5, 0.975):
        np.testing.assert_allclose(bp.quantile(q), stats.beta.ppf(q, a, b), atol=1e-4)
    np.testing.assert_allclose(bp.prob_above(0.1), stats.beta.sf(0.1, a, b), atol=1e-4)
    np.testing.assert_allclose(
        bp.prob_above([0.1, 0.2, 0.3]), stats.beta.sf([0.1, 0.2, 0.3], a, b), atol=1e-4
    )


def test_surface_and_bad_input() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    bp = beta_posterior(np.array([2, 0, 5]), np.array([15, 13, 20]))
    s = bp.summary(p0=0.1)
    assert list(s.index) == ["a", "b", "c"]
    assert {"mean", "lower", "upper", "prob_above_p0"} <= set(s.columns)
    json.dumps(bp.to_dict())
    assert "basket posterior" in bp._repr_html_()
    bp.plot(p0=0.1)
    plt.close("all")
    with pytest.raises(ValueError, match="p must be in"):
        bp.prob_above(1.5)
    with pytest.raises(ValueError, match="q must be in"):
        bp.quantile(0.0)
    assert not bp.density.flags.writeable


def test_tail_masses_beyond_the_grid_are_kept() -> None:
    """Beta(0.5, 0.5) posteriors with r = 0 put about 1% of their mass below the grid's
    lower end; with the tail masses the grid summaries match the closed forms."""
    from rdstats.basket import MEM, Fujikawa, Stratified

    r, n = np.array([0, 1, 6, 0]), np.array([10, 12, 20, 3])
    for model in (MEM(), Stratified(0.5, 0.5), Fujikawa()):
        fit = model.fit(r, n)
        table = model.posterior_table(r[None, :], n, np.full(4, 0.1))
        np.testing.assert_allclose(fit.mean(), table["mean"][0], atol=1e-6)
        np.testing.assert_allclose(fit.prob_above(0.1), table["prob_above"][0], atol=5e-5)
