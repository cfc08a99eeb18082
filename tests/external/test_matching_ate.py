"""Full matching for the ATE: weights against MatchIt 4.5.1 (its subclass weights on the
same matched sets, tests/reference/external_flexible_ps.json), weight properties, and
the clear error for methods that do not support the ATE."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rdstats.datasets import load_lalonde
from rdstats.external._matching import match

ROOT = Path(__file__).resolve().parents[2]
REF = json.loads((ROOT / "tests" / "reference" / "external_flexible_ps.json").read_text())
COV = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]


@pytest.fixture(scope="module")
def ate():
    return match(load_lalonde().set_index("id"), "treat", COV, method="full", estimand="ATE")


def test_full_ate_weights_match_matchit(ate) -> None:
    ref = REF["full_ate"]
    df = ate.data
    # the matched sets are those stored with the reference (same partition, labels free)
    mine = pd.Series(ate.subclass.to_numpy(), index=df.index)
    theirs = pd.Series(ref["subclass"])[df.index]
    assert pd.crosstab(mine, theirs).gt(0).sum(axis=1).eq(1).all()
    assert mine.nunique() == theirs.nunique()
    w_ref = pd.Series(ref["weights"])[df.index].to_numpy()
    np.testing.assert_allclose(ate.weights, w_ref, atol=ref["tolerance"]["weights"])
    t = df["treat"].to_numpy() == 1
    for g, key in ((t, "treated"), (~t, "control")):
        m = np.average(df["re78"][g], weights=ate.weights[g])
        assert m == pytest.approx(ref["weighted_mean_re78"][key], abs=1e-8 * abs(m))


def test_full_ate_weight_structure(ate) -> None:
    md = ate.matched_data
    assert ate.estimand == "ATE" and len(md) == len(ate.data)
    t = md["treat"] == 1
    # each group's weights sum to its number of matched units
    assert md.loc[t, "weights"].sum() == pytest.approx(t.sum())
    assert md.loc[~t, "weights"].sum() == pytest.approx((~t).sum())
    # within a set, every unit weighs (set size) / (its group's count in the set), up to
    # one scale factor per group
    size = md.groupby("subclass")["treat"].transform("size")
    own = md.groupby(["subclass", "treat"])["treat"].transform("size")
    raw = size / own
    for g in (t, ~t):
        ratio = md.loc[g, "weights"] / raw[g]
        np.testing.assert_allclose(ratio, ratio.iloc[0], rtol=1e-12)
    bal = ate.balance()
    assert "smd_adj" in bal.columns
    assert ate.summary().loc["Matched", "treated"] == t.sum()


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_ate_weights_reweight_both_groups_to_the_matched_sample(seed: int) -> None:
    """With a single matched set per value of a discrete score (exact matching on it), the
    ATE-weighted distribution of the score in each group equals that of the matched
    sample as a whole (the defining property of ATE subclass weights)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(12, 40))
    s = rng.integers(0, 3, size=n).astype(float)
    t = (rng.uniform(size=n) < 0.3 + 0.2 * s / 2).astype(int)
    if t.min() == t.max():
        t[0], t[1] = 1 - t[0], t[0]
    d = pd.DataFrame({"t": t, "s": s})
    res = match(d, "t", ["s"], method="full", estimand="ATE", distance=s, exact="s")
    w = res.weights
    used = w > 0
    target = pd.Series(s[used]).value_counts(normalize=True)
    for g in (0, 1):
        sel = used & (t == g)
        dist = pd.Series(w[sel]).groupby(s[sel]).sum() / w[sel].sum()
        # strata with units of both groups form sets; compare on those strata
        common = dist.index.intersection(target.index)
        both = [v for v in common if ((s == v) & (t == 0)).any() and ((s == v) & (t == 1)).any()]
        sub_target = target[both] / target[both].sum()
        np.testing.assert_allclose(dist[both] / dist[both].sum(), sub_target, rtol=1e-10)


@pytest.mark.parametrize("method", ["nearest", "optimal"])
def test_ate_needs_full_matching(method: str) -> None:
    df = load_lalonde().set_index("id")
    with pytest.raises(ValueError, match=r"estimand='ATE' is available with method='full'"):
        match(df, "treat", COV, method=method, estimand="ATE")
    with pytest.raises(ValueError, match="estimand must be one of"):
        match(df, "treat", COV, method="full", estimand="ATO")
