"""Operating-characteristics engine: scenario grids, reproducible streams, executors,
metrics with Monte Carlo standard errors, checkpointing and design specification files."""

from rdstats.simulate._engine import operating_characteristics
from rdstats.simulate._result import OCResult
from rdstats.simulate._scenarios import Scenario, ScenarioGrid

__all__ = ["OCResult", "Scenario", "ScenarioGrid", "operating_characteristics"]
