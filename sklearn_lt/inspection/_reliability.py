"""Reliability diagram: accuracy against confidence per bin, with the ECE."""

import numpy as np

from ..metrics import calibration_bins, expected_calibration_error
from ._base import _axes, _default_name


class ReliabilityDisplay:
    """Reliability diagram of the top-label confidence, with its ECE.

    Samples are binned by their largest predicted probability; each bin is
    drawn at its mean confidence and its accuracy. A calibrated model lies on
    the diagonal; points below it are over-confident. The legend shows the
    expected calibration error, the gap between the two weighted by the
    samples per bin (:func:`sklearn_lt.metrics.expected_calibration_error`).
    Draw several heads on one axes to compare them.

    Parameters
    ----------
    bin_confidence : array-like of shape (n_bins,)
        Mean confidence of each bin (NaN for an empty bin).
    bin_accuracy : array-like of shape (n_bins,)
        Fraction of correct top-label predictions in each bin.
    bin_counts : array-like of shape (n_bins,)
        Samples in each bin.
    bin_edges : array-like of shape (n_bins + 1,)
        Bin edges over ``[0, 1]``.
    ece : float, default=None
        Expected calibration error, shown in the legend.
    name : str, default=None
        Legend label.

    Attributes
    ----------
    line_ : matplotlib Line2D or BarContainer
        What the last :meth:`plot` drew: the curve (``kind="line"``) or the
        bars (``kind="bar"``).
    ax_ : matplotlib Axes
        Axes it was drawn on.
    figure_ : matplotlib Figure
        Figure holding ``ax_``.

    See Also
    --------
    sklearn_lt.metrics.calibration_bins : The values drawn.

    Examples
    --------
    >>> from sklearn_lt.inspection import ReliabilityDisplay
    >>> disp = ReliabilityDisplay.from_predictions(
    ...     [0, 1, 1, 0], [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.7, 0.3]], n_bins=2)
    >>> disp.bin_counts, disp.bin_accuracy
    (array([0, 4]), array([ nan, 0.75]))
    >>> round(disp.ece, 4)
    0.0
    """

    def __init__(self, bin_confidence, bin_accuracy, bin_counts, bin_edges, *, ece=None,
                 name=None):
        self.bin_confidence = np.asarray(bin_confidence, dtype=np.float64)
        self.bin_accuracy = np.asarray(bin_accuracy, dtype=np.float64)
        self.bin_counts = np.asarray(bin_counts)
        self.bin_edges = np.asarray(bin_edges, dtype=np.float64)
        n_bins = self.bin_counts.shape[0]
        if (self.bin_confidence.shape != (n_bins,) or self.bin_accuracy.shape != (n_bins,)
                or self.bin_edges.shape != (n_bins + 1,)):
            raise ValueError(
                "bin_confidence, bin_accuracy and bin_counts need one value per bin and "
                f"bin_edges one more; got shapes {self.bin_confidence.shape}, "
                f"{self.bin_accuracy.shape}, {self.bin_counts.shape}, {self.bin_edges.shape}."
            )
        self.ece = ece
        self.name = name

    @classmethod
    def from_estimator(cls, estimator, X, y, *, n_bins=15, name=None, ax=None, kind="line",
                       **kwargs):
        """Reliability of a fitted probabilistic classifier on ``(X, y)``.

        Parameters
        ----------
        estimator : estimator object
            A fitted classifier with ``predict_proba`` and ``classes_`` (or a
            Pipeline ending in one).
        X : array-like
            Test inputs.
        y : array-like of shape (n_samples,)
            Their labels.
        n_bins : int, default=15
            Equal-width confidence bins, as for the ECE scorer.
        name : str, default=None
            Legend label; ``None``: the estimator's class name.
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` makes a new figure.
        kind : {"line", "bar"}, default="line"
            See :meth:`plot`.
        **kwargs : dict
            Passed to the matplotlib call drawing the bins.

        Returns
        -------
        display : ReliabilityDisplay
            The display, drawn.
        """
        return cls.from_predictions(
            y, estimator.predict_proba(X), labels=estimator.classes_, n_bins=n_bins,
            name=name if name is not None else _default_name(estimator), ax=ax, kind=kind,
            **kwargs)

    @classmethod
    def from_predictions(cls, y_true, y_proba, *, labels=None, n_bins=15, name=None, ax=None,
                         kind="line", **kwargs):
        """Reliability of predicted probabilities.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels.
        y_proba : array-like of shape (n_samples, n_classes)
            Predicted probabilities, columns in the order of ``labels``.
        labels : array-like of shape (n_classes,), default=None
            Class of each column; ``None``: the sorted classes of ``y_true``.
        n_bins : int, default=15
            Equal-width confidence bins.
        name : str, default=None
            Legend label.
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` makes a new figure.
        kind : {"line", "bar"}, default="line"
            See :meth:`plot`.
        **kwargs : dict
            Passed to the matplotlib call drawing the bins.

        Returns
        -------
        display : ReliabilityDisplay
            The display, drawn.
        """
        bins = calibration_bins(y_true, y_proba, n_bins=n_bins, labels=labels)
        ece = expected_calibration_error(y_true, y_proba, n_bins=n_bins, labels=labels)
        display = cls(bins.bin_confidence, bins.bin_accuracy, bins.bin_counts, bins.bin_edges,
                      ece=ece, name=name)
        return display.plot(ax=ax, kind=kind, **kwargs)

    def plot(self, ax=None, *, name=None, kind="line", ref_line=True, **kwargs):
        """Draw accuracy against confidence for the non-empty bins.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` makes a new figure.
        name : str, default=None
            Legend label; ``None`` keeps the display's ``name``. The ECE is
            appended when known.
        kind : {"line", "bar"}, default="line"
            ``"line"``: each bin at (mean confidence, accuracy), which overlays
            several models legibly; ``"bar"``: one bar per bin of its accuracy,
            the papers' single-model figure.
        ref_line : bool, default=True
            Draw the diagonal of perfect calibration (once per axes).
        **kwargs : dict
            Passed to ``ax.plot`` or ``ax.bar``.

        Returns
        -------
        display : ReliabilityDisplay
            ``self``, with ``line_``, ``ax_`` and ``figure_`` set.
        """
        if kind not in ("line", "bar"):
            raise ValueError(f"kind must be 'line' or 'bar', got {kind!r}.")
        ax = _axes(ax, type(self).__name__)
        label = name if name is not None else self.name
        if self.ece is not None:
            label = f"{label} (ECE {self.ece:.3f})" if label else f"ECE {self.ece:.3f}"
        if ref_line and not any(line.get_gid() == "sklearn_lt-diagonal" for line in ax.lines):
            ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, gid="sklearn_lt-diagonal",
                    label="perfectly calibrated")
        full = self.bin_counts > 0
        if kind == "line":
            kwargs.setdefault("marker", "s")
            (self.line_,) = ax.plot(self.bin_confidence[full], self.bin_accuracy[full],
                                    label=label, **kwargs)
        else:
            lo, hi = self.bin_edges[:-1], self.bin_edges[1:]
            kwargs.setdefault("alpha", 0.7)
            kwargs.setdefault("edgecolor", "black")
            self.line_ = ax.bar(lo[full], self.bin_accuracy[full], width=(hi - lo)[full],
                                align="edge", label=label, **kwargs)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence (largest predicted probability)")
        ax.set_ylabel("accuracy in the bin")
        ax.legend(loc="upper left")
        self.ax_, self.figure_ = ax, ax.figure
        return self
