"""Independent reference values for ``rdstats.borrowing.HybridControlDesign``.

Writes ``tests/reference/borrowing_hybrid.json``: the published operating characteristics
of Schmidli et al. (2014) and exact values computed here from first principles with
numpy/scipy only (nothing from :mod:`rdstats` is imported):

* every outcome pair ``(y_t, y_c)`` is enumerated with its binomial probability;
* the treatment and control posteriors are conjugate beta mixtures (component weights
  from beta-binomial marginal likelihoods); for the empirical-Bayes power prior the
  discounting ``a0`` for each ``y_c`` maximises the beta-binomial marginal likelihood
  ``p(y_c | a0)`` by brute force on a grid (step 1e-4 on [0, 1], then step 1e-8 within
  1e-4 of the best node);
* ``P(theta_t - theta_c > delta | data) = sum_jk v_j w_k int f_k(x) S_j(x + delta) dx``
  with the control component's beta density ``f_k`` and the treatment component's
  survival function ``S_j``, by ``scipy.integrate.quad`` over the control component's
  central 1 - 2e-15 range, split where ``S_j`` has its kinks (``x + delta = 0, 1``) and
  at the component's quantiles;
* bias of the posterior-mean difference, the control-rate error and the borrowed
  information (moment-matched beta ESS of the control posterior minus ``n_c``) are
  probability-weighted sums over the outcomes.

The script refuses (raises) when a decision probability is within ``MIN_MARGIN`` of its
level, so the stored decisions cannot depend on the last digits of any quadrature.
Run::

    .venv/bin/python tests/reference/scripts/hybrid_reference.py
"""

from __future__ import annotations

import json
import sys
import warnings
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import scipy
from scipy import integrate, special, stats

OUT = Path(__file__).resolve().parents[1] / "borrowing_hybrid.json"
MIN_MARGIN = 1e-6
TAIL = 1e-15

Components = list[tuple[float, float, float]]  # (weight, a, b)

SCHMIDLI = (
    "Schmidli H, Gsteiger S, Roychoudhury S, O'Hagan A, Spiegelhalter D, Neuenschwander B. "
    "Robust meta-analytic-predictive priors in clinical trials with historical control "
    "information. Biometrics 2014;70:1023-1032"
)


# -- posteriors ---------------------------------------------------------------------------------
def beta_prior(weights: list[float], a: list[float], b: list[float]) -> dict[str, Any]:
    return {"class": "BetaMixture", "weights": weights, "a": a, "b": b}


def mixture_posterior(prior: dict[str, Any], y: int, n: int) -> Components:
    """Conjugate update of a beta mixture by ``y`` responders out of ``n``."""
    w = np.asarray(prior["weights"], float)
    a = np.asarray(prior["a"], float)
    b = np.asarray(prior["b"], float)
    log_w = np.log(w) + special.betaln(a + y, b + n - y) - special.betaln(a, b)
    post_w = np.exp(log_w - special.logsumexp(log_w))
    return [
        (float(v), float(p), float(q)) for v, p, q in zip(post_w, a + y, b + n - y, strict=True)
    ]


def log_marginal(y: int, n: int, a: Any, b: Any) -> Any:
    """Beta-binomial log marginal likelihood of ``y`` out of ``n`` under Be(a, b)."""
    return (
        special.gammaln(n + 1)
        - special.gammaln(y + 1)
        - special.gammaln(n - y + 1)
        + special.betaln(a + y, b + n - y)
        - special.betaln(a, b)
    )


def eb_a0(y: int, n: int, r0: int, n0: int, a: float, b: float) -> float:
    """Empirical-Bayes power-prior weight by brute-force grid maximisation."""

    def ml(a0: Any) -> Any:
        return log_marginal(y, n, a + a0 * r0, b + a0 * (n0 - r0))

    coarse = np.linspace(0.0, 1.0, 10_001)
    best = float(coarse[int(np.argmax(ml(coarse)))])
    fine = np.clip(np.linspace(best - 1e-4, best + 1e-4, 20_001), 0.0, 1.0)
    return float(fine[int(np.argmax(ml(fine)))])


def control_posteriors(control: dict[str, Any], n_c: int) -> tuple[list[Components], list[float]]:
    """Posterior components for every y_c, and the EB a0 values (empty for fixed priors)."""
    if control["mechanism"] == "prior":
        return [mixture_posterior(control["prior"], y, n_c) for y in range(n_c + 1)], []
    if control["mechanism"] == "eb_power":
        r0, n0 = control["r0"], control["n0"]
        a, b = control["initial"]["a"][0], control["initial"]["b"][0]
        posts, a0s = [], []
        for y in range(n_c + 1):
            a0 = eb_a0(y, n_c, r0, n0, a, b)
            a0s.append(a0)
            posts.append([(1.0, a + a0 * r0 + y, b + a0 * (n0 - r0) + n_c - y)])
        return posts, a0s
    raise ValueError(control["mechanism"])


def mixture_moments(post: Components) -> tuple[float, float]:
    """Mean and variance of a beta mixture (scipy.stats.beta moments)."""
    means = np.array([stats.beta(a, b).mean() for _, a, b in post])
    var_k = np.array([stats.beta(a, b).var() for _, a, b in post])
    w = np.array([v for v, _, _ in post])
    mean = float(w @ means)
    return mean, float(w @ (var_k + (means - mean) ** 2))


# -- P(theta_t - theta_c > delta) -------------------------------------------------------------
def prob_greater(post_t: Components, post_c: Components, delta: float) -> float:
    total = 0.0
    for v, at, bt in post_t:
        surv = stats.beta(at, bt).sf
        for w, ac, bc in post_c:
            dist_c = stats.beta(ac, bc)
            lo, hi = (float(x) for x in dist_c.ppf([TAIL, 1 - TAIL]))
            cut = [float(x) for x in dist_c.ppf([0.01, 0.1, 0.5, 0.9, 0.99])]
            cut += [x for x in (-delta, 1 - delta) if lo < x < hi]
            pts = sorted(x for x in cut if lo < x < hi)

            def integrand(x: float, surv: Any = surv, dist_c: Any = dist_c) -> float:
                z = x + delta
                s = 1.0 if z <= 0 else 0.0 if z >= 1 else float(surv(z))
                return float(dist_c.pdf(x)) * s

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", integrate.IntegrationWarning)
                val, err = integrate.quad(
                    integrand, lo, hi, points=pts, epsabs=1e-14, epsrel=1e-12, limit=500
                )
            if err > 1e-10:
                raise RuntimeError(f"quadrature error {err:.2e}")
            below = TAIL if lo + delta <= 0 else 0.0  # neglected lower tail has S = 1 there
            total += v * w * (val + below)
    return total


def criteria(rule: dict[str, Any]) -> list[tuple[float, float, bool]]:
    k = max(len(rule["prob"]), len(rule["threshold"]), len(rule["lower_tail"]))
    return [
        (float(p), float(t), bool(lt))
        for p, t, lt in zip(
            np.resize(rule["prob"], k),
            np.resize(rule["threshold"], k),
            np.resize(rule["lower_tail"], k),
            strict=True,
        )
    ]


# -- a whole design -----------------------------------------------------------------------------
def summaries(inputs: dict[str, Any]) -> dict[str, Any]:
    """Posteriors and per-outcome summaries: treatment posteriors and means for every
    y_t, control posteriors, means and borrowed information for every y_c (and a0)."""
    n_t, n_c = inputs["n_t"], inputs["n_c"]
    posts_t = [mixture_posterior(inputs["prior_t"], y, n_t) for y in range(n_t + 1)]
    posts_c, a0s = control_posteriors(inputs["control"], n_c)
    mom_c = np.array([mixture_moments(p) for p in posts_c])
    mean_c, var_c = mom_c[:, 0], mom_c[:, 1]
    return {
        "posts_t": posts_t,
        "posts_c": posts_c,
        "a0": a0s,
        "mean_t": np.array([mixture_moments(p)[0] for p in posts_t]),
        "mean_c": mean_c,
        "borrowed": mean_c * (1 - mean_c) / var_c - 1 - n_c,
    }


def cell_decision(
    inputs: dict[str, Any], post_t: Components, post_c: Components
) -> tuple[bool, float]:
    """Decision for one outcome pair and its smallest distance from a criterion's level."""
    ok, margin = True, np.inf
    for prob, thr, lower in criteria(inputs["rule"]):
        p_gt = prob_greater(post_t, post_c, thr)
        p_event = 1.0 - p_gt if lower else p_gt
        ok &= p_event > prob
        margin = min(margin, abs(p_event - prob))
    return bool(ok), float(margin)


def exact_oc(
    inputs: dict[str, Any], decision: Any, mean_t: Any, mean_c: Any, borrowed: Any
) -> dict[str, list[float]]:
    """Exact OCs on the Cartesian scenario grid (theta_t outer) by enumeration."""
    n_t, n_c = inputs["n_t"], inputs["n_c"]
    oc: dict[str, list[float]] = {"p_success": [], "bias": [], "control_error": [], "borrowed": []}
    y_t, y_c = np.arange(n_t + 1), np.arange(n_c + 1)
    estimate = mean_t[:, None] - mean_c[None, :]
    for tt, tc in product(inputs["theta_t"], inputs["theta_c"]):
        q_t, q_c = stats.binom.pmf(y_t, n_t, tt), stats.binom.pmf(y_c, n_c, tc)
        joint = np.outer(q_t, q_c)
        oc["p_success"].append(float(np.sum(joint * decision)))
        oc["bias"].append(float(np.sum(joint * estimate)) - (tt - tc))
        oc["control_error"].append(float(q_c @ mean_c) - tc)
        oc["borrowed"].append(float(q_c @ borrowed))
    return oc


def design_values(inputs: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Decisions, per-outcome summaries and exact OCs on the Cartesian scenario grid."""
    s = summaries(inputs)
    decision = np.ones((inputs["n_t"] + 1, inputs["n_c"] + 1), dtype=bool)
    margin = np.inf
    for i, j in np.ndindex(*decision.shape):
        decision[i, j], m = cell_decision(inputs, s["posts_t"][i], s["posts_c"][j])
        margin = min(margin, m)
    if margin < MIN_MARGIN:
        raise RuntimeError(f"a decision probability is within {margin:.2e} of its level")
    out: dict[str, Any] = {
        "decision": ["".join("1" if d else "0" for d in row) for row in decision],
        "mean_c": s["mean_c"].tolist(),
        "borrowed_by_y_c": s["borrowed"].tolist(),
        "oc": exact_oc(inputs, decision, s["mean_t"], s["mean_c"], s["borrowed"]),
    }
    if s["a0"]:
        out["a0"] = s["a0"]
    return out, float(margin)


# -- cases --------------------------------------------------------------------------------------
UNIFORM = beta_prior([1.0], [1.0], [1.0])
SUPERIORITY = {"prob": [0.975], "threshold": [0.0], "lower_tail": [False]}
PC = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]


NOTE = (
    "published in percent to one decimal: tolerance half a unit of the last digit. Both "
    "designs carry the same total information (ESS 20 + 20 controls vs 2 + 38); the table "
    "number in the paper is not recorded here"
)


def published_cases() -> list[dict[str, Any]]:
    common = (
        f"{SCHMIDLI}: design comparison with 40 treated patients (Be(1, 1) prior) and the "
        "decision P(theta_t - theta_c > 0) > 0.975"
    )
    return [
        {
            "name": "Schmidli 2014 power, Be(4, 16) control prior, 40 vs 20",
            "kind": "published_oc",
            "source": common + "; control prior Be(4, 16) with 20 concurrent controls; power at "
            "delta = theta_t - theta_c = 0.3 for p_c = 0.1, ..., 0.6 (81.5, 87.2, 93.2, 97.9, "
            "99.7, 100.0 %)",
            "note": NOTE,
            "inputs": {
                "n_t": 40,
                "n_c": 20,
                "prior_t": UNIFORM,
                "control": {"mechanism": "prior", "prior": beta_prior([1.0], [4.0], [16.0])},
                "rule": SUPERIORITY,
                "theta_t": [round(p + 0.3, 10) for p in PC],
                "theta_c": PC,
                "paired": True,
            },
            "expected": {"p_success": [0.815, 0.872, 0.932, 0.979, 0.997, 1.000]},
            "tolerance": {"abs": 0.0005},
        },
        {
            "name": "Schmidli 2014 type I error, Be(1, 1) control prior, 40 vs 38",
            "kind": "published_oc",
            "source": common
            + "; control prior Be(1, 1) with 38 concurrent controls (no borrowing); type I "
            "error at theta_t = theta_c = p_c = 0.1, ..., 0.6 (1.8, 2.4, 2.3, 2.3, 2.7, 2.7 %)",
            "note": NOTE,
            "inputs": {
                "n_t": 40,
                "n_c": 38,
                "prior_t": UNIFORM,
                "control": {"mechanism": "prior", "prior": UNIFORM},
                "rule": SUPERIORITY,
                "theta_t": PC,
                "theta_c": PC,
                "paired": True,
            },
            "expected": {"p_success": [0.018, 0.024, 0.023, 0.023, 0.027, 0.027]},
            "tolerance": {"abs": 0.0005},
        },
    ]


def independent_inputs() -> list[tuple[str, str, dict[str, Any]]]:
    robust = beta_prior([0.48, 0.32, 0.2], [6.7, 36.5, 1.0], [19.6, 111.1, 1.0])
    return [
        (
            "Schmidli design Be(4, 16) control prior, 40 vs 20, exact",
            "the published power case recomputed exactly (paired scenarios: delta = 0.3)",
            {
                "n_t": 40,
                "n_c": 20,
                "prior_t": UNIFORM,
                "control": {"mechanism": "prior", "prior": beta_prior([1.0], [4.0], [16.0])},
                "rule": SUPERIORITY,
                "theta_t": [round(p + 0.3, 10) for p in PC],
                "theta_c": PC,
                "paired": True,
            },
        ),
        (
            "Schmidli design no borrowing, 40 vs 38, exact",
            "the published type I error case recomputed exactly (paired scenarios: delta = 0)",
            {
                "n_t": 40,
                "n_c": 38,
                "prior_t": UNIFORM,
                "control": {"mechanism": "prior", "prior": UNIFORM},
                "rule": SUPERIORITY,
                "theta_t": PC,
                "theta_c": PC,
                "paired": True,
            },
        ),
        (
            "robust MAP-like mixture control prior, two criteria, 24 vs 12",
            "robust mixture 0.8 (0.6 Be(6.7, 19.6) + 0.4 Be(36.5, 111.1)) + 0.2 Be(1, 1); "
            "treatment prior 0.7 Be(1, 1) + 0.3 Be(3, 5); P(delta > 0) > 0.95 and "
            "P(delta > 0.1) > 0.5",
            {
                "n_t": 24,
                "n_c": 12,
                "prior_t": beta_prior([0.7, 0.3], [1.0, 3.0], [1.0, 5.0]),
                "control": {"mechanism": "prior", "prior": robust},
                "rule": {"prob": [0.95, 0.5], "threshold": [0.0, 0.1], "lower_tail": [False]},
                "theta_t": [0.25, 0.45, 0.65],
                "theta_c": [0.15, 0.25, 0.4],
                "paired": False,
            },
        ),
        (
            "robust mixture control prior, lower-tail criterion, 15 vs 10",
            "control prior 0.7 Be(3, 9) + 0.3 Be(1, 1); P(delta <= 0.1) > 0.9 (e.g. "
            "no relevant excess of an adverse event)",
            {
                "n_t": 15,
                "n_c": 10,
                "prior_t": UNIFORM,
                "control": {
                    "mechanism": "prior",
                    "prior": beta_prior([0.7, 0.3], [3.0, 1.0], [9.0, 1.0]),
                },
                "rule": {"prob": [0.9], "threshold": [0.1], "lower_tail": [True]},
                "theta_t": [0.1, 0.25, 0.4],
                "theta_c": [0.2, 0.35],
                "paired": False,
            },
        ),
        (
            "empirical-Bayes power prior r0 = 15, n0 = 60, 40 vs 20",
            "Gravestock & Held (2017) empirical-Bayes power prior: a0 per y_c maximises the "
            "beta-binomial marginal likelihood (brute-force grid); initial prior Be(1, 1)",
            {
                "n_t": 40,
                "n_c": 20,
                "prior_t": UNIFORM,
                "control": {"mechanism": "eb_power", "r0": 15, "n0": 60, "initial": UNIFORM},
                "rule": SUPERIORITY,
                "theta_t": [0.25, 0.5],
                "theta_c": [0.15, 0.25, 0.4],
                "paired": False,
            },
        ),
    ]


def tolerance(mechanism: str) -> dict[str, dict[str, float]]:
    """Closed-form quantities to rounding; the EB a0 is an optimum (found to ~1e-8 by
    both sides), which moves the control posterior by n0 * 1e-8 prior observations."""
    eb = mechanism == "eb_power"
    return {
        "decision": {"abs": 0},
        "a0": {"abs": 1e-6},
        "mean_c": {"abs": 1e-8 if eb else 1e-10},
        "borrowed_by_y_c": {"abs": 1e-4 if eb else 1e-7},
        "p_success": {"abs": 1e-10},
        "bias": {"abs": 1e-8 if eb else 1e-10},
        "control_error": {"abs": 1e-8 if eb else 1e-10},
        "borrowed": {"abs": 1e-4 if eb else 1e-7},
    }


def independent_cases() -> list[dict[str, Any]]:
    cases = []
    for name, description, inputs in independent_inputs():
        values, margin = design_values(inputs)
        if inputs["paired"]:  # keep the pairs (theta_t[i], theta_c[i]) of the Cartesian grid
            k = len(inputs["theta_c"])
            keep = [i * k + i for i in range(k)]
            values["oc"] = {m: [v[i] for i in keep] for m, v in values["oc"].items()}
        cases.append(
            {
                "name": name,
                "kind": "independent_design",
                "source": (
                    "independent: tests/reference/scripts/hybrid_reference.py (scipy "
                    f"{scipy.__version__}, numpy {np.__version__}; quad of beta density x "
                    "beta survival, exact enumeration); " + description
                ),
                "min_margin": margin,
                "inputs": inputs,
                "expected": values,
                "tolerance": tolerance(inputs["control"]["mechanism"]),
            }
        )
        print(f"{name}: min margin {margin:.2e}", file=sys.stderr)
    return cases


def main() -> None:
    doc = {
        "description": (
            "Reference values for rdstats.borrowing.HybridControlDesign: published "
            "operating characteristics (Schmidli et al. 2014) and exact values computed "
            "independently (scipy only) by tests/reference/scripts/hybrid_reference.py."
        ),
        "conventions": (
            "theta_t, theta_c: Cartesian scenario grid (theta_t outer), unless paired = true "
            "(scenario i is (theta_t[i], theta_c[i])). decision: one string per y_t = 0..n_t, "
            "character y_c is 1 for a positive decision. borrowed: moment-matched beta ESS of "
            "the control posterior minus n_c."
        ),
        "cases": published_cases() + independent_cases(),
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
