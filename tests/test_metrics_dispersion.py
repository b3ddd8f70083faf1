"""metrics.dispersion: the spread of stochastic copies per input, against hand computation."""

import numpy as np
import pytest

from sklearn_lt.metrics import dispersion


def test_dispersion_by_hand():
    # Input 0: copies (0, 0), (2, 0), (4, 0) -> mean (2, 0), squared distances
    # 4, 0, 4 -> absolute 8/3, relative (8/3) / 4. Input 1: all copies (1, 1).
    S = np.array([[[0.0, 0.0], [1.0, 1.0]],
                  [[2.0, 0.0], [1.0, 1.0]],
                  [[4.0, 0.0], [1.0, 1.0]]])
    np.testing.assert_allclose(dispersion(S, relative=False), [8 / 3, 0.0], rtol=1e-15)
    np.testing.assert_allclose(dispersion(S), [2 / 3, 0.0], rtol=1e-15)


def test_relative_dispersion_is_scale_free_and_absolute_is_not():
    rng = np.random.RandomState(0)
    S = rng.randn(10, 4, 3) + 5.0
    # Scaling by 10 multiplies every squared distance and squared norm by 100
    # exactly in exact arithmetic; float64 rounding leaves ~1e-15 relative.
    np.testing.assert_allclose(dispersion(10 * S), dispersion(S), rtol=1e-12)
    np.testing.assert_allclose(dispersion(10 * S, relative=False),
                               100 * dispersion(S, relative=False), rtol=1e-12)


def test_a_single_copy_has_no_dispersion():
    S = np.random.RandomState(1).randn(1, 5, 3)
    np.testing.assert_array_equal(dispersion(S), np.zeros(5))


@pytest.mark.parametrize("bad, match", [
    (np.zeros((4, 3)), r"shape \(M, n_inputs, d\)"),
    (np.full((2, 2, 2), np.nan), "NaN"),
])
def test_bad_samples_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        dispersion(bad)
