"""Provenance records attached to results: versions, arguments and a timestamp."""

from __future__ import annotations

import datetime as _dt
import functools
import platform
from importlib import metadata
from typing import Any

__all__ = ["provenance"]


@functools.lru_cache(maxsize=64)
def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def provenance(arguments: dict[str, Any] | None = None, seed: Any = None) -> dict[str, Any]:
    """JSON-safe record of how a result was produced."""
    return {
        "rdstats": _version("rdstats"),
        "numpy": _version("numpy"),
        "scipy": _version("scipy"),
        "pymc": _version("pymc"),
        "python": platform.python_version(),
        "seed": seed,
        "arguments": arguments or {},
        "timestamp": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
