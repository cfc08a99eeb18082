"""Prior effective sample size: ELIR, moment matching and Morita-Thall-Mueller."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from rdstats.priors._base import Mixture
from rdstats.priors._beta import BetaMixture
from rdstats.priors._elir import elir
from rdstats.priors._gamma import GammaMixture
from rdstats.priors._normal import NormalMixture

__all__ = ["ess"]

Method = Literal["elir", "moment", "morita"]
Family = Literal["gaussian", "binomial", "poisson"]
Array = NDArray[np.float64]


# -- derivatives of the log mixture density ------------------------------------------
def _grad_hess(dist: Mixture, x: Array) -> tuple[Array, Array, Array]:
    """Per-component d/dx and d2/dx2 of log f_k, and responsibilities r_k(x)."""
    x = x[..., None]
    if isinstance(dist, BetaMixture):
        a, b = dist.a, dist.b
        g = (a - 1) / x - (b - 1) / (1 - x)
        h = -(a - 1) / x**2 - (b - 1) / (1 - x) ** 2
    elif isinstance(dist, GammaMixture):
        a, r = dist.shape, dist.rate
        g = (a - 1) / x - r
        h = -(a - 1) / x**2 + 0 * r
    else:
        m, v = dist._component_moments()
        g = -(x - m) / v
        h = -1 / v + 0 * x
    with np.errstate(divide="ignore"):
        lw = np.log(dist.weights) + dist._component_logpdf(x[..., 0])
    lw = lw - lw.max(axis=-1, keepdims=True)
    resp = np.exp(lw)
    resp /= resp.sum(axis=-1, keepdims=True)
    return g, h, resp


def _observed_info(dist: Mixture, x: Array) -> Array:
    """-d2/dx2 log p(x) of the mixture, computed stably via responsibilities."""
    g, h, r = _grad_hess(dist, x)
    mean_g = np.sum(r * g, axis=-1)
    var_g = np.sum(r * (g - mean_g[..., None]) ** 2, axis=-1)
    return np.asarray(-np.sum(r * h, axis=-1) - var_g)


def _fisher(dist: Mixture, family: Family | None, sigma: float | None) -> Callable[[Array], Array]:
    """Fisher information of one observation as a function of the parameter."""
    if isinstance(dist, BetaMixture):
        return lambda t: 1.0 / (t * (1 - t))
    if isinstance(dist, GammaMixture):
        if dist.likelihood == "poisson":
            return lambda lam: 1.0 / lam
        return lambda lam: 1.0 / lam**2
    if family == "binomial":
        return lambda eta: special.expit(eta) * special.expit(-eta)
    if family == "poisson":
        return lambda eta: np.exp(eta)
    assert sigma is not None
    return lambda eta: np.full_like(eta, 1.0 / sigma**2)


def _mode(dist: Mixture) -> float:
    """Global mode of the mixture density (grid search refined by bounded Brent)."""
    d = dist._frozen()
    lo, hi = dist.support
    qs = np.asarray(d.ppf(np.linspace(1e-4, 1 - 1e-4, 401)[:, None])).ravel()
    grid = np.unique(np.concatenate([qs, np.asarray(d.mean()).ravel()]))
    grid = grid[(grid > lo) & (grid < hi)]
    lp = np.asarray(dist.logpdf(grid))
    i = int(np.argmax(lp))
    a = grid[max(i - 1, 0)]
    b = grid[min(i + 1, grid.size - 1)]
    if i == 0 or i == grid.size - 1:
        if np.isfinite(lo) and i == 0 and dist.logpdf(lo + 1e-12) >= lp[0]:
            raise ValueError(
                f"the Morita ESS needs an interior mode; this prior's mode is at the boundary {lo}"
            )
        if np.isfinite(hi) and i == grid.size - 1 and dist.logpdf(hi - 1e-12) >= lp[-1]:
            raise ValueError(
                f"the Morita ESS needs an interior mode; this prior's mode is at the boundary {hi}"
            )
    res = optimize.minimize_scalar(
        lambda x: -float(dist.logpdf(x)),
        bounds=(a, b),
        method="bounded",
        options={"xatol": 1e-12},
    )
    return float(res.x)


def _check_elir_domain(dist: Mixture) -> None:
    if isinstance(dist, BetaMixture):
        bad = (dist.a < 1) | (dist.b < 1)
        if bad.any():
            k = int(np.argmax(bad))
            raise ValueError(
                "ELIR is undefined for beta components with a < 1 or b < 1 (the expected "
                f"information is infinite); component {k} has a={dist.a[k]}, b={dist.b[k]}"
            )
    if isinstance(dist, GammaMixture) and dist.likelihood == "poisson":
        bad = dist.shape < 1
        if bad.any():
            k = int(np.argmax(bad))
            raise ValueError(
                "ELIR is undefined for gamma components with shape < 1 under a Poisson "
                f"likelihood; component {k} has shape={dist.shape[k]}"
            )


def ess(
    dist: Mixture,
    method: Method = "elir",
    family: Family | None = None,
    *,
    sigma: float | None = None,
    s: float = 100.0,
) -> float:
    """Prior effective sample size of a conjugate mixture.

    Parameters
    ----------
    dist : BetaMixture, NormalMixture or GammaMixture
        The prior.
    method : {"elir", "moment", "morita"}
        ``"elir"``: expected local-information ratio (Neuenschwander et al. 2020), the
        only predictively consistent ESS. ``"moment"``: ESS of the conjugate distribution
        with the same mean and variance. ``"morita"``: Morita, Thall & Mueller (2008),
        evaluated at the prior mode.
    family : {"gaussian", "binomial", "poisson"}, optional
        Only for normal mixtures: the likelihood whose information defines one
        observation. ``"binomial"`` / ``"poisson"`` treat the normal mixture as a prior
        on the logit / log scale. Default ``"gaussian"`` with reference scale ``sigma``.
    sigma : float, optional
        Reference scale of a normal mixture (defaults to ``dist.sigma``).
    s : float
        Morita only: the epsilon-information prior has the mean at the prior mode and
        sample size ``1/s``.

    Returns
    -------
    float
        The effective number of patients (binomial, normal) or of exposure units
        (Poisson) or events (exponential).

    References
    ----------
    .. [1] Neuenschwander B, Weber S, Schmidli H, O'Hagan A. Predictively consistent
       prior effective sample sizes. Biometrics 2020;76:578-587.
    .. [2] Morita S, Thall PF, Mueller P. Determining the effective sample size of a
       parametric prior. Biometrics 2008;64:595-602.

    Examples
    --------
    >>> from rdstats.priors import BetaMixture, ess
    >>> prior = BetaMixture([0.2, 0.8], a=[1, 10], b=[1, 2])
    >>> round(ess(prior, "elir"), 5), round(ess(prior, "moment"), 6)
    (7.65152, 3.161034)
    """
    if not isinstance(dist, (BetaMixture, NormalMixture, GammaMixture)):
        raise TypeError(
            f"dist must be a BetaMixture, NormalMixture or GammaMixture, got {type(dist).__name__}"
        )
    if method not in ("elir", "moment", "morita"):
        raise ValueError(f"method must be 'elir', 'moment' or 'morita', got {method!r}")
    if family is not None and not isinstance(dist, NormalMixture):
        raise ValueError(
            f"family={family!r} applies only to normal mixtures; {type(dist).__name__} "
            "already fixes the likelihood"
        )
    if family not in (None, "gaussian", "binomial", "poisson"):
        raise ValueError(f"family must be 'gaussian', 'binomial' or 'poisson', got {family!r}")
    if isinstance(dist, NormalMixture) and family in (None, "gaussian"):
        family = "gaussian"
        sigma = sigma if sigma is not None else dist.sigma
        if sigma is None:
            raise ValueError("the ESS of a NormalMixture needs the reference scale sigma")
        if not np.isfinite(sigma) or sigma <= 0:
            raise ValueError(f"sigma must be a positive finite number, got {sigma!r}")
    if not np.isfinite(s) or s <= 0:
        raise ValueError(f"s must be a positive finite number, got {s!r}")
    fisher = _fisher(dist, family, sigma)

    if method == "elir":
        _check_elir_domain(dist)
        return elir(dist, family, sigma)

    mu, var = dist.mean(), dist.var()
    if method == "moment":
        if isinstance(dist, BetaMixture):
            return mu * (1 - mu) / var - 1
        if isinstance(dist, GammaMixture):
            return mu / var if dist.likelihood == "poisson" else mu**2 / var
        return float(1.0 / (var * fisher(np.array([mu]))[0]))

    # Morita-Thall-Mueller at the mode, epsilon-information prior of sample size c = 1/s
    c = 1.0 / s
    x = _mode(dist)
    info = float(_observed_info(dist, np.array([x]))[0])
    if isinstance(dist, BetaMixture):
        num = info + (1 - x * c) / x**2 + (1 - (1 - x) * c) / (1 - x) ** 2
        return num / (mu / x**2 + (1 - mu) / (1 - x) ** 2)
    if isinstance(dist, GammaMixture):
        if dist.likelihood == "poisson":
            return (x**2 * info + 1 - x * c) / mu
        return x**2 * info + 1 - c
    return float(info / fisher(np.array([x]))[0] - c)
