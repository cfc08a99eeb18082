"""Validation of one patient's series for the jump detector."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rdstats._validation import real_number

Array = NDArray[np.float64]

__all__ = ["Series", "check_model", "check_options", "check_priors", "check_series", "min_visits"]

FAMILIES = ("normal", "poisson", "ordinal")
DIRECTIONS = ("increase", "decrease")


@dataclass(frozen=True)
class Series:
    y: Array
    times: Array
    exposure: Array
    dropped: int


def min_visits(family: str, trend: bool, slope: bool, ar1: bool) -> int:
    """Visits the model needs: the nuisance coefficients plus three residual degrees of
    freedom (normal; one more with AR(1)), or three visits (counts, scores)."""
    if family != "normal":
        return 3
    return 1 + int(trend) + int(slope) + 3 + int(ar1)


def check_series(
    y: Any,
    times: Any,
    *,
    family: str,
    trend: bool,
    slope: bool,
    ar1: bool,
    dropna: bool,
    exposure: Any = None,
    score_range: Any = None,
    name: str = "y",
) -> Series:
    """The series as floats with strictly increasing finite times; NaN outcomes are an
    error unless ``dropna``."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    if isinstance(y, pd.DataFrame):
        raise TypeError(f"{name} must be one series; pass outcomes=[...] for several outcomes")
    try:
        yy = np.asarray(y, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numeric, got {type(y).__name__}") from exc
    if yy.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {yy.shape}")
    if times is None:
        tt = np.arange(yy.size, dtype=float)
        if isinstance(y, pd.Series) and pd.api.types.is_numeric_dtype(y.index):
            tt = np.asarray(y.index, dtype=float)
    else:
        try:
            tt = np.asarray(times, dtype=float)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"times must be numeric, got {type(times).__name__}") from exc
    if tt.shape != yy.shape:
        raise ValueError(f"times must have one value per visit ({yy.size}), got shape {tt.shape}")
    if not np.all(np.isfinite(tt)):
        raise ValueError("times must be finite")
    if tt.size > 1 and np.any(np.diff(tt) <= 0):
        k = int(np.flatnonzero(np.diff(tt) <= 0)[0])
        raise ValueError(
            f"times must be strictly increasing; times[{k}] = {tt[k]:g} is followed by "
            f"times[{k + 1}] = {tt[k + 1]:g}"
        )
    ex = np.ones(yy.size) if exposure is None else np.asarray(exposure, dtype=float)
    if ex.shape != yy.shape or not np.all(np.isfinite(ex)) or np.any(ex <= 0):
        raise ValueError(f"exposure must be {yy.size} positive finite values")
    bad = ~np.isfinite(yy)
    dropped = 0
    if bad.any():
        if not dropna:
            where = np.flatnonzero(bad)[:5].tolist()
            raise ValueError(
                f"{name} has {int(bad.sum())} missing or non-finite values (positions {where}); "
                "pass dropna=True to drop those visits"
            )
        yy, tt, ex = yy[~bad], tt[~bad], ex[~bad]
        dropped = int(bad.sum())
    need = min_visits(family, trend, slope, ar1)
    if yy.size < need:
        what = "+".join([s for s, on in (("trend", trend), ("slope", slope), ("AR(1)", ar1)) if on])
        raise ValueError(
            f"{name} has {yy.size} visits; the {family} model{' with ' + what if what else ''} "
            f"needs at least {need}"
        )
    if family == "poisson":
        if np.any(yy < 0) or np.any(yy != np.round(yy)):
            k = int(np.flatnonzero((yy < 0) | (yy != np.round(yy)))[0])
            raise ValueError(
                f"family='poisson' needs non-negative integer counts; {name}[{k}] = {yy[k]:g}"
            )
    if family == "ordinal":
        lo, hi = _score_range(score_range)
        out = (yy < lo) | (yy > hi) | (yy != np.round(yy))
        if out.any():
            k = int(np.flatnonzero(out)[0])
            raise ValueError(
                f"{name}[{k}] = {yy[k]:g} is not an integer score in score_range ({lo}, {hi})"
            )
    elif family == "normal" and np.ptp(yy) == 0:
        raise ValueError(f"{name} is constant; a normal model needs some variation")
    return Series(yy, tt, ex, dropped)


def _score_range(score_range: Any) -> tuple[int, int]:
    if score_range is None:
        raise ValueError("family='ordinal' needs score_range=(lowest, highest), e.g. (1, 9)")
    try:
        vals = [float(v) for v in score_range]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"score_range must be two integers (lo, hi), got {score_range!r}") from exc
    if len(vals) != 2 or any(v != round(v) for v in vals):
        raise ValueError(f"score_range must be two integers (lo, hi), got {score_range!r}")
    lo, hi = (int(v) for v in vals)
    if not hi > lo:
        raise ValueError(f"score_range must have hi > lo, got {score_range!r}")
    return lo, hi


def check_options(
    direction: str, mcid: Any, family: str, max_lag: Any, prob_change: Any, level: Any
) -> tuple[float | None, float | None, float, float]:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    m = None
    if mcid is not None:
        m = real_number(mcid, "mcid")
        if family == "poisson":
            ok = m >= 1 if direction == "increase" else 0 < m <= 1
            if not ok:
                want = ">= 1" if direction == "increase" else "in (0, 1]"
                raise ValueError(
                    f"mcid is a rate ratio for family='poisson'; with direction={direction!r} "
                    f"it must be {want} (a beneficial change), got {mcid!r}"
                )
        if family != "poisson" and m < 0:
            raise ValueError(
                f"mcid is the size of a clinically meaningful jump (>= 0; direction gives the "
                f"sign), got {mcid!r}"
            )
    lag = None
    if max_lag is not None:
        lag = real_number(max_lag, "max_lag")
        if not lag > 0:
            raise ValueError(f"max_lag must be positive, got {max_lag!r}")
    p = real_number(prob_change, "prob_change")
    if not 0 < p < 1:
        raise ValueError(f"prob_change must be in (0, 1), got {prob_change!r}")
    lev = real_number(level, "level")
    if not 0 < lev < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    return m, lag, p, lev


def check_model(
    family: str,
    *,
    trend: bool,
    ar1: bool,
    slope: bool,
    ordinal_model: str,
    score_range: Any,
    exposure: Any,
    name: str = "",
) -> None:
    """Settings that must agree with the family (``name`` labels an outcome)."""
    where = f" (outcome {name!r})" if name else ""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}{where}")
    if ar1 and family != "normal":
        raise ValueError(f"ar1=True is available for family='normal' only, got {family!r}{where}")
    if slope and family != "normal":
        raise ValueError(f"slope=True is available for family='normal' only, got {family!r}{where}")
    if trend and family == "ordinal":
        raise ValueError(f"trend=True is not available for family='ordinal'{where}")
    if ordinal_model not in ("categorical", "binomial"):
        raise ValueError(
            f"ordinal_model must be 'categorical' or 'binomial', got {ordinal_model!r}"
        )
    if score_range is not None and family != "ordinal":
        raise ValueError(f"score_range applies to family='ordinal' only, got {family!r}{where}")
    if exposure is not None and family != "poisson":
        raise ValueError(f"exposure applies to family='poisson' only, got {family!r}{where}")


def check_priors(
    off_window: Any, jump_prior_sd: Any, slope_prior_sd: Any
) -> tuple[float, float, float | None]:
    """The change-time prior's leak and the normal jump and slope prior scales."""
    off = real_number(off_window, "off_window")
    if not 0 <= off < 1:
        raise ValueError(f"off_window must be in [0, 1), got {off_window!r}")
    sd = real_number(jump_prior_sd, "jump_prior_sd")
    if not sd > 0:
        raise ValueError(f"jump_prior_sd must be positive, got {jump_prior_sd!r}")
    ssd = None
    if slope_prior_sd is not None:
        ssd = real_number(slope_prior_sd, "slope_prior_sd")
        if not ssd > 0:
            raise ValueError(f"slope_prior_sd must be positive, got {slope_prior_sd!r}")
    return off, sd, ssd
