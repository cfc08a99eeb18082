"""Priors for the hyperparameters of a random-effects model: the between-study standard
deviation tau (half-normal, half-t, half-Cauchy, uniform, log-normal, gamma, inverse
gamma, exponential, fixed) and the population mean mu (normal)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

__all__ = [
    "Exponential",
    "Fixed",
    "Gamma",
    "HalfCauchy",
    "HalfNormal",
    "HalfT",
    "InvGamma",
    "LogNormal",
    "Normal",
    "TauPrior",
    "Uniform",
    "as_mean_prior",
    "as_tau_prior",
]


def _positive(value: Any, name: str, owner: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        expected = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{owner}: {name} must be a finite {expected} number, got {value!r}")
    return v


def _real(value: Any, name: str, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{owner}: {name} must be finite, got {value!r}")
    return v


@functools.lru_cache(maxsize=128)
def _frozen_dist(prior: TauPrior) -> Any:
    """The prior's frozen scipy distribution (priors are frozen dataclasses, hashable)."""
    return prior.dist()


class TauPrior:
    """Prior for a between-study standard deviation tau >= 0 (abstract base).

    Subclasses are frozen dataclasses that define :meth:`dist` (a frozen scipy
    distribution on tau >= 0) and :meth:`to_pymc`.
    """

    fixed: bool = False

    def dist(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _frozen(self) -> Any:
        return _frozen_dist(self)

    def logpdf(self, tau: ArrayLike) -> NDArray[np.float64]:
        """Log density of tau."""
        return np.asarray(self._frozen().logpdf(tau), dtype=float)

    def cdf(self, tau: ArrayLike) -> NDArray[np.float64]:
        """Distribution function of tau."""
        return np.asarray(self._frozen().cdf(tau), dtype=float)

    def ppf(self, q: ArrayLike) -> NDArray[np.float64]:
        """Quantile function of tau."""
        return np.asarray(self._frozen().ppf(q), dtype=float)

    def mean(self) -> float:
        """Prior mean of tau (``inf`` when it does not exist)."""
        return float(self._frozen().mean())

    def rvs(self, size: int, rng: np.random.Generator) -> NDArray[np.float64]:
        """Draws of tau."""
        return np.asarray(self._frozen().rvs(size=size, random_state=rng), dtype=float)

    def to_pymc(self, name: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return {"type": type(self).__name__, **self.__dict__}


@dataclass(frozen=True)
class HalfNormal(TauPrior):
    """Half-normal prior, tau ~ |N(0, scale^2)| (RBesT's default family for tau)."""

    scale: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", _positive(self.scale, "scale", "HalfNormal"))

    def dist(self) -> Any:
        return stats.halfnorm(scale=self.scale)

    def to_pymc(self, name: str) -> Any:
        import pymc as pm

        return pm.HalfNormal(name, sigma=self.scale)


class _HalfStudentT:
    """Frozen half-Student-t distribution (|t_df| * scale) with the scipy interface used
    here."""

    def __init__(self, df: float, scale: float) -> None:
        self._t = stats.t(df, scale=scale)

    def logpdf(self, x: ArrayLike) -> Any:
        x = np.asarray(x, dtype=float)
        return np.where(x >= 0, math.log(2.0) + self._t.logpdf(x), -np.inf)

    def cdf(self, x: ArrayLike) -> Any:
        x = np.asarray(x, dtype=float)
        return np.where(x >= 0, 2.0 * self._t.cdf(x) - 1.0, 0.0)

    def ppf(self, q: ArrayLike) -> Any:
        return self._t.ppf((1.0 + np.asarray(q, dtype=float)) / 2.0)

    def mean(self) -> float:
        df, scale = self._t.args[0], self._t.kwds["scale"]
        if df <= 1:
            return math.inf
        return float(
            2
            * scale
            * math.sqrt(df / math.pi)
            * math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2))
            / (df - 1)
        )

    def rvs(self, size: int, random_state: np.random.Generator) -> Any:
        return np.abs(self._t.rvs(size=size, random_state=random_state))


@dataclass(frozen=True)
class HalfT(TauPrior):
    """Half-Student-t prior, tau ~ |t_df| * scale (``df=1``: half-Cauchy)."""

    scale: float = 1.0
    df: float = 3.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", _positive(self.scale, "scale", type(self).__name__))
        object.__setattr__(self, "df", _positive(self.df, "df", type(self).__name__))

    def dist(self) -> Any:
        return _HalfStudentT(self.df, self.scale)

    def to_pymc(self, name: str) -> Any:
        import pymc as pm

        return pm.HalfStudentT(name, nu=self.df, sigma=self.scale)


@dataclass(frozen=True)
class HalfCauchy(HalfT):
    """Half-Cauchy prior, tau ~ |Cauchy(0, scale)| (half-t with one degree of freedom)."""

    scale: float = 1.0
    df: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.df != 1.0:
            raise ValueError(f"HalfCauchy: df is 1 by definition, got {self.df!r}; use HalfT")

    def to_pymc(self, name: str) -> Any:
        import pymc as pm

        return pm.HalfCauchy(name, beta=self.scale)


@dataclass(frozen=True)
class Uniform(TauPrior):
    """Uniform prior on [lower, upper]."""

    upper: float = 1.0
    lower: float = 0.0

    def __post_init__(self) -> None:
        lo = _positive(self.lower, "lower", "Uniform", allow_zero=True)
        hi = _positive(self.upper, "upper", "Uniform")
        if hi <= lo:
            raise ValueError(f"Uniform: upper={self.upper!r} must exceed lower={self.lower!r}")
        object.__setattr__(self, "lower", lo)
        object.__setattr__(self, "upper", hi)

    def dist(self) -> Any:
        return stats.uniform(self.lower, self.upper - self.lower)

    def to_pymc(self, name: str) -> Any:
        import pymc as pm

        return pm.Uniform(name, lower=self.lower, upper=self.upper)


@dataclass(frozen=True)
class LogNormal(TauPrior):
    """Log-normal prior, log(tau) ~ N(mu, sigma^2)."""

    mu: float = 0.0
    sigma: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "mu", _real(self.mu, "mu", "LogNormal"))
        object.__setattr__(self, "sigma", _positive(self.sigma, "sigma", "LogNormal"))

    def dist(self) -> Any:
        return stats.lognorm(s=self.sigma, scale=math.exp(self.mu))

    def to_pymc(self, name: str) -> Any:
        import pymc as pm

        return pm.LogNormal(name, mu=self.mu, sigma=self.sigma)


@dataclass(frozen=True)
class Gamma(TauPrior):
    """Gamma prior with shape and rate."""

    shape: float = 2.0
    rate: float = 2.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", _positive(self.shape, "shape", "Gamma"))
        object.__setattr__(self, "rate", _positive(self.rate, "rate", "Gamma"))

    def dist(self) -> Any:
        return stats.gamma(self.shape, scale=1.0 / self.rate)

    def to_pymc(self, name: str) -> Any:
        import pymc as pm

        return pm.Gamma(name, alpha=self.shape, beta=self.rate)


@dataclass(frozen=True)
class InvGamma(TauPrior):
    """Inverse-gamma prior on tau with shape and scale."""

    shape: float = 1.0
    scale: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", _positive(self.shape, "shape", "InvGamma"))
        object.__setattr__(self, "scale", _positive(self.scale, "scale", "InvGamma"))

    def dist(self) -> Any:
        return stats.invgamma(self.shape, scale=self.scale)

    def to_pymc(self, name: str) -> Any:
        import pymc as pm

        return pm.InverseGamma(name, alpha=self.shape, beta=self.scale)


@dataclass(frozen=True)
class Exponential(TauPrior):
    """Exponential prior with the given rate."""

    rate: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", _positive(self.rate, "rate", "Exponential"))

    def dist(self) -> Any:
        return stats.expon(scale=1.0 / self.rate)

    def to_pymc(self, name: str) -> Any:
        import pymc as pm

        return pm.Exponential(name, lam=self.rate)


@dataclass(frozen=True)
class Fixed(TauPrior):
    """tau fixed at ``value`` (0: complete pooling, no heterogeneity)."""

    value: float = 0.0
    fixed = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _positive(self.value, "value", "Fixed", allow_zero=True))

    def dist(self) -> Any:
        return stats.rv_discrete(values=([0], [1.0]))  # pragma: no cover - not used

    def logpdf(self, tau: ArrayLike) -> NDArray[np.float64]:
        t = np.asarray(tau, dtype=float)
        return np.where(t == self.value, 0.0, -np.inf)

    def cdf(self, tau: ArrayLike) -> NDArray[np.float64]:
        return np.where(np.asarray(tau, dtype=float) >= self.value, 1.0, 0.0)

    def ppf(self, q: ArrayLike) -> NDArray[np.float64]:
        return np.full(np.shape(q), self.value)

    def mean(self) -> float:
        return self.value

    def rvs(self, size: int, rng: np.random.Generator) -> NDArray[np.float64]:
        return np.full(size, self.value)

    def to_pymc(self, name: str) -> Any:
        import pymc as pm

        return pm.Data(name, self.value) if self.value > 0 else pm.Data(name, 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "Fixed", "value": self.value}


@dataclass(frozen=True)
class Normal:
    """Normal prior N(mean, sd^2) for the population mean mu on the link scale."""

    mean: float = 0.0
    sd: float = 2.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", _real(self.mean, "mean", "Normal"))
        object.__setattr__(self, "sd", _positive(self.sd, "sd", "Normal"))

    def logpdf(self, x: ArrayLike) -> NDArray[np.float64]:
        return np.asarray(stats.norm.logpdf(x, self.mean, self.sd), dtype=float)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "Normal", "mean": self.mean, "sd": self.sd}


_TAU_NAMES: dict[str, type[TauPrior]] = {
    "halfnormal": HalfNormal,
    "halft": HalfT,
    "halfcauchy": HalfCauchy,
    "uniform": Uniform,
    "lognormal": LogNormal,
    "gamma": Gamma,
    "invgamma": InvGamma,
    "exponential": Exponential,
    "fixed": Fixed,
}


def as_tau_prior(value: Any, name: str = "tau_prior") -> TauPrior:
    """A :class:`TauPrior` from an instance, a positive number (half-normal scale), or a
    tuple ``("halfnormal", 1.0)`` naming the family and its parameters."""
    if isinstance(value, TauPrior):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return HalfNormal(float(value))
    if isinstance(value, tuple) and value and isinstance(value[0], str):
        cls = _TAU_NAMES.get(value[0].lower().replace("-", "").replace("_", ""))
        if cls is not None:
            return cls(*value[1:])
    raise TypeError(
        f"{name} must be a TauPrior (HalfNormal, HalfT, HalfCauchy, Uniform, LogNormal, Gamma, "
        f"InvGamma, Exponential, Fixed), a half-normal scale, or a tuple such as "
        f"('halfnormal', 1.0); got {value!r}"
    )


def as_mean_prior(value: Any, default_sd: float, name: str = "mean_prior") -> Normal:
    """A :class:`Normal` from ``None`` (``N(0, default_sd^2)``), an instance or a tuple
    ``(mean, sd)``."""
    if value is None:
        return Normal(0.0, default_sd)
    if isinstance(value, Normal):
        return value
    if isinstance(value, tuple) and len(value) == 2:
        return Normal(*value)
    raise TypeError(f"{name} must be a Normal(mean, sd) or a tuple (mean, sd), got {value!r}")
