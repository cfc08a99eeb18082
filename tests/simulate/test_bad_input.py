"""Bad input raises at the call that made the mistake, naming the argument and the value,
and nothing is written to a checkpoint store when validation fails."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from rdstats.designs import DecisionRule, OneArmDesign, TwoArmDesign
from rdstats.priors import BetaMixture, GammaMixture
from rdstats.simulate import OCResult, ScenarioGrid, operating_characteristics

DESIGN = OneArmDesign(BetaMixture(1, 1, 1), 20, DecisionRule(0.9, 0.2))
POISSON = OneArmDesign(GammaMixture(1, 1, 1), 5.0, DecisionRule(0.9, 0.2))
TWO_ARM = TwoArmDesign(BetaMixture(1, 1, 1), 10, BetaMixture(1, 1, 1), 10, DecisionRule(0.9, 0.0))
GRID = {"theta": [0.2, 0.4]}


def oc(design: Any = DESIGN, scenarios: Any = GRID, **kw: Any):
    kw.setdefault("n_trials", 100)
    kw.setdefault("rng", 1)
    kw.setdefault("progress", False)
    return operating_characteristics(design, scenarios, **kw)


class NoHooks:
    """Not a design: no simulation hooks at all."""


class SimulateOnly:
    _parameters: ClassVar[tuple[str, ...]] = ("theta",)

    def _simulate(self, params: Mapping[str, float], size: int, rng: np.random.Generator):
        return {"success": rng.random(size) < params["theta"]}


class WrongShape(SimulateOnly):
    def _simulate(self, params, size, rng):
        return {"success": np.zeros(size, bool), "estimate": np.zeros(size + 1)}


class NotAMapping(SimulateOnly):
    def _simulate(self, params, size, rng):
        return np.zeros(size, bool)


class NoSuccess(SimulateOnly):
    def _simulate(self, params, size, rng):
        return {"estimate": np.zeros(size)}


# -- arguments of operating_characteristics ----------------------------------------------------
@pytest.mark.parametrize("n_trials", [0, -1, 1.5, True, "100", None])
def test_n_trials(n_trials):
    with pytest.raises(
        ValueError, match=rf"n_trials must be a positive integer, got {re.escape(repr(n_trials))}"
    ):
        oc(n_trials=n_trials)


@pytest.mark.parametrize("batch_size", [0, -5, 2.5, False])
def test_batch_size(batch_size):
    with pytest.raises(
        ValueError,
        match=rf"batch_size must be a positive integer, got {re.escape(repr(batch_size))}",
    ):
        oc(batch_size=batch_size)


def test_numpy_integers_are_accepted():
    res = oc(n_trials=np.int64(50), batch_size=np.int32(20))
    assert res.n_trials == 50 and len(res.outcomes) == 100


@pytest.mark.parametrize("method", ["foo", "Exact", None, "mc"])
def test_method(method):
    with pytest.raises(ValueError, match=rf"method must be one of .*got {re.escape(repr(method))}"):
        oc(method=method)


@pytest.mark.parametrize("backend", ["threads", "Dask", "", 2])
def test_unknown_backend(backend):
    with pytest.raises(
        ValueError, match=rf"backend must be one of .*got {re.escape(repr(backend))}"
    ):
        oc(backend=backend)


def test_executor_and_backend_both():
    import concurrent.futures as cf

    with (
        cf.ThreadPoolExecutor(1) as pool,
        pytest.raises(ValueError, match=r"executor or backend.*'processes'"),
    ):
        oc(executor=pool, backend="processes")


def test_executor_of_wrong_type():
    with pytest.raises(TypeError, match=r"executor must be .*got NoHooks"):
        oc(executor=NoHooks())


@pytest.mark.parametrize("backend", [None, "serial", "processes"])
def test_address_without_dask(backend):
    with pytest.raises(ValueError, match=r"address='tcp://127.0.0.1:8786' needs backend='dask'"):
        oc(backend=backend, address="tcp://127.0.0.1:8786")


@pytest.mark.parametrize("address", ["", 8786])
def test_address_not_a_string(address):
    with pytest.raises(ValueError, match="address must be a scheduler address"):
        oc(backend="dask", address=address)


@pytest.mark.parametrize("workers", [0, -2, 1.5, True, "2"])
def test_workers(workers):
    with pytest.raises(
        ValueError, match=rf"workers must be a positive integer, got {re.escape(repr(workers))}"
    ):
        oc(backend="processes", workers=workers)


@pytest.mark.slow
def test_unreachable_dask_scheduler(tmp_path):
    store = tmp_path / "store"
    start = time.monotonic()
    with pytest.raises(ConnectionError, match=r"address='tcp://127.0.0.1:1'"):
        oc(backend="dask", address="tcp://127.0.0.1:1", store=store)
    assert time.monotonic() - start < 60
    assert not store.exists()  # the store is opened only once the executor is up


# -- rng ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rng", "error", "match"),
    [
        (-1, ValueError, "rng must be a non-negative integer seed, got -1"),
        (np.int64(-7), ValueError, "rng must be a non-negative integer seed, got -7"),
        (1.5, TypeError, "rng must be None, an int, a SeedSequence or a Generator, got float"),
        ("42", TypeError, "rng must be None, an int, a SeedSequence or a Generator, got str"),
        (True, TypeError, "rng must be None, an int, .* got True"),
        (np.random.RandomState(1), TypeError, "got RandomState"),
        ([1, 2], TypeError, "got list"),
    ],
)
def test_rng(rng, error, match):
    with pytest.raises(error, match=match):
        oc(rng=rng)


# -- scenarios ------------------------------------------------------------------------------
def test_missing_parameter_column():
    with pytest.raises(
        ValueError, match=r"scenarios have parameters \['p'\], but OneArmDesign needs \['theta'\]"
    ):
        oc(scenarios={"p": [0.2]})
    with pytest.raises(
        ValueError, match=r"\['theta_1'\].*TwoArmDesign needs \['theta_1', 'theta_2'\]"
    ):
        oc(TWO_ARM, {"theta_1": [0.2]})


def test_extra_parameter_column():
    with pytest.raises(
        ValueError, match=r"\['theta', 'theta_2'\], but OneArmDesign needs \['theta'\]"
    ):
        oc(scenarios={"theta": [0.2], "theta_2": [0.3]})


@pytest.mark.parametrize(
    ("design", "scenarios", "match"),
    [
        (
            DESIGN,
            {"theta": [0.2, 1.5]},
            r"theta must be response probabilities in \[0, 1\], got 1.5",
        ),
        (DESIGN, {"theta": [-0.1]}, r"theta must be .*got -0.1"),
        (POISSON, {"theta": [-1.0]}, "theta must be non-negative event rates, got -1.0"),
        (TWO_ARM, {"theta_1": [0.3], "theta_2": [1.2]}, r"theta_2 must be .*got 1.2"),
    ],
)
def test_theta_out_of_range(design, scenarios, match):
    for method in ("monte_carlo", "exact"):
        with pytest.raises(ValueError, match=match):
            oc(design, scenarios, method=method)


def test_duplicated_scenarios():
    with pytest.raises(ValueError, match=r"labels must be unique, duplicated: \['theta=0.2'\]"):
        oc(scenarios={"theta": [0.2, 0.3, 0.2]})
    grid = pd.DataFrame({"theta": [0.2, 0.2], "label": ["a", "b"]})
    with pytest.raises(ValueError, match="scenarios must be distinct"):
        oc(scenarios=grid)
    with pytest.raises(ValueError, match=r"scenario labels must be unique.*'a'"):
        oc(scenarios=pd.DataFrame({"theta": [0.2, 0.3], "label": ["a", "a"]}))


def test_duplicated_scenarios_named_in_message():
    grid = pd.DataFrame({"theta": [0.25, 0.4, 0.25], "label": ["a", "b", "c"]})
    with pytest.raises(ValueError, match=r"0\.25"):
        oc(scenarios=grid)


@pytest.mark.parametrize(
    ("values", "match"),
    [
        (["abc"], r"parameter 'theta' must be numeric"),
        ([None], r"parameter 'theta' must be numeric"),
        ([np.nan], r"parameter 'theta' must be finite, got \[nan\]"),
        ([np.inf], r"parameter 'theta' must be finite"),
        ([[0.1, 0.2]], r"parameter 'theta' must be numeric"),
    ],
)
def test_non_numeric_parameters(values, match):
    with pytest.raises(ValueError, match=match):
        oc(scenarios={"theta": values})


def test_boolean_parameters_rejected():
    with pytest.raises(ValueError, match="theta"):
        ScenarioGrid({"theta": [True, False]})


@pytest.mark.parametrize("scenarios", [{"theta": []}, pd.DataFrame(), pd.DataFrame({"theta": []})])
def test_empty_grid(scenarios):
    with pytest.raises(ValueError, match="at least one scenario"):
        oc(scenarios=scenarios)


def test_grid_without_parameters():
    with pytest.raises(ValueError, match="at least one parameter column"):
        oc(scenarios={"label": ["a"]})


@pytest.mark.parametrize("scenarios", [[0.2, 0.3], 0.2, "theta=0.2", None])
def test_scenarios_of_wrong_type(scenarios):
    with pytest.raises(
        TypeError, match="scenarios must be a ScenarioGrid, a DataFrame or a mapping"
    ):
        oc(scenarios=scenarios)


def test_bad_parameter_names_and_columns():
    with pytest.raises(ValueError, match="parameter names must be identifiers, got 'the ta'"):
        ScenarioGrid({"the ta": [0.2]})
    with pytest.raises(ValueError, match="column 'null' must hold booleans"):
        ScenarioGrid({"theta": [0.2], "null": ["yes"]})
    with pytest.raises(ValueError, match="equal lengths"):
        ScenarioGrid({"theta": [0.2, 0.3], "label": ["a"]})
    with pytest.raises(TypeError, match="table must be a DataFrame or a mapping"):
        ScenarioGrid([0.2])


def test_grid_constructors():
    with pytest.raises(ValueError, match="at least one parameter"):
        ScenarioGrid.cartesian()
    with pytest.raises(ValueError, match="parameter 'theta' has no values"):
        ScenarioGrid.cartesian(theta=[], n=[1])
    grid = ScenarioGrid.cartesian(theta=[0.1, 0.2])
    with pytest.raises(ValueError, match="null must be 2 booleans"):
        grid.with_null([1, 0])
    with pytest.raises(ValueError, match="null must be 2 booleans"):
        grid.with_null([True])
    with pytest.raises(ValueError, match="exactly one of the keys 'grid' or 'table'"):
        ScenarioGrid.from_dict({"grid": {"theta": [0.1]}, "table": {"theta": [0.1]}})
    with pytest.raises(ValueError, match="exactly one of the keys"):
        ScenarioGrid.from_dict({"theta": [0.1]})
    with pytest.raises(AttributeError, match="immutable"):
        grid._table = None


# -- designs ------------------------------------------------------------------------------------
def test_design_without_simulate():
    with pytest.raises(TypeError, match=r"design NoHooks does not implement _simulate\(\)"):
        oc(NoHooks())


def test_exact_for_design_without_exact():
    with pytest.raises(
        TypeError, match=r"SimulateOnly does not implement _exact\(\); use method='monte_carlo'"
    ):
        oc(SimulateOnly(), method="exact")
    assert oc(SimulateOnly()).metric("p_success")["value"].between(0, 1).all()


def test_simulate_returning_wrong_shape():
    with pytest.raises(
        ValueError,
        match=r"WrongShape\._simulate\(\) returned 'estimate' with shape \(101,\), "
        r"expected \(100,\)",
    ):
        oc(WrongShape())


@pytest.mark.parametrize("design", [NotAMapping(), NoSuccess()])
def test_simulate_without_success(design):
    with pytest.raises(
        TypeError, match=r"_simulate\(\) must return a mapping with a 'success' array"
    ):
        oc(design)


# -- store ----------------------------------------------------------------------------------
def test_store_is_a_file(tmp_path):
    f = tmp_path / "results.txt"
    f.write_text("not a directory")
    with pytest.raises(
        ValueError, match=rf"store={re.escape(repr(str(f)))} exists and is not a directory"
    ):
        oc(store=f)
    assert f.read_text() == "not a directory"


def test_store_of_wrong_type():
    with pytest.raises(TypeError, match="store must be a directory path, got int"):
        oc(store=5)


def test_store_with_exact_method(tmp_path):
    with pytest.raises(ValueError, match="store is for Monte Carlo runs"):
        oc(method="exact", store=tmp_path / "store")
    assert not (tmp_path / "store").exists()


INVALID_CALLS = [
    {"n_trials": 0},
    {"batch_size": 0},
    {"method": "foo"},
    {"backend": "threads"},
    {"address": "tcp://127.0.0.1:8786"},
    {"backend": "processes", "workers": 0},
    {"rng": -1},
    {"rng": "seed"},
    {"scenarios": {"theta": [1.5]}},
    {"scenarios": {"theta": [0.2, 0.2]}},
    {"scenarios": {"p": [0.2]}},
    {"scenarios": {"theta": ["abc"]}},
    {"scenarios": {"theta": []}},
    {"design": NoHooks()},
    {"design": SimulateOnly(), "method": "exact"},
]


@pytest.mark.parametrize("kwargs", INVALID_CALLS, ids=lambda kw: "-".join(f"{k}" for k in kw))
def test_nothing_written_when_validation_fails(tmp_path, kwargs):
    store = tmp_path / "new"
    empty = tmp_path / "empty"
    empty.mkdir()
    for path in (store, empty):
        with pytest.raises((ValueError, TypeError)):
            oc(store=path, **kwargs)
    assert not store.exists()
    assert list(empty.iterdir()) == []


# -- results ----------------------------------------------------------------------------------
def test_result_summary_unknown_metric():
    res = oc()
    with pytest.raises(
        ValueError, match=r"metrics \['power_x'\] are not in this result; available"
    ):
        res.summary(metrics=["power_x"])
    with pytest.raises(ValueError, match="power_x"):
        res.metric("power_x")


def test_load_incomplete_result(tmp_path):
    res = oc()
    res.save(tmp_path / "r")
    (tmp_path / "r" / "provenance.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"provenance\.json missing"):
        OCResult.load(tmp_path / "r")
    with pytest.raises(FileNotFoundError, match="no complete simulation result"):
        OCResult.load(tmp_path / "nowhere")
