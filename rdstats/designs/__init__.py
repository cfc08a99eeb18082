"""Decision rules and one-/two-arm designs with exact boundaries and operating characteristics."""

from rdstats.designs._one_arm import OneArmDesign
from rdstats.designs._results import Boundary
from rdstats.designs._rules import DecisionRule
from rdstats.designs._two_arm import TwoArmDesign

__all__ = ["Boundary", "DecisionRule", "OneArmDesign", "TwoArmDesign"]
