"""rdstats: Bayesian design and analysis of clinical trials in very small populations."""

__version__ = "0.1.0"
