"""The log-rank test in matched or weighted samples (lifelines' ``logrank_test`` with
``weights_A`` / ``weights_B``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from rdstats._provenance import provenance
from rdstats.external._survival import quiet, survival_data

__all__ = ["LogrankResult", "logrank"]


@dataclass(frozen=True)
class LogrankResult:
    """Log-rank test of treated against control (see :func:`logrank`)."""

    statistic: float
    p_value: float
    weighted: bool
    provenance: dict[str, Any] = field(repr=False, compare=False)

    def summary(self) -> pd.DataFrame:
        """One-row table: chi-square statistic (1 df) and p-value."""
        return pd.DataFrame(
            [
                {
                    "statistic": self.statistic,
                    "df": 1,
                    "p_value": self.p_value,
                    "weighted": self.weighted,
                }
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {
            "statistic": self.statistic,
            "p_value": self.p_value,
            "weighted": self.weighted,
            "provenance": dict(self.provenance),
        }

    def _repr_html_(self) -> str:
        return "<p><b>Log-rank test</b></p>" + self.summary().to_html(index=False)


def logrank(
    data: pd.DataFrame, time: str, event: str, treatment: str, weights: Any = None
) -> LogrankResult:
    """Log-rank test of the treated against the control group (lifelines ``logrank_test``).

    With ``weights`` lifelines treats them as case (frequency) weights: integer weights
    equal duplicated rows, but the statistic is not invariant to rescaling the weights and
    ignores the estimation of propensity-score weights, so for balancing weights its
    p-value is only indicative; prefer the robust Wald test of :func:`weighted_cox`.

    Returns
    -------
    LogrankResult

    Raises
    ------
    ValueError
        On invalid data or when there are no events.

    References
    ----------
    Xie J, Liu C (2005). Adjusted Kaplan-Meier estimator and log-rank test with inverse
    probability of treatment weighting for survival data. Stat Med 24(20):3089-3110.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"t": [1, 1, 1, 0, 0, 0], "time": [2.0, 3, 5, 1, 2, 4],
    ...                    "event": [1, 0, 1, 1, 1, 0]})
    >>> round(logrank(df, "time", "event", "t").p_value, 3)  # R survdiff: 0.370
    0.37
    """
    from lifelines.statistics import logrank_test

    data, tm, ev, t, w = survival_data(data, time, event, treatment, weights)
    a, b = (t == 1) & (w > 0), (t == 0) & (w > 0)
    if not ev[a | b].any():
        raise ValueError(
            f"event column {event!r} has no events (1s) among the rows with positive "
            "weight: the log-rank test needs at least one event"
        )
    kw = {} if weights is None else {"weights_A": w[a], "weights_B": w[b]}
    with quiet():
        res = logrank_test(tm[a], tm[b], ev[a], ev[b], **kw)
    return LogrankResult(
        statistic=float(res.test_statistic),
        p_value=float(res.p_value),
        weighted=weights is not None,
        provenance=provenance(arguments={"time": time, "event": event, "treatment": treatment}),
    )
