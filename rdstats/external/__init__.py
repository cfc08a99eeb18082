"""External and synthetic controls from natural-history and real-world data: propensity
scores, matching, weighting (incl. entropy balancing), balance diagnostics, outcome
analyses on matched or weighted samples (including survival), prognostic-score
adjustment (PROCOVA), PS-integrated Bayesian borrowing (PS-stratified power prior, hybrid
control on propensity-weighted external data), sensitivity analyses for unmeasured
confounding, and the simulation of external-control designs (ExternalControlDesign).

statsmodels and lifelines are imported only when a function needs them.
"""

from rdstats.external._balance import balance, love_plot
from rdstats.external._bias_analysis import BiasAnalysis, bias_adjust
from rdstats.external._design import ExternalControlDesign
from rdstats.external._design_compare import ExternalDesignComparison, compare_external_analyses
from rdstats.external._effects import EffectEstimate, estimate_effect
from rdstats.external._hybrid_control import HybridControl, hybrid_control
from rdstats.external._logrank import LogrankResult, logrank
from rdstats.external._matching import MatchResult, match
from rdstats.external._procova import ProcovaResult, procova, procova_sample_size
from rdstats.external._prognostic import PrognosticModel, prognostic_model
from rdstats.external._propensity import PropensityScores, propensity_scores
from rdstats.external._ps_borrowing import PSPowerPrior, overlap_coefficient, ps_power_prior
from rdstats.external._rmst import RMSTDifference, rmst_difference
from rdstats.external._sensitivity import EValue, e_value
from rdstats.external._survival import CoxEstimate, WeightedKM, weighted_cox, weighted_km
from rdstats.external._tipping import TippingPointResult, tipping_point
from rdstats.external._weighting import WeightResult, effective_sample_size, weight

__all__ = [
    "BiasAnalysis",
    "CoxEstimate",
    "EValue",
    "EffectEstimate",
    "ExternalControlDesign",
    "ExternalDesignComparison",
    "HybridControl",
    "LogrankResult",
    "MatchResult",
    "PSPowerPrior",
    "ProcovaResult",
    "PrognosticModel",
    "PropensityScores",
    "RMSTDifference",
    "TippingPointResult",
    "WeightResult",
    "WeightedKM",
    "balance",
    "bias_adjust",
    "compare_external_analyses",
    "e_value",
    "effective_sample_size",
    "estimate_effect",
    "hybrid_control",
    "logrank",
    "love_plot",
    "match",
    "overlap_coefficient",
    "procova",
    "procova_sample_size",
    "prognostic_model",
    "propensity_scores",
    "ps_power_prior",
    "rmst_difference",
    "tipping_point",
    "weight",
    "weighted_cox",
    "weighted_km",
]
