"""Finite mixtures of one parametric family: the shared machinery.

A concrete mixture (beta, normal, gamma, and the predictive families) declares its
parameter names and how to build the matching frozen :mod:`scipy.stats` distribution
with array parameters of shape ``(..., K)``; everything else (density, distribution
function, quantiles, moments, random draws, summaries, hashing, plotting) lives here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special
from scipy.optimize import elementwise

from rdstats._validation import as_float_array, check_probability, readonly

__all__ = ["Mixture", "MixtureBatch"]

_WEIGHT_TOL = 1e-8


def normalise_weights(weights: ArrayLike, k: int | None = None) -> NDArray[np.float64]:
    """Validate mixture weights (finite, non-negative, sum to one within 1e-8)."""
    w = np.atleast_1d(as_float_array(weights, "weights"))
    if w.ndim != 1 or w.size == 0:
        raise ValueError(f"weights must be a non-empty 1-D sequence, got shape {w.shape}")
    if (w < 0).any():
        raise ValueError(f"weights must be non-negative, got {w.tolist()}")
    total = float(w.sum())
    if abs(total - 1.0) > _WEIGHT_TOL:
        raise ValueError(
            f"weights must sum to 1 (within 1e-8), got {w.tolist()} summing to {total!r}"
        )
    if k is not None and w.size != k:
        raise ValueError(f"weights has {w.size} entries but the components have {k}")
    # Rescale only when the sum is off by more than rounding: normalising is then
    # idempotent, so rebuilding a mixture (pickle, to_dict) reproduces it bit for bit.
    return w / total if abs(total - 1.0) > 1e-12 else w


def broadcast_components(
    weights: ArrayLike, **params: ArrayLike
) -> tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]]:
    """Validate and broadcast weights and component parameters to a common length K."""
    arrays = {name: np.atleast_1d(as_float_array(v, name)) for name, v in params.items()}
    w_raw = np.atleast_1d(as_float_array(weights, "weights"))
    for name, arr in arrays.items():
        if arr.ndim != 1:
            raise ValueError(f"{name} must be a scalar or 1-D sequence, got shape {arr.shape}")
    k = max([w_raw.size, *(a.size for a in arrays.values())])
    out = {}
    for name, arr in arrays.items():
        if arr.size not in (1, k):
            raise ValueError(f"{name} has {arr.size} entries but the mixture has {k} components")
        out[name] = readonly(np.broadcast_to(arr, (k,)).astype(float))
    if w_raw.size == 1 and k > 1:
        raise ValueError(f"weights has 1 entry but the mixture has {k} components")
    return readonly(normalise_weights(w_raw, k)), out


class Mixture:
    """Finite mixture ``sum_k w_k f_k(x)`` of one family (abstract base).

    Subclasses set ``_param_names`` and implement :meth:`_dist`; instances are
    immutable, hashable and compare equal when all weights and parameters are equal.
    """

    _param_names: ClassVar[tuple[str, ...]] = ()
    discrete: ClassVar[bool] = False
    family: ClassVar[str] = ""
    _frozen_ok: bool

    weights: NDArray[np.float64]

    # -- construction -------------------------------------------------------------
    def _init(self, weights: ArrayLike, **params: ArrayLike) -> None:
        w, arrays = broadcast_components(weights, **params)
        object.__setattr__(self, "weights", w)
        for name, arr in arrays.items():
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "_frozen_ok", True)

    def __reduce__(self) -> tuple[Any, ...]:
        kw = dict(zip(self._param_names, (np.asarray(p) for p in self._params()), strict=True))
        return (_rebuild, (type(self), np.asarray(self.weights), kw, self._extra()))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; cannot delete {name!r}")

    def _extra(self) -> dict[str, Any]:
        """Non-component attributes (e.g. ``sigma``) that a copy must keep."""
        return {}

    def _params(self) -> tuple[NDArray[np.float64], ...]:
        return tuple(getattr(self, name) for name in self._param_names)

    def _with(self, weights: ArrayLike, *params: ArrayLike) -> Self:
        """A mixture of the same class and extra attributes with new components."""
        kw = dict(zip(self._param_names, params, strict=True))
        cls: Any = type(self)
        return cls(weights, **kw, **self._extra())

    # Frozen scipy distribution for component parameters (any shape); set by subclasses.
    _dist: Callable[..., Any]

    def _frozen(self) -> Any:
        cache = self.__dict__.get("_cache_frozen")
        if cache is None:
            cache = self._dist(*self._params())
            self.__dict__["_cache_frozen"] = cache
        return cache

    @property
    def n_components(self) -> int:
        """Number of mixture components K."""
        return int(self.weights.size)

    @property
    def support(self) -> tuple[float, float]:
        """Lower and upper end of the support."""
        lo, hi = self._frozen().support()
        return float(np.min(lo)), float(np.max(hi))

    # -- identity -----------------------------------------------------------------
    def _key(self) -> tuple[Any, ...]:
        extra = tuple(sorted(self._extra().items()))
        return (
            type(self).__name__,
            self.weights.tobytes(),
            *(p.tobytes() for p in self._params()),
            extra,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mixture):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __len__(self) -> int:
        return self.n_components

    def __repr__(self) -> str:
        comps = ", ".join(
            f"{name}={np.array2string(p, precision=6, separator=', ')}"
            for name, p in zip(self._param_names, self._params(), strict=True)
        )
        extra = "".join(f", {k}={v!r}" for k, v in self._extra().items())
        w = np.array2string(self.weights, precision=6, separator=", ")
        return f"{type(self).__name__}(weights={w}, {comps}{extra})"

    # -- densities ------------------------------------------------------------------
    def _component_logpdf(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        d = self._frozen()
        with np.errstate(divide="ignore"):
            out = d.logpmf(x[..., None]) if self.discrete else d.logpdf(x[..., None])
        return np.asarray(out, dtype=float)

    def logpdf(self, x: ArrayLike) -> NDArray[np.float64] | float:
        """Log density (log probability mass for discrete mixtures) at ``x``."""
        xa = as_float_array(x, "x", allow_inf=True)
        with np.errstate(divide="ignore"):
            lw = np.log(self.weights)
        out = special.logsumexp(self._component_logpdf(xa) + lw, axis=-1)
        return _scalar_or_array(out)

    def pdf(self, x: ArrayLike) -> NDArray[np.float64] | float:
        """Density (probability mass for discrete mixtures) at ``x``."""
        xa = as_float_array(x, "x", allow_inf=True)
        d = self._frozen()
        comp = d.pmf(xa[..., None]) if self.discrete else d.pdf(xa[..., None])
        return _scalar_or_array(np.sum(self.weights * comp, axis=-1))

    def cdf(self, x: ArrayLike) -> NDArray[np.float64] | float:
        """Distribution function P(X <= x)."""
        xa = as_float_array(x, "x", allow_inf=True)
        comp = self._frozen().cdf(xa[..., None])
        return _scalar_or_array(np.clip(np.sum(self.weights * comp, axis=-1), 0.0, 1.0))

    def sf(self, x: ArrayLike) -> NDArray[np.float64] | float:
        """Survival function P(X > x), accurate in the upper tail."""
        xa = as_float_array(x, "x", allow_inf=True)
        comp = self._frozen().sf(xa[..., None])
        return _scalar_or_array(np.clip(np.sum(self.weights * comp, axis=-1), 0.0, 1.0))

    def ppf(self, q: ArrayLike) -> NDArray[np.float64] | float:
        """Quantile function: the smallest x with P(X <= x) >= q (vectorised)."""
        qa = check_probability(q, "q")
        d = self._frozen()
        comp = np.asarray(d.ppf(qa[..., None]), dtype=float)
        lo = comp.min(axis=-1)
        hi = comp.max(axis=-1)
        if self.discrete:
            out = _integer_quantile(self, qa, lo, hi)
        else:
            out = _continuous_quantile(self, qa, lo, hi)
        return _scalar_or_array(out)

    def median(self) -> float:
        """Median (the 0.5 quantile)."""
        return float(self.ppf(0.5))

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Equal-tailed credible interval with the given coverage ``level``."""
        lvl = float(check_probability(level, "level", open_interval=True))
        lo, hi = np.asarray(self.ppf([(1 - lvl) / 2, (1 + lvl) / 2]))
        return float(lo), float(hi)

    # -- moments --------------------------------------------------------------------
    def _component_moments(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        d = self._frozen()
        return np.asarray(d.mean(), dtype=float), np.asarray(d.var(), dtype=float)

    def mean(self) -> float:
        """Mixture mean ``sum_k w_k mean_k``."""
        m, _ = self._component_moments()
        return float(np.sum(self.weights * m))

    def var(self) -> float:
        """Mixture variance (law of total variance)."""
        m, v = self._component_moments()
        mu = np.sum(self.weights * m)
        return float(np.sum(self.weights * (v + (m - mu) ** 2)))

    def sd(self) -> float:
        """Mixture standard deviation."""
        return float(np.sqrt(self.var()))

    # -- sampling -------------------------------------------------------------------
    def rvs(
        self, size: int | tuple[int, ...] = 1, *, rng: int | np.random.Generator | None = None
    ) -> NDArray[np.float64]:
        """Random draws: pick a component by weight, then draw from it.

        Parameters
        ----------
        size : int or tuple of int
            Output shape.
        rng : int, numpy.random.SeedSequence, numpy.random.Generator or None
            Source of randomness (never the global numpy state).
        """
        gen = np.random.default_rng(rng)
        shape = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
        idx = gen.choice(self.n_components, size=shape, p=self.weights)
        params = [p[idx] for p in self._params()]
        draws = self._dist(*params).rvs(random_state=gen)
        return np.asarray(draws, dtype=int if self.discrete else float)

    # -- presentation -----------------------------------------------------------------
    def components(self) -> pd.DataFrame:
        """One row per component: weight and parameters."""
        data: dict[str, Any] = {"weight": self.weights}
        data.update(dict(zip(self._param_names, self._params(), strict=True)))
        return pd.DataFrame(data, index=pd.RangeIndex(self.n_components, name="component"))

    def summary(self) -> pd.DataFrame:
        """Mean, sd and the 2.5 %, 50 % and 97.5 % quantiles as a one-row table."""
        q = np.asarray(self.ppf([0.025, 0.5, 0.975]), dtype=float)
        return pd.DataFrame(
            {
                "mean": [self.mean()],
                "sd": [self.sd()],
                "2.5%": [q[0]],
                "50%": [q[1]],
                "97.5%": [q[2]],
            },
            index=[type(self).__name__],
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description from which the mixture can be rebuilt."""
        out: dict[str, Any] = {"class": type(self).__name__, "weights": self.weights.tolist()}
        for name, p in zip(self._param_names, self._params(), strict=True):
            out[name] = p.tolist()
        out.update(self._extra())
        return out

    def _repr_html_(self) -> str:
        return (
            f"<p><b>{type(self).__name__}</b> with {self.n_components} component(s)</p>"
            + self.components().to_html(float_format=lambda v: f"{v:.6g}")
            + self.summary().to_html(float_format=lambda v: f"{v:.6g}")
        )

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Plot the density (or mass function); returns the matplotlib ``Axes``."""
        from rdstats.plotting import plot_distribution

        return plot_distribution(self, ax=ax, **kwargs)


def _rebuild(
    cls: type[Mixture], weights: NDArray[np.float64], params: dict[str, Any], extra: dict[str, Any]
) -> Mixture:
    return cls(weights, **params, **extra)  # type: ignore[call-arg]


class ComponentArray(np.ndarray):
    """Read-only array of component parameters that, when called, returns a mixture moment.

    ``NormalMixture.mean`` is both the array of component means and, called as
    ``mean()``, the mixture mean; the same holds for ``sd``.
    """

    _fn: Any

    def __new__(cls, values: NDArray[np.float64], fn: Any) -> ComponentArray:
        obj = np.array(values, dtype=float).view(cls)
        obj._fn = fn
        obj.flags.writeable = False
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        self._fn = getattr(obj, "_fn", None)

    def __array_wrap__(self, arr: Any, context: Any = None, return_scalar: bool = False) -> Any:
        plain = np.asarray(arr).view(np.ndarray)
        return plain[()] if return_scalar else plain

    def __call__(self) -> float:
        if self._fn is None:
            raise TypeError("this array of component parameters is not attached to a mixture")
        return float(self._fn())

    def __reduce__(self) -> Any:
        return (np.array, (np.asarray(self).view(np.ndarray),))


def _scalar_or_array(out: Any) -> NDArray[np.float64] | float:
    arr = np.asarray(out, dtype=float)
    return float(arr) if arr.ndim == 0 else arr


def _continuous_quantile(
    dist: Mixture, q: NDArray[np.float64], lo: NDArray[np.float64], hi: NDArray[np.float64]
) -> NDArray[np.float64]:
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)  # 0-d for scalar q
    out = lo.copy()
    need = hi > lo
    if not need.any():
        return out

    def f(x: NDArray[np.float64], qq: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(dist.cdf(x), dtype=float) - qq

    # The root can sit on an end of the bracket (a component of negligible or zero weight,
    # e.g. after a posterior update); rounding then leaves no sign change to bracket.
    f_lo, f_hi = f(lo, q), f(hi, q)
    at_hi = need & (f_lo < 0) & (f_hi <= 0)
    out[at_hi] = hi[at_hi]
    need &= (f_lo < 0) & (f_hi > 0)
    if not need.any():
        return out

    res = elementwise.find_root(
        f,
        (lo[need], hi[need]),
        args=(q[need],),
        # relative accuracy only: an absolute xatol would swamp quantiles close to 0
        tolerances={"xatol": np.finfo(float).tiny, "xrtol": 4 * np.finfo(float).eps, "fatol": 0.0},
    )
    out[need] = res.x
    return out


def _integer_quantile(
    dist: Mixture, q: NDArray[np.float64], lo: NDArray[np.float64], hi: NDArray[np.float64]
) -> NDArray[np.float64]:
    lo = lo.copy()
    hi = hi.copy()
    # invariant: cdf(hi) >= q, and the answer lies in [lo, hi]
    while True:
        open_ = hi > lo
        if not open_.any():
            return hi
        mid = np.floor((lo + hi) / 2)
        ok = np.asarray(dist.cdf(mid), dtype=float) >= q
        hi = np.where(open_ & ok, mid, hi)
        lo = np.where(open_ & ~ok, mid + 1, lo)


class MixtureBatch:
    """Many mixtures of one family sharing their parameter layout (weights ``(N, K)``).

    Produced by vectorised conjugate updates such as :meth:`BetaMixture.posterior_batch`.
    Index it to obtain single mixtures; the vectorised methods return one value per
    mixture.
    """

    def __init__(
        self, template: Mixture, weights: NDArray[np.float64], params: Sequence[NDArray[np.float64]]
    ) -> None:
        self._template = template
        self.weights = readonly(np.asarray(weights, dtype=float))
        self.params = tuple(readonly(np.asarray(p, dtype=float)) for p in params)

    def param(self, name: str) -> NDArray[np.float64]:
        """Component parameter ``name`` (e.g. ``"a"``, ``"mean"``) of every mixture, (N, K)."""
        names = self._template._param_names
        if name not in names:
            raise ValueError(f"name must be one of {names}, got {name!r}")
        return self.params[names.index(name)]

    def __len__(self) -> int:
        return int(self.weights.shape[0])

    def __getitem__(self, i: int) -> Mixture:
        return self._template._with(self.weights[i], *(p[i] for p in self.params))

    @property
    def shape(self) -> tuple[int, ...]:
        """Batch shape (the number of mixtures)."""
        return tuple(self.weights.shape[:-1])

    def _frozen(self) -> Any:
        return self._template._dist(*self.params)

    def mean(self) -> NDArray[np.float64]:
        """Mean of every mixture."""
        return np.asarray(np.sum(self.weights * self._frozen().mean(), axis=-1), dtype=float)

    def var(self) -> NDArray[np.float64]:
        """Variance of every mixture."""
        d = self._frozen()
        m = d.mean()
        mu = np.sum(self.weights * m, axis=-1, keepdims=True)
        return np.asarray(np.sum(self.weights * (d.var() + (m - mu) ** 2), axis=-1), dtype=float)

    def sd(self) -> NDArray[np.float64]:
        """Standard deviation of every mixture."""
        return np.sqrt(self.var())

    def cdf(self, x: ArrayLike) -> NDArray[np.float64]:
        """P(X <= x) for every mixture; ``x`` broadcasts against the batch shape."""
        xa = as_float_array(x, "x", allow_inf=True)
        return np.asarray(np.sum(self.weights * self._frozen().cdf(xa[..., None]), axis=-1))

    def sf(self, x: ArrayLike) -> NDArray[np.float64]:
        """P(X > x) for every mixture; ``x`` broadcasts against the batch shape."""
        xa = as_float_array(x, "x", allow_inf=True)
        return np.asarray(np.sum(self.weights * self._frozen().sf(xa[..., None]), axis=-1))

    def ppf(self, q: float) -> NDArray[np.float64]:
        """Quantile ``q`` of every (continuous) mixture, by vectorised root finding.

        Examples
        --------
        >>> from rdstats.priors import BetaMixture
        >>> post = BetaMixture([0.5, 0.5], [1, 10], [1, 10]).posterior_batch([3, 7], 10)
        >>> post.ppf(0.5).round(4)
        array([0.3983, 0.6017])
        """
        qq = float(check_probability(q, "q"))
        if self._template.discrete:
            raise ValueError("MixtureBatch.ppf() is for continuous mixtures")
        comp = np.asarray(self._frozen().ppf(qq), dtype=float)
        lo, hi = comp.min(axis=-1), comp.max(axis=-1)
        out = lo.copy()
        flat_w = self.weights.reshape(-1, self.weights.shape[-1])
        flat_p = [p.reshape(flat_w.shape) for p in self.params]

        cdf = getattr(self._template, "_cdf_kernel", None)

        def f(x: NDArray[np.float64], idx: NDArray[np.float64]) -> NDArray[np.float64]:
            i = idx.astype(np.intp)
            params = [p[i] for p in flat_p]
            c = (
                cdf(x[..., None], *params)
                if cdf is not None
                else self._template._dist(*params).cdf(x[..., None])
            )
            return np.asarray(np.sum(flat_w[i] * c, axis=-1) - qq)

        idx = np.arange(out.size, dtype=float).reshape(out.shape)
        f_lo, f_hi = f(lo, idx), f(hi, idx)
        at_hi = (hi > lo) & (f_lo < 0) & (f_hi <= 0)
        out[at_hi] = hi[at_hi]
        need = (hi > lo) & (f_lo < 0) & (f_hi > 0)
        if need.any():
            res = elementwise.find_root(
                f,
                (lo[need], hi[need]),
                args=(idx[need],),
                tolerances={"xatol": np.finfo(float).tiny, "xrtol": 1e-12, "fatol": 0.0},
            )
            out[need] = res.x
        return out

    def interval(self, level: float = 0.95) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Equal-tailed credible intervals ``(lower, upper)`` of every mixture."""
        lvl = float(check_probability(level, "level", open_interval=True))
        return self.ppf((1 - lvl) / 2), self.ppf((1 + lvl) / 2)

    def __repr__(self) -> str:
        return f"MixtureBatch({type(self._template).__name__}, n={len(self)})"
