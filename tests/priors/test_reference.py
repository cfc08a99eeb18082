"""Published and independently computed reference values for ``rdstats.priors``.

The cases live in ``tests/reference/priors.json`` (published: RBesT example output) and
``tests/reference/priors_computed.json`` (mpmath, written by
``tests/reference/scripts/priors_reference.py``); each names its source and tolerance.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rdstats.priors as rp

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
FILES = ("priors.json", "priors_computed.json")


def _load() -> list[Any]:
    params = []
    for fname in FILES:
        doc = json.loads((REFERENCE / fname).read_text())
        for case in doc["cases"]:
            params.append(pytest.param(case, id=f"{fname[:-5]}: {case['name']}"))
    return params


CASES = _load()


def build(spec: dict[str, Any]) -> rp.Mixture:
    """Rebuild a mixture from its ``to_dict()`` layout."""
    kw = dict(spec)
    cls = getattr(rp, kw.pop("class"))
    return cls(**kw)


def dist_of(inputs: dict[str, Any], key: str = "dist") -> Any:
    dist = build(inputs[key])
    if "posterior" in inputs:
        dist = dist.posterior(**inputs["posterior"])
    if "predictive_n" in inputs:
        dist = dist.predictive(inputs["predictive_n"])
    return dist


def components(dist: rp.Mixture, names: Any) -> dict[str, Any]:
    return {name: np.asarray(getattr(dist, name)) for name in names}


def evaluate(kind: str, inputs: dict[str, Any], expected: Any) -> Any:
    if kind == "components":
        return components(dist_of(inputs), expected)
    if kind == "moments":
        dist = dist_of(inputs)
        return {"mean": dist.mean(), "sd": dist.sd()}
    if kind == "ppf":
        return dist_of(inputs).ppf(inputs["q"])
    if kind == "cdf_pdf":
        dist = dist_of(inputs)
        return {name: getattr(dist, name)(inputs["x"]) for name in expected}
    if kind in ("prob_difference", "prob_difference_interval", "quantile_difference"):
        d1, d2 = build(inputs["dist_1"]), build(inputs["dist_2"])
        if kind == "quantile_difference":
            return rp.quantile_difference(d1, d2, inputs["p"])
        p = np.asarray(rp.prob_difference(d1, d2, inputs["q"]))
        if kind == "prob_difference_interval":
            return p[1] - p[0]
        return p if inputs.get("lower_tail", True) else 1 - p
    if kind == "ess":
        kw = {k: v for k, v in inputs.items() if k != "dist"}
        return rp.ess(build(inputs["dist"]), **kw)
    if kind == "robustify":
        kw = {k: v for k, v in inputs.items() if k != "dist"}
        return components(rp.robustify(build(inputs["dist"]), **kw), expected)
    if kind == "constructor":
        cls = getattr(rp, inputs["cls"])
        return components(getattr(cls, inputs["method"])(*inputs["args"]), expected)
    raise AssertionError(f"unknown kind {kind!r}")


def assert_close(got: Any, expected: Any, tol: dict[str, float], what: str) -> None:
    got_a = np.asarray(got, dtype=float)
    exp_a = np.asarray(expected, dtype=float)
    assert got_a.shape == exp_a.shape, f"{what}: shape {got_a.shape} != {exp_a.shape}"
    err = np.abs(got_a - exp_a)
    if "abs" in tol:
        bound = np.full_like(exp_a, tol["abs"])
    else:
        bound = tol["rel"] * np.abs(exp_a)
    bad = ~(err <= bound)
    assert not bad.any(), (
        f"{what}: got {got_a[bad].tolist()}, expected {exp_a[bad].tolist()} "
        f"(error {err[bad].tolist()} > {bound[bad].tolist()})"
    )


@pytest.mark.parametrize("case", CASES)
def test_reference_value(case: dict[str, Any]) -> None:
    got = evaluate(case["kind"], case["inputs"], case["expected"])
    if isinstance(case["expected"], dict):
        assert set(got) == set(case["expected"])
        for key, exp in case["expected"].items():
            assert_close(got[key], exp, case["tolerance"], key)
    else:
        assert_close(got, case["expected"], case["tolerance"], case["kind"])


def test_reference_files_are_complete() -> None:
    """Every case names its source and a tolerance of a known kind."""
    for fname in FILES:
        doc = json.loads((REFERENCE / fname).read_text())
        names = [c["name"] for c in doc["cases"]]
        assert len(names) == len(set(names)), f"duplicate case names in {fname}"
        for case in doc["cases"]:
            assert {"name", "kind", "source", "inputs", "expected", "tolerance"} <= set(case)
            assert case["source"].strip()
            assert set(case["tolerance"]) in ({"abs"}, {"rel"})


def test_published_morita_value_is_rounded_from_a_slightly_inexact_mode() -> None:
    """RBesT prints 8.487603; the same formula at the exact mode 0.9 gives 8.4876043."""
    prior = rp.BetaMixture([0.2, 0.8], [1, 10], [1, 2])
    assert rp.ess(prior, "morita") == pytest.approx(8.48760426, abs=5e-9)
