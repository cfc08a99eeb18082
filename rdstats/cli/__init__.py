"""The ``rdstats`` command line: ``simulate``, ``report``, ``reproduce`` and ``demo``."""

from rdstats.cli._main import main

__all__ = ["main"]
