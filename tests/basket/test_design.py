"""BasketDesign: exact operating characteristics from the decision table checked by brute
force (explicit loops over outcomes calling model.fit), against the engine (exact and
Monte Carlo within 4 MCSE), n = 0 baskets, bad input and the plot."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from rdstats.basket._bhm import BHM
from rdstats.basket._design import BasketDesign, BasketOC
from rdstats.basket._design_rules import BasketRule
from rdstats.basket._exnex import EXNEX
from rdstats.basket._fujikawa import Fujikawa
from rdstats.basket._independent import Pooled, Stratified
from rdstats.basket._mem import MEM

COARSE = {"grid_step": 0.04, "dv": 0.2}  # posterior_table's defaults, passed to fit
EXNEX5 = EXNEX(ex=[(special.logit(0.1), 3.18, 1.0)], nex=(special.logit(0.2), 2.5))
MODELS = {
    "stratified": (Stratified(), {}),
    "pooled": (Pooled(), {}),
    "bhm": (BHM(), COARSE),
    "exnex": (EXNEX5, COARSE),
    "exnex2": (  # Neuenschwander et al. (2016) Table V: two EX components
        EXNEX(
            ex=[(special.logit(0.1), 3.18, 1.0), (special.logit(0.3), 1.94, 1.0)],
            nex=(special.logit(0.2), 2.5),
            weights=(0.25, 0.25, 0.5),
        ),
        COARSE,
    ),
    "mem": (MEM(), {}),
    "fujikawa": (Fujikawa(), {}),
}
RULE = BasketRule(prob=[0.8, 0.85], threshold=[0.1, 0.15], min_mean=0.2)
SCEN = np.array([[0.1, 0.15], [0.1, 0.4], [0.35, 0.45]])


def brute_force(model, n, rule, p, fit_opts):
    """Go probabilities, FWER, bias and MSE by looping over every outcome vector."""
    k = len(n)
    prob, thr, mm = rule.resolve(k)
    go_p, fwer, bias, mse = np.zeros(k), 0.0, np.zeros(k), np.zeros(k)
    for r in itertools.product(*(range(m + 1) for m in n)):
        post = model.fit(list(r), list(n), **fit_opts)
        mean, above = post.mean(), post.prob_above(thr)
        go = above > prob
        if mm is not None:
            go &= mean > mm
        w = math.prod(stats.binom.pmf(r[j], n[j], p[j]) for j in range(k))
        go_p += w * go
        fwer += w * bool(np.any(go & (np.asarray(p) <= thr)))
        bias += w * (mean - p)
        mse += w * (mean - p) ** 2
    return go_p, fwer, bias, mse


@pytest.mark.parametrize("name", list(MODELS))
def test_exact_oc_equals_brute_force(name: str) -> None:
    model, opts = MODELS[name]
    n = [4, 3]
    design = BasketDesign(model, n, RULE)
    oc = design.oc(SCEN)
    for i, p in enumerate(SCEN):
        go_p, fwer, bias, mse = brute_force(model, n, RULE, p, opts)
        rows = oc.baskets.iloc[2 * i : 2 * i + 2]
        np.testing.assert_allclose(rows["p_go"], go_p, atol=1e-12)
        np.testing.assert_allclose(rows["bias"], bias, atol=2e-5)
        np.testing.assert_allclose(rows["mse"], mse, atol=2e-5)
        assert oc.overall["fwer"].iloc[i] == pytest.approx(fwer, abs=1e-12)
        assert oc.overall["expected_gos"].iloc[i] == pytest.approx(go_p.sum(), abs=1e-12)
    assert np.allclose(oc.overall["enumerated_mass"], 1.0)
    assert (oc.baskets["mcse"] == 0).all()


def test_stratified_closed_form() -> None:
    """Independent Beta(1, 1) analyses: go iff r_j >= c_j, so the go probability is a
    binomial tail and the FWER of independent null baskets is 1 - prod(1 - alpha_j)."""
    n = [10, 6, 8]
    rule = BasketRule(prob=0.9, threshold=0.1)
    design = BasketDesign(Stratified(), n, rule)
    p = [0.1, 0.05, 0.3]
    oc = design.oc([p])
    expected = []
    for nj, pj in zip(n, p, strict=True):
        r = np.arange(nj + 1)
        c = int(r[stats.beta.sf(0.1, 1 + r, 1 + nj - r) > 0.9][0])
        expected.append(stats.binom.sf(c - 1, nj, pj))
    np.testing.assert_allclose(oc.baskets["p_go"], expected, rtol=1e-12)
    alpha = np.array(expected[:2])
    assert oc.overall["fwer"].iloc[0] == pytest.approx(1 - np.prod(1 - alpha), rel=1e-12)
    assert list(oc.baskets["null"]) == [True, True, False]


def test_engine_exact_equals_oc() -> None:
    design = BasketDesign(BHM(), [5, 4, 3], RULE.__class__(prob=0.8, threshold=0.1))
    scen = np.array([[0.1, 0.1, 0.1], [0.1, 0.3, 0.5]])
    oc = design.oc(scen)
    res = design.simulate(scen, method="exact")
    wide = res.summary(wide=True).reset_index(drop=True)
    go = oc.go_matrix().to_numpy()
    for j in range(3):
        np.testing.assert_allclose(wide[f"go_{j + 1}"], go[:, j], atol=1e-12)
        bias = oc.baskets[oc.baskets["basket"] == f"basket {j + 1}"]["bias"]
        np.testing.assert_allclose(wide[f"error_{j + 1}"], bias, atol=1e-12)
    np.testing.assert_allclose(wide["fwe"], oc.overall["fwer"], atol=1e-12)
    np.testing.assert_allclose(wide["n_go"], oc.overall["expected_gos"], atol=1e-12)
    assert wide["type_i_error"].iloc[0] == pytest.approx(oc.overall["fwer"].iloc[0])


class CountingModel:
    """Stratified analysis that records how it is called."""

    def __init__(self) -> None:
        self.calls: list[np.ndarray] = []
        self.inner = Stratified()

    def posterior_table(self, r, n, p0):
        self.calls.append(np.asarray(r))
        return self.inner.posterior_table(r, n, p0)


def test_table_built_once_and_read_only() -> None:
    model = CountingModel()
    design = BasketDesign(model, [3, 2, 0], BasketRule(0.8, 0.2))
    design.oc([[0.1, 0.2, 0.3]])
    design.oc([[0.3, 0.2, 0.3]])
    design.simulate([[0.2, 0.2, 0.2]], method="exact")
    assert len(model.calls) == 1 and model.calls[0].shape == (12, 3)
    t = design._table()
    for v in t.values():
        assert not v.flags.writeable
    with pytest.raises(ValueError):
        t["go"][0, 0] = True
    tab = design.decision_table()
    assert len(tab) == 12 and ("go", "basket 3") in tab.columns


def test_monte_carlo_analyses_distinct_outcomes_once() -> None:
    model = CountingModel()
    design = BasketDesign(model, [6, 6], BasketRule(0.8, 0.2))
    res = design.simulate([[0.3, 0.5]], n_trials=3000, batch_size=1000, rng=3, progress=False)
    assert len(model.calls) == 3  # one call per batch, not per trial
    for rows in model.calls:
        assert len(np.unique(rows, axis=0)) == len(rows) <= 49
    assert res.outcomes is not None and len(res.outcomes) == 3000
    design.oc([[0.3, 0.5]])  # builds the table: simulation now looks decisions up
    again = design.simulate([[0.3, 0.5]], n_trials=3000, batch_size=1000, rng=3, progress=False)
    assert len(model.calls) == 4
    for col in ("go_1", "go_2", "mean_1", "r_2", "fwe"):
        np.testing.assert_array_equal(again.outcomes[col], res.outcomes[col])


@pytest.mark.parametrize("name", ["bhm", "exnex", "pooled"])
def test_monte_carlo_agrees_with_exact(name: str) -> None:
    model = MODELS[name][0]
    design = BasketDesign(model, [8, 6, 4], BasketRule(prob=0.8, threshold=0.1, min_mean=0.15))
    scen = np.array([[0.1, 0.1, 0.1], [0.1, 0.3, 0.4]])
    oc = design.oc(scen)
    fresh = BasketDesign(model, [8, 6, 4], design.rule)  # no table: unique-row analyses
    mc = fresh.simulate(scen, n_trials=4000, rng=11, progress=False)
    wide = mc.summary(wide=True).reset_index(drop=True)
    go = oc.go_matrix().to_numpy()
    for j in range(3):
        z = (wide[f"go_{j + 1}"] - go[:, j]) / np.maximum(wide[f"go_{j + 1}_mcse"], 1e-9)
        assert np.all(np.abs(z) < 4), (j, z)
        b = oc.baskets[oc.baskets["basket"] == f"basket {j + 1}"]["bias"].to_numpy()
        z = (wide[f"error_{j + 1}"] - b) / wide[f"error_{j + 1}_mcse"]
        assert np.all(np.abs(z) < 4), (j, z)
    z = (wide["fwe"] - oc.overall["fwer"]) / np.maximum(wide["fwe_mcse"], 1e-9)
    assert np.all(np.abs(z) < 4)


def test_zero_size_basket_borrows() -> None:
    rule = BasketRule(prob=0.8, threshold=0.1)
    pooled = BasketDesign(Pooled(), [0, 10], rule).oc([[0.1, 0.4], [0.5, 0.4]])
    go = pooled.go_matrix().to_numpy()
    # the empty basket is decided on the pooled data alone: same go as basket 2,
    # whatever its own true rate
    np.testing.assert_allclose(go[:, 0], go[:, 1], atol=1e-12)
    np.testing.assert_allclose(go[0], go[1], atol=1e-12)
    assert go[0, 0] > 0.5
    strat = BasketDesign(Stratified(), [0, 10], rule).oc([[0.5, 0.4]])
    # no data, no borrowing: the prior alone decides (P(p > 0.1) = 0.9 > 0.8: always go)
    assert strat.baskets["p_go"].iloc[0] == pytest.approx(1.0)
    ex = BasketDesign(EXNEX5, [0, 6], rule).oc([[0.2, 0.5]])
    assert 0.0 <= ex.baskets["p_go"].iloc[0] <= 1.0
    assert ex.overall["enumerated_mass"].iloc[0] == pytest.approx(1.0)


def test_bad_input() -> None:
    rule = BasketRule(0.9, 0.1)
    with pytest.raises(TypeError, match="posterior_table"):
        BasketDesign(object(), [5, 5], rule)
    with pytest.raises(TypeError, match="rule must be a BasketRule"):
        BasketDesign(Stratified(), [5, 5], (0.9, 0.1))
    with pytest.raises(ValueError, match="n must be"):
        BasketDesign(Stratified(), [5, -1], rule)
    with pytest.raises(ValueError, match="n must be a non-empty"):
        BasketDesign(Stratified(), [], rule)
    with pytest.raises(ValueError, match="prob must have 1 or 2 entries"):
        BasketDesign(Stratified(), [5, 5], BasketRule([0.9, 0.8, 0.7], 0.1))
    with pytest.raises(ValueError, match="threshold must have 1 or 3"):
        BasketDesign(Stratified(), [5, 5, 5], BasketRule(0.9, [0.1, 0.2]))
    with pytest.raises(ValueError, match="min_mean must have"):
        BasketDesign(Stratified(), [5, 5], BasketRule(0.9, 0.1, [0.2, 0.2, 0.2]))
    with pytest.raises(ValueError, match="names must have 2"):
        BasketDesign(Stratified(), [5, 5], rule, names=["a"])
    with pytest.raises(ValueError, match="max_outcomes"):
        BasketDesign(Stratified(), [5, 5], rule, max_outcomes=0)
    with pytest.raises(ValueError, match=r"prob must be in \[0, 1\)"):
        BasketRule(1.2, 0.1)
    with pytest.raises(ValueError, match="threshold must be in"):
        BasketRule(0.9, 1.0)
    with pytest.raises(ValueError, match="min_mean must be in"):
        BasketRule(0.9, 0.1, -0.1)
    with pytest.raises(TypeError, match="prob must be numeric"):
        BasketRule("high", 0.1)
    design = BasketDesign(Stratified(), [5, 5], rule)
    with pytest.raises(ValueError, match=r"p_2 must be a probability"):
        design.oc([[0.1, 1.5]])
    with pytest.raises(ValueError, match=r"shape \(S, 2\)"):
        design.oc([[0.1, 0.2, 0.3]])
    with pytest.raises(ValueError, match="needs"):
        design.oc({"p_1": [0.1], "q": [0.2]})
    big = BasketDesign(Stratified(), [70, 70, 70], rule)
    with pytest.raises(ValueError, match="method='monte_carlo'"):
        big.oc([[0.1, 0.1, 0.1]])


def test_large_design_by_monte_carlo() -> None:
    rule = BasketRule(0.9, 0.1)
    big = BasketDesign(Stratified(), [70, 70, 70], rule)
    res = big.simulate([[0.1, 0.2, 0.3]], n_trials=500, rng=1, progress=False)
    go = res.metric("go_3")["value"].iloc[0]
    assert go > 0.9


def test_labels_permutation_and_to_dict() -> None:
    rule = BasketRule(prob=0.8, threshold=0.1)
    d = BasketDesign(BHM(), [5, 3], rule, names=["A", "B"])
    d2 = BasketDesign(BHM(), [3, 5], rule, names=["B", "A"])
    grid = pd.DataFrame({"p_1": [0.1, 0.3], "p_2": [0.2, 0.1], "label": ["s1", "s2"]})
    oc = d.oc(grid)
    oc2 = d2.oc(grid.rename(columns={"p_1": "p_2", "p_2": "p_1"}))
    np.testing.assert_allclose(
        oc.go_matrix()[["A", "B"]].to_numpy(), oc2.go_matrix()[["A", "B"]].to_numpy(), atol=1e-6
    )
    assert list(oc.go_matrix().index) == ["s1", "s2"]
    assert isinstance(oc, BasketOC)
    json.dumps(oc.to_dict())
    json.dumps(d.to_dict())
    assert "fwer" in oc._repr_html_()
    assert "fwer" in oc.summary().columns
    with pytest.raises(ValueError, match="names must be distinct"):
        BasketDesign(BHM(), [5, 3], rule, names=["A", "A"])


@settings(max_examples=25, deadline=None)
@given(
    n=st.lists(st.integers(0, 6), min_size=1, max_size=3),
    p=st.floats(0.0, 1.0),
    gamma=st.floats(0.5, 0.95),
)
def test_property_probabilities_and_monotone(n: list[int], p: float, gamma: float) -> None:
    design = BasketDesign(Stratified(), n, BasketRule(gamma, 0.2))
    k = len(n)
    lo = design.oc([[p] * k]).baskets["p_go"].to_numpy()
    hi = design.oc([[min(1.0, p + 0.1)] * k]).baskets["p_go"].to_numpy()
    assert np.all((lo >= 0) & (lo <= 1))
    assert np.all(hi >= lo - 1e-12)  # go probability increases with the true rate


def test_plot_grouped_bars() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    design = BasketDesign(Stratified(), [5, 5, 4], BasketRule(0.8, 0.1), names=list("XYZ"))
    oc = design.oc([[0.1, 0.1, 0.1], [0.1, 0.3, 0.5]])
    ax = oc.plot()
    assert len(ax.patches) == 6
    assert sum(bool(p.get_hatch()) for p in ax.patches) == 4
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["X", "Y", "Z"]
    plt.close("all")
