"""Adaptive composite Gauss-Legendre quadrature and distributions represented by it,
shared by the power and commensurate priors and the ESS of large mixtures."""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from rdstats._validation import as_float_array, check_probability, readonly
from rdstats._warnings import ConvergenceWarning
from rdstats.borrowing._dist_summary import SummaryMixin

__all__ = ["QuadratureDistribution", "adaptive_rule"]

Array = NDArray[np.float64]


# -- adaptive composite Gauss-Legendre ---------------------------------------------------
@functools.lru_cache(maxsize=8)
def _legendre(m: int) -> tuple[Array, Array, Array]:
    """Gauss-Legendre nodes and weights on [-1, 1] and the matrix taking values at the
    nodes to the Legendre coefficients of the interpolating polynomial."""
    x, w = np.polynomial.legendre.leggauss(m)
    vander = np.polynomial.legendre.legvander(x, m - 1)
    to_coef = (np.arange(m) + 0.5)[:, None] * (vander * w[:, None]).T
    for arr in (x, w, to_coef):
        arr.flags.writeable = False
    return x, w, to_coef


@dataclass(frozen=True)
class Rule:
    """Composite Gauss-Legendre rule: ``P`` panels of ``m`` nodes on the working axis."""

    edges: Array  # (P + 1,)
    nodes: Array  # (P, m)
    weights: Array  # (P, m): quadrature weights (panel half-width times GL weight)
    logvals: Array  # (P, m, M): log integrands at the nodes
    extras: Array | None = None  # (P, m, E): passive values carried along (not refined on)


def adaptive_rule(
    logf: Callable[[Array], Array],
    edges: ArrayLike,
    *,
    order: int = 16,
    rtol: float = 1e-11,
    max_panels: int = 3000,
    extend: tuple[float, float] | None = None,
) -> Rule:
    """Adaptive composite Gauss-Legendre rule for one or several log-integrands.

    Panels whose interpolating Legendre series has non-negligible trailing coefficients
    (relative to the total integral, for any of the integrands) are halved until the
    integrands are resolved, so that the rule integrates them and also interpolates them
    (for densities and distribution functions) to about ``rtol``.

    Parameters
    ----------
    logf : callable
        Maps an array of points ``(N,)`` to log-integrands ``(N,)`` or ``(N, M)``, or to a
        pair ``(log-integrands, extras)`` where ``extras (N, E)`` are values that are kept
        with the nodes (e.g. signed factors) without steering the refinement.
    edges : array_like
        Initial panel edges (increasing, finite).
    order : int
        Nodes per panel.
    rtol : float
        Relative tolerance of the trailing-coefficient test.
    max_panels : int
        Refinement stops (with a :class:`rdstats.ConvergenceWarning`) at this many panels.
    extend : (float, float), optional
        Bounds of the working axis: the edges are first extended outwards by panels of
        doubling width, up to these bounds, until the integrands at the ends have fallen
        below ``exp(-40)`` times their largest value (slowly decaying tails).
    """
    x, w, to_coef = _legendre(order)
    e = np.asarray(edges, dtype=float)
    if extend is not None:
        e = _extend_edges(logf, e, extend)
    lo, hi = e[:-1], e[1:]

    def evaluate(a: Array, b: Array) -> tuple[Array, Array]:
        mid, half = (a + b) / 2, (b - a) / 2
        pts = mid[:, None] + half[:, None] * x
        out = logf(pts.ravel())
        raw, raw_extra = out if isinstance(out, tuple) else (out, np.zeros((pts.size, 0)))
        vals = np.asarray(raw, dtype=float).reshape((*pts.shape, -1))
        extra = np.asarray(raw_extra, dtype=float).reshape((*pts.shape, -1))
        if np.isnan(vals).any():
            raise FloatingPointError("the integrand evaluated to NaN (internal error)")
        return vals, extra

    logv, ext = evaluate(lo, hi)
    while True:
        half = (hi - lo) / 2
        shift = np.max(logv, axis=(0, 1))
        shift = np.where(np.isfinite(shift), shift, 0.0)
        vals = np.exp(logv - shift)  # (P, m, M)
        integral = half[:, None] * np.einsum("j,pjm->pm", w, vals)
        total = integral.sum(axis=0)
        coef = np.einsum("kj,pjm->pkm", to_coef, vals)
        err = half[:, None] * (np.abs(coef[:, -1]) + np.abs(coef[:, -2]))
        bad = np.any(err > rtol * np.maximum(total, 1e-300), axis=1)
        if not bad.any():
            break
        if lo.size + bad.sum() > max_panels:
            warnings.warn(
                f"adaptive quadrature stopped at {lo.size} panels (max_panels={max_panels}) "
                "before reaching its tolerance; results may be inaccurate",
                ConvergenceWarning,
                stacklevel=3,
            )
            break
        mid = (lo[bad] + hi[bad]) / 2
        left, right = evaluate(lo[bad], mid), evaluate(mid, hi[bad])
        new_lo = np.concatenate([lo[~bad], lo[bad], mid])
        new_hi = np.concatenate([hi[~bad], mid, hi[bad]])
        new_v = np.concatenate([logv[~bad], left[0], right[0]])
        new_e = np.concatenate([ext[~bad], left[1], right[1]])
        order_ = np.argsort(new_lo, kind="stable")
        lo, hi, logv, ext = new_lo[order_], new_hi[order_], new_v[order_], new_e[order_]
    half = (hi - lo) / 2
    nodes = (lo + hi)[:, None] / 2 + half[:, None] * x
    return Rule(
        edges=np.append(lo, hi[-1]),
        nodes=nodes,
        weights=half[:, None] * w,
        logvals=logv,
        extras=ext,
    )


def _extend_edges(
    logf: Callable[[Array], Array], edges: Array, bounds: tuple[float, float]
) -> Array:
    """Add panels of doubling width beyond both ends until the integrands are negligible."""

    def peak_of(u: Array) -> Array:
        out = logf(u)
        v = np.asarray(out[0] if isinstance(out, tuple) else out, dtype=float)
        return v if v.ndim == 2 else v[:, None]

    core = peak_of(np.linspace(edges[0], edges[-1], 4 * edges.size + 1))
    top = np.max(core, axis=0)
    step = max((edges[-1] - edges[0]) / max(edges.size - 1, 1), 1e-3)
    out = [edges]
    for side, bound in ((-1, bounds[0]), (1, bounds[1])):
        start = edges[0] if side < 0 else edges[-1]
        if not np.isfinite(bound) and abs(start) > 1e300:
            continue
        pts = []
        d = step
        while True:
            u = start + side * d
            if (side < 0 and u <= bound) or (side > 0 and u >= bound):
                pts.append(bound)
                break
            pts.append(u)
            if np.all(peak_of(np.array([u]))[0] < top - 40):
                break
            d *= 2
        out.append(np.asarray(pts))
    return np.unique(np.concatenate(out))


# -- distributions represented by quadrature ---------------------------------------------
_MAPS = ("identity", "sinh", "exp", "sigmoid")


def _forward(kind: str, c: float, s: float, u: Array) -> tuple[Array, Array]:
    """x(u) and dx/du of a working-axis map."""
    if kind == "sinh":
        return c + s * np.sinh(u), s * np.cosh(u)
    if kind == "exp":
        ex = np.exp(u)
        return ex, ex
    if kind == "sigmoid":  # x = u^m / (u^m + (1-u)^m) with m = s: nodes graded at 0 and 1
        um, vm = u**s, (1 - u) ** s
        den = um + vm
        return um / den, s * (u * (1 - u)) ** (s - 1) / den**2
    return np.asarray(u, dtype=float), np.ones_like(u, dtype=float)


def _inverse(kind: str, c: float, s: float, x: Array) -> Array:
    """u(x), the inverse of :func:`_forward` (``-inf``/``inf`` outside the range)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "sinh":
            return np.asarray(np.arcsinh((x - c) / s))
        if kind == "exp":
            return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), -np.inf)
        if kind == "sigmoid":
            xc = np.clip(x, 0.0, 1.0)
            rho = (xc / (1 - xc)) ** (1 / s)
            u = np.where(xc >= 1, 1.0, rho / (1 + rho))
            return np.where(x < 0, -np.inf, np.where(x > 1, np.inf, u))
    return np.asarray(x, dtype=float)


class QuadratureDistribution(SummaryMixin):
    """Distribution of a scalar parameter represented by an adaptive quadrature rule.

    The continuous part is known through its density at the nodes of a composite
    Gauss-Legendre rule on a working axis ``u`` (``x = c + s sinh(u)``, ``x = exp(u)``,
    or the sigmoidal map ``x = u^s / (u^s + (1 - u)^s)`` of [0, 1] onto itself); inside
    each panel the density is the Legendre polynomial through the nodes, which is
    integrated exactly for the distribution function.
    Point masses (``atoms``) may be added. Moments and expectations are quadrature sums,
    quantiles are found by bisection on the distribution function; everything is exact up
    to the quadrature tolerance (about 1e-10).

    Parameters
    ----------
    rule : Rule
        Panels and log-density values (first integrand) on the working axis, including the
        Jacobian ``dx/du``; need not be normalised.
    kind, c, s : str, float, float
        The map from the working axis to the parameter.
    atoms, atom_logmass : array_like
        Locations of point masses and their log masses on the same (unnormalised) scale.
    outer : {"identity", "expit"}
        Optional monotone transformation of the parameter (``"expit"``: the response rate
        of a logit-scale parameter).
    name : str
        Label of the parameter in summaries.

    Examples
    --------
    >>> from rdstats.priors import BetaMixture
    >>> from rdstats.borrowing._power_normalized import normalized_power_prior
    >>> npp = normalized_power_prior(BetaMixture(1.0, 1, 1), {"r": [10], "n": [200]})
    >>> a0 = npp.posterior(r=60, n=80).a0_posterior  # strong conflict: a0 near 0
    >>> round(a0.mean(), 5), round(float(a0.ppf(0.975)), 5), float(a0.sf(0.5)) < 1e-10
    (0.00631, 0.022, True)
    """

    def __init__(
        self,
        rule: Rule,
        kind: str = "identity",
        c: float = 0.0,
        s: float = 1.0,
        atoms: ArrayLike = (),
        atom_logmass: ArrayLike = (),
        outer: str = "identity",
        name: str = "x",
    ) -> None:
        if kind not in _MAPS or outer not in ("identity", "expit"):
            raise ValueError(f"unknown map {kind!r} / {outer!r}")
        self.kind, self.c, self.s, self.outer, self.name = kind, float(c), float(s), outer, name
        self._rule = rule
        logv = rule.logvals[..., 0]
        at = np.atleast_1d(np.asarray(atoms, dtype=float))
        alm = np.atleast_1d(np.asarray(atom_logmass, dtype=float))
        shift = max(float(np.max(logv)), float(np.max(alm)) if alm.size else -np.inf)
        dens = np.exp(logv - shift)
        mass = np.exp(alm - shift) if alm.size else np.zeros(0)
        total = float(np.sum(rule.weights * dens) + mass.sum())
        if not (np.isfinite(total) and total > 0):
            raise FloatingPointError("the distribution has no mass (internal error)")
        order_ = np.argsort(at)
        self._atoms = readonly(at[order_])
        self._atom_mass = readonly(mass[order_] / total)
        self._dens = readonly(dens / total)  # density w.r.t. du at the nodes
        _, _, to_coef = _legendre(dens.shape[1])
        self._coef = np.einsum("kj,pj->pk", to_coef, self._dens)
        half = np.diff(rule.edges) / 2
        self._half = half
        anti = np.polynomial.legendre.legint(self._coef, lbnd=-1, axis=1)
        self._anti = anti
        panel_mass = half * np.polynomial.legendre.legval(1.0, anti.T, tensor=False)
        self._cum = np.concatenate([[0.0], np.cumsum(panel_mass)])

    # -- working axis ----------------------------------------------------------------------
    def _x_of_u(self, u: Array) -> Array:
        x, _ = _forward(self.kind, self.c, self.s, u)
        return special.expit(x) if self.outer == "expit" else x

    def _u_of_x(self, x: Array) -> Array:
        if self.outer == "expit":
            with np.errstate(divide="ignore"):
                x = special.logit(np.clip(x, 0.0, 1.0))
        return _inverse(self.kind, self.c, self.s, x)

    def _atoms_x(self) -> Array:
        return np.asarray(special.expit(self._atoms) if self.outer == "expit" else self._atoms)

    def _cont_cdf_u(self, u: Array) -> Array:
        e = self._rule.edges
        uc = np.clip(u, e[0], e[-1])
        idx = np.clip(np.searchsorted(e, uc, side="right") - 1, 0, e.size - 2)
        t = (uc - (e[idx] + e[idx + 1]) / 2) / self._half[idx]
        part = np.polynomial.legendre.legval(t, self._anti[idx].T, tensor=False)
        return np.asarray(self._cum[idx] + self._half[idx] * part)

    # -- public interface ------------------------------------------------------------------
    @property
    def nodes(self) -> Array:
        """Parameter values at the quadrature nodes (flattened)."""
        return np.asarray(self._x_of_u(self._rule.nodes).ravel())

    @property
    def weights(self) -> Array:
        """Probability carried by each node (flattened; sums to one minus the atoms)."""
        return np.asarray((self._rule.weights * self._dens).ravel())

    @property
    def atoms(self) -> tuple[Array, Array]:
        """Locations and probabilities of the point masses."""
        return self._atoms_x(), self._atom_mass.copy()

    def expect(self, fn: Callable[[Array], Array]) -> float:
        """E[fn(X)] by the quadrature rule (fn is vectorised)."""
        val = np.sum(self.weights * fn(self.nodes))
        if self._atoms.size:
            val += np.sum(self._atom_mass * fn(self._atoms_x()))
        return float(val)

    def mean(self) -> float:
        """Mean."""
        return self.expect(lambda x: x)

    def var(self) -> float:
        """Variance."""
        m = self.mean()
        return self.expect(lambda x: (x - m) ** 2)

    def sd(self) -> float:
        """Standard deviation."""
        return math.sqrt(self.var())

    def pdf(self, x: ArrayLike) -> Array | float:
        """Density of the continuous part (point masses excluded)."""
        xa = as_float_array(x, "x", allow_inf=True)
        u = self._u_of_x(xa)
        e = self._rule.edges
        inside = (u >= e[0]) & (u <= e[-1])
        uc = np.clip(np.where(np.isfinite(u), u, e[0]), e[0], e[-1])
        idx = np.clip(np.searchsorted(e, uc, side="right") - 1, 0, e.size - 2)
        t = (uc - (e[idx] + e[idx + 1]) / 2) / self._half[idx]
        fu = np.polynomial.legendre.legval(t, self._coef[idx].T, tensor=False)
        xx, dxdu = _forward(self.kind, self.c, self.s, uc)
        if self.outer == "expit":
            p = special.expit(xx)
            dxdu = dxdu * p * (1 - p)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(inside & (dxdu > 0), np.maximum(fu, 0.0) / dxdu, 0.0)
        return float(out) if out.ndim == 0 else np.asarray(out)

    def cdf(self, x: ArrayLike) -> Array | float:
        """P(X <= x)."""
        xa = as_float_array(x, "x", allow_inf=True)
        out = self._cont_cdf_u(self._u_of_x(xa))
        ax = self._atoms_x()
        if ax.size:
            out = out + np.sum(self._atom_mass * (ax <= xa[..., None]), axis=-1)
        out = np.clip(out, 0.0, 1.0)
        return float(out) if out.ndim == 0 else np.asarray(out)

    def sf(self, x: ArrayLike) -> Array | float:
        """P(X > x)."""
        c = np.asarray(self.cdf(x))
        out = 1.0 - c
        return float(out) if out.ndim == 0 else np.asarray(out)

    def ppf(self, q: ArrayLike) -> Array | float:
        """Quantiles: the smallest x with P(X <= x) >= q."""
        qa = check_probability(q, "q")
        flat = np.atleast_1d(qa).ravel()
        e = self._rule.edges
        ax = self._atoms_x()
        out = np.empty(flat.size)
        for i, qi in enumerate(flat):
            # an atom whose jump covers q
            hit = None
            for xa_, ma in zip(ax, self._atom_mass, strict=True):
                below = float(self.cdf(xa_)) - ma
                if below < qi <= below + ma + 1e-15:
                    hit = xa_
                    break
            if hit is not None:
                out[i] = hit
                continue
            a, b = float(e[0]), float(e[-1])
            for _ in range(200):
                mid = (a + b) / 2
                if mid in (a, b):
                    break
                if float(self.cdf(self._x_of_u(np.asarray(mid)))) >= qi:
                    b = mid
                else:
                    a = mid
            out[i] = float(self._x_of_u(np.asarray(b)))
        res = out.reshape(np.shape(qa))
        return float(res) if res.ndim == 0 else res

    def median(self) -> float:
        """Median."""
        return float(self.ppf(0.5))

    def to_dict(self) -> dict[str, Any]:
        """Nodes, probabilities and atoms (JSON-safe)."""
        ax, am = self.atoms
        return {
            "class": "QuadratureDistribution",
            "name": self.name,
            "nodes": self.nodes.tolist(),
            "weights": self.weights.tolist(),
            "atoms": ax.tolist(),
            "atom_mass": am.tolist(),
        }

    def __repr__(self) -> str:
        return (
            f"QuadratureDistribution({self.name!r}, {self.nodes.size} nodes, "
            f"{self._atoms.size} atoms, mean={self.mean():.6g})"
        )

    def _repr_html_(self) -> str:
        return f"<p><b>{self.name}</b> (quadrature)</p>" + self.summary().to_html()
