"""Several change points in one patient's series: Fearnhead's (2006) exact recursion.

The series is split into segments (a product-partition model): segment lengths follow a
:class:`~rdstats.nof1._segments.SegmentLength` prior in visits (the first segment starts at
the first visit and has the same length prior; the last one is only known to last at
least until the last visit), and each segment has its own parameters with the conjugate
priors of :mod:`rdstats.nof1._segments`. With ``P(t, s)`` the marginal likelihood of
visits ``t..s`` as one segment, ``g``/``S`` the length probability/survival and
``Q(t) = p(y_t..y_{n-1} | a segment starts at t)``, the backward recursion

    Q(t) = sum_{s=t}^{n-2} P(t, s) g(s - t + 1) Q(s + 1) + P(t, n-1) S(n - t)

gives the evidence ``Q(0)``; the next change given a segment starting at ``t`` then has
the probabilities ``P(t, s) g(s - t + 1) Q(s + 1) / Q(t)``, from which segmentations are
simulated exactly, and propagating the position of the k-th change forward gives the
posterior of the number of changes and of a change before every visit exactly. With
``max_changes = K`` the recursion also tracks the number of changes left (``Q_l``).
Everything is in log space; the work is O(n^2) (O(K n^2) with ``max_changes``).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rdstats._provenance import provenance
from rdstats._validation import readonly, real_number
from rdstats.nof1._fearnhead_result import MultipleChangeResult
from rdstats.nof1._inputs import _score_range, check_series
from rdstats.nof1._segments import SegmentLength, SegmentModel, as_segment_length, segment_model

Array = NDArray[np.float64]

__all__ = ["MultipleChangeResult", "multiple_changes"]

MAX_VISITS = 5000
_TAIL = 1e-16  # the forward pass stops when less probability than this is left


# -- kernels ------------------------------------------------------------------------------
def segment_log_marginals(model: SegmentModel, obs: Array) -> Array:
    """``L[t, s]`` = log marginal likelihood of visits ``t..s`` (``-inf`` for s < t)."""
    n = obs.shape[0]
    c = np.concatenate([np.zeros((1, obs.shape[1])), np.cumsum(obs, axis=0)])
    out = np.full((n, n), -np.inf)
    for t in range(n):
        out[t, t:] = model.log_marginal(c[t + 1 :] - c[t])
    return out


def transition_logs(lm: Array, length: SegmentLength) -> tuple[Array, Array]:
    """``A[t, s]`` = log of segment ``t..s`` followed by a change (s <= n-2) and
    ``E[t]`` = log of segment ``t..n-1`` ending the series."""
    n = lm.shape[0]
    d = np.arange(1, n + 1, dtype=float)
    log_g = length.log_pmf(d)  # log_g[i] = log g(i + 1)
    log_s = length.log_sf(d)  # log_s[i] = log S(i + 1)
    a = np.full((n, n - 1), -np.inf)
    for t in range(n - 1):
        a[t, t:] = lm[t, t : n - 1] + log_g[: n - 1 - t]
    e = lm[:, n - 1] + log_s[n - 1 - np.arange(n)]
    return a, e


def _lse(x: Array, axis: int = -1) -> Array:
    """log-sum-exp along ``axis`` of a non-empty array (``-inf`` if all are ``-inf``)."""
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return np.asarray(np.log(np.sum(np.exp(x - m), axis=axis)) + np.squeeze(m, axis=axis))


def _links(max_changes: int | None) -> tuple[slice, slice]:
    """Rows of Q updated at a visit and the rows of the next segment they draw on: the
    one row itself without a limit, else row ``l`` from row ``l - 1``."""
    if max_changes is None:
        return slice(None), slice(None)
    return slice(1, None), slice(None, -1)


def backward(a: Array, e: Array, max_changes: int | None) -> Array:
    """``Q[l, t]`` (log): data from visit ``t`` given a segment starts there and at most
    ``l`` further changes (one row, no limit, when ``max_changes`` is None); ``Q[:, n] = 0``."""
    n = e.size
    q = np.zeros((1 if max_changes is None else max_changes + 1, n + 1))
    dst, src = _links(max_changes)
    for t in range(n - 1, -1, -1):
        q[:, t] = e[t]
        if t < n - 1 and q[src].shape[0]:
            inner = _lse(a[t, t : n - 1][None, :] + q[src, t + 1 : n], axis=1)
            q[dst, t] = np.logaddexp(e[t], inner)
    return q


def _rows(q: Array, k: int, max_changes: int | None) -> tuple[Array, Array]:
    """Q of the current segment (the k-th change has happened) and of the next one."""
    if max_changes is None:
        return q[0], q[0]
    left = max_changes - k
    nxt = q[left - 1] if left >= 1 else np.full(q.shape[1], -np.inf)
    return q[left], nxt


def step_probs(a: Array, e: Array, q: Array, k: int, max_changes: int | None, rows: Any) -> Array:
    """Probabilities of the next segment start given a segment starting at each visit in
    ``rows`` after ``k`` changes: column ``s`` = the segment ends at visit ``s`` (the next
    starts at ``s + 1``), the last column = it ends the series. Rows sum to 1."""
    n = e.size
    cur, nxt = _rows(q, k, max_changes)
    with np.errstate(invalid="ignore"):
        logit = np.concatenate([a[rows] + nxt[None, 1:n], e[rows][:, None]], axis=1)
        pr = np.exp(logit - cur[:n][rows][:, None])
    pr[~np.isfinite(pr)] = 0.0
    return pr


def forward(a: Array, e: Array, q: Array, max_changes: int | None) -> tuple[Array, Array, Array]:
    """Exact posterior of the number of changes (index = count), P(a segment starts at
    visit j) (0 for the first) and P(the last segment starts at visit j): the
    distribution of the start of the k-th segment is propagated one change at a time
    (rows holding less than 1e-20 of the largest probability are skipped: their
    contribution is below rounding error)."""
    n = e.size
    f = np.zeros(n)
    f[0] = 1.0
    counts: list[float] = []
    marg, last = np.zeros(n), np.zeros(n)
    full = step_probs(a, e, q, 0, None, slice(None)) if max_changes is None else None
    k = 0
    while True:
        live = np.flatnonzero(f > 1e-20 * f.max())
        lo, hi = int(live[0]), int(live[-1]) + 1
        if full is None:
            pr = step_probs(a, e, q, k, max_changes, slice(lo, hi))
        else:
            pr = full[lo:hi]
        last[lo:hi] += f[lo:hi] * pr[:, n - 1]
        counts.append(float(f[lo:hi] @ pr[:, n - 1]))
        if max_changes is not None and k >= max_changes:
            break
        new = np.zeros(n)
        new[1 + lo :] = f[lo:hi] @ pr[:, lo : n - 1]
        marg += new
        f = new
        k += 1
        if f.sum() < _TAIL:
            break
    return np.asarray(counts), marg, last


def viterbi(a: Array, e: Array, max_changes: int | None) -> list[int]:
    """Visits that start a new segment in the most probable segmentation."""
    n = e.size
    rows = 1 if max_changes is None else max_changes + 1
    v = np.zeros((rows, n + 1))
    arg = np.full((rows, n), -1, dtype=int)
    dst, src = _links(max_changes)
    for t in range(n - 1, -1, -1):
        v[:, t] = e[t]
        if t < n - 1 and v[src].shape[0]:
            cand = a[t, t : n - 1][None, :] + v[src, t + 1 : n]
            j = np.argmax(cand, axis=1)
            best = cand[np.arange(cand.shape[0]), j]
            better = best > e[t]
            v[dst, t] = np.where(better, best, e[t])
            arg[dst, t] = np.where(better, t + j, -1)
    out: list[int] = []
    t, row = 0, rows - 1
    while arg[row, t] >= 0:
        t = int(arg[row, t]) + 1
        out.append(t)
        row = row if max_changes is None else row - 1
    return out


def sample_segmentations(
    a: Array, e: Array, q: Array, max_changes: int | None, size: int, gen: np.random.Generator
) -> NDArray[np.bool_]:
    """Exact forward simulation: ``out[i, j]`` is True when draw ``i`` starts a new
    segment at visit ``j``. Each step draws the next segment start of every unfinished
    draw by inverting the cumulative step probabilities with one uniform."""
    n = e.size
    out = np.zeros((size, n), dtype=bool)
    pos = np.zeros(size, dtype=int)
    active = np.arange(size)
    flat = None
    if max_changes is None:
        # all rows' normalised cumulative probabilities in one increasing array (row t
        # shifted by 2 t), so a single searchsorted serves every draw
        cum = np.cumsum(step_probs(a, e, q, 0, None, slice(None)), axis=1)
        flat = (cum / cum[:, -1:] + 2.0 * np.arange(n)[:, None]).ravel()
    k = 0
    while active.size:
        t = pos[active]
        u = 1.0 - gen.random(active.size)  # in (0, 1]
        if flat is not None:
            pick = np.searchsorted(flat, u + 2.0 * t, side="left") - t * n
        else:
            cum = np.cumsum(step_probs(a, e, q, k, max_changes, t), axis=1)
            pick = (cum < (u * cum[:, -1])[:, None]).sum(axis=1)
        pick = np.clip(pick, t, n - 1)
        stop = pick == n - 1
        go = active[~stop]
        pos[go] = pick[~stop] + 1
        out[go, pos[go]] = True
        active = go
        k += 1
    return out


# -- result -------------------------------------------------------------------------------
def _max_changes(max_changes: Any, n: int) -> int | None:
    if max_changes is None:
        return None
    if isinstance(max_changes, bool) or not isinstance(max_changes, (int, np.integer)):
        raise TypeError(f"max_changes must be a non-negative integer or None, got {max_changes!r}")
    if max_changes < 0:
        raise ValueError(f"max_changes must be >= 0, got {max_changes}")
    return None if max_changes >= n - 1 else int(max_changes)


def multiple_changes(
    y: Any,
    times: Any = None,
    family: str = "normal",
    *,
    segment_length: float | SegmentLength | None = None,
    max_changes: int | None = None,
    score_range: tuple[int, int] | None = None,
    exposure: Any = None,
    prior: dict[str, float] | None = None,
    level: float = 0.95,
    dropna: bool = False,
    n_samples: int = 1000,
    rng: Any = None,
) -> MultipleChangeResult:
    """Exact posterior of the number and positions of changes in one patient's series
    (exploratory review), by Fearnhead's recursion.

    Parameters
    ----------
    y : array_like or Series
        Outcomes in visit order.
    times : array_like, optional
        Strictly increasing visit times (default: a numeric Series index, else 0, 1, ...).
        They only label the visits: segment lengths are counted in visits.
    family : {"normal", "poisson", "ordinal"}
        Segment model (see :mod:`rdstats.nof1._segments`): normal with its own mean and
        variance per segment, Poisson-gamma counts, beta-binomial scores.
    segment_length : float or SegmentLength, optional
        Prior of segment lengths in visits: a number is the mean of a geometric length
        (a change before each visit with probability ``1 / mean``); ``SegmentLength(mean,
        shape)`` a negative binomial. Default: geometric with mean ``n`` (about one change
        expected a priori).
    max_changes : int, optional
        At most this many changes (the prior is conditioned on it).
    score_range : (int, int), optional
        Ordinal: lowest and highest score.
    exposure : array_like, optional
        Counts: exposure of each visit (default 1).
    prior : dict, optional
        Segment prior parameters overriding the defaults (normal: ``mean, kappa, shape,
        scale``; poisson: ``shape, rate``; ordinal: ``a, b``).
    level : float
        Credible level of the segment levels.
    dropna : bool
        Drop visits with missing outcomes (otherwise an error).
    n_samples : int
        Posterior draws of segmentations (exact simulation; 0 for none).
    rng : int, SeedSequence, Generator or None
        Seed of the draws (fresh entropy, recorded in ``provenance``, when None).

    Returns
    -------
    MultipleChangeResult

    Notes
    -----
    The posterior of the number of changes, the probabilities of a change before each
    visit and the most probable segmentation (Viterbi on the same recursion) are exact;
    only the draws are random. O(n^2) time and memory (n up to 5000 visits).

    References
    ----------
    .. [1] Fearnhead P. Exact and efficient Bayesian inference for multiple changepoint
       problems. Statistics and Computing 2006;16:203-213.
    .. [2] Barry D, Hartigan JA. Product partition models for change point problems. Annals
       of Statistics 1992;20:260-279.

    Examples
    --------
    >>> import numpy as np
    >>> from rdstats.nof1 import multiple_changes
    >>> rng = np.random.default_rng(3)
    >>> y = np.r_[rng.normal(0, 1, 30), rng.normal(4, 1, 30), rng.normal(1, 1, 30)]
    >>> res = multiple_changes(y, rng=1)
    >>> int(res.n_changes_posterior.idxmax()), res.map_changes.tolist()
    (2, [30.0, 60.0])
    >>> round(float(res.change_probability.loc[30.0]), 3)
    1.0
    """
    s = check_series(
        y,
        times,
        family=family,
        trend=False,
        slope=False,
        ar1=False,
        dropna=dropna,
        exposure=exposure,
        score_range=score_range,
    )
    n = s.y.size
    if n > MAX_VISITS:
        raise ValueError(f"y has {n} visits; multiple_changes handles at most {MAX_VISITS}")
    lev = real_number(level, "level")
    if not 0 < lev < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise TypeError(f"n_samples must be a non-negative integer, got {n_samples!r}")
    if n_samples < 0:
        raise ValueError(f"n_samples must be >= 0, got {n_samples}")
    length = as_segment_length(segment_length, float(max(n, 2)))
    kmax = _max_changes(max_changes, n)
    rng_range = _score_range(score_range) if family == "ordinal" else None
    model = segment_model(family, prior, y=s.y, exposure=s.exposure, score_range=rng_range)

    from rdstats.simulate._streams import root_seed, seed_record

    root = root_seed(rng)
    obs = model.obs_stats(s.y, s.exposure)
    lm = segment_log_marginals(model, obs)
    a, e = transition_logs(lm, length)
    q = backward(a, e, kmax)
    counts, marg, last = forward(a, e, q, kmax)
    # prior of the number of changes: the same recursion with every likelihood equal to 1
    a0, e0 = transition_logs(np.where(np.isfinite(lm), 0.0, -np.inf), length)
    q0 = backward(a0, e0, kmax)  # q0[-1, 0] = log prior P(at most max_changes changes)
    counts0, _, _ = forward(a0, e0, q0, kmax)
    starts = viterbi(a, e, kmax)
    draws = sample_segmentations(a, e, q, kmax, int(n_samples), np.random.default_rng(root))

    bounds = [0, *starts, n]
    c = np.concatenate([np.zeros((1, 3)), np.cumsum(obs, axis=0)])
    seg_stats = np.array([c[j] - c[i] for i, j in itertools.pairwise(bounds)])
    mean, lo, hi = model.posterior_level(seg_stats, lev)
    segments = pd.DataFrame(
        {
            "start": s.times[bounds[:-1]],
            "end": s.times[np.asarray(bounds[1:]) - 1],
            "n_visits": np.diff(bounds),
            "mean": mean,
            "lower": lo,
            "upper": hi,
        }
    )
    size = max(counts.size, counts0.size)
    kk = pd.Index(np.arange(size), name="n_changes")
    args = {
        "family": family,
        "segment_length": {"mean": length.mean, "shape": length.shape},
        "max_changes": kmax,
        "score_range": list(rng_range) if rng_range else None,
        "prior": dict(model.prior),
        "level": lev,
        "dropna": dropna,
        "n_samples": int(n_samples),
        "n_visits": n,
    }
    return MultipleChangeResult(
        times=readonly(s.times.copy()),
        y=readonly(s.y.copy()),
        family=family,
        model=model,
        segment_length=length,
        max_changes=kmax,
        level=lev,
        log_evidence=float(q[-1, 0] - q0[-1, 0]),
        n_changes_posterior=pd.Series(
            np.pad(counts, (0, size - counts.size)), index=kk, name="posterior"
        ),
        n_changes_prior=pd.Series(
            np.pad(counts0, (0, size - counts0.size)), index=kk, name="prior"
        ),
        last_segment_start=pd.Series(
            last, index=pd.Index(s.times.copy(), name="time"), name="posterior"
        ),
        change_probability=pd.Series(
            marg, index=pd.Index(s.times.copy(), name="time"), name="prob_change"
        ),
        map_changes=readonly(s.times[starts].copy()),
        segments=segments,
        samples=readonly(draws),
        provenance=provenance(arguments=args, seed=seed_record(root)),
    )
