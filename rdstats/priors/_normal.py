"""Normal mixtures (normal endpoints with known sampling SD, or link-scale parameters)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from rdstats._validation import as_float_array, as_int_array, check_positive
from rdstats.priors._base import ComponentArray, Mixture, MixtureBatch
from rdstats.priors._kernels import normal_update, reweight

__all__ = ["NormalMixture"]


class NormalMixture(Mixture):
    """Mixture of normal distributions, conjugate for a normal mean with known SD.

    Parameters
    ----------
    weights : array_like
        Component weights (non-negative, summing to one within 1e-8).
    mean, sd : array_like
        Component means and standard deviations (``sd`` strictly positive).
    sigma : float, optional
        Reference scale: the sampling standard deviation of a single observation. It
        turns sample sizes into standard errors (``se = sigma / sqrt(n)``) and sets the
        unit of the effective sample size.

    Notes
    -----
    ``mean`` and ``sd`` are read-only arrays of component parameters; called as
    ``mean()`` and ``sd()`` they return the mixture mean and standard deviation.

    References
    ----------
    .. [1] Spiegelhalter DJ, Abrams KR, Myles JP. Bayesian Approaches to Clinical Trials
       and Health-Care Evaluation. Wiley, 2004, section 3.3.

    Examples
    --------
    >>> import numpy as np
    >>> from rdstats.priors import NormalMixture
    >>> prior = NormalMixture(1.0, mean=-49, sd=88 / np.sqrt(20), sigma=88)
    >>> y = [-46, -227, 41, -65, -103, -22, 7, -169, -69, 90]
    >>> post = prior.posterior(mean=np.mean(y), n=len(y))
    >>> round(post.mean(), 5), round(post.sd(), 5)
    (-51.43333, 16.06653)
    """

    _param_names = ("mean", "sd")
    family = "normal"
    sigma: float | None

    def __init__(
        self, weights: ArrayLike, mean: ArrayLike, sd: ArrayLike, sigma: float | None = None
    ) -> None:
        if sigma is not None:
            sig = check_positive(sigma, "sigma")
            if sig.ndim:
                raise TypeError(f"sigma must be a scalar, got {sigma!r}")
            object.__setattr__(self, "sigma", float(sig))
        else:
            object.__setattr__(self, "sigma", None)
        self._init(weights, mean=as_float_array(mean, "mean"), sd=check_positive(sd, "sd"))
        object.__setattr__(self, "mean", ComponentArray(self.__dict__["mean"], self._mixture_mean))
        object.__setattr__(self, "sd", ComponentArray(self.__dict__["sd"], self._mixture_sd))

    def _mixture_mean(self) -> float:
        return Mixture.mean(self)

    def _mixture_sd(self) -> float:
        return Mixture.sd(self)

    def _extra(self) -> dict[str, Any]:
        return {"sigma": self.sigma}

    def _dist(self, mean: NDArray[np.float64], sd: NDArray[np.float64]) -> Any:
        return stats.norm(mean, sd)

    @staticmethod
    def _cdf_kernel(x: Any, mean: Any, sd: Any) -> Any:
        return special.ndtr((x - mean) / sd)

    def _component_moments(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        m = np.asarray(self.__dict__["mean"]).view(np.ndarray)
        s = np.asarray(self.__dict__["sd"]).view(np.ndarray)
        return m, s**2

    def _require_sigma(self, what: str) -> float:
        if self.sigma is None:
            raise ValueError(
                f"{what} needs the reference scale: construct the NormalMixture with sigma="
            )
        return self.sigma

    @classmethod
    def from_mean_sd(cls, mean: float, sd: float, sigma: float | None = None) -> NormalMixture:
        """Single normal component."""
        return cls(1.0, mean, sd, sigma=sigma)

    def with_sigma(self, sigma: float | None) -> NormalMixture:
        """The same mixture with another reference scale ``sigma``."""
        return NormalMixture(self.weights, self._params()[0], self._params()[1], sigma=sigma)

    def _se(self, se: ArrayLike | None, n: ArrayLike | None) -> NDArray[np.float64]:
        if (se is None) == (n is None):
            raise TypeError("give exactly one of se= or n= together with mean=")
        if se is not None:
            return check_positive(se, "se")
        nn = as_int_array(n, "n", minimum=1)  # type: ignore[arg-type]
        return self._require_sigma("posterior(mean=, n=)") / np.sqrt(nn)

    def posterior(
        self,
        mean: float | None = None,
        se: float | None = None,
        *,
        n: int | None = None,
        data: ArrayLike | None = None,
    ) -> NormalMixture:
        """Conjugate posterior after observing a sample mean.

        Parameters
        ----------
        mean : float
            Observed sample mean (or any normally distributed estimate).
        se : float, optional
            Its standard error. Alternatively give ``n`` and the mixture's ``sigma``.
        n : int, optional
            Number of observations; ``se = sigma / sqrt(n)``.
        data : array_like, optional
            Individual observations instead of ``mean`` and ``n`` (needs ``sigma``).
        """
        if data is not None:
            if mean is not None or se is not None or n is not None:
                raise TypeError("give either data= or mean= with se=/n=, not both")
            d = as_float_array(data, "data")
            if d.ndim != 1 or d.size == 0:
                raise ValueError(f"data must be a non-empty 1-D sequence, got shape {d.shape}")
            mean, n = float(d.mean()), int(d.size)
        if mean is None:
            raise TypeError("posterior() needs mean= (with se= or n=) or data=")
        y = as_float_array(mean, "mean")
        s = self._se(se, n)
        if y.ndim or s.ndim:
            raise TypeError("posterior() takes scalars; use posterior_batch() for arrays")
        m, sd, lml = normal_update(*self._component_moments_sd(), y, s)
        return NormalMixture(reweight(self.weights, lml), m, sd, sigma=self.sigma)

    def _component_moments_sd(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        m, v = self._component_moments()
        return m, np.sqrt(v)

    def posterior_batch(
        self, mean: ArrayLike, se: ArrayLike | None = None, *, n: ArrayLike | None = None
    ) -> MixtureBatch:
        """Vectorised posterior for many observed means at once."""
        y = as_float_array(mean, "mean")
        s = self._se(se, n)
        y, s = np.broadcast_arrays(y, s)
        m, sd, lml = normal_update(*self._component_moments_sd(), y, s)
        return MixtureBatch(self, reweight(self.weights, lml), (m, sd))

    def predictive(self, n: int) -> NormalMixture:
        """Prior-predictive distribution of the mean of ``n`` future observations."""
        nn = int(as_int_array(n, "n", minimum=1))
        sigma = self._require_sigma("predictive()")
        m, v = self._component_moments()
        return NormalMixture(self.weights, m, np.sqrt(v + sigma**2 / nn), sigma=sigma)
