"""Stage 1: :class:`Backbone`, a skorch-wrapped torch network as an estimator.

`Backbone` learns a representation (Kang et al., ICLR 2020, stage 1) with the
CIFAR-LT recipe of Cao et al. (2019) by default, then acts as a transformer
(``transform`` -> penultimate features) and as a classifier (the jointly
trained linear head). Stage-2 heads in :mod:`sklearn_lt.heads` train on the
cached features and may reuse the joint head (``coef_``, ``intercept_``).

The package is split by concern: ``_estimator`` (parameters, validation,
``fit`` as named steps, inference), ``_module`` (the torch module: input
scaling, augmentation, features, head), ``_net`` (the skorch net and its
in-memory batch iterator), ``_callbacks`` (one skorch callback per job of
the recipe) and ``_recipes`` (named settings, :data:`RECIPES`).
"""

from ._estimator import Backbone
from ._recipes import RECIPES, recipe_params

__all__ = ["RECIPES", "Backbone", "recipe_params"]
