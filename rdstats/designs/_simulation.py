"""Simulation hooks of the one- and two-arm designs for :mod:`rdstats.simulate`.

Per simulated trial the outcomes are the positive decision (``success``), the sample
size, the sufficient statistic(s), the posterior mean of the estimand (θ, or θ1 − θ2)
and, where it has a closed form or a one-dimensional root, its 95% equal-tailed credible
interval. Decisions use the designs' exact boundaries; posteriors are conjugate and are
computed once per distinct outcome. ``exact_*`` enumerate the outcome distribution
(binomial / Poisson probabilities, or Gauss-Legendre nodes split at the decision
boundaries for normal means) so the engine computes the same metrics without Monte Carlo
error.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special, stats
from scipy.optimize import elementwise

from rdstats.designs._endpoints import check_theta, normal_se
from rdstats.designs._one_arm import rule_kind
from rdstats.priors import NormalMixture
from rdstats.priors._base import MixtureBatch

Array = NDArray[Any]  # statistics are integer (counts) or float (means)
LEVEL = 0.95
_POISSON_TAIL = 1e-15
_Z_RANGE = 10.0  # normal tails beyond ±10 SD (mass 1.5e-23) are left out
_GL_NODES = 96


def check_scenario_value(design: Any, params: Mapping[str, float], name: str) -> float:
    return float(check_theta(params[name], name, design.endpoint))


def is_null(rule: Any, value: float) -> bool | None:
    """Whether a positive decision at true effect ``value`` is an error: at or below the
    smallest threshold of an upper-tail rule, at or above the largest of a lower-tail
    rule; None (unknown) for mixed rules — set ``null`` in the scenario grid."""
    kind = rule_kind(rule)
    if kind == "upper":
        return bool(value <= rule.threshold.min())
    if kind == "lower":
        return bool(value >= rule.threshold.max())
    return None


def _posterior(prior: Any, endpoint: str, stat: Array, n: float) -> MixtureBatch:
    if endpoint == "normal":
        return prior.posterior_batch(stat, n=n)
    return prior.posterior_batch(stat, n)


def _unique_posterior(
    prior: Any, endpoint: str, stat: Array, n: float
) -> tuple[MixtureBatch, NDArray[np.intp]]:
    """Posterior for each distinct statistic (discrete endpoints) and the index map."""
    if endpoint == "normal":
        return _posterior(prior, endpoint, stat, n), np.arange(stat.size)
    uniq, inv = np.unique(stat, return_inverse=True)
    return _posterior(prior, endpoint, uniq, n), inv


# -- one arm ------------------------------------------------------------------------------
def _summaries(post: MixtureBatch) -> Array:
    """Posterior mean and equal-tailed interval, stacked (3, N)."""
    return np.vstack([post.mean(), *post.interval(LEVEL)])


def one_arm_table(design: Any) -> Array | None:
    """Posterior summaries for every binomial outcome 0..n, computed once per design."""
    if design.endpoint != "binomial":
        return None
    table = design.__dict__.get("_cache_summaries")
    if table is None:
        table = _summaries(
            _posterior(design.prior, "binomial", np.arange(int(design.n) + 1), design.n)
        )
        table.flags.writeable = False
        design.__dict__["_cache_summaries"] = table
    return np.asarray(table)


def one_arm_outcomes(design: Any, stat: Array) -> dict[str, Array]:
    lo, hi = design._interval()
    table = one_arm_table(design)
    if table is not None:
        est, lower, upper = table[:, stat]
    else:
        post, inv = _unique_posterior(design.prior, design.endpoint, stat, design.n)
        est, lower, upper = _summaries(post)[:, inv]
    return {
        "success": (stat >= lo) & (stat <= hi),
        "n_enrolled": np.full(stat.shape, design.n),
        "y": stat,
        "estimate": est,
        "lower": lower,
        "upper": upper,
    }


def one_arm_draw(design: Any, theta: float, size: int, rng: np.random.Generator) -> Array:
    if design.endpoint == "binomial":
        return rng.binomial(int(design.n), theta, size)
    if design.endpoint == "poisson":
        return rng.poisson(design.n * theta, size)
    return rng.normal(theta, normal_se(design.prior, design.n), size)


def _normal_nodes(mean: float, sd: float, breaks: Array) -> tuple[Array, Array]:
    """Nodes and probability weights for N(mean, sd²), Gauss-Legendre on each piece
    between the break points; each piece's weights sum to its exact probability."""
    a, b = mean - _Z_RANGE * sd, mean + _Z_RANGE * sd
    cuts = np.unique(np.clip(np.concatenate([[a, b], breaks[np.isfinite(breaks)]]), a, b))
    x0, w0 = special.roots_legendre(_GL_NODES)
    xs, ws = [], []
    for lo, hi in itertools.pairwise(cuts):
        if hi <= lo:
            continue
        x = lo + (hi - lo) * (x0 + 1) / 2
        w = w0 * stats.norm.pdf(x, mean, sd)
        mass = stats.norm.cdf(hi, mean, sd) - stats.norm.cdf(lo, mean, sd)
        xs.append(x)
        ws.append(w * mass / w.sum() if w.sum() > 0 else np.zeros_like(w))
    return np.concatenate(xs), np.concatenate(ws)


def _crossings(
    interval_at: Callable[[Array, Array], tuple[Array, Array]],
    other: Array,
    target: float,
    x0: Array,
    scale: float,
) -> Array:
    """Statistic values where the credible interval's lower or upper end equals
    ``target`` (one pair per element of ``other``; NaN where there is none). Coverage
    jumps there, so these are break points of the quadrature. Posterior quantiles of
    normal models are increasing in the observed mean, so each root is unique."""
    out = []
    for end in (0, 1):

        def f(x: Array, y: Array, end: int = end) -> Array:
            return np.asarray(interval_at(x, y)[end]) - target

        br = elementwise.bracket_root(f, x0 - scale, x0 + scale, args=(other,))
        res = elementwise.find_root(f, br.bracket, args=(other,))
        out.append(np.where(br.success & res.success, res.x, np.nan))
    return np.vstack(out)


def one_arm_exact(design: Any, theta: float) -> tuple[dict[str, Array], Array]:
    n = design.n
    if design.endpoint == "binomial":
        y = np.arange(int(n) + 1)
        p = stats.binom.pmf(y, int(n), theta)
    elif design.endpoint == "poisson":
        y = np.arange(int(stats.poisson.isf(_POISSON_TAIL, n * theta)) + 1)
        p = stats.poisson.pmf(y, n * theta)
    else:
        se = normal_se(design.prior, n)

        def interval_at(x: Array, _: Array) -> tuple[Array, Array]:
            return _posterior(design.prior, "normal", x, n).interval(LEVEL)

        cover = _crossings(interval_at, np.zeros(1), theta, np.full(1, theta), 3 * se)
        y, p = _normal_nodes(theta, se, np.r_[design._interval(), cover.ravel()])
    return one_arm_outcomes(design, y), p


# -- two arms -----------------------------------------------------------------------------
def _difference_interval(post_1: MixtureBatch, post_2: MixtureBatch) -> tuple[Array, Array]:
    """Credible interval of θ1 − θ2 for normal posteriors (a normal mixture)."""
    m1, m2 = post_1.param("mean"), post_2.param("mean")
    s1, s2 = post_1.param("sd"), post_2.param("sd")
    w = (post_1.weights[:, :, None] * post_2.weights[:, None, :]).reshape(len(post_1), -1)
    m = (m1[:, :, None] - m2[:, None, :]).reshape(w.shape)
    s = np.sqrt(s1[:, :, None] ** 2 + s2[:, None, :] ** 2).reshape(w.shape)
    template = NormalMixture(np.ones(w.shape[1]) / w.shape[1], m[0], s[0])
    return MixtureBatch(template, w, (m, s)).interval(LEVEL)


def _arm_posterior(design: Any, arm: int, stat: Array) -> tuple[MixtureBatch | None, Any]:
    prior = design.prior_1 if arm == 1 else design.prior_2
    n = design.n_1 if arm == 1 else design.n_2
    if n == 0:
        return None, None
    return _unique_posterior(prior, design.endpoint, stat, n)


def two_arm_success(design: Any, y1: Array, y2: Array, theta_1: float, theta_2: float) -> Array:
    if design.endpoint == "normal":
        lo, hi = design._normal_interval(y2)
        return np.asarray((y1 >= lo) & (y1 <= hi))
    if design.endpoint == "binomial":
        d = design.decision_matrix()
    else:
        r1, r2 = poisson_matrix_range(design, theta_1, theta_2)
        d = design.decision_matrix(max(r1, int(y1.max(initial=0))), max(r2, int(y2.max(initial=0))))
    return np.asarray(d[y1.astype(np.intp), y2.astype(np.intp)])


def poisson_matrix_range(design: Any, theta_1: float, theta_2: float) -> tuple[int, int]:
    """Decision-matrix size covering all but ~1e-13 of the outcomes at (θ1, θ2), fixed
    per scenario so the matrix is computed once (see :func:`prepare_two_arm`)."""
    r1, r2 = design._poisson_ranges(np.array([theta_1]), np.array([theta_2]))
    return max(r1, 64), r2


def prepare_two_arm(design: Any, scenarios: Any) -> None:
    """Compute the decision matrices the scenarios need before the design is shipped."""
    if design.endpoint == "binomial":
        design.decision_matrix()
    elif design.endpoint == "poisson":
        for s in scenarios:
            design.decision_matrix(*poisson_matrix_range(design, s["theta_1"], s["theta_2"]))


def two_arm_outcomes(
    design: Any, y1: Array, y2: Array, theta_1: float, theta_2: float
) -> dict[str, Array]:
    post_1, inv_1 = _arm_posterior(design, 1, y1)
    post_2, inv_2 = _arm_posterior(design, 2, y2)
    assert post_1 is not None
    mean_2 = design.prior_2.mean() if post_2 is None else post_2.mean()[inv_2]
    out = {
        "success": two_arm_success(design, y1, y2, theta_1, theta_2),
        "n_enrolled": np.full(y1.shape, float(design.n_1 + design.n_2)),
        "y1": y1,
        "y2": y2,
        "estimate": post_1.mean()[inv_1] - mean_2,
    }
    if design.endpoint == "normal":
        # normal posteriors are per trial (no index map)
        p2 = post_2 if post_2 is not None else _prior_batch(design.prior_2, y1.size)
        out["lower"], out["upper"] = _difference_interval(post_1, p2)
    return out


def _prior_batch(prior: Any, size: int) -> MixtureBatch:
    """The prior repeated as a batch (prior-only control arm)."""
    m, v = prior._component_moments()
    k = prior.weights.size
    shape = (size, k)
    return MixtureBatch(
        prior,
        np.broadcast_to(prior.weights, shape),
        (np.broadcast_to(m, shape), np.broadcast_to(np.sqrt(v), shape)),
    )


def two_arm_draw(
    design: Any, theta_1: float, theta_2: float, size: int, rng: np.random.Generator
) -> tuple[Array, Array]:
    e = design.endpoint
    if e == "binomial":
        return rng.binomial(int(design.n_1), theta_1, size), rng.binomial(
            int(design.n_2), theta_2, size
        )
    if e == "poisson":
        return rng.poisson(design.n_1 * theta_1, size), rng.poisson(design.n_2 * theta_2, size)
    y1 = rng.normal(theta_1, normal_se(design.prior_1, design.n_1), size)
    if design.n_2 == 0:
        return y1, np.zeros(size)
    return y1, rng.normal(theta_2, normal_se(design.prior_2, design.n_2), size)


def two_arm_exact(design: Any, theta_1: float, theta_2: float) -> tuple[dict[str, Array], Array]:
    e, n1, n2 = design.endpoint, design.n_1, design.n_2
    if e == "normal":
        if n2 == 0:
            y2, p2 = np.zeros(1), np.ones(1)
        else:
            y2, p2 = _normal_nodes(theta_2, normal_se(design.prior_2, n2), np.array([]))
        lo, hi = design._normal_interval(y2)
        se1 = normal_se(design.prior_1, n1)
        delta = theta_1 - theta_2

        def interval_at(x: Array, y: Array) -> tuple[Array, Array]:
            post_2 = (
                _prior_batch(design.prior_2, x.size)
                if n2 == 0
                else _posterior(design.prior_2, "normal", y, n2)
            )
            return _difference_interval(_posterior(design.prior_1, "normal", x, n1), post_2)

        cover = _crossings(interval_at, y2, delta, y2 + delta, 3 * se1)
        parts = [
            _normal_nodes(theta_1, se1, np.array([a, b, c, d]))
            for a, b, c, d in zip(lo, hi, *cover, strict=True)
        ]
        y1 = np.concatenate([x for x, _ in parts])
        w = np.concatenate([w * q for (_, w), q in zip(parts, p2, strict=True)])
        y2 = np.repeat(y2, [x.size for x, _ in parts])
        return two_arm_outcomes(design, y1, y2, theta_1, theta_2), w
    if e == "binomial":
        a1, a2 = np.arange(int(n1) + 1), np.arange(int(n2) + 1)
        q1, q2 = stats.binom.pmf(a1, int(n1), theta_1), stats.binom.pmf(a2, int(n2), theta_2)
    else:
        a1 = np.arange(int(stats.poisson.isf(_POISSON_TAIL, n1 * theta_1)) + 1)
        a2 = np.arange(int(stats.poisson.isf(_POISSON_TAIL, n2 * theta_2)) + 1)
        q1, q2 = stats.poisson.pmf(a1, n1 * theta_1), stats.poisson.pmf(a2, n2 * theta_2)
    g1, g2 = (g.ravel() for g in np.meshgrid(a1, a2, indexing="ij"))
    return two_arm_outcomes(design, g1, g2, theta_1, theta_2), np.outer(q1, q2).ravel()
