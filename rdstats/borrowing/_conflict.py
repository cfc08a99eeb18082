"""Prior-data conflict: prior-predictive tail probabilities of the new data and the
posterior weight of a robust mixture component."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rdstats.priors import BetaMixture, GammaMixture, Mixture, NormalMixture

__all__ = ["ConflictCheck", "prior_data_conflict", "robust_weight"]


@dataclass(frozen=True)
class ConflictCheck:
    """Result of :func:`prior_data_conflict`."""

    statistic: float  # observed r, mean or events
    p_lower: float  # P(Y <= observed) under the prior predictive
    p_upper: float  # P(Y >= observed)
    p_value: float  # two-sided: 2 min(p_lower, p_upper), at most 1
    prior_weights: tuple[float, ...]
    posterior_weights: tuple[float, ...]

    @property
    def conflict(self) -> bool:
        """Whether the two-sided tail probability is below 0.05."""
        return self.p_value < 0.05

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "statistic": [self.statistic],
                "p_lower": [self.p_lower],
                "p_upper": [self.p_upper],
                "p_value": [self.p_value],
                "robust_weight_prior": [self.prior_weights[-1]],
                "robust_weight_posterior": [self.posterior_weights[-1]],
            }
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _posterior(prior: Mixture, data: dict[str, Any]) -> Mixture:
    return prior.posterior(**data)  # type: ignore[attr-defined]


def prior_data_conflict(
    prior: Mixture,
    *,
    r: int | None = None,
    n: float | None = None,
    mean: float | None = None,
    events: int | None = None,
    exposure: float | None = None,
) -> ConflictCheck:
    """Prior-predictive check of new data against an (informative) prior.

    The new data's sufficient statistic is located in its prior-predictive distribution
    (Box 1980): responders ``r`` of ``n`` (beta prior, beta-binomial predictive), sample
    mean ``mean`` of ``n`` observations (normal prior with ``sigma``), or ``events`` in
    ``exposure`` (gamma prior, negative-binomial predictive). Small tail probabilities
    flag prior-data conflict; with a robustified prior, the posterior weight of the last
    (robust) component shows how far the analysis has moved away from the history.

    Parameters
    ----------
    prior : BetaMixture, NormalMixture or GammaMixture
    r, n, mean, events, exposure
        The new data, as for the prior's ``posterior``.

    Returns
    -------
    ConflictCheck

    References
    ----------
    .. [1] Box GEP. Sampling and Bayes' inference in scientific modelling and robustness.
       J R Stat Soc A 1980;143:383-430.
    .. [2] Schmidli H, Gsteiger S, Roychoudhury S, O'Hagan A, Spiegelhalter D,
       Neuenschwander B. Robust meta-analytic-predictive priors in clinical trials with
       historical control information. Biometrics 2014;70:1023-1032.

    Examples
    --------
    >>> from rdstats.borrowing import prior_data_conflict
    >>> from rdstats.priors import BetaMixture, robustify
    >>> prior = robustify(BetaMixture([0.6, 0.4], [19.2, 3.5], [57.8, 9.4]), 0.2, 0.5)
    >>> check = prior_data_conflict(prior, r=15, n=20)
    >>> round(check.p_value, 3), round(check.posterior_weights[-1], 2)
    (0.117, 0.92)
    """
    if isinstance(prior, BetaMixture):
        if r is None or n is None:
            raise ValueError("a beta prior needs the new data as r= and n=")
        post = _posterior(prior, {"r": r, "n": n})
        pred = prior.predictive(int(n))
        stat = float(r)
        p_lower = float(pred.cdf(r))
        p_upper = float(1.0 - pred.cdf(r - 1)) if r > 0 else 1.0
    elif isinstance(prior, NormalMixture):
        if mean is None or n is None:
            raise ValueError("a normal prior needs the new data as mean= and n=")
        post = _posterior(prior, {"mean": mean, "n": n})
        pred_n = prior.predictive(int(n))
        stat = float(mean)
        p_lower = float(pred_n.cdf(mean))
        p_upper = 1.0 - p_lower
    elif isinstance(prior, GammaMixture):
        if prior.likelihood != "poisson":
            raise ValueError(
                f"prior_data_conflict handles gamma priors for Poisson counts; this prior has "
                f"likelihood={prior.likelihood!r} (exponential times), which is not supported"
            )
        if events is None or exposure is None:
            raise ValueError("a gamma prior needs the new data as events= and exposure=")
        post = _posterior(prior, {"total": events, "n": exposure})
        pred_g = prior.predictive(exposure)
        stat = float(events)
        p_lower = float(pred_g.cdf(events))
        p_upper = float(1.0 - pred_g.cdf(events - 1)) if events > 0 else 1.0
    else:
        raise TypeError(
            f"prior must be a BetaMixture, NormalMixture or GammaMixture, got "
            f"{type(prior).__name__}"
        )
    return ConflictCheck(
        statistic=stat,
        p_lower=p_lower,
        p_upper=p_upper,
        p_value=min(1.0, 2.0 * min(p_lower, p_upper)),
        prior_weights=tuple(float(w) for w in prior.weights),
        posterior_weights=tuple(float(w) for w in np.asarray(post.weights)),
    )


def robust_weight(
    prior: Mixture,
    component: int = -1,
    *,
    r: int | None = None,
    n: float | None = None,
    mean: float | None = None,
    events: int | None = None,
    exposure: float | None = None,
    total: float | None = None,
) -> float:
    """Posterior weight of one mixture component (default: the last, robust one) after
    the new data, given as for :func:`prior_data_conflict`: ``r, n`` (beta), ``mean, n``
    (normal), ``events, exposure`` (gamma; ``total, n`` as for ``prior.posterior`` also
    works).

    Examples
    --------
    >>> from rdstats.borrowing import robust_weight
    >>> from rdstats.priors import BetaMixture, GammaMixture, robustify
    >>> prior = robustify(BetaMixture(1.0, 4, 16), 0.2, 0.5)
    >>> round(robust_weight(prior, r=4, n=20), 3) < 0.2
    True
    >>> rates = robustify(GammaMixture(1.0, 20.0, 100.0), 0.2)
    >>> robust_weight(rates, events=60, exposure=100.0) > 0.9
    True
    """
    if events is not None or exposure is not None:
        if not isinstance(prior, GammaMixture):
            takes = "r= and n=" if isinstance(prior, BetaMixture) else "mean= and n="
            raise TypeError(
                f"'events' and 'exposure' are the new data of a gamma prior; a "
                f"{type(prior).__name__} takes {takes}"
            )
        if total is not None or n is not None:
            raise ValueError("give the new counts as events= and exposure= or as total= and n=")
        total, n = events, exposure
    data = {
        k: v for k, v in {"r": r, "n": n, "mean": mean, "total": total}.items() if v is not None
    }
    k = prior.n_components
    if isinstance(component, bool) or not isinstance(component, (int, np.integer)):
        raise TypeError(f"component must be an integer index, got {component!r}")
    if not -k <= component < k:
        raise ValueError(f"component={component} is out of range for a {k}-component prior")
    post = _posterior(prior, data)
    return float(np.asarray(post.weights)[component])
