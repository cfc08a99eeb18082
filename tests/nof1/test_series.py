"""combine_jumps (series of n-of-1 patients): the exact jump likelihoods against brute
force, the hierarchical posterior against independent quadrature and the normal-normal
MAP computation, a Monte Carlo check of the predictive, invariants (hypothesis), the
PyMC full model as cross-check (slow) and bad input."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from rdstats.borrowing import Fixed, HalfNormal, map_prior
from rdstats.nof1 import detect_jump
from rdstats.nof1._series import SeriesResult, combine_jumps
from rdstats.nof1._series_exact import jump_likelihood


def normal_patients(
    k: int = 4, seed: int = 3, jump: float = 1.5, het: float = 0.5, n: int = 16, **kw: object
) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        d = rng.normal(jump, het)
        y = np.r_[rng.normal(0, 1, n // 2), rng.normal(d, 1, n - n // 2)]
        out.append(detect_jump(y, treatment_start=n // 2, mcid=1.0, **kw))
    return out


def poisson_patients(k: int = 4, seed: int = 5, trend: bool = False) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        rr = math.exp(rng.normal(math.log(0.5), 0.3))
        y = np.r_[rng.poisson(6, 10), rng.poisson(6 * rr, 10)]
        out.append(
            detect_jump(
                y, family="poisson", treatment_start=10, mcid=0.8, direction="decrease", trend=trend
            )
        )
    return out


# -- the exact jump likelihood ------------------------------------------------------------------
def brute_normal(res, x: np.ndarray, trend: bool, slope: bool) -> np.ndarray:
    """log L(d) by least squares for every candidate (slope change integrated under its
    prior), summed under the change-time prior."""
    y, t = np.asarray(res.y), np.asarray(res.times)
    n = y.size
    nu = n - 1 - int(trend)
    out = []
    for d in x:
        tot = -np.inf
        for j in np.flatnonzero(res.prior > 0):
            step = (np.arange(n) >= j).astype(float)
            cols = [np.ones(n)] + ([t - t.mean()] if trend else [])
            z = y - d * step
            extra = 0.0
            if slope:
                vg = res.options["v_gamma"]
                cols.append((t - t[j]) * step)
                extra = -0.5 * math.log(vg)
            x_mat = np.column_stack(cols)
            a_mat = x_mat.T @ x_mat
            if slope:
                a_mat[-1, -1] += 1.0 / vg
            coef = np.linalg.solve(a_mat, x_mat.T @ z)
            q = z @ z - z @ x_mat @ coef
            lp = -0.5 * np.linalg.slogdet(a_mat)[1] + extra - nu / 2 * math.log(q)
            tot = np.logaddexp(tot, lp + math.log(res.prior[j]))
        out.append(tot)
    return np.array(out)


@pytest.mark.parametrize(
    "trend,slope", [(False, False), (True, False), (False, True), (True, True)]
)
def test_normal_likelihood_matches_least_squares(trend: bool, slope: bool) -> None:
    res = normal_patients(1, seed=8, trend=trend, slope=slope)[0]
    x = np.array([-1.0, 0.0, 0.6, 1.4, 3.0])
    got = jump_likelihood(res).log_eval(x)
    want = brute_normal(res, x, trend, slope)
    np.testing.assert_allclose(got - got[1], want - want[1], atol=1e-9)


def test_ar1_likelihood_at_zero_is_the_no_change_marginal() -> None:
    res = normal_patients(1, seed=2, ar1=True, n=20)[0]
    got = jump_likelihood(res).log_eval(np.array([0.0]))[0]
    want = special.logsumexp(res.fit.log_m_null + res.fit.log_grid_prior)
    assert got == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("trend", [False, True])
def test_poisson_likelihood_matches_quadrature(trend: bool) -> None:
    res = poisson_patients(1, seed=4, trend=trend)[0]
    y, t = np.asarray(res.y), np.asarray(res.times)
    fit = res.fit
    a, b = 1.0, float(fit.components.b_pre[0, 0])
    tc = t - t.mean()

    u = np.linspace(math.log(1e-4), math.log(80.0), 2_001)  # log lambda
    lam = np.exp(u)

    def log_lik(theta: float) -> float:
        tot = -np.inf
        for g, beta in enumerate(fit.grid):
            ex = np.exp(beta * tc)
            cand = np.flatnonzero(res.prior > 0)
            post = np.arange(y.size)[None, :] >= cand[:, None]  # (J, n)
            mult = ex[None, :] * np.where(post, math.exp(theta), 1.0)
            rate = lam[:, None, None] * mult[None]  # (U, J, n)
            logf = (
                np.sum(y * np.log(rate) - rate, axis=2)
                + stats.gamma.logpdf(lam, a, scale=1 / b)[:, None]
            )
            top = logf.max(axis=0)
            val = integrate.trapezoid(np.exp(logf - top) * lam[:, None], u, axis=0)
            lp = np.log(val) + top + fit.log_grid_prior[g] + np.log(res.prior[cand])
            tot = np.logaddexp(tot, special.logsumexp(lp))
        return float(tot)

    x = np.array([-1.2, -0.4, 0.3])
    got = jump_likelihood(res).log_eval(x)
    want = np.array([log_lik(v) for v in x])
    np.testing.assert_allclose(got - got[0], want - want[0], atol=1e-7)


# -- the hierarchical posterior -------------------------------------------------------------------
def test_fixed_tau_matches_direct_quadrature() -> None:
    res = normal_patients(3, seed=11)
    tau = 0.4
    out = combine_jumps(res, tau_prior=Fixed(tau))
    # independent rule: a trapezoid sum on a much finer grid of the jump, mu on another
    d = np.linspace(-6.0, 9.0, 12_001)
    mus = np.linspace(-1.0, 4.0, 501)
    kern = stats.norm.pdf(d[None, :], mus[:, None], tau)
    log_dens = np.zeros(mus.size)
    for r in res:
        ll = jump_likelihood(r).log_eval(d)
        log_dens += np.log(integrate.trapezoid(np.exp(ll - ll.max())[None, :] * kern, d, axis=1))
    dens = np.exp(log_dens - log_dens.max())
    mean = integrate.trapezoid(mus * dens, mus) / integrate.trapezoid(dens, mus)
    assert out.population["mean"] == pytest.approx(mean, abs=1e-5)


def test_tau_limits_pool_and_separate() -> None:
    res = normal_patients(3, seed=12)
    pooled = combine_jumps(res, tau_prior=Fixed(0.0))
    for d in pooled.jumps:
        assert d.moments()[0] == pytest.approx(pooled.mu.moments()[0], abs=1e-6)
    apart = combine_jumps(res, tau_prior=Fixed(200.0))
    for raw, post in zip(apart.unpooled, apart.jumps, strict=True):
        assert post.moments()[0] == pytest.approx(raw.moments()[0], abs=2e-3)


def test_long_series_agree_with_the_normal_map_computation() -> None:
    """With many visits each jump likelihood is nearly normal, so the normal-normal MAP
    computation on (estimate, se) must give nearly the same hyperparameter posterior."""
    res = normal_patients(5, seed=21, n=80, het=0.6)
    prior = HalfNormal(0.8)
    out = combine_jumps(res, tau_prior=prior, mean_prior=(0.0, 10.0))
    est = [r.jump["mean"] for r in res]
    se = [float(np.sqrt(np.sum(r.weights * r.fit.components.var()) / r.weights.sum())) for r in res]
    data = pd.DataFrame({"study": range(5), "mean": est, "se": se})
    ref = map_prior(data, "normal", tau_prior=prior, mean_prior=(0.0, 10.0), sigma=1.0)
    assert out.population["mean"] == pytest.approx(float(ref.mu["mean"]), abs=0.03)
    assert out.tau_summary["mean"] == pytest.approx(float(ref.tau.loc[0, "mean"]), abs=0.03)


def test_grid_resolution_converged() -> None:
    res = poisson_patients(4, seed=6)
    a = combine_jumps(res, resolution=10)
    b = combine_jumps(res, resolution=30)
    for q in ("mean", "sd", "lower", "upper"):
        assert a.population[q] == pytest.approx(b.population[q], abs=2e-5)
        assert a.tau_summary[q] == pytest.approx(b.tau_summary[q], abs=2e-5)
    assert a.prob_next_exceeds() == pytest.approx(b.prob_next_exceeds(), abs=2e-5)


def test_predictive_matches_monte_carlo_of_the_posterior() -> None:
    """Draw (mu, tau) from the quadrature posterior, then the next patient's jump
    ``mu + tau Z``: P(beyond MCID) and quantiles agree within Monte Carlo error."""
    from rdstats.nof1._series_exact import posterior_on_grid

    res = normal_patients(5, seed=31, het=0.8)
    out = combine_jumps(res)
    post = posterior_on_grid([jump_likelihood(r) for r in res], out.tau_prior, None)
    rng = np.random.default_rng(0)
    n = 400_000
    w = post.weight.ravel()
    idx = rng.choice(w.size, size=n, p=w / w.sum())
    t, k = np.unravel_index(idx, post.weight.shape)
    h = post.grid[1] - post.grid[0]
    mu = post.grid[k] + rng.uniform(-h / 2, h / 2, n)
    draws = mu + post.tau[t] * rng.standard_normal(n)
    p_mc = float(np.mean(draws > 1.0))
    assert out.prob_next_exceeds() == pytest.approx(p_mc, abs=4 * math.sqrt(p_mc * (1 - p_mc) / n))
    for q in (0.05, 0.5, 0.95):
        assert out.predictive.quantile(q) == pytest.approx(np.quantile(draws, q), abs=0.01)
    assert out.predictive.moments()[1] == pytest.approx(np.std(draws), rel=5e-3)


# -- invariants ---------------------------------------------------------------------------------
@settings(max_examples=6, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    shift=st.floats(-50, 50),
    scale=st.floats(0.2, 5.0),
)
def test_location_scale_and_order_invariance(seed: int, shift: float, scale: float) -> None:
    res = normal_patients(3, seed=seed, n=12)
    base = combine_jumps(res, mcid=0.5)
    moved = [
        detect_jump(shift + scale * np.asarray(r.y), treatment_start=6, mcid=0.5 * scale)
        for r in res
    ]
    out = combine_jumps(moved[::-1])
    assert out.population["mean"] == pytest.approx(
        scale * base.population["mean"], rel=1e-4, abs=1e-6
    )
    assert out.tau_summary["mean"] == pytest.approx(scale * base.tau_summary["mean"], rel=1e-4)
    assert out.prob_mean_exceeds() == pytest.approx(base.prob_mean_exceeds(), abs=1e-5)
    assert out.prob_next_exceeds() == pytest.approx(base.prob_next_exceeds(), abs=1e-5)
    np.testing.assert_allclose(
        out.prob_individual_exceeds().to_numpy()[::-1],
        base.prob_individual_exceeds().to_numpy(),
        atol=1e-5,
    )
    table = base.summary()
    assert (table["lower"] <= table["median"]).all() and (table["median"] <= table["upper"]).all()
    probs = table["prob_exceeds_mcid"].dropna()
    assert ((probs >= 0) & (probs <= 1)).all()


def test_direction_mirror() -> None:
    res = normal_patients(3, seed=41)
    neg = [
        detect_jump(-np.asarray(r.y), treatment_start=8, mcid=1.0, direction="decrease")
        for r in res
    ]
    a, b = combine_jumps(res), combine_jumps(neg)
    assert b.population["mean"] == pytest.approx(-a.population["mean"], abs=1e-6)
    assert b.prob_mean_exceeds() == pytest.approx(a.prob_mean_exceeds(), abs=1e-6)
    assert b.prob_next_exceeds() == pytest.approx(a.prob_next_exceeds(), abs=1e-6)


# -- result surface -----------------------------------------------------------------------------
def test_result_surface() -> None:
    out = combine_jumps({"ann": poisson_patients(2)[0], "bob": poisson_patients(2)[1]})
    assert isinstance(out, SeriesResult)
    assert out.patients == ("ann", "bob") and out.scale == "log rate ratio"
    assert out.threshold == pytest.approx(math.log(0.8))
    assert list(out.summary().index) == [
        "mean jump (mu)",
        "tau",
        "patient ann",
        "patient bob",
        "next patient",
    ]
    assert list(out.individual.index) == ["ann", "bob"]
    json.dumps(out.to_dict())
    assert "Series of n-of-1" in out._repr_html_()
    with pytest.raises(ValueError):
        out.mu.grid[0] = 1.0
    assert out.prob_mean_exceeds(0.5) < out.prob_mean_exceeds(0.9)  # decrease: ratio < mcid
    no_mcid = combine_jumps(normal_patients(2, seed=1), mcid=None, tau_prior=1.0)
    assert no_mcid.threshold == 1.0  # taken from the results
    import matplotlib

    matplotlib.use("Agg")
    ax = out.plot()
    assert ax.get_title().startswith("Series of n-of-1")


# -- the PyMC full model ------------------------------------------------------------------------
@pytest.mark.slow
def test_exact_agrees_with_pymc_full_model() -> None:
    pytest.importorskip("pymc")
    res = normal_patients(6, seed=11, jump=1.5, het=0.5)
    ex = combine_jumps(res)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mc = combine_jumps(res, method="mcmc", rng=1, draws=1000, tune=800, chains=2)
    ess = mc.diagnostics["min_bulk_ess"]
    assert ess > 300
    for a, b in [
        (ex.mu, mc.mu),
        (ex.predictive, mc.predictive),
        *zip(ex.jumps, mc.jumps, strict=True),
    ]:
        (m1, s1), (m2, _) = a.moments(), b.moments()
        assert m1 == pytest.approx(m2, abs=4.5 * s1 / math.sqrt(ess))
        for q in (0.1, 0.5, 0.9):
            assert a.quantile(q) == pytest.approx(
                b.quantile(q), abs=0.1 * s1 + 4 * s1 / math.sqrt(ess)
            )
    for p1, p2 in [
        (ex.prob_mean_exceeds(), mc.prob_mean_exceeds()),
        (ex.prob_next_exceeds(), mc.prob_next_exceeds()),
    ]:
        assert p1 == pytest.approx(p2, abs=4.5 * math.sqrt(p1 * (1 - p1) / ess) + 0.005)
    assert ex.tau.moments()[0] == pytest.approx(
        mc.tau.moments()[0], abs=0.1 * ex.tau.moments()[1] + 0.03
    )
    assert mc.idata is not None and mc.provenance["seed"] is not None


# -- bad input ----------------------------------------------------------------------------------
def test_bad_input() -> None:
    res = normal_patients(2, seed=1)
    with pytest.raises(ValueError, match="empty"):
        combine_jumps([])
    with pytest.raises(ValueError, match="empty"):
        combine_jumps({})
    with pytest.raises(TypeError, match="list or dict"):
        combine_jumps(res[0])
    with pytest.raises(TypeError, match="must be a JumpResult"):
        combine_jumps([res[0], {"mean": 1.0}])
    multi = detect_jump(
        pd.DataFrame({"a": res[0].y, "b": res[1].y}), outcomes=["a", "b"], treatment_start=8
    )
    with pytest.raises(TypeError, match="MultiJumpResult"):
        combine_jumps([res[0], multi])
    with pytest.raises(ValueError, match="mix outcome families"):
        combine_jumps([res[0], poisson_patients(1)[0]])
    down = detect_jump(-np.asarray(res[1].y), treatment_start=8, direction="decrease")
    with pytest.raises(ValueError, match="mix directions"):
        combine_jumps([res[0], down])
    ordinal = [
        detect_jump(
            np.r_[[2, 3, 2, 3, 2, 3], [6, 7, 6, 7, 6, 7]], family="ordinal", score_range=(1, 9)
        )
        for _ in range(2)
    ]
    with pytest.raises(ValueError, match="ordinal"):
        combine_jumps(ordinal)
    other = detect_jump(np.asarray(res[1].y), treatment_start=8, mcid=2.0)
    with pytest.raises(ValueError, match="different mcid"):
        combine_jumps([res[0], other])
    with pytest.raises(ValueError, match="method"):
        combine_jumps(res, method="bayes")
    with pytest.raises(TypeError, match="MCMC options"):
        combine_jumps(res, draws=100)
    with pytest.raises(ValueError, match="one patient"):
        combine_jumps(res[:1])
    with pytest.raises(ValueError, match="level"):
        combine_jumps(res, level=1.5)
    with pytest.raises(ValueError, match="resolution"):
        combine_jumps(res, resolution=2)
    with pytest.raises(TypeError, match="mean_prior"):
        combine_jumps(res, mean_prior="flat")
    with pytest.raises(TypeError, match="tau_prior"):
        combine_jumps(res, tau_prior="wide")
    with pytest.raises(ValueError, match="mcid"):
        combine_jumps(res, mcid=-1.0)
    with pytest.raises(ValueError, match="rate ratio"):
        combine_jumps(poisson_patients(2), mcid=0.0)
    ar = normal_patients(2, seed=1, ar1=True)
    with pytest.raises(ValueError, match="AR"):
        combine_jumps(ar, method="mcmc")
    rng = np.random.default_rng(2)
    zeros = [
        detect_jump(np.r_[rng.poisson(3, 8), [0, 0, 0]], family="poisson", treatment_start=8)
        for _ in range(2)
    ]
    with pytest.raises(ValueError, match="improper"):
        combine_jumps(zeros)
    proper = combine_jumps(zeros, mean_prior=(0.0, 2.0))
    assert proper.mu.moments()[0] < 0
    out = combine_jumps(res, mcid=None, tau_prior=1.0)
    with pytest.raises(ValueError, match="mcid"):
        out.prob_mean_exceeds(-2.0)
