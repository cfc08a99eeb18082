"""Endpoint families of the one- and two-arm designs, chosen by the prior's class."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from rdstats._validation import as_float_array, as_int_array
from rdstats.priors import BetaMixture, GammaMixture, NormalMixture
from rdstats.priors._kernels import normal_update, reweight

Array = NDArray[np.float64]
Endpoint = str  # "binomial", "normal" or "poisson"


def endpoint_of(prior: Any, name: str) -> Endpoint:
    """The data model implied by the prior's family (validated)."""
    if isinstance(prior, BetaMixture):
        return "binomial"
    if isinstance(prior, NormalMixture):
        if prior.sigma is None:
            raise ValueError(
                f"{name} is a NormalMixture without sigma; designs need the sampling SD of one "
                "observation: NormalMixture(..., sigma=...)"
            )
        return "normal"
    if isinstance(prior, GammaMixture):
        if prior.likelihood != "poisson":
            raise ValueError(
                f"{name} has likelihood={prior.likelihood!r}; designs support Poisson counts "
                "(likelihood='poisson')"
            )
        return "poisson"
    raise TypeError(
        f"{name} must be a BetaMixture, NormalMixture or GammaMixture, got {type(prior).__name__}"
    )


def check_n(n: Any, name: str, endpoint: Endpoint, *, allow_zero: bool) -> float:
    """Sample size (patients) or exposure (Poisson) of one arm."""
    if endpoint == "poisson":
        v = as_float_array(n, name)
        if v.ndim or v < 0 or (v == 0 and not allow_zero):
            raise ValueError(
                f"{name} must be a {'non-negative' if allow_zero else 'positive'} "
                f"exposure, got {n!r}"
            )
        return float(v)
    iv = as_int_array(n, name, minimum=0 if allow_zero else 1)
    if iv.ndim:
        raise TypeError(f"{name} must be a scalar integer, got {n!r}")
    return int(iv)


def check_theta(theta: ArrayLike, name: str, endpoint: Endpoint) -> Array:
    """True parameter values at which operating characteristics are evaluated."""
    t = as_float_array(theta, name)
    if endpoint == "binomial" and ((t < 0) | (t > 1)).any():
        raise ValueError(f"{name} must be response probabilities in [0, 1], got {t.tolist()}")
    if endpoint == "poisson" and (t < 0).any():
        raise ValueError(f"{name} must be non-negative event rates, got {t.tolist()}")
    return t


def sampling_pmf(endpoint: Endpoint, n: float, theta: Array, y: ArrayLike) -> Array:
    """P(Y = y | θ) for every θ (rows) and y (columns)."""
    th = theta[..., None]
    if endpoint == "binomial":
        return np.asarray(stats.binom.pmf(y, int(n), th))
    return np.asarray(stats.poisson.pmf(y, n * th))


def sampling_quantile(endpoint: Endpoint, n: float, theta: Array, q: float) -> int:
    """Largest upper ``q`` quantile of the statistic over the θ values (Poisson truncation)."""
    if endpoint == "binomial":
        return int(n)
    return int(np.max(stats.poisson.ppf(q, n * np.maximum(theta, 0.0))))


def normal_se(prior: NormalMixture, n: float) -> float:
    """Standard error of the mean of ``n`` observations."""
    assert prior.sigma is not None
    return prior.sigma / np.sqrt(n)


def normal_posterior(prior: NormalMixture, ybar: Array, se: float) -> tuple[Array, Array, Array]:
    """Posterior weights, means and sds (shape (M, K)) for observed means ``ybar``."""
    m, v = prior._component_moments()
    mp, sp, lml = normal_update(m, np.sqrt(v), ybar, np.full_like(ybar, se))
    return reweight(prior.weights, lml), mp, np.broadcast_to(sp, mp.shape)
