"""Sample sizes of group-sequential designs: means, two proportions and events.

The maximum size is the fixed-sample size times the design's inflation factor; the
size at look ``k`` is ``t_k`` times the maximum (Jennison & Turnbull 2000, ch. 2-3).
Fixed-sample sizes: normal means with known SD; two proportions by the normal
approximation with the pooled variance under H0 and the unpooled one under H1
(Fleiss, Levin & Paik 2003, ch. 4); events by Schoenfeld (1981).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, stats

from rdstats._provenance import provenance
from rdstats.designs._gs_results import GroupSequentialSampleSize

Array = NDArray[np.float64]


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def _proportion(value: Any, name: str) -> float:
    v = _positive(value, name)
    if v >= 1:
        raise ValueError(f"{name} must lie in (0, 1), got {value!r}")
    return v


def _rate_effect(c: float, n: float, pi2: float, ratio: float, sign: float) -> float:
    """Difference d of observed proportions at which the pooled z statistic equals ``c``
    (control proportion ``pi2`` held at its planned value)."""
    if not np.isfinite(c):
        return sign * np.inf if c > 0 else -sign * np.inf

    def g(d: float) -> float:
        p1 = pi2 + sign * d
        pbar = (ratio * p1 + pi2) / (1 + ratio)
        return d - c * np.sqrt(pbar * (1 - pbar) * (1 + ratio) ** 2 / (ratio * n))

    lo, hi = (-pi2, 1 - pi2) if sign > 0 else (pi2 - 1, pi2)
    eps = 1e-12
    if g(lo + eps) * g(hi - eps) > 0:
        return np.inf if c > 0 else -np.inf
    return sign * float(optimize.brentq(g, lo + eps, hi - eps, xtol=1e-13))


def sample_size(design: Any, endpoint: str, **kw: Any) -> GroupSequentialSampleSize:
    """Fixed and group-sequential sample sizes for ``endpoint`` (validated here)."""
    ratio = _positive(kw.get("allocation", 1.0), "allocation")
    za = stats.norm.isf(design.alpha / design.sided)
    zb = stats.norm.isf(design.beta)
    t = np.asarray(design.information_rates)
    c = np.asarray(design.critical_values)
    a = np.asarray(design.futility_bounds)
    inputs: dict[str, float] = {"allocation": ratio}
    if endpoint == "means":
        diff = kw["difference"]
        if isinstance(diff, bool) or not isinstance(diff, (int, float, np.integer, np.floating)):
            raise TypeError(f"difference must be a real number, got {type(diff).__name__}")
        if not np.isfinite(diff) or diff == 0:
            raise ValueError(f"difference must be finite and nonzero, got {diff!r}")
        sd = _positive(kw["sd"], "sd")
        groups = kw["groups"]
        if groups not in (1, 2) or isinstance(groups, bool):
            raise ValueError(f"groups must be 1 or 2, got {groups!r}")
        factor = 1.0 if groups == 1 else (1 + ratio) ** 2 / ratio
        scale = factor * (sd / float(diff)) ** 2
        n_fixed = design.fixed_drift**2 * scale
        n_max = design.drift**2 * scale
        inputs.update(difference=float(diff), sd=sd, groups=float(groups))
        n_k = t * n_max
        sign = np.sign(diff)
        se = sd * np.sqrt(factor / n_k)
        crit = sign * c * se
        fut = sign * a * se
    elif endpoint == "rates":
        pi1 = _proportion(kw["pi1"], "pi1")
        pi2 = _proportion(kw["pi2"], "pi2")
        if pi1 == pi2:
            raise ValueError(f"pi1 and pi2 must differ, got pi1={pi1}, pi2={pi2}")
        pbar = (ratio * pi1 + pi2) / (1 + ratio)
        v0 = pbar * (1 - pbar) * (1 + ratio) ** 2 / ratio
        v1 = pi1 * (1 - pi1) * (1 + ratio) / ratio + pi2 * (1 - pi2) * (1 + ratio)
        n_fixed = (za * np.sqrt(v0) + zb * np.sqrt(v1)) ** 2 / (pi1 - pi2) ** 2
        n_max = n_fixed * design.inflation_factor
        inputs.update(pi1=pi1, pi2=pi2)
        n_k = t * n_max
        sign = float(np.sign(pi1 - pi2))
        crit = np.array(
            [_rate_effect(ck, nk, pi2, ratio, sign) for ck, nk in zip(c, n_k, strict=True)]
        )
        fut = np.array(
            [_rate_effect(ak, nk, pi2, ratio, sign) for ak, nk in zip(a, n_k, strict=True)]
        )
    elif endpoint == "survival":
        hr = _positive(kw["hazard_ratio"], "hazard_ratio")
        if hr == 1:
            raise ValueError("hazard_ratio must differ from 1, got 1")
        factor = (1 + ratio) ** 2 / ratio
        n_fixed = design.fixed_drift**2 * factor / np.log(hr) ** 2
        n_max = design.drift**2 * factor / np.log(hr) ** 2
        inputs.update(hazard_ratio=hr)
        n_k = t * n_max
        sign = np.sign(np.log(hr))
        se = np.sqrt(factor / n_k)
        with np.errstate(over="ignore"):
            crit = np.exp(sign * c * se)
            fut = np.exp(sign * a * se)
    else:  # pragma: no cover - internal
        raise ValueError(f"unknown endpoint {endpoint!r}")
    expected = {
        name: float(design.expected_information(th) * n_max)
        for name, th in (("h0", 0.0), ("h01", 0.5), ("h1", 1.0))
    }
    frozen = []
    for arr in (n_k, crit, fut):
        x = np.array(arr, dtype=float)
        x.flags.writeable = False
        frozen.append(x)
    return GroupSequentialSampleSize(
        design=design,
        endpoint=endpoint,
        inputs=inputs,
        n_fixed=float(n_fixed),
        n_max=float(n_max),
        n_per_look=frozen[0],
        expected_n=expected,
        critical_effect=frozen[1],
        futility_effect=frozen[2],
        provenance=provenance({"design": design.to_dict(), "endpoint": endpoint, **inputs}),
    )
