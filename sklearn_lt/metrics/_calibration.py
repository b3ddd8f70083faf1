"""Probabilistic quality: top-label expected calibration error and NLL."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_consistent_length, column_or_1d

from ._shot import _check_labels


def _check_proba(y_true, y_proba, labels):
    """Validate probabilities; return (column index of each y_true, y_proba)."""
    y_true = column_or_1d(y_true)
    check_classification_targets(y_true)
    y_proba = check_array(
        y_proba, ensure_2d=False, dtype=[np.float64, np.float32], input_name="y_proba"
    )
    check_consistent_length(y_true, y_proba)
    source = "y_true" if labels is None else "labels"
    labels = np.unique(y_true) if labels is None else _check_labels(labels)

    if y_proba.ndim == 1:
        if labels.shape[0] != 2:
            raise ValueError(
                "A 1-D y_proba is read as the probability of the second of two "
                f"classes, but there are {labels.shape[0]} classes {labels.tolist()!r}. "
                "Pass the full (n_samples, n_classes) matrix, and labels when "
                "y_true lacks some classes."
            )
        y_proba = np.column_stack([1 - y_proba, y_proba])
    elif y_proba.ndim != 2:
        raise ValueError(f"y_proba must be 1-D or 2-D, got shape {y_proba.shape}.")
    if y_proba.shape[1] != labels.shape[0]:
        raise ValueError(
            f"y_proba has {y_proba.shape[1]} columns but there are {labels.shape[0]} "
            f"classes in {source}: {labels.tolist()!r}. Pass labels (e.g. the "
            "estimator's classes_) in the order of the columns."
        )
    if y_proba.min() < 0 or y_proba.max() > 1:
        raise ValueError(
            f"y_proba must lie in [0, 1], got values in [{y_proba.min()}, "
            f"{y_proba.max()}]. Pass probabilities (e.g. softmax output), not scores."
        )
    # Same tolerance as sklearn.metrics.log_loss: float32 softmax output passes.
    rtol = np.sqrt(np.finfo(y_proba.dtype).eps)
    if not np.allclose(y_proba.sum(axis=1), 1.0, rtol=rtol, atol=0):
        raise ValueError("The rows of y_proba must sum to 1.")

    lookup = {c: i for i, c in enumerate(labels)}
    unknown = sorted({c for c in np.unique(y_true) if c not in lookup}, key=str)
    if unknown:
        raise ValueError(
            f"y_true contains labels {unknown!r} that are not in labels "
            f"{labels.tolist()!r}."
        )
    y_idx = np.fromiter((lookup[c] for c in y_true), dtype=np.intp, count=y_true.shape[0])
    return y_idx, y_proba


@validate_params(
    {
        "y_true": ["array-like"],
        "y_proba": ["array-like"],
        "n_bins": [Interval(Integral, 1, None, closed="left")],
        "labels": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def calibration_bins(y_true, y_proba, *, n_bins=15, labels=None):
    """Reliability-diagram data for the top-label confidence.

    The confidence of a sample is its largest predicted probability and the
    prediction is the corresponding class. Confidences are put in ``n_bins``
    equal-width bins over ``[0, 1]``; bin ``b`` holds confidences in
    ``(b / n_bins, (b + 1) / n_bins]`` and the first bin also holds 0.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_proba : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities, columns in the order of ``labels``. A 1-D
        array is the probability of the second of two classes.
    n_bins : int, default=15
        Number of confidence bins.
    labels : array-like of shape (n_classes,), default=None
        Class of each column of ``y_proba`` (e.g. an estimator's
        ``classes_``). ``None`` uses the sorted classes of ``y_true``, which
        is only right when every class occurs in ``y_true``.

    Returns
    -------
    bins : :class:`~sklearn.utils.Bunch`
        With ``bin_edges`` (``n_bins + 1``), ``bin_counts`` (samples per
        bin), ``bin_accuracy`` (fraction of correct top-label predictions)
        and ``bin_confidence`` (mean confidence); the last two are NaN for
        empty bins.

    See Also
    --------
    expected_calibration_error : The weighted gap between the last two.

    Examples
    --------
    >>> from sklearn_lt.metrics import calibration_bins
    >>> bins = calibration_bins([0, 1], [[0.9, 0.1], [0.6, 0.4]], n_bins=2)
    >>> bins.bin_counts
    array([0, 2])
    >>> bins.bin_accuracy, bins.bin_confidence
    (array([nan, 0.5]), array([ nan, 0.75]))
    """
    y_idx, y_proba = _check_proba(y_true, y_proba, labels)
    confidence = y_proba.max(axis=1).astype(np.float64)
    correct = (y_proba.argmax(axis=1) == y_idx).astype(np.float64)

    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Counting the inner edges strictly below a confidence gives its bin for
    # right-closed bins (lo, hi]; 0 lands in the first bin.
    bin_idx = np.searchsorted(edges[1:-1], confidence, side="left")
    counts = np.bincount(bin_idx, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.bincount(bin_idx, weights=correct, minlength=n_bins) / counts
        mean_conf = np.bincount(bin_idx, weights=confidence, minlength=n_bins) / counts
    return Bunch(
        bin_edges=edges, bin_counts=counts, bin_accuracy=accuracy, bin_confidence=mean_conf
    )


@validate_params(
    {
        "y_true": ["array-like"],
        "y_proba": ["array-like"],
        "n_bins": [Interval(Integral, 1, None, closed="left")],
        "labels": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def expected_calibration_error(y_true, y_proba, *, n_bins=15, labels=None):
    """Top-label expected calibration error (Guo et al., 2017).

    ``ECE = sum_b |B_b| / N * |acc(B_b) - conf(B_b)|`` over ``n_bins``
    equal-width confidence bins (see :func:`calibration_bins`); 15 bins is
    the setting of Guo et al. This is the ECE column of the long-tailed
    tables of Nam et al. (ICLR 2023). Lower is better; 0 is perfectly
    calibrated.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_proba : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities, columns in the order of ``labels``. A 1-D
        array is the probability of the second of two classes.
    n_bins : int, default=15
        Number of confidence bins.
    labels : array-like of shape (n_classes,), default=None
        Class of each column of ``y_proba`` (e.g. an estimator's
        ``classes_``). ``None`` uses the sorted classes of ``y_true``.

    Returns
    -------
    ece : float
        Expected calibration error in ``[0, 1]``.

    See Also
    --------
    calibration_bins : The per-bin accuracy and confidence.
    negative_log_likelihood : A proper scoring rule for the same probabilities.

    Examples
    --------
    >>> from sklearn_lt.metrics import expected_calibration_error
    >>> y_proba = [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.3, 0.7]]
    >>> expected_calibration_error([0, 1, 1, 0], y_proba, n_bins=2)
    0.25
    """
    bins = calibration_bins(y_true, y_proba, n_bins=n_bins, labels=labels)
    filled = bins.bin_counts > 0
    weights = bins.bin_counts[filled] / bins.bin_counts.sum()
    gaps = np.abs(bins.bin_accuracy[filled] - bins.bin_confidence[filled])
    return float(np.sum(weights * gaps))


@validate_params(
    {
        "y_true": ["array-like"],
        "y_proba": ["array-like"],
        "labels": ["array-like", None],
        "eps": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def negative_log_likelihood(y_true, y_proba, *, labels=None, eps="auto"):
    """Mean negative log-probability of the true class, ``mean(-log p_y)``.

    Equals :func:`sklearn.metrics.log_loss` on valid input; the NLL column of
    Nam et al. (ICLR 2023). Lower is better.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_proba : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities, columns in the order of ``labels``. A 1-D
        array is the probability of the second of two classes.
    labels : array-like of shape (n_classes,), default=None
        Class of each column of ``y_proba`` (e.g. an estimator's
        ``classes_``). ``None`` uses the sorted classes of ``y_true``.
    eps : "auto" or float, default="auto"
        Probabilities are clipped to at least ``eps`` so that a confident
        mistake costs ``-log(eps)`` instead of infinity. ``"auto"`` is the
        machine epsilon of the dtype of ``y_proba``, as in ``log_loss``.

    Returns
    -------
    nll : float
        Mean negative log-likelihood, in nats.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt.metrics import negative_log_likelihood
    >>> nll = negative_log_likelihood([0, 1], [[0.5, 0.5], [0.2, 0.8]])
    >>> bool(np.isclose(nll, -(np.log(0.5) + np.log(0.8)) / 2))
    True
    """
    y_idx, y_proba = _check_proba(y_true, y_proba, labels)
    if eps == "auto":
        eps = np.finfo(y_proba.dtype).eps
    p_true = y_proba[np.arange(y_idx.shape[0]), y_idx].astype(np.float64)
    return float(np.mean(-np.log(np.clip(p_true, eps, 1.0))))
