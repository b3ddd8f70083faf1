"""The template every stage-2 head follows, and the linear-head family.

:class:`BaseHead` is the template method (as imbalanced-learn's
``fit_resample`` -> ``_fit_resample``): ``fit`` validates, calls ``_fit`` and
assigns what it returns only on success; predictions derive from ``_logits``.
:class:`LinearHeadMixin` supplies ``_logits`` for every head that ends as a
linear classifier ``X @ coef_.T + intercept_`` (the role of scikit-learn's
``LinearClassifierMixin``).
"""

from abc import ABCMeta, abstractmethod
from numbers import Integral

import numpy as np
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils import check_long_tailed_targets, thread_limit
from ..utils._validation import INPUT_ATTRIBUTES, input_attributes_restored_on_error

_FLOAT_DTYPES = (np.float64, np.float32)

# The one thread-count parameter every head offers; BaseHead.fit applies it.
THREADS_CONSTRAINT = {"n_threads": [None, Interval(Integral, 1, None, closed="left")]}
THREADS_PARAM_DOC = """\
n_threads : int or None, default=None
    Torch and BLAS threads while fitting (:func:`~sklearn_lt.utils.thread_limit`);
    None keeps the process's setting. Lower it when other work shares the cores.
"""


class BaseHead(ClassifierMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class of the stage-2 classifiers on fixed features.

    ``fit`` validates ``X`` and ``y`` (a class with a single sample is refused,
    see :func:`~sklearn_lt.utils.check_long_tailed_targets`) and calls
    ``_fit(X, y_enc, classes, counts)``, which returns the fitted attributes as
    a dict; they are assigned only once everything has succeeded, so a failed
    ``fit`` leaves a previously fitted head intact. Subclasses implement
    ``_logits(X)`` returning ``(n_samples, n_classes)`` scores; ``predict``,
    ``predict_proba`` (softmax of the scores) and ``decision_function`` derive
    from them.
    """

    # Subclasses declare their parameters' constraints (scikit-learn's
    # _parameter_constraints); a parameter without an entry is not validated.
    _parameter_constraints: dict = {}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the head on features ``X`` and labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Fixed features, e.g. ``Backbone.transform`` output.
        y : array-like of shape (n_samples,)
            Class labels; every class needs at least 2 samples.

        Returns
        -------
        self : object
            The fitted head.
        """
        # getattr: a head written on this base class need not offer n_threads.
        with input_attributes_restored_on_error(self), \
                thread_limit(getattr(self, "n_threads", None)):
            X, y = validate_data(self, X, y, dtype=_FLOAT_DTYPES)
            classes, y_enc, counts = check_long_tailed_targets(y)
            fitted = self._fit(X, y_enc, classes, counts)
        fitted = {"classes_": classes, "class_counts_": counts, **fitted}
        # Drop what an earlier fit left that this one does not produce (e.g. an
        # SGD loss curve after switching to L-BFGS), so no attribute goes stale.
        for key in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            if key not in fitted and key not in INPUT_ATTRIBUTES:
                delattr(self, key)
        for key, value in fitted.items():
            setattr(self, key, value)
        return self

    @abstractmethod
    def _fit(self, X, y_enc, classes, counts):
        """Return the fitted attributes (names ending in ``_``) as a dict."""

    @abstractmethod
    def _logits(self, X):
        """Scores of shape (n_samples, n_classes) for validated ``X``."""

    def _proba_logits(self, logits):
        """Scores whose softmax is ``predict_proba`` (hook for a temperature)."""
        return logits

    def _validated_logits(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=_FLOAT_DTYPES)
        return np.asarray(self._logits(X), dtype=np.float64)

    def decision_function(self, X):
        """Class scores (logits) of the head.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes), or (n_samples,) for two classes
            For two classes, scikit-learn's convention: the score of
            ``classes_[1]`` minus that of ``classes_[0]`` (positive means
            ``classes_[1]``).
        """
        z = self._validated_logits(X)
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def predict_proba(self, X):
        """Softmax of the class scores.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        return softmax(self._proba_logits(self._validated_logits(X)), axis=1)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed stably.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return log_softmax(self._proba_logits(self._validated_logits(X)), axis=1)

    def predict(self, X):
        """Class with the highest score.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        z = self._validated_logits(X)
        return self.classes_[np.argmax(z, axis=1)]


class LinearHeadMixin:
    """Scores of a linear classifier: ``X @ coef_.T + intercept_``.

    ``coef_`` and ``intercept_`` may be fitted attributes or properties that
    follow a parameter read at predict time (tau-norm's ``tau``).
    """

    def _logits(self, X):
        return np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_
