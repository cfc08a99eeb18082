"""Two-arm design: decision on θ1 − θ2 with exact boundaries and operating characteristics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats
from scipy.optimize import elementwise

from rdstats._provenance import provenance
from rdstats.designs._endpoints import (
    check_n,
    check_theta,
    endpoint_of,
    normal_posterior,
    normal_se,
    sampling_pmf,
    sampling_quantile,
)
from rdstats.designs._grid import difference_probabilities
from rdstats.designs._one_arm import interval_probability, rule_kind, smallest_n
from rdstats.designs._results import Boundary, critical_values
from rdstats.designs._rules import DecisionRule

__all__ = ["TwoArmDesign"]

Array = NDArray[np.float64]
_TRUNC = 1e-13  # Poisson tail mass left out of the outcome space
_GH_NODES = 96


def _normal_prob(
    prior_1: Any,
    n_1: float,
    prior_2: Any,
    n_2: float,
    y1: Array,
    y2: Array,
    delta: float,
    lower_tail: bool,
) -> Array:
    """P(θ1 − θ2 <= δ) or P(θ1 − θ2 > δ) for observed means (closed form)."""
    w1, m1, s1 = normal_posterior(prior_1, y1, normal_se(prior_1, n_1))
    if n_2 > 0:
        w2, m2, s2 = normal_posterior(prior_2, y2, normal_se(prior_2, n_2))
    else:
        m, v = prior_2._component_moments()
        w2, m2, s2 = (
            np.broadcast_to(a, (y1.size, a.size)) for a in (prior_2.weights, m, np.sqrt(v))
        )
    z = (delta - (m1[:, :, None] - m2[:, None, :])) / np.sqrt(
        s1[:, :, None] ** 2 + s2[:, None, :] ** 2
    )
    p = special.ndtr(z) if lower_tail else special.ndtr(-z)
    return np.einsum("mj,mk,mjk->m", w1, w2, p)


@dataclass(frozen=True, eq=False)
class TwoArmDesign:
    """Two-arm design deciding on the difference θ1 − θ2 with exact OCs.

    Parameters
    ----------
    prior_1, prior_2 : BetaMixture, NormalMixture or GammaMixture
        Analysis priors of the two arms (same family); the family sets the endpoint
        (binomial, normal with known ``sigma``, Poisson).
    n_1, n_2 : int or float
        Patients per arm (exposure for Poisson). ``n_2 = 0`` means a prior-only control.
    rule : DecisionRule
        Criteria on θ1 − θ2.

    Notes
    -----
    For discrete endpoints the decision is computed for every outcome pair at once with
    a trapezoidal rule on the link scale whose spacing is adapted to the posteriors
    (accurate to about 1e-13), giving the exact boundary ``c(y2)``; OCs are then exact
    double sums of binomial / Poisson probabilities. For normal endpoints the boundary
    is found by root finding to 1e-10 and the OC is one Gauss-Hermite integral over the
    control mean.

    References
    ----------
    .. [1] Schmidli H, Gsteiger S, Roychoudhury S, O'Hagan A, Spiegelhalter D,
       Neuenschwander B. Robust meta-analytic-predictive priors in clinical trials with
       historical control information. Biometrics 2014;70:1023-1032.
    .. [2] Fisch R, Jones I, Jones J, Kerman J, Rosenkranz GK, Schmidli H. Bayesian design
       of proof-of-concept trials. Ther Innov Regul Sci 2015;49:155-162.

    Examples
    --------
    >>> from rdstats.designs import DecisionRule, TwoArmDesign
    >>> from rdstats.priors import BetaMixture
    >>> rule = DecisionRule([0.95, 0.5], [0.0, 0.2])
    >>> design = TwoArmDesign(BetaMixture(1, 10, 40), 20, BetaMixture(1, 1, 2), 20, rule)
    >>> design.boundary().table["critical"].head(6).tolist()
    [6.0, 9.0, 12.0, 15.0, 18.0, 20.0]
    """

    prior_1: Any
    n_1: float
    prior_2: Any
    n_2: float
    rule: DecisionRule
    endpoint: str = "binomial"  # set in __post_init__

    def __post_init__(self) -> None:
        e1 = endpoint_of(self.prior_1, "prior_1")
        e2 = endpoint_of(self.prior_2, "prior_2")
        if e1 != e2:
            raise TypeError(
                f"prior_1 and prior_2 must be of the same family, got "
                f"{type(self.prior_1).__name__} and {type(self.prior_2).__name__}"
            )
        object.__setattr__(self, "n_1", check_n(self.n_1, "n_1", e1, allow_zero=False))
        object.__setattr__(self, "n_2", check_n(self.n_2, "n_2", e1, allow_zero=True))
        if not isinstance(self.rule, DecisionRule):
            raise TypeError(f"rule must be a DecisionRule, got {type(self.rule).__name__}")
        object.__setattr__(self, "endpoint", e1)

    # -- discrete endpoints -------------------------------------------------------------
    def decision_matrix(self, y1_max: int | None = None, y2_max: int | None = None) -> Array:
        """0/1 matrix ``D[y1, y2]`` of positive decisions (binomial: all outcomes)."""
        if self.endpoint == "normal":
            raise ValueError("decision_matrix() is for binomial and Poisson endpoints")
        if self.endpoint == "binomial":
            y1_max, y2_max = int(self.n_1), int(self.n_2)
        else:
            y1_max = 64 if y1_max is None else int(y1_max)
            y2_max = 64 if y2_max is None else int(y2_max)
        key = (y1_max, y2_max)
        cache = self.__dict__.setdefault("_cache_decisions", {})
        if key not in cache:
            d = np.ones((y1_max + 1, y2_max + 1), dtype=bool)
            for p, t, lt in zip(
                self.rule.prob, self.rule.threshold, self.rule.lower_tail, strict=True
            ):
                prob = difference_probabilities(
                    self.prior_1, self.n_1, y1_max, self.prior_2, self.n_2, y2_max, float(t), not lt
                )
                d &= prob > p
            d.flags.writeable = False
            cache[key] = d
        return np.asarray(cache[key])

    def _poisson_ranges(self, theta_1: Array, theta_2: Array) -> tuple[int, int]:
        y2 = sampling_quantile("poisson", self.n_2, theta_2, 1 - _TRUNC) if self.n_2 else 0
        y1 = sampling_quantile("poisson", self.n_1, theta_1, 1 - _TRUNC)
        return max(y1, 1), y2

    # -- normal endpoint ------------------------------------------------------------------
    def _normal_interval(self, y2: Array) -> tuple[Array, Array]:
        """Success interval of arm 1's mean for each arm-2 mean (vectorised roots)."""
        y2 = np.atleast_1d(np.asarray(y2, dtype=float))
        lower = np.full(y2.shape, -np.inf)
        upper = np.full(y2.shape, np.inf)
        se1 = normal_se(self.prior_1, self.n_1)
        scale = 20 * (self.prior_1.sd() + self.prior_2.sd() + se1) + np.ptp(self.rule.threshold)
        for p, t, lt in zip(self.rule.prob, self.rule.threshold, self.rule.lower_tail, strict=True):

            def f(
                y1: Array, y2v: Array, t: float = float(t), lt: bool = bool(lt), p: float = float(p)
            ) -> Array:
                shape = np.broadcast_shapes(y1.shape, y2v.shape)
                y1b, y2b = np.broadcast_to(y1, shape).ravel(), np.broadcast_to(y2v, shape).ravel()
                out = (
                    _normal_prob(self.prior_1, self.n_1, self.prior_2, self.n_2, y1b, y2b, t, True)
                    - p
                    if lt
                    else p
                    - _normal_prob(
                        self.prior_1, self.n_1, self.prior_2, self.n_2, y1b, y2b, t, False
                    )
                )
                return out.reshape(shape)

            x0 = y2 + t if self.n_2 > 0 else np.full(y2.shape, self.prior_2.mean() + t)
            br = elementwise.bracket_root(f, x0 - scale, x0 + scale, args=(y2,), maxiter=200)
            if not np.all(br.success):
                raise RuntimeError("could not bracket the decision boundary")
            res = elementwise.find_root(
                f,
                (br.bracket[0], br.bracket[1]),
                args=(y2,),
                tolerances={"xatol": 1e-10, "xrtol": 1e-14},
            )
            if lt:
                upper = np.minimum(upper, res.x)
            else:
                lower = np.maximum(lower, res.x)
        return lower, upper

    # -- public API -------------------------------------------------------------------------
    def boundary(self, y2: ArrayLike | None = None) -> Boundary:
        """Success interval of arm 1's statistic for each value of arm 2's statistic.

        Parameters
        ----------
        y2 : array_like, optional
            Values of arm 2's statistic (counts; means for normal endpoints). Default: all
            counts 0..n_2 (binomial), the central 1 - 1e-6 of arm 2's prior predictive
            (Poisson, normal).
        """
        if y2 is None:
            if self.n_2 == 0:
                y2v = np.array([0.0]) if self.endpoint != "normal" else np.array([np.nan])
            elif self.endpoint == "binomial":
                y2v = np.arange(int(self.n_2) + 1, dtype=float)
            else:
                pred = self.prior_2.predictive(self.n_2)
                lo, hi = np.asarray(pred.ppf([1e-6, 1 - 1e-6]), dtype=float)
                y2v = (
                    np.arange(0, hi + 1) if self.endpoint == "poisson" else np.linspace(lo, hi, 41)
                )
        else:
            y2v = np.atleast_1d(np.asarray(y2, dtype=float))
        if self.endpoint == "normal":
            lower, upper = self._normal_interval(np.zeros(1) if self.n_2 == 0 else y2v)
            top = np.inf
        else:
            y2i = y2v.astype(int)
            y1_max = int(self.n_1) if self.endpoint == "binomial" else None
            d = self._poisson_extended(int(y2i.max())) if y1_max is None else self.decision_matrix()
            cols = d[:, y2i]
            anyy = cols.any(axis=0)
            lower = np.where(anyy, np.argmax(cols, axis=0), d.shape[0]).astype(float)
            upper = np.where(anyy, d.shape[0] - 1 - np.argmax(cols[::-1], axis=0), -1).astype(float)
            if self.endpoint == "poisson":
                upper = np.where(anyy & cols[-1], np.inf, upper)
            top = float(self.n_1) if self.endpoint == "binomial" else np.inf
        table = pd.DataFrame(
            {
                "y2": y2v,
                "lower": lower,
                "upper": upper,
                "critical": critical_values(
                    lower, upper, rule_kind(self.rule), top, self.endpoint == "normal"
                ),
            }
        )
        return Boundary(
            table,
            "mean" if self.endpoint == "normal" else "y",
            self.endpoint,
            provenance(self.to_dict()),
        )

    def _poisson_extended(self, y2_max: int) -> Array:
        """Poisson decisions with arm 1's range grown until every flip is inside it."""
        y1_max = 64
        while True:
            d = self.decision_matrix(y1_max, y2_max)
            if rule_kind(self.rule) != "upper" or d[-1].all() or y1_max > 2**22:
                return d
            y1_max *= 4

    def oc(self, theta_1: ArrayLike, theta_2: ArrayLike | None = None) -> float | Array:
        """Exact probability of a positive decision at true parameters (θ1, θ2).

        ``theta_1`` and ``theta_2`` broadcast; with a prior-only control (``n_2 = 0``)
        ``theta_2`` is not needed.
        """
        t1 = check_theta(theta_1, "theta_1", self.endpoint)
        if theta_2 is None:
            if self.n_2 > 0:
                raise TypeError("oc() needs theta_2 unless n_2 = 0 (prior-only control)")
            t2 = np.zeros_like(t1)
        else:
            t2 = check_theta(theta_2, "theta_2", self.endpoint)
        b1, b2 = np.broadcast_arrays(t1, t2)
        if self.endpoint == "normal":
            out = self._normal_oc(b1.ravel(), b2.ravel())
        else:
            out = self._discrete_oc(b1.ravel(), b2.ravel())
        out = np.clip(out, 0.0, 1.0).reshape(b1.shape)
        return float(out) if out.ndim == 0 else out

    def _normal_oc(self, t1: Array, t2: Array) -> Array:
        d1 = stats.norm(t1, normal_se(self.prior_1, self.n_1))
        if self.n_2 == 0:
            lo, hi = self._normal_interval(np.zeros(1))
            return interval_probability("normal", self.n_1, lo[0], hi[0], d1)
        x, w = special.roots_hermitenorm(_GH_NODES)
        w = w / w.sum()
        y2 = t2[:, None] + normal_se(self.prior_2, self.n_2) * x[None, :]
        lo, hi = (v.reshape(y2.shape) for v in self._normal_interval(y2.ravel()))
        inner = d1.cdf(hi.T).T - d1.cdf(lo.T).T
        return np.asarray(np.sum(np.where(lo <= hi, inner, 0.0) * w, axis=1))

    def _discrete_oc(self, t1: Array, t2: Array) -> Array:
        if self.endpoint == "binomial":
            d = self.decision_matrix()
        else:
            y1_max, y2_max = self._poisson_ranges(t1, t2)
            d = self.decision_matrix(max(y1_max, 64), y2_max)
        p1 = sampling_pmf(self.endpoint, self.n_1, t1, np.arange(d.shape[0]))
        p2 = sampling_pmf(self.endpoint, self.n_2, t2, np.arange(d.shape[1]))
        return np.asarray(np.einsum("sa,ab,sb->s", p1, d.astype(float), p2))

    def probability_of_success(self, dist_1: Any = None, dist_2: Any = None) -> float:
        """Bayesian assurance: P(success) when each arm's data follow the prior predictive
        of ``dist_1`` / ``dist_2`` (design priors; default: the analysis priors)."""
        d1 = self.prior_1 if dist_1 is None else dist_1
        d2 = self.prior_2 if dist_2 is None else dist_2
        for name, d, ref in (("dist_1", d1, self.prior_1), ("dist_2", d2, self.prior_2)):
            if type(d) is not type(ref):
                raise TypeError(f"{name} must be a {type(ref).__name__}, got {type(d).__name__}")
        if self.endpoint == "normal":
            d1 = d1 if d1.sigma is not None else d1.with_sigma(self.prior_1.sigma)
            d2 = d2 if d2.sigma is not None else d2.with_sigma(self.prior_2.sigma)
            if self.n_2 == 0:
                lo, hi = self._normal_interval(np.zeros(1))
                return float(
                    interval_probability("normal", self.n_1, lo[0], hi[0], d1.predictive(self.n_1))
                )
            pred2 = d2.predictive(self.n_2)
            u, w = special.roots_legendre(_GH_NODES * 2)
            y2 = np.asarray(pred2.ppf((u + 1) / 2), dtype=float)
            lo, hi = self._normal_interval(y2)
            pred1 = d1.predictive(self.n_1)
            inner = np.asarray(pred1.cdf(hi)) - np.asarray(pred1.cdf(lo))
            return float(np.clip(np.sum(w / 2 * np.where(lo <= hi, inner, 0.0)), 0, 1))
        pred1 = d1.predictive(self.n_1)
        if self.endpoint == "binomial":
            d = self.decision_matrix()
        else:
            hi2 = int(d2.predictive(self.n_2).ppf(1 - _TRUNC)) if self.n_2 else 0
            d = self._poisson_extended(hi2)
            hi1 = int(pred1.ppf(1 - _TRUNC))
            if hi1 >= d.shape[0]:
                d = self.decision_matrix(hi1, hi2)
        p1 = np.asarray(pred1.pdf(np.arange(d.shape[0])), dtype=float)
        p2 = (
            np.asarray(d2.predictive(self.n_2).pdf(np.arange(d.shape[1])), dtype=float)
            if self.n_2
            else np.ones(1)
        )
        return float(np.clip(p1 @ d.astype(float) @ p2, 0.0, 1.0))

    def sample_size(
        self,
        theta_1: ArrayLike,
        theta_2: ArrayLike | None = None,
        target: float = 0.8,
        *,
        n_min: int = 1,
        n_max: int = 1000,
    ) -> int:
        """Smallest ``n_1`` (with ``n_2 / n_1`` fixed) whose OC reaches ``target`` at every
        (θ1, θ2) given."""
        ratio = self.n_2 / self.n_1

        def evaluate(n: int) -> float:
            n2: float = round(ratio * n) if self.endpoint != "poisson" else ratio * n
            d = TwoArmDesign(self.prior_1, n, self.prior_2, n2, self.rule)
            return float(np.min(d.oc(theta_1, theta_2)))

        return smallest_n(evaluate, float(target), int(n_min), int(n_max))

    def summary(self) -> pd.DataFrame:
        """Design description."""
        return pd.DataFrame(
            {
                "endpoint": [self.endpoint],
                "n_1": [self.n_1],
                "n_2": [self.n_2],
                "rule": [repr(self.rule)],
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {
            "design": "TwoArmDesign",
            "prior_1": self.prior_1.to_dict(),
            "n_1": self.n_1,
            "prior_2": self.prior_2.to_dict(),
            "n_2": self.n_2,
            "rule": self.rule.to_dict(),
        }

    def _repr_html_(self) -> str:
        return "<p><b>TwoArmDesign</b></p>" + self.summary().to_html()

    # -- simulation hooks (rdstats.simulate) ----------------------------------------------
    _parameters: ClassVar[tuple[str, ...]] = ("theta_1", "theta_2")

    def _check_scenario(self, params: Mapping[str, float]) -> None:
        from rdstats.designs._simulation import check_scenario_value

        check_scenario_value(self, params, "theta_1")
        check_scenario_value(self, params, "theta_2")

    def _truth(self, params: Mapping[str, float]) -> float:
        return float(params["theta_1"]) - float(params["theta_2"])

    def _is_null(self, params: Mapping[str, float]) -> bool | None:
        from rdstats.designs._simulation import is_null

        return is_null(self.rule, self._truth(params))

    def _prepare(self, scenarios: Any) -> None:
        from rdstats.designs._simulation import prepare_two_arm

        prepare_two_arm(self, scenarios)

    def _simulate(
        self, params: Mapping[str, float], size: int, rng: np.random.Generator
    ) -> dict[str, Any]:
        from rdstats.designs._simulation import two_arm_draw, two_arm_outcomes

        t1, t2 = float(params["theta_1"]), float(params["theta_2"])
        y1, y2 = two_arm_draw(self, t1, t2, size, rng)
        return two_arm_outcomes(self, y1, y2, t1, t2)

    def _exact(self, params: Mapping[str, float]) -> tuple[dict[str, Any], Any]:
        from rdstats.designs._simulation import two_arm_exact

        return two_arm_exact(self, float(params["theta_1"]), float(params["theta_2"]))

    def simulate(self, scenarios: Any, **kwargs: Any) -> Any:
        """Operating characteristics over a scenario grid of true (θ1, θ2) (see
        :func:`rdstats.simulate.operating_characteristics`, which takes ``kwargs``)."""
        from rdstats.simulate import operating_characteristics

        return operating_characteristics(self, scenarios, **kwargs)

    def plot(
        self, ax: Any = None, theta: ArrayLike | None = None, theta_2: Any = None, **kwargs: Any
    ) -> Any:
        """OC curve against θ1 at fixed θ2 (default: arm 2's prior mean)."""
        from rdstats.plotting import plot_oc

        return plot_oc(self, ax=ax, theta=theta, theta_2=theta_2, **kwargs)
