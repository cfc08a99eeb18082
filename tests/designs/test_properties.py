"""Property-based checks of the designs (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rdstats.designs import DecisionRule, OneArmDesign, TwoArmDesign
from rdstats.priors import BetaMixture, NormalMixture

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
shape = st.floats(0.5, 12.0)
prob = st.floats(0.55, 0.97)


@st.composite
def beta_priors(draw: st.DrawFn) -> BetaMixture:
    k = draw(st.integers(1, 2))
    w = [draw(st.floats(0.1, 1.0)) for _ in range(k)]
    w = [v / sum(w) for v in w]
    return BetaMixture(w, [draw(shape) for _ in range(k)], [draw(shape) for _ in range(k)])


@st.composite
def normal_priors(draw: st.DrawFn) -> NormalMixture:
    k = draw(st.integers(1, 2))
    w = [draw(st.floats(0.1, 1.0)) for _ in range(k)]
    w = [v / sum(w) for v in w]
    m = [draw(st.floats(-1.0, 1.0)) for _ in range(k)]
    s = [draw(st.floats(0.2, 5.0)) for _ in range(k)]
    return NormalMixture(w, m, s, sigma=draw(st.floats(0.5, 3.0)))


@SETTINGS
@given(
    beta_priors(), beta_priors(), st.integers(3, 25), st.integers(0, 15), prob, st.floats(-0.2, 0.3)
)
def test_binomial_oc_monotone_in_theta_1(p1, p2, n1, n2, pr, delta):
    design = TwoArmDesign(p1, n1, p2, n2, DecisionRule(pr, delta))
    theta = np.linspace(0.0, 1.0, 21)
    oc = design.oc(theta, 0.3 if n2 else None)
    assert np.all((oc >= 0) & (oc <= 1))
    assert np.all(np.diff(oc) >= -1e-12)


@SETTINGS
@given(
    normal_priors(),
    normal_priors(),
    st.integers(2, 40),
    st.integers(0, 30),
    prob,
    st.floats(-0.5, 0.5),
)
def test_normal_oc_monotone_in_theta_1(p1, p2, n1, n2, pr, delta):
    design = TwoArmDesign(p1, n1, p2, n2, DecisionRule(pr, delta))
    theta = np.linspace(-2.0, 3.0, 11)
    oc = design.oc(theta, 0.1 if n2 else None)
    assert np.all((oc >= 0) & (oc <= 1))
    assert np.all(np.diff(oc) >= -1e-9)
    one = OneArmDesign(p1, n1, DecisionRule(pr, delta))
    oc1 = one.oc(theta)
    assert np.all((oc1 >= 0) & (oc1 <= 1)) and np.all(np.diff(oc1) >= -1e-12)


@st.composite
def smooth_beta_priors(draw: st.DrawFn) -> BetaMixture:
    """Shapes >= 1: prob_difference's quadrature fails for U-shaped betas (see below)."""
    k = draw(st.integers(1, 2))
    w = [draw(st.floats(0.1, 1.0)) for _ in range(k)]
    w = [v / sum(w) for v in w]
    a = [draw(st.floats(1.0, 12.0)) for _ in range(k)]
    return BetaMixture(w, a, [draw(st.floats(1.0, 12.0)) for _ in range(k)])


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    smooth_beta_priors(),
    smooth_beta_priors(),
    st.integers(1, 5),
    st.integers(0, 4),
    prob,
    st.floats(-0.3, 0.3),
    st.booleans(),
)
def test_decision_matrix_matches_rule_on_posteriors(p1, p2, n1, n2, pr, delta, lower):
    rule = DecisionRule(pr, delta, lower_tail=lower)
    design = TwoArmDesign(p1, n1, p2, n2, rule)
    d = design.decision_matrix()
    for y1 in range(n1 + 1):
        for y2 in range(n2 + 1):
            post2 = p2.posterior(y2, n2) if n2 else p2
            probability = rule.probabilities(p1.posterior(y1, n1), post2)[0]
            if abs(probability - pr) > 1e-8:  # skip knife-edge ties
                assert d[y1, y2] == (probability > pr), (y1, y2, probability)


def test_prob_difference_u_shaped_beta():
    """Regression: U-shaped Be(0.5, 0.5) once broke the quadrature of prob_difference."""
    from scipy import integrate, stats

    from rdstats.priors import prob_difference

    exact = integrate.quad(lambda t: stats.beta.pdf(t, 0.5, 0.5) * stats.beta.sf(t, 1, 2), 0, 1)[0]
    grid = TwoArmDesign(
        BetaMixture(1, 1, 1), 1, BetaMixture(1, 0.5, 0.5), 0, DecisionRule(0.3, 0.0)
    )
    assert grid.decision_matrix()[0, 0]  # P = 0.375 > 0.3
    assert 1 - prob_difference(BetaMixture(1, 1, 2), BetaMixture(1, 0.5, 0.5), 0.0) == (
        pytest.approx(exact, abs=1e-8)
    )


@SETTINGS
@given(
    beta_priors(),
    beta_priors(),
    st.integers(3, 20),
    st.integers(1, 20),
    prob,
    st.floats(-0.2, 0.3),
    st.booleans(),
)
def test_binomial_boundary_monotone_in_y2(p1, p2, n1, n2, pr, delta, lower):
    design = TwoArmDesign(p1, n1, p2, n2, DecisionRule(pr, delta, lower_tail=lower))
    crit = design.boundary().table["critical"].to_numpy()
    assert np.all(np.diff(crit) >= 0)
    assert np.all((crit >= -1) & (crit <= n1))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(beta_priors(), st.floats(0.05, 0.4), st.floats(0.15, 0.3), prob)
def test_sample_size_is_smallest_reaching_target(prior, p0, gap, pr):
    rule = DecisionRule(pr, p0)
    design = OneArmDesign(prior, 10, rule)
    theta = min(p0 + gap, 0.99)
    n = design.sample_size(theta, 0.8, n_max=400)
    assert OneArmDesign(prior, n, rule).oc(theta) >= 0.8
    if n > 1:
        assert OneArmDesign(prior, n - 1, rule).oc(theta) < 0.8


def test_two_arm_sample_size_is_smallest_reaching_target():
    rule = DecisionRule(0.9, 0.0)
    design = TwoArmDesign(BetaMixture(1, 1, 1), 10, BetaMixture(1, 1, 1), 10, rule)
    n = design.sample_size(0.6, 0.25, target=0.8, n_max=200)
    assert TwoArmDesign(design.prior_1, n, design.prior_2, n, rule).oc(0.6, 0.25) >= 0.8
    assert TwoArmDesign(design.prior_1, n - 1, design.prior_2, n - 1, rule).oc(0.6, 0.25) < 0.8


@pytest.mark.parametrize(("delta", "lower"), [(-0.25, False), (0.25, True)])
def test_prior_only_control_with_nonzero_threshold(delta, lower):
    """Regression: tail_table with n_2 = 0 (y_max = 0) returned an empty table, so the
    closed-form part of the grid quadrature crashed for δ != 0."""
    u = BetaMixture(1, 1, 1)
    rule = DecisionRule(0.7, delta, lower_tail=lower)
    d = TwoArmDesign(u, 1, u, 0, rule).decision_matrix()
    expected = [rule(u.posterior(y, 1), u) for y in (0, 1)]
    assert d[:, 0].tolist() == [bool(e) for e in expected]
