"""What every display shares: the lazy matplotlib import, unwrapping, the per-class plot."""

import numpy as np

from ..metrics._shot import _train_count_lookup
from ..utils import class_counts_of

#: ``gid`` of the shaded shot bands, so that a second model drawn on the same
#: axes does not shade them again.
_BAND_GID = "sklearn_lt-shot-band"
# Grey of rising depth towards the tail: coloured bands would clash with the
# curves' own colours (matplotlib's default cycle).
_BAND_ALPHA = {"many": 0.04, "medium": 0.11, "few": 0.2}


def _pyplot(caller):
    """Import pyplot only when a figure is drawn: matplotlib is optional."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} needs matplotlib, which is not installed. Install it with "
            "`pip install matplotlib` (or the package's `docs` extra)."
        ) from exc
    return plt


def _axes(ax, caller):
    if ax is None:
        _, ax = _pyplot(caller).subplots()
    else:
        # Still import, so that a missing matplotlib is reported the same way
        # whether or not axes were passed.
        _pyplot(caller)
    return ax


def _find_fitted(estimator, attribute):
    """The estimator itself, else what it wraps that has ``attribute``.

    A search is replaced by its best estimator; a Pipeline is searched from its
    last step backwards, into steps that are themselves searches or Pipelines:
    heads sit at the end, and a Backbone in front of a head answers only when no
    later step has ``attribute``.
    """
    found = _search(estimator, attribute, set())
    if found is None:
        raise AttributeError(
            f"{type(estimator).__name__} has no fitted {attribute!r}, nor has any step "
            "it wraps. Fit it first, or pass an estimator that has it."
        )
    return found


def _search(est, attribute, seen):
    if est is None or isinstance(est, str) or id(est) in seen:
        return None
    seen.add(id(est))
    if hasattr(est, attribute):
        return est
    if hasattr(est, "best_estimator_"):
        return _search(est.best_estimator_, attribute, seen)
    for _, step in reversed(getattr(est, "steps", [])):
        found = _search(step, attribute, seen)
        if found is not None:
            return found
    return None


def _training_counts(estimator, classes):
    """Training class sizes for ``classes``, read as the scorers read them.

    The first step of a Pipeline that has them wins (a Backbone or a resampler
    saw the original training set; a head after a resampler saw resampled
    counts), so every display places a class at the same size.
    """
    known, counts = class_counts_of(estimator)
    return _aligned_counts(dict(zip(known, counts)), classes)[1]


def _default_name(estimator):
    """Class name of the model that predicts: through searches and last Pipeline steps."""
    est, seen = estimator, set()
    while id(est) not in seen:
        seen.add(id(est))
        if hasattr(est, "best_estimator_"):
            est = est.best_estimator_
        elif getattr(est, "steps", None):
            est = est.steps[-1][1]
    return type(est).__name__


def _aligned_counts(class_counts, labels, y_true=None, y_pred=None):
    """``(labels, counts)`` from a mapping, a Series or an array aligned with ``labels``."""
    if y_true is None:
        if labels is None and not hasattr(class_counts, "keys") and not hasattr(
                class_counts, "index"):
            raise ValueError(
                "class_counts is an array, so labels must say which class each count "
                "belongs to. Pass labels, or a dict {label: count}."
            )
        y_true = y_pred = np.asarray(labels if labels is not None else [])
    lookup = _train_count_lookup(class_counts, labels, y_true, y_pred)
    if labels is None:
        labels = np.asarray(list(lookup))
    missing = [c for c in labels if c not in lookup]
    missing += [c for c in np.unique(y_true) if c not in lookup and c not in missing]
    if missing:
        raise ValueError(f"class_counts has no count for class(es) {missing!r}.")
    return np.asarray(labels), np.array([lookup[c] for c in labels], dtype=np.float64)


class _PerClassDisplay:
    """A value per class against its training size, with the many/medium/few bands.

    The base of the per-class displays (:class:`ClassAccuracyDisplay`,
    :class:`WeightNormDisplay`, :class:`DispersionDisplay`,
    :class:`MetaWeightDisplay`): the figures of the long-tail papers put
    classes on the x axis in decreasing order of training size and shade the
    shot splits. A subclass names its value (``_value``, ``_ylabel``), documents
    the constructor, and says how ``from_*`` computes the value. NaN values
    leave a gap in the curve.
    """

    _value = None  # name of the constructor's first argument, e.g. "accuracy"
    _ylabel = "value"
    _ylim = None

    def __init__(self, values, class_counts, *, classes=None, name=None,
                 many_threshold=100, few_threshold=20):
        values = np.asarray(values, dtype=np.float64)
        counts = np.asarray(class_counts, dtype=np.float64)
        if values.ndim != 1 or counts.shape != values.shape:
            raise ValueError(
                f"{self._value} and class_counts must be 1-D and aligned (one value per "
                f"class), got shapes {values.shape} and {counts.shape}."
            )
        setattr(self, self._value, values)
        self.class_counts = counts
        self.classes = np.arange(len(counts)) if classes is None else np.asarray(classes)
        self.name = name
        self.many_threshold = many_threshold
        self.few_threshold = few_threshold

    @property
    def values(self):
        """The plotted value of each class (the display's first argument)."""
        return getattr(self, self._value)

    @classmethod
    def _draw(cls, values, counts, classes, name, ax, x, bands, many_threshold,
              few_threshold, kwargs):
        display = cls(values, counts, classes=classes, name=name,
                      many_threshold=many_threshold, few_threshold=few_threshold)
        return display.plot(ax=ax, x=x, bands=bands, **kwargs)

    def order(self):
        """Classes by decreasing training size (ties keep their given order).

        Returns
        -------
        order : ndarray of shape (n_classes,)
            Indices into ``values``; position ``i`` is drawn at rank ``i``.
        """
        return np.argsort(-self.class_counts, kind="stable")

    def plot(self, ax=None, *, name=None, x="rank", bands=True, **kwargs):
        """Draw the values, classes by decreasing training size.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` makes a new figure. Draw several models
            on one axes to compare them.
        name : str, default=None
            Legend label; ``None`` keeps the display's ``name``.
        x : {"rank", "count"}, default="rank"
            ``"rank"``: class ``i`` at position ``i`` of the size order, as in
            Kang et al.'s figures; ``"count"``: at its training size, on a log
            axis (classes of equal size then share a position).
        bands : bool, default=True
            Shade the many/medium/few-shot classes (once per axes).
        **kwargs : dict
            Passed to ``ax.plot``.

        Returns
        -------
        display : object
            ``self``, with ``line_``, ``ax_`` and ``figure_`` set.
        """
        if x not in ("rank", "count"):
            raise ValueError(f"x must be 'rank' or 'count', got {x!r}.")
        ax = _axes(ax, type(self).__name__)
        order = self.order()
        counts, values = self.class_counts[order], self.values[order]
        xs = np.arange(len(order)) if x == "rank" else counts
        if bands:
            self._shade_bands(ax, counts, x)
        label = name if name is not None else self.name
        kwargs.setdefault("marker", "o")
        kwargs.setdefault("markersize", 4)
        (self.line_,) = ax.plot(xs, values, label=label, **kwargs)
        if x == "count":
            ax.set_xscale("log")
            ax.set_xlabel("training samples of the class")
        else:
            ax.set_xlabel("class, by decreasing training size")
        ax.set_ylabel(self._ylabel)
        if self._ylim is not None:
            ax.set_ylim(*self._ylim)
        if label is not None or bands:
            # The models first, then the bands, however many models share the axes.
            handles, labels = ax.get_legend_handles_labels()
            pairs = sorted(zip(handles, labels), key=lambda p: p[0].get_gid() == _BAND_GID)
            ax.legend(*zip(*pairs), loc="best", fontsize="small")
        self.ax_, self.figure_ = ax, ax.figure
        return self

    def _split_masks(self, counts):
        many = counts > self.many_threshold
        few = counts < self.few_threshold
        return {"many": many, "medium": ~many & ~few, "few": few}

    def _shade_bands(self, ax, counts, x):
        if any(p.get_gid() == _BAND_GID for p in ax.patches):
            return
        names = {"many": f"many-shot (> {self.many_threshold:g})",
                 "medium": "medium-shot",
                 "few": f"few-shot (< {self.few_threshold:g})"}
        for split, mask in self._split_masks(counts).items():
            if not mask.any():
                continue
            if x == "rank":
                where = np.flatnonzero(mask)
                lo, hi = where.min() - 0.5, where.max() + 0.5
            else:
                # A fixed factor, so that the log axis shows equal margins.
                lo, hi = counts[mask].min() / 1.15, counts[mask].max() * 1.15
            # Named in the legend rather than written on the axes, where a label
            # would cover the curves or the title.
            ax.axvspan(lo, hi, color="black", alpha=_BAND_ALPHA[split], lw=0, gid=_BAND_GID,
                       label=names[split])
