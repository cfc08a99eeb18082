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

from rdstats._provenance import provenance
from rdstats._validation import as_float_array
from rdstats._warnings import ConvergenceWarning
from rdstats.borrowing._mixfit_em import _fit_k, _moments, _Points, _Run
from rdstats.priors import BetaMixture, GammaMixture, Mixture, NormalMixture

__all__ = ["DEFAULT_N_OBS", "MixtureFit", "fit_mixture"]

Array = NDArray[np.float64]
Family = Literal["beta", "normal", "gamma"]

#: Nominal sample size of weighted points when ``n_obs`` is not given: the number of
#: MCMC draws RBesT keeps by default, so that information criteria choose comparably.
DEFAULT_N_OBS = 4000

_FAMILIES = ("beta", "normal", "gamma")


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
