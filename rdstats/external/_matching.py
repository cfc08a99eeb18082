"""Matching of trial (treated) patients to external controls: greedy nearest-neighbour
matching in MatchIt's conventions and optimal k:1 matching, on a propensity score (or its
logit), a user-supplied score or the Mahalanobis distance, with calipers and exact
matching."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rdstats._provenance import provenance
from rdstats._validation import as_float_array, readonly, real_number
from rdstats.external import _match_algorithms as alg
from rdstats.external._data import check_frame, covariate_matrix, treatment_indicator
from rdstats.external._match_result import MatchResult

if TYPE_CHECKING:
    pass

__all__ = ["MatchResult", "match"]

_METHODS = ("nearest", "optimal", "full")
_ORDERS = {
    "largest": "largest",
    "descending": "largest",
    "smallest": "smallest",
    "ascending": "smallest",
    "random": "random",
    "data": "data",
}
_ADDED = ("weights", "subclass", "distance")


_PS_DISTANCES = {
    "glm": "logistic",
    "logistic": "logistic",
    "probit": "probit",
    "cloglog": "cloglog",
    "spline": "spline",
    "cbps": "cbps",
}


def _ps_glm(
    data: pd.DataFrame,
    treatment: str,
    covariates: Sequence[str] | str,
    model: str = "logistic",
    options: Mapping[str, Any] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Propensity scores of :func:`rdstats.external.propensity_scores` (``model``) and
    their logits."""
    from rdstats.external._propensity import propensity_scores

    ps = propensity_scores(data, treatment, covariates, model=model, model_options=options)
    e = np.asarray(ps.scores, dtype=float)
    if model in ("logistic", "spline", "cbps"):
        return e, np.asarray(ps.linear_predictor, dtype=float)
    return e, np.log(e) - np.log1p(-e)


def _check_choice(value: Any, name: str, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value


def _exact_strata(
    data: pd.DataFrame, exact: Any
) -> tuple[NDArray[np.int64] | None, tuple[str, ...] | None]:
    if exact is None:
        return None, None
    cols = (exact,) if isinstance(exact, str) else tuple(exact)
    missing = [c for c in cols if c not in data.columns]
    if not cols or missing:
        raise ValueError(f"exact must name columns of the data, got {exact!r}")
    if data[list(cols)].isna().any().any():
        raise ValueError(f"exact-matching columns {list(cols)} have missing values")
    codes = np.asarray(data.groupby(list(cols), sort=True).ngroup(), dtype=np.int64)
    return codes, tuple(str(c) for c in cols)


def _distance(
    data: pd.DataFrame,
    treatment: str,
    covariates: Sequence[str] | str,
    distance: Any,
    scale: str,
    options: Mapping[str, Any] | None = None,
) -> tuple[NDArray[np.float64] | None, str]:
    if isinstance(distance, str):
        kind = _check_choice(distance, "distance", (*_PS_DISTANCES, "mahalanobis"))
        if kind == "mahalanobis":
            if options:
                raise ValueError("distance_options apply to propensity-score distances only")
            return None, "mahalanobis"
        model = _PS_DISTANCES[kind]
        ps, lp = _ps_glm(data, treatment, covariates, model, options)
        label = "" if model == "logistic" else f" ({model})"
        if scale == "logit":
            return lp, f"logit of the propensity score{label}"
        return ps, f"propensity score{label}"
    if options:
        raise ValueError("distance_options apply to propensity-score distances only")
    d = as_float_array(distance, "distance")
    if d.shape != (len(data),):
        raise ValueError(
            f"distance must be 'glm', 'mahalanobis' or one score per row ({len(data)}), "
            f"got an array of shape {d.shape}"
        )
    if scale == "logit":
        if np.any((d <= 0) | (d >= 1)):
            raise ValueError("caliper_scale='logit' needs distance scores strictly in (0, 1)")
        return np.log(d / (1 - d)), "logit of the supplied score"
    return d, "supplied score"


def match(
    data: pd.DataFrame,
    treatment: str,
    covariates: Sequence[str] | str,
    method: str = "nearest",
    ratio: int = 1,
    replace: bool = False,
    caliper: float | None = None,
    caliper_scale: str = "ps",
    exact: Sequence[str] | str | None = None,
    estimand: str = "ATT",
    order: str | None = None,
    distance: str | NDArray[np.float64] = "glm",
    rng: np.random.Generator | int | None = None,
    distance_options: Mapping[str, Any] | None = None,
) -> MatchResult:
    """Match treated (trial) patients to external controls.

    Parameters
    ----------
    data : DataFrame
        One row per patient.
    treatment : str
        Binary treatment column (1 = trial / treated).
    covariates : sequence of str
        Covariates of the propensity-score model (``distance="glm"``) or of the
        Mahalanobis distance; categorical columns enter as indicators.
    method : {"nearest", "optimal", "full"}
        Greedy nearest-neighbour matching; optimal k:1 matching (smallest total distance
        among matchings of the largest possible size; without replacement); or optimal
        full matching (every unit with an allowed partner is placed in a set of one focal
        unit and several candidates or one candidate and several focal units, minimising
        the total within-set distance; ``ratio`` and ``order`` do not apply; the only
        method for ``estimand="ATE"``).
    ratio : int
        Number of controls per focal unit (k:1 matching).
    replace : bool
        Whether a control may be matched to several focal units (``"nearest"`` only).
    caliper : float, optional
        Caliper in standard deviations of the distance (the SD over all units); pairs
        further apart are not matched. Not available with the Mahalanobis distance.
    caliper_scale : {"ps", "logit"}
        Match and apply the caliper on the propensity score, or on its logit (the linear
        predictor, MatchIt's ``link = "linear.logit"``).
    exact : str or sequence of str, optional
        Columns within whose strata units must be matched.
    estimand : {"ATT", "ATC", "ATE"}
        Focal group: the treated (ATT) or the controls (ATC). ``"ATE"`` (full matching
        only, as in MatchIt): the sets are those of full matching, and every unit weighs
        ``1 + (units of the other group in its set) / (units of its group in its set)``,
        rescaled within each group to sum to that group's number of matched units, so
        that both groups are weighted to the distribution of the whole matched sample.
    order : {"descending", "largest", "ascending", "smallest", "random", "data"}, optional
        Order in which focal units choose controls in greedy matching: largest distance
        first (default for a scalar distance), smallest first, random (``rng``) or data
        order (default for the Mahalanobis distance).
    distance : str or array
        A propensity score from :func:`rdstats.external.propensity_scores`: ``"glm"``
        (or ``"logistic"``), ``"probit"``, ``"cloglog"``, ``"spline"`` or ``"cbps"``;
        ``"mahalanobis"``: the Mahalanobis distance on the covariates (pooled
        within-group covariance); or one score per row. With ``caliper_scale="logit"``
        every propensity model is matched on the logit of its scores.
    rng : Generator or int, optional
        Random generator (or seed) for ``order="random"``.
    distance_options : dict, optional
        ``model_options`` of the propensity model (``{"df": 4}`` for ``"spline"``;
        ``{"estimand": ...}`` for ``"cbps"``, whose default is ``"ATE"`` when
        ``estimand="ATE"`` and ``"ATT"`` otherwise).

    Returns
    -------
    MatchResult

    Notes
    -----
    When fewer controls are left than ``ratio`` times the focal units (without
    replacement), matching continues as far as controls last and warns, as MatchIt does.
    Greedy k:1 matching without replacement gives every focal unit its first control
    before any gets its second. Full matching is solved exactly as a minimum-cost edge
    cover (an integer programme with an integral LP relaxation, HiGHS through scipy); it
    has no ``min.controls``/``max.controls`` limits and grows with n_treated * n_control.

    References
    ----------
    Ho, D. E., Imai, K., King, G. and Stuart, E. A. (2011). MatchIt: nonparametric
    preprocessing for parametric causal inference. *Journal of Statistical Software*
    42(8). Austin, P. C. (2011). Optimal caliper widths for propensity-score matching.
    *Pharmaceutical Statistics* 10, 150-161. Rosenbaum, P. R. (1989). Optimal matching for
    observational studies. *JASA* 84, 1024-1032.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"t": [1, 1, 0, 0, 0, 0], "x": [0.9, 0.2, 1.0, 0.3, 0.1, 0.5]})
    >>> res = match(df, "t", ["x"], distance=df["x"].to_numpy())
    >>> res.match_matrix[1].tolist()
    [2, 3]
    >>> res.weights.tolist()
    [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    """
    data = check_frame(data)
    t = treatment_indicator(data, treatment)
    cov_list = [covariates] if isinstance(covariates, str) else list(covariates)
    method = _check_choice(method, "method", _METHODS)
    estimand = _check_choice(estimand, "estimand", ("ATT", "ATC", "ATE"))
    if estimand == "ATE" and method != "full":
        raise ValueError(
            f"estimand='ATE' is available with method='full' only (as in MatchIt); "
            f"method={method!r} supports 'ATT' and 'ATC'"
        )
    caliper_scale = _check_choice(caliper_scale, "caliper_scale", ("ps", "logit"))
    if isinstance(ratio, bool) or not isinstance(ratio, numbers.Integral) or ratio < 1:
        raise ValueError(f"ratio must be a positive integer, got {ratio!r}")
    ratio = int(ratio)
    if not isinstance(replace, (bool, np.bool_)):
        raise TypeError(f"replace must be True or False, got {replace!r}")
    if method != "nearest" and replace:
        raise ValueError(f"method={method!r} matches without replacement; use replace=False")
    if method == "full" and ratio != 1:
        raise ValueError(f"ratio applies to 'nearest' and 'optimal' matching, got {ratio!r}")
    clash = [c for c in _ADDED if c in data.columns]
    if clash:
        raise ValueError(f"data already has columns {clash}, which matched_data adds; rename them")
    if caliper is not None:
        caliper = real_number(caliper, "caliper")
        if caliper <= 0:
            raise ValueError(f"caliper must be > 0 (in SDs of the distance), got {caliper!r}")
    covariate_matrix(data, cov_list)  # validate covariates (missing values, types)
    opts = None if distance_options is None else dict(distance_options)
    if isinstance(distance, str) and distance == "cbps":
        opts = {"estimand": "ATE" if estimand == "ATE" else "ATT", **(opts or {})}
    d, kind = _distance(data, treatment, cov_list, distance, caliper_scale, opts)
    if order is None:
        order = "data" if d is None else "descending"
    order_key = _ORDERS[_check_choice(order, "order", tuple(_ORDERS))]
    if d is None and order_key in ("largest", "smallest"):
        raise ValueError(f"order={order!r} needs a scalar distance; use 'data' or 'random'")
    if d is None and caliper is not None:
        raise ValueError("caliper needs a scalar distance (propensity score), not 'mahalanobis'")
    gen = None
    if order_key == "random":
        if rng is None:
            raise ValueError("order='random' needs rng (a numpy Generator or an integer seed)")
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    strata, exact_cols = _exact_strata(data, exact)

    focal_flag = 0 if estimand == "ATC" else 1
    fpos = np.flatnonzero(t == focal_flag)
    cpos = np.flatnonzero(t != focal_flag)
    n_f, n_c = fpos.size, cpos.size
    if method != "full" and not replace and ratio * n_f > n_c:
        warnings.warn(
            f"ratio * focal units ({ratio} * {n_f}) exceeds the {n_c} controls available "
            "without replacement; some focal units get fewer matches",
            UserWarning,
            stacklevel=2,
        )
    width = None if caliper is None or d is None else caliper * float(np.std(d, ddof=1))
    fs = None if strata is None else strata[fpos]
    cs = None if strata is None else strata[cpos]
    if d is None:
        x = covariate_matrix(data, cov_list).to_numpy()
        cov = _pooled_covariance(x[t == 1], x[t == 0])
        rows = alg.mahalanobis_rows(x[fpos], x[cpos], cov, fs, cs)
    else:
        rows = alg.abs_difference_rows(d[fpos], d[cpos], width, fs, cs)
    if method == "nearest":
        seq = alg.match_order(n_f, None if d is None else d[fpos], order_key, gen)
        sets = _sets(alg.greedy_nearest(rows, n_f, n_c, seq, ratio, bool(replace)))
    else:
        cost = np.vstack([rows(i) for i in range(n_f)]) if n_f else np.zeros((0, n_c))
        if method == "optimal":
            sets = _sets(alg.optimal_matching(cost, ratio))
        else:
            lab_f, lab_c = alg.full_matching(cost)
            sets = [
                (np.flatnonzero(lab_f == s), np.flatnonzero(lab_c == s))
                for s in range(int(lab_f.max(initial=-1)) + 1)
            ]
    if not sets:
        why, fix = [], []
        if caliper is not None:
            why.append(f"outside the caliper ({caliper!r} SD of the distance)")
            fix.append("widen the caliper")
        if exact_cols:
            why.append(f"across the exact-matching strata of {list(exact_cols)}")
            fix.append("match exactly on fewer columns")
        raise ValueError(
            "no focal unit could be matched"
            + (
                f": every focal-control pair lies {' or '.join(why)}; {' or '.join(fix)}"
                if why
                else ""
            )
        )
    weights, subclass = _set_weights(sets, fpos, cpos, len(data), bool(replace))
    if estimand == "ATE":
        weights = alg.ate_set_weights(sets, fpos, cpos, len(data))
    labels = data.index
    subclass.index = labels
    partners: dict[int, list[Any]] = {}
    for fs_, cs_ in sets:
        for i in fs_:
            partners[int(i)] = [labels[cpos[j]] for j in cs_]
    width_mm = max(len(v) for v in partners.values())
    table = pd.DataFrame(
        [partners.get(i, []) + [None] * (width_mm - len(partners.get(i, []))) for i in range(n_f)],
        index=labels[fpos],
        columns=list(range(1, width_mm + 1)),
        dtype=object,
    )
    args = {
        "treatment": treatment,
        "covariates": cov_list,
        "method": method,
        "ratio": ratio,
        "replace": bool(replace),
        "caliper": caliper,
        "caliper_scale": caliper_scale,
        "exact": None if exact_cols is None else list(exact_cols),
        "estimand": estimand,
        "order": order,
        "distance": distance if isinstance(distance, str) else "array",
        "distance_options": opts,
    }
    return MatchResult(
        data=data,
        treatment=treatment,
        covariates=tuple(cov_list),
        method=method,
        estimand=estimand,
        ratio=ratio,
        replace=bool(replace),
        order=order,
        caliper=caliper,
        caliper_scale=caliper_scale,
        caliper_width=width,
        exact=exact_cols,
        distance_kind=kind,
        distance=None if d is None else readonly(d),
        weights=readonly(weights),
        subclass=subclass,
        match_matrix=table,
        discarded=labels[fpos[[i not in partners for i in range(n_f)]]],
        provenance=provenance(arguments=args, seed=rng if isinstance(rng, int) else None),
    )


def _pooled_covariance(x1: NDArray[np.float64], x0: NDArray[np.float64]) -> NDArray[np.float64]:
    """Pooled within-group covariance matrix of the covariates."""
    s = np.zeros((x1.shape[1], x1.shape[1]))
    for g in (x1, x0):
        if g.shape[0] > 1:
            s += np.atleast_2d(np.cov(g, rowvar=False)) * (g.shape[0] - 1)
    return s / max(x1.shape[0] + x0.shape[0] - 2, 1)


Sets = list[tuple[NDArray[np.int64], NDArray[np.int64]]]


def _sets(mm: NDArray[np.int64]) -> Sets:
    """Matched sets (focal positions, candidate positions) of a match matrix."""
    return [
        (np.array([i], dtype=np.int64), row[row >= 0]) for i, row in enumerate(mm) if row[0] >= 0
    ]


def _set_weights(
    sets: Sets, fpos: NDArray[np.int64], cpos: NDArray[np.int64], n: int, replace: bool
) -> tuple[NDArray[np.float64], pd.Series]:
    """MatchIt-style weights and set labels: focal units in a set weigh 1, candidates sum
    (over their sets) the number of focal units over the number of candidates in the set,
    scaled so that the candidate weights sum to the number of matched candidates."""
    w = np.zeros(n)
    sub = np.zeros(n, dtype=np.int64)
    for k, (f, c) in enumerate(sets, start=1):
        w[fpos[f]] = 1.0
        np.add.at(w, cpos[c], f.size / c.size)
        sub[fpos[f]] = k
        sub[cpos[c]] = k
    ctl = cpos[w[cpos] > 0]
    w[ctl] *= ctl.size / w[ctl].sum()
    labels = pd.array(sub, dtype="Int64")
    labels[(sub == 0) | replace] = pd.NA
    return w, pd.Series(labels)


def _weights(
    mm: NDArray[np.int64], fpos: NDArray[np.int64], cpos: NDArray[np.int64], n: int, replace: bool
) -> tuple[NDArray[np.float64], pd.Series]:
    """Weights and set labels from a match matrix (see :func:`_set_weights`)."""
    return _set_weights(_sets(mm), fpos, cpos, n, replace)
