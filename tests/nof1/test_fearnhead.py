"""multiple_changes (Fearnhead's exact recursion): enumeration of every segmentation for
small n, exact forward simulation against the exact marginals (Monte Carlo), the Nile and
coal series with documented answers, invariants (hypothesis) and bad input."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

from rdstats.datasets import load_coal, load_nile
from rdstats.nof1._fearnhead import MultipleChangeResult, multiple_changes
from rdstats.nof1._segments import SegmentLength, SegmentModel, robust_spread
from rdstats.simulate._streams import seed_from_record

ROOT = Path(__file__).resolve().parents[2]
REF = {
    c["kind"]: c
    for c in json.loads((ROOT / "tests/reference/nof1_series.json").read_text())["cases"]
}


def enumerate_segmentations(
    model: SegmentModel,
    y: np.ndarray,
    length: SegmentLength,
    max_changes: int | None = None,
    exposure: np.ndarray | None = None,
) -> list[tuple[float, float, tuple[int, ...]]]:
    """(log prior, log likelihood, segment starts) of every segmentation, by brute force:
    each segment's marginal likelihood is computed from its own observations."""
    n = y.size
    obs = model.obs_stats(y, exposure)
    out = []
    for k in range(n):
        if max_changes is not None and k > max_changes:
            break
        for comb in itertools.combinations(range(1, n), k):
            b = [0, *comb, n]
            lp = ll = 0.0
            for u, v in itertools.pairwise(b):
                ll += float(model.log_marginal(obs[u:v].sum(axis=0)))
                lp += float(length.log_pmf(v - u) if v < n else length.log_sf(v - u))
            out.append((lp, ll, comb))
    return out


def brute(
    res: MultipleChangeResult,
    y: np.ndarray,
    length: SegmentLength,
    max_changes: int | None,
    exposure: np.ndarray | None = None,
) -> dict[str, object]:
    segs = enumerate_segmentations(res.model, y, length, max_changes, exposure)
    lp = np.array([s[0] for s in segs])
    ll = np.array([s[1] for s in segs])
    log_z = logsumexp(lp + ll) - logsumexp(lp)  # prior conditioned on <= max_changes
    w = np.exp(lp + ll - logsumexp(lp + ll))
    w0 = np.exp(lp - logsumexp(lp))
    n = y.size
    counts, prior, marg, last = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    for wi, w0i, (_, _, comb) in zip(w, w0, segs, strict=True):
        counts[len(comb)] += wi
        prior[len(comb)] += w0i
        marg[list(comb)] += wi
        last[comb[-1] if comb else 0] += wi
    best = segs[int(np.argmax(lp + ll))][2]
    return {
        "log_z": log_z,
        "counts": counts,
        "prior": prior,
        "marg": marg,
        "last": last,
        "map": best,
    }


def small_series(family: str) -> tuple[np.ndarray, tuple[int, int] | None, np.ndarray | None]:
    rng = np.random.default_rng({"normal": 1, "poisson": 2, "ordinal": 3}[family])
    if family == "normal":
        return rng.normal(size=8) + np.r_[0, 0, 0, 2.5, 2.5, 2.5, 1, 1], None, None
    if family == "poisson":
        return rng.poisson([2, 2, 2, 6, 6, 6, 6, 1]).astype(float), None, rng.uniform(0.5, 2, 8)
    return rng.integers(1, 6, 8).astype(float), (1, 5), None


# -- exact against brute force ------------------------------------------------------------------
@pytest.mark.parametrize("family", ["normal", "poisson", "ordinal"])
@pytest.mark.parametrize("max_changes", [None, 2, 0])
@pytest.mark.parametrize("length", [SegmentLength(4.0), SegmentLength(3.0, 2.5)])
def test_recursion_equals_enumeration(
    family: str, max_changes: int | None, length: SegmentLength
) -> None:
    y, sr, ex = small_series(family)
    res = multiple_changes(
        y,
        family=family,
        segment_length=length,
        max_changes=max_changes,
        score_range=sr,
        exposure=ex,
        n_samples=0,
    )
    b = brute(res, y, length, max_changes, ex)
    assert res.log_evidence == pytest.approx(b["log_z"], abs=1e-10)
    k = res.n_changes_posterior.size
    np.testing.assert_allclose(res.n_changes_posterior.to_numpy(), b["counts"][:k], atol=1e-10)
    assert np.all(np.asarray(b["counts"])[k:] < 1e-14)
    np.testing.assert_allclose(res.n_changes_prior.to_numpy(), b["prior"][:k], atol=1e-10)
    np.testing.assert_allclose(res.change_probability.to_numpy(), b["marg"], atol=1e-10)
    np.testing.assert_allclose(res.last_segment_start.to_numpy(), b["last"], atol=1e-10)
    assert res.prob_change_after(5) == pytest.approx(np.sum(b["last"][5:]), abs=1e-10)
    assert res.map_changes.tolist() == [float(j) for j in b["map"]]  # type: ignore[union-attr]


def test_segment_marginal_is_the_integral_over_the_prior() -> None:
    """Normal-inverse-gamma marginal of 4 points: y | sigma^2 ~ N(m0, sigma^2 (I + J /
    kappa)) (mu integrated out), then quadrature over sigma^2."""
    from scipy import integrate, stats

    model = SegmentModel("normal", {"mean": 1.0, "kappa": 0.5, "shape": 2.0, "scale": 1.5})
    y = np.array([0.3, 1.7, 2.2, -0.4])
    got = float(model.log_marginal(model.obs_stats(y).sum(axis=0)))
    cov = np.eye(4) + np.ones((4, 4)) / 0.5

    def f(v: float) -> float:
        return float(
            stats.invgamma.pdf(v, 2.0, scale=1.5)
            * stats.multivariate_normal.pdf(y, np.ones(4), v * cov)
        )

    want, _ = integrate.quad(f, 0.0, np.inf, epsabs=0, epsrel=1e-12, limit=200)
    assert got == pytest.approx(math.log(want), abs=1e-9)


def test_default_prior_is_scaled_by_the_robust_spread() -> None:
    y = np.r_[np.zeros(10), np.full(10, 100.0)] + np.tile([0.0, 1.0], 10)
    res = multiple_changes(y, n_samples=0)
    s = robust_spread(y)
    assert s == pytest.approx(1.4826 / math.sqrt(2))  # level shift hardly affects it
    assert res.model.prior == {
        "mean": float(np.median(y)),
        "kappa": 0.01,
        "shape": 2.0,
        "scale": s * s,
    }
    res2 = multiple_changes(y, prior={"kappa": 0.1}, n_samples=0)
    assert res2.model.prior["kappa"] == 0.1 and res2.model.prior["scale"] == s * s


def test_max_changes_at_least_n_minus_one_is_no_limit() -> None:
    y, _, _ = small_series("normal")
    a = multiple_changes(y, n_samples=0)
    b = multiple_changes(y, max_changes=7, n_samples=0)
    assert b.max_changes is None
    np.testing.assert_allclose(a.change_probability, b.change_probability, atol=1e-13)


# -- Monte Carlo: the exact draws reproduce the exact marginals -----------------------------------
@pytest.mark.parametrize("max_changes", [None, 2])
def test_samples_reproduce_exact_marginals(max_changes: int | None) -> None:
    rng = np.random.default_rng(11)
    y = np.r_[rng.normal(0, 1, 12), rng.normal(1.5, 1, 10), rng.normal(-0.5, 1, 12)]
    m = 20_000
    res = multiple_changes(y, segment_length=8.0, max_changes=max_changes, n_samples=m, rng=5)
    draws = res.samples
    assert draws.shape == (m, y.size) and not draws[:, 0].any()
    p = res.change_probability.to_numpy()
    se = np.sqrt(p * (1 - p) / m)
    assert np.all(np.abs(draws.mean(axis=0) - p) <= 5 * se + 1e-3)
    k = draws.sum(axis=1)
    if max_changes is not None:
        assert k.max() <= max_changes
    q = res.n_changes_posterior.to_numpy()
    freq = np.bincount(k, minlength=q.size)[: q.size] / m
    assert np.all(np.abs(freq - q) <= 5 * np.sqrt(q * (1 - q) / m) + 1e-3)
    assert res.expected_n_changes == pytest.approx(p.sum(), abs=1e-12)


def test_samples_are_reproducible_from_the_recorded_seed() -> None:
    y, _, _ = small_series("normal")
    a = multiple_changes(y, n_samples=50, rng=3)
    b = multiple_changes(y, n_samples=50, rng=3)
    np.testing.assert_array_equal(a.samples, b.samples)
    c = multiple_changes(y, n_samples=50)
    d = multiple_changes(y, n_samples=50, rng=seed_from_record(c.provenance["seed"]))
    np.testing.assert_array_equal(c.samples, d.samples)
    assert [list(t) for t in a.sample_change_times()] == [list(a.times[r]) for r in a.samples]


# -- public series with documented answers ---------------------------------------------------------
def test_nile_one_change_after_1898() -> None:
    exp = REF["nile"]["expected"]
    d = load_nile()
    res = multiple_changes(d.flow, d.year, rng=1, n_samples=200)
    assert res.map_changes.tolist() == [float(exp["map_first_new_year"])]
    assert int(res.n_changes_posterior.idxmax()) == 1
    lo, hi = exp["credible_set_within"]
    assert res.change_probability.loc[lo:hi].sum() > 0.95
    assert res.change_probability.idxmax() == exp["map_first_new_year"]
    seg = res.segments
    pre, post = d.flow[d.year < 1899].mean(), d.flow[d.year >= 1899].mean()
    assert seg["mean"].tolist() == pytest.approx([pre, post], abs=1.0)
    assert (seg["lower"] < seg["mean"]).all() and (seg["mean"] < seg["upper"]).all()


def test_coal_rate_drop_around_1890() -> None:
    exp = REF["coal"]["expected"]
    d = load_coal()
    res = multiple_changes(d.disasters, d.year, family="poisson", rng=1, n_samples=200)
    first_new = [y + 1 for y in exp["last_old_year_in"]]
    assert res.segments["start"].iloc[1] in first_new
    assert res.n_changes_posterior.loc[0] < 0.01
    assert res.change_probability.loc[1886:1895].sum() > 0.9
    rates = res.segments["mean"].to_numpy()
    assert rates[0] == pytest.approx(3.1, abs=0.2) and rates[1] == pytest.approx(0.9, abs=0.15)


# -- presentation --------------------------------------------------------------------------------
def test_summary_dict_html_plot() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = load_nile()
    res = multiple_changes(d.flow, d.year, rng=1, n_samples=100)
    s = res.summary()
    assert list(s.columns) == [
        "prob_change_at_start",
        "start",
        "end",
        "n_visits",
        "mean",
        "lower",
        "upper",
    ]
    assert math.isnan(s["prob_change_at_start"].iloc[0])
    out = json.loads(json.dumps(res.to_dict()))
    assert out["map_changes"] == [1899.0] and out["segment_length"]["mean"] == 100.0
    assert "Multiple change points" in res._repr_html_()
    axes = res.plot()
    assert len(axes) == 2
    plt.close("all")
    for arr in (res.times, res.y, res.samples, res.map_changes):
        assert not arr.flags.writeable


# -- invariants ------------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(4, 14),
    st.sampled_from(["normal", "poisson", "ordinal"]),
    st.floats(1.5, 30.0),
    st.sampled_from([None, 0, 1, 3]),
    st.integers(0, 10_000),
)
def test_probabilities_are_coherent(
    n: int, family: str, mean_len: float, kmax: int | None, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    y = {
        "normal": lambda: rng.normal(size=n) * rng.uniform(0.1, 10),
        "poisson": lambda: rng.poisson(rng.uniform(0.2, 8), n).astype(float),
        "ordinal": lambda: rng.integers(0, 4, n).astype(float),
    }[family]()
    if family == "normal" and np.ptp(y) == 0:
        return
    res = multiple_changes(
        y,
        family=family,
        segment_length=mean_len,
        max_changes=kmax,
        score_range=(0, 3),
        n_samples=20,
        rng=seed,
    )
    post, prior = res.n_changes_posterior.to_numpy(), res.n_changes_prior.to_numpy()
    for p in (post, prior):
        assert np.all((p >= 0) & (p <= 1 + 1e-12)) and p.sum() == pytest.approx(1.0, abs=1e-12)
    cp = res.change_probability.to_numpy()
    assert np.all((cp >= -1e-15) & (cp <= 1 + 1e-12)) and cp[0] == 0.0
    assert res.expected_n_changes == pytest.approx(cp.sum(), abs=1e-9)
    if kmax is not None:
        assert post.size <= kmax + 1 and res.samples.sum(axis=1).max() <= kmax
    assert math.isfinite(res.log_evidence)
    assert res.segments["n_visits"].sum() == n


@settings(max_examples=15, deadline=None)
@given(st.floats(0.01, 100.0), st.floats(-1e3, 1e3), st.integers(0, 1000))
def test_normal_posterior_is_affine_invariant(a: float, b: float, seed: int) -> None:
    y = np.random.default_rng(seed).normal(size=10) + np.r_[np.zeros(5), np.full(5, 2.0)]
    r1 = multiple_changes(y, n_samples=0)
    r2 = multiple_changes(a * y + b, n_samples=0)
    np.testing.assert_allclose(r1.change_probability, r2.change_probability, atol=1e-8)
    assert r2.log_evidence == pytest.approx(r1.log_evidence - 10 * math.log(a), abs=1e-7)


# -- bad input -------------------------------------------------------------------------------------
def test_bad_input() -> None:
    y = np.r_[np.zeros(5), np.ones(5)] + np.linspace(0, 0.1, 10)
    with pytest.raises(ValueError, match=r"missing or non-finite.*dropna"):
        multiple_changes(np.r_[y[:4], np.nan, y[5:]])
    assert multiple_changes(np.r_[y[:4], np.nan, y[5:]], dropna=True, n_samples=0).y.size == 9
    with pytest.raises(ValueError, match="strictly increasing"):
        multiple_changes(y, times=np.r_[0, 2, 1, np.arange(3, 10)])
    with pytest.raises(ValueError, match="non-negative integer counts"):
        multiple_changes([1, 2, -1, 3], family="poisson")
    with pytest.raises(ValueError, match="not an integer score in score_range"):
        multiple_changes([1, 2, 10, 3], family="ordinal", score_range=(1, 9))
    with pytest.raises(ValueError, match="needs score_range"):
        multiple_changes([1, 2, 3], family="ordinal")
    with pytest.raises(ValueError, match="has 3 visits; the normal model needs at least 4"):
        multiple_changes([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="family must be one of"):
        multiple_changes(y, family="binary")
    with pytest.raises(ValueError, match="segment_length mean must be > 1"):
        multiple_changes(y, segment_length=1.0)
    with pytest.raises(ValueError, match="shape must be positive"):
        multiple_changes(y, segment_length=SegmentLength(5.0, -1.0))
    with pytest.raises(TypeError, match="segment_length must be"):
        multiple_changes(y, segment_length="geometric")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_changes must be >= 0"):
        multiple_changes(y, max_changes=-1)
    with pytest.raises(TypeError, match="max_changes must be"):
        multiple_changes(y, max_changes=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_samples must be >= 0"):
        multiple_changes(y, n_samples=-1)
    with pytest.raises(ValueError, match="level must be in"):
        multiple_changes(y, level=1.5)
    with pytest.raises(ValueError, match="unknown keys"):
        multiple_changes(y, prior={"sd": 1.0})
    with pytest.raises(ValueError, match=r"prior\['scale'\] must be positive"):
        multiple_changes(y, prior={"scale": 0.0})
    with pytest.raises(TypeError, match="prior must be a mapping"):
        multiple_changes(y, prior=[1.0, 2.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at most 5000"):
        multiple_changes(np.arange(5001.0))
    with pytest.raises(TypeError, match="rng must be"):
        multiple_changes(y, rng="seed")


def test_accepts_a_series_with_time_index() -> None:
    y = pd.Series(
        np.r_[np.zeros(6), np.full(6, 3.0)] + np.tile([0, 0.3], 6), index=np.arange(12) * 7.0
    )
    res = multiple_changes(y, n_samples=0)
    assert res.map_changes.tolist() == [42.0]
