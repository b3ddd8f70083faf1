"""Shared helpers: validation of long-tailed targets, the sampling vocabulary, torch device/seed."""

from ._sampling import (
    class_epoch_length,
    power_class_probabilities,
    sampler_exponent,
)
from ._torch import resolve_device, torch_generator
from ._validation import check_long_tailed_targets, class_counts_of

__all__ = [
    "check_long_tailed_targets",
    "class_counts_of",
    "class_epoch_length",
    "power_class_probabilities",
    "resolve_device",
    "sampler_exponent",
    "torch_generator",
]
