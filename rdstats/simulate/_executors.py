"""Executors: serial, a local process pool, or Dask distributed (the only place dask is used)."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import itertools
import logging
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = [
    "BACKENDS",
    "check_backend",
    "group_jobs",
    "local_cluster",
    "open_executor",
    "submit_all",
]

BACKENDS = ("serial", "processes", "dask")


def _check_workers(workers: Any) -> int | None:
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    return workers


def run_jobs(design: Any, jobs: list[tuple[dict[str, float], int, Any]]) -> list[Any]:
    """Worker: simulate batches ``(params, size, SeedSequence)``, one stream per batch."""
    return [
        design._simulate(params, size, np.random.default_rng(seed)) for params, size, seed in jobs
    ]


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
        from distributed import Client
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
    with local_cluster(n) as cluster, Client(cluster) as client:
        yield client, f"dask LocalCluster ({n} workers)"


@contextlib.contextmanager
def _simulation_environ() -> Iterator[None]:
    """Worker environment for simulation: distributed's ``pre-spawn-environ`` without
    ``MALLOC_TRIM_THRESHOLD_``. That setting makes glibc return freed memory to the OS at
    once, so every large temporary array of a vectorised batch is page-faulted in afresh
    (measured: about 15 % of a worker's time). The nanny also copies the setting into this
    process's ``os.environ``, from which later workers inherit it; it is removed there for
    the start-up and restored afterwards."""
    import dask

    env = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    env.pop("MALLOC_TRIM_THRESHOLD_", None)
    inherited = os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
            yield
    finally:
        if inherited is not None:
            os.environ["MALLOC_TRIM_THRESHOLD_"] = inherited


def local_cluster(workers: int | None = None, **kwargs: Any) -> Any:
    """A Dask ``LocalCluster`` set up for simulation.

    One single-threaded worker process per core (numerical libraries capped at one thread
    by distributed's defaults), no dashboard on a fixed port, quiet logs, and workers
    started without ``MALLOC_TRIM_THRESHOLD_`` (see Notes). Pass its ``Client`` as
    ``executor=`` to :func:`operating_characteristics` to reuse one cluster for many calls.

    Parameters
    ----------
    workers : int, optional
        Number of worker processes (default: CPU count).
    **kwargs
        Passed to ``distributed.LocalCluster`` (override the defaults above).

    Returns
    -------
    distributed.LocalCluster
        Use it as a context manager, or call ``close()``.

    Notes
    -----
    distributed sets ``MALLOC_TRIM_THRESHOLD_=65536`` in its workers' environment so that
    long-lived workers give memory back to the OS. Vectorised simulation allocates and
    frees arrays of ``batch_size`` elements many times per batch; with the threshold set
    each of them is returned and page-faulted in again, which costs about 15 % of the
    throughput of two workers on two cores.

    References
    ----------
    .. [1] Dask developers. Worker memory management: memory not released back to the OS.
       https://distributed.dask.org/en/stable/worker-memory.html

    Examples
    --------
    >>> from rdstats.simulate import local_cluster  # doctest: +SKIP
    >>> from distributed import Client  # doctest: +SKIP
    >>> with local_cluster(2) as cluster, Client(cluster) as client:  # doctest: +SKIP
    ...     result = operating_characteristics(design, grid, executor=client)
    """
    try:
        from distributed import LocalCluster
    except ImportError as err:  # pragma: no cover - dask is in the 'all' extra
        raise ImportError(
            "local_cluster needs dask[distributed]: pip install rdstats[dask]"
        ) from err
    n = _check_workers(workers) or os.cpu_count() or 1
    options: dict[str, Any] = {
        "n_workers": n,
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": ":0",  # any free port (None still binds 8787)
        "silence_logs": logging.ERROR,
    }
    options.update(kwargs)
    with _simulation_environ():
        return LocalCluster(**options)


def _n_workers(executor: Any) -> int:
    if _is_dask_client(executor):
        try:
            return max(1, len(executor.scheduler_info().get("workers", {})))
        except Exception:  # pragma: no cover - only sets the task size
            return os.cpu_count() or 1
    return int(getattr(executor, "_max_workers", 0) or os.cpu_count() or 1)


def group_jobs(jobs: list[Any], workers: int, per_worker: int = 4) -> list[list[Any]]:
    """Consecutive groups of jobs, about ``per_worker`` groups per worker: fewer tasks
    (less scheduling and transfer overhead) while the last tasks still balance the load.
    Grouping never changes results: every batch keeps its own stream."""
    n_tasks = max(1, min(len(jobs), workers * per_worker))
    bounds = np.linspace(0, len(jobs), n_tasks + 1).round().astype(int)
    return [jobs[a:b] for a, b in itertools.pairwise(bounds.tolist()) if b > a]


def submit_all(
    executor: Any, design: Any, grid: Any, jobs: list[Any]
) -> Iterator[tuple[tuple[int, int, int], Any]]:
    """Run the batches in grouped tasks; yield ``((scenario, batch, size), outcomes)`` for
    every batch as its task finishes. Pending tasks are cancelled if the caller stops
    early (interrupt, error)."""
    groups = group_jobs(jobs, _n_workers(executor))
    tasks = [[(dict(grid[i]), size, seed) for i, _, size, seed in g] for g in groups]
    if _is_dask_client(executor):
        from distributed import as_completed

        shared = executor.scatter(design, broadcast=True, hash=False)
        futures = {
            executor.submit(run_jobs, shared, task, pure=False): k for k, task in enumerate(tasks)
        }
        completed: Iterator[Any] = iter(as_completed(list(futures)))
    else:
        futures = {executor.submit(run_jobs, design, task): k for k, task in enumerate(tasks)}
        completed = cf.as_completed(futures)
    try:
        for fut in completed:
            for (i, b, size, _), out in zip(groups[futures[fut]], fut.result(), strict=True):
                yield (i, b, size), out
    finally:
        for fut in futures:
            fut.cancel()
