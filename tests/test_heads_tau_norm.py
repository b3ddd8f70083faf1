"""tau-normalised head: row norms and logits against the formula ``x . w_j / ||w_j||^tau``."""

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_lt.heads import LogitAdjustedClassifier, TauNormClassifier


@pytest.fixture(scope="module")
def joint():
    """A joint head whose bias matters and whose class-0 norm is largest."""
    coef = np.array([[3.0, 0.5], [0.2, 1.0], [-0.5, -1.5]])
    intercept = np.array([-4.0, 2.0, 0.0])
    rng = np.random.RandomState(5)
    X = rng.normal(size=(60, 2)) * 2
    y = np.repeat([0, 1, 2], 20)
    return coef, intercept, X, y


def test_tau_zero_is_joint_head_without_bias(joint):
    coef, intercept, X, y = joint
    clf = TauNormClassifier(tau=0.0, joint_head=(coef, intercept)).fit(X, y)
    np.testing.assert_allclose(clf.decision_function(X), X @ coef.T)
    np.testing.assert_array_equal(clf.predict(X), np.argmax(X @ coef.T, axis=1))
    # The bias was dropped: predictions differ from the full joint head here.
    assert np.any(clf.predict(X) != np.argmax(X @ coef.T + intercept, axis=1))
    np.testing.assert_array_equal(clf.intercept_, 0.0)


@pytest.mark.parametrize("tau", [0.0, 0.5, 1.0, 1.7])
def test_tau_norm_row_norms_and_logits(joint, tau):
    coef, intercept, X, y = joint
    clf = TauNormClassifier(tau=tau, joint_head=(coef, intercept)).fit(X, y)
    norms = np.linalg.norm(coef, axis=1)
    np.testing.assert_allclose(np.linalg.norm(clf.coef_, axis=1), norms ** (1 - tau))
    np.testing.assert_allclose(clf.decision_function(X), X @ (coef / norms[:, None] ** tau).T)


def test_tau_read_at_predict_time(joint):
    coef, intercept, X, y = joint
    clf = TauNormClassifier(tau=0.0, joint_head=(coef, intercept)).fit(X, y)
    before = clf.predict(X)
    clf.set_params(tau=1.0)
    unit = coef / np.linalg.norm(coef, axis=1, keepdims=True)
    np.testing.assert_array_equal(clf.predict(X), np.argmax(X @ unit.T, axis=1))
    assert np.any(clf.predict(X) != before)
    clf.set_params(tau=-0.5)
    with pytest.raises(InvalidParameterError, match="tau"):
        clf.predict(X)


def test_tau_norm_zero_weight_row_stays_zero(joint):
    coef, intercept, X, y = joint
    coef = coef.copy()
    coef[1] = 0.0
    clf = TauNormClassifier(tau=1.0, joint_head=(coef, intercept)).fit(X, y)
    np.testing.assert_array_equal(clf.coef_[1], 0.0)
    assert np.all(np.isfinite(clf.decision_function(X)))


def test_invalid_tau_is_rejected(joint):
    coef, intercept, X, y = joint
    for cls in (TauNormClassifier, LogitAdjustedClassifier):
        with pytest.raises(InvalidParameterError, match="'tau' parameter"):
            cls(tau=-1.0, joint_head=(coef, intercept)).fit(X, y)
