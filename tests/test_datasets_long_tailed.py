"""make_long_tailed: the CIFAR-LT protocol of sub-sampling a balanced data set."""

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_lt.datasets import make_long_tailed


def _balanced(n_classes, per_class, labels=None):
    y = np.repeat(np.arange(n_classes) if labels is None else np.asarray(labels), per_class)
    # Row i of X stores i, so the kept rows reveal the kept positions.
    X = np.arange(y.shape[0], dtype=np.int32).reshape(-1, 1)
    return X, y


def _formula(n_max, n_classes, imbalance_factor):
    return [int(n_max * imbalance_factor ** (-i / (n_classes - 1))) for i in range(n_classes)]


def _counts(y, labels):
    return [int(np.sum(y == c)) for c in labels]


# ---------------------------------------------------------------- published sizes
def test_cifar10_lt_if100_matches_published_size():
    X, y = _balanced(10, 5000)
    _, y_lt = make_long_tailed(X, y, imbalance_factor=100)
    # Cao et al. (2019) / Cui et al. (2019): CIFAR-10-LT with IF=100 has 12,406 images.
    assert _counts(y_lt, range(10)) == [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    assert _counts(y_lt, range(10)) == _formula(5000, 10, 100)
    assert y_lt.shape[0] == 12406


def test_cifar100_lt_if100_matches_published_size():
    X, y = _balanced(100, 500)
    _, y_lt = make_long_tailed(X, y, imbalance_factor=100)
    counts = _counts(y_lt, range(100))
    assert counts == _formula(500, 100, 100)
    assert counts[0] == 500 and counts[-1] == 5
    assert y_lt.shape[0] == 10847  # published CIFAR-100-LT (IF=100) size


def test_fashion_mnist_lt_if100():
    X, y = _balanced(10, 6000)
    _, y_lt = make_long_tailed(X, y, 100)
    assert _counts(y_lt, range(10)) == [6000, 3596, 2156, 1292, 774, 464, 278, 166, 100, 60]


@pytest.mark.parametrize("imbalance_factor", [1, 10, 50, 200, 7.5])
@pytest.mark.parametrize("n_classes", [2, 3, 10])
def test_exponential_profile_follows_formula(imbalance_factor, n_classes):
    X, y = _balanced(n_classes, 400)
    _, y_lt = make_long_tailed(X, y, imbalance_factor)
    counts = _counts(y_lt, range(n_classes))
    assert counts == _formula(400, n_classes, imbalance_factor)
    assert counts[0] == 400
    assert counts[-1] == int(400 / imbalance_factor)
    assert all(a >= b for a, b in zip(counts, counts[1:]))


@pytest.mark.parametrize(
    "n_classes, expected",
    [(10, [200] * 5 + [20] * 5), (5, [200, 200, 20, 20, 20]), (2, [200, 20])],
)
def test_step_profile_half_head_half_tail(n_classes, expected):
    X, y = _balanced(n_classes, 300)
    _, y_lt = make_long_tailed(X, y, 10, "step", n_max=200)
    assert _counts(y_lt, range(n_classes)) == expected


def test_step_profile_rounds_tail_down():
    X, y = _balanced(4, 100)
    _, y_lt = make_long_tailed(X, y, 3, profile="step")
    assert _counts(y_lt, range(4)) == [100, 100, 33, 33]


# ---------------------------------------------------------------- sampling
def test_kept_samples_follow_documented_seeded_shuffle():
    X, y = _balanced(4, 50)
    rng = np.random.default_rng(3)
    order = rng.permutation(y.shape[0])
    X, y = X[order], y[order]
    X_lt, y_lt, idx = make_long_tailed(X, y, 5, random_state=7, return_indices=True)

    ref = np.random.RandomState(7)
    expected = []
    for c, n in zip(range(4), _formula(50, 4, 5)):
        members = np.flatnonzero(y == c)
        expected.append(ref.permutation(members)[:n])
    np.testing.assert_array_equal(idx, np.sort(np.concatenate(expected)))
    assert idx.dtype == np.int64
    assert np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(X_lt, X[idx])
    np.testing.assert_array_equal(y_lt, y[idx])


def test_random_state_determinism():
    X, y = _balanced(5, 100)
    a = make_long_tailed(X, y, 10, random_state=0, return_indices=True)[2]
    b = make_long_tailed(X, y, 10, random_state=0, return_indices=True)[2]
    c = make_long_tailed(X, y, 10, random_state=1, return_indices=True)[2]
    np.testing.assert_array_equal(a, b)
    assert a.shape == c.shape and not np.array_equal(a, c)
    d = make_long_tailed(X, y, 10, random_state=np.random.RandomState(0), return_indices=True)[2]
    np.testing.assert_array_equal(a, d)


def test_class_order_sets_head_and_string_labels():
    labels = ["ant", "bee", "cat", "dog"]
    X, y = _balanced(4, 100, labels)
    order = ["dog", "ant", "cat", "bee"]
    _, y_lt = make_long_tailed(X, y, 10, class_order=order)
    assert _counts(y_lt, order) == _formula(100, 4, 10)


def test_n_max_defaults_to_the_largest_head_the_classes_allow_and_is_checked():
    y = np.repeat([0, 1, 2], [80, 120, 60])
    X = np.zeros((y.shape[0], 2))
    # Ratios 1, 1/2, 1/4: the head (80) binds, the others have room to spare.
    _, y_lt = make_long_tailed(X, y, 4)
    assert _counts(y_lt, range(3)) == _formula(80, 3, 4)  # [80, 40, 20]
    # Here the middle class binds: 50 / (1/2) = 100 < 120 of the head.
    y2 = np.repeat([0, 1, 2], [120, 50, 60])
    _, y_lt = make_long_tailed(np.zeros((y2.shape[0], 2)), y2, 4)
    assert _counts(y_lt, range(3)) == [100, 50, 25]
    # Step profile: the head half keeps the smallest head-half size.
    _, y_lt = make_long_tailed(np.zeros((y2.shape[0], 2)), y2, 4, "step", class_order=[0, 2, 1])
    assert _counts(y_lt, [0, 2, 1]) == [120, 30, 30]
    _, y_lt = make_long_tailed(X, y, 4, n_max=80)
    assert _counts(y_lt, range(3)) == [80, 40, 20]
    with pytest.raises(ValueError, match=r"n_max=81 exceeds the 80 samples of the head class 0"):
        make_long_tailed(X, y, 4, n_max=81)
    # A tail class is checked too: with IF=1 class 0 (80 samples) would need 120.
    _, y_lt = make_long_tailed(X, y, 4, n_max=120, class_order=[1, 0, 2])
    assert _counts(y_lt, [1, 0, 2]) == [120, 60, 30]
    with pytest.raises(ValueError, match=r"Class 0 \(position 1 in class_order\) has 80 samples"):
        make_long_tailed(X, y, 1, n_max=120, class_order=[1, 0, 2])


# ---------------------------------------------------------------- input types
def test_keeps_dtype_and_trailing_shape():
    y = np.repeat(np.arange(3), 20)
    X = np.random.RandomState(0).randint(0, 255, size=(60, 3, 4, 4)).astype(np.uint8)
    X_lt, y_lt, idx = make_long_tailed(X, y, 4, return_indices=True)
    assert X_lt.dtype == np.uint8 and X_lt.shape == (len(idx), 3, 4, 4)
    np.testing.assert_array_equal(X_lt, X[idx])


def test_accepts_lists_dataframes_and_sparse():
    pd = pytest.importorskip("pandas")
    X, y = _balanced(3, 10)
    ref_X, ref_y, idx = make_long_tailed(X, y, 5, return_indices=True)

    X_list, y_list = make_long_tailed(X.tolist(), y.tolist(), 5)
    np.testing.assert_array_equal(X_list, ref_X)
    np.testing.assert_array_equal(y_list, ref_y)

    df = pd.DataFrame({"a": X[:, 0], "b": X[:, 0] * 2.0}, index=np.arange(100, 130))
    df_lt, _ = make_long_tailed(df, pd.Series(y), 5)
    assert isinstance(df_lt, pd.DataFrame)
    np.testing.assert_array_equal(df_lt.index, 100 + idx)

    X_sp, _ = make_long_tailed(sp.csr_matrix(X.astype(float)), y, 5)
    assert sp.issparse(X_sp)
    np.testing.assert_array_equal(X_sp.toarray(), ref_X)


# ---------------------------------------------------------------- errors
def test_errors():
    X, y = _balanced(3, 10)
    with pytest.raises(ValueError, match="imbalance_factor"):
        make_long_tailed(X, y, 0.5)
    with pytest.raises(ValueError, match="profile"):
        make_long_tailed(X, y, 10, "linear")
    Xf = X.astype(float)
    Xf[4, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        make_long_tailed(Xf, y, 2)
    with pytest.raises(ValueError, match="same number of samples, got 29 and 30"):
        make_long_tailed(X[:-1], y, 2)
    with pytest.raises(ValueError, match=r"not in y: \[7\], missing from class_order: \[2\]"):
        make_long_tailed(X, y, 2, class_order=[0, 1, 7])
    with pytest.raises(ValueError, match="exactly once"):
        make_long_tailed(X, y, 2, class_order=[0, 1, 2, 2])
    with pytest.raises(ValueError, match="at least 2 classes"):
        make_long_tailed(X, np.zeros(30), 2)
    with pytest.raises(ValueError, match="tail classes would get 0 samples"):
        make_long_tailed(X, y, 11)  # n_max=10: int(10 / 11) == 0
    with pytest.raises(ValueError, match="1-dimensional"):
        make_long_tailed(X, y.reshape(-1, 1), 2)


def test_integer_input_is_not_nan_checked_and_imbalance_one_is_balanced():
    X, y = _balanced(3, 10)
    _, y_lt = make_long_tailed(X, y, 1, n_max=7)
    assert _counts(y_lt, range(3)) == [7, 7, 7]


# ---------------------------------------------------------------- label checks
@pytest.mark.parametrize("dev_size", [None, 2])
def test_refuses_missing_labels(dev_size):
    X, _ = _balanced(3, 10)
    y = np.repeat([0.0, 1.0, np.nan], 10)  # NaN was kept as a third class
    with pytest.raises(ValueError, match=r"y must hold class labels.*contains NaN"):
        make_long_tailed(X, y, 2, dev_size=dev_size)
    # Missing values in object labels (pandas' None / NaN): a raw TypeError before.
    for missing in (None, np.nan):
        y = np.array(["a"] * 10 + ["b"] * 10 + [missing] * 10, dtype=object)
        with pytest.raises(ValueError, match=r"y holds missing labels \(None or NaN\), "
                                             r"first at position 20"):
            make_long_tailed(X, y, 2, dev_size=dev_size)


@pytest.mark.parametrize("dev_size", [None, 2])
def test_refuses_continuous_labels(dev_size):
    X, _ = _balanced(3, 10)
    y = np.random.RandomState(0).rand(30)  # 30 "classes" of one sample, kept whole at IF=1
    with pytest.raises(ValueError, match=r"y must hold class labels.*continuous"):
        make_long_tailed(X, y, 1, dev_size=dev_size)


def test_refuses_labels_of_mixed_types():
    X, _ = _balanced(3, 10)
    y = np.array(["a"] * 10 + [1] * 10 + ["c"] * 10, dtype=object)
    with pytest.raises(ValueError, match="y must hold class labels"):
        make_long_tailed(X, y, 2)


def test_integral_float_labels_are_classes():
    X, y = _balanced(3, 10)
    _, y_lt = make_long_tailed(X, y.astype(float), 2)
    assert _counts(y_lt, [0.0, 1.0, 2.0]) == _formula(10, 3, 2)
