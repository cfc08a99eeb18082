"""Warnings raised by rdstats."""

from __future__ import annotations

__all__ = ["ConvergenceWarning"]


class ConvergenceWarning(UserWarning):
    """An iterative computation (MCMC, EM, root finding) may not have converged; the
    message names the diagnostic (R-hat, effective sample size, iterations) and its value."""
