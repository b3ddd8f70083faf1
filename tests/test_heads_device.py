"""Heads on ``device=``: the torch L-BFGS objective, NCM and LWS in the features' precision."""

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from sklearn_lt.heads import (
    CRTClassifier,
    LogitAdjustedClassifier,
    LWSClassifier,
    NCMClassifier,
    TauNormClassifier,
    _linear,
    _lws,
    fit_linear_head,
)
from sklearn_lt.nn import train_module

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _numpy_objective(params, X, y, sw, alpha, K):
    """The weighted, L2-penalised softmax cross-entropy over sum(s), written out in numpy."""
    n, d = X.shape
    W, b = params[:K * d].reshape(K, d), params[K * d:]
    Z = X @ W.T + b
    P = np.exp(Z - logsumexp(Z, axis=1, keepdims=True))
    nll = logsumexp(Z, axis=1) - Z[np.arange(n), y]
    R = (P - np.eye(K)[y]) * sw[:, None]
    loss = (sw * nll).sum() / sw.sum() + 0.5 * alpha * (W * W).sum()
    return loss, np.concatenate([(R.T @ X / sw.sum() + alpha * W).ravel(),
                                 R.sum(0) / sw.sum()])


@pytest.mark.parametrize("block", [1 << 24, 7])
def test_torch_objective_equals_the_formula_in_any_row_blocks(monkeypatch, block):
    # float64: the torch objective (in blocks of rows, here also of 7 / K = 2
    # rows) is the numpy formula to rounding.
    monkeypatch.setattr(_linear, "_BLOCK_ELEMENTS", block)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(53, 4)), rng.integers(0, 3, 53)
    sw = rng.uniform(0.5, 2, 53)
    params = rng.normal(size=3 * 5)
    objective = _linear._Objective(X, y, sw, sw.sum(), 0.3, 3, "cpu")
    loss, grad = objective(params)
    want_loss, want_grad = _numpy_objective(params, X, y, sw, 0.3, 3)
    assert loss == pytest.approx(want_loss, rel=1e-13)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-11, atol=1e-14)


def _separated(n=600, d=16, K=4, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    p = 0.5 ** np.arange(K)  # a long tail: each class half the previous one
    y = rng.choice(K, n, p=p / p.sum())
    X = 3.0 * rng.normal(size=(K, d))[y] + rng.normal(size=(n, d))
    return X.astype(dtype), y


def test_float32_features_are_fitted_in_float32_to_the_same_optimum():
    # A Backbone's features are float32; the L-BFGS objective then runs in
    # float32 (twice as fast on a CPU), with the loss summed in float64. The
    # optimum is the float64 one to within what float32 gradients resolve.
    X, y = _separated()
    coef64, b64 = fit_linear_head(X, y, 4, C=1.0, tol=1e-6)
    coef32, b32 = fit_linear_head(X.astype(np.float32), y, 4, C=1.0, tol=1e-6)
    scale = np.abs(coef64).max()
    np.testing.assert_allclose(coef32, coef64, atol=2e-3 * scale)
    np.testing.assert_array_equal(np.argmax(X @ coef32.T + b32, 1),
                                  np.argmax(X @ coef64.T + b64, 1))


@pytest.mark.parametrize("head", [
    CRTClassifier(), TauNormClassifier(joint_head=None), LogitAdjustedClassifier(joint_head=None),
    NCMClassifier(), LWSClassifier(joint_head=None, epochs=3, batch_size=64, random_state=0),
], ids=lambda h: type(h).__name__)
def test_every_head_takes_device_and_cpu_is_the_default(head):
    X, y = _separated(dtype=np.float32)
    assert head.get_params()["device"] == "cpu"
    a = head.fit(X, y).predict_proba(X)
    b = head.set_params(device=torch.device("cpu")).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_ncm_float32_features_give_the_float64_predictions():
    X, y = _separated(n=2000, d=32, K=6, seed=1)
    ncm64 = NCMClassifier().fit(X, y)
    ncm32 = NCMClassifier().fit(X.astype(np.float32), y)
    np.testing.assert_allclose(ncm32.centroids_, ncm64.centroids_, atol=1e-6)
    np.testing.assert_allclose(ncm32.center_, ncm64.center_, atol=1e-5)
    np.testing.assert_array_equal(ncm32.predict(X.astype(np.float32)), ncm64.predict(X))
    for metric in ("euclidean", "cosine"):
        assert ncm32.temperatures_[metric] == pytest.approx(ncm64.temperatures_[metric],
                                                            rel=1e-3)


def test_lws_on_precomputed_logits_trains_the_same_scales():
    # With no more classes than features, LWS trains its scales on the frozen
    # head's logits, computed once; the model is the same function, so the
    # scales equal those of the per-batch forward pass (to float32 rounding).
    X, y = _separated(dtype=np.float32)
    coef, intercept = fit_linear_head(X, y, 4)
    kw = dict(epochs=4, batch_size=32, lr=0.1, sampler="class", random_state=0)
    epoch = dict(kw, num_samples="class_epoch")  # the class-aware epoch LWS draws
    per_batch = _lws._ScaledLinear(coef, intercept)
    train_module(per_batch, X, y, **epoch)
    once = _lws._Scales(4)
    train_module(once, _lws._frozen_logits(X, coef, intercept, torch.device("cpu"), block=50),
                 y, **epoch)
    torch.testing.assert_close(once.scales, per_batch.scales, atol=1e-5, rtol=1e-5)
    lws = LWSClassifier(joint_head=(coef, intercept), **kw).fit(X, y)
    np.testing.assert_allclose(lws.scales_, once.scales.detach().double().numpy(), atol=1e-6)


@CUDA
@pytest.mark.parametrize("head", [CRTClassifier(), NCMClassifier(),
                                  TauNormClassifier(joint_head=None)],
                         ids=lambda h: type(h).__name__)
def test_heads_on_cuda_predict_as_on_cpu(head):
    X, y = _separated(n=3000, d=64, K=8, dtype=np.float32)
    cpu = head.fit(X, y).predict(X)
    cuda = head.set_params(device="cuda").fit(X, y).predict(X)
    assert (cpu == cuda).mean() > 0.999


@pytest.mark.parametrize("head", [NCMClassifier(), TauNormClassifier(joint_head=None),
                                  CRTClassifier()], ids=lambda h: type(h).__name__)
def test_heads_take_negatively_strided_features(head):
    # X[::-1] is a view with a negative stride, which torch cannot wrap.
    X, y = _separated(dtype=np.float32)
    flipped = head.fit(X[::-1], y[::-1]).predict(X[::-1])
    np.testing.assert_array_equal(flipped, head.fit(X[::-1].copy(), y[::-1]).predict(X[::-1]))


def test_a_float32_stop_above_tol_is_reported():
    # scipy's relative-reduction test can fire on float32 rounding of the loss
    # (status 0) while the gradient is still above tol: that is said, not hidden.
    from types import SimpleNamespace

    res = SimpleNamespace(status=0, jac=np.array([2.4e-6, -1e-7]), nit=240, message="")
    X32 = np.zeros((3, 2), np.float32)
    assert "float32" in _linear._convergence_problem(res, X32, 1000, 1e-6)
    assert _linear._convergence_problem(res, X32.astype(np.float64), 1000, 1e-6) is None
    assert _linear._convergence_problem(res, X32, 1000, 1e-5) is None
