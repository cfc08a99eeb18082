"""MAP prior by MCMC (PyMC, non-centred random effects) with ArviZ diagnostics."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rdstats._warnings import ConvergenceWarning
from rdstats.borrowing._hyperpriors import Normal, TauPrior
from rdstats.borrowing._studies import Studies

Array = NDArray[np.float64]

__all__ = ["McmcDraws", "mcmc_draws"]

RHAT_MAX = 1.01
ESS_MIN = 400.0
DIVERGENCE_SHARE = 0.001  # warn above 1 divergent transition per 1,000 draws


@dataclass(frozen=True)
class McmcDraws:
    coef: Array  # (N, D)
    tau: Array  # (N, S)
    theta: Array  # (N, H)
    idata: Any
    diagnostics: dict[str, Any]


def mcmc_draws(
    studies: Studies,
    tau_priors: list[TauPrior],
    mean_prior: Normal,
    design: Array | None,
    beta_sd: Array | None,
    seed: int,
    *,
    draws: int = 2000,
    tune: int = 2000,
    chains: int = 4,
    target_accept: float = 0.95,
    cores: int = 1,
    **sample_kwargs: Any,
) -> McmcDraws:
    """NUTS draws of (b, tau, theta_h) for the random-effects model."""
    try:
        import arviz as az
        import pymc as pm
    except ImportError as err:  # pragma: no cover - pymc is in the 'all' extra
        raise ImportError("method='mcmc' needs pymc and arviz: pip install rdstats[all]") from err
    x_mat = np.ones((studies.size, 1)) if design is None else np.asarray(design, dtype=float)
    d = x_mat.shape[1]
    sd0 = np.full(d, mean_prior.sd)
    if beta_sd is not None and d > 1:
        sd0[1:] = beta_sd
    b0 = np.zeros(d)
    b0[0] = mean_prior.mean
    with pm.Model() as model:
        coef = pm.Normal("coef", mu=b0, sigma=sd0, shape=d)
        taus = []
        for s, prior in enumerate(tau_priors):
            if prior.fixed:
                taus.append(pm.math.constant(float(prior.ppf(0.5))))
            else:
                taus.append(prior.to_pymc(f"tau_{s}"))
        tau_vec = pm.math.stack(taus)
        pm.Deterministic("tau", tau_vec)
        z = pm.Normal("z", 0.0, 1.0, shape=studies.size)
        theta = pm.Deterministic("theta", pm.math.dot(x_mat, coef) + tau_vec[studies.stratum] * z)
        if studies.family == "binomial":
            pm.Binomial("y", n=studies.n, logit_p=theta, observed=studies.y)
        elif studies.family == "poisson":
            pm.Poisson("y", mu=studies.n * pm.math.exp(theta), observed=studies.y)
        else:
            pm.Normal("y", mu=theta, sigma=studies.se, observed=studies.y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            idata = pm.sample(
                draws=draws,
                tune=tune,
                chains=chains,
                cores=cores,
                target_accept=target_accept,
                random_seed=seed,
                progressbar=False,
                compute_convergence_checks=False,
                **sample_kwargs,
            )
    _ = model
    names = ["coef", "z"] + [f"tau_{s}" for s, p in enumerate(tau_priors) if not p.fixed]
    ess = az.ess(idata, var_names=names, method="bulk")
    if chains >= 2:
        rhat = az.rhat(idata, var_names=names)
        max_rhat = float(max(float(np.nanmax(rhat[v].values)) for v in names))
    else:  # R-hat needs at least two chains: not checked (said in the diagnostics)
        max_rhat = float("nan")
    min_ess = float(min(float(np.nanmin(ess[v].values)) for v in names))
    divergences = int(idata.sample_stats["diverging"].values.sum())
    diagnostics = {
        "max_rhat": max_rhat,
        "min_bulk_ess": min_ess,
        "divergences": divergences,
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "target_accept": target_accept,
        "rhat_checked": chains >= 2,
    }
    too_many = divergences > DIVERGENCE_SHARE * draws * chains
    rhat_bad = chains >= 2 and not (max_rhat <= RHAT_MAX)
    if rhat_bad or not (min_ess >= ESS_MIN) or too_many:
        warnings.warn(
            "MCMC may not have converged: "
            + (
                f"max R-hat {max_rhat:.3f} (want <= {RHAT_MAX}), "
                if chains >= 2
                else "R-hat not computed (one chain), "
            )
            + f"min bulk ESS {min_ess:.0f} (want >= {ESS_MIN:.0f}), {divergences} divergent "
            "transitions; increase draws/tune or target_accept, or use method='exact'",
            ConvergenceWarning,
            stacklevel=3,
        )
    post = idata.posterior
    return McmcDraws(
        coef=post["coef"].values.reshape(-1, d),
        tau=post["tau"].values.reshape(-1, len(tau_priors)),
        theta=post["theta"].values.reshape(-1, studies.size),
        idata=idata,
        diagnostics=diagnostics,
    )
