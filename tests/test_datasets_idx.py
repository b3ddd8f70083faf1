"""IDX files (MNIST, Fashion-MNIST): read_idx and the loaders, on written and real files.

Tests write small files in the real format; the real files under ../shared/data
(or $SKLEARN_LT_DATA) are read by the ``data``-marked tests when present.
"""

import gzip
import time

import numpy as np
import pytest

from sklearn_lt.datasets import load_fashion_mnist, load_mnist, read_idx


@pytest.mark.parametrize("loader", [load_mnist, load_fashion_mnist])
def test_idx_loader_reads_written_files(tmp_path, dataset_files, loader):
    arrays = dataset_files.write_mnist_like(tmp_path)
    # verify=False: the written files are not the official ones the checksums name.
    data = loader(tmp_path, verify=False)
    np.testing.assert_array_equal(data.X_train, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(data.y_train, arrays["train-labels-idx1-ubyte.gz"])
    np.testing.assert_array_equal(data.X_test, arrays["t10k-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(data.y_test, arrays["t10k-labels-idx1-ubyte.gz"])
    assert data.X_train.dtype == np.uint8 and data.y_train.dtype == np.int64
    assert data.X_train.flags.writeable
    assert len(data.target_names) == 10
    X_train, y_train, X_test, y_test = loader(tmp_path, verify=False, return_X_y=True)
    np.testing.assert_array_equal(X_test, data.X_test)
    np.testing.assert_array_equal(y_train, data.y_train)


@pytest.mark.parametrize(
    "dtype, code", [(">i2", 0x0B), (">i4", 0x0C), (">f4", 0x0D), (">f8", 0x0E), (">i1", 0x09)]
)
def test_read_idx_converts_big_endian_types(tmp_path, dataset_files, dtype, code):
    F = dataset_files
    values = np.array([[-3, 1, 2], [100, -100, 7]], dtype=np.dtype(dtype).newbyteorder("="))
    F.write_gz(tmp_path / "a.gz", F.idx_bytes(values, code, dtype))
    out = read_idx(tmp_path / "a.gz", ndim=2)
    np.testing.assert_array_equal(out, values)
    assert out.dtype.isnative


def test_idx_malformed_files_give_clear_errors(tmp_path, dataset_files):
    F = dataset_files
    images = np.zeros((5, 28, 28), dtype=np.uint8)
    good = F.idx_bytes(images)

    F.write_gz(tmp_path / "short.gz", good[:-1])
    with pytest.raises(ValueError, match=r"short\.gz is truncated.*3920 bytes.*only 3919"):
        read_idx(tmp_path / "short.gz")

    F.write_gz(tmp_path / "long.gz", good + b"\x00")
    with pytest.raises(ValueError, match=r"long\.gz has data beyond"):
        read_idx(tmp_path / "long.gz")

    F.write_gz(tmp_path / "magic.gz", b"\x01" + good[1:])
    with pytest.raises(ValueError,
                       match=r"magic\.gz is not an IDX file: bad magic number 01000803"):
        read_idx(tmp_path / "magic.gz")

    with pytest.raises(ValueError, match=r"holds a 3-d IDX array, expected 1-d"):
        F.write_gz(tmp_path / "dims.gz", good)
        read_idx(tmp_path / "dims.gz", ndim=1)

    # A download cut short: the gzip stream itself ends early.
    raw = gzip.compress(good)
    (tmp_path / "cut.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"cut\.gz is not a complete gzip file"):
        read_idx(tmp_path / "cut.gz")


def test_idx_loader_file_errors(tmp_path, dataset_files):
    F = dataset_files
    F.write_mnist_like(tmp_path)
    # Truncated file: the checksum catches it, naming the file and the fix. (The
    # written files are not the official ones, so the official checksum refuses
    # them all; the first one checked is the truncated one.)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(OSError,
                       match=r"train-images-idx3-ubyte\.gz has SHA256 .* corrupt.*download=True"):
        load_mnist(tmp_path)
    # Without verification the parser itself refuses it.
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz"):
        load_mnist(tmp_path, verify=False)

    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError,
                       match=r"t10k-labels-idx1-ubyte\.gz not found .*download=True.*ossci"):
        load_mnist(tmp_path, verify=False)


def test_idx_loader_checks_images_against_labels(tmp_path, dataset_files):
    F = dataset_files
    F.write_mnist_like(tmp_path)
    F.write_gz(tmp_path / "t10k-labels-idx1-ubyte.gz", F.idx_bytes(np.zeros(9, np.uint8)))
    with pytest.raises(ValueError, match="10 images but t10k-labels-idx1-ubyte.gz 9 labels"):
        load_mnist(tmp_path, verify=False)
    F.write_gz(tmp_path / "t10k-labels-idx1-ubyte.gz", F.idx_bytes(np.full(10, 10, np.uint8)))
    with pytest.raises(ValueError, match=r"labels outside 0\.\.9"):
        load_mnist(tmp_path, verify=False)


@pytest.mark.parametrize("loader, name", [
    pytest.param(load_mnist, "mnist", marks=pytest.mark.data("mnist/SHA256SUMS")),
    pytest.param(load_fashion_mnist, "fashion-mnist",
                 marks=pytest.mark.data("fashion-mnist/SHA256SUMS")),
])
def test_real_idx_files(data_dir, dataset_files, loader, name):
    folder = data_dir / name
    sums = dataset_files.sums(folder)
    # These copies match their published SHA-256 values ...
    assert sorted(sums) == sorted(dataset_files.MNIST_FILES)
    for file, digest in sums.items():
        assert dataset_files.sha256(folder / file) == digest, file
    # ... and so does the loader's registry: verify=True hashes every file.
    start = time.perf_counter()
    data = loader(folder)
    elapsed = time.perf_counter() - start
    assert data.X_train.shape == (60000, 28, 28) and data.X_test.shape == (10000, 28, 28)
    assert data.y_train.shape == (60000,) and data.y_test.shape == (10000,)
    assert set(np.unique(data.y_train)) == set(range(10))
    if name == "fashion-mnist":
        assert np.bincount(data.y_train).tolist() == [6000] * 10
        assert np.bincount(data.y_test).tolist() == [1000] * 10
    assert elapsed < 10, f"loading {name} took {elapsed:.1f} s"
