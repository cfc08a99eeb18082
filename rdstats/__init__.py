"""rdstats: Bayesian design and analysis of clinical trials in very small populations."""

from rdstats._warnings import ConvergenceWarning

__version__ = "0.1.0"

__all__ = ["ConvergenceWarning", "__version__"]
