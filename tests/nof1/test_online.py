"""OnlineDetector (Adams-MacKay): run-length posterior against enumeration of every
segmentation at every visit, agreement with Fearnhead's recursion, immutability of the
state, pruning, the Nile and coal series, invariants (hypothesis) and bad input."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

from rdstats.datasets import load_coal, load_nile
from rdstats.nof1._fearnhead import multiple_changes
from rdstats.nof1._online import OnlineDetector, OnlineResult
from rdstats.nof1._segments import SegmentLength, SegmentModel


def brute_run_length(
    model: SegmentModel, y: np.ndarray, length: SegmentLength, exposure: np.ndarray | None
) -> np.ndarray:
    """P(run length = r | y_0..y_t) for every t (rows) by enumerating the segmentations of
    y_0..y_t (the last segment only known to last until t)."""
    n = y.size
    obs = model.obs_stats(y, exposure)
    out = np.zeros((n, n))
    for t in range(1, n + 1):
        lps, last = [], []
        for k in range(t):
            for comb in itertools.combinations(range(1, t), k):
                b = [0, *comb, t]
                lp = 0.0
                for u, v in itertools.pairwise(b):
                    lp += float(model.log_marginal(obs[u:v].sum(axis=0)))
                    lp += float(length.log_pmf(v - u) if v < t else length.log_sf(v - u))
                lps.append(lp)
                last.append(b[-2])
        w = np.exp(np.array(lps) - logsumexp(lps))
        for wi, j in zip(w, last, strict=True):
            out[t - 1, t - j - 1] += wi
    return out


CASES = {
    "normal": (np.array([0.2, -0.4, 0.5, 3.1, 2.4, 3.3, 1.2, 0.9]), None, None),
    "poisson": (np.array([2.0, 1, 3, 7, 5, 8, 6, 1]), None, np.array([1, 1, 2, 1, 0.5, 1, 1, 1])),
    "ordinal": (np.array([1.0, 2, 1, 4, 5, 4, 3, 1]), (1, 5), None),
}


@pytest.mark.parametrize("family", ["normal", "poisson", "ordinal"])
@pytest.mark.parametrize("hazard", [0.2, SegmentLength(3.0, 2.5)])
def test_run_length_posterior_equals_enumeration(family: str, hazard: object) -> None:
    y, sr, ex = CASES[family]
    length = hazard if isinstance(hazard, SegmentLength) else SegmentLength(1 / float(hazard))  # type: ignore[arg-type]
    fm = multiple_changes(
        y, family=family, segment_length=length, score_range=sr, exposure=ex, n_samples=0
    )
    det = OnlineDetector(family, hazard=hazard, prior=fm.model.prior, score_range=sr, prune=0)  # type: ignore[arg-type]
    res = det.run(y, exposure=ex)
    want = brute_run_length(fm.model, y, length, ex)
    np.testing.assert_allclose(res.run_length_posterior, want, atol=1e-10)
    # the filter's evidence is Fearnhead's, and P(change since start) is P(run began >= j0)
    assert res.log_evidence == pytest.approx(fm.log_evidence, abs=1e-10)
    det2 = dataclasses.replace(det, threshold=0.5)
    res2 = det2.run(y, np.arange(8.0) * 2, treatment_start=5.0, exposure=ex)
    p = res2.trajectory["prob_change_since_start"].to_numpy()
    assert np.all(np.isnan(p[:3]))
    for t in range(3, 8):
        assert p[t] == pytest.approx(want[t, : t - 3 + 1].sum(), abs=1e-10)
    np.testing.assert_array_equal(res2.trajectory["alarm"], np.nan_to_num(p) > 0.5)


def test_state_updates_are_immutable_and_equal_run() -> None:
    rng = np.random.default_rng(4)
    y = np.r_[rng.normal(0, 1, 10), rng.normal(2, 1, 8)]
    det = OnlineDetector.from_baseline(y[:10], hazard=0.05)
    s0 = det.start(treatment_start=10)
    assert s0.n == 0 and s0.map_run_length == 0 and math.isnan(s0.prob_change_since_start)
    s1 = s0.update(y[0], 0)
    assert s0.n == 0 and s1.n == 1 and s1.run_length_posterior.to_dict() == {1: 1.0}
    with pytest.raises(dataclasses.FrozenInstanceError):
        s1.n = 5  # type: ignore[misc]
    assert not s1.log_prob.flags.writeable and not s1.stats.flags.writeable
    state = s0
    probs = []
    for t, v in enumerate(y):
        state = state.update(v, t)
        probs.append(state.prob_change_since_start)
    res = det.run(y, treatment_start=10)
    np.testing.assert_allclose(res.trajectory["prob_change_since_start"], probs, atol=1e-14)
    assert res.final_state.log_evidence == pytest.approx(state.log_evidence, abs=1e-12)
    assert state.run_length_posterior.sum() == pytest.approx(1.0)
    assert state.update(1.0).time == 18.0  # default time: previous + 1


def test_pruning_changes_little() -> None:
    rng = np.random.default_rng(7)
    y = np.concatenate([rng.normal(m, 1, 40) for m in (0, 2, 0.5, 3, 1)])
    exact = OnlineDetector(hazard=0.02, prune=0).run(y)
    pruned = OnlineDetector(hazard=0.02, prune=1e-10).run(y)
    assert pruned.final_state.log_prob.size < exact.final_state.log_prob.size
    np.testing.assert_allclose(pruned.run_length_posterior, exact.run_length_posterior, atol=1e-7)
    assert pruned.log_evidence == pytest.approx(exact.log_evidence, abs=1e-6)


def test_prior_from_pre_treatment_visits() -> None:
    rng = np.random.default_rng(8)
    y = np.r_[rng.normal(50, 2, 12), rng.normal(60, 2, 12)]
    res = OnlineDetector(hazard=0.05).run(y, treatment_start=12)
    want = OnlineDetector.from_baseline(y[:12], hazard=0.05)
    assert dict(res.model.prior) == want.prior
    assert res.first_alarm is not None and 12 <= res.first_alarm <= 15
    assert res.summary()["alarm_delay"].iloc[0] == res.first_alarm - 12


# -- public series ---------------------------------------------------------------------------------
def test_nile_online() -> None:
    d = load_nile()
    res = OnlineDetector(hazard=0.01).run(d.flow, d.year)
    assert 1899 <= res.first_alarm <= 1910  # type: ignore[operator]
    last = res.trajectory.iloc[-1]
    assert last["map_segment_start"] == 1899.0 and last["prob_change_since_start"] > 0.99
    before = res.trajectory.loc[res.trajectory.time < 1899, "prob_change_since_start"]
    assert before.max() < 0.5


def test_coal_online() -> None:
    d = load_coal()
    res = OnlineDetector("poisson", hazard=0.01).run(d.disasters, d.year)
    tr = res.trajectory.set_index("time")
    assert 1890 <= res.first_alarm <= 1905  # type: ignore[operator]
    assert 1886 <= tr.loc[res.first_alarm, "map_segment_start"] <= 1895
    assert tr.loc[:1885, "prob_change_since_start"].max() < 0.5


# -- presentation --------------------------------------------------------------------------------
def test_summary_dict_html_plot() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = load_nile()
    res = OnlineDetector(hazard=0.01, threshold=0.9).run(d.flow, d.year, treatment_start=1895)
    assert isinstance(res, OnlineResult)
    assert list(res.trajectory.columns) == [
        "time",
        "y",
        "prob_change_since_start",
        "map_run_length",
        "map_segment_start",
        "log_predictive",
        "predictive_cdf",
        "alarm",
    ]
    out = json.loads(json.dumps(res.to_dict()))
    assert out["trajectory"]["prob_change_since_start"][0] is None
    assert out["model"]["family"] == "normal" and out["hazard"] == 0.01
    assert "Online change detection" in res._repr_html_()
    assert res.summary().shape == (1, 9)
    assert res.trajectory.predictive_cdf.between(0, 1).all()
    axes = res.plot()
    assert len(axes) == 3
    plt.close("all")
    assert not res.run_length_posterior.flags.writeable


# -- invariants ------------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(4, 30),
    st.sampled_from(["normal", "poisson", "ordinal"]),
    st.floats(0.001, 0.5),
    st.integers(0, 10_000),
)
def test_probabilities_are_coherent(n: int, family: str, hazard: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = {
        "normal": lambda: rng.normal(size=n) * rng.uniform(0.1, 10),
        "poisson": lambda: rng.poisson(rng.uniform(0.2, 8), n).astype(float),
        "ordinal": lambda: rng.integers(0, 4, n).astype(float),
    }[family]()
    if family == "normal" and np.ptp(y) == 0:
        return
    start = float(rng.integers(1, n))
    res = OnlineDetector(family, hazard=hazard, score_range=(0, 3)).run(y, treatment_start=start)
    rl = res.run_length_posterior
    assert np.all((rl >= 0) & (rl <= 1 + 1e-12))
    np.testing.assert_allclose(rl.sum(axis=1), 1.0, atol=1e-9)
    assert np.all(np.triu(rl, 1) == 0)  # run length <= visits seen
    p = res.trajectory["prob_change_since_start"].to_numpy()
    assert np.all(np.isnan(p[: int(start)])) and not np.isnan(p[int(start) :]).any()
    assert np.all((p[int(start) :] >= 0) & (p[int(start) :] <= 1 + 1e-12))
    assert np.all(np.isfinite(res.trajectory["log_predictive"]))
    r = res.trajectory["map_run_length"].to_numpy()
    assert np.all((r >= 1) & (r <= np.arange(1, n + 1)))


# -- bad input -------------------------------------------------------------------------------------
def test_bad_configuration() -> None:
    with pytest.raises(ValueError, match="family must be one of"):
        OnlineDetector("binary")
    for h in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match=r"hazard must be in \(0, 1\)"):
            OnlineDetector(hazard=h)
    with pytest.raises(ValueError, match="threshold must be in"):
        OnlineDetector(threshold=1.0)
    with pytest.raises(ValueError, match="prune must be in"):
        OnlineDetector(prune=0.5)
    with pytest.raises(ValueError, match="unknown keys"):
        OnlineDetector(prior={"sd": 1.0})
    with pytest.raises(ValueError, match="needs score_range"):
        OnlineDetector("ordinal")
    with pytest.raises(ValueError, match="from_baseline"):
        OnlineDetector().start()
    with pytest.raises(ValueError, match="from_baseline"):
        OnlineDetector("poisson", prior={"shape": 1.0}).start()
    OnlineDetector("ordinal", score_range=(1, 9)).start()  # Beta(1, 1) needs no data


def test_bad_updates_and_series() -> None:
    det = OnlineDetector(prior={"mean": 0.0, "kappa": 0.01, "shape": 2.0, "scale": 1.0})
    s = det.start().update(0.3, 5.0)
    with pytest.raises(ValueError, match="strictly increasing"):
        s.update(0.1, 5.0)
    with pytest.raises(ValueError, match=r"y must not be NaN|y must be finite|NaN"):
        s.update(float("nan"), 6.0)
    pois = OnlineDetector("poisson", prior={"shape": 1.0, "rate": 1.0}).start()
    with pytest.raises(ValueError, match="non-negative integer count"):
        pois.update(-1.0)
    with pytest.raises(ValueError, match="exposure must be positive"):
        pois.update(1.0, exposure=0.0)
    ordi = OnlineDetector("ordinal", score_range=(1, 9)).start()
    with pytest.raises(ValueError, match="not an integer score in score_range"):
        ordi.update(10.0)
    y = np.r_[np.zeros(5), np.ones(5)] + np.linspace(0, 0.1, 10)
    with pytest.raises(ValueError, match=r"missing or non-finite.*dropna"):
        det.run(np.r_[y[:4], np.nan, y[5:]])
    assert det.run(np.r_[y[:4], np.nan, y[5:]], dropna=True).trajectory.shape[0] == 9
    with pytest.raises(ValueError, match="strictly increasing"):
        det.run(y, np.r_[0, 2, 1, np.arange(3, 10)])
    with pytest.raises(ValueError, match="needs at least 4"):
        det.run([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="outside the observed range"):
        det.run(y, treatment_start=20)
    with pytest.raises(ValueError, match="non-negative integer counts"):
        OnlineDetector("poisson").run([1, 2, -1, 3])
    with pytest.raises(ValueError, match="at most 5000"):
        det.run(np.arange(5001.0))


def test_predictive_cdf_matches_the_predictive_density() -> None:
    """P(Y <= y | past) is the integral (sum) of the one-step predictive density, which is
    the ratio of successive evidences."""
    from scipy import integrate

    rng = np.random.default_rng(12)
    y = np.r_[rng.normal(0, 1, 6), rng.normal(3, 1, 3)]
    det = OnlineDetector(prior={"mean": 0.0, "kappa": 0.1, "shape": 2.0, "scale": 1.0})
    state = det.start()
    for v in y[:-1]:
        state = state.update(v)

    def dens(x: float) -> float:
        return math.exp(state.update(x).log_predictive)

    want, _ = integrate.quad(dens, -np.inf, y[-1], epsabs=1e-12)
    assert state.update(y[-1]).predictive_cdf == pytest.approx(want, abs=1e-8)
    pois = OnlineDetector("poisson", prior={"shape": 2.0, "rate": 1.0}).start()
    for v in (1.0, 4.0, 2.0):
        pois = pois.update(v)
    masses = [math.exp(pois.update(float(k), exposure=1.5).log_predictive) for k in range(4)]
    assert pois.update(3.0, exposure=1.5).predictive_cdf == pytest.approx(sum(masses), abs=1e-12)
    ordi = OnlineDetector("ordinal", score_range=(1, 5)).start().update(2.0).update(4.0)
    masses = [math.exp(ordi.update(float(k)).log_predictive) for k in range(1, 6)]
    assert sum(masses) == pytest.approx(1.0, abs=1e-12)
    assert ordi.update(3.0).predictive_cdf == pytest.approx(sum(masses[:3]), abs=1e-12)


@pytest.mark.parametrize("family", ["normal", "poisson"])
def test_filter_evidence_equals_fearnhead_on_long_series(family: str) -> None:
    """Constant hazard h = geometric segment lengths with mean 1 / h: the same model."""
    if family == "normal":
        d = load_nile()
        y, t = d.flow.to_numpy(float), d.year.to_numpy(float)
    else:
        c = load_coal()
        y, t = c.disasters.to_numpy(float), c.year.to_numpy(float)
    fm = multiple_changes(y, t, family=family, segment_length=40.0, n_samples=0)
    res = OnlineDetector(family, hazard=1 / 40, prior=fm.model.prior, prune=0).run(y, t)
    assert res.log_evidence == pytest.approx(fm.log_evidence, abs=1e-8)
    # the filter's last row is Fearnhead's posterior of the last segment's start
    last = res.run_length_posterior[-1][::-1]  # index j: run length n - j
    np.testing.assert_allclose(fm.last_segment_start.to_numpy(), last, atol=1e-10)
    p_after = res.final_state.prob_change_since_start
    assert fm.prob_change_after(t[0]) == pytest.approx(p_after, abs=1e-10)
    start = OnlineDetector(family, hazard=1 / 40, prior=fm.model.prior, prune=0)
    res2 = start.run(y, t, treatment_start=t[40])
    assert fm.prob_change_after(t[40]) == pytest.approx(
        res2.final_state.prob_change_since_start, abs=1e-10
    )
