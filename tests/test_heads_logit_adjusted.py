"""Post-hoc logit adjustment: ``logits - tau * log(prior)`` (Menon et al., 2021)."""

import warnings

import numpy as np
import pytest

from sklearn_lt.heads import LogitAdjustedClassifier


@pytest.fixture(scope="module")
def joint():
    """A joint head whose bias matters, and 60 samples to score."""
    coef = np.array([[3.0, 0.5], [0.2, 1.0], [-0.5, -1.5]])
    intercept = np.array([-4.0, 2.0, 0.0])
    X = np.random.RandomState(5).normal(size=(60, 2)) * 2
    return coef, intercept, X, np.repeat([0, 1, 2], 20)


def test_logit_adjustment_formula(joint):
    coef, intercept, X, _ = joint
    y = np.repeat([0, 1, 2], [40, 15, 5])
    clf = LogitAdjustedClassifier(tau=0.7, joint_head=(coef, intercept)).fit(X, y)
    log_pi = np.log(np.array([40, 15, 5]) / 60)
    np.testing.assert_allclose(clf.log_prior_, log_pi)
    np.testing.assert_allclose(clf.decision_function(X), X @ coef.T + intercept - 0.7 * log_pi)
    clf.set_params(tau=0.0)
    np.testing.assert_allclose(clf.decision_function(X), X @ coef.T + intercept)


def test_logit_adjustment_binary_decision_and_reused_joint_head(joint):
    coef, intercept, X, _ = joint
    y = np.repeat([0, 1], [45, 15])
    clf = LogitAdjustedClassifier(tau=1.0, joint_head=(coef[:2], intercept[:2])).fit(X, y)
    np.testing.assert_array_equal(clf.coef_, coef[:2])
    z = X @ coef[:2].T + intercept[:2] - np.log([45 / 60, 15 / 60])
    # Two classes: scikit-learn's convention, score of classes_[1] minus classes_[0].
    np.testing.assert_allclose(clf.decision_function(X), z[:, 1] - z[:, 0])
    np.testing.assert_array_equal(clf.predict(X), (z[:, 1] > z[:, 0]).astype(int))


def test_adjusting_a_prior_aware_backbone_again_warns(tiny_backbone, blobs):
    # Audit of a new user's first hour: post-hoc LA on a logit-adjusted
    # backbone subtracted the prior twice, silently.
    from sklearn_lt.exceptions import DoubleAdjustmentWarning

    X, y = blobs
    for loss in ("logit_adjusted", "balanced_softmax"):
        bb = tiny_backbone(max_epochs=2, loss=loss).fit(X, y)
        Z = bb.transform(X)
        with pytest.warns(DoubleAdjustmentWarning, match=f"loss='{loss}', which already"):
            LogitAdjustedClassifier(joint_head=bb).fit(Z, y)
        with warnings.catch_warnings():
            warnings.simplefilter("error", DoubleAdjustmentWarning)
            LogitAdjustedClassifier(tau=0.0, joint_head=bb).fit(Z, y)  # nothing subtracted
            LogitAdjustedClassifier().fit(Z, y)  # its own joint head: corrected once
    ce = tiny_backbone(max_epochs=2).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DoubleAdjustmentWarning)
        LogitAdjustedClassifier(joint_head=ce).fit(ce.transform(X), y)
