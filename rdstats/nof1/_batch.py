"""Jump-detection statistics for many series at once (simulation of null patients and of
power): the exact ``P(change)`` and ``P(change at/after start with a jump beyond the
MCID)`` of :func:`rdstats.nof1.detect_jump` for every row of a (B, n) array, and the
p-value of a naive pre/post t-test."""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from rdstats._validation import real_number
from rdstats.nof1._components import RatioComponents
from rdstats.nof1._detect import detect_jump
from rdstats.nof1._families import _RHO, slope_prior_variance
from rdstats.nof1._inputs import check_options, min_visits
from rdstats.nof1._normal_kernel import normal_fit
from rdstats.nof1._prior import change_time_prior

Array = NDArray[np.float64]

__all__ = ["DEFAULT_JUMP_PRIOR_SD", "batch_jump_statistics", "jump_kernel", "naive_pvalues"]

#: detect_jump's default prior SD of the jump (residual SDs), used when none is given
DEFAULT_JUMP_PRIOR_SD = float(inspect.signature(detect_jump).parameters["jump_prior_sd"].default)
_ELEMENTS = 2_000_000  # series x grid x visits per chunk (~16 MB per float array)


def _weights(log_m: Array, log_m0: Array, log_gp: Array, prior: Array, p: float) -> Array:
    """Posterior weights (B, G, n) of (grid value, candidate), as in ``posterior_weights``."""
    with np.errstate(divide="ignore"):
        lc = log_m + log_gp[None, :, None] + np.log(prior)[None, None, :]
    b = lc.shape[0]
    num = special.logsumexp(lc.reshape(b, -1), axis=1)
    den = special.logsumexp(log_m0 + log_gp[None, :], axis=1)
    log_z = np.logaddexp(math.log(p) + num, math.log1p(-p) + den)
    return np.asarray(np.exp(math.log(p) + lc - log_z[:, None, None]))


def _normal_chunk(y: Array, times: Array, o: dict[str, Any]) -> tuple[Array, Array]:
    rho = _RHO if o["ar1"] else np.zeros(1)
    fit = normal_fit(
        y,
        times,
        trend=o["trend"],
        slope=o["slope"],
        rho=rho,
        unit=o["unit"],
        v_delta=o["v_delta"],
        v_gamma=o["v_gamma"],
    )
    if fit.degenerate.any():
        k = int(np.flatnonzero(fit.degenerate)[0])
        raise ValueError(
            f"series {k} has no residual variation after fitting the level"
            f"{' and trend' if o['trend'] else ''}; the normal model needs noise"
        )
    log_gp = np.full(rho.size, -math.log(rho.size))
    w = _weights(fit.log_m_change, fit.log_m_null, log_gp, o["prior"], o["prob_change"])
    cols = np.flatnonzero(o["after"][1:]) + 1  # candidates at or after the start
    ww = w[:, :, cols]
    # the t tails are the costly part: evaluate them only where the weight can matter
    # (components below 1e-15 of a series' largest weight change P by < 1e-11 in all)
    keep = ww >= 1e-15 * ww.max(axis=(1, 2), keepdims=True)
    loc = fit.coef_mean[:, :, cols, 0][keep]
    scale = np.sqrt(fit.coef_scale[:, :, cols, 0, 0][keep])
    m = o["mcid"]
    exc = np.zeros(ww.shape)
    if o["direction"] == "increase":
        exc[keep] = special.stdtr(fit.nu, (loc - m) / scale)
    else:
        exc[keep] = special.stdtr(fit.nu, (-m - loc) / scale)
    return w.sum(axis=(1, 2)), np.sum(ww * exc, axis=(1, 2))


def _poisson_chunk(y: Array, times: Array, o: dict[str, Any]) -> tuple[Array, Array]:
    a = 1.0
    n = times.size
    total = y.sum(axis=1)
    b = a * float(n) / np.maximum(total, 0.5)  # exposure 1 at every visit
    if o["trend"]:
        span = float(times[-1] - times[0])
        x, wq = np.polynomial.hermite.hermgauss(32)
        beta = np.sqrt(2.0) * x / span
        log_gp = np.log(wq / np.sqrt(np.pi))
    else:
        beta, log_gp = np.zeros(1), np.zeros(1)
    tc = times - times.mean()
    expo = np.exp(beta[:, None] * tc[None, :])  # (K, n)
    s_pre = np.concatenate([np.zeros((y.shape[0], 1)), np.cumsum(y, axis=1)[:, :-1]], axis=1)
    e_pre = np.concatenate([np.zeros((beta.size, 1)), np.cumsum(expo, axis=1)[:, :-1]], axis=1)
    e_tot = expo.sum(axis=1)
    s_post = total[:, None] - s_pre
    e_post = e_tot[:, None] - e_pre
    bb = b[:, None, None]

    def seg(s: Array, e: Array) -> Array:
        return np.asarray(
            a * np.log(bb) - special.gammaln(a) + special.gammaln(a + s) - (a + s) * np.log(bb + e)
        )

    shift = (y @ tc)[:, None] * beta[None, :]  # (B, K)
    log_m = seg(s_pre[:, None, :], e_pre[None]) + seg(s_post[:, None, :], e_post[None])
    log_m = log_m + shift[..., None]
    log_m[..., 0] = -np.inf
    log_m0 = seg(total[:, None, None], e_tot[None, :, None])[..., 0] + shift
    w = _weights(log_m, log_m0, log_gp, o["prior"], o["prob_change"])
    comp = RatioComponents(
        np.broadcast_to(a + s_pre[:, None, 1:], w[:, :, 1:].shape),
        bb + e_pre[None, :, 1:],
        np.broadcast_to(a + s_post[:, None, 1:], w[:, :, 1:].shape),
        bb + e_post[None, :, 1:],
    )
    sf = comp.sf(o["mcid"])
    exc = sf if o["direction"] == "increase" else 1.0 - sf
    ww = w[:, :, 1:] * o["after"][None, None, 1:]
    return w.sum(axis=(1, 2)), np.sum(ww * exc, axis=(1, 2))


def jump_kernel(y: Array, times: Array, start: float | None, **settings: Any) -> dict[str, Array]:
    """Unvalidated batch statistics (kernel layer): ``y`` (B, n) finite, ``times``
    strictly increasing, settings as :func:`batch_jump_statistics` (all given)."""
    family = settings["family"]
    kind = settings["change_prior"]
    if kind is None:
        kind = "anchored" if start is not None else "uniform"
    prior, _ = change_time_prior(times, kind, start, settings["max_lag"], settings["off_window"])
    unit = settings["time_unit"]
    unit = float(np.median(np.diff(times))) if unit is None else float(unit)
    span = float(times[-1] - times[0])
    sd = float(settings["jump_prior_sd"])
    ssd = settings["slope_prior_sd"]
    mcid = settings["mcid"]
    if mcid is None:
        mcid = 1.0 if family == "poisson" else 0.0
    o = {
        **settings,
        "prior": prior,
        "unit": unit,
        "v_delta": sd**2,
        "v_gamma": slope_prior_variance(sd, None if ssd is None else float(ssd), span),
        "mcid": float(mcid),
        "after": (times >= start) if start is not None else np.ones(times.size, dtype=bool),
    }
    grid = _RHO.size if (family == "normal" and settings["ar1"]) else 32
    chunk = int(settings.get("chunk_size") or max(1, _ELEMENTS // (grid * times.size)))
    fn = _normal_chunk if family == "normal" else _poisson_chunk
    pc, pe = np.empty(y.shape[0]), np.empty(y.shape[0])
    for lo in range(0, y.shape[0], chunk):
        pc[lo : lo + chunk], pe[lo : lo + chunk] = fn(y[lo : lo + chunk], times, o)
    return {"prob_change": pc, "prob_exceeds": pe}


def batch_jump_statistics(
    y: Any,
    times: Any = None,
    treatment_start: float | None = None,
    *,
    family: str = "normal",
    trend: bool = False,
    ar1: bool = False,
    slope: bool = False,
    mcid: float | None = None,
    direction: str = "increase",
    change_prior: str | None = None,
    max_lag: float | None = None,
    prob_change: float = 0.5,
    off_window: float = 0.05,
    jump_prior_sd: float | None = None,
    slope_prior_sd: float | None = None,
    time_unit: float | None = None,
    chunk_size: int | None = None,
) -> dict[str, Array]:
    """``P(change)`` and ``P(change at/after treatment start with a jump beyond the MCID)``
    of :func:`~rdstats.nof1.detect_jump` for every row of ``y``, vectorised.

    Parameters
    ----------
    y : array_like, shape (B, n)
        One series per row, all on the same visit ``times`` (no missing values).
    times, treatment_start, family, trend, ar1, slope, mcid, direction, change_prior,
    max_lag, prob_change, off_window, jump_prior_sd, slope_prior_sd, time_unit
        As for :func:`~rdstats.nof1.detect_jump` (family ``"normal"`` or ``"poisson"``;
        ``change_prior`` ``"anchored"`` or ``"uniform"``). ``mcid=None`` means any jump in
        the beneficial direction (0, or a rate ratio of 1); ``jump_prior_sd=None`` means
        detect_jump's default.
    chunk_size : int, optional
        Series per vectorised chunk (default: about 2e6 series x grid x visits, i.e.
        roughly 16 MB per working array).

    Returns
    -------
    dict
        ``"prob_change"`` and ``"prob_exceeds"``, arrays of shape (B,), each equal to
        ``detect_jump(...).prob_change`` and ``.prob_jump_exceeds(mcid)`` row by row (the
        same closed forms, summed in a different order: equal to about 1e-12).

    Examples
    --------
    >>> import numpy as np
    >>> from rdstats.nof1 import batch_jump_statistics
    >>> y = np.random.default_rng(1).normal(size=(3, 20))
    >>> out = batch_jump_statistics(y, treatment_start=10, ar1=True, mcid=0.5)
    >>> out["prob_exceeds"].round(3)
    array([0.009, 0.079, 0.031])
    """
    if family not in ("normal", "poisson"):
        raise ValueError(f"family must be 'normal' or 'poisson' for batches, got {family!r}")
    if (ar1 or slope) and family != "normal":
        raise ValueError("ar1 and slope are available for family='normal' only")
    m, lag, p, _ = check_options(direction, mcid, family, max_lag, prob_change, 0.95)
    try:
        yy = np.asarray(y, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"y must be numeric, got {type(y).__name__}") from exc
    if yy.ndim == 1:
        yy = yy[None, :]
    if yy.ndim != 2:
        raise ValueError(f"y must be a (series, visits) array, got shape {yy.shape}")
    if not np.all(np.isfinite(yy)):
        raise ValueError("y must be finite (no missing visits in a batch)")
    n = yy.shape[1]
    need = min_visits(family, trend, slope, ar1)
    if n < need:
        raise ValueError(f"y has {n} visits; the {family} model needs at least {need}")
    tt = np.arange(n, dtype=float) if times is None else np.asarray(times, dtype=float)
    if tt.shape != (n,) or not np.all(np.isfinite(tt)) or np.any(np.diff(tt) <= 0):
        raise ValueError(f"times must be {n} finite strictly increasing values")
    if family == "poisson" and (np.any(yy < 0) or np.any(yy != np.round(yy))):
        raise ValueError("family='poisson' needs non-negative integer counts")
    start = None
    if treatment_start is not None:
        start = real_number(treatment_start, "treatment_start")
        if not tt[0] < start <= tt[-1]:
            raise ValueError(
                f"treatment_start={start:g} is outside the observed range ({tt[0]:g}, {tt[-1]:g}]"
            )
    if change_prior not in (None, "anchored", "uniform"):
        raise ValueError(
            f"change_prior must be 'anchored', 'uniform' or None, got {change_prior!r}"
        )
    off = real_number(off_window, "off_window")
    if not 0 <= off < 1:
        raise ValueError(f"off_window must be in [0, 1), got {off_window!r}")
    if jump_prior_sd is None:
        jump_prior_sd = DEFAULT_JUMP_PRIOR_SD
    if not real_number(jump_prior_sd, "jump_prior_sd") > 0:
        raise ValueError(f"jump_prior_sd must be positive, got {jump_prior_sd!r}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    return jump_kernel(
        yy,
        tt,
        start,
        family=family,
        trend=trend,
        ar1=ar1,
        slope=slope,
        mcid=m,
        direction=direction,
        change_prior=change_prior,
        max_lag=lag,
        prob_change=p,
        off_window=off,
        jump_prior_sd=jump_prior_sd,
        slope_prior_sd=slope_prior_sd,
        time_unit=time_unit,
        chunk_size=chunk_size,
    )


def naive_pvalues(y: Array, times: Array, start: float, direction: str) -> Array:
    """One-sided p-values of the pooled-variance two-sample t-test of the visits at or
    after ``start`` against those before it, in the beneficial ``direction``, per row of
    ``y`` (B, n). Ignores trend and autocorrelation (the naive comparator)."""
    post = np.asarray(times) >= start
    n1, n2 = int((~post).sum()), int(post.sum())
    a, b = y[:, ~post], y[:, post]
    diff = b.mean(axis=1) - a.mean(axis=1)
    ss = np.sum((a - a.mean(axis=1, keepdims=True)) ** 2, axis=1) + np.sum(
        (b - b.mean(axis=1, keepdims=True)) ** 2, axis=1
    )
    df = n1 + n2 - 2
    se = np.sqrt(ss / df * (1.0 / n1 + 1.0 / n2))
    sign = 1.0 if direction == "increase" else -1.0
    ok = se > 0
    t = np.where(ok, sign * diff / np.where(ok, se, 1.0), 0.0)
    p = special.stdtr(df, -t)
    return np.asarray(np.where(ok, p, np.where(sign * diff > 0, 0.0, 1.0)))
