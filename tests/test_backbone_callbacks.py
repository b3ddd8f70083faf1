"""The stage-1 recipe as skorch callbacks, observed in the fitted Backbone's history."""

import numpy as np
import pytest
import torch


def test_history_records_recipe(blobs, tiny_backbone):
    X, y = blobs
    bb = tiny_backbone(max_epochs=4, warmup_epochs=2, lr=0.1, milestones=(3,), lr_decay=0.1,
                       sampler="progressive").fit(X, y)
    h = bb.net_.history
    np.testing.assert_allclose(h[:, "lr"], [0.05, 0.1, 0.1, 0.01])
    acc = h[:, "train_acc"]
    assert len(acc) == 4 and all(0 <= a <= 1 for a in acc)
    # one epoch = one pass of len(y) draws, whatever the sampler
    assert sum(h[-1, "batches", :, "train_batch_size"]) == len(y)
    # Throughput is recorded per epoch.
    assert all(np.isfinite(v) and v > 0 for v in h[:, "img_per_s"])


def test_cosine_and_constant_schedules(blobs, tiny_backbone):
    X, y = blobs
    cos = tiny_backbone(max_epochs=4, warmup_epochs=0, lr=0.2, lr_schedule="cosine").fit(X, y)
    expected = [0.2 * 0.5 * (1 + np.cos(np.pi * t / 4)) for t in range(4)]
    np.testing.assert_allclose(cos.history_[:, "lr"], expected)
    const = tiny_backbone(max_epochs=3, warmup_epochs=0, lr=0.2,
                          lr_schedule="constant").fit(X, y)
    np.testing.assert_allclose(const.history_[:, "lr"], [0.2] * 3)


def test_drw_switches_class_weights(blobs, tiny_backbone):
    X, y = blobs
    bb = tiny_backbone(max_epochs=5, loss="ldam_drw").fit(X, y)
    w = bb.net_.criterion_.weight
    assert w is not None
    n = np.array([120, 40, 12])
    expected = (1 - 0.9999) / (1 - 0.9999**n)
    expected = expected / expected.sum() * 3
    # The loss keeps its weights in float32 (relative rounding 6e-8); 1e-5
    # leaves room for the float32 normalisation sum, not for another beta.
    np.testing.assert_allclose(w.cpu().numpy(), expected, rtol=1e-5)
    # LDAM uses a cosine head: joint coef rows have norm equal to the logit scale
    np.testing.assert_allclose(np.linalg.norm(bb.coef_, axis=1), bb.logit_scale_, rtol=1e-5)
    # Before the DRW epoch (int(0.8 * 5) = 4) the loss is unweighted.
    early = tiny_backbone(max_epochs=5, loss="ldam", drw_epoch=None).fit(X, y)
    assert early.net_.criterion_.weight is None


def test_drw_needs_a_loss_that_takes_class_weights(blobs, tiny_backbone):
    X, y = blobs
    with pytest.raises(ValueError, match="LogitAdjustedLoss takes no class weights, so DRW "
                                         "cannot apply"):
        tiny_backbone(max_epochs=3, loss="logit_adjusted", drw_epoch=1).fit(X, y)


def test_swa_averages_and_recomputes_bn(blobs, tiny_backbone):
    X, y = blobs
    bb = tiny_backbone(max_epochs=6, swa=True, swa_start=3, swa_lr=0.01).fit(X, y)
    np.testing.assert_allclose(bb.net_.history[:, "lr"][3:], 0.01)
    bns = [m for m in bb.module_.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert bns, "MLP has batch norm"
    # BN running mean recomputed over the training data with the averaged weights
    Z = torch.from_numpy((X - X.mean(0)) / X.std(0))
    first = bb.module_.features
    with torch.no_grad():
        linear_out = next(m for m in first.modules() if isinstance(m, torch.nn.Linear))(Z)
    # update_bn's cumulative average weighs each batch (32 rows; the last has 12) equally;
    # float32 sums of ~30 terms of magnitude ~1: 1e-5 absolute.
    batch_means = torch.stack([b.mean(0) for b in linear_out.split(32)])
    np.testing.assert_allclose(bns[0].running_mean.numpy(), batch_means.mean(0).numpy(), atol=1e-5)
    assert not np.allclose(batch_means.mean(0).numpy(), 0, atol=1e-3)


def test_swa_start_must_precede_the_end(blobs, tiny_backbone):
    X, y = blobs
    with pytest.raises(ValueError, match="swa_start=4 must be below max_epochs=4"):
        tiny_backbone(max_epochs=4, swa=True, swa_start=4).fit(X, y)


def test_divergence_is_reported_in_the_epoch_it_happens(blobs, tiny_backbone):
    # Two sane epochs, then SWA holds a huge rate from epoch 3 on (counted from 1).
    X, y = blobs
    with pytest.raises(FloatingPointError,
                       match=r"the loss became (nan|inf) in epoch 3\. Lower the learning rate"):
        tiny_backbone(max_epochs=5, warmup_epochs=0, swa=True, swa_start=2,
                      swa_lr=1e7).fit(X, y)
