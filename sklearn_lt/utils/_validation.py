"""Validation shared by every estimator that learns from long-tailed labels."""

import numbers
from contextlib import contextmanager

import numpy as np
from sklearn.utils.multiclass import check_classification_targets


def check_long_tailed_targets(y, *, min_samples_per_class=2):
    """Validate classification targets and count samples per class.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels (integers or strings).
    min_samples_per_class : int, default=2
        Smallest class size accepted. A class with a single sample is refused by
        default: class-balanced re-sampling would repeat that one sample for a
        whole class share of every batch, which is almost always a labelling or
        splitting mistake rather than a tail class.

    Returns
    -------
    classes : ndarray of shape (n_classes,)
        Sorted unique labels.
    y_encoded : ndarray of shape (n_samples,), dtype int64
        Index of each label in ``classes``.
    counts : ndarray of shape (n_classes,), dtype int64
        Training samples per class, in the order of ``classes``.
    """
    y = np.asarray(y)
    check_classification_targets(y)
    classes, y_encoded, counts = np.unique(y, return_inverse=True, return_counts=True)
    if classes.shape[0] < 2:
        raise ValueError(
            f"Classifier needs samples of at least 2 classes in the data, but the "
            f"data contains only one class: {classes.tolist()[0]!r}."
        )
    small = counts < min_samples_per_class
    if np.any(small):
        # .tolist() turns numpy scalars into plain Python values: messages read
        # "class 7", not "class np.int64(7)".
        bad = ", ".join(f"{c!r} ({n} sample{'s' if n != 1 else ''})"
                        for c, n in zip(classes[small].tolist(), counts[small].tolist()))
        raise ValueError(
            f"Each class needs at least {min_samples_per_class} training samples; "
            f"too few for class {bad}. Drop or merge such classes, or collect more data."
        )
    return classes, y_encoded.astype(np.int64), counts.astype(np.int64)


# validate_data(reset=True) sets these before the rest of a fit can fail.
INPUT_ATTRIBUTES = ("n_features_in_", "feature_names_in_")


@contextmanager
def input_attributes_restored_on_error(estimator):
    """Undo what input validation set on ``estimator`` if the fit then fails.

    ``validate_data(reset=True)`` records ``n_features_in_`` and
    ``feature_names_in_`` at the start of ``fit``; a fit that fails later
    (a class with one sample, a diverged run) must leave a previously fitted
    estimator as it was, able to predict on its own input.
    """
    saved = {k: estimator.__dict__[k] for k in INPUT_ATTRIBUTES if k in estimator.__dict__}
    try:
        yield
    except BaseException:
        for key in INPUT_ATTRIBUTES:
            estimator.__dict__.pop(key, None)
        estimator.__dict__.update(saved)
        raise


def class_counts_of(estimator):
    """Training class counts of a fitted estimator, Pipeline or search.

    Scorers that split accuracy into many/medium/few shots need the class sizes
    seen at fit time; every estimator of this library stores them as
    ``class_counts_`` (aligned with ``classes_``). Search objects are unwrapped
    to their best estimator. In a Pipeline the *first* step that has them
    wins: a resampler (:class:`~sklearn_lt.resampling.PowerResampler`) or a
    :class:`~sklearn_lt.Backbone` saw the original training set, while a head
    after a resampler saw the resampled counts.

    Parameters
    ----------
    estimator : estimator object
        A fitted estimator, Pipeline, or search (``best_estimator_``), or a
        meta-estimator with a fitted ``estimator_``.

    Returns
    -------
    classes : ndarray of shape (n_classes,)
        The class labels, ``classes_`` of the estimator found.
    counts : ndarray of shape (n_classes,)
        Its ``class_counts_``, aligned with ``classes``.

    Raises
    ------
    AttributeError
        If no estimator found this way has ``class_counts_`` and ``classes_``.
    """
    seen = set()
    est = estimator
    while id(est) not in seen:
        seen.add(id(est))
        if hasattr(est, "class_counts_") and hasattr(est, "classes_"):
            return np.asarray(est.classes_), np.asarray(est.class_counts_)
        if hasattr(est, "best_estimator_"):
            est = est.best_estimator_
        elif hasattr(est, "steps"):
            steps = [step for _, step in est.steps
                     if hasattr(step, "class_counts_") and hasattr(step, "classes_")]
            est = steps[0] if steps else est.steps[-1][1]
        elif hasattr(est, "estimator_"):
            est = est.estimator_
        else:
            break
    raise AttributeError(
        f"{type(estimator).__name__} exposes no 'class_counts_' (and 'classes_'): "
        "shot-split scores need the training class sizes. Fit an sklearn_lt "
        "estimator, or pass train_class_counts explicitly."
    )


def balanced_holdout_indices(y, n_per_class, *, random_state=None, min_remaining=1):
    """Indices of a balanced hold-out of ``n_per_class`` samples per class, and of the rest.

    The development set of meta-weighting (Jamal et al., 2020) is balanced:
    the same number of samples of every class, drawn at random (seeded).

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels.
    n_per_class : int
        Samples of each class held out.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw.
    min_remaining : int, default=1
        Samples each class must keep outside the hold-out.

    Returns
    -------
    rest : ndarray of shape (n_samples - n_classes * n_per_class,)
        Sorted indices of the remaining samples.
    holdout : ndarray of shape (n_classes * n_per_class,)
        Sorted indices of the held-out samples.

    Raises
    ------
    ValueError
        If a class has fewer than ``n_per_class + min_remaining`` samples:
        holding out would leave it (almost) empty, which must never happen
        silently.
    """
    from sklearn.utils import check_random_state

    y = np.asarray(y)
    if isinstance(n_per_class, bool) or not isinstance(n_per_class, numbers.Integral) \
            or n_per_class < 1:
        raise ValueError(f"n_per_class must be a positive int, got {n_per_class!r}.")
    classes, y_enc, counts = np.unique(y, return_inverse=True, return_counts=True)
    y_enc = y_enc.reshape(-1)
    short = counts < n_per_class + min_remaining
    if np.any(short):
        bad = ", ".join(f"{c!r} ({n})" for c, n in zip(classes[short].tolist(),
                                                       counts[short].tolist()))
        raise ValueError(
            f"A balanced hold-out of {n_per_class} per class needs at least "
            f"{n_per_class + min_remaining} samples in every class (keeping {min_remaining} "
            f"for training); too few in class {bad}. Lower the hold-out size, or carve it "
            "before the long tail is built (make_long_tailed(dev_size=...))."
        )
    rng = check_random_state(random_state)
    holdout = np.concatenate([
        rng.permutation(np.flatnonzero(y_enc == k))[:n_per_class] for k in range(len(classes))])
    mask = np.zeros(y.shape[0], dtype=bool)
    mask[holdout] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)
