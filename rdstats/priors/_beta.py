"""Beta mixtures (binomial endpoints) and their beta-binomial predictive."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from rdstats._validation import as_int_array, check_positive, check_probability
from rdstats.priors._base import Mixture, MixtureBatch
from rdstats.priors._kernels import beta_binomial_update, reweight

__all__ = ["BetaBinomialMixture", "BetaMixture"]


def check_counts(r: ArrayLike, n: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Validate responder counts ``r`` out of ``n`` (integers, 0 <= r <= n)."""
    ra = as_int_array(r, "r")
    na = as_int_array(n, "n")
    try:
        rb, nb = np.broadcast_arrays(ra, na)
    except ValueError as exc:
        raise ValueError(f"r (shape {ra.shape}) and n (shape {na.shape}) do not broadcast") from exc
    bad = rb > nb
    if bad.any():
        i = np.argmax(bad.ravel())
        raise ValueError(f"r={rb.ravel()[i]} exceeds n={nb.ravel()[i]}: r must be in 0..n")
    return ra, na


class BetaMixture(Mixture):
    """Mixture of beta distributions, the conjugate prior for a binomial proportion.

    Parameters
    ----------
    weights : array_like
        Component weights (non-negative, summing to one within 1e-8).
    a, b : array_like
        Beta shape parameters of each component (strictly positive).

    Notes
    -----
    Updating with ``r`` responders out of ``n`` gives components Be(a + r, b + n - r)
    with weights proportional to ``w_k B(a_k + r, b_k + n - r) / B(a_k, b_k)``.

    References
    ----------
    .. [1] Schmidli H, Gsteiger S, Roychoudhury S, O'Hagan A, Spiegelhalter D,
       Neuenschwander B. Robust meta-analytic-predictive priors in clinical trials with
       historical control information. Biometrics 2014;70:1023-1032.

    Examples
    --------
    >>> from rdstats.priors import BetaMixture
    >>> prior = BetaMixture([0.5, 0.5], a=[4, 1], b=[10, 1])
    >>> post = prior.posterior(r=18, n=20)
    >>> post.weights.round(6)
    array([0.002673, 0.997327])
    >>> post.a, post.b
    (array([22., 19.]), array([12.,  3.]))
    """

    _param_names = ("a", "b")
    family = "beta"
    a: NDArray[np.float64]
    b: NDArray[np.float64]

    def __init__(self, weights: ArrayLike, a: ArrayLike, b: ArrayLike) -> None:
        self._init(weights, a=check_positive(a, "a"), b=check_positive(b, "b"))

    def _dist(self, a: NDArray[np.float64], b: NDArray[np.float64]) -> Any:
        return stats.beta(a, b)

    @staticmethod
    def _cdf_kernel(x: Any, a: Any, b: Any) -> Any:
        return special.betainc(a, b, np.clip(x, 0.0, 1.0))

    @classmethod
    def from_mean_sd(cls, mean: float, sd: float) -> BetaMixture:
        """Single beta component with the given mean and standard deviation."""
        m = float(check_probability(mean, "mean", open_interval=True))
        s = float(check_positive(sd, "sd"))
        n = m * (1 - m) / s**2 - 1
        if n <= 0:
            raise ValueError(f"sd={s} is too large for a beta with mean={m}: need sd^2 < m(1-m)")
        return cls(1.0, m * n, (1 - m) * n)

    @classmethod
    def from_mean_n(cls, mean: float, n: float) -> BetaMixture:
        """Single beta component Be(mean * n, (1 - mean) * n) worth ``n`` patients."""
        m = float(check_probability(mean, "mean", open_interval=True))
        nn = float(check_positive(n, "n"))
        return cls(1.0, m * nn, (1 - m) * nn)

    def posterior(
        self, r: int | None = None, n: int | None = None, *, data: ArrayLike | None = None
    ) -> BetaMixture:
        """Conjugate posterior after ``r`` responders out of ``n`` (or binary ``data``).

        Parameters
        ----------
        r, n : int
            Number of responders and number of patients (0 <= r <= n).
        data : array_like of 0/1, optional
            Individual binary outcomes instead of ``r`` and ``n``.
        """
        r, n = _binary_data(r, n, data)
        ra, na = check_counts(r, n)
        if ra.ndim or na.ndim:
            raise TypeError("posterior() takes scalar r and n; use posterior_batch() for arrays")
        a, b, lml = beta_binomial_update(self.a, self.b, ra, na)
        return BetaMixture(reweight(self.weights, lml), a, b)

    def posterior_batch(self, r: ArrayLike, n: ArrayLike) -> MixtureBatch:
        """Vectorised posterior for many outcomes ``(r_i, n_i)`` at once.

        Examples
        --------
        >>> import numpy as np
        >>> from rdstats.priors import BetaMixture
        >>> post = BetaMixture([0.5, 0.5], [4, 1], [10, 1]).posterior_batch(np.arange(21), 20)
        >>> len(post), bool(np.all(np.diff(post.mean()) > 0))
        (21, True)
        """
        ra, na = check_counts(r, n)
        ra, na = np.broadcast_arrays(ra, na)
        a, b, lml = beta_binomial_update(self.a, self.b, ra, na)
        return MixtureBatch(self, reweight(self.weights, lml), (a, b))

    def predictive(self, n: int) -> BetaBinomialMixture:
        """Prior-predictive distribution of the number of responders among ``n`` patients."""
        return BetaBinomialMixture(self.weights, n, self.a, self.b)


class BetaBinomialMixture(Mixture):
    """Mixture of beta-binomial distributions: predictive responders among ``n`` patients.

    Parameters
    ----------
    weights : array_like
        Component weights.
    n : int
        Number of future patients.
    a, b : array_like
        Beta parameters of the components.

    Examples
    --------
    >>> from rdstats.priors import BetaMixture
    >>> pred = BetaMixture([0.8, 0.2], [15, 1], [50, 1]).predictive(10)
    >>> pred.pdf([0, 1, 2]).round(8)
    array([0.0881459 , 0.19605661, 0.2389919 ])
    """

    _param_names = ("a", "b")
    discrete = True
    family = "betabinomial"
    a: NDArray[np.float64]
    b: NDArray[np.float64]
    n: int

    def __init__(self, weights: ArrayLike, n: int, a: ArrayLike, b: ArrayLike) -> None:
        nn = as_int_array(n, "n", minimum=0)
        if nn.ndim:
            raise TypeError(f"n must be a scalar integer, got {n!r}")
        object.__setattr__(self, "n", int(nn))
        self._init(weights, a=check_positive(a, "a"), b=check_positive(b, "b"))

    def _extra(self) -> dict[str, Any]:
        return {"n": self.n}

    def _dist(self, a: NDArray[np.float64], b: NDArray[np.float64]) -> Any:
        return stats.betabinom(self.n, a, b)

    def rvs(
        self, size: int | tuple[int, ...] = 1, *, rng: int | np.random.Generator | None = None
    ) -> NDArray[np.float64]:
        """Random draws of the number of responders."""
        gen = np.random.default_rng(rng)
        shape = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
        idx = gen.choice(self.n_components, size=shape, p=self.weights)
        p = gen.beta(self.a[idx], self.b[idx])
        return np.asarray(gen.binomial(self.n, p), dtype=float)


def _binary_data(r: int | None, n: int | None, data: ArrayLike | None) -> tuple[Any, Any]:
    if data is None:
        if r is None or n is None:
            raise TypeError("give both r and n, or data")
        return r, n
    if r is not None or n is not None:
        raise TypeError("give either r and n, or data, not both")
    d = np.asarray(data)
    if d.ndim != 1 or not np.isin(d, (0, 1)).all():
        raise ValueError(f"data must be a 1-D sequence of 0/1 outcomes, got {data!r}")
    return int(d.sum()), int(d.size)
