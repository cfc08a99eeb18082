"""Sample-size re-estimation: promising zone with the Cui-Hung-Wang weighted test.

A two-stage trial plans ``n2`` patients after an interim analysis at information fraction
``t``. The Cui-Hung-Wang (CHW) test combines the stage-wise z statistics with the planned
weights ``w1 = sqrt(t)``, ``w2 = sqrt(1 - t)`` whatever the second-stage size actually
used, so under H0 the final statistic is standard normal for any data-driven choice of
``n2`` and the level α is kept exactly. The promising-zone rule (Mehta & Pocock 2011)
increases ``n2`` only when the conditional power at the current trend is promising.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special

from rdstats._provenance import provenance
from rdstats._validation import as_float_array, as_int_array
from rdstats.designs._conditional_power import check_delta, check_fraction

__all__ = ["SSRResult", "cui_hung_wang", "promising_zone"]

Array = NDArray[np.float64]
ZONES = ("unfavourable", "promising", "favourable")


# -- kernels (no validation, vectorised) ----------------------------------------------------
def chw_conditional_power(z1: Any, t: float, c: float, ratio: Any, theta: Any) -> Any:
    """CP of the CHW test when stage 2 has ``ratio`` times its planned size, drift ``theta``.

    Z2 with ``ratio * n2`` patients has mean ``theta * sqrt((1 - t) * ratio)``; reject iff
    ``sqrt(t) z1 + sqrt(1 - t) Z2 >= c``.
    """
    b = (c - math.sqrt(t) * np.asarray(z1)) / math.sqrt(1.0 - t)
    return special.ndtr(np.asarray(theta) * np.sqrt((1.0 - t) * np.asarray(ratio)) - b)


def naive_conditional_error(z1: Any, t: float, c: float, ratio: Any) -> Any:
    """Conditional type I error of the unweighted (pooled) z test after changing ``n2``.

    With stage sizes ``n1 = t`` and ``n2* = (1 - t) ratio`` (any common unit) the pooled
    statistic is ``(sqrt(n1) z1 + sqrt(n2*) Z2) / sqrt(n1 + n2*)``.
    """
    n2 = (1.0 - t) * np.asarray(ratio)
    b = (c * np.sqrt(t + n2) - math.sqrt(t) * np.asarray(z1)) / np.sqrt(n2)
    return special.ndtr(-b)


def promising_zone_rule(
    z1: Any, t: float, c: float, n2: int, n2_max: int, cp_min: float, cp_target: float
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Second-stage size and zone (0 unfavourable, 1 promising, 2 favourable) per ``z1``.

    In the promising zone the size giving ``cp_target`` at the current trend under the
    CHW test, rounded up and kept within ``[n2, n2_max]``; elsewhere ``n2``.
    """
    z1 = np.asarray(z1, dtype=float)
    trend = z1 / math.sqrt(t)
    cp = chw_conditional_power(z1, t, c, 1.0, trend)
    zone = np.where(cp < cp_min, 0, np.where(cp < cp_target, 1, 2))
    b = (c - math.sqrt(t) * z1) / math.sqrt(1.0 - t)
    positive = trend > 0
    safe = np.where(positive, trend, 1.0)
    with np.errstate(divide="ignore", over="ignore"):  # a tiny trend needs n2 = inf
        need = n2 * ((b + special.ndtri(cp_target)) / (safe * math.sqrt(1.0 - t))) ** 2
    need = np.ceil(np.minimum(need, float(n2_max)) * (1.0 - 1e-12))
    new = np.where((zone == 1) & positive, np.clip(need, n2, n2_max), n2)
    return new.astype(np.int64), zone.astype(np.int64)


# -- public API -----------------------------------------------------------------------------
def cui_hung_wang(z_1: ArrayLike, z_2: ArrayLike, information_fraction: float) -> Any:
    """Cui-Hung-Wang weighted inverse-normal statistic ``sqrt(t) z_1 + sqrt(1 - t) z_2``.

    The weights are fixed by the planned information fraction ``t``; ``z_2`` is the z
    statistic of the second-stage patients only, whatever their number. Reject H0 when the
    statistic reaches the final critical value of the original design.

    Parameters
    ----------
    z_1, z_2 : float or array_like
        Stage-wise z statistics (stage 2 from its own data only).
    information_fraction : float
        Planned information fraction ``t`` of the interim analysis, in (0, 1).

    Returns
    -------
    float or numpy.ndarray
        Weighted statistic, standard normal under H0 for any adaptive choice of ``n2``.

    References
    ----------
    .. [1] Cui L, Hung HMJ, Wang SJ (1999). Modification of sample size in group
       sequential clinical trials. *Biometrics* 55, 853–857.
    .. [2] Lehmacher W, Wassmer G (1999). Adaptive sample size calculations in group
       sequential trials. *Biometrics* 55, 1286–1290.

    Examples
    --------
    >>> from rdstats.designs import cui_hung_wang
    >>> round(cui_hung_wang(1.2, 2.0, 0.5), 4)
    2.2627
    """
    t = check_fraction(information_fraction)
    a = as_float_array(z_1, "z_1")
    b = as_float_array(z_2, "z_2")
    try:
        out = math.sqrt(t) * a + math.sqrt(1.0 - t) * b
    except ValueError as exc:
        raise ValueError(
            f"z_1 and z_2 must broadcast together, got shapes {a.shape} and {b.shape}"
        ) from exc
    return float(out) if out.ndim == 0 else out


def promising_zone(
    z_interim: float,
    information_fraction: float,
    critical_value: float,
    n2: int,
    n2_max: int,
    *,
    cp_min: float = 0.5,
    cp_target: float = 0.8,
    delta: float | None = None,
) -> SSRResult:
    """Promising-zone sample-size re-estimation with the CHW test (Mehta & Pocock 2011).

    The conditional power at the current trend with the planned ``n2`` classifies the
    interim result as *unfavourable* (below ``cp_min``), *promising* (from ``cp_min`` up
    to ``cp_target``) or *favourable*. In the promising zone the second stage is enlarged
    to the size giving ``cp_target`` at the current trend, at most ``n2_max``; elsewhere
    the planned ``n2`` is kept. The final test is the CHW weighted statistic with the
    planned weights, which preserves the one-sided level for any such rule.

    Parameters
    ----------
    z_interim : float
        Interim z statistic (stage-1 data).
    information_fraction : float
        Planned information fraction ``t`` of the interim, ``n1 / (n1 + n2)``.
    critical_value : float
        Final critical value (z scale) of the original design, e.g. 1.96 for one-sided
        α = 0.025 without interim efficacy stopping.
    n2 : int
        Planned second-stage sample size (any unit: per arm or total, consistently).
    n2_max : int
        Largest allowed second-stage sample size (``>= n2``).
    cp_min : float, default 0.5
        Lower end of the promising zone. 0.5 is the Chen-DeMets-Lan (2004) bound above
        which even the unweighted final test does not inflate α; Mehta & Pocock allow lower
        values with the CHW test.
    cp_target : float, default 0.8
        Conditional power aimed at; upper end of the promising zone (usually the planned
        power).
    delta : float, optional
        Drift under the design alternative (mean of the final z statistic), for the
        conditional power at the design effect.

    Returns
    -------
    SSRResult

    Notes
    -----
    The second-stage size giving conditional power ``cp_target`` at drift ``theta`` is
    ``n2 ((c - sqrt(t) z1) / sqrt(1 - t) + z_{cp_target})^2 / (theta^2 (1 - t))``, rounded
    up. The interim result is assumed not to have stopped the trial (for a design with an
    interim efficacy or futility boundary, apply the rule only when the trial continues).
    The weighted test is not the sufficient statistic once ``n2`` changes; the pooled
    (unweighted) test on all patients is reported through ``naive_conditional_error`` and
    may exceed α when ``cp_min`` is low.

    References
    ----------
    .. [1] Mehta CR, Pocock SJ (2011). Adaptive increase in sample size when interim
       results are promising: a practical guide with examples. *Statistics in Medicine*
       30, 3267–3284.
    .. [2] Cui L, Hung HMJ, Wang SJ (1999). *Biometrics* 55, 853–857.
    .. [3] Chen YHJ, DeMets DL, Lan KKG (2004). Increasing the sample size when the
       unblinded interim result is promising. *Statistics in Medicine* 23, 1023–1038.

    Examples
    --------
    >>> from rdstats.designs import promising_zone
    >>> res = promising_zone(1.2, 0.5, 1.96, n2=50, n2_max=150, cp_min=0.3, delta=2.8)
    >>> res.zone, res.n2_recommended
    ('promising', 150)
    >>> round(res.cp_trend, 4), round(res.cp_trend_recommended, 4)
    (0.355, 0.6938)
    """
    if isinstance(z_interim, bool) or np.ndim(z_interim) != 0:
        raise TypeError(f"z_interim must be a single number, got {z_interim!r}")
    z = float(as_float_array(z_interim, "z_interim"))
    t = check_fraction(information_fraction)
    if isinstance(critical_value, bool) or np.ndim(critical_value) != 0:
        raise TypeError(f"critical_value must be a single number, got {critical_value!r}")
    c = float(as_float_array(critical_value, "critical_value"))
    n2_int = _count(n2, "n2")
    n2_max_int = _count(n2_max, "n2_max")
    if n2_max_int < n2_int:
        raise ValueError(f"n2_max must be at least n2={n2_int}, got n2_max={n2_max_int}")
    lo, hi = _probability(cp_min, "cp_min"), _probability(cp_target, "cp_target")
    if lo >= hi:
        raise ValueError(f"cp_min must be below cp_target={hi}, got cp_min={lo}")
    d = None if delta is None else check_delta(delta)
    new, zone = promising_zone_rule(z, t, c, n2_int, n2_max_int, lo, hi)
    n_new = int(new)
    ratio = n_new / n2_int
    trend = z / math.sqrt(t)
    return SSRResult(
        z_interim=z,
        information_fraction=t,
        critical_value=c,
        delta=d,
        n2=n2_int,
        n2_max=n2_max_int,
        cp_min=lo,
        cp_target=hi,
        theta_trend=trend,
        cp_design=None if d is None else float(chw_conditional_power(z, t, c, 1.0, d)),
        cp_trend=float(chw_conditional_power(z, t, c, 1.0, trend)),
        cp_null=float(chw_conditional_power(z, t, c, 1.0, 0.0)),
        zone=ZONES[int(zone)],
        n2_recommended=n_new,
        cp_trend_recommended=float(chw_conditional_power(z, t, c, ratio, trend)),
        naive_conditional_error=float(naive_conditional_error(z, t, c, ratio)),
        provenance=provenance(
            {
                "z_interim": z,
                "information_fraction": t,
                "critical_value": c,
                "n2": n2_int,
                "n2_max": n2_max_int,
                "cp_min": lo,
                "cp_target": hi,
                "delta": d,
            }
        ),
    )


def _count(value: Any, name: str) -> int:
    if np.ndim(value) != 0:
        raise TypeError(f"{name} must be a single whole number, got {value!r}")
    n = int(as_int_array(value, name, minimum=1))
    return n


def _probability(value: Any, name: str) -> float:
    if isinstance(value, bool) or np.ndim(value) != 0:
        raise TypeError(f"{name} must be a single number, got {value!r}")
    p = float(as_float_array(value, name))
    if not 0.0 < p < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")
    return p


@dataclass(frozen=True, eq=False)
class SSRResult:
    """Outcome of a sample-size re-estimation at the interim analysis.

    Attributes
    ----------
    z_interim, information_fraction, critical_value : float
        Interim z statistic, planned information fraction and final critical value.
    delta : float or None
        Design drift (mean of the final z statistic under the alternative).
    n2, n2_max, n2_recommended : int
        Planned, largest allowed and recommended second-stage sizes.
    cp_min, cp_target : float
        Limits of the promising zone.
    theta_trend : float
        Current-trend drift ``z_interim / sqrt(t)``.
    cp_design, cp_trend, cp_null : float or None
        Conditional power with the planned ``n2`` at the design drift (None without
        ``delta``), the current trend and H0 (the conditional type I error).
    zone : str
        ``"unfavourable"``, ``"promising"`` or ``"favourable"``.
    cp_trend_recommended : float
        Conditional power of the CHW test at the current trend with ``n2_recommended``.
    naive_conditional_error : float
        Conditional type I error of the *unweighted* pooled z test with
        ``n2_recommended`` (the CHW test keeps ``cp_null`` for any second-stage size).
    provenance : dict
        Versions, arguments and time stamp.
    """

    z_interim: float
    information_fraction: float
    critical_value: float
    delta: float | None
    n2: int
    n2_max: int
    cp_min: float
    cp_target: float
    theta_trend: float
    cp_design: float | None
    cp_trend: float
    cp_null: float
    zone: str
    n2_recommended: int
    cp_trend_recommended: float
    naive_conditional_error: float
    provenance: dict[str, Any] = field(repr=False)

    @property
    def weights(self) -> tuple[float, float]:
        """CHW weights ``(sqrt(t), sqrt(1 - t))`` fixed at the planned information fraction."""
        t = self.information_fraction
        return math.sqrt(t), math.sqrt(1.0 - t)

    def conditional_power(self, theta: float | str = "trend", n2: int | None = None) -> float:
        """Conditional power of the CHW test for a drift and second-stage size.

        Parameters
        ----------
        theta : float or {"trend", "design", "null"}, default "trend"
            Drift (mean of the final z statistic at the planned full information).
        n2 : int, optional
            Second-stage size; default ``n2_recommended``.
        """
        size = self.n2_recommended if n2 is None else _count(n2, "n2")
        if isinstance(theta, str):
            named = {"trend": self.theta_trend, "null": 0.0, "design": self.delta}
            if theta not in named:
                raise ValueError(f"theta must be a number or one of {tuple(named)}, got {theta!r}")
            value = named[theta]
            if value is None:
                raise ValueError("theta='design' needs delta, which was not given")
        else:
            value = check_delta(theta)
        t, c = self.information_fraction, self.critical_value
        return float(chw_conditional_power(self.z_interim, t, c, size / self.n2, value))

    def summary(self) -> pd.DataFrame:
        """Interim z, conditional power under the three drifts, zone, recommended n2, weights."""
        w1, w2 = self.weights
        rows: list[tuple[str, Any]] = [
            ("z_interim", self.z_interim),
            ("information_fraction", self.information_fraction),
            ("cp_design", self.cp_design),
            ("cp_trend", self.cp_trend),
            ("cp_null", self.cp_null),
            ("zone", self.zone),
            ("n2_planned", self.n2),
            ("n2_recommended", self.n2_recommended),
            ("cp_trend_recommended", self.cp_trend_recommended),
            ("naive_conditional_error", self.naive_conditional_error),
            ("w1", w1),
            ("w2", w2),
        ]
        return pd.DataFrame(rows, columns=["quantity", "value"]).set_index("quantity")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["weights"] = list(self.weights)
        return out

    def _repr_html_(self) -> str:
        return "<p><b>Sample-size re-estimation</b> (promising zone, CHW test)</p>" + (
            self.summary().to_html()
        )
