"""Random-number streams: one SeedSequence per scenario and per fixed-size batch.

All streams are derived from one root :class:`numpy.random.SeedSequence` before any work
is scheduled. A batch's stream is the root's child with spawn key
``root.spawn_key + scenario.key() + (batch,)``: it depends only on the seed, the
scenario's parameter values and the batch number, never on the executor, the number of
workers, the order in which batches finish, or on which other scenarios are in the grid.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["DEFAULT_BATCH_SIZE", "batch_seed", "batch_sizes", "root_seed", "seed_record"]

DEFAULT_BATCH_SIZE = 10_000


def root_seed(rng: Any) -> np.random.SeedSequence:
    """Root seed from ``rng`` (None, int, SeedSequence or Generator).

    ``None`` draws fresh OS entropy; the entropy is recorded in the result's provenance so
    the run can be repeated. A Generator contributes 128 bits drawn from it.
    """
    if rng is None:
        return np.random.SeedSequence()
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if isinstance(rng, np.random.Generator):
        words = rng.integers(0, 2**32, size=4, dtype=np.uint64)
        return np.random.SeedSequence([int(v) for v in words])
    if isinstance(rng, (bool, np.bool_)):
        raise TypeError(f"rng must be None, an int, a SeedSequence or a Generator, got {rng!r}")
    if isinstance(rng, (int, np.integer)):
        if rng < 0:
            raise ValueError(f"rng must be a non-negative integer seed, got {rng}")
        return np.random.SeedSequence(int(rng))
    raise TypeError(
        f"rng must be None, an int, a SeedSequence or a Generator, got {type(rng).__name__}"
    )


def seed_record(root: np.random.SeedSequence) -> dict[str, Any]:
    """JSON-safe record from which :func:`seed_from_record` rebuilds the root."""
    entropy = root.entropy
    if isinstance(entropy, (int, np.integer)):
        ent: Any = str(int(entropy))
    else:
        ent = [str(int(v)) for v in np.atleast_1d(entropy)]  # type: ignore[arg-type]
    return {"entropy": ent, "spawn_key": [int(k) for k in root.spawn_key]}


def seed_from_record(record: dict[str, Any]) -> np.random.SeedSequence:
    """Inverse of :func:`seed_record`."""
    ent = record["entropy"]
    entropy = int(ent) if isinstance(ent, str) else [int(v) for v in ent]
    return np.random.SeedSequence(entropy, spawn_key=tuple(record.get("spawn_key", ())))


def batch_seed(
    root: np.random.SeedSequence, scenario_key: tuple[int, ...], batch: int
) -> np.random.SeedSequence:
    """Stream of batch ``batch`` of the scenario with stream key ``scenario_key``."""
    return np.random.SeedSequence(
        root.entropy, spawn_key=(*root.spawn_key, *scenario_key, int(batch))
    )


def batch_sizes(n_trials: int, batch_size: int) -> list[int]:
    """Fixed-size batches (the last one may be smaller)."""
    full, rest = divmod(n_trials, batch_size)
    return [batch_size] * full + ([rest] if rest else [])
