"""BasketPosterior: the frozen result every basket model returns.

Each basket's response rate ``p_j`` is represented by the density of ``logit p_j`` on a
common, fine logit grid (computed deterministically by the model: quadrature over its
hyperparameters), from which means, quantiles and tail probabilities follow by the
trapezoidal rule. Models that sample (``method="mcmc"``) fill the grid with a kernel
density of the draws and keep the draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special

from rdstats._validation import readonly

Array = NDArray[np.float64]

__all__ = ["LOGIT_GRID", "BasketPosterior", "normalise_density"]

#: default logit grid: 2,401 points on [-12, 12] (p from 6e-6 to 1 - 6e-6), spacing 0.01
LOGIT_GRID = np.linspace(-12.0, 12.0, 2401)


def normalise_density(log_density: Array, grid: Array) -> Array:
    """Densities (rows) on ``grid`` from unnormalised log densities, integrating to one
    by the trapezoidal rule."""
    ld = np.asarray(log_density, dtype=float)
    d = np.exp(ld - ld.max(axis=-1, keepdims=True))
    area = np.trapezoid(d, grid, axis=-1)
    return np.asarray(d / area[..., None])


def _cdf(density: Array, grid: Array) -> Array:
    dx = np.diff(grid)
    inc = 0.5 * (density[..., 1:] + density[..., :-1]) * dx
    c = np.concatenate([np.zeros((*density.shape[:-1], 1)), np.cumsum(inc, axis=-1)], axis=-1)
    return np.asarray(c / c[..., -1:])


@dataclass(frozen=True)
class BasketPosterior:
    """Posterior of the baskets' response rates under one model.

    Attributes
    ----------
    model : str
        Model label (e.g. ``"EXNEX"``, ``"BHM"``, ``"MEM"``).
    r, n : ndarray
        Responders and patients per basket.
    names : list of str
        Basket names.
    grid : ndarray
        Logit grid of the densities.
    density : ndarray
        (K, G) posterior density of ``logit p_j`` on ``grid``.
    p_exchangeable : ndarray or None
        Posterior probability that each basket is exchangeable with the others (EXNEX:
        of the EX component; MEM: see the model).
    tails : ndarray or None
        (K, 2) posterior probability of ``p_j`` below and above the grid's ends (from
        models whose posteriors are known in closed form, e.g. beta mixtures); None means
        the grid holds all the mass. Summaries add these masses at the ends.
    exchangeability : ndarray or None
        (K, K) pairwise posterior exchangeability (MEM).
    level : float
        Level of the reported credible intervals.
    extra : dict
        Model-specific quantities (hyperparameter posteriors, diagnostics, draws).
    provenance : dict
        How the result was produced.
    """

    model: str
    r: NDArray[np.int64]
    n: NDArray[np.int64]
    names: list[str]
    grid: Array
    density: Array
    p_exchangeable: Array | None = None
    exchangeability: Array | None = None
    tails: Array | None = None
    level: float = 0.95
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    provenance: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "density", readonly(np.asarray(self.density, dtype=float)))
        object.__setattr__(self, "grid", readonly(np.asarray(self.grid, dtype=float)))

    @property
    def n_baskets(self) -> int:
        return int(self.r.size)

    def _tails(self) -> tuple[Array, Array]:
        if self.tails is None:
            z = np.zeros(self.n_baskets)
            return z, z
        t = np.asarray(self.tails, dtype=float)
        return t[:, 0], t[:, 1]

    def _moment(self, power: int) -> Array:
        low, high = self._tails()
        p = special.expit(self.grid)
        inner = np.trapezoid(self.density * p**power, self.grid, axis=1)
        edge_lo, edge_hi = special.expit(self.grid[0]) ** power, special.expit(self.grid[-1])
        return np.asarray((1.0 - low - high) * inner + low * edge_lo / 2 + high * (1 + edge_hi) / 2)

    def mean(self) -> Array:
        """Posterior mean of every basket's response rate."""
        return self._moment(1)

    def sd(self) -> Array:
        """Posterior SD of every basket's response rate."""
        return np.asarray(np.sqrt(np.maximum(self._moment(2) - self.mean() ** 2, 0.0)))

    def _full_cdf(self) -> Array:
        low, high = self._tails()
        return np.asarray(
            low[:, None] + (1.0 - low - high)[:, None] * _cdf(self.density, self.grid)
        )

    def cdf(self, p: ArrayLike) -> Array:
        """P(p_j <= p) for every basket (``p`` a scalar or one value per basket)."""
        q = np.broadcast_to(np.asarray(p, dtype=float), (self.n_baskets,))
        if np.any((q < 0) | (q > 1)):
            raise ValueError(f"p must be in [0, 1], got {np.asarray(p).tolist()}")
        c = self._full_cdf()
        with np.errstate(divide="ignore"):
            x = special.logit(q)
        # beyond the grid: 0 below and 1 above (the tail masses lie between)
        return np.array(
            [np.interp(x[k], self.grid, c[k], left=0.0, right=1.0) for k in range(self.n_baskets)]
        )

    def prob_above(self, p0: ArrayLike) -> Array:
        """P(p_j > p0_j) for every basket."""
        return np.asarray(1.0 - self.cdf(p0))

    def quantile(self, q: float) -> Array:
        """Quantile ``q`` of every basket's response rate."""
        if not 0 < q < 1:
            raise ValueError(f"q must be in (0, 1), got {q!r}")
        c = self._full_cdf()
        x = np.array([np.interp(q, c[k], self.grid) for k in range(self.n_baskets)])
        return np.asarray(special.expit(x))

    def summary(self, p0: ArrayLike | None = None) -> pd.DataFrame:
        """Per basket: r, n, observed rate, posterior mean, SD, median and credible
        interval, P(p > p0) if ``p0`` is given, and P(exchangeable) where defined."""
        lo, hi = (1 - self.level) / 2, (1 + self.level) / 2
        with np.errstate(invalid="ignore", divide="ignore"):
            obs = np.where(self.n > 0, self.r / np.maximum(self.n, 1), np.nan)
        out = pd.DataFrame(
            {
                "r": self.r,
                "n": self.n,
                "observed": obs,
                "mean": self.mean(),
                "sd": self.sd(),
                "median": self.quantile(0.5),
                "lower": self.quantile(lo),
                "upper": self.quantile(hi),
            },
            index=pd.Index(self.names, name="basket"),
        )
        if p0 is not None:
            out["prob_above_p0"] = self.prob_above(p0)
        if self.p_exchangeable is not None:
            out["p_exchangeable"] = self.p_exchangeable
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description (summaries, not the densities)."""
        s = self.summary()
        return {
            "model": self.model,
            "level": self.level,
            "baskets": {
                str(k): {c: (None if pd.isna(v) else float(v)) for c, v in row.items()}
                for k, row in s.iterrows()
            },
            "exchangeability": None
            if self.exchangeability is None
            else np.asarray(self.exchangeability).tolist(),
            "provenance": dict(self.provenance),
        }

    def _repr_html_(self) -> str:
        return f"<p><b>{self.model}</b> basket posterior</p>" + self.summary().to_html(
            float_format="{:.4g}".format
        )

    def plot(self, ax: Any = None, p0: ArrayLike | None = None) -> Any:
        """Forest plot of the baskets' posterior medians and credible intervals with the
        observed rates (and ``p0``)."""
        from rdstats.plotting._basket import basket_forest

        return basket_forest(self, ax=ax, p0=p0)
