"""Quadrature for P(θ1 − θ2 ≤ δ | y1, y2) over all outcome pairs at once.

``P(θ1 − θ2 > δ) = ∫ p2(t | y2) S1(t + δ | y1) dt`` (and likewise with F1).  Where
``t + δ`` leaves the support of θ1 the factor S1 is exactly 0 or 1, so that part is
added in closed form and the integral is taken over the remaining interval
``(lo, hi)`` only; the integrand is then smooth inside and decays at both ends.  The
interval is mapped to the real line (``t = lo + (hi - lo) expit(z)`` for proportions,
``t = lo + e^z`` for rates) and a second substitution ``z = c + s sinh(u)`` keeps nodes
dense where the posteriors are narrow.  On the real line the trapezoidal rule converges
geometrically for smooth decaying integrands (error about ``exp(-2 π² (σ/Δ)²)`` for a
feature of width σ sampled at spacing Δ); the spacing is chosen from the widths of
every posterior component of both arms at their locations, with safety factor ``kappa``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from rdstats.designs._tables import density_table, natural_moments, quantile_range, tail_table
from rdstats.priors import BetaMixture

Array = NDArray[np.float64]
MAX_NODES = 50_000
_ZCAP = 700.0
_MAX_STEP = 0.05  # in u; keeps even a single smooth posterior sampled by > 100 nodes


@dataclass(frozen=True)
class _Interval:
    """Map from z on the real line to t in (lo, hi) (hi = inf for rates)."""

    lo: float
    hi: float
    beta: bool

    def parts(self, z: Array) -> tuple[Array, Array, Array]:
        """t, log t and (beta) log(1 - t) or (gamma) t, and log dt/dz."""
        with np.errstate(divide="ignore"):
            log_lo = np.log(self.lo)
            if self.beta:
                width = self.hi - self.lo
                log_e, log_1me = -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)
                log_t = np.logaddexp(log_lo, np.log(width) + log_e)
                log_1mt = np.logaddexp(np.log1p(-self.hi), np.log(width) + log_1me)
                return np.exp(log_t), np.vstack([log_t, log_1mt]), np.log(width) + log_e + log_1me
            log_t = np.logaddexp(log_lo, z)
            t = np.exp(log_t)
            return t, np.vstack([log_t, t]), z

    def inverse(self, t: Array) -> tuple[Array, Array]:
        """z for natural-scale points (NaN outside (lo, hi)) and dt/dz there."""
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.beta:
                e = (t - self.lo) / (self.hi - self.lo)
                ok = (e > 0) & (e < 1)
                z = np.where(ok, special.logit(np.where(ok, e, 0.5)), np.nan)
                return z, (self.hi - self.lo) * e * (1 - e)
            e = t - self.lo
            ok = e > 0
            return np.where(ok, np.log(np.where(ok, e, 1.0)), np.nan), e


def _interval(prior: Any, delta: float) -> _Interval:
    if isinstance(prior, BetaMixture):
        return _Interval(max(0.0, -delta), min(1.0, 1.0 - delta), True)
    return _Interval(max(0.0, -delta), np.inf, False)


def _nodes(
    iv: _Interval,
    prior_1: Any,
    n_1: float,
    y1_max: int,
    prior_2: Any,
    n_2: float,
    y2_max: int,
    delta: float,
    kappa: float,
) -> tuple[Array, Array]:
    m2, s2 = natural_moments(prior_2, n_2, y2_max)
    m1, s1 = natural_moments(prior_1, n_1, y1_max)
    z2, j2 = iv.inverse(m2)
    z1, j1 = iv.inverse(m1 - delta)
    fz = np.concatenate([z2, z1])
    with np.errstate(divide="ignore", invalid="ignore"):
        fw = np.concatenate([s2 / j2, s1 / j1])
    ok = np.isfinite(fz) & np.isfinite(fw) & (fw > 0)
    fz, fw = fz[ok], fw[ok]
    if fz.size == 0:
        fz, fw = np.array([0.0]), np.array([1.0])
    c = float(np.median(fz))
    s = float(max(np.median(fw), 1e-3))
    h = min(float(np.min(fw / (kappa * np.sqrt(s**2 + (fz - c) ** 2)))), _MAX_STEP)
    q_lo, q_hi = quantile_range(prior_2, n_2, y2_max)
    zr, _ = iv.inverse(np.array([q_lo, q_hi]))
    z_lo = zr[0] if np.isfinite(zr[0]) else -_ZCAP
    z_hi = zr[1] if np.isfinite(zr[1]) else _ZCAP
    z_lo, z_hi = max(min(z_lo, c - 1.0), -_ZCAP), min(max(z_hi, c + 1.0), _ZCAP)
    u_lo = float(np.arcsinh((z_lo - c) / s))
    u_hi = float(np.arcsinh((z_hi - c) / s))
    g = int(np.ceil((u_hi - u_lo) / h)) + 1
    if g > MAX_NODES:
        raise ValueError(
            f"the posteriors are too concentrated for the quadrature grid ({g} nodes needed, "
            f"limit {MAX_NODES}); reduce n or use a less concentrated prior"
        )
    u = np.linspace(u_lo, u_hi, max(g, 16))
    w = (u[1] - u[0]) * s * np.cosh(u)
    w[[0, -1]] *= 0.5
    return c + s * np.sinh(u), w


def difference_probabilities(
    prior_1: Any,
    n_1: float,
    y1_max: int,
    prior_2: Any,
    n_2: float,
    y2_max: int,
    delta: float,
    upper: bool,
    kappa: float = 3.0,
) -> Array:
    """Matrix ``P[y1, y2]`` of P(θ1 − θ2 > δ) (``upper``) or P(θ1 − θ2 <= δ)."""
    iv = _interval(prior_2, delta)
    if not iv.hi > iv.lo:
        # θ1 − θ2 lies in (-1, 1) for proportions: the event is certain or impossible
        certain = (delta < 0) == upper
        return np.full((y1_max + 1, y2_max + 1), 1.0 if certain else 0.0)
    z, w = _nodes(iv, prior_1, n_1, y1_max, prior_2, n_2, y2_max, delta, kappa)
    t, parts, log_jac = iv.parts(z)
    dens2 = density_table(prior_2, n_2, y2_max, parts[0], parts[1]) * (w * np.exp(log_jac))
    tail1 = tail_table(prior_1, n_1, y1_max, t + delta, upper)
    out = tail1 @ dens2.T
    # closed-form parts where t + δ is outside θ1's support (S1 = 1 below, F1 = 1 above)
    ones = np.ones((y1_max + 1, 1))
    if upper and iv.lo > 0:
        out += ones * tail_table(prior_2, n_2, y2_max, np.array([iv.lo]), False)[:, 0]
    if not upper and np.isfinite(iv.hi) and iv.hi < 1:
        out += ones * tail_table(prior_2, n_2, y2_max, np.array([iv.hi]), True)[:, 0]
    return np.clip(out, 0.0, 1.0)
