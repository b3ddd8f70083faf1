"""Accuracy split by training-class frequency (many / medium / few shots)."""

from collections.abc import Mapping
from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import check_consistent_length, column_or_1d

SPLITS = ("many", "medium", "few", "all")


def _check_targets(y_true, y_pred):
    y_true = column_or_1d(y_true)
    y_pred = column_or_1d(y_pred)
    check_consistent_length(y_true, y_pred)
    if y_true.shape[0] == 0:
        raise ValueError("y_true is empty: at least one test sample is needed.")
    # Refuses continuous targets and a mix of string and numeric labels, which
    # would otherwise just compare unequal and read as 0% accuracy.
    unique_labels(y_true, y_pred)
    return y_true, y_pred


def _check_labels(labels):
    labels = column_or_1d(np.asarray(labels))
    if labels.shape[0] == 0:
        raise ValueError("labels is empty.")
    if np.unique(labels).shape[0] != labels.shape[0]:
        raise ValueError(f"labels contains duplicates: {labels.tolist()!r}.")
    return labels


def _class_accuracies(y_true, y_pred):
    """Sorted test classes, their accuracies and their test sample counts."""
    classes, y_idx = np.unique(y_true, return_inverse=True)
    support = np.bincount(y_idx, minlength=classes.shape[0])
    n_correct = np.bincount(y_idx, weights=(y_true == y_pred), minlength=classes.shape[0])
    return classes, n_correct / support, support


@validate_params(
    {
        "y_true": ["array-like"],
        "y_pred": ["array-like"],
        "labels": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def per_class_accuracy(y_true, y_pred, *, labels=None):
    """Accuracy on the test samples of each class (the per-class recall).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    labels : array-like of shape (n_labels,), default=None
        Classes to report, in this order. ``None`` uses the sorted classes of
        ``y_true``.

    Returns
    -------
    accuracy : ndarray of shape (n_labels,)
        Fraction of the test samples of each class predicted as that class.
        NaN for a class of ``labels`` without test samples, whose accuracy is
        undefined.

    Examples
    --------
    >>> from sklearn_lt.metrics import per_class_accuracy
    >>> per_class_accuracy(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    array([0.5, 1. ])
    """
    y_true, y_pred = _check_targets(y_true, y_pred)
    classes, acc, _ = _class_accuracies(y_true, y_pred)
    if labels is None:
        return acc
    labels = _check_labels(labels)
    lookup = dict(zip(classes, acc))
    return np.array([lookup.get(c, np.nan) for c in labels], dtype=np.float64)


def _is_series(obj):
    return hasattr(obj, "index") and hasattr(obj, "items") and getattr(obj, "ndim", 0) == 1


def _check_implicit_alignment(y_true, y_pred):
    """Refuse array counts without ``labels`` when y_true cannot hold their classes.

    Such counts are aligned with the sorted classes of y_true, which is right
    only when the test set holds exactly the training classes. A test set
    lacking a training class and holding an unseen one has as many classes,
    and the counts were silently shifted onto the wrong classes. Predictions
    of a label absent from y_true show that y_true lacks a class.
    """
    extra = np.setdiff1d(np.unique(y_pred), np.unique(y_true))
    if extra.size:
        raise ValueError(
            f"y_pred holds label(s) {extra.tolist()!r} absent from y_true, so the sorted "
            "classes of y_true, with which an array train_class_counts is aligned when "
            "labels is None, may not be the classes the counts refer to (a training class "
            "without test samples, perhaps with a class unseen in training in its place). "
            "Pass labels (e.g. the estimator's classes_) or a dict {label: count}."
        )


def _train_count_lookup(train_class_counts, labels, y_true, y_pred):
    """Map each class to its training count, with the checks shared by callers."""
    if isinstance(train_class_counts, Mapping):
        keys, values = list(train_class_counts.keys()), list(train_class_counts.values())
    elif _is_series(train_class_counts):
        # e.g. pd.Series(y_train).value_counts(): the index holds the labels.
        keys, values = list(train_class_counts.index), list(train_class_counts.to_numpy())
    else:
        values = column_or_1d(np.asarray(train_class_counts))
        if labels is None:
            _check_implicit_alignment(y_true, y_pred)
        keys = labels if labels is not None else np.unique(y_true)
        if len(keys) != len(values):
            source = "labels" if labels is not None else "the sorted classes of y_true"
            raise ValueError(
                f"train_class_counts has {len(values)} entries but {source} has "
                f"{len(keys)}: an array of counts must be aligned with labels. "
                "Pass labels, or a dict {label: count}."
            )
    try:
        values = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError("train_class_counts must hold numbers.") from exc
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(
            "train_class_counts must be finite and non-negative, got "
            f"{values.tolist()!r}."
        )
    return dict(zip(keys, values))


def _shot_splits(y_true, y_pred, train_class_counts, labels, many_threshold, few_threshold):
    """Per-split (mean accuracy, n_classes, n_test_samples); the core of
    :func:`shot_accuracy` and :func:`long_tail_report`."""
    if few_threshold > many_threshold:
        raise ValueError(
            f"few_threshold ({few_threshold}) must not exceed many_threshold "
            f"({many_threshold})."
        )
    y_true, y_pred = _check_targets(y_true, y_pred)
    if labels is not None:
        labels = _check_labels(labels)
        unknown = np.setdiff1d(np.unique(y_true), labels)
        if unknown.size:
            raise ValueError(
                f"y_true contains labels {unknown.tolist()!r} that are not in labels."
            )
    lookup = _train_count_lookup(train_class_counts, labels, y_true, y_pred)

    classes, acc, support = _class_accuracies(y_true, y_pred)
    missing = [c for c in classes if c not in lookup]
    if missing:
        raise ValueError(
            f"No training count for test label(s) {missing!r}: every class in "
            "y_true needs an entry in train_class_counts (0 for a class unseen "
            "in training)."
        )
    counts = np.array([lookup[c] for c in classes])

    # Thresholds as in the official shot_acc of facebookresearch/
    # classifier-balancing: many > 100 >= medium >= 20 > few.
    many = counts > many_threshold
    few = ~many & (counts < few_threshold)
    masks = {"many": many, "medium": ~many & ~few, "few": few,
             "all": np.ones_like(many)}
    result = {}
    for name, mask in masks.items():
        n_classes = int(mask.sum())
        mean = float(acc[mask].mean()) if n_classes else float("nan")
        result[name] = (mean, n_classes, int(support[mask].sum()))
    return result


@validate_params(
    {
        "y_true": ["array-like"],
        "y_pred": ["array-like"],
        "train_class_counts": ["array-like", Mapping],
        "labels": ["array-like", None],
        "many_threshold": [Interval(Real, 0, None, closed="left")],
        "few_threshold": [Interval(Real, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def shot_accuracy(
    y_true, y_pred, train_class_counts, *, labels=None, many_threshold=100, few_threshold=20
):
    """Mean per-class accuracy of the many-, medium- and few-shot classes.

    The evaluation protocol of long-tailed recognition (Liu et al. 2019,
    Kang et al. 2020): each test class is put in a split by its number of
    *training* samples, many-shot (more than ``many_threshold``), few-shot
    (fewer than ``few_threshold``) or medium-shot (the rest, 20 to 100
    inclusive by default), and each split reports the mean of the per-class
    accuracies of its classes, as ``shot_acc`` of the official
    classifier-balancing code does.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels of the test samples.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    train_class_counts : dict, pandas Series or array-like
        Number of training samples of each class: a mapping ``{label: count}``,
        a Series indexed by label (e.g. ``pd.Series(y_train).value_counts()``),
        or an array aligned with ``labels``. With ``labels=None`` an array is
        aligned with the sorted classes of ``y_true``, which is right only
        when ``y_true`` holds exactly the training classes; it is refused when
        ``y_pred`` holds a label absent from ``y_true``, a sign that it does
        not. Pass ``labels`` (e.g. the estimator's ``classes_``) whenever the
        test set may lack a class. Every class of ``y_true`` needs a count; a
        class unseen in training has count 0 (a few-shot class).
    labels : array-like, default=None
        Classes the counts of an array-like ``train_class_counts`` refer to,
        in order (e.g. an estimator's ``classes_``). Every label of ``y_true``
        must be among them; classes without test samples are left out of the
        splits since their accuracy is undefined.
    many_threshold : float, default=100
        Classes with strictly more training samples are many-shot.
    few_threshold : float, default=20
        Classes with strictly fewer training samples are few-shot. Must not
        exceed ``many_threshold``.

    Returns
    -------
    scores : dict
        ``{"many", "medium", "few", "all"}`` to a float. ``"all"`` is the
        mean per-class accuracy over every class of ``y_true``: the balanced
        accuracy, equal to plain accuracy on a class-balanced test set such as
        ImageNet-LT's. A split without test classes is NaN (the official code
        reports 0, which cannot be told apart from a split that is all wrong).

    See Also
    --------
    per_class_accuracy : The per-class accuracies averaged here.
    long_tail_report : The same numbers as a text or dict report.
    make_shot_scorer : A scorer for model selection.

    Examples
    --------
    >>> from sklearn_lt.metrics import shot_accuracy
    >>> counts = {"cat": 500, "dog": 50, "owl": 5}
    >>> y_true = ["cat", "cat", "dog", "dog", "owl", "owl"]
    >>> y_pred = ["cat", "cat", "dog", "cat", "cat", "cat"]
    >>> scores = shot_accuracy(y_true, y_pred, counts)
    >>> {k: round(v, 3) for k, v in scores.items()}
    {'many': 1.0, 'medium': 0.5, 'few': 0.0, 'all': 0.5}
    """
    splits = _shot_splits(
        y_true, y_pred, train_class_counts, labels, many_threshold, few_threshold
    )
    return {name: splits[name][0] for name in SPLITS}
