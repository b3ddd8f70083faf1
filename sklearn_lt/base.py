"""Base classes and mixins for writing a stage-2 head.

A new head is one module plus its name in ``sklearn_lt.heads.__all__``. It
subclasses :class:`BaseHead` (the template: validation, fitted-state handling,
predictions from ``_logits``) and whichever family it belongs to:

- :class:`LinearHeadMixin` -- ends as ``X @ coef_.T + intercept_``;
- :class:`JointHeadMixin` -- adjusts the instance-balanced joint head
  (parameters ``joint_head``, ``C``, ``max_iter``, ``tol``, ``memory``);
- :class:`SGDHeadMixin` -- trains a torch module with the shared stage-2
  trainer (parameters ``epochs``, ``batch_size``, ``lr``, ``momentum``,
  ``weight_decay``, ``sampler``, ``random_state``, ``device``, ``verbose``).

The tests, the demo and the benchmarks discover it from there
(:func:`sklearn_lt.utils.discovery.all_estimators`); a class attribute
``_catalog_variants = {label: params}`` names the variants
:func:`sklearn_lt.heads.head_catalog` shows (default: one, labelled by the class
name). :class:`Substitution` places the shared parameter text
(``SGD_PARAMS_DOC``, ``JOINT_HEAD_PARAMS_DOC``) in the head's docstring.

Examples
--------
>>> import numpy as np
>>> from numbers import Real
>>> from sklearn.utils._param_validation import Interval
>>> from sklearn_lt.base import BaseHead, LinearHeadMixin
>>> class MeanShiftHead(LinearHeadMixin, BaseHead):
...     '''Linear head from class means (a toy).'''
...     _parameter_constraints = {"shrink": [Interval(Real, 0, None, closed="neither")]}
...     def __init__(self, shrink=1.0):
...         self.shrink = shrink
...     def _fit(self, X, y_enc, classes, counts):
...         means = np.stack([X[y_enc == k].mean(0) for k in range(len(classes))])
...         return {"coef_": self.shrink * means,
...                 "intercept_": -0.5 * self.shrink * (means ** 2).sum(1)}
>>> head = MeanShiftHead().fit([[0.0], [0.2], [2.0], [2.2]], [0, 0, 1, 1])
>>> head.predict([[0.1], [1.9]])
array([0, 1])
"""

from .heads._base import BaseHead, LinearHeadMixin
from .heads._joint import JOINT_HEAD_CONSTRAINTS, JOINT_HEAD_PARAMS_DOC, JointHeadMixin
from .heads._sgd import SGD_CONSTRAINTS, SGD_PARAMS_DOC, SGDHeadMixin, init_linear
from .utils._docstring import Substitution

__all__ = [
    "JOINT_HEAD_CONSTRAINTS",
    "JOINT_HEAD_PARAMS_DOC",
    "SGD_CONSTRAINTS",
    "SGD_PARAMS_DOC",
    "BaseHead",
    "JointHeadMixin",
    "LinearHeadMixin",
    "SGDHeadMixin",
    "Substitution",
    "init_linear",
]
