"""External and synthetic controls from natural-history and real-world data: propensity
scores, matching, weighting, balance diagnostics, outcome analyses and sensitivity
analyses (work in progress)."""

from rdstats.external._sensitivity import EValue, e_value
from rdstats.external._tipping import BiasAnalysis, TippingPointResult, bias_adjust, tipping_point

__all__ = [
    "BiasAnalysis",
    "EValue",
    "TippingPointResult",
    "bias_adjust",
    "e_value",
    "tipping_point",
]
