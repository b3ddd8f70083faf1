"""Sub-sample a balanced data set into a long-tailed one (CIFAR-LT protocol)."""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _num_samples

__all__ = ["make_long_tailed"]


def _long_tailed_counts(n_max, n_classes, imbalance_factor, profile):
    """Class sizes of the long-tailed protocol of Cao et al. (2019).

    ``exponential``: ``n_i = int(n_max * imbalance_factor ** (-i / (C - 1)))``.
    ``step``: the first ``C // 2`` classes keep ``n_max``, the others get
    ``int(n_max / imbalance_factor)``; with an odd ``C`` the middle class goes to
    the tail, so the tail is never smaller than the head.
    """
    i = np.arange(n_classes)
    if profile == "exponential":
        # Python floats, not a vectorised power: int() must see the very same
        # rounding as the reference implementation to reproduce the published
        # totals (12,406 for CIFAR-10-LT, 10,847 for CIFAR-100-LT at IF=100).
        counts = [int(n_max * imbalance_factor ** (-k / (n_classes - 1))) for k in i]
    else:
        tail = int(n_max / imbalance_factor)
        counts = [n_max if k < n_classes // 2 else tail for k in i]
    return np.asarray(counts, dtype=np.int64)


def _check_no_nan(X):
    if sp.issparse(X):
        data = X.data
    elif hasattr(X, "iloc"):  # pandas: only numeric columns can hold a float NaN
        if X.isna().to_numpy().any():
            raise ValueError("Input X contains NaN (missing values); drop or impute them first.")
        return
    else:
        data = X
    if np.issubdtype(data.dtype, np.floating) or np.issubdtype(data.dtype, np.complexfloating):
        if np.isnan(data).any():
            raise ValueError("Input X contains NaN; drop or impute the affected samples first.")


def _is_missing(value):
    return value is None or (isinstance(value, float) and value != value)


def _check_class_labels(y):
    """Refuse labels that are not classes, as scikit-learn's classifiers do.

    np.unique made one class of all NaN labels and one class of each value of
    a continuous target; missing values among object labels (None, or NaN
    from pandas) broke the sort with a bare TypeError.
    """
    if y.dtype == object:
        missing = np.flatnonzero(np.frompyfunc(_is_missing, 1, 1)(y).astype(bool))
        if missing.size:
            raise ValueError(
                f"y holds missing labels (None or NaN), first at position {missing[0]}; "
                "drop those samples first."
            )
    try:
        # NaN makes the integer cast inside type_of_target warn before it raises.
        with np.errstate(invalid="ignore"):
            check_classification_targets(y)
    except (ValueError, TypeError) as exc:  # TypeError: labels of unsortable mixed types
        raise ValueError(
            f"y must hold class labels (no NaN, no continuous values, one label type): {exc}"
        ) from exc


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "y": ["array-like"],
        "imbalance_factor": [Interval(Real, 1, None, closed="left")],
        "profile": [StrOptions({"exponential", "step"})],
        "n_max": [Interval(Integral, 1, None, closed="left"), None],
        "class_order": ["array-like", None],
        "random_state": ["random_state"],
        "return_indices": ["boolean"],
        "dev_size": [Interval(Integral, 1, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def make_long_tailed(
    X,
    y,
    imbalance_factor=100,
    profile="exponential",
    *,
    n_max=None,
    class_order=None,
    random_state=0,
    return_indices=False,
    dev_size=None,
):
    """Sub-sample a data set so that its class sizes follow a long tail.

    This is the protocol used to build CIFAR-10-LT and CIFAR-100-LT (Cao et
    al., 2019, "Learning Imbalanced Datasets with Label-Distribution-Aware
    Margin Loss"; also Cui et al., 2019). With ``C`` classes taken in
    ``class_order``, the ``i``-th class (``i = 0 .. C-1``) keeps

    - ``profile="exponential"``:
      ``n_i = int(n_max * imbalance_factor ** (-i / (C - 1)))``, so the head
      keeps ``n_max`` and the last class ``int(n_max / imbalance_factor)``;
    - ``profile="step"``: the first ``C // 2`` classes keep ``n_max`` and the
      remaining ``C - C // 2`` keep ``int(n_max / imbalance_factor)`` (with an
      odd ``C`` the middle class belongs to the tail).

    Which samples of a class are kept is decided by a seeded shuffle: one
    ``np.random.RandomState(random_state)`` draws a permutation of each class's
    samples, class after class in ``class_order``, and the first ``n_i`` of it
    are kept.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, ...)
        Samples, indexed along the first axis; any trailing shape (images of
        shape ``(n, C, H, W)`` for instance) and the dtype are kept. Lists are
        converted to ndarrays; pandas DataFrames and sparse matrices are
        indexed as such.
    y : array-like of shape (n_samples,)
        Class labels: integers, strings, or floats with integral values (a
        continuous target, NaN or missing labels are refused, as by
        scikit-learn's classifiers).
    imbalance_factor : float, default=100
        Ratio ``n_max / n_min`` between the largest and smallest class, at
        least 1 (1 gives a balanced subset of ``n_max`` per class).
    profile : {"exponential", "step"}, default="exponential"
        Shape of the class-size curve (see above).
    n_max : int, default=None
        Size of the head class. Defaults to the largest head that every class
        can supply its share of: the head class keeps all its samples when
        the others have enough (MNIST's head, digit 0, keeps its 5,923), and
        on a balanced set (CIFAR, Fashion-MNIST) it is the class size.
    class_order : array-like of shape (n_classes,), default=None
        Labels from head to tail; it must hold each label of ``y`` exactly once.
        Defaults to the sorted unique labels, as in the CIFAR-LT protocol.
    random_state : int, RandomState instance or None, default=0
        Seed of the per-class shuffles.
    return_indices : bool, default=False
        Also return the positions of the kept samples in ``X``.
    dev_size : int, default=None
        First hold out a balanced development set of ``dev_size`` samples per
        class (drawn with ``random_state``), then build the long tail from the
        rest, as Jamal et al. (CVPR 2020) do for meta-weighting (10 per class
        on CIFAR): the training profile keeps its sizes and no tail class
        loses samples to the development set. It is returned after the
        long-tailed part (see Returns).

    Returns
    -------
    X_sub : same type as X, of shape (n_kept, ...)
        Kept samples, in their original order.
    y_sub : ndarray of shape (n_kept,)
        Their labels.
    X_dev : same type as X, of shape (n_classes * dev_size, ...)
        Only with ``dev_size``: the balanced development set.
    y_dev : ndarray of shape (n_classes * dev_size,)
        Only with ``dev_size``: its labels.
    indices : ndarray of shape (n_kept,), dtype int64
        Only when ``return_indices=True``: sorted positions of the kept
        samples, so ``X_sub == X[indices]`` and ``y_sub == y[indices]``.
    dev_indices : ndarray of shape (n_classes * dev_size,), dtype int64
        Only with ``dev_size`` and ``return_indices=True``: positions of the
        development samples in ``X``, disjoint from ``indices``.

    Raises
    ------
    ValueError
        If ``X`` and ``y`` differ in length, ``X`` holds NaN, ``y`` holds NaN,
        missing or continuous values, ``y`` has fewer than two classes,
        ``class_order`` does not list the labels of ``y``, a class has fewer
        samples than the protocol asks of it, or the tail would get no sample
        at all (``imbalance_factor > n_max``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt.datasets import make_long_tailed
    >>> y = np.repeat(np.arange(10), 5000)          # CIFAR-10 train labels
    >>> X = np.zeros((y.size, 1), dtype=np.uint8)
    >>> X_lt, y_lt = make_long_tailed(X, y, imbalance_factor=100)
    >>> np.bincount(y_lt).tolist()
    [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    >>> X_lt.dtype, len(y_lt)
    (dtype('uint8'), 12406)
    >>> X_lt, y_lt, X_dev, y_dev = make_long_tailed(X, y, imbalance_factor=100, dev_size=10)
    >>> np.bincount(y_lt)[[0, -1]].tolist(), np.bincount(y_dev).tolist()  # head: 5000 - 10
    ([4990, 49], [10, 10, 10, 10, 10, 10, 10, 10, 10, 10])
    """
    if isinstance(X, (list, tuple)):
        X = np.asarray(X)
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-dimensional, got an array of shape {y.shape}.")
    _check_class_labels(y)
    n_samples = _num_samples(X)
    if n_samples != y.shape[0]:
        raise ValueError(
            f"X and y must have the same number of samples, got {n_samples} and {y.shape[0]}."
        )
    _check_no_nan(X)
    if dev_size is not None:
        return _with_dev_set(X, y, dev_size, imbalance_factor, profile, n_max, class_order,
                             random_state, return_indices)

    labels, y_index, available = np.unique(y, return_inverse=True, return_counts=True)
    if labels.shape[0] < 2:
        raise ValueError(
            f"A long-tailed subset needs at least 2 classes, y has {labels.shape[0]}."
        )
    order = _class_order(labels, class_order)
    counts = _checked_counts(labels, available, order, imbalance_factor, profile, n_max)

    rng = check_random_state(random_state)
    kept = []
    for k, label_index in enumerate(order):
        members = np.flatnonzero(y_index == label_index)
        kept.append(members[rng.permutation(members.shape[0])[: counts[k]]])
    indices = np.sort(np.concatenate(kept)).astype(np.int64)

    X_sub = _safe_indexing(X, indices, axis=0)
    y_sub = y[indices]
    if return_indices:
        return X_sub, y_sub, indices
    return X_sub, y_sub


def _class_order(labels, class_order):
    """Positions in ``labels`` of the classes from head to tail."""
    if class_order is None:
        return np.arange(labels.shape[0])
    class_order = np.asarray(class_order)
    if class_order.ndim != 1:
        raise ValueError("class_order must be a 1-dimensional list of labels.")
    # Compared as sets of labels so that e.g. int labels and an int64 order match.
    known = set(labels.tolist())
    unknown = [c for c in class_order.tolist() if c not in known]
    missing = sorted(known - set(class_order.tolist()), key=str)
    if unknown or missing or class_order.shape[0] != labels.shape[0]:
        raise ValueError(
            "class_order must list every label of y exactly once; "
            f"not in y: {unknown}, missing from class_order: {missing}, "
            f"{class_order.shape[0]} entries for {labels.shape[0]} classes."
        )
    return np.searchsorted(labels, class_order)


def _largest_n_max(available, imbalance_factor, profile):
    """The largest head size whose profile every class (in order) can supply."""
    n_classes = available.shape[0]
    k = np.arange(n_classes)
    if profile == "exponential":
        ratio = float(imbalance_factor) ** (-k / (n_classes - 1))
    else:
        ratio = np.where(k < n_classes // 2, 1.0, 1.0 / imbalance_factor)
    n_max = int(np.min(available / ratio))
    # int() of the profile may round a product up to the next integer when the
    # division above landed a hair below it; step down until it fits.
    while n_max > 1 and np.any(
            _long_tailed_counts(n_max, n_classes, imbalance_factor, profile) > available):
        n_max -= 1
    return n_max


def _checked_counts(labels, available, order, imbalance_factor, profile, n_max):
    """Class sizes of the protocol, checked against what each class can supply."""
    names = labels.tolist()  # plain Python values read better in messages than np.int64(3)
    if n_max is None:
        n_max = _largest_n_max(available[order], imbalance_factor, profile)
    if n_max > available[order[0]]:
        raise ValueError(
            f"n_max={n_max} exceeds the {available[order[0]]} samples of the head "
            f"class {names[order[0]]!r}; lower n_max or choose another class_order."
        )
    counts = _long_tailed_counts(n_max, labels.shape[0], imbalance_factor, profile)
    if counts[-1] == 0:
        raise ValueError(
            f"With n_max={n_max} and imbalance_factor={imbalance_factor} the tail classes "
            "would get 0 samples and disappear; lower imbalance_factor or raise n_max."
        )
    short = counts > available[order]
    if short.any():
        k = int(np.flatnonzero(short)[0])
        raise ValueError(
            f"Class {names[order[k]]!r} (position {k} in class_order) has "
            f"{available[order[k]]} samples but the {profile} profile asks for "
            f"{counts[k]}; lower n_max or reorder the classes."
        )
    return counts


def _with_dev_set(X, y, dev_size, imbalance_factor, profile, n_max, class_order, random_state,
                  return_indices):
    """make_long_tailed after holding out a balanced development set."""
    from ..utils._validation import balanced_holdout_indices

    rng = check_random_state(random_state)
    rest, dev = balanced_holdout_indices(y, dev_size, random_state=rng, min_remaining=1)
    X_rest = _safe_indexing(X, rest, axis=0)
    X_lt, y_lt, kept = make_long_tailed(
        X_rest, y[rest], imbalance_factor, profile, n_max=n_max, class_order=class_order,
        random_state=rng, return_indices=True)
    out = (X_lt, y_lt, _safe_indexing(X, dev, axis=0), y[dev])
    return (*out, rest[kept].astype(np.int64), dev.astype(np.int64)) if return_indices else out
