"""Long-tailed classification losses (public alias of :mod:`sklearn_lt.nn` losses).

Focal loss (Lin et al., 2017), class-balanced loss with effective-number
weights (Cui et al., 2019), LDAM with Deferred Re-Weighting (Cao et al., 2019),
balanced softmax (Ren et al., 2020) and logit-adjusted loss (Menon et al., 2021).
``LOSSES`` is the registry: for each name, what the loss needs and what head
it trains (:class:`LossSpec`).
"""

from .nn._losses import *  # noqa: F403  (the registry module defines __all__)
from .nn._losses import __all__  # noqa: F401
