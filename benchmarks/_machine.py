"""Machine-load helpers shared by the benchmark scripts: other sessions may share this
machine, so every benchmark waits for quiet CPUs and records the load it ran under."""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["load_average", "machine_busy", "machine_cpu_s", "wait_quiet"]


def machine_cpu_s() -> float | None:
    """Busy CPU-seconds of the whole machine since boot (Linux; None elsewhere)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    v = [int(x) for x in fields]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")


def machine_busy(window: float = 0.5) -> float | None:
    """Fraction of all CPUs busy during ``window`` seconds (None where unknown)."""
    a = machine_cpu_s()
    time.sleep(window)
    b = machine_cpu_s()
    if a is None or b is None:
        return None
    return (b - a) / window / (os.cpu_count() or 1)


def wait_quiet(max_wait: float, threshold: float = 0.15) -> float | None:
    """Wait (at most ``max_wait`` s) until other processes leave the CPUs idle; other
    sessions share this machine. Returns the last busy fraction measured."""
    busy = machine_busy()
    deadline = time.perf_counter() + max_wait
    while busy is not None and busy > threshold and time.perf_counter() < deadline:
        busy = machine_busy()
    return None if busy is None else round(busy, 3)


def load_average() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover - not available on every platform
        return []
