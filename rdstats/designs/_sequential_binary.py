"""Single-arm binary designs with interim looks: stopping boundaries on the number of
responders and exact operating characteristics by enumeration.

At look k (after ``n_k`` patients, ``X_k`` responders in all) the trial stops for futility
if ``X_k <= futility[k]`` and for efficacy if ``X_k >= efficacy[k]``; at the last look it
succeeds iff ``X_K >= efficacy[K]``. The distribution of ``X_k`` among the trials still
running is carried forward look by look (convolution with the binomial increment), so
every operating characteristic - rejection probability, stopping probabilities by look,
expected and distribution of the sample size - is an exact finite sum, vectorised over
the true response rates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special

Array = NDArray[np.float64]
IntArray = NDArray[np.int64]

__all__ = ["SequentialBinaryDesign", "stopping_masses"]


def _int_vector(value: Any, name: str) -> IntArray:
    arr = np.atleast_1d(np.asarray(value))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty sequence of integers, got {value!r}")
    if arr.dtype.kind == "b" or (
        arr.dtype.kind not in "iu" and not np.all(np.isfinite(arr) & (arr == np.round(arr)))
    ):
        raise ValueError(f"{name} must contain integers, got {value!r}")
    return arr.astype(np.int64)


def _binom_pmf(m: int, p: Array) -> Array:
    """Binomial(m, p) probabilities of 0..m for every p (log-space; exact at p = 0, 1
    and stable for subnormal p, where scipy's pmf overflows)."""
    j = np.arange(m + 1, dtype=float)
    logc = special.gammaln(m + 1.0) - special.gammaln(j + 1.0) - special.gammaln(m - j + 1.0)
    pp = p[:, None]
    return np.asarray(np.exp(logc + special.xlogy(j, pp) + special.xlog1py(m - j, -pp)))


def stopping_masses(
    p: Array, looks: IntArray, futility: IntArray, efficacy: IntArray
) -> list[Array]:
    """Probability of stopping at each look with each count, for every rate in ``p``.

    Returns one array per look, (len(p), n_k + 1): the probability that the trial stops
    at look k with ``X_k = x`` (at the last look every trial stops).
    """
    p = np.asarray(p, dtype=float)
    running = np.ones((p.size, 1))  # X = 0 before the first patient
    prev = 0
    out = []
    last = looks.size - 1
    for k, n_k in enumerate(looks):
        m = int(n_k - prev)
        inc = _binom_pmf(m, p)  # (P, m + 1)
        new = np.zeros((p.size, int(n_k) + 1))
        for j in range(m + 1):
            new[:, j : j + prev + 1] += running * inc[:, j : j + 1]
        if k == last:
            out.append(new)
            break
        stop = np.zeros(new.shape, dtype=bool)
        stop[:, : max(int(futility[k]) + 1, 0)] = True
        stop[:, min(int(efficacy[k]), int(n_k) + 1) :] = True
        out.append(np.where(stop, new, 0.0))
        running = np.where(stop, 0.0, new)
        prev = int(n_k)
    return out


@dataclass(frozen=True, eq=False)
class SequentialBinaryDesign:
    """Single-arm binary design with interim looks and stopping boundaries on the
    cumulative number of responders; exact operating characteristics.

    Parameters
    ----------
    looks : sequence of int
        Cumulative sample sizes at the looks (strictly increasing); the last is the
        maximum sample size.
    futility : sequence of int
        Stop for futility at look k if the responders so far are ``<= futility[k]``
        (-1: no futility stop there). At the last look the entry must lie below the
        success threshold and is then set to it minus one: the trial fails iff it does
        not succeed.
    efficacy : sequence of int, optional
        Stop for efficacy at look k if the responders are ``>= efficacy[k]``
        (``n_k + 1``: no efficacy stop); the last entry is the final success threshold.
        Default: no interim efficacy stops, and success at the end iff the responders
        exceed the last futility bound.
    p0 : float, optional
        The uninteresting response rate (true rates ``<= p0`` make a success a type I
        error); used by the simulation engine and in summaries.
    label : str
        Name of the design.
    settings : mapping, optional
        The parameters the boundaries were derived from (JSON-safe; shown by
        ``to_dict``), e.g. a Bayesian design's prior and probability cut-offs.

    Examples
    --------
    >>> from rdstats.designs import SequentialBinaryDesign
    >>> simon = SequentialBinaryDesign([10, 29], futility=[1, 5], p0=0.1)  # Simon 1/10, 5/29
    >>> oc = simon.oc([0.1, 0.3])
    >>> oc[["p", "p_reject", "pet", "en"]].round(4).to_numpy().tolist()
    [[0.1, 0.0471, 0.7361, 15.0141], [0.3, 0.8051, 0.1493, 26.1631]]
    """

    looks: Any
    futility: Any
    efficacy: Any = None
    p0: float | None = None
    label: str = "sequential design"
    settings: Mapping[str, Any] | None = None

    _parameters: ClassVar[tuple[str, ...]] = ("p",)

    def __post_init__(self) -> None:
        looks = _int_vector(self.looks, "looks")
        if looks[0] < 1 or np.any(np.diff(looks) <= 0):
            raise ValueError(
                f"looks must be strictly increasing positive sample sizes, got {looks.tolist()}"
            )
        fut = _int_vector(self.futility, "futility")
        if fut.size != looks.size:
            raise ValueError(
                f"futility needs one bound per look ({looks.size}), got {fut.size}: {fut.tolist()}"
            )
        if self.efficacy is None:
            eff = looks + 1
            eff[-1] = fut[-1] + 1
        else:
            eff = _int_vector(self.efficacy, "efficacy")
            if eff.size != looks.size:
                raise ValueError(
                    f"efficacy needs one bound per look ({looks.size}), got {eff.size}: "
                    f"{eff.tolist()}"
                )
        if fut[-1] >= eff[-1]:
            raise ValueError(
                f"at the last look (n = {looks[-1]}) the futility bound {fut[-1]} must be below "
                f"the success threshold {eff[-1]}"
            )
        fut = fut.copy()
        fut[-1] = eff[-1] - 1  # at the end the trial fails iff it does not succeed
        if np.any(fut < -1) or np.any(fut > looks):
            raise ValueError(f"futility bounds must lie in -1..n_k, got {fut.tolist()}")
        if np.any(eff < 0) or np.any(eff > looks + 1):
            raise ValueError(f"efficacy bounds must lie in 0..n_k + 1, got {eff.tolist()}")
        bad = np.flatnonzero(fut[:-1] >= eff[:-1])
        if bad.size:
            k = int(bad[0])
            raise ValueError(
                f"at look {k + 1} (n = {looks[k]}) the futility bound {fut[k]} must be below "
                f"the efficacy bound {eff[k]}"
            )
        if self.p0 is not None and not 0.0 < float(self.p0) < 1.0:
            raise ValueError(f"p0 must be a response rate in (0, 1), got {self.p0!r}")
        for name, arr in (("looks", looks), ("futility", fut), ("efficacy", eff)):
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)

    # -- operating characteristics ----------------------------------------------------
    @property
    def n_max(self) -> int:
        return int(self.looks[-1])

    def boundaries(self) -> pd.DataFrame:
        """The stopping boundaries: one row per look (``futility``: stop if responders
        <= it; ``efficacy``: stop (succeed at the last look) if responders >= it;
        -1 / n + 1 mean no stop of that kind)."""
        return pd.DataFrame(
            {
                "look": np.arange(1, self.looks.size + 1),
                "n": self.looks,
                "futility": self.futility,
                "efficacy": self.efficacy,
            }
        )

    def _masses(self, p: ArrayLike) -> tuple[Array, list[Array]]:
        pa = np.atleast_1d(np.asarray(p, dtype=float))
        if pa.ndim != 1 or pa.size == 0 or np.any(~np.isfinite(pa)) or np.any((pa < 0) | (pa > 1)):
            raise ValueError(f"p must be response rates in [0, 1], got {np.asarray(p).tolist()}")
        return pa, stopping_masses(pa, self.looks, self.futility, self.efficacy)

    def oc(self, p: ArrayLike) -> pd.DataFrame:
        """Exact operating characteristics at the true response rates ``p``: probability
        of success (``p_reject``: type I error at p0, power above), of early termination
        (``pet``), expected sample size (``en``), and per look the probabilities of
        stopping for futility and for efficacy (``futility_k``, ``efficacy_k``)."""
        pa, masses = self._masses(p)
        k_last = self.looks.size - 1
        fut, eff = np.zeros((pa.size, k_last + 1)), np.zeros((pa.size, k_last + 1))
        for k, mass in enumerate(masses):
            x = np.arange(mass.shape[1])
            eff[:, k] = mass[:, x >= self.efficacy[k]].sum(axis=1)
            fut[:, k] = mass[:, x <= self.futility[k]].sum(axis=1)
        stop = fut + eff
        out = pd.DataFrame(
            {
                "p": pa,
                "p_reject": eff.sum(axis=1),
                "pet": stop[:, :k_last].sum(axis=1),
                "en": stop @ self.looks.astype(float),
            }
        )
        for k in range(k_last + 1):
            out[f"futility_{k + 1}"] = fut[:, k]
            out[f"efficacy_{k + 1}"] = eff[:, k]
        return out

    def sample_size_distribution(self, p: float) -> pd.Series:
        """P(N = n_k) for every look at the true rate ``p``."""
        _, masses = self._masses([p])
        probs = np.array([m[0].sum() for m in masses])
        return pd.Series(probs, index=pd.Index(self.looks, name="n"), name="probability")

    def summary(self) -> pd.DataFrame:
        """Boundaries with, when ``p0`` is set, the stopping probabilities under p0."""
        table = self.boundaries()
        if self.p0 is not None:
            oc = self.oc([float(self.p0)]).iloc[0]
            table["P(stop futility | p0)"] = [oc[f"futility_{k}"] for k in table.look]
            table["P(stop efficacy | p0)"] = [oc[f"efficacy_{k}"] for k in table.look]
        return table

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": type(self).__name__,
            "label": self.label,
            "looks": self.looks.tolist(),
            "futility": self.futility.tolist(),
            "efficacy": self.efficacy.tolist(),
            "p0": None if self.p0 is None else float(self.p0),
            "settings": None if self.settings is None else dict(self.settings),
        }

    def _repr_html_(self) -> str:
        return f"<p><b>{self.label}</b></p>" + self.summary().to_html(index=False)

    # -- simulation hooks (rdstats.simulate) --------------------------------------------
    def _check_scenario(self, params: Mapping[str, float]) -> None:
        v = float(params["p"])
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"p must be a response rate in [0, 1], got {v!r}")

    def _truth(self, params: Mapping[str, float]) -> float:
        return float(params["p"])

    def _is_null(self, params: Mapping[str, float]) -> bool | None:
        return None if self.p0 is None else bool(float(params["p"]) <= float(self.p0))

    def _prepare(self, scenarios: Any) -> None:
        return None

    def _exact(self, params: Mapping[str, float]) -> tuple[dict[str, Any], Any]:
        _, masses = self._masses([float(params["p"])])
        k_last = self.looks.size - 1
        looks, counts, weights = [], [], []
        for k, mass in enumerate(masses):
            x = np.flatnonzero(mass[0] > 0)
            looks.append(np.full(x.size, k))
            counts.append(x)
            weights.append(mass[0, x])
        kk, xx = np.concatenate(looks), np.concatenate(counts)
        return self._outcomes(kk, xx, k_last), np.concatenate(weights)

    def _outcomes(self, k: IntArray, x: IntArray, k_last: int) -> dict[str, Any]:
        n = self.looks[k]
        return {
            "success": x >= self.efficacy[k],
            "n_enrolled": n,
            "stopped_at": np.where(k < k_last, k + 1, 0),
            "estimate": x / n,
            "responders": x,
        }

    def _simulate(
        self, params: Mapping[str, float], size: int, rng: np.random.Generator
    ) -> dict[str, Any]:
        p = float(params["p"])
        incs = np.diff(np.concatenate([[0], self.looks]))
        x = np.cumsum(rng.binomial(incs[None, :], p, (size, incs.size)), axis=1)
        k_last = self.looks.size - 1
        stop = (x <= self.futility) | (x >= self.efficacy)
        stop[:, k_last] = True
        k = np.argmax(stop, axis=1)
        return self._outcomes(k, x[np.arange(size), k], k_last)

    def simulate(self, scenarios: Any, **kwargs: Any) -> Any:
        """Operating characteristics through :func:`rdstats.simulate.operating_characteristics`
        (scenario parameter ``p``)."""
        from rdstats.simulate import operating_characteristics

        return operating_characteristics(self, scenarios, **kwargs)

    # -- plots ----------------------------------------------------------------------------
    def plot(
        self, ax: Any = None, kind: str = "boundaries", p: Sequence[float] | None = None
    ) -> Any:
        """``kind="boundaries"``: the stopping regions on (patients, responders);
        ``kind="oc"``: rejection probability, probability of early termination and
        expected sample size against the true rate. Returns the Axes."""
        from rdstats.plotting import plot_sequential_binary

        return plot_sequential_binary(self, ax=ax, kind=kind, p=p)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(looks={self.looks.tolist()}, futility="
            f"{self.futility.tolist()}, efficacy={self.efficacy.tolist()})"
        )
