"""Marginal likelihoods of one segment of a series (no change inside it), shared by the
multiple-change recursion (:mod:`rdstats.nof1._fearnhead`) and the online detector
(:mod:`rdstats.nof1._online`).

Every observation contributes a row of three additive sufficient statistics; a segment's
statistics are the sums of its rows and :meth:`SegmentModel.log_marginal` maps them to the
log marginal likelihood of the segment (the segment's parameters integrated over their
conjugate prior, every constant included, so sums over segmentations are exact
evidences). A one-step predictive density is the difference of two log marginals.

Families and default priors (independent across segments):

* ``"normal"``: ``y_i ~ N(mu, sigma^2)`` with the normal-inverse-gamma prior
  ``mu | sigma^2 ~ N(m0, sigma^2 / kappa)``, ``sigma^2 ~ InvGamma(shape, scale)``.
  Default (weakly informative, proper, scaled by the data's robust spread ``s``):
  ``m0 = median(y)``, ``kappa = 0.01`` (the prior SD of a segment's mean is ten residual
  SDs), ``shape = 2`` and ``scale = s^2`` (prior mean of ``sigma^2`` equal to ``s^2``,
  infinite prior variance). ``s = 1.4826 median(|diff(y)|) / sqrt(2)``, from the
  successive differences, which level changes hardly affect (falls back to the SD of the
  differences, then of the data, when it is 0).
* ``"poisson"``: ``y_i ~ Poisson(lambda e_i)`` (exposure ``e_i``) with
  ``lambda ~ Gamma(shape, rate)``; default ``shape = 1`` and ``rate`` such that the
  prior mean is the overall rate ``sum(y) / sum(e)``.
* ``"ordinal"`` (integer scores ``lo..hi``): ``y_i - lo ~ Binomial(hi - lo, p)`` with
  ``p ~ Beta(a, b)``, default ``a = b = 1`` (beta-binomial segments).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special, stats

from rdstats._validation import real_number

Array = NDArray[np.float64]

__all__ = [
    "SegmentLength",
    "SegmentModel",
    "as_segment_length",
    "robust_spread",
    "segment_model",
]

_KEYS = {
    "normal": ("mean", "kappa", "shape", "scale"),
    "poisson": ("shape", "rate"),
    "ordinal": ("a", "b"),
}
_LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class SegmentLength:
    """Prior of the length of a segment (visits between successive changes).

    ``length - 1 ~ NegativeBinomial(shape, p)`` with ``p`` set by the mean length:
    ``shape = 1`` is the geometric distribution (a change before each visit with
    probability ``1 / mean``, independently: a constant hazard), larger ``shape`` makes
    very short segments less likely (Fearnhead 2006, section 2).

    Parameters
    ----------
    mean : float
        Expected segment length in visits (> 1).
    shape : float
        Negative-binomial shape (1: geometric).

    Examples
    --------
    >>> from rdstats.nof1 import SegmentLength
    >>> g = SegmentLength(10.0)
    >>> round(float(g.log_pmf(1)), 4), round(float(g.hazard(5)), 4)
    (-2.3026, 0.1)
    """

    mean: float
    shape: float = 1.0

    def __post_init__(self) -> None:
        m = real_number(self.mean, "mean")
        if not m > 1:
            raise ValueError(f"segment_length mean must be > 1 visit, got {self.mean!r}")
        r = real_number(self.shape, "shape")
        if not r > 0:
            raise ValueError(f"segment_length shape must be positive, got {self.shape!r}")
        object.__setattr__(self, "mean", m)
        object.__setattr__(self, "shape", r)

    @property
    def _p(self) -> float:
        return self.shape / (self.shape + self.mean - 1.0)

    def log_pmf(self, d: Any) -> Array:
        """log P(length = d), d = 1, 2, ..."""
        return np.asarray(stats.nbinom.logpmf(np.asarray(d) - 1, self.shape, self._p))

    def log_sf(self, d: Any) -> Array:
        """log P(length >= d)."""
        return np.asarray(stats.nbinom.logsf(np.asarray(d) - 2, self.shape, self._p))

    def hazard(self, r: Any) -> Array:
        """P(a segment that has lasted ``r`` visits ends there) = P(length = r | >= r)."""
        return np.asarray(np.exp(self.log_pmf(r) - self.log_sf(r)))


def as_segment_length(value: Any, default_mean: float) -> SegmentLength:
    """``value`` as a :class:`SegmentLength`: None (geometric with ``default_mean``), a
    number (geometric with that mean) or a SegmentLength."""
    if value is None:
        return SegmentLength(default_mean)
    if isinstance(value, SegmentLength):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return SegmentLength(float(value))
    raise TypeError(
        "segment_length must be the mean segment length in visits (geometric prior) or a "
        f"SegmentLength(mean, shape), got {value!r}"
    )


def robust_spread(y: Array) -> float:
    """Robust residual SD: ``1.4826 median(|diff(y)|) / sqrt(2)``, the median absolute
    successive difference (level changes hardly affect it), falling back to the SD of
    the differences, then of the data, when it is (numerically) zero."""
    y = np.asarray(y, dtype=float)
    tiny = 1e-9 * (float(np.max(np.abs(y))) if y.size else 0.0)
    d = np.diff(y)
    if d.size:
        s = 1.4826 * float(np.median(np.abs(d))) / math.sqrt(2.0)
        if s > tiny:
            return s
        s = float(np.std(d)) / math.sqrt(2.0)
        if s > tiny:
            return s
    s = float(np.std(y))
    return s if s > tiny else 1.0


@dataclass(frozen=True)
class SegmentModel:
    """Conjugate model of one segment: the family, its resolved prior and (ordinal) the
    score range.

    Attributes
    ----------
    family : {"normal", "poisson", "ordinal"}
    prior : dict
        ``mean, kappa, shape, scale`` (normal), ``shape, rate`` (poisson) or ``a, b``
        (ordinal).
    score_range : (int, int) or None
        Lowest and highest score (ordinal).
    """

    family: str
    prior: Mapping[str, float]
    score_range: tuple[int, int] | None = None

    def obs_stats(self, y: Array, exposure: Array | None = None) -> Array:
        """Sufficient statistics of each observation, shape ``y.shape + (3,)``."""
        y = np.asarray(y, dtype=float)
        if self.family == "normal":
            yc = y - self.prior["mean"]
            return np.stack([np.ones_like(yc), yc, yc * yc], axis=-1)
        if self.family == "poisson":
            e = np.ones_like(y) if exposure is None else np.asarray(exposure, dtype=float)
            const = y * np.log(e) - special.gammaln(y + 1.0)
            return np.stack([e, y, const], axis=-1)
        lo, hi = self.score_range or (0, 1)
        m = float(hi - lo)
        k = y - lo
        const = special.gammaln(m + 1.0) - special.gammaln(k + 1.0) - special.gammaln(m - k + 1.0)
        return np.stack([np.full_like(k, m), k, const], axis=-1)

    def log_marginal(self, s: Array) -> Array:
        """Log marginal likelihood of segments with summed statistics ``s`` (..., 3)."""
        s = np.asarray(s, dtype=float)
        p = self.prior
        a, b, c = s[..., 0], s[..., 1], s[..., 2]
        if self.family == "normal":
            k0, a0, b0 = p["kappa"], p["shape"], p["scale"]
            kn = k0 + a
            an = a0 + 0.5 * a
            bn = b0 + 0.5 * np.maximum(c - b * b / kn, 0.0)
            return np.asarray(
                -0.5 * a * _LOG_2PI
                + 0.5 * np.log(k0 / kn)
                + a0 * math.log(b0)
                - an * np.log(bn)
                + special.gammaln(an)
                - special.gammaln(a0)
            )
        if self.family == "poisson":
            a0, r0 = p["shape"], p["rate"]
            return np.asarray(
                a0 * math.log(r0)
                - special.gammaln(a0)
                + special.gammaln(a0 + b)
                - (a0 + b) * np.log(r0 + a)
                + c
            )
        a0, b0 = p["a"], p["b"]
        return np.asarray(special.betaln(a0 + b, b0 + a - b) - special.betaln(a0, b0) + c)

    def posterior_level(self, s: Array, level: float) -> tuple[Array, Array, Array]:
        """Posterior mean and equal-tailed interval of the segment's level (mean, rate
        per unit exposure, or mean score) given summed statistics ``s`` (..., 3)."""
        s = np.asarray(s, dtype=float)
        p = self.prior
        a, b, c = s[..., 0], s[..., 1], s[..., 2]
        q = np.array([(1 - level) / 2, (1 + level) / 2])
        if self.family == "normal":
            kn = p["kappa"] + a
            an = p["shape"] + 0.5 * a
            bn = p["scale"] + 0.5 * np.maximum(c - b * b / kn, 0.0)
            loc = p["mean"] + b / kn
            sc = np.sqrt(bn / (an * kn))
            lo, hi = (loc + sc * stats.t.ppf(qq, 2.0 * an) for qq in q)
            return np.asarray(loc), np.asarray(lo), np.asarray(hi)
        if self.family == "poisson":
            sh, rt = p["shape"] + b, p["rate"] + a
            lo, hi = (stats.gamma.ppf(qq, sh, scale=1.0 / rt) for qq in q)
            return np.asarray(sh / rt), np.asarray(lo), np.asarray(hi)
        lo_s, hi_s = self.score_range or (0, 1)
        m = float(hi_s - lo_s)
        aa, bb = p["a"] + b, p["b"] + a - b
        lo, hi = (lo_s + m * stats.beta.ppf(qq, aa, bb) for qq in q)
        return np.asarray(lo_s + m * aa / (aa + bb)), np.asarray(lo), np.asarray(hi)

    def predictive_cdf(self, s: Array, x: float, exposure: float = 1.0) -> Array:
        """P(next value <= x) under the posterior predictive of segments with summed
        statistics ``s`` (..., 3): Student t (normal), negative binomial (counts, with the
        next visit's exposure), beta-binomial (scores)."""
        s = np.asarray(s, dtype=float)
        p = self.prior
        a, b, c = s[..., 0], s[..., 1], s[..., 2]
        if self.family == "normal":
            kn = p["kappa"] + a
            an = p["shape"] + 0.5 * a
            bn = p["scale"] + 0.5 * np.maximum(c - b * b / kn, 0.0)
            loc = p["mean"] + b / kn
            sc = np.sqrt(bn * (kn + 1.0) / (an * kn))
            return np.asarray(stats.t.cdf((x - loc) / sc, 2.0 * an))
        if self.family == "poisson":
            sh, rt = p["shape"] + b, p["rate"] + a
            return np.asarray(stats.nbinom.cdf(x, sh, rt / (rt + exposure)))
        lo_s, hi_s = self.score_range or (0, 1)
        m = hi_s - lo_s
        return np.asarray(stats.betabinom.cdf(x - lo_s, m, p["a"] + b, p["b"] + a - b))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        out: dict[str, Any] = {"family": self.family, "prior": dict(self.prior)}
        if self.score_range is not None:
            out["score_range"] = list(self.score_range)
        return out


def segment_model(
    family: str,
    prior: Mapping[str, Any] | None = None,
    *,
    y: Array | None = None,
    exposure: Array | None = None,
    score_range: tuple[int, int] | None = None,
) -> SegmentModel:
    """The family's segment model with ``prior`` (a mapping of some or all of the
    family's prior parameters) completed by the defaults; data-based defaults need ``y``
    (and ``exposure`` for counts)."""
    keys = _KEYS[family]
    given: dict[str, float] = {}
    if prior is not None:
        if not isinstance(prior, Mapping):
            raise TypeError(f"prior must be a mapping with keys {keys}, got {prior!r}")
        unknown = sorted(set(prior) - set(keys))
        if unknown:
            raise ValueError(
                f"prior has unknown keys {unknown} for family={family!r}; expected some of {keys}"
            )
        for k, v in prior.items():
            x = real_number(v, f"prior[{k!r}]")
            if k != "mean" and not x > 0:
                raise ValueError(f"prior[{k!r}] must be positive, got {v!r}")
            given[k] = x
    missing = [k for k in keys if k not in given]
    if family == "ordinal":
        full = {"a": 1.0, "b": 1.0, **given}
    elif not missing:
        full = given
    elif y is None:
        raise ValueError(
            f"prior needs {missing} for family={family!r} before any data are seen "
            f"(give prior={{...}} or use OnlineDetector.from_baseline)"
        )
    elif family == "normal":
        s = robust_spread(y)
        full = {"mean": float(np.median(y)), "kappa": 0.01, "shape": 2.0, "scale": s * s}
        full.update(given)
    else:
        e = np.ones_like(y) if exposure is None else exposure
        full = {"shape": 1.0, **given}
        if "rate" not in given:
            full["rate"] = full["shape"] * float(np.sum(e)) / max(float(np.sum(y)), 0.5)
    return SegmentModel(family, {k: float(full[k]) for k in keys}, score_range)
