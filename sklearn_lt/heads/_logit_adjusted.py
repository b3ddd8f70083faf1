"""Post-hoc logit adjustment (Menon et al., 2021)."""


import warnings

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..exceptions import DoubleAdjustmentWarning
from ..utils._docstring import Substitution
from ._base import THREADS_PARAM_DOC
from ._joint import JOINT_HEAD_PARAMS_DOC, POSTHOC_DEVICE_DOC, PostHocJointHead


@Substitution(joint_head_params=JOINT_HEAD_PARAMS_DOC, device_param=POSTHOC_DEVICE_DOC,
              threads_param=THREADS_PARAM_DOC)
class LogitAdjustedClassifier(PostHocJointHead):
    """Post-hoc logit adjustment of a jointly trained linear head.

    Menon et al. (ICLR 2021): a classifier trained on the long-tailed
    distribution estimates ``p(y | x)`` under the training prior ``pi``;
    subtracting ``tau * log pi_y`` from its logits targets the balanced error::

        logits_j(x) = x . w_j + b_j - tau * log(pi_j),   pi_j = n_j / n

    with ``n_j`` the training counts of ``y`` passed to ``fit`` (``class_counts_``).
    ``tau = 1`` is the Bayes-optimal correction for the balanced error when the
    head is calibrated; ``tau = 0`` is the joint head unchanged.

    Parameters
    ----------
    tau : float, default=1.0
        Strength of the adjustment, ``>= 0``. Read at predict time (as
        :class:`TauNormClassifier` reads its ``tau``), so ``set_params(tau=...)``
        on a fitted model changes the predictions without refitting.
    {joint_head_params}
    {device_param}
    {threads_param}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    class_counts_ : ndarray of shape (n_classes,)
        Training samples per class.
    log_prior_ : ndarray of shape (n_classes,)
        ``log(class_counts_ / class_counts_.sum())``.
    joint_coef_ : ndarray of shape (n_classes, n_features_in_)
        Weights of the joint head (a copy).
    joint_intercept_ : ndarray of shape (n_classes,)
        Bias of the joint head (a copy).
    joint_head_source_ : {"backbone", "given", "fitted"}
        Where the joint head came from: the Backbone whose training features
        ``X`` are (``joint_head="auto"``), the ``joint_head`` parameter, or
        fitted on ``X``.
    coef_ : ndarray of shape (n_classes, n_features_in_)
        Equal to ``joint_coef_``.
    intercept_ : ndarray of shape (n_classes,)
        ``joint_intercept_ - tau * log_prior_`` for the current ``tau``.
    n_iter_ : int
        L-BFGS iterations of the joint-head fit (0 when ``joint_head`` is given).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when ``X`` has string feature names.

    Warns
    -----
    DoubleAdjustmentWarning
        When the joint head is a Backbone's (given, or found by ``"auto"``)
        trained towards balance and ``tau > 0``: with the logit-adjusted or
        balanced-softmax loss (which subtract the prior), the class-balanced
        or LDAM-DRW loss, or any sampler but ``"instance"``. That training
        already favours the tail, and a second correction over-shoots towards
        the tail. Use the Backbone's own predictions, or ``tau=0``.

    Notes
    -----
    Inside a ``Pipeline`` after a Backbone, ``joint_head="auto"`` adjusts the
    Backbone's joint head, so the warning above applies there too. With
    ``joint_head=None`` the joint head is refitted on the features without
    re-balancing, and the correction applies once whatever the Backbone's loss.

    References
    ----------
    Menon, A. K. et al. Long-tail learning via logit adjustment. ICLR 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt.heads import LogitAdjustedClassifier
    >>> X = np.array([[0.0], [0.1], [0.2], [0.3], [0.4], [0.5], [1.0], [1.1]])
    >>> y = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    >>> joint = (np.array([[0.0], [2.0]]), np.array([0.0, -1.0]))  # logits 0, 2x - 1
    >>> clf = LogitAdjustedClassifier(tau=0.0, joint_head=joint).fit(X, y)
    >>> clf.predict([[0.3]])
    array([0])
    >>> clf.set_params(tau=1.0).predict([[0.3]])  # -0.4 - log(2/8) > 0 - log(6/8)
    array([1])
    """

    # Labels and parameters of this head in heads.head_catalog (demo, benchmarks).
    _catalog_variants = {"post-hoc LA": {}}

    def _fit(self, X, y_enc, classes, counts):
        coef, intercept, n_iter, (source, rebalanced) = self._joint_head(X, y_enc, classes)
        if rebalanced is not None and self.tau > 0:
            warnings.warn(
                f"The joint head is that of a Backbone trained with {rebalanced}, which "
                "already re-balances it towards the tail (fully or in part); adjusting its "
                f"logits again by tau={self.tau} * log(prior) over-corrects. Use the "
                "Backbone's own predictions, a smaller tau (chosen on held-out data), or a "
                "Backbone trained with loss='ce' and sampler='instance'.",
                DoubleAdjustmentWarning, stacklevel=4)
        return {
            "joint_coef_": coef,
            "joint_intercept_": intercept,
            "joint_head_source_": source,
            "n_iter_": n_iter,
            "log_prior_": np.log(counts / counts.sum()),
        }

    @property
    def coef_(self):
        check_is_fitted(self)
        return self.joint_coef_.copy()

    @property
    def intercept_(self):
        # Follows tau, which is read at predict time.
        check_is_fitted(self)
        self._validate_params()
        return self.joint_intercept_ - float(self.tau) * self.log_prior_
