"""The LaLonde case study (case_studies/lalonde): every number its README states is what
rdstats computes, and the published values it claims to reproduce agree to the precision
published (the MatchIt/cobalt values of tests/reference/external_lalonde.json, issue 6).

The README's tables are parsed, so the README cannot drift from the library. Each number is
compared at the precision it is printed with (half a unit of its last digit).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from rdstats.datasets import load_lalonde, load_nsw_experiment
from rdstats.external import (
    balance,
    e_value,
    estimate_effect,
    match,
    propensity_scores,
    ps_power_prior,
    weight,
)

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "case_studies" / "lalonde" / "README.md").read_text(encoding="utf-8")
REF = json.loads((ROOT / "tests" / "reference" / "external_lalonde.json").read_text())
MATCHIT = json.loads((ROOT / "tests" / "reference" / "external_matching.json").read_text())
COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]


def _number(cell: str) -> float:
    return float(cell.replace("−", "-").replace("*", "").strip())


def _tolerance(cell: str) -> float:
    """Half a unit of the last printed digit (mantissa digits for e-notation)."""
    text = cell.replace("−", "-").replace("*", "").strip()
    mantissa, _, exponent = text.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 0.5 * 10.0 ** (-decimals + (int(exponent) if exponent else 0)) + 1e-12


def _table(first_header: str) -> dict[str, list[str]]:
    """Rows of the README table whose header row starts with ``first_header``."""
    lines = README.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(f"| {first_header} |"))
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].replace("*", "")] = cells[1:]
    return rows


@pytest.fixture(scope="module")
def computed() -> dict[str, Any]:
    d = load_lalonde()
    nsw = load_nsw_experiment()
    t = d.treat.to_numpy() == 1
    ps = propensity_scores(d, "treat", COVS)
    before = balance(d, "treat", COVS, distance=ps.scores)
    out: dict[str, Any] = {"before": before}
    bench = estimate_effect(nsw, "re78", "treat", ci="model")
    rows = {"randomised benchmark": (bench.estimate, bench.ci_lower, bench.ci_upper, 185, 260)}
    naive = estimate_effect(d, "re78", "treat")
    rows["naive"] = (naive.estimate, naive.ci_lower, naive.ci_upper, 185, 429)
    # regression: OLS of re78 on treat + covariates, HC1 (computed by hand, no statsmodels)
    x = pd.get_dummies(d[COVS], columns=["race"], drop_first=True, dtype=float)
    xm = np.column_stack([np.ones(len(d)), t.astype(float), x.to_numpy(dtype=float)])
    y = d.re78.to_numpy(dtype=float)
    xtx_inv = np.linalg.inv(xm.T @ xm)
    beta = xtx_inv @ xm.T @ y
    resid = y - xm @ beta
    n, p = xm.shape
    cov = xtx_inv @ (xm.T * resid**2) @ xm @ xtx_inv * n / (n - p)
    se = float(np.sqrt(cov[1, 1]))
    rows["regression"] = (beta[1], beta[1] - 1.959963985 * se, beta[1] + 1.959963985 * se)
    matchings = {
        "nearest neighbour 1:1": match(d, "treat", COVS),
        "nearest neighbour, caliper 0.2": match(
            d, "treat", COVS, caliper=0.2, caliper_scale="logit"
        ),
        "optimal 1:1": match(d, "treat", COVS, method="optimal"),
        "full matching": match(d, "treat", COVS, method="full"),
    }
    for name, m in matchings.items():
        r = estimate_effect(m.matched_data, "re78", "treat", weights="weights", cluster="subclass")
        w0 = m.weights[~t]
        rows[name] = (
            r.estimate,
            r.ci_lower,
            r.ci_upper,
            int((m.weights[t] > 0).sum()),
            w0.sum() ** 2 / (w0**2).sum(),
        )
    for name, kw in (("odds weights", {}), ("entropy balancing", {"method": "entropy"})):
        w = weight(d, "treat", COVS, estimand="ATT", **kw)
        r = estimate_effect(d, "re78", "treat", weights=w.weights)
        rows[name] = (r.estimate, r.ci_lower, r.ci_upper, 185, w.ess["control"])
        out[name] = (w, r)
    for nb in (92, 185):
        b = ps_power_prior(d, "re78", COVS, study="treat", n_borrow=nb)
        rows[f"PS power prior, n_borrow = {nb}"] = (b.estimate, b.ci_lower, b.ci_upper, 185)
    out["rows"] = rows
    out["benchmark"] = bench
    out["nn_matchit"] = d.loc[t, "re78"].mean() - next(
        c["expected"]["mean_re78_matched_controls"]
        for c in MATCHIT["cases"]
        if c["name"] == "nearest 1:1 no replacement largest"
    )
    out["nn"] = rows["nearest neighbour 1:1"][0]
    return out


def _reproduced(c: dict[str, Any]) -> dict[str, float]:
    b, (w, r) = c["before"], c["odds weights"]
    return {
        "SMD of the propensity score, before adjustment": b.loc["distance", "smd_un"],
        "SMD age": b.loc["age", "smd_un"],
        "SMD educ": b.loc["educ", "smd_un"],
        "SMD re74": b.loc["re74", "smd_un"],
        "SMD re75": b.loc["re75", "smd_un"],
        "control ESS, ATT odds weights": w.ess["control"],
        "weighted ATT on re78 (odds weights)": r.estimate,
        "experimental benchmark ATT": c["benchmark"].estimate,
        "experimental benchmark SE": c["benchmark"].se,
    }


def test_readme_reproduction_table(computed: dict[str, Any]) -> None:
    table = _table("quantity")
    got = _reproduced(computed)
    assert set(table) == set(got)
    for name, (published, ours, diff) in table.items():
        value = got[name]
        assert value == pytest.approx(_number(published), abs=_tolerance(published)), name
        assert value == pytest.approx(_number(ours), abs=_tolerance(ours)), name
        assert value - _number(published) == pytest.approx(_number(diff), abs=_tolerance(diff))


def test_reproduction_matches_reference_file(computed: dict[str, Any]) -> None:
    """The README's published column is the issue's visible reference (same JSON as the
    external tests)."""
    table = _table("quantity")
    expected = {}
    for case in REF["cases"]:
        if case["kind"] in ("balance_unadjusted", "att_odds_weights"):
            expected.update(case["expected"])
    names = {
        "distance": "SMD of the propensity score, before adjustment",
        "age": "SMD age",
        "educ": "SMD educ",
        "re74": "SMD re74",
        "re75": "SMD re75",
        "control_ess": "control ESS, ATT odds weights",
        "att": "weighted ATT on re78 (odds weights)",
    }
    for key, label in names.items():
        assert _number(table[label][0]) == pytest.approx(expected[key], abs=1e-9)


def test_readme_results_table(computed: dict[str, Any]) -> None:
    table = _table("analysis")
    rows = computed["rows"]
    assert set(table) == set(rows)
    for name, cells in table.items():
        est, interval, used, ess = cells
        lo, hi = re.split(r"\s+to\s+", interval.replace("*", ""))
        values = rows[name]
        assert values[0] == pytest.approx(_number(est), abs=_tolerance(est)), name
        assert values[1] == pytest.approx(_number(lo), abs=_tolerance(lo)), name
        assert values[2] == pytest.approx(_number(hi), abs=_tolerance(hi)), name
        if len(values) > 3:
            assert values[3] == int(_number(used)), name
        if ess:
            assert values[4] == pytest.approx(_number(ess), abs=_tolerance(ess)), name


def test_readme_matchit_and_e_value(computed: dict[str, Any]) -> None:
    assert computed["nn"] == pytest.approx(computed["nn_matchit"], abs=1e-8)
    assert "ATT, 894.37, is MatchIt's" in README
    assert round(computed["nn"], 2) == 894.37
    _, r = computed["odds weights"]
    d = load_lalonde()
    ev = e_value(
        r.estimate, r.ci_lower, r.ci_upper, measure="MD", sd=d.loc[d.treat == 1, "re78"].std()
    )
    text = re.search(r"1\.\d\d for the point estimate, (\d) for the confidence", README)
    assert text is not None
    assert ev.e_value == pytest.approx(float(text.group(0)[:4]), abs=0.005)
    assert ev.e_value_ci == pytest.approx(float(text.group(1)))
