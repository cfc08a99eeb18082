"""Independent reference values for the power and commensurate priors
(``rdstats.borrowing._power`` and ``_commensurate``), written to
``tests/reference/borrowing_power.json``.

Nothing from rdstats is used: every value comes from closed forms and scipy's adaptive
quadrature (QUADPACK), by routes that differ from the library's:

* normalised power prior: for each a0 the theta integral is closed-form (beta-binomial,
  normal, negative-binomial normalising constants), the a0 integral is ``quad`` over
  [0, 1] split at fixed break points (the library uses a graded adaptive Gauss-Legendre
  rule and mixtures over a0 nodes);
* empirical-Bayes a0: the maximiser of the closed-form marginal likelihood on a grid of
  200001 values of a0 (the library: graded grid + bounded Brent);
* commensurate prior, binomial data with tau ~ HalfNormal(s): tau is integrated out
  analytically, ``int pi(tau) N(d; 0, tau^2) dtau = K0(|d| / s) / (pi s)`` (modified
  Bessel function; and ``exp(-|d|/s) / sqrt(2 pi)`` for E[tau]), leaving a 2-D integral
  over (theta0, theta) done by nested ``quad`` (the library: quadrature over log tau,
  sinh-trapezoid convolutions and adaptive Gauss-Legendre in theta);
* commensurate prior, normal data: closed forms given tau and ``quad`` over tau.

Run from the repository root: ``python tests/reference/scripts/borrowing_power_reference.py``.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import scipy
from scipy import integrate, special, stats

OUT = Path(__file__).resolve().parents[1] / "borrowing_power.json"
BREAKS = [0.0, 1e-6, 1e-5, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 0.999, 1.0]
SRC = f"tests/reference/scripts/borrowing_power_reference.py (scipy {scipy.__version__})"


def quad01(f: Any) -> float:
    """int_0^1 f, split at BREAKS; the end panels substitute a0 = u^2 and a0 = 1 - u^2,
    which removes the square-root singularities of Beta(1/2, .) priors."""
    opts = {"epsabs": 1e-14, "epsrel": 1e-11, "limit": 400}
    tot = 0.0
    for a, b in itertools.pairwise(BREAKS):
        if a == 0.0:
            tot += integrate.quad(lambda u: 2 * u * f(u * u), 0.0, math.sqrt(b), **opts)[0]
        elif b == 1.0:
            tot += integrate.quad(lambda u: 2 * u * f(1 - u * u), 0.0, math.sqrt(1 - a), **opts)[0]
        else:
            tot += integrate.quad(f, a, b, **opts)[0]
    return tot


# -- normalised power prior: closed forms given a0 ------------------------------------
def beta_npp(w, a, b, r0, n0, r, n, al, be, x):
    """Mixture Beta initial, pooled historical (r0, n0), current (r, n), a0 ~ Beta(al, be)."""
    w, a, b = map(np.asarray, (w, a, b))

    def parts(a0):
        A, B = a + a0 * r0, b + a0 * (n0 - r0)
        lw = np.log(w) + special.betaln(A, B) - special.betaln(a, b)
        lw -= special.logsumexp(lw)  # power-prior weights
        lm = special.betaln(A + r, B + n - r) - special.betaln(A, B)
        lpw = lw + lm  # joint weight of component k
        return A + r, B + n - r, lpw

    shift = max(float(special.logsumexp(parts(t)[2])) for t in np.linspace(1e-6, 1, 101))

    def m(a0):  # marginal likelihood of current data given a0 (no binomial coefficient)
        return math.exp(special.logsumexp(parts(a0)[2]) - shift) * stats.beta.pdf(a0, al, be)

    def mean(a0):
        A, B, lpw = parts(a0)
        return float(np.sum(np.exp(lpw - shift) * A / (A + B))) * stats.beta.pdf(a0, al, be)

    def tail(a0):
        A, B, lpw = parts(a0)
        return float(np.sum(np.exp(lpw - shift) * stats.beta.sf(x, A, B))) * stats.beta.pdf(
            a0, al, be
        )

    z = quad01(m)
    lchoose = special.gammaln(n + 1) - special.gammaln(r + 1) - special.gammaln(n - r + 1)
    return {
        "posterior_mean": quad01(mean) / z,
        "posterior_sf_x": quad01(tail) / z,
        "a0_mean": quad01(lambda t: t * m(t)) / z,
        "a0_sf_half": quad01(lambda t: m(t) if t > 0.5 else 0.0) / z,
        "log_marginal": math.log(z) + shift + lchoose,
    }


def normal_npp(w, mu, sd, sigma, y0, n0, y, n, al, be, x):
    w, mu, sd = map(np.asarray, (w, mu, sd))
    se0, se = sigma / math.sqrt(n0), sigma / math.sqrt(n)

    def parts(a0):
        v = se0**2 / a0
        tot = sd**2 + v
        lw = np.log(w) - 0.5 * np.log(tot) - (y0 - mu) ** 2 / (2 * tot)
        lw -= special.logsumexp(lw)
        pv = 1 / (1 / sd**2 + 1 / v)
        pm = pv * (mu / sd**2 + y0 / v)
        tot2 = pv + se**2
        lm = -0.5 * np.log(2 * math.pi * tot2) - (y - pm) ** 2 / (2 * tot2)
        qv = 1 / (1 / pv + 1 / se**2)
        qm = qv * (pm / pv + y / se**2)
        return qm, np.sqrt(qv), lw + lm

    shift = max(float(special.logsumexp(parts(t)[2])) for t in np.linspace(1e-6, 1, 101))

    def m(a0):
        return math.exp(special.logsumexp(parts(a0)[2]) - shift) * stats.beta.pdf(a0, al, be)

    def mean(a0):
        qm, _, lpw = parts(a0)
        return float(np.sum(np.exp(lpw - shift) * qm)) * stats.beta.pdf(a0, al, be)

    def tail(a0):
        qm, qs, lpw = parts(a0)
        return float(np.sum(np.exp(lpw - shift) * stats.norm.sf(x, qm, qs))) * stats.beta.pdf(
            a0, al, be
        )

    z = quad01(m)
    return {
        "posterior_mean": quad01(mean) / z,
        "posterior_sf_x": quad01(tail) / z,
        "a0_mean": quad01(lambda t: t * m(t)) / z,
        "a0_sf_half": quad01(lambda t: m(t) if t > 0.5 else 0.0) / z,
        "log_marginal": math.log(z) + shift,
    }


def gamma_npp(w, shape, rate, y0, e0, y, e, al, be, x):
    w, shape, rate = map(np.asarray, (w, shape, rate))

    def parts(a0):
        S, R = shape + a0 * y0, rate + a0 * e0
        lw = np.log(w) + special.gammaln(S) - special.gammaln(shape)
        lw += shape * np.log(rate) - S * np.log(R)
        lw -= special.logsumexp(lw)
        lm = special.gammaln(S + y) - special.gammaln(S) + S * np.log(R) - (S + y) * np.log(R + e)
        lm += y * math.log(e) - special.gammaln(y + 1)
        return S + y, R + e, lw + lm

    shift = max(float(special.logsumexp(parts(t)[2])) for t in np.linspace(1e-6, 1, 101))

    def m(a0):
        return math.exp(special.logsumexp(parts(a0)[2]) - shift) * stats.beta.pdf(a0, al, be)

    def mean(a0):
        S, R, lpw = parts(a0)
        return float(np.sum(np.exp(lpw - shift) * S / R)) * stats.beta.pdf(a0, al, be)

    def tail(a0):
        S, R, lpw = parts(a0)
        return float(np.sum(np.exp(lpw - shift) * stats.gamma.sf(x, S, scale=1 / R))) * (
            stats.beta.pdf(a0, al, be)
        )

    z = quad01(m)
    return {
        "posterior_mean": quad01(mean) / z,
        "posterior_sf_x": quad01(tail) / z,
        "a0_mean": quad01(lambda t: t * m(t)) / z,
        "a0_sf_half": quad01(lambda t: m(t) if t > 0.5 else 0.0) / z,
        "log_marginal": math.log(z) + shift,
    }


# -- empirical Bayes: brute-force grid -----------------------------------------------------
GRID = np.linspace(0.0, 1.0, 200001)


def eb_beta(a, b, r0, n0, r, n):
    A, B = a + GRID * r0, b + GRID * (n0 - r0)
    lm = special.betaln(A + r, B + n - r) - special.betaln(A, B)
    return float(GRID[np.argmax(lm)])


def eb_normal(mu, sd, sigma, y0, n0, y, n):
    with np.errstate(divide="ignore"):
        v = np.where(GRID > 0, (sigma**2 / n0) / np.where(GRID > 0, GRID, 1.0), np.inf)
    pv = np.where(np.isfinite(v), 1 / (1 / sd**2 + 1 / np.where(np.isfinite(v), v, 1.0)), sd**2)
    pm = np.where(np.isfinite(v), pv * (mu / sd**2 + y0 / np.where(np.isfinite(v), v, 1.0)), mu)
    tot = pv + sigma**2 / n
    lm = -0.5 * np.log(tot) - (y - pm) ** 2 / (2 * tot)
    return float(GRID[np.argmax(lm)])


def eb_gamma(shape, rate, y0, e0, y, e):
    S, R = shape + GRID * y0, rate + GRID * e0
    lm = special.gammaln(S + y) - special.gammaln(S) + S * np.log(R) - (S + y) * np.log(R + e)
    return float(GRID[np.argmax(lm)])


# -- commensurate prior, binomial, tau ~ HalfNormal(s): Bessel kernel -------------------------
def commensurate_binomial(r0, n0, r, n, s, x, initial=None):
    def log_q_raw(t):
        val = r0 * t - n0 * np.logaddexp(0.0, t)
        if initial is not None:
            val += stats.norm.logpdf(t, *initial)
        return val

    if initial is None:
        lz = special.betaln(r0, n0 - r0)
    else:
        mode = math.log((r0 + 0.5) / (n0 - r0 + 0.5))
        lz = math.log(
            integrate.quad(
                lambda t: math.exp(log_q_raw(t) - log_q_raw(mode)),
                -np.inf,
                np.inf,
                epsabs=0,
                epsrel=1e-13,
                limit=400,
            )[0]
        ) + log_q_raw(mode)
    tq = math.log((r0 + 0.5) / (n0 - r0 + 0.5))

    def q(t):
        return math.exp(log_q_raw(t) - lz)

    def k0(d):
        return special.k0(abs(d) / s) / (math.pi * s) if d != 0 else 0.0

    def k1(d):
        return math.exp(-abs(d) / s) / math.sqrt(2 * math.pi)

    def conv(theta, kern):
        lo, hi = min(theta, tq) - 60, max(theta, tq) + 60
        opts = {"epsabs": 0.0, "epsrel": 1e-10, "limit": 400}
        left = integrate.quad(lambda t: q(t) * kern(theta - t), lo, theta, **opts)[0]
        right = integrate.quad(lambda t: q(t) * kern(theta - t), theta, hi, **opts)[0]
        return left + right

    g = functools.lru_cache(maxsize=None)(lambda th: conv(th, k0))
    gt = functools.lru_cache(maxsize=None)(lambda th: conv(th, k1))

    def lik(th):
        return math.exp(r * th - n * np.logaddexp(0.0, th))

    tl = math.log((r + 0.5) / (n - r + 0.5))
    pts = sorted({tq, tl, special.logit(x)})

    def outer(f, lo=-60.0, hi=60.0):
        p = [v for v in pts if lo < v < hi]
        return integrate.quad(f, lo, hi, points=p or None, epsabs=0, epsrel=1e-11, limit=800)[0]

    z = outer(lambda th: lik(th) * g(th))
    return {
        "posterior_mean_p": outer(lambda th: special.expit(th) * lik(th) * g(th)) / z,
        "posterior_sf_x": outer(lambda th: lik(th) * g(th), lo=float(special.logit(x))) / z,
        "tau_mean": outer(lambda th: lik(th) * gt(th)) / z,
        "prior_mean_p": outer(lambda th: special.expit(th) * g(th)),
    }


# -- commensurate prior, normal: closed forms given tau ---------------------------------------
def commensurate_normal(y0, se0, y, se, tau_pdf, lo, hi, atoms, x, initial=None):
    if initial is None:
        mq, vq = y0, se0**2
    else:
        m0, s0 = initial
        vq = 1 / (1 / s0**2 + 1 / se0**2)
        mq = vq * (m0 / s0**2 + y0 / se0**2)

    def post(t):
        v = vq + t**2
        tot = v + se**2
        like = stats.norm.pdf(y, mq, math.sqrt(tot))
        pv = 1 / (1 / v + 1 / se**2)
        pm = pv * (mq / v + y / se**2)
        return like, pm, math.sqrt(pv)

    def integ(fn):
        cont = 0.0
        for a, b in zip(lo, hi, strict=True):
            cont += integrate.quad(
                lambda t: tau_pdf(t) * fn(*post(t), t), a, b, epsabs=0, epsrel=1e-12, limit=400
            )[0]
        return cont + sum(m * fn(*post(t), t) for t, m in atoms)

    z = integ(lambda lk, pm, ps, t: lk)
    return {
        "posterior_mean": integ(lambda lk, pm, ps, t: lk * pm) / z,
        "posterior_sf_x": integ(lambda lk, pm, ps, t: lk * stats.norm.sf(x, pm, ps)) / z,
        "tau_mean": integ(lambda lk, pm, ps, t: lk * t) / z,
    }


def main() -> None:
    cases: list[dict[str, Any]] = []

    def add(name, kind, inputs, expected, tol, source=SRC):
        cases.append(
            {
                "name": name,
                "kind": kind,
                "source": source,
                "inputs": inputs,
                "expected": expected,
                "tolerance": tol,
            }
        )

    npp_tol = {"abs": 1e-7}
    # normalised power prior
    add(
        "NPP binomial, uniform a0, agreement",
        "npp",
        {"initial": {"class": "BetaMixture", "weights": [1.0], "a": [1.0], "b": [1.0]},
         "historical": {"r": [12], "n": [40]}, "current": {"r": 9, "n": 20},
         "a0_prior": [1.0, 1.0], "x": 0.5},
        beta_npp([1.0], [1.0], [1.0], 12, 40, 9, 20, 1.0, 1.0, 0.5),
        npp_tol,
    )  # fmt: skip
    add(
        "NPP binomial, conflict: a0 posterior piles up near 0",
        "npp",
        {"initial": {"class": "BetaMixture", "weights": [1.0], "a": [1.0], "b": [1.0]},
         "historical": {"r": [10], "n": [200]}, "current": {"r": 60, "n": 80},
         "a0_prior": [1.0, 1.0], "x": 0.7},
        beta_npp([1.0], [1.0], [1.0], 10, 200, 60, 80, 1.0, 1.0, 0.7),
        npp_tol,
    )  # fmt: skip
    add(
        "NPP binomial, mixture initial prior, two historical studies, a0 ~ Beta(0.5, 2)",
        "npp",
        {"initial": {"class": "BetaMixture", "weights": [0.5, 0.5], "a": [1.0, 3.0],
                     "b": [1.0, 7.0]},
         "historical": {"r": [7, 5], "n": [30, 20]}, "current": {"r": 4, "n": 15},
         "a0_prior": [0.5, 2.0], "x": 0.3},
        beta_npp([0.5, 0.5], [1.0, 3.0], [1.0, 7.0], 12, 50, 4, 15, 0.5, 2.0, 0.3),
        npp_tol,
    )  # fmt: skip
    add(
        "NPP binomial, a0 ~ Beta(2, 0.5): a0 posterior piles up near 1",
        "npp",
        {"initial": {"class": "BetaMixture", "weights": [1.0], "a": [1.0], "b": [1.0]},
         "historical": {"r": [150], "n": [500]}, "current": {"r": 60, "n": 200},
         "a0_prior": [2.0, 0.5], "x": 0.32},
        beta_npp([1.0], [1.0], [1.0], 150, 500, 60, 200, 2.0, 0.5, 0.32),
        npp_tol,
    )  # fmt: skip
    add(
        "NPP normal, vague normal-mixture initial prior",
        "npp",
        {"initial": {"class": "NormalMixture", "weights": [0.7, 0.3], "mean": [0.0, 1.0],
                     "sd": [10.0, 3.0], "sigma": 2.0},
         "historical": {"mean": [1.3], "n": [50]}, "current": {"mean": 0.4, "n": 25},
         "a0_prior": [1.0, 1.0], "x": 1.0},
        normal_npp([0.7, 0.3], [0.0, 1.0], [10.0, 3.0], 2.0, 1.3, 50, 0.4, 25, 1.0, 1.0, 1.0),
        npp_tol,
    )  # fmt: skip
    add(
        "NPP gamma-Poisson",
        "npp",
        {"initial": {"class": "GammaMixture", "weights": [1.0], "shape": [0.5],
                     "rate": [0.1], "likelihood": "poisson"},
         "historical": {"total": [40], "n": [20.0]}, "current": {"total": 9, "n": 6.0},
         "a0_prior": [1.0, 1.0], "x": 2.0},
        gamma_npp([1.0], [0.5], [0.1], 40, 20.0, 9, 6.0, 1.0, 1.0, 2.0),
        npp_tol,
    )  # fmt: skip

    # empirical Bayes
    eb_tol = {"abs": 2e-5}
    for r in (9, 15, 4):
        add(
            f"EB a0 binomial, current {r}/20",
            "eb",
            {"initial": {"class": "BetaMixture", "weights": [1.0], "a": [1.0], "b": [1.0]},
             "historical": {"r": [12], "n": [40]}, "current": {"r": r, "n": 20}},
            {"a0": eb_beta(1.0, 1.0, 12, 40, r, 20)},
            eb_tol,
        )  # fmt: skip
    add(
        "EB a0 normal",
        "eb",
        {"initial": {"class": "NormalMixture", "weights": [1.0], "mean": [0.0], "sd": [5.0],
                     "sigma": 1.0},
         "historical": {"mean": [0.2], "n": [30]}, "current": {"mean": 0.55, "n": 30}},
        {"a0": eb_normal(0.0, 5.0, 1.0, 0.2, 30, 0.55, 30)},
        eb_tol,
    )  # fmt: skip
    add(
        "EB a0 gamma-Poisson",
        "eb",
        {"initial": {"class": "GammaMixture", "weights": [1.0], "shape": [1.0], "rate": [0.5],
                     "likelihood": "poisson"},
         "historical": {"total": [30], "n": [10.0]}, "current": {"total": 16, "n": 4.0}},
        {"a0": eb_gamma(1.0, 0.5, 30, 10.0, 16, 4.0)},
        eb_tol,
    )  # fmt: skip

    # commensurate, binomial
    com_tol = {"abs": 2e-7}
    for (r, n), s, x, init in [
        ((9, 20), 0.5, 0.3, None),
        ((15, 20), 1.0, 0.5, None),
        ((0, 10), 0.5, 0.1, None),
        ((6, 25), 0.8, 0.2, (-1.0, 1.5)),
    ]:
        add(
            f"commensurate binomial 12/40 vs {r}/{n}, HalfNormal({s})"
            + ("" if init is None else f", initial N{init}"),
            "commensurate_binomial",
            {"historical": {"r": [12], "n": [40]}, "current": {"r": r, "n": n},
             "tau_prior": {"type": "HalfNormal", "scale": s}, "x": x,
             "initial": None if init is None else list(init)},
            commensurate_binomial(12, 40, r, n, s, x, init),
            com_tol,
        )  # fmt: skip

    # commensurate, normal
    y0, se0, y, se = 1.2, 2.0 / math.sqrt(40), 0.5, 2.0 / math.sqrt(20)
    priors = [
        ({"type": "HalfCauchy", "scale": 0.5},
         lambda t: 2 * stats.cauchy.pdf(t, scale=0.5), [0.0], [np.inf], []),
        ({"type": "LogNormal", "mu": -1.0, "sigma": 1.0},
         lambda t: stats.lognorm.pdf(t, 1.0, scale=math.exp(-1.0)), [0.0], [np.inf], []),
        ({"type": "GammaPrecision", "shape": 2.0, "rate": 0.5},
         lambda t: stats.gamma.pdf(t**-2, 2.0, scale=2.0) * 2 * t**-3 if t > 0 else 0.0,
         [0.0], [np.inf], []),
        ({"type": "SpikeSlabPrecision", "spike": 200.0, "lower": 0.5, "upper": 20.0,
          "p_spike": 0.3},
         lambda t: 0.7 * 2 * t**-3 / 19.5, [20.0**-0.5], [0.5**-0.5], [(200.0**-0.5, 0.3)]),
        ({"type": "Uniform", "upper": 2.0, "lower": 0.0},
         lambda t: 0.5, [0.0], [2.0], []),
    ]  # fmt: skip
    for spec, pdf, lo, hi, atoms in priors:
        add(
            f"commensurate normal, {spec['type']}",
            "commensurate_normal",
            {"historical": {"mean": [y0], "n": [40]}, "current": {"mean": y, "n": 20},
             "sigma": 2.0, "tau_prior": spec, "x": 1.0, "initial": None},
            commensurate_normal(y0, se0, y, se, pdf, lo, hi, atoms, 1.0),
            {"abs": 5e-8},
        )  # fmt: skip
    add(
        "commensurate normal, HalfNormal(0.5), normal initial prior",
        "commensurate_normal",
        {"historical": {"mean": [y0], "n": [40]}, "current": {"mean": y, "n": 20},
         "sigma": 2.0, "tau_prior": {"type": "HalfNormal", "scale": 0.5}, "x": 1.0,
         "initial": [0.0, 1.0]},
        commensurate_normal(
            y0, se0, y, se, lambda t: 2 * stats.norm.pdf(t, scale=0.5), [0.0], [np.inf], [], 1.0,
            initial=(0.0, 1.0),
        ),
        {"abs": 1e-8},
    )  # fmt: skip

    doc = {
        "description": "Independent reference values for rdstats.borrowing power and "
        "commensurate priors (see the generator script for the methods).",
        "cases": cases,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
