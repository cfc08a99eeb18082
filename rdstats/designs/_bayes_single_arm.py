"""Bayesian single-arm binary monitoring designs: posterior-probability monitoring
(Thall & Simon 1994), the predictive-probability design (Lee & Liu 2008) and BOP2 (Zhou,
Lee & Yuan 2017; with efficacy stopping as in BOP2-FE, Xu et al. 2025).

Each criterion is monotone in the number of responders, so every design reduces to
stopping boundaries on counts (:class:`SequentialBinaryDesign`) whose operating
characteristics are exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from rdstats._validation import real_number as _number
from rdstats.designs._sequential_binary import SequentialBinaryDesign, _int_vector
from rdstats.priors import BetaMixture

Array = NDArray[np.float64]

__all__ = [
    "bop2_design",
    "posterior_monitoring_design",
    "posterior_probability",
    "predictive_probability",
    "predictive_probability_design",
]


def as_beta_prior(prior: Any, name: str = "prior") -> BetaMixture:
    """A BetaMixture from a BetaMixture or an ``(a, b)`` pair."""
    if isinstance(prior, BetaMixture):
        return prior
    if isinstance(prior, (tuple, list)) and len(prior) == 2:
        a, b = (float(v) for v in prior)
        if not (a > 0 and b > 0 and np.isfinite(a) and np.isfinite(b)):
            raise ValueError(f"{name} = (a, b) needs positive a and b, got {prior!r}")
        return BetaMixture(1.0, a, b)
    raise TypeError(f"{name} must be a BetaMixture or an (a, b) pair, got {prior!r}")


def _check_delta(value: Any, name: str) -> float:
    v = _number(value, name)
    if not -1.0 < v < 1.0:
        raise ValueError(f"{name} must be a difference of rates in (-1, 1), got {value!r}")
    return v


def _counts(y: Any, n: int, name: str = "y") -> NDArray[np.int64]:
    ya = np.atleast_1d(np.asarray(y))
    if ya.dtype.kind not in "iuf" or np.any(~np.isfinite(ya)) or np.any(ya != np.round(ya)):
        raise ValueError(f"{name} must be integers in 0..n = {n}, got {y!r}")
    if np.any(ya < 0) or np.any(ya > n):
        raise ValueError(f"{name} must be integers in 0..n = {n}, got {np.asarray(y).tolist()}")
    return ya.astype(np.int64)


def _check_prob(value: float, name: str, closed: bool = False) -> float:
    v = _number(value, name)
    ok = 0.0 <= v <= 1.0 if closed else 0.0 < v < 1.0
    if not ok:
        interval = "[0, 1]" if closed else "(0, 1)"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return v


def _posterior_parts(prior: BetaMixture, x: Array, n: int) -> tuple[Array, Array, Array]:
    post = prior.posterior_batch(np.asarray(x, dtype=float), int(n))
    return (
        np.asarray(post.weights, dtype=float),
        np.asarray(post.param("a"), dtype=float),
        np.asarray(post.param("b"), dtype=float),
    )


def _prob_above(prior: BetaMixture, x: Array, n: int, ref: Any, delta: float = 0.0) -> Array:
    """P(p > ref + delta | x responders of n) for every x; ``ref`` a rate or a beta
    mixture (an uncertain standard rate, integrated out by Gauss-Legendre)."""
    w, a, b = _posterior_parts(prior, x, n)
    if isinstance(ref, BetaMixture):
        # P(p > S + delta) = F_S(-delta) + int_lo^hi f_S(s) P(p > s + delta) ds
        lo, hi = max(0.0, -delta), min(1.0, 1.0 - delta)
        u, wu = np.polynomial.legendre.leggauss(200)
        half = (hi - lo) / 2
        s = lo + half * (u + 1)
        dens = np.asarray(ref.pdf(s)) * wu * half
        surv = special.betaincc(a[..., None], b[..., None], np.clip(s + delta, 0.0, 1.0))
        below = float(ref.cdf(lo)) if delta < 0 else 0.0
        return np.asarray(below + np.einsum("xk,xks,s->x", w, surv, dens))
    t = float(ref) + delta
    if t <= 0:
        return np.ones(np.shape(x))
    if t >= 1:
        return np.zeros(np.shape(x))
    return np.asarray(np.sum(w * special.betaincc(a, b, t), axis=1))


def posterior_probability(
    y: ArrayLike, n: int, prior: Any, p0: Any, delta: float = 0.0
) -> Array | float:
    """Posterior probability ``P(p > p0 + delta | y responders of n)`` under a beta
    (mixture) prior; ``p0`` may be a BetaMixture for an uncertain standard rate (Thall &
    Simon 1994).

    Examples
    --------
    >>> from rdstats.designs import posterior_probability
    >>> round(float(posterior_probability(16, 23, (0.6, 0.4), 0.6)), 3)
    0.836
    """
    pr = as_beta_prior(prior)
    nn = int(_int_vector(n, "n")[0])
    ya = _counts(y, nn)
    if not isinstance(p0, BetaMixture):
        _check_prob(p0, "p0")
    out = _prob_above(pr, ya.astype(float), nn, p0, _check_delta(delta, "delta"))
    return float(out[0]) if np.ndim(y) == 0 else out


def _predictive_table(prior: BetaMixture, n: int, nmax: int, p0: float, theta_t: float) -> Array:
    """PP(x) for x = 0..n: probability that the trial ends with P(p > p0 | X_nmax) >
    theta_t, given x responders among the first n (beta-binomial predictive)."""
    m = nmax - n
    x = np.arange(n + 1, dtype=float)
    final = _prob_above(prior, np.arange(nmax + 1, dtype=float), nmax, p0) > theta_t
    if m == 0:
        return final.astype(float)
    w, a, b = _posterior_parts(prior, x, n)
    i = np.arange(m + 1)
    pmf = stats.betabinom.pmf(i[None, None, :], m, a[..., None], b[..., None])  # (X, K, I)
    pred = np.einsum("xk,xki->xi", w, pmf)
    idx = np.clip(x[:, None].astype(int) + i[None, :], 0, nmax)
    return np.asarray(np.sum(pred * final[idx], axis=1))


def predictive_probability(
    y: ArrayLike, n: int, nmax: int, prior: Any, p0: float, theta_t: float
) -> Array | float:
    """Predictive probability of trial success (Lee & Liu 2008).

    With ``y`` responders among ``n`` patients and ``nmax`` planned, the probability
    (under the posterior predictive of the remaining ``nmax - n`` outcomes) that the
    final analysis finds ``P(p > p0 | data) > theta_t``.

    Parameters
    ----------
    y : int or array_like of int
        Responders so far.
    n, nmax : int
        Patients so far and the maximum sample size.
    prior : BetaMixture or (a, b)
        Prior of the response rate.
    p0 : float
        Response rate of the standard treatment.
    theta_t : float
        Posterior probability required at the end.

    References
    ----------
    .. [1] Lee JJ, Liu DD. A predictive probability design for phase II cancer clinical
       trials. Clin Trials 2008;5:93-106.

    Examples
    --------
    >>> from rdstats.designs import predictive_probability
    >>> round(float(predictive_probability(16, 23, 40, (0.6, 0.4), 0.6, 0.90)), 7)
    0.5655589
    """
    pr = as_beta_prior(prior)
    nn, nm = (int(_int_vector(v, name)[0]) for v, name in ((n, "n"), (nmax, "nmax")))
    if not 0 <= nn <= nm or nm < 1:
        raise ValueError(f"need 0 <= n <= nmax and nmax >= 1, got n={n}, nmax={nmax}")
    ya = _counts(y, nn)
    table = _predictive_table(pr, nn, nm, _check_prob(p0, "p0"), _check_prob(theta_t, "theta_t"))
    out = table[ya]
    return float(out[0]) if np.ndim(y) == 0 else out


def _check_looks(looks: Any, nmax: int | None = None) -> NDArray[np.int64]:
    lk = _int_vector(looks, "looks")
    if lk[0] < 1 or np.any(np.diff(lk) <= 0):
        raise ValueError(f"looks must be strictly increasing sample sizes >= 1, got {lk.tolist()}")
    if nmax is not None and lk[-1] != nmax:
        raise ValueError(f"the last look must be nmax = {nmax}, got looks ending at {lk[-1]}")
    return lk


def _bounds_from(probs: Sequence[Array], lower: Array, upper: Array) -> tuple[list[int], list[int]]:
    """Futility: the largest count with prob < lower; efficacy: the smallest with
    prob > upper; the probabilities must be non-decreasing in the count."""
    fut, eff = [], []
    for k, pk in enumerate(probs):
        if np.any(np.diff(pk) < -1e-12):
            raise ValueError(
                f"the monitoring probability is not monotone in the responders at look {k + 1}; "
                "boundaries on counts need a monotone criterion (check the prior)"
            )
        fut.append(int(np.count_nonzero(pk < lower[k])) - 1)
        above = np.flatnonzero(pk > upper[k])
        eff.append(int(above[0]) if above.size else pk.size)
    return fut, eff


def posterior_monitoring_design(
    prior: Any,
    p0: Any,
    looks: Sequence[int],
    *,
    futility: float = 0.05,
    efficacy: float | None = None,
    final: float = 0.95,
    delta_futility: float = 0.0,
    delta_efficacy: float = 0.0,
) -> SequentialBinaryDesign:
    """Posterior-probability monitoring (Thall & Simon 1994).

    At each look stop for futility if ``P(p > p0 + delta_futility | data) < futility``
    (the drug is unlikely to improve on the standard by the targeted ``delta_futility``)
    and, when ``efficacy`` is given, for efficacy if ``P(p > p0 + delta_efficacy | data)
    > efficacy``; at the last look succeed if that probability exceeds ``final``.
    Continuous monitoring is ``looks=range(n_min, nmax + 1)``. ``p0`` may be a
    BetaMixture: the standard treatment's uncertain rate, as in Thall & Simon.

    References
    ----------
    .. [1] Thall PF, Simon R. Practical Bayesian guidelines for phase IIB clinical
       trials. Biometrics 1994;50:337-349.

    Examples
    --------
    >>> from rdstats.designs import posterior_monitoring_design
    >>> d = posterior_monitoring_design((1, 1), 0.2, looks=[10, 20, 30], futility=0.05)
    >>> d.boundaries()[["futility", "efficacy"]].T.to_numpy().tolist()
    [[-1, 0, 9], [11, 21, 10]]
    """
    pr = as_beta_prior(prior)
    lk = _check_looks(looks)
    f = _check_prob(futility, "futility", closed=True)
    e = np.inf if efficacy is None else _check_prob(efficacy, "efficacy")
    if efficacy is not None and not e > f:
        raise ValueError(f"efficacy={efficacy!r} must exceed futility={futility!r}")
    fin = _check_prob(final, "final")
    d_f = _check_delta(delta_futility, "delta_futility")
    d_e = _check_delta(delta_efficacy, "delta_efficacy")
    if not isinstance(p0, BetaMixture):
        _check_prob(p0, "p0")
    grid = [np.arange(n + 1, dtype=float) for n in lk]
    fut_probs = [_prob_above(pr, x, int(n), p0, d_f) for x, n in zip(grid, lk, strict=True)]
    eff_probs = [_prob_above(pr, x, int(n), p0, d_e) for x, n in zip(grid, lk, strict=True)]
    upper = np.full(lk.size, e)
    upper[-1] = fin
    fut, _ = _bounds_from(fut_probs, np.full(lk.size, f), np.full(lk.size, np.inf))
    _, eff = _bounds_from(eff_probs, np.zeros(lk.size), upper)
    # a count cannot be both: futility bounds stay below the efficacy bounds
    fut = [min(fb, eb - 1) for fb, eb in zip(fut, eff, strict=True)]
    return SequentialBinaryDesign(
        lk,
        fut,
        eff,
        p0=None if isinstance(p0, BetaMixture) else float(p0),
        label="posterior monitoring",
        settings={
            "design": "posterior_monitoring",
            "prior": pr.to_dict(),
            "p0": p0.to_dict() if isinstance(p0, BetaMixture) else float(p0),
            "futility": f,
            "efficacy": efficacy,
            "final": fin,
            "delta_futility": d_f,
            "delta_efficacy": d_e,
        },
    )


def predictive_probability_design(
    prior: Any,
    p0: float,
    looks: Sequence[int],
    *,
    theta_t: float,
    theta_l: float,
    theta_u: float = 1.0,
) -> SequentialBinaryDesign:
    """Predictive-probability design (Lee & Liu 2008): at each interim look stop for
    futility if the predictive probability of success is below ``theta_l``, for efficacy
    if above ``theta_u`` (1: never); at the last look succeed if ``P(p > p0 | data) >
    theta_t``.

    Examples
    --------
    >>> from rdstats.designs import predictive_probability_design
    >>> d = predictive_probability_design((0.6, 0.4), 0.6, range(10, 41), theta_t=0.9,
    ...                                   theta_l=0.05)
    >>> int(d.boundaries().efficacy.iloc[-1])  # final: at least this many of 40 respond
    28
    """
    pr = as_beta_prior(prior)
    lk = _check_looks(looks)
    p0 = _check_prob(p0, "p0")
    tt = _check_prob(theta_t, "theta_t")
    tl = _check_prob(theta_l, "theta_l", closed=True)
    tu = _check_prob(theta_u, "theta_u", closed=True)
    if not tl < tu:
        raise ValueError(f"theta_l={theta_l!r} must be below theta_u={theta_u!r}")
    nmax = int(lk[-1])
    probs = [_predictive_table(pr, int(n), nmax, p0, tt) for n in lk[:-1]]
    probs.append(_prob_above(pr, np.arange(nmax + 1, dtype=float), nmax, p0))
    lower = np.full(lk.size, tl)
    upper = np.full(lk.size, np.inf if tu >= 1.0 else tu)  # theta_u = 1: no efficacy stop
    upper[-1] = tt
    fut, eff = _bounds_from(probs, lower, upper)
    return SequentialBinaryDesign(
        lk,
        fut,
        eff,
        p0=p0,
        label=f"predictive probability (θL={tl:g}, θT={tt:g})",
        settings={"design": "predictive_probability", "prior": pr.to_dict(), "p0": p0,
                  "theta_t": tt, "theta_l": tl, "theta_u": tu},
    )  # fmt: skip


def bop2_cutoffs(
    looks: ArrayLike, lam: float, gamma: float, efficacy: str | None = None, eta: float = 1.0
) -> tuple[Array, Array]:
    """BOP2 probability cut-offs at the looks: futility ``lam (n/N)^gamma``; efficacy
    (BOP2-FE) ``1 - (1 - lam)(n/N)^eta`` ("power") or ``2 Phi(z_{(1+lam)/2} / sqrt(n/N))
    - 1`` ("OF", O'Brien-Fleming type); without efficacy stopping infinite at the
    interims. At the last look both equal ``lam``."""
    lk = np.asarray(looks, dtype=float)
    frac = lk / lk[-1]
    fut = lam * frac**gamma
    if efficacy is None:
        eff = np.full(lk.size, np.inf)  # no efficacy stop
    elif efficacy == "power":
        eff = 1.0 - (1.0 - lam) * frac**eta
    elif efficacy == "OF":
        eff = 2.0 * special.ndtr(special.ndtri((1.0 + lam) / 2.0) / np.sqrt(frac)) - 1.0
    else:
        raise ValueError(f"efficacy must be None, 'power' or 'OF', got {efficacy!r}")
    eff[-1] = lam
    return np.asarray(fut), np.asarray(eff)


def bop2_design(
    p0: float,
    looks: Sequence[int],
    *,
    lam: float,
    gamma: float,
    efficacy: str | None = None,
    eta: float = 1.0,
    prior: Any = None,
) -> SequentialBinaryDesign:
    """Bayesian optimal phase II design (BOP2) for a binary endpoint.

    At look n stop for futility if ``P(p > p0 | data) < lam (n/N)^gamma``; with
    ``efficacy`` ("power" or "OF", BOP2-FE) stop for efficacy if it exceeds the efficacy
    cut-off (see :func:`bop2_cutoffs`); at N reject H0 if it exceeds ``lam``. The
    default prior is Be(p0, 1 - p0): mean p0, worth one patient.

    References
    ----------
    .. [1] Zhou H, Lee JJ, Yuan Y. BOP2: Bayesian optimal design for phase II clinical
       trials with simple and complex endpoints. Stat Med 2017;36:3302-3314.
    .. [2] Xu X, Hashimoto A, Homma G, Takeda K, Yimer BB. Bayesian optimal phase II
       design with futility and efficacy stopping boundaries (BOP2-FE). J Biopharm Stat
       2025. doi:10.1080/10543406.2025.2558142.

    Examples
    --------
    >>> from rdstats.designs import bop2_design
    >>> d = bop2_design(0.2, range(10, 41, 5), lam=0.909, gamma=1.0, efficacy="OF")
    >>> d.boundaries()[["futility", "efficacy"]].T.to_numpy().tolist()
    [[1, 2, 3, 5, 7, 9, 11], [7, 8, 9, 10, 11, 11, 12]]
    """
    p0 = _check_prob(p0, "p0")
    lk = _check_looks(looks)
    lam_ = _check_prob(lam, "lam")
    if _number(gamma, "gamma") < 0:
        raise ValueError(f"gamma must be a non-negative number, got {gamma!r}")
    if _number(eta, "eta") < 0:
        raise ValueError(f"eta must be a non-negative number, got {eta!r}")
    pr = BetaMixture(1.0, p0, 1.0 - p0) if prior is None else as_beta_prior(prior)
    fut_c, eff_c = bop2_cutoffs(lk, lam_, float(gamma), efficacy, float(eta))
    probs = [_prob_above(pr, np.arange(n + 1, dtype=float), int(n), p0) for n in lk]
    fut, eff = _bounds_from(probs, fut_c, eff_c)
    return SequentialBinaryDesign(
        lk,
        fut,
        eff,
        p0=p0,
        label=f"BOP2 (λ={lam_:g}, γ={float(gamma):g})",
        settings={"design": "BOP2", "prior": pr.to_dict(), "p0": p0, "lam": lam_,
                  "gamma": float(gamma), "efficacy": efficacy, "eta": float(eta)},
    )  # fmt: skip
