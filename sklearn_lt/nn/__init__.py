"""Torch building blocks: backbones, long-tailed losses, class-aware samplers, augmentation.

Everything here depends on torch only; the scikit-learn estimators built on
top live elsewhere in the package.
"""

from ._augment import CropFlip, random_crop_flip
from ._losses import (
    BalancedSoftmaxLoss,
    ClassBalancedLoss,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    drw_weights,
    effective_number_weights,
    make_loss,
)
from ._networks import (
    MLP,
    NormedLinear,
    ResNet10,
    ResNet32,
    ResNeXt50,
    SmallCNN,
    make_network,
)
from ._trainer import train_module
from ._samplers import (
    ClassAwareSampler,
    PowerSampler,
    ProgressivelyBalancedSampler,
    make_sampler,
)

__all__ = [
    "BalancedSoftmaxLoss",
    "ClassAwareSampler",
    "ClassBalancedLoss",
    "CropFlip",
    "FocalLoss",
    "LDAMLoss",
    "LogitAdjustedLoss",
    "MLP",
    "NormedLinear",
    "PowerSampler",
    "ProgressivelyBalancedSampler",
    "ResNeXt50",
    "ResNet10",
    "ResNet32",
    "SmallCNN",
    "drw_weights",
    "effective_number_weights",
    "make_loss",
    "make_network",
    "make_sampler",
    "random_crop_flip",
    "train_module",
]
