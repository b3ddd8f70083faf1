"""The skorch net behind Backbone and its in-memory batch iterator, seen through Backbone."""

import numpy as np
import torch


def test_a_last_training_batch_of_one_is_dropped_for_batch_norm(blobs, tiny_backbone):
    X, y = blobs
    keep = np.r_[0:21, 120:130, 160:162]  # 33 samples: batches of 32 and 1
    bb = tiny_backbone(max_epochs=2).fit(X[keep], y[keep])  # the MLP has batch norm
    for epoch in range(2):
        assert bb.history_[epoch, "batches", :, "train_batch_size"] == [32]
    # Inference keeps every sample, in predict_batch_size slices.
    assert bb.transform(X[keep]).shape == (33, 16)


def test_prediction_batches_do_not_change_the_results(blobs, tiny_backbone):
    X, y = blobs
    bb = tiny_backbone(max_epochs=2).fit(X, y)
    Z = bb.transform(X)
    small = bb.set_params(predict_batch_size=5).transform(X)
    # float32 matrix products blocked differently per batch size (CPU-dependent):
    # equal to a few float32 ulps of the ~1-sized features, not bit for bit.
    np.testing.assert_allclose(small, Z, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(bb.predict(X), bb.set_params(predict_batch_size=1024).predict(X))


def test_partial_fit_of_the_fitted_net_trains_max_epochs_more(blobs, tiny_backbone):
    # skorch's contract; the checkpoint's resume accounting (train only the
    # epochs a restored run lacks) must not turn it into a no-op.
    X, y = blobs
    bb = tiny_backbone(max_epochs=2).fit(X, y)
    before = [p.detach().clone() for p in bb.net_.module_.parameters()]
    bb.net_.partial_fit(torch.from_numpy(X), torch.from_numpy(y))
    assert len(bb.net_.history) == 4
    after = list(bb.net_.module_.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(after, before))
