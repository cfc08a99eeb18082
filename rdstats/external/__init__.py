"""External and synthetic controls from natural-history and real-world data: propensity
scores, matching, weighting, balance diagnostics, outcome analyses and sensitivity
analyses (work in progress)."""

__all__: list[str] = []
