"""Entropy balancing (Hainmueller 2012): weights closest to uniform in Kullback-Leibler
divergence that reproduce target covariate moments exactly.

For a group with covariate moment vectors ``c_i`` and target ``m`` the weights are
``w_i ∝ exp(lambda' (c_i - m))`` where ``lambda`` minimises the convex dual
``log sum_i exp(lambda' (c_i - m))`` (its gradient is the weighted moment error, its
Hessian the weighted covariance), solved with scipy's trust-region Newton method after
removing linearly redundant constraints, then polished by Newton steps.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

__all__ = ["entropy_weights"]


def _moments(
    x: NDArray[np.float64], center: NDArray[np.float64], variances: bool
) -> NDArray[np.float64]:
    return np.hstack([x, (x - center) ** 2]) if variances else x


def entropy_weights(
    x: NDArray[np.float64],
    target_x: NDArray[np.float64],
    *,
    variances: bool = False,
    tol: float = 1e-8,
    names: list[str] | None = None,
) -> NDArray[np.float64]:
    """Entropy-balancing weights (mean 1) for the rows of ``x`` whose weighted covariate
    means (and, with ``variances``, weighted second central moments about the target
    means) equal those of the rows of ``target_x`` (equally weighted).

    Raises ``ValueError`` when the target lies outside what the rows can reproduce
    (infeasible constraints), naming the covariates that stay unbalanced.
    """
    center = target_x.mean(axis=0)
    c = _moments(x, center, variances)
    m = _moments(target_x, center, variances).mean(axis=0)
    scale = c.std(axis=0)
    keep = scale > 0
    labels = list(names or [f"x{j}" for j in range(x.shape[1])])
    if variances:
        labels = labels + [f"{v} (variance)" for v in labels]
    const = ~keep & (np.abs(c[0] - m) > tol * np.maximum(1.0, np.abs(m)))
    if const.any():
        raise ValueError(
            "entropy balancing is infeasible: covariates constant in the group to be "
            f"weighted but different in the target: {[labels[j] for j in np.flatnonzero(const)]}"
        )
    z = (c[:, keep] - m[keep]) / scale[keep]
    # drop redundant constraints (e.g. the second moment of a binary indicator, which its
    # mean determines): optimise over the directions the rows actually span
    _, sv, vt = np.linalg.svd(z, full_matrices=False)
    z = z @ vt[sv > 1e-10 * sv.max()].T

    def fun(lam: NDArray[np.float64]) -> float:
        return float(special.logsumexp(z @ lam))

    def grad(lam: NDArray[np.float64]) -> NDArray[np.float64]:
        p = special.softmax(z @ lam)
        return np.asarray(p @ z)

    def hess(lam: NDArray[np.float64]) -> NDArray[np.float64]:
        p = special.softmax(z @ lam)
        mu = p @ z
        return np.asarray((z * p[:, None]).T @ z - np.outer(mu, mu))

    res = optimize.minimize(
        fun,
        np.zeros(z.shape[1]),
        jac=grad,
        hess=hess,
        method="trust-exact",
        options={"gtol": 1e-12, "maxiter": 1000},
    )
    lam = res.x
    for _ in range(50):  # Newton polishing to machine precision (feasible problems)
        g = grad(lam)
        if np.abs(g).max() < 1e-14:
            break
        step = np.linalg.lstsq(hess(lam), g, rcond=None)[0]
        if not np.all(np.isfinite(step)) or fun(lam - step) > fun(lam) + 1e-15:
            break
        lam = lam - step
    p = special.softmax(z @ lam)
    err = np.abs(p @ (c - m))
    bad = err > tol * np.maximum(scale, np.abs(m))
    if bad.any() or not np.all(np.isfinite(p)):
        raise ValueError(
            "entropy balancing is infeasible: the target moments lie outside the range the "
            f"weighted group can reproduce for {[labels[j] for j in np.flatnonzero(bad)]} "
            f"(largest absolute error {err.max():.3g})"
        )
    return np.asarray(p * x.shape[0], dtype=float)
