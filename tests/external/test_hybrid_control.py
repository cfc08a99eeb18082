"""Hybrid control on propensity-weighted external data: the R reference on lalonde,
closed forms (power, empirical-Bayes power), the commensurate posterior by direct
quadrature over tau, Monte Carlo checks, invariants and bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from rdstats.borrowing import HalfNormal
from rdstats.datasets import load_lalonde
from rdstats.external import effective_sample_size, weight
from rdstats.external._hybrid_control import HybridControl, hybrid_control

ROOT = Path(__file__).resolve().parents[2]
REF = json.loads((ROOT / "tests" / "reference" / "external_ps_borrowing.json").read_text())


def trial(seed: int = 2, n_t: int = 30, n_c: int = 12, n_e: int = 250, drift: float = 0.0):
    rng = np.random.default_rng(seed)
    n_trial = n_t + n_c
    x = np.r_[rng.normal(0.4, 1, n_trial), rng.normal(0, 1, n_e)]
    study = np.r_[np.ones(n_trial, int), np.zeros(n_e, int)]
    arm = np.r_[np.ones(n_t, int), np.zeros(n_c + n_e, int)]
    y = x + 0.6 * arm + drift * (1 - study) + rng.normal(size=x.size)
    yb = (y > 0.3).astype(int)
    return pd.DataFrame({"x": x, "study": study, "arm": arm, "y": y, "yb": yb})


def pieces(d: pd.DataFrame, res: HybridControl):
    """Weighted external summary and trial summaries recomputed by hand."""
    e = res.ps.scores
    ext = d["study"].to_numpy() == 0
    w = e[ext] / (1 - e[ext])
    ye = d["y"].to_numpy()[ext]
    m = np.average(ye, weights=w)
    sd_w = math.sqrt(np.average((ye - m) ** 2, weights=w))
    ess = w.sum() ** 2 / np.sum(w**2)
    yt = d.loc[(d.study == 1) & (d.arm == 1), "y"].to_numpy()
    yc = d.loc[(d.study == 1) & (d.arm == 0), "y"].to_numpy()
    s = math.sqrt(
        (np.sum((yt - yt.mean()) ** 2) + np.sum((yc - yc.mean()) ** 2)) / (yt.size + yc.size - 2)
    )
    return m, sd_w / math.sqrt(ess), ess, yt, yc, s


@pytest.mark.parametrize(
    "case", [c for c in REF["cases"] if c["kind"] == "hybrid_power"], ids=lambda c: c["name"]
)
def test_reference_r_single_arm_power(case: dict) -> None:
    d = load_lalonde()
    d["employed78"] = (d["re78"] > 0).astype(int)
    inp, exp, tol = case["inputs"], case["expected"], case["tolerance"]
    res = hybrid_control(
        d, inp["outcome"], inp["covariates"], study=inp["study"], prior="power", a0=inp["a0"]
    )
    assert res.external["ess"] == pytest.approx(exp["ess_external"], rel=tol["rel"])
    assert float(res.control.mean()) == pytest.approx(exp["control_mean"], rel=tol["rel"])
    assert float(res.control.sd()) == pytest.approx(exp["control_sd"], rel=tol["rel"])


def test_external_ess_is_the_att_weighting_ess() -> None:
    d = trial()
    res = hybrid_control(d, "y", ["x"], study="study", treatment="arm")
    w = weight(d, "study", ["x"], estimand="ATT")
    ctrl = d["study"].to_numpy() == 0
    assert res.external["ess"] == pytest.approx(effective_sample_size(w.weights[ctrl]), rel=1e-9)


def test_power_prior_closed_form() -> None:
    d = trial()
    res = hybrid_control(d, "y", ["x"], study="study", treatment="arm", prior="power", a0=0.3)
    m, se_h, _, yt, yc, s = pieces(d, res)
    prec = 0.3 / se_h**2 + yc.size / s**2
    mc = (0.3 * m / se_h**2 + yc.sum() / s**2) / prec
    assert float(res.control.mean()) == pytest.approx(mc, rel=1e-6)
    assert float(res.control.sd()) == pytest.approx(prec**-0.5, rel=1e-6)
    assert res.estimate == pytest.approx(yt.mean() - mc, rel=1e-6)
    assert res.sd == pytest.approx(math.sqrt(s**2 / yt.size + 1 / prec), rel=1e-6)
    assert res.borrowed == pytest.approx(s**2 * prec - yc.size, rel=1e-6)
    z = stats.norm.ppf(0.975)
    assert res.ci_lower == pytest.approx(res.estimate - z * res.sd, rel=1e-6)
    assert res.prob_effect == pytest.approx(stats.norm.sf(0, res.estimate, res.sd), abs=1e-8)


def test_eb_power_a0_is_gravestock_held() -> None:
    for drift, expect_full in ((0.0, None), (2.0, False)):
        d = trial(seed=7, drift=drift)
        res = hybrid_control(d, "y", ["x"], study="study", treatment="arm", prior="eb_power")
        m, se_h, _, _, yc, s = pieces(d, res)
        se_c2 = s**2 / yc.size
        dd = (yc.mean() - m) ** 2
        a0 = 1.0 if dd <= se_c2 else min(1.0, se_h**2 / (dd - se_c2))
        assert res.a0 == pytest.approx(a0, rel=1e-4, abs=1e-6)
        if expect_full is False:
            assert res.a0 < 0.2  # strong drift: little borrowed


def test_commensurate_against_direct_quadrature() -> None:
    d = trial(seed=9, drift=0.5)
    res = hybrid_control(
        d, "y", ["x"], study="study", treatment="arm", prior="commensurate", tau_prior=0.4
    )
    m, se_h, _, yt, yc, s = pieces(d, res)
    se_c2 = s**2 / yc.size

    def post_tau(tau: float) -> float:
        return stats.halfnorm.pdf(tau, scale=0.4) * stats.norm.pdf(
            yc.mean(), m, math.sqrt(se_h**2 + tau**2 + se_c2)
        )

    def cond(tau: float) -> tuple[float, float]:
        prec = 1 / (se_h**2 + tau**2) + 1 / se_c2
        return (m / (se_h**2 + tau**2) + yc.mean() / se_c2) / prec, 1 / prec

    z = integrate.quad(post_tau, 0, np.inf)[0]
    mean = integrate.quad(lambda t: post_tau(t) * cond(t)[0], 0, np.inf)[0] / z
    second = integrate.quad(lambda t: post_tau(t) * (cond(t)[1] + cond(t)[0] ** 2), 0, np.inf)[0]
    var = second / z - mean**2
    assert float(res.control.mean()) == pytest.approx(mean, abs=1e-6 * s)
    assert float(res.control.sd()) == pytest.approx(math.sqrt(var), rel=1e-5)
    assert res.a0 is None
    assert res.estimate == pytest.approx(yt.mean() - mean, abs=1e-6 * s)


def test_commensurate_borrows_less_under_drift() -> None:
    kw = {"study": "study", "treatment": "arm", "prior": "commensurate", "tau_prior": 0.3}
    agree = hybrid_control(trial(seed=4), "y", ["x"], **kw)
    drift = hybrid_control(trial(seed=4, drift=1.5), "y", ["x"], **kw)
    assert drift.borrowed < 0.5 * agree.borrowed


def test_binary_power_beta_and_monte_carlo() -> None:
    d = trial(seed=5)
    res = hybrid_control(d, "yb", ["x"], study="study", treatment="arm", a0=0.4)
    assert res.outcome_type == "binary"
    e = res.ps.scores
    ext = d["study"].to_numpy() == 0
    w = e[ext] / (1 - e[ext])
    p_w = np.average(d["yb"].to_numpy()[ext], weights=w)
    ess = w.sum() ** 2 / np.sum(w**2)
    yc = d.loc[(d.study == 1) & (d.arm == 0), "yb"].to_numpy()
    a = 1 + 0.4 * ess * p_w + yc.sum()
    b = 1 + 0.4 * ess * (1 - p_w) + yc.size - yc.sum()
    assert float(res.control.a[0]) == pytest.approx(a)
    assert float(res.control.b[0]) == pytest.approx(b)
    assert res.borrowed == pytest.approx(0.4 * ess)
    rng = np.random.default_rng(1)
    ta, tb = float(res.treated.a[0]), float(res.treated.b[0])
    diff = rng.beta(ta, tb, 400_000) - rng.beta(a, b, 400_000)
    assert np.mean(diff > 0) == pytest.approx(res.prob_effect, abs=0.003)
    q = np.quantile(diff, [0.025, 0.975])
    np.testing.assert_allclose([res.ci_lower, res.ci_upper], q, atol=0.003)


@settings(max_examples=15, deadline=None)
@given(st.floats(0.0, 1.0), st.integers(0, 3))
def test_power_prior_invariants(a0: float, seed: int) -> None:
    d = trial(seed=seed)
    res = hybrid_control(d, "y", ["x"], study="study", treatment="arm", a0=a0)
    none = hybrid_control(d, "y", ["x"], study="study", treatment="arm", a0=0.0)
    assert res.borrowed == pytest.approx(
        a0 * res.external["ess"] * (res.sigma / res.external["sd"]) ** 2, rel=1e-5, abs=1e-6
    )
    assert res.sd <= none.sd + 1e-12
    assert res.ci_lower < res.estimate < res.ci_upper
    assert 0.0 <= res.prob_effect <= 1.0


def test_single_arm_power_only() -> None:
    d = trial(n_c=0)
    res = hybrid_control(d, "y", ["x"], study="study", a0=1.0)
    assert res.n_concurrent == 0
    assert float(res.control.mean()) == pytest.approx(res.external["mean"], rel=1e-6)
    assert float(res.control.sd()) == pytest.approx(res.external["se"], rel=1e-6)
    with pytest.raises(ValueError, match="trial has none; use prior='power'"):
        hybrid_control(d, "y", ["x"], study="study", prior="eb_power")


def test_result_surface() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    res = hybrid_control(trial(), "y", ["x"], study="study", treatment="arm")
    summ = res.summary()
    assert list(summ.index) == ["treated", "control", "effect"]
    assert summ.loc["control", "borrowed"] == res.borrowed
    assert "Hybrid control" in res._repr_html_()
    json.dumps(res.to_dict())
    assert res.prob(res.estimate) == pytest.approx(0.5, abs=1e-6)
    res.plot()
    plt.close("all")


def test_bad_input() -> None:
    d = trial()
    kw = {"study": "study", "treatment": "arm"}
    with pytest.raises(ValueError, match="prior must be one of"):
        hybrid_control(d, "y", ["x"], prior="map", **kw)
    with pytest.raises(ValueError, match=r"a0 must be in \[0, 1\], got 1.5"):
        hybrid_control(d, "y", ["x"], a0=1.5, **kw)
    with pytest.raises(ValueError, match="needs tau_prior"):
        hybrid_control(d, "y", ["x"], prior="commensurate", **kw)
    with pytest.raises(ValueError, match="tau_prior applies to prior='commensurate' only"):
        hybrid_control(d, "y", ["x"], tau_prior=HalfNormal(1.0), **kw)
    with pytest.raises(ValueError, match="not available for a binary outcome"):
        hybrid_control(d, "yb", ["x"], prior="commensurate", tau_prior=1.0, **kw)
    with pytest.raises(ValueError, match="level must be in"):
        hybrid_control(d, "y", ["x"], level=0.0, **kw)
    with pytest.raises(ValueError, match="covariates have missing values"):
        hybrid_control(d.assign(x=np.where(d.index == 4, np.nan, d["x"])), "y", ["x"], **kw)
