"""HybridControlDesign.calibrate and paired operating characteristics."""

from __future__ import annotations

import numpy as np
import pytest

from rdstats.borrowing import HybridControlDesign, PriorBorrowing, no_borrowing
from rdstats.designs import DecisionRule
from rdstats.priors import BetaMixture, robustify

RATES = np.round(np.arange(0.1, 0.51, 0.05), 2)


def _max_tie(design: HybridControlDesign) -> float:
    return float(design.oc(RATES, RATES, paired=True).p_success.max())


@pytest.mark.parametrize("alpha", [0.025, 0.05, 0.1])
def test_calibrated_threshold_is_the_smallest_admissible(alpha: float) -> None:
    design = HybridControlDesign(
        30, 15, PriorBorrowing(robustify(BetaMixture(1, 6, 18), 0.2, 0.5), "robust")
    )
    cal = design.calibrate(RATES, alpha)
    assert _max_tie(cal) <= alpha
    c = float(cal.rule.prob[0])
    # any visibly smaller threshold admits a tabulated posterior probability and breaks alpha
    post = np.unique(cal._tables()["post_prob"])
    below = post[post < c]
    if below.size and below[-1] >= float(design.rule.prob[0]):
        looser = HybridControlDesign(
            30, 15, design.borrowing, design.prior_t, DecisionRule(float(below[-1]) - 1e-12, 0.0)
        )
        assert _max_tie(looser) > alpha


def test_calibration_never_lowers_the_threshold() -> None:
    design = HybridControlDesign(30, 15, no_borrowing(), rule=DecisionRule(0.99, 0.0))
    cal = design.calibrate(RATES, 0.2)
    assert float(cal.rule.prob[0]) == 0.99


def test_paired_oc_matches_cartesian_diagonal() -> None:
    design = HybridControlDesign(20, 10, PriorBorrowing(BetaMixture(1, 4, 16), "Be(4, 16)"))
    paired = design.oc(RATES, RATES, paired=True)
    full = design.oc(RATES, RATES)
    diag = full[np.isclose(full.theta_t, full.theta_c)].reset_index(drop=True)
    np.testing.assert_allclose(paired.p_success.to_numpy(), diag.p_success.to_numpy(), atol=1e-15)


def test_calibrate_and_paired_bad_input() -> None:
    design = HybridControlDesign(20, 10, no_borrowing())
    with pytest.raises(ValueError, match="equal length"):
        design.oc([0.1, 0.2], [0.1], paired=True)
    with pytest.raises(ValueError, match="alpha must be in"):
        design.calibrate(RATES, 1.5)
    with pytest.raises(ValueError, match="rates in"):
        design.calibrate([1.2], 0.025)
    dual = HybridControlDesign(20, 10, no_borrowing(), rule=DecisionRule([0.9, 0.5], [0, 0.1]))
    with pytest.raises(ValueError, match="single criterion"):
        dual.calibrate(RATES, 0.025)
