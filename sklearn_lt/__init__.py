"""sklearn_lt: scikit-learn-compatible long-tailed recognition.

Decoupled training (Kang et al., ICLR 2020): learn a representation with plain
instance-balanced training (:class:`Backbone`), then re-balance only the
classifier on cached features (:mod:`sklearn_lt.heads`).
"""

__version__ = "0.1.0"

from . import datasets, exceptions, heads, inspection, losses, metrics, nn, resampling  # noqa: E402
from .backbone import Backbone  # noqa: E402
from .heads import *  # noqa: E402, F403  (every head is exported at the top level too)
from .resampling import PowerResampler  # noqa: E402

__all__ = [
    "Backbone",
    "PowerResampler",
    *heads.__all__,
    "datasets",
    "exceptions",
    "heads",
    "inspection",
    "losses",
    "metrics",
    "nn",
    "resampling",
    "__version__",
]
