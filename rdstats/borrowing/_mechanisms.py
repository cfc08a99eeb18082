"""Borrowing mechanisms for the control arm of a hybrid-control design (binary
endpoint): each turns the possible control outcomes ``y_c = 0..n_c`` into posteriors of
the control rate, represented by their distribution functions on a fine grid of rates.

A mechanism is any object with ``label`` and ``control_posteriors(n_c, edges)`` returning
:class:`ControlPosteriors`; the classes here cover fixed (mixture) priors - no
borrowing, MAP and robust MAP mixtures, power priors with fixed a0 and normalised power
priors - as well as priors given as a density on the logit scale (commensurate priors,
the deterministic MAP prior without mixture approximation) and the empirical-Bayes power
prior, whose discounting depends on the new data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from rdstats.priors import BetaMixture, robustify

Array = NDArray[np.float64]

__all__ = [
    "Borrowing",
    "ControlPosteriors",
    "EmpiricalBayesPowerBorrowing",
    "LogitDensityBorrowing",
    "PriorBorrowing",
    "commensurate_borrowing",
    "no_borrowing",
    "normalized_power_borrowing",
    "power_borrowing",
]


_MAX_CLOSED_FORM = 16  # mixture components up to which posteriors use the closed form
_LOGIT_RANGE = 12.0
_LOGIT_GRID = 6001


@dataclass(frozen=True)
class ControlPosteriors:
    """Posterior of the control rate for every control outcome ``y_c = 0..n_c``."""

    cdf: Array  # (n_c + 1, G + 1): posterior CDF at the grid edges
    mean: Array  # (n_c + 1,)
    var: Array  # (n_c + 1,)

    @property
    def ess(self) -> Array:
        """Moment-matched beta effective sample size of each posterior,
        ``m (1 - m) / v - 1``."""
        return np.asarray(self.mean * (1 - self.mean) / self.var - 1.0)


class Borrowing:
    """Base class of control-arm borrowing mechanisms (see the module docstring)."""

    label: str

    def control_posteriors(self, n_c: int, edges: Array) -> ControlPosteriors:  # pragma: no cover
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - overridden
        return {"type": type(self).__name__, "label": self.label}


def _beta_mixture_cdf(w: Array, a: Array, b: Array, edges: Array) -> Array:
    """CDF at ``edges`` of beta mixtures with rows of weights/parameters (N, K)."""
    return np.einsum("nk,nkg->ng", w, special.betainc(a[..., None], b[..., None], edges))


@dataclass(frozen=True)
class PriorBorrowing(Borrowing):
    """A fixed beta-mixture prior for the control rate: no borrowing (a vague prior),
    a MAP or robust MAP mixture, a power prior with fixed a0, a normalised power prior
    written as a mixture over a0, ... Posteriors are conjugate.

    Parameters
    ----------
    prior : BetaMixture
    label : str
    """

    prior: BetaMixture
    label: str = "prior"

    def __post_init__(self) -> None:
        if not isinstance(self.prior, BetaMixture):
            raise TypeError(
                f"prior must be a BetaMixture for a binary control arm, got "
                f"{type(self.prior).__name__}"
            )

    def control_posteriors(self, n_c: int, edges: Array) -> ControlPosteriors:
        if self.prior.n_components > _MAX_CLOSED_FORM:
            # many components (e.g. a normalised power prior over a0 nodes): the closed
            # form needs n_components incomplete-beta calls per cell; integrate the
            # posterior density on a fine logit grid instead
            theta = np.linspace(-_LOGIT_RANGE, _LOGIT_RANGE, _LOGIT_GRID)
            p = special.expit(theta)
            with np.errstate(divide="ignore"):
                logp = np.log(np.asarray(self.prior.pdf(p), dtype=float)) + np.log(p * (1 - p))
            return _grid_posteriors(logp, theta, n_c, edges)
        y = np.arange(n_c + 1)
        post = self.prior.posterior_batch(y, n_c)
        w = np.asarray(post.weights)
        a, b = post.param("a"), post.param("b")
        m_k = a / (a + b)
        v_k = a * b / ((a + b) ** 2 * (a + b + 1))
        mean = np.sum(w * m_k, axis=1)
        var = np.sum(w * (v_k + (m_k - mean[:, None]) ** 2), axis=1)
        return ControlPosteriors(_beta_mixture_cdf(w, a, b, edges), mean, var)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "PriorBorrowing", "label": self.label, "prior": self.prior.to_dict()}

    @classmethod
    def from_map(
        cls,
        result: Any,
        *,
        robust_weight: float | None = None,
        robust_mean: float = 0.5,
        label: str | None = None,
        **mixture_options: Any,
    ) -> PriorBorrowing:
        """The mixture approximation of a MAP prior (``MAPResult.to_mixture``), robustified
        with a unit-information component of weight ``robust_weight`` when given."""
        mix = result.to_mixture(**mixture_options)
        if robust_weight is None or robust_weight == 0:
            return cls(mix, label or "MAP")
        mix = robustify(mix, robust_weight, robust_mean)  # validates 0 < weight < 1
        return cls(mix, label or f"robust MAP (w = {robust_weight:g})")


def no_borrowing(prior: BetaMixture | None = None) -> PriorBorrowing:
    """The control arm analysed on its own, with a vague prior (default Be(1, 1))."""
    return PriorBorrowing(BetaMixture(1.0, 1.0, 1.0) if prior is None else prior, "no borrowing")


def _grid_posteriors(log_prior: Array, theta: Array, n_c: int, edges: Array) -> ControlPosteriors:
    """Posteriors on a logit grid ``theta`` (trapezoid weights) for y = 0..n_c, with
    CDFs interpolated to the rate ``edges``."""
    y = np.arange(n_c + 1)[:, None]
    loglik = y * theta - n_c * np.logaddexp(0.0, theta)
    logp = log_prior + loglik
    logp -= logp.max(axis=1, keepdims=True)
    dens = np.exp(logp)
    h = np.diff(theta)
    # cumulative trapezoid in theta
    cum = np.concatenate(
        [np.zeros((dens.shape[0], 1)), np.cumsum((dens[:, 1:] + dens[:, :-1]) * h / 2, axis=1)],
        axis=1,
    )
    total = cum[:, -1:]
    cdf_theta = cum / total
    p = special.expit(theta)
    wts = np.concatenate([[h[0] / 2], (h[1:] + h[:-1]) / 2, [h[-1] / 2]])
    mass = dens * wts / total
    mean = mass @ p
    var = mass @ p**2 - mean**2
    logit_edges = special.logit(np.clip(edges, 1e-300, 1 - 1e-16))
    cdf = np.stack([np.interp(logit_edges, theta, row, left=0.0, right=1.0) for row in cdf_theta])
    cdf[:, 0], cdf[:, -1] = 0.0, 1.0
    return ControlPosteriors(cdf, mean, var)


@dataclass(frozen=True)
class LogitDensityBorrowing(Borrowing):
    """A prior for the control rate given by its log density on the logit scale (e.g. a
    commensurate prior or the deterministic MAP prior without mixture approximation);
    posteriors by quadrature on a fine logit grid.

    Parameters
    ----------
    log_density : callable
        Vectorised log density (up to a constant) of logit(control rate).
    label : str
    lower, upper : float
        Logit range of the grid (the prior's mass must lie inside).
    n_grid : int
        Grid points.
    """

    log_density: Callable[[Array], Array]
    label: str = "prior on the logit scale"
    lower: float = -_LOGIT_RANGE
    upper: float = _LOGIT_RANGE
    n_grid: int = _LOGIT_GRID

    def control_posteriors(self, n_c: int, edges: Array) -> ControlPosteriors:
        theta = np.linspace(self.lower, self.upper, self.n_grid)
        logp = np.asarray(self.log_density(theta), dtype=float)
        if logp.shape != theta.shape:
            raise ValueError(
                f"{self.label}: log_density returned shape {logp.shape} for {theta.shape} points"
            )
        bad = theta[np.isnan(logp) | np.isposinf(logp)]
        if bad.size:
            raise ValueError(
                f"{self.label}: the log density must be finite or -inf on the logit grid; "
                f"got NaN or +inf at {bad.size} points (first {bad[:3].tolist()})"
            )
        if not np.isfinite(logp).any():
            raise ValueError(f"{self.label}: the log density is not finite anywhere on the grid")
        return _grid_posteriors(logp, theta, n_c, edges)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "LogitDensityBorrowing", "label": self.label, "n_grid": self.n_grid}

    @classmethod
    def from_map(cls, result: Any, label: str = "MAP (exact)") -> LogitDensityBorrowing:
        """The deterministic MAP prior itself (its link-scale normal mixture)."""
        if result.family != "binomial":
            raise ValueError(f"a binary control arm needs a binomial MAP, got {result.family!r}")
        pred = result._pred
        if not hasattr(pred, "mixture"):
            raise ValueError("from_map needs a MAPResult from method='exact'")
        return cls(_LogPdf(pred.mixture), label)


class _LogPdf:
    """Picklable log density of a distribution object with ``pdf`` (the link-scale MAP
    mixture, a commensurate prior's logit-scale distribution)."""

    def __init__(self, dist: Any) -> None:
        self.dist = dist

    def __call__(self, theta: Array) -> Array:
        with np.errstate(divide="ignore"):
            return np.log(np.asarray(self.dist.pdf(theta), dtype=float))


def _log_beta_binom_marginal(y: Any, n: int, a: Any, b: Any) -> Array:
    return np.asarray(
        special.betaln(a + y, b + n - y)
        - special.betaln(a, b)
        + special.gammaln(n + 1)
        - special.gammaln(y + 1)
        - special.gammaln(n - y + 1)
    )


@dataclass(frozen=True)
class EmpiricalBayesPowerBorrowing(Borrowing):
    """Power prior whose a0 maximises the marginal likelihood of the new control data
    (Gravestock & Held 2017): for control outcome ``y_c`` the prior is
    ``Be(a + a0 r0, b + a0 (n0 - r0))`` with ``a0 = argmax p(y_c | a0)`` in [0, 1].

    Parameters
    ----------
    r0, n0 : int
        Historical responders and patients.
    initial : BetaMixture
        Initial (single-component) beta prior, default Be(1, 1).
    label : str
    """

    r0: int
    n0: int
    initial: BetaMixture | None = None
    label: str = "empirical-Bayes power prior"

    def __post_init__(self) -> None:
        for name in ("r0", "n0"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"{name} must be an integer count, got {v!r}")
        if not (0 <= self.r0 <= self.n0) or self.n0 <= 0:
            raise ValueError(f"need 0 <= r0 <= n0 and n0 > 0, got r0={self.r0}, n0={self.n0}")
        if self.initial is not None:
            if not isinstance(self.initial, BetaMixture):
                raise TypeError(f"initial must be a BetaMixture, got {type(self.initial).__name__}")
            if self.initial.n_components != 1:
                raise ValueError(
                    "initial must be a single beta component for the empirical-Bayes power "
                    f"prior, got {self.initial.n_components} components"
                )

    def a0(self, n_c: int) -> Array:
        """The empirical-Bayes a0 for every control outcome 0..n_c."""
        init = self.initial or BetaMixture(1.0, 1.0, 1.0)
        a, b = float(init.a[0]), float(init.b[0])
        out = []
        for y in range(n_c + 1):

            def neg(a0: float, y: int = y) -> float:
                return -float(
                    _log_beta_binom_marginal(
                        np.array(y), n_c, a + a0 * self.r0, b + a0 * (self.n0 - self.r0)
                    )
                )

            res = optimize.minimize_scalar(
                neg, bounds=(0.0, 1.0), method="bounded", options={"xatol": 1e-8}
            )
            best = min((0.0, 1.0, float(res.x)), key=neg)
            out.append(best)
        return np.array(out)

    def control_posteriors(self, n_c: int, edges: Array) -> ControlPosteriors:
        init = self.initial or BetaMixture(1.0, 1.0, 1.0)
        a0 = self.a0(n_c)
        y = np.arange(n_c + 1)
        a = float(init.a[0]) + a0 * self.r0 + y
        b = float(init.b[0]) + a0 * (self.n0 - self.r0) + n_c - y
        mean = a / (a + b)
        var = a * b / ((a + b) ** 2 * (a + b + 1))
        cdf = special.betainc(a[:, None], b[:, None], edges)
        return ControlPosteriors(cdf, mean, var)

    def to_dict(self) -> dict[str, Any]:
        init = self.initial or BetaMixture(1.0, 1.0, 1.0)
        return {
            "type": "EmpiricalBayesPowerBorrowing",
            "label": self.label,
            "r0": int(self.r0),
            "n0": int(self.n0),
            "initial": init.to_dict(),
        }


def power_borrowing(
    historical: Any, a0: float, initial: BetaMixture | None = None, label: str | None = None
) -> PriorBorrowing:
    """Power prior with fixed ``a0`` for the control rate (historical ``r``, ``n``; see
    :func:`rdstats.borrowing.power_prior`): conjugate, a beta mixture."""
    from rdstats.borrowing._power import power_prior

    init = BetaMixture(1.0, 1.0, 1.0) if initial is None else initial
    prior = power_prior(init, historical, a0).prior
    return PriorBorrowing(prior, label or f"power prior (a0 = {a0:g})")


def normalized_power_borrowing(
    historical: Any,
    a0_prior: tuple[float, float] = (1.0, 1.0),
    initial: BetaMixture | None = None,
    label: str | None = None,
) -> PriorBorrowing:
    """Normalised power prior with ``a0 ~ Beta(*a0_prior)`` (see
    :func:`rdstats.borrowing.normalized_power_prior`): a beta mixture over the a0 nodes,
    so the design stays conjugate and exact."""
    from rdstats.borrowing._power_normalized import normalized_power_prior

    init = BetaMixture(1.0, 1.0, 1.0) if initial is None else initial
    prior = normalized_power_prior(init, historical, a0_prior).prior
    return PriorBorrowing(prior, label or "normalised power prior")


def commensurate_borrowing(
    historical: Any, tau_prior: Any, label: str | None = None, **options: Any
) -> LogitDensityBorrowing:
    """Commensurate prior for the control rate (logit scale; see
    :func:`rdstats.borrowing.commensurate_prior`): its prior density of the new logit
    rate, integrated by quadrature against each possible control outcome."""
    from rdstats.borrowing._commensurate import commensurate_prior

    res = commensurate_prior(historical, {"r": 0, "n": 1}, "binomial", tau_prior, **options)
    return LogitDensityBorrowing(_LogPdf(res.prior_logit), label or "commensurate prior")


def _check_mechanism(value: Any) -> Borrowing:
    if isinstance(value, Borrowing):
        return value
    if isinstance(value, BetaMixture):
        return PriorBorrowing(value, "prior")
    raise TypeError(
        "borrowing must be a Borrowing mechanism (PriorBorrowing, LogitDensityBorrowing, "
        f"EmpiricalBayesPowerBorrowing, ...) or a BetaMixture, got {type(value).__name__}"
    )
