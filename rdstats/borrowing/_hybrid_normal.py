"""NormalHybridControlDesign: a two-arm design for a normal endpoint (known sampling SD)
with a small concurrent control arm whose analysis borrows external controls.

Both arms are summarised by their sample means, ``ybar ~ N(theta, sigma^2 / n)``. Given
the control mean, every criterion of the decision rule is monotone in the treatment mean
(the posterior is stochastically increasing in it), so the set of treatment means that
give a positive decision is an interval ``(a(ybar_c), b(ybar_c))`` found by root finding
(the decision boundary of Schmidli et al. 2014 and RBesT's ``decision2S_boundary``).
The probability of success is then one-dimensional:

    P(success) = int phi(ybar_c; theta_c, se_c) [Phi((b - theta_t)/se_t) - Phi((a - theta_t)/se_t)]

taken by composite Gauss-Legendre quadrature over +-9 standard errors of the control
mean; bias, RMSE and the number of borrowed controls add Gauss-Hermite nodes in the
treatment mean.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import optimize, special

from rdstats.borrowing._hybrid import TwoArmOC
from rdstats.designs import DecisionRule
from rdstats.priors import NormalMixture

Array = NDArray[np.float64]
_Post = tuple[Array, Array, Array]  # weights, means, SDs (N, K)

__all__ = ["NormalEBPowerBorrowing", "NormalHybridControlDesign", "NormalPriorBorrowing"]


def _flat(ybar: Array, se: float) -> _Post:
    n = ybar.size
    return np.ones((n, 1)), ybar[:, None].astype(float), np.full((n, 1), se)


@dataclass(frozen=True, eq=False)
class NormalPriorBorrowing:
    """Control-arm prior for a normal endpoint: a fixed normal mixture (MAP or robust
    MAP mixture, power prior with fixed a0, ...), or ``None`` for a flat prior (no
    borrowing).

    Examples
    --------
    >>> from rdstats.borrowing import NormalPriorBorrowing
    >>> from rdstats.priors import NormalMixture
    >>> b = NormalPriorBorrowing(NormalMixture(1.0, -50.0, 15.0, sigma=88.0), "MAP")
    >>> w, m, s = b.posterior(np.array([-40.0]), n_c=20, sigma=88.0)
    >>> round(float(m[0, 0]), 3), round(float(s[0, 0]), 3)
    (-46.325, 11.929)
    """

    prior: NormalMixture | None = None
    label: str = "prior"

    def __post_init__(self) -> None:
        if self.prior is not None and not isinstance(self.prior, NormalMixture):
            raise TypeError(
                f"prior must be a NormalMixture or None (flat), got {type(self.prior).__name__}"
            )

    @classmethod
    def flat(cls, label: str = "no borrowing") -> NormalPriorBorrowing:
        """No borrowing: a flat control prior (the posterior is N(ybar_c, se_c^2))."""
        return cls(None, label)

    def posterior(self, ybar: Array, n_c: int, sigma: float) -> _Post:
        """Posterior (weights, means, SDs), one row per control mean in ``ybar``."""
        se = sigma / math.sqrt(n_c)
        if self.prior is None:
            return _flat(np.asarray(ybar, dtype=float), se)
        post = self.prior.posterior_batch(np.asarray(ybar, dtype=float), se)
        return (
            np.asarray(post.weights, dtype=float),
            np.asarray(post.param("mean"), dtype=float),
            np.asarray(post.param("sd"), dtype=float),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "NormalPriorBorrowing",
            "label": self.label,
            "prior": None if self.prior is None else self.prior.to_dict(),
        }


@dataclass(frozen=True, eq=False)
class NormalEBPowerBorrowing:
    """Empirical-Bayes power prior for a normal mean (Gravestock & Held 2017): flat
    initial prior, historical mean ``hist_mean`` of ``hist_n`` patients discounted by the
    a0 in [0, a0_max] that maximises the marginal likelihood of the current control mean,
    ``a0 = min(a0_max, s0^2 / (d^2 - se_c^2))`` for ``d^2 > se_c^2`` (else ``a0_max``),
    with ``d = ybar_c - hist_mean``, ``s0^2 = sigma^2 / hist_n``.

    References
    ----------
    .. [1] Gravestock I, Held L. Adaptive power priors with empirical Bayes for clinical
       trials. Pharm Stat 2017;16:349-360.

    Examples
    --------
    >>> from rdstats.borrowing import NormalEBPowerBorrowing
    >>> b = NormalEBPowerBorrowing(hist_mean=-50.0, hist_n=100)
    >>> b.a0(np.array([-50.0, 20.0]), n_c=20, sigma=88.0).round(4)
    array([1.    , 0.0172])
    """

    hist_mean: float
    hist_n: float
    label: str = "EB power prior"
    a0_max: float = 1.0

    def __post_init__(self) -> None:
        if not math.isfinite(float(self.hist_mean)):
            raise ValueError(f"hist_mean must be finite, got {self.hist_mean!r}")
        if not float(self.hist_n) > 0 or not math.isfinite(float(self.hist_n)):
            raise ValueError(f"hist_n must be a positive number, got {self.hist_n!r}")
        if not 0.0 < float(self.a0_max) <= 1.0:
            raise ValueError(f"a0_max must be in (0, 1], got {self.a0_max!r}")

    def a0(self, ybar: Array, n_c: int, sigma: float) -> Array:
        """The empirical-Bayes discount for every control mean in ``ybar``."""
        se2 = sigma**2 / n_c
        s02 = sigma**2 / float(self.hist_n)
        excess = (np.asarray(ybar, dtype=float) - float(self.hist_mean)) ** 2 - se2
        with np.errstate(divide="ignore"):
            a0 = np.where(excess > 0, s02 / np.where(excess > 0, excess, 1.0), np.inf)
        return np.asarray(np.minimum(a0, float(self.a0_max)))

    def posterior(self, ybar: Array, n_c: int, sigma: float) -> _Post:
        y = np.asarray(ybar, dtype=float)
        m0 = self.a0(y, n_c, sigma) * float(self.hist_n)  # borrowed patients
        mean = (m0 * float(self.hist_mean) + n_c * y) / (m0 + n_c)
        sd = sigma / np.sqrt(m0 + n_c)
        return np.ones((y.size, 1)), mean[:, None], sd[:, None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "NormalEBPowerBorrowing",
            "label": self.label,
            "hist_mean": float(self.hist_mean),
            "hist_n": float(self.hist_n),
            "a0_max": float(self.a0_max),
        }


def _check_borrowing(value: Any) -> Any:
    if isinstance(value, NormalMixture):
        return NormalPriorBorrowing(value)
    if value is None:
        return NormalPriorBorrowing.flat()
    if not (hasattr(value, "posterior") and hasattr(value, "label")):
        raise TypeError(
            "borrowing must be a NormalMixture, None (flat), NormalPriorBorrowing, "
            f"NormalEBPowerBorrowing or an object with posterior() and label; got "
            f"{type(value).__name__}"
        )
    return value


@dataclass(frozen=True, eq=False)
class NormalHybridControlDesign(TwoArmOC):
    """Two-arm design for a normal endpoint with a concurrent control arm that borrows
    external controls; operating characteristics by quadrature or simulation.

    Parameters
    ----------
    n_t, n_c : int
        Patients on treatment and on concurrent control.
    sigma : float
        Known sampling SD of one patient's outcome (both arms).
    borrowing : NormalMixture, NormalPriorBorrowing, NormalEBPowerBorrowing or None
        Control-arm mechanism (a NormalMixture means that fixed prior, e.g. a MAP prior's
        ``to_mixture()`` or a robustified one; None a flat prior).
    prior_t : NormalMixture, optional
        Treatment prior (default flat).
    rule : DecisionRule
        Criteria on ``theta_t - theta_c`` (default ``P(theta_t - theta_c > 0) > 0.975``).
    n_panels : int
        Gauss-Legendre panels (16 nodes each) over +-9 SE of the control mean.

    Notes
    -----
    Outcomes per trial as for :class:`HybridControlDesign`: ``success``, ``estimate``
    (posterior mean of the difference), ``post_prob`` (of the rule's first criterion),
    ``control_error`` and ``borrowed`` (``sigma^2 / Var(theta_c | data) - n_c``: the
    effective number of external controls after seeing the data). In exact mode the
    points are quadrature nodes in the two sample means, and ``success`` is the exact
    conditional probability of success given the control mean, so its weighted mean is
    the exact probability of success.

    References
    ----------
    .. [1] Schmidli H, Gsteiger S, Roychoudhury S, O'Hagan A, Spiegelhalter D,
       Neuenschwander B. Robust meta-analytic-predictive priors in clinical trials with
       historical control information. Biometrics 2014;70:1023-1032.

    Examples
    --------
    >>> from rdstats.borrowing import NormalHybridControlDesign
    >>> flat = NormalHybridControlDesign(40, 40, sigma=1.0, borrowing=None)
    >>> oc = flat.oc(theta_t=[0.5], theta_c=[0.0])  # the two-sample z-test
    >>> round(float(oc.loc[0, "p_success"]), 4)
    0.6088
    """

    n_t: int
    n_c: int
    sigma: float
    borrowing: Any = None
    prior_t: NormalMixture | None = None
    rule: DecisionRule = field(default_factory=lambda: DecisionRule(0.975, 0.0))
    n_panels: int = 16

    def __post_init__(self) -> None:
        self._check_counts("n_t", "n_c", "n_panels")
        s = self.sigma
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not 0 < s < math.inf:
            raise ValueError(f"sigma must be a positive finite number, got {s!r}")
        object.__setattr__(self, "borrowing", _check_borrowing(self.borrowing))
        if self.prior_t is not None and not isinstance(self.prior_t, NormalMixture):
            raise TypeError(
                f"prior_t must be a NormalMixture or None, got {type(self.prior_t).__name__}"
            )
        if not isinstance(self.rule, DecisionRule):
            raise TypeError(f"rule must be a DecisionRule, got {type(self.rule).__name__}")

    # -- posteriors -----------------------------------------------------------------------
    @property
    def se_t(self) -> float:
        return float(self.sigma) / math.sqrt(self.n_t)

    @property
    def se_c(self) -> float:
        return float(self.sigma) / math.sqrt(self.n_c)

    def _post_t(self, ybar: Array) -> _Post:
        if self.prior_t is None:
            return _flat(ybar, self.se_t)
        post = self.prior_t.posterior_batch(ybar, self.se_t)
        return (
            np.asarray(post.weights, dtype=float),
            np.asarray(post.param("mean"), dtype=float),
            np.asarray(post.param("sd"), dtype=float),
        )

    def _post_c(self, ybar: Array) -> _Post:
        w, m, s = self.borrowing.posterior(np.asarray(ybar, dtype=float), self.n_c, self.sigma)
        return np.asarray(w), np.asarray(m), np.asarray(s)

    @staticmethod
    def _p_greater(post_t: _Post, post_c: _Post, thr: float) -> Array:
        """P(theta_t - theta_c > thr) for paired rows of the two posteriors."""
        wt, mt, st = post_t
        wc, mc, sc = post_c
        z = (mt[:, :, None] - mc[:, None, :] - thr) / np.sqrt(
            st[:, :, None] ** 2 + sc[:, None, :] ** 2
        )
        return np.asarray(np.einsum("nj,nk,njk->n", wt, wc, special.ndtr(z)))

    def _success_interval(self, ybar_c: Array) -> tuple[Array, Array]:
        """Treatment means (a, b) with a positive decision, for every control mean."""
        post_c = self._post_c(ybar_c)
        n = ybar_c.size
        a, b = np.full(n, -np.inf), np.full(n, np.inf)
        for prob, thr, lower in zip(
            self.rule.prob, self.rule.threshold, self.rule.lower_tail, strict=True
        ):
            # P(diff > thr) is increasing in ybar_t: upper criterion -> ybar_t > root of
            # P = prob; lower criterion (P(diff <= thr) > prob) -> ybar_t < root of P = 1-prob
            target = 1.0 - prob if lower else prob
            root = self._root(post_c, float(thr), float(target), ybar_c)
            if lower:
                b = np.minimum(b, root)
            else:
                a = np.maximum(a, root)
        return a, b

    def _root(self, post_c: _Post, thr: float, target: float, ybar_c: Array) -> Array:
        mean_c = np.sum(post_c[0] * post_c[1], axis=1)
        spread = 20.0 * (self.se_t + float(np.max(post_c[2])))
        lo, hi = mean_c + thr - spread, mean_c + thr + spread

        def f(x: Array) -> Array:
            return self._p_greater(self._post_t(x), post_c, thr) - target

        for _ in range(60):  # widen until the root is bracketed
            f_lo, f_hi = f(lo), f(hi)
            bad_lo, bad_hi = f_lo > 0, f_hi < 0
            if not (bad_lo.any() or bad_hi.any()):
                break
            lo = np.where(bad_lo, lo - 2 * (hi - lo), lo)
            hi = np.where(bad_hi, hi + 2 * (hi - lo), hi)
        else:  # pragma: no cover - a proper posterior always brackets
            raise RuntimeError("the decision boundary could not be bracketed")
        for _ in range(200):  # bisection to double precision of the boundary
            mid = (lo + hi) / 2
            up = f(mid) > 0
            hi, lo = np.where(up, mid, hi), np.where(up, lo, mid)
            if np.all(hi - lo <= 4 * np.finfo(float).eps * np.maximum(1.0, np.abs(mid))):
                break
        return np.asarray((lo + hi) / 2)

    def decision_boundary(self, ybar_c: Any) -> pd.DataFrame:
        """For every control mean, the treatment means that give a positive decision:
        the interval (``lower``, ``upper``); ``critical`` is ``lower`` for upper-tail
        rules (succeed when ybar_t > critical)."""
        y = np.atleast_1d(np.asarray(ybar_c, dtype=float))
        if not np.all(np.isfinite(y)):
            raise ValueError(f"ybar_c must be finite numbers, got {y.tolist()}")
        a, b = self._success_interval(y)
        out = pd.DataFrame({"ybar_c": y, "lower": a, "upper": b})
        out["critical"] = np.where(np.isfinite(a), a, b)
        return out

    # -- engine hooks ---------------------------------------------------------------------
    def _check_scenario(self, params: Mapping[str, float]) -> None:
        for k in self._parameters:
            v = float(params[k])
            if not math.isfinite(v):
                raise ValueError(f"{k} must be a finite mean, got {v!r}")

    def _prepare(self, scenarios: Any) -> None:
        return None

    def _outcomes(
        self, yt: Array, yc: Array, theta_c: float, success: Array | None = None
    ) -> dict[str, Any]:
        post_t, post_c = self._post_t(yt), self._post_c(yc)
        mean_t = np.sum(post_t[0] * post_t[1], axis=1)
        mean_c = np.sum(post_c[0] * post_c[1], axis=1)
        var_c = np.sum(post_c[0] * (post_c[2] ** 2 + post_c[1] ** 2), axis=1) - mean_c**2
        first = None
        ok = np.ones(yt.size, dtype=bool)
        for prob, thr, lower in zip(
            self.rule.prob, self.rule.threshold, self.rule.lower_tail, strict=True
        ):
            p_gt = self._p_greater(post_t, post_c, float(thr))
            crit = 1.0 - p_gt if lower else p_gt
            ok &= crit > prob
            if first is None:
                first = crit
        return {
            "success": ok if success is None else success,
            "n_enrolled": np.full(yt.shape, self.n_t + self.n_c),
            "y_t": yt,
            "y_c": yc,
            "estimate": mean_t - mean_c,
            "post_prob": first,
            "control_error": mean_c - theta_c,
            "borrowed": float(self.sigma) ** 2 / np.maximum(var_c, 1e-300) - self.n_c,
        }

    def _simulate(
        self, params: Mapping[str, float], size: int, rng: np.random.Generator
    ) -> dict[str, Any]:
        tt, tc = float(params["theta_t"]), float(params["theta_c"])
        yt = tt + self.se_t * rng.standard_normal(size)
        yc = tc + self.se_c * rng.standard_normal(size)
        return self._outcomes(yt, yc, tc)

    def _control_nodes(self, theta_c: float) -> tuple[Array, Array]:
        """Composite Gauss-Legendre nodes and probability weights of the control mean."""
        x, w = np.polynomial.legendre.leggauss(16)
        edges = theta_c + self.se_c * np.linspace(-9.0, 9.0, self.n_panels + 1)
        half = np.diff(edges)[:, None] / 2
        nodes = (edges[:-1, None] + half * (x + 1)).ravel()
        dens = np.exp(-0.5 * ((nodes - theta_c) / self.se_c) ** 2) / (
            self.se_c * math.sqrt(2 * math.pi)
        )
        return nodes, (half * w).ravel() * dens

    def _p_success_given_control(self, theta_t: float, yc: Array) -> Array:
        a, b = self._success_interval(yc)
        upper = special.ndtr((b - theta_t) / self.se_t)
        lower = special.ndtr((a - theta_t) / self.se_t)
        return np.asarray(np.clip(upper - lower, 0.0, 1.0))

    def _exact(self, params: Mapping[str, float]) -> tuple[dict[str, Any], Any]:
        tt, tc = float(params["theta_t"]), float(params["theta_c"])
        yc, wc = self._control_nodes(tc)
        p_succ = self._p_success_given_control(tt, yc)
        x, wx = np.polynomial.hermite.hermgauss(24)
        yt = tt + math.sqrt(2.0) * self.se_t * x
        wt = wx / math.sqrt(math.pi)
        g_t, g_c = (g.ravel() for g in np.meshgrid(yt, yc, indexing="ij"))
        succ = np.broadcast_to(p_succ, (yt.size, yc.size)).ravel()
        weights = np.outer(wt, wc).ravel()
        return self._outcomes(g_t, g_c, tc, succ), weights

    # -- user API -------------------------------------------------------------------------
    def calibrate(
        self, theta_c: Any, alpha: float = 0.025, delta: float = 0.0
    ) -> NormalHybridControlDesign:
        """The same design with the posterior-probability threshold of its (single)
        criterion set so that the type I error, ``P(success)`` at ``theta_t = theta_c +
        delta``, is at most ``alpha`` for every control mean in ``theta_c`` (the type I
        error is continuous and decreasing in the threshold: root finding)."""
        if self.rule.prob.size != 1:
            raise ValueError("calibrate() needs a rule with a single criterion")
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        rates = np.atleast_1d(np.asarray(theta_c, dtype=float))
        if rates.size == 0 or not np.all(np.isfinite(rates)):
            raise ValueError(f"theta_c must be finite means, got {rates.tolist()}")

        def with_prob(p: float) -> NormalHybridControlDesign:
            rule = DecisionRule(p, self.rule.threshold, [bool(v) for v in self.rule.lower_tail])
            return NormalHybridControlDesign(
                self.n_t, self.n_c, self.sigma, self.borrowing, self.prior_t, rule, self.n_panels
            )

        def worst(p: float) -> float:
            d = with_prob(p)
            errs = []
            for tc in rates:
                yc, wc = d._control_nodes(float(tc))
                errs.append(float(wc @ d._p_success_given_control(float(tc) + delta, yc)))
            return max(errs) - alpha

        p0 = float(self.rule.prob[0])
        if worst(p0) <= 0:
            return self
        hi = 1.0 - 1e-15
        if worst(hi) > 0:
            raise ValueError("no threshold keeps the type I error at alpha")
        return with_prob(float(optimize.brentq(worst, p0, hi, xtol=1e-14, rtol=1e-12)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "design": "NormalHybridControlDesign",
            "label": self.label,
            "type": "NormalHybridControlDesign",
            "n_t": int(self.n_t),
            "n_c": int(self.n_c),
            "sigma": float(self.sigma),
            "borrowing": self.borrowing.to_dict(),
            "prior_t": None if self.prior_t is None else self.prior_t.to_dict(),
            "rule": self.rule.to_dict(),
            "n_panels": int(self.n_panels),
        }

    def __repr__(self) -> str:
        return (
            f"NormalHybridControlDesign(n_t={self.n_t}, n_c={self.n_c}, sigma={self.sigma}, "
            f"borrowing={self.borrowing.label!r})"
        )
