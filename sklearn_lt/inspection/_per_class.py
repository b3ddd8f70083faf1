"""Per-class displays: accuracy, weight norm, dispersion and meta weight against class size."""

import numpy as np

from ..metrics import dispersion, per_class_accuracy
from ..utils import class_counts_of
from ..utils._docstring import Substitution
from ._base import (
    _aligned_counts,
    _default_name,
    _find_fitted,
    _PerClassDisplay,
    _search,
    _training_counts,
)

#: The constructor parameters and fitted attributes every per-class display shares.
_per_class_doc = Substitution(per_class_params="""
    class_counts : array-like of shape (n_classes,)
        Training samples of each class.
    classes : array-like of shape (n_classes,), default=None
        Class labels; ``None``: ``0 .. n_classes-1``.
    name : str, default=None
        Legend label.
    many_threshold : float, default=100
        Classes with more training samples are many-shot.
    few_threshold : float, default=20
        Classes with fewer training samples are few-shot.""", per_class_attributes="""
    line_ : matplotlib Line2D
        The curve drawn.
    ax_ : matplotlib Axes
        Axes it was drawn on.
    figure_ : matplotlib Figure
        Figure holding ``ax_``.""")

#: The drawing parameters every ``from_*`` constructor passes on to ``plot``.
_plot_doc = Substitution(plot_params="""
    name : str, default=None
        Legend label; ``None``: the estimator's class name (``from_estimator``)
        or no label.
    ax : matplotlib Axes, default=None
        Axes to draw on; ``None`` makes a new figure.
    x : {"rank", "count"}, default="rank"
        Classes at their rank by decreasing training size, or at their
        training size on a log axis; see ``plot``.
    bands : bool, default=True
        Shade the many/medium/few-shot classes.
    many_threshold : float, default=100
        Classes with more training samples are many-shot.
    few_threshold : float, default=20
        Classes with fewer training samples are few-shot.
    **kwargs : dict
        Passed to ``ax.plot``.""")


@_per_class_doc
class ClassAccuracyDisplay(_PerClassDisplay):
    """Test accuracy of each class against its training size.

    Kang et al. (ICLR 2020, Fig. 2) compare decoupled heads this way: the joint
    head is accurate on the head classes and poor on the tail; re-balancing the
    classifier lifts the tail at a small cost on the head. Draw several models
    on the same axes to compare them.

    Parameters
    ----------
    accuracy : array-like of shape (n_classes,)
        Test accuracy of each class (NaN for a class without test samples).
    {per_class_params}

    Attributes
    ----------
    {per_class_attributes}

    See Also
    --------
    sklearn_lt.metrics.per_class_accuracy : The values drawn.
    sklearn_lt.metrics.shot_accuracy : Their mean per shot split.

    Examples
    --------
    >>> from sklearn_lt.inspection import ClassAccuracyDisplay
    >>> counts = {"cat": 500, "dog": 50, "owl": 5}
    >>> y_true = ["cat", "cat", "dog", "dog", "owl", "owl"]
    >>> y_pred = ["cat", "cat", "dog", "cat", "cat", "owl"]
    >>> disp = ClassAccuracyDisplay.from_predictions(y_true, y_pred, counts, name="joint")
    >>> disp.accuracy
    array([1. , 0.5, 0.5])
    """

    _value = "accuracy"
    _ylabel = "test accuracy of the class"
    _ylim = (-0.02, 1.02)

    def __init__(self, accuracy, class_counts, *, classes=None, name=None, many_threshold=100,
                 few_threshold=20):
        super().__init__(accuracy, class_counts, classes=classes, name=name,
                         many_threshold=many_threshold, few_threshold=few_threshold)

    @classmethod
    @_plot_doc
    def from_estimator(cls, estimator, X, y, *, name=None, ax=None, x="rank", bands=True,
                       many_threshold=100, few_threshold=20, **kwargs):
        """Per-class accuracy of a fitted model on ``(X, y)``.

        Parameters
        ----------
        estimator : estimator object
            A fitted classifier, Pipeline or search whose ``classes_`` and
            ``class_counts_`` give the training sizes (as the scorers read
            them, see :func:`sklearn_lt.utils.class_counts_of`).
        X : array-like
            Test inputs, as ``estimator.predict`` takes them.
        y : array-like of shape (n_samples,)
            Their labels.
        {plot_params}

        Returns
        -------
        display : ClassAccuracyDisplay
            The display, drawn.
        """
        classes, counts = class_counts_of(estimator)
        accuracy = per_class_accuracy(y, estimator.predict(X), labels=classes)
        return cls._draw(accuracy, counts, classes,
                         name if name is not None else _default_name(estimator), ax, x,
                         bands, many_threshold, few_threshold, kwargs)

    @classmethod
    @_plot_doc
    def from_predictions(cls, y_true, y_pred, class_counts, *, labels=None, name=None, ax=None,
                         x="rank", bands=True, many_threshold=100, few_threshold=20, **kwargs):
        """Per-class accuracy of predictions.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels.
        y_pred : array-like of shape (n_samples,)
            Predicted labels.
        class_counts : dict, pandas Series or array-like
            Training samples of each class: ``{label: count}``, a Series indexed
            by label, or an array aligned with ``labels`` (as for
            :func:`sklearn_lt.metrics.shot_accuracy`).
        labels : array-like, default=None
            Classes to draw, in this order; ``None``: the keys of a mapping, or
            the sorted classes of ``y_true``.
        {plot_params}

        Returns
        -------
        display : ClassAccuracyDisplay
            The display, drawn.
        """
        labels, counts = _aligned_counts(class_counts, labels, y_true, y_pred)
        accuracy = per_class_accuracy(y_true, y_pred, labels=labels)
        return cls._draw(accuracy, counts, labels, name, ax, x, bands, many_threshold,
                         few_threshold, kwargs)


@_per_class_doc
class WeightNormDisplay(_PerClassDisplay):
    """L2 norm of each class's classifier weights against its training size.

    Trained on a long tail, a linear head's weight norms grow with class size,
    which favours the head classes (Kang et al., ICLR 2020, Fig. 4); cRT and
    LWS flatten them and τ-normalisation divides them by ``||w_j||^tau``.

    Parameters
    ----------
    norms : array-like of shape (n_classes,)
        ``||w_j||_2`` of each class.
    {per_class_params}

    Attributes
    ----------
    {per_class_attributes}

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt.inspection import WeightNormDisplay
    >>> from sklearn_lt.heads import TauNormClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], [60, 20, 6])
    >>> Z = rng.normal(size=(86, 4)) + y[:, None]
    >>> clf = TauNormClassifier(tau=1.0).fit(Z, y)
    >>> disp = WeightNormDisplay.from_estimator(clf)
    >>> np.allclose(disp.norms, 1.0)  # tau=1 gives every class a unit norm
    True
    """

    _value = "norms"
    _ylabel = "norm of the class's weights"

    def __init__(self, norms, class_counts, *, classes=None, name=None, many_threshold=100,
                 few_threshold=20):
        super().__init__(norms, class_counts, classes=classes, name=name,
                         many_threshold=many_threshold, few_threshold=few_threshold)

    @classmethod
    @_plot_doc
    def from_estimator(cls, estimator, *, name=None, ax=None, x="rank", bands=True,
                       many_threshold=100, few_threshold=20, **kwargs):
        """Weight norms of a fitted linear head (or a Backbone's joint head).

        Parameters
        ----------
        estimator : estimator object
            A fitted estimator with ``coef_`` of shape ``(n_classes, d)``, or a
            Pipeline or search holding one (the last step that has it).
        {plot_params}

        Returns
        -------
        display : WeightNormDisplay
            The display, drawn.
        """
        owner = _find_fitted(estimator, "coef_")
        coef = np.asarray(owner.coef_, dtype=np.float64)
        classes = np.asarray(getattr(owner, "classes_", class_counts_of(estimator)[0]))
        counts = _training_counts(estimator, classes)
        if coef.ndim != 2 or coef.shape[0] != len(counts):
            raise ValueError(
                f"coef_ has shape {coef.shape}, not one row per class ({len(counts)} "
                "classes): the display needs a head with a weight vector for every class."
            )
        return cls._draw(np.linalg.norm(coef, axis=1), counts, classes,
                         name if name is not None else _default_name(estimator), ax, x,
                         bands, many_threshold, few_threshold, kwargs)


@_per_class_doc
class DispersionDisplay(_PerClassDisplay):
    """Mean dispersion of SWAG's stochastic representations per class.

    Nam, Jang & Lee (ICLR 2023, Fig. 3) find the copies ``F(x; theta_m)`` of
    tail-class inputs more scattered than those of head classes: the network
    is less sure of what it learned from few samples.

    Parameters
    ----------
    dispersion : array-like of shape (n_classes,)
        Mean of :func:`sklearn_lt.metrics.dispersion` over the inputs of each
        class.
    {per_class_params}

    Attributes
    ----------
    {per_class_attributes}

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt.inspection import DispersionDisplay
    >>> S = np.array([[[1.0, 0.0], [2.0, 2.0]], [[1.0, 0.0], [2.0, 0.0]]])  # 2 copies, 2 inputs
    >>> disp = DispersionDisplay.from_samples(S, [0, 1], {0: 100, 1: 10}, relative=False)
    >>> disp.dispersion
    array([0., 1.])
    """

    _value = "dispersion"
    _ylabel = "mean dispersion of the class's inputs"

    def __init__(self, dispersion, class_counts, *, classes=None, name=None, many_threshold=100,
                 few_threshold=20):
        super().__init__(dispersion, class_counts, classes=classes, name=name,
                         many_threshold=many_threshold, few_threshold=few_threshold)

    @classmethod
    @_plot_doc
    def from_estimator(cls, estimator, X, y, *, n_samples=None, output="features",
                       relative=None, name=None, ax=None, x="rank", bands=True,
                       many_threshold=100, few_threshold=20, **kwargs):
        """Dispersion per class of a Backbone fitted with ``swag=True``.

        Parameters
        ----------
        estimator : Backbone or Pipeline
            A :class:`~sklearn_lt.Backbone` fitted with ``swag=True``, or a
            Pipeline or search holding one.
        X : array-like
            Inputs, as the Backbone takes them.
        y : array-like of shape (n_samples,)
            Their labels.
        n_samples : int, default=None
            Networks drawn from SWAG to use; ``None``: all.
        output : {"features", "proba"}, default="features"
            Disperse the representations or the predicted probabilities.
        relative : bool, default=None
            Passed to :func:`sklearn_lt.metrics.dispersion`; ``None``: True
            for features, False for probabilities.
        {plot_params}

        Returns
        -------
        display : DispersionDisplay
            The display, drawn.
        """
        owner = _find_fitted(estimator, "transform_stochastic")
        samples = owner.transform_stochastic(X, n_samples, output=output)
        if relative is None:
            relative = output == "features"
        return cls.from_samples(samples, y, owner.class_counts_, labels=owner.classes_,
                                relative=relative,
                                name=name if name is not None else "SWAG " + output,
                                ax=ax, x=x, bands=bands, many_threshold=many_threshold,
                                few_threshold=few_threshold, **kwargs)

    @classmethod
    @_plot_doc
    def from_samples(cls, samples, y, class_counts, *, labels=None, relative=True, name=None,
                     ax=None, x="rank", bands=True, many_threshold=100, few_threshold=20,
                     **kwargs):
        """Dispersion per class of ``M`` stochastic copies of each input.

        Parameters
        ----------
        samples : array-like of shape (M, n_inputs, d)
            The copies, e.g. ``Backbone.transform_stochastic(X)``.
        y : array-like of shape (n_inputs,)
            Label of each input.
        class_counts : dict, pandas Series or array-like
            Training samples of each class, as for
            :meth:`ClassAccuracyDisplay.from_predictions`.
        labels : array-like, default=None
            Classes to draw, in this order.
        relative : bool, default=True
            Passed to :func:`sklearn_lt.metrics.dispersion`.
        {plot_params}

        Returns
        -------
        display : DispersionDisplay
            The display, drawn.
        """
        y = np.asarray(y)
        per_input = dispersion(samples, relative=relative)
        if per_input.shape[0] != y.shape[0]:
            raise ValueError(f"samples holds {per_input.shape[0]} inputs but y has {y.shape[0]}.")
        labels, counts = _aligned_counts(class_counts, labels, y, y)
        values = np.array([per_input[y == c].mean() if np.any(y == c) else np.nan
                           for c in labels])
        return cls._draw(values, counts, labels, name, ax, x, bands, many_threshold,
                         few_threshold, kwargs)


@_per_class_doc
class MetaWeightDisplay(_PerClassDisplay):
    """Per-class weights of meta-weighted training against class size.

    Jamal et al. (CVPR 2020) weight each training example by ``w_y + eps_i``:
    ``w_y`` is the class-balanced weight of its class, fixed by the class
    sizes (Cui et al.'s effective number), and ``eps_i`` a correction learned
    on a balanced development set. The display draws, per class, the mean of
    the weights ``w_y + eps_i`` the examples last received
    (``kind="example"``), or ``w_y`` itself (``kind="class"``); where the two
    differ, meta-learning changed the re-weighting.

    Parameters
    ----------
    weights : array-like of shape (n_classes,)
        The weight of each class.
    {per_class_params}

    Attributes
    ----------
    {per_class_attributes}

    Examples
    --------
    >>> from sklearn_lt.inspection import MetaWeightDisplay
    >>> disp = MetaWeightDisplay([0.6, 1.1, 2.4], [500, 50, 5]).plot()
    >>> disp.ax_.get_ylabel()
    'weight'
    """

    _value = "weights"
    _ylabel = "weight"
    _CLASS_WEIGHT = "class weight w_y (from the class sizes)"
    # (attribute, y-axis label) pairs, in the order each kind looks for them.
    _KINDS = {
        "example": [("mean_weight_per_class_",
                     "mean weight of the class's examples, w_y + eps_i")],
        "class": [("class_weights_", _CLASS_WEIGHT), ("meta_class_weights_", _CLASS_WEIGHT)],
    }

    def __init__(self, weights, class_counts, *, classes=None, name=None, many_threshold=100,
                 few_threshold=20):
        super().__init__(weights, class_counts, classes=classes, name=name,
                         many_threshold=many_threshold, few_threshold=few_threshold)

    @classmethod
    @_plot_doc
    def from_estimator(cls, estimator, *, kind="auto", name=None, ax=None, x="rank",
                       bands=True, many_threshold=100, few_threshold=20, **kwargs):
        """Weights of a fitted meta-weighted head or Backbone.

        Parameters
        ----------
        estimator : estimator object
            A fitted :class:`~sklearn_lt.heads.MetaWeightedClassifier`, a
            :class:`~sklearn_lt.Backbone` fitted with ``meta_epochs``
            (``meta_class_weights_``), or a Pipeline or search holding one.
        kind : {"auto", "example", "class"}, default="auto"
            ``"example"``: the mean per class of the example weights
            ``w_y + eps_i`` (``mean_weight_per_class_``, heads only);
            ``"class"``: the class weights ``w_y``; ``"auto"``: ``"example"``
            where the estimator has them, else ``"class"``.
        {plot_params}

        Returns
        -------
        display : MetaWeightDisplay
            The display, drawn.
        """
        if kind not in ("auto", *cls._KINDS):
            raise ValueError(f"kind must be 'auto', 'example' or 'class', got {kind!r}.")
        kinds = ("example", "class") if kind == "auto" else (kind,)
        for attribute, ylabel in (pair for k in kinds for pair in cls._KINDS[k]):
            owner = _search(estimator, attribute, set())
            if owner is None:
                continue
            display = cls._draw(getattr(owner, attribute),
                                _training_counts(estimator, owner.classes_), owner.classes_,
                                name if name is not None else _default_name(estimator), ax, x,
                                bands, many_threshold, few_threshold, kwargs)
            display.ax_.set_ylabel(ylabel)
            return display
        raise AttributeError(
            f"{type(estimator).__name__} holds no meta-weighting weights of kind {kind!r}: "
            "fit a MetaWeightedClassifier (either kind) or a Backbone with meta_epochs "
            "(kind='class') first."
        )
