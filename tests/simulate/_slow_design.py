"""Test designs for :mod:`rdstats.simulate` (module level, so they pickle by reference).

``SlowDesign`` sleeps ``delay`` seconds per batch so that a simulation can be killed half
way; ``delay`` is left out of its specification (``to_dict``), so a fast copy resumes
the same checkpoint store. ``CountingDesign`` wraps any design and counts the batches it
simulates (per process).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

CALLS: Counter[str] = Counter()


@dataclass(frozen=True)
class SlowDesign:
    """One-arm binomial trial of ``n`` patients; success when at least ``r`` respond."""

    n: int = 20
    r: int = 8
    delay: float = 0.05

    _parameters: ClassVar[tuple[str, ...]] = ("theta",)

    def to_dict(self) -> dict[str, Any]:
        return {"design": "SlowDesign", "n": self.n, "r": self.r}

    def _truth(self, params: Mapping[str, float]) -> float:
        return float(params["theta"])

    def _simulate(
        self, params: Mapping[str, float], size: int, rng: np.random.Generator
    ) -> dict[str, Any]:
        CALLS["SlowDesign"] += 1
        if self.delay:
            time.sleep(self.delay)
        y = rng.binomial(self.n, params["theta"], size)
        return {"success": y >= self.r, "y": y, "estimate": y / self.n}


@dataclass(frozen=True)
class CountingDesign:
    """Delegates every hook to ``inner`` and counts ``_simulate`` calls under ``name``;
    with ``fail=True`` simulating any batch raises."""

    inner: Any
    name: str = "counting"
    fail: bool = False  # raise instead of simulating (not part of the specification)

    @property
    def _parameters(self) -> tuple[str, ...]:
        return tuple(self.inner._parameters)

    def to_dict(self) -> dict[str, Any]:
        return {"design": "CountingDesign", "inner": self.inner.to_dict()}

    def _prepare(self, scenarios: Any) -> None:
        self.inner._prepare(scenarios)

    def _check_scenario(self, params: Mapping[str, float]) -> None:
        self.inner._check_scenario(params)

    def _truth(self, params: Mapping[str, float]) -> float:
        return float(self.inner._truth(params))

    def _is_null(self, params: Mapping[str, float]) -> bool | None:
        return self.inner._is_null(params)  # type: ignore[no-any-return]

    def _simulate(
        self, params: Mapping[str, float], size: int, rng: np.random.Generator
    ) -> dict[str, Any]:
        CALLS[self.name] += 1
        if self.fail:
            raise RuntimeError(f"{self.name}: no batch should be simulated")
        return self.inner._simulate(params, size, rng)  # type: ignore[no-any-return]
