"""Shared helpers: long-tailed targets, sampling vocabulary, torch device, seed, threads,
a cache shared by parallel workers."""

from ._memory import LockedMemory
from ._sampling import (
    class_epoch_length,
    power_class_probabilities,
    sampler_exponent,
)
from ._torch import resolve_device, thread_limit, torch_generator
from ._validation import check_long_tailed_targets, class_counts_of

__all__ = [
    "LockedMemory",
    "check_long_tailed_targets",
    "class_counts_of",
    "class_epoch_length",
    "power_class_probabilities",
    "resolve_device",
    "sampler_exponent",
    "thread_limit",
    "torch_generator",
]
