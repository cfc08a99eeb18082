"""Series of n-of-1 patients by MCMC (PyMC): the full model of every patient's raw series,
each change visit marginalised by log-sum-exp under the patient's change-time prior, with
hierarchical jumps. The cross-check of the deterministic method."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rdstats._warnings import ConvergenceWarning
from rdstats.borrowing._hyperpriors import Normal, TauPrior
from rdstats.borrowing._map_mcmc import DIVERGENCE_SHARE, ESS_MIN, RHAT_MAX

Array = NDArray[np.float64]

__all__ = ["SeriesDraws", "series_mcmc"]


@dataclass(frozen=True)
class SeriesDraws:
    mu: Array  # (N,)
    tau: Array  # (N,)
    jumps: Array  # (N, P)
    predictive: Array  # (N,)
    idata: Any
    diagnostics: dict[str, Any]


def _padded(items: list[Any]) -> dict[str, Array]:
    """Every patient's series padded to the longest (mask 0), with the step and ramp
    columns of every candidate change visit (candidates padded with log prior -1e30)."""
    n_max = max(r.y.size for r in items)
    j_max = max(int(np.sum(r.prior > 0)) for r in items)
    p = len(items)
    out = {
        "y": np.zeros((p, n_max)),
        "mask": np.zeros((p, n_max)),
        "tc": np.zeros((p, n_max)),
        "log_expo": np.zeros((p, n_max)),
        "step": np.zeros((p, j_max, n_max)),
        "ramp": np.zeros((p, j_max, n_max)),
        "log_prior": np.full((p, j_max), -1e30),
    }
    for i, r in enumerate(items):
        y, t = np.asarray(r.y), np.asarray(r.times)
        n = y.size
        cand = np.flatnonzero(r.prior > 0)
        step = (np.arange(n)[None, :] >= cand[:, None]).astype(float)
        out["y"][i, :n] = y
        out["mask"][i, :n] = 1.0
        out["tc"][i, :n] = t - t.mean()
        if r.family == "poisson":
            out["log_expo"][i, :n] = np.log(np.asarray(r.options["exposure"], dtype=float))
        out["step"][i, : cand.size, :n] = step
        out["ramp"][i, : cand.size, :n] = (t[None, :] - t[cand][:, None]) * step
        out["log_prior"][i, : cand.size] = np.log(r.prior[cand])
    return out


def _scatter(pm: Any, name: str, which: Array, size: int, **kw: Any) -> Any:
    """A length-``size`` vector that is a free variable at ``which`` and 0 elsewhere."""
    import pytensor.tensor as pt

    if not which.any():
        return pt.zeros(size)
    idx = np.flatnonzero(which)
    if kw.pop("flat", False):
        free = pm.Flat(name, shape=idx.size, **kw)
    else:
        free = pm.Normal(name, shape=idx.size, **kw)
    return pt.set_subtensor(pt.zeros(size)[idx], free)


def _normal_series(pm: Any, items: list[Any], delta: Any) -> None:
    """All normal series: flat level (and trend), p(log sigma) flat, slope change
    ``N(0, v_gamma sigma^2)``, the change visit summed under each patient's prior."""
    d = _padded(items)
    p = len(items)
    n_obs = d["mask"].sum(axis=1)
    level = pm.Flat("level", shape=p, initval=d["y"].sum(axis=1) / n_obs)
    sd0 = np.array([np.std(r.y) for r in items])
    log_sigma = pm.Flat("log_sigma", shape=p, initval=np.log(sd0))
    sigma = pm.math.exp(log_sigma)
    has_trend = np.array([bool(r.options["trend"]) for r in items])
    has_slope = np.array([bool(r.options["slope"]) for r in items])
    trend = _scatter(pm, "trend", has_trend, p, flat=True, initval=np.zeros(has_trend.sum()))
    sd_g = np.array([np.sqrt(r.options["v_gamma"]) if r.options["slope"] else 0.0 for r in items])
    z_g = _scatter(pm, "slope_z", has_slope, p, mu=0.0, sigma=1.0)
    gamma = z_g * sigma * sd_g
    mean = (
        level[:, None, None]
        + delta[:, None, None] * d["step"]
        + gamma[:, None, None] * d["ramp"]
        + (trend[:, None] * d["tc"])[:, None, :]
    )
    resid = (d["y"][:, None, :] - mean) / sigma[:, None, None]
    logp = (
        -0.5 * pm.math.sum(d["mask"][:, None, :] * resid**2, axis=2) - (n_obs * log_sigma)[:, None]
    )
    pm.Potential("series", pm.math.sum(pm.math.logsumexp(logp + d["log_prior"], axis=1)))


def _poisson_series(pm: Any, items: list[Any], theta: Any) -> None:
    """All count series: pre-change rate ~ Ga(a, b) as in the detector, post-change rate
    e^theta times it, log-linear trend ~ N(0, 1/span^2) where the detector fitted one."""
    d = _padded(items)
    p = len(items)
    a = np.array([float(r.fit.components.a_pre[0, 0]) for r in items])
    b = np.array([float(r.fit.components.b_pre[0, 0]) for r in items])
    start = np.array([max(float(np.mean(r.y)), 0.5) for r in items])
    lam = pm.Gamma("rate", alpha=a, beta=b, shape=p, initval=start)
    has_trend = np.array([bool(r.options["trend"]) for r in items])
    span = np.array([float(r.times[-1] - r.times[0]) for r in items])
    z_b = _scatter(pm, "trend_z", has_trend, p, mu=0.0, sigma=1.0)
    beta = z_b / span
    log_rate = (pm.math.log(lam)[:, None] + d["log_expo"] + beta[:, None] * d["tc"])[
        :, None, :
    ] + theta[:, None, None] * d["step"]
    logp = pm.math.sum(
        d["mask"][:, None, :] * (d["y"][:, None, :] * log_rate - pm.math.exp(log_rate)), axis=2
    )
    pm.Potential("series", pm.math.sum(pm.math.logsumexp(logp + d["log_prior"], axis=1)))


def series_mcmc(
    items: list[Any],
    tau_prior: TauPrior,
    mean_prior: Normal | None,
    root: np.random.SeedSequence,
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    target_accept: float = 0.95,
    cores: int = 1,
    **sample_kwargs: Any,
) -> SeriesDraws:
    """NUTS draws of (mu, tau, jumps) and predictive draws of the next patient's jump."""
    try:
        import arviz as az
        import pymc as pm
    except ImportError as err:  # pragma: no cover - pymc is in the 'all' extra
        raise ImportError("method='mcmc' needs pymc and arviz: pip install rdstats[all]") from err
    seeds = root.generate_state(2)
    n_pat = len(items)
    init = sample_kwargs.pop("init", "adapt_diag")  # no jitter: one function less to compile
    with pm.Model():
        if mean_prior is None:
            start = float(np.mean([r.jump["median"] for r in items]))
            if items[0].family == "poisson":
                start = float(np.log(max(start, 1e-3)))
            mu = pm.Flat("mu", initval=start)
        else:
            mu = pm.Normal("mu", mean_prior.mean, mean_prior.sd)
        tau = tau_prior.to_pymc("tau")
        z = pm.Normal("z", 0.0, 1.0, shape=n_pat)
        jumps = mu + tau * z
        if items[0].family == "normal":
            _normal_series(pm, items, jumps)
        else:
            _poisson_series(pm, items, jumps)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            idata = pm.sample(
                draws=draws,
                tune=tune,
                chains=chains,
                cores=cores,
                target_accept=target_accept,
                random_seed=int(seeds[0]),
                init=init,
                progressbar=False,
                compute_convergence_checks=False,
                **sample_kwargs,
            )
    names = ["mu", "z"] + ([] if tau_prior.fixed else ["tau"])
    ess = az.ess(idata, var_names=names, method="bulk")
    min_ess = float(min(float(np.nanmin(ess[v].values)) for v in names))
    if chains >= 2:
        rhat = az.rhat(idata, var_names=names)
        max_rhat = float(max(float(np.nanmax(rhat[v].values)) for v in names))
    else:
        max_rhat = float("nan")
    divergences = int(idata.sample_stats["diverging"].values.sum())
    diagnostics = {
        "max_rhat": max_rhat,
        "min_bulk_ess": min_ess,
        "divergences": divergences,
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "target_accept": target_accept,
    }
    if (
        (chains >= 2 and not max_rhat <= RHAT_MAX)
        or not min_ess >= ESS_MIN
        or divergences > DIVERGENCE_SHARE * draws * chains
    ):
        warnings.warn(
            f"MCMC may not have converged: max R-hat {max_rhat:.3f} (want <= {RHAT_MAX}), "
            f"min bulk ESS {min_ess:.0f} (want >= {ESS_MIN:.0f}), {divergences} divergent "
            "transitions; increase draws/tune or target_accept, or use method='exact'",
            ConvergenceWarning,
            stacklevel=3,
        )
    post = idata.posterior
    mu_d = post["mu"].values.reshape(-1)
    z_d = post["z"].values.reshape(mu_d.size, n_pat)
    tau_d = (
        np.full(mu_d.size, float(tau_prior.ppf(0.5)))
        if tau_prior.fixed
        else post["tau"].values.reshape(-1)
    )
    rng = np.random.default_rng(int(seeds[1]))
    pred = mu_d + tau_d * rng.standard_normal(mu_d.size)
    return SeriesDraws(
        mu=mu_d,
        tau=tau_d,
        jumps=mu_d[:, None] + tau_d[:, None] * z_d,
        predictive=pred,
        idata=idata,
        diagnostics=diagnostics,
    )
