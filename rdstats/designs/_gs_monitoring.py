"""Interim monitoring and operating characteristics of group-sequential designs:
conditional power at a look and stopping probabilities over a range of drifts.

Both follow the design's conventions: ``theta`` numbers are drifts in units of the design
alternative (``E[Z_k] = theta * drift * sqrt(t_k)``; 0 is H0, 1 the alternative), power
of a two-sided design is that of rejecting above the upper boundary unless
``two_sided_power=True`` (then in either direction), and futility bounds count when they
are binding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from rdstats._validation import as_float_array
from rdstats.designs._conditional_power import conditional_power as _cp
from rdstats.designs._gs_hooks import _real

__all__ = ["GroupSequentialMonitoring"]

Array = NDArray[np.float64]
_DRIFTS = ("trend", "design", "null")


class GroupSequentialMonitoring:
    """Conditional power and operating characteristics of
    :class:`~rdstats.designs.GroupSequentialDesign` (mixin)."""

    kmax: int
    sided: int
    drift: float
    futility: Any
    binding_futility: bool
    two_sided_power: bool
    critical_values: Any
    futility_bounds: Any
    information_rates: Any

    def stage_probabilities(self, theta: float = 1.0) -> tuple[Any, Any]:  # pragma: no cover
        raise NotImplementedError

    def _power_by_look(self, theta: float) -> Array:  # pragma: no cover
        raise NotImplementedError

    def expected_information(self, theta: float = 1.0) -> float:  # pragma: no cover
        raise NotImplementedError

    def conditional_power(
        self, z: ArrayLike, look: int, theta: str | float = "trend"
    ) -> float | Array:
        """Conditional power given the z statistic at an interim look.

        The probability, given ``Z_look = z`` and that the trial continues, of crossing
        one of the remaining upper critical values before stopping otherwise. It uses the
        design's information rates and remaining critical values; binding futility
        bounds stop the trial (non-binding ones are ignored, as in the type I error), and
        for two-sided designs crossing the lower boundary stops it too. Two-sided designs
        with ``two_sided_power=True`` count crossings of either boundary.

        Parameters
        ----------
        z : float or array_like
            Observed z statistic at look ``look`` (values beyond the look's boundaries
            are not checked: they are treated as if the trial had continued).
        look : int
            The current look, 1-based, from 1 to ``kmax - 1``.
        theta : {"trend", "design", "null"} or float, default "trend"
            Drift assumed for the rest of the trial: the current trend (the estimate
            ``z / sqrt(t_look)`` on the drift scale), the design alternative, H0 (the
            conditional type I error), or a number in units of the design alternative
            (1 is the alternative, as in :meth:`power`).

        Returns
        -------
        float or numpy.ndarray
            Conditional power, with the shape of ``z``.

        Notes
        -----
        Computed by :func:`rdstats.designs.conditional_power` with the drift on the
        scale of ``E[Z_K]``: ``"design"`` is the design's ``drift`` and a number
        ``theta`` is ``theta * drift``. For one remaining look it is the closed form
        ``1 - Phi((c_K - z sqrt(t) - delta (1 - t)) / sqrt(1 - t))``.

        References
        ----------
        .. [1] Jennison C, Turnbull BW. Group Sequential Methods with Applications to
           Clinical Trials. Chapman & Hall/CRC, 2000, section 10.2.
        .. [2] Lan KKG, Wittes J. The B-value: a tool for monitoring data. Biometrics
           1988;44:579-585.

        Examples
        --------
        >>> from rdstats.designs import GroupSequentialDesign
        >>> d = GroupSequentialDesign(kmax=3, alpha=0.025, spending="asOF")
        >>> round(d.conditional_power(1.5, look=1), 4)
        0.7767
        >>> round(d.conditional_power(1.5, look=1, theta="design"), 4)
        0.8266
        >>> d.conditional_power([0.0, 2.0], look=2, theta="null").round(4)
        array([0.0003, 0.2664])
        """
        k = self.kmax
        if self.kmax < 2:
            raise ValueError("conditional_power needs an interim look (kmax >= 2), got kmax=1")
        if isinstance(look, bool) or not isinstance(look, (int, np.integer)):
            raise TypeError(f"look must be an integer from 1 to kmax - 1 = {k - 1}, got {look!r}")
        if not 1 <= look <= k - 1:
            raise ValueError(f"look must be an integer from 1 to kmax - 1 = {k - 1}, got {look!r}")
        zz = as_float_array(z, "z")
        if isinstance(theta, str):
            if theta not in _DRIFTS:
                raise ValueError(f"theta must be a number or one of {_DRIFTS}, got {theta!r}")
            mode: str | float = theta
        else:
            mode = _real(theta, "theta") * self.drift
        t = np.asarray(self.information_rates, dtype=float)
        c = np.asarray(self.critical_values, dtype=float)[look:]
        if self.sided == 2:
            lower: Array | None = -c
        elif self.binding_futility and self.futility is not None:
            lower = np.asarray(self.futility_bounds, dtype=float)[look:]
        else:
            lower = None

        def upper_crossing(z_now: Array, sign: float) -> Any:
            kw: dict[str, Any] = {"theta": mode}
            if mode == "design":
                kw["delta"] = sign * self.drift
            elif not isinstance(mode, str):
                kw["theta"] = sign * mode
            return _cp(
                sign * z_now,
                float(t[look - 1]),
                c,
                information_rates=t[look:],
                futility=lower,
                **kw,
            )

        out = upper_crossing(zz, 1.0)
        if self.sided == 2 and self.two_sided_power:  # the lower boundary, by symmetry
            out = out + upper_crossing(zz, -1.0)
        return float(out) if np.ndim(out) == 0 else np.asarray(out, dtype=float)

    def oc(self, theta: ArrayLike) -> pd.DataFrame:
        """Operating characteristics over a range of drifts.

        Parameters
        ----------
        theta : float or array_like
            Drifts in units of the design alternative (0: H0, 1: the alternative with
            power ``1 - beta``), finite.

        Returns
        -------
        pandas.DataFrame
            One row per ``theta`` with ``power`` (probability of rejecting H0; for
            two-sided designs above the upper boundary unless ``two_sided_power=True``),
            ``early_stop`` (probability of stopping at an interim look, for any
            reason), ``expected_information`` (expected information fraction at
            stopping), ``reject_k`` (power spent at look ``k``) and, for designs with
            futility bounds, ``futility_k`` (probability of stopping for futility at
            interim look ``k``). Futility bounds are obeyed (binding or not), so with
            non-binding bounds the ``power`` at ``theta = 0`` is below ``alpha``.

        Examples
        --------
        >>> from rdstats.designs import GroupSequentialDesign
        >>> d = GroupSequentialDesign(kmax=2, alpha=0.025, spending="asOF")
        >>> d.oc([0.0, 1.0]).round(4)
           theta   power  early_stop  expected_information  reject_1  reject_2
        0    0.0  0.025      0.0015                0.9992    0.0015    0.0235
        1    1.0  0.800      0.1641                0.9180    0.1641    0.6359
        """
        th = as_float_array(theta, "theta")
        if th.ndim > 1 or th.size == 0:
            raise ValueError(f"theta must be a number or a non-empty 1-D sequence, got {theta!r}")
        th = np.atleast_1d(th)
        k = self.kmax
        futility = self.futility is not None
        rows = []
        for value in th:
            v = float(value)
            rej, fut = self.stage_probabilities(v)
            power = np.asarray(self._power_by_look(v))
            row: dict[str, float] = {
                "theta": v,
                "power": float(power.sum()),
                "early_stop": float(rej[:-1].sum() + fut[:-1].sum()),
                "expected_information": self.expected_information(v),
            }
            row.update({f"reject_{j + 1}": float(power[j]) for j in range(k)})
            if futility:
                row.update({f"futility_{j + 1}": float(fut[j]) for j in range(k - 1)})
            rows.append(row)
        return pd.DataFrame(rows)
