"""Classifier re-training (cRT): L-BFGS and SGD solvers of the class-balanced objective."""

import numpy as np
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score, recall_score

from sklearn_lt.heads import CRTClassifier, fit_linear_head


def test_crt_balances_recall_against_instance_balanced_head(skewed):
    X, y, X_test, y_test = skewed
    ib = CRTClassifier(sampler="instance", C=1.0).fit(X, y)  # weights 1: the plain IB head
    coef, intercept = fit_linear_head(X, y, 3)
    np.testing.assert_array_equal(ib.coef_, coef)
    np.testing.assert_array_equal(ib.intercept_, intercept)
    ib_recall = recall_score(y_test, ib.predict(X_test), average=None)
    for crt in (CRTClassifier().fit(X, y),
                CRTClassifier(solver="sgd", epochs=20, batch_size=32, lr=0.1,
                              random_state=0).fit(X, y)):
        recall = recall_score(y_test, crt.predict(X_test), average=None)
        assert recall[2] > ib_recall[2] + 0.1
        assert recall.max() - recall.min() < ib_recall.max() - ib_recall.min()
        assert (balanced_accuracy_score(y_test, crt.predict(X_test))
                > balanced_accuracy_score(y_test, ib.predict(X_test)) + 0.05)


def test_crt_sgd_and_lbfgs_agree(skewed):
    X, y, X_test, _ = skewed
    wd = 1e-3
    sgd = CRTClassifier(solver="sgd", epochs=40, batch_size=32, lr=0.05, weight_decay=wd,
                        random_state=0).fit(X, y)
    # SGD's weight decay on the mean loss is the L-BFGS objective with
    # C = 1 / (wd n), which C=None derives from weight_decay.
    lbfgs = CRTClassifier(weight_decay=wd).fit(X, y)
    explicit = CRTClassifier(C=1.0 / (wd * len(y)), weight_decay=0.0).fit(X, y)
    np.testing.assert_array_equal(lbfgs.coef_, explicit.coef_)
    with pytest.raises(ValueError, match="weight_decay, which is 0"):
        CRTClassifier(weight_decay=0.0).fit(X, y)
    # SGD approaches the L-BFGS optimum of the same objective in a few noisy
    # epochs (and shrinks the bias, which L-BFGS leaves unpenalised): the
    # solvers agree on most predictions and within 0.15 in probability, while
    # a wrong objective (no re-weighting, other C) moves tail rows by far more.
    agree = np.mean(sgd.predict(X_test) == lbfgs.predict(X_test))
    assert agree > 0.93
    assert np.allclose(sgd.predict_proba(X_test), lbfgs.predict_proba(X_test), atol=0.15)


def test_crt_sampler_maps_to_class_weights(skewed):
    X, y, *_ = skewed
    counts = np.bincount(y).astype(float)
    p = np.sqrt(counts) / np.sqrt(counts).sum()
    crt = CRTClassifier(sampler="sqrt").fit(X, y)
    coef, _ = fit_linear_head(X, y, 3, C=1.0 / (5e-4 * len(y)), class_weight=len(y) * p / counts)
    np.testing.assert_array_equal(crt.coef_, coef)
    np.testing.assert_array_equal(CRTClassifier(sampler=0.5).fit(X, y).coef_, coef)
    with pytest.raises(ValueError, match="progressive"):
        CRTClassifier(sampler="progressive").fit(X, y)


def test_crt_sgd_is_seeded_and_forgets_stale_attributes(skewed):
    X, y, *_ = skewed
    kw = dict(solver="sgd", epochs=2, batch_size=64)
    a = CRTClassifier(random_state=1, **kw).fit(X, y)
    b = CRTClassifier(random_state=1, **kw).fit(X, y)
    c = CRTClassifier(random_state=2, **kw).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert not np.array_equal(a.coef_, c.coef_)
    assert a.n_iter_ == 2 and len(a.loss_curve_) == 2
    a.set_params(solver="lbfgs").fit(X, y)
    assert not hasattr(a, "loss_curve_")


def test_crt_sgd_leaves_the_global_torch_rng_alone(skewed):
    X, y, *_ = skewed
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    CRTClassifier(solver="sgd", epochs=1, random_state=0).fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)
