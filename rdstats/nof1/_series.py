"""Series of n-of-1 patients: hierarchical (normal-normal) combination of several
patients' jumps, ``combine_jumps`` -> :class:`SeriesResult`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rdstats._provenance import provenance
from rdstats._validation import real_number
from rdstats.borrowing._hyperpriors import HalfNormal, Normal, TauPrior, as_tau_prior
from rdstats.nof1._multi import MultiJumpResult
from rdstats.nof1._result import JumpResult
from rdstats.nof1._series_dist import GridDist, NodeDist
from rdstats.nof1._series_exact import flat_tail, jump_likelihood, posterior_on_grid
from rdstats.simulate._streams import root_seed, seed_record

__all__ = ["SeriesResult", "combine_jumps"]

METHODS = ("exact", "mcmc")


@dataclass(frozen=True)
class SeriesResult:
    """Hierarchical combination of several n-of-1 patients' jumps.

    Model: patient ``i``'s jump ``d_i ~ N(mu, tau^2)`` (normal outcomes: the jump in outcome
    units; counts: the log rate ratio), each patient's data entering through its exact jump
    likelihood (see :func:`combine_jumps`).

    Attributes
    ----------
    patients : tuple of str
        Patient labels.
    family, direction, scale : str
        Outcome family, beneficial direction and the scale of the jumps (``"jump"`` or
        ``"log rate ratio"``).
    mcid : float or None
        Clinically meaningful jump as given (a rate ratio for counts).
    threshold : float or None
        The MCID on the analysis scale (``log(mcid)`` for counts).
    level : float
        Credible level of the intervals.
    method : {"exact", "mcmc"}
    mu, tau, predictive : distribution
        Posterior of the population mean jump, of tau, and the predictive distribution of
        the next patient's jump (``cdf``, ``sf``, ``quantile``, ``moments``).
    jumps, unpooled : tuple of distributions
        Each patient's shrunken jump (hierarchical posterior) and unpooled jump (flat
        prior on the jump: the normalised jump likelihood).
    """

    patients: tuple[str, ...]
    family: str
    direction: str
    scale: str
    mcid: float | None
    threshold: float | None
    level: float
    method: str
    mu: Any = field(repr=False)
    tau: Any = field(repr=False)
    predictive: Any = field(repr=False)
    jumps: tuple[Any, ...] = field(repr=False)
    unpooled: tuple[Any, ...] = field(repr=False)
    tau_prior: TauPrior = field(repr=False)
    mean_prior: Normal | None = field(repr=False)
    diagnostics: dict[str, Any] = field(repr=False)
    idata: Any = field(repr=False, compare=False)
    provenance: dict[str, Any] = field(repr=False, compare=False)

    # -- probabilities ---------------------------------------------------------------------
    def _cut(self, mcid: float | None) -> float:
        if mcid is None:
            if self.threshold is None:
                raise ValueError("give mcid (here or to combine_jumps / detect_jump)")
            return self.threshold
        m = real_number(mcid, "mcid")
        if self.family == "poisson":
            if not m > 0:
                raise ValueError(f"mcid is a rate ratio for counts and must be > 0, got {mcid!r}")
            return math.log(m)
        if m < 0:
            raise ValueError(f"mcid must be >= 0 (direction gives the sign), got {mcid!r}")
        return m if self.direction == "increase" else -m

    def _beyond(self, dist: Any, cut: float) -> float:
        return float(dist.sf(cut) if self.direction == "increase" else dist.cdf(cut))

    def prob_mean_exceeds(self, mcid: float | None = None) -> float:
        """P(population mean jump beyond the MCID in the beneficial direction)."""
        return self._beyond(self.mu, self._cut(mcid))

    def prob_next_exceeds(self, mcid: float | None = None) -> float:
        """P(the next patient's jump is beyond the MCID) under the predictive."""
        return self._beyond(self.predictive, self._cut(mcid))

    def prob_individual_exceeds(self, mcid: float | None = None) -> pd.Series:
        """Each patient's posterior probability (shrunken) that their jump is beyond the
        MCID."""
        cut = self._cut(mcid)
        return pd.Series(
            [self._beyond(d, cut) for d in self.jumps],
            index=pd.Index(self.patients, name="patient"),
            name="prob_exceeds",
        )

    # -- tables ----------------------------------------------------------------------------
    def _row(self, dist: Any) -> dict[str, float]:
        mean, sd = dist.moments()
        lo, hi = (1 - self.level) / 2, (1 + self.level) / 2
        return {
            "mean": mean,
            "sd": sd,
            "median": dist.quantile(0.5),
            "lower": dist.quantile(lo),
            "upper": dist.quantile(hi),
        }

    @property
    def population(self) -> pd.Series:
        """Posterior of the population mean jump ``mu``."""
        return pd.Series(self._row(self.mu), name="mu")

    @property
    def tau_summary(self) -> pd.Series:
        """Posterior of the between-patient SD ``tau``."""
        return pd.Series(self._row(self.tau), name="tau")

    @property
    def individual(self) -> pd.DataFrame:
        """Per patient: unpooled and shrunken jump (mean and interval) and, with an MCID,
        the shrunken P(jump beyond MCID)."""
        rows = []
        for name, raw, post in zip(self.patients, self.unpooled, self.jumps, strict=True):
            u = self._row(raw)
            row = {"patient": name, **{f"unpooled_{k}": u[k] for k in ("mean", "lower", "upper")}}
            row.update(self._row(post))
            if self.threshold is not None:
                row["prob_exceeds"] = self._beyond(post, self.threshold)
            rows.append(row)
        return pd.DataFrame(rows).set_index("patient")

    def summary(self) -> pd.DataFrame:
        """Rows: population mean, tau, each patient (shrunken) and the next patient
        (predictive); columns mean, sd, median, interval and P(beyond MCID)."""
        rows = [("mean jump (mu)", self.mu), ("tau", self.tau)]
        rows += [
            (p if str(p).lower().startswith("patient") else f"patient {p}", d)
            for p, d in zip(self.patients, self.jumps, strict=True)
        ]
        rows.append(("next patient", self.predictive))
        out = []
        for name, dist in rows:
            row: dict[str, Any] = {"quantity": name, **self._row(dist)}
            if self.threshold is not None:
                row["prob_exceeds_mcid"] = (
                    math.nan if name == "tau" else self._beyond(dist, self.threshold)
                )
            out.append(row)
        return pd.DataFrame(out).set_index("quantity")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        table = self.summary().reset_index()
        records = [
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in table.to_dict(orient="records")
        ]
        return {
            "family": self.family,
            "direction": self.direction,
            "scale": self.scale,
            "mcid": self.mcid,
            "threshold": self.threshold,
            "level": self.level,
            "method": self.method,
            "patients": list(self.patients),
            "tau_prior": self.tau_prior.to_dict(),
            "mean_prior": None if self.mean_prior is None else self.mean_prior.to_dict(),
            "summary": records,
            "diagnostics": {
                k: v for k, v in self.diagnostics.items() if isinstance(v, (int, float, str, bool))
            },
            "provenance": dict(self.provenance),
        }

    def _repr_html_(self) -> str:
        return (
            f"<p><b>Series of n-of-1 patients</b> ({len(self.patients)} patients, "
            f"{self.family}, {self.scale}, {self.method})</p>"
            + self.summary().to_html(float_format="{:.4g}".format)
        )

    def plot(self, ax: Any = None) -> Any:
        """Forest plot: unpooled and shrunken jumps per patient, the population mean and
        the next patient's predictive interval, with the MCID."""
        from rdstats.plotting._nof1_series import series_forest_plot

        return series_forest_plot(self, ax=ax)


# -- validation ------------------------------------------------------------------------------
def _as_results(results: Any) -> tuple[tuple[str, ...], list[JumpResult]]:
    if isinstance(results, Mapping):
        labels, items = [str(k) for k in results], list(results.values())
    elif isinstance(results, (list, tuple)):
        labels, items = [str(i + 1) for i in range(len(results))], list(results)
    else:
        raise TypeError(
            "results must be a list or dict of JumpResult (one per patient), got "
            f"{type(results).__name__}"
        )
    if not items:
        raise ValueError("results is empty: give one JumpResult per patient")
    for lab, r in zip(labels, items, strict=True):
        if isinstance(r, MultiJumpResult):
            raise TypeError(
                f"results[{lab!r}] is a MultiJumpResult (several outcomes); pass one outcome's "
                f"JumpResult, e.g. result.results[{r.outcomes[0]!r}]"
            )
        if not isinstance(r, JumpResult):
            raise TypeError(
                f"results[{lab!r}] must be a JumpResult from detect_jump (it carries the "
                f"change-time and jump posterior), got {type(r).__name__}"
            )
    fams = sorted({r.family for r in items})
    if len(fams) > 1:
        raise ValueError(f"results mix outcome families {fams}; combine one family at a time")
    if fams[0] == "ordinal":
        raise ValueError(
            "combine_jumps combines family='normal' or 'poisson' jumps; ordinal jumps are "
            "bounded score differences, for which a normal hierarchy is not defined"
        )
    dirs = sorted({r.direction for r in items})
    if len(dirs) > 1:
        raise ValueError(
            f"results mix directions {dirs}: a beneficial jump must mean the same for every "
            "patient (re-run detect_jump with one direction)"
        )
    return tuple(labels), items


def _mcid(mcid: Any, items: list[JumpResult], family: str) -> float | None:
    if mcid is not None:
        m = real_number(mcid, "mcid")
        if family == "poisson" and not m > 0:
            raise ValueError(f"mcid is a rate ratio for family='poisson' and must be > 0, got {m}")
        if family != "poisson" and m < 0:
            raise ValueError(f"mcid must be >= 0 (direction gives the sign), got {mcid!r}")
        return m
    given = {r.mcid for r in items}
    if len(given) > 1:
        raise ValueError(
            f"the results have different mcid values {sorted(given, key=str)}; pass mcid="
        )
    return given.pop()


def _default_tau_prior(liks: list[Any], family: str) -> TauPrior:
    if family == "poisson":
        return HalfNormal(1.0)
    sds = []
    for lk in liks:
        best = int(np.argmax(lk.log_h + np.log(lk.width)))
        sds.append(math.sqrt(lk.b[best] / lk.nu))
    return HalfNormal(float(np.median(sds)))


def combine_jumps(
    results: Any,
    *,
    mcid: float | None = None,
    tau_prior: Any = None,
    mean_prior: Any = None,
    method: str = "exact",
    level: float = 0.95,
    rng: Any = None,
    resolution: int = 10,
    **mcmc_options: Any,
) -> SeriesResult:
    """Hierarchical combination of several n-of-1 patients' jumps ("series of n-of-1").

    Parameters
    ----------
    results : list or dict of JumpResult
        One :func:`detect_jump` result per patient (dict keys label the patients), all of
        one family (``"normal"`` or ``"poisson"``) and one direction.
    mcid : float, optional
        Clinically meaningful jump (a rate ratio for counts); default: the results' common
        MCID.
    tau_prior : TauPrior or float, optional
        Prior of the between-patient SD of the jumps (``HalfNormal``, ``HalfT``, ...; a
        number is a half-normal scale). Default: half-normal with scale 1 on the log rate
        ratio (counts), or with scale the median of the patients' residual SDs (normal, the
        scale of the detector's own jump prior). With one patient there is no default.
    mean_prior : Normal or (mean, sd), optional
        Prior of the population mean jump; default flat.
    method : {"exact", "mcmc"}
        ``"exact"``: deterministic quadrature (see Notes). ``"mcmc"``: PyMC model of all
        patients' raw series (each change visit marginalised by log-sum-exp under the
        patient's change-time prior), the cross-check; not for AR(1) fits.
    level : float
        Credible level of the intervals.
    rng : None, int, SeedSequence or Generator
        Seed of the MCMC (recorded in ``provenance``).
    resolution : int
        Exact method: grid points per smallest kernel scale of the jump likelihoods.
    **mcmc_options
        ``draws``, ``tune``, ``chains``, ``target_accept``, ``cores`` (``method="mcmc"``).

    Returns
    -------
    SeriesResult

    Notes
    -----
    Every patient contributes the exact likelihood of their jump ``d``,
    ``L_i(d) = sum_{j,g} pi_j pi_g p(y_i | change at visit j, grid value g, jump d)``, with
    the change visit ``j`` summed under the patient's own change-time prior (anchored at
    treatment start, for instance), the AR(1) coefficient or count trend ``g`` under its
    grid prior, and the remaining parameters integrated under the detector's priors (see
    :mod:`rdstats.nof1._series_exact`). The hierarchy ``d_i ~ N(mu, tau^2)`` replaces the
    detector's jump prior and its spike at "no change": a patient without effect has
    ``d_i`` near 0. The posterior is computed on a uniform grid of the jump (10 points per
    smallest kernel scale) by Gauss-Legendre quadrature in ``log tau`` (8 nodes per unit
    panel, the prior mass of tiny tau on a node at 0); the patients' integrals over their
    jumps are Gaussian convolutions done spectrally (exact for functions the grid
    resolves). Shrunken jumps use the leave-one-out posterior of ``(mu, tau)``; the
    predictive of the next patient's jump is ``N(mu, tau^2)`` mixed over the posterior.
    Likelihood kernels are truncated where their tail is below 1e-8 (or beyond 60 scales).
    The jump is the patient's jump at their change, wherever the change-time prior allows
    it (an anchored prior keeps most of the mass at or after treatment start). Counts whose
    every post-change count is zero for some candidate give a likelihood that stays flat
    as the rate ratio goes to 0: if that holds for every patient a flat ``mean_prior`` is
    refused (improper posterior). Ordinal scores are not combined (bounded differences).
    The MCMC model is the same model written on the raw series (normal: flat level and
    trend, ``p(log sigma)`` flat, slope change ``N(0, v_gamma sigma^2)``; counts:
    ``Ga(a, b)`` pre-change rate and ``N(0, 1/span^2)`` log-linear trend), with the change
    visit summed out by log-sum-exp; AR(1) fits are exact-only.

    References
    ----------
    .. [1] Zucker DR, Ruthazer R, Schmid CH. Individual (N-of-1) trials can be combined to
       give population comparative treatment effect estimates: methodologic
       considerations. J Clin Epidemiol 2010;63:1312-1323.
    .. [2] Schmid CH, Duan N, et al. Design and Implementation of N-of-1 Trials: A User's
       Guide. AHRQ 2014 (chapter 8: statistical analysis).
    .. [3] Gelman A. Prior distributions for variance parameters in hierarchical models.
       Bayesian Analysis 2006;1:515-534.

    Examples
    --------
    >>> import numpy as np
    >>> from rdstats.nof1 import detect_jump
    >>> from rdstats.nof1 import combine_jumps
    >>> rng = np.random.default_rng(7)
    >>> res = [detect_jump(np.r_[rng.normal(0, 1, 10), rng.normal(1.5, 1, 10)],
    ...                    treatment_start=10, mcid=1.0) for _ in range(4)]
    >>> s = combine_jumps(res)
    >>> round(s.prob_mean_exceeds(), 3), round(s.prob_next_exceeds(), 3)
    (0.973, 0.914)
    >>> s.population[["mean", "lower", "upper"]].round(2).tolist()
    [1.59, 0.98, 2.2]
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if mcmc_options and method != "mcmc":
        raise TypeError(f"{sorted(mcmc_options)} are MCMC options; they need method='mcmc'")
    labels, items = _as_results(results)
    family, direction = items[0].family, items[0].direction
    m = _mcid(mcid, items, family)
    lev = real_number(level, "level")
    if not 0 < lev < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)):
        raise TypeError(f"resolution must be an integer, got {resolution!r}")
    if not 4 <= resolution <= 100:
        raise ValueError(f"resolution must be from 4 to 100, got {resolution}")
    liks = [jump_likelihood(r) for r in items]
    if tau_prior is None:
        if len(items) < 2:
            raise ValueError(
                "one patient: tau is not identifiable, so there is no default tau_prior; "
                "pass one (e.g. tau_prior=HalfNormal(1.0) or Fixed(0.5))"
            )
        tprior = _default_tau_prior(liks, family)
    else:
        tprior = as_tau_prior(tau_prior)
    mprior: Normal | None
    if mean_prior is None:
        mprior = None
    elif isinstance(mean_prior, Normal):
        mprior = mean_prior
    elif isinstance(mean_prior, tuple) and len(mean_prior) == 2:
        mprior = Normal(*mean_prior)
    else:
        raise TypeError(
            f"mean_prior must be None, Normal(mean, sd) or (mean, sd); got {mean_prior!r}"
        )
    if mprior is None and all(flat_tail(lk) for lk in liks):
        raise ValueError(
            "every patient's likelihood stays flat as the rate ratio goes to 0 (all counts are "
            "zero after some candidate change), so with a flat mean_prior the posterior of the "
            "mean log rate ratio is improper; give mean_prior=(mean, sd)"
        )
    threshold = None
    if m is not None:
        threshold = math.log(m) if family == "poisson" else (m if direction == "increase" else -m)
    root = root_seed(rng)
    args = {
        "n_patients": len(items),
        "family": family,
        "direction": direction,
        "mcid": m,
        "tau_prior": tprior.to_dict(),
        "mean_prior": None if mprior is None else mprior.to_dict(),
        "method": method,
        "level": lev,
        "resolution": int(resolution),
        "mcmc_options": {k: v for k, v in mcmc_options.items() if isinstance(v, (int, float, str))},
    }
    unpooled = []
    idata = None
    mu: Any
    tau: Any
    pred: Any
    jumps: tuple[Any, ...]
    if method == "exact":
        post = posterior_on_grid(liks, tprior, mprior, resolution=int(resolution))
        h = float(post.grid[1] - post.grid[0])
        mu = GridDist(post.grid, post.mu_density)
        tau = NodeDist(post.tau, post.weight.sum(axis=1), post.tau_edges)
        jumps = tuple(GridDist(post.grid, d) for d in post.shrunk)
        unpooled = [GridDist(post.grid, np.exp(ll) / (np.exp(ll).sum() * h)) for ll in post.log_lik]
        pred = GridDist(post.grid, post.pred_grid_density, post.pred_far)
        diagnostics: dict[str, Any] = {
            "grid_points": int(post.grid.size),
            "tau_nodes": int(post.tau.size),
        }
        seed = None
    else:
        from rdstats.nof1._series_dist import DrawDist
        from rdstats.nof1._series_mcmc import series_mcmc

        for r in items:
            if r.options.get("ar1"):
                raise ValueError("method='mcmc' does not fit AR(1) series; use method='exact'")
        draws = series_mcmc(items, tprior, mprior, root, **mcmc_options)
        mu = DrawDist(draws.mu)
        tau = DrawDist(draws.tau)
        jumps = tuple(DrawDist(d) for d in draws.jumps.T)
        pred = DrawDist(draws.predictive)
        post_grid = posterior_on_grid(liks, tprior, mprior, resolution=int(resolution))
        h = float(post_grid.grid[1] - post_grid.grid[0])
        unpooled = [
            GridDist(post_grid.grid, np.exp(ll) / (np.exp(ll).sum() * h))
            for ll in post_grid.log_lik
        ]
        diagnostics = draws.diagnostics
        idata = draws.idata
        seed = seed_record(root)
    return SeriesResult(
        patients=labels,
        family=family,
        direction=direction,
        scale="log rate ratio" if family == "poisson" else "jump",
        mcid=m,
        threshold=threshold,
        level=lev,
        method=method,
        mu=mu,
        tau=tau,
        predictive=pred,
        jumps=jumps,
        unpooled=tuple(unpooled),
        tau_prior=tprior,
        mean_prior=mprior,
        diagnostics=diagnostics,
        idata=idata,
        provenance=provenance(arguments=args, seed=seed),
    )
