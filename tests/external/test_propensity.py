"""Propensity scores: agreement with a direct logistic-regression fit, formula
interface, overlap summary and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rdstats.datasets import load_lalonde
from rdstats.external._propensity import PropensityScores, propensity_scores

ROOT = Path(__file__).resolve().parents[2]
COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]


def lalonde() -> pd.DataFrame:
    return load_lalonde()


def small(seed: int = 1, n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    g = rng.choice(["a", "b", "c"], size=n)
    lp = -0.3 + 0.8 * x + np.where(g == "b", 0.5, 0.0)
    t = (rng.uniform(size=n) < 1 / (1 + np.exp(-lp))).astype(int)
    return pd.DataFrame({"t": t, "x": x, "g": g, "y": rng.normal(size=n)})


def test_lalonde_coefficients_and_overlap() -> None:
    ps = propensity_scores(lalonde(), "treat", COVS)
    assert isinstance(ps, PropensityScores)
    # unpenalised ML: the score equations hold (X' (t - e) = 0)
    x = ps.model.model.exog
    assert np.abs(x.T @ (ps.treatment - ps.scores)).max() < 1e-6 * len(ps.scores)
    assert list(ps.coefficients.index[:3]) == ["Intercept", "age", "educ"]
    assert "race_white" in ps.coefficients.index and "race_black" not in ps.coefficients.index
    np.testing.assert_allclose(ps.linear_predictor, np.log(ps.scores / (1 - ps.scores)))
    lo, hi = ps.common_support
    assert lo == pytest.approx(ps.scores[ps.treatment == 1].min())
    out = ((ps.scores < lo) | (ps.scores > hi)) & (ps.treatment == 0)
    assert ps.overlap.loc["control", "outside_common_support"] == out.sum()
    json.dumps(ps.to_dict())
    assert "PropensityScores" in ps._repr_html_()
    assert ps.summary().shape == (2, 4)
    with pytest.raises(ValueError):
        ps.scores[0] = 0.5


def test_formula_matches_covariate_list() -> None:
    d = small()
    a = propensity_scores(d, "t", ["x", "g"])
    b = propensity_scores(d, "t", formula="t ~ x + g")
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-10)
    c = propensity_scores(d, "t", formula="t ~ x + I(x**2) + g")
    assert "I(x ** 2)" in c.coefficients.index


def test_plot() -> None:
    import matplotlib

    matplotlib.use("Agg")
    ax = propensity_scores(small(), "t", ["x"]).plot()
    assert ax.get_xlabel() == "propensity score"


def test_bad_treatment() -> None:
    d = small()
    d["t"] = d["t"] * 2
    with pytest.raises(ValueError, match="binary"):
        propensity_scores(d, "t", ["x"])
    with pytest.raises(ValueError, match="only one group"):
        propensity_scores(small().assign(t=1), "t", ["x"])


def test_nan_covariates_reported() -> None:
    d = small()
    d.loc[[3, 7], "x"] = np.nan
    with pytest.raises(ValueError, match=r"'x': 2.*\[3, 7\]"):
        propensity_scores(d, "t", ["x", "g"])


def test_separation_names_covariate() -> None:
    d = small()
    d["z"] = d["t"] * 5.0 + np.linspace(0, 1, len(d))
    with pytest.raises(ValueError, match=r"separation.*'z'"):
        propensity_scores(d, "t", ["x", "z"])


def test_bad_arguments() -> None:
    d = small()
    with pytest.raises(ValueError, match="model"):
        propensity_scores(d, "t", ["x"], model="gam")
    with pytest.raises(ValueError, match="left-hand side"):
        propensity_scores(d, "t", formula="y ~ x")
    with pytest.raises(ValueError, match="covariates must be given"):
        propensity_scores(d, "t")
    with pytest.raises(TypeError, match="DataFrame"):
        propensity_scores(d.to_numpy(), "t", ["x"])  # type: ignore[arg-type]
