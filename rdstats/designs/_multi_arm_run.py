"""The simulation kernel of multi-arm multi-stage designs: ``size`` trials run side by
side, stage after stage, as arrays of shape (trials, arms).

No validation here: :class:`rdstats.designs.MultiArmDesign` checks its configuration
and the scenario before calling :func:`run_trials`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

INCONCLUSIVE, EFFECTIVE, DROPPED, EQUIVALENT = 0, 1, 2, 3


def rounded_counts(m: NDArray[np.int64], prob: Array) -> NDArray[np.int64]:
    """Stage sizes ``m`` split by ``prob`` with largest remainders (balanced blocks):
    every arm gets ``floor(m p)`` and the patients left go to the largest fractions."""
    exact = m[:, None] * prob
    base = np.floor(exact + 1e-9).astype(np.int64)
    left = m - base.sum(axis=1)
    order = np.argsort(-(exact - base), axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(prob.shape[1])[None, :], axis=1)
    return base + (rank < left[:, None])


def _stage(
    design: Any,
    m: int,
    running: NDArray[np.bool_],
    prob: Array,
    theta: Array,
    rng: np.random.Generator,
) -> tuple[NDArray[np.int64], Array]:
    """Patients and outcome sums per arm for one stage of ``m`` patients per trial.

    Every trial draws the same random numbers whatever its state — one uniform per
    patient for the randomisation and one uniform (binary) or standard normal per
    patient for the outcome (a patient responds on arm ``a`` when ``u < θ_a``) — so the
    stream does not depend on the design's decisions: designs and thresholds compared
    with one seed see the same patients (common random numbers), trial by trial.
    """
    size, arms = prob.shape
    u_arm = rng.random((size, m))
    noise = (
        rng.random((size, m)) if design.endpoint == "binomial" else rng.standard_normal((size, m))
    )
    p = np.clip(prob, 0.0, None)
    tot = p.sum(axis=1, keepdims=True)
    p = np.where(tot > 0, p / np.where(tot > 0, tot, 1.0), 1.0 / arms)
    arm = np.zeros((size, m), dtype=np.int64)
    if design.randomization == "rounded":
        cum = np.cumsum(rounded_counts(np.full(size, m, dtype=np.int64), p), axis=1)
        slot = np.arange(m)[None, :]
        for a in range(arms - 1):
            arm += slot >= cum[:, a : a + 1]
    else:
        cum = np.cumsum(p, axis=1)
        for a in range(arms - 1):
            arm += u_arm >= cum[:, a : a + 1]
    arm = np.where(running[:, None], arm, -1)
    if design.endpoint == "binomial":
        value = (noise < theta[np.maximum(arm, 0)]).astype(float)
    else:
        value = theta[np.maximum(arm, 0)] + design.sigma * noise
    counts = np.zeros((size, arms), dtype=np.int64)
    sums = np.zeros((size, arms))
    for a in range(arms):
        on = arm == a
        counts[:, a] = on.sum(axis=1)
        sums[:, a] = np.where(on, value, 0.0).sum(axis=1)
    return counts, sums


class _Posteriors:
    """Per-look posterior evaluation for the running trials (binary or normal)."""

    def __init__(
        self, design: Any, n: NDArray[np.int64], s: NDArray[Any], idx: NDArray[np.intp]
    ) -> None:
        self.engine = design._posterior_engine()
        self.binary = design.endpoint == "binomial"
        k = design.n_arms
        if self.binary:
            eng = self.engine
            eng.trim()
            self.c = eng.rows(0, n[idx, 0], s[idx, 0].astype(np.int64))
            self.k = [eng.rows(1, n[idx, j], s[idx, j].astype(np.int64)) for j in range(1, k + 1)]
        else:
            eng = self.engine
            self.c = eng.components(0, n[idx, 0], s[idx, 0])
            self.k = [eng.components(1, n[idx, j], s[idx, j]) for j in range(1, k + 1)]

    def greater(self, delta: float) -> Array:
        """P(θ_k > θ_c + δ) for every arm, (trials, K)."""
        return np.column_stack([self.engine.prob_greater(a, self.c, delta) for a in self.k])

    def best(self, active: NDArray[np.bool_]) -> Array:
        if self.binary:
            return np.asarray(self.engine.prob_best(np.column_stack(self.k), active))
        return np.asarray(self.engine.prob_best(self.k, active))

    def means(self) -> Array:
        eng = self.engine
        return np.column_stack([eng.mean(self.c), *(eng.mean(a) for a in self.k)])


def decide(
    design: Any, post: _Posteriors, act: NDArray[np.bool_], look: int, efficacy_off: bool
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_], Array]:
    """Arms declared effective, equivalent and dropped at look ``look`` (0-based) among
    the active arms ``act``, and each trial's largest superiority probability."""
    p_sup = post.greater(design.delta)
    p_max = np.where(act, p_sup, 0.0).max(axis=1)
    threshold = np.inf if efficacy_off else design.efficacy_at(look)
    eff = act & (p_sup > threshold)
    rest = act & ~eff
    equiv = np.zeros_like(rest)
    if design.equivalence is not None:
        m = design.equivalence_margin
        p_eq = post.greater(-m) - post.greater(m)
        equiv = rest & (p_eq > design.equivalence)
    drop = np.zeros_like(rest)
    if design.inferiority is not None:
        drop |= post.greater(0.0) < design.inferiority
    if design.futility is not None:
        drop |= post.greater(design.delta_futility) < design.futility
    drop &= rest & ~equiv
    return eff, equiv, drop, p_max


def run_trials(
    design: Any, theta: Array, size: int, rng: np.random.Generator, *, efficacy_off: bool = False
) -> dict[str, Any]:
    """Simulate ``size`` trials at true arm parameters ``theta`` = [control, arm 1, ...].

    With ``efficacy_off`` no arm is ever declared effective, so the running maximum of
    the superiority probabilities (``max_prob_efficacy``) is observed over the whole
    trial: a positive decision at any efficacy threshold ``c`` (the same at every look)
    is then exactly ``max_prob_efficacy > c`` — the path up to the first crossing does
    not depend on ``c``.
    """
    k = design.n_arms
    looks = design.looks
    n_max = looks[-1]
    binary = design.endpoint == "binomial"
    n = np.zeros((size, k + 1), dtype=np.int64)
    s = np.zeros((size, k + 1), dtype=np.int64 if binary else float)
    active = np.ones((size, k), dtype=bool)
    running = np.ones(size, dtype=bool)
    concl = np.zeros((size, k), dtype=np.int8)
    stopped = np.zeros(size, dtype=np.int64)
    max_prob = np.zeros(size)
    p_best: Array | None = None
    rule = design.allocation
    prev = 0
    for i, look in enumerate(looks):
        last = i == len(looks) - 1
        prob = rule.probabilities(active, p_best, n=prev, n_max=n_max)
        counts, sums = _stage(design, look - prev, running, prob, theta, rng)
        s += np.rint(sums).astype(np.int64) if binary else sums
        n += counts
        prev = look
        idx = np.flatnonzero(running)
        if idx.size == 0:
            break
        act = active[idx]
        eff, equiv, drop, p_max = decide(
            design, _Posteriors(design, n, s, idx), act, i, efficacy_off
        )
        max_prob[idx] = np.maximum(max_prob[idx], p_max)
        sub = concl[idx]
        sub[eff], sub[equiv], sub[drop] = EFFECTIVE, EQUIVALENT, DROPPED
        concl[idx] = sub
        act &= ~(eff | equiv | drop)
        active[idx] = act
        stop: NDArray[np.bool_] = np.asarray(~act.any(axis=1))
        if design.stop_on_success:
            stop |= eff.any(axis=1)
        if last:
            stop = np.ones_like(stop)
        else:
            stopped[idx[stop]] = i + 1
        running[idx[stop]] = False
        if rule.needs_best and not last:
            keep = ~stop
            p_best = np.zeros((size, k))
            if keep.any():
                sub_post = _Posteriors(design, n, s, idx[keep])
                p_best[idx[keep]] = sub_post.best(act[keep])
    return _outcomes(design, theta, n, s, concl, stopped, max_prob)


def _outcomes(
    design: Any,
    theta: Array,
    n: NDArray[np.int64],
    s: Array,
    concl: NDArray[np.int8],
    stopped: NDArray[np.int64],
    max_prob: Array,
) -> dict[str, Any]:
    size, k = concl.shape
    post = _Posteriors(design, n, s, np.arange(size))
    means = post.means()
    effect = means[:, 1:] - means[:, :1]
    priority = np.where(concl == EFFECTIVE, 2, np.where(concl == INCONCLUSIVE, 1, 0))
    big = 2.0 * float(np.abs(effect).max(initial=0.0)) + 1.0
    selected = np.argmax(priority * big + effect, axis=1)
    rows = np.arange(size)
    true_effect = theta[1:] - theta[0]
    est = effect[rows, selected]
    err = est - true_effect[selected]
    best = theta[1:] >= theta[1:].max() - 1e-12
    total = n.sum(axis=1)
    out: dict[str, Any] = {
        "success": (concl == EFFECTIVE).any(axis=1),
        "n_enrolled": total,
        "stopped_at": stopped,
        "estimate": est,
        "selected": selected + 1,
        "max_prob_efficacy": max_prob,
        "best_selected": best[selected].astype(float),
        "bias_selected": err,
        "mse_selected": err**2,
        "n_control": n[:, 0],
        "alloc_control": n[:, 0] / np.maximum(total, 1),
    }
    for j in range(k):
        a = str(j + 1)
        out[f"effective_{a}"] = (concl[:, j] == EFFECTIVE).astype(float)
        out[f"dropped_{a}"] = (concl[:, j] == DROPPED).astype(float)
        out[f"equivalent_{a}"] = (concl[:, j] == EQUIVALENT).astype(float)
        out[f"inconclusive_{a}"] = (concl[:, j] == INCONCLUSIVE).astype(float)
        out[f"selected_{a}"] = (selected == j).astype(float)
        out[f"n_{a}"] = n[:, j + 1]
        out[f"alloc_{a}"] = n[:, j + 1] / np.maximum(total, 1)
    return out


def exact_outcomes(design: Any, theta: Array) -> tuple[dict[str, Any], Array]:
    """Every outcome of a one-look binary design with fixed, balanced (``"rounded"``)
    allocation and its probability: all responder counts ``(r_c, r_1, ..., r_K)`` with
    product-binomial weights, decided by the same rules as the simulation."""
    from scipy import stats

    k = design.n_arms
    ones = np.ones((1, k), dtype=bool)
    prob = design.allocation.probabilities(ones)
    n_arm = rounded_counts(np.array([design.n_max], dtype=np.int64), prob)[0]
    grids = np.meshgrid(*(np.arange(m + 1) for m in n_arm), indexing="ij")
    s = np.column_stack([g.ravel() for g in grids]).astype(np.int64)
    size = s.shape[0]
    weights = np.ones(size)
    for a in range(k + 1):
        weights *= stats.binom.pmf(s[:, a], n_arm[a], theta[a])
    n = np.tile(n_arm, (size, 1))
    act = np.ones((size, k), dtype=bool)
    eff, equiv, drop, p_max = decide(
        design, _Posteriors(design, n, s, np.arange(size)), act, 0, False
    )
    concl = np.zeros((size, k), dtype=np.int8)
    concl[eff], concl[equiv], concl[drop] = EFFECTIVE, EQUIVALENT, DROPPED
    stopped = np.zeros(size, dtype=np.int64)
    return _outcomes(design, theta, n, s.astype(float), concl, stopped, p_max), weights


def mean_outcome_names(n_arms: int) -> tuple[str, ...]:
    """Outcome columns the engine reports as means with MCSE."""
    names = ["best_selected", "bias_selected", "mse_selected", "n_control", "alloc_control"]
    for j in range(1, n_arms + 1):
        names += [
            f"{c}_{j}"
            for c in (
                "effective",
                "dropped",
                "equivalent",
                "inconclusive",
                "selected",
                "n",
                "alloc",
            )
        ]
    return tuple(names)
