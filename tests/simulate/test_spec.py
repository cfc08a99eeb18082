"""Specification files (``SimulationSpec``): parsing, round trips, running, bad input.

Every example in ``simulations/*.toml`` must parse, survive ``to_toml`` / ``from_toml``
unchanged (also in behaviour: the rebuilt design has the same exact operating
characteristics) and run. Randomly generated valid specifications round-trip too. Bad
input raises ``ValueError`` whose message names the offending key path.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rdstats.designs import DecisionRule, OneArmDesign, TwoArmDesign
from rdstats.priors import BetaMixture, GammaMixture, NormalMixture, robustify
from rdstats.simulate import (
    ScenarioGrid,
    SimulationSpec,
    design_from_spec,
    spec_from_design,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "simulations").glob("*.toml"))
BINARY = ROOT / "simulations" / "two_arm_binary.toml"


def test_examples_found() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"one_arm_normal.toml", "two_arm_binary.toml", "two_arm_poisson.toml"} <= names


def exact_oc(design: Any, grid: ScenarioGrid) -> np.ndarray:
    """Exact P(success) of ``design`` at every scenario of ``grid``."""
    table = grid.table
    if isinstance(design, OneArmDesign):
        return np.asarray(design.oc(table["theta"].to_numpy()))
    if "theta_t" in table:  # HybridControlDesign: exact OCs of the scenario pairs
        pairs = design.oc(table["theta_t"].to_numpy(), table["theta_c"].to_numpy(), paired=True)
        return np.asarray(pairs["p_success"])
    return np.asarray(design.oc(table["theta_1"].to_numpy(), table["theta_2"].to_numpy()))


def assert_same_design(a: Any, b: Any) -> None:
    assert type(a) is type(b)
    assert a.to_dict() == b.to_dict()
    for name in ("prior", "prior_1", "prior_2", "rule", "n", "n_1", "n_2"):
        if hasattr(a, name):
            assert getattr(a, name) == getattr(b, name), name


# ------------------------------------------------------------------- example files
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_parses(path: Path) -> None:
    spec = SimulationSpec.read(path)
    raw = tomllib.loads(path.read_text())
    assert spec.title == raw.get("title", "")
    assert spec.n_trials == raw["simulation"]["n_trials"]
    assert spec.seed == raw["simulation"]["seed"]
    assert spec.method == "monte_carlo"
    assert type(spec.design).__name__ == raw["design"]["type"]
    assert len(spec.scenarios) >= 1
    assert set(spec.scenarios.parameters) == set(spec.design._parameters)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_round_trip(path: Path, tmp_path: Path) -> None:
    spec = SimulationSpec.read(path)
    text = spec.to_toml()
    again = SimulationSpec.from_toml(text)
    assert again == spec
    assert hash(again) == hash(spec)
    assert again.to_toml() == text  # a fixed point after one trip
    assert again.scenarios == spec.scenarios
    assert again.scenarios.labels == spec.scenarios.labels
    assert (again.n_trials, again.seed, again.batch_size, again.method) == (
        spec.n_trials,
        spec.seed,
        spec.batch_size,
        spec.method,
    )
    assert_same_design(again.design, spec.design)
    # write / read through a file
    written = SimulationSpec.read(spec.write(tmp_path / "spec.toml"))
    assert written == spec
    # the design rebuilt from its specification table behaves identically
    rebuilt = design_from_spec(spec_from_design(spec.design))
    assert_same_design(rebuilt, spec.design)
    expected = exact_oc(spec.design, spec.scenarios)
    np.testing.assert_array_equal(exact_oc(again.design, spec.scenarios), expected)
    np.testing.assert_array_equal(exact_oc(rebuilt, spec.scenarios), expected)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path: Path) -> None:
    spec = SimulationSpec.read(path).with_settings(n_trials=400)
    res = spec.run(progress=False)
    assert res.method == "monte_carlo"
    assert res.n_trials == 400
    assert res.provenance["spec"] == spec.to_dict()
    assert len(res.outcomes) == 400 * len(spec.scenarios)
    wide = res.summary(wide=True)
    assert list(wide.index) == spec.scenarios.labels
    p = wide["p_success"].to_numpy()
    mcse = wide["p_success_mcse"].to_numpy()
    assert np.all((p >= 0) & (p <= 1))
    # Monte Carlo agrees with the exact operating characteristics (fixed seed: no luck)
    exact = exact_oc(spec.design, spec.scenarios)
    # the binomial SD at the exact probability (the estimated MCSE is 0 when all 400
    # trials agree, which happens for probabilities near 0 or 1)
    sd = np.maximum(mcse, np.sqrt(exact * (1 - exact) / 400))
    assert np.all(np.abs(p - exact) <= 4.5 * sd + 2e-3), np.abs(p - exact) / sd
    # the exact method through the same spec
    ex = spec.with_settings(method="exact").run(progress=False)
    assert ex.method == "exact"
    assert ex.outcomes is None
    np.testing.assert_allclose(ex.summary(wide=True)["p_success"], exact, rtol=0, atol=1e-9)


def test_same_seed_same_numbers() -> None:
    spec = SimulationSpec.read(EXAMPLES[0]).with_settings(n_trials=300)
    a, b = spec.run(progress=False), spec.run(progress=False)
    assert a.compare(b) == []
    c = spec.with_settings(seed=spec.seed + 1).run(progress=False)
    assert c.compare(a) != []


def test_with_settings_validates_and_ignores_none() -> None:
    spec = SimulationSpec.read(BINARY)
    assert spec.with_settings(n_trials=None, seed=None) == spec
    new = spec.with_settings(n_trials=50, seed=3, batch_size=10, method="exact")
    assert (new.n_trials, new.seed, new.batch_size, new.method) == (50, 3, 10, "exact")
    assert SimulationSpec.from_toml(new.to_toml()) == new
    with pytest.raises(ValueError, match=r"simulation\.n_trials"):
        spec.with_settings(n_trials=-1)
    with pytest.raises(ValueError, match=r"simulation\..*'wrong'"):
        spec.with_settings(wrong=1)


# ------------------------------------------------------------------- robust priors
def test_robust_prior_of_example() -> None:
    spec = SimulationSpec.read(BINARY)
    historical = BetaMixture([0.6, 0.4], [10.0, 3.0], [40.0, 12.0])
    expected = robustify(historical, weight=0.2, mean=0.5)
    assert spec.design.prior_2 == expected
    assert spec.design.prior_2.n_components == 3
    np.testing.assert_allclose(spec.design.prior_2.weights, [0.48, 0.32, 0.2], rtol=1e-14)
    # written out as the expanded mixture, which reads back to the same prior
    table = spec.to_dict()["design"]["prior_2"]
    assert "robust" not in table
    assert SimulationSpec.from_toml(spec.to_toml()).design.prior_2 == expected


ONE_ARM_TEMPLATE = """
[design]
type = "OneArmDesign"
n = 20
rule = {{ prob = 0.9, threshold = {threshold} }}
prior = {prior}
[scenarios.grid]
theta = {theta}
"""


@pytest.mark.parametrize(
    ("prior", "theta", "threshold", "expected"),
    [
        (
            '{ family = "beta", weights = [0.3, 0.7], a = [2, 5], b = [8, 5], '
            "robust = { weight = 0.25, mean = 0.3, n = 2 } }",
            "[0.2, 0.4]",
            0.3,
            robustify(BetaMixture([0.3, 0.7], [2, 5], [8, 5]), weight=0.25, mean=0.3, n=2),
        ),
        (
            '{ family = "beta", weights = [1.0], a = [2], b = [8], robust = { weight = 0.1 } }',
            "[0.2, 0.4]",
            0.3,
            robustify(BetaMixture(1.0, 2, 8), weight=0.1),
        ),
        (
            '{ family = "normal", weights = [1.0], mean = [1.0], sd = [0.5], sigma = 2.0, '
            "robust = { weight = 0.3, mean = 0.0, sigma = 3.0 } }",
            "[0.0, 1.0]",
            0.5,
            robustify(NormalMixture(1.0, 1.0, 0.5, sigma=2.0), weight=0.3, mean=0.0, sigma=3.0),
        ),
        (
            '{ family = "gamma", weights = [1.0], shape = [8.0], rate = [4.0], '
            'likelihood = "poisson", robust = { weight = 0.2, mean = 2.0, n = 0.5 } }',
            "[1.0, 2.0]",
            1.5,
            robustify(GammaMixture(1.0, 8.0, 4.0), weight=0.2, mean=2.0, n=0.5),
        ),
    ],
    ids=["beta", "beta-default-mean", "normal", "gamma"],
)
def test_robust_prior_families(prior: str, theta: str, threshold: float, expected: Any) -> None:
    text = ONE_ARM_TEMPLATE.format(prior=prior, theta=theta, threshold=threshold)
    spec = SimulationSpec.from_toml(text)
    assert spec.design.prior == expected
    assert SimulationSpec.from_toml(spec.to_toml()) == spec
    direct = OneArmDesign(expected, 20, DecisionRule(0.9, threshold))
    np.testing.assert_array_equal(
        exact_oc(spec.design, spec.scenarios), exact_oc(direct, spec.scenarios)
    )


# ----------------------------------------------------- random valid specs (hypothesis)
def _weights(k: int) -> st.SearchStrategy[list[float]]:
    raw = st.lists(st.floats(0.05, 1.0), min_size=k, max_size=k)
    return raw.map(lambda v: (np.asarray(v) / np.sum(v)).tolist())


@st.composite
def prior_tables(draw: Any, family: str, sigma: float | None = None) -> dict[str, Any]:
    k = draw(st.integers(1, 3))
    out: dict[str, Any] = {"family": family, "weights": draw(_weights(k))}

    def floats(lo: float, hi: float) -> list[float]:
        return draw(st.lists(st.floats(lo, hi), min_size=k, max_size=k))

    if family == "beta":
        out.update(a=floats(0.2, 40), b=floats(0.2, 40))
        robust = {"weight": draw(st.floats(0.05, 0.5)), "mean": draw(st.floats(0.1, 0.9))}
    elif family == "normal":
        out.update(mean=floats(-5, 5), sd=floats(0.2, 5), sigma=sigma)
        robust = {"weight": draw(st.floats(0.05, 0.5)), "mean": draw(st.floats(-2, 2))}
    else:
        out.update(shape=floats(0.2, 20), rate=floats(0.1, 10), likelihood="poisson")
        robust = {"weight": draw(st.floats(0.05, 0.5)), "mean": draw(st.floats(0.2, 5))}
    if draw(st.booleans()):
        if draw(st.booleans()):
            robust["n"] = draw(st.floats(0.5, 4))
        out["robust"] = robust
    return out


@st.composite
def rule_tables(draw: Any, lo: float, hi: float) -> dict[str, Any]:
    k = draw(st.integers(1, 3))
    prob = draw(st.lists(st.floats(0.5, 0.99), min_size=k, max_size=k))
    threshold = draw(st.lists(st.floats(lo, hi), min_size=k, max_size=k))
    out: dict[str, Any] = {
        "prob": prob[0] if k == 1 and draw(st.booleans()) else prob,
        "threshold": threshold,
    }
    if draw(st.booleans()):
        out["lower_tail"] = draw(st.lists(st.booleans(), min_size=k, max_size=k))
    return out


_RANGES = {"beta": (0.0, 1.0), "normal": (-3.0, 3.0), "gamma": (0.0, 5.0)}


@st.composite
def scenario_tables(draw: Any, parameters: list[str], family: str) -> dict[str, Any]:
    lo, hi = _RANGES[family]
    values = st.floats(lo, hi).map(lambda v: round(v, 3))
    if draw(st.booleans()):  # full factorial grid
        return {
            "grid": {
                p: draw(st.lists(values, min_size=1, max_size=3, unique=True)) for p in parameters
            }
        }
    rows = draw(
        st.lists(st.tuples(*[values for _ in parameters]), min_size=1, max_size=4, unique=True)
    )
    table: dict[str, Any] = {p: [r[i] for r in rows] for i, p in enumerate(parameters)}
    if draw(st.booleans()):
        table["label"] = [f"scenario {i} <{chr(97 + i)}>" for i in range(len(rows))]
    if draw(st.booleans()):
        table["null"] = draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows)))
    return {"table": table}


@st.composite
def spec_dicts(draw: Any) -> dict[str, Any]:
    family = draw(st.sampled_from(["beta", "normal", "gamma"]))
    sigma = draw(st.floats(0.5, 5)) if family == "normal" else None
    lo, hi = {"beta": (-0.5, 0.5), "normal": (-2, 2), "gamma": (-2, 2)}[family]
    rule = draw(rule_tables(lo, hi))
    if family == "gamma":
        size = st.floats(0.5, 30).map(lambda v: round(v, 2))
    else:
        size = st.integers(1, 40)
    if draw(st.booleans()):
        design = {
            "type": "OneArmDesign",
            "n": draw(size),
            "prior": draw(prior_tables(family, sigma)),
            "rule": rule,
        }
        params = ["theta"]
    else:
        design = {
            "type": "TwoArmDesign",
            "n_1": draw(size),
            "n_2": draw(size),
            "prior_1": draw(prior_tables(family, sigma)),
            "prior_2": draw(prior_tables(family, sigma)),
            "rule": rule,
        }
        params = ["theta_1", "theta_2"]
    sim: dict[str, Any] = {"n_trials": draw(st.integers(1, 10**6))}
    if draw(st.booleans()):
        sim["seed"] = draw(st.integers(0, 2**63 - 1))
    if draw(st.booleans()):
        sim["batch_size"] = draw(st.integers(1, 10**5))
    if draw(st.booleans()):
        sim["method"] = draw(st.sampled_from(["monte_carlo", "exact"]))
    out: dict[str, Any] = {
        "design": design,
        "scenarios": draw(scenario_tables(params, family)),
        "simulation": sim,
    }
    if draw(st.booleans()):
        out["title"] = draw(st.text(max_size=30))
    if draw(st.booleans()):
        out["description"] = draw(st.text(max_size=60))
    return out


ROUND_TRIP = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@ROUND_TRIP
@given(spec_dicts())
def test_random_specs_round_trip(data: dict[str, Any]) -> None:
    text = tomli_w.dumps(data)
    spec = SimulationSpec.from_toml(text)
    again = SimulationSpec.from_toml(spec.to_toml())
    assert again == spec
    assert again.to_dict() == spec.to_dict()
    assert again.scenarios == spec.scenarios
    assert_same_design(again.design, spec.design)
    sim = data["simulation"]
    assert again.n_trials == sim["n_trials"]
    assert again.seed == sim.get("seed")
    assert again.batch_size == sim.get("batch_size")
    assert again.method == sim.get("method", "monte_carlo")
    assert again.title == data.get("title", "")
    assert again.description == data.get("description", "")
    assert len(again.scenarios) == len(spec.scenarios)
    # the priors are those the table describes (robustified where asked)
    design = data["design"]
    for name in ("prior", "prior_1", "prior_2"):
        if name in design:
            table = dict(design[name])
            family = table.pop("family")
            robust = table.pop("robust", None)
            cls = {"beta": BetaMixture, "normal": NormalMixture, "gamma": GammaMixture}[family]
            prior = cls(**table)
            if robust is not None:
                prior = robustify(prior, **robust)
            assert getattr(spec.design, name) == prior
    assert spec.design.rule == DecisionRule(**design["rule"])


FEW = settings(max_examples=8, deadline=None, derandomize=True)


@FEW
@given(spec_dicts())
def test_random_specs_same_behaviour(data: dict[str, Any]) -> None:
    spec = SimulationSpec.from_dict(data)
    again = SimulationSpec.from_toml(spec.to_toml())
    np.testing.assert_array_equal(
        exact_oc(again.design, spec.scenarios), exact_oc(spec.design, spec.scenarios)
    )


# ------------------------------------------------------------------------ bad input
def _normalised(message: str) -> str:
    """``design.rule: prob must`` and ``design.'foo'`` both read as a dotted key path."""
    return message.replace("'", "").replace('"', "").replace(": ", ".")


def base() -> dict[str, Any]:
    return tomllib.loads(BINARY.read_text())


def _set(d: dict[str, Any], path: str, value: Any) -> None:
    *head, last = path.split(".")
    for k in head:
        d = d[k]
    d[last] = value


def _del(d: dict[str, Any], path: str) -> None:
    *head, last = path.split(".")
    for k in head:
        d = d[k]
    del d[last]


def _check(data: dict[str, Any], *expected: str) -> str:
    text = tomli_w.dumps(data)
    with pytest.raises(ValueError) as info:
        SimulationSpec.from_toml(text)
    message = str(info.value)
    for part in expected:
        assert part in _normalised(message), message
    return message


def test_base_is_valid() -> None:
    assert SimulationSpec.from_dict(base()) == SimulationSpec.read(BINARY)


def test_malformed_toml() -> None:
    for text in ("[design\n", "title = \n", "a = 1\na = 2\n", "x = [1, 2"):
        with pytest.raises(ValueError, match="malformed TOML"):
            SimulationSpec.from_toml(text)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("colour", "colour"),
        ("design.colour", "design.colour"),
        ("design.prior_1.wieghts", "design.prior_1.wieghts"),
        ("design.prior_2.robust.wieght", "design.prior_2.robust.wieght"),
        ("design.rule.lower_tails", "design.rule.lower_tails"),
        ("simulation.n_trail", "simulation.n_trail"),
        ("scenarios.grids", "scenarios.grids"),
    ],
)
def test_unknown_key(path: str, expected: str) -> None:
    data = base()
    _set(data, path, 1)
    message = _check(data, expected)
    assert "unknown key" in message


def test_unknown_design_type() -> None:
    data = base()
    data["design"]["type"] = "ThreeArmDesign"
    message = _check(data, "design.type", "ThreeArmDesign")
    assert "OneArmDesign" in message and "TwoArmDesign" in message


def test_unknown_family() -> None:
    data = base()
    data["design"]["prior_1"]["family"] = "lognormal"
    message = _check(data, "design.prior_1.family", "lognormal")
    assert "beta" in message and "gamma" in message and "normal" in message


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("design", "design"),
        ("scenarios", "scenarios"),
        ("design.type", "design.type"),
        ("design.n_1", "n_1"),
        ("design.prior_2", "prior_2"),
        ("design.rule", "rule"),
        ("design.prior_1.family", "design.prior_1.family"),
        ("design.prior_1.weights", "weights"),
        ("design.prior_1.a", "a"),
        ("design.prior_2.b", "b"),
        ("design.rule.prob", "prob"),
        ("design.rule.threshold", "threshold"),
        ("design.prior_2.robust.weight", "weight"),
        ("scenarios.grid", "scenarios"),
    ],
)
def test_missing_key(path: str, expected: str) -> None:
    data = base()
    _del(data, path)
    parent = path.rpartition(".")[0]
    message = _check(data, expected, parent)
    if path not in ("design.type", "design.prior_1.family", "scenarios.grid"):
        assert "missing" in message


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("design.n_1", -3, "design.n_1"),
        ("design.n_1", 2.5, "design.n_1"),
        ("design.n_1", "thirty", "design.n_1"),
        ("design.n_2", -1, "design.n_2"),
        ("design.rule.prob", 1.5, "design.rule.prob"),
        ("design.rule.prob", [0.95, 0.0], "design.rule.prob"),
        ("design.rule.lower_tail", "yes", "design.rule.lower_tail"),
        ("design.rule.threshold", [0.0, 0.1, 0.2], "design.rule"),
        ("design.prior_1.weights", [-1.0], "design.prior_1.weights"),
        ("design.prior_2.weights", [1.2, -0.2], "design.prior_2.weights"),
        ("design.prior_2.weights", [0.5, 0.2], "design.prior_2.weights"),
        ("design.prior_1.a", [-0.5], "design.prior_1.a"),
        ("design.prior_1.b", [0.0], "design.prior_1.b"),
        ("design.prior_2.robust.weight", 1.5, "design.prior_2.robust.weight"),
        ("design.prior_2.robust.mean", 2.0, "design.prior_2.robust.mean"),
        ("design.prior_1", 3, "design.prior_1"),
        ("design.rule", "strict", "design.rule"),
        ("simulation.n_trials", 0, "simulation.n_trials"),
        ("simulation.n_trials", -5, "simulation.n_trials"),
        ("simulation.n_trials", 2.5, "simulation.n_trials"),
        ("simulation.n_trials", True, "simulation.n_trials"),
        ("simulation.batch_size", 0, "simulation.batch_size"),
        ("simulation.seed", -1, "simulation.seed"),
        ("simulation.seed", 1.5, "simulation.seed"),
        ("simulation.method", "bayes", "simulation.method"),
        ("simulation", 3, "simulation"),
        ("scenarios", [1, 2], "scenarios"),
        ("scenarios.grid.theta_1", ["high"], "scenarios"),
    ],
)
def test_out_of_range(path: str, value: Any, expected: str) -> None:
    data = base()
    _set(data, path, value)
    _check(data, expected)


def test_method_bayes_names_choices() -> None:
    data = base()
    data["simulation"]["method"] = "bayes"
    message = _check(data, "simulation.method", "bayes")
    assert "monte_carlo" in message and "exact" in message


def test_mixed_families() -> None:
    data = base()
    data["design"]["prior_1"] = {"family": "gamma", "weights": [1.0], "shape": [1], "rate": [1]}
    _check(data, "design", "prior_1", "prior_2", "same family")


def test_normal_prior_without_sigma() -> None:
    data = tomllib.loads((ROOT / "simulations" / "one_arm_normal.toml").read_text())
    del data["design"]["prior"]["sigma"]
    _check(data, "design", "sigma")


def test_scenarios_grid_and_table() -> None:
    data = base()
    data["scenarios"]["table"] = {"theta_1": [0.2], "theta_2": [0.3]}
    _check(data, "scenarios", "grid", "table")


def test_scenarios_duplicate_rows() -> None:
    data = base()
    data["scenarios"] = {"table": {"theta_1": [0.2, 0.2], "theta_2": [0.3, 0.3]}}
    _check(data, "scenarios", "unique")
    data["scenarios"]["table"]["label"] = ["a", "b"]
    _check(data, "scenarios", "distinct")


@pytest.mark.parametrize(
    ("scenarios", "expected"),
    [
        ({"grid": {"theta": [0.2, 0.3]}}, "theta_1"),
        ({"grid": {"theta_1": [-0.15, 0.3], "theta_2": [0.2]}}, "theta_1"),
    ],
    ids=["wrong-parameter", "out-of-range"],
)
def test_scenarios_checked_against_design(scenarios: dict[str, Any], expected: str) -> None:
    data = base()
    data["scenarios"] = scenarios
    _check(data, "scenarios", expected)


def test_read_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        SimulationSpec.read(tmp_path / "nothere.toml")
    with pytest.raises(FileNotFoundError):
        SimulationSpec.read(tmp_path)  # a directory is not a specification file


def test_read_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    data = base()
    data["design"]["prior_1"]["wieghts"] = [1.0]
    bad.write_text(tomli_w.dumps(data))
    with pytest.raises(ValueError, match="wieghts") as info:
        SimulationSpec.read(bad)
    assert "bad.toml" in str(info.value)
    bad.write_text("[design\n")
    with pytest.raises(ValueError, match="malformed TOML"):
        SimulationSpec.read(bad)


def test_design_from_spec_errors() -> None:
    table = copy.deepcopy(base()["design"])
    assert isinstance(design_from_spec(table), TwoArmDesign)
    with pytest.raises(ValueError, match="design must be a table"):
        design_from_spec([1, 2])

    class Unregistered:
        def to_dict(self) -> dict[str, Any]:
            return {"design": "Unregistered"}

    with pytest.raises(TypeError, match="Unregistered is not registered"):
        spec_from_design(Unregistered())
