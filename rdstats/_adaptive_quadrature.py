"""Adaptive composite Gauss-Legendre quadrature of one or several log-integrands on a
working axis (shared by the prior ESS and the borrowing priors)."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rdstats._warnings import ConvergenceWarning

__all__ = ["Rule", "adaptive_rule", "legendre_rule"]

Array = NDArray[np.float64]


@functools.lru_cache(maxsize=8)
def legendre_rule(m: int) -> tuple[Array, Array, Array]:
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
    x, w, to_coef = legendre_rule(order)
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
