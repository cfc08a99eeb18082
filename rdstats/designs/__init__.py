"""Trial designs: decision rules; one- and two-arm designs with exact boundaries and
operating characteristics; single-arm sequential binary designs (Simon two-stage,
posterior monitoring, predictive probability, BOP2) with exact OCs; group-sequential
designs with spending functions; conditional power and sample-size re-estimation;
multi-arm designs with response-adaptive randomisation."""

from rdstats.designs._bayes_single_arm import (
    bop2_cutoffs,
    bop2_design,
    posterior_monitoring_design,
    posterior_probability,
    predictive_probability,
    predictive_probability_design,
)
from rdstats.designs._calibrate import ThresholdCalibration, calibrate_threshold
from rdstats.designs._conditional_power import conditional_power
from rdstats.designs._conditional_power_result import ConditionalPower
from rdstats.designs._design_search import DesignSearch, calibrate_bop2, search_predictive_design
from rdstats.designs._group_sequential import GroupSequentialDesign
from rdstats.designs._gs_results import GroupSequentialCharacteristics, GroupSequentialSampleSize
from rdstats.designs._multi_arm import MultiArmDesign
from rdstats.designs._one_arm import OneArmDesign
from rdstats.designs._rar import FixedAllocation, ThompsonAllocation
from rdstats.designs._results import Boundary
from rdstats.designs._rules import DecisionRule
from rdstats.designs._sequential_binary import SequentialBinaryDesign
from rdstats.designs._simon import SimonResult, SimonTwoStage, simon_two_stage
from rdstats.designs._spending import (
    HaybittlePeto,
    HwangShihDeCaniSpending,
    KimDeMetsSpending,
    OBrienFleming,
    OBrienFlemingSpending,
    Pocock,
    PocockSpending,
    UserSpending,
    WangTsiatis,
)
from rdstats.designs._ssr import SSRResult, cui_hung_wang, promising_zone
from rdstats.designs._ssr_design import PromisingZoneDesign
from rdstats.designs._two_arm import TwoArmDesign

__all__ = [
    "Boundary",
    "ConditionalPower",
    "DecisionRule",
    "DesignSearch",
    "FixedAllocation",
    "GroupSequentialCharacteristics",
    "GroupSequentialDesign",
    "GroupSequentialSampleSize",
    "HaybittlePeto",
    "HwangShihDeCaniSpending",
    "KimDeMetsSpending",
    "MultiArmDesign",
    "OBrienFleming",
    "OBrienFlemingSpending",
    "OneArmDesign",
    "Pocock",
    "PocockSpending",
    "PromisingZoneDesign",
    "SSRResult",
    "SequentialBinaryDesign",
    "SimonResult",
    "SimonTwoStage",
    "ThompsonAllocation",
    "ThresholdCalibration",
    "TwoArmDesign",
    "UserSpending",
    "WangTsiatis",
    "bop2_cutoffs",
    "bop2_design",
    "calibrate_bop2",
    "calibrate_threshold",
    "conditional_power",
    "cui_hung_wang",
    "posterior_monitoring_design",
    "posterior_probability",
    "predictive_probability",
    "predictive_probability_design",
    "promising_zone",
    "search_predictive_design",
    "simon_two_stage",
]
