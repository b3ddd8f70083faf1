"""Backbone(swag=True): posterior collection, sampled networks, stochastic representations."""

import gc
import io
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_blobs

from sklearn_lt import Backbone
from sklearn_lt.heads import CRTClassifier, LWSClassifier


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=[120, 40, 12], n_features=5, random_state=0, cluster_std=1.5)
    return X.astype(np.float32), y


def _swag(**kw):
    params = dict(module="mlp", max_epochs=10, batch_size=32, lr=0.05, warmup_epochs=1,
                  random_state=0, module__hidden=(16,), swag=True, swa_start=5,
                  swa_snapshots_per_epoch=3, swag_rank=8, swag_samples=4)
    params.update(kw)
    return Backbone(**params)


@pytest.fixture(scope="module")
def fitted(blobs):
    X, y = blobs
    return _swag().fit(X, y)


def test_posterior_is_collected_at_every_snapshot_and_centred_on_swa(fitted):
    post = fitted.swag_
    # 5 averaged epochs x 3 snapshots each.
    assert post.n_collected == 15 and post.rank == 8
    swa = torch.nn.utils.parameters_to_vector(fitted.module_.parameters()).detach()
    assert torch.equal(post.mean, swa.cpu())
    n_params = sum(p.numel() for p in fitted.module_.parameters())
    assert post.nbytes == (8 + 2) * n_params * 4


def test_stochastic_representations_differ_per_draw_and_are_repeatable(fitted, blobs):
    X, _ = blobs
    S = fitted.transform_stochastic(X)
    Z = fitted.transform(X)
    assert S.shape == (4, len(X), fitted.n_features_out_) and S.dtype == np.float32
    for m in range(1, 4):
        assert not np.allclose(S[0], S[m])
    np.testing.assert_array_equal(fitted.transform_stochastic(X, n_samples=2), S[:2])
    np.testing.assert_array_equal(fitted.swag_train_features_, S)
    # Draws scatter around the SWA features but stay close to them.
    assert 0 < np.abs(S - Z).mean() < np.abs(Z).mean()
    P = fitted.transform_stochastic(X[:7], output="proba")
    np.testing.assert_allclose(P.sum(-1), 1.0, rtol=1e-5)


def test_batch_norm_statistics_are_recomputed_per_draw(fitted):
    # Each draw's network is in eval mode and carries its own running statistics.
    def running_mean(module):
        return next(b for n, b in module.named_buffers() if n.endswith("running_mean")).clone()

    swa_mean = running_mean(fitted.module_)
    means = [running_mean(net) for net in fitted.swag_networks()]
    assert len(means) == 4
    for m in means:
        assert not torch.allclose(m, swa_mean)
    assert not torch.allclose(means[0], means[1])


def test_scale_zero_draws_are_the_swa_network(blobs):
    X, y = blobs
    bb = _swag(swag_scale=0.0, swag_samples=2).fit(X, y)
    S = bb.transform_stochastic(X)
    # Weights equal theta_SWA and the batch-norm pass sees the same data as
    # SWA's own: same features up to float32 summation order of the BN pass.
    np.testing.assert_allclose(S[0], bb.transform(X), rtol=1e-4, atol=1e-5)


def test_other_heads_see_the_swa_features_and_fit_transform_is_transform(fitted, blobs):
    X, y = blobs
    bb = _swag()
    Z = bb.fit_transform(X, y)
    np.testing.assert_array_equal(Z, bb.transform(X))
    assert Z.shape == (len(X), bb.n_features_out_)


def test_pickle_keeps_the_posterior_and_reregisters_the_training_features(fitted, blobs):
    from sklearn_lt.heads import SWAGReprClassifier

    X, y = blobs
    buf = io.BytesIO()
    joblib.dump(fitted, buf)
    buf.seek(0)
    loaded = joblib.load(buf)
    assert torch.equal(loaded.swag_.mean, fitted.swag_.mean)
    np.testing.assert_array_equal(loaded.transform_stochastic(X), fitted.transform_stochastic(X))
    head = SWAGReprClassifier(epochs=2, batch_size=32, random_state=0)
    head.fit(loaded.transform(X), y)
    assert head.n_samples_ == 4
    # Pickling must not unregister the original (pickle reads its live __dict__).
    del loaded
    assert head.fit(fitted.transform(X), y).n_samples_ == 4


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a CPU-only machine")
def test_cuda_marked_swag_backbone_loads_on_cpu_only_machine(fitted, blobs):
    # The posterior lives on the CPU whatever trained it; the skorch net maps
    # its module to the CPU on load (simulated by marking a CPU-fitted net).
    X, _ = blobs
    expected = fitted.transform_stochastic(X)
    fitted.net_.device = "cuda"
    try:
        buf = io.BytesIO()
        joblib.dump(fitted, buf)
        buf.seek(0)
        with pytest.warns(UserWarning):
            loaded = joblib.load(buf)
    finally:
        fitted.net_.device = "cpu"
    assert loaded.swag_.mean.device.type == "cpu"
    np.testing.assert_array_equal(loaded.transform_stochastic(X), expected)


def test_swag_errors(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="swag=False"):
        Backbone(module="mlp", max_epochs=2).fit(X, y).transform_stochastic(X)
    with pytest.raises(ValueError, match="n_samples"):
        _swag(max_epochs=6, swag_samples=2).fit(X, y).transform_stochastic(X, n_samples=3)


def test_swag_on_a_channels_last_cnn():
    # The CNNs keep their convolution weights channels-last, which
    # torch.nn.utils.parameters_to_vector refuses (non-contiguous views).
    rng = np.random.RandomState(0)
    X = rng.randint(0, 255, size=(48, 1, 12, 12), dtype=np.uint8)
    y = np.repeat([0, 1, 2], [24, 16, 8])
    bb = Backbone(module="cnn", max_epochs=3, batch_size=16, lr=0.05, warmup_epochs=0,
                  random_state=0, swag=True, swa_start=1, swa_snapshots_per_epoch=2,
                  swag_rank=3, swag_samples=2).fit(X, y)
    assert bb.swag_.n_collected == 4
    S = bb.transform_stochastic(X)
    assert S.shape == (2, 48, bb.n_features_out_) and not np.allclose(S[0], S[1])


def test_swag_bn_size_recomputes_statistics_on_a_subset(fitted, blobs):
    X, y = blobs
    full = fitted.transform_stochastic(X)
    # A subset at least as large as the training set is the whole set.
    same = _swag(swag_bn_size=len(X) + 5).fit(X, y).transform_stochastic(X)
    np.testing.assert_array_equal(same, full)
    # 24 rows: the same weight draws, other batch-norm statistics, so other
    # features of the same magnitude (a BN pass over 24 of 172 rows is a
    # rough estimate of the statistics: seen 0.12 against a mean of 0.6).
    sub = _swag(swag_bn_size=24).fit(X, y).transform_stochastic(X)
    diff = np.abs(sub - full).mean()
    assert np.isfinite(sub).all() and 0 < diff < np.abs(full).mean()


def test_swag_features_of_other_sampling_settings_are_not_mixed_up(blobs):
    from sklearn_lt.exceptions import StochasticFeaturesWarning
    from sklearn_lt.heads import SWAGReprClassifier

    X, y = blobs
    # swag_scale does not change the SWA network: both backbones give the same
    # training features but different stochastic copies of them.
    a = _swag(swag_scale=0.0).fit(X, y)
    b = _swag(swag_scale=0.5).fit(X, y)
    Z = b.transform(X)
    np.testing.assert_array_equal(a.transform(X), Z)
    head = SWAGReprClassifier(epochs=2, batch_size=32, random_state=0)
    with pytest.warns(StochasticFeaturesWarning, match="more than one fitted"):
        found = head.fit(Z, y).coef_.copy()
    # The most recently fitted backbone's copies are used ...
    explicit_b = clone(head).fit(Z, y, stochastic_features=b.transform_stochastic(X)).coef_
    explicit_a = clone(head).fit(Z, y, stochastic_features=a.transform_stochastic(X)).coef_
    np.testing.assert_array_equal(found, explicit_b)
    assert not np.allclose(found, explicit_a)
    # ... and once the other is gone there is nothing to warn about.
    del a
    gc.collect()
    with warnings.catch_warnings():
        warnings.simplefilter("error", StochasticFeaturesWarning)
        np.testing.assert_array_equal(clone(head).fit(Z, y).coef_, explicit_b)


def test_stochastic_crt_trains_on_each_copy_as_a_labelled_row(fitted, blobs):
    # stochastic=True: the SWA rows followed by the M stochastic copies of each,
    # each with its label -- the same fit as handing those rows over by hand.
    X, y = blobs
    Z, S = fitted.transform(X), fitted.transform_stochastic(X)
    rows = np.concatenate([Z[None], S]).reshape(-1, Z.shape[1])
    by_hand = CRTClassifier().fit(rows, np.tile(y, 1 + len(S)))
    head = CRTClassifier(stochastic=True).fit(Z, y)
    np.testing.assert_array_equal(head.coef_, by_hand.coef_)
    # The copies change the fit.
    assert not np.allclose(CRTClassifier().fit(Z, y).coef_, head.coef_)


def test_stochastic_lws_learns_its_scales_on_the_copies(fitted, blobs):
    # LWS keeps the joint head fitted on the SWA rows and learns only its
    # scales on the rows plus their stochastic copies.
    X, y = blobs
    Z, S = fitted.transform(X), fitted.transform_stochastic(X)
    params = dict(epochs=3, batch_size=32, lr=0.05, random_state=0)
    head = LWSClassifier(stochastic=True, **params).fit(Z, y)
    plain = LWSClassifier(**params).fit(Z, y)
    np.testing.assert_array_equal(head.joint_coef_, plain.joint_coef_)
    rows = np.concatenate([Z[None], S]).reshape(-1, Z.shape[1])
    joint = (plain.joint_coef_, plain.joint_intercept_)
    by_hand = LWSClassifier(joint_head=joint, **params).fit(rows, np.tile(y, 1 + len(S)))
    np.testing.assert_array_equal(head.scales_, by_hand.scales_)
    assert not np.array_equal(head.scales_, plain.scales_)


@pytest.mark.parametrize("averaging", ["swa", "swag"])
def test_weight_averaging_with_a_last_batch_of_one_sample(blobs, averaging):
    # 172 rows in batches of 57 leave a batch of one: training drops it, and the
    # batch-norm pass after averaging must too (it used to fail on it).
    X, y = blobs
    bb = _swag(batch_size=57, max_epochs=6, swa_start=3, swag=averaging == "swag",
               swa=averaging == "swa").fit(X, y)
    assert np.isfinite(bb.transform(X)).all()


def test_a_refit_without_swag_returns_its_own_features(blobs):
    # The SWAG fit kept its training features for fit_transform; a refit
    # without SWAG must not return those stale rows.
    X, y = blobs
    bb = _swag(max_epochs=6, swa_start=3).fit(X, y)
    Z = bb.set_params(swag=False, random_state=1).fit_transform(X, y)
    np.testing.assert_array_equal(Z, bb.transform(X))
