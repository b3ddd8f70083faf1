"""Calibration metrics: expected calibration error, its bins, and the negative log-likelihood."""

import numpy as np
import pytest
from sklearn.metrics import log_loss

from sklearn_lt.metrics import (
    calibration_bins,
    expected_calibration_error,
    negative_log_likelihood,
)

# Four samples whose confidences fall in four different bins of 15.
PROBA4 = np.array([[0.9, 0.1], [0.65, 0.35], [0.25, 0.75], [0.42, 0.58]])
Y4 = np.array([0, 1, 1, 0])  # right, wrong, right, wrong


def test_ece_hand_computed():
    # One sample per bin: ECE = mean |correct - confidence|.
    expected = (abs(1 - 0.9) + abs(0 - 0.65) + abs(1 - 0.75) + abs(0 - 0.58)) / 4
    assert expected_calibration_error(Y4, PROBA4) == pytest.approx(expected)  # 0.395
    # One bin: |mean accuracy - mean confidence| = |0.5 - 0.72|.
    assert expected_calibration_error(Y4, PROBA4, n_bins=1) == pytest.approx(0.22)


def test_ece_shared_bin_three_classes():
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.15, 0.75], [0.35, 0.33, 0.32]])
    y = np.array([0, 1, 0])  # right, wrong, right
    # 5 bins: 0.7 and 0.75 share (0.6, 0.8] (acc 0.5, conf 0.725); 0.35 in (0.2, 0.4].
    expected = 2 / 3 * abs(0.5 - 0.725) + 1 / 3 * abs(1 - 0.35)
    # Class 2 is never the true label: labels tells which column is which.
    assert expected_calibration_error(y, proba, n_bins=5, labels=[0, 1, 2]) == (
        pytest.approx(expected)
    )
    bins = calibration_bins(y, proba, n_bins=5, labels=[0, 1, 2])
    assert bins.bin_counts.tolist() == [0, 1, 0, 2, 0]
    assert np.allclose(bins.bin_accuracy[[1, 3]], [1.0, 0.5])
    assert np.allclose(bins.bin_confidence[[1, 3]], [0.35, 0.725])
    assert np.isnan(bins.bin_accuracy[[0, 2, 4]]).all()
    assert np.allclose(bins.bin_edges, [0, 0.2, 0.4, 0.6, 0.8, 1.0])


def test_calibration_bins_are_right_closed():
    # Confidence exactly 0.5 belongs to (0.25, 0.5], 1.0 to the last bin.
    proba = np.array([[0.5, 0.5], [1.0, 0.0], [0.75, 0.25]])
    bins = calibration_bins([0, 0, 0], proba, n_bins=4, labels=[0, 1])
    assert bins.bin_counts.tolist() == [0, 1, 1, 1]


def test_ece_matches_definition_on_random_data():
    rng = np.random.RandomState(0)
    logits = rng.randn(500, 5) * 2
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = rng.randint(0, 5, size=500)
    conf, correct = proba.max(axis=1), proba.argmax(axis=1) == y
    expected = 0.0
    for lo, hi in zip(np.linspace(0, 1, 16)[:-1], np.linspace(0, 1, 16)[1:]):
        in_bin = (conf > lo) & (conf <= hi)
        if in_bin.any():
            expected += in_bin.mean() * abs(correct[in_bin].mean() - conf[in_bin].mean())
    assert expected_calibration_error(y, proba) == pytest.approx(expected)


def test_ece_zero_for_confident_correct_predictions():
    assert expected_calibration_error([0, 2, 1], np.eye(3)[[0, 2, 1]]) == 0.0
    assert expected_calibration_error([0, 2, 1], np.eye(3)[[1, 0, 2]]) == 1.0


def test_labels_align_columns_and_strings():
    proba = PROBA4[:, ::-1]
    labels = ["yes", "no"]
    y = np.array(["no", "yes", "yes", "no"])  # same correctness as Y4
    assert expected_calibration_error(y, proba, labels=labels) == pytest.approx(
        expected_calibration_error(Y4, PROBA4)
    )
    assert negative_log_likelihood(y, proba, labels=labels) == pytest.approx(
        negative_log_likelihood(Y4, PROBA4)
    )


def test_nll_hand_computed_and_clipped():
    assert negative_log_likelihood(Y4, PROBA4) == pytest.approx(
        -np.mean(np.log([0.9, 0.35, 0.75, 0.42]))
    )
    # A confident mistake costs -log(eps) instead of infinity.
    nll = negative_log_likelihood([0, 1], [[1.0, 0.0], [1.0, 0.0]])
    assert nll == pytest.approx(-np.log(np.finfo(np.float64).eps) / 2)
    assert negative_log_likelihood([1], [[1.0, 0.0]], labels=[0, 1], eps=1e-3) == (
        pytest.approx(-np.log(1e-3))
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nll_equals_sklearn_log_loss(dtype):
    rng = np.random.RandomState(2)
    logits = rng.randn(200, 4)
    proba = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(dtype)
    y = rng.randint(0, 4, size=200)
    assert negative_log_likelihood(y, proba) == pytest.approx(
        log_loss(y, proba), rel=1e-6
    )
    # labels beyond the classes present in y_true
    y_sub = np.where(y == 3, 2, y)
    assert negative_log_likelihood(y_sub, proba, labels=[0, 1, 2, 3]) == pytest.approx(
        log_loss(y_sub, proba, labels=[0, 1, 2, 3]), rel=1e-6
    )


def test_binary_one_dimensional_proba():
    p1 = np.array([0.1, 0.35, 0.75, 0.58])
    assert negative_log_likelihood(Y4, p1) == pytest.approx(log_loss(Y4, p1))
    assert expected_calibration_error(Y4, p1) == pytest.approx(
        expected_calibration_error(Y4, PROBA4)
    )


@pytest.mark.parametrize("func", [expected_calibration_error, negative_log_likelihood])
@pytest.mark.parametrize(
    "y, proba, kwargs, match",
    [
        ([0, 1, 1], np.full((3, 3), 1 / 3), {}, "3 columns but there are 2 classes"),
        ([0, 1], [[1.2, -0.2], [0.5, 0.5]], {}, r"must lie in \[0, 1\]"),
        ([0, 1], [[0.6, 0.6], [0.5, 0.5]], {}, "sum to 1"),
        ([0, 1], [[np.nan, 0.5], [0.5, 0.5]], {}, "NaN"),
        ([0, 2], [[0.5, 0.5], [0.5, 0.5]], {"labels": [0, 1]}, "not in labels"),
        ([0, 1, 2], [0.5, 0.5, 0.5], {}, "1-D y_proba"),
        ([0, 1], [[0.5, 0.5], [0.5, 0.5]], {"labels": [0, 0]}, "duplicates"),
        ([0, 1, 1], [[0.5, 0.5], [0.5, 0.5]], {}, "inconsistent numbers"),
    ],
)
def test_proba_errors(func, y, proba, kwargs, match):
    with pytest.raises(ValueError, match=match):
        func(y, proba, **kwargs)


def test_ece_n_bins_validated():
    with pytest.raises(ValueError, match="n_bins"):
        expected_calibration_error(Y4, PROBA4, n_bins=0)
