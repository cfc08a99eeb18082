"""operating_characteristics against independent brute-force reference values.

Every case lives in ``tests/reference/simulate.json``, written by
``tests/reference/scripts/simulate_reference.py`` (numpy/scipy only, no rdstats code).
The exact method must reproduce the stored values to the stated tolerance; the Monte
Carlo method must land within 4 Monte Carlo standard errors of them. Two cheap cases are
recomputed here with the generator's own functions, so the stored numbers are checked too.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rdstats.designs import DecisionRule, OneArmDesign, TwoArmDesign
from rdstats.priors import BetaMixture, GammaMixture
from rdstats.simulate import ScenarioGrid, operating_characteristics

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
DOC = json.loads((REFERENCE / "simulate.json").read_text())
CASES: list[dict[str, Any]] = DOC["cases"]
N_TRIALS = 20_000
IDS = [c["name"] for c in CASES]


def make_prior(spec: dict[str, Any]) -> Any:
    if spec["class"] == "BetaMixture":
        return BetaMixture(spec["weights"], spec["a"], spec["b"])
    if spec["class"] == "GammaMixture":
        return GammaMixture(spec["weights"], spec["shape"], spec["rate"])
    raise ValueError(spec["class"])


def make_design(inputs: dict[str, Any]) -> OneArmDesign | TwoArmDesign:
    r = inputs["rule"]
    rule = DecisionRule(r["prob"], r["threshold"], r["lower_tail"])
    if "prior_2" in inputs:
        return TwoArmDesign(
            make_prior(inputs["prior_1"]),
            inputs["n_1"],
            make_prior(inputs["prior_2"]),
            inputs["n_2"],
            rule,
        )
    return OneArmDesign(make_prior(inputs["prior"]), inputs["n"], rule)


def values(res: Any, metric: str) -> np.ndarray:
    return res.metric(metric)["value"].to_numpy()


def test_reference_file_is_documented():
    assert DOC["description"]
    for case in CASES:
        assert case["source"].startswith(
            "independent: tests/reference/scripts/simulate_reference.py"
        )
        assert "rdstats" not in case["source"].split(";")[0].replace("no rdstats code", "")
        assert case["tolerance"]["abs"] <= 1e-9
        assert case["min_decision_margin"] > 1e-7
        n_scen = len(next(iter(case["inputs"]["scenarios"].values())))
        assert all(len(v) == n_scen for v in case["expected"].values())


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def case_runs(request):
    case = request.param
    design = make_design(case["inputs"])
    grid = ScenarioGrid(case["inputs"]["scenarios"])
    exact = operating_characteristics(design, grid, method="exact")
    mc = operating_characteristics(design, grid, n_trials=N_TRIALS, rng=20260707, progress=False)
    return case, exact, mc


def test_exact_method(case_runs):
    case, exact, _ = case_runs
    tol = case["tolerance"]["abs"]
    for metric, expected in case["expected"].items():
        np.testing.assert_allclose(
            values(exact, metric), expected, rtol=0, atol=tol, err_msg=f"{case['name']}: {metric}"
        )
    assert (exact.metrics["mcse"] == 0).all()


def test_exact_method_matches_design_oc(case_runs):
    case, exact, _ = case_runs
    design = exact.design
    sc = case["inputs"]["scenarios"]
    if "theta" in sc:
        oc = design.oc(np.array(sc["theta"]))
    else:
        oc = design.oc(np.array(sc["theta_1"]), np.array(sc["theta_2"]))
    np.testing.assert_allclose(oc, case["expected"]["p_success"], rtol=0, atol=1e-9)


@pytest.mark.slow
def test_monte_carlo_within_4_mcse(case_runs):
    case, _, mc = case_runs
    for metric, expected in case["expected"].items():
        value = values(mc, metric)
        mcse = mc.metric(metric)["mcse"].to_numpy()
        assert np.all(mcse > 0), (case["name"], metric)
        z = (value - np.asarray(expected)) / mcse
        assert np.all(np.abs(z) <= 4), (case["name"], metric, z)


def _generator() -> Any:
    path = REFERENCE / "scripts" / "simulate_reference.py"
    spec = importlib.util.spec_from_file_location("_simulate_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_stored_values_recomputed():
    gen = _generator()
    by_name = {c["name"]: c for c in CASES}
    for name, inputs, estimation in gen.ONE_ARM:
        if name == "one-arm binomial, uniform prior, two criteria (dual)":
            expected, _ = gen.one_arm(inputs, estimation)
            assert inputs == by_name[name]["inputs"]
            for k, v in expected.items():
                np.testing.assert_allclose(v, by_name[name]["expected"][k], rtol=0, atol=1e-14)
    name, inputs = gen.TWO_ARM[0]
    expected, _ = gen.two_arm(inputs)
    for k, v in expected.items():
        np.testing.assert_allclose(v, by_name[name]["expected"][k], rtol=0, atol=1e-14)
