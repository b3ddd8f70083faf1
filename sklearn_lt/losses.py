"""Long-tailed classification losses (public alias of :mod:`sklearn_lt.nn` losses).

Focal loss (Lin et al., 2017), class-balanced loss with effective-number
weights (Cui et al., 2019), LDAM with Deferred Re-Weighting (Cao et al., 2019),
balanced softmax (Ren et al., 2020) and logit-adjusted loss (Menon et al., 2021).
"""

from .nn._losses import (
    BalancedSoftmaxLoss,
    ClassBalancedLoss,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    drw_weights,
    effective_number_weights,
    make_loss,
)

__all__ = [
    "BalancedSoftmaxLoss",
    "ClassBalancedLoss",
    "FocalLoss",
    "LDAMLoss",
    "LogitAdjustedLoss",
    "drw_weights",
    "effective_number_weights",
    "make_loss",
]
