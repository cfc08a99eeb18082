"""One-arm design: conjugate prior, sample size and a decision rule, with exact OCs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, stats

from rdstats._provenance import provenance
from rdstats.designs._endpoints import (
    check_n,
    check_theta,
    endpoint_of,
    normal_posterior,
    normal_se,
)
from rdstats.designs._results import Boundary, critical_values
from rdstats.designs._rules import DecisionRule
from rdstats.designs._tables import tail_table

__all__ = ["OneArmDesign"]

Array = NDArray[np.float64]
_MAX_COUNT = 2**26


def rule_kind(rule: DecisionRule) -> str:
    if rule.lower_tail.all():
        return "lower"
    if not rule.lower_tail.any():
        return "upper"
    return "mixed"


def _discrete_criterion(
    prior: Any, n: float, endpoint: str, thr: float, prob: float, lower_tail: bool
) -> float:
    """Critical count: first y where an upper-tail criterion holds, last y where a
    lower-tail one holds (criteria are monotone in y)."""
    y_max = int(n) if endpoint == "binomial" else 64
    while True:
        p = tail_table(prior, n, y_max, np.array([thr]), upper=not lower_tail)[:, 0]
        holds = p > prob
        if lower_tail:
            if endpoint == "binomial" or not holds[-1]:
                return float(np.nonzero(holds)[0].max()) if holds.any() else -1.0
        elif endpoint == "binomial" or holds[-1]:
            return float(np.argmax(holds)) if holds.any() else float(n) + 1
        if y_max > _MAX_COUNT:
            raise RuntimeError(f"no decision flip below {_MAX_COUNT} events for threshold {thr}")
        y_max *= 4


def _normal_criterion(prior: Any, n: float, thr: float, prob: float, lower_tail: bool) -> float:
    se = normal_se(prior, n)

    def f(ybar: float) -> float:
        w, m, s = normal_posterior(prior, np.array([ybar]), se)
        z = (thr - m) / s
        p = stats.norm.cdf(z) if lower_tail else stats.norm.sf(z)
        return float(np.sum(w * p)) - prob

    centre, width = prior.mean(), 10 * (prior.sd() + se) + abs(thr)
    lo, hi = centre - width, centre + width
    for _ in range(200):
        if np.sign(f(lo)) != np.sign(f(hi)):
            break
        lo, hi = centre - 2 * (centre - lo), centre + 2 * (hi - centre)
    else:  # pragma: no cover - P tends to 0 and 1 at the extremes
        raise RuntimeError("could not bracket the decision boundary")
    return float(optimize.brentq(f, lo, hi, xtol=1e-12, rtol=1e-14, maxiter=500))


def one_arm_interval(
    prior: Any, n: float, rule: DecisionRule, endpoint: str
) -> tuple[float, float]:
    """Success interval [lower, upper] of the sufficient statistic."""
    lower, upper = -np.inf, np.inf
    if endpoint != "normal":
        lower = 0.0
        upper = float(n) if endpoint == "binomial" else np.inf
    for p, t, lt in zip(rule.prob, rule.threshold, rule.lower_tail, strict=True):
        if endpoint == "normal":
            c = _normal_criterion(prior, n, float(t), float(p), bool(lt))
        else:
            c = _discrete_criterion(prior, n, endpoint, float(t), float(p), bool(lt))
        if lt:
            upper = min(upper, c)
        else:
            lower = max(lower, c)
    return lower, upper


def interval_probability(endpoint: str, n: float, lower: float, upper: float, dist: Any) -> Array:
    """P(lower <= statistic <= upper) under a frozen scipy distribution or a mixture."""
    if lower > upper:
        return np.zeros(np.shape(dist.cdf(0.0)))
    if endpoint == "normal":
        return np.asarray(dist.cdf(upper)) - np.asarray(dist.cdf(lower))
    return np.asarray(dist.cdf(upper)) - np.asarray(dist.cdf(lower - 1))


def sampling_dist(endpoint: str, n: float, theta: Array, prior: Any) -> Any:
    if endpoint == "binomial":
        return stats.binom(int(n), theta)
    if endpoint == "poisson":
        return stats.poisson(n * theta)
    return stats.norm(theta, normal_se(prior, n))


def smallest_n(evaluate: Any, target: float, n_min: int, n_max: int) -> int:
    """First n in n_min..n_max whose worst-case OC reaches ``target`` (linear scan: OCs of
    discrete designs are saw-toothed in n, so bisection could miss the smallest n)."""
    for n in range(n_min, n_max + 1):
        if evaluate(n) >= target:
            return n
    raise ValueError(
        f"target={target} is not reached for any n in {n_min}..{n_max}; "
        "raise n_max or relax the target"
    )


@dataclass(frozen=True, eq=False)
class OneArmDesign:
    """Single-arm design: prior, sample size and decision rule, with exact OCs.

    The endpoint follows the prior: ``BetaMixture`` → binomial responders,
    ``NormalMixture`` (with ``sigma``) → normal mean with known SD,
    ``GammaMixture`` (Poisson likelihood) → event count in exposure ``n``.

    Parameters
    ----------
    prior : BetaMixture, NormalMixture or GammaMixture
        Analysis prior.
    n : int or float
        Number of patients (exposure for Poisson endpoints).
    rule : DecisionRule
        Decision rule applied to the posterior of θ.

    Notes
    -----
    The decision is monotone in the sufficient statistic, so it is positive exactly on
    an interval (:meth:`boundary`); operating characteristics are sums of binomial or
    Poisson probabilities over that interval, or normal probabilities, without
    simulation.

    References
    ----------
    .. [1] Neuenschwander B, Rouyrre N, Hollaender N, Zuber E, Branson M. A proof of
       concept phase II non-inferiority criterion. Stat Med 2011;30:1618-1627.

    Examples
    --------
    >>> from rdstats.designs import DecisionRule, OneArmDesign
    >>> from rdstats.priors import NormalMixture
    >>> design = OneArmDesign(NormalMixture(1, 0, 100, sigma=2), 155,
    ...                       DecisionRule(0.95, 0.4, lower_tail=True))
    >>> design.oc([0.0, 0.4]).round(6)
    array([0.800981, 0.05    ])
    """

    prior: Any
    n: float
    rule: DecisionRule

    def __post_init__(self) -> None:
        endpoint = endpoint_of(self.prior, "prior")
        object.__setattr__(self, "n", check_n(self.n, "n", endpoint, allow_zero=False))
        if not isinstance(self.rule, DecisionRule):
            raise TypeError(f"rule must be a DecisionRule, got {type(self.rule).__name__}")
        object.__setattr__(self, "endpoint", endpoint)

    endpoint: str = "binomial"  # set in __post_init__

    def _interval(self) -> tuple[float, float]:
        cache = self.__dict__.get("_cache_interval")
        if cache is None:
            cache = one_arm_interval(self.prior, self.n, self.rule, self.endpoint)
            self.__dict__["_cache_interval"] = cache
        return cache

    def boundary(self) -> Boundary:
        """Success interval of the sufficient statistic (responders, events or mean)."""
        lo, hi = self._interval()
        top = self.n if self.endpoint == "binomial" else np.inf
        crit = critical_values(
            np.array([lo]), np.array([hi]), rule_kind(self.rule), top, self.endpoint == "normal"
        )
        table = pd.DataFrame({"lower": [lo], "upper": [hi], "critical": crit})
        return Boundary(
            table,
            "mean" if self.endpoint == "normal" else "y",
            self.endpoint,
            provenance(self.to_dict()),
        )

    def oc(self, theta: ArrayLike) -> float | Array:
        """Exact probability of a positive decision when the true parameter is ``theta``."""
        th = check_theta(theta, "theta", self.endpoint)
        lo, hi = self._interval()
        out = interval_probability(
            self.endpoint, self.n, lo, hi, sampling_dist(self.endpoint, self.n, th, self.prior)
        )
        out = np.clip(out, 0.0, 1.0)
        return float(out) if out.ndim == 0 else out

    def probability_of_success(self, dist_1: Any = None) -> float:
        """Bayesian assurance: P(success) under the prior-predictive of ``dist_1``
        (the design prior; defaults to the analysis prior)."""
        dist = self.prior if dist_1 is None else dist_1
        if type(dist) is not type(self.prior):
            raise TypeError(
                f"dist_1 must be a {type(self.prior).__name__}, got {type(dist).__name__}"
            )
        if self.endpoint == "normal" and dist.sigma is None:
            dist = dist.with_sigma(self.prior.sigma)
        lo, hi = self._interval()
        pred = dist.predictive(self.n)
        return float(np.clip(interval_probability(self.endpoint, self.n, lo, hi, pred), 0, 1))

    def sample_size(
        self, theta: ArrayLike, target: float = 0.8, *, n_min: int = 1, n_max: int = 1000
    ) -> int:
        """Smallest n whose probability of success is at least ``target`` at every θ given."""
        th = check_theta(theta, "theta", self.endpoint)

        def evaluate(n: int) -> float:
            d = OneArmDesign(self.prior, n, self.rule)
            return float(np.min(d.oc(th)))

        return smallest_n(evaluate, float(target), int(n_min), int(n_max))

    def summary(self) -> pd.DataFrame:
        """Design description with its success interval."""
        lo, hi = self._interval()
        return pd.DataFrame(
            {
                "endpoint": [self.endpoint],
                "n": [self.n],
                "rule": [repr(self.rule)],
                "lower": [lo],
                "upper": [hi],
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {
            "design": "OneArmDesign",
            "prior": self.prior.to_dict(),
            "n": self.n,
            "rule": self.rule.to_dict(),
        }

    def _repr_html_(self) -> str:
        return "<p><b>OneArmDesign</b></p>" + self.summary().to_html()

    # -- simulation hooks (rdstats.simulate) ----------------------------------------------
    _parameters: ClassVar[tuple[str, ...]] = ("theta",)

    def _check_scenario(self, params: Mapping[str, float]) -> None:
        from rdstats.designs._simulation import check_scenario_value

        check_scenario_value(self, params, "theta")

    def _truth(self, params: Mapping[str, float]) -> float:
        return float(params["theta"])

    def _is_null(self, params: Mapping[str, float]) -> bool | None:
        from rdstats.designs._simulation import is_null

        return is_null(self.rule, float(params["theta"]))

    def _prepare(self, scenarios: Any) -> None:
        from rdstats.designs._simulation import one_arm_table

        self._interval()
        one_arm_table(self)

    def _simulate(
        self, params: Mapping[str, float], size: int, rng: np.random.Generator
    ) -> dict[str, Any]:
        from rdstats.designs._simulation import one_arm_draw, one_arm_outcomes

        return one_arm_outcomes(self, one_arm_draw(self, float(params["theta"]), size, rng))

    def _exact(self, params: Mapping[str, float]) -> tuple[dict[str, Any], Any]:
        from rdstats.designs._simulation import one_arm_exact

        return one_arm_exact(self, float(params["theta"]))

    def simulate(self, scenarios: Any, **kwargs: Any) -> Any:
        """Operating characteristics over a scenario grid of true θ (see
        :func:`rdstats.simulate.operating_characteristics`, which takes ``kwargs``)."""
        from rdstats.simulate import operating_characteristics

        return operating_characteristics(self, scenarios, **kwargs)

    def plot(self, ax: Any = None, theta: ArrayLike | None = None, **kwargs: Any) -> Any:
        """OC curve: probability of a positive decision against θ."""
        from rdstats.plotting import plot_oc

        return plot_oc(self, ax=ax, theta=theta, **kwargs)
