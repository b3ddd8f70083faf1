"""Metrics of long-tailed recognition: shot-split accuracy, calibration, dispersion, scorers."""

from ._calibration import calibration_bins, expected_calibration_error, negative_log_likelihood
from ._dispersion import dispersion
from ._report import long_tail_report
from ._scorers import (
    SCORERS,
    ece_scorer,
    get_scorer,
    get_scorer_names,
    make_shot_scorer,
    nll_scorer,
)
from ._shot import per_class_accuracy, shot_accuracy

__all__ = [
    "SCORERS",
    "calibration_bins",
    "dispersion",
    "ece_scorer",
    "expected_calibration_error",
    "get_scorer",
    "get_scorer_names",
    "long_tail_report",
    "make_shot_scorer",
    "negative_log_likelihood",
    "nll_scorer",
    "per_class_accuracy",
    "shot_accuracy",
]
