"""Promising-zone adaptive design as a simulation-engine design object.

A two-stage trial with ``n1`` patients before the interim analysis and ``n2`` planned
after it. At the interim the promising-zone rule (Mehta & Pocock 2011) may enlarge the
second stage up to ``n2_max``; the final test is the Cui-Hung-Wang (CHW) weighted
statistic. :class:`PromisingZoneDesign` plugs into :func:`rdstats.simulate.
operating_characteristics` to give the unconditional operating characteristics of the
adaptive trial (type I error, power, distribution of the sample size), by Monte Carlo or
by exact quadrature over the interim statistic.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import optimize, special

from rdstats._provenance import provenance
from rdstats._validation import real_number as _real
from rdstats.designs._ssr import chw_conditional_power, promising_zone_rule

__all__ = ["PromisingZoneDesign"]

Array = NDArray[np.float64]
_GL_X, _GL_W = np.polynomial.legendre.leggauss(10)
_SPAN = 9.0  # quadrature half-width in SDs of z1 (tail mass ~ 2e-19)
_PANEL = 0.5  # widest quadrature panel, in SDs of z1


# -- validation -------------------------------------------------------------------------------


def _size(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a whole number of patients, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v != math.floor(v):
        raise ValueError(f"{name} must be a whole number of patients, got {value!r}")
    if v < 1:
        raise ValueError(f"{name} must be a positive number of patients (>= 1), got {value!r}")
    return int(v)


def _open_unit(value: Any, name: str) -> float:
    v = _real(value, name)
    if not 0.0 < v < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")
    return v


# -- quadrature -------------------------------------------------------------------------------
def _gauss_legendre(breaks: Array) -> tuple[Array, Array]:
    """Nodes and weights of 10-point Gauss-Legendre rules on the panels between ``breaks``."""
    left, width = breaks[:-1], np.diff(breaks)
    keep = width > 1e-13
    left, width = left[keep], width[keep]
    x = (left[:, None] + 0.5 * width[:, None] * (_GL_X[None, :] + 1.0)).ravel()
    w = (0.5 * width[:, None] * _GL_W[None, :]).ravel()
    return x, w


def _panels(lo: float, hi: float, cuts: Array) -> Array:
    """Sorted panel ends on [lo, hi]: a uniform grid of step <= ``_PANEL`` plus ``cuts``."""
    count = max(1, math.ceil((hi - lo) / _PANEL))
    inside = cuts[(cuts > lo) & (cuts < hi)]
    return np.unique(np.concatenate([np.linspace(lo, hi, count + 1), inside]))


def _final_critical_value(alpha: float, t: float, efficacy_z: float) -> float:
    """Final CHW critical value giving overall one-sided level ``alpha`` when the trial
    also stops for efficacy at ``z1 >= efficacy_z`` (group-sequential level condition)."""
    x, w = _gauss_legendre(_panels(-_SPAN, efficacy_z, np.array([])))
    dens = w * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    early = float(special.ndtr(-efficacy_z))

    def excess(c: float) -> float:
        later = float(np.dot(dens, special.ndtr((math.sqrt(t) * x - c) / math.sqrt(1.0 - t))))
        return early + later - alpha

    z_alpha = float(special.ndtri(1.0 - alpha))
    return float(optimize.brentq(excess, z_alpha, z_alpha + 20.0, xtol=1e-14, rtol=1e-15))


# -- the design -------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class PromisingZoneDesign:
    """Two-stage promising-zone design with the Cui-Hung-Wang test, for simulation.

    At the interim analysis (``n1`` patients, information fraction
    ``t = n1 / (n1 + n2)``) the conditional power at the current trend with the planned
    ``n2`` classifies the result as unfavourable (``< cp_min``), promising
    (``[cp_min, cp_target)``) or favourable. In the promising zone the second stage is
    enlarged to the size giving ``cp_target`` at the current trend, at most ``n2_max``
    (:func:`rdstats.designs.promising_zone`). H0 is rejected when the CHW statistic
    ``sqrt(t) z1 + sqrt(1 - t) z2`` reaches the final critical value, ``z2`` being the
    z statistic of the second-stage patients only.

    Parameters
    ----------
    n1 : int
        First-stage (interim) sample size.
    n2 : int
        Planned second-stage sample size.
    n2_max : int
        Largest allowed second-stage sample size (``>= n2``).
    alpha : float, default 0.025
        One-sided significance level, strictly between 0 and 1.
    cp_min : float, default 0.5
        Lower end of the promising zone.
    cp_target : float, default 0.8
        Conditional power aimed at in the promising zone (above ``cp_min``).
    efficacy_z : float, optional
        Stop at the interim with success when ``z1 >= efficacy_z`` (must exceed
        ``z_{1-alpha}``). The final critical value is then raised so that the overall
        one-sided level is exactly ``alpha``.
    futility_cp : float, optional
        Stop at the interim without success when the conditional power at the current
        trend (planned ``n2``) is below ``futility_cp`` (at most ``cp_min``). The
        futility rule is treated as non-binding for the critical value, so it can only
        lower the type I error.
    drift : float, optional
        Expected final z statistic (planned ``n1 + n2``) under the design alternative;
        default ``z_{1-alpha} + z_{0.8}`` (80% power for the fixed design).

    Attributes
    ----------
    information_fraction : float
        ``n1 / (n1 + n2)``, which fixes the CHW weights.
    critical_value : float
        Final critical value of the CHW statistic: ``z_{1-alpha}``, or the group-
        sequential value when ``efficacy_z`` is set.

    Notes
    -----
    *Units.* The z statistics are standardised, so only the ratios ``n1 : n2 : n2_max``
    matter; give the sizes as total patients (both arms together) and ``n_enrolled``
    is then the total sample size of a simulated trial (any consistent unit works).

    *Scenarios.* One parameter, ``theta``: the true effect in units of the design
    alternative (0 = H0, 1 = the alternative giving ``drift``). Given ``theta``,
    ``z1 ~ N(theta drift sqrt(t), 1)`` and, with ``n2*`` second-stage patients,
    ``z2 ~ N(theta drift sqrt((1 - t) n2* / n2), 1)`` independently. Scenarios with
    ``theta <= 0`` are null scenarios (``type_i_error``), the others give ``power``.

    *Outcomes* per trial: ``success`` (CHW test, or interim efficacy stop),
    ``n_enrolled`` (``n1 + n2*``, or ``n1`` after an interim stop), ``stopped_at`` (1
    after an interim stop, else 0), the zone indicators ``promising``,
    ``unfavourable`` and ``favourable`` (of trials that continue past the interim; all
    0 after an interim stop), ``naive_success`` (the unweighted pooled z test
    ``(sqrt(n1) z1 + sqrt(n2*) z2) / sqrt(n1 + n2*) >= c`` on the same data, which
    can exceed ``alpha`` because ``n2*`` depends on ``z1``) and ``estimate`` (the naive
    pooled maximum-likelihood estimate of ``theta``, biased after an adaptive change
    of ``n2`` or an early stop). Their means are metrics of the engine.

    *Exact method.* The rule is a step function of ``z1`` (zone limits, interim
    boundaries and each integer step of the re-estimated ``n2`` have closed forms), so
    the density of ``z1`` is integrated by Gauss-Legendre rules on panels between these
    break points (at most half an SD wide, ``z1`` within 9 SDs of its mean). At each
    node ``success`` and ``naive_success`` are the conditional probabilities given
    ``z1`` (normal tails), and the continuing nodes are split into the two-point
    Gauss-Hermite nodes ``z2 = E[z2] +/- 1``, which integrate the estimate's mean and
    mean square exactly. Probabilities and moments are thus exact to quadrature error
    (about 1e-12); under H0 without an efficacy stop the CHW type I error is
    ``alpha`` to that accuracy.

    References
    ----------
    .. [1] Mehta CR, Pocock SJ (2011). Adaptive increase in sample size when interim
       results are promising: a practical guide with examples. *Statistics in Medicine*
       30, 3267-3284.
    .. [2] Cui L, Hung HMJ, Wang SJ (1999). Modification of sample size in group
       sequential clinical trials. *Biometrics* 55, 853-857.
    .. [3] Chen YHJ, DeMets DL, Lan KKG (2004). Increasing the sample size when the
       unblinded interim result is promising. *Statistics in Medicine* 23, 1023-1038.
    .. [4] Jennison C, Turnbull BW (2015). Adaptive sample size modification in clinical
       trials: start small then ask for more? *Statistics in Medicine* 34, 3793-3810.

    Examples
    --------
    >>> from rdstats.designs import PromisingZoneDesign
    >>> design = PromisingZoneDesign(n1=100, n2=100, n2_max=300, cp_min=0.3)
    >>> round(design.critical_value, 4), design.information_fraction
    (1.96, 0.5)
    >>> res = design.simulate({"theta": [0.0, 1.0]}, method="exact")
    >>> table = res.summary(wide=True).set_index("theta")
    >>> table[["p_success", "n_mean", "promising", "naive_success"]].round(4)
           p_success    n_mean  promising  naive_success
    theta
    0.0       0.0250  212.8998     0.0952         0.0244
    1.0       0.8413  225.6009     0.2352         0.8400

    An interim efficacy stop raises the final critical value to keep the level:

    >>> gsd = PromisingZoneDesign(n1=100, n2=100, n2_max=300, efficacy_z=2.8)
    >>> round(gsd.critical_value, 4)
    1.9772
    """

    n1: int
    n2: int
    n2_max: int
    alpha: float = 0.025
    cp_min: float = 0.5
    cp_target: float = 0.8
    efficacy_z: float | None = None
    futility_cp: float | None = None
    drift: float | None = None
    information_fraction: float = field(init=False)
    critical_value: float = field(init=False)

    def __post_init__(self) -> None:
        n1, n2, n2_max = _size(self.n1, "n1"), _size(self.n2, "n2"), _size(self.n2_max, "n2_max")
        if n2_max < n2:
            raise ValueError(f"n2_max must be at least n2={n2}, got n2_max={n2_max}")
        alpha = _open_unit(self.alpha, "alpha")
        lo, hi = _open_unit(self.cp_min, "cp_min"), _open_unit(self.cp_target, "cp_target")
        if lo >= hi:
            raise ValueError(f"cp_min must be below cp_target={hi}, got cp_min={lo}")
        z_alpha = float(special.ndtri(1.0 - alpha))
        t = n1 / (n1 + n2)
        c = z_alpha
        eff = None
        if self.efficacy_z is not None:
            eff = _real(self.efficacy_z, "efficacy_z")
            if eff <= z_alpha:
                raise ValueError(
                    f"efficacy_z must exceed z_(1-alpha)={z_alpha:.6g}, got efficacy_z={eff}"
                )
            c = _final_critical_value(alpha, t, eff)
        fut = None
        if self.futility_cp is not None:
            fut = _open_unit(self.futility_cp, "futility_cp")
            if fut > lo:
                raise ValueError(f"futility_cp must not exceed cp_min={lo}, got futility_cp={fut}")
            if eff is not None and _z1_at_cp(fut, t, c) >= eff:
                raise ValueError(
                    f"futility_cp={fut} puts the futility boundary above efficacy_z={eff}"
                )
        if self.drift is None:
            drift = z_alpha + float(special.ndtri(0.8))
        else:
            drift = _real(self.drift, "drift")
            if drift <= 0:
                raise ValueError(f"drift must be positive, got drift={self.drift!r}")
        for name, value in (
            ("n1", n1),
            ("n2", n2),
            ("n2_max", n2_max),
            ("alpha", alpha),
            ("cp_min", lo),
            ("cp_target", hi),
            ("efficacy_z", eff),
            ("futility_cp", fut),
            ("drift", drift),
            ("information_fraction", t),
            ("critical_value", c),
        ):
            object.__setattr__(self, name, value)

    # -- the interim rule ---------------------------------------------------------------------
    def _rule(self, z1: Array) -> dict[str, NDArray[Any]]:
        """Interim decisions per ``z1``: stops, zone and realised second-stage size."""
        t, c = self.information_fraction, self.critical_value
        eff = np.zeros(z1.shape, bool) if self.efficacy_z is None else z1 >= self.efficacy_z
        if self.futility_cp is None:
            fut = np.zeros(z1.shape, bool)
        else:
            cp = chw_conditional_power(z1, t, c, 1.0, z1 / math.sqrt(t))
            fut = (cp < self.futility_cp) & ~eff
        stop = eff | fut
        new, zone = promising_zone_rule(z1, t, c, self.n2, self.n2_max, self.cp_min, self.cp_target)
        return {"eff": eff, "stop": stop, "n2": np.where(stop, 0, new), "zone": zone}

    def _outcomes(self, z1: Array, z2: Array, rule: dict[str, NDArray[Any]]) -> dict[str, Any]:
        """Outcome columns at (``z1``, ``z2``) given the interim decisions ``rule``."""
        t, c, n1 = self.information_fraction, self.critical_value, self.n1
        stop, new, zone = rule["stop"], rule["n2"], rule["zone"]
        go = ~stop
        root = np.sqrt(new)
        pooled = (math.sqrt(n1) * z1 + root * z2) * math.sqrt(n1 + self.n2)
        return {
            "success": rule["eff"] | (go & (math.sqrt(t) * z1 + math.sqrt(1 - t) * z2 >= c)),
            "n_enrolled": n1 + new,
            "stopped_at": stop.astype(np.int64),
            "promising": (go & (zone == 1)).astype(float),
            "unfavourable": (go & (zone == 0)).astype(float),
            "favourable": (go & (zone == 2)).astype(float),
            "naive_success": rule["eff"] | (go & (self._pooled_z(z1, z2, new) >= c)),
            "estimate": pooled / ((n1 + new) * self._drift),
        }

    @property
    def _drift(self) -> float:
        return cast(float, self.drift)  # always set by __post_init__

    def _pooled_z(self, z1: Array, z2: Array, new: Array) -> Array:
        n1 = self.n1
        return (math.sqrt(n1) * z1 + np.sqrt(new) * z2) / np.sqrt(n1 + new)

    def _breaks(self) -> Array:
        """Values of ``z1`` where the interim decision can change."""
        t, c = self.information_fraction, self.critical_value
        cuts = [0.0, _z1_at_cp(self.cp_min, t, c), _z1_at_cp(self.cp_target, t, c)]
        if self.efficacy_z is not None:
            cuts.append(self.efficacy_z)
        if self.futility_cp is not None:
            cuts.append(_z1_at_cp(self.futility_cp, t, c))
        # need(z1) = k: ((c - sqrt(t) z1)/sqrt(1-t) + z_target) = sqrt(k/n2) z1 sqrt((1-t)/t)
        r = np.sqrt(np.arange(self.n2, self.n2_max + 1) / self.n2)
        num = c / math.sqrt(1.0 - t) + float(special.ndtri(self.cp_target))
        steps = num / (r * math.sqrt((1.0 - t) / t) + math.sqrt(t / (1.0 - t)))
        inside = (steps >= cuts[1]) & (steps <= cuts[2])  # the rule steps only there
        return np.concatenate([np.asarray(cuts), steps[inside]])

    # -- simulation hooks (rdstats.simulate) --------------------------------------------------
    _parameters: ClassVar[tuple[str, ...]] = ("theta",)
    _mean_outcomes: ClassVar[tuple[str, ...]] = (
        "promising",
        "unfavourable",
        "favourable",
        "naive_success",
    )

    def _check_scenario(self, params: Mapping[str, float]) -> None:
        value = params["theta"]
        if isinstance(value, np.generic):
            value = value.item()
        _real(value, "theta")

    def _truth(self, params: Mapping[str, float]) -> float:
        return float(params["theta"])

    def _is_null(self, params: Mapping[str, float]) -> bool | None:
        return bool(float(params["theta"]) <= 0.0)

    def _prepare(self, scenarios: Any) -> None:
        return None

    def _simulate(
        self, params: Mapping[str, float], size: int, rng: np.random.Generator
    ) -> dict[str, Any]:
        t, delta = self.information_fraction, float(params["theta"]) * self._drift
        z1 = rng.standard_normal(size) + delta * math.sqrt(t)
        e2 = rng.standard_normal(size)
        rule = self._rule(z1)
        z2 = e2 + delta * np.sqrt((1.0 - t) * rule["n2"] / self.n2)
        return self._outcomes(z1, z2, rule)

    def _exact(self, params: Mapping[str, float]) -> tuple[dict[str, Any], Any]:
        t, c, n1 = self.information_fraction, self.critical_value, self.n1
        delta = float(params["theta"]) * self._drift
        m1 = delta * math.sqrt(t)
        z1, w = _gauss_legendre(_panels(m1 - _SPAN, m1 + _SPAN, self._breaks()))
        w = w * np.exp(-0.5 * (z1 - m1) ** 2) / math.sqrt(2.0 * math.pi)
        rule = self._rule(z1)
        new = rule["n2"]
        go = ~rule["stop"]
        mu2 = delta * np.sqrt((1.0 - t) * new / self.n2)
        safe = np.where(go, new, 1)
        cp_chw = chw_conditional_power(z1, t, c, safe / self.n2, delta)
        b_naive = (c * np.sqrt(n1 + safe) - math.sqrt(n1) * z1) / np.sqrt(safe)
        cp_naive = special.ndtr(np.where(go, mu2, 0.0) - b_naive)
        eff = rule["eff"].astype(float)
        # continuing nodes: two-point Gauss-Hermite in z2 (mean, mean square exact)
        parts: list[dict[str, Any]] = []
        weights: list[Array] = []
        for shift, keep, share in ((-1.0, go, 0.5), (1.0, go, 0.5), (0.0, ~go, 1.0)):
            sub = {k: v[keep] for k, v in rule.items()}
            z1k = z1[keep]
            out = self._outcomes(z1k, mu2[keep] + shift, sub)
            cont = ~sub["stop"]
            out["success"] = np.where(cont, cp_chw[keep], eff[keep])
            out["naive_success"] = np.where(cont, cp_naive[keep], eff[keep])
            parts.append(out)
            weights.append(share * w[keep])
        outcomes = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        return outcomes, np.concatenate(weights)

    # -- user API -----------------------------------------------------------------------------
    def simulate(self, scenarios: Any, **kwargs: Any) -> Any:
        """Operating characteristics over scenarios of ``theta``.

        Calls :func:`rdstats.simulate.operating_characteristics` (``kwargs``: ``n_trials``,
        ``method="monte_carlo"`` or ``"exact"``, ``rng``, ``executor`` ...).
        """
        from rdstats.simulate import operating_characteristics

        return operating_characteristics(self, scenarios, **kwargs)

    def zone_boundaries(self) -> dict[str, float | None]:
        """Interim ``z1`` values where the decision changes.

        Keys ``promising`` (CP at the trend reaches ``cp_min``), ``favourable`` (reaches
        ``cp_target``), ``futility`` (``futility_cp``; None without a futility stop) and
        ``efficacy`` (``efficacy_z`` or None).
        """
        t, c = self.information_fraction, self.critical_value
        return {
            "futility": None if self.futility_cp is None else _z1_at_cp(self.futility_cp, t, c),
            "promising": _z1_at_cp(self.cp_min, t, c),
            "favourable": _z1_at_cp(self.cp_target, t, c),
            "efficacy": self.efficacy_z,
        }

    def summary(self) -> pd.DataFrame:
        """Design parameters, critical value and the interim ``z1`` boundaries."""
        rows: list[tuple[str, Any]] = [
            ("n1", self.n1),
            ("n2", self.n2),
            ("n2_max", self.n2_max),
            ("information_fraction", self.information_fraction),
            ("alpha", self.alpha),
            ("critical_value", self.critical_value),
            ("drift", self.drift),
            ("cp_min", self.cp_min),
            ("cp_target", self.cp_target),
            ("efficacy_z", self.efficacy_z),
            ("futility_cp", self.futility_cp),
        ]
        rows += [(f"z1_{k}", v) for k, v in self.zone_boundaries().items()]
        return pd.DataFrame(rows, columns=["quantity", "value"]).set_index("quantity")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description (with the derived critical value and information fraction)."""
        out: dict[str, Any] = {"design": type(self).__name__}
        out.update({k: getattr(self, k) for k in self.__dataclass_fields__})
        return out

    def _repr_html_(self) -> str:
        return "<p><b>PromisingZoneDesign</b> (CHW test)</p>" + self.summary().to_html()

    def plot(self, ax: Any = None, z1: Any = None) -> Any:
        """Realised second-stage size and conditional power at the trend against ``z1``.

        Left axis: ``n2`` after the interim (0 where the trial stops); right axis:
        conditional power at the current trend with the planned and with the realised
        ``n2``. Returns the left Axes.
        """
        from rdstats.plotting import axes_for

        t, c = self.information_fraction, self.critical_value
        if z1 is None:
            lo = min(0.0, _z1_at_cp(self.cp_min, t, c) - 1.0)
            hi = _z1_at_cp(self.cp_target, t, c) + 1.0
            z = np.linspace(lo, hi, 801)
        else:
            z = np.sort(np.atleast_1d(np.asarray(z1, dtype=float)))
        rule = self._rule(z)
        ax = axes_for(ax)
        ax.step(z, rule["n2"], where="post", color="C0", label="realised n2")
        ax.set_xlabel("interim z1")
        ax.set_ylabel("second-stage size")
        right = ax.twinx()
        trend = z / math.sqrt(t)
        ratio = np.where(rule["stop"], 1, rule["n2"]) / self.n2
        right.plot(z, chw_conditional_power(z, t, c, 1.0, trend), "C1--", label="CP, planned n2")
        right.plot(z, chw_conditional_power(z, t, c, ratio, trend), "C2", label="CP, realised n2")
        right.set_ylim(0.0, 1.0)
        right.set_ylabel("conditional power at the trend")
        lines = ax.get_lines() + right.get_lines()
        ax.legend(lines, [str(line.get_label()) for line in lines], loc="upper left")
        return ax

    @property
    def provenance(self) -> dict[str, Any]:
        """Versions, arguments and time stamp."""
        return provenance(self.to_dict())


def _z1_at_cp(cp: float, t: float, c: float) -> float:
    """Interim ``z1`` at which the CHW conditional power at the trend (planned n2) is ``cp``."""
    return float(math.sqrt(t) * c + math.sqrt(t * (1.0 - t)) * special.ndtri(cp))
