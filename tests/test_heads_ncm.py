"""Nearest class mean (NCM) head, checked against distances and temperatures by hand."""

import math

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_lt.heads import NCMClassifier


def test_ncm_euclidean_raw_features_by_hand():
    X = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0], [10.0, 12.0]])
    y = np.array(["a", "a", "b", "b"])
    ncm = NCMClassifier(normalize=None, temperature=1.0).fit(X, y)
    np.testing.assert_allclose(ncm.centroids_, [[1.0, 0.0], [10.0, 11.0]])
    np.testing.assert_array_equal(ncm.center_, [0.0, 0.0])
    x = np.array([[1.0, 1.0]])
    d = np.array([1.0, math.sqrt(81 + 100)])
    # Two classes: decision is score_b - score_a = d_a - d_b.
    np.testing.assert_allclose(ncm.decision_function(x), [d[0] - d[1]])
    np.testing.assert_allclose(ncm.predict_proba(x), softmax(-d)[None])
    assert ncm.predict(x).tolist() == ["a"]
    ncm.set_params(temperature=4.0)
    np.testing.assert_allclose(ncm.predict_proba(x), softmax(-d / 4.0)[None])


def test_ncm_auto_temperature_minimises_class_balanced_training_nll():
    rng = np.random.RandomState(0)
    # Overlapping clusters, 3:1 imbalanced, so the optimum is finite and the
    # class weighting matters.
    X = np.r_[rng.randn(60, 2) * 1.5 + [1, 0], rng.randn(20, 2) * 1.5 - [1, 0]]
    y = np.r_[np.zeros(60, int), np.ones(20, int)]
    ncm = NCMClassifier(normalize=None).fit(X, y)
    d = np.sqrt(((X[:, None, :] - ncm.centroids_[None]) ** 2).sum(-1))
    w = np.where(y == 0, 1 / 60, 1 / 20)

    def balanced_nll(t):
        logp = -d / t - np.log(np.exp(-d / t).sum(1, keepdims=True))
        return -(w * logp[np.arange(80), y]).sum() / w.sum()

    grid = np.exp(np.linspace(np.log(0.05), np.log(50), 4001))
    best = grid[np.argmin([balanced_nll(t) for t in grid])]
    assert ncm.temperature_ == pytest.approx(best, rel=5e-3)
    assert 0.05 < ncm.temperature_ < 50
    # Plain (unweighted) NLL has a different minimiser: the weighting is used.
    plain = grid[np.argmin([-(np.log(softmax(-d / t, axis=1))[np.arange(80), y]).mean()
                            for t in grid])]
    assert abs(plain - best) > 1e-2
    x = X[:5]
    np.testing.assert_allclose(ncm.predict_proba(x), softmax(-d[:5] / ncm.temperature_, axis=1))
    pred = ncm.predict(x)
    ncm.set_params(temperature=2.0)  # a number overrides the fitted value, no refit
    np.testing.assert_allclose(ncm.predict_proba(x), softmax(-d[:5] / 2.0, axis=1))
    np.testing.assert_array_equal(ncm.predict(x), pred)


def test_ncm_auto_temperature_follows_a_metric_changed_after_fit():
    rng = np.random.RandomState(0)
    X = rng.randn(200, 4)
    y = rng.randint(0, 3, 200)
    X[y == 1] += 1.0
    switched = NCMClassifier().fit(X, y).set_params(metric="cosine")
    refit = NCMClassifier(metric="cosine").fit(X, y)
    assert switched.temperatures_["cosine"] == refit.temperature_
    assert switched.temperature_ != refit.temperature_  # fitted for euclidean
    np.testing.assert_allclose(switched.predict_proba(X), refit.predict_proba(X))


def test_ncm_auto_temperature_stays_finite_on_separated_classes():
    X = np.array([[0.0], [0.1], [10.0], [10.1]])
    ncm = NCMClassifier(normalize=None).fit(X, [0, 0, 1, 1])
    # The NLL keeps falling as T -> 0 (until it underflows to 0): a small,
    # bounded temperature and confident, finite probabilities.
    assert 1e-4 <= ncm.temperature_ < 0.05
    proba = ncm.predict_proba(X)
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba[np.arange(4), [0, 0, 1, 1]], 1.0, atol=1e-6)


def test_ncm_centered_l2_by_hand_and_shift_invariant():
    shift = np.array([5.0, 7.0])
    X = np.array([[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0], [0.0, -2.0]]) + shift
    y = np.array([0, 0, 1, 1])
    ncm = NCMClassifier(temperature=1.0).fit(X, y)  # centered_l2, euclidean
    np.testing.assert_allclose(ncm.center_, shift)
    np.testing.assert_allclose(ncm.centroids_, [[0.5, 0.5], [-0.5, -0.5]])
    x = np.array([[3.0, 3.0]]) + shift  # centred and normalised: (1, 1)/sqrt(2)
    r = math.sqrt(2) / 2
    d = np.array([1 - r, 1 + r])
    np.testing.assert_allclose(ncm.predict_proba(x), softmax(-d)[None])
    np.testing.assert_allclose(ncm.decision_function(x), [d[0] - d[1]])
    cos = NCMClassifier(metric="cosine", temperature=1.0).fit(X, y)
    np.testing.assert_allclose(cos.predict_proba(x), softmax([1.0, -1.0])[None])
    # Without centring the shift dominates: every sample normalises to about the same point.
    raw = NCMClassifier(normalize="l2").fit(X, y)
    assert not np.allclose(raw.centroids_, ncm.centroids_)


def test_ncm_multiclass_decision_is_negative_distance(make_skewed):
    X, y = make_skewed([30, 20, 10], np.random.RandomState(3))
    ncm = NCMClassifier(normalize="l2").fit(X, y)
    Z = X / np.linalg.norm(X, axis=1, keepdims=True)
    means = np.stack([Z[y == j].mean(0) for j in range(3)])
    np.testing.assert_allclose(ncm.centroids_, means)
    dist = np.linalg.norm(Z[:, None, :] - means[None], axis=2)
    np.testing.assert_allclose(ncm.decision_function(X), -dist, atol=1e-12)
    np.testing.assert_array_equal(ncm.predict(X), dist.argmin(1))


def test_ncm_normalize_is_the_fitted_one_and_metric_is_validated_at_predict():
    X = np.array([[1.0, 0.0], [2.0, 0.2], [0.0, 1.0], [0.3, 3.0]])
    y = np.array([0, 0, 1, 1])
    ncm = NCMClassifier(normalize=None, temperature=1.0).fit(X, y)
    before = ncm.decision_function(X)
    # normalize_ keeps the transform the centroids were computed with.
    ncm.set_params(normalize="l2")
    assert ncm.normalize_ is None
    np.testing.assert_array_equal(ncm.decision_function(X), before)
    ncm.set_params(metric="manhattan")
    with pytest.raises(InvalidParameterError, match="'metric' parameter"):
        ncm.predict(X)


def test_ncm_zero_feature_row_stays_at_the_origin():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 2.0]])
    ncm = NCMClassifier(normalize="l2", temperature=1.0).fit(X, [0, 0, 1, 1])
    # The zero row has no direction: l2-normalising leaves it at 0 instead of NaN.
    np.testing.assert_allclose(ncm.centroids_, [[0.5, 0.0], [0.0, 1.0]])
    d = np.linalg.norm(ncm.centroids_, axis=1)  # distances of the origin to the centroids
    np.testing.assert_allclose(ncm.predict_proba([[0.0, 0.0]]), softmax(-d)[None])
