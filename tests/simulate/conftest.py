"""Make the test designs in ``_slow_design.py`` importable by name (``import _slow_design``),
also in worker processes forked by a process pool and in subprocesses started by the
kill test (which put this directory on ``PYTHONPATH``)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
