"""load_digits_lt: scikit-learn's digits made long-tailed, with a balanced test set."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from sklearn_lt.datasets import load_digits_lt


def _formula(n_max, n_classes, imbalance_factor):
    return [int(n_max * imbalance_factor ** (-i / (n_classes - 1))) for i in range(n_classes)]


def _positions(X_rows, all_rows):
    # load_digits has no duplicate image, so a row identifies its sample.
    lookup = {row.tobytes(): i for i, row in enumerate(all_rows)}
    return np.array([lookup[row.tobytes()] for row in X_rows])


def test_load_digits_lt_default_splits():
    data = load_digits_lt()
    expected = _formula(144, 10, 20)  # smallest pool: 174 images of digit 8 minus 30
    assert expected == [144, 103, 74, 53, 38, 27, 19, 14, 10, 7]
    assert data.class_counts.tolist() == expected
    assert np.bincount(data.y_train).tolist() == expected
    counts = data.class_counts
    many, few = counts > 100, counts < 20
    assert many.any() and few.any() and (~many & ~few).any()
    assert counts.min() >= 2
    assert np.bincount(data.y_test).tolist() == [30] * 10
    assert data.X_train.dtype == np.float32 and data.X_train.shape == (489, 64)
    assert data.X_train.min() >= 0 and data.X_train.max() == 1.0
    assert data.target_names.tolist() == list(range(10))
    assert "[144, 103, 74" in data.DESCR

    digits = load_digits()
    all_rows = (digits.data / 16.0).astype(np.float32)
    train_pos = _positions(data.X_train, all_rows)
    test_pos = _positions(data.X_test, all_rows)
    assert not set(train_pos) & set(test_pos)
    np.testing.assert_array_equal(digits.target[train_pos], data.y_train)
    np.testing.assert_array_equal(digits.target[test_pos], data.y_test)
    assert np.all(np.diff(train_pos) > 0) and np.all(np.diff(test_pos) > 0)


def test_load_digits_lt_options():
    X_tr, y_tr, X_te, y_te = load_digits_lt(return_X_y=True, as_images=True, random_state=3)
    assert X_tr.shape == (489, 1, 8, 8) and X_te.shape == (300, 1, 8, 8)
    flat = load_digits_lt(random_state=3)
    np.testing.assert_array_equal(X_tr.reshape(-1, 64), flat.X_train)
    np.testing.assert_array_equal(y_te, flat.y_test)
    other = load_digits_lt(random_state=4)
    assert not np.array_equal(other.X_test, flat.X_test)

    step = load_digits_lt(profile="step", imbalance_factor=10, n_test_per_class=50)
    assert step.class_counts.tolist() == [124] * 5 + [12] * 5
    assert np.bincount(step.y_test).tolist() == [50] * 10


def test_load_digits_lt_errors():
    with pytest.raises(ValueError, match="use at most 173"):
        load_digits_lt(n_test_per_class=174)
    with pytest.raises(ValueError, match="imbalance_factor"):
        load_digits_lt(imbalance_factor=0)
