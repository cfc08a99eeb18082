"""E-values, tipping-point analysis and quantitative bias analysis.

Reference E-values (``tests/reference/external_evalues.json``) were evaluated from the
published closed forms with 50-digit decimal arithmetic by
``tests/reference/scripts/external_evalues_reference.py``; the examples printed in
VanderWeele & Ding (2017) are also checked to their printed precision.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from rdstats.external._bias_analysis import bias_adjust
from rdstats.external._sensitivity import e_value, e_value_rr
from rdstats.external._tipping import tipping_point

matplotlib.use("Agg")

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "external_evalues.json"
CASES = json.loads(REFERENCE.read_text())["cases"]

ratios = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)


# -- reference values -------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_reference(case: dict[str, Any]) -> None:
    res = e_value(**case["inputs"])
    rel = case["tolerance"]["rel"]
    exp = case["expected"]
    assert res.rr == pytest.approx(exp["rr"], rel=rel)
    assert res.e_value == pytest.approx(exp["e_value"], rel=rel)
    if "e_value_ci" in exp:
        assert res.e_value_ci == pytest.approx(exp["e_value_ci"], rel=rel)
    else:
        assert res.e_value_ci is None
    for key, (value, tol) in case.get("published", {}).items():
        assert abs(getattr(res, key) - value) <= tol


# -- identities ---------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(ratios)
def test_bounding_factor_identity(rr: float) -> None:
    """The confounder with RR_EU = RR_UD = E has bounding factor E^2 / (2E - 1) = RR."""
    e = e_value(rr).e_value
    target = rr if rr >= 1 else 1 / rr
    assert e * e / (2 * e - 1) == pytest.approx(target, rel=1e-12)
    assert e >= target >= 1


@settings(max_examples=200, deadline=None)
@given(ratios)
def test_symmetry(rr: float) -> None:
    assert e_value(rr).e_value == pytest.approx(e_value(1 / rr).e_value, rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.floats(1.0, 1e4), st.floats(1.0, 1e4))
def test_monotone(a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    assert e_value_rr(lo) <= e_value_rr(hi)


@settings(max_examples=100, deadline=None)
@given(ratios, st.floats(0.1, 10.0))
def test_true_shift(rr: float, true: float) -> None:
    assert e_value(rr, true=true).e_value == pytest.approx(e_value(rr / true).e_value, rel=1e-12)


def test_null_estimate_and_ci_including_null() -> None:
    assert e_value(1.0).e_value == 1.0
    assert e_value(1.3, 0.9, 1.8).e_value_ci == 1.0
    assert e_value(1.3, 1.0, 1.8).e_value_ci == 1.0


def test_protective_uses_upper_limit() -> None:
    res = e_value(0.5, 0.3, 0.8)
    assert res.ci_limit == "upper"
    assert res.e_value_ci == pytest.approx(e_value_rr(1 / 0.8))
    assert e_value(2.0, 1.25, 3.0).e_value_ci == pytest.approx(e_value_rr(1.25))


def test_conversions() -> None:
    assert e_value(2.0, measure="OR", rare=True).e_value == e_value(2.0).e_value
    assert e_value(4.0, measure="OR", rare=False).e_value == pytest.approx(e_value(2.0).e_value)
    assert e_value(1.0, measure="HR", rare=False).rr == pytest.approx(1.0)
    hr = e_value(2.0, measure="HR", rare=False).rr
    assert hr == pytest.approx((1 - 0.5 ** math.sqrt(2)) / (1 - 0.5 ** math.sqrt(0.5)))
    # the HR conversion is symmetric: HR -> RR and 1/HR -> 1/RR
    assert e_value(0.5, measure="HR", rare=False).rr == pytest.approx(1 / hr)
    md = e_value(3.0, measure="MD", sd=6.0)
    assert md.rr == pytest.approx(math.exp(0.91 * 0.5))
    # a Wald interval through lower/upper agrees with se up to 0.91 x 1.96 = 1.7836 ~ 1.78
    a = e_value(3.0, measure="MD", sd=6.0, se=1.0).e_value_ci
    b = e_value(3.0, 3.0 - 1.96, 3.0 + 1.96, measure="MD", sd=6.0).e_value_ci
    assert a == pytest.approx(b, rel=2e-3)


def test_result_surface() -> None:
    res = e_value(3.9, 1.8, 8.7)
    table = res.summary()
    assert list(table["e_value"].round(2)) == [7.26, 3.0]
    json.dumps(res.to_dict())
    assert "E-value" in res._repr_html_()
    assert res.plot() is not None
    with pytest.raises(AttributeError):
        res.e_value = 2.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"estimate": 0.0}, ValueError, "estimate must be a positive RR"),
        ({"estimate": -1.2, "measure": "HR", "rare": True}, ValueError, "estimate"),
        ({"estimate": 2.0, "lower": 3.0, "upper": 1.0}, ValueError, "lower must not exceed"),
        ({"estimate": 2.0, "lower": 2.5, "upper": 3.0}, ValueError, "outside the interval"),
        ({"estimate": 2.0, "lower": 1.5}, ValueError, "together"),
        ({"estimate": 2.0, "lower": 0.0, "upper": 3.0}, ValueError, "lower"),
        ({"estimate": 1.0, "measure": "MD", "sd": 0.0}, ValueError, "sd must be > 0"),
        ({"estimate": 1.0, "measure": "MD", "sd": -2.0}, ValueError, "sd must be > 0"),
        ({"estimate": 1.0, "measure": "MD"}, ValueError, "sd"),
        ({"estimate": 1.0, "measure": "MD", "sd": 1.0, "se": 0.0}, ValueError, "se must"),
        ({"estimate": 2.0, "measure": "XY"}, ValueError, "measure must be one of"),
        ({"estimate": 0.1, "measure": "RD"}, ValueError, "needs counts"),
        ({"estimate": float("nan")}, ValueError, "estimate must be finite"),
        ({"estimate": 2.0, "lower": float("nan"), "upper": 3.0}, ValueError, "lower"),
        ({"estimate": "2"}, TypeError, "estimate must be a real number"),
        ({"estimate": 2.0, "measure": "OR"}, TypeError, "rare must be True or False"),
        ({"estimate": 2.0, "rare": True}, ValueError, "rare applies only"),
        ({"estimate": 2.0, "sd": 1.0}, ValueError, "apply only to measure='MD'"),
        ({"estimate": 2.0, "true": 0.0}, ValueError, "true must be a positive"),
    ],
)
def test_e_value_bad_input(kwargs: dict[str, Any], exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        e_value(**kwargs)


# -- tipping point ------------------------------------------------------------------------------


@pytest.mark.parametrize("measure", ["MD", "RR", "HR"])
def test_tipping_null_bias_leaves_estimate(measure: str) -> None:
    est = 2.0
    null_effect = 0.0 if measure == "MD" else 1.0
    tp = tipping_point(
        est, 0.3, measure=measure, outcome_effect=[null_effect], prevalence_control=0.2
    )
    assert np.allclose(tp.grid["adjusted"], est, rtol=0, atol=1e-15)
    same = tipping_point(
        est, 0.3, measure=measure, prevalence_treated=[0.3], prevalence_control=0.3
    )
    assert np.allclose(same.grid["adjusted"], est, rtol=0, atol=1e-15)


@pytest.mark.parametrize(
    ("est", "se", "measure", "p0"),
    [(4.0, 1.0, "MD", 0.0), (-3.0, 1.2, "MD", 0.1), (1.8, 0.2, "RR", 0.1), (0.6, 0.15, "HR", 0.0)],
)
def test_tipping_frontier_is_exact(est: float, se: float, measure: str, p0: float) -> None:
    """Plugging the frontier effect back into the bias formula puts the adjusted estimate
    (and the confidence limit closer to the null) exactly on the true value."""
    p1 = np.linspace(0.0, 1.0, 11)
    tp = tipping_point(est, se, measure=measure, prevalence_treated=p1, prevalence_control=p0)
    t = tp.true
    for _, row in tp.frontier.iterrows():
        for col in ("effect_estimate", "effect_ci"):
            g = row[col]
            if not np.isfinite(g):
                continue
            sub = tipping_point(
                est,
                se,
                measure=measure,
                outcome_effect=[g],
                prevalence_treated=[row["prevalence_treated"]],
                prevalence_control=p0,
            ).grid.iloc[0]
            if col == "effect_estimate":
                value = sub["adjusted"]
            else:
                value = sub["lower"] if est > t else sub["upper"]
            assert value == pytest.approx(t, abs=1e-9)


def test_tipping_grid_flags_match_frontier() -> None:
    tp = tipping_point(4.0, 1.0, outcome_effect=np.linspace(0, 20, 81))
    grid = tp.grid.merge(tp.frontier, on=["prevalence_treated", "prevalence_difference"])
    finite = np.isfinite(grid["effect_estimate"])
    expected = grid["outcome_effect"] >= grid["effect_estimate"] - 1e-12
    assert (grid.loc[finite, "estimate_tipped"] == expected[finite]).all()
    assert not grid.loc[~finite, "estimate_tipped"].any()


def test_tipping_ci_already_includes_null() -> None:
    tp = tipping_point(1.0, 1.0)
    assert (tp.frontier["effect_ci"] == 0.0).all()
    assert tp.grid["ci_tipped"].iloc[0]


def test_tipping_surface() -> None:
    tp = tipping_point(1.8, 0.2, measure="RR", prevalence_control=0.1)
    json.dumps(tp.to_dict())
    assert "Tipping-point" in tp._repr_html_()
    assert tp.summary().shape[1] == 4
    assert tp.plot() is not None


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"estimate": 0.0, "se": 0.1, "measure": "RR"}, ValueError, "estimate must be a positive"),
        ({"estimate": 2.0, "se": 0.0}, ValueError, "se must be > 0"),
        ({"estimate": 2.0, "se": None}, ValueError, "se is required"),
        ({"estimate": 2.0, "se": 1.0, "measure": "OR"}, ValueError, "measure must be one of"),
        (
            {"estimate": 2.0, "se": 1.0, "prevalence_treated": [0.2, 1.5]},
            ValueError,
            "prevalence_treated",
        ),
        (
            {"estimate": 2.0, "se": 1.0, "prevalence_control": -0.1},
            ValueError,
            "prevalence_control",
        ),
        (
            {"estimate": 2.0, "se": 1.0, "measure": "RR", "outcome_effect": [0.0]},
            ValueError,
            "RR_UD",
        ),
        ({"estimate": 2.0, "se": 1.0, "outcome_effect": [1.0, np.nan]}, ValueError, "NaN"),
        ({"estimate": 2.0, "se": 1.0, "level": 1.0}, ValueError, "level"),
        ({"estimate": 2.0, "se": 1.0, "outcome_effect": []}, ValueError, "empty"),
    ],
)
def test_tipping_bad_input(kwargs: dict[str, Any], exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        tipping_point(**kwargs)


# -- quantitative bias analysis ---------------------------------------------------------------


@pytest.mark.parametrize("measure", ["MD", "RR"])
def test_bias_adjust_null_parameters(measure: str) -> None:
    null_effect = 0.0 if measure == "MD" else 1.0
    res = bias_adjust(1.7, 0.2, measure=measure, outcome_effect=null_effect, prevalence_treated=0.6)
    assert res.adjusted == 1.7
    res = bias_adjust(
        1.7,
        0.2,
        measure=measure,
        outcome_effect=3.0,
        prevalence_treated=0.4,
        prevalence_control=0.4,
    )
    assert res.adjusted == pytest.approx(1.7, abs=1e-15)


def test_bias_adjust_deterministic_formula() -> None:
    res = bias_adjust(5.0, 1.0, outcome_effect=4.0, prevalence_treated=0.7, prevalence_control=0.2)
    assert res.adjusted == pytest.approx(5.0 - 4.0 * 0.5)
    assert res.lower == pytest.approx(3.0 - 1.959963984540054)
    rr = bias_adjust(
        2.0, 0.1, measure="RR", outcome_effect=3.0, prevalence_treated=0.5, prevalence_control=0.2
    )
    assert rr.adjusted == pytest.approx(2.0 / (2.0 / 1.4))
    json.dumps(rr.to_dict())
    assert rr.plot() is not None


def test_probabilistic_degenerate_equals_deterministic() -> None:
    det = bias_adjust(
        2.0, measure="RR", outcome_effect=2.5, prevalence_treated=0.6, prevalence_control=0.1
    )
    prob = bias_adjust(
        2.0,
        measure="RR",
        outcome_effect=lambda rng, n: np.full(n, 2.5),
        prevalence_treated=0.6,
        prevalence_control=0.1,
        draws=50,
        rng=1,
    )
    assert prob.systematic_draws is not None
    assert np.allclose(prob.systematic_draws, det.adjusted, rtol=1e-15)
    assert prob.total_draws is None


def test_probabilistic_monte_carlo_against_formula() -> None:
    """MD bias is linear in p1, so the mean of the adjusted draws is the deterministic
    adjustment at E[p1]; with fixed bias parameters the random-error percentiles are the
    conventional Wald interval of the deterministic adjustment."""
    n = 40_000
    a, b, gamma, p0 = 3.0, 5.0, 4.0, 0.1
    res = bias_adjust(
        5.0,
        1.0,
        outcome_effect=gamma,
        prevalence_treated=stats.beta(a, b),
        prevalence_control=p0,
        draws=n,
        rng=2024,
    )
    det = bias_adjust(
        5.0, 1.0, outcome_effect=gamma, prevalence_treated=a / (a + b), prevalence_control=p0
    )
    draws = res.systematic_draws
    assert draws is not None
    mcse = draws.std(ddof=1) / math.sqrt(n)
    assert abs(draws.mean() - det.adjusted) < 4 * mcse
    fixed = bias_adjust(
        5.0,
        1.0,
        outcome_effect=lambda rng, k: np.full(k, gamma),
        prevalence_treated=0.5,
        draws=n,
        rng=7,
    )
    det2 = bias_adjust(5.0, 1.0, outcome_effect=gamma, prevalence_treated=0.5)
    assert fixed.lower == pytest.approx(det2.lower, abs=0.06)
    assert fixed.upper == pytest.approx(det2.upper, abs=0.06)
    table = res.summary()
    assert list(table["analysis"]) == [
        "conventional",
        "systematic error",
        "systematic and random error",
    ]
    json.dumps(res.to_dict())
    assert res.plot() is not None


def test_probabilistic_reproducible() -> None:
    kw: dict[str, Any] = {
        "measure": "RR",
        "outcome_effect": stats.lognorm(0.3, scale=2.0),
        "prevalence_treated": stats.beta(4, 6),
        "prevalence_control": stats.beta(2, 8),
        "draws": 500,
    }
    a = bias_adjust(1.9, 0.2, rng=11, **kw)
    b = bias_adjust(1.9, 0.2, rng=11, **kw)
    assert a.total_draws is not None and b.total_draws is not None
    assert np.array_equal(a.total_draws, b.total_draws)
    c = bias_adjust(1.9, 0.2, rng=None, **kw)
    assert c.provenance["seed"]["entropy"]
    with pytest.raises(ValueError):
        a.systematic_draws[0] = 1.0  # type: ignore[index]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"outcome_effect": stats.norm(0, 1), "measure": "RR"}, "draws <= 0"),
        ({"outcome_effect": 1.0, "prevalence_treated": stats.norm(0.5, 1)}, "outside"),
        ({"outcome_effect": 1.0, "draws": 10}, "needs at least one random"),
        ({"outcome_effect": stats.norm(0, 1), "draws": 1}, "draws must be"),
        ({"outcome_effect": lambda rng, n: np.ones(3), "draws": 10}, "shape"),
        ({"outcome_effect": lambda rng, n: np.full(n, np.nan), "draws": 10}, "non-finite"),
        ({"outcome_effect": 1.0, "prevalence_treated": 1.2}, "prevalence_treated"),
        ({"outcome_effect": -1.0, "measure": "HR"}, "RR_UD"),
        ({"outcome_effect": float("nan")}, "outcome_effect must be finite"),
    ],
)
def test_bias_adjust_bad_input(kwargs: dict[str, Any], match: str) -> None:
    kwargs.setdefault("prevalence_treated", 0.5)
    with pytest.raises(ValueError, match=match):
        bias_adjust(1.5, 0.2, **kwargs)


@pytest.mark.parametrize(
    ("short", "long", "kwargs"),
    [
        ("RR", "risk_ratio", {"estimate": 2.0, "lower": 1.2, "upper": 3.0}),
        ("OR", "odds_ratio", {"estimate": 2.0, "rare": False}),
        ("HR", "hazard_ratio", {"estimate": 0.7, "lower": 0.5, "upper": 0.98, "rare": True}),
        ("MD", "mean_difference", {"estimate": 2.0, "sd": 4.0, "se": 0.5}),
        ("RD", "risk_difference", {"counts": (10, 20, 5, 25)}),
    ],
)
def test_e_value_accepts_both_measure_spellings(
    short: str, long: str, kwargs: dict[str, Any]
) -> None:
    a = e_value(measure=short, **kwargs)
    b = e_value(measure=long, **kwargs)
    c = e_value(measure=long.upper(), **kwargs)
    assert a.measure == b.measure == c.measure == short
    assert (a.e_value, a.e_value_ci) == (b.e_value, b.e_value_ci)


def test_canonical_measure_message_lists_both_spellings() -> None:
    from rdstats.external._sensitivity import canonical_measure

    assert canonical_measure("Risk-Ratio", ["RR"]) == "RR"
    with pytest.raises(ValueError, match=r"'MD' \('mean_difference'\).*got 'odds_ratio'"):
        canonical_measure("odds_ratio", ["MD", "RR", "HR"])
