"""Public time series with documented change points, for validating the n-of-1 jump
detectors: the Nile's annual flow and the British coal-mining disasters."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SERIES_SOURCES", "load_coal", "load_coal_dates", "load_nile"]

#: Citation and the documented answer of every bundled series.
SERIES_SOURCES: dict[str, dict[str, Any]] = {
    "nile": {
        "description": "Annual flow of the Nile at Aswan, 1871-1970, in 10^8 m^3",
        "citation": (
            "Cobb GW. The problem of the Nile: conditional solution to a changepoint problem. "
            "Biometrika 1978;65:243-251. R datasets::Nile."
        ),
        "answer": "a drop in level after 1898 (first year of the new level 1899; Aswan dam)",
    },
    "coal": {
        "description": (
            "Dates of 191 British coal-mining explosions that killed 10 or more, "
            "1851-03-15 to 1962-03-22 (decimal years); yearly counts 1851-1962"
        ),
        "citation": (
            "Jarrett RG. A note on the intervals between coal-mining disasters. Biometrika "
            "1979;66:191-193. Raftery AE, Akman VE. Bayesian analysis of a Poisson process "
            "with a change-point. Biometrika 1986;73:85-89. R boot::coal."
        ),
        "answer": "the disaster rate falls around 1890-1891 (about 3.1 to 0.9 a year)",
    },
}


@functools.cache
def _read(name: str) -> pd.DataFrame:
    path = resources.files("rdstats.datasets").joinpath("data", f"{name}.csv")
    with path.open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh)


def load_nile() -> pd.DataFrame:
    """Annual flow of the Nile at Aswan, 1871-1970.

    Returns
    -------
    pandas.DataFrame
        Columns ``year`` and ``flow`` (10^8 m^3), 100 rows. A fresh copy on every call.

    References
    ----------
    .. [1] Cobb GW. The problem of the Nile: conditional solution to a changepoint
       problem. Biometrika 1978;65:243-251.

    Examples
    --------
    >>> from rdstats.datasets import load_nile
    >>> d = load_nile()
    >>> d.shape, int(d.year.iloc[0]), int(d.flow.iloc[0])
    ((100, 2), 1871, 1120)
    """
    out = _read("nile").rename(columns={"flow_1e8_m3": "flow"}).copy(deep=True)
    out.attrs = {"name": "nile", "source": SERIES_SOURCES["nile"]["citation"]}
    return out


def load_coal_dates() -> pd.Series:
    """Decimal dates of the 191 British coal-mining disasters, 1851-1962.

    Examples
    --------
    >>> from rdstats.datasets import load_coal_dates
    >>> load_coal_dates().size
    191
    """
    out = _read("coal_disaster_dates")["date_decimal_year"].copy(deep=True)
    out.attrs = {"name": "coal", "source": SERIES_SOURCES["coal"]["citation"]}
    return out.rename("date")


def load_coal() -> pd.DataFrame:
    """Yearly counts of British coal-mining disasters, 1851-1962 (zero-count years kept).

    Returns
    -------
    pandas.DataFrame
        Columns ``year`` and ``disasters``; 112 rows summing to 191.

    References
    ----------
    .. [1] Jarrett RG. A note on the intervals between coal-mining disasters. Biometrika
       1979;66:191-193.

    Examples
    --------
    >>> from rdstats.datasets import load_coal
    >>> d = load_coal()
    >>> len(d), int(d.disasters.sum()), int(d.disasters.iloc[:40].sum())
    (112, 191, 125)
    """
    dates = load_coal_dates().to_numpy()
    years = np.arange(1851, 1963)
    counts = np.bincount(np.floor(dates).astype(int) - 1851, minlength=years.size)
    out = pd.DataFrame({"year": years, "disasters": counts[: years.size]})
    out.attrs = {"name": "coal", "source": SERIES_SOURCES["coal"]["citation"]}
    return out
