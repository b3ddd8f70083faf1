"""fit_linear_head: the deterministic L-BFGS multinomial head behind cRT and the joint head."""

import warnings

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from sklearn_lt.heads import CRTClassifier, fit_linear_head


def test_linear_head_matches_sklearn_logistic_regression(iris):
    X, y = iris
    coef, intercept = fit_linear_head(X, y, 3, C=0.5, tol=1e-10, max_iter=5000)
    lr = LogisticRegression(C=0.5, tol=1e-10, max_iter=5000).fit(X, y)
    # Both solvers converge to the same strictly convex optimum to ~1e-10 in
    # the gradient; 1e-5 on the parameters leaves room for the conditioning.
    np.testing.assert_allclose(coef, lr.coef_, atol=1e-5)
    # Softmax is invariant to a common shift of the unpenalised intercepts.
    np.testing.assert_allclose(intercept - intercept.mean(), lr.intercept_ - lr.intercept_.mean(),
                               atol=1e-5)
    np.testing.assert_allclose(softmax(X @ coef.T + intercept, axis=1), lr.predict_proba(X),
                               atol=1e-6)
    # Stationarity of the L2-penalised multinomial loss forces the class rows to sum to 0.
    np.testing.assert_allclose(coef.sum(axis=0), 0.0, atol=1e-6)


def test_linear_head_integer_class_weight_equals_duplicated_rows(iris):
    X, y = iris
    coef_w, int_w = fit_linear_head(X, y, 3, C=2.0, class_weight=[1.0, 2.0, 1.0], tol=1e-10)
    dup = y == 1
    X2, y2 = np.r_[X, X[dup]], np.r_[y, y[dup]]
    coef_d, int_d = fit_linear_head(X2, y2, 3, C=2.0, tol=1e-10)
    # Same objective written two ways, both solved to tol=1e-10.
    np.testing.assert_allclose(coef_w, coef_d, atol=1e-5)
    np.testing.assert_allclose(int_w - int_w.mean(), int_d - int_d.mean(), atol=1e-5)


def test_linear_head_balanced_weights_are_n_over_k_nj(make_skewed):
    X, y = make_skewed([50, 10, 5], np.random.RandomState(1))
    n, counts = len(y), np.bincount(y)
    by_name = fit_linear_head(X, y, 3, class_weight="balanced")
    explicit = fit_linear_head(X, y, 3, class_weight=n / (3 * counts))
    np.testing.assert_array_equal(by_name[0], explicit[0])
    np.testing.assert_array_equal(by_name[1], explicit[1])


def test_linear_head_is_deterministic_and_warns_when_stopped_early(iris):
    X, y = iris
    a = fit_linear_head(X, y, 3)
    b = fit_linear_head(X, y, 3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        *_, n_iter = fit_linear_head(X, y, 3, max_iter=2, return_n_iter=True)
    assert n_iter == 2


def test_linear_head_input_errors(iris):
    X, y = iris
    with pytest.raises(ValueError, match="NaN or infinity"):
        fit_linear_head(np.where(X > 2, np.inf, X), y, 3)
    with pytest.raises(ValueError, match=r"Encoded labels must lie in \[0, 1\]"):
        fit_linear_head(X, y, 2)
    with pytest.raises(ValueError, match="Expected X of shape"):
        fit_linear_head(X, y[:-1], 3)
    with pytest.raises(ValueError, match=r"class_weight must have shape \(3,\)"):
        fit_linear_head(X, y, 3, class_weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="finite and non-negative"):
        fit_linear_head(X, y, 3, class_weight=[1.0, -2.0, 1.0])
    with pytest.raises(ValueError, match="class_weight must be None, 'balanced'"):
        fit_linear_head(X, y, 3, class_weight="uniform")
    with pytest.raises(ValueError, match="sum to zero"):
        fit_linear_head(X, y, 3, class_weight=[0.0, 0.0, 0.0])


def test_cache_hit_still_warns_about_an_unconverged_head(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.randn(60, 4) * 50
    y = np.repeat([0, 1, 2], 20)
    for _ in range(2):  # first call computes, second is a joblib cache hit
        with pytest.warns(ConvergenceWarning, match="did not converge"):
            CRTClassifier(max_iter=1, memory=str(tmp_path)).fit(X, y)


def test_extreme_feature_warns_instead_of_returning_a_silent_zero_head():
    # Audit defect 9: one cell at 1e30 made the L-BFGS heads stop at iteration 0
    # with an all-zero coef_ and no warning (scipy's status 2 was suppressed).
    from sklearn_lt.heads import TauNormClassifier

    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = np.repeat([0, 1, 2], 20)
    X[0, 0] = 1e30
    for head in (CRTClassifier(), TauNormClassifier()):
        with pytest.warns(ConvergenceWarning, match=r"reach 1e\+30 in magnitude; standardise"):
            head.fit(X, y)
    # Ordinary features converge without a warning (a stall at the optimum is fine).
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        CRTClassifier().fit(rng.randn(60, 3), y)
