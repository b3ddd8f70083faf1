"""The sampling vocabulary: strategy exponents, p_j = n_j^q / sum_k n_k^q, epoch length."""

import numpy as np
import pytest

from sklearn_lt.utils import class_epoch_length, power_class_probabilities, sampler_exponent


def test_sampler_exponent_names_and_numbers():
    assert sampler_exponent("instance") == 1.0
    assert sampler_exponent("class") == 0.0
    assert sampler_exponent("sqrt") == 0.5
    assert sampler_exponent("progressive") is None
    assert sampler_exponent(0.25) == 0.25 and isinstance(sampler_exponent(2), float)
    assert sampler_exponent(np.float32(3.0)) == 3.0


@pytest.mark.parametrize("bad, match", [
    (-0.5, "q must be a finite number >= 0"),
    (float("inf"), "q must be a finite number >= 0"),
    (float("nan"), "q must be a finite number >= 0"),
    ("balanced", "Unknown sampling strategy 'balanced'"),
    (True, "Unknown sampling strategy True"),
    (None, "Unknown sampling strategy None"),
])
def test_sampler_exponent_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        sampler_exponent(bad)


@pytest.mark.parametrize("q", [0.0, 0.5, 1.0, 2.0])
def test_power_class_probabilities_formula(q):
    counts = np.array([400, 100, 25, 5])
    p = power_class_probabilities(counts, q)
    np.testing.assert_allclose(p, counts**q / (counts**q).sum(), rtol=1e-12)
    assert p.sum() == pytest.approx(1.0, abs=1e-15)


def test_power_class_probabilities_special_cases():
    # q = 1 is exactly n_j / n; q = 0 exactly uniform.
    np.testing.assert_array_equal(power_class_probabilities([3, 1], 1), [0.75, 0.25])
    np.testing.assert_array_equal(power_class_probabilities([7, 2, 1], "class"), [1 / 3] * 3)
    np.testing.assert_allclose(power_class_probabilities([9, 1], "sqrt"), [0.75, 0.25])


def test_power_probabilities_do_not_overflow_for_large_q():
    # 50**200 overflows float64: the powers are taken relative to the largest class.
    p = power_class_probabilities([50, 49], 200)
    expected = np.array([1.0, (49 / 50) ** 200]) / (1 + (49 / 50) ** 200)
    np.testing.assert_allclose(p, expected, rtol=1e-12)
    p = power_class_probabilities([1000, 10], 400)  # (1/100)^400 underflows to 0
    np.testing.assert_array_equal(p, [1.0, 0.0])


@pytest.mark.parametrize("counts", [[], [3, 0], [3, -1], [[1, 2]], [1, np.inf]])
def test_power_class_probabilities_refuses_bad_counts(counts):
    with pytest.raises(ValueError, match="non-empty 1-D array of positive numbers"):
        power_class_probabilities(counts, 0.5)


def test_class_epoch_length_is_n_classes_times_largest_class():
    assert class_epoch_length([100, 10, 1]) == 300
    assert class_epoch_length(np.array([5, 5])) == 10
    assert isinstance(class_epoch_length(np.array([4, 1])), int)
