"""Numerical core of the mixture fit: component densities and M-steps, EM from
deterministic starts with a BFGS finish, for beta, normal and gamma mixtures."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import special

Array = NDArray[np.float64]
_State = tuple[Array, Array, Array]  # weights, first and second component parameters

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
