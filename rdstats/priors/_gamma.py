"""Gamma mixtures (Poisson counts or exponential times) and their predictives."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from rdstats._validation import as_float_array, as_int_array, check_positive
from rdstats.priors._base import Mixture, MixtureBatch
from rdstats.priors._kernels import gamma_exp_update, gamma_poisson_update, reweight

__all__ = ["GammaMixture", "GammaPoissonMixture", "GammaTimeMixture"]

Likelihood = Literal["poisson", "exp"]


class GammaMixture(Mixture):
    """Mixture of gamma distributions for an event rate.

    Parameters
    ----------
    weights : array_like
        Component weights (non-negative, summing to one within 1e-8).
    shape, rate : array_like
        Gamma shape and rate of each component (strictly positive).
    likelihood : {"poisson", "exp"}
        Data model: Poisson counts (``total`` events in ``n`` units of exposure) or
        exponential times (``total`` follow-up time over ``n`` events).

    References
    ----------
    .. [1] Gelman A, Carlin JB, Stern HS, Dunson DB, Vehtari A, Rubin DB. Bayesian Data
       Analysis, 3rd ed. CRC Press, 2013, section 2.6.

    Examples
    --------
    >>> from rdstats.priors import GammaMixture
    >>> prior = GammaMixture([0.3, 0.7], shape=[20, 50], rate=[4, 10])
    >>> post = prior.posterior(total=30, n=5)
    >>> post.shape, post.rate
    (array([50., 80.]), array([ 9., 15.]))
    """

    _param_names = ("shape", "rate")
    family = "gamma"
    shape: NDArray[np.float64]
    rate: NDArray[np.float64]
    likelihood: Likelihood

    def __init__(
        self,
        weights: ArrayLike,
        shape: ArrayLike,
        rate: ArrayLike,
        likelihood: Likelihood = "poisson",
    ) -> None:
        if likelihood not in ("poisson", "exp"):
            raise ValueError(f"likelihood must be 'poisson' or 'exp', got {likelihood!r}")
        object.__setattr__(self, "likelihood", likelihood)
        self._init(weights, shape=check_positive(shape, "shape"), rate=check_positive(rate, "rate"))

    def _extra(self) -> dict[str, Any]:
        return {"likelihood": self.likelihood}

    def _dist(self, shape: NDArray[np.float64], rate: NDArray[np.float64]) -> Any:
        return stats.gamma(shape, scale=1.0 / rate)

    @staticmethod
    def _cdf_kernel(x: Any, shape: Any, rate: Any) -> Any:
        return special.gammainc(shape, rate * np.maximum(x, 0.0))

    @classmethod
    def from_mean_sd(
        cls, mean: float, sd: float, likelihood: Likelihood = "poisson"
    ) -> GammaMixture:
        """Single gamma component with the given mean and standard deviation."""
        m = float(check_positive(mean, "mean"))
        s = float(check_positive(sd, "sd"))
        return cls(1.0, (m / s) ** 2, m / s**2, likelihood=likelihood)

    def _check_data(
        self, total: ArrayLike, n: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        if self.likelihood == "poisson":
            t = as_int_array(total, "total").astype(float)
            nn = check_positive(n, "n")
        else:
            t = check_positive(total, "total")
            nn = as_int_array(n, "n", minimum=1).astype(float)
        return t, nn

    def _update(self, total: NDArray[np.float64], n: NDArray[np.float64]) -> Any:
        fn = gamma_poisson_update if self.likelihood == "poisson" else gamma_exp_update
        return fn(self.shape, self.rate, total, n)

    def posterior(
        self,
        total: float | None = None,
        n: float | None = None,
        *,
        data: ArrayLike | None = None,
    ) -> GammaMixture:
        """Conjugate posterior.

        Parameters
        ----------
        total : int or float
            Poisson: total number of events; exponential: total observed time.
        n : float or int
            Poisson: exposure (units of time or patients); exponential: number of events.
        data : array_like, optional
            Individual counts (Poisson, one unit of exposure each) or times (exponential).
        """
        if data is not None:
            if total is not None or n is not None:
                raise TypeError("give either total= and n=, or data=, not both")
            d = as_float_array(data, "data")
            if d.ndim != 1 or d.size == 0:
                raise ValueError(f"data must be a non-empty 1-D sequence, got shape {d.shape}")
            if self.likelihood == "poisson":
                as_int_array(d, "data")  # each count a non-negative integer
            else:
                check_positive(d, "data")  # each time strictly positive
            total, n = float(d.sum()), d.size
        if total is None or n is None:
            raise TypeError("posterior() needs total= and n= (or data=)")
        t, nn = self._check_data(total, n)
        if t.ndim or nn.ndim:
            raise TypeError("posterior() takes scalars; use posterior_batch() for arrays")
        shape, rate, lml = self._update(t, nn)
        return GammaMixture(reweight(self.weights, lml), shape, rate, self.likelihood)

    def posterior_batch(self, total: ArrayLike, n: ArrayLike) -> MixtureBatch:
        """Vectorised posterior for many data sets at once."""
        t, nn = self._check_data(total, n)
        t, nn = np.broadcast_arrays(t, nn)
        shape, rate, lml = self._update(t, nn)
        return MixtureBatch(self, reweight(self.weights, lml), (shape, rate))

    def predictive(self, n: float) -> GammaPoissonMixture | GammaTimeMixture:
        """Prior-predictive distribution of the next data's sufficient statistic.

        Poisson likelihood: the number of events in exposure ``n`` (negative-binomial
        mixture). Exponential likelihood: the total time until ``n`` further events
        (scaled beta-prime mixture).
        """
        if self.likelihood == "poisson":
            return GammaPoissonMixture(self.weights, n, self.shape, self.rate)
        return GammaTimeMixture(self.weights, n, self.shape, self.rate)


class GammaPoissonMixture(Mixture):
    """Mixture of negative binomials: predictive count in exposure ``n`` under a gamma prior.

    Component k is NB(shape_k, rate_k / (rate_k + n)).

    Examples
    --------
    >>> from rdstats.priors import GammaMixture
    >>> pred = GammaMixture(1.0, 4.0, 2.0).predictive(2.0)
    >>> round(pred.mean(), 6)
    4.0
    """

    _param_names = ("shape", "rate")
    discrete = True
    family = "gammapoisson"
    shape: NDArray[np.float64]
    rate: NDArray[np.float64]
    n: float

    def __init__(self, weights: ArrayLike, n: float, shape: ArrayLike, rate: ArrayLike) -> None:
        nn = check_positive(n, "n")
        if nn.ndim:
            raise TypeError(f"n must be a scalar exposure, got {n!r}")
        object.__setattr__(self, "n", float(nn))
        self._init(weights, shape=check_positive(shape, "shape"), rate=check_positive(rate, "rate"))

    def _extra(self) -> dict[str, Any]:
        return {"n": self.n}

    def _dist(self, shape: NDArray[np.float64], rate: NDArray[np.float64]) -> Any:
        return stats.nbinom(shape, rate / (rate + self.n))


class GammaTimeMixture(Mixture):
    """Predictive total time of ``n`` exponential events under a gamma-mixture rate prior.

    Component k is ``rate_k`` times a beta-prime(n, shape_k) variable (a compound gamma).

    Examples
    --------
    >>> from rdstats.priors import GammaMixture
    >>> pred = GammaMixture(1.0, 5.0, 2.0, likelihood="exp").predictive(3)
    >>> round(pred.mean(), 6)  # n * rate / (shape - 1)
    1.5
    """

    _param_names = ("shape", "rate")
    family = "gammatime"
    shape: NDArray[np.float64]
    rate: NDArray[np.float64]
    n: int

    def __init__(self, weights: ArrayLike, n: float, shape: ArrayLike, rate: ArrayLike) -> None:
        nn = as_int_array(n, "n", minimum=1)
        if nn.ndim:
            raise TypeError(f"n must be a scalar number of events, got {n!r}")
        object.__setattr__(self, "n", int(nn))
        self._init(weights, shape=check_positive(shape, "shape"), rate=check_positive(rate, "rate"))

    def _extra(self) -> dict[str, Any]:
        return {"n": self.n}

    def _dist(self, shape: NDArray[np.float64], rate: NDArray[np.float64]) -> Any:
        return stats.betaprime(self.n, shape, scale=rate)
