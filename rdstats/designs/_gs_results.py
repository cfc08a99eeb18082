"""Result objects of group-sequential designs: characteristics and sample sizes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["GroupSequentialCharacteristics", "GroupSequentialSampleSize", "plot_boundaries"]

Array = NDArray[np.float64]


def _finite_list(a: Any) -> list[float | None]:
    """JSON-safe list: infinite bounds (none) become None."""
    return [float(v) if np.isfinite(v) else None for v in np.asarray(a, dtype=float)]


def _look_axis(ax: Any, t: Array) -> None:
    """Information fraction on the x axis, each look labelled at its fraction."""
    ax.set_xlim(0.0, 1.05)
    ax.set_xlabel("information fraction")
    top = ax.secondary_xaxis("top")
    top.set_xticks(t, [str(k) for k in range(1, t.size + 1)])
    top.set_xlabel("look")


def plot_boundaries(design: Any, ax: Any = None, **kwargs: Any) -> Any:
    """Critical values (and futility bounds) on the z scale against the information
    fraction, the looks labelled on the top axis."""
    from rdstats.plotting import axes_for

    ax = axes_for(ax)
    t = np.asarray(design.information_rates, dtype=float)
    c = np.asarray(design.critical_values)
    ok = np.isfinite(c)
    ax.plot(t[ok], c[ok], "o-", color=kwargs.pop("color", "C3"), label="reject H0", **kwargs)
    if design.sided == 2:
        ax.plot(t[ok], -c[ok], "o-", color="C3")
    a = np.asarray(design.futility_bounds)
    fin = np.isfinite(a)
    if fin.any():
        ax.plot(t[fin], a[fin], "s--", color="C0", label="futility")
    top = max(float(np.max(c[ok], initial=0.0)), 0.0) + 1.0
    ax.fill_between(t[ok], c[ok], top, color="C3", alpha=0.08, lw=0)
    if design.sided == 2:
        ax.fill_between(t[ok], -top, -c[ok], color="C3", alpha=0.08, lw=0)
    if fin.any():
        bottom = min(float(np.min(a[fin])), 0.0) - 1.0
        ax.fill_between(t[fin], bottom, a[fin], color="C0", alpha=0.08, lw=0)
    ax.axhline(0.0, color="0.7", lw=0.8)
    _look_axis(ax, t)
    ax.set_ylabel("z statistic")
    ax.legend()
    return ax


@dataclass(frozen=True, eq=False)
class GroupSequentialCharacteristics:
    """Characteristics of a group-sequential design (see
    :meth:`GroupSequentialDesign.characteristics`).

    ``drift`` is ``E[Z_K]`` under the alternative, ``inflation_factor`` the maximum
    information relative to the fixed-sample design, ``rejection_*`` / ``futility_*``
    the probabilities of stopping at each look under the alternative (h1) and H0, and
    ``asn_*`` the expected information relative to the fixed-sample design under H0,
    half the alternative drift (h01) and the alternative.

    References
    ----------
    .. [1] Jennison C, Turnbull BW. Group Sequential Methods with Applications to
       Clinical Trials. Chapman & Hall/CRC, 2000, ch. 2-3.

    Examples
    --------
    >>> from rdstats.designs import GroupSequentialDesign
    >>> ch = GroupSequentialDesign(kmax=3, alpha=0.025).characteristics()
    >>> ch.power.round(4)
    array([0.0329, 0.4424, 0.8   ])
    >>> round(ch.asn_h1, 4)
    0.8562
    """

    design: Any
    drift: float
    inflation_factor: float
    rejection_h1: Array
    futility_h1: Array
    rejection_h0: Array
    futility_h0: Array
    asn_h0: float
    asn_h01: float
    asn_h1: float
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @property
    def power(self) -> Array:
        """Cumulative power by look."""
        return np.cumsum(self.rejection_h1)

    def summary(self) -> pd.DataFrame:
        """Stopping probabilities by look."""
        k = self.design.kmax
        fut1 = np.append(self.futility_h1, np.nan)
        fut0 = np.append(self.futility_h0, np.nan)
        return pd.DataFrame(
            {
                "look": np.arange(1, k + 1),
                "information_rate": np.asarray(self.design.information_rates),
                "cumulative_power": self.power,
                "reject_h1": self.rejection_h1,
                "futility_h1": fut1,
                "reject_h0": self.rejection_h0,
                "futility_h0": fut0,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {
            "design": self.design.to_dict(),
            "drift": self.drift,
            "inflation_factor": self.inflation_factor,
            "power": self.power.tolist(),
            "rejection_h1": self.rejection_h1.tolist(),
            "futility_h1": self.futility_h1.tolist(),
            "rejection_h0": self.rejection_h0.tolist(),
            "futility_h0": self.futility_h0.tolist(),
            "asn_h0": self.asn_h0,
            "asn_h01": self.asn_h01,
            "asn_h1": self.asn_h1,
            "provenance": dict(self.provenance),
        }

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>Group-sequential characteristics</b>: drift {self.drift:.4f}, inflation "
            f"factor {self.inflation_factor:.4f}, ASN/fixed H0 {self.asn_h0:.4f}, "
            f"H1 {self.asn_h1:.4f}</p>"
        )
        return head + self.summary().to_html(index=False)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Cumulative power and cumulative type I error against the information
        fraction, the looks labelled on the top axis."""
        from rdstats.plotting import axes_for

        ax = axes_for(ax)
        t = np.asarray(self.design.information_rates, dtype=float)
        ax.plot(t, self.power, "o-", label="power (H1)", **kwargs)
        ax.plot(t, np.cumsum(self.rejection_h0), "s--", label="type I error (H0)")
        _look_axis(ax, t)
        ax.set_ylabel("cumulative rejection probability")
        ax.legend()
        return ax


@dataclass(frozen=True, eq=False)
class GroupSequentialSampleSize:
    """Sample size (or events) of a group-sequential design for an endpoint (see
    :meth:`GroupSequentialDesign.sample_size_means` and siblings).

    ``n_fixed`` is the fixed-sample size, ``n_max`` the maximum, ``n_per_look`` the
    cumulative size at each look, ``expected_n`` the expected size at stopping under H0,
    half the alternative and the alternative, and ``critical_effect`` /
    ``futility_effect`` the boundaries on the effect scale (difference in means or
    proportions, or hazard ratio). Sizes are not rounded up.

    As a simulation design it has the design's ``theta`` parameter, with ``n_enrolled``
    in patients (events for survival).

    References
    ----------
    .. [1] Schoenfeld D. The asymptotic properties of nonparametric tests for comparing
       survival distributions. Biometrika 1981;68:316-319.
    .. [2] Fleiss JL, Levin B, Paik MC. Statistical Methods for Rates and Proportions,
       3rd ed. Wiley, 2003, ch. 4.

    Examples
    --------
    >>> from rdstats.designs import GroupSequentialDesign
    >>> ss = GroupSequentialDesign(kmax=3, alpha=0.025).sample_size_survival(0.7)
    >>> round(ss.n_max, 1)
    251.1
    >>> ss.critical_effect.round(3)
    array([0.468, 0.684, 0.777])
    """

    design: Any
    endpoint: str
    inputs: Mapping[str, float]
    n_fixed: float
    n_max: float
    n_per_look: Array
    expected_n: Mapping[str, float]
    critical_effect: Array
    futility_effect: Array
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Sizes and boundaries by look."""
        return pd.DataFrame(
            {
                "look": np.arange(1, self.design.kmax + 1),
                "n": self.n_per_look,
                "critical_value": self.design.critical_values,
                "critical_effect": self.critical_effect,
                "futility_bound": self.design.futility_bounds,
                "futility_effect": self.futility_effect,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {
            "design": self.design.to_dict(),
            "endpoint": self.endpoint,
            "inputs": dict(self.inputs),
            "n_fixed": self.n_fixed,
            "n_max": self.n_max,
            "n_per_look": self.n_per_look.tolist(),
            "expected_n": dict(self.expected_n),
            "critical_effect": _finite_list(self.critical_effect),
            "futility_effect": _finite_list(self.futility_effect),
            "provenance": dict(self.provenance),
        }

    def _repr_html_(self) -> str:
        e = self.expected_n
        head = (
            f"<p><b>Group-sequential sample size</b> ({self.endpoint}): fixed "
            f"{self.n_fixed:.2f}, maximum {self.n_max:.2f}, expected under H0 "
            f"{e['h0']:.2f}, under H1 {e['h1']:.2f}</p>"
        )
        return head + self.summary().to_html(index=False)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Boundaries on the effect scale against the cumulative size."""
        from rdstats.plotting import axes_for

        ax = axes_for(ax)
        c = self.critical_effect
        ok = np.isfinite(c)
        ax.plot(self.n_per_look[ok], c[ok], "o-", color="C3", label="reject H0", **kwargs)
        f = self.futility_effect
        fin = np.isfinite(f)
        if fin.any():
            ax.plot(self.n_per_look[fin], f[fin], "s--", color="C0", label="futility")
        ax.set_xlabel("events" if self.endpoint == "survival" else "patients")
        ax.set_ylabel("hazard ratio" if self.endpoint == "survival" else "effect")
        ax.legend()
        return ax

    # -- simulation hooks: the design's, sizes in patients/events ---------------------------------
    _parameters: ClassVar[tuple[str, ...]] = ("theta",)

    @property
    def _n_looks(self) -> int:
        return int(self.design.kmax)

    def _check_scenario(self, params: Mapping[str, float]) -> None:
        self.design._check_scenario(params)

    def _truth(self, params: Mapping[str, float]) -> float:
        return float(params["theta"])

    def _is_null(self, params: Mapping[str, float]) -> bool | None:
        return bool(self.design._is_null(params))

    def _exact(self, params: Mapping[str, float]) -> tuple[dict[str, Any], Any]:
        out, w = self.design._exact(params)
        out["n_enrolled"] = out["n_enrolled"] * self.n_max
        return out, w

    def _simulate(
        self, params: Mapping[str, float], size: int, rng: np.random.Generator
    ) -> dict[str, Any]:
        out = self.design._simulate(params, size, rng)
        out["n_enrolled"] = out["n_enrolled"] * self.n_max
        return out
