"""BHM and EXNEX by MCMC (PyMC, NUTS): the independent cross-check of the deterministic
computations (``method="mcmc"``). PyMC is imported inside the functions only."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy import special, stats

from rdstats._provenance import provenance
from rdstats._warnings import ConvergenceWarning
from rdstats.basket._posterior import LOGIT_GRID, BasketPosterior

if TYPE_CHECKING:
    from rdstats.basket._bhm import BHM
    from rdstats.basket._exnex import EXNEX

Array = NDArray[np.float64]

__all__ = ["bhm_mcmc", "exnex_mcmc"]

RHAT_MAX = 1.01
ESS_MIN = 400.0
DIVERGENCE_SHARE = 0.001


def _seed(rng: Any) -> int:
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return int(rng)
    gen = np.random.default_rng(rng)
    return int(gen.integers(0, 2**31 - 1))


def _imports() -> tuple[Any, Any]:
    try:
        import arviz as az
        import pymc as pm
    except ImportError as err:  # pragma: no cover - pymc is in the 'all' extra
        raise ImportError("method='mcmc' needs pymc and arviz: pip install rdstats[all]") from err
    return pm, az


def _sample(pm: Any, seed: int, draws: int, tune: int, chains: int, target_accept: float) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=1,
            target_accept=target_accept,
            random_seed=seed,
            progressbar=False,
            compute_convergence_checks=False,
        )


def _diagnostics(az: Any, idata: Any, names: list[str], draws: int, chains: int) -> dict[str, Any]:
    ess = az.ess(idata, var_names=names, method="bulk")
    min_ess = float(min(float(np.nanmin(ess[v].values)) for v in names))
    max_rhat = float("nan")
    if chains >= 2:
        rhat = az.rhat(idata, var_names=names)
        max_rhat = float(max(float(np.nanmax(rhat[v].values)) for v in names))
    div = int(idata.sample_stats["diverging"].values.sum())
    diag = {
        "max_rhat": max_rhat,
        "min_bulk_ess": min_ess,
        "divergences": div,
        "draws": draws,
        "chains": chains,
    }
    bad_rhat = chains >= 2 and not max_rhat <= RHAT_MAX
    if bad_rhat or not min_ess >= ESS_MIN or div > DIVERGENCE_SHARE * draws * chains:
        warnings.warn(
            f"MCMC may not have converged: max R-hat {max_rhat:.3f} (want <= {RHAT_MAX}), "
            f"min bulk ESS {min_ess:.0f} (want >= {ESS_MIN:.0f}), {div} divergent "
            "transitions; increase draws/tune or target_accept, or use method='exact'",
            ConvergenceWarning,
            stacklevel=4,
        )
    return diag


def _kde_density(x: Array) -> Array:
    """(K, G) Gaussian kernel density of each column of logit draws on LOGIT_GRID."""
    out = np.empty((x.shape[1], LOGIT_GRID.size))
    for j in range(x.shape[1]):
        col = np.clip(x[:, j], LOGIT_GRID[0], LOGIT_GRID[-1])
        d = stats.gaussian_kde(col)(LOGIT_GRID) if np.ptp(col) > 0 else None
        if d is None:
            d = stats.norm.pdf(LOGIT_GRID, col[0], 0.01)
        out[j] = d / np.trapezoid(d, LOGIT_GRID)
    return out


def _result(
    model: str,
    r: NDArray[np.int64],
    n: NDArray[np.int64],
    labels: list[str],
    logit_p: Array,
    p_ex: Array | None,
    idata: Any,
    diag: dict[str, Any],
    args: dict[str, Any],
    seed: int,
) -> BasketPosterior:
    return BasketPosterior(
        model=model,
        r=r,
        n=n,
        names=labels,
        grid=LOGIT_GRID,
        density=_kde_density(logit_p),
        p_exchangeable=p_ex,
        extra={
            "draws": special.expit(logit_p),
            "idata": idata,
            "diagnostics": diag,
            "draw_mean": special.expit(logit_p).mean(axis=0),
        },
        provenance=provenance(args, seed=seed),
    )


def bhm_mcmc(
    model: BHM,
    r: NDArray[np.int64],
    n: NDArray[np.int64],
    labels: list[str],
    offsets: Array,
    *,
    rng: Any = None,
    draws: int = 2000,
    tune: int = 2000,
    chains: int = 4,
    target_accept: float = 0.95,
) -> BasketPosterior:
    """NUTS for the Berry et al. (2013) BHM (non-centred baskets)."""
    pm, az = _imports()
    seed = _seed(rng)
    (m, s), (a, b) = model.mu_prior, model.sigma2_prior
    with pm.Model():
        mu = pm.Normal("mu", m, s)
        sigma2 = pm.InverseGamma("sigma2", alpha=a, beta=b)
        z = pm.Normal("z", 0.0, 1.0, shape=r.size)
        theta = pm.Deterministic("theta", mu + pm.math.sqrt(sigma2) * z + offsets)
        pm.Binomial("y", n=n, logit_p=theta, observed=r)
        idata = _sample(pm, seed, draws, tune, chains, target_accept)
    diag = _diagnostics(az, idata, ["mu", "sigma2", "z"], draws, chains)
    logit_p = idata.posterior["theta"].values.reshape(-1, r.size)
    args = {"r": r.tolist(), "n": n.tolist(), "method": "mcmc", "model": repr(model)}
    return _result("BHM", r, n, labels, logit_p, None, idata, diag, args, seed)


def exnex_mcmc(
    model: EXNEX,
    r: NDArray[np.int64],
    n: NDArray[np.int64],
    labels: list[str],
    weights: Array,
    nex: list[tuple[float, float]],
    *,
    rng: Any = None,
    draws: int = 2000,
    tune: int = 2000,
    chains: int = 4,
    target_accept: float = 0.95,
) -> BasketPosterior:
    """NUTS for EXNEX with the mixture indicator of every basket marginalised; P(EX) is
    the draws' average conditional probability of the EX components (Rao-Blackwell)."""
    pm, az = _imports()
    seed = _seed(rng)
    k, c = r.size, len(model.ex)
    mu_mean = np.array([e[0] for e in model.ex])
    mu_sd = np.array([e[1] for e in model.ex])
    tau_sc = np.array([e[2] for e in model.ex])
    nex_m = np.array([x[0] for x in nex])
    nex_s = np.array([x[1] for x in nex])
    with pm.Model():
        mu = pm.Normal("mu", mu_mean, mu_sd, shape=c)
        tau = pm.HalfNormal("tau", tau_sc, shape=c)
        means = pm.math.concatenate(
            [pm.math.stack([mu] * k, axis=0), pm.math.constant(nex_m[:, None])], axis=1
        )
        sds = pm.math.concatenate(
            [pm.math.stack([tau] * k, axis=0), pm.math.constant(nex_s[:, None])], axis=1
        )
        theta = pm.NormalMixture("theta", w=weights, mu=means, sigma=sds, shape=k)
        pm.Binomial("y", n=n, logit_p=theta, observed=r)
        idata = _sample(pm, seed, draws, tune, chains, target_accept)
    diag = _diagnostics(az, idata, ["mu", "tau", "theta"], draws, chains)
    post = idata.posterior
    th = post["theta"].values.reshape(-1, k)
    mu_d = post["mu"].values.reshape(-1, c)
    tau_d = post["tau"].values.reshape(-1, c)
    with np.errstate(divide="ignore"):
        lw = np.log(weights)
    comp = [lw[None, :, i] + stats.norm.logpdf(th, mu_d[:, [i]], tau_d[:, [i]]) for i in range(c)]
    comp.append(lw[None, :, -1] + stats.norm.logpdf(th, nex_m, nex_s))
    stack = np.stack(comp, axis=0)
    p_ex = np.exp(special.logsumexp(stack[:c], axis=0) - special.logsumexp(stack, axis=0))
    args = {"r": r.tolist(), "n": n.tolist(), "method": "mcmc", "model": repr(model)}
    return _result("EXNEX", r, n, labels, th, p_ex.mean(axis=0), idata, diag, args, seed)
