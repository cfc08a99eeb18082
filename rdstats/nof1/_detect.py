"""detect_jump: exact Bayesian detection of one change ("jump step") in a single
patient's series, with the change-time prior anchored at the start of treatment."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from rdstats._provenance import provenance
from rdstats._validation import readonly, real_number
from rdstats.nof1._families import (
    ChangeFit,
    fit_normal,
    fit_ordinal,
    fit_poisson,
    slope_prior_variance,
)
from rdstats.nof1._inputs import (
    Series,
    _score_range,
    check_model,
    check_options,
    check_priors,
    check_series,
)
from rdstats.nof1._prior import change_time_prior
from rdstats.nof1._result import JumpResult

Array = NDArray[np.float64]

__all__ = ["detect_jump", "fit_series", "posterior_weights"]


def fit_series(
    s: Series,
    family: str,
    *,
    trend: bool,
    slope: bool,
    ar1: bool,
    unit: float,
    jump_prior_sd: float,
    slope_prior_sd: float | None,
    score_range: Any,
    ordinal_model: str = "categorical",
    jump_prior: str = "normal",
) -> tuple[ChangeFit, dict[str, Any]]:
    """The family's change fit and the options used (for results and plots)."""
    opts: dict[str, Any] = {"trend": trend, "slope": slope, "ar1": ar1, "unit": unit}
    if family == "normal":
        span = float(s.times[-1] - s.times[0])
        v_d = jump_prior_sd**2
        v_g = slope_prior_variance(jump_prior_sd, slope_prior_sd, span)
        opts.update(v_delta=v_d, v_gamma=v_g, jump_prior=jump_prior)
        fit = fit_normal(
            s.y,
            s.times,
            trend=trend,
            slope=slope,
            ar1=ar1,
            unit=unit,
            v_delta=v_d,
            v_gamma=v_g,
            jump_prior=jump_prior,
        )
    elif family == "poisson":
        opts["exposure"] = s.exposure
        fit = fit_poisson(s.y, s.times, s.exposure, trend=trend)
    else:
        lo, hi = _score_range(score_range)
        opts["score_range"] = (lo, hi)
        opts["ordinal_model"] = ordinal_model
        fit = fit_ordinal(s.y, lo, hi, ordinal_model)
    return fit, opts


def posterior_weights(
    log_m_change: Array, log_m_null: Array, prior: Array, prob_change: float
) -> tuple[Array, Array, float, float]:
    """Posterior weights of (grid, candidate) and of (grid, no change), P(change) and the
    log Bayes factor. ``log_m_change`` (G, n) and ``log_m_null`` (G,) include the grid's
    log prior."""
    with np.errstate(divide="ignore"):
        lp = np.log(prior)
    lc = log_m_change + lp[None, :]
    num, den = special.logsumexp(lc), special.logsumexp(log_m_null)
    log_bf = float(num - den)
    log_z = np.logaddexp(math.log(prob_change) + num, math.log1p(-prob_change) + den)
    w = np.exp(math.log(prob_change) + lc - log_z)
    w0 = np.exp(math.log1p(-prob_change) + log_m_null - log_z)
    return w, w0, float(w.sum()), log_bf


def _unit(times: Array, time_unit: Any) -> float:
    if time_unit is None:
        return float(np.median(np.diff(times)))
    u = real_number(time_unit, "time_unit")
    if not u > 0:
        raise ValueError(f"time_unit must be positive, got {time_unit!r}")
    return u


def detect_jump(
    y: Any,
    times: Any = None,
    treatment_start: float | None = None,
    family: str = "normal",
    trend: bool = False,
    ar1: bool = False,
    mcid: float | None = None,
    direction: str = "increase",
    change_prior: Any = None,
    max_lag: float | None = None,
    *,
    slope: bool = False,
    outcomes: Sequence[str] | None = None,
    prob_change: float = 0.5,
    off_window: float = 0.05,
    jump_prior_sd: float = 2.0,
    jump_prior: str = "normal",
    slope_prior_sd: float | None = None,
    time_unit: float | None = None,
    exposure: Any = None,
    score_range: tuple[int, int] | None = None,
    ordinal_model: str = "categorical",
    level: float = 0.95,
    dropna: bool = False,
) -> Any:
    """Posterior probability, time and size of a change ("jump step") in one patient's
    series, exact by summing closed-form marginal likelihoods over the change visit.

    Parameters
    ----------
    y : array_like, Series or DataFrame
        The patient's outcomes in visit order (a DataFrame with ``outcomes`` for several
        outcomes sharing one change time, see Notes).
    times : array_like or str, optional
        Visit times, strictly increasing, possibly unequally spaced (default: the index
        of a numeric Series, else 0, 1, ...). A column name when ``y`` is a DataFrame.
    treatment_start : float, optional
        Time treatment started; anchors the change-time prior and defines "after start".
    family : {"normal", "poisson", "ordinal"}
        Continuous outcomes; counts (jump = rate ratio); bounded integer scores with
        ``score_range`` (categorical or binomial segments, ``ordinal_model``; jump on the
        score scale).
    trend : bool
        Pre-existing linear trend (the patient's own natural-history progression); for
        counts a log-linear trend.
    ar1 : bool
        AR(1) errors (normal), ``corr = rho^(dt / time_unit)`` with ``rho`` integrated over
        a 50-point grid on (0, 1).
    mcid : float, optional
        Clinically meaningful jump (>= 0, in outcome units; a rate ratio for counts).
    direction : {"increase", "decrease"}
        Direction of a beneficial jump.
    change_prior : {"anchored", "uniform"} or array_like, optional
        Prior of the change visit given a change: anchored at ``treatment_start``
        (default when it is given; ``1 - off_window`` of the mass evenly on visits in
        ``[treatment_start, treatment_start + max_lag]``), uniform over all visits
        (default otherwise; exploratory), or weights for visits 2..n.
    max_lag : float, optional
        Latest time after ``treatment_start`` at which a treatment-caused change can
        start (anchored prior).
    slope : bool
        Also a change in slope at the change (normal); enables :meth:`JumpResult.sustained`
        to use the post-change trajectory.
    outcomes : sequence of str, optional
        Columns of a DataFrame ``y`` analysed jointly with one shared change time.
    prob_change : float
        Prior probability of any change.
    off_window : float
        Prior mass of changes outside the anchoring window.
    jump_prior_sd : float
        Normal: prior SD of the jump in units of the residual SD
        (``delta | sigma ~ N(0, (jump_prior_sd sigma)^2)``). The default 2 is the
        unit-information prior of a step half-way through the series (the jump's
        sampling variance ``sigma^2 (1/n_1 + 1/n_2) = 4 sigma^2 / n`` times ``n``; Kass &
        Wasserman 1995), proper so that the Bayes factor is defined. Because it scales
        with sigma, a very large jump after few post-change visits is shrunk by a fixed
        fraction and inflates sigma: use ``jump_prior="cauchy"`` there. Wider priors
        penalise small jumps more (Lindley's paradox).
    jump_prior : {"normal", "cauchy"}
        Normal: the conjugate prior above (exact, fastest). Cauchy: ``delta / sigma``
        Cauchy with scale ``jump_prior_sd`` (the Zellner-Siow mixture of normal priors,
        integrated by 16-point quadrature over its scale): heavy tails, so large jumps
        are not shrunk (Liang et al. 2008); 16 times the computation.
    slope_prior_sd : float, optional
        Normal slope model: prior SD of the slope change in residual SDs per time unit
        (default ``4 jump_prior_sd / (t_n - t_1)``: a slope change that accumulates to one
        jump-prior SD over a quarter of the observation span).
    time_unit : float, optional
        Time over which the AR(1) correlation is ``rho`` (default: the median spacing).
    exposure : array_like, str or dict, optional
        Counts: exposure of each visit's count (default 1); with ``outcomes`` a column
        name, an array or a dict per outcome.
    score_range : (int, int), optional
        Ordinal: lowest and highest possible score.
    ordinal_model : {"categorical", "binomial"}
        Ordinal segment model: Dirichlet-categorical (no dispersion assumed; the jump's
        distribution moment-matched) or binomial-beta (exact, assumes binomial
        dispersion). See :mod:`rdstats.nof1._families`.
    level : float
        Credible level of the jump interval and change-time credible set.
    dropna : bool
        Drop visits with missing outcomes (otherwise missing values are an error).

    Returns
    -------
    JumpResult
        (a ``MultiJumpResult`` with ``outcomes``).

    Notes
    -----
    Normal model (given the change visit ``j`` and ``rho``): ``y_i = mu [+ beta t_i] +
    delta 1(i >= j) [+ gamma (t_i - t_j) 1(i >= j)] + e_i`` with flat priors on the
    nuisance coefficients, ``p(sigma^2) ∝ 1/sigma^2`` and normal priors on the change
    coefficients scaled by sigma: the marginal likelihood is closed form (normal-inverse-
    gamma), the jump given ``j`` is Student t, and the posterior of the change visit, the
    Bayes factor against "no change" and the jump's mixture posterior are exact sums over
    ``j`` (and the ``rho`` grid). See :mod:`rdstats.nof1._normal_kernel` and
    :mod:`rdstats.nof1._families`.

    References
    ----------
    .. [1] Smith AFM. A Bayesian approach to inference about a change-point in a sequence
       of random variables. Biometrika 1975;62:407-416.
    .. [2] Carlin BP, Gelfand AE, Smith AFM. Hierarchical Bayesian analysis of changepoint
       problems. Applied Statistics 1992;41:389-405.
    .. [3] Fearnhead P. Exact and efficient Bayesian inference for multiple changepoint
       problems. Statistics and Computing 2006;16:203-213.

    Examples
    --------
    >>> import numpy as np
    >>> from rdstats.nof1 import detect_jump
    >>> rng = np.random.default_rng(1)
    >>> y = np.r_[rng.normal(5, 1, 12), rng.normal(8, 1, 12)]
    >>> res = detect_jump(y, treatment_start=10, mcid=1.5)
    >>> round(res.prob_change, 3), res.map_change_time
    (1.0, 12.0)
    >>> round(res.prob_jump_exceeds(), 3)
    1.0
    """
    off, sd, ssd = check_priors(off_window, jump_prior_sd, slope_prior_sd)
    if jump_prior not in ("normal", "cauchy"):
        raise ValueError(f"jump_prior must be 'normal' or 'cauchy', got {jump_prior!r}")
    if outcomes is not None:
        from rdstats.nof1._multi import detect_jump_multi

        return detect_jump_multi(
            y,
            outcomes,
            times=times,
            treatment_start=treatment_start,
            family=family,
            trend=trend,
            ar1=ar1,
            mcid=mcid,
            direction=direction,
            change_prior=change_prior,
            max_lag=max_lag,
            slope=slope,
            prob_change=prob_change,
            off_window=off,
            jump_prior_sd=sd,
            slope_prior_sd=ssd,
            time_unit=time_unit,
            exposure=exposure,
            score_range=score_range,
            ordinal_model=ordinal_model,
            jump_prior=jump_prior,
            level=level,
            dropna=dropna,
        )
    check_model(
        family,
        trend=trend,
        ar1=ar1,
        slope=slope,
        ordinal_model=ordinal_model,
        score_range=score_range,
        exposure=exposure,
    )
    m, lag, p, lev = check_options(direction, mcid, family, max_lag, prob_change, level)
    s = check_series(
        y,
        times,
        family=family,
        trend=trend,
        slope=slope,
        ar1=ar1,
        dropna=dropna,
        exposure=exposure,
        score_range=score_range,
    )
    start = None
    if treatment_start is not None:
        start = real_number(treatment_start, "treatment_start")
        if not s.times[0] < start <= s.times[-1]:
            raise ValueError(
                f"treatment_start={start:g} is outside the observed range: it must be after "
                f"the first visit ({s.times[0]:g}) and not after the last ({s.times[-1]:g})"
            )
    kind = (
        change_prior
        if change_prior is not None
        else ("anchored" if start is not None else "uniform")
    )
    prior, label = change_time_prior(s.times, kind, start, lag, off)
    unit = _unit(s.times, time_unit)
    fit, opts = fit_series(
        s,
        family,
        trend=trend,
        slope=slope,
        ar1=ar1,
        unit=unit,
        jump_prior_sd=sd,
        slope_prior_sd=ssd,
        score_range=score_range,
        ordinal_model=ordinal_model,
        jump_prior=jump_prior,
    )
    w, w0, p_change, log_bf = posterior_weights(
        fit.log_m_change + fit.log_grid_prior[:, None],
        fit.log_m_null + fit.log_grid_prior,
        prior,
        p,
    )
    opts.update(null_weights=w0, log_bayes_factor=log_bf, dropped=s.dropped, max_lag=lag)
    args = {
        "family": family,
        "trend": trend,
        "ar1": ar1,
        "slope": slope,
        "mcid": m,
        "direction": direction,
        "treatment_start": start,
        "max_lag": lag,
        "change_prior": label,
        "prob_change": p,
        "off_window": off,
        "jump_prior_sd": sd,
        "slope_prior_sd": slope_prior_sd,
        "time_unit": unit,
        "level": lev,
        "dropna": dropna,
        "ordinal_model": ordinal_model,
        "jump_prior": jump_prior,
        "n_visits": int(s.y.size),
    }
    return JumpResult(
        times=readonly(s.times.copy()),
        y=readonly(s.y.copy()),
        family=family,
        direction=direction,
        mcid=m,
        treatment_start=start,
        level=lev,
        prob_change=p_change,
        bayes_factor=float(np.exp(log_bf)) if log_bf < 709.0 else math.inf,
        prior=readonly(prior),
        prior_label=label,
        prior_prob_change=p,
        weights=readonly(w),
        fit=fit,
        options=opts,
        provenance=provenance(arguments=args),
    )
