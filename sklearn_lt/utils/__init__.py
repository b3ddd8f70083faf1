"""Small shared helpers (validation of long-tailed targets, torch device/seed)."""

from ._validation import check_long_tailed_targets, class_counts_of, power_class_probabilities
from ._torch import resolve_device, torch_generator

__all__ = [
    "check_long_tailed_targets",
    "class_counts_of",
    "power_class_probabilities",
    "resolve_device",
    "torch_generator",
]
