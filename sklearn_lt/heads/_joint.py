"""The jointly trained linear head that post-hoc heads start from.

tau-normalisation, LWS and post-hoc logit adjustment all adjust an
instance-balanced ("joint") linear head: the one a Backbone trained, given as a
tuple or a fitted estimator, or one fitted here on the features.
"""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import HasMethods, Interval

from ..backbone._joint_registry import find_joint_head, rebalancing
from ._base import THREADS_CONSTRAINT, BaseHead, LinearHeadMixin
from ._linear import cached_linear_head

# Shared by the heads built on a joint linear head (TauNorm, LWS, LogitAdjusted).
JOINT_HEAD_CONSTRAINTS = {
    "joint_head": "no_validation",  # checked in fit, with shape-aware messages
    "C": [Interval(Real, 0, None, closed="neither")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="left")],
    "memory": [None, str, HasMethods(["cache"])],
}

JOINT_HEAD_PARAMS_DOC = """\
joint_head : "auto", None, tuple (coef, intercept) or fitted estimator, \
default="auto"
    The jointly trained (instance-balanced) linear head to adjust.
    ``"auto"``: when ``(X, y)`` are rows that
    :meth:`Backbone.fit_transform <sklearn_lt.Backbone.fit_transform>` returned,
    with their labels (what a ``Pipeline`` after the Backbone passes, also in
    a search and from a ``Pipeline(memory=...)`` cache), that Backbone's joint
    head, as in the papers; otherwise as ``None``. After ``fit`` and
    ``transform`` called separately, pass the Backbone instead.
    ``None`` fits it on ``X`` with :func:`fit_linear_head` (multinomial
    logistic regression, no re-balancing; ``C``, ``max_iter``, ``tol``
    apply). A tuple gives ``coef`` of shape (n_classes, n_features) and
    ``intercept`` of shape (n_classes,), rows in the order of the sorted
    labels of ``y``. An estimator with ``coef_``/``intercept_`` (e.g. a
    fitted :class:`~sklearn_lt.Backbone`) is reused without retraining; if
    it has ``classes_`` they must equal the classes of ``y``. ``clone``
    un-fits an estimator given as a parameter, so inside ``GridSearchCV``
    pass the tuple ``(backbone.coef_, backbone.intercept_)``, or use
    ``"auto"`` in a ``Pipeline`` after the Backbone. ``joint_head_source_``
    says which was used.
C : float, default=1.0
    Inverse L2 strength of the joint head fitted on ``X`` (``joint_head=None``,
    or ``"auto"`` without a Backbone's features).
max_iter : int, default=1000
    L-BFGS iterations for that fit.
tol : float, default=1e-4
    L-BFGS gradient tolerance for that fit (see :func:`fit_linear_head`).
memory : None, str or joblib.Memory, default=None
    Caches the joint-head fit (as ``Pipeline(memory=...)`` does), so that a
    search over this head's post-hoc parameters, which clones and refits
    the head per candidate, fits the linear head once per training fold.
"""

POSTHOC_DEVICE_DOC = """\
device : str or torch.device, default="cpu"
    Where a joint head fitted here is computed (the L-BFGS objective of
    :func:`fit_linear_head`; ``"auto"``: CUDA when available). The
    adjustment itself is a few operations on the weights.
"""


class JointHeadMixin:
    """Obtain the instance-balanced ("joint") linear head a post-hoc head starts from.

    Uses the parameters ``joint_head``, ``C``, ``max_iter``, ``tol``, ``memory`` and
    ``device``.
    """

    def _joint_head(self, X, y_enc, classes):
        """Validated float64 copies ``(coef, intercept)`` of the joint head, the
        L-BFGS iterations spent on it (0 when it was given), and its origin:
        ``(source, rebalanced)``, source "backbone" (found by ``"auto"``),
        "given" or "fitted", rebalanced how a Backbone's training already
        re-balanced that joint head (e.g. ``"loss='cb'"``), or None.
        """
        n_classes, n_features = classes.shape[0], X.shape[1]
        joint = self.joint_head
        n_iter = 0
        rebalanced = rebalancing(joint)
        if isinstance(joint, str) and joint == "auto":
            entry = find_joint_head(X, y_enc, classes)
            joint = None if entry is None else (entry.coef, entry.intercept)
            rebalanced = None if entry is None else entry.rebalancing
        source = "fitted" if joint is None else (
            "given" if joint is self.joint_head else "backbone")
        if joint is None:
            coef, intercept, n_iter = cached_linear_head(
                self.memory, X, y_enc, n_classes, C=self.C, max_iter=self.max_iter, tol=self.tol,
                device=self.device)
        elif isinstance(joint, (tuple, list)):
            if len(joint) != 2:
                raise ValueError(
                    f"joint_head as a sequence must be (coef, intercept); got {len(joint)} items."
                )
            coef, intercept = joint
        else:
            if not (hasattr(joint, "coef_") and hasattr(joint, "intercept_")):
                raise ValueError(
                    f"joint_head={type(joint).__name__} has no fitted coef_ and intercept_. "
                    "Pass a fitted estimator (e.g. a fitted Backbone), a tuple "
                    "(coef, intercept), or None. Inside GridSearchCV or cross_validate the "
                    "head is cloned, and clone() also un-fits an estimator given as a "
                    "parameter: pass the tuple (backbone.coef_, backbone.intercept_) instead."
                )
            coef, intercept = joint.coef_, joint.intercept_
            if hasattr(joint, "classes_"):
                joint_classes = np.asarray(joint.classes_)
                if not np.array_equal(joint_classes, classes):
                    raise ValueError(
                        f"joint_head was fitted on classes {joint_classes.tolist()}, but y has "
                        f"classes {classes.tolist()}; their rows cannot be matched."
                    )
        coef = np.array(coef, dtype=np.float64, copy=True)
        intercept = np.array(intercept, dtype=np.float64, copy=True)
        if coef.shape != (n_classes, n_features):
            hint = ""
            if coef.ndim == 2 and coef.shape[0] == 1 and n_classes == 2:
                hint = (" One-row binary coefficients (as LogisticRegression stores) are not "
                        "supported.")
            raise ValueError(
                f"joint_head coef has shape {coef.shape}, expected (n_classes, n_features) = "
                f"({n_classes}, {n_features}) for y with {n_classes} classes and X with "
                f"{n_features} features.{hint}"
            )
        if intercept.shape != (n_classes,):
            raise ValueError(
                f"joint_head intercept has shape {intercept.shape}, expected ({n_classes},)."
            )
        if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
            raise ValueError("joint_head coef/intercept contain NaN or infinity.")
        return coef, intercept, n_iter, (source, rebalanced)


class PostHocJointHead(JointHeadMixin, LinearHeadMixin, BaseHead):
    """Base of the heads that adjust the joint head by a ``tau`` read at predict time.

    tau-normalisation and post-hoc logit adjustment fit nothing but the joint
    head; ``tau`` shapes ``coef_``/``intercept_`` (properties of the
    subclasses), so ``set_params(tau=...)`` changes a fitted model's
    predictions without refitting.
    """

    _parameter_constraints: dict = {
        "tau": [Interval(Real, 0, None, closed="left")],
        **JOINT_HEAD_CONSTRAINTS,
        "device": [str, torch.device],
        **THREADS_CONSTRAINT,
    }

    def __init__(self, tau=1.0, *, joint_head="auto", C=1.0, max_iter=1000, tol=1e-4, memory=None,
                 device="cpu", n_threads=None):
        self.tau = tau
        self.device = device
        self.joint_head = joint_head
        self.C = C
        self.max_iter = max_iter
        self.tol = tol
        self.memory = memory
        self.n_threads = n_threads
