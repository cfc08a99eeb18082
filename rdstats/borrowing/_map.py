"""Meta-analytic-predictive (MAP) priors: ``map_prior`` and its result ``MAPResult``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import interpolate, optimize, special

from rdstats._provenance import provenance
from rdstats.borrowing._hyperpriors import (
    HalfNormal,
    Normal,
    TauPrior,
    as_mean_prior,
    as_tau_prior,
)
from rdstats.borrowing._map_exact import Nodes, exact_nodes
from rdstats.borrowing._predictive import LinkMixture, LinkSample, Predictive, _to_response
from rdstats.borrowing._studies import Studies, as_studies
from rdstats.priors import Mixture, NormalMixture
from rdstats.simulate._streams import root_seed, seed_record

Array = NDArray[np.float64]

__all__ = ["MAPResult", "map_prior"]

METHODS = ("exact", "mcmc")
_LEVELS = (0.025, 0.5, 0.975)
_DEFAULT_MEAN_SD = {"binomial": 2.0, "poisson": 1.0}


def _summary_row(name: str, mean: float, sd: float, q: Any) -> dict[str, Any]:
    q = [float(v) for v in q]
    return {"parameter": name, "mean": mean, "sd": sd, "2.5%": q[0], "50%": q[1], "97.5%": q[2]}


def _mixture_quantiles(w: Array, m: Array, s: Array, levels: Sequence[float]) -> Array:
    """Quantiles of normal mixtures ``sum_c w_c N(m_c, s_c^2)`` (``s_c`` may be 0: point
    masses), by vectorised bisection. ``m`` and ``s`` are (C,) or (C, H); returns
    (len(levels),) or (H, len(levels))."""
    m2 = m.reshape(m.shape[0], -1)
    s2 = np.broadcast_to(s.reshape(s.shape[0], -1), m2.shape)
    q = np.asarray(levels, dtype=float)
    lo = np.broadcast_to((m2 - 10 * s2).min(axis=0)[:, None] - 1e-9, (m2.shape[1], q.size)).copy()
    hi = np.broadcast_to((m2 + 10 * s2).max(axis=0)[:, None] + 1e-9, (m2.shape[1], q.size)).copy()
    pos = s2 > 0
    safe = np.where(pos, s2, 1.0)
    for _ in range(64):
        mid = (lo + hi) / 2
        z = (mid[None, :, :] - m2[:, :, None]) / safe[:, :, None]
        z = np.where(pos[:, :, None], z, np.where(mid[None] >= m2[:, :, None], np.inf, -np.inf))
        cdf = np.einsum("c,chq->hq", w, special.ndtr(z))
        below = cdf < q
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    out = (lo + hi) / 2
    return out[0] if m.ndim == 1 else out


@dataclass(frozen=True, eq=False)
class MAPResult:
    """A meta-analytic-predictive prior and the random-effects meta-analysis behind it.

    Returned by :func:`map_prior`; see there. Quantities on the *response* scale
    (probability, rate or mean) unless the name says ``link``.
    """

    family: str
    method: str
    studies: Studies
    tau_priors: tuple[TauPrior, ...]
    mean_prior: Normal
    predict_stratum: int
    new_covariates: tuple[float, ...]
    covariates: tuple[str, ...]
    _pred: Predictive
    _tau_summary: pd.DataFrame
    _mu_summary: dict[str, Any]
    _studies_summary: pd.DataFrame
    log_evidence: float | None
    diagnostics: dict[str, Any]
    idata: Any
    provenance: dict[str, Any] = field(repr=False)

    # -- summaries ------------------------------------------------------------------------
    @property
    def predictive(self) -> pd.Series:
        """Summary of the MAP prior (the new study's parameter): mean, sd, 2.5%, 50%, 97.5%."""
        mean, sd = self._pred.moments()
        q = self._pred.ppf(np.array(_LEVELS))
        return pd.Series(_summary_row("MAP", mean, sd, q)).drop("parameter").astype(float)

    @property
    def tau(self) -> pd.DataFrame:
        """Posterior summary of the between-study SD tau, one row per stratum."""
        return self._tau_summary.copy()

    @property
    def mu(self) -> pd.Series:
        """Posterior summary of the population mean on the link scale."""
        return pd.Series(self._mu_summary).drop("parameter").astype(float)

    @property
    def study_estimates(self) -> pd.DataFrame:
        """Observed and shrunken (posterior) estimates of every historical study."""
        return self._studies_summary.copy()

    def summary(self) -> pd.DataFrame:
        """Tidy table: the MAP prior, the population mean (link scale) and tau."""
        mean, sd = self._pred.moments()
        rows = [_summary_row("MAP", mean, sd, self._pred.ppf(np.array(_LEVELS)))]
        rows.append(self._mu_summary)
        rows += [{str(k): v for k, v in r.items()} for r in self._tau_summary.to_dict("records")]
        return pd.DataFrame(rows).set_index("parameter")

    # -- the MAP prior as a distribution --------------------------------------------------
    def mean(self) -> float:
        return self._pred.moments()[0]

    def sd(self) -> float:
        return self._pred.moments()[1]

    def cdf(self, x: ArrayLike) -> NDArray[np.float64]:
        """P(new study's parameter <= x)."""
        return self._pred.cdf(x)

    def pdf(self, x: ArrayLike) -> NDArray[np.float64]:
        """Density of the MAP prior."""
        return self._pred.pdf(x)

    def ppf(self, q: ArrayLike) -> NDArray[np.float64]:
        """Quantiles of the MAP prior."""
        return self._pred.ppf(q)

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        lo, hi = self._pred.ppf(np.array([(1 - level) / 2, (1 + level) / 2]))
        return float(lo), float(hi)

    def sample(self, size: int, *, rng: Any = None) -> NDArray[np.float64]:
        """Draws from the MAP prior (``rng``: int, SeedSequence, Generator or None)."""
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"size must be a positive integer, got {size!r}")
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(root_seed(rng))
        return self._pred.sample(int(size), gen)

    def fit_mixture(
        self,
        max_components: int = 4,
        criterion: Any = "aic",
        n_components: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """Parametric mixture approximation of the MAP prior, with the criteria of every
        number of components tried (a ``MixtureFit``); see :meth:`to_mixture`."""
        from rdstats.borrowing._mixfit import fit_mixture

        x, w = self._pred.points()
        fam: Any = {"binomial": "beta", "poisson": "gamma", "normal": "normal"}[self.family]
        extra: dict[str, Any] = {}
        if fam == "normal":
            extra["sigma"] = None if math.isnan(self.studies.sigma) else self.studies.sigma
        return fit_mixture(
            x,
            fam,
            weights=w,
            max_components=max_components,
            criterion=criterion,
            n_components=n_components,
            **extra,
            **kwargs,
        )

    def to_mixture(
        self,
        max_components: int = 4,
        criterion: str = "aic",
        n_components: int | None = None,
        **kwargs: Any,
    ) -> Mixture:
        """Beta (binomial), gamma (Poisson) or normal mixture approximating the MAP prior.

        Fitted by EM: to the MCMC predictive draws (``method="mcmc"``), or to a fine
        quadrature representation of the deterministic MAP density (``method="exact"``,
        nominal sample size 4,000 for the information criterion, as RBesT's default
        number of retained draws). The number of components (1 to ``max_components``) is
        chosen by ``criterion`` ("aic" or "bic") unless ``n_components`` is given. Beta
        components keep a, b >= 1 so that the ELIR effective sample size is defined.
        """
        return self.fit_mixture(max_components, criterion, n_components, **kwargs).mixture

    def ess(self, method: str = "elir", **mixture_options: Any) -> float:
        """Prior effective sample size of the MAP prior, computed on its mixture
        approximation (:meth:`to_mixture`) with :func:`rdstats.priors.ess`."""
        from rdstats.priors import ess

        mix = self.to_mixture(**mixture_options)
        family = None if self.family != "normal" else "gaussian"
        return float(ess(mix, method, family) if family else ess(mix, method))  # type: ignore[arg-type]

    # -- presentation ---------------------------------------------------------------------
    def forest_plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Forest plot: observed and shrunken study estimates, the population mean and the
        MAP prior, each with its 95% interval."""
        from rdstats.plotting._borrowing import plot_map_forest

        return plot_map_forest(self, ax=ax, **kwargs)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """The forest plot (see :meth:`forest_plot`)."""
        return self.forest_plot(ax=ax, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "method": self.method,
            "data": self.studies.table().to_dict("list"),
            "tau_prior": [p.to_dict() for p in self.tau_priors],
            "mean_prior": self.mean_prior.to_dict(),
            "summary": self.summary().reset_index().to_dict("records"),
            "study_estimates": self._studies_summary.to_dict("records"),
            "log_evidence": self.log_evidence,
            "diagnostics": self.diagnostics,
            "provenance": self.provenance,
        }

    def __repr__(self) -> str:
        m = self.predictive
        return (
            f"MAPResult(family={self.family!r}, method={self.method!r}, studies="
            f"{self.studies.size}, MAP mean {m['mean']:.4g}, sd {m['sd']:.4g}, 95% "
            f"[{m['2.5%']:.4g}, {m['97.5%']:.4g}])"
        )

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>MAP prior</b> ({self.family}, {self.method}, {self.studies.size} "
            "historical studies)</p>"
        )
        return head + self.summary().to_html(float_format=lambda v: f"{v:.4g}")


# -- construction helpers --------------------------------------------------------------------
def _tau_priors(tau_prior: Any, studies: Studies, family: str) -> tuple[TauPrior, ...]:
    default_scale = (
        1.0
        if family != "normal"
        else (studies.sigma / 2 if math.isfinite(studies.sigma) else float(np.median(studies.se)))
    )
    if tau_prior is None:
        if studies.size < 2:
            raise ValueError(
                f"data has {studies.size} study: the between-study SD tau is not identifiable "
                "from one study, so no default prior is used; pass a fixed tau "
                "(tau_prior=Fixed(0.25)) or an informative tau_prior chosen for this setting"
            )
        prior: Any = HalfNormal(default_scale)
        return tuple(prior for _ in studies.strata)
    if isinstance(tau_prior, Mapping):
        missing = [s for s in studies.strata if s not in tau_prior]
        extra = [k for k in tau_prior if k not in studies.strata]
        if missing or extra:
            raise ValueError(
                f"tau_prior must map every stratum {list(studies.strata)} to a prior; "
                f"missing {missing}, unknown {extra}"
            )
        return tuple(as_tau_prior(tau_prior[s], f"tau_prior[{s!r}]") for s in studies.strata)
    p = as_tau_prior(tau_prior)
    return tuple(p for _ in studies.strata)


def _design(
    data: pd.DataFrame, covariates: Sequence[str] | None, new: Mapping[str, float] | None
) -> tuple[Array | None, tuple[str, ...], tuple[float, ...]]:
    if covariates is None:
        if new is not None:
            raise ValueError("new_covariates given without covariates")
        return None, (), (1.0,)
    if isinstance(covariates, str):
        covariates = [covariates]
    cols = list(covariates)
    for c in cols:
        if c not in data.columns:
            raise ValueError(f"covariate {c!r} is not a column of data ({list(data.columns)})")
    x = np.column_stack(
        [np.ones(len(data))] + [pd.to_numeric(data[c]).to_numpy(float) for c in cols]
    )
    if not np.isfinite(x).all():
        raise ValueError(f"covariates {cols} must be finite numbers for every study")
    if new is None:
        raise ValueError(
            f"with covariates {cols}, new_covariates must give the new study's values, "
            f"e.g. new_covariates={{{cols[0]!r}: 0.0}}"
        )
    missing = [c for c in cols if c not in new]
    if missing:
        raise ValueError(f"new_covariates lacks {missing}")
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise ValueError(f"covariates {cols} are collinear with the intercept or each other")
    return x, tuple(cols), (1.0, *(float(new[c]) for c in cols))


def _tau_summary_exact(nodes: Nodes, strata: tuple[str, ...]) -> pd.DataFrame:
    w_tau = nodes.weight.sum(axis=1)
    rows = []
    for s, (t_nodes, rule) in enumerate(nodes.tau_rules):
        name = "tau" if len(strata) == 1 else f"tau[{strata[s]}]"
        w = np.array([w_tau[nodes.tau[:, s] == t].sum() for t in t_nodes])
        mean = float(w @ t_nodes)
        sd = math.sqrt(max(float(w @ t_nodes**2) - mean**2, 0.0))
        if t_nodes.size == 1:
            rows.append(_summary_row(name, mean, sd, [float(t_nodes[0])] * 3))
            continue
        # density of v = log tau at the rule's nodes, interpolated (PCHIP) and integrated;
        # the node at tau = 0 is a point mass at the start
        lump = ~np.isfinite(rule)
        v = np.log(t_nodes[~lump])
        dens = w[~lump] / np.exp(rule[~lump] - v)  # mass / (d tau weight) * tau = per dv
        start = float(w[lump].sum())
        f = interpolate.PchipInterpolator(v, dens, extrapolate=False).antiderivative()
        total = float(f(v[-1]))
        scale = (1.0 - start) / total if total > 0 else 0.0

        def cdf(x: float, f: Any = f, scale: float = scale, start: float = start) -> float:
            return start + scale * float(f(x))

        qs = []
        for q in _LEVELS:
            if q <= start:
                qs.append(0.0)
            else:
                root = optimize.brentq(lambda x, q=q: cdf(x) - q, v[0], v[-1], xtol=1e-10)
                qs.append(math.exp(root))
        rows.append(_summary_row(name, mean, sd, qs))
    return pd.DataFrame(rows)


def _studies_table(
    studies: Studies, mean: Array, sd: Array, q: Array, link_mean: Array, link_sd: Array
) -> pd.DataFrame:
    est, se = studies.raw_estimates()
    out = studies.table()
    out["observed"] = studies.observed()
    out["posterior_mean"] = mean
    out["posterior_sd"] = sd
    out["2.5%"], out["50%"], out["97.5%"] = q[:, 0], q[:, 1], q[:, 2]
    out["link_estimate"], out["link_se"] = est, se
    out["link_posterior_mean"], out["link_posterior_sd"] = link_mean, link_sd
    return out


def _response_moments(family: str, m: Array, s: Array, w: Array) -> tuple[float, float]:
    """Mean and SD on the response scale of sum_j w_j N(m_j, s_j^2) on the link scale."""
    return LinkMixture(family, NormalMixture(w / w.sum(), m, np.maximum(s, 1e-300))).moments()


def _from_nodes(
    studies: Studies, nodes: Nodes, xnew: Array, s_new: int
) -> tuple[Predictive, dict[str, Any], pd.DataFrame, pd.DataFrame]:
    w = nodes.weight  # (C, K)
    w_tau = w.sum(axis=1)
    tau_new = nodes.tau[:, s_new]
    lin = nodes.coef @ xnew  # (C, K)
    cond_m = nodes.cond_mean @ xnew
    cond_s = np.sqrt(np.maximum(np.einsum("d,cde,e->c", xnew, nodes.cond_cov, xnew), 0.0))
    # tau nodes at least as wide as the conditional spread of the linear predictor keep
    # their coefficient nodes; narrower ones are one moment-matched normal (the mixture of
    # near point masses would be a step function)
    wide = tau_new >= cond_s
    comp_w = np.concatenate([w[wide].ravel(), w_tau[~wide]])
    comp_m = np.concatenate([lin[wide].ravel(), cond_m[~wide]])
    comp_s = np.concatenate(
        [np.repeat(tau_new[wide], w.shape[1]), np.sqrt(cond_s[~wide] ** 2 + tau_new[~wide] ** 2)]
    )
    keep = comp_w > 1e-16
    comp_w = comp_w[keep] / comp_w[keep].sum()
    pred = LinkMixture(studies.family, NormalMixture(comp_w, comp_m[keep], comp_s[keep]))
    # population mean (intercept) on the link scale
    mu = nodes.coef[..., 0]
    mu_mean = float(np.sum(w * mu))
    mu_sd = float(math.sqrt(max(np.sum(w * mu**2) - mu_mean**2, 0.0)))
    mu_q = _mixture_quantiles(
        w_tau, nodes.cond_mean[:, 0], np.sqrt(nodes.cond_cov[:, 0, 0]), _LEVELS
    )
    mu_row = _summary_row("mu (link scale)", mu_mean, mu_sd, mu_q)
    # study estimates: per tau node, a moment-matched normal of theta_h
    tm, tv = nodes.theta_mean, nodes.theta_var  # (C, K, H)
    wn = w / np.maximum(w_tau, 1e-300)[:, None]
    cm = np.einsum("ck,ckh->ch", wn, tm)
    cv = np.maximum(np.einsum("ck,ckh->ch", wn, tv + tm**2) - cm**2, 0.0)
    h_mean, h_sd = [], []
    for h in range(studies.size):
        m_r, s_r = _response_moments(studies.family, cm[:, h], np.sqrt(cv[:, h]), w_tau)
        h_mean.append(m_r)
        h_sd.append(s_r)
    h_q = _to_response(studies.family, _mixture_quantiles(w_tau, cm, np.sqrt(cv), _LEVELS))
    l_mean = w_tau @ cm
    l_sd = np.sqrt(np.maximum(w_tau @ (cv + cm**2) - l_mean**2, 0.0))
    table = _studies_table(studies, np.array(h_mean), np.array(h_sd), h_q, l_mean, l_sd)
    return pred, mu_row, table, pd.DataFrame()


def _from_draws(
    studies: Studies, draws: Any, xnew: Array, s_new: int, seed: Any
) -> tuple[Predictive, dict[str, Any], pd.DataFrame, pd.DataFrame]:
    lin = draws.coef @ xnew
    tau_new = draws.tau[:, s_new]
    gen = np.random.default_rng(seed)
    theta_new = lin + tau_new * gen.standard_normal(lin.size)
    pred = LinkSample(studies.family, lin, tau_new, theta_new)
    mu = draws.coef[:, 0]
    mu_row = _summary_row(
        "mu (link scale)",
        float(mu.mean()),
        float(mu.std(ddof=1)),
        np.quantile(mu, _LEVELS).tolist(),
    )
    resp = _to_response(studies.family, draws.theta)
    table = _studies_table(
        studies,
        resp.mean(axis=0),
        resp.std(axis=0, ddof=1),
        np.quantile(resp, _LEVELS, axis=0).T,
        draws.theta.mean(axis=0),
        draws.theta.std(axis=0, ddof=1),
    )
    return pred, mu_row, table, pd.DataFrame()


def _tau_summary_draws(tau: Array, strata: tuple[str, ...]) -> pd.DataFrame:
    rows = []
    for s in range(tau.shape[1]):
        name = "tau" if len(strata) == 1 else f"tau[{strata[s]}]"
        t = tau[:, s]
        rows.append(
            _summary_row(
                name, float(t.mean()), float(t.std(ddof=1)), np.quantile(t, _LEVELS).tolist()
            )
        )
    return pd.DataFrame(rows)


def map_prior(
    data: Any,
    family: str = "binomial",
    *,
    tau_prior: Any = None,
    mean_prior: Any = None,
    method: str = "exact",
    rng: Any = None,
    sigma: float | None = None,
    strata: str | None = None,
    predict_stratum: str | None = None,
    covariates: Sequence[str] | str | None = None,
    new_covariates: Mapping[str, float] | None = None,
    beta_sd: float | None = None,
    quadrature: Mapping[str, Any] | None = None,
    **mcmc_options: Any,
) -> MAPResult:
    """Meta-analytic-predictive (MAP) prior from historical studies.

    Random-effects model on the link scale: ``theta_h ~ N(mu + x_h beta, tau^2)`` for
    historical study ``h``; the MAP prior is the predictive distribution of ``theta*``
    of a new study, on the response scale (probability, rate or mean).

    Parameters
    ----------
    data : DataFrame
        One row per historical study: ``study, r, n`` (binomial, logit link);
        ``study, mean, se`` and optionally ``n`` (normal, identity link); ``study, events,
        exposure`` (Poisson, log link with log-exposure offset).
    family : {"binomial", "normal", "poisson"}
    tau_prior : TauPrior, float, tuple or mapping, optional
        Prior of the between-study SD tau: :class:`HalfNormal`, :class:`HalfT`,
        :class:`HalfCauchy`, :class:`Uniform`, :class:`LogNormal`, :class:`Gamma`,
        :class:`InvGamma`, :class:`Exponential` or :class:`Fixed`; a number is a
        half-normal scale; ``("halfnormal", 0.5)`` names family and parameters. With
        ``strata``, a mapping from stratum to prior (differential heterogeneity). Default:
        half-normal with scale 1 (binomial, Poisson) or sigma / 2 (normal). With a single
        study there is no default: tau is not identifiable from one study.
    mean_prior : Normal or (mean, sd), optional
        Normal prior of mu on the link scale. Default ``N(0, 2^2)`` (binomial, as RBesT),
        ``N(0, 1)`` (Poisson), ``N(0, sigma^2)`` (normal, unit information).
    method : {"exact", "mcmc"}
        ``"exact"``: deterministic quadrature (see Notes). ``"mcmc"``: PyMC NUTS with a
        non-centred parametrisation; a ``ConvergenceWarning`` names R-hat, bulk ESS and
        divergences when R-hat > 1.01, ESS < 400 or any divergence occurs.
    rng : None, int, SeedSequence or Generator
        Seed of the MCMC and of its predictive draws (recorded in ``provenance``).
    sigma : float, optional
        Normal family: reference scale of one observation. Default: estimated from the
        ``n`` column as ``sqrt(sum(n_h * n_h se_h^2) / sum(n_h))`` (each study implies
        ``sigma_h^2 = n_h se_h^2``; pooled with weights ``n_h``).
    strata : str, optional
        Column of ``data`` assigning each study to a heterogeneity stratum with its own tau.
    predict_stratum : str, optional
        Stratum whose tau applies to the new study (default: the first, sorted).
    covariates : str or list of str, optional
        Study-level covariate columns (``theta_h = mu + x_h beta + e_h``).
    new_covariates : mapping, optional
        Covariate values of the new study (required with ``covariates``).
    beta_sd : float, optional
        Prior SD of the covariate coefficients (normal, mean 0; default: that of mu).
    quadrature : mapping, optional
        Rule sizes for ``method="exact"``: ``panel`` (width in log tau, default 1),
        ``per_panel`` (Gauss-Legendre nodes per panel, 8), ``n_mu`` (Gauss-Hermite nodes
        for mu, 24) and ``k_theta`` (per-study nodes, 16).
    **mcmc_options
        ``method="mcmc"`` only: ``draws``, ``tune``, ``chains``, ``target_accept``,
        ``cores`` and other ``pymc.sample`` arguments.

    Returns
    -------
    MAPResult

    Notes
    -----
    The deterministic method integrates the posterior of the hyperparameters with
    product rules: composite Gauss-Legendre in log tau over the range that holds the
    posterior mass (plus a node at tau = 0 for the prior mass of tau < 1e-4 min(se), where
    the likelihood no longer changes), adaptive Gauss-Hermite for mu (and beta) given
    tau, and per-study adaptive Gauss-Hermite for theta_h given (mu, tau) - centred at
    the mode of the study's integrand and scaled by its curvature, so the rule shrinks with
    tau and stays accurate as tau -> 0. The normal family's study integrals are closed
    form. The MAP prior is then a normal mixture on the link scale (for tau nodes narrower
    than the conditional spread of mu, a moment-matched normal per node). Rule
    sizes were chosen so that doubling each changes MAP quantiles by less than 1e-6 on the
    AS data.

    References
    ----------
    .. [1] Neuenschwander B, Capkun-Niggli G, Branson M, Spiegelhalter DJ. Summarizing
       historical information on controls in clinical trials. Clin Trials 2010;7:5-18.
    .. [2] Schmidli H, Gsteiger S, Roychoudhury S, O'Hagan A, Spiegelhalter D,
       Neuenschwander B. Robust meta-analytic-predictive priors in clinical trials with
       historical control information. Biometrics 2014;70:1023-1032.
    .. [3] Liu Q, Pierce DA. A note on Gauss-Hermite quadrature. Biometrika
       1994;81:624-629.
    .. [4] Weber S, Li Y, Seaman JW, Kakizume T, Schmidli H. Applying meta-analytic
       predictive priors with the R Bayesian evidence synthesis tools. J Stat Softw
       2021;100(19).

    Examples
    --------
    >>> import pandas as pd
    >>> from rdstats.borrowing import HalfNormal, map_prior
    >>> AS = pd.DataFrame({"study": range(1, 9),
    ...                    "n": [107, 44, 51, 39, 139, 20, 78, 35],
    ...                    "r": [23, 12, 19, 9, 39, 6, 9, 10]})
    >>> res = map_prior(AS, "binomial", tau_prior=HalfNormal(1.0))
    >>> res.predictive[["mean", "50%"]].round(3).tolist()
    [0.258, 0.249]
    >>> round(float(res.tau.loc[0, "mean"]), 3)
    0.379
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if mcmc_options and method != "mcmc":
        raise TypeError(
            f"{sorted(mcmc_options)} are MCMC options; they need method='mcmc' "
            f"(got method={method!r})"
        )
    if quadrature is not None and method != "exact":
        raise ValueError("quadrature is for method='exact'")
    studies = as_studies(data, family, sigma=sigma, strata=strata)
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    if family == "normal" and not math.isfinite(studies.sigma) and mean_prior is None:
        raise ValueError(
            "the normal family needs a reference scale for its default mean prior: give "
            "sigma=, an n column, or mean_prior="
        )
    default_sd = _DEFAULT_MEAN_SD.get(family, studies.sigma)
    mprior = as_mean_prior(mean_prior, default_sd)
    priors = _tau_priors(tau_prior, studies, family)
    if predict_stratum is None:
        s_new = 0
    elif predict_stratum in studies.strata:
        s_new = studies.strata.index(predict_stratum)
    else:
        raise ValueError(
            f"predict_stratum={predict_stratum!r} is not a stratum ({list(studies.strata)})"
        )
    design, cov_names, xnew_t = _design(frame, covariates, new_covariates)
    if beta_sd is not None and (not isinstance(beta_sd, (int, float)) or beta_sd <= 0):
        raise ValueError(f"beta_sd must be a positive number, got {beta_sd!r}")
    xnew = np.array(xnew_t)
    n_free = sum(not p.fixed for p in priors)
    if method == "exact" and n_free > 3:
        raise ValueError(
            f"method='exact' integrates over at most 3 tau strata, got {n_free}; use method='mcmc'"
        )
    root = root_seed(rng)
    args = {
        "family": family,
        "method": method,
        "tau_prior": [p.to_dict() for p in priors],
        "mean_prior": mprior.to_dict(),
        "sigma": None if math.isnan(studies.sigma) else studies.sigma,
        "strata": strata,
        "predict_stratum": studies.strata[s_new],
        "covariates": list(cov_names),
        "new_covariates": dict(new_covariates or {}),
        "quadrature": dict(quadrature or {}),
        "mcmc_options": {k: v for k, v in mcmc_options.items() if isinstance(v, (int, float, str))},
    }
    diagnostics: dict[str, Any] = {}
    idata = None
    log_evidence = None
    if method == "exact":
        quad = dict(quadrature or {})
        unknown = set(quad) - {"panel", "per_panel", "n_mu", "k_theta"}
        if unknown:
            raise ValueError(f"unknown quadrature settings {sorted(unknown)}")
        nodes = exact_nodes(
            studies,
            list(priors),
            mprior,
            design=design,
            beta_sd=None if beta_sd is None else np.array([beta_sd]),
            **quad,
        )
        pred, mu_row, table, _ = _from_nodes(studies, nodes, xnew, s_new)
        tau_table = _tau_summary_exact(nodes, studies.strata)
        log_evidence = nodes.log_evidence
        diagnostics = {"nodes": int(nodes.weight.size)}
        seed = None
    else:
        from rdstats.borrowing._map_mcmc import mcmc_draws

        seeds = root.generate_state(2)
        draws = mcmc_draws(
            studies,
            list(priors),
            mprior,
            design,
            None if beta_sd is None else np.array([beta_sd]),
            int(seeds[0]),
            **mcmc_options,
        )
        pred, mu_row, table, _ = _from_draws(studies, draws, xnew, s_new, int(seeds[1]))
        tau_table = _tau_summary_draws(draws.tau, studies.strata)
        diagnostics = draws.diagnostics
        idata = draws.idata
        seed = seed_record(root)
    return MAPResult(
        family=family,
        method=method,
        studies=studies,
        tau_priors=priors,
        mean_prior=mprior,
        predict_stratum=s_new,
        new_covariates=tuple(xnew_t[1:]),
        covariates=cov_names,
        _pred=pred,
        _tau_summary=tau_table,
        _mu_summary=mu_row,
        _studies_summary=table,
        log_evidence=log_evidence,
        diagnostics=diagnostics,
        idata=idata,
        provenance=provenance(args, seed),
    )
