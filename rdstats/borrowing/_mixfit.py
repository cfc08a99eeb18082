"""Fitting beta, normal and gamma mixtures to samples or weighted points by EM.

A MAP prior is usually available as MCMC draws or as a quadrature representation
(points with weights); conjugate updating needs it as a parametric mixture. The
expectation-maximisation algorithm of Dempster, Laird and Rubin (1977) is run on the
(weighted) points from several deterministic starts and finished by quasi-Newton
(BFGS) steps on the same likelihood, which converge where EM crawls; the number of
components is chosen by AIC or BIC.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special

from rdstats._provenance import provenance
from rdstats._validation import as_float_array
from rdstats._warnings import ConvergenceWarning
from rdstats.priors import BetaMixture, GammaMixture, Mixture, NormalMixture

__all__ = ["DEFAULT_N_OBS", "MixtureFit", "fit_mixture"]

Array = NDArray[np.float64]
Family = Literal["beta", "normal", "gamma"]
_State = tuple[Array, Array, Array]  # weights, first and second component parameters

#: Nominal sample size of weighted points when ``n_obs`` is not given: the number of
#: MCMC draws RBesT keeps by default, so that information criteria choose comparably.
DEFAULT_N_OBS = 4000

_FAMILIES = ("beta", "normal", "gamma")
_PILOT_ITER = 10  # EM iterations from every start before the best start is continued
_EM_ITER = 30  # EM iterations (pilot included) before the quasi-Newton finish
_MIN_WEIGHT = 1e-6  # lighter components are dropped
_MIN_REL_SD = 1e-6  # components narrower than this fraction of the data's sd are dropped
_MAX_SHAPE = 1e8  # upper bound of beta and gamma shape parameters
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


@dataclass
class _Points:
    """Validated points with normalised weights and the family's design matrices."""

    x: Array
    w: Array
    stats: Array  # rows whose weighted sums are the M-step's sufficient statistics
    design: Array  # rows whose linear combinations give the component log densities
    mean: float
    sd: float
    n_distinct: int


# -- component densities and M-steps --------------------------------------------------
def _logpdf(family: str, pts: _Points, p: Array, q: Array, logw: Array) -> Array:
    """Matrix (components x points) of ``log w_k + log f_k(x_i)``."""
    if family == "normal":
        z = pts.x - p[:, None]
        z *= (1.0 / q)[:, None]
        z *= z
        z *= -0.5
        z += (logw - np.log(q) - _LOG_SQRT_2PI)[:, None]
        return z
    if family == "beta":
        coef = np.stack([p - 1.0, q - 1.0, logw - special.betaln(p, q)], axis=1)
    else:
        coef = np.stack([p - 1.0, -q, logw + p * np.log(q) - special.gammaln(p)], axis=1)
    return np.einsum("ks,sn->kn", coef, pts.design)


def _beta_objective(a: Array, b: Array, s1: Array, s2: Array) -> Array:
    return np.asarray((a - 1.0) * s1 + (b - 1.0) * s2 - special.betaln(a, b))


def _beta_mstep(s1: Array, s2: Array, a0: Array, b0: Array, constrain: bool) -> tuple[Array, Array]:
    """Maximise the concave ``(a-1) s1 + (b-1) s2 - log B(a, b)``, optionally on a, b >= 1.

    Damped Newton steps from ``(a0, b0)`` towards the free optimum (the digamma
    equations ``psi(a) - psi(a+b) = s1``, ``psi(b) - psi(a+b) = s2``). With
    ``constrain`` an infeasible optimum is replaced by the best point on the faces
    ``a = 1`` (optimum ``b = -1/s2``) and ``b = 1`` (``a = -1/s1``), where a concave
    function whose free maximum lies outside the box a, b >= 1 takes its box maximum.
    The result never has a smaller objective than a feasible ``(a0, b0)``.
    """
    k = a0.size
    a, b = a0, b0
    f0 = f = _beta_objective(a, b, s1, s2)
    for _ in range(50):
        ab = np.concatenate([a, b, a + b])
        psi, tri = special.digamma(ab), special.zeta(2.0, ab)
        g1 = s1 - psi[:k] + psi[2 * k :]
        g2 = s2 - psi[k : 2 * k] + psi[2 * k :]
        tab = tri[2 * k :]
        h11, h22 = tab - tri[:k], tab - tri[k : 2 * k]
        det = h11 * h22 - tab * tab
        with np.errstate(all="ignore"):  # det underflows for extreme (a, b): no step there
            da = (tab * g2 - h22 * g1) / det
            db = (tab * g1 - h11 * g2) / det
        stuck = ~(np.isfinite(da) & np.isfinite(db) & (det > 0))
        da, db = np.where(stuck, 0.0, da), np.where(stuck, 0.0, db)
        # no step shrinks a parameter by more than half; then halve until f increases
        t = np.minimum(0.5 * a / np.maximum(-da, 0.5 * a), 0.5 * b / np.maximum(-db, 0.5 * b))
        for _ in range(50):
            an, bn = a + t * da, b + t * db
            fn = _beta_objective(an, bn, s1, s2)
            worse = fn < f - 1e-13 * (1.0 + np.abs(f))
            if not worse.any():
                break
            t = np.where(worse, 0.5 * t, t)
        an, bn, fn = np.where(worse, a, an), np.where(worse, b, bn), np.where(worse, f, fn)
        small = np.maximum(np.abs(an - a) / a, np.abs(bn - b) / b).max() <= 1e-10
        a, b, f = an, bn, fn
        if small:  # converged, or no further increase is possible in floating point
            break
    a, b = np.minimum(a, _MAX_SHAPE), np.minimum(b, _MAX_SHAPE)
    if not constrain or ((a >= 1.0) & (b >= 1.0)).all():
        better = _beta_objective(a, b, s1, s2) >= f0
        return np.where(better, a, a0), np.where(better, b, b0)
    best_a, best_b = np.maximum(a0, 1.0), np.maximum(b0, 1.0)
    best_f = _beta_objective(best_a, best_b, s1, s2)
    for ca, cb in (
        (a, b),
        (np.ones_like(a), np.clip(-1.0 / s2, 1.0, _MAX_SHAPE)),
        (np.clip(-1.0 / s1, 1.0, _MAX_SHAPE), np.ones_like(b)),
    ):
        ok = (ca >= 1.0) & (cb >= 1.0)
        fc = _beta_objective(np.maximum(ca, 1.0), np.maximum(cb, 1.0), s1, s2)
        better = ok & (fc > best_f)
        best_a, best_b = np.where(better, ca, best_a), np.where(better, cb, best_b)
        best_f = np.where(better, fc, best_f)
    return best_a, best_b


def _gamma_shape(s: Array) -> Array:
    """Solve ``log(a) - digamma(a) = s`` (s > 0) by Minka's generalised Newton iteration."""
    s = np.maximum(s, 1e-300)
    a = np.minimum((3.0 - s + np.sqrt((s - 3.0) ** 2 + 24.0 * s)) / (12.0 * s), _MAX_SHAPE)
    with np.errstate(all="ignore"):  # fp -> 0 for huge shapes: then a is capped below
        for _ in range(50):
            f = np.log(a) - special.digamma(a) - s
            fp = 1.0 / a - special.zeta(2.0, a)
            inv = 1.0 / a + f / (a * a * fp)
            ok = np.isfinite(inv) & (inv > 0)
            a_new = np.minimum(np.where(ok, 1.0 / np.where(ok, inv, 1.0), 2.0 * a), _MAX_SHAPE)
            done = np.abs(a_new - a) <= 1e-12 * a
            a = a_new
            if done.all():
                break
    return np.asarray(a)


def _from_moments(family: str, m: Array, v: Array, constrain: bool) -> tuple[Array, Array]:
    """Component parameters matching means ``m`` and variances ``v`` (used for starts)."""
    if family == "normal":
        return m.copy(), np.sqrt(v)
    if family == "gamma":
        return m * m / v, m / v
    m = np.clip(m, 1e-6, 1.0 - 1e-6)
    v = np.minimum(v, 0.5 * m * (1.0 - m))
    c = m * (1.0 - m) / v - 1.0
    a, b = m * c, (1.0 - m) * c
    if constrain:
        a, b = np.maximum(a, 1.0), np.maximum(b, 1.0)
    return a, b


def _moments(family: str, p: Array, q: Array) -> tuple[Array, Array]:
    """Component means and standard deviations."""
    if family == "normal":
        return p, q
    if family == "gamma":
        return p / q, np.sqrt(p) / q
    s = p + q
    return p / s, np.sqrt(p * q / (s * s * (s + 1.0)))


# -- one fit from one start ----------------------------------------------------------------
class _Run:
    """EM from one start, then a BFGS finish of the same log-likelihood.

    ``trace`` holds the mean log-likelihood (per unit weight) at the start and after
    every iteration of either phase; both phases never decrease it.
    """

    def __init__(self, family: str, pts: _Points, state: _State, constrain: bool) -> None:
        self.family, self.pts, self.constrain = family, pts, constrain
        self.state = state
        self.ll, self.u = self._evaluate(state)
        self.trace: list[float] = [self.ll]
        self.iterations = 0
        self.converged = False
        self.dropped = 0
        self.change = math.nan

    @property
    def w(self) -> Array:
        return self.state[0]

    def _evaluate(self, state: _State) -> tuple[float, Array]:
        """Mean log-likelihood and the weighted responsibilities ``w_i r_ik`` (K x N)."""
        w, p, q = state
        with np.errstate(divide="ignore"):
            lp = _logpdf(self.family, self.pts, p, q, np.log(w))
        top = lp.max(axis=0)
        lp -= top
        # exp underflow is slow on many CPUs; terms below e^-700 do not change any sum
        np.maximum(lp, -700.0, out=lp)
        np.exp(lp, out=lp)
        tot = lp.sum(axis=0)
        lp *= self.pts.w / tot
        return float(np.einsum("i,i->", self.pts.w, top + np.log(tot))), lp

    def _keep(self, w: Array, p: Array, q: Array) -> NDArray[np.bool_]:
        """Components that are neither too light nor collapsed onto a point."""
        keep = (w >= _MIN_WEIGHT) & (_moments(self.family, p, q)[1] > _MIN_REL_SD * self.pts.sd)
        return np.asarray(keep if keep.any() else w == w.max(), dtype=bool)

    def _mstep(self) -> _State:
        pts, fam = self.pts, self.family
        u = self.u
        pk = u.sum(axis=1)
        st = np.einsum("kn,sn->ks", u, pts.stats) / np.maximum(pk, 1e-300)[:, None]
        mc, m2 = st[:, -2], st[:, -1]
        var = np.maximum(m2 - mc * mc, (_MIN_REL_SD * pts.sd) ** 2)
        _, p_old, q_old = self.state
        if fam == "normal":
            p, q = mc + pts.mean, np.sqrt(var)
        elif fam == "beta":
            p, q = _beta_mstep(st[:, 0], st[:, 1], p_old, q_old, self.constrain)
        else:
            mx = mc + pts.mean
            p = _gamma_shape(np.log(mx) - st[:, 0])
            q = p / mx
        return pk / pk.sum(), p, q

    def _set(self, state: _State) -> None:
        """Move to ``state`` after dropping degenerate components."""
        keep = self._keep(*state)
        if not keep.all():
            self.dropped += int((~keep).sum())
            w, p, q = (arr[keep] for arr in state)
            state = (w / w.sum(), p, q)
        ll, u = self._evaluate(state)
        self.change = ll - self.ll
        self.state, self.ll, self.u = state, ll, u
        self.trace.append(ll)

    def em(self, max_iter: int, tol: float) -> None:
        """EM iterations until the log-likelihood settles (or ``max_iter``)."""
        while not self.converged and self.iterations < max_iter:
            k = self.w.size
            self._set(self._mstep())
            self.iterations += 1
            self.converged = self.w.size == k and abs(self.change) <= tol * max(1.0, abs(self.ll))

    # -- quasi-Newton finish in unconstrained coordinates ------------------------------
    def _pack(self, state: _State, ref: int) -> Array:
        w, p, q = state
        logits = np.delete(np.log(w) - math.log(w[ref]), ref)
        if self.family == "normal":
            return np.concatenate([logits, p / self.pts.sd, np.log(q)])
        if self.family == "beta" and self.constrain:
            return np.concatenate(
                [logits, np.log(np.maximum(p - 1.0, 1e-12)), np.log(np.maximum(q - 1.0, 1e-12))]
            )
        return np.concatenate([logits, np.log(p), np.log(q)])

    def _unpack(self, phi: Array, ref: int) -> _State:
        k = (phi.size + 1) // 3
        eta = np.insert(phi[: k - 1], ref, 0.0)
        w = np.exp(eta - eta.max())
        first, second = phi[k - 1 : 2 * k - 1], phi[2 * k - 1 :]
        if self.family == "normal":
            return w / w.sum(), first * self.pts.sd, np.exp(second)
        if self.family == "beta" and self.constrain:
            return w / w.sum(), 1.0 + np.exp(first), 1.0 + np.exp(second)
        return w / w.sum(), np.exp(first), np.exp(second)

    def _gradient(self, state: _State, u: Array, ref: int) -> Array:
        """Gradient of the mean log-likelihood in the packed coordinates."""
        w, p, q = state
        pts = self.pts
        pk = u.sum(axis=1)
        st = np.einsum("kn,sn->ks", u, pts.stats)
        g_eta = np.delete(pk - w, ref)
        if self.family == "normal":
            mc, s2 = p - pts.mean, q * q
            sx, sxx = st[:, 0], st[:, 1]
            g1 = (sx - pk * mc) / s2 * pts.sd
            g2 = (sxx - 2.0 * mc * sx + pk * mc * mc) / s2 - pk
        elif self.family == "beta":
            k = p.size
            psi = special.digamma(np.concatenate([p, q, p + q]))
            g1 = (st[:, 0] - pk * (psi[:k] - psi[2 * k :])) * (p - 1.0 if self.constrain else p)
            g2 = (st[:, 1] - pk * (psi[k : 2 * k] - psi[2 * k :])) * (
                q - 1.0 if self.constrain else q
            )
        else:
            sx = st[:, 1] + pk * pts.mean
            g1 = p * (pk * (np.log(q) - special.digamma(p)) + st[:, 0])
            g2 = pk * p - q * sx
        return np.concatenate([g_eta, g1, g2])

    def polish(self, max_iter: int, tol: float) -> None:
        """Maximise the log-likelihood by BFGS with a backtracking line search.

        Works in unconstrained coordinates (logits of the weights relative to the
        heaviest component; log parameters, or ``log(a - 1)`` and ``log(b - 1)`` for the
        constrained beta; means in units of the data's sd). Every accepted step
        increases the log-likelihood.
        """
        if self.converged or self.iterations >= max_iter:
            return
        k = self.w.size
        ref = int(np.argmax(self.w))
        phi = self._pack(self.state, ref)
        state = self._unpack(phi, ref)
        ll, u = self._evaluate(state)  # equals self.ll up to rounding in the new coordinates
        grad = self._gradient(state, u, ref)
        hess_inv = np.eye(phi.size) / max(1.0, float(np.abs(grad).max()))
        fresh = True
        n_before = len(self.trace)
        floor = _MIN_REL_SD * self.pts.sd  # no component may collapse onto a point
        while self.iterations < max_iter:
            direction = np.einsum("ij,j->i", hess_inv, grad)
            slope = float(grad @ direction)
            if not slope > 0:
                hess_inv = np.eye(phi.size) / max(1.0, float(np.abs(grad).max()))
                direction = np.einsum("ij,j->i", hess_inv, grad)
                slope, fresh = float(grad @ direction), True
            step = 1.0
            for _ in range(40):
                trial = phi + step * direction
                with np.errstate(all="ignore"):
                    t_state = self._unpack(trial, ref)
                    t_ll, t_u = self._evaluate(t_state)
                    valid = (_moments(self.family, t_state[1], t_state[2])[1] > floor).all()
                if self.family != "normal":
                    valid = valid and max(t_state[1].max(), t_state[2].max()) <= _MAX_SHAPE
                if valid and math.isfinite(t_ll) and t_ll >= ll + 1e-4 * step * slope:
                    break
                step *= 0.5
            else:
                if fresh:
                    self.converged = True  # no ascent left along the gradient
                    break
                hess_inv = np.eye(phi.size) / max(1.0, float(np.abs(grad).max()))
                fresh = True
                continue
            with np.errstate(all="ignore"):
                t_grad = self._gradient(t_state, t_u, ref)
            self.iterations += 1
            change = t_ll - ll
            s, y = trial - phi, grad - t_grad  # y: change of the gradient of -loglik
            phi, state, ll, u, grad = trial, t_state, t_ll, t_u, t_grad
            self.trace.append(ll)
            self.change = change
            if abs(change) <= tol * max(1.0, abs(ll)):
                if step == 1.0 or fresh:
                    self.converged = True
                    break
            sy = float(s @ y)
            if sy > 1e-12 * float(np.sqrt((s @ s) * (y @ y))):
                if fresh:
                    hess_inv = np.eye(phi.size) * (sy / float(y @ y))
                rho = 1.0 / sy
                hy = np.einsum("ij,j->i", hess_inv, y)
                hess_inv = (
                    hess_inv
                    - rho * (np.outer(s, hy) + np.outer(hy, s))
                    + (rho * rho * float(y @ hy) + rho) * np.outer(s, s)
                )
                fresh = False
        if len(self.trace) > n_before:
            self.trace.pop()  # _set records the final value (after any drop) again
            self.ll = self.trace[-1]
            self._set(state)
        self.converged = self.converged and self.w.size == k


def _starts(
    family: str, pts: _Points, k: int, constrain: bool, previous: _Run | None
) -> list[_State]:
    """Deterministic starting values: quantile split, nested scales, previous fit + 1."""
    var = pts.sd**2
    if k == 1:
        p, q = _from_moments(family, np.array([pts.mean]), np.array([var]), constrain)
        return [(np.ones(1), p, q)]
    order = np.argsort(pts.x, kind="stable")
    xs, ws = pts.x[order], pts.w[order]
    group = np.minimum(((np.cumsum(ws) - 0.5 * ws) * k).astype(np.int64), k - 1)
    wg = np.bincount(group, ws, minlength=k)
    ok = wg > 0
    div = np.where(ok, wg, 1.0)
    mg = np.where(ok, np.bincount(group, ws * xs, minlength=k) / div, pts.mean)
    vg = np.bincount(group, ws * (xs - mg[group]) ** 2, minlength=k) / div
    vg = np.where(ok, np.maximum(vg, 1e-4 * var), var)
    wg = np.where(ok, wg, 0.5 / k)
    out = [(wg / wg.sum(), *_from_moments(family, mg, vg, constrain))]
    spread = var * np.geomspace(0.5, 2.0, k) ** 2
    nested = _from_moments(family, np.full(k, pts.mean), spread, constrain)
    out.append((np.full(k, 1.0 / k), *nested))
    if previous is not None and previous.w.size == k - 1:
        w0, p0, q0 = previous.state
        # the K-1 fit plus a wide component
        p1, q1 = _from_moments(family, np.array([pts.mean]), np.array([2.25 * var]), constrain)
        out.append((np.append(0.8 * w0, 0.2), np.append(p0, p1), np.append(q0, q1)))
        # the K-1 fit with its heaviest component split in two, mean and variance kept
        j = int(np.argmax(w0))
        m, sd = (arr[j] for arr in _moments(family, p0, q0))
        halves = _from_moments(
            family, np.array([m - 0.5 * sd, m + 0.5 * sd]), np.full(2, 0.75 * sd * sd), constrain
        )
        rest = np.arange(k - 1) != j
        w_split = np.concatenate([w0[rest], np.full(2, 0.5 * w0[j])])
        out.append(
            (w_split, np.concatenate([p0[rest], halves[0]]), np.concatenate([q0[rest], halves[1]]))
        )
    return out


def _fit_k(
    family: str,
    pts: _Points,
    k: int,
    constrain: bool,
    tol: float,
    max_iter: int,
    previous: _Run | None,
) -> _Run:
    """Best of the deterministic starts after a short EM pilot, then EM and BFGS."""
    runs = [_Run(family, pts, s, constrain) for s in _starts(family, pts, k, constrain, previous)]
    if len(runs) > 1:
        for r in runs:
            r.em(min(_PILOT_ITER, max_iter), tol)
    best = max(runs, key=lambda r: r.ll)  # the first of equals: deterministic
    best.em(min(_EM_ITER, max_iter), tol)
    while True:
        k_now = best.w.size
        best.polish(max_iter, tol)
        if best.converged or best.w.size == k_now or best.iterations >= max_iter:
            return best
        # the finish dropped a component: optimise the remaining ones again
        best.em(min(best.iterations + _EM_ITER, max_iter), tol)


# -- result --------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False, repr=False)
class MixtureFit:
    """A mixture fitted by EM, with the information criteria of every size tried.

    Attributes
    ----------
    mixture : BetaMixture, NormalMixture or GammaMixture
        The fitted mixture, components ordered by decreasing weight.
    family : {"beta", "normal", "gamma"}
        Mixture family.
    n_components : int
        Number of components of ``mixture``.
    loglik : float
        Log-likelihood ``n_obs * sum_i w_i log f(x_i)`` of the fit.
    aic, bic : float
        ``-2 loglik + aic_penalty * p`` and ``-2 loglik + log(n_obs) * p`` with
        ``p = 3K - 1`` free parameters.
    criteria : pandas.DataFrame
        One row per number of components tried: ``K`` (requested), ``n_components``
        (fewer when degenerate components were dropped), ``n_params``, ``loglik``,
        ``aic``, ``bic``, ``converged``, ``iterations``, ``dropped``.
    converged : bool
        Whether the chosen fit met the tolerance.
    iterations : int
        Iterations (EM and quasi-Newton) of the chosen fit.
    trace : tuple of float
        Log-likelihood (on the scale of ``loglik``) at the start and after every
        iteration of the chosen fit: non-decreasing up to rounding, except where a
        degenerate component was dropped.
    n_obs : float
        Nominal sample size of ``loglik`` and the criteria.
    criterion : {"aic", "bic"} or None
        Criterion that chose the number of components; None when it was given.
    aic_penalty : float
        Penalty per parameter in ``aic``.
    dropped : int
        Degenerate components dropped during the chosen fit.
    provenance : dict
        Versions, arguments and time stamp.
    """

    mixture: Mixture
    family: str
    n_components: int
    loglik: float
    aic: float
    bic: float
    criteria: pd.DataFrame
    converged: bool
    iterations: int
    trace: tuple[float, ...]
    n_obs: float
    criterion: str | None
    aic_penalty: float
    dropped: int
    provenance: dict[str, Any] = field(repr=False)

    def __repr__(self) -> str:
        return (
            f"MixtureFit(family={self.family!r}, n_components={self.n_components}, "
            f"loglik={self.loglik:.6g}, aic={self.aic:.6g}, bic={self.bic:.6g}, "
            f"converged={self.converged}, iterations={self.iterations})"
        )

    def summary(self) -> pd.DataFrame:
        """One row per component: weight, parameters and (beta, gamma) mean and sd."""
        table = self.mixture.components()
        if self.family != "normal":  # normal components already show mean and sd
            table["mean"], table["sd"] = _moments(self.family, *self.mixture._params())
        return table

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description; ``["mixture"]`` rebuilds the mixture."""
        return {
            "family": self.family,
            "n_components": self.n_components,
            "loglik": self.loglik,
            "aic": self.aic,
            "bic": self.bic,
            "n_obs": self.n_obs,
            "criterion": self.criterion,
            "aic_penalty": self.aic_penalty,
            "converged": self.converged,
            "iterations": self.iterations,
            "dropped": self.dropped,
            "trace": [float(v) for v in self.trace],
            "mixture": self.mixture.to_dict(),
            "criteria": {
                str(c): [v.item() if isinstance(v, np.generic) else v for v in self.criteria[c]]
                for c in self.criteria.columns
            },
            "provenance": self.provenance,
        }

    def _repr_html_(self) -> str:
        status = "converged" if self.converged else "NOT converged"
        head = (
            f"<p><b>{self.family.capitalize()} mixture fitted by EM</b>: "
            f"{self.n_components} component(s); log-likelihood {self.loglik:.6g}, "
            f"AIC {self.aic:.6g}, BIC {self.bic:.6g} (n_obs = {self.n_obs:g}); "
            f"{status} after {self.iterations} iterations</p>"
        )

        def fmt(v: float) -> str:
            return f"{v:.6g}"

        return (
            head
            + self.summary().to_html(float_format=fmt)
            + self.criteria.to_html(index=False, float_format=fmt)
        )

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Plot the fitted density; returns the matplotlib ``Axes``."""
        return self.mixture.plot(ax=ax, **kwargs)


# -- validation ------------------------------------------------------------------------------
def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def _check_positive_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    return v


def _points(family: str, x: ArrayLike, weights: ArrayLike | None) -> _Points:
    xa = as_float_array(x, "x")
    if xa.ndim != 1 or xa.size == 0:
        raise ValueError(f"x must be a non-empty 1-D array of points, got shape {xa.shape}")
    if weights is None:
        wa = np.full(xa.size, 1.0 / xa.size)
    else:
        wa = as_float_array(weights, "weights")
        if wa.shape != xa.shape:
            raise ValueError(f"weights has shape {wa.shape} but x has shape {xa.shape}")
        if (wa < 0).any():
            i = int(np.argmax(wa < 0))
            raise ValueError(f"weights must be non-negative, got weights[{i}]={float(wa[i])!r}")
        total = float(wa.sum())
        if not total > 0:
            raise ValueError("weights must not all be zero")
        keep = wa > 0
        xa, wa = xa[keep], wa[keep] / total
    if family == "beta":
        bad = (xa <= 0) | (xa >= 1)
        expected = "strictly between 0 and 1 for family='beta'"
    elif family == "gamma":
        bad = xa <= 0
        expected = "strictly positive for family='gamma'"
    else:
        bad = np.zeros(xa.shape, dtype=bool)
        expected = ""
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"x must be {expected}; got x={float(xa[i])!r} ({int(bad.sum())} point(s) outside)"
        )
    n_distinct = int(np.unique(xa).size)
    if n_distinct < 2:
        raise ValueError(
            f"x must hold at least 2 distinct points (with positive weight), got {n_distinct}"
        )
    mean = float(np.einsum("i,i->", wa, xa))
    xc = xa - mean
    sd = math.sqrt(float(np.einsum("i,i,i->", wa, xc, xc)))
    ones = np.ones_like(xa)
    if family == "beta":
        lx, l1x = np.log(xa), np.log1p(-xa)
        design = np.stack([lx, l1x, ones])
        stats = np.stack([lx, l1x, xc, xc * xc])
    elif family == "gamma":
        lx = np.log(xa)
        design = np.stack([lx, xa, ones])
        stats = np.stack([lx, xc, xc * xc])
    else:
        design = np.empty((0, xa.size))
        stats = np.stack([xc, xc * xc])
    return _Points(xa, wa, stats, design, mean, sd, n_distinct)


def _build(family: str, run: _Run, sigma: float | None, likelihood: str) -> Mixture:
    w, p, q = run.state
    order = np.argsort(-w, kind="stable")
    w, p, q = w[order], p[order], q[order]
    w = w / w.sum()
    if family == "beta":
        return BetaMixture(w, p, q)
    if family == "normal":
        return NormalMixture(w, p, q, sigma=sigma)
    return GammaMixture(w, p, q, likelihood=likelihood)  # type: ignore[arg-type]


# -- public function --------------------------------------------------------------------------
def fit_mixture(
    x: ArrayLike,
    family: Family,
    *,
    weights: ArrayLike | None = None,
    n_components: int | None = None,
    max_components: int = 4,
    criterion: Literal["aic", "bic"] = "aic",
    aic_penalty: float = 6.0,
    n_obs: float | None = None,
    constrain: bool = True,
    sigma: float | None = None,
    likelihood: Literal["poisson", "exp"] = "poisson",
    tol: float = 1e-10,
    max_iter: int = 1000,
) -> MixtureFit:
    """Fit a beta, normal or gamma mixture to (weighted) points by maximum likelihood.

    Parameters
    ----------
    x : array_like, 1-D
        Points: draws from the distribution to approximate (e.g. MCMC draws of a MAP
        prior), or quadrature points when ``weights`` are given. Beta: strictly inside
        (0, 1); gamma: strictly positive; never NaN or infinite.
    family : {"beta", "normal", "gamma"}
        Mixture family of the result.
    weights : array_like, optional
        Non-negative weights of the points, normalised internally (zero-weight points
        are ignored): e.g. density x spacing on a grid, to fit a deterministic
        quadrature representation of a density.
    n_components : int, optional
        Fit exactly this many components. By default every K in ``1..max_components``
        is fitted and the K with the smallest ``criterion`` is returned (the smaller K
        on ties).
    max_components : int
        Largest K tried when ``n_components`` is None (at most half the number of
        distinct points).
    criterion : {"aic", "bic"}
        Information criterion that chooses K.
    aic_penalty : float
        Penalty per parameter in the AIC, ``-2 loglik + aic_penalty * p``. The default
        6 is that of RBesT's ``automixfit``, after Collett (2003), who suggests values
        from 2 to 6 to favour fewer components; 2 gives Akaike's criterion. With 2,
        maximum likelihood often adds a narrow component on a chance cluster of draws.
    n_obs : float, optional
        Nominal sample size: the log-likelihood is ``n_obs * sum_i w_i log f(x_i)``
        with normalised weights ``w_i``, and BIC uses ``log(n_obs)``. Defaults to
        ``len(x)`` without weights (the ordinary log-likelihood of the sample) and to
        ``DEFAULT_N_OBS = 4000`` with weights: 4000 is the number of MCMC draws RBesT
        keeps by default, so that AIC chooses K as it would from such a sample.
    constrain : bool
        Beta only: keep both shape parameters of every component >= 1, so that the
        component densities are bounded and the ELIR effective sample size is
        defined (Neuenschwander et al. 2020). Ignored for the other families.
    sigma : float, optional
        Normal only: reference scale stored in the returned ``NormalMixture``.
    likelihood : {"poisson", "exp"}
        Gamma only: data model stored in the returned ``GammaMixture``.
    tol : float
        Convergence: the mean log-likelihood per observation,
        ``sum_i w_i log f(x_i)``, changes by at most ``tol * max(1, |mean|)`` in an
        iteration.
    max_iter : int
        Largest number of iterations per K; a chosen fit that has not converged by
        then issues a ``ConvergenceWarning`` naming the iterations and the last change.

    Returns
    -------
    MixtureFit
        ``.mixture`` is the fitted mixture; ``.criteria`` compares the sizes tried.

    Notes
    -----
    EM: the E-step gives the responsibilities ``r_ik`` of every component for every
    point; the M-step maximises the weighted likelihood of every component with
    weights ``w_i r_ik``: in closed form for the normal; for the beta by damped
    Newton steps on the digamma equations ``psi(a) - psi(a + b) = mean log x``,
    ``psi(b) - psi(a + b) = mean log(1 - x)`` (a concave problem; with ``constrain``
    solved on the box a, b >= 1, whose maximum lies on a face when the free one is
    outside); for the gamma by Minka's (2002) iteration for
    ``log a - psi(a) = log(mean x) - mean log x`` and ``rate = a / mean x``.

    Starts are deterministic: the sorted points split into K groups of equal weight,
    K nested components at the overall mean with spreads 0.5 to 2 times the overall
    sd and, when K is chosen, the best (K-1)-component fit plus a wide component or
    with its heaviest component split in two. Every start runs 10 EM iterations; the
    best runs EM to 30 iterations. EM is monotone but crawls along the flat ridges of
    the likelihood of mixtures with more components than the data support, so the fit
    is finished by BFGS quasi-Newton steps with a backtracking line search on the same
    likelihood (weights as logits, positive parameters on the log scale, beta
    parameters as ``log(a - 1)`` with ``constrain``); every accepted step increases the
    likelihood. Components lighter than 1e-6 or narrower than 1e-6 of the data's sd
    are dropped (counted in ``dropped``) and the rest refitted.

    References
    ----------
    .. [1] Dempster AP, Laird NM, Rubin DB. Maximum likelihood from incomplete data via
       the EM algorithm. Journal of the Royal Statistical Society B 1977;39(1):1-38.
    .. [2] Schmidli H, Gsteiger S, Roychoudhury S, O'Hagan A, Spiegelhalter D,
       Neuenschwander B. Robust meta-analytic-predictive priors in clinical trials with
       historical control information. Biometrics 2014;70(4):1023-1032.
    .. [3] Neuenschwander B, Weber S, Schmidli H, O'Hagan A. Predictively consistent
       prior effective sample sizes. Biometrics 2020;76(2):578-587.
    .. [4] Minka TP. Estimating a gamma distribution. Technical report, Microsoft
       Research, 2002.
    .. [5] Collett D. Modelling Survival Data in Medical Research, 2nd ed. Chapman &
       Hall/CRC, 2003.
    .. [6] Nocedal J, Wright SJ. Numerical Optimization, 2nd ed. Springer, 2006,
       chapter 6 (BFGS).

    Examples
    --------
    Draws of a two-component beta mixture:

    >>> import numpy as np
    >>> from rdstats.borrowing import fit_mixture
    >>> rng = np.random.default_rng(1)
    >>> first = rng.random(4000) < 0.6
    >>> x = np.where(first, rng.beta(19.19, 57.78, 4000), rng.beta(3.5, 9.4, 4000))
    >>> fit = fit_mixture(x, "beta")
    >>> fit.n_components, fit.converged
    (2, True)
    >>> fit.mixture.weights.round(2)
    array([0.6, 0.4])
    >>> bool(abs(fit.mixture.mean() - x.mean()) < 1e-3)
    True

    A density on a grid (quadrature points and weights):

    >>> from scipy import stats
    >>> grid = np.linspace(-200, 100, 3001)
    >>> dens = 0.7 * stats.norm.pdf(grid, -50, 15) + 0.3 * stats.norm.pdf(grid, -40, 40)
    >>> fit = fit_mixture(grid, "normal", weights=dens, n_components=2, sigma=88)
    >>> fit.mixture.mean.round(2), fit.mixture.sd.round(2)
    (array([-50., -40.]), array([15., 40.]))
    """
    if family not in _FAMILIES:
        raise ValueError(f"family must be one of {_FAMILIES}, got {family!r}")
    if criterion not in ("aic", "bic"):
        raise ValueError(f"criterion must be 'aic' or 'bic', got {criterion!r}")
    if likelihood not in ("poisson", "exp"):
        raise ValueError(f"likelihood must be 'poisson' or 'exp', got {likelihood!r}")
    if family != "gamma" and likelihood != "poisson":
        raise ValueError(f"likelihood applies to family='gamma' only, got family={family!r}")
    if sigma is not None:
        if family != "normal":
            raise ValueError(f"sigma applies to family='normal' only, got family={family!r}")
        sigma = _check_positive_number(sigma, "sigma")
    if not isinstance(constrain, (bool, np.bool_)):
        raise TypeError(f"constrain must be True or False, got {constrain!r}")
    aic_penalty = _check_positive_number(aic_penalty, "aic_penalty")
    tol = _check_positive_number(tol, "tol")
    max_iter = _check_int(max_iter, "max_iter", 1)
    max_components = _check_int(max_components, "max_components", 1)
    if n_components is not None:
        n_components = _check_int(n_components, "n_components", 1)
    n_obs_f = None if n_obs is None else _check_positive_number(n_obs, "n_obs")
    pts = _points(family, x, weights)
    if n_obs_f is None:
        n_obs_f = float(DEFAULT_N_OBS if weights is not None else pts.x.size)
    k_max = max(pts.n_distinct // 2, 1)
    if n_components is not None:
        if n_components > k_max:
            raise ValueError(
                f"n_components={n_components} needs at least {2 * n_components} distinct "
                f"points, x has {pts.n_distinct}"
            )
        sizes = [n_components]
    else:
        sizes = list(range(1, min(max_components, k_max) + 1))

    rows: list[dict[str, Any]] = []
    runs: list[_Run] = []
    previous: _Run | None = None
    for k in sizes:
        run = _fit_k(family, pts, k, bool(constrain), tol, max_iter, previous)
        n_par = 3 * run.w.size - 1
        loglik = n_obs_f * run.ll
        rows.append(
            {
                "K": k,
                "n_components": int(run.w.size),
                "n_params": n_par,
                "loglik": loglik,
                "aic": -2.0 * loglik + aic_penalty * n_par,
                "bic": -2.0 * loglik + math.log(n_obs_f) * n_par,
                "converged": bool(run.converged),
                "iterations": int(run.iterations),
                "dropped": int(run.dropped),
            }
        )
        runs.append(run)
        if run.w.size == k:
            previous = run
    criteria = pd.DataFrame(rows)
    best = 0 if n_components is not None else int(np.argmin(criteria[criterion].to_numpy()))
    run, row = runs[best], rows[best]
    if not run.converged:
        warnings.warn(
            f"the {family} mixture fit with {row['K']} component(s) did not converge in "
            f"{run.iterations} iterations: the last change in mean log-likelihood was "
            f"{run.change:.3g} (tol={tol:g}); increase max_iter",
            ConvergenceWarning,
            stacklevel=2,
        )
    if run.dropped and n_components is not None:
        warnings.warn(
            f"{run.dropped} degenerate component(s) dropped: the fit has {run.w.size} "
            f"component(s) instead of n_components={n_components}",
            ConvergenceWarning,
            stacklevel=2,
        )
    args = {
        "family": family,
        "n_points": int(pts.x.size),
        "weighted": weights is not None,
        "n_components": n_components,
        "max_components": max_components,
        "criterion": criterion,
        "aic_penalty": aic_penalty,
        "n_obs": n_obs_f,
        "constrain": bool(constrain),
        "sigma": sigma,
        "likelihood": likelihood,
        "tol": tol,
        "max_iter": max_iter,
    }
    return MixtureFit(
        mixture=_build(family, run, sigma, likelihood),
        family=family,
        n_components=int(run.w.size),
        loglik=float(row["loglik"]),
        aic=float(row["aic"]),
        bic=float(row["bic"]),
        criteria=criteria,
        converged=bool(run.converged),
        iterations=int(run.iterations),
        trace=tuple(n_obs_f * v for v in run.trace),
        n_obs=n_obs_f,
        criterion=criterion if n_components is None else None,
        aic_penalty=aic_penalty,
        dropped=int(run.dropped),
        provenance=provenance(args),
    )
