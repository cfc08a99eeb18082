"""Patients with no treatment effect: the null models against which a jump-detection rule
is calibrated, and the "physician's fallacy" enrolment rule (treatment started right after
a flare)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

from rdstats._validation import readonly, real_number

Array = NDArray[np.float64]

__all__ = ["FlareEnrolment", "NullModel"]

_FAMILIES = ("normal", "poisson")


def _gen(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (bool, np.bool_)) or not (
        rng is None or isinstance(rng, (numbers.Integral, np.random.SeedSequence))
    ):
        raise TypeError(
            f"rng must be None, an int, a SeedSequence or a Generator, got {type(rng).__name__}"
        )
    return np.random.default_rng(rng)  # type: ignore[arg-type]


def _count(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class NullModel:
    """Untreated patients: a natural-history model with no treatment effect.

    Normal outcomes: ``y_i = mean + trend (t_i - t_1) + e_i`` with stationary AR(1)
    errors, ``sd(e_i) = sigma`` and ``corr(e_i, e_k) = rho^(|t_i - t_k| / time_unit)``
    (the detector's convention; ``time_unit`` defaults to the median visit spacing).
    Counts: ``y_i ~ Poisson(mean exp(trend (t_i - t_1)))`` (``sigma`` and ``rho`` unused).

    Parameters
    ----------
    n_visits : int
        Visits of the series the detector sees.
    times : array_like, optional
        Visit times (strictly increasing); default ``spacing * (0, 1, ..., n_visits - 1)``.
    spacing : float
        Time between visits when ``times`` is not given.
    treatment_start : float, optional
        Time treatment starts (the first visit at or after it is the first treated visit).
    start_visit : int, optional
        Alternatively the 0-based index of the first treated visit; default
        ``n_visits // 2`` (half the visits before treatment).
    mean, trend, sigma, rho : float
        Level at the first visit, natural-history progression per time unit (log rate per
        time unit for counts), residual SD and AR(1) coefficient in [0, 1).
    family : {"normal", "poisson"}
    time_unit : float, optional
        Time over which the AR(1) correlation is ``rho``.

    Examples
    --------
    >>> from rdstats.nof1 import NullModel
    >>> null = NullModel(n_visits=10, rho=0.6, sigma=2.0)
    >>> null.simulate(3, rng=1).shape, null.start_visit, null.treatment_start
    ((3, 10), 5, 5.0)
    """

    n_visits: int = 40
    times: Any = None
    spacing: float = 1.0
    treatment_start: float | None = None
    start_visit: int | None = None
    mean: float = 0.0
    trend: float = 0.0
    sigma: float = 1.0
    rho: float = 0.0
    family: str = "normal"
    time_unit: float | None = None

    def __post_init__(self) -> None:
        n = _count(self.n_visits, "n_visits", 4)
        if self.family not in _FAMILIES:
            raise ValueError(f"family must be one of {_FAMILIES}, got {self.family!r}")
        sp = real_number(self.spacing, "spacing")
        if not sp > 0:
            raise ValueError(f"spacing must be positive, got {self.spacing!r}")
        if self.times is None:
            t = sp * np.arange(n, dtype=float)
        else:
            try:
                t = np.array(self.times, dtype=float)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"times must be numeric, got {type(self.times).__name__}") from exc
            if t.shape != (n,) or not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
                raise ValueError(
                    f"times must be {n} finite strictly increasing values (n_visits={n}), "
                    f"got shape {t.shape}"
                )
        object.__setattr__(self, "times", readonly(t))
        if self.treatment_start is not None and self.start_visit is not None:
            raise ValueError("give treatment_start or start_visit, not both")
        if self.treatment_start is not None:
            s = real_number(self.treatment_start, "treatment_start")
            if not t[0] < s <= t[-1]:
                raise ValueError(
                    f"treatment_start={s:g} must be after the first visit ({t[0]:g}) and not "
                    f"after the last ({t[-1]:g})"
                )
            k = int(np.searchsorted(t, s, side="left"))
        else:
            k = n // 2 if self.start_visit is None else _count(self.start_visit, "start_visit", 1)
            if k > n - 1:
                raise ValueError(f"start_visit={k} must be between 1 and n_visits - 1 = {n - 1}")
            s = float(t[k])
        object.__setattr__(self, "treatment_start", s)
        object.__setattr__(self, "start_visit", k)
        for name in ("mean", "trend"):
            real_number(getattr(self, name), name)
        if not real_number(self.sigma, "sigma") > 0:
            raise ValueError(f"sigma must be positive, got {self.sigma!r}")
        if not 0 <= real_number(self.rho, "rho") < 1:
            raise ValueError(f"rho must be in [0, 1), got {self.rho!r}")
        if self.family == "poisson" and not real_number(self.mean, "mean") > 0:
            raise ValueError(f"mean is the count rate for family='poisson'; got {self.mean!r}")
        if self.time_unit is not None and not real_number(self.time_unit, "time_unit") > 0:
            raise ValueError(f"time_unit must be positive, got {self.time_unit!r}")

    @property
    def unit(self) -> float:
        """Time over which the AR(1) correlation is ``rho``."""
        t = np.asarray(self.times)
        return float(np.median(np.diff(t))) if self.time_unit is None else float(self.time_unit)

    @property
    def equally_spaced(self) -> bool:
        d = np.diff(np.asarray(self.times))
        return bool(np.allclose(d, d[0], rtol=1e-9, atol=0.0))

    def path(
        self,
        size: int,
        rng: np.random.Generator,
        times: Array,
        effect: float | None = None,
        at: int | None = None,
    ) -> Array:
        """Series at ``times`` (size, len(times)); the level ``mean`` is at ``times[0]``.
        ``effect`` (None: untreated) is added from visit ``at`` on (default
        ``start_visit``); for counts it multiplies the rate."""
        tt = np.asarray(times, dtype=float)
        rel = tt - tt[0]
        k = int(self.start_visit if at is None else at)  # type: ignore[arg-type]
        if self.family == "poisson":
            rate = float(self.mean) * np.exp(float(self.trend) * rel)
            if effect is not None:
                rate[k:] *= float(effect)
            return rng.poisson(rate, size=(size, tt.size)).astype(float)
        z = rng.standard_normal((size, tt.size))
        if self.rho > 0:
            phi = float(self.rho) ** (np.diff(tt) / self.unit)
            c = np.sqrt(1.0 - phi**2)
            for i in range(1, tt.size):
                z[:, i] = phi[i - 1] * z[:, i - 1] + c[i - 1] * z[:, i]
        y = float(self.mean) + float(self.trend) * rel + float(self.sigma) * z
        if effect is not None:
            y[:, k:] += float(effect)
        return np.asarray(y)

    def simulate(self, size: int, rng: Any = None) -> Array:
        """``size`` untreated series of ``n_visits`` visits, shape (size, n_visits)."""
        return self.path(_count(size, "size", 1), _gen(rng), np.asarray(self.times))

    @classmethod
    def fit(
        cls,
        series: Any,
        times: Any = None,
        *,
        family: str = "normal",
        trend: bool = True,
        ar1: bool = True,
        time_unit: float | None = None,
        sim_times: Any = None,
        **settings: Any,
    ) -> NullModel:
        """Null model estimated from one or more untreated (natural-history) series.

        Parameters
        ----------
        series : array_like or sequence of array_like
            One series, a 2-D array (one series per row) or a list of series of any lengths.
        times : array_like or sequence, optional
            Matching visit times (default 0, 1, ...); each series' time is measured from
            its first visit.
        family : {"normal", "poisson"}
        trend, ar1 : bool
            Estimate the natural-history trend / the AR(1) coefficient (else 0).
        time_unit : float, optional
            AR(1) time unit (default: the median spacing of all series); the returned
            model keeps the unit its ``rho`` was estimated in.
        sim_times : array_like, optional
            Visit times of the simulated series (default: those of the first series).
        **settings
            Passed to the constructor (``n_visits``, ``times``, ``start_visit`` ...; default
            ``n_visits`` and ``times`` of the first series, or its median spacing when
            another ``n_visits`` is given).

        Notes
        -----
        Normal: maximum likelihood of the stationary Gaussian AR(1) + linear trend model
        with a common mean, trend, sigma and rho for all series. For fixed ``rho`` the
        mean and trend are generalised least squares (whitening as in the detector); the
        profile likelihood in ``rho`` is maximised on [0, 0.99] (bounded Brent), and
        ``sigma^2`` is the whitened residual sum of squares over ``N - p`` (``N`` visits
        in all, ``p`` = 1 or 2 coefficients). Counts: Poisson maximum likelihood of
        ``log rate = a + trend (t - t_1)`` by Newton's method.

        Examples
        --------
        >>> from rdstats.nof1 import NullModel
        >>> y = NullModel(n_visits=200, mean=3, trend=0.01, rho=0.5).simulate(5, rng=2)
        >>> fit = NullModel.fit(y)
        >>> round(fit.rho, 2), round(fit.sigma, 2), round(fit.mean, 1)
        (0.48, 1.0, 3.0)
        """
        if family not in _FAMILIES:
            raise ValueError(f"family must be one of {_FAMILIES}, got {family!r}")
        ys, ts = _as_series(series, times)
        n_all = sum(y.size for y in ys)
        p = 1 + int(trend)
        need = p + 1 if family == "poisson" else p + 2 + int(ar1)
        if n_all < need:
            raise ValueError(f"series have {n_all} visits in all; the fit needs {need}")
        if sim_times is not None:
            settings["times"] = np.asarray(sim_times, dtype=float)
            settings.setdefault("n_visits", settings["times"].size)
        settings.setdefault("n_visits", ys[0].size)
        if "times" not in settings and "spacing" not in settings:
            if settings["n_visits"] == ys[0].size:
                settings["times"] = ts[0] - ts[0][0]
            else:
                settings["spacing"] = float(np.median(np.diff(ts[0])))
        if family == "poisson":
            if any(np.any(y < 0) or np.any(y != np.round(y)) for y in ys):
                raise ValueError("family='poisson' needs non-negative integer counts")
            mean, slope = _poisson_mle(ys, ts, trend)
            return cls(family="poisson", mean=mean, trend=slope, **settings)
        unit = (
            float(np.median(np.concatenate([np.diff(t) for t in ts])))
            if time_unit is None
            else real_number(time_unit, "time_unit")
        )

        def gls(rho: float) -> tuple[float, NDArray[Any], float]:
            xs, zs, log_l = [], [], 0.0
            for y, t in zip(ys, ts, strict=True):
                phi = rho ** (np.diff(t) / unit) if rho > 0 else np.zeros(t.size - 1)
                c = np.sqrt(1.0 - phi**2)
                log_l -= float(np.sum(np.log(c)))
                cols = [np.ones(t.size)] + ([t - t[0]] if trend else [])

                def white(v: Array, phi: Array = phi, c: Array = c) -> Array:
                    return np.r_[v[0], (v[1:] - phi * v[:-1]) / c]

                xs.append(np.stack([white(col) for col in cols], axis=1))
                zs.append(white(y))
            x, z = np.vstack(xs), np.concatenate(zs)
            coef, *_ = np.linalg.lstsq(x, z, rcond=None)
            ssr = float(np.sum((z - x @ coef) ** 2))
            return -0.5 * n_all * math.log(max(ssr, 1e-300) / n_all) + log_l, coef, ssr

        rho = 0.0
        if ar1:
            opt = optimize.minimize_scalar(
                lambda r: -gls(float(r))[0], bounds=(0.0, 0.99), method="bounded"
            )
            rho = float(opt.x)
            if -gls(0.0)[0] <= float(opt.fun):
                rho = 0.0
        _, coef, ssr = gls(rho)
        sigma = math.sqrt(ssr / (n_all - p))
        return cls(
            family="normal",
            mean=float(coef[0]),
            trend=float(coef[1]) if trend else 0.0,
            sigma=sigma,
            rho=rho,
            time_unit=unit,
            **settings,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "NullModel",
            "family": self.family,
            "n_visits": int(self.n_visits),
            "times": [float(v) for v in np.asarray(self.times)],
            "treatment_start": float(self.treatment_start),  # type: ignore[arg-type]
            "start_visit": int(self.start_visit),  # type: ignore[arg-type]
            "mean": float(self.mean),
            "trend": float(self.trend),
            "sigma": float(self.sigma),
            "rho": float(self.rho),
            "time_unit": self.unit,
        }


def _as_series(series: Any, times: Any) -> tuple[list[Array], list[Array]]:
    arr = None
    if not isinstance(series, (list, tuple)):
        try:
            arr = np.asarray(series, dtype=float)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"series must be numeric, got {type(series).__name__}") from exc
        if arr.ndim not in (1, 2):
            raise ValueError(f"series must be one series or a 2-D array, got shape {arr.shape}")
        rows = [arr] if arr.ndim == 1 else list(arr)
    else:
        rows = [np.asarray(s, dtype=float) for s in series]
    if not rows or any(r.ndim != 1 or r.size < 3 for r in rows):
        raise ValueError("series must be one or more 1-D series of at least 3 visits")
    if times is None:
        trows = [np.arange(r.size, dtype=float) for r in rows]
    elif (
        isinstance(times, (list, tuple))
        and len(times) == len(rows)
        and all(np.ndim(v) == 1 for v in times)
    ):
        trows = [np.asarray(v, dtype=float) for v in times]  # one array per series
    else:
        trows = [np.asarray(times, dtype=float)] * len(rows)  # shared by all series
    for i, (r, tt) in enumerate(zip(rows, trows, strict=True)):
        if tt.shape != r.shape:
            raise ValueError(f"times of series {i} must have {r.size} values, got {tt.shape}")
        if not np.all(np.isfinite(r)) or not np.all(np.isfinite(tt)) or np.any(np.diff(tt) <= 0):
            raise ValueError(
                f"series {i} must be finite with strictly increasing times (no missing visits)"
            )
    return rows, trows


def _poisson_mle(ys: Sequence[Array], ts: Sequence[Array], trend: bool) -> tuple[float, float]:
    y = np.concatenate(list(ys))
    x = np.concatenate([t - t[0] for t in ts])
    if y.sum() <= 0:
        raise ValueError("all counts are zero: the rate cannot be estimated")
    if not trend:
        return float(y.mean()), 0.0
    a, b = math.log(y.mean()), 0.0
    for _ in range(100):
        mu = np.exp(a + b * x)
        g = np.array([np.sum(y - mu), np.sum((y - mu) * x)])
        h = np.array([[mu.sum(), (mu * x).sum()], [(mu * x).sum(), (mu * x * x).sum()]])
        step = np.linalg.solve(h, g)
        a, b = a + float(step[0]), b + float(step[1])
        if np.max(np.abs(step)) < 1e-12:
            break
    return math.exp(a), b


@dataclass(frozen=True)
class FlareEnrolment:
    """Treatment started right after a flare (the physician's fallacy).

    Each simulated patient has a longer untreated history of ``n_visits + window - 1``
    equally spaced visits. Let ``s`` be the null model's number of pre-treatment visits
    (``start_visit``). The patient is enrolled at the first visit ``f`` among the
    ``window`` visits ``s - 1, ..., s + window - 2`` (0-based) whose value is bad —
    ``y_f < threshold`` when ``bad="below"``, ``y_f > threshold`` when ``"above"`` — and
    treatment starts right after it. The detector then sees visits ``f - s + 1, ...,
    f + n_visits - s``: the same ``s`` pre-treatment visits (the flare last) and
    ``n_visits - s`` treated visits as without the enrolment rule, on the null model's
    times. A patient with no flare in the window is enrolled at its end
    (``no_flare="enrol"``) or replaced by a new patient (``"exclude"``).

    Parameters
    ----------
    threshold : float
        Flare threshold on the outcome scale.
    window : int
        Visits at which a flare can trigger enrolment.
    bad : {"below", "above"}, optional
        Which values are a flare; default the opposite of the rule's beneficial direction
        (``"below"`` for ``direction="increase"``).
    no_flare : {"enrol", "exclude"}

    Examples
    --------
    >>> from rdstats.nof1 import FlareEnrolment, NullModel
    >>> null = NullModel(n_visits=10, start_visit=5)
    >>> y, flared = FlareEnrolment(-1.0, window=30).draw(null, 4, rng=3, direction="increase")
    >>> y.shape, bool(np.all(y[flared, 4] < -1.0))
    ((4, 10), True)
    """

    threshold: float
    window: int = 20
    bad: str | None = None
    no_flare: str = "enrol"

    def __post_init__(self) -> None:
        real_number(self.threshold, "threshold")
        _count(self.window, "window", 1)
        if self.bad not in (None, "below", "above"):
            raise ValueError(f"bad must be 'below', 'above' or None, got {self.bad!r}")
        if self.no_flare not in ("enrol", "exclude"):
            raise ValueError(f"no_flare must be 'enrol' or 'exclude', got {self.no_flare!r}")

    def side(self, direction: str) -> str:
        if self.bad is not None:
            return self.bad
        return "below" if direction == "increase" else "above"

    def draw(
        self,
        null: NullModel,
        size: int,
        rng: Any = None,
        *,
        direction: str = "increase",
        effect: float | None = None,
    ) -> tuple[Array, NDArray[np.bool_]]:
        """Series the detector sees (size, n_visits) and whether each enrolment followed a
        flare. ``effect`` (None: no effect) is added from the first treated visit; for counts
        it multiplies the rate of the treated visits (which are drawn afresh: Poisson visits
        are independent given the rate)."""
        if not null.equally_spaced:
            raise ValueError("FlareEnrolment needs a null model with equally spaced visits")
        gen = _gen(rng)
        size = _count(size, "size", 1)
        n, s, w = int(null.n_visits), int(null.start_visit), int(self.window)  # type: ignore[arg-type]
        t = np.asarray(null.times)
        step = float(t[1] - t[0])
        long_t = t[0] + step * np.arange(n + w - 1)
        below = self.side(direction) == "below"
        out, flags, starts, got, rounds = [], [], [], 0, 0
        while got < size:
            rounds += 1
            hist = null.path(size - got, gen, long_t)
            cand = hist[:, s - 1 : s - 1 + w]
            bad = cand < self.threshold if below else cand > self.threshold
            has = np.asarray(bad.any(axis=1), dtype=bool)
            f = s - 1 + np.where(has, np.argmax(bad, axis=1), w - 1)
            if self.no_flare == "exclude":
                hist, f, has = hist[has], f[has], has[has]
                if rounds > 200 and got + hist.shape[0] < size:
                    raise ValueError(
                        f"flares below/above threshold={self.threshold:g} are too rare in a "
                        f"window of {w} visits to enrol {size} patients; use no_flare='enrol' "
                        "or a less extreme threshold"
                    )
            idx = (f - s + 1)[:, None] + np.arange(n)[None, :]
            out.append(np.take_along_axis(hist, idx, axis=1))
            flags.append(has)
            starts.append(f + 1)
            got += hist.shape[0]
        y = np.concatenate(out)[:size]
        if effect is not None and null.family == "normal":
            y[:, s:] += float(effect)
        elif effect is not None:
            first = np.concatenate(starts)[:size]
            rel = long_t[first[:, None] + np.arange(n - s)[None, :]] - long_t[0]
            rate = float(null.mean) * np.exp(float(null.trend) * rel) * float(effect)
            y[:, s:] = gen.poisson(rate).astype(float)
        return y, np.concatenate(flags)[:size]

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "FlareEnrolment",
            "threshold": float(self.threshold),
            "window": int(self.window),
            "bad": self.bad,
            "no_flare": self.no_flare,
        }
