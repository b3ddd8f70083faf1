"""BaseHead, the template every stage-2 head follows, and LinearHeadMixin."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import log_softmax, softmax

import sklearn_lt.base
from sklearn_lt.base import BaseHead, JointHeadMixin, LinearHeadMixin, SGDHeadMixin
from sklearn_lt.heads import (
    CRTClassifier,
    LogitAdjustedClassifier,
    LWSClassifier,
    NCMClassifier,
    TauNormClassifier,
)


class FixedHead(LinearHeadMixin, BaseHead):
    """Linear head with given weights; ``_fit`` may report extra attributes or fail."""

    _parameter_constraints: dict = {"coef": "no_validation", "extra": "no_validation"}

    def __init__(self, coef=None, extra=None):
        self.coef = coef
        self.extra = extra

    def _fit(self, X, y_enc, classes, counts):
        if self.extra == "fail":
            raise RuntimeError("fit failed after validation")
        coef = np.asarray(self.coef, dtype=np.float64)
        out = {"coef_": coef, "intercept_": np.zeros(coef.shape[0])}
        if self.extra:
            out[self.extra] = 1
        return out


X3 = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, -1.0], [-1.0, 2.0], [0.5, 0.5]])
Y3 = np.array(["a", "a", "b", "b", "c", "c"])
W3 = np.array([[1.0, -1.0], [0.5, 0.5], [-1.0, 1.0]])


def test_base_module_exports_the_head_building_blocks():
    assert sorted(sklearn_lt.base.__all__) == sorted(
        name for name in sklearn_lt.base.__all__ if hasattr(sklearn_lt.base, name))
    with pytest.raises(TypeError, match="abstract"):
        BaseHead()
    # The library's heads are built from these blocks.
    families = {
        CRTClassifier: {SGDHeadMixin, LinearHeadMixin},
        LWSClassifier: {SGDHeadMixin, JointHeadMixin, LinearHeadMixin},
        TauNormClassifier: {JointHeadMixin, LinearHeadMixin},
        LogitAdjustedClassifier: {JointHeadMixin, LinearHeadMixin},
        NCMClassifier: set(),
    }
    blocks = {SGDHeadMixin, JointHeadMixin, LinearHeadMixin}
    for cls, expected in families.items():
        assert issubclass(cls, BaseHead)
        assert {b for b in blocks if issubclass(cls, b)} == expected, cls.__name__


def test_predictions_derive_from_linear_logits():
    head = FixedHead(W3).fit(X3, Y3)
    z = X3 @ W3.T
    np.testing.assert_array_equal(head.classes_, ["a", "b", "c"])
    np.testing.assert_array_equal(head.class_counts_, [2, 2, 2])
    np.testing.assert_allclose(head.decision_function(X3), z)
    np.testing.assert_allclose(head.predict_proba(X3), softmax(z, axis=1))
    np.testing.assert_allclose(head.predict_log_proba(X3), log_softmax(z, axis=1))
    np.testing.assert_array_equal(head.predict(X3), head.classes_[z.argmax(1)])
    # float32 input is accepted as is; the scores are computed in float64.
    assert head.decision_function(X3.astype(np.float32)).dtype == np.float64


def test_binary_decision_function_is_score_difference():
    head = FixedHead(W3[:2]).fit(X3[:4], Y3[:4])
    z = X3 @ W3[:2].T
    np.testing.assert_allclose(head.decision_function(X3), z[:, 1] - z[:, 0])
    np.testing.assert_array_equal(head.predict(X3) == "b", z[:, 1] > z[:, 0])


def test_log_proba_is_stable_for_far_apart_scores():
    head = FixedHead([[1000.0, 0.0], [-1000.0, 0.0]]).fit(X3[:4], ["a", "a", "b", "b"])
    log_proba = head.predict_log_proba([[1.0, 0.0]])
    # log p_b = -2000 exactly; log(softmax) would underflow to -inf.
    np.testing.assert_allclose(log_proba, [[0.0, -2000.0]])


def test_failed_fit_restores_input_attributes_and_keeps_the_model():
    cols = pd.DataFrame(X3, columns=["u", "v"])
    head = FixedHead(W3).fit(cols, Y3)
    before = head.predict_proba(cols)
    bad = pd.DataFrame(np.c_[X3, X3], columns=["p", "q", "r", "s"])
    with pytest.raises(RuntimeError, match="fit failed after validation"):
        head.set_params(coef=W3, extra="fail").fit(bad, Y3)
    assert head.n_features_in_ == 2
    np.testing.assert_array_equal(head.feature_names_in_, ["u", "v"])
    np.testing.assert_array_equal(head.predict_proba(cols), before)
    # The same after a first fit that was itself a failure: nothing is left.
    fresh = FixedHead(W3, extra="fail")
    with pytest.raises(RuntimeError):
        fresh.fit(cols, Y3)
    assert not hasattr(fresh, "n_features_in_") and not hasattr(fresh, "feature_names_in_")


def test_refit_drops_fitted_attributes_the_new_fit_does_not_produce():
    head = FixedHead(W3, extra="loss_curve_").fit(X3, Y3)
    assert head.loss_curve_ == 1
    head.set_params(extra=None).fit(X3, Y3)
    assert not hasattr(head, "loss_curve_")
    # The library heads follow the same rule (cRT: SGD leaves a loss curve, L-BFGS not).
    crt = CRTClassifier(solver="sgd", epochs=1, batch_size=2, random_state=0).fit(X3, Y3)
    assert hasattr(crt, "loss_curve_")
    assert not hasattr(crt.set_params(solver="lbfgs").fit(X3, Y3), "loss_curve_")


def test_a_head_without_declared_constraints_can_be_fitted():
    class Bare(LinearHeadMixin, BaseHead):
        def _fit(self, X, y_enc, classes, counts):
            return {"coef_": np.zeros((len(classes), X.shape[1])),
                    "intercept_": np.log(counts / counts.sum())}

    assert Bare().fit(X3, Y3).predict(X3[:1]).tolist() == ["a"]


def test_every_head_limits_threads_while_fitting_and_restores_them(skewed, monkeypatch):
    import torch

    from sklearn_lt.heads import head_catalog
    from sklearn_lt.utils import _torch

    X, y, _, _ = skewed
    seen = []
    real = _torch.thread_limit

    def spy(n):
        seen.append(n)
        return real(n)

    monkeypatch.setattr("sklearn_lt.heads._base.thread_limit", spy)
    before = torch.get_num_threads()
    for label, head in head_catalog(random_state=0):
        if label == "SRepr":
            continue  # needs stochastic representations; its fit path is BaseHead's too
        seen.clear()
        head.set_params(n_threads=2)
        if "batch_size" in head.get_params():
            head.set_params(batch_size=64, epochs=2)
        head.fit(X, y)
        assert seen == [2], label
        assert torch.get_num_threads() == before
