"""Tests of rdstats.external estimate_effect: R references (lm/glm + sandwich), the issue's
visible benchmarks, statsmodels WLS cross-checks, invariances, Monte Carlo coverage and bad
input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rdstats.datasets import load_lalonde, load_nsw_experiment
from rdstats.external._effects import EffectEstimate, estimate_effect

ROOT = Path(__file__).resolve().parents[2]
MEASURES = ["mean_difference", "risk_difference", "risk_ratio", "odds_ratio"]
REF = json.loads((ROOT / "tests" / "reference" / "external_outcomes.json").read_text())


def _lalonde() -> pd.DataFrame:
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    df = load_lalonde()
    ps = (
        smf.glm(
            "treat ~ age + educ + race + married + nodegree + re74 + re75",
            df,
            family=sm.families.Binomial(),
        )
        .fit()
        .fittedvalues.to_numpy()
    )
    df["w"] = np.where(df.treat == 1, 1.0, ps / (1 - ps))  # ATT odds weights
    df["emp"] = (df.re78 > 0).astype(int)
    df["cl"] = np.arange(len(df)) // 3
    return df


@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    return _lalonde()


def _close(actual: float, expected: float, rel: float) -> None:
    assert actual == pytest.approx(expected, rel=rel)


@pytest.mark.parametrize(
    "case", [c for c in REF["cases"] if c["kind"] == "effect"], ids=lambda c: c["name"]
)
def test_r_reference_lalonde(case: dict, lalonde: pd.DataFrame) -> None:
    inp, exp, rel = case["inputs"], case["expected"], case["tolerance"]["rel"]
    clustered = inp.get("cluster", False)
    est = estimate_effect(
        lalonde,
        inp["outcome"],
        "treat",
        weights="w",
        cluster="cl" if clustered else None,
        measure=inp["measure"],
    )
    _close(est.estimate, exp["estimate"], rel)
    _close(est.se, exp["se"], rel)
    if "se_cluster" in exp:
        cl = estimate_effect(lalonde, inp["outcome"], "treat", weights="w", cluster="cl")
        _close(cl.se, exp["se_cluster"], rel)


def test_nsw_benchmark() -> None:
    """Issue 6: difference in means 1794.34 with SE 632.85, which is the classical
    pooled-variance OLS SE (ci="model"); the robust HC1 SE is 670.82 (R's vcovHC)."""
    nsw = load_nsw_experiment()
    case = next(c for c in REF["cases"] if c["kind"] == "effect_model")
    model = estimate_effect(nsw, "re78", "treat", ci="model")
    assert round(model.estimate, 2) == 1794.34
    assert round(model.se, 2) == 632.85
    _close(model.se, case["expected"]["se"], 1e-6)
    robust = estimate_effect(nsw, "re78", "treat")
    _close(robust.se, case["expected"]["se_hc1"], 1e-6)
    assert (model.n_treated, model.n_control) == (185, 260)


def test_lalonde_visible_reference(lalonde: pd.DataFrame) -> None:
    est = estimate_effect(lalonde, "re78", "treat", weights=lalonde["w"].to_numpy())
    assert round(est.estimate, 1) == 1214.1
    assert round(est.ess_control, 2) == 99.82
    assert est.ess_treated == pytest.approx(185.0)


def test_wls_cross_check(lalonde: pd.DataFrame) -> None:
    """An independent statsmodels path: WLS with HC1 and cluster covariance."""
    import statsmodels.api as sm

    x = sm.add_constant(lalonde.treat.to_numpy(float))
    wls = sm.WLS(lalonde.re78.to_numpy(), x, weights=lalonde.w.to_numpy())
    est = estimate_effect(lalonde, "re78", "treat", weights="w")
    _close(est.se, float(wls.fit(cov_type="HC1").bse[1]), 1e-8)
    cl = estimate_effect(lalonde, "re78", "treat", weights="w", cluster="cl")
    fit = wls.fit(cov_type="cluster", cov_kwds={"groups": lalonde.cl.to_numpy()})
    _close(cl.se, float(fit.bse[1]), 1e-8)
    assert cl.n_clusters == lalonde.cl.nunique()


def test_zero_weight_rows_dropped(lalonde: pd.DataFrame) -> None:
    w = lalonde.w.to_numpy().copy()
    w[:5] = 0.0
    a = estimate_effect(lalonde, "re78", "treat", weights=w)
    b = estimate_effect(lalonde.iloc[5:], "re78", "treat", weights=w[5:])
    assert a.estimate == pytest.approx(b.estimate) and a.se == pytest.approx(b.se)
    assert a.n_treated == 180


def test_bootstrap(lalonde: pd.DataFrame) -> None:
    a = estimate_effect(lalonde, "re78", "treat", weights="w", ci="bootstrap", n_boot=400, rng=3)
    b = estimate_effect(lalonde, "re78", "treat", weights="w", ci="bootstrap", n_boot=400, rng=3)
    assert a == b
    robust = estimate_effect(lalonde, "re78", "treat", weights="w")
    assert a.se == pytest.approx(robust.se, rel=0.15)
    assert a.ci_lower < a.estimate < a.ci_upper and a.n_boot == 400
    rr = estimate_effect(
        lalonde,
        "emp",
        "treat",
        weights="w",
        cluster="cl",
        measure="risk_ratio",
        ci="bootstrap",
        n_boot=400,
        rng=1,
    )
    assert rr.ci_lower < rr.estimate < rr.ci_upper


def test_result_api(lalonde: pd.DataFrame) -> None:
    est = estimate_effect(lalonde, "emp", "treat", weights="w", measure="odds_ratio")
    assert isinstance(est, EffectEstimate)
    d = json.loads(json.dumps(est.to_dict()))
    assert d["measure"] == "odds_ratio" and d["ci_lower"] < d["estimate"] < d["ci_upper"]
    assert list(est.summary().columns)[:3] == ["measure", "estimate", "se"]
    assert "odds ratio" in est._repr_html_()
    with pytest.raises(AttributeError):
        est.estimate = 0.0  # type: ignore[misc]


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(0.01, 100.0), measure=st.sampled_from(MEASURES))
def test_weight_scaling_invariance(scale: float, measure: str) -> None:
    df = _SMALL
    outcome = "y" if measure == "mean_difference" else "b"
    a = estimate_effect(df, outcome, "t", weights="w", cluster="c", measure=measure)  # type: ignore[arg-type]
    b = estimate_effect(df, outcome, "t", weights=df.w * scale, cluster="c", measure=measure)  # type: ignore[arg-type]
    assert b.estimate == pytest.approx(a.estimate, rel=1e-9)
    assert b.se == pytest.approx(a.se, rel=1e-7)


def _small(seed: int = 0, n: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, n)
    t[:2] = [0, 1]
    return pd.DataFrame(
        {
            "t": t,
            "y": rng.normal(size=n) + t,
            "b": (rng.uniform(size=n) < 0.3 + 0.2 * t).astype(int),
            "w": rng.uniform(0.2, 3.0, n),
            "c": np.arange(n) // 2,
        }
    )


_SMALL = _small()


@pytest.mark.parametrize("measure", MEASURES)
def test_no_weights_equals_unit_weights(measure: str) -> None:
    outcome = "y" if measure == "mean_difference" else "b"
    a = estimate_effect(_SMALL, outcome, "t", measure=measure)  # type: ignore[arg-type]
    b = estimate_effect(_SMALL, outcome, "t", weights=np.ones(len(_SMALL)), measure=measure)  # type: ignore[arg-type]
    assert a.estimate == pytest.approx(b.estimate) and a.se == pytest.approx(b.se)


def test_monte_carlo_coverage() -> None:
    """Robust 95% CIs of the IPW (ATE) mean and risk differences cover the truth in at
    least 90% of 300 confounded data sets (fixed seed)."""
    rng = np.random.default_rng(20261122)
    hits = {"mean_difference": 0, "risk_difference": 0}
    n, reps = 200, 300
    for _ in range(reps):
        x = rng.normal(size=n)
        ps = 1 / (1 + np.exp(-0.8 * x))
        t = (rng.uniform(size=n) < ps).astype(int)
        y = 1.0 * t + x + rng.normal(size=n)
        p = np.where(t == 1, 0.5, 0.3)  # constant risks given t: true RD 0.2
        b = (rng.uniform(size=n) < p).astype(int)
        w = np.where(t == 1, 1 / ps, 1 / (1 - ps))
        df = pd.DataFrame({"t": t, "y": y, "b": b, "w": w})
        md = estimate_effect(df, "y", "t", weights="w")
        rd = estimate_effect(df, "b", "t", weights="w", measure="risk_difference")
        hits["mean_difference"] += md.ci_lower <= 1.0 <= md.ci_upper
        hits["risk_difference"] += rd.ci_lower <= 0.2 <= rd.ci_upper
    for k, h in hits.items():
        assert h / reps >= 0.90, (k, h / reps)


def test_bad_input() -> None:
    df = _SMALL.copy()
    with pytest.raises(ValueError, match="binary"):
        estimate_effect(df.assign(t=df.t * 2), "y", "t")
    with pytest.raises(ValueError, match="finite"):
        estimate_effect(df, "y", "t", weights=df.w.where(df.index != 3))
    with pytest.raises(ValueError, match=">= 0"):
        estimate_effect(df, "y", "t", weights=df.w - 1)
    with pytest.raises(ValueError, match="sum to zero"):
        estimate_effect(df, "y", "t", weights=df.w * df.t)
    with pytest.raises(ValueError, match="binary 0/1 outcome"):
        estimate_effect(df, "y", "t", measure="risk_ratio")
    with pytest.raises(ValueError, match="measure"):
        estimate_effect(df, "y", "t", measure="hazard_ratio")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ci="):
        estimate_effect(df, "y", "t", ci="model", weights="w")
    with pytest.raises(ValueError, match="ci="):
        estimate_effect(df, "y", "t", ci="model", cluster="c")
    with pytest.raises(ValueError, match="one value per row"):
        estimate_effect(df, "y", "t", weights=np.ones(3))
    with pytest.raises(ValueError, match="not a column"):
        estimate_effect(df, "y", "t", weights="nope")
    with pytest.raises(ValueError, match="missing labels"):
        estimate_effect(df, "y", "t", cluster=np.where(df.index == 0, np.nan, 1.0))
    with pytest.raises(ValueError, match="no events"):
        estimate_effect(df.assign(b=0), "b", "t", measure="odds_ratio")
    with pytest.raises(ValueError, match="level"):
        estimate_effect(df, "y", "t", level=1.5)
    with pytest.raises(ValueError, match="missing"):
        estimate_effect(df.assign(y=df.y.where(df.index != 1)), "y", "t")
    with pytest.raises(TypeError, match="DataFrame"):
        estimate_effect(df.to_dict(), "y", "t")  # type: ignore[arg-type]


def test_one_patient_per_group_is_a_clear_error() -> None:
    # HC1 divides by n - k: with n = k = 2 this was a ZeroDivisionError
    d = pd.DataFrame({"t": [1, 0], "y": [1.0, 2.0]})
    for ci in ("robust", "model", "bootstrap"):
        with pytest.raises(ValueError, match="more patients with positive weight than the 2"):
            estimate_effect(d, "y", "t", ci=ci, n_boot=20, rng=1)
    d3 = pd.DataFrame({"t": [1, 0, 0], "y": [1.0, 2.0, 3.0]})
    assert np.isfinite(estimate_effect(d3, "y", "t").se)
    # zero-weight rows do not count
    with pytest.raises(ValueError, match="got 2"):
        estimate_effect(d3, "y", "t", weights=[1.0, 1.0, 0.0])


def test_clusters_must_outnumber_parameters() -> None:
    d = pd.DataFrame({"t": [1, 0, 1, 0], "y": [1.0, 2.0, 3.0, 5.0], "c": [0, 0, 1, 1]})
    for ci in ("robust", "bootstrap"):
        with pytest.raises(ValueError, match=r"more matched sets.*got 2"):
            estimate_effect(d, "y", "t", cluster="c", ci=ci, n_boot=20, rng=1)


def _rare(n1: int, e1: int, n0: int, e0: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "t": np.r_[np.ones(n1, int), np.zeros(n0, int)],
            "y": np.r_[np.ones(e1), np.zeros(n1 - e1), np.ones(e0), np.zeros(n0 - e0)],
        }
    )


def test_bootstrap_reports_usable_replicates_and_warns() -> None:
    d = _rare(30, 2, 30, 10)  # about (28/30)^30 = 13% of resamples have no treated event
    with pytest.warns(UserWarning, match=r"of 400 bootstrap replicates gave a non-finite"):
        est = estimate_effect(d, "y", "t", measure="risk_ratio", ci="bootstrap", n_boot=400, rng=2)
    assert est.n_boot == 400
    assert est.n_boot_used is not None and 300 < est.n_boot_used < 400
    assert est.to_dict()["n_boot_used"] == est.n_boot_used
    md = estimate_effect(d, "y", "t", ci="bootstrap", n_boot=100, rng=2)
    assert md.n_boot_used == 100


def test_bootstrap_with_too_few_usable_replicates_is_an_error() -> None:
    d = _rare(40, 1, 40, 1)  # about 1 - (1 - 0.37)^2 = 60% of resamples unusable
    with pytest.raises(ValueError, match=r"only \d+ of 400 bootstrap replicates give a finite"):
        estimate_effect(d, "y", "t", measure="risk_ratio", ci="bootstrap", n_boot=400, rng=2)


def test_bootstrap_records_fresh_entropy() -> None:
    from rdstats.simulate._streams import seed_from_record

    d = _small()
    a = estimate_effect(d, "y", "t", weights="w", ci="bootstrap", n_boot=50)
    seed = a.provenance["seed"]
    assert seed is not None and "entropy" in seed
    json.dumps(a.to_dict())
    b = estimate_effect(
        d, "y", "t", weights="w", ci="bootstrap", n_boot=50, rng=seed_from_record(seed)
    )
    assert (b.se, b.ci_lower, b.ci_upper) == (a.se, a.ci_lower, a.ci_upper)
    c = estimate_effect(d, "y", "t", weights="w", ci="bootstrap", n_boot=50, rng=7)
    assert c.provenance["seed"]["entropy"] == "7"


@pytest.mark.parametrize(
    ("short", "long", "outcome"),
    [
        ("MD", "mean_difference", "y"),
        ("RD", "risk_difference", "b"),
        ("rr", "risk_ratio", "b"),
        ("OR", "odds_ratio", "b"),
    ],
)
def test_short_measure_names(short: str, long: str, outcome: str) -> None:
    a = estimate_effect(_SMALL, outcome, "t", measure=short)  # type: ignore[arg-type]
    b = estimate_effect(_SMALL, outcome, "t", measure=long)  # type: ignore[arg-type]
    assert a.measure == long and a.estimate == b.estimate and a.se == b.se
