"""Backbone as a scikit-learn estimator: parameters, validation, fitting, inference, pickling.

The numbered regression tests pin reliability fixes of ``sklearn_lt/backbone``;
each failed against the behaviour described in its docstring.
"""

import io
import os
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
import skorch.helper  # noqa: F401  (see test_01_train_split_in_a_fresh_process)
import torch
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.metrics import balanced_accuracy_score, log_loss
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_no_attributes_set_in_init
from skorch.exceptions import DeviceWarning
from torch import nn

from sklearn_lt import Backbone

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_transform_shape_dtype_and_joint_head(blobs, tiny_backbone):
    X, y = blobs
    bb = tiny_backbone().fit(X, y)
    Z = bb.transform(X)
    assert Z.shape == (len(X), 16) and Z.dtype == np.float32
    assert bb.n_features_out_ == 16
    np.testing.assert_array_equal(bb.class_counts_, [120, 40, 12])
    # The joint head reproduces the logits from the features (float32 network,
    # float64 read-out; test_backbone_module.py bounds the difference tightly).
    logits = Z.astype(np.float64) @ bb.coef_.T + bb.intercept_
    np.testing.assert_allclose(logits, bb.decision_function(X), rtol=1e-4, atol=1e-4)
    assert bb.decision_function(X).shape == (len(X), 3)
    np.testing.assert_allclose(bb.predict_proba(X).sum(1), 1.0, rtol=1e-6)
    assert (bb.predict(X) == y).mean() > 0.9


def test_random_state_makes_cpu_runs_repeatable(blobs, tiny_backbone):
    X, y = blobs
    a = tiny_backbone(sampler="class").fit(X, y).transform(X)
    b = tiny_backbone(sampler="class").fit(X, y).transform(X)
    c = tiny_backbone(sampler="class", random_state=1).fit(X, y).transform(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_a_huge_sampling_exponent_trains(blobs, tiny_backbone):
    # Issue-8 regression: sampler=150.0 crashed with "invalid multinomial
    # distribution" (n_j**150 overflowed); p_j is now formed in log space.
    X, y = blobs
    bb = tiny_backbone(sampler=150.0, max_epochs=2).fit(X, y)
    counts = np.bincount(y).astype(np.float64)
    logp = 150.0 * np.log(counts / counts.max())
    expected = np.exp(logp) / np.exp(logp).sum()
    sampler = bb.net_.iterator_train__sampler
    np.testing.assert_allclose(sampler.class_probabilities(), expected, rtol=1e-12)
    assert np.isfinite(bb.predict_proba(X)).all()


def test_unfitted_backbone_refuses_inference(blobs):
    X, _ = blobs
    for method in ("transform", "predict", "predict_proba", "decision_function"):
        with pytest.raises(NotFittedError):
            getattr(Backbone(), method)(X)


def test_bad_input_errors_do_not_corrupt_fitted_model(blobs, tiny_backbone):
    X, y = blobs
    bb = tiny_backbone(max_epochs=2).fit(X, y)
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


def test_string_labels_and_pandas(blobs, tiny_backbone):
    pd = pytest.importorskip("pandas")
    X, y = blobs
    labels = np.array(["cat", "dog", "emu"])[y]
    bb = tiny_backbone(max_epochs=5).fit(pd.DataFrame(X, columns=list("abcde")), labels)
    assert list(bb.classes_) == ["cat", "dog", "emu"]
    assert set(bb.predict(pd.DataFrame(X[:10], columns=list("abcde")))) <= set(bb.classes_)
    # scikit-learn's convention: a plain array after a named fit is accepted, with a warning.
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        assert set(bb.predict(X[:10])) <= set(bb.classes_)
    np.testing.assert_array_equal(bb.feature_names_in_, list("abcde"))


def test_pickle_round_trip_on_cpu(blobs, tiny_backbone):
    X, y = blobs
    bb = tiny_backbone(max_epochs=3).fit(X, y)
    buf = io.BytesIO()
    joblib.dump(bb, buf)
    buf.seek(0)
    loaded = joblib.load(buf)
    np.testing.assert_array_equal(loaded.transform(X), bb.transform(X))
    assert next(loaded.module_.parameters()).device.type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a CPU-only machine")
def test_cuda_marked_model_loads_on_cpu_only_machine(blobs, tiny_backbone):
    # A GPU-fitted net pickles with device="cuda"; skorch maps it to the CPU
    # on load when CUDA is absent. Simulated by marking a CPU-fitted net.
    X, y = blobs
    bb = tiny_backbone(max_epochs=2).fit(X, y)
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


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a machine without CUDA")
def test_every_cuda_tensor_of_a_gpu_fit_is_mapped_to_the_cpu_on_load(blobs, tiny_backbone,
                                                                      monkeypatch):
    # A GPU-fitted net holds CUDA tensors beyond the module_/optimizer_/criterion_
    # that skorch maps on load: its module parameter is the trained network, the
    # lr scheduler holds the optimizer, a class-balanced loss its weights. Every
    # tensor is saved tagged "cuda:0" here, as a GPU fit saves them.
    X, y = blobs
    bb = tiny_backbone(max_epochs=2, loss="class_balanced").fit(X, y)
    expected = bb.predict_proba(X)
    bb.net_.device = "cuda"
    buf = io.BytesIO()
    with monkeypatch.context() as patch:
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        joblib.dump(bb, buf)
    buf.seek(0)
    with pytest.warns(DeviceWarning) as record:  # skorch says where it loads
        loaded = joblib.load(buf)
    assert any("cuda" in str(w.message) and "not available" in str(w.message) for w in record)
    tensors = [*loaded.net_.module.parameters(), *loaded.module_.parameters()]
    assert {t.device.type for t in tensors} == {"cpu"}
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)


@pytest.mark.gpu
def test_gpu_fit_then_cpu_predict(blobs, tiny_backbone, tmp_path):
    X, y = blobs
    bb = tiny_backbone(device="cuda", max_epochs=3).fit(X, y)
    path = tmp_path / "bb.joblib"
    joblib.dump(bb, path)
    gpu_pred = bb.predict_proba(X)
    loaded = joblib.load(path)
    loaded.module_.cpu()
    # GPU kernels (TF32/bf16 paths, other reduction orders) vs CPU float32.
    np.testing.assert_allclose(loaded.predict_proba(X), gpu_pred, atol=2e-2)


# --------------------------------------------------------------------------- (1) train_split
class _IdRecorder(nn.Module):
    """Feature network recording, per forward pass, the mode and the sample ids.

    Column 0 of X is the sample id; the network sees it standardised, so the
    ids are recovered as ``x0 * std + mean``. The record is a class attribute:
    Backbone trains a deep copy of the instance, which shares it.
    """

    seen = []
    mean = std = 0.0

    def __init__(self, d):
        super().__init__()
        self.lin = nn.Linear(d, 8)
        self.out_features = 8

    def forward(self, x):
        ids = np.rint(x[:, 0].detach().double().numpy() * self.std + self.mean).astype(int)
        type(self).seen.append((self.training, ids))
        return torch.relu(self.lin(x))


@pytest.mark.parametrize("sampler", ["instance", "class"])
def test_01_train_split_holds_out_a_stratified_validation_set(sampler):
    """(1) Old: the sampler indexed all of y while skorch trained on a split-off part."""
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [60, 30, 10])
    X = np.c_[np.arange(100), rng.randn(100, 3) + y[:, None]].astype(np.float32)
    _IdRecorder.mean, _IdRecorder.std = X[:, 0].mean(dtype=np.float64), X[:, 0].std(
        dtype=np.float64)
    _IdRecorder.seen = []
    bb = Backbone(module=_IdRecorder(4), max_epochs=3, batch_size=16, lr=0.05, warmup_epochs=0,
                  sampler=sampler, train_split=0.2, predict_batch_size=16,
                  random_state=0).fit(X, y)
    # The last forward is fit's final divergence check, in eval mode, on the
    # first batch of the training part; the rest is training and validation.
    *seen, (final_training, final_ids) = _IdRecorder.seen
    assert not final_training and len(final_ids) == 16
    train = np.unique(np.concatenate([ids for training, ids in seen if training]))
    valid = np.unique(np.concatenate([ids for training, ids in seen if not training]))
    # Stratified 20 %: 12 / 6 / 2 held out; the rest is all the sampler draws from.
    assert len(np.intersect1d(train, valid)) == 0
    assert np.isin(final_ids, train).all()
    assert np.bincount(y[valid]).tolist() == [12, 6, 2]
    assert len(train) == 80 and np.bincount(y[train]).tolist() == [48, 24, 8]
    # Each epoch draws len(train) = 80 indices of the training part, 5 batches of 16.
    draws = np.concatenate([ids for training, ids in seen if training])
    assert len(draws) == 3 * 80
    if sampler == "instance":
        for epoch in draws.reshape(3, 80):
            np.testing.assert_array_equal(np.sort(epoch), train)
    history = bb.history_
    assert len(history) == 3
    for row in history:
        assert {"train_loss", "valid_loss", "valid_acc", "valid_bal_acc"} <= set(row)
    # The last epoch's validation scores are those of the fitted model on the
    # held-out rows: same rows, same batches of 16 (predict_batch_size), so the
    # same float32 logits. valid_loss is torch's float32 cross-entropy, averaged
    # over batches; log_loss recomputes it in float64 from the same logits:
    # they agree to float32 rounding (rtol 1e-5).
    last = history[-1]
    pred = bb.predict(X[valid])
    assert last["valid_acc"] == pytest.approx(np.mean(pred == y[valid]), abs=1e-12)
    assert last["valid_bal_acc"] == pytest.approx(balanced_accuracy_score(y[valid], pred),
                                                  abs=1e-12)
    assert last["valid_loss"] == pytest.approx(
        log_loss(y[valid], bb.predict_proba(X[valid]), labels=[0, 1, 2]), rel=1e-5)
    assert bb.net_.train_split is None  # the validation data is not pickled with the model


FRESH_FIT = """
import numpy as np
from sklearn_lt import Backbone
X = np.random.RandomState(0).randn(60, 3).astype(np.float32)
y = np.repeat([0, 1, 2], 20)
bb = Backbone(module="mlp", max_epochs=1, train_split=0.2, random_state=0).fit(X, y)
print(sorted(bb.history_[-1]))
"""


def test_01_train_split_in_a_fresh_process():
    """(1) ... in a new interpreter, where nothing has imported skorch.helper yet."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-c", FRESH_FIT], capture_output=True, text=True,
                         env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "valid_bal_acc" in run.stdout


def test_01_train_split_must_leave_every_class_a_training_sample(tiny_backbone):
    y = np.repeat([0, 1, 2], [90, 8, 2])
    X = np.random.RandomState(0).randn(100, 3)
    with pytest.raises(ValueError, match=r"train_split=0.9 leaves class index\(es\) \[2\] with "
                                         "no training sample"):
        tiny_backbone(train_split=0.9).fit(X, y)
    with pytest.raises(ValueError, match="train_split=0.01 cannot split these labels"):
        tiny_backbone(train_split=0.01).fit(X, y)


# --------------------------------------------------------------------------- (2) divergence
def test_02_diverging_fit_raises_naming_the_epoch(blobs, tiny_backbone):
    """(2) Old: a NaN loss trained on silently and every prediction became class 0."""
    X, y = blobs
    with pytest.raises(FloatingPointError,
                       match=r"Training diverged: the loss became nan in epoch 1\. Lower"):
        tiny_backbone(lr=1e6, warmup_epochs=0, max_epochs=3).fit(X, y)
    # A fitted model survives a diverging refit unchanged.
    bb = tiny_backbone(max_epochs=2).fit(X, y)
    before = bb.predict_proba(X)
    with pytest.raises(FloatingPointError, match="epoch"):
        bb.set_params(lr=1e6, warmup_epochs=0).fit(X, y)
    np.testing.assert_array_equal(bb.predict_proba(X), before)


def test_02_a_last_step_that_overflows_the_weights_is_caught():
    """(2) One step per epoch: the recorded loss predates the step that made the weights NaN."""
    # Found by an audit: this fit returned with NaN probabilities.
    X, y = make_blobs(n_samples=[60, 30, 10], n_features=4, random_state=0)
    X = X.astype(np.float32) * 100
    bb = Backbone(module="mlp", module__hidden=(8,), max_epochs=1, batch_size=128, lr=1e20,
                  warmup_epochs=0, random_state=0)
    with pytest.raises(FloatingPointError, match=r"outputs on the training inputs are not "
                                                  r"finite after epoch 1\."):
        bb.fit(X, y)


# The package casts before it checks, and numpy warns about the overflowing cast.
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_02_input_beyond_float32_is_refused(blobs, tiny_backbone):
    """(2) Old: finite float64 beyond float32's range became inf in the network."""
    X, y = blobs
    X_big = X.astype(np.float64)
    X_big[3, 1] = 1e39
    with pytest.raises(ValueError, match=r"X has values up to 1e\+39 in magnitude, beyond "
                                         r"float32's range \(3.4e\+38\).*Rescale X"):
        tiny_backbone().fit(X_big, y)
    bb = tiny_backbone(max_epochs=1).fit(X, y)
    X_big[3, 1] = -1e300
    for method in ("predict", "predict_proba", "transform", "decision_function"):
        with pytest.raises(ValueError, match=r"X has values up to 1e\+300 in magnitude"):
            getattr(bb, method)(X_big)


# --------------------------------------------------------------------------- (8) module instance
def test_08_module_instance_is_copied_not_trained(blobs):
    """(8) Old: the caller's module was trained in place, so a refit started from it."""
    X, y = blobs
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(5, 12), nn.ReLU())
    initial = {k: v.clone() for k, v in module.state_dict().items()}
    bb = Backbone(module=module, max_epochs=3, batch_size=32, lr=0.05, warmup_epochs=0,
                  random_state=0)
    Z1 = bb.fit(X, y).transform(X)
    Z2 = bb.fit(X, y).transform(X)
    np.testing.assert_array_equal(Z1, Z2)
    for key, value in module.state_dict().items():
        assert torch.equal(value, initial[key]), key
    assert all(p.grad is None for p in module.parameters())
    assert module.training and not hasattr(module, "out_features")
    assert bb.get_params()["module"] is module
    assert not any(p is q for p in bb.module_.parameters() for q in module.parameters())
    assert bb.n_features_out_ == 12


# --------------------------------------------------------------------------- (10) reserved
@pytest.mark.parametrize("key, param", [("optimizer__lr", "lr"),
                                        ("optimizer__momentum", "momentum"),
                                        ("optimizer__weight_decay", "weight_decay")])
def test_10_routing_backbones_own_optimizer_settings_is_refused(blobs, key, param):
    """(10) Old: optimizer__lr silently overrode lr, which the schedule and SWA read."""
    X, y = blobs
    with pytest.raises(ValueError, match=rf"{key} is Backbone's own parameter '{param}'.*"
                                         rf"Set {param}=\.\.\. instead"):
        Backbone(module="mlp", max_epochs=1, **{key: 0.5}).fit(X, y)


def test_10_other_optimizer_arguments_reach_sgd(blobs, tiny_backbone):
    X, y = blobs
    bb = tiny_backbone(max_epochs=1, optimizer__nesterov=True, momentum=0.8,
                       weight_decay=1e-3).fit(X, y)
    group = bb.net_.optimizer_.param_groups[0]
    assert group["nesterov"] is True
    assert group["momentum"] == 0.8 and group["weight_decay"] == 1e-3


# --------------------------------------------------------------------------- (12) routed params
def test_12_routed_params_are_parameters_not_init_attributes(blobs):
    """(12) Old: routed kwargs were set as attributes in __init__ (an sklearn check failed)."""
    bb = Backbone(module="mlp", module__hidden=(8,), optimizer__nesterov=True,
                  criterion__gamma=2.0)
    check_no_attributes_set_in_init("Backbone", bb)
    params = bb.get_params()
    assert params["module__hidden"] == (8,) and params["optimizer__nesterov"] is True
    assert bb.module__hidden == (8,)
    c = clone(bb)
    assert c.get_params()["criterion__gamma"] == 2.0
    c.set_params(module__hidden=(4,), lr=0.3)
    assert c.module__hidden == (4,) and c.lr == 0.3 and bb.module__hidden == (8,)
    assert clone(c).get_params()["module__hidden"] == (4,)
    with pytest.raises(AttributeError, match="no attribute 'module__width'"):
        _ = bb.module__width
    with pytest.raises(TypeError, match="unexpected parameter.*'hidden'"):
        Backbone(hidden=3).fit(np.zeros((4, 2)), [0, 0, 1, 1])


def test_12_routed_params_shape_the_network(blobs, tiny_backbone):
    X, y = blobs
    bb = tiny_backbone(max_epochs=1, module__hidden=(8,)).fit(X, y)
    assert bb.n_features_out_ == 8
    assert bb.set_params(module__hidden=(6, 4)).fit(X, y).n_features_out_ == 4
    assert bb.transform(X).shape == (len(X), 4)


# --------------------------------------------------------------------------- (13) image shapes
def test_13_flattened_or_channels_last_images_name_the_expected_shape():
    """(13) Old: flattened or NHWC input failed deep in torch with a conv shape error."""
    rng = np.random.RandomState(0)
    X = rng.randint(0, 255, size=(24, 3, 8, 8), dtype=np.uint8)
    y = np.repeat([0, 1], 12)
    bb = Backbone(module="cnn", max_epochs=1, batch_size=8, augment="none",
                  random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"X has samples of shape \(192,\), but Backbone was "
                                         r"fitted on samples of shape \(3, 8, 8\)\. Reshape the "
                                         r"input with X\.reshape\(-1, 3, 8, 8\)"):
        bb.predict(X.reshape(24, -1))
    with pytest.raises(ValueError, match=r"channels-first \(N, C, H, W\); got shape "
                                         r"\(24, 8, 8, 3\).*X\.transpose\(0, 3, 1, 2\)"):
        bb.transform(X.transpose(0, 2, 3, 1))


# --------------------------------------------------------------------------- (14) batch norm
def test_14_batch_size_one_with_batch_norm_is_a_clear_error(blobs):
    """(14) Old: batch_size=1 failed inside batch norm ('Expected more than 1 value')."""
    X, y = blobs
    with pytest.raises(ValueError, match="batch_size=1 cannot train MLP: batch norm needs at "
                                         "least 2 samples per batch"):
        Backbone(module="mlp", batch_size=1, max_epochs=1).fit(X, y)
    # Without batch norm one sample per step is fine.
    small = np.r_[0:6, 120:126, 160:166]
    bb = Backbone(module="mlp", module__batch_norm=False, module__hidden=(4,), batch_size=1,
                  max_epochs=1, warmup_epochs=0, random_state=0).fit(X[small], y[small])
    sizes = bb.history_[-1, "batches", :, "train_batch_size"]
    # 17, not 18: the batch iterator drops a last batch of one sample (batch norm
    # cannot train on it) even when, as here, every batch has one sample.
    assert set(sizes) == {1} and len(sizes) in (17, 18)


# --------------------------------------------------------------------------- (15) feature names
def test_15_feature_names_out_and_pandas_output(blobs, tiny_backbone):
    """(15) Old: no get_feature_names_out, so set_output(transform="pandas") failed."""
    pd = pytest.importorskip("pandas")
    X, y = blobs
    bb = tiny_backbone(max_epochs=1).fit(X, y)
    names = [f"backbone{i}" for i in range(16)]
    assert bb.get_feature_names_out().tolist() == names
    Z = bb.transform(X)
    frame = bb.set_output(transform="pandas").transform(X)
    assert isinstance(frame, pd.DataFrame) and frame.columns.tolist() == names
    np.testing.assert_array_equal(frame.to_numpy(), Z)
    pipe = Pipeline([("feat", tiny_backbone(max_epochs=1)), ("scale", StandardScaler())])
    out = pipe.set_output(transform="pandas").fit(X, y).transform(X)
    assert isinstance(out, pd.DataFrame) and out.columns.tolist() == names
    np.testing.assert_allclose(out.mean().to_numpy(), 0.0, atol=1e-6)
