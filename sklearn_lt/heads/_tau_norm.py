"""tau-normalised classifier (Kang et al., 2020)."""


import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..utils._docstring import Substitution
from ._base import THREADS_PARAM_DOC
from ._joint import JOINT_HEAD_PARAMS_DOC, POSTHOC_DEVICE_DOC, PostHocJointHead


@Substitution(joint_head_params=JOINT_HEAD_PARAMS_DOC, device_param=POSTHOC_DEVICE_DOC,
              threads_param=THREADS_PARAM_DOC)
class TauNormClassifier(PostHocJointHead):
    """tau-normalised linear classifier (Kang et al., ICLR 2020).

    Rescales each class weight vector of a jointly trained linear head by a
    power of its norm and drops the bias::

        logits_j(x) = x . w_j / ||w_j||^tau

    Under instance-balanced training the head classes get larger weight norms;
    ``tau = 1`` equalises the norms (cosine-like classifier), ``tau = 0``
    keeps the joint head without its bias, values in between interpolate.
    The paper picks ``tau`` on a validation set.

    Parameters
    ----------
    tau : float, default=1.0
        Normalisation power, ``>= 0``. It is read at predict time (like
        ``n_neighbors`` of :class:`~sklearn.neighbors.KNeighborsClassifier`):
        the fitted state is only the joint head, so ``set_params(tau=...)`` on
        a fitted model changes its predictions without refitting, which is how
        tau is swept on validation data.
    {joint_head_params}
    {device_param}
    {threads_param}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    class_counts_ : ndarray of shape (n_classes,)
        Training samples per class.
    joint_coef_ : ndarray of shape (n_classes, n_features_in_)
        Weights of the joint head (a copy).
    joint_intercept_ : ndarray of shape (n_classes,)
        Bias of the joint head (a copy; not used by the predictions).
    joint_head_source_ : {"backbone", "given", "fitted"}
        Where the joint head came from: the Backbone whose training features
        ``X`` are (``joint_head="auto"``), the ``joint_head`` parameter, or
        fitted on ``X``.
    coef_ : ndarray of shape (n_classes, n_features_in_)
        ``joint_coef_[j] / ||joint_coef_[j]||^tau`` for the current ``tau``
        (read-only; a zero row stays zero).
    intercept_ : ndarray of shape (n_classes,)
        Zeros: the bias is dropped.
    n_iter_ : int
        L-BFGS iterations of the joint-head fit (0 when ``joint_head`` is given).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when ``X`` has string feature names.

    See Also
    --------
    LWSClassifier : learns the per-class scales instead of fixing them.
    LogitAdjustedClassifier : post-hoc correction of the logits instead of the weights.

    References
    ----------
    Kang, B. et al. Decoupling representation and classifier for long-tailed
    recognition. ICLR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt.heads import TauNormClassifier
    >>> coef = np.array([[4.0, 0.0], [0.0, 1.0]])     # head class 0 has the larger norm
    >>> X, y = np.array([[1, 1], [2, 0], [0, 2], [1, 3]]), np.array([0, 0, 1, 1])
    >>> clf = TauNormClassifier(tau=0.0, joint_head=(coef, np.zeros(2))).fit(X, y)
    >>> clf.predict([[1.0, 3.0]])
    array([0])
    >>> clf.set_params(tau=1.0).predict([[1.0, 3.0]])
    array([1])
    """

    # Labels and parameters of this head in heads.head_catalog (demo, benchmarks).
    _catalog_variants = {"tau-norm": {}}

    def _fit(self, X, y_enc, classes, counts):
        coef, intercept, n_iter, (source, _) = self._joint_head(X, y_enc, classes)
        return {"joint_coef_": coef, "joint_intercept_": intercept, "n_iter_": n_iter,
                "joint_head_source_": source}

    @property
    def coef_(self):
        # A property, not a fitted attribute: it follows tau, which is read at
        # predict time. NotFittedError is an AttributeError, so hasattr works.
        check_is_fitted(self)
        self._validate_params()
        w = self.joint_coef_
        norms = np.linalg.norm(w, axis=1)
        scale = np.where(norms > 0, norms, 1.0) ** float(self.tau)
        return w / scale[:, None]

    @property
    def intercept_(self):
        check_is_fitted(self)
        return np.zeros_like(self.joint_intercept_)
