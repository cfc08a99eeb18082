"""The result of :func:`rdstats.borrowing.map_prior`: ``MAPResult``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from rdstats.borrowing._hyperpriors import Normal, TauPrior
from rdstats.borrowing._predictive import Predictive
from rdstats.borrowing._studies import Studies
from rdstats.priors import Mixture
from rdstats.simulate._streams import root_seed

Array = NDArray[np.float64]

__all__ = ["LEVELS", "MAPResult", "summary_row"]

LEVELS = (0.025, 0.5, 0.975)


def summary_row(name: str, mean: float, sd: float, q: Any) -> dict[str, Any]:
    q = [float(v) for v in q]
    return {"parameter": name, "mean": mean, "sd": sd, "2.5%": q[0], "50%": q[1], "97.5%": q[2]}


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
        mean, sd = self._moments()
        q = self._pred.ppf(np.array(LEVELS))
        return pd.Series(summary_row("MAP", mean, sd, q)).drop("parameter").astype(float)

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
        mean, sd = self._moments()
        rows = [summary_row("MAP", mean, sd, self._pred.ppf(np.array(LEVELS)))]
        rows.append(self._mu_summary)
        rows += [{str(k): v for k, v in r.items()} for r in self._tau_summary.to_dict("records")]
        return pd.DataFrame(rows).set_index("parameter")

    # -- the MAP prior as a distribution --------------------------------------------------
    def mean(self) -> float:
        """Mean of the MAP prior (``inf`` when it does not exist, see :meth:`_moments`)."""
        return self._moments()[0]

    def sd(self) -> float:
        """SD of the MAP prior (``inf`` when it does not exist)."""
        return self._moments()[1]

    def _moments(self) -> tuple[float, float]:
        """Mean and SD on the response scale. For the Poisson family (rate exp(theta*))
        the k-th moment is ``E[exp(k mu + k^2 tau^2 / 2)]``, which exists only if tau's
        posterior tail is lighter than ``exp(-k^2 tau^2 / 2)``: with an unbounded tau prior
        whose tail is not Gaussian it never does, and with HalfNormal(s) (posterior tail
        ``exp(-tau^2 / (2 s^2)) tau^-(H - 1)``) only if ``k s < 1``, or ``k s = 1`` and
        ``H > 2``. Moments that do not exist are reported as ``inf``, not as the finite
        value a truncated quadrature would give."""
        mean, sd = self._pred.moments()
        if self.family != "poisson" or self.method != "exact":
            return mean, sd
        from rdstats.borrowing._hyperpriors import Fixed, HalfNormal, Uniform

        prior = self.tau_priors[self.predict_stratum]
        h = int(np.sum(self.studies.stratum == self.predict_stratum))

        def finite(k: int) -> bool:
            if isinstance(prior, (Fixed, Uniform)):
                return True
            if isinstance(prior, HalfNormal):
                ks = k * prior.scale
                return ks < 1 or (ks == 1 and h > 2)
            return False

        return (mean if finite(1) else math.inf), (sd if finite(2) else math.inf)

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
