"""Single-patient (n-of-1) series: exact Bayesian detection of "jump steps" (a change in
level, optionally slope) with the change-time prior anchored at treatment start, trends,
AR(1) errors, counts and bounded scores, and several outcomes sharing one change time."""

from rdstats.nof1._detect import detect_jump
from rdstats.nof1._multi import MultiJumpResult
from rdstats.nof1._result import JumpResult

__all__ = ["JumpResult", "MultiJumpResult", "detect_jump"]
