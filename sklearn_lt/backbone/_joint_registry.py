"""How a head in a Pipeline finds the joint head of the Backbone before it.

tau-normalisation, LWS and post-hoc logit adjustment adjust the linear head
trained jointly with the representation (Kang et al., 2020; Menon et al.,
2021). In ``Pipeline([("feat", Backbone(...)), ("clf", TauNormClassifier())])``
the head only receives features, and ``clone`` (in every search) un-fits an
estimator passed as a parameter, so the Backbone cannot be handed to the head.
Instead, ``Backbone.fit_transform`` -- what a Pipeline calls -- registers the
row hashes of the training features it returns together with a copy of its
joint head, in a process-wide, weakly referenced registry (the mechanism that
carries SWAG's stochastic representations, :mod:`._stochastic`). A head with
``joint_head="auto"`` looks up the rows of the ``X`` it is fitted on: when
every row belongs to a registered Backbone's training features -- in any
order or subset, as in cross-validation on features -- it adjusts that
Backbone's joint head. Features from anywhere else fall back to fitting a
linear head on them. A Backbone unpickled from a ``Pipeline(memory=...)``
cache registers itself again, so searches over the head's parameters keep
finding it.
"""

import warnings

import numpy as np

from ..utils import sampler_exponent
from ._stochastic import RowRegistry, SortedRows, row_hashes

_REGISTRY = RowRegistry()


# Stage-1 losses whose joint head already favours the tail, fully (the two that
# subtract the prior) or partly (class-balanced weights, LDAM's deferred re-weighting).
_REBALANCING_LOSSES = ("logit_adjusted", "balanced_softmax", "cb", "ldam_drw")


def rebalancing(estimator):
    """How a fitted Backbone's training re-balanced its joint head, or None.

    ``"loss='cb'"`` or ``"sampler='class'"`` (any sampler but instance-balanced);
    None for instance-balanced training with an unweighted loss, and for an
    estimator that is not a fitted Backbone.
    """
    loss = getattr(estimator, "loss_", None)
    if loss is None:
        return None
    if loss in _REBALANCING_LOSSES:
        return f"loss={loss!r}"
    sampler = getattr(estimator, "sampler", "instance")
    q = sampler_exponent(sampler)
    if q is None or q < 1:
        return f"sampler={sampler!r}"
    return None


class JointHeadEntry(SortedRows):
    """A Backbone's training rows and labels, and a copy of its joint head (no
    reference to the Backbone itself)."""

    def __init__(self, hashes, labels, coef, intercept, classes, rebalancing):
        super().__init__(hashes)
        self.labels = np.asarray(labels)  # class index of each training row
        self.coef = np.array(coef, dtype=np.float64)
        self.intercept = np.array(intercept, dtype=np.float64)
        self.classes = np.asarray(classes)
        self.rebalancing = rebalancing

    def holds(self, hashes, labels):
        """Whether every query row is a training row, with the same label."""
        idx = self.find(hashes)
        return idx is not None and bool(np.array_equal(self.labels[idx], labels))


def register_joint_head(hashes, labels, backbone):
    """Make ``backbone``'s joint head findable from its training rows (``hashes``)
    and their class indices (``labels``).

    Returns the entry; the registry holds it weakly, so the Backbone keeps it
    alive as long as it lives.
    """
    return _REGISTRY.add(JointHeadEntry(hashes, labels, backbone.coef_, backbone.intercept_,
                                        backbone.classes_, rebalancing(backbone)))


def find_joint_head(X, y_enc, classes):
    """The joint head of the Backbone trained on the rows of ``X`` with the labels
    ``classes[y_enc]``, or None.

    When several live Backbones match with different joint heads (a network with
    frozen features trained twice, say), the most recently registered one is used,
    with a warning.
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0:
        return None
    candidates = [e for e in _REGISTRY.newest_first()
                  if e.coef.shape[1] == X.shape[1] and np.array_equal(e.classes, classes)]
    if not candidates:
        return None
    hashes = row_hashes(X)
    found = [e for e in candidates if e.holds(hashes, y_enc)]
    if any(not (np.array_equal(e.coef, found[0].coef)
                and np.array_equal(e.intercept, found[0].intercept)) for e in found[1:]):
        warnings.warn(
            "These features and labels are the training data of more than one fitted "
            "Backbone with different joint heads; using the most recently fitted or loaded "
            "one. Pass joint_head=(backbone.coef_, backbone.intercept_) to choose.",
            UserWarning, stacklevel=4)
    return found[0] if found else None
