"""ExternalControlDesign: simulation of a single-arm (or small randomised) trial analysed
against an external natural-history cohort, plugged into the operating-characteristics
engine; :func:`compare_external_analyses` runs several analyses on identical trials."""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy import special

from rdstats.external import _design_analyses as bayes
from rdstats.external import _design_kernels as kern

__all__ = ["ANALYSES", "ExternalControlDesign"]

Array = NDArray[np.float64]
ANALYSES = ("naive", "regression", "matching", "weighting", "ps_borrowing", "hybrid")
_EXTRA = {
    "naive": (),
    "regression": (),
    "matching": ("n_matched",),
    "weighting": ("ess_external",),
    "ps_borrowing": ("borrowed",),
    "hybrid": ("borrowed", "a0"),
}
_GH = np.polynomial.hermite_e.hermegauss(64)


def _int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _real(value: Any, name: str, lo: float = -math.inf, hi: float = math.inf) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and lo < v < hi):
        rng = "finite" if lo == -math.inf and hi == math.inf else f"in ({lo:g}, {hi:g})"
        raise ValueError(f"{name} must be {rng}, got {value!r}")
    return v


def _choice(value: Any, name: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class ExternalControlDesign:
    """A trial of ``n_treated`` patients (plus ``n_control`` concurrent randomised
    controls) compared with ``n_external`` natural-history patients, analysed by one of
    six methods; operating characteristics (bias, RMSE, coverage, type I error, power)
    by simulation through :func:`rdstats.simulate.operating_characteristics`.

    Data-generating model (scenario parameters ``effect``, ``shift``, ``unmeasured``,
    ``drift``), for ``p = len(prognostic)`` measured covariates ``X`` and one unmeasured
    covariate ``U``:

    - external patients: ``X ~ N(0, I_p)``, ``U ~ N(0, 1)``; trial patients (treated and
      concurrent controls): ``X ~ N(shift 1_p, I_p)``, ``U ~ N(1, 1)``;
    - ``eta = intercept + prognostic . X + unmeasured U + drift [external]
      + effect [treated]``;
    - continuous: ``Y = eta + sigma eps``; binary: ``Y ~ Bernoulli(expit(eta))``
      (``effect`` is then a conditional log odds ratio).

    ``shift`` is measured confounding (through ``prognostic``), ``unmeasured`` the
    unmeasured-confounding bias in outcome units (continuous), ``drift`` a change of the
    external outcomes not explained by the covariates. The estimand is the mean
    difference (continuous: ``effect``) or the marginal risk difference among trial
    patients (binary: ``E expit(eta_T + effect) - E expit(eta_T)`` by 64-point
    Gauss-Hermite quadrature). A scenario is null when the estimand is ``<= margin``.
    Every analysis sees the same simulated trials for a given seed and scenario.

    Parameters
    ----------
    n_treated, n_external, n_control : int
        Treated trial patients, external controls, concurrent randomised controls.
    endpoint : {"continuous", "binary"}
    analysis : {"naive", "regression", "matching", "weighting", "ps_borrowing", "hybrid"}
        Treated vs all controls (Welch z interval); OLS adjusted for ``X`` (continuous);
        1:1 greedy nearest-neighbour propensity-score matching without replacement
        (MatchIt's defaults); ATT odds weighting; PS-stratified power prior (Wang et al.
        2019); hybrid control on odds-weighted external data (power / EB power /
        commensurate prior). Propensity scores are logistic in ``X``: treated vs all
        controls for matching and weighting, trial vs external for the Bayesian ones.
    prognostic : tuple of float
        Outcome coefficients of the measured covariates.
    sigma, intercept : float
        Residual SD (continuous); mean or logit at ``X = 0, U = 0``.
    alpha, margin : float
        Success when the lower limit of the ``1 - 2 alpha`` interval exceeds ``margin``
        (for the Bayesian analyses: ``P(effect > margin) > 1 - alpha``).
    caliper : float, optional
        Matching caliper in SDs of the propensity score.
    n_borrow : float, optional
        External patients borrowed in total by ``ps_borrowing`` (default ``n_treated``).
    n_strata, overlap : int, {"ovl", "equal"}
        Propensity-score strata and the allocation of borrowing (``ps_borrowing``).
    hybrid_prior, a0, tau_scale : {"power", "eb_power", "commensurate"}, float, float
        Hybrid-control prior, its fixed power, and the HalfNormal scale of tau (outcome
        units).

    Notes
    -----
    Outcomes per trial: ``success``, ``estimate``, ``lower``, ``upper``, ``se``,
    ``n_enrolled`` (``n_treated + n_control``), ``failed`` and per analysis
    ``n_matched``, ``ess_external``, ``borrowed`` or ``a0`` (their means are metrics).
    A trial whose analysis cannot be done (propensity model not converged or separated,
    fewer than two matched pairs, a stratum with no treated or no control information)
    is counted in ``failed``, never succeeds, and reports the naive estimate and interval.

    References
    ----------
    .. [1] Wang C, Li H, Chen WC, et al. Propensity score-integrated power prior approach
       for incorporating real-world evidence in single-arm clinical studies. J Biopharm
       Stat 2019;29:731-748.
    .. [2] Hobbs BP, Carlin BP, Mandrekar SJ, Sargent DJ. Hierarchical commensurate and
       power prior models for adaptive incorporation of historical information in
       clinical trials. Biometrics 2011;67:1047-1056.
    .. [3] Ho DE, Imai K, King G, Stuart EA. MatchIt: nonparametric preprocessing for
       parametric causal inference. J Stat Softw 2011;42(8).

    Examples
    --------
    >>> from rdstats.external import ExternalControlDesign
    >>> design = ExternalControlDesign(n_treated=30, n_external=300, analysis="weighting")
    >>> grid = ExternalControlDesign.scenarios(effect=[0.0, 0.5], shift=0.5)
    >>> res = design.simulate(grid, n_trials=200, rng=1, progress=False)
    >>> table = res.summary(wide=True)[["effect", "p_success", "bias", "coverage"]]
    >>> print(table.round(2).to_string(index=False))
     effect  p_success  bias  coverage
        0.0       0.02   0.0      0.97
        0.5       0.64  -0.0      0.98
    """

    n_treated: int = 30
    n_external: int = 300
    n_control: int = 0
    endpoint: str = "continuous"
    analysis: str = "weighting"
    prognostic: tuple[float, ...] = (1.0, 0.5, 0.5)
    sigma: float = 1.0
    intercept: float = 0.0
    alpha: float = 0.025
    margin: float = 0.0
    caliper: float | None = None
    n_borrow: float | None = None
    n_strata: int = 5
    overlap: str = "ovl"
    hybrid_prior: str = "commensurate"
    a0: float = 0.5
    tau_scale: float = 1.0

    _parameters: ClassVar[tuple[str, ...]] = ("effect", "shift", "unmeasured", "drift")

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "n_treated", _int(self.n_treated, "n_treated", 2))
        set_(self, "n_external", _int(self.n_external, "n_external", 1))
        set_(self, "n_control", _int(self.n_control, "n_control", 0))
        _choice(self.endpoint, "endpoint", ("continuous", "binary"))
        _choice(self.analysis, "analysis", ANALYSES)
        prog = self.prognostic
        if isinstance(prog, (str, bytes)) or not hasattr(prog, "__iter__"):
            raise TypeError(f"prognostic must be a sequence of numbers, got {prog!r}")
        coefs = tuple(_real(v, "prognostic") for v in prog)
        if not coefs:
            raise ValueError(f"prognostic needs at least one coefficient, got {prog!r}")
        set_(self, "prognostic", coefs)
        set_(self, "sigma", _real(self.sigma, "sigma", 0.0))
        set_(self, "intercept", _real(self.intercept, "intercept"))
        set_(self, "alpha", _real(self.alpha, "alpha", 0.0, 0.5))
        set_(self, "margin", _real(self.margin, "margin"))
        if self.caliper is not None:
            set_(self, "caliper", _real(self.caliper, "caliper", 0.0))
        if self.n_borrow is not None:
            set_(self, "n_borrow", _real(self.n_borrow, "n_borrow", 0.0))
        set_(self, "n_strata", _int(self.n_strata, "n_strata", 1))
        _choice(self.overlap, "overlap", ("ovl", "equal"))
        _choice(self.hybrid_prior, "hybrid_prior", ("power", "eb_power", "commensurate"))
        a0 = _real(self.a0, "a0")
        if not 0.0 <= a0 <= 1.0:
            raise ValueError(f"a0 must be in [0, 1], got {self.a0!r}")
        set_(self, "a0", a0)
        set_(self, "tau_scale", _real(self.tau_scale, "tau_scale", 0.0))
        self._check_combination()

    def _check_combination(self) -> None:
        a, binary = self.analysis, self.endpoint == "binary"
        n_all = self.n_treated + self.n_control + self.n_external
        if a == "regression" and binary:
            raise ValueError("analysis='regression' (OLS) needs endpoint='continuous'")
        if a == "regression" and n_all <= len(self.prognostic) + 2:
            raise ValueError(
                f"analysis='regression' needs more than {len(self.prognostic) + 2} patients, "
                f"got {n_all}"
            )
        if a == "matching" and self.n_external + self.n_control < self.n_treated:
            raise ValueError(
                "analysis='matching' (1:1 without replacement) needs n_external + n_control "
                f">= n_treated, got {self.n_external} + {self.n_control} < {self.n_treated}"
            )
        if a == "hybrid" and self.hybrid_prior != "power":
            if self.n_control < 1:
                raise ValueError(
                    f"hybrid_prior={self.hybrid_prior!r} needs n_control >= 1 concurrent "
                    f"controls, got n_control={self.n_control}; a single-arm trial can use "
                    "hybrid_prior='power' (fixed a0)"
                )
            if binary:
                raise ValueError(
                    f"hybrid_prior={self.hybrid_prior!r} needs endpoint='continuous' (weighted "
                    "external counts are not integers); use hybrid_prior='power'"
                )
        if a == "hybrid" and self.hybrid_prior == "power" and self.n_control == 0 and self.a0 == 0:
            raise ValueError(
                "analysis='hybrid' with a0=0 and no concurrent controls has no control data; "
                "use a0 > 0 or n_control >= 1"
            )
        if a == "ps_borrowing" and self.n_strata > self.n_treated + self.n_control:
            raise ValueError(
                f"n_strata={self.n_strata} exceeds the {self.n_treated + self.n_control} "
                "trial patients"
            )

    # -- scenarios -------------------------------------------------------------------------
    @classmethod
    def scenarios(
        cls, effect: Any = 0.0, shift: Any = 0.0, unmeasured: Any = 0.0, drift: Any = 0.0
    ) -> Any:
        """Full factorial :class:`~rdstats.simulate.ScenarioGrid` of the four parameters."""
        from rdstats.simulate import ScenarioGrid

        return ScenarioGrid.cartesian(
            effect=effect, shift=shift, unmeasured=unmeasured, drift=drift
        )

    @property
    def _mean_outcomes(self) -> tuple[str, ...]:
        return ("failed", *_EXTRA[self.analysis])

    @property
    def n_enrolled(self) -> int:
        return self.n_treated + self.n_control

    def _check_scenario(self, params: Mapping[str, float]) -> None:
        for k in self._parameters:
            v = float(params[k])
            if not math.isfinite(v):
                raise ValueError(f"{k} must be finite, got {v!r}")

    def _prepare(self, scenarios: Any) -> None:
        return None

    def _truth(self, params: Mapping[str, float]) -> float:
        effect = float(params["effect"])
        if self.endpoint == "continuous":
            return effect
        b = np.asarray(self.prognostic)
        u = float(params["unmeasured"])
        mean = self.intercept + float(params["shift"]) * b.sum() + u
        sd = math.sqrt(float(b @ b) + u**2)
        nodes, weights = _GH
        eta = mean + sd * nodes
        diff = special.expit(eta + effect) - special.expit(eta)
        return float(weights @ diff / weights.sum())

    def _is_null(self, params: Mapping[str, float]) -> bool:
        return self._truth(params) <= self.margin

    # -- simulation --------------------------------------------------------------------------
    def _data(self, params: Mapping[str, float], size: int, rng: np.random.Generator) -> Any:
        """Covariates (size, n, p) and outcomes (size, n): treated, concurrent controls,
        external controls. The only use of ``rng``: every analysis sees the same trials."""
        return kern.generate(
            rng,
            int(size),
            self.n_treated,
            self.n_control,
            self.n_external,
            np.asarray(self.prognostic, dtype=float),
            sigma=self.sigma,
            intercept=self.intercept,
            binary=self.endpoint == "binary",
            effect=float(params["effect"]),
            shift=float(params["shift"]),
            unmeasured=float(params["unmeasured"]),
            drift=float(params["drift"]),
        )

    def _analyse(self, x: Array, y: Array) -> dict[str, Array]:
        """Per-trial outcomes of the design's analysis of simulated data (no randomness)."""
        n_t, n_c = self.n_treated, self.n_control
        z = float(special.ndtri(1.0 - self.alpha))
        base = kern.naive(y, n_t)
        a = self.analysis
        extra: dict[str, Array] = {}
        if a == "naive":
            res = base
        elif a == "regression":
            res = kern.regression(x, y, n_t)
        elif a in ("matching", "weighting"):
            t = np.zeros(y.shape)
            t[:, :n_t] = 1.0
            e, ok = kern.logistic_fit(x, t)
            if a == "matching":
                res = kern.matching(e, y, n_t, self.caliper, ok)
                extra["n_matched"] = res["n_matched"]
            else:
                res = kern.weighting(e, y, n_t, n_c, ok, x)
                extra["ess_external"] = res["ess_external"]
        else:
            s = np.zeros(y.shape)
            s[:, : n_t + n_c] = 1.0
            e, ok = kern.logistic_fit(x, s)
            binary = self.endpoint == "binary"
            if a == "ps_borrowing":
                nb = float(self.n_treated if self.n_borrow is None else self.n_borrow)
                res = bayes.ps_borrowing(
                    e, y, n_t, n_c, n_strata=self.n_strata, n_borrow=nb, overlap=self.overlap,
                    binary=binary, alpha=self.alpha, margin=self.margin,
                )  # fmt: skip
            else:
                res = bayes.hybrid(
                    e, y, n_t, n_c, prior=self.hybrid_prior, a0=self.a0,
                    tau_scale=self.tau_scale, binary=binary, alpha=self.alpha,
                    margin=self.margin,
                )  # fmt: skip
                extra["a0"] = res["a0"]
            res = dict(res)
            res["failed"] = (np.asarray(res["failed"], dtype=bool) | ~ok).astype(float)
            extra["borrowed"] = res["borrowed"]
        failed = np.asarray(res["failed"], dtype=bool)
        est = np.where(failed, base["estimate"], res["estimate"])
        se = np.where(failed, base["se"], res["se"])
        if "lower" in res:
            lower = np.where(failed, est - z * se, res["lower"])
            upper = np.where(failed, est + z * se, res["upper"])
            success = ~failed & (np.asarray(res["prob"]) > 1.0 - self.alpha)
        else:
            lower, upper = est - z * se, est + z * se
            success = ~failed & (lower > self.margin)
        out = {
            "success": success,
            "estimate": est,
            "lower": lower,
            "upper": upper,
            "se": se,
            "n_enrolled": np.full(y.shape[0], self.n_enrolled),
            "failed": failed.astype(float),
        }
        for k, v in extra.items():
            out[k] = np.nan_to_num(np.asarray(v, dtype=float))
        return out

    def _simulate(
        self, params: Mapping[str, float], size: int, rng: np.random.Generator
    ) -> dict[str, Array]:
        x, y = self._data(params, size, rng)
        return self._analyse(x, y)

    def simulate(self, scenarios: Any, **kwargs: Any) -> Any:
        """Operating characteristics through :func:`rdstats.simulate.operating_characteristics`
        (``n_trials``, ``rng``, ``backend``, ``progress``, ... are passed on)."""
        from rdstats.simulate import operating_characteristics

        return operating_characteristics(self, scenarios, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe specification."""
        out: dict[str, Any] = {"type": "ExternalControlDesign"}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out
