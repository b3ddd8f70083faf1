"""A classification_report-like summary of a long-tailed evaluation."""

from collections.abc import Mapping
from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, validate_params

from ._calibration import expected_calibration_error, negative_log_likelihood
from ._shot import SPLITS, _shot_splits

_ROW_NAMES = {"many": "many-shot", "medium": "medium-shot", "few": "few-shot", "all": "all"}


@validate_params(
    {
        "y_true": ["array-like"],
        "y_pred": ["array-like"],
        "train_class_counts": ["array-like", Mapping],
        "y_proba": ["array-like", None],
        "labels": ["array-like", None],
        "many_threshold": [Interval(Real, 0, None, closed="left")],
        "few_threshold": [Interval(Real, 0, None, closed="left")],
        "n_bins": [Interval(Integral, 1, None, closed="left")],
        "digits": [Interval(Integral, 0, None, closed="left")],
        "output_dict": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def long_tail_report(
    y_true,
    y_pred,
    train_class_counts,
    *,
    y_proba=None,
    labels=None,
    many_threshold=100,
    few_threshold=20,
    n_bins=15,
    digits=2,
    output_dict=False,
):
    """Report many/medium/few-shot accuracy, and NLL and ECE when possible.

    The table of long-tailed recognition papers (e.g. Kang et al. 2020;
    Nam et al. 2023) for one model: for each split the mean per-class
    accuracy (see :func:`shot_accuracy`), the number of test classes and of
    test samples in it, followed by the negative log-likelihood and the
    expected calibration error when ``y_proba`` is given.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    train_class_counts : dict, pandas Series or array-like
        Training samples per class, as in :func:`shot_accuracy`.
    y_proba : array-like of shape (n_samples, n_classes), default=None
        Predicted probabilities, columns in the order of ``labels``. Adds the
        ``nll`` and ``ece`` rows.
    labels : array-like of shape (n_classes,), default=None
        Classes in the order of an array-like ``train_class_counts`` and of
        the columns of ``y_proba`` (e.g. an estimator's ``classes_``).
        ``None`` uses the sorted classes of ``y_true``.
    many_threshold : float, default=100
        Classes with more training samples are many-shot.
    few_threshold : float, default=20
        Classes with fewer training samples are few-shot.
    n_bins : int, default=15
        Confidence bins of the ECE.
    digits : int, default=2
        Decimals of the floats in the text report.
    output_dict : bool, default=False
        Return a dict instead of text.

    Returns
    -------
    report : str or dict
        Text table, or a dict ``{"many": {"accuracy", "n_classes",
        "support"}, "medium": ..., "few": ..., "all": ..., "nll", "ece"}``
        (the last two only with ``y_proba``), with unrounded values. An empty
        split has accuracy NaN.

    Examples
    --------
    >>> from sklearn_lt.metrics import long_tail_report
    >>> counts = {"cat": 500, "dog": 50, "owl": 5}
    >>> y_true = ["cat", "cat", "dog", "dog", "owl", "owl"]
    >>> y_pred = ["cat", "cat", "dog", "cat", "cat", "cat"]
    >>> print(long_tail_report(y_true, y_pred, counts))
                 accuracy  n_classes  support
    <BLANKLINE>
      many-shot      1.00          1        2
    medium-shot      0.50          1        2
       few-shot      0.00          1        2
    <BLANKLINE>
            all      0.50          3        6
    <BLANKLINE>
    """
    splits = _shot_splits(
        y_true, y_pred, train_class_counts, labels, many_threshold, few_threshold
    )
    report = {
        name: {"accuracy": acc, "n_classes": n_classes, "support": support}
        for name, (acc, n_classes, support) in splits.items()
    }
    if y_proba is not None:
        report["nll"] = negative_log_likelihood(y_true, y_proba, labels=labels)
        report["ece"] = expected_calibration_error(
            y_true, y_proba, n_bins=n_bins, labels=labels
        )
    if output_dict:
        return report

    width = max(len(name) for name in _ROW_NAMES.values())
    lines = [" " * width + "  accuracy  n_classes  support", ""]
    for name in SPLITS:
        if name == "all":
            lines.append("")
        row = report[name]
        lines.append(
            f"{_ROW_NAMES[name]:>{width}}  {row['accuracy']:>8.{digits}f}"
            f"  {row['n_classes']:>9d}  {row['support']:>7d}"
        )
    if y_proba is not None:
        lines.append("")
        for name in ("nll", "ece"):
            lines.append(f"{name:>{width}}  {report[name]:>8.{digits}f}")
    return "\n".join(lines) + "\n"
