"""A small long-tailed data set built from scikit-learn's bundled digits."""

from numbers import Integral, Real

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._long_tailed import make_long_tailed

__all__ = ["load_digits_lt"]


@validate_params(
    {
        "imbalance_factor": [Interval(Real, 1, None, closed="left")],
        "n_test_per_class": [Interval(Integral, 1, None, closed="left")],
        "profile": [StrOptions({"exponential", "step"})],
        "random_state": ["random_state"],
        "as_images": ["boolean"],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_digits_lt(*, imbalance_factor=20, n_test_per_class=30, profile="exponential",
                   random_state=0, as_images=False, return_X_y=False):
    """Long-tailed train set and balanced test set from the 8x8 digits.

    scikit-learn's bundled digits (1,797 images, 174 to 183 per class; no
    download) are split per class into a balanced test set of
    ``n_test_per_class`` images (a seeded shuffle) and a train pool, which
    :func:`make_long_tailed` then sub-samples with ``n_max`` equal to the
    smallest pool (144 with the defaults) and digit 0 as the head class.

    With the defaults (``imbalance_factor=20``, ``n_test_per_class=30``,
    exponential profile) the train class counts of digits 0..9 are
    ``[144, 103, 74, 53, 38, 27, 19, 14, 10, 7]`` (489 images): 2 many-shot
    classes (more than 100 images), 4 medium-shot (20 to 100) and 4 few-shot
    (fewer than 20), the splits used by Kang et al. (2020), with at least 7
    images per class. The test set has 300 images.

    Parameters
    ----------
    imbalance_factor : float, default=20
        Ratio between the largest and the smallest train class.
    n_test_per_class : int, default=30
        Test images held out per class, at most 173.
    profile : {"exponential", "step"}, default="exponential"
        Class-size curve, see :func:`make_long_tailed`.
    random_state : int, RandomState instance or None, default=0
        Seeds the test hold-out, then the long-tailed sub-sampling.
    as_images : bool, default=False
        Return images of shape (n, 1, 8, 8) instead of flat (n, 64) rows.
    return_X_y : bool, default=False
        Return ``(X_train, y_train, X_test, y_test)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X_train``, ``X_test``: float32 in [0, 1] (pixel / 16), of shape
        (n, 64) or (n, 1, 8, 8); ``y_train``, ``y_test``: int64 digits in
        their original order; ``class_counts``: train images per class;
        ``target_names``: the digits 0..9; ``DESCR``.
    (X_train, y_train, X_test, y_test) : tuple
        When ``return_X_y=True``.

    Examples
    --------
    >>> from sklearn_lt.datasets import load_digits_lt
    >>> digits = load_digits_lt()
    >>> digits.class_counts.tolist()
    [144, 103, 74, 53, 38, 27, 19, 14, 10, 7]
    >>> digits.X_train.shape, digits.X_test.shape
    ((489, 64), (300, 64))
    """
    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    classes, available = np.unique(y, return_counts=True)
    if n_test_per_class >= available.min():
        raise ValueError(
            f"n_test_per_class={n_test_per_class} leaves no train images for the "
            f"smallest digit class ({available.min()} images); use at most "
            f"{available.min() - 1}."
        )

    # One generator for both stages, so that a single seed fixes the split
    # and the sub-sample without the two reusing the same random stream.
    rng = check_random_state(random_state)
    test_idx = []
    for c in classes:
        members = np.flatnonzero(y == c)
        test_idx.append(members[rng.permutation(members.shape[0])[:n_test_per_class]])
    test_idx = np.sort(np.concatenate(test_idx))
    pool_idx = np.setdiff1d(np.arange(y.shape[0]), test_idx)

    # The head is the smallest pool (144 with the defaults), as documented;
    # make_long_tailed's own default would keep more of digit 0.
    n_max = int(np.unique(y[pool_idx], return_counts=True)[1].min())
    _, _, kept = make_long_tailed(
        X[pool_idx], y[pool_idx], imbalance_factor, profile, n_max=n_max,
        random_state=rng, return_indices=True,
    )
    train_idx = pool_idx[kept]
    X_train, y_train = X[train_idx], y[train_idx]
    X_test, y_test = X[test_idx], y[test_idx]
    if as_images:
        X_train, X_test = X_train.reshape(-1, 1, 8, 8), X_test.reshape(-1, 1, 8, 8)
    if return_X_y:
        return X_train, y_train, X_test, y_test
    counts = np.bincount(y_train, minlength=classes.shape[0]).astype(np.int64)
    return Bunch(
        X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
        class_counts=counts, target_names=classes.copy(),
        DESCR=(
            "Long-tailed 8x8 digits (scikit-learn's load_digits): "
            f"{profile} profile, imbalance factor {imbalance_factor}, train counts "
            f"{counts.tolist()}, {n_test_per_class} test images per class."
        ),
    )
