"""Balancing weights for external-control comparisons: propensity-score weights for the
ATT (odds weights), ATE (inverse probability) and ATO (overlap weights), and entropy
balancing; effective sample sizes and weight summaries."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rdstats._provenance import provenance
from rdstats._validation import as_float_array, readonly, real_number
from rdstats.external._balance import balance as _balance
from rdstats.external._data import check_frame, covariate_matrix, treatment_indicator
from rdstats.external._entropy import entropy_weights
from rdstats.external._propensity import PropensityScores, propensity_scores

__all__ = ["WeightResult", "effective_sample_size", "weight"]

_ESTIMANDS = ("ATT", "ATE", "ATO")


def effective_sample_size(weights: NDArray[np.float64]) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2``.

    The number of equally weighted units that would give a weighted mean the same
    variance (for independent units of equal variance); it equals the number of units
    with positive weight when those weights are equal, and is 0 when all weights are 0.

    Parameters
    ----------
    weights : array-like
        Non-negative weights of one group.

    Returns
    -------
    float

    References
    ----------
    Kish L (1965). Survey Sampling. New York: Wiley (section 11.7).

    Examples
    --------
    >>> from rdstats.external._weighting import effective_sample_size
    >>> effective_sample_size([1.0, 1.0, 1.0, 1.0])
    4.0
    >>> round(effective_sample_size([1.0, 1.0, 2.0, 4.0]), 4)  # 8^2 / 22
    2.9091
    """
    w = np.asarray(weights, dtype=float)
    s2 = float(np.sum(w**2))
    return float(np.sum(w) ** 2 / s2) if s2 > 0 else 0.0


@dataclasses.dataclass(frozen=True)
class WeightResult:
    """Balancing weights.

    Attributes
    ----------
    weights : ndarray
        One weight per row of the data (0 for trimmed units).
    treatment : ndarray
        The 0/1 treatment indicator.
    estimand, method : str
        What the weights target and how they were obtained.
    ess : dict
        Kish effective sample size per group (``"treated"``, ``"control"``).
    weight_summary : DataFrame
        Per group: n, min, max, mean, sd and coefficient of variation of the weights,
        number of zero weights and effective sample size.
    propensity : PropensityScores or None
        The propensity model (method ``"ps"``).
    provenance : dict
    """

    weights: NDArray[np.float64]
    treatment: NDArray[np.int64]
    estimand: str
    method: str
    ess: dict[str, float]
    weight_summary: pd.DataFrame
    propensity: PropensityScores | None = dataclasses.field(repr=False)
    provenance: dict[str, Any] = dataclasses.field(repr=False)
    _data: pd.DataFrame = dataclasses.field(repr=False, compare=False)
    _treatment_name: str = dataclasses.field(repr=False, compare=False)
    _covariates: tuple[str, ...] = dataclasses.field(repr=False, compare=False)

    def balance(self, covariates: Sequence[str] | None = None) -> pd.DataFrame:
        """Balance table before and after weighting (see :func:`balance`), with the
        propensity-score distance when a propensity model was fitted."""
        return _balance(
            self._data,
            self._treatment_name,
            list(covariates) if covariates is not None else list(self._covariates),
            weights=self.weights,
            estimand=self.estimand,
            distance=self.propensity,
        )

    def summary(self) -> pd.DataFrame:
        """The weight summary table."""
        return self.weight_summary.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of the result."""
        return {
            "estimand": self.estimand,
            "method": self.method,
            "weights": self.weights.tolist(),
            "ess": dict(self.ess),
            "weight_summary": {
                str(k): {c: float(v) for c, v in row.items()}
                for k, row in self.weight_summary.iterrows()
            },
            "provenance": self.provenance,
        }

    def _repr_html_(self) -> str:
        return (
            f"<b>WeightResult</b> ({self.method}, {self.estimand})<br>"
            + self.weight_summary.to_html(float_format="{:.4g}".format)
        )

    def plot(self, ax: Any = None, threshold: float = 0.1) -> Any:
        """Love plot of the balance before and after weighting."""
        from rdstats.plotting._external_balance import love_plot

        return love_plot(self.balance(), threshold=threshold, ax=ax)


def _summary(w: NDArray[np.float64], t: NDArray[np.int64]) -> pd.DataFrame:
    rows = {}
    for name, g in (("treated", 1), ("control", 0)):
        s = w[t == g]
        mean = float(s.mean())
        sd = float(s.std(ddof=1)) if s.size > 1 else 0.0
        rows[name] = {
            "n": float(s.size),
            "min": float(s.min()),
            "max": float(s.max()),
            "mean": mean,
            "sd": sd,
            "cv": sd / mean if mean > 0 else float("nan"),
            "n_zero": float(np.sum(s == 0)),
            "ess": effective_sample_size(s),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def _ps_weights(e: NDArray[np.float64], t: NDArray[np.int64], estimand: str) -> NDArray[np.float64]:
    if estimand == "ATT":
        return np.where(t == 1, 1.0, e / (1 - e))
    if estimand == "ATE":
        return np.where(t == 1, 1 / e, 1 / (1 - e))
    return np.where(t == 1, 1 - e, e)  # ATO: overlap weights


def _trim(
    w: NDArray[np.float64], t: NDArray[np.int64], e: NDArray[np.float64] | None, trim: Any
) -> NDArray[np.float64]:
    w = w.copy()
    if isinstance(trim, tuple) and len(trim) == 2 and trim[0] == "ps":
        a = real_number(trim[1], "trim threshold")
        if not 0 < a < 0.5:
            raise ValueError(f"trim=('ps', a) needs 0 < a < 0.5, got {trim[1]!r}")
        if e is None:
            raise ValueError("trim=('ps', a) needs propensity scores (method='ps')")
        w[(e < a) | (e > 1 - a)] = 0.0
        if not (w[t == 1] > 0).any() or not (w[t == 0] > 0).any():
            raise ValueError(f"trim={trim!r} removes every unit of a group")
        return w
    if isinstance(trim, bool) or not isinstance(trim, (int, float, np.floating)):
        raise TypeError(f"trim must be a quantile in [0.5, 1) or ('ps', a), got {trim!r}")
    q = float(trim)
    if not 0.5 <= q < 1:
        raise ValueError(f"trim quantile must be in [0.5, 1), got {trim!r}")
    for g in (0, 1):
        idx = t == g
        cap = float(np.quantile(w[idx], q))
        w[idx] = np.minimum(w[idx], cap)
    return w


def weight(
    data: pd.DataFrame,
    treatment: str,
    covariates: Sequence[str] | str,
    estimand: str = "ATT",
    method: str = "ps",
    stabilize: bool = False,
    trim: float | tuple[str, float] | None = None,
    ps: PropensityScores | Any = None,
    formula: str | None = None,
    moments: int = 1,
    ps_model: str = "logistic",
    ps_options: Mapping[str, Any] | None = None,
) -> WeightResult:
    """Balancing weights for comparing a treated (trial) group with controls.

    Parameters
    ----------
    data : DataFrame
        One row per patient.
    treatment : str
        Name of the 0/1 treatment (trial) column.
    covariates : sequence of str
        Covariates of the propensity model or balanced by entropy balancing.
    estimand : {"ATT", "ATE", "ATO"}
        ``"ATT"``: treated weight 1, controls ``e / (1 - e)`` (odds weights);
        ``"ATE"``: ``1 / e`` and ``1 / (1 - e)``; ``"ATO"``: overlap weights ``1 - e`` and
        ``e``.
    method : {"ps", "entropy"}
        Propensity-score weights, or entropy balancing (ATT: controls reweighted to the
        treated means; ATE: both groups reweighted to the full-sample means).
    stabilize : bool
        ATE only: multiply each group's weights by its share of the sample (Robins et al.
        2000).
    trim : float or ("ps", a), optional
        A quantile ``q`` in [0.5, 1): within each group, weights above their ``q``
        quantile are set to it (truncation). ``("ps", a)`` with ``0 < a < 0.5``: units
        whose propensity score is outside ``[a, 1 - a]`` get weight 0 (Crump et al. 2009).
    ps : PropensityScores or array-like, optional
        Propensity scores to use instead of fitting ``treatment ~ covariates``.
    formula : str, optional
        Propensity model formula (see :func:`propensity_scores`).
    moments : {1, 2}
        Entropy balancing: 1 matches means, 2 also second central moments (variances).
    ps_model : {"logistic", "probit", "cloglog", "spline", "cbps"}
        Propensity model fitted when ``ps`` is not given (``model`` of
        :func:`propensity_scores`).
    ps_options : dict, optional
        ``model_options`` of the propensity model (``{"df": 4}`` for ``"spline"``;
        ``{"estimand": ...}`` for ``"cbps"``, whose default is ``"ATT"`` for the ATT and
        ``"ATE"`` otherwise, so that ATT odds weights or ATE inverse-probability weights
        balance the covariate means exactly).

    Returns
    -------
    WeightResult

    References
    ----------
    Hainmueller J (2012). Entropy balancing for causal effects. Political Analysis
    20:25-46.

    Li F, Morgan KL, Zaslavsky AM (2018). Balancing covariates via propensity score
    weighting. JASA 113:390-400.

    Crump RK, Hotz VJ, Imbens GW, Mitnik OA (2009). Dealing with limited overlap in
    estimation of average treatment effects. Biometrika 96:187-199.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"t": [1, 1, 1, 0, 0, 0, 0, 0], "x": [3, 1, 4, 1, 5, 2, 0, 2]})
    >>> w = weight(d, "t", ["x"], estimand="ATT")
    >>> w.weights[:3].tolist()
    [1.0, 1.0, 1.0]
    >>> e = weight(d, "t", ["x"], method="entropy")
    >>> round(float((e.weights[3:] * d["x"][3:]).sum() / e.weights[3:].sum()), 6)
    2.666667
    """
    data = check_frame(data)
    t = treatment_indicator(data, treatment)
    if estimand not in _ESTIMANDS:
        raise ValueError(f"estimand must be one of {list(_ESTIMANDS)}, got {estimand!r}")
    if method not in ("ps", "entropy"):
        raise ValueError(f"method must be 'ps' or 'entropy', got {method!r}")
    if not isinstance(stabilize, bool):
        raise TypeError(f"stabilize must be True or False, got {stabilize!r}")
    if stabilize and estimand != "ATE":
        raise ValueError(f"stabilize=True applies to estimand='ATE' only, got {estimand!r}")
    cov = [covariates] if isinstance(covariates, str) else list(covariates)
    x = covariate_matrix(data, cov, drop_first=True)
    pres: PropensityScores | None = None
    e: NDArray[np.float64] | None = None
    if method == "ps":
        if ps is None:
            opts = None if ps_options is None else dict(ps_options)
            if ps_model == "cbps":
                opts = {"estimand": "ATT" if estimand == "ATT" else "ATE", **(opts or {})}
            pres = propensity_scores(
                data, treatment, cov, model=ps_model, formula=formula, model_options=opts
            )
            e = np.asarray(pres.scores)
        else:
            pres = ps if isinstance(ps, PropensityScores) else None
            given: Any = ps.scores if isinstance(ps, PropensityScores) else ps
            e = as_float_array(given, "ps")
            if e.shape != (len(data),):
                raise ValueError(f"ps must have one value per row ({len(data)}), got {e.shape}")
            if np.any((e <= 0) | (e >= 1)):
                raise ValueError("ps must lie strictly between 0 and 1")
        w = _ps_weights(e, t, estimand)
    else:
        if estimand == "ATO":
            raise ValueError("method='entropy' targets 'ATT' or 'ATE', not 'ATO'")
        if moments not in (1, 2):
            raise ValueError(f"moments must be 1 or 2, got {moments!r}")
        xv, names = x.to_numpy(dtype=float), [str(c) for c in x.columns]
        w = np.ones(len(data))
        if estimand == "ATT":
            w[t == 0] = entropy_weights(xv[t == 0], xv[t == 1], variances=moments == 2, names=names)
        else:
            for g in (0, 1):
                w[t == g] = entropy_weights(xv[t == g], xv, variances=moments == 2, names=names)
    if stabilize:
        w = w * np.where(t == 1, t.mean(), 1 - t.mean())
    if trim is not None:
        w = _trim(w, t, e, trim)
    if not np.all(np.isfinite(w)):
        raise ValueError("weights are not finite (propensity scores of exactly 0 or 1)")
    summ = _summary(w, t)
    args = {
        "treatment": treatment,
        "covariates": cov,
        "estimand": estimand,
        "method": method,
        "stabilize": stabilize,
        "trim": list(trim) if isinstance(trim, tuple) else trim,
        "formula": formula,
        "moments": moments,
        "ps_given": ps is not None,
        "ps_model": ps_model,
        "ps_options": None if ps_options is None else dict(ps_options),
    }
    return WeightResult(
        weights=readonly(w),
        treatment=readonly(t.copy()),
        estimand=estimand,
        method=method,
        ess={k: effective_sample_size(w[t == g]) for k, g in (("treated", 1), ("control", 0))},
        weight_summary=summ,
        propensity=pres,
        provenance=provenance(arguments=args),
        _data=data,
        _treatment_name=treatment,
        _covariates=tuple(cov),
    )
