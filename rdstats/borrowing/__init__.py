"""Borrowing from historical and natural-history data: meta-analytic-predictive (MAP)
priors (deterministic quadrature and PyMC), mixture approximation, power and
commensurate priors, prior-data conflict, and the hybrid-control design."""

from rdstats.borrowing._borrowed import EffectiveBorrowed, effective_borrowed
from rdstats.borrowing._commensurate import CommensurateResult, commensurate_prior
from rdstats.borrowing._conflict import ConflictCheck, prior_data_conflict, robust_weight
from rdstats.borrowing._hybrid import HybridControlDesign, compare_borrowing
from rdstats.borrowing._hybrid_normal import (
    NormalEBPowerBorrowing,
    NormalHybridControlDesign,
    NormalPriorBorrowing,
)
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
    commensurate_borrowing,
    no_borrowing,
    normalized_power_borrowing,
    power_borrowing,
)
from rdstats.borrowing._mixfit import MixtureFit, fit_mixture
from rdstats.borrowing._power import PowerPosterior, PowerPrior, power_prior
from rdstats.borrowing._power_normalized import (
    NormalizedPowerPrior,
    eb_power_prior,
    normalized_power_prior,
)
from rdstats.borrowing._precision_priors import GammaPrecision, SpikeSlabPrecision
from rdstats.borrowing._quadrature import QuadratureDistribution

__all__ = [
    "Borrowing",
    "CommensurateResult",
    "ConflictCheck",
    "ControlPosteriors",
    "EffectiveBorrowed",
    "EmpiricalBayesPowerBorrowing",
    "Exponential",
    "Fixed",
    "Gamma",
    "GammaPrecision",
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
    "NormalEBPowerBorrowing",
    "NormalHybridControlDesign",
    "NormalPriorBorrowing",
    "NormalizedPowerPrior",
    "PowerPosterior",
    "PowerPrior",
    "PriorBorrowing",
    "QuadratureDistribution",
    "SpikeSlabPrecision",
    "TauPrior",
    "Uniform",
    "commensurate_borrowing",
    "commensurate_prior",
    "compare_borrowing",
    "eb_power_prior",
    "effective_borrowed",
    "fit_mixture",
    "map_prior",
    "no_borrowing",
    "normalized_power_borrowing",
    "normalized_power_prior",
    "power_borrowing",
    "power_prior",
    "prior_data_conflict",
    "robust_weight",
]
