"""Borrowing from historical and natural-history data: meta-analytic-predictive (MAP)
priors (deterministic quadrature and PyMC), mixture approximation, power and
commensurate priors, prior-data conflict, and the hybrid-control design."""

from rdstats.borrowing._conflict import ConflictCheck, prior_data_conflict, robust_weight
from rdstats.borrowing._hybrid import HybridControlDesign, compare_borrowing
from rdstats.borrowing._hyperpriors import (
    Exponential,
    Fixed,
    Gamma,
    HalfCauchy,
    HalfNormal,
    HalfT,
    InvGamma,
    LogNormal,
    Normal,
    TauPrior,
    Uniform,
)
from rdstats.borrowing._map import MAPResult, map_prior
from rdstats.borrowing._mechanisms import (
    Borrowing,
    ControlPosteriors,
    EmpiricalBayesPowerBorrowing,
    LogitDensityBorrowing,
    PriorBorrowing,
    no_borrowing,
)
from rdstats.borrowing._mixfit import MixtureFit, fit_mixture

__all__ = [
    "Borrowing",
    "ConflictCheck",
    "ControlPosteriors",
    "EmpiricalBayesPowerBorrowing",
    "Exponential",
    "Fixed",
    "Gamma",
    "HalfCauchy",
    "HalfNormal",
    "HalfT",
    "HybridControlDesign",
    "InvGamma",
    "LogNormal",
    "LogitDensityBorrowing",
    "MAPResult",
    "MixtureFit",
    "Normal",
    "PriorBorrowing",
    "TauPrior",
    "Uniform",
    "compare_borrowing",
    "fit_mixture",
    "map_prior",
    "no_borrowing",
    "prior_data_conflict",
    "robust_weight",
]
