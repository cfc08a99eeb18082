"""Fujikawa et al. (2020): sharing beta posteriors weighted by their similarity.

Each basket first gets its own posterior ``Beta(a + r_j, b + n_j - r_j)``. The similarity of
baskets ``i`` and ``j`` is ``w_ij = (1 - JSD_ij)^epsilon``, where ``JSD_ij`` is the
Jensen-Shannon divergence (logarithm base 2, so in [0, 1]) between the two individual
posteriors; weights below ``tau`` are set to zero, and ``w_ii = 1``. The shared posterior
of basket ``i`` is ``Beta(sum_j w_ij (a + r_j), sum_j w_ij (b + n_j - r_j))`` (the prior is
shared along with the data, as in the paper).

The divergence is computed on the logit scale (the Kullback-Leibler divergence, hence the
JSD, is invariant under the change of variable) by the trapezoidal rule on a logit
grid over [-40, 40]; each distinct pair of individual posteriors is integrated once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rdstats._provenance import provenance
from rdstats._validation import readonly, real_number
from rdstats.basket._mem import (
    beta_logit_logpdf,
    beta_mixture_logit_density,
    beta_mixture_summaries,
    beta_mixture_tails,
    check_beta_prior,
    check_counts,
    check_table,
)
from rdstats.basket._posterior import LOGIT_GRID, BasketPosterior

Array = NDArray[np.float64]

__all__ = ["Fujikawa", "jensen_shannon_beta"]

#: logit grid of the divergence quadrature: wide enough for beta shapes below one
_JSD_GRID = np.linspace(-40.0, 40.0, 4001)


def jensen_shannon_beta(
    a1: ArrayLike, b1: ArrayLike, a2: ArrayLike, b2: ArrayLike, logbase: float = 2.0
) -> Array:
    """Jensen-Shannon divergence between ``Beta(a1, b1)`` and ``Beta(a2, b2)`` (broadcast),
    by quadrature on the logit scale, in units of ``log(logbase)``."""
    grid = _JSD_GRID
    lp = beta_logit_logpdf(a1, b1, grid)
    lq = beta_logit_logpdf(a2, b2, grid)
    lp, lq = np.broadcast_arrays(lp, lq)
    lm = np.logaddexp(lp, lq) - np.log(2.0)
    p, q = np.exp(lp), np.exp(lq)
    kl_p = np.trapezoid(p * (lp - lm), grid, axis=-1) / np.trapezoid(p, grid, axis=-1)
    kl_q = np.trapezoid(q * (lq - lm), grid, axis=-1) / np.trapezoid(q, grid, axis=-1)
    jsd = 0.5 * (kl_p + kl_q) / np.log(logbase)
    return np.asarray(np.clip(jsd, 0.0, np.log(2.0) / np.log(logbase)))


@dataclass(frozen=True)
class Fujikawa:
    """Similarity-weighted sharing of beta posteriors (Fujikawa et al. 2020).

    Parameters
    ----------
    beta_prior : (a, b)
        Beta prior of every basket's response rate (default ``(1, 1)``).
    epsilon : float
        Exponent of the similarity ``(1 - JSD)^epsilon``: larger values borrow less from
        dissimilar baskets (default 2, as in the paper's examples).
    tau : float
        Similarities below ``tau`` are set to zero (default 0.3).
    logbase : float
        Base of the logarithm in the divergence (default 2: JSD in [0, 1]).

    References
    ----------
    Fujikawa K, Teramukai S, Yokota I, Daimon T (2020). A Bayesian basket trial design
    that borrows information across strata based on the similarity between the posterior
    distributions of the response probability. Biometrical Journal 62:330-338.

    Examples
    --------
    >>> from rdstats.basket import Fujikawa
    >>> post = Fujikawa().fit([2, 3, 9], [15, 15, 15])
    >>> post.extra["weights"].round(3)
    array([[1.   , 0.865, 0.   ],
           [0.865, 1.   , 0.   ],
           [0.   , 0.   , 1.   ]])
    >>> Fujikawa().posterior_table([[2, 3, 9]], [15, 15, 15], 0.2)["mean"].round(3)
    array([[0.204, 0.208, 0.588]])
    """

    beta_prior: tuple[float, float] = (1.0, 1.0)
    epsilon: float = 2.0
    tau: float = 0.3
    logbase: float = 2.0

    def __post_init__(self) -> None:
        check_beta_prior(self.beta_prior)
        eps = real_number(self.epsilon, "epsilon")
        if eps < 0:
            raise ValueError(f"epsilon must be >= 0, got {self.epsilon!r}")
        tau = real_number(self.tau, "tau")
        if not 0 <= tau <= 1:
            raise ValueError(f"tau must be in [0, 1], got {self.tau!r}")
        if real_number(self.logbase, "logbase") <= 1:
            raise ValueError(f"logbase must be > 1, got {self.logbase!r}")

    def weights(self, r: ArrayLike, n: ArrayLike) -> Array:
        """Sharing weights: (M, K, K) for outcome rows ``r`` (M, K) (or (K, K) for one row)."""
        rr = np.asarray(r)
        one = rr.ndim == 1
        rr, nn, _ = check_table(np.atleast_2d(rr), n, 0.5)
        w = self._weights(rr, nn)
        return w[0] if one else w

    def _weights(self, r: NDArray[np.int64], n: NDArray[np.int64]) -> Array:
        a, b = check_beta_prior(self.beta_prior)
        m, k = r.shape
        iu, ju = np.triu_indices(k, 1)
        w = np.broadcast_to(np.eye(k), (m, k, k)).copy()
        if iu.size == 0:
            return w
        # distinct (r_i, n_i, r_j, n_j) pairs, each integrated once
        keys = np.stack(
            [
                r[:, iu],
                np.broadcast_to(n[iu], (m, iu.size)),
                r[:, ju],
                np.broadcast_to(n[ju], (m, iu.size)),
            ],
            axis=-1,
        ).reshape(-1, 4)
        uniq, inv = np.unique(keys, axis=0, return_inverse=True)
        jsd = np.empty(len(uniq))
        for s in range(0, len(uniq), 256):
            u = uniq[s : s + 256].astype(float)
            jsd[s : s + 256] = jensen_shannon_beta(
                a + u[:, 0],
                b + u[:, 1] - u[:, 0],
                a + u[:, 2],
                b + u[:, 3] - u[:, 2],
                self.logbase,
            )
        sim = (1.0 - jsd[inv.ravel()]) ** float(self.epsilon)
        sim = np.where(sim < float(self.tau), 0.0, sim).reshape(m, iu.size)
        w[:, iu, ju] = sim
        w[:, ju, iu] = sim
        return w

    def _shared(self, r: NDArray[np.int64], n: NDArray[np.int64]) -> tuple[Array, Array, Array]:
        a, b = check_beta_prior(self.beta_prior)
        w = self._weights(r, n)
        pa = np.einsum("mij,mj->mi", w, a + r)
        pb = np.einsum("mij,mj->mi", w, b + (n[None, :] - r))
        return w, pa, pb

    def fit(
        self, r: ArrayLike, n: ArrayLike, names: Sequence[str] | None = None
    ) -> BasketPosterior:
        """Shared posterior of every basket's response rate (closed form)."""
        rr, nn, labels = check_counts(r, n, names)
        w, pa, pb = self._shared(rr[None, :], nn)
        dens = beta_mixture_logit_density(np.ones((rr.size, 1)), pa[0][:, None], pb[0][:, None])
        tails = beta_mixture_tails(np.ones((rr.size, 1)), pa[0][:, None], pb[0][:, None])
        extra: dict[str, Any] = {
            "weights": readonly(w[0]),
            "shape1": readonly(pa[0]),
            "shape2": readonly(pb[0]),
            "mean_exact": (pa[0] / (pa[0] + pb[0])).tolist(),
        }
        return BasketPosterior(
            model="Fujikawa",
            r=readonly(rr),
            n=readonly(nn),
            names=labels,
            grid=LOGIT_GRID,
            density=dens,
            tails=readonly(tails),
            extra=extra,
            provenance=provenance(
                {
                    "model": "Fujikawa",
                    "beta_prior": list(check_beta_prior(self.beta_prior)),
                    "epsilon": float(self.epsilon),
                    "tau": float(self.tau),
                    "logbase": float(self.logbase),
                    "r": rr.tolist(),
                    "n": nn.tolist(),
                }
            ),
        )

    def posterior_table(self, r: ArrayLike, n: ArrayLike, p0: ArrayLike) -> dict[str, Array]:
        """Posterior means and P(p_j > p0_j) for outcome rows ``r`` (M, K), in closed form."""
        rr, nn, q = check_table(r, n, p0)
        _, pa, pb = self._shared(rr, nn)
        mean, tail = beta_mixture_summaries(
            np.ones((*pa.shape, 1)), pa[..., None], pb[..., None], np.broadcast_to(q, pa.shape)
        )
        return {"mean": readonly(mean), "prob_above": readonly(tail)}
