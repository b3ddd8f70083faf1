"""Power-law class resampling: p_j proportional to n_j ** q (Kang et al., 2020)."""

from collections import OrderedDict
from numbers import Integral

import numpy as np
from imblearn.base import BaseSampler
from imblearn.utils import check_target_type
from sklearn.base import _fit_context
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_consistent_length, validate_data

from ..utils import check_long_tailed_targets, power_class_probabilities
from ..utils._sampling import Q_CONSTRAINT


def _largest_remainder(quotas, total):
    """Round non-negative ``quotas`` to integers summing exactly to ``total``.

    Each entry gets its floor; the ``total - sum(floors)`` leftover units go to
    the largest fractional parts, ties to the earlier entry.
    """
    floors = np.floor(quotas).astype(np.int64)
    remainders = quotas - floors
    # A quota one ulp below an integer (n * p_j for q=1 often lands on
    # 2.9999999999999996) is that integer; without this the tie-breaking
    # order, not the data, would decide which class gets the unit.
    nearly_whole = remainders > 1.0 - 1e-9
    floors[nearly_whole] += 1
    remainders[nearly_whole] = 0.0
    short = int(total - floors.sum())
    order = np.argsort(-remainders, kind="stable")
    floors[order[:short]] += 1
    return floors


def _is_dataframe(X):
    return hasattr(X, "columns") and hasattr(X, "iloc")


def _flat_shape(X):
    """``X`` itself, or for N-D arrays a data-less stand-in of shape
    (n_samples, product of the other dimensions): n_features_in_ then counts
    features as Backbone does, without copying the images to flatten them."""
    if getattr(X, "ndim", 2) <= 2:
        return X
    return np.broadcast_to(np.zeros((), dtype=X.dtype), (X.shape[0], int(np.prod(X.shape[1:]))))


class PowerResampler(BaseSampler):
    """Resample every class to a share proportional to ``n_j ** q``.

    The sampling schemes of Kang et al. (ICLR 2020, "Decoupling representation
    and classifier for long-tailed recognition") draw class ``j`` with
    probability ``p_j = n_j**q / sum_k n_k**q``: ``q=1`` is instance-balanced
    (the data as it is), ``q=0.5`` square-root and ``q=0`` class-balanced
    sampling. This sampler materialises that distribution as a fixed data set
    for any scikit-learn estimator: class ``j`` gets exactly ``n'_j`` rows,
    where ``n'_j`` is ``N * p_j`` rounded by the largest-remainder method (every
    class gets ``floor(N p_j)``; the leftover rows go to the largest fractional
    parts, ties to the class that sorts first), so that the counts sum to
    exactly ``N``.

    Classes with fewer rows than ``n'_j`` are over-sampled, classes with more
    are under-sampled without replacement (see ``replacement``).

    Parameters
    ----------
    q : float, default=0.0
        Power applied to the class counts, ``q >= 0``. ``0`` gives every class
        the same number of rows, ``0.5`` square-root sampling, ``1`` keeps the
        class proportions (and, with ``n_samples=None`` and
        ``replacement != True``, returns the data unchanged); ``q > 1``
        sharpens the imbalance.
    n_samples : int, default=None
        Total number of rows ``N`` after resampling. ``None`` keeps the
        original number of rows.
    replacement : {"auto", True, False}, default="auto"
        How rows are drawn for a class whose target ``n'_j`` differs from its
        size ``n_j``:

        - ``"auto"``: a class above its target keeps a random subset of
          ``n'_j`` rows (no repeats); a class below its target keeps all its
          rows and adds ``n'_j - n_j`` rows drawn with replacement from them,
          like :class:`~imblearn.over_sampling.RandomOverSampler`.
        - ``False``: as ``"auto"``, except that the added rows are whole
          copies of the class followed by a subset without replacement, so
          each row of an over-sampled class appears
          ``floor(n'_j / n_j)`` or ``ceil(n'_j / n_j)`` times (the smallest
          possible spread, as a class-aware sampler cycling through each
          class would give).
        - ``True``: every class is a bootstrap: ``n'_j`` rows drawn with
          replacement, original rows are not guaranteed to be kept.
    random_state : int, RandomState instance or None, default=None
        Seeds the row selection. Pass an int for reproducible output.

    Attributes
    ----------
    sampling_strategy_ : OrderedDict
        Target number of rows per class after resampling, ``{class: n'_j}``,
        in sorted class order. Unlike imbalanced-learn's over-samplers, whose
        ``sampling_strategy_`` counts the rows *added*, these are totals.
    classes_ : ndarray of shape (n_classes,)
        Class labels of the input, sorted.
    class_counts_ : ndarray of shape (n_classes,)
        Rows per class in the input, *before* resampling. A classifier after
        this sampler in a pipeline sees the resampled counts; the shot-split
        scorers read these instead (:func:`sklearn_lt.utils.class_counts_of`
        takes the first step of a pipeline that has them), so that "many",
        "medium" and "few" keep meaning the original training sizes.
    sample_indices_ : ndarray of shape (N,)
        Row of the input each output row was taken from (set by
        :meth:`fit_resample` only). Rows kept from the
        input come first, in their original order, followed by the added
        rows grouped by class; with ``replacement=True`` all rows are draws,
        grouped by class.
    n_features_in_ : int
        Number of features seen during fit; for N-D input, the product of a
        sample's dimensions (``C * H * W`` for images), as ``Backbone`` counts.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    imblearn.over_sampling.RandomOverSampler : Over-sample to balance classes.
    imblearn.under_sampling.RandomUnderSampler : Under-sample to balance classes.
    sklearn_lt.utils.power_class_probabilities : The ``p_j`` used here.

    Notes
    -----
    Rows are only copied, never combined, so ``X`` may hold NaN, infinities
    or non-numeric (e.g. string) features, or be an N-D array such as images
    of shape (N, C, H, W), so that the sampler can stand in front of
    :class:`~sklearn_lt.Backbone` in an imbalanced-learn pipeline; validating
    those is left to the next step of the pipeline, as in
    ``RandomOverSampler``.

    A class with a single row is accepted: over-sampling it only repeats that
    row, which is what class-balanced sampling of such a class means. A
    target ``y`` with only one class, or a combination of ``q`` and
    ``n_samples`` that leaves a class with zero rows, is refused.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt.resampling import PowerResampler
    >>> X = np.arange(20).reshape(-1, 1)
    >>> y = np.array([0] * 16 + [1] * 4)
    >>> X_res, y_res = PowerResampler(q=0.0, random_state=0).fit_resample(X, y)
    >>> np.bincount(y_res)
    array([10, 10])
    >>> X_res, y_res = PowerResampler(q=0.5, random_state=0).fit_resample(X, y)
    >>> np.bincount(y_res)
    array([13,  7])
    """

    # BaseSampler.fit_resample hands ``self.sampling_strategy`` to imblearn's
    # check_sampling_strategy, which returns it untouched for "bypass"
    # samplers. The per-class targets follow from ``q`` instead, so this is a
    # fixed class attribute, not a parameter, and _fit_resample replaces the
    # placeholder it produces with the real targets.
    _sampling_type = "bypass"
    sampling_strategy = "power"

    _parameter_constraints: dict = {
        "q": [Q_CONSTRAINT],
        "n_samples": [Interval(Integral, 1, None, closed="left"), None],
        "replacement": [StrOptions({"auto"}), "boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, q=0.0, *, n_samples=None, replacement="auto", random_state=None):
        self.q = q
        self.n_samples = n_samples
        self.replacement = replacement
        self.random_state = random_state

    def _check_X_y(self, X, y, accept_sparse=None):
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        if not _is_dataframe(X):
            # allow_nd: rows are only copied, so images (N, C, H, W) can be resampled
            # in front of the image Backbone; 2-D and sparse input get the same
            # checks as before, and a 1-D X is still refused.
            X = check_array(
                X, dtype=None, accept_sparse=["csr", "csc"], ensure_all_finite=False,
                allow_nd=True,
            )
        elif X.shape[0] < 1:
            raise ValueError("Found a DataFrame with 0 rows; at least 1 is required.")
        check_consistent_length(X, y)
        # Refuse a bad y (one class, a class left with no rows) before
        # validate_data resets n_features_in_, and before BaseSampler.fit_resample
        # overwrites sampling_strategy_: a failed call leaves a fitted sampler intact.
        self._target_counts(y)
        validate_data(self, X=_flat_shape(X), y=y, reset=True, skip_check_array=True)
        return X, y, binarize_y

    def _target_counts(self, y):
        """Validate ``y``; return (y_encoded, counts, targets, sampling_strategy)."""
        classes, y_encoded, counts = check_long_tailed_targets(y, min_samples_per_class=1)
        total = int(counts.sum()) if self.n_samples is None else int(self.n_samples)
        quotas = total * power_class_probabilities(counts, self.q)
        targets = _largest_remainder(quotas, total)
        if np.any(targets == 0):
            empty = ", ".join(repr(c) for c in classes[targets == 0].tolist())
            raise ValueError(
                f"With q={self.q} and {total} rows in total, class {empty} would "
                f"receive no rows after resampling. Increase n_samples or lower q."
            )
        strategy = OrderedDict(zip(classes.tolist(), targets.tolist()))
        return y_encoded, counts, targets, strategy, classes

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Validate the data and compute the per-class targets.

        Use :meth:`fit_resample` to obtain the resampled data.

        Parameters
        ----------
        X : {array-like, dataframe, sparse matrix} of shape (n_samples, n_features) \
                or (n_samples, ...)
            Data to resample; an N-D array (images (N, C, H, W) for instance)
            is resampled along its first axis.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : object
            Fitted sampler.
        """
        X, y, _ = self._check_X_y(X, y)
        _, counts, _, strategy, classes = self._target_counts(y)
        self.sampling_strategy_ = strategy
        self.classes_, self.class_counts_ = classes, counts
        # Indices of an earlier fit_resample would describe other data.
        self.__dict__.pop("sample_indices_", None)
        return self

    def _fit_resample(self, X, y):
        y_encoded, counts, targets, strategy, classes = self._target_counts(y)
        rng = check_random_state(self.random_state)

        kept, added = [], []
        for k, (n_k, t_k) in enumerate(zip(counts, targets)):
            rows = np.flatnonzero(y_encoded == k)
            if self.replacement is True:
                added.append(rng.choice(rows, size=t_k, replace=True))
            elif t_k <= n_k:
                kept.append(rows if t_k == n_k else rng.choice(rows, size=t_k, replace=False))
            else:
                kept.append(rows)
                n_extra = t_k - n_k
                if self.replacement == "auto":
                    added.append(rng.choice(rows, size=n_extra, replace=True))
                else:
                    copies, rest = divmod(n_extra, n_k)
                    added.append(np.concatenate(
                        [np.tile(rows, copies), rng.choice(rows, size=rest, replace=False)]
                    ))
        kept = np.sort(np.concatenate(kept)) if kept else np.empty(0, dtype=np.intp)
        indices = np.concatenate([kept, *added]).astype(np.intp, copy=False)

        self.sampling_strategy_ = strategy
        self.classes_, self.class_counts_ = classes, counts
        self.sample_indices_ = indices
        return _safe_indexing(X, indices), _safe_indexing(y, indices)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.sampler_tags.sample_indices = True
        return tags
