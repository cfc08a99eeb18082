"""Simulation hooks of group-sequential designs for :mod:`rdstats.simulate`.

Scenarios have one parameter, ``theta``: the drift in units of the design alternative's
(``E[Z_k] = theta * drift * sqrt(t_k)``). ``_simulate`` draws the independent score
increments; ``_exact`` enumerates Simpson nodes of ``Z`` in each look's stopping regions
(:func:`rdstats.designs._gs_kernels.stopping_distribution`), their weights rescaled to the
regions' exact probabilities. Outcomes: ``success``, ``stopped_at``, ``n_enrolled``
(information fraction) and ``estimate`` (maximum-likelihood estimate of ``theta`` at
stopping).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from rdstats._validation import real_number as _real
from rdstats.designs._gs_kernels import stopping_distribution

__all__ = ["GroupSequentialHooks"]


class GroupSequentialHooks:
    """Engine hooks shared by :class:`GroupSequentialDesign` (mixin)."""

    kmax: int
    sided: int
    drift: float
    grid: int
    critical_values: Any
    futility_bounds: Any
    information_rates: Any

    def stage_probabilities(self, theta: float = 1.0) -> tuple[Any, Any]:  # pragma: no cover
        raise NotImplementedError

    _parameters: ClassVar[tuple[str, ...]] = ("theta",)

    @property
    def _n_looks(self) -> int:
        return self.kmax

    def _check_scenario(self, params: Mapping[str, float]) -> None:
        _real(params["theta"], "theta")

    def _truth(self, params: Mapping[str, float]) -> float:
        return float(params["theta"])

    def _is_null(self, params: Mapping[str, float]) -> bool | None:
        th = float(params["theta"])
        return th == 0.0 if self.sided == 2 else th <= 0.0

    def _exact(self, params: Mapping[str, float]) -> tuple[dict[str, Any], Any]:
        th = float(params["theta"])
        rej, fut = self.stage_probabilities(th)
        k = self.kmax
        exact = {(j, True): rej[j] for j in range(k)}
        exact.update({(j, False): fut[j] for j in range(k - 1)})
        exact[(k - 1, False)] = max(1.0 - rej.sum() - fut[:-1].sum(), 0.0)
        pieces = stopping_distribution(
            np.asarray(self.information_rates),
            np.asarray(self.critical_values),
            np.asarray(self.futility_bounds),
            th * self.drift,
            self.sided == 2,
            self.grid,
        )
        totals: dict[tuple[int, bool], float] = {}
        for j, rejected, _, w in pieces:
            totals[(j, rejected)] = totals.get((j, rejected), 0.0) + float(w.sum())
        looks, success, z, weight = [], [], [], []
        for j, rejected, nodes, w in pieces:
            total = totals[(j, rejected)]
            # weights rescaled to the region's probability from exact normal tails
            weight.append(w * (exact[(j, rejected)] / total if total > 0 else 0.0))
            looks.append(np.full(nodes.size, j))
            success.append(np.full(nodes.size, rejected))
            z.append(nodes)
        look = np.concatenate(looks)
        t = np.asarray(self.information_rates)
        outcomes = {
            "success": np.concatenate(success),
            "stopped_at": np.where(look == k - 1, 0, look + 1),
            "n_enrolled": t[look],
            "estimate": np.concatenate(z) / (self.drift * np.sqrt(t[look])),
        }
        return outcomes, np.concatenate(weight)

    def _simulate(
        self, params: Mapping[str, float], size: int, rng: np.random.Generator
    ) -> dict[str, Any]:
        t = np.asarray(self.information_rates)
        dt = np.diff(np.concatenate([[0.0], t]))
        drift = float(params["theta"]) * self.drift
        s = np.cumsum(rng.standard_normal((size, self.kmax)) * np.sqrt(dt) + drift * dt, axis=1)
        z = s / np.sqrt(t)
        c = np.asarray(self.critical_values)
        reject = (np.abs(z) if self.sided == 2 else z) >= c
        stop = reject | (z <= np.asarray(self.futility_bounds))
        stop[:, -1] = True
        look = np.argmax(stop, axis=1)
        rows = np.arange(size)
        return {
            "success": reject[rows, look],
            "stopped_at": np.where(look == self.kmax - 1, 0, look + 1),
            "n_enrolled": t[look],
            "estimate": z[rows, look] / (self.drift * np.sqrt(t[look])),
        }

    def simulate(self, scenarios: Any, **kwargs: Any) -> Any:
        """Operating characteristics over scenarios of ``theta`` (see
        :func:`rdstats.simulate.operating_characteristics`, which takes ``kwargs``)."""
        from rdstats.simulate import operating_characteristics

        return operating_characteristics(self, scenarios, **kwargs)
