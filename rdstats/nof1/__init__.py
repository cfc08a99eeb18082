"""Single-patient (n-of-1) series: exact Bayesian detection of "jump steps" (a change in
level, optionally slope) with the change-time prior anchored at treatment start, trends,
AR(1) errors, counts and bounded scores, and several outcomes sharing one change time;
multiple change points by Fearnhead's exact recursion and an online (Adams-MacKay)
detector for prospective monitoring; false-alarm calibration of decision rules against
null (natural-history) models, including enrolment after a flare; hierarchical
combination of a series of n-of-1 patients' jumps."""

from rdstats.nof1._batch import batch_jump_statistics
from rdstats.nof1._calibrate import CalibrationResult, JumpDetectionDesign, calibrate
from rdstats.nof1._detect import detect_jump
from rdstats.nof1._fearnhead import multiple_changes
from rdstats.nof1._fearnhead_result import MultipleChangeResult
from rdstats.nof1._multi import MultiJumpResult
from rdstats.nof1._null_models import FlareEnrolment, NullModel
from rdstats.nof1._online import OnlineDetector, OnlineState
from rdstats.nof1._online_result import OnlineResult
from rdstats.nof1._result import JumpResult
from rdstats.nof1._rules import JumpRule
from rdstats.nof1._segments import SegmentLength
from rdstats.nof1._series import SeriesResult, combine_jumps

__all__ = [
    "CalibrationResult",
    "FlareEnrolment",
    "JumpDetectionDesign",
    "JumpResult",
    "JumpRule",
    "MultiJumpResult",
    "MultipleChangeResult",
    "NullModel",
    "OnlineDetector",
    "OnlineResult",
    "OnlineState",
    "SegmentLength",
    "SeriesResult",
    "batch_jump_statistics",
    "calibrate",
    "combine_jumps",
    "detect_jump",
    "multiple_changes",
]
