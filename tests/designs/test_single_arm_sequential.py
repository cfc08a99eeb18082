"""Single-arm sequential binary designs: Simon two-stage, posterior monitoring,
predictive probability, BOP2. Published references, brute-force and Monte Carlo checks,
invariants and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from rdstats.designs import (
    SequentialBinaryDesign,
    SimonTwoStage,
    bop2_design,
    calibrate_bop2,
    posterior_monitoring_design,
    posterior_probability,
    predictive_probability,
    predictive_probability_design,
    search_predictive_design,
    simon_two_stage,
)
from rdstats.priors import BetaMixture
from rdstats.simulate import ScenarioGrid, operating_characteristics

REF = json.loads((Path(__file__).parents[1] / "reference" / "designs_single_arm.json").read_text())[
    "cases"
]


def cases(kind: str) -> list[Any]:
    return [pytest.param(c, id=c["name"]) for c in REF if c["kind"] == kind]


# -- published references ----------------------------------------------------------------
@pytest.mark.parametrize("case", cases("simon"))
def test_simon_reference(case: dict[str, Any]) -> None:
    res = simon_two_stage(**case["inputs"])
    tol = case["tolerance"]["abs"]
    for which in ("optimal", "minimax"):
        d = getattr(res, which)
        exp = case["expected"][which]
        assert (d.r1, d.n1, d.r, d.n) == (exp["r1"], exp["n1"], exp["r"], exp["n"]), which
        row = res.summary().set_index("design").loc[which]
        assert abs(row["EN(p0)"] - exp["EN(p0)"]) <= tol
        if "PET(p0)" in exp:
            assert abs(row["PET(p0)"] - exp["PET(p0)"]) <= tol
        assert row.alpha <= case["inputs"]["alpha"]
        assert row.power >= 1 - case["inputs"]["beta"]


@pytest.mark.parametrize("case", cases("predictive_probability"))
def test_predictive_probability_reference(case: dict[str, Any]) -> None:
    i = case["inputs"]
    got = predictive_probability(
        i["y"], i["n"], i["nmax"], tuple(i["prior"]), i["p0"], i["theta_t"]
    )
    assert abs(got - case["expected"]["pp"]) <= case["tolerance"]["abs"]


@pytest.mark.parametrize("case", cases("bop2_boundaries"))
def test_bop2_boundaries_reference(case: dict[str, Any]) -> None:
    i = case["inputs"]
    d = bop2_design(i["p0"], i["looks"], lam=i["lam"], gamma=i["gamma"], efficacy=i["efficacy"],
                    eta=i.get("eta", 1.0))  # fmt: skip
    assert d.futility.tolist() == case["expected"]["futility"]
    assert d.efficacy.tolist() == case["expected"]["efficacy"]
    if "p_reject" in case["expected"]:
        got = d.oc(i["p"]).p_reject.to_numpy()
        np.testing.assert_allclose(got, case["expected"]["p_reject"], atol=case["tolerance"]["abs"])


@pytest.mark.parametrize("case", cases("sequential_oc"))
def test_sequential_oc_reference(case: dict[str, Any]) -> None:
    i = case["inputs"]
    d = SequentialBinaryDesign(i["looks"], i["futility"], i["efficacy"])
    oc = d.oc(i["p"])
    for key, values in case["expected"].items():
        np.testing.assert_allclose(oc[key], values, rtol=0, atol=case["tolerance"]["abs"])


# -- independent computations ----------------------------------------------------------------
def brute_force_simon(
    p0: float, p1: float, alpha: float, beta: float, nmax: int
) -> tuple[Any, Any]:
    """Every (r1, n1, r, n) by direct double sums."""
    best_en, best_n = None, None
    for n in range(2, nmax + 1):
        for n1 in range(1, n):
            for r1 in range(0, n1):
                for r in range(r1, n):

                    def reject(
                        p: float, n1: int = n1, r1: int = r1, r: int = r, n: int = n
                    ) -> float:
                        x1 = np.arange(r1 + 1, n1 + 1)
                        tail = stats.binom.sf(r - x1, n - n1, p)
                        return float(np.sum(stats.binom.pmf(x1, n1, p) * tail))

                    a = reject(p0)
                    if a > alpha:
                        continue
                    if reject(p1) >= 1 - beta:
                        en = n1 + (1 - stats.binom.cdf(r1, n1, p0)) * (n - n1)
                        key = (en, n1, r1, r, n)
                        if best_en is None or key < best_en:
                            best_en = key
                        if best_n is None or (n, en) < best_n[:2]:
                            best_n = (n, en, r1, n1, r)
                    break  # larger r only lowers alpha and power
    return best_en, best_n


def test_simon_search_equals_brute_force() -> None:
    best_en, best_n = brute_force_simon(0.2, 0.45, 0.1, 0.2, 26)
    res = simon_two_stage(0.2, 0.45, alpha=0.1, beta=0.2, nmax=26)
    o, m = res.optimal, res.minimax
    assert best_en is not None and best_n is not None
    assert (o.n1, o.r1, o.r, o.n) == best_en[1:]
    assert (m.r1, m.n1, m.r) == best_n[2:] and m.n == best_n[0]


def test_predictive_probability_by_direct_summation() -> None:
    """PP = sum_i BetaBinom(i; m, a + y, b + n - y) 1[P(p > p0 | y + i, nmax) > theta_T]."""
    a, b, y, n, nmax, p0, tt = 1.0, 1.0, 7, 20, 35, 0.3, 0.85
    i = np.arange(nmax - n + 1)
    pred = stats.betabinom.pmf(i, nmax - n, a + y, b + n - y)
    final = special.betaincc(a + y + i, b + nmax - y - i, p0) > tt
    expected = float(np.sum(pred * final))
    assert predictive_probability(y, n, nmax, (a, b), p0, tt) == pytest.approx(expected, abs=1e-14)


def test_predictive_probability_by_monte_carlo() -> None:
    rng = np.random.default_rng(7)
    prior, y, n, nmax, p0, tt = BetaMixture([0.5, 0.5], [1, 6], [1, 14]), 9, 25, 40, 0.3, 0.9
    post = prior.posterior(r=y, n=n)
    comp = rng.choice(2, size=200_000, p=post.weights)
    p = rng.beta(post.a[comp], post.b[comp])
    future = rng.binomial(nmax - n, p)
    ok = posterior_probability(np.arange(nmax + 1), nmax, prior, p0) > tt
    mc = ok[y + future].mean()
    pp = predictive_probability(y, n, nmax, prior, p0, tt)
    assert abs(mc - pp) < 4.5 * np.sqrt(pp * (1 - pp) / 200_000)


def test_uncertain_standard_rate_matches_monte_carlo() -> None:
    """Thall & Simon: P(p_E > p_S + delta) with p_S ~ Be(20, 80)."""
    rng = np.random.default_rng(3)
    std = BetaMixture(1.0, 20, 80)
    got = posterior_probability(6, 20, (1, 1), std, delta=0.05)
    pe = rng.beta(7, 15, 400_000)
    ps = rng.beta(20, 80, 400_000)
    mc = np.mean(pe > ps + 0.05)
    assert abs(got - mc) < 4.5 * np.sqrt(mc * (1 - mc) / 400_000)


@pytest.mark.parametrize(
    "design",
    [
        SimonTwoStage(1, 10, 5, 29, p0=0.1),
        SequentialBinaryDesign(
            list(range(10, 41, 5)), [1, 2, 3, 5, 7, 9, 11], [6, 8, 9, 10, 10, 11, 12], p0=0.2
        ),
    ],
    ids=["Simon", "BOP2-FE"],
)
def test_enumeration_agrees_with_simulation(design: SequentialBinaryDesign) -> None:
    grid = ScenarioGrid({"p": [design.p0, design.p0 + 0.2]})
    exact = operating_characteristics(design, grid, method="exact").summary(wide=True)
    mc = operating_characteristics(design, grid, n_trials=40_000, rng=5, progress=False)
    mc_w = mc.summary(wide=True)
    oc = design.oc(exact.p.to_numpy())
    np.testing.assert_allclose(exact.p_success, oc.p_reject, atol=1e-12)
    np.testing.assert_allclose(exact.n_mean, oc.en, atol=1e-9)
    z = (mc_w.p_success - exact.p_success) / np.maximum(mc_w.p_success_mcse, 1e-4)
    assert np.all(np.abs(z) < 4.5), z
    z_n = (mc_w.n_mean - exact.n_mean) / mc_w.n_mean_mcse
    assert np.all(np.abs(z_n) < 4.5), z_n


# -- invariants -------------------------------------------------------------------------------
@st.composite
def designs(draw: st.DrawFn) -> SequentialBinaryDesign:
    k = draw(st.integers(1, 5))
    incs = draw(st.lists(st.integers(1, 8), min_size=k, max_size=k))
    looks = np.cumsum(incs)
    fut, eff = [], []
    for n in looks:
        f = draw(st.integers(-1, int(n) - 1))
        e = draw(st.integers(f + 1, int(n) + 1))
        fut.append(f)
        eff.append(e)
    return SequentialBinaryDesign(looks.tolist(), fut, eff)


@settings(max_examples=60, deadline=None)
@given(designs(), st.lists(st.floats(0.0, 1.0), min_size=2, max_size=5))
def test_oc_invariants(design: SequentialBinaryDesign, ps: list[float]) -> None:
    p = np.sort(np.asarray(ps))
    oc = design.oc(p)
    k = design.looks.size
    stop = sum(oc[f"futility_{j}"] + oc[f"efficacy_{j}"] for j in range(1, k + 1))
    np.testing.assert_allclose(stop, 1.0, atol=1e-12)  # every trial ends somewhere
    assert np.all(np.diff(oc.p_reject) >= -1e-12)  # more responders, more rejections
    assert np.all((oc.en >= design.looks[0] - 1e-9) & (oc.en <= design.n_max + 1e-9))
    dist = design.sample_size_distribution(float(p[0]))
    assert dist.sum() == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 30), st.integers(0, 15), st.floats(0.05, 0.95), st.floats(0.5, 0.99),
    st.floats(0.2, 3.0), st.floats(0.2, 3.0),
)  # fmt: skip
def test_predictive_probability_is_a_monotone_probability(
    n: int, extra: int, p0: float, tt: float, a: float, b: float
) -> None:
    pp = predictive_probability(np.arange(n + 1), n, n + extra, (a, b), p0, tt)
    assert np.all((pp >= -1e-12) & (pp <= 1 + 1e-12))
    assert np.all(np.diff(pp) >= -1e-12)


def test_bop2_efficacy_cutoffs_and_no_efficacy_variant() -> None:
    plain = bop2_design(0.2, range(10, 41, 5), lam=0.909, gamma=1.0)
    assert np.all(plain.efficacy[:-1] == plain.looks[:-1] + 1)  # no efficacy stop
    fe = bop2_design(0.2, range(10, 41, 5), lam=0.909, gamma=1.0, efficacy="OF")
    assert plain.futility.tolist() == fe.futility.tolist()
    oc_p, oc_fe = plain.oc([0.4]), fe.oc([0.4])
    assert oc_fe.en[0] < oc_p.en[0]  # efficacy stopping shortens trials under H1


def test_calibrations_meet_their_targets() -> None:
    res = calibrate_bop2(0.2, 0.4, range(10, 41, 10), alpha=0.1, lam=np.arange(0.6, 0.99, 0.02),
                         gamma=[0.5, 1.0, 1.5])  # fmt: skip
    assert res.summary().alpha[0] <= 0.1
    feasible = res.table[res.table.feasible]
    assert res.summary().power[0] == pytest.approx(feasible.power.max())
    pp = search_predictive_design(0.2, 0.4, range(10, 31, 2), alpha=0.1, beta=0.25,
                                  theta_t=[0.85, 0.9, 0.95], theta_l=[0.01, 0.05, 0.1])  # fmt: skip
    s = pp.summary()
    assert s.alpha[0] <= 0.1 and s.power[0] >= 0.75
    ok = pp.table[pp.table.feasible]
    assert s.EN0[0] == pytest.approx(ok.EN0.min())
    # the chosen design's boundaries reproduce its table row
    again = predictive_probability_design((1, 1), 0.2, range(10, 31, 2),
                                          theta_t=s.theta_t[0], theta_l=s.theta_l[0])  # fmt: skip
    assert again.futility.tolist() == pp.best.futility.tolist()


def test_thall_simon_margins_apply_to_their_own_rules() -> None:
    """Futility asks whether p exceeds p0 + delta_futility, efficacy whether it exceeds
    p0 + delta_efficacy (Thall & Simon: a targeted improvement for futility, none for
    efficacy)."""
    looks = [10, 20, 30, 40]
    d = posterior_monitoring_design((1, 1), 0.2, looks, futility=0.1, efficacy=0.95,
                                    final=0.9, delta_futility=0.15)  # fmt: skip
    for n, f, e in zip(d.looks[:-1], d.futility[:-1], d.efficacy[:-1], strict=True):
        x = np.arange(n + 1)
        assert f == np.count_nonzero(special.betaincc(1 + x, 1 + n - x, 0.35) < 0.1) - 1
        above = np.flatnonzero(special.betaincc(1 + x, 1 + n - x, 0.2) > 0.95)
        assert e == above[0]
    plain = posterior_monitoring_design((1, 1), 0.2, looks, futility=0.1, efficacy=0.95, final=0.9)
    assert np.all(d.futility >= plain.futility)  # the targeted margin stops more often
    assert d.efficacy.tolist() == plain.efficacy.tolist()


def test_posterior_monitoring_boundaries_by_definition() -> None:
    d = posterior_monitoring_design((1, 1), 0.3, range(5, 31), futility=0.05, efficacy=0.99,
                                    final=0.95)  # fmt: skip
    for n, f, e in zip(d.looks, d.futility, d.efficacy, strict=True):
        x = np.arange(n + 1)
        prob = special.betaincc(1 + x, 1 + n - x, 0.3)
        cut = 0.95 if n == d.n_max else 0.99
        above = np.flatnonzero(prob > cut)
        assert e == (above[0] if above.size else n + 1)
        # at the last look the trial fails iff it does not succeed
        assert f == (e - 1 if n == d.n_max else np.count_nonzero(prob < 0.05) - 1)


# -- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: SequentialBinaryDesign([10, 5], [1, 2]), "strictly increasing"),
        (lambda: SequentialBinaryDesign([10, 20], [1]), "one bound per look"),
        (
            lambda: SequentialBinaryDesign([10, 20], [5, 8], [4, 9]),
            "futility bound 5 must be below",
        ),
        (lambda: SequentialBinaryDesign([10, 20], [1.5, 8]), "futility must contain integers"),
        (lambda: SequentialBinaryDesign([10], [3]).oc([1.2]), "p must be response rates"),
        (lambda: SequentialBinaryDesign([10], [3]).oc([]), "p must be response rates"),
        (
            lambda: SequentialBinaryDesign([10, 20], [1, 15], [11, 5]),
            "futility bound 15 must be below the success threshold 5",
        ),
        (lambda: simon_two_stage(0.1, 0.3, alpha="0.05"), "alpha must be a real number"),
        (lambda: predictive_probability("3", 5, 10, (1, 1), 0.2, 0.9), "y must be integers"),
        (lambda: posterior_probability(3, 10, (1, 1), 0.2, delta=np.nan), "delta must be finite"),
        (
            lambda: posterior_monitoring_design((1, 1), 0.2, [10], delta_futility=2.0),
            r"delta_futility must be a difference of rates in \(-1, 1\)",
        ),
        (
            lambda: posterior_monitoring_design((1, 1), 0.2, [10], futility=0.5, efficacy=0.4),
            "efficacy=0.4 must exceed futility=0.5",
        ),
        (
            lambda: predictive_probability_design(
                (1, 1), 0.2, [10, 20], theta_t=0.9, theta_l=0.5, theta_u=0.3
            ),
            "theta_l=0.5 must be below theta_u=0.3",
        ),
        (
            lambda: bop2_design(0.2, [10, 20], lam=0.9, gamma=1, efficacy="power", eta=np.nan),
            "eta must be finite",
        ),
        (lambda: bop2_design(0.2, [10, 20], lam=0.9, gamma="a"), "gamma must be a real number"),
        (lambda: simon_two_stage(0.3, 0.2), "p1 must exceed p0"),
        (lambda: simon_two_stage(0.1, 0.3, alpha=1.5), r"alpha must be in \(0, 1\)"),
        (
            lambda: simon_two_stage(0.1, 0.15, nmax=20),
            r"no two-stage design with n <= 20 .* the most powerful with type I error",
        ),
        (lambda: SimonTwoStage(2, 10, 1, 29), "r must be in r1..n - 1"),
        (lambda: predictive_probability(5, 4, 10, (1, 1), 0.2, 0.9), "y must be integers in 0..n"),
        (lambda: predictive_probability(2, 12, 10, (1, 1), 0.2, 0.9), "need 0 <= n <= nmax"),
        (
            lambda: predictive_probability(2, 5, 10, (1, 1), 0.2, 1.2),
            r"theta_t must be in \(0, 1\)",
        ),
        (lambda: predictive_probability(2, 5, 10, (0, 1), 0.2, 0.9), "positive a and b"),
        (lambda: bop2_design(0.2, [10, 20], lam=1.2, gamma=1), r"lam must be in \(0, 1\)"),
        (lambda: bop2_design(0.2, [10, 20], lam=0.9, gamma=1, efficacy="x"), "efficacy must be"),
        (lambda: posterior_monitoring_design((1, 1), 0.2, [20, 10]), "strictly increasing"),
        (
            lambda: calibrate_bop2(0.2, 0.4, [5, 10], alpha=0.001, lam=[0.5], gamma=[1.0]),
            "no candidate design has type I error <= 0.001",
        ),
    ],
)
def test_bad_input(call: Any, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        call()
