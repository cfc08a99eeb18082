"""MatchResult: matched data, weights, subclasses and discarded units of :func:`match`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rdstats.external._data import treatment_indicator

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["MatchResult"]


@dataclass(frozen=True, eq=False)
class MatchResult:
    """Result of :func:`match`.

    Attributes
    ----------
    data : DataFrame
        The data that were matched.
    weights : ndarray
        Matching weight of every row (0 for unmatched units): focal units (the treated, for
        the ATT) weigh 1; a matched control weighs the sum over its matched sets of
        1 / (number of controls in the set), scaled so that the control weights sum to the
        number of matched controls (MatchIt's convention).
    subclass : Series
        Matched set of every row (``<NA>`` for unmatched units and for all units when
        matching with replacement, where a control may belong to several sets).
    match_matrix : DataFrame
        For every focal unit (index), the labels of its matched controls (columns
        ``1 .. ratio``, or up to the largest set for full matching; ``None`` where no match
        was made). In full matching a control may appear for several focal units of its set.
    discarded : Index
        Focal units left unmatched (outside the caliper or its exact stratum, or no
        controls left).
    distance : ndarray or None
        The scalar distance matched on (propensity score, its logit, or the user's
        score); ``None`` for the Mahalanobis distance.
    caliper_width : float or None
        The caliper on the scale of the distance (``caliper`` times its SD).
    """

    data: pd.DataFrame
    treatment: str
    covariates: tuple[str, ...]
    method: str
    estimand: str
    ratio: int
    replace: bool
    order: str
    caliper: float | None
    caliper_scale: str
    caliper_width: float | None
    exact: tuple[str, ...] | None
    distance_kind: str
    distance: NDArray[np.float64] | None
    weights: NDArray[np.float64]
    subclass: pd.Series
    match_matrix: pd.DataFrame
    discarded: pd.Index
    provenance: dict[str, Any] = field(repr=False)

    @property
    def treated(self) -> NDArray[np.int64]:
        """The 0/1 treatment indicator."""
        return treatment_indicator(self.data, self.treatment)

    @property
    def matched_data(self) -> pd.DataFrame:
        """Rows with a positive weight, with ``weights``, ``subclass`` and (for a scalar
        distance) ``distance`` columns, like MatchIt's ``match.data``."""
        out = self.data.copy()
        out["weights"] = self.weights
        out["subclass"] = self.subclass
        if self.distance is not None:
            out["distance"] = self.distance
        return out.loc[self.weights > 0]

    def summary(self) -> pd.DataFrame:
        """Sample sizes by group: all, matched, effective (Kish) matched sample size and
        unmatched."""
        t = self.treated
        rows = {}
        for g, name in ((0, "control"), (1, "treated")):
            w = self.weights[t == g]
            pos = w[w > 0]
            ess = float(pos.sum() ** 2 / np.sum(pos**2)) if pos.size else 0.0
            rows[name] = {
                "All": float(w.size),
                "Matched (ESS)": ess,
                "Matched": float(pos.size),
                "Unmatched": float(w.size - pos.size),
            }
        return pd.DataFrame(rows)

    def balance(self, **kwargs: Any) -> pd.DataFrame:
        """Balance table before and after matching (:func:`rdstats.external.balance` with
        the matching weights)."""
        try:
            from rdstats.external._balance import balance
        except ImportError as exc:  # pragma: no cover - depends on the balance module
            raise NotImplementedError("balance diagnostics are not available") from exc
        kwargs.setdefault("estimand", self.estimand)
        if self.distance is not None:
            kwargs.setdefault("distance", self.distance)
        return balance(
            self.data, self.treatment, list(self.covariates), weights=self.weights, **kwargs
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record of the settings, sample sizes, matches and weights."""
        labels = [str(i) for i in self.data.index]
        mm = {
            str(k): [None if v is None else str(v) for v in row]
            for k, row in zip(self.match_matrix.index, self.match_matrix.to_numpy(), strict=True)
        }
        return {
            "method": self.method,
            "estimand": self.estimand,
            "ratio": self.ratio,
            "replace": self.replace,
            "order": self.order,
            "caliper": self.caliper,
            "caliper_scale": self.caliper_scale,
            "caliper_width": self.caliper_width,
            "exact": None if self.exact is None else list(self.exact),
            "distance": self.distance_kind,
            "sample_sizes": self.summary().to_dict(),
            "matches": mm,
            "weights": {
                lab: float(w) for lab, w in zip(labels, self.weights, strict=True) if w > 0
            },
            "discarded": [str(i) for i in self.discarded],
            "provenance": self.provenance,
        }

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>MatchResult</b>: {self.method} {self.ratio}:1 matching on "
            f"{self.distance_kind}, estimand {self.estimand}, "
            f"{'with' if self.replace else 'without'} replacement</p>"
        )
        return head + self.summary().to_html(float_format=lambda v: f"{v:.4g}")

    def plot(self, ax: Axes | None = None) -> Axes:
        """Jitter plot of the distance of matched and unmatched units by group."""
        from rdstats.plotting._external_match import plot_match_jitter

        return plot_match_jitter(self, ax=ax)
