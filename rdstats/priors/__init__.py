"""Conjugate mixture priors: beta, normal and gamma mixtures and their algebra.

Posterior updating, prior-predictive distributions, differences of two independent
mixtures, prior effective sample size and robustification.
"""

from rdstats.priors._base import Mixture, MixtureBatch
from rdstats.priors._beta import BetaBinomialMixture, BetaMixture
from rdstats.priors._difference import prob_difference, quantile_difference
from rdstats.priors._ess import ess
from rdstats.priors._gamma import GammaMixture, GammaPoissonMixture, GammaTimeMixture
from rdstats.priors._normal import NormalMixture
from rdstats.priors._robust import robustify

__all__ = [
    "BetaBinomialMixture",
    "BetaMixture",
    "GammaMixture",
    "GammaPoissonMixture",
    "GammaTimeMixture",
    "Mixture",
    "MixtureBatch",
    "NormalMixture",
    "ess",
    "prob_difference",
    "quantile_difference",
    "robustify",
]
