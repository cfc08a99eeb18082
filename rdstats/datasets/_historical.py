"""Historical control data sets used to derive meta-analytic-predictive (MAP) priors.

The values are those of the R package RBesT (Weber et al. 2021), which takes them from
the cited papers; they were checked against the script that builds RBesT's data sets
and RBesT's documentation (see ``SOURCES``). Each CSV file under ``data/`` is read
once; every loader returns a fresh copy, so changing a returned table never changes
what the next call returns.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CROHN_SIGMA",
    "SOURCES",
    "list_datasets",
    "load_as",
    "load_colitis",
    "load_crohn",
    "load_transplant",
]

#: Sampling standard deviation of the change from baseline in CDAI assumed for the
#: Crohn's disease data (RBesT documentation of ``crohn``; Hueber et al. 2012).
CROHN_SIGMA = 88.0

_RBEST_SCRIPT = (
    "RBesT source repository (github.com/Novartis/RBesT), tools/make-ds.R, the script that "
    "builds the package data sets"
)

#: Citation, provenance and check record of every bundled data set.
SOURCES: dict[str, dict[str, Any]] = {
    "as": {
        "family": "binomial",
        "description": (
            "Ankylosing spondylitis: placebo responders (ASAS20 at week 6) in 8 historical "
            "trials, used for the MAP prior of the secukinumab proof-of-concept trial"
        ),
        "citation": (
            "Baeten D, Baraliakos X, Braun J, Sieper J, Emery P, van der Heijde D, et al. "
            "Anti-interleukin-17A monoclonal antibody secukinumab in treatment of ankylosing "
            "spondylitis: a randomised, double-blind, placebo-controlled trial. Lancet "
            "2013;382(9906):1705-1713. doi:10.1016/S0140-6736(13)61134-4"
        ),
        "rbest_name": "AS",
        "checked_against": [
            _RBEST_SCRIPT,
            "RBesT reference page 'AS' (8 rows; study, n, r)",
        ],
    },
    "colitis": {
        "family": "binomial",
        "description": (
            "Ulcerative colitis: placebo remission at week 8 in 4 historical trials, the "
            "example of the robust MAP prior paper (Schmidli et al. 2014)"
        ),
        "citation": (
            "Neuenschwander B, Capkun-Niggli G, Branson M, Spiegelhalter DJ. Summarizing "
            "historical information on controls in clinical trials. Clinical Trials "
            "2010;7(1):5-18. doi:10.1177/1740774509356002; used as the example of Schmidli H, "
            "Gsteiger S, Roychoudhury S, O'Hagan A, Spiegelhalter D, Neuenschwander B. Robust "
            "meta-analytic-predictive priors in clinical trials with historical control "
            "information. Biometrics 2014;70(4):1023-1032. doi:10.1111/biom.12242"
        ),
        "rbest_name": "colitis",
        "checked_against": [
            _RBEST_SCRIPT,
            "RBesT reference page 'colitis' (study, n, r; cites Neuenschwander et al. 2010)",
        ],
    },
    "crohn": {
        "family": "normal",
        "description": (
            "Crohn's disease: mean change from baseline in CDAI at week 6 on placebo in 6 "
            "historical trials; se = 88 / sqrt(n)"
        ),
        "citation": (
            "Hueber W, Sands BE, Lewitzky S, Vandemeulebroecke M, Reinisch W, Higgins PDR, et "
            "al. Secukinumab, a human anti-IL-17A monoclonal antibody, for moderate to severe "
            "Crohn's disease: unexpected results of a randomised, double-blind "
            "placebo-controlled trial. Gut 2012;61(12):1693-1700. "
            "doi:10.1136/gutjnl-2011-301668"
        ),
        "rbest_name": "crohn",
        "checked_against": [
            _RBEST_SCRIPT,
            "RBesT vignette 'RBesT for a Normal Endpoint' (table of study, n, y, y.se with "
            "y.se = 88 / sqrt(n))",
        ],
    },
    "transplant": {
        "family": "binomial",
        "description": (
            "De novo transplantation: treatment failures on the standard (control) treatment "
            "in 11 historical trials, for a phase IV trial"
        ),
        "citation": (
            "Neuenschwander B, Capkun-Niggli G, Branson M, Spiegelhalter DJ. Summarizing "
            "historical information on controls in clinical trials. Clinical Trials "
            "2010;7(1):5-18. doi:10.1177/1740774509356002"
        ),
        "rbest_name": "transplant",
        "checked_against": [
            _RBEST_SCRIPT,
            "RBesT reference page 'transplant' (study, n, r)",
        ],
    },
}


@functools.cache
def _read(name: str) -> pd.DataFrame:
    """Parse ``data/<name>.csv`` once (the cached frame is never handed out)."""
    path = resources.files("rdstats.datasets").joinpath("data", f"{name}.csv")
    with path.open("r", encoding="utf-8") as fh:
        frame = pd.read_csv(fh, dtype={"study": str}, keep_default_na=False)
    frame["study"] = frame["study"].astype(object)
    for col in ("n", "r"):
        if col in frame:
            frame[col] = frame[col].astype(np.int64)
    if "mean" in frame:
        frame["mean"] = frame["mean"].astype(np.float64)
    return frame


def _load(name: str) -> pd.DataFrame:
    out = _read(name).copy(deep=True)
    out.attrs = {"name": name, "source": SOURCES[name]["citation"]}
    return out


def load_as() -> pd.DataFrame:
    """Ankylosing spondylitis: placebo responders in 8 historical trials.

    The primary endpoint of the secukinumab proof-of-concept trial was the ASAS20
    response at week 6; the placebo arms of eight earlier trials gave the MAP prior for
    its control arm (the data set ``AS`` of RBesT and the binary example of its
    introductory vignette).

    Returns
    -------
    pandas.DataFrame
        Columns ``study`` (``"Study 1"`` .. ``"Study 8"``), ``n`` (patients on placebo)
        and ``r`` (ASAS20 responders); 513 patients and 127 responders in all. A fresh
        copy on every call.

    Notes
    -----
    Values checked against the RBesT data-building script ``tools/make-ds.R`` and the
    RBesT reference page of ``AS``; see ``SOURCES["as"]``.

    References
    ----------
    .. [1] Baeten D, Baraliakos X, Braun J, Sieper J, Emery P, van der Heijde D, et al.
       Anti-interleukin-17A monoclonal antibody secukinumab in treatment of ankylosing
       spondylitis: a randomised, double-blind, placebo-controlled trial. Lancet
       2013;382(9906):1705-1713. doi:10.1016/S0140-6736(13)61134-4
    .. [2] Weber S, Li Y, Seaman JW, Kakizume T, Schmidli H. Applying meta-analytic-
       predictive priors with the R Bayesian evidence synthesis tools. Journal of
       Statistical Software 2021;100(19):1-32. doi:10.18637/jss.v100.i19

    Examples
    --------
    >>> from rdstats.datasets import load_as
    >>> df = load_as()
    >>> df.head(3)
         study    n   r
    0  Study 1  107  23
    1  Study 2   44  12
    2  Study 3   51  19
    >>> int(df["n"].sum()), int(df["r"].sum())
    (513, 127)
    """
    return _load("as")


def load_colitis() -> pd.DataFrame:
    """Ulcerative colitis: placebo remission at week 8 in 4 historical trials.

    The placebo arms that informed the control arm of a phase II proof-of-concept trial
    in ulcerative colitis; the worked example of the robust MAP prior paper [2]_ (the
    data set ``colitis`` of RBesT).

    Returns
    -------
    pandas.DataFrame
        Columns ``study`` (first author of the trial publication, as labelled in RBesT),
        ``n`` (patients on placebo) and ``r`` (patients in remission); 363 patients and
        40 remissions in all. A fresh copy on every call.

    Notes
    -----
    Values checked against the RBesT data-building script ``tools/make-ds.R``; RBesT
    documents the source as Neuenschwander et al. (2010) [1]_. See
    ``SOURCES["colitis"]``.

    References
    ----------
    .. [1] Neuenschwander B, Capkun-Niggli G, Branson M, Spiegelhalter DJ. Summarizing
       historical information on controls in clinical trials. Clinical Trials
       2010;7(1):5-18. doi:10.1177/1740774509356002
    .. [2] Schmidli H, Gsteiger S, Roychoudhury S, O'Hagan A, Spiegelhalter D,
       Neuenschwander B. Robust meta-analytic-predictive priors in clinical trials with
       historical control information. Biometrics 2014;70(4):1023-1032.
       doi:10.1111/biom.12242

    Examples
    --------
    >>> from rdstats.datasets import load_colitis
    >>> load_colitis()
             study    n   r
    0   Van_assche   56   6
    1       Feagan   63   9
    2  Rutgeerts-1  121  18
    3  Rutgeerts-2  123   7
    """
    return _load("colitis")


def load_crohn() -> pd.DataFrame:
    """Crohn's disease: change from baseline in CDAI on placebo in 6 historical trials.

    The placebo arms that gave the MAP prior for the control arm of the secukinumab
    proof-of-concept trial in Crohn's disease (the data set ``crohn`` of RBesT and the
    example of its vignette for a normal endpoint). The endpoint is the change from
    baseline in the Crohn's Disease Activity Index (CDAI) at week 6; negative values are
    improvements.

    Returns
    -------
    pandas.DataFrame
        Columns ``study``, ``n`` (patients on placebo), ``mean`` (mean change in CDAI;
        ``y`` in RBesT) and ``se`` (its standard error, ``CROHN_SIGMA / sqrt(n)`` with the
        sampling standard deviation ``CROHN_SIGMA = 88`` used by Hueber et al. and RBesT;
        ``y.se`` in the RBesT vignette). 671 patients in all. A fresh copy on every call.

    Notes
    -----
    RBesT ships ``study``, ``n`` and ``y`` and derives ``y.se = 88 / sqrt(n)``; this
    loader does the same. Values checked against the RBesT data-building script
    ``tools/make-ds.R`` and the table in the RBesT vignette "RBesT for a Normal Endpoint";
    see ``SOURCES["crohn"]``.

    References
    ----------
    .. [1] Hueber W, Sands BE, Lewitzky S, Vandemeulebroecke M, Reinisch W, Higgins PDR,
       et al. Secukinumab, a human anti-IL-17A monoclonal antibody, for moderate to
       severe Crohn's disease: unexpected results of a randomised, double-blind
       placebo-controlled trial. Gut 2012;61(12):1693-1700.
       doi:10.1136/gutjnl-2011-301668

    Examples
    --------
    >>> from rdstats.datasets import load_crohn
    >>> load_crohn().round(2)
          study    n  mean     se
    0   Gastr06   74 -51.0  10.23
    1   AIMed07  166 -49.0   6.83
    2    NEJM07  328 -36.0   4.86
    3  Gastr01a   20 -47.0  19.68
    4   APhTh04   25 -90.0  17.60
    5  Gastr01b   58 -54.0  11.55
    """
    out = _load("crohn")
    out["se"] = CROHN_SIGMA / np.sqrt(out["n"].to_numpy(dtype=np.float64))
    return out


def load_transplant() -> pd.DataFrame:
    """Transplantation: treatment failures on the control treatment in 11 trials.

    Historical information on the standard treatment for a phase IV trial in de novo
    transplant patients; the primary outcome is treatment failure (binary). The data
    set ``transplant`` of RBesT, from Neuenschwander et al. (2010).

    Returns
    -------
    pandas.DataFrame
        Columns ``study`` (``"Study 1"`` .. ``"Study 11"``), ``n`` (patients) and ``r``
        (treatment failures); 930 patients and 198 failures in all. A fresh copy on
        every call.

    Notes
    -----
    Values checked against the RBesT data-building script ``tools/make-ds.R``; see
    ``SOURCES["transplant"]``.

    References
    ----------
    .. [1] Neuenschwander B, Capkun-Niggli G, Branson M, Spiegelhalter DJ. Summarizing
       historical information on controls in clinical trials. Clinical Trials
       2010;7(1):5-18. doi:10.1177/1740774509356002

    Examples
    --------
    >>> from rdstats.datasets import load_transplant
    >>> df = load_transplant()
    >>> len(df), int(df["n"].sum()), int(df["r"].sum())
    (11, 930, 198)
    """
    return _load("transplant")


_LOADERS = {
    "as": load_as,
    "colitis": load_colitis,
    "crohn": load_crohn,
    "transplant": load_transplant,
}


def list_datasets() -> pd.DataFrame:
    """The bundled data sets: name, likelihood family, size, description and source.

    Returns
    -------
    pandas.DataFrame
        One row per data set with columns ``name`` (``load_<name>()`` loads it),
        ``family`` (``"binomial"`` or ``"normal"``), ``n_studies``, ``n_patients``,
        ``description``, ``source`` (citation) and ``rbest_name`` (the name of the same
        data set in the R package RBesT).

    Examples
    --------
    >>> from rdstats.datasets import list_datasets
    >>> list_datasets()[["name", "family", "n_studies", "n_patients"]]
             name    family  n_studies  n_patients
    0          as  binomial          8         513
    1     colitis  binomial          4         363
    2       crohn    normal          6         671
    3  transplant  binomial         11         930
    """
    rows = []
    for name, loader in _LOADERS.items():
        frame = loader()
        src = SOURCES[name]
        rows.append(
            {
                "name": name,
                "family": src["family"],
                "n_studies": len(frame),
                "n_patients": int(frame["n"].sum()),
                "description": src["description"],
                "source": src["citation"],
                "rbest_name": src["rbest_name"],
            }
        )
    return pd.DataFrame(rows)
