"""Worked example run by ``make demo``: a two-arm design with a robust historical prior."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rdstats.designs import DecisionRule, TwoArmDesign
from rdstats.priors import BetaMixture, ess, robustify


def main() -> None:
    """Print the operating characteristics of a small two-arm design."""
    historical = BetaMixture([0.6, 0.4], a=[10, 3], b=[40, 12])
    control = robustify(historical, weight=0.2, mean=0.5)
    treatment = BetaMixture(1.0, 0.5, 1.0)
    rule = DecisionRule(prob=[0.95, 0.5], threshold=[0.0, 0.15])
    design = TwoArmDesign(treatment, 30, control, 15, rule)
    print("Control prior (robustified):")
    print(control.components().to_string())
    print(f"ESS (ELIR) of the control prior: {ess(control):.1f} patients\n")
    print(f"Rule: {rule!r}")
    print("Decision boundary: success iff y1 > critical(y2)")
    print(design.boundary().table.head(8).to_string(index=False))
    theta_1 = np.array([0.2, 0.3, 0.4, 0.5, 0.6])
    rows = {f"θ2={t2}": design.oc(theta_1, t2) for t2 in (0.2, 0.3)}
    table = pd.DataFrame(rows, index=pd.Index(theta_1, name="θ1"))
    print("\nExact probability of a positive decision:")
    print(table.round(4).to_string())
    print(f"\nProbability of success (assurance): {design.probability_of_success():.4f}")


if __name__ == "__main__":
    main()
