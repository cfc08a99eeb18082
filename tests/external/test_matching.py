"""Matching: MatchIt 4.5.1 reference values on lalonde, an independent brute-force
greedy matcher, optimal matching against enumeration, properties (calipers, exact strata,
no reuse without replacement) and bad input."""

from __future__ import annotations

import itertools
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rdstats.datasets import load_lalonde
from rdstats.external import _match_algorithms as alg
from rdstats.external._matching import MatchResult, _weights, match

ROOT = Path(__file__).resolve().parents[2]
REF = json.loads((ROOT / "tests" / "reference" / "external_matching.json").read_text())
COV = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]


def lalonde() -> pd.DataFrame:
    return load_lalonde().set_index("id")


def _kwargs(inp: dict) -> dict:
    kw = {k: inp[k] for k in ("method", "ratio", "replace", "order")}
    for k in ("caliper", "caliper_scale", "exact", "distance"):
        if k in inp:
            kw[k] = inp[k]
    return kw


def _as_list(v: object) -> list:
    return v if isinstance(v, list) else [v]


@pytest.fixture(scope="module")
def results() -> dict[str, MatchResult]:
    df = lalonde()
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 3:1 without replacement runs short
        for case in REF["cases"]:
            out[case["name"]] = match(df, "treat", COV, **_kwargs(case["inputs"]))
    return out


@pytest.mark.parametrize("case", REF["cases"], ids=[c["name"] for c in REF["cases"]])
def test_matchit_reference(case: dict, results: dict[str, MatchResult]) -> None:
    res = results[case["name"]]
    exp = case["expected"]
    df = res.data
    mine = {
        k: [v for v in row if v is not None]
        for k, row in zip(res.match_matrix.index, res.match_matrix.to_numpy().tolist(), strict=True)
    }
    theirs = {k: _as_list(v) for k, v in exp["matches"].items()}
    summary = res.summary()
    assert summary.loc["Matched", "treated"] == exp["n_treated_matched"]
    assert summary.loc["Matched", "control"] == exp["n_control_matched"]
    if isinstance(exp.get("distance"), list):
        np.testing.assert_allclose(res.distance, exp["distance"], rtol=0, atol=1e-6)
    if case["tolerance"]["ids"] != "exact":
        # exact ties of the distance may be broken differently: compare distances
        d = pd.Series(res.distance, index=df.index)
        for k, ids in theirs.items():
            a = np.sort(np.abs(d[mine[k]].to_numpy() - d[k]))
            b = np.sort(np.abs(d[ids].to_numpy() - d[k]))
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
        return
    assert {k: v for k, v in mine.items() if v} == {k: v for k, v in theirs.items() if v}
    w = pd.Series(res.weights, index=df.index)
    ew = pd.Series(exp["weights"])
    assert set(w.index[w > 0]) == set(ew.index)
    np.testing.assert_allclose(w[ew.index].to_numpy(), ew.to_numpy(), rtol=0, atol=1e-8)
    ctl = (df["treat"] == 0).to_numpy()
    mean = np.sum(res.weights[ctl] * df["re78"].to_numpy()[ctl]) / np.sum(res.weights[ctl])
    assert mean == pytest.approx(exp["mean_re78_matched_controls"], abs=1e-8)


@pytest.mark.parametrize("case", REF["cases"], ids=[c["name"] for c in REF["cases"]])
def test_weights_from_matchit_matches(case: dict) -> None:
    """MatchIt's weights follow from its own match matrix by rdstats' weighting rule."""
    df = lalonde()
    pos = {k: i for i, k in enumerate(df.index)}
    t = df["treat"].to_numpy()
    fpos = np.flatnonzero(t == 1)
    cpos = np.flatnonzero(t == 0)
    cidx = {p: j for j, p in enumerate(cpos)}
    ratio = case["inputs"]["ratio"]
    mm = np.full((fpos.size, ratio), -1)
    for i, p in enumerate(fpos):
        got = _as_list(case["expected"]["matches"].get(df.index[p], []))
        mm[i, : len(got)] = [cidx[pos[g]] for g in got]
    w, _ = _weights(mm, fpos, cpos, len(df), case["inputs"]["replace"])
    ew = pd.Series(case["expected"]["weights"])
    got_w = pd.Series(w, index=df.index)
    assert set(got_w.index[got_w > 0]) == set(ew.index)
    np.testing.assert_allclose(got_w[ew.index].to_numpy(), ew.to_numpy(), rtol=0, atol=1e-8)
    ctl = t == 0
    mean = np.sum(w[ctl] * df["re78"].to_numpy()[ctl]) / np.sum(w[ctl])
    assert mean == pytest.approx(case["expected"]["mean_re78_matched_controls"], abs=1e-8)


# ---------------------------------------------------------------- independent greedy


def brute_greedy(dt, dc, order, ratio, replace, width=None, st_=None, sc=None):
    """Greedy matching written as plain loops over pairs."""
    taken: set[int] = set()
    out = {i: [] for i in range(len(dt))}
    rounds = 1 if replace else ratio
    per_round = ratio if replace else 1
    for rnd in range(rounds):
        for i in order:
            if not replace and len(out[i]) < rnd:
                continue
            for _k in range(per_round):
                best, best_j = None, None
                for j in range(len(dc)):
                    if (not replace and j in taken) or j in out[i]:
                        continue
                    if st_ is not None and st_[i] != sc[j]:
                        continue
                    gap = abs(dt[i] - dc[j])
                    if width is not None and gap > width:
                        continue
                    if best is None or gap < best:
                        best, best_j = gap, j
                if best_j is not None:
                    out[i].append(best_j)
                    if not replace:
                        taken.add(best_j)
    return out


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    ratio=st.integers(1, 3),
    replace=st.booleans(),
    caliper=st.sampled_from([None, 0.05, 0.3]),
    exact=st.booleans(),
)
def test_greedy_matches_brute_force(seed, ratio, replace, caliper, exact) -> None:
    rng = np.random.default_rng(seed)
    nt, nc = int(rng.integers(1, 8)), int(rng.integers(1, 15))
    dt, dc = rng.uniform(size=nt), rng.uniform(size=nc)
    st_ = rng.integers(0, 2, nt) if exact else None
    sc = rng.integers(0, 2, nc) if exact else None
    order = alg.match_order(nt, dt, "largest", None)
    rows = alg.abs_difference_rows(dt, dc, caliper, st_, sc)
    mm = alg.greedy_nearest(rows, nt, nc, order, ratio, replace)
    ref = brute_greedy(dt, dc, order, ratio, replace, caliper, st_, sc)
    for i in range(nt):
        got = [int(j) for j in mm[i] if j >= 0]
        assert got == ref[i]
        for j in got:  # calipers and exact strata respected
            assert caliper is None or abs(dt[i] - dc[j]) <= caliper
            assert st_ is None or st_[i] == sc[j]
    used = mm[mm >= 0]
    if not replace:
        assert used.size == np.unique(used).size


# ---------------------------------------------------------------- optimal matching


def brute_optimal(cost: np.ndarray, ratio: int) -> tuple[int, float]:
    """(largest number of finite pairs, smallest total cost) by enumeration."""
    nt, nc = cost.shape
    slots = [i for i in range(nt) for _ in range(ratio)]
    best = (0, 0.0)
    for perm in itertools.permutations(range(nc), min(nc, len(slots))):
        for chosen in itertools.combinations(range(len(slots)), len(perm)):
            pairs = [(slots[s], c) for s, c in zip(chosen, perm, strict=True)]
            fin = [cost[i, c] for i, c in pairs if np.isfinite(cost[i, c])]
            key = (len(fin), -float(np.sum(fin)))
            if key > (best[0], -best[1]) or (key[0] == best[0] and -key[1] < best[1] - 1e-12):
                best = (len(fin), float(np.sum(fin)))
    return best


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), ratio=st.integers(1, 2), forbid=st.booleans())
def test_optimal_is_the_enumerated_optimum(seed, ratio, forbid) -> None:
    rng = np.random.default_rng(seed)
    nt = int(rng.integers(1, 4 if ratio == 1 else 3))
    nc = int(rng.integers(1, 6 if ratio == 1 else 5))
    dt, dc = rng.uniform(size=nt), rng.uniform(size=nc)
    cost = np.abs(dt[:, None] - dc[None, :])
    if forbid:
        cost[cost > 0.3] = np.inf
    mm = alg.optimal_matching(cost, ratio)
    n_pairs, total = brute_optimal(cost, ratio)
    assert int(np.sum(mm >= 0)) == n_pairs
    assert alg.total_cost(cost, mm) == pytest.approx(total, abs=1e-12)
    if not forbid and nc >= ratio * nt:
        greedy = alg.greedy_nearest(
            lambda i: cost[i].copy(), nt, nc, alg.match_order(nt, dt, "largest", None), ratio
        )
        assert alg.total_cost(cost, mm) <= alg.total_cost(cost, greedy) + 1e-12


def test_optimal_on_lalonde(results: dict[str, MatchResult]) -> None:
    df = lalonde()
    opt = match(df, "treat", COV, method="optimal", exact="married")
    greedy = match(df, "treat", COV, exact="married")
    for res in (opt, greedy):
        md = res.matched_data
        assert (md.groupby("subclass")["married"].nunique() == 1).all()

    def total(res: MatchResult) -> float:
        d = pd.Series(res.distance, index=df.index)
        return float(sum(abs(d[k] - d[v]) for k, v in res.match_matrix[1].items()))

    assert total(opt) <= total(greedy) + 1e-12
    assert opt.summary().loc["Matched", "treated"] == 185


# ---------------------------------------------------------------- full matching


def brute_full(cost: np.ndarray) -> float:
    """Smallest total cost of an edge cover of the units with an allowed partner."""
    nt, nc = cost.shape
    edges = [(i, j) for i in range(nt) for j in range(nc) if np.isfinite(cost[i, j])]
    need_t = {i for i, _ in edges}
    need_c = {j for _, j in edges}
    best = np.inf
    for mask in range(1, 2 ** len(edges)):
        chosen = [e for b, e in enumerate(edges) if mask >> b & 1]
        if {i for i, _ in chosen} == need_t and {j for _, j in chosen} == need_c:
            best = min(best, sum(cost[e] for e in chosen))
    return float(best)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), forbid=st.booleans())
def test_full_matching_is_optimal_and_made_of_stars(seed, forbid) -> None:
    rng = np.random.default_rng(seed)
    nt, nc = int(rng.integers(1, 4)), int(rng.integers(1, 5))
    cost = np.abs(rng.uniform(size=(nt, 1)) - rng.uniform(size=(1, nc)))
    if forbid:
        cost[cost > 0.4] = np.inf
    lab_f, lab_c = alg.full_matching(cost)
    total = 0.0
    for s in range(int(max(lab_f.max(), lab_c.max())) + 1):
        f, c = np.flatnonzero(lab_f == s), np.flatnonzero(lab_c == s)
        assert f.size >= 1 and c.size >= 1 and min(f.size, c.size) == 1  # a star
        assert np.all(np.isfinite(cost[np.ix_(f, c)]))
        total += float(np.sum(cost[np.ix_(f, c)]))
    fin = np.isfinite(cost)
    assert np.array_equal(lab_f >= 0, fin.any(axis=1))  # every unit with a partner is used
    assert np.array_equal(lab_c >= 0, fin.any(axis=0))
    if fin.any():
        assert total == pytest.approx(brute_full(cost), abs=1e-12)


def test_full_matching_on_lalonde() -> None:
    df = lalonde()
    res = match(df, "treat", COV, method="full", exact="married")
    md = res.matched_data
    assert len(md) == len(df)  # no caliper: every unit is in a set
    sizes = md.groupby("subclass")["treat"].agg(["sum", "count"])
    assert ((sizes["sum"] == 1) | (sizes["count"] - sizes["sum"] == 1)).all()
    assert (md.groupby("subclass")["married"].nunique() == 1).all()
    # weights: treated 1; controls n_t / n_c of their set, rescaled to sum to n_controls
    raw = md["treat"].groupby(md["subclass"]).transform(lambda t: t.sum() / (1 - t).sum())
    ctl = md["treat"] == 0
    expect = raw[ctl] * ctl.sum() / raw[ctl].sum()
    np.testing.assert_allclose(md.loc[ctl, "weights"], expect, rtol=1e-12)
    assert (md.loc[~ctl, "weights"] == 1).all()


# ---------------------------------------------------------------- API


def test_result_api(results: dict[str, MatchResult]) -> None:
    res = results["nearest caliper 0.1 ps"]
    md = res.matched_data
    assert len(md) == 222 and {"weights", "subclass", "distance"} <= set(md.columns)
    assert (md.groupby("subclass")["treat"].agg(["sum", "count"]).to_numpy() == [1, 2]).all()
    assert len(res.discarded) == 74
    assert res.caliper_width == pytest.approx(0.1 * np.std(res.distance, ddof=1))
    json.dumps(res.to_dict())
    assert "MatchResult" in res._repr_html_()
    assert results["nearest 1:1 with replacement"].subclass.isna().all()


def test_plot_and_balance(results: dict[str, MatchResult]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    res = results["nearest caliper 0.1 logit"]
    ax = res.plot()
    assert ax.get_xlabel() == "logit of the propensity score"
    with pytest.raises(ValueError, match="scalar distance"):
        results["nearest mahalanobis"].plot()
    tab = res.balance()
    assert isinstance(tab, pd.DataFrame) and len(tab) > 0


def test_atc_random_order_and_user_distance() -> None:
    df = lalonde()
    ps = match(df, "treat", COV).distance
    atc = match(df, "treat", COV, estimand="ATC", ratio=1, replace=True, distance=ps)
    s = atc.summary()
    assert s.loc["Matched", "control"] == 429 and s.loc["Matched", "treated"] <= 185
    a = match(df, "treat", COV, order="random", rng=3, distance=ps)
    b = match(df, "treat", COV, order="random", rng=np.random.default_rng(3), distance=ps)
    assert a.match_matrix.equals(b.match_matrix)
    lg = match(df, "treat", COV, distance=ps, caliper=0.1, caliper_scale="logit")
    ref = next(c for c in REF["cases"] if c["name"] == "nearest caliper 0.1 logit")
    assert lg.summary().loc["Matched", "treated"] == ref["expected"]["n_treated_matched"]


# ---------------------------------------------------------------- bad input


def test_bad_input() -> None:
    df = lalonde()
    ps = match(df, "treat", COV).distance
    tiny = pd.DataFrame({"t": [1, 1, 0, 0, 0], "x": [0.9, 0.8, 0.1, 0.2, 0.3]})
    with pytest.raises(ValueError, match="no focal unit could be matched"):
        match(tiny, "t", "x", distance=tiny["x"].to_numpy(), caliper=0.01)
    for bad in (0, 1.5, -2, True):
        with pytest.raises(ValueError, match="ratio must be a positive integer"):
            match(df, "treat", COV, distance=ps, ratio=bad)
    with pytest.raises(ValueError, match="method must be one of"):
        match(df, "treat", COV, method="fuzzy")
    with pytest.raises(ValueError, match="ratio applies"):
        match(df, "treat", COV, method="full", ratio=2)
    with pytest.raises(ValueError, match="order must be one of"):
        match(df, "treat", COV, order="biggest")
    with pytest.raises(ValueError, match="caliper must be > 0"):
        match(df, "treat", COV, caliper=0)
    with pytest.raises(ValueError, match="caliper_scale"):
        match(df, "treat", COV, caliper_scale="probit")
    with pytest.raises(ValueError, match="needs rng"):
        match(df, "treat", COV, order="random", distance=ps)
    with pytest.raises(ValueError, match="optimal"):
        match(df, "treat", COV, method="optimal", replace=True)
    with pytest.raises(ValueError, match="one score per row"):
        match(df, "treat", COV, distance=ps[:10])
    with pytest.raises(ValueError, match="caliper needs a scalar distance"):
        match(df, "treat", COV, distance="mahalanobis", caliper=0.2)
    with pytest.raises(ValueError, match="exact must name columns"):
        match(df, "treat", COV, distance=ps, exact="nope")
    with pytest.warns(UserWarning, match="exceeds the 429 controls"):
        res = match(df, "treat", COV, distance=ps, ratio=3)
    assert res.summary().loc["Matched", "control"] == 429
    with pytest.raises(TypeError, match="DataFrame"):
        match(df.to_numpy(), "treat", COV)


def test_no_match_message_names_only_what_was_requested() -> None:
    tiny = pd.DataFrame(
        {"t": [1, 1, 0, 0, 0], "x": [0.9, 0.8, 0.1, 0.2, 0.3], "g": ["a", "a", "b", "b", "b"]}
    )
    with pytest.raises(ValueError, match="no focal unit could be matched") as caliper_only:
        match(tiny, "t", "x", distance=tiny["x"].to_numpy(), caliper=0.01)
    msg = str(caliper_only.value)
    assert "caliper (0.01 SD" in msg and "exact" not in msg and "None" not in msg
    with pytest.raises(ValueError, match="no focal unit could be matched") as exact_only:
        match(tiny, "t", "x", distance=tiny["x"].to_numpy(), exact="g")
    msg = str(exact_only.value)
    assert "exact-matching strata of ['g']" in msg and "caliper" not in msg
    assert "None" not in msg
