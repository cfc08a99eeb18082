"""Conditional power at an interim analysis as a result object (design, trend, null)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from rdstats._provenance import provenance
from rdstats._validation import as_float_array
from rdstats.designs._conditional_power import (
    check_delta,
    check_fraction,
    check_looks,
    conditional_power,
)

__all__ = ["ConditionalPower"]


@dataclass(frozen=True, eq=False)
class ConditionalPower:
    """Conditional power at an interim analysis under the design, trend and null drifts.

    Build with :meth:`from_z`, or from interim data with :meth:`from_means` (normal
    endpoint) or :meth:`from_rates` (binary endpoint).

    Attributes
    ----------
    z_interim, information_fraction : float
        Current z statistic and information fraction.
    critical_values, information_rates, futility : tuple of float
        Remaining looks (z scale).
    delta : float or None
        Drift under the design alternative (mean of the final z statistic).
    theta_trend : float
        Current-trend drift ``z_interim / sqrt(information_fraction)``.
    cp_design, cp_trend, cp_null : float or None
        Conditional power under each drift (``cp_design`` is None without ``delta``);
        ``cp_null`` is the conditional type I error.
    provenance : dict
        Versions, arguments and time stamp.
    """

    z_interim: float
    information_fraction: float
    critical_values: tuple[float, ...]
    information_rates: tuple[float, ...]
    futility: tuple[float, ...]
    delta: float | None
    theta_trend: float
    cp_design: float | None
    cp_trend: float
    cp_null: float
    provenance: dict[str, Any] = field(repr=False)

    @classmethod
    def from_z(
        cls,
        z_interim: float,
        information_fraction: float,
        critical_value: ArrayLike,
        *,
        delta: float | None = None,
        information_rates: ArrayLike | None = None,
        futility: ArrayLike | None = None,
    ) -> ConditionalPower:
        """Conditional power under the three drifts from the interim z statistic.

        Parameters are those of :func:`conditional_power`; ``z_interim`` must be a single
        number.

        Examples
        --------
        >>> from rdstats.designs import ConditionalPower
        >>> cp = ConditionalPower.from_z(1.5, 0.5, 1.96, delta=2.8016)
        >>> round(cp.cp_trend, 4), round(cp.cp_design, 4), round(cp.cp_null, 4)
        (0.5902, 0.7609, 0.1017)
        """
        if np.ndim(z_interim) != 0 or isinstance(z_interim, bool):
            raise TypeError(f"z_interim must be a single number, got {z_interim!r}")
        z = float(as_float_array(z_interim, "z_interim"))
        t = check_fraction(information_fraction)
        rates, upper, lower = check_looks(t, critical_value, information_rates, futility)
        d = None if delta is None else check_delta(delta)
        kw: dict[str, Any] = {
            "information_rates": rates,
            "futility": lower,
        }

        def cp(theta: Any) -> float:
            return float(conditional_power(z, t, upper, theta=theta, delta=d, **kw))

        return cls(
            z_interim=z,
            information_fraction=t,
            critical_values=tuple(upper.tolist()),
            information_rates=tuple(rates.tolist()),
            futility=tuple(lower.tolist()),
            delta=d,
            theta_trend=z / math.sqrt(t),
            cp_design=None if d is None else cp("design"),
            cp_trend=cp("trend"),
            cp_null=cp("null"),
            provenance=provenance(
                {
                    "z_interim": z,
                    "information_fraction": t,
                    "critical_value": upper.tolist(),
                    "delta": d,
                    "information_rates": rates.tolist(),
                    "futility": [str(v) if not np.isfinite(v) else v for v in lower.tolist()],
                }
            ),
        )

    @classmethod
    def from_means(
        cls,
        mean_1: float,
        mean_2: float,
        sd: float,
        n_1: float,
        n_2: float,
        n_1_final: float,
        n_2_final: float,
        critical_value: ArrayLike,
        *,
        difference: float | None = None,
        information_rates: ArrayLike | None = None,
        futility: ArrayLike | None = None,
    ) -> ConditionalPower:
        """Conditional power for a two-sample comparison of means (arm 1 better if larger).

        ``z = (mean_1 - mean_2) / (sd sqrt(1/n_1 + 1/n_2))``, the information fraction is
        ``(1/n_1_final + 1/n_2_final) / (1/n_1 + 1/n_2)`` and the design drift is
        ``difference / (sd sqrt(1/n_1_final + 1/n_2_final))``.

        Parameters
        ----------
        mean_1, mean_2 : float
            Interim means of arm 1 (experimental) and arm 2 (control).
        sd : float
            Common standard deviation (known or estimated).
        n_1, n_2 : float
            Interim sample sizes; ``n_1_final, n_2_final`` the planned final sizes.
        critical_value : float or sequence of float
            Remaining upper critical values (z scale).
        difference : float, optional
            Mean difference under the design alternative (gives ``cp_design``).
        information_rates, futility : sequence of float, optional
            As in :func:`conditional_power`.

        Examples
        --------
        >>> from rdstats.designs import ConditionalPower
        >>> cp = ConditionalPower.from_means(2.0, 0.0, 6.0, 40, 40, 80, 80, 1.96, difference=3.0)
        >>> round(cp.z_interim, 4), cp.information_fraction
        (1.4907, 0.5)
        """
        for name, value in (("mean_1", mean_1), ("mean_2", mean_2)):
            as_float_array(value, name)
        s = _positive(sd, "sd")
        n1, n2, f1, f2 = (
            _positive(v, k)
            for k, v in (
                ("n_1", n_1),
                ("n_2", n_2),
                ("n_1_final", n_1_final),
                ("n_2_final", n_2_final),
            )
        )
        _check_final(n1, f1, "n_1")
        _check_final(n2, f2, "n_2")
        se, se_final = s * math.sqrt(1 / n1 + 1 / n2), s * math.sqrt(1 / f1 + 1 / f2)
        delta = None if difference is None else check_delta(difference) / se_final
        return cls.from_z(
            (float(mean_1) - float(mean_2)) / se,
            (se_final / se) ** 2,
            critical_value,
            delta=delta,
            information_rates=information_rates,
            futility=futility,
        )

    @classmethod
    def from_rates(
        cls,
        x_1: int,
        n_1: int,
        x_2: int,
        n_2: int,
        n_1_final: int,
        n_2_final: int,
        critical_value: ArrayLike,
        *,
        p_1: float | None = None,
        p_2: float | None = None,
        information_rates: ArrayLike | None = None,
        futility: ArrayLike | None = None,
    ) -> ConditionalPower:
        """Conditional power for a two-sample comparison of response rates.

        The interim z statistic is the pooled-variance test of ``p1 - p2`` (arm 1 better
        if larger); the information fraction is ``(1/n_1_final + 1/n_2_final) /
        (1/n_1 + 1/n_2)`` and the design drift ``(p_1 - p_2) / sqrt(pbar (1 - pbar)
        (1/n_1_final + 1/n_2_final))`` with ``pbar`` the size-weighted design rate.

        Parameters
        ----------
        x_1, n_1, x_2, n_2 : int
            Interim responders and patients in arm 1 (experimental) and arm 2 (control).
        n_1_final, n_2_final : int
            Planned final sizes.
        critical_value : float or sequence of float
            Remaining upper critical values (z scale).
        p_1, p_2 : float, optional
            Response rates under the design alternative (give both for ``cp_design``).
        information_rates, futility : sequence of float, optional
            As in :func:`conditional_power`.

        Examples
        --------
        >>> from rdstats.designs import ConditionalPower
        >>> cp = ConditionalPower.from_rates(12, 20, 6, 20, 40, 40, 1.96, p_1=0.6, p_2=0.3)
        >>> round(cp.z_interim, 4), round(cp.cp_trend, 4)
        (1.9069, 0.8513)
        """
        counts = {"x_1": x_1, "n_1": n_1, "x_2": x_2, "n_2": n_2}
        for k, v in {**counts, "n_1_final": n_1_final, "n_2_final": n_2_final}.items():
            if isinstance(v, bool) or not float(as_float_array(v, k)).is_integer():
                raise ValueError(f"{k} must be a whole number, got {v!r}")
        x1, n1, x2, n2 = (int(v) for v in counts.values())
        if n1 < 1 or n2 < 1 or not (0 <= x1 <= n1 and 0 <= x2 <= n2):
            raise ValueError(
                f"need 0 <= x_1 <= n_1, 0 <= x_2 <= n_2 and n >= 1, got x_1={x_1}, n_1={n_1}, "
                f"x_2={x_2}, n_2={n_2}"
            )
        f1, f2 = int(n_1_final), int(n_2_final)
        _check_final(n1, f1, "n_1")
        _check_final(n2, f2, "n_2")
        pooled = (x1 + x2) / (n1 + n2)
        if pooled in (0.0, 1.0):
            raise ValueError(
                f"the pooled interim rate is {pooled}: the z statistic is undefined when all "
                f"or no patients respond (x_1={x1}, x_2={x2})"
            )
        z = (x1 / n1 - x2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        delta = None
        if (p_1 is None) != (p_2 is None):
            raise ValueError(f"give both p_1 and p_2 or neither, got p_1={p_1}, p_2={p_2}")
        if p_1 is not None and p_2 is not None:
            for k, p in (("p_1", p_1), ("p_2", p_2)):
                if not 0 < float(as_float_array(p, k)) < 1:
                    raise ValueError(f"{k} must be strictly between 0 and 1, got {p!r}")
            pbar = (f1 * p_1 + f2 * p_2) / (f1 + f2)
            delta = (p_1 - p_2) / math.sqrt(pbar * (1 - pbar) * (1 / f1 + 1 / f2))
        return cls.from_z(
            z,
            (1 / f1 + 1 / f2) / (1 / n1 + 1 / n2),
            critical_value,
            delta=delta,
            information_rates=information_rates,
            futility=futility,
        )

    def at(self, theta: float | ArrayLike | str) -> Any:
        """Conditional power under any drift (number, array or a named drift)."""
        return conditional_power(
            self.z_interim,
            self.information_fraction,
            self.critical_values,
            theta=theta,
            delta=self.delta,
            information_rates=self.information_rates,
            futility=self.futility,
        )

    def summary(self) -> pd.DataFrame:
        """Drift and conditional power under the design, trend and null hypotheses."""
        rows = [("trend", self.theta_trend, self.cp_trend), ("null", 0.0, self.cp_null)]
        if self.delta is not None and self.cp_design is not None:
            rows.insert(0, ("design", self.delta, self.cp_design))
        return pd.DataFrame(rows, columns=["drift", "theta", "conditional_power"]).set_index(
            "drift"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {
            "z_interim": self.z_interim,
            "information_fraction": self.information_fraction,
            "critical_values": list(self.critical_values),
            "information_rates": list(self.information_rates),
            "futility": [v if np.isfinite(v) else str(v) for v in self.futility],
            "delta": self.delta,
            "theta_trend": self.theta_trend,
            "cp_design": self.cp_design,
            "cp_trend": self.cp_trend,
            "cp_null": self.cp_null,
            "provenance": self.provenance,
        }

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>Conditional power</b> at z = {self.z_interim:.4g}, "
            f"t = {self.information_fraction:.4g}</p>"
        )
        return head + self.summary().to_html()


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or np.ndim(value) != 0:
        raise TypeError(f"{name} must be a single number, got {value!r}")
    v = float(as_float_array(value, name))
    if v <= 0:
        raise ValueError(f"{name} must be strictly positive, got {value!r}")
    return v


def _check_final(interim: float, final: float, name: str) -> None:
    if final < interim:
        raise ValueError(
            f"{name}_final must be at least the interim {name}={interim:g}, "
            f"got {name}_final={final:g}"
        )
