"""Priors on the precision ``1/tau^2`` of a commensurate prior: gamma (Hobbs et al.
2011) and spike-and-slab (Hobbs, Sargent & Carlin 2012), as :class:`TauPrior` objects."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from rdstats._validation import as_float_array, check_probability
from rdstats.borrowing._hyperpriors import TauPrior

__all__ = ["GammaPrecision", "SpikeSlabPrecision"]

Array = NDArray[np.float64]


# -- priors on the precision 1/tau^2 ---------------------------------------------------------
def _pos(value: Any, name: str, owner: str, *, zero: bool = False) -> float:
    v = float(as_float_array(value, f"{owner}: {name}"))
    if v < 0 or (v == 0 and not zero):
        raise ValueError(f"{owner}: {name} must be {'>= 0' if zero else '> 0'}, got {value!r}")
    return v


@dataclass(frozen=True)
class GammaPrecision(TauPrior):
    """Gamma prior on the precision ``1/tau^2`` of a commensurate prior (shape, rate).

    Equivalently ``tau^2`` is inverse-gamma; small rates put much mass on large precisions
    (strong borrowing), as discussed by Hobbs et al. (2011).

    References
    ----------
    .. [1] Hobbs BP, Carlin BP, Mandrekar SJ, Sargent DJ. Hierarchical commensurate and
       power prior models for adaptive incorporation of historical information in clinical
       trials. Biometrics 2011;67:1047-1056.

    Examples
    --------
    >>> from rdstats.borrowing._precision_priors import GammaPrecision
    >>> prior = GammaPrecision(shape=2.0, rate=0.5)
    >>> round(float(prior.cdf(1.0)), 6)  # P(tau <= 1) = P(precision >= 1)
    0.909796
    """

    shape: float = 1.0
    rate: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", _pos(self.shape, "shape", "GammaPrecision"))
        object.__setattr__(self, "rate", _pos(self.rate, "rate", "GammaPrecision"))

    def _prec(self) -> Any:
        return stats.gamma(self.shape, scale=1.0 / self.rate)

    def logpdf(self, tau: ArrayLike) -> Array:
        t = np.asarray(tau, dtype=float)
        with np.errstate(divide="ignore"):
            prec = 1.0 / np.where(t > 0, t, np.inf) ** 2
            out = self._prec().logpdf(prec) + math.log(2.0) - 3 * np.log(t)
        return np.where(t > 0, out, -np.inf)

    def cdf(self, tau: ArrayLike) -> Array:
        t = np.asarray(tau, dtype=float)
        with np.errstate(divide="ignore"):
            return np.where(t > 0, self._prec().sf(1.0 / np.where(t > 0, t, 1.0) ** 2), 0.0)

    def ppf(self, q: ArrayLike) -> Array:
        with np.errstate(divide="ignore"):
            return np.asarray(self._prec().isf(np.asarray(q, dtype=float)) ** -0.5)

    def mean(self) -> float:
        if self.shape <= 0.5:
            return math.inf
        return float(
            math.exp(math.lgamma(self.shape - 0.5) - math.lgamma(self.shape)) * math.sqrt(self.rate)
        )

    def rvs(self, size: int, rng: np.random.Generator) -> Array:
        return np.asarray(self._prec().rvs(size=size, random_state=rng) ** -0.5)

    def to_pymc(self, name: str) -> Any:
        import pymc as pm

        prec = pm.Gamma(f"{name}_precision", alpha=self.shape, beta=self.rate)
        return pm.Deterministic(name, prec**-0.5)


@dataclass(frozen=True)
class SpikeSlabPrecision(TauPrior):
    """Spike-and-slab prior on the precision ``1/tau^2`` (Hobbs, Sargent & Carlin 2012).

    With probability ``p_spike`` the precision equals ``spike`` (near-complete pooling);
    otherwise it is uniform on ``[lower, upper]`` (the slab). ``logpdf`` is the density of
    the slab part of tau (integrating to ``1 - p_spike``); ``cdf`` includes the spike.

    References
    ----------
    .. [1] Hobbs BP, Sargent DJ, Carlin BP. Commensurate priors for incorporating historical
       information in clinical trials using general and generalized linear models.
       Bayesian Analysis 2012;7:639-674.

    Examples
    --------
    >>> from rdstats.borrowing._precision_priors import SpikeSlabPrecision
    >>> prior = SpikeSlabPrecision(spike=200.0, lower=0.5, upper=20.0, p_spike=0.3)
    >>> round(float(prior.cdf(0.1)), 6)  # only the spike, tau = 200**-0.5 = 0.0707
    0.3
    """

    spike: float = 200.0
    lower: float = 0.0
    upper: float = 2.0
    p_spike: float = 0.5

    def __post_init__(self) -> None:
        own = "SpikeSlabPrecision"
        object.__setattr__(self, "spike", _pos(self.spike, "spike", own))
        object.__setattr__(self, "lower", _pos(self.lower, "lower", own, zero=True))
        object.__setattr__(self, "upper", _pos(self.upper, "upper", own))
        if self.upper <= self.lower:
            raise ValueError(f"{own}: upper={self.upper!r} must exceed lower={self.lower!r}")
        p = float(check_probability(self.p_spike, f"{own}: p_spike"))
        object.__setattr__(self, "p_spike", p)

    def _slab_range(self) -> tuple[float, float]:
        return self.upper**-0.5, (self.lower**-0.5 if self.lower > 0 else math.inf)

    def logpdf(self, tau: ArrayLike) -> Array:
        """Log density of the slab part (the spike is a point mass at ``spike**-0.5``)."""
        t = np.asarray(tau, dtype=float)
        lo, hi = self._slab_range()
        inside = (t >= lo) & (t <= hi)
        with np.errstate(divide="ignore"):
            dens = np.log1p(-self.p_spike) + math.log(2.0) - 3 * np.log(np.where(inside, t, 1.0))
            dens -= math.log(self.upper - self.lower)
        return np.where(inside, dens, -np.inf)

    def cdf(self, tau: ArrayLike) -> Array:
        t = np.asarray(tau, dtype=float)
        with np.errstate(divide="ignore"):
            prec = 1.0 / np.where(t > 0, t, 1e-300) ** 2
        slab = np.clip(
            (self.upper - np.maximum(prec, self.lower)) / (self.upper - self.lower), 0, 1
        )
        return np.asarray((1 - self.p_spike) * slab + self.p_spike * (t >= self.spike**-0.5))

    def ppf(self, q: ArrayLike) -> Array:
        qa = np.asarray(q, dtype=float)
        grid = np.concatenate([[0.0], np.geomspace(1e-8, 1e8, 4001)])
        c = self.cdf(grid)
        return np.asarray(grid[np.minimum(np.searchsorted(c, qa, side="left"), grid.size - 1)])

    def mean(self) -> float:
        lo, hi = self._slab_range()
        if not math.isfinite(hi):
            slab = 2 * self.upper**0.5 / self.upper  # int tau * 2 tau^-3 / U over [U^-1/2, inf)
        else:
            slab = 2 * (1 / lo - 1 / hi) / (self.upper - self.lower)
        return self.p_spike * self.spike**-0.5 + (1 - self.p_spike) * slab

    def rvs(self, size: int, rng: np.random.Generator) -> Array:
        prec = rng.uniform(self.lower, self.upper, size=size)
        spike = rng.random(size) < self.p_spike
        with np.errstate(divide="ignore"):
            return np.asarray(np.where(spike, self.spike**-0.5, prec**-0.5))

    def to_pymc(self, name: str) -> Any:  # pragma: no cover - refused earlier
        raise NotImplementedError("a point mass cannot be sampled by NUTS; use method='exact'")
