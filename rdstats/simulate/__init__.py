"""Operating-characteristics engine: scenario grids, reproducible streams, executors,
metrics with Monte Carlo standard errors, checkpointing and design specification files."""

from rdstats.simulate._engine import operating_characteristics
from rdstats.simulate._executors import local_cluster
from rdstats.simulate._result import OCResult
from rdstats.simulate._scenarios import Scenario, ScenarioGrid
from rdstats.simulate._spec import (
    SimulationSpec,
    design_from_spec,
    register_design,
    spec_from_design,
)

__all__ = [
    "OCResult",
    "Scenario",
    "ScenarioGrid",
    "SimulationSpec",
    "design_from_spec",
    "local_cluster",
    "operating_characteristics",
    "register_design",
    "spec_from_design",
]
