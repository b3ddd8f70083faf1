"""Data-level resampling for long-tailed labels (imbalanced-learn samplers)."""

from ._power import PowerResampler

__all__ = ["PowerResampler"]
