"""Observational (non-randomised) comparison data for external-control methods: the
LaLonde / Dehejia-Wahba job-training data and the randomised NSW experiment that gives
their benchmark answer."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import pandas as pd

__all__ = ["OBSERVATIONAL_SOURCES", "load_lalonde", "load_nsw_experiment"]

#: Citation and description of every bundled observational data set.
OBSERVATIONAL_SOURCES: dict[str, dict[str, Any]] = {
    "lalonde": {
        "description": (
            "614 men: 185 National Supported Work (NSW) job-training participants "
            "(treat = 1) and 429 non-experimental comparison men from the PSID; earnings "
            "re74, re75, re78 in 1978 US$"
        ),
        "citation": (
            "LaLonde RJ. Evaluating the econometric evaluations of training programs with "
            "experimental data. American Economic Review 1986;76(4):604-620. Dehejia RH, "
            "Wahba S. Causal effects in nonexperimental studies: reevaluating the "
            "evaluation of training programs. JASA 1999;94(448):1053-1062. Distributed as "
            "the data set 'lalonde' of the R packages MatchIt and cobalt."
        ),
    },
    "nsw_experiment": {
        "description": (
            "The randomised NSW experiment: 185 treated and 260 randomised controls (the "
            "experimental benchmark for the lalonde comparison)"
        ),
        "citation": (
            "Dehejia RH, Wahba S. Causal effects in nonexperimental studies: reevaluating "
            "the evaluation of training programs. JASA 1999;94(448):1053-1062 (public files "
            "nswre74_treated and nswre74_control)."
        ),
    },
}


@functools.cache
def _read(name: str) -> pd.DataFrame:
    path = resources.files("rdstats.datasets").joinpath("data", f"{name}.csv")
    with path.open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh)


def _load(name: str) -> pd.DataFrame:
    out = _read(name).copy(deep=True)
    out.attrs = {"name": name, "source": OBSERVATIONAL_SOURCES[name]["citation"]}
    return out


def load_lalonde() -> pd.DataFrame:
    """The lalonde data: 185 NSW job-training participants and 429 comparison men.

    Returns
    -------
    pandas.DataFrame
        Columns ``id``, ``treat`` (1: NSW participant), ``age``, ``educ``, ``race``
        (``"black"``, ``"hispan"``, ``"white"``), ``married``, ``nodegree``, ``re74``,
        ``re75`` and ``re78`` (earnings, 1978 US$). A fresh copy on every call.

    References
    ----------
    .. [1] LaLonde RJ. Evaluating the econometric evaluations of training programs with
       experimental data. Am Econ Rev 1986;76:604-620.
    .. [2] Dehejia RH, Wahba S. Causal effects in nonexperimental studies: reevaluating
       the evaluation of training programs. J Am Stat Assoc 1999;94:1053-1062.

    Examples
    --------
    >>> from rdstats.datasets import load_lalonde
    >>> d = load_lalonde()
    >>> d.shape, int(d.treat.sum())
    ((614, 10), 185)
    """
    return _load("lalonde")


def load_nsw_experiment() -> pd.DataFrame:
    """The randomised NSW experiment: 185 treated and 260 randomised controls.

    Returns
    -------
    pandas.DataFrame
        Columns ``treat``, ``age``, ``educ``, ``black``, ``hispan``, ``married``,
        ``nodegree``, ``re74``, ``re75`` and ``re78``. A fresh copy on every call.

    References
    ----------
    .. [1] Dehejia RH, Wahba S. Causal effects in nonexperimental studies: reevaluating
       the evaluation of training programs. J Am Stat Assoc 1999;94:1053-1062.

    Examples
    --------
    >>> from rdstats.datasets import load_nsw_experiment
    >>> d = load_nsw_experiment()
    >>> int(d.treat.sum()), int((1 - d.treat).sum())
    (185, 260)
    """
    return _load("nsw_experiment")
