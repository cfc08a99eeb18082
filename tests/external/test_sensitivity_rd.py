"""Risk-difference E-values (Ding & VanderWeele 2016): values computed by root finding in
R from the published bound (tests/reference/external_evalue_rd.json), hand-derived cases,
properties of the bound and bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rdstats.external._evalue_rd import rd_bias_factor, rd_bias_factor_ci, rd_bound
from rdstats.external._sensitivity import e_value, e_value_rr

ROOT = Path(__file__).resolve().parents[2]
REF = json.loads((ROOT / "tests" / "reference" / "external_evalue_rd.json").read_text())


@pytest.mark.parametrize("case", REF["cases"], ids=[c["name"] for c in REF["cases"]])
def test_reference_values(case: dict) -> None:
    ev = e_value(measure="RD", counts=case["counts"], true=case["true"], alpha=case["alpha"])
    tol = case["tolerance"]
    for mine, key in (
        (ev.risk_difference["bias_factor"], "bias_factor"),
        (ev.risk_difference["bias_factor_ci"], "bias_factor_ci"),
        (ev.e_value, "e_value"),
        (ev.e_value_ci, "e_value_ci"),
    ):
        exp = float(case[key])
        if math.isinf(exp):
            assert math.isinf(mine)
        else:
            assert mine == pytest.approx(exp, rel=tol, abs=tol)
    assert ev.estimate == pytest.approx(case["rd"], abs=1e-15)
    # the same from risks and group sizes
    ev2 = e_value(
        measure="RD", risks=case["risks"], n=case["n"], true=case["true"], alpha=case["alpha"]
    )
    assert ev2.e_value == pytest.approx(ev.e_value, rel=1e-12)
    assert ev2.e_value_ci == pytest.approx(ev.e_value_ci, rel=1e-12)


def test_hand_derived() -> None:
    # true = 0: (p1 - p0 B)(...) = 0 at B = p1 / p0, the risk ratio
    ev = e_value(measure="RD", counts=(397, 78557, 51, 108778))
    rr = (397 / 78954) / (51 / 108829)
    assert ev.rr == pytest.approx(rr, rel=1e-12)
    assert ev.e_value == pytest.approx(e_value(rr).e_value, rel=1e-12)
    assert rr == pytest.approx(10.72978, abs=1e-5)  # EValue docs, twoXtwoRR(397, ...)
    # the Wald interval of the risk difference
    p1, p0 = 397 / 78954, 51 / 108829
    se = math.sqrt(p1 * (1 - p1) / 78954 + p0 * (1 - p0) / 108829)
    assert ev.lower == pytest.approx(p1 - p0 - 1.959963984540054 * se, rel=1e-12)
    # an estimate equal to true needs no confounding: E-value 1
    assert e_value(measure="RD", risks=(0.3, 0.3), n=(20, 40)).e_value == 1.0
    # an estimate below true: the coding is reversed (as for a ratio below RR_true)
    below = e_value(measure="RD", risks=(0.3, 0.2), n=(20, 40), true=0.2)
    assert below.risk_difference["reversed"] and below.e_value > 1.0
    # an interval containing true: confidence-limit E-value 1
    small = e_value(measure="RD", counts=(3, 7, 2, 8))
    assert small.e_value > 1 and small.e_value_ci == 1.0
    # f matters: the same risks with a larger treated share need a different factor
    a = e_value(measure="RD", risks=(0.5, 0.2), n=(10, 90), true=0.1)
    b = e_value(measure="RD", risks=(0.5, 0.2), n=(90, 10), true=0.1)
    assert a.e_value != pytest.approx(b.e_value)


def test_protective_difference_reverses_coding() -> None:
    up = e_value(measure="RD", counts=(12, 8, 10, 50), true=0.05)
    down = e_value(measure="RD", counts=(10, 50, 12, 8), true=-0.05)
    assert down.estimate == pytest.approx(-up.estimate)
    assert down.e_value == pytest.approx(up.e_value, rel=1e-12)
    assert down.e_value_ci == pytest.approx(up.e_value_ci, rel=1e-10)
    assert down.ci_limit == "upper" and up.ci_limit == "lower"
    assert down.risk_difference["reversed"] and down.rr < 1
    s = down.summary()
    assert list(s["quantity"]) == ["point estimate", "upper confidence limit"]
    assert s["observed"].iloc[1] == pytest.approx(down.upper)
    json.dumps(down.to_dict())
    assert "RD" in down._repr_html_()


def test_plot() -> None:
    import matplotlib

    matplotlib.use("Agg")
    ax = e_value(measure="RD", counts=(12, 8, 10, 50)).plot()
    assert ax.get_xlabel().startswith("RR_EU")


@settings(max_examples=60, deadline=None)
@given(
    p1=st.floats(0.01, 0.99),
    p0=st.floats(0.01, 0.99),
    f=st.floats(0.05, 0.95),
    true=st.floats(-0.5, 0.5),
)
def test_bias_factor_solves_the_bound(p1: float, p0: float, f: float, true: float) -> None:
    b = rd_bias_factor(p1, p0, f, true)
    assert b >= 1.0
    if p1 - p0 <= true:
        assert b == 1.0
        return
    # independent check: bisection on the decreasing bound
    lo, hi = 1.0, 2.0
    while rd_bound(hi, p1, p0, f) > true:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if rd_bound(mid, p1, p0, f) > true else (lo, mid)
    assert b == pytest.approx(0.5 * (lo + hi), rel=1e-9)
    assert e_value_rr(b) >= 1.0


@settings(max_examples=40, deadline=None)
@given(
    n11=st.integers(1, 60),
    n10=st.integers(1, 60),
    n01=st.integers(0, 60),
    n00=st.integers(1, 60),
)
def test_ci_factor_is_the_smallest_root(n11: int, n10: int, n01: int, n00: int) -> None:
    ev = e_value(measure="RD", counts=(n11, n10, n01, n00))
    info = ev.risk_difference
    assert ev.e_value_ci <= ev.e_value
    b = info["bias_factor_ci"]
    if b == 1.0 or math.isinf(b):
        return
    p1, p0, n1, n0, f = (info[k] for k in ("p1", "p0", "n1", "n0", "f"))
    if info["reversed"]:
        p1, p0, n1, n0, f = p0, p1, n0, n1, 1 - f
    z = 1.959963984540054

    def lower(x: float) -> float:
        se = (f + (1 - f) / x) * math.sqrt(p1 * (1 - p1) / n1 + x * x * p0 * (1 - p0) / n0)
        return rd_bound(x, p1, p0, f) - z * se

    assert lower(b) == pytest.approx(0.0, abs=1e-10)
    grid = np.linspace(1.0, b, 200)[:-1]
    assert all(lower(float(x)) > 0 for x in grid)
    assert rd_bias_factor_ci(p1, p0, n1, n0, f, z) == b


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="needs counts"):
        e_value(0.1, measure="RD")
    with pytest.raises(ValueError, match="needs counts"):
        e_value(measure="RD", risks=(0.2, 0.1))
    with pytest.raises(ValueError, match="4 non-negative integers"):
        e_value(measure="RD", counts=(1, 2, 3))
    with pytest.raises(ValueError, match="4 non-negative integers"):
        e_value(measure="RD", counts=(1, 2, -3, 4))
    with pytest.raises(ValueError, match="4 non-negative integers"):
        e_value(measure="RD", counts=(1.5, 2, 3, 4))
    with pytest.raises(ValueError, match="treated and control"):
        e_value(measure="RD", counts=(0, 0, 3, 4))
    with pytest.raises(ValueError, match="not both"):
        e_value(measure="RD", counts=(1, 2, 3, 4), risks=(0.2, 0.1), n=(3, 7))
    with pytest.raises(ValueError, match=r"risks must lie in \[0, 1\]"):
        e_value(measure="RD", risks=(1.2, 0.1), n=(10, 10))
    with pytest.raises(ValueError, match="positive group sizes"):
        e_value(measure="RD", risks=(0.2, 0.1), n=(0, 10))
    with pytest.raises(ValueError, match="is not the risk difference"):
        e_value(0.5, measure="RD", counts=(1, 2, 3, 4))
    with pytest.raises(ValueError, match="lower and upper are not used"):
        e_value(0.1, 0.0, 0.2, measure="RD", risks=(0.2, 0.1), n=(10, 10))
    with pytest.raises(ValueError, match="do not apply"):
        e_value(measure="RD", counts=(1, 2, 3, 4), rare=True)
    with pytest.raises(ValueError, match="alpha"):
        e_value(measure="RD", counts=(1, 2, 3, 4), alpha=1.5)
    with pytest.raises(ValueError, match="true must be"):
        e_value(measure="RD", counts=(1, 2, 3, 4), true=1.5)
    with pytest.raises(ValueError, match="applies only to measure='RD'"):
        e_value(2.0, measure="RR", counts=(1, 2, 3, 4))
    with pytest.raises(ValueError, match="estimate is required"):
        e_value(measure="RR")
