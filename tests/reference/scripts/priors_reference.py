"""Independent high-precision reference values for ``rdstats.priors``.

Writes ``tests/reference/priors_computed.json``. Every number is computed here from first
principles with ``mpmath`` (25 significant digits: closed forms, tanh-sinh quadrature and
``findroot``); nothing from :mod:`rdstats` is imported, so the values are an independent
check of the library's closed forms and quadratures.

Run (``mpmath`` is not a dependency of rdstats; install it anywhere on ``PYTHONPATH``)::

    python -m pip install --target /tmp/mpm mpmath
    PYTHONPATH=/tmp/mpm python tests/reference/scripts/priors_reference.py

The module imports only the standard library at top level so that pytest's
``--doctest-modules`` collection does not need ``mpmath``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "priors_computed.json"
DPS = 25


def main() -> None:
    import mpmath as mp

    mp.mp.dps = DPS
    source = (
        f"tests/reference/scripts/priors_reference.py (mpmath {mp.__version__}, "
        f"{DPS} significant digits)"
    )
    cases: list[dict[str, Any]] = []

    def f(x: Any) -> float:
        return float(x)

    def add(
        name: str,
        kind: str,
        inputs: dict[str, Any],
        expected: Any,
        tol: dict[str, float],
        method: str,
    ) -> None:
        cases.append(
            {
                "name": name,
                "kind": kind,
                "source": f"{source}: {method}",
                "inputs": inputs,
                "expected": expected,
                "tolerance": tol,
            }
        )

    # ---------------------------------------------------------------- component families
    def beta_pdf(x, a, b):
        return x ** (a - 1) * (1 - x) ** (b - 1) / mp.beta(a, b)

    def beta_cdf(x, a, b):
        if x <= 0:
            return mp.mpf(0)
        if x >= 1:
            return mp.mpf(1)
        return mp.betainc(a, b, 0, x, regularized=True)

    def gamma_pdf(x, a, r):
        return r**a * x ** (a - 1) * mp.exp(-r * x) / mp.gamma(a)

    def gamma_cdf(x, a, r):
        if x <= 0:
            return mp.mpf(0)
        return mp.gammainc(a, 0, r * x, regularized=True)

    def norm_pdf(x, m, s):
        return mp.npdf(x, m, s)

    def norm_cdf(x, m, s):
        return mp.ncdf(x, m, s)

    families = {
        "BetaMixture": (beta_pdf, beta_cdf, ("a", "b"), (0, 1)),
        "GammaMixture": (gamma_pdf, gamma_cdf, ("shape", "rate"), (0, mp.inf)),
        "NormalMixture": (norm_pdf, norm_cdf, ("mean", "sd"), (-mp.inf, mp.inf)),
    }

    def comps(d):
        _, _, names, _ = families[d["class"]]
        return [
            (mp.mpf(w), mp.mpf(p1), mp.mpf(p2))
            for w, p1, p2 in zip(d["weights"], d[names[0]], d[names[1]], strict=True)
        ]

    def mix_pdf(d, x):
        pdf = families[d["class"]][0]
        return mp.fsum(w * pdf(x, p1, p2) for w, p1, p2 in comps(d))

    def mix_cdf(d, x):
        cdf = families[d["class"]][1]
        return mp.fsum(w * cdf(x, p1, p2) for w, p1, p2 in comps(d))

    def comp_moments(d):
        out = []
        for w, p1, p2 in comps(d):
            if d["class"] == "BetaMixture":
                m = p1 / (p1 + p2)
                v = p1 * p2 / ((p1 + p2) ** 2 * (p1 + p2 + 1))
            elif d["class"] == "GammaMixture":
                m, v = p1 / p2, p1 / p2**2
            else:
                m, v = p1, p2**2
            out.append((w, m, v))
        return out

    def mix_mean_var(d):
        cm = comp_moments(d)
        mu = mp.fsum(w * m for w, m, _ in cm)
        var = mp.fsum(w * (v + (m - mu) ** 2) for w, m, v in cm)
        return mu, var

    split_cache: dict[str, list[Any]] = {}

    def split_points(d):
        """Break points for quadrature: component quantiles (cached)."""
        key = json.dumps(d, sort_keys=True)
        if key not in split_cache:
            split_cache[key] = _split_points(d)
        return split_cache[key]

    def _split_points(d):
        lo, hi = families[d["class"]][3]
        pts = set()
        for _w, p1, p2 in comps(d):
            for q in (
                mp.mpf("1e-8"),
                mp.mpf("0.01"),
                mp.mpf("0.5"),
                mp.mpf("0.99"),
                1 - mp.mpf("1e-8"),
            ):
                if d["class"] == "BetaMixture":
                    x = comp_ppf_beta(q, p1, p2)
                elif d["class"] == "GammaMixture":
                    x = solve(
                        lambda t, a=p1, r=p2, q=q: gamma_cdf(t, a, r) - q,
                        mp.mpf("1e-12"),
                        10 * (p1 + 10) / p2,
                    )
                else:
                    x = p1 + p2 * mp.sqrt(2) * mp.erfinv(2 * q - 1)
                pts.add(x)
        return [lo, *sorted(p for p in pts if lo < p < hi), hi]

    def solve(fn, lo, hi, coarse=40):
        """Root of an increasing fn in [lo, hi]: bisection, then secant to full precision."""
        lo, hi = mp.mpf(lo), mp.mpf(hi)
        assert fn(lo) < 0 < fn(hi), (lo, hi)
        for _ in range(coarse):
            mid = (lo + hi) / 2
            if fn(mid) < 0:
                lo = mid
            else:
                hi = mid
        return mp.findroot(fn, (lo, hi), solver="secant")

    def comp_ppf_beta(q, a, b):
        return solve(lambda t: beta_cdf(t, a, b) - q, 0, 1)

    def mix_ppf(d, q, bracket):
        q = mp.mpf(q)
        return solve(lambda t: mix_cdf(d, t) - q, *bracket)

    def integrate(fn, pts):
        val, err = mp.quad(fn, pts, error=True, maxdegree=10)
        assert err < mp.mpf("1e-15"), (err, pts)
        return val

    # ---------------------------------------------------------------- the priors used
    beta_rob = {"class": "BetaMixture", "weights": [0.2, 0.8], "a": [1, 10], "b": [1, 2]}
    beta_post_prior = {"class": "BetaMixture", "weights": [0.5, 0.5], "a": [4, 1], "b": [10, 1]}
    beta_3 = {
        "class": "BetaMixture",
        "weights": [0.3, 0.5, 0.2],
        "a": [2.5, 12, 1.5],
        "b": [7, 5, 1.5],
    }
    gamma_rob = {
        "class": "GammaMixture",
        "weights": [0.3, 0.7],
        "shape": [20, 50],
        "rate": [4, 10],
        "likelihood": "poisson",
    }
    gamma_rob_exp = dict(gamma_rob, likelihood="exp")
    norm_rob = {
        "class": "NormalMixture",
        "weights": [0.5, 0.5],
        "mean": [0, 3],
        "sd": [2, 4],
        "sigma": 10,
    }
    norm_nm = {
        "class": "NormalMixture",
        "weights": [0.2, 0.8],
        "mean": [0, 2],
        "sd": [2, 2],
        "sigma": 5,
    }

    # ---------------------------------------------------------------- moments, cdf, ppf
    for d, bracket in (
        (beta_rob, (mp.mpf("1e-9"), 1 - mp.mpf("1e-12"))),
        (beta_3, (mp.mpf("1e-9"), 1 - mp.mpf("1e-12"))),
        (gamma_rob, (mp.mpf("0.5"), mp.mpf(20))),
        (norm_nm, (mp.mpf(-20), mp.mpf(20))),
    ):
        mu, var = mix_mean_var(d)
        add(
            f"{d['class']} {d['weights']} mean and sd",
            "moments",
            {"dist": d},
            {"mean": f(mu), "sd": f(mp.sqrt(var))},
            {"rel": 1e-12},
            "closed-form component moments and the law of total variance",
        )
        xs = [f(mix_ppf(d, q, bracket)) for q in ("0.025", "0.5", "0.975")]
        add(
            f"{d['class']} {d['weights']} quantiles 2.5/50/97.5 %",
            "ppf",
            {"dist": d, "q": [0.025, 0.5, 0.975]},
            xs,
            {"rel": 1e-9},
            "mpmath findroot on the mixture cdf (regularised incomplete beta/gamma, erfc)",
        )
        pts = [f(x) for x in xs] + [f(mu)]
        add(
            f"{d['class']} {d['weights']} cdf and pdf",
            "cdf_pdf",
            {"dist": d, "x": pts},
            {"cdf": [f(mix_cdf(d, x)) for x in pts], "pdf": [f(mix_pdf(d, x)) for x in pts]},
            {"rel": 1e-11},
            "mixture of mpmath betainc/gammainc/ncdf and closed-form densities",
        )

    # ---------------------------------------------------------------- posteriors
    def beta_posterior(d, r, n):
        logm = [
            mp.log(w) + mp.log(mp.beta(a + r, b + n - r)) - mp.log(mp.beta(a, b))
            for w, a, b in comps(d)
        ]
        top = max(logm)
        un = [mp.exp(v - top) for v in logm]
        tot = mp.fsum(un)
        return (
            [f(u / tot) for u in un],
            [f(a + r) for _w, a, _b in comps(d)],
            [f(b + n - r) for _w, _a, b in comps(d)],
        )

    for d, r, n in ((beta_post_prior, 18, 20), (beta_rob, 3, 12), (beta_3, 0, 7)):
        w, a, b = beta_posterior(d, r, n)
        add(
            f"beta posterior {d['weights']} r={r} n={n}",
            "components",
            {"dist": d, "posterior": {"r": r, "n": n}},
            {"weights": w, "a": a, "b": b},
            {"rel": 1e-12},
            "w_k B(a_k + r, b_k + n - r) / B(a_k, b_k), normalised",
        )

    def gamma_posterior(d, total, n):
        total, n = mp.mpf(total), mp.mpf(n)
        out_w, out_s, out_r = [], [], []
        logm = []
        for w, a, r in comps(d):
            if d["likelihood"] == "poisson":
                a2, r2 = a + total, r + n
            else:
                a2, r2 = a + n, r + total
            logm.append(
                mp.log(w) + mp.loggamma(a2) - mp.loggamma(a) + a * mp.log(r) - a2 * mp.log(r2)
            )
            out_s.append(f(a2))
            out_r.append(f(r2))
        top = max(logm)
        un = [mp.exp(v - top) for v in logm]
        out_w = [f(u / mp.fsum(un)) for u in un]
        return out_w, out_s, out_r

    for d, total, n in ((gamma_rob, 12, 5), (gamma_rob, 40, 5), (gamma_rob_exp, 3.5, 9)):
        w, s, r = gamma_posterior(d, total, n)
        add(
            f"gamma ({d['likelihood']}) posterior total={total} n={n}",
            "components",
            {"dist": d, "posterior": {"total": total, "n": n}},
            {"weights": w, "shape": s, "rate": r},
            {"rel": 1e-12},
            "gamma-Poisson / gamma-exponential marginal likelihoods",
        )

    def norm_posterior(d, y, se):
        y, se = mp.mpf(y), mp.mpf(se)
        logm, ms, ss = [], [], []
        for w, m, s in comps(d):
            tot = s**2 + se**2
            logm.append(mp.log(w) - mp.log(tot) / 2 - (y - m) ** 2 / (2 * tot))
            prec = 1 / s**2 + 1 / se**2
            ms.append(f((m / s**2 + y / se**2) / prec))
            ss.append(f(1 / mp.sqrt(prec)))
        top = max(logm)
        un = [mp.exp(v - top) for v in logm]
        return [f(u / mp.fsum(un)) for u in un], ms, ss

    for d, y, se in ((norm_rob, 6.0, 1.5), (norm_nm, -1.0, 1.0)):
        w, m, s = norm_posterior(d, y, se)
        add(
            f"normal posterior {d['weights']} mean={y} se={se}",
            "components",
            {"dist": d, "posterior": {"mean": y, "se": se}},
            {"weights": w, "mean": m, "sd": s},
            {"rel": 1e-12},
            "normal-normal update with N(m_k, s_k^2 + se^2) marginals",
        )

    # ---------------------------------------------------------------- predictive
    def betabinom_pmf(d, n, k):
        return mp.fsum(
            w * mp.binomial(n, k) * mp.beta(k + a, n - k + b) / mp.beta(a, b)
            for w, a, b in comps(d)
        )

    bb = {"class": "BetaMixture", "weights": [0.8, 0.2], "a": [15, 1], "b": [50, 1]}
    add(
        "beta-binomial predictive pmf 0..10",
        "cdf_pdf",
        {"dist": bb, "predictive_n": 10, "x": list(range(11))},
        {"pdf": [f(betabinom_pmf(bb, 10, k)) for k in range(11)]},
        {"rel": 1e-12},
        "C(n,k) B(k+a, n-k+b) / B(a,b) mixed over components",
    )

    def nb_pmf(d, n, k):
        n = mp.mpf(n)
        return mp.fsum(
            w
            * mp.exp(mp.loggamma(a + k) - mp.loggamma(a) - mp.loggamma(k + 1))
            * (r / (r + n)) ** a
            * (n / (r + n)) ** k
            for w, a, r in comps(d)
        )

    add(
        "gamma-Poisson predictive pmf, exposure 2.5",
        "cdf_pdf",
        {"dist": gamma_rob, "predictive_n": 2.5, "x": [0, 5, 10, 12, 20, 30]},
        {"pdf": [f(nb_pmf(gamma_rob, 2.5, k)) for k in (0, 5, 10, 12, 20, 30)]},
        {"rel": 1e-11},
        "negative binomial NB(a_k, b_k / (b_k + n)) mixed over components",
    )

    def gtime_cdf(d, n, t):
        t = mp.mpf(t)
        return mp.fsum(
            w * mp.betainc(n, a, 0, t / (r + t), regularized=True) for w, a, r in comps(d)
        )

    def gtime_pdf(d, n, t):
        t = mp.mpf(t)
        return mp.fsum(
            w * r**a * t ** (n - 1) / (mp.beta(n, a) * (r + t) ** (n + a)) for w, a, r in comps(d)
        )

    xs = [0.1, 0.5, 1.0, 2.0, 5.0]
    add(
        "gamma-exponential predictive total time of 3 events",
        "cdf_pdf",
        {"dist": gamma_rob_exp, "predictive_n": 3, "x": xs},
        {
            "cdf": [f(gtime_cdf(gamma_rob_exp, 3, x)) for x in xs],
            "pdf": [f(gtime_pdf(gamma_rob_exp, 3, x)) for x in xs],
        },
        {"rel": 1e-11},
        "compound gamma: P(T <= t) = I_{t/(b+t)}(n, a), density b^a t^(n-1)/(B(n,a)(b+t)^(n+a))",
    )

    # ---------------------------------------------------------------- differences
    def prob_diff(d1, d2, q):
        q = mp.mpf(q)
        fam = d1["class"]
        if fam == "NormalMixture":
            return mp.fsum(
                w1 * w2 * mp.ncdf(q, m1 - m2, mp.sqrt(s1**2 + s2**2))
                for w1, m1, s1 in comps(d1)
                for w2, m2, s2 in comps(d2)
            )
        lo_s, hi_s = families[fam][3]
        lo = max(lo_s, lo_s - q)
        hi = min(hi_s, hi_s - q)
        if lo >= hi:
            return mp.mpf(1) if q > 0 else mp.mpf(0)
        pts2 = split_points(d2)
        pts1 = [p - q for p in split_points(d1)]
        pts = sorted({p for p in pts1 + pts2 if lo < p < hi} | {lo, hi})
        val = integrate(lambda t: mix_pdf(d2, t) * mix_cdf(d1, t + q), pts)
        upper = 1 - mix_cdf(d2, hi) if hi < hi_s else 0
        return val + upper

    b1 = {"class": "BetaMixture", "weights": [1.0], "a": [11], "b": [4]}
    b2 = {"class": "BetaMixture", "weights": [1.0], "a": [8], "b": [7]}
    bm1 = {"class": "BetaMixture", "weights": [0.8, 0.2], "a": [11, 1], "b": [4, 1]}
    bm2 = {"class": "BetaMixture", "weights": [0.8, 0.2], "a": [8, 1], "b": [7, 1]}
    m1 = {"class": "BetaMixture", "weights": [1.0], "a": [30], "b": [50]}
    m2 = {"class": "BetaMixture", "weights": [0.75, 0.25], "a": [20, 1], "b": [50, 1]}
    g1 = {
        "class": "GammaMixture",
        "weights": [1.0],
        "shape": [20],
        "rate": [4],
        "likelihood": "poisson",
    }
    g2 = {
        "class": "GammaMixture",
        "weights": [1.0],
        "shape": [50],
        "rate": [10],
        "likelihood": "poisson",
    }
    # RBesT mixgamma(rob = c(0.75, 8, 0.5), inf = c(0.25, 9, 2), param = "ms")
    gm1 = {
        "class": "GammaMixture",
        "weights": [0.75, 0.25],
        "shape": [256.0, 20.25],
        "rate": [32.0, 2.25],
        "likelihood": "poisson",
    }
    n1 = {
        "class": "NormalMixture",
        "weights": [0.2, 0.8],
        "mean": [0, 2],
        "sd": [2, 2],
        "sigma": None,
    }
    n2 = {"class": "NormalMixture", "weights": [1.0], "mean": [2], "sd": [2], "sigma": None}
    pairs = [
        ("Be(11,4) - Be(8,7)", b1, b2, [-0.3, 0.0, 0.3]),
        ("beta mixtures (RBesT test-mixdiff)", bm1, bm2, [-0.5, 0.0, 0.3]),
        ("beta mixtures, reversed", bm2, bm1, [-0.3, 0.0, 0.5]),
        ("Be(30,50) - beta mixture", m1, m2, [-0.4, 0.0, 0.2]),
        ("Ga(20,4) - Ga(50,10)", g1, g2, [-2.0, 0.0, 1.0]),
        ("gamma mixture - Ga(50,10)", gm1, g2, [-2.0, 0.0, 4.0]),
        ("Ga(50,10) - gamma mixture", g2, gm1, [-4.0, 0.0, 2.0]),
        ("normal mixture - N(2,2)", n1, n2, [-3.0, 0.0, 1.5]),
    ]
    for label, d1, d2, qs in pairs:
        add(
            f"prob_difference {label}",
            "prob_difference",
            {"dist_1": d1, "dist_2": d2, "q": qs},
            [f(prob_diff(d1, d2, q)) for q in qs],
            {"abs": 1e-10},
            "P(X1 - X2 <= q) = int p2(t) F1(t + q) dt (tanh-sinh) + P(X2 > upper limit); "
            "normal: closed form",
        )
    for label, d1, d2, br in (
        ("Be(30,50) - beta mixture", m1, m2, (-0.99, 0.99)),
        ("gamma mixture - Ga(50,10)", gm1, g2, (-8.0, 12.0)),
    ):
        ps = [0.025, 0.5, 0.975]
        qs = [
            f(solve(lambda x, p=p, d1=d1, d2=d2: prob_diff(d1, d2, x) - p, *br, coarse=12))
            for p in ps
        ]
        add(
            f"quantile_difference {label}",
            "quantile_difference",
            {"dist_1": d1, "dist_2": d2, "p": ps},
            qs,
            {"abs": 1e-8},
            "mpmath findroot of the quadrature above",
        )

    # ---------------------------------------------------------------- ESS
    def derivs(d, x):
        """p, p', p'' of the mixture density at x (analytic)."""
        p = p1 = p2 = mp.mpf(0)
        for w, u, v in comps(d):
            if d["class"] == "BetaMixture":
                if not 0 < x < 1:
                    return mp.mpf(1), mp.mpf(0), mp.mpf(0)  # boundary node: zero weight
                fk = beta_pdf(x, u, v)
                g = (u - 1) / x - (v - 1) / (1 - x)
                h = -(u - 1) / x**2 - (v - 1) / (1 - x) ** 2
            elif d["class"] == "GammaMixture":
                fk = gamma_pdf(x, u, v)
                g = (u - 1) / x - v
                h = -(u - 1) / x**2
            else:
                fk = norm_pdf(x, u, v)
                g = -(x - u) / v**2
                h = -1 / v**2
            p += w * fk
            p1 += w * fk * g
            p2 += w * fk * (g**2 + h)
        return p, p1, p2

    def obs_info(d, x):
        p, p1, p2 = derivs(d, x)
        return (p1 / p) ** 2 - p2 / p

    def inv_fisher(d, family, sigma):
        if d["class"] == "BetaMixture":
            return lambda t: t * (1 - t)
        if d["class"] == "GammaMixture":
            return (lambda t: t) if d["likelihood"] == "poisson" else (lambda t: t**2)
        if family == "binomial":
            return lambda e: 1 / (mp.exp(e) / (1 + mp.exp(e)) ** 2)
        return lambda e: mp.mpf(sigma) ** 2

    def elir(d, family=None, sigma=None):
        ifi = inv_fisher(d, family, sigma)

        def integrand(x):
            p, p1, p2 = derivs(d, x)
            if p == 0:
                return mp.mpf(0)
            return (p1**2 / p - p2) * ifi(x)

        return integrate(integrand, split_points(d))

    def moment(d, family=None, sigma=None):
        mu, var = mix_mean_var(d)
        if d["class"] == "BetaMixture":
            return mu * (1 - mu) / var - 1
        if d["class"] == "GammaMixture":
            return mu / var if d["likelihood"] == "poisson" else mu**2 / var
        return mp.mpf(sigma) ** 2 / var

    def mode(d, bracket):
        """Root of p'(x), which falls from + to - across the bracketed mode."""
        return solve(lambda x: -derivs(d, x)[1], *bracket, coarse=60)

    def morita(d, bracket, s=100):
        c = mp.mpf(1) / s
        x = mode(d, bracket)
        info = obs_info(d, x)
        mu, _ = mix_mean_var(d)
        if d["class"] == "BetaMixture":
            num = info + (1 - x * c) / x**2 + (1 - (1 - x) * c) / (1 - x) ** 2
            return num / (mu / x**2 + (1 - mu) / (1 - x) ** 2)
        if d["likelihood"] == "poisson":
            return (x**2 * info + 1 - x * c) / mu
        return x**2 * info + 1 - c

    gamma_exp_only = dict(gamma_rob_exp)
    nm_logit = {
        "class": "NormalMixture",
        "weights": [1.0],
        "mean": [f(mp.log(mp.mpf(5) / 15))],
        "sd": [f(mp.sqrt(mp.mpf(1) / 5 + mp.mpf(1) / 15))],
        "sigma": None,
    }
    nm_logit2 = {
        "class": "NormalMixture",
        "weights": [0.2, 0.8],
        "mean": [0.0, f(mp.log(5))],
        "sd": [2.0, f(mp.sqrt(mp.mpf(1) / 10 + mp.mpf(1) / 2))],
        "sigma": None,
    }
    ess_cases = [
        ("beta mixture 0.2 Be(1,1) + 0.8 Be(10,2)", beta_rob, {}),
        ("beta mixture, three components", beta_3, {}),
        ("gamma mixture, Poisson", gamma_rob, {}),
        ("gamma mixture, exponential", gamma_exp_only, {}),
        ("normal mixture sigma=10", norm_rob, {"sigma": 10}),
        ("normal mixture sigma=5", norm_nm, {"sigma": 5}),
        ("normal, logit scale (binomial family)", nm_logit, {"family": "binomial"}),
        ("normal mixture, logit scale (binomial family)", nm_logit2, {"family": "binomial"}),
    ]
    for label, d, kw in ess_cases:
        add(
            f"ess elir: {label}",
            "ess",
            {"dist": d, "method": "elir", **kw},
            f(elir(d, kw.get("family"), kw.get("sigma"))),
            {"rel": 1e-9},
            "E_prior[ i_p(x) / i_F(x) ] by tanh-sinh quadrature, i_p from analytic "
            "first and second derivatives of the mixture density",
        )
        if kw.get("family") is None:
            add(
                f"ess moment: {label}",
                "ess",
                {"dist": d, "method": "moment", **kw},
                f(moment(d, None, kw.get("sigma"))),
                {"rel": 1e-12},
                "conjugate distribution with the mixture's mean and variance",
            )
    for label, d, start in (
        ("beta mixture 0.2 Be(1,1) + 0.8 Be(10,2)", beta_rob, (0.8, 0.95)),
        ("beta mixture, three components", beta_3, (0.6, 0.8)),
        ("gamma mixture, Poisson", gamma_rob, (4.5, 5.2)),
        ("gamma mixture, exponential", gamma_exp_only, (4.5, 5.2)),
    ):
        add(
            f"ess morita: {label}",
            "ess",
            {"dist": d, "method": "morita"},
            f(morita(d, start)),
            {"rel": 1e-7},
            "Neuenschwander et al. (2020) eq. 9 form of Morita-Thall-Mueller at the exact "
            "mode (mpmath findroot of p'(x)), eps-information prior of sample size 1/s, "
            "s=100, expected Fisher information over the one-observation predictive",
        )

    # ---------------------------------------------------------------- conjugate identities
    # ELIR = E[i_p / i_F]. One Be(a, b): (a-1) E[(1-x)/x] + (b-1) E[x/(1-x)] = b + a (a, b > 1).
    # N(m, s) with sampling sd sigma: sigma^2 / s^2. Ga(a, b), Poisson: (a-1) E[1/x] = b
    # (a > 1); exponential: i_p / i_F = (a-1)/x^2 * x^2 = a - 1 exactly. Moment ESS:
    # a + b, sigma^2 / s^2, b (Poisson) and a (exponential: mean^2 / var).
    ident = "analytic identity for one conjugate component (derivation in the script)"
    for a, b in ((2, 3), (1.5, 20), (30, 4.5)):
        d = {"class": "BetaMixture", "weights": [1.0], "a": [a], "b": [b]}
        for meth in ("elir", "moment"):
            add(
                f"ess {meth}: Be({a}, {b}) = a + b",
                "ess",
                {"dist": d, "method": meth},
                a + b,
                {"rel": 1e-9},
                ident,
            )
    for m, sd, sig in ((0.0, 2.0, 10.0), (-3.0, 0.5, 1.0)):
        d = {"class": "NormalMixture", "weights": [1.0], "mean": [m], "sd": [sd], "sigma": sig}
        for meth in ("elir", "moment"):
            add(
                f"ess {meth}: N({m}, {sd}), sigma={sig} = sigma^2/s^2",
                "ess",
                {"dist": d, "method": meth},
                sig**2 / sd**2,
                {"rel": 1e-9},
                ident,
            )
    for a, b in ((20.0, 4.0), (2.5, 0.5)):
        d = {
            "class": "GammaMixture",
            "weights": [1.0],
            "shape": [a],
            "rate": [b],
            "likelihood": "poisson",
        }
        for meth in ("elir", "moment"):
            add(
                f"ess {meth}: Ga({a}, {b}), Poisson = rate",
                "ess",
                {"dist": d, "method": meth},
                b,
                {"rel": 1e-9},
                ident,
            )
        d = dict(d, likelihood="exp")
        add(
            f"ess elir: Ga({a}, {b}), exponential = shape - 1",
            "ess",
            {"dist": d, "method": "elir"},
            a - 1,
            {"rel": 1e-9},
            ident,
        )
        add(
            f"ess moment: Ga({a}, {b}), exponential = shape",
            "ess",
            {"dist": d, "method": "moment"},
            a,
            {"rel": 1e-9},
            ident,
        )

    doc = {
        "description": __doc__.strip().splitlines()[0],
        "schema": "as tests/reference/priors.json",
        "cases": cases,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
