"""Commensurate priors (Hobbs et al. 2011, 2012): theta ~ N(theta0, tau^2) given the
historical parameter theta0, with a prior on the commensurability tau.

Exact computation (``method="exact"``):

* tau: adaptive Gauss-Legendre in ``v = log tau`` over the range holding the prior and the
  posterior mass, plus point masses (tau = 0 for the prior mass below the range, the spike
  of a spike-and-slab prior, a fixed tau).
* normal data (known sampling SD): given tau everything is Gaussian, so prior and posterior
  of theta are normal mixtures over the tau nodes (exact up to the tau rule).
* binomial data (logit link): the convolutions ``int f(t) N(t; x, tau^2) dt`` of the
  historical posterior of theta0 (or the current likelihood) with the normal kernel are
  adaptive Gauss-Hermite integrals centred at the mode of the integrand (accurate from
  tau -> 0 to large tau); the density of theta is then resolved on an adaptive composite
  Gauss-Legendre rule of a sinh-mapped axis (a :class:`QuadratureDistribution`).

``method="mcmc"`` fits the same model with PyMC (NUTS, non-centred) as a cross-check.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from rdstats._provenance import provenance as _provenance
from rdstats._validation import as_float_array, as_int_array, check_positive, check_probability
from rdstats._warnings import ConvergenceWarning
from rdstats.borrowing._borrowed import (
    EssMethod,
    QuadratureDistribution,
    Rule,
    _json_float,
    adaptive_rule,
    mixture_ess,
)
from rdstats.borrowing._hyperpriors import Fixed, TauPrior, Uniform, as_tau_prior
from rdstats.priors import NormalMixture
from rdstats.priors._beta import check_counts

__all__ = [
    "CommensurateResult",
    "GammaPrecision",
    "SampleDistribution",
    "SpikeSlabPrecision",
    "commensurate_prior",
]

Array = NDArray[np.float64]
_NEG = 45.0  # log-density drop treated as no mass


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
    >>> from rdstats.borrowing._commensurate import GammaPrecision
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
    >>> from rdstats.borrowing._commensurate import SpikeSlabPrecision
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


# -- tau rule --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _TauNodes:
    tau: Array  # (J,) all nodes: continuous nodes then atoms
    log_prior: Array  # (J,) log prior weight
    log_m: Array  # (J,) log m(D | tau)
    rule: Rule | None  # v-axis rule of the continuous part (columns: prior, posterior)
    atoms: Array
    atom_log_prior: Array
    atom_log_m: Array


def _tau_nodes(
    prior: TauPrior, logm: Callable[[Array], Array], scale: float, small: float
) -> _TauNodes:
    """Quadrature for tau adapted to the prior and to the posterior ``prior * m(D|tau)``.

    ``scale`` is the spread of the data (sets the upper end when the prior's tail is
    heavy), ``small`` the narrowest likelihood scale: below ``1e-3 * small`` the data
    cannot tell tau from 0 (``m(D | tau) = m(D | 0) (1 + O(tau^2 / small^2))``), so that
    prior mass goes to a node at tau = 0.
    """
    atoms: list[tuple[float, float]] = []
    rule = None
    if isinstance(prior, Fixed):
        atoms.append((prior.value, 1.0))
    elif isinstance(prior, SpikeSlabPrecision) and prior.p_spike == 1.0:
        atoms.append((prior.spike**-0.5, 1.0))
    else:
        if isinstance(prior, SpikeSlabPrecision):
            if prior.p_spike > 0:
                atoms.append((prior.spike**-0.5, prior.p_spike))
            lo, hi = prior._slab_range()
        elif isinstance(prior, Uniform):
            lo, hi = prior.lower, prior.upper
        else:
            lo, hi = 0.0, math.inf
        v_lo = math.log(max(lo, 1e-3 * small))
        top = float(prior.ppf(1 - 1e-13)) if not math.isfinite(hi) else hi
        v_hi = math.log(min(hi, max(top if math.isfinite(top) else 0.0, 10 * scale), 1e8 * scale))
        v_hi = max(v_hi, v_lo + 1.0)

        def cols(v: Array) -> Array:
            t = np.exp(v)
            lp = np.asarray(prior.logpdf(t), dtype=float) + v
            return np.column_stack([lp, lp + logm(t)])

        grid = np.linspace(v_lo, v_hi, math.ceil((v_hi - v_lo) / 0.25) + 1)
        val = cols(grid)
        keep = np.any(val > np.max(val, axis=0) - _NEG, axis=1)
        idx = np.flatnonzero(keep)
        a = grid[max(idx[0] - 1, 0)]
        b = grid[min(idx[-1] + 1, grid.size - 1)]
        rule = adaptive_rule(
            cols, np.linspace(a, b, math.ceil((b - a) / 3) + 1), order=12, rtol=1e-8
        )
        if lo == 0.0 and not isinstance(prior, SpikeSlabPrecision):
            # prior mass below the rule, placed at its conditional mean (tau is tiny here)
            ta = math.exp(a)
            mass0 = float(prior.cdf(ta))
            if mass0 > 0:
                x, w = np.polynomial.legendre.leggauss(16)
                t = ta * (x + 1) / 2
                dens = np.exp(np.asarray(prior.logpdf(t), dtype=float)) * w
                loc = float(np.sum(dens * t) / np.sum(dens)) if np.sum(dens) > 0 else 0.0
                atoms.append((loc, mass0))
    at = np.array([t for t, _ in atoms], dtype=float)
    with np.errstate(divide="ignore"):
        alp = np.log(np.array([m for _, m in atoms], dtype=float))
    alm = logm(at) if at.size else np.zeros(0)
    if rule is not None:
        tau_c = np.exp(rule.nodes.ravel())
        lp_c = np.log(rule.weights.ravel()) + rule.logvals[..., 0].ravel()
        lm_c = rule.logvals[..., 1].ravel() - rule.logvals[..., 0].ravel()
    else:
        tau_c = lp_c = lm_c = np.zeros(0)
    return _TauNodes(
        tau=np.concatenate([tau_c, at]),
        log_prior=np.concatenate([lp_c, alp]),
        log_m=np.concatenate([lm_c, alm]),
        rule=rule,
        atoms=at,
        atom_log_prior=alp,
        atom_log_m=alm,
    )


def _tau_distribution(tn: _TauNodes) -> QuadratureDistribution | SampleDistribution:
    """Posterior of tau from the nodes (continuous part on the log scale plus atoms)."""
    if tn.rule is None:
        return SampleDistribution(np.full(1, float(tn.atoms[0])), name="tau")
    post = Rule(tn.rule.edges, tn.rule.nodes, tn.rule.weights, tn.rule.logvals[..., 1:2])
    return QuadratureDistribution(
        post, kind="exp", atoms=tn.atoms, atom_logmass=tn.atom_log_prior + tn.atom_log_m, name="tau"
    )


# -- logistic-normal convolution kernel -------------------------------------------------
@dataclass(frozen=True)
class _LogitLik:
    """h(t) = y t - m softplus(t) - (t - m0)^2 / (2 s0^2) + const (s0 = inf: no prior)."""

    y: float
    m: float
    m0: float = 0.0
    s0: float = math.inf
    const: float = 0.0

    def terms(self, t: Array) -> tuple[Array, Array, Array]:
        p = special.expit(t)
        h = self.y * t - self.m * np.logaddexp(0.0, t) + self.const
        d1 = self.y - self.m * p
        d2 = -self.m * p * (1 - p)
        if math.isfinite(self.s0):
            h = h - (t - self.m0) ** 2 / (2 * self.s0**2)
            d1 = d1 - (t - self.m0) / self.s0**2
            d2 = d2 - 1 / self.s0**2
        return h, d1, d2

    def centre(self) -> tuple[float, float]:
        """Approximate mode and curvature (a starting point only)."""
        p = (self.y + 0.5) / (self.m + 1.0)
        t = math.log(p / (1 - p))
        lam = self.m * p * (1 - p) + (1 / self.s0**2 if math.isfinite(self.s0) else 0.0)
        return t, lam


def _convolve(lik: _LogitLik, x: Array, tau: Array, derivs: bool = False) -> tuple[Array, ...]:
    """log int exp(h(t)) N(t; x, tau^2) dt for broadcast x and tau > 0, and (``derivs``)
    the means of h' and h'' + h'^2 under the normalised integrand.

    The integrand's mode is found by safeguarded Newton (h is concave, so the root of the
    derivative is bracketed); the integral is then a trapezoid rule in z with
    ``t = mode + sd * sinh(z)`` (sd from the curvature at the mode), which converges
    geometrically for these smooth integrands from tau -> 0 (the normal kernel dominates)
    to tau -> infinity (h dominates). h must decay on both sides (0 < y < m or a prior).
    """
    x, tau = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(tau, dtype=float))
    prec_t = 1 / tau**2
    ps0 = 1 / lik.s0**2 if math.isfinite(lik.s0) else 0.0
    big_p = prec_t + ps0
    c = x * prec_t + lik.m0 * ps0
    lo, hi = (c + lik.y - lik.m) / big_p, (c + lik.y) / big_p
    tc, lam = lik.centre()
    t = np.clip((x * prec_t + tc * lam) / (prec_t + lam), lo, hi)
    for _ in range(200):
        _, d1, d2 = lik.terms(t)
        f = d1 - (t - x) * prec_t
        step = f / (d2 - prec_t)
        small = np.abs(step) <= 1e-13 * (1 + np.abs(t))
        lo = np.where(f > 0, t, lo)
        hi = np.where(f < 0, t, hi)
        new = t - step
        t = np.where(((new < lo) | (new > hi)) & ~small, (lo + hi) / 2, new)
        if small.all():
            break
    _, _, d2 = lik.terms(t)
    sig = 1 / np.sqrt(prec_t - d2)
    slope = min(lik.y, lik.m - lik.y)
    reach = 45.0 / slope + 10 * sig if slope > 0 else np.full_like(sig, np.inf)
    if math.isfinite(lik.s0):
        reach = np.minimum(reach, np.abs(t - lik.m0) + 10 * lik.s0 + 10 * sig)
    reach = np.maximum(np.minimum(np.abs(x - t) + 10 * tau, reach), 10 * sig)
    zmax = np.arcsinh(reach / sig)
    z = zmax[..., None] * _Z
    tk = t[..., None] + sig[..., None] * np.sinh(z)
    h, d1, d2k = lik.terms(tk)
    lv = (
        np.log(sig * zmax * (_Z[1] - _Z[0]))[..., None]
        + np.log(np.cosh(z))
        + h
        - (tk - x[..., None]) ** 2 * prec_t[..., None] / 2
    )
    lse = special.logsumexp(lv, axis=-1)
    logi = lse - 0.5 * math.log(2 * math.pi) + np.log(prec_t) / 2
    if not derivs:
        return (logi,)
    wk = np.exp(lv - lse[..., None])
    return logi, np.sum(wk * d1, axis=-1), np.sum(wk * (d2k + d1**2), axis=-1)


_Z = np.linspace(-1.0, 1.0, 48)


def _mix_convolve(
    lik: _LogitLik, x: Array, tn: _TauNodes, keep: Array
) -> tuple[Array, Array, Array]:
    """log g(x) = log sum_j u_j int exp(h) N(.; x, tau_j^2), and (log g)' and -(log g)''."""
    tau, lw = tn.tau[keep], tn.log_prior[keep]
    x = np.asarray(x, dtype=float)
    out_l, out_1, out_i = (np.empty(x.size) for _ in range(3))
    for s in range(0, x.size, 128):
        xs = x[s : s + 128][:, None]
        pos = tau > 0
        li = np.empty((xs.shape[0], tau.size))
        e1 = np.empty_like(li)
        e2 = np.empty_like(li)
        if pos.any():
            li[:, pos], e1[:, pos], e2[:, pos] = _convolve(lik, xs, tau[pos][None, :], derivs=True)
        if (~pos).any():
            h, d1, d2 = lik.terms(xs)
            li[:, ~pos], e1[:, ~pos], e2[:, ~pos] = h, d1, d2 + d1**2
        lv = li + lw
        tot = special.logsumexp(lv, axis=1)
        wk = np.exp(lv - tot[:, None])
        g1 = np.sum(wk * e1, axis=1)
        g2 = np.sum(wk * e2, axis=1)
        out_l[s : s + 128], out_1[s : s + 128], out_i[s : s + 128] = tot, g1, g1**2 - g2
    return out_l, out_1, out_i


# -- distributions from draws --------------------------------------------------------------
class SampleDistribution:
    """Distribution represented by (MCMC) draws: moments, empirical quantiles and tails.

    Examples
    --------
    >>> import numpy as np
    >>> from rdstats.borrowing._commensurate import SampleDistribution
    >>> d = SampleDistribution(np.arange(1.0, 101.0), "x")
    >>> d.mean(), float(d.sf(90))
    (50.5, 0.1)
    """

    def __init__(self, draws: ArrayLike, name: str = "x") -> None:
        d = np.asarray(draws, dtype=float).ravel()
        d.flags.writeable = False
        self.draws, self.name = d, name

    def mean(self) -> float:
        """Mean of the draws."""
        return float(np.mean(self.draws))

    def var(self) -> float:
        """Variance of the draws."""
        return float(np.var(self.draws, ddof=1)) if self.draws.size > 1 else 0.0

    def sd(self) -> float:
        """Standard deviation of the draws."""
        return math.sqrt(self.var())

    def cdf(self, x: ArrayLike) -> Array | float:
        """Empirical P(X <= x)."""
        xa = as_float_array(x, "x", allow_inf=True)
        out = np.mean(self.draws <= xa[..., None], axis=-1)
        return float(out) if out.ndim == 0 else np.asarray(out)

    def sf(self, x: ArrayLike) -> Array | float:
        """Empirical P(X > x)."""
        out = 1.0 - np.asarray(self.cdf(x))
        return float(out) if out.ndim == 0 else np.asarray(out)

    def ppf(self, q: ArrayLike) -> Array | float:
        """Empirical quantiles."""
        out = np.quantile(self.draws, check_probability(q, "q"))
        return float(out) if np.ndim(out) == 0 else np.asarray(out)

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Equal-tailed interval."""
        lvl = float(check_probability(level, "level", open_interval=True))
        lo, hi = np.asarray(self.ppf([(1 - lvl) / 2, (1 + lvl) / 2]))
        return float(lo), float(hi)

    def summary(self) -> pd.DataFrame:
        """Mean, sd and quantiles."""
        q = np.asarray(self.ppf([0.025, 0.5, 0.975]))
        return pd.DataFrame(
            {
                "mean": [self.mean()],
                "sd": [self.sd()],
                "2.5%": [q[0]],
                "50%": [q[1]],
                "97.5%": [q[2]],
            },
            index=[self.name],
        )

    def to_dict(self) -> dict[str, Any]:
        """Summary (JSON-safe); the draws stay in ``idata``."""
        row = self.summary().iloc[0]
        out: dict[str, Any] = {"class": "SampleDistribution", "name": self.name}
        out.update({str(k): float(v) for k, v in row.items()})
        return out

    def __repr__(self) -> str:
        return f"SampleDistribution({self.name!r}, {self.draws.size} draws, mean={self.mean():.6g})"


# -- data ----------------------------------------------------------------------------------
Family = Literal["binomial", "normal"]


@dataclass(frozen=True)
class _Obs:
    """One (pooled) data set: binomial (y, n) or normal (mean, se); ``n`` in ESS units."""

    y: float
    se: float
    n: float
    raw: dict[str, Any]


def _get(data: Any, name: str, key: str) -> Any:
    if key not in data:
        raise ValueError(f"{name} needs {key!r}")
    return data[key]


def _obs(data: Any, name: str, family: str, sigma: float | None, scalar: bool) -> _Obs:
    if not (isinstance(data, Mapping) or isinstance(data, pd.DataFrame)):
        raise TypeError(f"{name} must be a mapping (dict or DataFrame), got {type(data).__name__}")
    allowed = {"r", "n"} if family == "binomial" else {"mean", "n", "se"}
    extra = set(data.keys()) - allowed
    if extra:
        raise ValueError(f"{name} has unknown entries {sorted(extra)} for family={family!r}")

    def arr(v: Any) -> Any:
        a = np.asarray(v)
        if (scalar and a.ndim) or a.ndim > 1:
            raise TypeError(
                f"{name} must hold {'scalars' if scalar else 'scalars or 1-D arrays'}, got {v!r}"
            )
        return np.atleast_1d(a)

    if family == "binomial":
        r, n = check_counts(arr(_get(data, name, "r")), arr(_get(data, name, "n")))
        r, n = np.broadcast_arrays(r, n)
        if (n < 1).any():
            raise ValueError(f"{name}: n must be >= 1, got {n.tolist()}")
        return _Obs(float(r.sum()), math.nan, float(n.sum()), {"r": r.tolist(), "n": n.tolist()})
    assert sigma is not None
    mean = as_float_array(arr(_get(data, name, "mean")), f"{name} mean")
    if ("se" in data) == ("n" in data):
        raise ValueError(f"{name} needs exactly one of 'se' or 'n' together with 'mean'")
    if "se" in data:
        se = check_positive(arr(data["se"]), f"{name} se")
    else:
        se = sigma / np.sqrt(as_int_array(arr(data["n"]), f"{name} n", minimum=1).astype(float))
    mean, se = np.broadcast_arrays(mean, se)
    prec = np.sum(1 / se**2)
    return _Obs(
        float(np.sum(mean / se**2) / prec),
        float(prec**-0.5),
        float(sigma**2 * prec),
        {"mean": mean.tolist(), "se": se.tolist()},
    )


def _initial(initial: Any, family: str) -> tuple[Array, Array, Array] | None:
    """Prior of theta0 as mixture arrays (weights, means, sds), or None for flat."""
    if initial is None:
        return None
    if isinstance(initial, NormalMixture):
        m, v = initial._component_moments()
        out = (initial.weights, np.asarray(m), np.sqrt(v))
    elif isinstance(initial, tuple) and len(initial) == 2:
        mean = float(as_float_array(initial[0], "initial mean"))
        sd = float(check_positive(initial[1], "initial sd"))
        out = (np.ones(1), np.array([mean]), np.array([sd]))
    else:
        raise TypeError(
            f"initial must be None (flat), a pair (mean, sd) or a NormalMixture, got {initial!r}"
        )
    if family == "binomial" and out[0].size > 1:
        raise ValueError(
            "the binomial commensurate prior takes a single normal initial prior for the "
            f"historical logit, got a mixture of {out[0].size} components"
        )
    return out


# -- exact engines ---------------------------------------------------------------------------
def _prune(w: Array, *params: Array) -> tuple[Array, ...]:
    keep = w > 1e-15 * w.max()
    return (w[keep] / w[keep].sum(), *(p[keep] for p in params))


def _normal_exact(
    hist: _Obs, cur: _Obs, init: Any, tau_prior: TauPrior, sigma: float
) -> tuple[NormalMixture, NormalMixture, _TauNodes]:
    """Prior and posterior of theta (normal mixtures over the tau nodes)."""
    if init is None:
        qw, qm, qv = np.ones(1), np.array([hist.y]), np.array([hist.se**2])
    else:
        post0 = NormalMixture(*init).posterior(mean=hist.y, se=hist.se)
        m, v = post0._component_moments()
        qw, qm, qv = post0.weights, np.asarray(m), np.asarray(v)
    se2 = cur.se**2

    def logm(tau: Array) -> Array:
        tot = qv + np.asarray(tau, dtype=float)[..., None] ** 2 + se2
        with np.errstate(divide="ignore"):
            lv = np.log(qw) - 0.5 * np.log(2 * math.pi * tot) - (cur.y - qm) ** 2 / (2 * tot)
        return np.asarray(special.logsumexp(lv, axis=-1))

    scale = math.sqrt(float(np.max(qv)) + se2)
    tn = _tau_nodes(tau_prior, logm, scale, math.sqrt(min(float(np.min(qv)), se2)))
    v = qv[None, :] + tn.tau[:, None] ** 2  # (J, K)
    with np.errstate(divide="ignore"):
        lw = tn.log_prior[:, None] + np.log(qw)[None, :]
    w = np.exp(lw - lw.max())
    pw, pm_, ps = _prune(w.ravel(), np.broadcast_to(qm, v.shape).ravel(), np.sqrt(v).ravel())
    prior = NormalMixture(pw, pm_, ps, sigma=sigma)
    tot = v + se2
    lpost = lw - 0.5 * np.log(tot) - (cur.y - qm) ** 2 / (2 * tot)
    wp = np.exp(lpost - lpost.max())
    prec = 1 / v + 1 / se2
    mp = (qm / v + cur.y / se2) / prec
    qw2, qm2, qs2 = _prune(wp.ravel(), mp.ravel(), (1 / np.sqrt(prec)).ravel())
    post = NormalMixture(qw2, qm2, qs2, sigma=sigma)
    return prior, post, tn


def _q_lik(hist: _Obs, init: Any) -> _LogitLik:
    """Normalised historical posterior of theta0 (logit) as a _LogitLik."""
    if init is None:
        if not 0 < hist.y < hist.n:
            raise ValueError(
                "a flat initial prior on the historical logit needs 0 < r0 < n0, got "
                f"r0={hist.y:g} of n0={hist.n:g}; give initial=(mean, sd)"
            )
        return _LogitLik(hist.y, hist.n, const=-float(special.betaln(hist.y, hist.n - hist.y)))
    m0, s0 = float(init[1][0]), float(init[2][0])
    raw = _LogitLik(hist.y, hist.n, m0, s0, const=-0.5 * math.log(2 * math.pi * s0**2))
    t, lam = raw.centre()
    sd = 1 / math.sqrt(lam)
    rule = adaptive_rule(
        lambda u: raw.terms(t + sd * np.sinh(u))[0] + np.log(sd * np.cosh(u)),
        np.linspace(-4, 4, 9),
        rtol=1e-12,
        extend=(-40.0, 40.0),
    )
    logz = special.logsumexp(np.log(rule.weights) + rule.logvals[..., 0])
    return _LogitLik(hist.y, hist.n, m0, s0, const=raw.const - float(logz))


def _theta_axis(q: _LogitLik, cur: _Obs) -> tuple[float, float, Array]:
    """Centre and scale of the sinh-mapped theta axis and its initial edges in u."""
    tq, lq = q.centre()
    tl, ll = _LogitLik(cur.y, cur.n).centre()
    s = 0.5 / math.sqrt(max(lq, ll))
    lo, hi = min(tq, tl) - 10 / math.sqrt(min(lq, ll)), max(tq, tl) + 10 / math.sqrt(min(lq, ll))
    return tq, s, np.linspace(math.asinh((lo - tq) / s), math.asinh((hi - tq) / s), 17)


class _BinomialModel:
    """Exact commensurate analysis of binomial data on the logit scale.

    The posterior of theta is built at once; the prior of theta and the ELIR integrals
    (which reach far into the tails) are built when first asked for.
    """

    def __init__(self, hist: _Obs, cur: _Obs, init: Any, tau_prior: TauPrior) -> None:
        self.q = q = _q_lik(hist, init)
        lc = (
            special.gammaln(cur.n + 1)
            - special.gammaln(cur.y + 1)
            - special.gammaln(cur.n - cur.y + 1)
        )
        self.lik = lik = _LogitLik(cur.y, cur.n, const=float(lc))
        self.c, self.s, self.edges = _theta_axis(q, cur)
        lam_l = _LogitLik(cur.y, cur.n).centre()[1]
        scale = math.sqrt(1 / q.centre()[1] + 1 / lam_l)
        small = 1 / math.sqrt(max(q.centre()[1], lam_l))
        # a theta rule resolving L(theta) g_tau(theta) over the whole range of tau
        probe = np.concatenate([[0.0], scale * np.geomspace(1e-2, 1e8, 21)])
        base = adaptive_rule(
            self._u_cols(lambda th: lik.terms(th)[0][:, None] + self._log_g(th, probe)),
            self.edges,
            rtol=1e-10,
            extend=_U_BOUNDS,
        )
        th_b = self._theta(base.nodes.ravel())
        lw_b = np.log(base.weights.ravel() * self.s * np.cosh(base.nodes.ravel()))
        lw_b = lw_b + lik.terms(th_b)[0]

        def logm(tau: Array) -> Array:
            t = np.atleast_1d(np.asarray(tau, dtype=float))
            return np.asarray(special.logsumexp(lw_b[:, None] + self._log_g(th_b, t), axis=0))

        self.tn = tn = _tau_nodes(tau_prior, logm, scale, small)
        lpost = tn.log_prior + tn.log_m
        self.keep_post = lpost > lpost.max() - 36
        self.keep_prior = tn.log_prior > tn.log_prior.max() - 36
        self.log_evidence = float(special.logsumexp(lpost))
        self.post_rule = adaptive_rule(
            self._u_cols(lambda th: self._log_f(th)[:, None]),
            self.edges,
            rtol=1e-10,
            extend=_U_BOUNDS,
        )
        z_post = _rule_integral(self.post_rule, 0)
        if abs(z_post - 1.0) > 1e-6:
            warnings.warn(
                f"the two integration orders of the commensurate posterior disagree by "
                f"{z_post - 1:.2g} (relative); results may be inaccurate",
                ConvergenceWarning,
                stacklevel=4,
            )
        self._cache: dict[str, Any] = {}

    # -- pieces ------------------------------------------------------------------------------
    def _theta(self, u: Array) -> Array:
        return np.asarray(self.c + self.s * np.sinh(u))

    def _u_cols(self, fn: Callable[[Array], Any]) -> Callable[[Array], Any]:
        def wrapped(u: Array) -> Any:
            out = fn(self._theta(u))
            val, extra = out if isinstance(out, tuple) else (out, None)
            val = val + np.log(self.s * np.cosh(u))[:, None]
            return val if extra is None else (val, extra)

        return wrapped

    def _log_g(self, theta: Array, tau: Array) -> Array:
        """log g_tau(theta) for all pairs: (N,) x (T,) -> (N, T)."""
        out = np.empty((theta.size, tau.size))
        pos = tau > 0
        if pos.any():
            out[:, pos] = _convolve(self.q, theta[:, None], tau[pos][None, :])[0]
        if (~pos).any():
            out[:, ~pos] = self.q.terms(theta)[0][:, None]
        return out

    def _log_f(self, th: Array) -> Array:
        lg, _, _ = _mix_convolve(self.q, th, self.tn, self.keep_post)
        return np.asarray(self.lik.terms(th)[0] + lg - self.log_evidence)

    def _info_cols(self, ld: Array, info: Array, th: Array) -> tuple[Array, Array]:
        """Refined on: log density and log density / (p(1-p)) (capped); carried: the
        information -(log g)'' and -log(p(1-p))."""
        lfac = np.logaddexp(0.0, th) + np.logaddexp(0.0, -th)
        vals = np.column_stack([ld, ld + np.minimum(lfac, _LFAC_CAP)])
        return vals, np.column_stack([info, lfac])

    # -- distributions -----------------------------------------------------------------------
    def theta_posterior(self, outer: str = "identity") -> QuadratureDistribution:
        name = "logit response rate" if outer == "identity" else "response rate"
        return QuadratureDistribution(
            self.post_rule, "sinh", self.c, self.s, outer=outer, name=name
        )

    def _prior_rule(self) -> Rule:
        if "prior" not in self._cache:

            def cols(th: Array) -> tuple[Array, Array]:
                lg, _, info = _mix_convolve(self.q, th, self.tn, self.keep_prior)
                return self._info_cols(lg, info, th)

            self._cache["prior"] = adaptive_rule(
                self._u_cols(cols), self.edges, rtol=1e-10, extend=_U_BOUNDS
            )
        rule: Rule = self._cache["prior"]
        return rule

    def theta_prior(self, outer: str = "identity") -> QuadratureDistribution:
        name = "logit response rate" if outer == "identity" else "response rate"
        return QuadratureDistribution(
            self._prior_rule(), "sinh", self.c, self.s, outer=outer, name=name
        )

    def tau_posterior(self) -> QuadratureDistribution | SampleDistribution:
        return _tau_distribution(self.tn)

    # -- information -------------------------------------------------------------------------
    def info(self, th: Array) -> Array:
        """-(log g)''(theta) of the prior of theta at arbitrary points."""
        return _mix_convolve(self.q, np.asarray(th, dtype=float), self.tn, self.keep_prior)[2]

    def prior_elir(self) -> float:
        return _elir_on_rule(self._prior_rule())

    def borrowed_elir(self) -> float:
        if "borrowed" not in self._cache:

            def cols(th: Array) -> tuple[Array, Array]:
                lg, _, info = _mix_convolve(self.q, th, self.tn, self.keep_post)
                return self._info_cols(self.lik.terms(th)[0] + lg - self.log_evidence, info, th)

            rule = adaptive_rule(self._u_cols(cols), self.edges, rtol=1e-10, extend=_U_BOUNDS)
            self._cache["borrowed"] = _elir_on_rule(rule)
        return float(self._cache["borrowed"])


_U_BOUNDS = (-40.0, 40.0)


def _rule_integral(rule: Rule, col: int) -> float:
    return float(np.sum(rule.weights * np.exp(rule.logvals[..., col])))


_LFAC_CAP = 60.0  # the ELIR integrand is evaluated where p(1 - p) > exp(-60)


def _elir_on_rule(rule: Rule) -> float:
    """E[i(theta) / (p(1-p))] with i carried in ``rule.extras``.

    Returns inf when the integrand has non-negligible mass where p(1-p) < exp(-60) or at
    the ends of the theta axis: the ELIR does not exist (the tails on the logit scale are
    heavier than the binomial likelihood's).
    """
    assert rule.extras is not None
    mass = _rule_integral(rule, 0)
    capped = rule.weights * np.exp(rule.logvals[..., 1])
    info = rule.extras[..., 0]
    inside = rule.extras[..., 1] < _LFAC_CAP
    contrib = np.where(inside, capped * info, 0.0)
    scale = max(float(np.abs(contrib).sum()), 1e-300)
    outside = float(np.sum(np.where(inside, 0.0, capped * np.abs(info))))
    ends = float(np.abs(capped[0] * info[0]).sum() + np.abs(capped[-1] * info[-1]).sum())
    if outside > 1e-9 * scale or ends > 1e-9 * scale:
        return math.inf
    return float(contrib.sum() / mass)


# -- MCMC cross-check ----------------------------------------------------------------------
def _check_convergence(idata: Any, names: list[str]) -> None:
    """Warn (ConvergenceWarning) when R-hat > 1.01 or bulk ESS < 400 for any variable."""
    import arviz as az

    rhat = az.rhat(idata, var_names=names)
    ess = az.ess(idata, var_names=names, method="bulk")
    worst_rhat = max(float(np.max(rhat[v].values)) for v in names)
    worst_ess = min(float(np.min(ess[v].values)) for v in names)
    if not worst_rhat <= 1.01 or not worst_ess >= 400:
        warnings.warn(
            f"MCMC may not have converged: max R-hat {worst_rhat:.4f} (want <= 1.01), "
            f"min bulk ESS {worst_ess:.0f} (want >= 400); increase draws/tune",
            ConvergenceWarning,
            stacklevel=4,
        )


def _seed(rng: Any) -> tuple[np.random.Generator, Any]:
    """A Generator and a JSON-safe record from which it can be rebuilt."""
    if rng is None:
        ss = np.random.SeedSequence()
        return np.random.default_rng(ss), {"entropy": str(ss.entropy)}
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng)), int(rng)
    if isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng), {
            "entropy": str(rng.entropy),
            "spawn_key": list(rng.spawn_key),
        }
    if isinstance(rng, np.random.Generator):
        return rng, "Generator supplied by the caller"
    raise TypeError(f"rng must be an int, SeedSequence, Generator or None, got {rng!r}")


def _mcmc(
    family: str,
    hist: _Obs,
    cur: _Obs,
    init: Any,
    tau_prior: TauPrior,
    *,
    draws: int,
    tune: int,
    chains: int,
    gen: np.random.Generator,
) -> tuple[Any, dict[str, Array]]:
    """Fit the commensurate model with PyMC NUTS (non-centred: theta = theta0 + tau z)."""
    if isinstance(tau_prior, SpikeSlabPrecision):
        raise NotImplementedError(
            "method='mcmc' does not support SpikeSlabPrecision (its spike is a point mass that "
            "NUTS cannot sample); use method='exact'"
        )
    import pymc as pm

    seed = int(gen.integers(0, 2**31 - 1))
    with pm.Model():
        if init is None:
            theta0 = pm.Flat("theta0")
        else:
            theta0 = pm.Normal("theta0", mu=float(init[1][0]), sigma=float(init[2][0]))
        if isinstance(tau_prior, Fixed):
            tau: Any = tau_prior.value
        else:
            tau = tau_prior.to_pymc("tau")
        z = pm.Normal("z", 0.0, 1.0)
        theta = pm.Deterministic("theta", theta0 + tau * z)
        if family == "binomial":
            pm.Binomial("y0", n=int(hist.n), logit_p=theta0, observed=int(hist.y))
            pm.Binomial("y", n=int(cur.n), logit_p=theta, observed=int(cur.y))
        else:
            pm.Normal("y0", mu=theta0, sigma=hist.se, observed=hist.y)
            pm.Normal("y", mu=theta, sigma=cur.se, observed=cur.y)
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=1,
            random_seed=seed,
            progressbar=False,
            target_accept=0.95,
            compute_convergence_checks=False,
        )
    names = ["theta0", "z"] + ([] if isinstance(tau_prior, Fixed) else ["tau"])
    _check_convergence(idata, names)
    post = idata.posterior
    out = {"theta": post["theta"].values.ravel(), "theta0": post["theta0"].values.ravel()}
    out["tau"] = (
        np.full(out["theta"].size, tau_prior.value)
        if isinstance(tau_prior, Fixed)
        else post["tau"].values.ravel()
    )
    return idata, out


# -- result ----------------------------------------------------------------------------------
def _normal_info(mix: NormalMixture, x: Array) -> Array:
    """-(log p)''(x) of a normal mixture (responsibility form)."""
    m, v = mix._component_moments()
    xx = np.asarray(x, dtype=float)[:, None]
    with np.errstate(divide="ignore"):
        lw = np.log(mix.weights) - 0.5 * np.log(v) - (xx - m) ** 2 / (2 * v)
    r = np.exp(lw - special.logsumexp(lw, axis=1, keepdims=True))
    g = -(xx - m) / v
    gm = np.sum(r * g, axis=1, keepdims=True)
    return np.asarray(np.sum(r / v, axis=1) - np.sum(r * (g - gm) ** 2, axis=1))


def _moment_ess_p(d: Any) -> float:
    m, v = d.mean(), d.var()
    return float(m * (1 - m) / v - 1) if v > 0 else math.inf


def _warn_inf(what: str) -> None:
    warnings.warn(
        f"the ELIR effective sample size of the {what} is infinite: its tails on the logit scale "
        "are heavier than the binomial likelihood's (typical of wide tau priors); "
        "ess_method='moment' gives a finite alternative",
        UserWarning,
        stacklevel=4,
    )


@dataclass(frozen=True, eq=False)
class CommensurateResult:
    """Analysis with a commensurate prior (see :func:`commensurate_prior`).

    Attributes
    ----------
    family : {"binomial", "normal"}
    method : {"exact", "mcmc"}
    posterior
        Posterior of the parameter on its reporting scale: the response rate (binomial; a
        :class:`QuadratureDistribution`) or the mean (normal; a ``NormalMixture``), or a
        :class:`SampleDistribution` of MCMC draws.
    posterior_logit
        Binomial only: posterior of the logit response rate.
    tau
        Posterior of the commensurability SD tau.
    prior
        Prior of the parameter implied by the historical data and the tau prior
        (computed on first access for binomial data).
    ess_prior, ess_posterior, borrowed : float
        Prior ESS, posterior ESS and effective number of borrowed patients
        ``ess_posterior - n_current`` (computed on first access).
    idata
        ArviZ InferenceData (``method="mcmc"``), else None.
    """

    family: str
    method: str
    posterior: Any
    posterior_logit: Any
    tau: Any
    tau_prior: TauPrior
    n_current: float
    threshold: float | None
    ess_method: str
    historical: dict[str, Any]
    current: dict[str, Any]
    idata: Any = field(repr=False)
    provenance: dict[str, Any] = field(repr=False)
    _engine: Any = field(repr=False)
    _draws: dict[str, Array] | None = field(repr=False, default=None)
    _cache: dict[str, Any] = field(repr=False, default_factory=dict)

    # -- lazily computed quantities ----------------------------------------------------------
    def _lazy(self, key: str, fn: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    @property
    def prior(self) -> Any:
        """Prior of the parameter (response rate for binomial data, mean for normal data)."""
        if self.family == "normal":
            return self._engine["prior"]
        return self._lazy("prior", lambda: self._engine.theta_prior("expit"))

    @property
    def prior_logit(self) -> Any:
        """Binomial only: prior of the logit response rate (its ``pdf`` is the density on the
        logit scale); None for normal data."""
        if self.family != "binomial":
            return None
        return self._lazy("prior_logit", lambda: self._engine.theta_prior())

    @property
    def ess_prior(self) -> float:
        """Prior effective sample size."""
        return float(self._lazy("ess_prior", self._compute_ess_prior))

    @property
    def borrowed(self) -> float:
        """Effective number of borrowed patients, ``ess_posterior - n_current``."""
        return float(self._lazy("borrowed", self._compute_borrowed))

    @property
    def ess_posterior(self) -> float:
        """Posterior effective sample size."""
        return self.n_current + self.borrowed

    def _compute_ess_prior(self) -> float:
        if self.family == "normal":
            return mixture_ess(self._engine["prior"], self.ess_method)  # type: ignore[arg-type]
        if self.ess_method == "moment":
            return _moment_ess_p(self.prior)
        val = self._engine.prior_elir()
        if math.isinf(val):
            _warn_inf("prior")
        return float(val)

    def _compute_borrowed(self) -> float:
        if self.family == "normal":
            prior = self._engine["prior"]
            sigma = prior.sigma
            if self._draws is None:
                post = self._engine["posterior"]
                return mixture_ess(post, self.ess_method) - self.n_current  # type: ignore[arg-type]
            th = self._draws["theta"]
            if self.ess_method == "moment":
                return float(sigma**2 / np.var(th, ddof=1) - self.n_current)
            return float(np.mean(sigma**2 * _normal_info(prior, th)))
        if self.ess_method == "moment":
            return _moment_ess_p(self.posterior) - self.n_current
        if self._draws is None:
            val = self._engine.borrowed_elir()
        else:
            th = self._draws["theta"]
            p = special.expit(th)
            val = float(np.mean(self._engine.info(th) / (p * (1 - p))))
        if math.isinf(val):
            _warn_inf("posterior")
        return float(val)

    # -- presentation ------------------------------------------------------------------------
    def prob_above(self, x: float) -> float:
        """Posterior probability that the parameter (response rate or mean) exceeds ``x``."""
        return float(self.posterior.sf(x))

    def _label(self) -> str:
        return "response rate" if self.family == "binomial" else "mean"

    def summary(self) -> pd.DataFrame:
        """Prior and posterior of the parameter, posterior of tau, ESS and borrowing.

        ``estimate`` is the mean for distributions and the value for single numbers.
        """
        lab = self._label()
        rows: dict[str, list[float]] = {
            f"{lab} (prior)": _row(self.prior),
            f"{lab} (posterior)": _row(self.posterior),
        }
        if self.posterior_logit is not None:
            rows[f"logit {lab} (posterior)"] = _row(self.posterior_logit)
        rows["tau (posterior)"] = _row(self.tau)
        if self.threshold is not None:
            rows[f"P({lab} > {self.threshold:g})"] = _one(self.prob_above(self.threshold))
        rows["prior ESS"] = _one(self.ess_prior)
        rows["posterior ESS"] = _one(self.ess_posterior)
        rows["n current"] = _one(self.n_current)
        rows["effective borrowed"] = _one(self.borrowed)
        return pd.DataFrame.from_dict(rows, orient="index", columns=_COLS)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description (summaries, not draws)."""
        tab = self.summary()
        return {
            "family": self.family,
            "method": self.method,
            "tau_prior": self.tau_prior.to_dict(),
            "summary": {
                k: [_json_float(float(v)) if v == v else None for v in row]
                for k, row in zip(tab.index, tab.to_numpy().tolist(), strict=True)
            },
            "columns": list(tab.columns),
            "ess_method": self.ess_method,
            "ess_prior": _json_float(self.ess_prior),
            "ess_posterior": _json_float(self.ess_posterior),
            "borrowed": _json_float(self.borrowed),
            "n_current": self.n_current,
            "historical": self.historical,
            "current": self.current,
            "provenance": self.provenance,
        }

    def _repr_html_(self) -> str:
        return (
            f"<p><b>Commensurate prior</b> ({self.family}, {self.method}), tau prior "
            f"{self.tau_prior!r}</p>"
            + self.summary().to_html(float_format=lambda v: f"{v:.6g}", na_rep="")
        )


_COLS = ["estimate", "sd", "2.5%", "50%", "97.5%"]


def _row(d: Any) -> list[float]:
    q = np.asarray(d.ppf([0.025, 0.5, 0.975]), dtype=float)
    return [d.mean(), d.sd(), float(q[0]), float(q[1]), float(q[2])]


def _one(v: float) -> list[float]:
    return [v, math.nan, math.nan, math.nan, math.nan]


# -- public function -------------------------------------------------------------------------
def commensurate_prior(
    historical: Mapping[str, Any] | pd.DataFrame,
    current: Mapping[str, Any],
    family: Family,
    tau_prior: Any,
    *,
    initial: Any = None,
    sigma: float | None = None,
    threshold: float | None = None,
    method: Literal["exact", "mcmc"] = "exact",
    ess_method: EssMethod = "elir",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    rng: Any = None,
) -> CommensurateResult:
    """Analyse current data with a commensurate prior built from historical data.

    Model (Hobbs et al. 2011): historical data ``D0 ~ p(. | theta0)`` with initial prior
    ``pi0(theta0)`` (flat by default), current data ``D ~ p(. | theta)``,
    ``theta | theta0, tau ~ N(theta0, tau^2)`` and a prior on the commensurability tau. A
    small tau pools the two data sets, a large tau ignores the historical data; the
    posterior of tau decides how much is borrowed. Several historical studies share
    theta0 (they are pooled); for between-study heterogeneity use a MAP prior.

    Parameters
    ----------
    historical : dict or DataFrame
        Binomial: ``r``, ``n`` (one entry per study). Normal: ``mean`` with ``n`` or ``se``.
    current : dict
        The current study, same keys, scalars.
    family : {"binomial", "normal"}
        Binomial responses (theta is the logit response rate) or a normal mean with known
        sampling SD ``sigma``.
    tau_prior : TauPrior
        Prior on tau: e.g. ``HalfNormal(0.5)``, ``HalfCauchy(1)``, ``LogNormal``,
        ``Uniform``, ``Fixed(0)`` (full pooling), or on the precision ``1/tau^2``:
        :class:`GammaPrecision`, :class:`SpikeSlabPrecision` (Hobbs et al. 2012). A number
        is a half-normal scale.
    initial : None, (mean, sd) or NormalMixture
        Initial prior of theta0 (flat if None; binomial: a single normal on the logit).
    sigma : float
        Normal only (required): sampling SD of one observation; sets the ESS unit.
    threshold : float, optional
        Report P(parameter > threshold), e.g. the null response rate p0.
    method : {"exact", "mcmc"}
        Deterministic quadrature (default) or PyMC NUTS as a cross-check.
    ess_method : {"elir", "moment", "morita"}
        ESS method (``"morita"`` for normal data only). The binomial ELIR is taken on the
        logit scale; it is infinite for priors whose logit-scale tails are too heavy.
    draws, tune, chains : int
        MCMC settings.
    rng : int, SeedSequence, Generator or None
        MCMC randomness (recorded in ``provenance``).

    Returns
    -------
    CommensurateResult

    References
    ----------
    .. [1] Hobbs BP, Carlin BP, Mandrekar SJ, Sargent DJ. Hierarchical commensurate and
       power prior models for adaptive incorporation of historical information in clinical
       trials. Biometrics 2011;67:1047-1056.
    .. [2] Hobbs BP, Sargent DJ, Carlin BP. Commensurate priors for incorporating historical
       information in clinical trials using general and generalized linear models. Bayesian
       Analysis 2012;7:639-674.

    Examples
    --------
    >>> from rdstats.borrowing._commensurate import commensurate_prior
    >>> from rdstats.borrowing._hyperpriors import HalfNormal
    >>> res = commensurate_prior(
    ...     {"mean": [1.2], "n": [40]}, {"mean": 0.9, "n": 20}, "normal", HalfNormal(0.5), sigma=2.0
    ... )
    >>> round(res.posterior.mean(), 4), round(res.tau.mean(), 4)
    (1.0455, 0.3462)
    >>> res = commensurate_prior(
    ...     {"r": [12], "n": [40]}, {"r": 9, "n": 20}, "binomial", HalfNormal(0.3), threshold=0.2
    ... )
    >>> round(res.posterior.mean(), 4), round(res.prob_above(0.2), 4)
    (0.3666, 0.995)
    """
    if family not in ("binomial", "normal"):
        raise ValueError(f"family must be 'binomial' or 'normal', got {family!r}")
    if method not in ("exact", "mcmc"):
        raise ValueError(f"method must be 'exact' or 'mcmc', got {method!r}")
    if ess_method not in ("elir", "moment", "morita"):
        raise ValueError(f"ess_method must be 'elir', 'moment' or 'morita', got {ess_method!r}")
    if ess_method == "morita" and family == "binomial":
        raise ValueError("ess_method='morita' is available for family='normal' only")
    tau = tau_prior if isinstance(tau_prior, TauPrior) else as_tau_prior(tau_prior, "tau_prior")
    if family == "normal":
        if sigma is None:
            raise ValueError("family='normal' needs sigma=, the sampling SD of one observation")
        sigma = float(check_positive(sigma, "sigma"))
    elif sigma is not None:
        raise ValueError(f"sigma applies to family='normal' only, got sigma={sigma!r}")
    if threshold is not None:
        threshold = float(as_float_array(threshold, "threshold"))
        if family == "binomial":
            check_probability(threshold, "threshold")
    for name, val in (("draws", draws), ("tune", tune), ("chains", chains)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise ValueError(f"{name} must be a positive integer, got {val!r}")
    init = _initial(initial, family)
    hist = _obs(historical, "historical", family, sigma, scalar=False)
    cur = _obs(current, "current", family, sigma, scalar=True)
    if init is None and family == "binomial":
        _q_lik(hist, None)  # flat prior needs 0 < r0 < n0: fail before any work

    args = {
        "family": family,
        "tau_prior": tau.to_dict(),
        "initial": None if init is None else [a.tolist() for a in init],
        "sigma": sigma,
        "threshold": threshold,
        "method": method,
        "ess_method": ess_method,
    }
    draws_out = idata = None
    seed_record = None
    if family == "normal":
        assert sigma is not None
        prior, post, tn = _normal_exact(hist, cur, init, tau, sigma)
        engine: Any = {"prior": prior, "posterior": post}
        posterior: Any = post
        posterior_logit = None
        tau_post: Any = _tau_distribution(tn)
    else:
        engine = _BinomialModel(hist, cur, init, tau)
        posterior = engine.theta_posterior("expit")
        posterior_logit = engine.theta_posterior()
        tau_post = engine.tau_posterior()
    if method == "mcmc":
        gen, seed_record = _seed(rng)
        idata, draws_out = _mcmc(
            family, hist, cur, init, tau, draws=draws, tune=tune, chains=chains, gen=gen
        )
        args.update(draws=draws, tune=tune, chains=chains)
        th = draws_out["theta"]
        posterior = SampleDistribution(
            special.expit(th) if family == "binomial" else th, _lab(family)
        )
        posterior_logit = (
            SampleDistribution(th, "logit response rate") if family == "binomial" else None
        )
        tau_post = SampleDistribution(draws_out["tau"], "tau")
    return CommensurateResult(
        family=family,
        method=method,
        posterior=posterior,
        posterior_logit=posterior_logit,
        tau=tau_post,
        tau_prior=tau,
        n_current=cur.n,
        threshold=threshold,
        ess_method=ess_method,
        historical=hist.raw,
        current=cur.raw,
        idata=idata,
        provenance=_provenance(args, seed=seed_record),
        _engine=engine,
        _draws=draws_out,
    )


def _lab(family: str) -> str:
    return "response rate" if family == "binomial" else "mean"
