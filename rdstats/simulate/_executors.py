"""Executors: serial, a local process pool, or Dask distributed (the only place dask is used)."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["BACKENDS", "check_backend", "open_executor", "submit_all"]

BACKENDS = ("serial", "processes", "dask")


def _check_workers(workers: Any) -> int | None:
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    return workers


def run_jobs(design: Any, params: dict[str, float], jobs: list[tuple[int, Any]]) -> list[Any]:
    """Worker: simulate batches ``(size, SeedSequence)`` of one scenario."""
    return [design._simulate(params, size, np.random.default_rng(seed)) for size, seed in jobs]


def _is_dask_client(obj: Any) -> bool:
    return type(obj).__name__ == "Client" and type(obj).__module__.startswith("distributed")


def describe(executor: Any) -> str:
    """Provenance description of a user's executor."""
    if _is_dask_client(executor):
        try:
            n = len(executor.scheduler_info().get("workers", {}))
            return f"dask Client ({n} workers at {executor.scheduler.address})"
        except Exception:  # pragma: no cover - description only
            return "dask Client"
    workers = getattr(executor, "_max_workers", None)
    name = type(executor).__name__
    return name if workers is None else f"{name} ({workers} workers)"


def check_backend(executor: Any, backend: Any, workers: Any, address: Any) -> None:
    """Validate the executor arguments before any work starts."""
    if executor is not None and backend is not None:
        raise ValueError(f"give either executor or backend, not both (backend={backend!r})")
    if executor is not None and not (
        isinstance(executor, cf.Executor) or _is_dask_client(executor)
    ):
        raise TypeError(
            "executor must be a concurrent.futures.Executor or a distributed.Client, got "
            f"{type(executor).__name__}"
        )
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    _check_workers(workers)
    if address is not None:
        if backend != "dask":
            raise ValueError(f"address={address!r} needs backend='dask', got backend={backend!r}")
        if not isinstance(address, str) or not address:
            raise ValueError(
                f"address must be a scheduler address like 'tcp://host:8786', got {address!r}"
            )


@contextlib.contextmanager
def open_executor(
    executor: Any,
    backend: str | None,
    workers: int | None = None,
    address: str | None = None,
    connect_timeout: float = 10.0,
) -> Iterator[tuple[Any, str]]:
    """Yield ``(executor, description)``; ``None`` means run in this process. For Dask the
    executor is the ``distributed.Client`` itself (its own API has less overhead than
    ``Client.get_executor()``; both give identical results).

    Executors created here are shut down on exit; a user's executor is left open.
    """
    check_backend(executor, backend, workers, address)
    if executor is not None:
        yield executor, describe(executor)
        return
    if backend in (None, "serial"):
        yield None, "serial"
        return
    n = workers or os.cpu_count() or 1
    if backend == "processes":
        with cf.ProcessPoolExecutor(max_workers=n) as pool:
            yield pool, f"processes ({n} workers)"
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:  # pragma: no cover - dask is in the 'all' extra
        raise ImportError(
            "backend='dask' needs dask[distributed]: pip install rdstats[dask]"
        ) from err
    if address is not None:
        try:
            client = Client(address, timeout=connect_timeout)
        except (OSError, TimeoutError) as err:
            raise ConnectionError(
                f"cannot reach the Dask scheduler at address={address!r} within "
                f"{connect_timeout:g} s: {err}"
            ) from None
        try:
            yield client, f"dask cluster at {address}"
        finally:
            client.close()
        return
    with (
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port (None still binds 8787)
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client, f"dask LocalCluster ({n} workers)"


def submit_all(
    executor: Any, design: Any, grid: Any, jobs: list[Any]
) -> Iterator[tuple[tuple[int, int, int], Any]]:
    """Run one task per batch; yield ``((scenario, batch, size), outcomes)`` as each
    finishes. Pending tasks are cancelled if the caller stops early (interrupt, error)."""
    if _is_dask_client(executor):
        from distributed import as_completed

        shared = executor.scatter(design, broadcast=True, hash=False)
        futures = {
            executor.submit(run_jobs, shared, dict(grid[i]), [(size, seed)], pure=False): (
                i,
                b,
                size,
            )
            for i, b, size, seed in jobs
        }
        completed: Iterator[Any] = iter(as_completed(list(futures)))
    else:
        futures = {
            executor.submit(run_jobs, design, dict(grid[i]), [(size, seed)]): (i, b, size)
            for i, b, size, seed in jobs
        }
        completed = cf.as_completed(futures)
    try:
        for fut in completed:
            yield futures[fut], fut.result()[0]
    finally:
        for fut in futures:
            fut.cancel()
