"""Template shared by the stage-2 heads and resolution of the joint head."""

from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
import torch
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils import check_long_tailed_targets
from ._linear import cached_linear_head

_FLOAT_DTYPES = (np.float64, np.float32)
# validate_data(reset=True) sets these before the rest of fit can fail; fit
# puts back the previous values if it does.
_INPUT_ATTRS = ("n_features_in_", "feature_names_in_")


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
        saved = {k: self.__dict__[k] for k in _INPUT_ATTRS if k in self.__dict__}
        try:
            X, y = validate_data(self, X, y, dtype=_FLOAT_DTYPES)
            classes, y_enc, counts = check_long_tailed_targets(y)
            fitted = self._fit(X, y_enc, classes, counts)
        except BaseException:
            for k in _INPUT_ATTRS:
                self.__dict__.pop(k, None)
            self.__dict__.update(saved)
            raise
        fitted = {"classes_": classes, "class_counts_": counts, **fitted}
        # Drop what an earlier fit left that this one does not produce (e.g. an
        # SGD loss curve after switching to L-BFGS), so no attribute goes stale.
        for key in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            if key not in fitted and key not in _INPUT_ATTRS:
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


def epoch_draws(sampler, counts):
    """Draws per stage-2 epoch: ``K * max_j n_j`` for class-aware sampling.

    That is the epoch of Kang et al.'s ``ClassAwareSampler`` (every class
    visited as often as the largest class has samples), which their stage-2
    epoch counts (cRT 10, LWS 5) assume; ``None`` (``n_samples``) for the other
    strategies.
    """
    if isinstance(sampler, str) and sampler == "class":
        return int(counts.shape[0] * counts.max())
    return None


# Shared by the heads built on a joint linear head (TauNorm, LWS, LogitAdjusted).
JOINT_HEAD_CONSTRAINTS = {
    "joint_head": "no_validation",  # checked in fit, with shape-aware messages
    "C": [Interval(Real, 0, None, closed="neither")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="left")],
    "memory": [None, str, HasMethods(["cache"])],
}

SGD_CONSTRAINTS = {
    "epochs": [Interval(Integral, 1, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "lr": [Interval(Real, 0, None, closed="neither")],
    "momentum": [Interval(Real, 0, 1, closed="left")],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "sampler": [StrOptions({"class", "instance", "sqrt", "progressive"}),
                Interval(Real, 0, 1, closed="both")],
    "random_state": ["random_state"],
    "device": [str, torch.device],
    "verbose": ["verbose"],
}

JOINT_HEAD_PARAMS_DOC = """\
joint_head : None, tuple (coef, intercept) or fitted estimator, default=None
        The jointly trained (instance-balanced) linear head to adjust.
        ``None`` fits it on ``X`` with :func:`fit_linear_head` (multinomial
        logistic regression, no re-balancing; ``C``, ``max_iter``, ``tol``
        apply). A tuple gives ``coef`` of shape (n_classes, n_features) and
        ``intercept`` of shape (n_classes,), rows in the order of the sorted
        labels of ``y``. An estimator with ``coef_``/``intercept_`` (e.g. a
        fitted :class:`~sklearn_lt.Backbone`) is reused without retraining; if
        it has ``classes_`` they must equal the classes of ``y``. ``clone``
        un-fits an estimator given as a parameter, so inside ``GridSearchCV``
        pass the tuple ``(backbone.coef_, backbone.intercept_)``, or use
        ``None`` in a ``Pipeline`` after the Backbone.
    C : float, default=1.0
        Inverse L2 strength of the joint head fitted when ``joint_head=None``.
    max_iter : int, default=1000
        L-BFGS iterations for that fit.
    tol : float, default=1e-4
        L-BFGS gradient tolerance for that fit (see :func:`fit_linear_head`).
    memory : None, str or joblib.Memory, default=None
        Caches the joint-head fit (as ``Pipeline(memory=...)`` does), so that a
        search over this head's post-hoc parameters, which clones and refits
        the head per candidate, fits the linear head once per training fold."""


class JointHeadMixin:
    """Obtain the instance-balanced ("joint") linear head a post-hoc head starts from.

    Uses the parameters ``joint_head``, ``C``, ``max_iter``, ``tol`` and ``memory``.
    """

    def _joint_head(self, X, y_enc, classes):
        """Validated float64 copies ``(coef, intercept)`` of the joint head and the
        L-BFGS iterations spent on it (0 when it was given)."""
        n_classes, n_features = classes.shape[0], X.shape[1]
        joint = self.joint_head
        n_iter = 0
        if joint is None:
            coef, intercept, n_iter = cached_linear_head(
                self.memory, X, y_enc, n_classes, C=self.C, max_iter=self.max_iter, tol=self.tol)
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
                if joint_classes.shape != classes.shape or not np.array_equal(joint_classes, classes):
                    raise ValueError(
                        f"joint_head was fitted on classes {joint_classes.tolist()}, but y has "
                        f"classes {classes.tolist()}; their rows cannot be matched."
                    )
        coef = np.array(coef, dtype=np.float64, copy=True)
        intercept = np.array(intercept, dtype=np.float64, copy=True)
        if coef.shape != (n_classes, n_features):
            hint = ""
            if coef.ndim == 2 and coef.shape[0] == 1 and n_classes == 2:
                hint = " One-row binary coefficients (as LogisticRegression stores) are not supported."
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
        return coef, intercept, n_iter
