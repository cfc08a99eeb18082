"""Posterior-mean path of a series given a change visit and a grid value (for plots)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

__all__ = ["fitted_path"]


def fitted_path(res: Any, g: int, j: int | None) -> Array:
    """Fitted means of ``res`` (a JumpResult) for change visit ``j`` (``None``: no
    change) and grid index ``g``."""
    t, y = res.times, res.y
    n = t.size
    opt = res.options
    if j is None:
        return _null_path(res, g)
    after = np.arange(n) >= j
    c = res.fit.components
    if res.family == "poisson":
        rate = np.where(after, c.a_post[g, j] / c.b_post[g, j], c.a_pre[g, j] / c.b_pre[g, j])
        return np.asarray(rate * np.exp(res.fit.grid[g] * (t - t.mean())) * opt["exposure"])
    if res.family == "ordinal":
        a = np.where(after, c.a_post[g, j], c.a_pre[g, j])
        b = np.where(after, c.b_post[g, j], c.b_pre[g, j])
        return np.asarray(opt["score_range"][0] + c.m * a / (a + b))
    cols = [np.ones(n)] + ([t - t.mean()] if opt["trend"] else [])
    lam = [0.0] * len(cols)
    cols.append(after.astype(float))
    v_delta = opt["v_delta"]
    if opt.get("jump_prior") == "cauchy":  # the grid runs over (rho, g): g of this point
        from rdstats.nof1._families import _G_NODES

        v_delta = v_delta * _G_NODES[g % _G_NODES.size]
    lam.append(1.0 / v_delta)
    if opt["slope"]:
        cols.append(np.where(after, t - t[j], 0.0))
        lam.append(1.0 / opt["v_gamma"])
    x = np.stack(cols, axis=1)
    rho = float(res.fit.grid[g]) if res.fit.grid_name == "rho" else 0.0
    corr = rho ** (np.abs(t[:, None] - t[None, :]) / opt["unit"]) if rho > 0 else np.eye(n)
    w = np.linalg.inv(corr)
    beta = np.linalg.solve(x.T @ w @ x + np.diag(lam), x.T @ w @ y)
    return np.asarray(x @ beta)


def _null_path(res: Any, g: int) -> Array:
    """Posterior-mean path under "no change" (level, and trend where modelled)."""
    t, y = res.times, res.y
    opt = res.options
    if res.family == "poisson":
        expo = opt["exposure"] * np.exp(res.fit.grid[g] * (t - t.mean()))
        return np.asarray(np.full(t.size, (1.0 + y.sum()) / expo.sum()) * expo)
    if res.family == "ordinal":
        return np.full(t.size, float(np.mean(y)))
    cols = [np.ones(t.size)] + ([t - t.mean()] if opt["trend"] else [])
    x = np.stack(cols, axis=1)
    rho = float(res.fit.grid[g]) if res.fit.grid_name == "rho" else 0.0
    corr = rho ** (np.abs(t[:, None] - t[None, :]) / opt["unit"]) if rho > 0 else np.eye(t.size)
    w = np.linalg.inv(corr)
    return np.asarray(x @ np.linalg.solve(x.T @ w @ x, x.T @ w @ y))
