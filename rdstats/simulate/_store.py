"""Checkpoint store: each completed batch is written to Parquet as soon as it finishes.

Layout::

    STORE/manifest.json                       run fingerprint (design, seed, batch size)
    STORE/run.json                            the latest run's grid and n_trials
    STORE/batches/<scenario-key>/<b>.parquet  outcomes of batch b of one scenario

A batch file is written to a temporary name and renamed, so a killed run never leaves a
half-written batch. Batches are keyed by the scenario's stream key, so a re-run with the
same store reuses every completed batch — also after scenarios are added to the grid.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Store", "StoreMismatchError"]


class StoreMismatchError(ValueError):
    """The store holds batches of a different design, seed or batch size."""


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


class Store:
    """Directory of completed batches of one simulation (design + seed + batch size)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"store must be a directory path, got {type(path).__name__}")
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"store={str(path)!r} exists and is not a directory")

    # -- run description --------------------------------------------------------------
    def check(self, fingerprint: dict[str, Any]) -> None:
        """Raise StoreMismatchError if the store holds another simulation (writes nothing)."""
        manifest = self.path / "manifest.json"
        if manifest.exists():
            old = json.loads(manifest.read_text())
            if _canonical(old) != _canonical(fingerprint):
                diff = sorted(k for k in fingerprint if old.get(k) != fingerprint.get(k))
                raise StoreMismatchError(
                    f"store={str(self.path)!r} holds a different simulation (differs in "
                    f"{', '.join(diff) or 'its keys'}); use a new directory"
                )

    def open(self, fingerprint: dict[str, Any], run: dict[str, Any]) -> None:
        """Create the store, or check that it belongs to the same simulation."""
        manifest = self.path / "manifest.json"
        self.check(fingerprint)
        if not manifest.exists():
            (self.path / "batches").mkdir(parents=True, exist_ok=True)
            self._write_text(manifest, json.dumps(fingerprint, indent=1, sort_keys=True))
        self._write_text(self.path / "run.json", json.dumps(run, indent=1, sort_keys=True))

    def _write_text(self, target: Path, text: str) -> None:
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, target)

    def _file(self, key: tuple[int, ...], batch: int) -> Path:
        return self.path / "batches" / "-".join(f"{k:08x}" for k in key) / f"{batch:06d}.parquet"

    # -- batches ----------------------------------------------------------------------
    def load(self, key: tuple[int, ...], batch: int, size: int) -> dict[str, Any] | None:
        """Outcomes of a completed batch, or None if it is not (validly) stored."""
        f = self._file(key, batch)
        if not f.exists():
            return None
        try:
            df = pd.read_parquet(f)
        except Exception:  # unreadable file: recompute the batch
            return None
        if len(df) != size:
            return None
        return {c: df[c].to_numpy() for c in df.columns}

    def save(self, key: tuple[int, ...], batch: int, outcomes: dict[str, Any]) -> None:
        f = self._file(key, batch)
        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = f.with_suffix(".tmp")
        pd.DataFrame({k: np.asarray(v) for k, v in outcomes.items()}).to_parquet(tmp, index=False)
        os.replace(tmp, f)

    def count(self) -> int:
        """Number of completed batch files."""
        return sum(1 for _ in (self.path / "batches").glob("*/*.parquet"))


def store_status(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(completed, expected) batches of the latest run recorded in ``path``, or None."""
    run_file = Path(path) / "run.json"
    if not run_file.exists():
        return None
    run = json.loads(run_file.read_text())
    store = Store(path)
    done = 0
    for key, sizes in zip(run["scenario_keys"], run["batches"], strict=True):
        done += sum(store._file(tuple(key), b).exists() for b in range(sizes))
    return done, int(sum(run["batches"]))
