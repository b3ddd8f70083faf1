"""Learnable weight scaling (LWS): only the per-class scales of a frozen joint head train."""

import numpy as np
from sklearn.metrics import recall_score

from sklearn_lt.heads import LWSClassifier, fit_linear_head


def test_lws_scales_move_tail_up_and_keep_joint_head(skewed):
    X, y, X_test, y_test = skewed
    coef, intercept = fit_linear_head(X, y, 3)
    lws = LWSClassifier(joint_head=(coef, intercept), epochs=30, batch_size=32, lr=0.1,
                        random_state=0).fit(X, y)
    f = lws.scales_
    assert f[2] > f[0] and f[1] > f[0]
    np.testing.assert_array_equal(lws.joint_coef_, coef)
    np.testing.assert_allclose(lws.coef_, f[:, None] * coef)
    np.testing.assert_allclose(lws.decision_function(X_test), f * (X_test @ coef.T + intercept))
    ib_recall = recall_score(y_test, np.argmax(X_test @ coef.T + intercept, 1), average=None)
    assert recall_score(y_test, lws.predict(X_test), average=None)[2] > ib_recall[2]
    again = LWSClassifier(joint_head=(coef, intercept), epochs=30, batch_size=32, lr=0.1,
                          random_state=0).fit(X, y)
    np.testing.assert_array_equal(again.scales_, f)
    assert len(lws.loss_curve_) == 30


def test_n_iter_counts_epochs_like_every_sgd_head(skewed):
    # n_iter_ meant L-BFGS iterations of the joint head here and epochs for
    # cRT-SGD; now every SGD-trained head counts its epochs.
    X, y, _, _ = skewed
    lws = LWSClassifier(epochs=7, batch_size=64, lr=0.05, random_state=0).fit(X, y)
    assert lws.n_iter_ == 7 == len(lws.loss_curve_)
    assert lws.joint_n_iter_ > 0  # the joint head was fitted here by L-BFGS
    given = LWSClassifier(joint_head=(lws.joint_coef_, lws.joint_intercept_), epochs=3,
                          batch_size=64, random_state=0).fit(X, y)
    assert (given.n_iter_, given.joint_n_iter_) == (3, 0)
