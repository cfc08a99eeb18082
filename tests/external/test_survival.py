"""Tests of rdstats.external survival analyses: R survival references (weighted KM, Cox
with robust SE, RMST, log-rank on the veteran data), unit weights, integer weights as
duplicated rows, weight scaling, the bootstrap, plotting and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rdstats.external._logrank import logrank
from rdstats.external._rmst import RMSTDifference, rmst_difference
from rdstats.external._survival import (
    CoxEstimate,
    WeightedKM,
    weighted_cox,
    weighted_km,
)

ROOT = Path(__file__).resolve().parents[2]
REF = json.loads((ROOT / "tests" / "reference" / "external_outcomes.json").read_text())
VET = pd.read_csv(ROOT / "tests" / "reference" / "data" / "veteran_weighted.csv")
ARGS = ("time", "status", "trt01")


def _cases(kind: str) -> list[dict[str, Any]]:
    return [c for c in REF["cases"] if c["kind"] == kind]


@pytest.mark.parametrize("case", _cases("km"), ids=lambda c: c["name"])
def test_km_reference(case: dict[str, Any]) -> None:
    km = weighted_km(VET, *ARGS, weights="w")
    s = km.survival_at(case["inputs"]["times"])
    tol = case["tolerance"]["abs"]
    np.testing.assert_allclose(s["treated"], case["expected"]["treated"], atol=tol)
    np.testing.assert_allclose(s["control"], case["expected"]["control"], atol=tol)


@pytest.mark.parametrize("case", _cases("cox"), ids=lambda c: c["name"])
def test_cox_reference(case: dict[str, Any]) -> None:
    inp, exp, tol = case["inputs"], case["expected"], case["tolerance"]
    cox = weighted_cox(
        VET,
        inp["time"],
        "status",
        "trt01",
        weights="w",
        cluster="cl" if inp["cluster"] else None,
        covariates=inp["covariates"],
    )
    assert cox.log_hr == pytest.approx(exp["log_hr"], rel=tol["rel_log_hr"])
    assert cox.se == pytest.approx(exp["robust_se"], rel=tol["rel_se"])


@pytest.mark.parametrize("case", _cases("rmst"), ids=lambda c: c["name"])
def test_rmst_reference(case: dict[str, Any]) -> None:
    r = rmst_difference(VET, *ARGS, tau=case["inputs"]["tau"], weights="w", n_boot=50, rng=1)
    rel = case["tolerance"]["rel"]
    assert r.rmst_treated == pytest.approx(case["expected"]["rmst_treated"], rel=rel)
    assert r.rmst_control == pytest.approx(case["expected"]["rmst_control"], rel=rel)
    assert r.estimate == pytest.approx(r.rmst_treated - r.rmst_control)


@pytest.mark.parametrize("case", _cases("logrank"), ids=lambda c: c["name"])
def test_logrank_reference(case: dict[str, Any]) -> None:
    lr = logrank(VET, *ARGS)
    assert lr.statistic == pytest.approx(case["expected"]["statistic"], rel=1e-6)
    assert not lr.weighted


def test_unit_weights_equal_unweighted() -> None:
    ones = np.ones(len(VET))
    a, b = weighted_km(VET, *ARGS), weighted_km(VET, *ARGS, weights=ones)
    pd.testing.assert_frame_equal(a.summary(), b.summary())
    ca, cb = weighted_cox(VET, *ARGS), weighted_cox(VET, *ARGS, weights=ones)
    assert ca.log_hr == pytest.approx(cb.log_hr) and ca.se == pytest.approx(cb.se)
    assert logrank(VET, *ARGS).statistic == pytest.approx(
        logrank(VET, *ARGS, weights=ones).statistic
    )


def test_integer_weights_equal_duplicated_rows() -> None:
    w = np.where(np.arange(len(VET)) % 3 == 0, 2.0, 1.0)
    dup = pd.concat([VET, VET[w == 2]], ignore_index=True)
    times = [20, 50, 100, 250]
    a = weighted_km(VET, *ARGS, weights=w).survival_at(times)
    pd.testing.assert_frame_equal(a, weighted_km(dup, *ARGS).survival_at(times))
    # Cox: duplicated events would be tied events, which Efron's method treats unlike one
    # event of weight 2 (so does R's coxph); duplicating censored rows only is exact.
    wc = np.where(VET.status.to_numpy() == 0, 2.0, 1.0)
    dupc = pd.concat([VET, VET[wc == 2]], ignore_index=True)
    assert weighted_cox(VET, *ARGS, weights=wc).log_hr == pytest.approx(
        weighted_cox(dupc, *ARGS).log_hr, rel=1e-6
    )
    assert logrank(VET, *ARGS, weights=w).statistic == pytest.approx(
        logrank(dup, *ARGS).statistic, rel=1e-8
    )
    ra = rmst_difference(VET, *ARGS, tau=300, weights=w, n_boot=10, rng=0)
    rb = rmst_difference(dup, *ARGS, tau=300, n_boot=10, rng=0)
    assert ra.estimate == pytest.approx(rb.estimate, rel=1e-10)


@settings(max_examples=5, deadline=None)
@given(scale=st.floats(0.05, 20.0))
def test_weight_scaling_invariance(scale: float) -> None:
    w = VET.w.to_numpy()
    t = [30, 100]
    pd.testing.assert_frame_equal(
        weighted_km(VET, *ARGS, weights=w).survival_at(t),
        weighted_km(VET, *ARGS, weights=w * scale).survival_at(t),
    )
    a = weighted_cox(VET, *ARGS, weights=w, cluster="cl")
    b = weighted_cox(VET, *ARGS, weights=w * scale, cluster="cl")
    assert b.log_hr == pytest.approx(a.log_hr, rel=1e-6, abs=1e-9)
    assert b.se == pytest.approx(a.se, rel=1e-5)


def test_rmst_bootstrap() -> None:
    a = rmst_difference(VET, *ARGS, tau=200, weights="w", n_boot=100, rng=7)
    b = rmst_difference(VET, *ARGS, tau=200, weights="w", n_boot=100, rng=7)
    assert a == b
    assert isinstance(a, RMSTDifference)
    assert a.ci_lower < a.estimate < a.ci_upper and a.se > 0
    json.dumps(a.to_dict())


def test_result_api() -> None:
    import matplotlib

    matplotlib.use("Agg")
    km = weighted_km(VET, *ARGS, weights="w")
    assert isinstance(km, WeightedKM)
    assert set(km.summary().group) == {"treated", "control"}
    json.dumps(km.to_dict())
    assert "Kaplan-Meier" in km._repr_html_()
    ax = km.plot()
    assert ax.get_ylabel() == "survival probability" and len(ax.get_lines()) >= 2
    cox = weighted_cox(VET, *ARGS, weights="w", covariates="karno")
    assert isinstance(cox, CoxEstimate)
    assert list(cox.summary().term) == ["trt01", "karno"]
    assert cox.ci_lower < cox.hazard_ratio < cox.ci_upper and cox.n == len(VET)
    json.dumps(cox.to_dict())
    assert "HR" in cox._repr_html_()
    lr = logrank(VET, *ARGS, weights="w")
    assert 0 <= lr.p_value <= 1 and lr.weighted
    json.dumps(lr.to_dict())


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="> 0"):
        weighted_km(VET.assign(time=VET.time.where(VET.index != 4, 0)), *ARGS)
    with pytest.raises(ValueError, match="> 0"):
        weighted_cox(VET.assign(time=VET.time.where(VET.index != 4, np.nan)), *ARGS)
    with pytest.raises(ValueError, match="0/1"):
        logrank(VET.assign(status=VET.status * 2), *ARGS)
    with pytest.raises(ValueError, match="binary"):
        weighted_km(VET.assign(trt01=VET.trt01 + 1), *ARGS)
    with pytest.raises(ValueError, match=">= 0"):
        weighted_cox(VET, *ARGS, weights=VET.w - 1)
    with pytest.raises(ValueError, match="finite"):
        weighted_km(VET, *ARGS, weights=VET.w.where(VET.index != 0))
    with pytest.raises(ValueError, match="tau"):
        rmst_difference(VET, *ARGS, tau=2000)
    with pytest.raises(ValueError, match="tau"):
        rmst_difference(VET, *ARGS, tau=0)
    with pytest.raises(ValueError, match="not a column"):
        weighted_km(VET, "nope", "status", "trt01")
    with pytest.raises(ValueError, match="clash"):
        weighted_cox(VET, *ARGS, covariates="trt01")


def test_monte_carlo_cox_coverage() -> None:
    """Robust 95% CIs of the IPW-weighted Cox HR cover the true HR (0.6) in at least 90%
    of 300 simulated data sets (treatment depends on x; fixed seed)."""
    rng = np.random.default_rng(5)
    hits, reps, n = 0, 300, 150
    for _ in range(reps):
        x = rng.normal(size=n)
        ps = 1 / (1 + np.exp(-0.7 * x))
        t = (rng.uniform(size=n) < ps).astype(int)
        event_time = rng.exponential(1 / (0.1 * 0.6**t))
        censor = rng.uniform(0, 20, n)
        df = pd.DataFrame(
            {
                "t": t,
                "time": np.minimum(event_time, censor),
                "ev": (event_time <= censor).astype(int),
            }
        )
        w = np.where(t == 1, 1 / ps, 1 / (1 - ps))
        cox = weighted_cox(df, "time", "ev", "t", weights=w)
        hits += cox.ci_lower <= 0.6 <= cox.ci_upper
    assert hits / reps >= 0.90


def _arms(seed: int = 3, n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "t": np.r_[np.ones(n // 2, int), np.zeros(n // 2, int)],
            "time": rng.exponential(5, n) + 0.1,
            "event": rng.integers(0, 2, n),
            "z": rng.normal(size=n),
        }
    )


def test_cox_and_logrank_without_events_are_clear_errors() -> None:
    d = _arms().assign(event=0)
    with pytest.raises(ValueError, match="event column 'event' has no events"):
        weighted_cox(d, "time", "event", "t")
    with pytest.raises(ValueError, match="event column 'event' has no events"):
        logrank(d, "time", "event", "t")
    # events only in rows of weight 0 count as none
    d = _arms()
    w = np.where(d["event"] == 1, 0.0, 1.0)
    with pytest.raises(ValueError, match="no events"):
        logrank(d, "time", "event", "t", weights=w)


@pytest.mark.parametrize("arm", [0, 1])
def test_cox_with_events_in_one_arm_only_is_not_estimable(arm: int) -> None:
    # monotone partial likelihood: lifelines returned HR 1.5e9 with a small SE
    d = _arms()
    d["event"] = (d["t"] == arm).astype(int)
    other = "control" if arm == 1 else "treated"
    with pytest.raises(ValueError, match=f"no events in the {other} group"):
        weighted_cox(d, "time", "event", "t")
    # the log-rank test is still defined
    assert 0 <= logrank(d, "time", "event", "t").p_value < 0.05


def test_cox_non_convergence_is_a_clear_error() -> None:
    d = _arms()
    d["sep"] = d["event"].astype(float)  # a covariate that determines who has an event
    with pytest.raises(ValueError, match=r"did not converge.*monotone likelihood"):
        weighted_cox(d, "time", "event", "t", covariates="sep")
