"""Historical study data for random-effects meta-analysis: validation and the link-scale
likelihood of each family (binomial-logit, normal-identity, Poisson-log)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["FAMILIES", "Studies", "as_studies", "expit", "logit"]

FAMILIES = ("binomial", "normal", "poisson")
_COLUMNS = {
    "binomial": ("r", "n"),
    "normal": ("mean", "se"),
    "poisson": ("events", "exposure"),
}


def expit(x: Any) -> Any:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))


def logit(p: Any) -> Any:
    p = np.asarray(p, dtype=float)
    return np.log(p) - np.log1p(-p)


@dataclass(frozen=True, eq=False)
class Studies:
    """Validated historical data of one family (arrays read-only, one entry per study)."""

    family: str
    names: tuple[str, ...]
    y: NDArray[np.float64]  # r, mean or events
    n: NDArray[np.float64]  # n, (n or nan), exposure
    se: NDArray[np.float64]  # normal only (else nan)
    sigma: float  # reference scale of one observation (normal; 2 for binomial, 1 Poisson)
    stratum: NDArray[np.intp]  # tau stratum of each study
    strata: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.names)

    def raw_estimates(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Study estimates and standard errors on the link scale (0.5 continuity
        correction for zero cells), for plots and starting values."""
        if self.family == "normal":
            return self.y.copy(), self.se.copy()
        if self.family == "binomial":
            r, n = self.y, self.n
            est = np.log((r + 0.5) / (n - r + 0.5))
            return est, np.sqrt(1 / (r + 0.5) + 1 / (n - r + 0.5))
        est = np.log((self.y + 0.5) / self.n)
        return est, np.sqrt(1 / (self.y + 0.5))

    def response(self, theta: Any) -> Any:
        """Inverse link: link scale to the response scale."""
        if self.family == "binomial":
            return expit(theta)
        if self.family == "poisson":
            return np.exp(theta)
        return np.asarray(theta, dtype=float)

    def observed(self) -> NDArray[np.float64]:
        """Observed study estimates on the response scale."""
        if self.family == "binomial":
            return self.y / self.n
        if self.family == "poisson":
            return self.y / self.n
        return self.y.copy()

    def table(self) -> pd.DataFrame:
        cols = _COLUMNS[self.family]
        out = pd.DataFrame({"study": list(self.names)})
        if self.family == "normal":
            out["mean"], out["se"] = self.y, self.se
            if not np.isnan(self.n).all():
                out["n"] = self.n
        else:
            out[cols[0]], out[cols[1]] = self.y, self.n
        if len(self.strata) > 1:
            out["stratum"] = [self.strata[i] for i in self.stratum]
        return out


def _column(data: pd.DataFrame, name: str, family: str) -> NDArray[np.float64]:
    if name not in data.columns:
        need = ", ".join(("study", *_COLUMNS[family]))
        raise ValueError(
            f"data for family={family!r} needs columns {need}; column {name!r} is missing "
            f"(got {list(data.columns)})"
        )
    try:
        col = np.asarray(pd.to_numeric(data[name]), dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"data column {name!r} must be numeric: {err}") from None
    bad = np.flatnonzero(~np.isfinite(col))
    if bad.size:
        raise ValueError(
            f"data column {name!r} has missing or non-finite values in rows {bad.tolist()}"
        )
    return col


def _rows(mask: NDArray[np.bool_], names: tuple[str, ...]) -> str:
    return ", ".join(names[i] for i in np.flatnonzero(mask))


def as_studies(
    data: Any, family: str, *, sigma: float | None = None, strata: str | None = None
) -> Studies:
    """Validate a DataFrame (or mapping of columns) of historical studies."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    if isinstance(data, dict):
        data = pd.DataFrame(data)
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError("data has no studies")
    names = tuple(
        str(s) for s in (data["study"] if "study" in data.columns else range(1, len(data) + 1))
    )
    nan = np.full(len(data), np.nan)
    if family == "binomial":
        r, n = _column(data, "r", family), _column(data, "n", family)
        for arr, nm in ((r, "r"), (n, "n")):
            frac = arr != np.round(arr)
            if frac.any():
                raise ValueError(f"{nm} must be whole numbers; not in studies {_rows(frac, names)}")
        if (n <= 0).any():
            raise ValueError(f"n must be positive; n = 0 or less in studies {_rows(n <= 0, names)}")
        if (r < 0).any():
            raise ValueError(f"r must be non-negative; r < 0 in studies {_rows(r < 0, names)}")
        if (r > n).any():
            i = int(np.flatnonzero(r > n)[0])
            raise ValueError(f"r={int(r[i])} exceeds n={int(n[i])} in study {names[i]!r}")
        y, nn, se, ref = r, n, nan, 2.0
    elif family == "poisson":
        ev, ex = _column(data, "events", family), _column(data, "exposure", family)
        if (ev < 0).any() or (ev != np.round(ev)).any():
            bad = (ev < 0) | (ev != np.round(ev))
            raise ValueError(
                f"events must be whole numbers >= 0; not in studies {_rows(bad, names)}"
            )
        if (ex <= 0).any():
            raise ValueError(f"exposure must be positive; not in studies {_rows(ex <= 0, names)}")
        y, nn, se, ref = ev, ex, nan, 1.0
    else:
        y, se = _column(data, "mean", family), _column(data, "se", family)
        if (se <= 0).any():
            i = int(np.flatnonzero(se <= 0)[0])
            raise ValueError(f"se must be positive, got se={se[i]:g} in study {names[i]!r}")
        nn = _column(data, "n", family) if "n" in data.columns else nan
        if "n" in data.columns and (nn <= 0).any():
            raise ValueError(f"n must be positive; not in studies {_rows(nn <= 0, names)}")
        if sigma is not None:
            if not isinstance(sigma, (int, float)) or not math.isfinite(sigma) or sigma <= 0:
                raise ValueError(f"sigma must be a positive number, got {sigma!r}")
            ref = float(sigma)
        elif "n" in data.columns:
            # each study implies sigma_h^2 = n_h se_h^2; pool them weighted by n_h
            ref = float(np.sqrt(np.sum(nn * nn * se**2) / np.sum(nn)))
        else:
            ref = float("nan")
    if strata is None:
        stratum = np.zeros(len(data), dtype=np.intp)
        labels: tuple[str, ...] = ("all",)
    else:
        if strata not in data.columns:
            raise ValueError(f"strata={strata!r} is not a column of data ({list(data.columns)})")
        codes, uniques = pd.factorize(data[strata], sort=True)
        if (codes < 0).any():
            raise ValueError(f"strata column {strata!r} has missing values")
        stratum = codes.astype(np.intp)
        labels = tuple(str(u) for u in uniques)
    yy, na, sa = (np.ascontiguousarray(a, dtype=float) for a in (y, nn, se))
    for a in (yy, na, sa, stratum):
        a.flags.writeable = False
    return Studies(family, names, yy, na, sa, sigma=ref, stratum=stratum, strata=labels)
