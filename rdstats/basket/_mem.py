"""Multisource exchangeability models (MEM) for basket trials.

For basket ``j`` with beta prior ``Beta(a, b)``, a *source-inclusion model* ``S`` says which
of the other baskets are exchangeable with ``j`` (share its response rate). Under ``S``
the basket's rate has the conjugate posterior ``Beta(a + r_j + sum_{h in S} r_h,
b + f_j + sum_{h in S} f_h)`` (``f = n - r``), and the marginal likelihood of all baskets'
data is the beta-binomial product of the pooled group and the excluded baskets (binomial
coefficients cancel between models). With prior inclusion probabilities ``pi_jh`` the
posterior model weights are

    w_j(S) ∝ prod_h pi_jh^{S_h} (1 - pi_jh)^{1 - S_h} * B(a + R_S, b + F_S) / B(a, b)
             * prod_{h not in S} B(a + r_h, b + f_h) / B(a, b),

and the posterior of ``p_j`` is the beta mixture over the ``2^(K-1)`` models. Exact
enumeration is used up to ``max_exact`` baskets; beyond, a Gibbs sampler over the
inclusion indicators (one chain per basket, each indicator drawn from its full
conditional) gives the model weights as visit frequencies, with Rao-Blackwellised
pairwise inclusion probabilities.

This module also holds the small helpers (count validation, beta mixtures on the logit
grid) shared with :mod:`rdstats.basket._fujikawa`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from rdstats._provenance import provenance
from rdstats._validation import as_float_array, as_int_array, check_positive, readonly
from rdstats.basket._posterior import LOGIT_GRID, BasketPosterior

Array = NDArray[np.float64]

__all__ = ["MEM", "MEMPosterior"]


# --------------------------------------------------------------------------- helpers
def check_counts(
    r: ArrayLike, n: ArrayLike, names: Sequence[str] | None = None
) -> tuple[NDArray[np.int64], NDArray[np.int64], list[str]]:
    """Validate one outcome vector: responders ``r`` and patients ``n`` per basket."""
    rr = np.atleast_1d(as_int_array(r, "r"))
    nn = np.atleast_1d(as_int_array(n, "n"))
    if rr.ndim != 1 or nn.ndim != 1:
        raise ValueError(
            f"r and n must be 1-D (one entry per basket), got shapes {rr.shape}, {nn.shape}"
        )
    if rr.size != nn.size:
        raise ValueError(f"r and n must have the same length, got {rr.size} and {nn.size}")
    if rr.size == 0:
        raise ValueError("r and n must describe at least one basket, got empty arrays")
    bad = np.flatnonzero(rr > nn)
    if bad.size:
        k = int(bad[0])
        raise ValueError(f"r={int(rr[k])} exceeds n={int(nn[k])} in basket {k}")
    if names is None:
        labels = [f"basket {k + 1}" for k in range(rr.size)]
    else:
        labels = [str(x) for x in names]
        if len(labels) != rr.size:
            raise ValueError(f"names must have {rr.size} entries, got {len(labels)}")
    return rr, nn, labels


def check_table(
    r: ArrayLike, n: ArrayLike, p0: ArrayLike
) -> tuple[NDArray[np.int64], NDArray[np.int64], Array]:
    """Validate the inputs of ``posterior_table``: r (M, K), n (K,), p0 (scalar or (K,))."""
    rr = as_int_array(r, "r")
    if rr.ndim == 1:
        rr = rr[None, :]
    if rr.ndim != 2:
        raise ValueError(f"r must be an (M, K) array of outcome vectors, got shape {rr.shape}")
    nn = np.atleast_1d(as_int_array(n, "n"))
    if nn.ndim != 1 or nn.size != rr.shape[1]:
        raise ValueError(f"n must have one entry per basket ({rr.shape[1]}), got shape {nn.shape}")
    if (rr > nn).any():
        m, k = np.argwhere(rr > nn)[0]
        raise ValueError(f"r={int(rr[m, k])} exceeds n={int(nn[k])} (row {m}, basket {k})")
    q = as_float_array(p0, "p0")
    if q.ndim > 1 or (q.ndim == 1 and q.size not in (1, nn.size)):
        raise ValueError(f"p0 must be a scalar or have one entry per basket, got shape {q.shape}")
    if ((q <= 0) | (q >= 1)).any():
        raise ValueError(f"p0 must be strictly between 0 and 1, got {q.tolist()}")
    return rr, nn, np.broadcast_to(q, (nn.size,)).astype(float)


def check_beta_prior(beta_prior: Any) -> tuple[float, float]:
    arr = check_positive(beta_prior, "beta_prior")
    if arr.shape != (2,):
        raise ValueError(f"beta_prior must be a pair (a, b), got {beta_prior!r}")
    return float(arr[0]), float(arr[1])


def beta_logit_logpdf(a: ArrayLike, b: ArrayLike, grid: Array = LOGIT_GRID) -> Array:
    """Log density of ``logit p`` for ``p ~ Beta(a, b)`` on ``grid`` (broadcast: a[..., None])."""
    aa = np.asarray(a, dtype=float)[..., None]
    bb = np.asarray(b, dtype=float)[..., None]
    lp = -np.logaddexp(0.0, -grid)  # log expit(x)
    lq = -np.logaddexp(0.0, grid)  # log expit(-x)
    return np.asarray(aa * lp + bb * lq - special.betaln(aa, bb))


def beta_mixture_logit_density(
    weights: Array, a: Array, b: Array, grid: Array = LOGIT_GRID
) -> Array:
    """Density of ``logit p`` on ``grid`` for the beta mixture (components on the last axis)."""
    with np.errstate(divide="ignore"):
        lw = np.log(np.asarray(weights, dtype=float))
    ld = special.logsumexp(lw[..., None] + beta_logit_logpdf(a, b, grid), axis=-2)
    d = np.exp(ld)
    return np.asarray(d / np.trapezoid(d, grid, axis=-1)[..., None])


def beta_mixture_tails(weights: Array, a: Array, b: Array, grid: Array = LOGIT_GRID) -> Array:
    """Probability of the beta mixture below and above the grid's ends, shape (..., 2)."""
    w = np.asarray(weights, dtype=float)
    lo, hi = special.expit(grid[0]), special.expit(grid[-1])
    below = np.sum(w * special.betainc(a, b, lo), axis=-1)
    above = np.sum(w * special.betaincc(a, b, hi), axis=-1)
    return np.stack([below, above], axis=-1)


def beta_mixture_summaries(w: Array, a: Array, b: Array, p0: Array) -> tuple[Array, Array]:
    """Closed-form mean and P(p > p0) of beta mixtures (components on the last axis; p0
    broadcast against the leading axes)."""
    mean = np.sum(w * a / (a + b), axis=-1)
    tail = np.sum(w * special.betaincc(a, b, np.asarray(p0)[..., None]), axis=-1)
    return np.asarray(mean), np.asarray(np.clip(tail, 0.0, 1.0))


# --------------------------------------------------------------------------- kernels
def _subsets(k: int) -> NDArray[np.bool_]:
    """All 2^k inclusion patterns (rows) of k sources."""
    idx = np.arange(2**k)[:, None]
    return np.asarray((idx >> np.arange(k)[None, :]) & 1, dtype=bool)


def _mem_exact(
    r: NDArray[np.int64], n: NDArray[np.int64], prior: Array, a: float, b: float, j: int
) -> tuple[Array, Array, Array, NDArray[np.bool_]]:
    """Exact MEM of basket ``j`` for outcome rows ``r`` (M, K): weights (M, C), posterior
    beta parameters (M, C) each, and the inclusion patterns (C, K) (column j always on)."""
    k = r.shape[1]
    others = [h for h in range(k) if h != j]
    pat = np.zeros((2 ** (k - 1), k), dtype=bool)
    pat[:, others] = _subsets(k - 1)
    pat[:, j] = True
    f = n[None, :] - r
    inc = pat.astype(float)
    r_in = r @ inc.T
    f_in = f @ inc.T
    indiv = special.betaln(a + r, b + f) - special.betaln(a, b)  # (M, K)
    with np.errstate(divide="ignore"):
        lp1, lp0 = np.log(prior[j]), np.log1p(-prior[j])
    lprior = np.where(pat, lp1[None, :], lp0[None, :])
    lprior[:, j] = 0.0
    logw = (
        lprior.sum(axis=1)[None, :]
        + special.betaln(a + r_in, b + f_in)
        - special.betaln(a, b)
        + indiv @ (1.0 - inc).T
    )
    w = np.exp(logw - special.logsumexp(logw, axis=1, keepdims=True))
    return w, a + r_in, b + f_in, pat


def _mem_gibbs(
    r: NDArray[np.int64],
    n: NDArray[np.int64],
    prior: Array,
    a: float,
    b: float,
    n_iter: int,
    burn_in: int,
    gen: np.random.Generator,
) -> tuple[NDArray[np.bool_], Array]:
    """Gibbs sampler over the inclusion indicators, all K basket-centred chains at once.

    Returns the kept states (n_iter, K, K) (row j: the sources of basket j's model) and the
    Rao-Blackwellised inclusion probabilities (K, K) (mean of the full conditionals)."""
    k = r.size
    f = n - r
    bl0 = special.betaln(a, b)
    indiv = special.betaln(a + r, b + f) - bl0
    with np.errstate(divide="ignore"):
        logit_prior = np.log(prior) - np.log1p(-prior)
    z = np.eye(k, dtype=bool)
    states = np.empty((n_iter, k, k), dtype=bool)
    rb = np.zeros((k, k))
    rows = np.arange(k)
    for it in range(burn_in + n_iter):
        for h in range(k):
            sel = rows != h
            zs = z[sel].copy()
            zs[:, h] = False
            rin = zs.astype(float) @ r
            fin = zs.astype(float) @ f
            delta = (
                special.betaln(a + rin + r[h], b + fin + f[h])
                - special.betaln(a + rin, b + fin)
                - indiv[h]
            )
            with np.errstate(over="ignore", invalid="ignore"):
                pr = special.expit(logit_prior[sel, h] + delta)
            z[sel, h] = gen.random(k - 1) < pr
            if it >= burn_in:
                rb[sel, h] += pr
        if it >= burn_in:
            states[it - burn_in] = z
    rb /= n_iter
    np.fill_diagonal(rb, 1.0)
    return states, rb


def _prior_matrix(prior_exch: Any, k: int) -> Array:
    p = as_float_array(prior_exch, "prior_exch")
    if p.ndim == 0:
        p = np.full((k, k), float(p))
    if p.shape != (k, k):
        raise ValueError(f"prior_exch must be a scalar or a ({k}, {k}) matrix, got shape {p.shape}")
    if ((p < 0) | (p > 1)).any():
        raise ValueError(f"prior_exch must hold probabilities in [0, 1], got {p.tolist()}")
    p = p.copy()
    np.fill_diagonal(p, 1.0)
    return p


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class MEMPosterior(BasketPosterior):
    """:class:`BasketPosterior` of a MEM analysis, with its exchangeability plot.

    ``exchangeability[j, h]`` is the posterior probability, in basket ``j``'s model, that
    basket ``h`` is exchangeable with ``j`` (diagonal one; not necessarily symmetric for
    K > 2); ``p_exchangeable[j]`` is the posterior probability that basket ``j`` is
    exchangeable with at least one other basket. ``extra`` holds the exact (closed-form)
    ``mean_exact`` and the model weights."""

    def plot_exchangeability(self, ax: Any = None, kind: str = "heatmap") -> Any:
        """Heat map (``kind="heatmap"``) or network (``kind="network"``) of the pairwise
        posterior exchangeability probabilities."""
        from rdstats.plotting._basket_mem import plot_exchangeability

        return plot_exchangeability(self, ax=ax, kind=kind)


# --------------------------------------------------------------------------- model
@dataclass(frozen=True)
class MEM:
    """Multisource exchangeability model for basket trials (Hobbs & Landin 2018).

    Parameters
    ----------
    prior_exch : float or (K, K) array
        Prior probability that two baskets are exchangeable (the inclusion probability of
        source ``h`` in basket ``j``'s model; diagonal ignored). Default 0.5.
    beta_prior : (a, b)
        Beta prior of every basket's response rate. Default ``(0.5, 0.5)``.
    method : {"auto", "exact", "mcmc"}
        ``"exact"`` enumerates the ``2^(K-1)`` models of each basket (at most ``max_exact``
        baskets), ``"mcmc"`` runs the Gibbs sampler, ``"auto"`` picks exact when
        K <= max_exact.
    max_exact : int
        Largest number of baskets analysed by enumeration (default 7).
    n_iter, burn_in : int
        Gibbs sweeps kept and discarded (``method="mcmc"``).

    References
    ----------
    Hobbs BP, Landin R (2018). Bayesian basket trial design with exchangeability
    monitoring. Statistics in Medicine 37:3557-3572.
    Kaizer AM, Koopmeiners JS, Hobbs BP (2018). Bayesian hierarchical modeling based on
    multisource exchangeability. Biostatistics 19:169-184.

    Examples
    --------
    >>> from rdstats.basket import MEM
    >>> post = MEM().fit([2, 3, 9], [15, 15, 15])
    >>> post.exchangeability.round(2)
    array([[1.  , 0.75, 0.06],
           [0.73, 1.  , 0.1 ],
           [0.17, 0.29, 1.  ]])
    >>> MEM().posterior_table([[2, 3, 9]], [15, 15, 15], 0.2)["prob_above"].round(3)
    array([[0.361, 0.441, 0.994]])
    """

    prior_exch: float | ArrayLike = 0.5
    beta_prior: tuple[float, float] = (0.5, 0.5)
    method: Literal["auto", "exact", "mcmc"] = "auto"
    max_exact: int = 7
    n_iter: int = 4000
    burn_in: int = 500
    name: str = field(default="MEM", repr=False)

    def __post_init__(self) -> None:
        check_beta_prior(self.beta_prior)
        if self.method not in ("auto", "exact", "mcmc"):
            raise ValueError(f"method must be 'auto', 'exact' or 'mcmc', got {self.method!r}")
        for nm in ("max_exact", "n_iter"):
            v = getattr(self, nm)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{nm} must be a positive integer, got {v!r}")
        if isinstance(self.burn_in, bool) or not isinstance(self.burn_in, (int, np.integer)):
            raise ValueError(f"burn_in must be a non-negative integer, got {self.burn_in!r}")
        if self.burn_in < 0:
            raise ValueError(f"burn_in must be a non-negative integer, got {self.burn_in!r}")
        p = as_float_array(self.prior_exch, "prior_exch")
        if ((p < 0) | (p > 1)).any():
            raise ValueError(f"prior_exch must hold probabilities in [0, 1], got {p.tolist()}")

    def _method(self, k: int) -> str:
        if self.method == "exact" and k > self.max_exact:
            raise ValueError(
                f"method='exact' enumerates 2^(K-1) models per basket and is limited to "
                f"max_exact={self.max_exact} baskets, got K={k}: use method='mcmc' (or 'auto'), "
                f"or raise max_exact"
            )
        if self.method == "auto":
            return "exact" if k <= self.max_exact else "mcmc"
        return self.method

    def fit(
        self,
        r: ArrayLike,
        n: ArrayLike,
        names: Sequence[str] | None = None,
        *,
        rng: int | np.random.SeedSequence | np.random.Generator | None = None,
    ) -> MEMPosterior:
        """Posterior of every basket's response rate given ``r`` responders out of ``n``
        (``rng`` is used by ``method="mcmc"`` only)."""
        rr, nn, labels = check_counts(r, n, names)
        k = rr.size
        a, b = check_beta_prior(self.beta_prior)
        prior = _prior_matrix(self.prior_exch, k)
        method = self._method(k)
        seed: Any = None
        dens = np.empty((k, LOGIT_GRID.size))
        tails = np.zeros((k, 2))
        mean = np.empty(k)
        p_exch = np.zeros(k)
        if method == "exact" or k == 1:
            exch = np.eye(k)
            weights = []
            for j in range(k):
                w, pa, pb, pat = _mem_exact(rr[None, :], nn, prior, a, b, j)
                dens[j] = beta_mixture_logit_density(w[0], pa[0], pb[0])
                tails[j] = beta_mixture_tails(w[0], pa[0], pb[0])
                mean[j] = np.sum(w[0] * pa[0] / (pa[0] + pb[0]))
                exch[j] = w[0] @ pat
                weights.append({"patterns": pat.astype(int).tolist(), "weights": w[0].tolist()})
                # weight of the model with no other source (pattern 0 = basket j alone)
                p_exch[j] = 1.0 - w[0, 0] if k > 1 else 0.0
            extra: dict[str, Any] = {"model_weights": weights}
        else:
            if isinstance(rng, np.random.Generator):
                gen = rng
            else:
                ss = rng if isinstance(rng, np.random.SeedSequence) else np.random.SeedSequence(rng)
                seed = ss.entropy
                gen = np.random.default_rng(ss)
            states, exch = _mem_gibbs(rr, nn, prior, a, b, self.n_iter, self.burn_in, gen)
            f = nn - rr
            for j in range(k):
                pats, counts = np.unique(states[:, j, :], axis=0, return_counts=True)
                freq = np.asarray(counts / counts.sum(), dtype=float)
                sa = np.asarray(a + pats.astype(float) @ rr, dtype=float)
                sb = np.asarray(b + pats.astype(float) @ f, dtype=float)
                dens[j] = beta_mixture_logit_density(freq, sa, sb)
                tails[j] = beta_mixture_tails(freq, sa, sb)
                mean[j] = np.sum(freq * sa / (sa + sb))
            off = states.copy()
            off[:, np.arange(k), np.arange(k)] = False
            p_exch = off.any(axis=2).mean(axis=0)
            extra = {"n_iter": self.n_iter, "burn_in": self.burn_in}
        exch = np.asarray(exch, dtype=float)
        np.fill_diagonal(exch, 1.0)
        extra["mean_exact"] = mean.tolist()
        extra["method"] = method
        return MEMPosterior(
            model=self.name,
            r=readonly(rr),
            n=readonly(nn),
            names=labels,
            grid=LOGIT_GRID,
            density=dens,
            p_exchangeable=readonly(np.asarray(p_exch, dtype=float)),
            exchangeability=readonly(np.asarray(exch, dtype=float)),
            tails=readonly(tails),
            extra=extra,
            provenance=provenance(
                {
                    "model": "MEM",
                    "prior_exch": np.asarray(self.prior_exch, dtype=float).tolist(),
                    "beta_prior": [a, b],
                    "method": method,
                    "r": rr.tolist(),
                    "n": nn.tolist(),
                },
                seed=seed,
            ),
        )

    def posterior_table(
        self,
        r: ArrayLike,
        n: ArrayLike,
        p0: ArrayLike,
        *,
        rng: int | np.random.SeedSequence | np.random.Generator | None = None,
    ) -> dict[str, Array]:
        """Posterior means and P(p_j > p0_j) for many outcome vectors at once.

        ``r`` is (M, K), ``n`` and ``p0`` per basket; returns ``{"mean": (M, K),
        "prob_above": (M, K)}`` in closed form (beta mixtures), equal to the exact values
        behind :meth:`fit` row by row. With ``method="mcmc"`` each row is sampled (one
        spawned stream per row)."""
        rr, nn, q = check_table(r, n, p0)
        m, k = rr.shape
        a, b = check_beta_prior(self.beta_prior)
        prior = _prior_matrix(self.prior_exch, k)
        mean = np.empty((m, k))
        tail = np.empty((m, k))
        if self._method(k) == "exact" or k == 1:
            for j in range(k):
                w, pa, pb, _ = _mem_exact(rr, nn, prior, a, b, j)
                mean[:, j], tail[:, j] = beta_mixture_summaries(w, pa, pb, np.full(m, q[j]))
            return {"mean": readonly(mean), "prob_above": readonly(tail)}
        if isinstance(rng, np.random.SeedSequence):
            ss = rng
        elif isinstance(rng, np.random.Generator):
            ss = np.random.SeedSequence(int(rng.integers(2**63)))
        else:
            ss = np.random.SeedSequence(rng)
        f = nn[None, :] - rr
        for i, child in enumerate(ss.spawn(m)):
            states, _ = _mem_gibbs(
                rr[i], nn, prior, a, b, self.n_iter, self.burn_in, np.random.default_rng(child)
            )
            for j in range(k):
                inc = states[:, j, :].astype(float)
                pa, pb = a + inc @ rr[i], b + inc @ f[i]
                w = np.full(pa.size, 1.0 / pa.size)
                mean[i, j], tail[i, j] = beta_mixture_summaries(w, pa, pb, q[j])
        return {"mean": readonly(mean), "prob_above": readonly(tail)}
