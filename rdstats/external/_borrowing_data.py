"""Data of a PS-integrated borrowing analysis: a current trial (treated patients and
optionally concurrent controls) and an external natural-history cohort in one DataFrame,
with the propensity score of trial membership.

Shared by :func:`rdstats.external.ps_power_prior` and
:func:`rdstats.external.hybrid_control`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rdstats.external._data import check_frame, is_binary, treatment_indicator
from rdstats.external._propensity import PropensityScores, propensity_scores

__all__ = ["TrialExternalData", "analysis_arguments", "check_level", "trial_external_data"]

Array = NDArray[np.float64]
_OUTCOME_TYPES = ("auto", "continuous", "binary")


@dataclass(frozen=True)
class TrialExternalData:
    """Outcomes, group membership and trial-membership propensity scores.

    ``study`` is 1 for trial patients and 0 for external ones; ``treated`` is 1 for
    trial patients on the investigational treatment (external patients are controls).
    """

    y: Array
    study: NDArray[np.int64]
    treated: NDArray[np.int64]
    ps: PropensityScores
    binary: bool

    @property
    def scores(self) -> Array:
        return self.ps.scores

    @property
    def concurrent(self) -> NDArray[np.bool_]:
        """Concurrent (randomised, in-trial) controls."""
        return (self.study == 1) & (self.treated == 0)

    @property
    def external(self) -> NDArray[np.bool_]:
        return self.study == 0

    @property
    def n_treated(self) -> int:
        return int(self.treated.sum())

    @property
    def n_concurrent(self) -> int:
        return int(self.concurrent.sum())

    @property
    def n_external(self) -> int:
        return int(self.external.sum())


def check_level(level: Any) -> float:
    """A credible level in (0, 1)."""
    try:
        lev = float(level)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"level must be a number in (0, 1), got {level!r}") from exc
    if not 0.0 < lev < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    return lev


def _outcome(data: pd.DataFrame, outcome: str, outcome_type: str) -> tuple[Array, bool]:
    if outcome_type not in _OUTCOME_TYPES:
        raise ValueError(f"outcome_type must be one of {_OUTCOME_TYPES}, got {outcome_type!r}")
    if not isinstance(outcome, str) or outcome not in data.columns:
        raise ValueError(f"outcome {outcome!r} is not a column of the data")
    col = data[outcome]
    if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
        raise ValueError(f"outcome {outcome!r} must be numeric, got dtype {col.dtype}")
    if col.isna().any():
        rows = data.index[col.isna()][:5].tolist()
        raise ValueError(
            f"outcome {outcome!r} has {int(col.isna().sum())} missing values (rows {rows})"
        )
    y = col.to_numpy(dtype=float)
    if not np.all(np.isfinite(y)):
        raise ValueError(f"outcome {outcome!r} has non-finite values")
    binary = is_binary(col)
    if outcome_type == "binary" and not binary:
        raise ValueError(
            f"outcome_type='binary' needs a 0/1 outcome; {outcome!r} has values "
            f"{sorted(pd.unique(col).tolist())[:10]}"
        )
    if outcome_type == "continuous":
        binary = False
    return y, binary


def trial_external_data(
    data: Any,
    outcome: str,
    covariates: Sequence[str] | str | None,
    *,
    study: str,
    treatment: str | None,
    outcome_type: str = "auto",
    formula: str | None = None,
    ps_model: str = "logistic",
) -> TrialExternalData:
    """Validate the data and fit the propensity score of trial membership.

    ``treatment=None`` means a single-arm trial (every trial patient is treated).
    ``formula``/``ps_model`` are passed to :func:`propensity_scores` with ``study``
    as its treatment.
    """
    data = check_frame(data)
    s = treatment_indicator(data, study)
    if treatment is None:
        treated = s.copy()
    else:
        if treatment == study:
            raise ValueError(
                f"treatment must differ from study ({study!r}); use treatment=None for a "
                "single-arm trial"
            )
        a = treatment_indicator(data, treatment) if treatment in data.columns else None
        if a is None:
            raise ValueError(f"treatment {treatment!r} is not a column of the data")
        if np.any((a == 1) & (s == 0)):
            bad = data.index[(a == 1) & (s == 0)][:5].tolist()
            raise ValueError(
                f"external patients (study == 0) must be controls (treatment == 0); "
                f"{int(np.sum((a == 1) & (s == 0)))} are treated (rows {bad})"
            )
        treated = a
    y, binary = _outcome(data, outcome, outcome_type)
    ps = propensity_scores(data, study, covariates, model=ps_model, formula=formula)
    return TrialExternalData(y=y, study=s, treated=treated, ps=ps, binary=binary)


def analysis_arguments(
    d: TrialExternalData,
    *,
    outcome: str,
    covariates: Sequence[str] | str | None,
    study: str,
    treatment: str | None,
    formula: str | None,
    level: float,
    threshold: float,
    **specific: Any,
) -> dict[str, Any]:
    """The JSON-safe arguments of a borrowing analysis for its provenance record."""
    covs = [covariates] if isinstance(covariates, str) else covariates
    return {
        "outcome": outcome,
        "covariates": None if covs is None else list(covs),
        "study": study,
        "treatment": treatment,
        **specific,
        "outcome_type": "binary" if d.binary else "continuous",
        "level": level,
        "threshold": threshold,
        "formula": formula,
    }
