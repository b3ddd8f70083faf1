"""Features larger than memory: transform into a memory-mapped file, heads fit on it."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from sklearn_lt import Backbone
from sklearn_lt.heads import head_catalog


@pytest.fixture(scope="module")
def fitted():
    X, y = make_blobs(n_samples=[150, 50, 12], n_features=6, random_state=1, cluster_std=2.0)
    X = X.astype(np.float32)
    bb = Backbone(module="mlp", module__hidden=(16,), max_epochs=3, batch_size=32, lr=0.05,
                  warmup_epochs=1, random_state=0, predict_batch_size=50).fit(X, y)
    return bb, X, y


def test_transform_fills_a_memory_mapped_file(fitted, tmp_path):
    bb, X, _ = fitted
    path = tmp_path / "features.npy"
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                    shape=(len(X), bb.n_features_out_))
    Z = bb.transform(X, out=out)
    assert Z is out
    out.flush()
    # Same batches, same arithmetic: equal to the in-memory features bit for bit.
    np.testing.assert_array_equal(np.load(path), bb.transform(X))


@pytest.mark.parametrize("out, match", [
    (np.zeros((5, 16), dtype=np.float32), r"shape \(212, 16\)"),
    (np.zeros((212, 16), dtype=np.float64), "float32"),
    ([[0.0]], "float32 array"),
])
def test_transform_refuses_an_out_of_the_wrong_shape_or_dtype(fitted, out, match):
    bb, X, _ = fitted
    with pytest.raises(ValueError, match=match):
        bb.transform(X, out=out)


@pytest.mark.filterwarnings("ignore::sklearn_lt.exceptions.StochasticFeaturesWarning")
def test_every_head_fits_on_read_only_memory_mapped_features(fitted, tmp_path):
    # A read-only map also proves that no head writes into its input.
    bb, X, y = fitted
    path = tmp_path / "features.npy"
    np.save(path, bb.transform(X))
    Z_map = np.load(path, mmap_mode="r")
    Z = np.load(path)
    sgd = {"batch_size": 64, "lr": 0.05, "epochs": 3}
    for (label, on_map), (_, in_memory) in zip(
            head_catalog(joint_head=bb, sgd_params=sgd, random_state=0),
            head_catalog(joint_head=bb, sgd_params=sgd, random_state=0)):
        on_map.fit(Z_map, y)
        in_memory.fit(Z, y)
        np.testing.assert_array_equal(on_map.predict(Z_map), in_memory.predict(Z), err_msg=label)
