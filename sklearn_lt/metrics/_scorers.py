"""Scorers for model selection (``GridSearchCV(scoring=...)``, ``cross_validate``).

Shot-split accuracies need the training class sizes of the model being scored,
which the ``(y_true, y_pred)`` signature of ``sklearn.metrics.make_scorer``
cannot see. These scorers follow the other scikit-learn scorer protocol,
``scorer(estimator, X, y) -> float``, and read ``classes_``/``class_counts_``
from the fitted estimator (unwrapping pipelines and searches).
"""

import copy
from numbers import Real

import numpy as np
from sklearn.metrics import get_scorer as _sklearn_get_scorer
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import column_or_1d

from ..utils import class_counts_of
from ._calibration import expected_calibration_error, negative_log_likelihood
from ._shot import SPLITS, shot_accuracy


class _ShotAccuracyScorer:
    """Mean per-class accuracy of one shot split; see :func:`make_shot_scorer`."""

    def __init__(self, split, many_threshold, few_threshold, empty_value):
        self.split = split
        self.many_threshold = many_threshold
        self.few_threshold = few_threshold
        self.empty_value = empty_value

    def __call__(self, estimator, X, y_true):
        classes, counts = class_counts_of(estimator)
        y_true = column_or_1d(y_true)
        lookup = dict(zip(classes, counts))
        # A class absent from the training fold has 0 training samples: it is
        # (zero-)few-shot, as in the official shot_acc, which counts it as 0.
        for label in np.unique(y_true):
            lookup.setdefault(label, 0)
        scores = shot_accuracy(
            y_true,
            estimator.predict(X),
            lookup,
            many_threshold=self.many_threshold,
            few_threshold=self.few_threshold,
        )
        score = scores[self.split]
        return float(self.empty_value) if np.isnan(score) else score

    def __repr__(self):
        args = [f"split={self.split!r}"]
        for name, default in (("many_threshold", 100), ("few_threshold", 20)):
            if getattr(self, name) != default:
                args.append(f"{name}={getattr(self, name)!r}")
        if not np.isnan(self.empty_value):
            args.append(f"empty_value={self.empty_value!r}")
        return f"make_shot_scorer({', '.join(args)})"


class _NegProbaScorer:
    """``-metric(y, estimator.predict_proba(X), labels=estimator.classes_)``."""

    def __init__(self, metric, name):
        self.metric = metric
        self.name = name

    def __call__(self, estimator, X, y_true):
        y_proba = estimator.predict_proba(X)
        return -self.metric(y_true, y_proba, labels=estimator.classes_)

    def __repr__(self):
        return f"get_scorer({self.name!r})"


@validate_params(
    {
        "split": [StrOptions(set(SPLITS))],
        "many_threshold": [Interval(Real, 0, None, closed="left")],
        "few_threshold": [Interval(Real, 0, None, closed="left")],
        "empty_value": [Real],
    },
    prefer_skip_nested_validation=True,
)
def make_shot_scorer(split="all", *, many_threshold=100, few_threshold=20, empty_value=np.nan):
    """Scorer of the mean per-class accuracy of one shot split.

    The returned callable ``scorer(estimator, X, y)`` predicts ``X``, reads
    the training class sizes of the fitted ``estimator`` (its
    ``class_counts_`` and ``classes_``, found on the last step of a Pipeline
    or the ``best_estimator_`` of a search) and returns
    ``shot_accuracy(y, y_pred, counts)[split]``. Classes of ``y`` that the
    estimator never saw count as having 0 training samples (few-shot).

    Parameters
    ----------
    split : {"many", "medium", "few", "all"}, default="all"
        Split to score; ``"all"`` is the mean per-class accuracy over every
        test class (balanced accuracy).
    many_threshold : float, default=100
        Classes with more training samples are many-shot. During
        cross-validation the counts are those of the training folds, so
        small data sets may need lower thresholds than the benchmark's.
    few_threshold : float, default=20
        Classes with fewer training samples are few-shot.
    empty_value : float, default=nan
        Score when the split has no test class. NaN (the default) makes
        ``GridSearchCV`` warn about non-finite scores and rank such
        candidates last; the official ``shot_acc`` reports 0.0.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``, greater is better; usable as
        ``scoring=`` or as a value of a multi-metric ``scoring`` dict.

    See Also
    --------
    shot_accuracy : The metric.
    get_scorer : Scorers by name.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_lt.metrics import make_shot_scorer
    >>> class CountingLR(LogisticRegression):
    ...     def fit(self, X, y):
    ...         super().fit(X, y)
    ...         self.class_counts_ = np.unique(y, return_counts=True)[1]
    ...         return self
    >>> X = np.r_[np.zeros(150), np.ones(10)].reshape(-1, 1)
    >>> y = np.r_[np.zeros(150), np.ones(10)].astype(int)
    >>> model = CountingLR().fit(X, y)
    >>> make_shot_scorer("few")(model, X, y)
    1.0
    """
    return _ShotAccuracyScorer(split, many_threshold, few_threshold, empty_value)


SCORERS = {
    "many_shot_accuracy": make_shot_scorer("many"),
    "medium_shot_accuracy": make_shot_scorer("medium"),
    "few_shot_accuracy": make_shot_scorer("few"),
    "shot_balanced_accuracy": make_shot_scorer("all"),
    "neg_expected_calibration_error": _NegProbaScorer(
        expected_calibration_error, "neg_expected_calibration_error"
    ),
    "neg_log_likelihood": _NegProbaScorer(negative_log_likelihood, "neg_log_likelihood"),
}

#: ``-expected_calibration_error(y, predict_proba(X), labels=classes_)`` (15 bins).
ece_scorer = SCORERS["neg_expected_calibration_error"]
#: ``-negative_log_likelihood(y, predict_proba(X), labels=classes_)``.
nll_scorer = SCORERS["neg_log_likelihood"]


def get_scorer_names():
    """Names accepted by :func:`get_scorer` on top of scikit-learn's.

    Returns
    -------
    names : list of str
        Sorted scorer names of this library.

    Examples
    --------
    >>> from sklearn_lt.metrics import get_scorer_names
    >>> "few_shot_accuracy" in get_scorer_names()
    True
    """
    return sorted(SCORERS)


def get_scorer(scoring):
    """Scorer from its name, falling back to :func:`sklearn.metrics.get_scorer`.

    Parameters
    ----------
    scoring : str or callable
        One of :func:`get_scorer_names` (``"many_shot_accuracy"``,
        ``"medium_shot_accuracy"``, ``"few_shot_accuracy"``,
        ``"shot_balanced_accuracy"``, ``"neg_expected_calibration_error"``,
        ``"neg_log_likelihood"``), any scikit-learn scorer name, or a callable,
        returned unchanged.

    Returns
    -------
    scorer : callable
        A fresh copy of the scorer, ``scorer(estimator, X, y) -> float``,
        greater is better.

    Examples
    --------
    >>> from sklearn_lt.metrics import get_scorer
    >>> get_scorer("few_shot_accuracy")
    make_shot_scorer(split='few')
    """
    if callable(scoring):
        return scoring
    if isinstance(scoring, str) and scoring in SCORERS:
        return copy.deepcopy(SCORERS[scoring])
    try:
        return _sklearn_get_scorer(scoring)
    except ValueError as exc:
        raise ValueError(
            f"{scoring!r} is not a valid scoring value. Use one of "
            f"{get_scorer_names()} or a name from sklearn.metrics.get_scorer_names()."
        ) from exc
