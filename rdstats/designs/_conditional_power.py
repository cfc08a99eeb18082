"""Conditional power of a group-sequential trial given the current z statistic.

The trial is described on the Brownian-motion scale (Jennison & Turnbull 2000, §3.1 and
§10; Proschan, Lan & Wittes 2006, ch. 3): at information fraction ``t`` the score
``B(t) = Z(t) sqrt(t)`` is normal with mean ``delta * t`` and variance ``t``, and has
independent increments, so ``delta`` is the mean of the z statistic at full information
(the *drift*). Given ``Z(t) = z`` the remaining path is again a Brownian motion, which
gives the closed form for one remaining look and a recursive numerical integration for
several.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from rdstats._validation import as_float_array

__all__ = ["check_delta", "check_fraction", "check_looks", "conditional_power"]

Array = NDArray[np.float64]
_DRIFTS = ("design", "trend", "null")
_SPAN = 8.5  # grid half-width in SDs of the unconditional score (tail mass < 1e-16)
_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)
_MAX_CELLS = 2_000_000  # kernel-matrix entries per chunk of the batch
_MAX_PANELS = 400  # at most 3,200 grid points per look (accurate for increments >~ 1e-3)


# -- kernel ---------------------------------------------------------------------------------
def _panels(count: int) -> tuple[Array, Array]:
    """Composite 8-point Gauss-Legendre nodes and weights on [0, 1] with ``count`` panels."""
    left = np.arange(count) / count
    x = (left[:, None] + (_GL_X[None, :] + 1.0) / (2.0 * count)).ravel()
    w = np.tile(_GL_W / (2.0 * count), count)
    return x, w


def _crossing_kernel(
    score: Array, t0: float, theta: Array, rates: Array, upper: Array, lower: Array
) -> Array:
    """P(cross an upper boundary before a lower one | B(t0) = score) for each batch entry.

    No validation. ``score`` and ``theta`` have shape (m,); ``rates``, ``upper`` and
    ``lower`` describe the remaining looks on the z scale. The density of the score among
    the paths still running is carried on composite Gauss-Legendre grids of width
    ``_SPAN`` unconditional SDs around its mean, clipped to the continuation region, with
    panels at most half an increment SD wide (Jennison & Turnbull 2000, ch. 19).
    """
    total = np.zeros(score.shape[0])
    s = score[:, None]
    mass = np.ones((score.shape[0], 1))
    prev = t0
    for j in range(rates.size):
        dt = rates[j] - prev
        sd = math.sqrt(dt)
        root = math.sqrt(rates[j])
        mean = s + theta[:, None] * dt
        total += np.sum(mass * special.ndtr((mean - upper[j] * root) / sd), axis=1)
        if j == rates.size - 1:
            break
        centre = score + theta * (rates[j] - t0)
        spread = math.sqrt(rates[j] - t0)
        lo = np.maximum(lower[j] * root, centre - _SPAN * spread)
        hi = np.minimum(upper[j] * root, centre + _SPAN * spread)
        width = np.maximum(hi - lo, 0.0)
        step = 0.5 * min(sd, math.sqrt(rates[j + 1] - rates[j]))
        x, w = _panels(min(_MAX_PANELS, max(1, math.ceil(float(width.max()) / step))))
        s_new = lo[:, None] + width[:, None] * x[None, :]
        z = (s_new[:, None, :] - mean[:, :, None]) / sd
        dens = np.einsum("mi,min->mn", mass, np.exp(-0.5 * z * z)) / (sd * math.sqrt(2 * math.pi))
        mass = dens * width[:, None] * w[None, :]
        s = s_new
        prev = rates[j]
    return total


def _crossing(
    score: Array, t0: float, theta: Array, rates: Array, upper: Array, lower: Array
) -> Array:
    """``_crossing_kernel`` in chunks of the batch so the kernel matrices stay small."""
    if rates.size == 1:
        return _crossing_kernel(score, t0, theta, rates, upper, lower)
    steps = 2.0 * _SPAN / (0.5 * float(np.min(np.sqrt(np.diff(np.r_[t0, rates])))))
    per_row = min(steps, _MAX_PANELS) * 8.0
    chunk = max(1, int(_MAX_CELLS // max(per_row**2, 1.0)))
    out = np.empty(score.shape[0])
    for start in range(0, score.shape[0], chunk):
        sl = slice(start, start + chunk)
        out[sl] = _crossing_kernel(score[sl], t0, theta[sl], rates, upper, lower)
    return out


# -- validation -----------------------------------------------------------------------------
def check_fraction(value: Any, name: str = "information_fraction") -> float:
    if isinstance(value, bool) or np.ndim(value) != 0:
        raise TypeError(f"{name} must be a single number, got {value!r}")
    t = float(as_float_array(value, name))
    if not 0.0 < t < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")
    return t


def check_looks(
    t: float,
    critical_value: ArrayLike,
    information_rates: ArrayLike | None,
    futility: ArrayLike | None,
) -> tuple[Array, Array, Array]:
    """Remaining looks as (rates, upper, lower) arrays, checked against each other."""
    upper = np.atleast_1d(as_float_array(critical_value, "critical_value", allow_inf=True))
    if upper.ndim != 1:
        raise ValueError(
            f"critical_value must be a number or a 1-D sequence, got {critical_value!r}"
        )
    if not np.isfinite(upper[-1]):
        raise ValueError(f"critical_value at the final look must be finite, got {upper[-1]}")
    if np.any(upper == -np.inf):
        raise ValueError(f"critical_value must not be -inf, got {upper.tolist()}")
    if information_rates is None:
        if upper.size != 1:
            raise ValueError(
                f"information_rates must be given for {upper.size} remaining critical values"
            )
        rates = np.array([1.0])
    else:
        rates = np.atleast_1d(as_float_array(information_rates, "information_rates"))
        if rates.shape != upper.shape:
            raise ValueError(
                f"information_rates must have one entry per remaining critical value "
                f"({upper.size}), got {rates.tolist()}"
            )
        if rates[0] <= t or np.any(np.diff(rates) <= 0):
            raise ValueError(
                f"information_rates must be strictly increasing and above information_fraction "
                f"= {t}, got {rates.tolist()}"
            )
        if abs(rates[-1] - 1.0) > 1e-12:
            raise ValueError(f"information_rates must end at 1 (full information), got {rates[-1]}")
        rates = rates.copy()
        rates[-1] = 1.0
    if futility is None:
        lower = np.full(upper.shape, -np.inf)
    else:
        lower = np.atleast_1d(as_float_array(futility, "futility", allow_inf=True))
        if lower.shape != upper.shape:
            raise ValueError(
                f"futility must have one entry per remaining critical value ({upper.size}), "
                f"got {lower.tolist()}"
            )
        if np.any(lower[:-1] >= upper[:-1]) or np.any(lower == np.inf):
            raise ValueError(
                f"futility must lie below critical_value at every interim look, got "
                f"futility={lower.tolist()}, critical_value={upper.tolist()}"
            )
    return rates, upper, lower


def _drift(theta: Any, delta: float | None, z: Array, t: float) -> Array:
    """Drift per look of the batch: design, current trend, null or a user value."""
    if isinstance(theta, str):
        if theta == "trend":
            return z / math.sqrt(t)
        if theta == "null":
            return np.zeros_like(z)
        if theta == "design":
            if delta is None:
                raise ValueError("theta='design' needs delta, the drift under the alternative")
            return np.full_like(z, check_delta(delta))
        raise ValueError(f"theta must be a number or one of {_DRIFTS}, got {theta!r}")
    if isinstance(theta, bool):
        raise TypeError(f"theta must be a number or one of {_DRIFTS}, got {theta!r}")
    return as_float_array(theta, "theta")


def check_delta(delta: Any) -> float:
    if isinstance(delta, bool) or np.ndim(delta) != 0:
        raise TypeError(f"delta must be a single number, got {delta!r}")
    return float(as_float_array(delta, "delta"))


# -- public function ------------------------------------------------------------------------
def conditional_power(
    z_interim: ArrayLike,
    information_fraction: float,
    critical_value: ArrayLike,
    *,
    theta: float | ArrayLike | str = "trend",
    delta: float | None = None,
    information_rates: ArrayLike | None = None,
    futility: ArrayLike | None = None,
) -> Any:
    """Conditional probability of rejecting H0 given the interim z statistic.

    With one remaining look (the final analysis at full information)

    .. math:: CP = 1 - \\Phi\\left(\\frac{c - z_1\\sqrt{t} - \\theta(1 - t)}{\\sqrt{1-t}}\\right).

    With several remaining looks it is the probability that the z statistic crosses one
    of the remaining upper boundaries before any futility boundary, computed by recursive
    numerical integration of the Brownian motion over the remaining looks.

    Parameters
    ----------
    z_interim : float or array_like
        Observed z statistic at the current look (large values favour the alternative).
    information_fraction : float
        Information fraction ``t`` of the current look, strictly between 0 and 1.
    critical_value : float or sequence of float
        Upper critical values (z scale) of the remaining looks; a single number is the
        final analysis. ``inf`` at an interim look means no efficacy stop there.
    theta : float, array_like or {"trend", "design", "null"}, default "trend"
        Drift assumed for the rest of the trial, i.e. the mean of the z statistic at
        full information: ``"trend"`` uses the current estimate ``z_interim / sqrt(t)``,
        ``"design"`` uses ``delta``, ``"null"`` uses 0 (the conditional type I error).
    delta : float, optional
        Drift under the design alternative (for a fixed-sample design with one-sided level
        α and power 1 − β, ``delta = z_{1-α} + z_{1-β}``). Needed for ``theta="design"``.
    information_rates : sequence of float, optional
        Information fractions of the remaining looks (increasing, above ``t``, ending at
        1). Needed when more than one critical value is given.
    futility : sequence of float, optional
        Futility (lower) boundaries of the remaining looks, z scale; ``-inf`` for none.
        The final entry does not change the probability of crossing the upper boundary.

    Returns
    -------
    float or numpy.ndarray
        Conditional power, with the broadcast shape of ``z_interim`` and ``theta``.

    References
    ----------
    .. [1] Jennison C, Turnbull BW (2000). *Group Sequential Methods with Applications to
       Clinical Trials*. Chapman & Hall/CRC, §10.2 (conditional power) and ch. 19
       (numerical integration).
    .. [2] Proschan MA, Lan KKG, Wittes JT (2006). *Statistical Monitoring of Clinical
       Trials: A Unified Approach*. Springer, ch. 3 (B-value) and ch. 7.
    .. [3] Lan KKG, Wittes J (1988). The B-value: a tool for monitoring data.
       *Biometrics* 44, 579–585.

    Examples
    --------
    Half-way through a trial with final one-sided 2.5% critical value 1.96:

    >>> from rdstats.designs import conditional_power
    >>> round(conditional_power(1.5, 0.5, 1.96, theta="trend"), 4)
    0.5902
    >>> round(conditional_power(1.5, 0.5, 1.96, theta="design", delta=2.8016), 4)
    0.7609
    >>> round(conditional_power(1.5, 0.5, 1.96, theta="null"), 4)
    0.1017

    Two remaining looks of an O'Brien-Fleming-type design (interim at t = 1/3):

    >>> round(conditional_power(1.0, 1 / 3, [2.3, 2.0], information_rates=[2 / 3, 1]), 4)
    0.3839
    """
    t = check_fraction(information_fraction)
    rates, upper, lower = check_looks(t, critical_value, information_rates, futility)
    z = as_float_array(z_interim, "z_interim")
    drift = _drift(theta, delta, z, t)
    z_b, drift_b = np.broadcast_arrays(z, drift)
    out = _crossing(
        np.ravel(z_b) * math.sqrt(t), t, np.ravel(drift_b).astype(float), rates, upper, lower
    ).reshape(z_b.shape)
    return float(out) if out.ndim == 0 else out
