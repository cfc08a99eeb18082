"""Independent reference values for the MEM and Fujikawa basket models.

Writes ``tests/reference/basket_mem.json`` and ``tests/reference/basket_fujikawa.json``.
Everything is computed here from the definitions with ``mpmath`` (30 digits): MEM by
explicit enumeration of the inclusion patterns of each basket (log-beta functions,
regularised incomplete beta for the tail probabilities); Fujikawa by tanh-sinh quadrature
of the Jensen-Shannon divergence on the probability scale. Nothing from rdstats is used.

Run (mpmath is not a dependency of rdstats)::

    python -m pip install --target /tmp/mpm mpmath
    PYTHONPATH=/tmp/mpm python tests/reference/scripts/basket_mem_fujikawa_reference.py

Only the standard library is imported at top level (pytest collects this file).
"""

from __future__ import annotations

import itertools
import json
import pathlib
from typing import Any

OUT = pathlib.Path(__file__).resolve().parents[1]


def mem_case(
    r: list[int], n: list[int], pi: float, a: float, b: float, p0: float
) -> dict[str, Any]:
    import mpmath as mp

    mp.mp.dps = 30
    k = len(r)
    a_, b_ = mp.mpf(a), mp.mpf(b)

    def lbeta(x: Any, y: Any) -> Any:
        return mp.loggamma(x) + mp.loggamma(y) - mp.loggamma(x + y)

    means, tails, exch, pexch = [], [], [], []
    for j in range(k):
        others = [h for h in range(k) if h != j]
        rows = []
        for bits in itertools.product([0, 1], repeat=k - 1):
            inc = [j] + [h for h, s in zip(others, bits, strict=True) if s]
            exc = [h for h, s in zip(others, bits, strict=True) if not s]
            rs = sum(r[h] for h in inc)
            fs = sum(n[h] - r[h] for h in inc)
            logw = sum(mp.log(pi) if s else mp.log(1 - mp.mpf(pi)) for s in bits)
            logw += lbeta(a_ + rs, b_ + fs) - lbeta(a_, b_)
            for h in exc:
                logw += lbeta(a_ + r[h], b_ + n[h] - r[h]) - lbeta(a_, b_)
            rows.append((bits, logw, a_ + rs, b_ + fs))
        mx = max(w for _, w, _, _ in rows)
        tot = mp.fsum(mp.exp(w - mx) for _, w, _, _ in rows)
        ws = [mp.exp(w - mx) / tot for _, w, _, _ in rows]
        means.append(
            float(mp.fsum(w * pa / (pa + pb) for w, (_, _, pa, pb) in zip(ws, rows, strict=True)))
        )
        tails.append(
            float(
                mp.fsum(
                    w * mp.betainc(pa, pb, p0, 1, regularized=True)
                    for w, (_, _, pa, pb) in zip(ws, rows, strict=True)
                )
            )
        )
        row = [0.0] * k
        row[j] = 1.0
        for i, h in enumerate(others):
            row[h] = float(mp.fsum(w for w, (bits, *_) in zip(ws, rows, strict=True) if bits[i]))
        exch.append(row)
        pexch.append(float(1 - ws[0]))  # pattern (0, ..., 0) first
    return {
        "inputs": {"r": r, "n": n, "prior_exch": pi, "beta_prior": [a, b], "p0": p0},
        "expected": {
            "mean": means,
            "prob_above": tails,
            "exchangeability": exch,
            "p_exchangeable": pexch,
        },
    }


def fujikawa_case(
    r: list[int], n: list[int], a: float, b: float, eps: float, tau: float, p0: float
) -> dict[str, Any]:
    import mpmath as mp

    mp.mp.dps = 30
    k = len(r)
    sa = [mp.mpf(a + r[j]) for j in range(k)]
    sb = [mp.mpf(b + n[j] - r[j]) for j in range(k)]

    def pdf(j: int, x: Any) -> Any:
        return x ** (sa[j] - 1) * (1 - x) ** (sb[j] - 1) / mp.beta(sa[j], sb[j])

    def kl_to_mid(i: int, j: int) -> Any:
        def f(x: Any) -> Any:
            p = pdf(i, x)
            if p == 0:
                return mp.mpf(0)
            return p * mp.log(2 * p / (p + pdf(j, x)), 2)

        return mp.quad(f, [0, mp.mpf(1) / 4, mp.mpf(1) / 2, mp.mpf(3) / 4, 1])

    w = [[1.0] * k for _ in range(k)]
    for i in range(k):
        for j in range(i + 1, k):
            jsd = (kl_to_mid(i, j) + kl_to_mid(j, i)) / 2
            s = (1 - jsd) ** eps
            w[i][j] = w[j][i] = float(s) if s >= tau else 0.0
    pa = [mp.fsum(w[i][j] * sa[j] for j in range(k)) for i in range(k)]
    pb = [mp.fsum(w[i][j] * sb[j] for j in range(k)) for i in range(k)]
    return {
        "inputs": {"r": r, "n": n, "beta_prior": [a, b], "epsilon": eps, "tau": tau, "p0": p0},
        "expected": {
            "weights": w,
            "mean": [float(pa[i] / (pa[i] + pb[i])) for i in range(k)],
            "prob_above": [
                float(mp.betainc(pa[i], pb[i], p0, 1, regularized=True)) for i in range(k)
            ],
        },
    }


def main() -> None:
    mem = {
        "description": "MEM (Hobbs & Landin 2018; Kaizer et al. 2018) posterior summaries by "
        "explicit enumeration of every basket's 2^(K-1) inclusion patterns",
        "source": "tests/reference/scripts/basket_mem_fujikawa_reference.py (mpmath, 30 digits)",
        "tolerance": {"closed_form": 1e-10, "grid": 2e-3},
        "cases": [
            mem_case([2, 3, 9], [15, 15, 15], 0.5, 0.5, 0.5, 0.2),
            mem_case([1, 7, 0, 4], [10, 12, 0, 9], 0.3, 1.0, 1.0, 0.25),
            mem_case([5, 5], [20, 12], 0.5, 0.5, 0.5, 0.2),
        ],
    }
    fuj = {
        "description": "Fujikawa et al. (2020, Biom J 62:330-338) similarity-weighted beta "
        "posteriors: (1 - JSD)^epsilon weights (log base 2), zero below tau",
        "source": "tests/reference/scripts/basket_mem_fujikawa_reference.py (mpmath, 30 digits)",
        "tolerance": {"weights": 1e-8, "closed_form": 1e-8},
        "cases": [
            fujikawa_case([2, 3, 9], [15, 15, 15], 1.0, 1.0, 2.0, 0.3, 0.2),
            fujikawa_case([2, 9, 11, 13, 20], [25, 25, 25, 25, 25], 1.0, 1.0, 2.0, 0.3, 0.3),
            fujikawa_case([1, 4, 0], [8, 20, 0], 0.5, 0.5, 1.25, 0.5, 0.15),
        ],
    }
    (OUT / "basket_mem.json").write_text(json.dumps(mem, indent=1) + "\n")
    (OUT / "basket_fujikawa.json").write_text(json.dumps(fuj, indent=1) + "\n")


if __name__ == "__main__":
    main()
