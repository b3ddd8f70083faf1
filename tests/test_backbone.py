import io
import math

import joblib
import numpy as np
import pytest
import torch
from skorch.exceptions import DeviceWarning
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_lt import Backbone
from sklearn_lt.nn import lr_lambda


def _tiny(**kw):
    params = dict(module="mlp", max_epochs=15, batch_size=32, lr=0.05, warmup_epochs=1,
                  random_state=0, module__hidden=(16,))
    params.update(kw)
    return Backbone(**params)


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=[120, 40, 12], centers=None, n_features=5,
                      random_state=0, cluster_std=1.0)
    return X.astype(np.float32), y


# Routed ``module__*`` kwargs are attributes that are not in the __init__
# signature (as in skorch), which check_no_attributes_set_in_init flags; the
# checked instance therefore uses named parameters only.
@parametrize_with_checks(
    [Backbone(module="mlp", max_epochs=15, batch_size=32, lr=0.05, warmup_epochs=1,
              random_state=0)],
    expected_failed_checks=lambda est: {
        "check_methods_subset_invariance": "float32 GEMM blocking depends on the batch size "
        "on some CPUs (AMD EPYC): rows differ by ~1e-6 relative, so near-zero features fail "
        "the check's atol=1e-7",
    },
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_transform_shape_dtype_and_joint_head(blobs):
    X, y = blobs
    bb = _tiny().fit(X, y)
    Z = bb.transform(X)
    assert Z.shape == (len(X), 16) and Z.dtype == np.float32
    assert bb.n_features_out_ == 16
    np.testing.assert_array_equal(bb.class_counts_, [120, 40, 12])
    # The joint head reproduces the logits from the features.
    logits = Z.astype(np.float64) @ bb.coef_.T + bb.intercept_
    np.testing.assert_allclose(logits, bb.decision_function(X), rtol=1e-4, atol=1e-4)
    assert bb.decision_function(X).shape == (len(X), 3)
    np.testing.assert_allclose(bb.predict_proba(X).sum(1), 1.0, rtol=1e-6)
    assert (bb.predict(X) == y).mean() > 0.9


def test_random_state_makes_cpu_runs_repeatable(blobs):
    X, y = blobs
    a = _tiny(sampler="class").fit(X, y).transform(X)
    b = _tiny(sampler="class").fit(X, y).transform(X)
    c = _tiny(sampler="class", random_state=1).fit(X, y).transform(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_routed_params_clone_and_set_params():
    bb = Backbone(module="mlp", module__hidden=(8,), optimizer__nesterov=True, criterion__gamma=2.0)
    params = bb.get_params()
    assert params["module__hidden"] == (8,) and params["optimizer__nesterov"] is True
    c = clone(bb)
    assert c.get_params()["criterion__gamma"] == 2.0
    c.set_params(module__hidden=(4,), lr=0.3)
    assert c.module__hidden == (4,) and c.lr == 0.3 and bb.module__hidden == (8,)
    with pytest.raises(TypeError, match="unexpected parameter.*'hidden'"):
        Backbone(hidden=3).fit(np.zeros((4, 2)), [0, 0, 1, 1])


def test_lr_schedule_matches_cifar_lt_recipe():
    step = lr_lambda(200, warmup_epochs=5, schedule="step", milestones=(160, 180), decay=0.01)
    assert 0.1 * step(0) == pytest.approx(0.02)
    assert 0.1 * step(4) == pytest.approx(0.1)
    assert 0.1 * step(159) == pytest.approx(0.1)
    assert 0.1 * step(160) == pytest.approx(1e-3)
    assert 0.1 * step(180) == pytest.approx(1e-5)
    cos = lr_lambda(200, warmup_epochs=5, schedule="cosine")
    assert 0.1 * cos(5) == pytest.approx(0.1)
    assert 0.1 * cos(5 + 195 // 2) == pytest.approx(0.05 * (1 + math.cos(math.pi * 97 / 195)))


def test_history_records_recipe(blobs):
    X, y = blobs
    bb = _tiny(max_epochs=4, warmup_epochs=2, lr=0.1, milestones=(3,), lr_decay=0.1,
               sampler="progressive").fit(X, y)
    h = bb.net_.history
    np.testing.assert_allclose(h[:, "lr"], [0.05, 0.1, 0.1, 0.01])
    acc = h[:, "train_acc"]
    assert len(acc) == 4 and all(0 <= a <= 1 for a in acc)
    # one epoch = one pass of len(y) draws, whatever the sampler
    assert sum(h[-1, "batches", :, "train_batch_size"]) == len(y)


def test_drw_switches_class_weights(blobs):
    X, y = blobs
    bb = _tiny(max_epochs=5, loss="ldam_drw").fit(X, y)
    w = bb.net_.criterion_.weight
    assert w is not None
    n = np.array([120, 40, 12])
    expected = (1 - 0.9999) / (1 - 0.9999**n)
    expected = expected / expected.sum() * 3
    np.testing.assert_allclose(w.cpu().numpy(), expected, rtol=1e-5)
    # LDAM uses a cosine head: joint coef rows have norm equal to the logit scale
    np.testing.assert_allclose(np.linalg.norm(bb.coef_, axis=1), bb.logit_scale_, rtol=1e-5)


@pytest.mark.parametrize("loss", ["ce", "focal", "cb", "ldam", "logit_adjusted", "balanced_softmax"])
def test_every_loss_trains(blobs, loss):
    X, y = blobs
    bb = _tiny(loss=loss, max_epochs=10).fit(X, y)
    assert np.isfinite(bb.net_.history[-1, "train_loss"])
    assert (bb.predict(X) == y).mean() > 0.8


def test_swa_averages_and_recomputes_bn(blobs):
    X, y = blobs
    bb = _tiny(max_epochs=6, swa=True, swa_start=3, swa_lr=0.01).fit(X, y)
    np.testing.assert_allclose(bb.net_.history[:, "lr"][3:], 0.01)
    bns = [m for m in bb.module_.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert bns, "MLP has batch norm"
    # BN running mean recomputed over the training data with the averaged weights
    Z = torch.from_numpy((X - X.mean(0)) / X.std(0))
    first = bb.module_.features
    with torch.no_grad():
        linear_out = next(m for m in first.modules() if isinstance(m, torch.nn.Linear))(Z)
    # update_bn's cumulative average weighs each batch (32 rows; the last has 12) equally
    batch_means = torch.stack([b.mean(0) for b in linear_out.split(32)])
    np.testing.assert_allclose(bns[0].running_mean.numpy(), batch_means.mean(0).numpy(), atol=1e-5)
    assert not np.allclose(batch_means.mean(0).numpy(), 0, atol=1e-3)


def test_images_uint8_cnn_and_augmentation():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 255, size=(40, 3, 32, 32), dtype=np.uint8)
    y = np.repeat([0, 1], [30, 10])
    bb = Backbone(module="cnn", max_epochs=1, batch_size=16, random_state=0, augment="auto")
    bb.fit(X, y)
    assert bb.net_.module_.augment is not None  # crop+flip for RGB
    Z = bb.transform(X[:5])
    assert Z.shape == (5, bb.n_features_out_) and Z.dtype == np.float32
    # grey (N, H, W) images get a channel axis
    Xg = rng.randint(0, 255, size=(40, 28, 28), dtype=np.uint8)
    bb2 = Backbone(module="auto", max_epochs=1, batch_size=16, random_state=0).fit(Xg, y)
    assert bb2.input_shape_ == (1, 28, 28) and bb2.module_.augment is None
    with pytest.raises(ValueError, match="shape"):
        bb2.transform(X[:, :1, :28, :27])


def test_bad_input_errors_do_not_corrupt_fitted_model(blobs):
    X, y = blobs
    bb = _tiny(max_epochs=2).fit(X, y)
    before = bb.transform(X)
    with pytest.raises(ValueError, match="NaN"):
        Xn = X.copy()
        Xn[0, 0] = np.nan
        bb.fit(Xn, y)
    with pytest.raises(ValueError, match="1D array"):
        bb.fit(X[:, 0], y)
    with pytest.raises(ValueError, match="at least 2 training samples"):
        keep = np.r_[np.flatnonzero(y != 2), np.flatnonzero(y == 2)[:1]]
        bb.fit(X[keep], y[keep])
    with pytest.raises(ValueError, match="features"):
        bb.transform(X[:, :3])
    with pytest.raises(ValueError, match="channels-first"):
        Backbone(module="cnn").fit(np.zeros((4, 32, 32, 3), np.uint8), [0, 0, 1, 1])
    np.testing.assert_array_equal(bb.transform(X), before)


def test_string_labels_and_pandas(blobs):
    pd = pytest.importorskip("pandas")
    X, y = blobs
    labels = np.array(["cat", "dog", "emu"])[y]
    bb = _tiny(max_epochs=5).fit(pd.DataFrame(X, columns=list("abcde")), labels)
    assert list(bb.classes_) == ["cat", "dog", "emu"]
    assert set(bb.predict(pd.DataFrame(X[:10], columns=list("abcde")))) <= set(bb.classes_)
    # scikit-learn's convention: a plain array after a named fit is accepted, with a warning.
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        assert set(bb.predict(X[:10])) <= set(bb.classes_)
    np.testing.assert_array_equal(bb.feature_names_in_, list("abcde"))


def test_pickle_round_trip_on_cpu(blobs):
    X, y = blobs
    bb = _tiny(max_epochs=3).fit(X, y)
    buf = io.BytesIO()
    joblib.dump(bb, buf)
    buf.seek(0)
    loaded = joblib.load(buf)
    np.testing.assert_array_equal(loaded.transform(X), bb.transform(X))
    assert next(loaded.module_.parameters()).device.type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a CPU-only machine")
def test_cuda_marked_model_loads_on_cpu_only_machine(blobs):
    # A GPU-fitted net pickles with device="cuda"; skorch maps it to the CPU
    # on load when CUDA is absent. Simulated by marking a CPU-fitted net.
    X, y = blobs
    bb = _tiny(max_epochs=2).fit(X, y)
    expected = bb.predict_proba(X)
    bb.net_.device = "cuda"
    buf = io.BytesIO()
    joblib.dump(bb, buf)
    buf.seek(0)
    with pytest.warns(UserWarning, match="no CUDA devices"), \
            pytest.warns(DeviceWarning, match="device .cuda. is not available"):
        loaded = joblib.load(buf)
    assert torch.device(loaded.net_.device).type == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_fit_then_cpu_predict(blobs, tmp_path):
    X, y = blobs
    bb = _tiny(device="cuda", max_epochs=3).fit(X, y)
    path = tmp_path / "bb.joblib"
    joblib.dump(bb, path)
    gpu_pred = bb.predict_proba(X)
    loaded = joblib.load(path)
    loaded.module_.cpu()
    np.testing.assert_allclose(loaded.predict_proba(X), gpu_pred, atol=2e-2)
