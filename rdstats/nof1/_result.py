"""JumpResult: the posterior of one patient's change time and jump."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rdstats._validation import readonly, real_number
from rdstats.nof1._families import ChangeFit
from rdstats.nof1._mixture import active, mixture_cdf, mixture_quantile, sustained_probability

Array = NDArray[np.float64]

__all__ = ["JumpResult"]


@dataclass(frozen=True)
class JumpResult:
    """Posterior of a single change ("jump step") in one patient's series.

    Attributes
    ----------
    times, y : ndarray
        Visit times and outcomes analysed (after any dropped missing visits).
    family, direction : str
        Outcome family and the direction of a beneficial jump.
    mcid : float or None
        Clinically meaningful jump (a rate ratio for counts).
    treatment_start : float or None
        Time treatment started.
    prob_change : float
        Posterior probability of a change anywhere in the series.
    bayes_factor : float
        Marginal likelihood of "one change" (averaged over the change-time prior) over
        "no change" (``inf`` beyond the floating-point range; see
        :attr:`log_bayes_factor`).
    prior : ndarray
        Prior probabilities of the candidate change visits given a change.
    weights : ndarray
        Posterior probabilities of (grid value, candidate) pairs, shape (G, n): summed
        over the grid they give :attr:`change_time_posterior`.
    """

    times: Array = field(repr=False)
    y: Array = field(repr=False)
    family: str
    direction: str
    mcid: float | None
    treatment_start: float | None
    level: float
    prob_change: float
    bayes_factor: float
    prior: Array = field(repr=False)
    prior_label: str
    prior_prob_change: float
    weights: Array = field(repr=False)
    fit: ChangeFit = field(repr=False)
    options: dict[str, Any] = field(repr=False)
    provenance: dict[str, Any] = field(repr=False, compare=False)

    @property
    def log_bayes_factor(self) -> float:
        """Natural logarithm of :attr:`bayes_factor` (always finite)."""
        return float(self.options["log_bayes_factor"])

    # -- change time ----------------------------------------------------------------------
    @property
    def change_time_posterior(self) -> pd.Series:
        """P(first post-change visit = t, y) for every candidate visit time ``t``; sums to
        :attr:`prob_change`."""
        return pd.Series(
            self.weights.sum(axis=0)[1:],
            index=pd.Index(self.times[1:], name="change_time"),
            name="posterior",
        )

    @property
    def map_change_time(self) -> float:
        """Most probable first post-change visit time."""
        return float(self.times[1:][np.argmax(self.weights.sum(axis=0)[1:])])

    def credible_set(self, level: float | None = None) -> NDArray[np.float64]:
        """Smallest set of candidate change times holding ``level`` of the posterior
        given a change (sorted times)."""
        lev = self.level if level is None else real_number(level, "level")
        if not 0 < lev <= 1:
            raise ValueError(f"level must be in (0, 1], got {level!r}")
        p = self.weights.sum(axis=0)[1:] / self.prob_change
        order = np.argsort(-p, kind="stable")
        k = int(np.searchsorted(np.cumsum(p[order]), lev - 1e-12)) + 1
        return np.sort(self.times[1:][order[:k]])

    @property
    def grid_posterior(self) -> pd.Series | None:
        """Posterior of the nuisance grid (AR(1) coefficient or count trend), if any."""
        if self.fit.grid_name is None:
            return None
        null = self.options["null_weights"]
        post = pd.Series(
            self.weights.sum(axis=1) + null,
            index=pd.Index(self.fit.grid, name=self.fit.grid_name),
            name="posterior",
        )
        return post.groupby(level=0, sort=True).sum()  # (rho, g) grids: sum over g

    # -- jump -----------------------------------------------------------------------------
    def _mask(self, after_start: bool) -> Array:
        w = self.weights.copy()
        if after_start and self.treatment_start is not None:
            w[:, self.times < self.treatment_start] = 0.0
        return w

    def jump_cdf(self, x: float) -> float:
        """P(jump <= x | a change)."""
        return mixture_cdf(self.fit.components, self.weights, real_number(x, "x"))

    def jump_quantile(self, p: float) -> float:
        """Quantile of the jump given a change."""
        q = real_number(p, "p")
        if not 0 < q < 1:
            raise ValueError(f"p must be in (0, 1), got {p!r}")
        return mixture_quantile(self.fit.components, self.weights, q)

    @property
    def jump(self) -> pd.Series:
        """Posterior of the jump given a change: mean, median and equal-tailed interval
        (a rate ratio for counts, the score scale for ordinal outcomes). The mean of a
        rate ratio is infinite when a possible change leaves no events before it; counts
        therefore also report the geometric mean ``exp(E[log ratio])``."""
        c, w = active(self.fit.components, self.weights)
        w = w / w.sum()
        cm = c.mean()
        mean = float(np.sum(w * cm)) if np.all(np.isfinite(cm)) else math.inf
        lo, hi = (1 - self.level) / 2, (1 + self.level) / 2
        out = {"mean": mean}
        if self.family == "poisson":
            out["geometric_mean"] = float(np.exp(np.sum(w * c.log_mean())))
        out.update(
            median=self.jump_quantile(0.5),
            lower=self.jump_quantile(lo),
            upper=self.jump_quantile(hi),
            level=self.level,
        )
        return pd.Series(out, name="jump" if self.family != "poisson" else "rate_ratio")

    def _threshold(self, mcid: float | None) -> float:
        m = self.mcid if mcid is None else real_number(mcid, "mcid")
        if m is None:
            raise ValueError("give mcid (here or to detect_jump)")
        return m

    def prob_jump_exceeds(self, mcid: float | None = None, *, after_start: bool = True) -> float:
        """Posterior probability of a change (at or after treatment start, unless
        ``after_start=False``) whose jump is beyond the MCID in the beneficial
        direction: ``delta > mcid`` (increase) or ``delta < -mcid`` (decrease); for
        counts the rate ratio ``> mcid`` or ``< mcid``."""
        return float(np.sum(self._mask(after_start) * self.exceedance(mcid)))

    def exceedance(self, mcid: float | None = None) -> Array:
        """P(jump beyond the MCID | change visit, grid value) for every component, shape
        (G, n)."""
        m = self._threshold(mcid)
        c = self.fit.components
        if self.direction == "increase":
            return np.asarray(c.sf(m))
        return np.asarray(1.0 - c.sf(m if self.family == "poisson" else -m))

    def sustained(self, k: int, mcid: float | None = None, *, after_start: bool = True) -> float:
        """Probability that the effect is beyond the MCID at the change and still at the
        ``k``-th visit after it (``k = 1``: the first post-change visit). Under the slope
        model the effect at that visit is ``delta + gamma (t_{j+k-1} - t_j)`` (times
        beyond the last visit extrapolated with the time unit); under level-only models
        the jump is constant and this equals :meth:`prob_jump_exceeds`."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer (visits), got {k!r}")
        if self.fit.joint is None:
            return self.prob_jump_exceeds(mcid, after_start=after_start)
        m = self._threshold(mcid)
        mean, scale, df = self.fit.joint
        n = self.times.size
        idx = np.arange(n)
        last = idx + k - 1
        unit = float(self.options["unit"])
        t_end = np.where(
            last < n, self.times[np.minimum(last, n - 1)], self.times[-1] + (last - n + 1) * unit
        )
        lag = np.broadcast_to(t_end - self.times, mean.shape[:-1])
        sign = 1.0 if self.direction == "increase" else -1.0
        flip = np.array([[sign, 0.0], [0.0, sign]])
        p = sustained_probability(sign * mean, flip @ scale @ flip, df, lag, m)
        return float(np.sum(self._mask(after_start) * p))

    # -- fitted values and presentation --------------------------------------------------
    def fitted(self) -> pd.DataFrame:
        """Observed values and the posterior-mean path of the more probable model: given
        the most probable change (and grid value) when P(change) >= 0.5, otherwise
        without a change."""
        from rdstats.nof1._fitted import fitted_path

        if self.prob_change >= 0.5:
            g, j = np.unravel_index(int(np.argmax(self.weights)), self.weights.shape)
            path = fitted_path(self, int(g), int(j))
        else:
            path = fitted_path(self, int(np.argmax(self.options["null_weights"])), None)
        return pd.DataFrame({"time": self.times, "y": self.y, "fitted": path})

    def summary(self) -> pd.DataFrame:
        """One-row table: P(change), Bayes factor, most probable change time and credible
        set, jump mean (geometric mean of the rate ratio for counts) and interval, and
        P(jump beyond MCID) when an MCID is set."""
        cs = self.credible_set()
        j = self.jump
        row: dict[str, Any] = {
            "prob_change": self.prob_change,
            "bayes_factor": self.bayes_factor,
            "map_change_time": self.map_change_time,
            "credible_set_from": float(cs.min()),
            "credible_set_to": float(cs.max()),
            "jump_mean": j["geometric_mean"] if self.family == "poisson" else j["mean"],
            "jump_lower": j["lower"],
            "jump_upper": j["upper"],
        }
        if self.mcid is not None:
            row["prob_jump_exceeds_mcid"] = self.prob_jump_exceeds()
        return pd.DataFrame([row])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        post = self.change_time_posterior
        return {
            "family": self.family,
            "direction": self.direction,
            "mcid": self.mcid,
            "treatment_start": self.treatment_start,
            "level": self.level,
            "prob_change": self.prob_change,
            "bayes_factor": self.bayes_factor,
            "log_bayes_factor": self.log_bayes_factor,
            "prior": self.prior_label,
            "change_time_posterior": {str(k): float(v) for k, v in post.items()},
            "jump": {k: float(v) for k, v in self.jump.items()},
            "options": {k: v for k, v in self.options.items() if k != "null_weights"},
            "provenance": dict(self.provenance),
        }

    def _repr_html_(self) -> str:
        return (
            f"<p><b>Jump detection</b> ({self.family}, {self.prior_label} change prior)</p>"
            + self.summary().to_html(index=False, float_format="{:.4g}".format)
        )

    def plot(self, ax: Any = None) -> Any:
        """Three panels: the series with the fitted segments, the posterior of the change
        time, and the posterior density of the jump with the MCID."""
        from rdstats.plotting._nof1 import jump_plot

        return jump_plot(self, ax=ax)


def frozen(a: Array) -> Array:
    return readonly(np.asarray(a, dtype=float))
