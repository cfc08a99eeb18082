"""Bad input raises TypeError/ValueError naming the argument."""

from __future__ import annotations

import pytest

from rdstats.designs import DecisionRule, OneArmDesign, TwoArmDesign
from rdstats.priors import BetaMixture, GammaMixture, NormalMixture

RULE = DecisionRule(0.9, 0.0)
BETA = BetaMixture(1, 1, 1)


def test_normal_prior_without_sigma():
    with pytest.raises(ValueError, match=r"prior.*sigma"):
        OneArmDesign(NormalMixture(1, 0, 1), 10, RULE)
    with pytest.raises(ValueError, match=r"prior_2.*sigma"):
        TwoArmDesign(NormalMixture(1, 0, 1, sigma=1), 10, NormalMixture(1, 0, 1), 10, RULE)


def test_mixed_families():
    with pytest.raises(TypeError, match="prior_1 and prior_2"):
        TwoArmDesign(BETA, 10, NormalMixture(1, 0, 1, sigma=1), 10, RULE)


def test_not_a_prior():
    with pytest.raises(TypeError, match="prior"):
        OneArmDesign([1, 1], 10, RULE)
    with pytest.raises(TypeError, match="rule"):
        OneArmDesign(BETA, 10, 0.9)


@pytest.mark.parametrize("n", [0, -3])
def test_one_arm_n_not_positive(n):
    with pytest.raises(ValueError, match="n"):
        OneArmDesign(BETA, n, RULE)


def test_two_arm_n_1_zero():
    with pytest.raises(ValueError, match="n_1"):
        TwoArmDesign(BETA, 0, BETA, 10, RULE)


@pytest.mark.parametrize("n", [10.5, "ten"])
def test_non_integer_n_binomial(n):
    with pytest.raises((TypeError, ValueError), match="n"):
        OneArmDesign(BETA, n, RULE)
    with pytest.raises((TypeError, ValueError), match="n_2"):
        TwoArmDesign(BETA, 10, BETA, n, RULE)


@pytest.mark.parametrize("theta", [-0.1, 1.2, [0.5, 1.5]])
def test_theta_outside_unit_interval(theta):
    with pytest.raises(ValueError, match="theta"):
        OneArmDesign(BETA, 10, RULE).oc(theta)
    with pytest.raises(ValueError, match="theta_1"):
        TwoArmDesign(BETA, 10, BETA, 10, RULE).oc(theta, 0.5)
    with pytest.raises(ValueError, match="theta_2"):
        TwoArmDesign(BETA, 10, BETA, 10, RULE).oc(0.5, theta)


def test_negative_poisson_rate():
    with pytest.raises(ValueError, match="theta"):
        OneArmDesign(GammaMixture(1, 1, 1), 5.0, RULE).oc(-1.0)


@pytest.mark.parametrize("prob", [0.0, 1.0, 1.5, -0.2])
def test_rule_prob_outside_open_unit_interval(prob):
    with pytest.raises(ValueError, match="prob"):
        DecisionRule(prob, 0.0)


def test_rule_mismatched_lengths():
    with pytest.raises(ValueError, match="prob has 2 entries but the rule has 3 criteria"):
        DecisionRule([0.9, 0.5], [0.0, 0.1, 0.2])
    with pytest.raises(ValueError, match="threshold has 2 entries"):
        DecisionRule([0.9, 0.5, 0.3], [0.0, 0.1])
    with pytest.raises(ValueError, match="prob has 2 entries"):
        DecisionRule([0.9, 0.5], [0.0, 0.1], [True, False, True])
    with pytest.raises(ValueError, match="lower_tail has 2 entries"):
        DecisionRule([0.9, 0.5, 0.3], 0.0, [True, False])


def test_rule_lower_tail_not_bool():
    with pytest.raises(TypeError, match="lower_tail"):
        DecisionRule(0.9, 0.0, lower_tail="yes")


def test_gamma_exponential_likelihood():
    with pytest.raises(ValueError, match="likelihood"):
        OneArmDesign(GammaMixture(1, 1, 1, likelihood="exp"), 5.0, RULE)


def test_oc_needs_theta_2_with_control_data():
    with pytest.raises(TypeError, match="theta_2"):
        TwoArmDesign(BETA, 10, BETA, 10, RULE).oc(0.5)


def test_rule_applied_to_non_distribution():
    with pytest.raises(TypeError, match="dist"):
        RULE(0.5)
