"""Backbone(meta_epochs=...): meta-weighted stage-1 epochs sharing the head's meta step."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from sklearn_lt import Backbone
from sklearn_lt.datasets import make_long_tailed
from sklearn_lt.nn import meta_class_weights


@pytest.fixture(scope="module")
def data():
    X, y = make_blobs(n_samples=[200, 60, 25], n_features=5, random_state=0, cluster_std=2.0)
    return X.astype(np.float32), y


def _bb(**kw):
    params = dict(module="mlp", max_epochs=6, batch_size=32, lr=0.05, warmup_epochs=1,
                  random_state=0, module__hidden=(16,), meta_epochs=2, meta_dev_size=5)
    params.update(kw)
    return Backbone(**params)


def test_meta_epochs_record_weights_and_carve_a_balanced_dev_set(data):
    X, y = data
    bb = _bb().fit(X, y)
    dev = bb.meta_dev_indices_
    assert np.bincount(y[dev]).tolist() == [5, 5, 5]
    train_counts = np.bincount(np.delete(y, dev))
    np.testing.assert_allclose(bb.meta_class_weights_, meta_class_weights(train_counts, 0.9999))
    recorded = [h.get("meta_weights") for h in bb.history_]
    assert recorded[:4] == [None] * 4 and all(r is not None for r in recorded[4:])
    # The mean learned weight of each class stays close to w_y (eps is a small
    # per-example correction), so the classes keep the class weights' order.
    assert np.all(np.diff(recorded[-1]) > 0)
    # The development data is not kept in the fitted model.
    assert dict(bb.net_.callbacks_)["meta"].dev is None


def test_meta_epochs_change_training_but_not_the_earlier_epochs(data):
    X, y = data
    plain = _bb(meta_epochs=0).fit(X, y)
    given_dev = _bb(meta_epochs=2).fit(X, y, X_dev=X[:6], y_dev=y[:6])
    assert given_dev.meta_dev_indices_ is None
    # The same rows and seed: epochs before the meta phase are identical.
    loss_plain = [h["train_loss"] for h in plain.history_]
    loss_meta = [h["train_loss"] for h in given_dev.history_]
    np.testing.assert_allclose(loss_plain[:4], loss_meta[:4], rtol=1e-6)
    assert not np.allclose(loss_plain[4:], loss_meta[4:])


def test_make_long_tailed_carves_the_dev_set_before_the_tail():
    y = np.repeat(np.arange(4), 100)
    X = np.arange(400)[:, None]
    X_lt, y_lt, X_dev, y_dev, kept, dev = make_long_tailed(X, y, imbalance_factor=10,
                                                           dev_size=5, return_indices=True)
    assert np.bincount(y_dev).tolist() == [5, 5, 5, 5]
    assert np.intersect1d(kept, dev).size == 0
    # The profile is built on what is left: the head keeps 95, the tail 9.
    assert np.bincount(y_lt).tolist() == [95, 44, 20, 9]
    np.testing.assert_array_equal(X_lt[:, 0], kept)
    np.testing.assert_array_equal(X_dev[:, 0], dev)


def test_meta_errors(data):
    X, y = data
    with pytest.raises(ValueError, match="too few in class"):
        _bb(meta_dev_size=24).fit(X, y)
    # Without meta epochs a development set is the validation set (it was refused).
    bb = _bb(meta_epochs=0, max_epochs=2).fit(X, y, X_dev=X[:3], y_dev=y[:3])
    assert "valid_bal_acc" in bb.history_[-1]
    with pytest.raises(ValueError, match="exceeds max_epochs"):
        _bb(meta_epochs=7).fit(X, y)
