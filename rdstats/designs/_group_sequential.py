"""Group-sequential designs: classical and error-spending boundaries, computed by
recursive numerical integration."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from rdstats._provenance import provenance
from rdstats.designs import _gs_boundaries as gsb
from rdstats.designs._gs_hooks import GroupSequentialHooks, _real
from rdstats.designs._gs_kernels import DEFAULT_GRID
from rdstats.designs._gs_monitoring import GroupSequentialMonitoring
from rdstats.designs._gs_results import (
    GroupSequentialCharacteristics,
    GroupSequentialSampleSize,
    plot_boundaries,
)
from rdstats.designs._gs_sample_size import sample_size
from rdstats.designs._spending import HaybittlePeto, WangTsiatis, _Spending, as_boundary

__all__ = ["GroupSequentialDesign"]

Array = NDArray[np.float64]


def _frozen(a: ArrayLike) -> Array:
    out = np.array(a, dtype=float)
    out.flags.writeable = False
    return out


def _check_rates(rates: Any, kmax: int) -> tuple[float, ...]:
    if rates is None:
        return tuple(float(k) / kmax for k in range(1, kmax + 1))
    if isinstance(rates, (str, bytes)) or not isinstance(rates, (Sequence, np.ndarray)):
        raise TypeError(f"information_rates must be a sequence of numbers, got {rates!r}")
    r = tuple(_real(v, "information_rates") for v in rates)
    a = np.asarray(r)
    if len(r) != kmax or a[0] <= 0 or np.any(np.diff(a) <= 0) or abs(a[-1] - 1.0) > 1e-12:
        raise ValueError(
            f"information_rates must be {kmax} increasing values in (0, 1] ending at 1, "
            f"got {list(r)}"
        )
    return (*r[:-1], 1.0)


@dataclass(frozen=True, eq=False)
class GroupSequentialDesign(GroupSequentialMonitoring, GroupSequentialHooks):
    """Group-sequential design for a normally distributed test statistic.

    At look ``k`` (information fraction ``t_k``) the trial stops with rejection of H0
    when ``Z_k >= c_k`` (``|Z_k| >= c_k`` for two-sided designs) and, with futility
    bounds, stops without rejection when ``Z_k <= a_k``.

    Parameters
    ----------
    kmax : int
        Number of looks (1 is the fixed-sample design).
    alpha : float
        Type I error (one-sided for ``sided=1``, total of both sides for ``sided=2``).
    beta : float
        Type II error at the alternative (power ``1 - beta``).
    sided : {1, 2}
        One-sided test, or two-sided test with symmetric boundaries.
    spending : str or boundary object
        Classical boundary (:class:`OBrienFleming`, :class:`Pocock`,
        :class:`WangTsiatis`, :class:`HaybittlePeto`) or α-spending function
        (:class:`OBrienFlemingSpending`, :class:`PocockSpending`,
        :class:`KimDeMetsSpending`, :class:`HwangShihDeCaniSpending`,
        :class:`UserSpending`); strings ``"OF"``, ``"P"``, ``"HP"``, ``"asOF"``, ``"asP"``
        name the parameter-free ones. Default: classical O'Brien-Fleming.
    information_rates : sequence of float, optional
        Information fractions of the looks (default equally spaced).
    futility : spending function or sequence of float, optional
        β-spending function for futility bounds (one-sided designs; the drift is then
        solved so that the last futility bound meets the last critical value), or the
        ``kmax - 1`` interim futility bounds on the z scale.
    binding_futility : bool
        Whether futility bounds are binding, i.e. included in the type I error
        calculation (critical values are lower); non-binding bounds are ignored there.
    two_sided_power : bool
        Two-sided designs only: power (which sizes the design) is the probability of
        rejecting in either direction (True), or, as in rpact's default, of rejecting
        above the upper boundary, the fixed-sample reference then being
        ``z_{1-alpha/2} + z_{1-beta}`` (False). The two differ by about 1e-6 in the
        drift at usual error rates. All reported powers follow it (:meth:`power`,
        :meth:`characteristics`, :meth:`summary`, :meth:`oc`, :meth:`conditional_power`);
        type I error (``alpha_spent``, ``rejection_h0``) and the simulation engine's
        ``success`` (H0 rejected) count rejections in either direction.
    grid : int
        Jennison-Turnbull grid parameter ``r`` of the numerical integration (at most
        ``12 r - 1`` points per look; see :mod:`rdstats.designs._gs_kernels`).

    Attributes
    ----------
    critical_values, futility_bounds, stage_levels, alpha_spent, drift : ndarray or float
        Upper critical values (z), futility bounds (z; ``-inf`` where none), one-sided
        nominal levels ``1 - Phi(c_k)``, cumulative type I error (with binding futility
        included) and the drift ``E[Z_K]`` at which the power is ``1 - beta``.

    Notes
    -----
    The z statistics have the canonical joint distribution of Jennison & Turnbull
    (2000, ch. 3); crossing probabilities come from the recursive integration of
    Armitage, McPherson & Rowe (1969) on the grid of Jennison & Turnbull (2000,
    ch. 19) with Simpson's rule: with the default grid, probabilities to a few 1e-9 and
    boundaries to about 1e-8 on the z scale (``grid=96`` gains about one digit).
    Classical boundaries solve one constant for the total α; spending functions solve
    each look's critical value for its α increment (Lan & DeMets 1983); two-sided
    spending designs spend ``f(t; alpha/2)`` on each side. Power of a two-sided design
    is that of rejecting above the upper boundary, or in either direction with
    ``two_sided_power=True``.

    Simulation scenarios (:func:`rdstats.simulate.operating_characteristics`) have one
    parameter ``theta``, the drift in units of the design alternative: ``E[Z_k] =
    theta * drift * sqrt(t_k)`` (0 is H0, 1 the alternative with power ``1 - beta``).
    Outcomes per trial are ``success``, ``stopped_at``, ``n_enrolled`` (information
    fraction used) and ``estimate``, the maximum-likelihood estimate of ``theta`` at
    stopping, ``Z_k / (drift sqrt(t_k))`` (biased after early stopping; the engine
    reports its bias and RMSE). ``method="exact"`` enumerates Simpson nodes of ``Z``
    in each look's stopping regions, their weights rescaled to the regions' exact
    probabilities.

    References
    ----------
    .. [1] Armitage P, McPherson CK, Rowe BC. Repeated significance tests on
       accumulating data. J R Stat Soc A 1969;132:235-244.
    .. [2] Jennison C, Turnbull BW. Group Sequential Methods with Applications to
       Clinical Trials. Chapman & Hall/CRC, 2000.
    .. [3] Lan KKG, DeMets DL. Discrete sequential boundaries for clinical trials.
       Biometrika 1983;70:659-663.
    .. [4] Pampallona S, Tsiatis AA, Kim K. Interim monitoring of group sequential
       trials using spending functions for the type I and type II error probabilities.
       Drug Inf J 2001;35:1113-1121.

    Examples
    --------
    >>> from rdstats.designs import GroupSequentialDesign
    >>> design = GroupSequentialDesign(kmax=3, alpha=0.025)
    >>> design.critical_values.round(7)
    array([3.4710914, 2.4544323, 2.0040356])
    >>> design.alpha_spent.round(8)
    array([0.00025917, 0.00716006, 0.025     ])
    >>> round(design.inflation_factor, 4)
    1.0174
    >>> design.sample_size_means(difference=0.5, sd=1.0).n_per_look.round(2)
    array([ 42.59,  85.18, 127.77])
    """

    kmax: int = 3
    alpha: float = 0.025
    beta: float = 0.2
    sided: int = 1
    spending: Any = "OF"
    information_rates: Any = None
    futility: Any = None
    binding_futility: bool = False
    two_sided_power: bool = False
    grid: int = DEFAULT_GRID
    critical_values: Array = field(init=False, repr=False)
    futility_bounds: Array = field(init=False, repr=False)
    stage_levels: Array = field(init=False, repr=False)
    alpha_spent: Array = field(init=False, repr=False)
    drift: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._validate()
        t = np.asarray(self.information_rates)
        k = self.kmax
        none = np.full(k, -np.inf)
        fut = self.futility
        if isinstance(fut, _Spending):
            c, a, drift = gsb.beta_spending(
                t, self.alpha, self.beta, self.spending, fut, self.binding_futility, self.grid
            )
        else:
            a = none.copy()
            if fut is not None:
                a[:-1] = fut
            c = gsb.upper_bounds(
                t, self.alpha, self.spending, self.sided,
                a if self.binding_futility else none, self.grid,
            )  # fmt: skip
            if np.any(a[:-1] >= c[:-1]):
                raise ValueError(
                    f"futility bounds {list(a[:-1])} must lie below the critical values "
                    f"{list(np.round(c[:-1], 4))}"
                )
            if self._one_sided_power:  # rejections above the upper boundary only
                drift = gsb.drift_for_power(t, c, -c, 1, 1 - self.beta, self.grid)
            else:
                drift = gsb.drift_for_power(t, c, a, self.sided, 1 - self.beta, self.grid)
        h0_lower = a if self.binding_futility else none
        h0 = gsb.rejection(t, c, h0_lower, self.sided, 0.0, self.grid)
        if fut is None or self.binding_futility:  # H0 with futility obeyed: the same
            self.__dict__["_cache_stage"] = {0.0: h0}
        cum = np.cumsum(h0[0])
        object.__setattr__(self, "critical_values", _frozen(c))
        object.__setattr__(self, "futility_bounds", _frozen(a))
        object.__setattr__(self, "stage_levels", _frozen(stats.norm.sf(c)))
        object.__setattr__(self, "alpha_spent", _frozen(cum))
        object.__setattr__(self, "drift", float(drift))

    def _validate(self) -> None:
        k = self.kmax
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= 20:
            raise ValueError(f"kmax must be an integer from 1 to 20, got {k!r}")
        object.__setattr__(self, "kmax", int(k))
        if self.sided not in (1, 2) or isinstance(self.sided, bool):
            raise ValueError(f"sided must be 1 or 2, got {self.sided!r}")
        alpha = _real(self.alpha, "alpha")
        top = 0.5 if self.sided == 1 else 1.0
        if not 0 < alpha < top:
            raise ValueError(f"alpha must lie in (0, {top}) for sided={self.sided}, got {alpha}")
        beta = _real(self.beta, "beta")
        if not 0 < beta < 1 - alpha:
            raise ValueError(
                f"beta must lie in (0, 1 - alpha) = (0, {1 - alpha:g}) (power above alpha), "
                f"got {beta}"
            )
        object.__setattr__(self, "alpha", alpha)
        object.__setattr__(self, "beta", beta)
        object.__setattr__(self, "spending", as_boundary(self.spending, "spending"))
        object.__setattr__(self, "information_rates", _check_rates(self.information_rates, int(k)))
        for name in ("binding_futility", "two_sided_power"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        g = self.grid
        if isinstance(g, bool) or not isinstance(g, (int, np.integer)) or not 4 <= g <= 1000:
            raise ValueError(f"grid must be an integer from 4 to 1000, got {g!r}")
        fut = self.futility
        if fut is None:
            return
        if self.sided == 2:
            raise ValueError("futility bounds are available for one-sided designs (sided=1) only")
        if isinstance(fut, (_Spending, str)):
            fut = as_boundary(fut, "futility", classical=False)
            if self.binding_futility and isinstance(self.spending, (WangTsiatis, HaybittlePeto)):
                raise ValueError(
                    "binding β-spending futility needs an α-spending function, got spending="
                    f"{self.spending!r}; use non-binding futility or an α-spending function"
                )
            if k == 1:
                raise ValueError("futility needs kmax >= 2")
            object.__setattr__(self, "futility", fut)
            return
        if not isinstance(fut, (Sequence, np.ndarray)):
            raise TypeError(
                "futility must be a spending function or a sequence of z values, "
                f"got {type(fut).__name__}"
            )
        values = tuple(_real(v, "futility") for v in fut)
        if len(values) != k - 1:
            raise ValueError(
                f"futility must hold kmax - 1 = {k - 1} interim bounds, got {len(values)}"
            )
        object.__setattr__(self, "futility", values)

    # -- probabilities ------------------------------------------------------------------------
    @property
    def _t(self) -> Array:
        return np.asarray(self.information_rates)

    def stage_probabilities(self, theta: float = 1.0) -> tuple[Array, Array]:
        """Probabilities of rejecting H0 and of stopping for futility at each look.

        Parameters
        ----------
        theta : float
            Drift in units of the design alternative's (0: H0, 1: the alternative).

        Returns
        -------
        rejection, futility : ndarray
            Per-look probabilities (futility bounds obeyed; for β-spending designs the
            last futility entry is the final non-rejection).

        Examples
        --------
        >>> d = GroupSequentialDesign(kmax=2, alpha=0.025, spending="asOF")
        >>> d.stage_probabilities(0.0)[0].round(6)
        array([0.001525, 0.023475])
        """
        th = _real(theta, "theta")
        cache = self.__dict__.setdefault("_cache_stage", {})
        if th not in cache:
            if len(cache) > 64:
                cache.clear()
            cache[th] = gsb.rejection(
                self._t,
                np.asarray(self.critical_values),
                np.asarray(self.futility_bounds),
                self.sided,
                th * self.drift,
                self.grid,
            )
        rej, fut = cache[th]
        return rej.copy(), fut.copy()

    @property
    def _one_sided_power(self) -> bool:
        return self.sided == 2 and not self.two_sided_power

    def _power_by_look(self, theta: float) -> Array:
        if self._one_sided_power:  # rejections above the upper boundary, as rpact's default
            c = np.asarray(self.critical_values)
            return gsb.rejection(self._t, c, -c, 1, theta * self.drift, self.grid)[0]
        return self.stage_probabilities(theta)[0]

    def power(self, theta: float = 1.0) -> float:
        """Power at drift ``theta`` (units of the alternative): the probability of
        rejecting H0 (see ``two_sided_power`` for two-sided designs)."""
        return float(self._power_by_look(_real(theta, "theta")).sum())

    @property
    def fixed_drift(self) -> float:
        """Drift of the fixed-sample design with the same α and β."""
        if self._one_sided_power:
            return gsb.fixed_drift(self.alpha / 2, self.beta, 1)
        return gsb.fixed_drift(self.alpha, self.beta, self.sided)

    @property
    def inflation_factor(self) -> float:
        """Maximum information relative to the fixed-sample design."""
        return (self.drift / self.fixed_drift) ** 2

    def expected_information(self, theta: float = 1.0) -> float:
        """Expected information fraction (of the maximum) at stopping."""
        rej, fut = self.stage_probabilities(theta)
        stop = rej + fut
        stop[-1] = 1.0 - stop[:-1].sum()
        return float(np.dot(stop, self._t))

    def characteristics(self) -> GroupSequentialCharacteristics:
        """Drift, inflation factor, power by look and average sample numbers.

        Returns
        -------
        GroupSequentialCharacteristics

        Examples
        --------
        >>> d = GroupSequentialDesign(kmax=3, alpha=0.025, spending="asOF")
        >>> round(d.characteristics().inflation_factor, 4)
        1.0128
        """
        rej1 = self._power_by_look(1.0)
        fut1 = self.stage_probabilities(1.0)[1]
        rej0, fut0 = self.stage_probabilities(0.0)
        asn = {th: self.expected_information(th) * self.inflation_factor for th in (0, 0.5, 1)}
        return GroupSequentialCharacteristics(
            design=self,
            drift=self.drift,
            inflation_factor=self.inflation_factor,
            rejection_h1=_frozen(rej1),
            futility_h1=_frozen(fut1[:-1]),
            rejection_h0=_frozen(rej0),
            futility_h0=_frozen(fut0[:-1]),
            asn_h0=asn[0],
            asn_h01=asn[0.5],
            asn_h1=asn[1],
            provenance=provenance(self.to_dict()),
        )

    # -- sample size ----------------------------------------------------------------------------
    def sample_size_means(
        self, difference: float, sd: float, *, groups: int = 2, allocation: float = 1.0
    ) -> GroupSequentialSampleSize:
        """Sample size for a difference in means with known SD.

        Parameters
        ----------
        difference : float
            Alternative: difference in means (two samples, group 1 minus group 2) or
            mean minus the null value (one sample); its sign gives the direction.
        sd : float
            Known standard deviation.
        groups : {1, 2}
            One- or two-sample design.
        allocation : float
            Allocation ratio n1 / n2 (two samples).

        Returns
        -------
        GroupSequentialSampleSize
            Fixed and maximum sizes, size per look, expected sizes, boundaries as
            differences in means.

        Examples
        --------
        >>> d = GroupSequentialDesign(kmax=3, alpha=0.025, spending="asOF")
        >>> round(d.sample_size_means(0.5, 1.0).n_max, 2)
        127.19
        """
        return sample_size(
            self, "means", difference=difference, sd=sd, groups=groups, allocation=allocation
        )

    def sample_size_rates(
        self, pi1: float, pi2: float, *, allocation: float = 1.0
    ) -> GroupSequentialSampleSize:
        """Sample size for two proportions (normal approximation).

        Parameters
        ----------
        pi1, pi2 : float
            Proportions under the alternative (group 1 experimental, group 2 control).
        allocation : float
            Allocation ratio n1 / n2.

        Returns
        -------
        GroupSequentialSampleSize
            Boundaries as differences in observed proportions, the pooled z statistic
            at the planned control proportion.

        Notes
        -----
        Fixed size ``(z_a sqrt(V0) + z_b sqrt(V1))^2 / (pi1 - pi2)^2`` with the pooled
        variance ``V0`` under H0 and the unpooled ``V1`` under H1, times the inflation
        factor.

        Examples
        --------
        >>> d = GroupSequentialDesign(kmax=3, alpha=0.025, spending="asOF")
        >>> round(d.sample_size_rates(0.4, 0.2).n_max, 2)
        164.53
        """
        return sample_size(self, "rates", pi1=pi1, pi2=pi2, allocation=allocation)

    def sample_size_survival(
        self, hazard_ratio: float, *, allocation: float = 1.0
    ) -> GroupSequentialSampleSize:
        """Number of events for a hazard ratio (Schoenfeld 1981).

        Parameters
        ----------
        hazard_ratio : float
            Hazard ratio (group 1 / group 2) under the alternative.
        allocation : float
            Allocation ratio n1 / n2.

        Returns
        -------
        GroupSequentialSampleSize
            Events (``n_*``) and boundaries as hazard ratios.

        Examples
        --------
        >>> d = GroupSequentialDesign(kmax=3, alpha=0.025, spending="asOF")
        >>> round(d.sample_size_survival(0.7).n_max, 2)
        249.94
        """
        return sample_size(self, "survival", hazard_ratio=hazard_ratio, allocation=allocation)

    # -- presentation ---------------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        """Boundaries by look, with the cumulative power (as :meth:`power`: two-sided
        designs follow ``two_sided_power``)."""
        rej1 = self._power_by_look(1.0)
        return pd.DataFrame(
            {
                "look": np.arange(1, self.kmax + 1),
                "information_rate": self._t,
                "critical_value": self.critical_values,
                "futility_bound": self.futility_bounds,
                "stage_level": self.stage_levels,
                "alpha_spent": self.alpha_spent,
                "cumulative_power": np.cumsum(rej1),
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        fut = self.futility
        return {
            "design": "GroupSequentialDesign",
            "kmax": self.kmax,
            "alpha": self.alpha,
            "beta": self.beta,
            "sided": self.sided,
            "spending": self.spending.to_dict(),
            "information_rates": list(self.information_rates),
            "futility": fut.to_dict() if isinstance(fut, _Spending) else fut and list(fut),
            "binding_futility": bool(self.binding_futility),
            "two_sided_power": bool(self.two_sided_power),
            "grid": int(self.grid),
        }

    def _repr_html_(self) -> str:
        return "<p><b>GroupSequentialDesign</b></p>" + self.summary().to_html(index=False)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Boundaries on the z scale (futility bounds too) against the information
        fraction; the looks are labelled on the top axis."""
        return plot_boundaries(self, ax=ax, **kwargs)
