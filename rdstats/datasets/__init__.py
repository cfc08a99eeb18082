"""Bundled public reference data with ``load_*()`` functions and source citations.

Historical control data used to derive meta-analytic-predictive (MAP) priors:

- :func:`load_as` -- ankylosing spondylitis, placebo responders (8 trials, binary);
- :func:`load_colitis` -- ulcerative colitis, placebo remission (4 trials, binary);
- :func:`load_crohn` -- Crohn's disease, change in CDAI on placebo (6 trials, normal);
- :func:`load_transplant` -- transplantation, control treatment failures (11 trials,
  binary).

:func:`list_datasets` lists them; :data:`SOURCES` records each citation and where the
values were checked.

Observational comparison data for external-control methods (:data:`OBSERVATIONAL_SOURCES`):

- :func:`load_lalonde` -- 185 NSW job-training participants and 429 comparison men;
- :func:`load_nsw_experiment` -- the randomised NSW experiment (the benchmark answer).

Series with documented change points for the n-of-1 detectors (:data:`SERIES_SOURCES`):

- :func:`load_nile` -- the Nile's annual flow, 1871-1970;
- :func:`load_coal` / :func:`load_coal_dates` -- British coal-mining disasters, 1851-1962.
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
from rdstats.datasets._observational import (
    OBSERVATIONAL_SOURCES,
    load_lalonde,
    load_nsw_experiment,
)
from rdstats.datasets._series import SERIES_SOURCES, load_coal, load_coal_dates, load_nile

__all__ = [
    "CROHN_SIGMA",
    "OBSERVATIONAL_SOURCES",
    "SERIES_SOURCES",
    "SOURCES",
    "list_datasets",
    "load_as",
    "load_coal",
    "load_coal_dates",
    "load_colitis",
    "load_crohn",
    "load_lalonde",
    "load_nile",
    "load_nsw_experiment",
    "load_transplant",
]
