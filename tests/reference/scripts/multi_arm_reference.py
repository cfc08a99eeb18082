"""Independent reference values for rdstats.designs.MultiArmDesign (scipy only, no rdstats).

Writes ``tests/reference/designs_multi_arm.json``:

- ``prob_greater``: P(p_k > p_c + delta | data) for beta-mixture posteriors by adaptive
  quadrature (scipy.integrate.quad) of f_c(x) S_k(x + delta);
- ``prob_best``: P(arm k is best) for independent beta posteriors by quad of
  f_k(x) prod_j F_j(x);
- ``exact_oc``: one look, two arms (control + 1), fixed 1:1 allocation with balanced
  (rounded) or independent (multinomial) randomisation: P(success) = sum of binomial
  probabilities over the region where the quad posterior probability exceeds the
  efficacy threshold (summed over the binomial split of patients for multinomial).

Run: .venv/bin/python tests/reference/scripts/multi_arm_reference.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy import integrate, special, stats

OUT = Path(__file__).resolve().parents[1] / "designs_multi_arm.json"


def posterior(weights, a, b, r, n):
    w, a, b = (np.asarray(v, float) for v in (weights, a, b))
    lw = np.log(w) + special.betaln(a + r, b + n - r) - special.betaln(a, b)
    w = np.exp(lw - lw.max())
    return w / w.sum(), a + r, b + n - r


def pdf(post, x):
    w, a, b = post
    return float(np.sum(w * stats.beta.pdf(x, a, b)))


def sf(post, x):
    w, a, b = post
    return float(np.sum(w * stats.beta.sf(x, a, b)))


def cdf(post, x):
    return 1.0 - sf(post, x)


def prob_greater(post_k, post_c, delta):
    mean_c = float(np.sum(post_c[0] * post_c[1] / (post_c[1] + post_c[2])))
    val, _ = integrate.quad(
        lambda x: pdf(post_c, x) * sf(post_k, x + delta),
        0.0,
        1.0,
        points=[mean_c, min(max(mean_c - delta, 0.0), 1.0)],
        limit=400,
        epsabs=1e-14,
        epsrel=1e-12,
    )
    return val


def prob_best(posts, k):
    def f(x):
        out = pdf(posts[k], x)
        for j, p in enumerate(posts):
            if j != k:
                out *= cdf(p, x)
        return out

    val, _ = integrate.quad(f, 0.0, 1.0, limit=400, epsabs=1e-14, epsrel=1e-12)
    return val


def exact_oc(prior_c, prior_t, n, p_c, p_t, efficacy, delta, randomization):
    """P(declare the arm effective) with n patients in total, one look."""
    splits = (
        [(n // 2, 1.0)]
        if randomization == "rounded"
        else [(m, stats.binom.pmf(m, n, 0.5)) for m in range(n + 1)]
    )
    total = 0.0
    for n_c, w_split in splits:  # rounded: control gets the odd patient first
        n_c = n - n // 2 if randomization == "rounded" else n_c
        n_t = n - n_c
        pc = stats.binom.pmf(np.arange(n_c + 1), n_c, p_c)
        pt = stats.binom.pmf(np.arange(n_t + 1), n_t, p_t)
        for rc in range(n_c + 1):
            post_c = posterior(*prior_c, rc, n_c)
            for rt in range(n_t + 1):
                if prob_greater(posterior(*prior_t, rt, n_t), post_c, delta) > efficacy:
                    total += w_split * pc[rc] * pt[rt]
    return total


def main() -> None:
    cases = []
    greater = [
        ([1.0], [1.0], [1.0], [1.0], [1.0], [1.0], 12, 30, 5, 28, 0.0),
        ([0.8, 0.2], [4.0, 1.0], [16.0, 1.0], [1.0], [0.5], [0.5], 3, 20, 9, 20, 0.1),
        ([1.0], [2.0], [8.0], [1.0], [1.0], [1.0], 0, 5, 5, 5, -0.1),
        ([1.0], [1.0], [1.0], [1.0], [1.0], [1.0], 40, 150, 55, 140, 0.05),
    ]
    for wc, ac, bc, wt, at, bt, rc, nc, rt, nt, d in greater:
        val = prob_greater(posterior(wt, at, bt, rt, nt), posterior(wc, ac, bc, rc, nc), d)
        cases.append(
            {
                "name": f"P(p_k > p_c + {d}) r_c={rc}/{nc}, r_k={rt}/{nt}",
                "kind": "prob_greater",
                "source": "independent: scipy.integrate.quad of f_c(x) S_k(x + delta), "
                "tests/reference/scripts/multi_arm_reference.py",
                "inputs": {
                    "prior_control": {"weights": wc, "a": ac, "b": bc},
                    "prior": {"weights": wt, "a": at, "b": bt},
                    "r_c": rc,
                    "n_c": nc,
                    "r_k": rt,
                    "n_k": nt,
                    "delta": d,
                },
                "expected": val,
                "tolerance": 1e-8,
            }
        )
    for data in ([(13, 30), (12, 25), (1, 5)], [(0, 3), (3, 3), (10, 40)]):
        posts = [posterior([1.0], [1.0], [1.0], r, n) for r, n in data]
        cases.append(
            {
                "name": f"P(arm k best) for {data}",
                "kind": "prob_best",
                "source": "independent: scipy.integrate.quad of f_k(x) prod_j F_j(x), "
                "uniform priors, tests/reference/scripts/multi_arm_reference.py",
                "inputs": {
                    "prior": {"weights": [1.0], "a": [1.0], "b": [1.0]},
                    "r": [r for r, _ in data],
                    "n": [n for _, n in data],
                },
                "expected": [prob_best(posts, k) for k in range(3)],
                "tolerance": 1e-8,
            }
        )
    ocs = [
        ((([1.0], [1.0], [1.0]), ([1.0], [1.0], [1.0])), 24, 0.3, 0.3, 0.95, 0.0, "rounded"),
        ((([1.0], [1.0], [1.0]), ([1.0], [1.0], [1.0])), 24, 0.2, 0.6, 0.95, 0.0, "rounded"),
        (
            (([0.8, 0.2], [6.0, 1.0], [14.0, 1.0]), ([1.0], [1.0], [1.0])),
            31,
            0.3,
            0.5,
            0.9,
            0.05,
            "rounded",
        ),
        ((([1.0], [1.0], [1.0]), ([1.0], [1.0], [1.0])), 20, 0.25, 0.25, 0.9, 0.0, "random"),
        ((([1.0], [1.0], [1.0]), ([1.0], [1.0], [1.0])), 20, 0.2, 0.6, 0.9, 0.0, "random"),
    ]
    for (pc, pt), n, p_c, p_t, eff, d, rand in ocs:
        cases.append(
            {
                "name": f"one-look two-arm OC n={n} p_c={p_c} p_t={p_t} eff={eff} {rand}",
                "kind": "exact_oc",
                "source": "independent: exact enumeration of binomial outcomes (and of the "
                "binomial 1:1 split for random allocation) over the region where the quad "
                "posterior probability exceeds the threshold, "
                "tests/reference/scripts/multi_arm_reference.py",
                "inputs": {
                    "prior_control": dict(zip(("weights", "a", "b"), pc, strict=True)),
                    "prior": dict(zip(("weights", "a", "b"), pt, strict=True)),
                    "n_max": n,
                    "p_control": p_c,
                    "p_1": p_t,
                    "efficacy": eff,
                    "delta": d,
                    "randomization": rand,
                },
                "expected": exact_oc(pc, pt, n, p_c, p_t, eff, d, rand),
                "tolerance": 1e-9,
            }
        )
    doc = {
        "description": "Reference values for rdstats.designs.MultiArmDesign, computed "
        "independently with scipy (no rdstats code).",
        "cases": cases,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
