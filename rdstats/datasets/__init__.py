"""Bundled public reference data with ``load_*()`` functions and source citations.

Historical control data used to derive meta-analytic-predictive (MAP) priors:

- :func:`load_as` -- ankylosing spondylitis, placebo responders (8 trials, binary);
- :func:`load_colitis` -- ulcerative colitis, placebo remission (4 trials, binary);
- :func:`load_crohn` -- Crohn's disease, change in CDAI on placebo (6 trials, normal);
- :func:`load_transplant` -- transplantation, control treatment failures (11 trials,
  binary).

:func:`list_datasets` lists them; :data:`SOURCES` records each citation and where the
values were checked.
"""

from rdstats.datasets._historical import (
    CROHN_SIGMA,
    SOURCES,
    list_datasets,
    load_as,
    load_colitis,
    load_crohn,
    load_transplant,
)

__all__ = [
    "CROHN_SIGMA",
    "SOURCES",
    "list_datasets",
    "load_as",
    "load_colitis",
    "load_crohn",
    "load_transplant",
]
