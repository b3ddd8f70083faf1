"""CIFAR-10/100 loaders on archives written in the official layout."""

import gzip
import io
import os
import tarfile

import numpy as np
import pytest

from sklearn_lt.datasets import load_cifar10, load_cifar100


def test_load_cifar10_from_official_layout(tmp_path, dataset_files):
    batches = dataset_files.write_cifar10_tar(tmp_path / "cifar-10-python.tar.gz")
    # verify=False: the written archive is not the official one its MD5 names.
    data = load_cifar10(tmp_path, verify=False)
    train = [batches[f"data_batch_{i}"] for i in range(1, 6)]
    expected_rows = np.concatenate([b[b"data"] for b in train])
    assert data.X_train.shape == (20, 3, 32, 32) and data.X_train.dtype == np.uint8
    # Each row holds the R, G, B planes one after the other, row-major.
    n, c, h, w = 13, 2, 5, 31
    assert data.X_train[n, c, h, w] == expected_rows[n, c * 1024 + h * 32 + w]
    np.testing.assert_array_equal(data.X_train.reshape(20, -1), expected_rows)
    np.testing.assert_array_equal(data.y_train, np.concatenate([b[b"labels"] for b in train]))
    np.testing.assert_array_equal(data.y_test, batches["test_batch"][b"labels"])
    assert data.y_train.dtype == np.int64 and data.X_test.shape == (6, 3, 32, 32)
    assert data.target_names.tolist()[:2] == ["airplane", "automobile"]


def test_load_cifar100_fine_and_coarse(tmp_path, dataset_files):
    F = dataset_files
    rng = np.random.RandomState(1)
    keys = (b"fine_labels", b"coarse_labels")
    train, test = F.cifar_batch(20, 20, rng, keys), F.cifar_batch(8, 20, rng, keys)
    meta = {b"fine_label_names": [b"f%d" % i for i in range(100)],
            b"coarse_label_names": [b"c%d" % i for i in range(20)]}
    with tarfile.open(tmp_path / "cifar-100-python.tar.gz", "w:gz") as tar:
        for name, obj in [("meta", meta), ("test", test), ("train", train)]:
            F.tar_add(tar, f"cifar-100-python/{name}", obj)

    fine = load_cifar100(tmp_path, verify=False)
    coarse = load_cifar100(tmp_path, label="coarse", verify=False)
    np.testing.assert_array_equal(fine.y_train, train[b"fine_labels"])
    np.testing.assert_array_equal(coarse.y_test, test[b"coarse_labels"])
    np.testing.assert_array_equal(fine.X_train, coarse.X_train)
    np.testing.assert_array_equal(fine.X_test.reshape(8, -1), test[b"data"])
    assert len(fine.target_names) == 100 and coarse.target_names[3] == "c3"
    with pytest.raises(ValueError, match="label"):
        load_cifar100(tmp_path, label="medium", verify=False)


def test_cifar_errors(tmp_path, dataset_files):
    path = tmp_path / "cifar-10-python.tar.gz"
    dataset_files.write_cifar10_tar(path, skip=("data_batch_3",))
    with pytest.raises(OSError, match=r"cifar-10-python\.tar\.gz has MD5 .*corrupt"):
        load_cifar10(tmp_path)
    with pytest.raises(ValueError, match=r"lacks data_batch_3"):
        load_cifar10(tmp_path, verify=False)

    whole = path.read_bytes()
    raw = gzip.decompress(whole)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        last = tar.getmembers()[-1]
    end = last.offset_data + -(-last.size // 512) * 512
    path.write_bytes(gzip.compress(raw[:end]))  # all members, but no end-of-archive block
    with pytest.raises(ValueError, match=r"cifar-10-python\.tar\.gz is truncated"):
        load_cifar10(tmp_path, verify=False)
    path.write_bytes(whole)

    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ValueError, match=r"cifar-10-python\.tar\.gz is not a complete tar archive"):
        load_cifar10(tmp_path, verify=False)

    path.unlink()
    with pytest.raises(FileNotFoundError, match=r"cifar-10-python\.tar\.gz not found.*toronto"):
        load_cifar10(tmp_path)


class _Payload:
    """Unpickling this would call os.getcwd: stands in for arbitrary code."""

    def __reduce__(self):
        return (os.getcwd, ())


def test_cifar_refuses_pickles_that_call_code(tmp_path, dataset_files):
    # A tampered batch (only reachable with verify=False or a forged checksum).
    dataset_files.write_cifar10_tar(tmp_path / "cifar-10-python.tar.gz", skip=("test_batch",),
                       extra=[("cifar-10-batches-py/test_batch", {b"data": _Payload()})])
    with pytest.raises(ValueError,
                       match=r"test_batch is not a valid CIFAR pickle: refusing .*getcwd"):
        load_cifar10(tmp_path, verify=False)
