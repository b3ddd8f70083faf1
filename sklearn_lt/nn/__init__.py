"""Torch building blocks: networks, long-tailed losses, samplers, augmentation, trainer.

Everything here depends on torch only; the scikit-learn estimators built on
top live elsewhere in the package. Each submodule declares its public names in
``__all__``; this package re-exports them all.
"""

from . import _augment, _losses, _meta, _networks, _samplers, _schedule, _swag, _trainer
from ._augment import *  # noqa: F403
from ._losses import *  # noqa: F403
from ._meta import *  # noqa: F403
from ._networks import *  # noqa: F403
from ._samplers import *  # noqa: F403
from ._schedule import *  # noqa: F403
from ._swag import *  # noqa: F403
from ._trainer import *  # noqa: F403

__all__ = sorted({*_augment.__all__, *_losses.__all__, *_meta.__all__, *_networks.__all__,
                  *_samplers.__all__,
                  *_schedule.__all__, *_swag.__all__, *_trainer.__all__})
