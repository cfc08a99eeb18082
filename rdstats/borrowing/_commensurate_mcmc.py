"""PyMC (NUTS) fit of the commensurate model, the cross-check of the exact engine."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rdstats._warnings import ConvergenceWarning
from rdstats.borrowing._commensurate_data import _Obs
from rdstats.borrowing._hyperpriors import Fixed, TauPrior
from rdstats.borrowing._precision_priors import SpikeSlabPrecision

Array = NDArray[np.float64]


# -- MCMC cross-check ----------------------------------------------------------------------
def _check_convergence(idata: Any, names: list[str]) -> None:
    """Warn (ConvergenceWarning) when R-hat > 1.01 or bulk ESS < 400 for any variable."""
    import arviz as az

    rhat = az.rhat(idata, var_names=names)
    ess = az.ess(idata, var_names=names, method="bulk")
    worst_rhat = max(float(np.max(rhat[v].values)) for v in names)
    worst_ess = min(float(np.min(ess[v].values)) for v in names)
    if not worst_rhat <= 1.01 or not worst_ess >= 400:
        warnings.warn(
            f"MCMC may not have converged: max R-hat {worst_rhat:.4f} (want <= 1.01), "
            f"min bulk ESS {worst_ess:.0f} (want >= 400); increase draws/tune",
            ConvergenceWarning,
            stacklevel=4,
        )


def _seed(rng: Any) -> tuple[np.random.Generator, Any]:
    """A Generator and a JSON-safe record from which it can be rebuilt."""
    if rng is None:
        ss = np.random.SeedSequence()
        return np.random.default_rng(ss), {"entropy": str(ss.entropy)}
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng)), int(rng)
    if isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng), {
            "entropy": str(rng.entropy),
            "spawn_key": list(rng.spawn_key),
        }
    if isinstance(rng, np.random.Generator):
        return rng, "Generator supplied by the caller"
    raise TypeError(f"rng must be an int, SeedSequence, Generator or None, got {rng!r}")


def _mcmc(
    family: str,
    hist: _Obs,
    cur: _Obs,
    init: Any,
    tau_prior: TauPrior,
    *,
    draws: int,
    tune: int,
    chains: int,
    gen: np.random.Generator,
) -> tuple[Any, dict[str, Array]]:
    """Fit the commensurate model with PyMC NUTS (non-centred: theta = theta0 + tau z)."""
    if isinstance(tau_prior, SpikeSlabPrecision):
        raise NotImplementedError(
            "method='mcmc' does not support SpikeSlabPrecision (its spike is a point mass that "
            "NUTS cannot sample); use method='exact'"
        )
    import pymc as pm

    seed = int(gen.integers(0, 2**31 - 1))
    with pm.Model():
        if init is None:
            theta0 = pm.Flat("theta0")
        else:
            theta0 = pm.Normal("theta0", mu=float(init[1][0]), sigma=float(init[2][0]))
        if isinstance(tau_prior, Fixed):
            tau: Any = tau_prior.value
        else:
            tau = tau_prior.to_pymc("tau")
        z = pm.Normal("z", 0.0, 1.0)
        theta = pm.Deterministic("theta", theta0 + tau * z)
        if family == "binomial":
            pm.Binomial("y0", n=int(hist.n), logit_p=theta0, observed=int(hist.y))
            pm.Binomial("y", n=int(cur.n), logit_p=theta, observed=int(cur.y))
        else:
            pm.Normal("y0", mu=theta0, sigma=hist.se, observed=hist.y)
            pm.Normal("y", mu=theta, sigma=cur.se, observed=cur.y)
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=1,
            random_seed=seed,
            progressbar=False,
            target_accept=0.95,
            compute_convergence_checks=False,
        )
    names = ["theta0", "z"] + ([] if isinstance(tau_prior, Fixed) else ["tau"])
    _check_convergence(idata, names)
    post = idata.posterior
    out = {"theta": post["theta"].values.ravel(), "theta0": post["theta0"].values.ravel()}
    out["tau"] = (
        np.full(out["theta"].size, tau_prior.value)
        if isinstance(tau_prior, Fixed)
        else post["tau"].values.ravel()
    )
    return idata, out
