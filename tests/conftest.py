"""Fixtures and markers shared by the test modules.

- ``one_torch_thread`` (automatic): the tests train tiny problems, where extra
  intra-op threads only add contention (and thread-barrier stalls on a loaded
  machine);
- the data folder: ``$SKLEARN_LT_DATA`` or ``../shared/data`` beside the
  repository; ``@pytest.mark.data("fashion-mnist", ...)`` skips a test unless
  those entries exist there, and the ``data_dir`` fixture gives the folder;
- ``@pytest.mark.gpu`` skips a test without CUDA;
- small data sets: ``blobs``, ``skewed`` (2-D Gaussians with 600/60/15 training
  samples), ``iris``, ``digits_lt`` and the generator ``make_skewed``;
- ``tiny_backbone``: a fast, seeded Backbone factory;
- ``counting_backbone``: a Backbone subclass recording each real fit, for
  checking what a cache saves;
- ``counting_logistic_regression``: a LogisticRegression storing the training
  class counts, as every estimator of the library does (for the shot scorers);
- ``shot_case``: a hand-computed shot-accuracy case;
- ``dataset_files``: writers of small files in the official formats (IDX,
  CIFAR pickles in a tar), checksum helpers, and ``http_folder``, a local HTTP
  server for the download tests.

Session-scoped data are shared by every module: copy an array before changing it.
"""

import functools
import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile
import threading
from collections import namedtuple
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris, make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sklearn_lt import Backbone
from sklearn_lt.datasets import load_digits_lt

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("SKLEARN_LT_DATA", REPO_ROOT.parent / "shared" / "data"))


def pytest_runtest_setup(item):
    for mark in item.iter_markers("data"):
        missing = [name for name in mark.args or (".",) if not (DATA_DIR / name).exists()]
        if missing:
            pytest.skip(f"data absent: {', '.join(str(DATA_DIR / m) for m in missing)} "
                        "(set $SKLEARN_LT_DATA)")
    if item.get_closest_marker("gpu") is not None and not torch.cuda.is_available():
        pytest.skip("needs CUDA")


@pytest.fixture(scope="session")
def data_dir():
    """The folder of the real data sets (tests using it carry ``@pytest.mark.data``)."""
    return DATA_DIR


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Run every test with one torch intra-op thread, restoring the count at the end.

    The problems are tiny: a second thread buys nothing, and on a loaded 2-core
    machine its barriers made a 15-epoch MLP fit 8x slower (13 s instead of 1.7 s).
    Timing tests then measure the algorithm rather than the scheduler.
    """
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


TINY_BACKBONE = dict(module="mlp", module__hidden=(16,), max_epochs=15, batch_size=32, lr=0.05,
                     warmup_epochs=1, random_state=0)


@pytest.fixture(scope="session")
def tiny_backbone():
    """``tiny_backbone(**params)``: a seeded Backbone with a 16-unit MLP, 15 epochs of batch 32."""

    def make(**params):
        return Backbone(**{**TINY_BACKBONE, **params})

    return make


def _skewed_gaussians(counts, rng, *, radius=2.0, scale=1.2):
    """Overlapping 2-D Gaussian classes on a circle, with the given class sizes."""
    k = len(counts)
    angles = 2 * np.pi * np.arange(k) / k
    centers = radius * np.c_[np.cos(angles), np.sin(angles)]
    X = np.concatenate([rng.normal(centers[j], scale, size=(n, 2)) for j, n in enumerate(counts)])
    y = np.repeat(np.arange(k), counts)
    return X, y


@pytest.fixture(scope="session")
def make_skewed():
    """``make_skewed(counts, rng, radius=2.0, scale=1.2) -> (X, y)``."""
    return _skewed_gaussians


@pytest.fixture(scope="session")
def skewed():
    """``(X, y, X_test, y_test)``: 600/60/15 training samples, a balanced 3 x 400 test set."""
    rng = np.random.RandomState(0)
    X, y = _skewed_gaussians([600, 60, 15], rng)
    X_test, y_test = _skewed_gaussians([400, 400, 400], rng)
    return X, y, X_test, y_test


@pytest.fixture(scope="session")
def blobs():
    """``(X, y)``: 5-D float32 blobs with 120/40/12 samples."""
    X, y = make_blobs(n_samples=[120, 40, 12], centers=None, n_features=5,
                      random_state=0, cluster_std=1.0)
    return X.astype(np.float32), y


@pytest.fixture(scope="session")
def iris():
    """``(X, y)``: iris, standardised (a well-conditioned 3-class problem)."""
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="session")
def digits_lt():
    """:func:`sklearn_lt.datasets.load_digits_lt` with its defaults."""
    return load_digits_lt()


class CountingBackbone(Backbone):
    """Backbone that records each real (not cached) fit in the class list ``fits``.

    Defined at module level so that joblib can pickle it (``Pipeline(memory=...)``).
    """

    fits = []

    def fit(self, X, y):
        type(self).fits.append(len(y))
        return super().fit(X, y)


@pytest.fixture
def counting_backbone():
    """``(CountingBackbone, fits)``: fitting appends ``len(y)`` to ``fits`` (emptied here)."""
    CountingBackbone.fits.clear()
    yield CountingBackbone, CountingBackbone.fits
    CountingBackbone.fits.clear()


class CountingLogisticRegression(LogisticRegression):
    """LogisticRegression that also stores the training class sizes."""

    def fit(self, X, y, sample_weight=None):
        super().fit(X, y, sample_weight=sample_weight)
        self.class_counts_ = np.unique(y, return_counts=True)[1]
        return self


@pytest.fixture(scope="session")
def counting_logistic_regression():
    """A LogisticRegression class whose ``fit`` also sets ``class_counts_``."""
    return CountingLogisticRegression


ShotCase = namedtuple("ShotCase", "counts y_true y_pred expected")


@pytest.fixture(scope="session")
def shot_case():
    """Train counts 500 / 50 / 5 put "a" in many, "b" in medium and "c" in few;
    test: "a" 3 of 4 right, "b" 1 of 3, "c" 1 of 2."""
    return ShotCase(
        counts={"a": 500, "b": 50, "c": 5},
        y_true=np.array(["a", "a", "a", "a", "b", "b", "b", "c", "c"]),
        y_pred=np.array(["a", "a", "a", "b", "b", "a", "c", "c", "a"]),
        expected={"many": 3 / 4, "medium": 1 / 3, "few": 1 / 2,
                  "all": (3 / 4 + 1 / 3 + 1 / 2) / 3},
    )


# --------------------------------------------------------------------------- official formats
MNIST_FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
CIFAR10_NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer",
                 b"dog", b"frog", b"horse", b"ship", b"truck"]


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _md5(path):
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def _sums(folder):
    """``{file name: sha256}`` from a folder's SHA256SUMS file."""
    lines = (Path(folder) / "SHA256SUMS").read_text().split("\n")
    return dict(reversed(line.split()) for line in lines if line.strip())


def _idx_bytes(array, type_code=0x08, big_endian_dtype=">u1"):
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim)
    header += struct.pack(">" + "I" * array.ndim, *array.shape)
    return header + np.ascontiguousarray(array, dtype=big_endian_dtype).tobytes()


def _write_gz(path, payload):
    with gzip.open(path, "wb") as fh:
        fh.write(payload)


def _write_mnist_like(folder, n_train=20, n_test=10, seed=0):
    """The four MNIST files (gzipped IDX) with random content; returns the arrays."""
    rng = np.random.RandomState(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.randint(0, 256, (n_train, 28, 28)).astype(np.uint8),
        "train-labels-idx1-ubyte.gz": rng.randint(0, 10, n_train).astype(np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.randint(0, 256, (n_test, 28, 28)).astype(np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.randint(0, 10, n_test).astype(np.uint8),
    }
    for name, arr in arrays.items():
        _write_gz(folder / name, _idx_bytes(arr))
    return arrays


def _cifar_batch(n, n_classes, rng, label_keys=(b"labels",)):
    batch = {b"batch_label": b"training batch",
             b"data": rng.randint(0, 256, (n, 3072)).astype(np.uint8),
             b"filenames": [b"img_%d.png" % i for i in range(n)]}
    for key in label_keys:
        batch[key] = rng.randint(0, n_classes, n).tolist()
    return batch


def _tar_add(tar, name, obj):
    """Add bytes, or an object pickled as the CIFAR files are, as member ``name``."""
    raw = obj if isinstance(obj, bytes) else pickle.dumps(obj, protocol=2)
    info = tarfile.TarInfo(name)
    info.size = len(raw)
    tar.addfile(info, io.BytesIO(raw))


def _write_cifar10_tar(path, skip=(), extra=()):
    """A cifar-10-python.tar.gz with 5 x 4 training and 6 test images; returns the batches."""
    rng = np.random.RandomState(0)
    batches = {f"data_batch_{i}": _cifar_batch(4, 10, rng) for i in range(1, 6)}
    batches["test_batch"] = _cifar_batch(6, 10, rng)
    batches["batches.meta"] = {b"label_names": CIFAR10_NAMES, b"num_cases_per_batch": 4}
    # The official archive stores its members out of order too.
    order = ["data_batch_4", "test_batch", "data_batch_3", "batches.meta",
             "data_batch_2", "data_batch_5", "data_batch_1"]
    with tarfile.open(path, "w:gz") as tar:
        _tar_add(tar, "cifar-10-batches-py/readme.html", b"<html></html>")
        for name in order:
            if name not in skip:
                _tar_add(tar, f"cifar-10-batches-py/{name}", batches[name])
        for name, obj in extra:
            _tar_add(tar, name, obj)
    return batches


@pytest.fixture(scope="session")
def dataset_files():
    """Writers of small files in the official formats and checksum helpers."""
    return SimpleNamespace(
        MNIST_FILES=MNIST_FILES, CIFAR10_NAMES=CIFAR10_NAMES, sha256=_sha256, md5=_md5,
        sums=_sums, idx_bytes=_idx_bytes, write_gz=_write_gz, write_mnist_like=_write_mnist_like,
        cifar_batch=_cifar_batch, tar_add=_tar_add, write_cifar10_tar=_write_cifar10_tar,
    )


@pytest.fixture
def http_folder(tmp_path):
    """A local HTTP server on 127.0.0.1 serving a temporary folder; yields (folder, url)."""
    served = tmp_path / "served"
    served.mkdir()

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(QuietHandler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
