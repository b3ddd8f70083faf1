"""Loaders of official data set files: IDX (MNIST), CIFAR pickles, image folders, downloads.

Tests write small files in the real formats; the real files under ../shared/data
(or $SKLEARN_LT_DATA) are read by the ``data``-marked tests when present.
"""

import functools
import gzip
import hashlib
import io
import os
import pickle
import struct
import sys
import tarfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from sklearn_lt.datasets import (
    _fetch,
    load_cifar10,
    load_cifar100,
    load_fashion_mnist,
    load_image_folder,
    load_mnist,
)
from sklearn_lt.datasets._idx import read_idx

DATA = Path(
    os.environ.get("SKLEARN_LT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)

MNIST_FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _md5(path):
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


# ====================================================================== IDX
def _idx_bytes(array, type_code=0x08, big_endian_dtype=">u1"):
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim)
    header += struct.pack(">" + "I" * array.ndim, *array.shape)
    return header + np.ascontiguousarray(array, dtype=big_endian_dtype).tobytes()


def _write_gz(path, payload):
    with gzip.open(path, "wb") as fh:
        fh.write(payload)


def _write_mnist_like(folder, n_train=20, n_test=10, seed=0):
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


def _register_local(monkeypatch, dataset, folder, algorithm="sha256"):
    """Point the registry's checksums at the files a test wrote."""
    files = _fetch.REGISTRY[dataset]["files"]
    for name in list(files):
        digest = (_sha256 if algorithm == "sha256" else _md5)(folder / name)
        monkeypatch.setitem(files, name, (algorithm, digest))


@pytest.mark.parametrize("loader, dataset", [(load_mnist, "mnist"),
                                             (load_fashion_mnist, "fashion-mnist")])
def test_idx_loader_reads_written_files(tmp_path, monkeypatch, loader, dataset):
    arrays = _write_mnist_like(tmp_path)
    _register_local(monkeypatch, dataset, tmp_path)
    data = loader(tmp_path)
    np.testing.assert_array_equal(data.X_train, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(data.y_train, arrays["train-labels-idx1-ubyte.gz"])
    np.testing.assert_array_equal(data.X_test, arrays["t10k-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(data.y_test, arrays["t10k-labels-idx1-ubyte.gz"])
    assert data.X_train.dtype == np.uint8 and data.y_train.dtype == np.int64
    assert data.X_train.flags.writeable
    assert len(data.target_names) == 10
    X_train, y_train, X_test, y_test = loader(tmp_path, return_X_y=True)
    np.testing.assert_array_equal(X_test, data.X_test)


@pytest.mark.parametrize(
    "dtype, code", [(">i2", 0x0B), (">i4", 0x0C), (">f4", 0x0D), (">f8", 0x0E), (">i1", 0x09)]
)
def test_read_idx_converts_big_endian_types(tmp_path, dtype, code):
    values = np.array([[-3, 1, 2], [100, -100, 7]], dtype=np.dtype(dtype).newbyteorder("="))
    _write_gz(tmp_path / "a.gz", _idx_bytes(values, code, dtype))
    out = read_idx(tmp_path / "a.gz", ndim=2)
    np.testing.assert_array_equal(out, values)
    assert out.dtype.isnative


def test_idx_malformed_files_give_clear_errors(tmp_path):
    images = np.zeros((5, 28, 28), dtype=np.uint8)
    good = _idx_bytes(images)

    _write_gz(tmp_path / "short.gz", good[:-1])
    with pytest.raises(ValueError, match=r"short\.gz is truncated.*3920 bytes.*only 3919"):
        read_idx(tmp_path / "short.gz")

    _write_gz(tmp_path / "long.gz", good + b"\x00")
    with pytest.raises(ValueError, match=r"long\.gz has data beyond"):
        read_idx(tmp_path / "long.gz")

    _write_gz(tmp_path / "magic.gz", b"\x01" + good[1:])
    with pytest.raises(ValueError,
                       match=r"magic\.gz is not an IDX file: bad magic number 01000803"):
        read_idx(tmp_path / "magic.gz")

    with pytest.raises(ValueError, match=r"holds a 3-d IDX array, expected 1-d"):
        _write_gz(tmp_path / "dims.gz", good)
        read_idx(tmp_path / "dims.gz", ndim=1)

    # A download cut short: the gzip stream itself ends early.
    raw = gzip.compress(good)
    (tmp_path / "cut.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"cut\.gz is not a complete gzip file"):
        read_idx(tmp_path / "cut.gz")


def test_idx_loader_file_errors(tmp_path, monkeypatch):
    _write_mnist_like(tmp_path)
    _register_local(monkeypatch, "mnist", tmp_path)

    # Truncated file: the checksum catches it, naming the file and the fix.
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


def test_idx_loader_checks_images_against_labels(tmp_path, monkeypatch):
    _write_mnist_like(tmp_path)
    _write_gz(tmp_path / "t10k-labels-idx1-ubyte.gz", _idx_bytes(np.zeros(9, np.uint8)))
    with pytest.raises(ValueError, match="10 images but t10k-labels-idx1-ubyte.gz 9 labels"):
        load_mnist(tmp_path, verify=False)
    _write_gz(tmp_path / "t10k-labels-idx1-ubyte.gz", _idx_bytes(np.full(10, 10, np.uint8)))
    with pytest.raises(ValueError, match=r"labels outside 0\.\.9"):
        load_mnist(tmp_path, verify=False)


# ====================================================================== downloads
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


def test_download_verifies_and_loads(http_folder, tmp_path, monkeypatch):
    served, url = http_folder
    arrays = _write_mnist_like(served)
    _register_local(monkeypatch, "mnist", served)
    monkeypatch.setitem(_fetch.REGISTRY["mnist"], "base_url", url)

    home = tmp_path / "home" / "mnist"
    with pytest.raises(FileNotFoundError):
        load_mnist(home)
    data = load_mnist(home, download=True)
    np.testing.assert_array_equal(data.X_train, arrays["train-images-idx3-ubyte.gz"])
    assert sorted(p.name for p in home.iterdir()) == sorted(MNIST_FILES)  # no .part left
    for name in MNIST_FILES:
        assert _sha256(home / name) == _sha256(served / name)

    # Present files are not fetched again: the server could be gone.
    monkeypatch.setitem(_fetch.REGISTRY["mnist"], "base_url", "http://127.0.0.1:9/")
    np.testing.assert_array_equal(load_mnist(home, download=True).y_test, data.y_test)


def test_download_base_url_keyword_and_md5(http_folder, tmp_path, monkeypatch):
    served, url = http_folder
    _write_cifar10_tar(served / "cifar-10-python.tar.gz")
    _register_local(monkeypatch, "cifar10", served, algorithm="md5")
    data = load_cifar10(tmp_path / "c10", download=True, base_url=url)
    assert data.X_train.shape == (5 * 4, 3, 32, 32)
    assert (tmp_path / "c10" / "cifar-10-python.tar.gz").is_file()


def test_download_with_wrong_checksum_is_discarded(http_folder, tmp_path, monkeypatch):
    served, url = http_folder
    _write_mnist_like(served)
    _register_local(monkeypatch, "mnist", served)
    monkeypatch.setitem(_fetch.REGISTRY["mnist"]["files"], "t10k-images-idx3-ubyte.gz",
                        ("sha256", "0" * 64))
    home = tmp_path / "home"
    with pytest.raises(OSError,
                       match=r"Downloaded .*t10k-images-idx3-ubyte\.gz has SHA256 .*discarded"):
        load_mnist(home, download=True, base_url=url)
    assert "t10k-images-idx3-ubyte.gz" not in {p.name for p in home.iterdir()}
    assert not list(home.glob("*.part"))


def test_download_missing_on_server(http_folder, tmp_path):
    _, url = http_folder  # serves an empty folder
    with pytest.raises(OSError, match=r"Could not download .*train-images-idx3-ubyte\.gz.*404"):
        load_mnist(tmp_path / "home", download=True, base_url=url)
    assert not list((tmp_path / "home").glob("*"))


# ====================================================================== CIFAR
def _cifar_batch(n, n_classes, rng, label_keys=(b"labels",)):
    batch = {b"batch_label": b"training batch",
             b"data": rng.randint(0, 256, (n, 3072)).astype(np.uint8),
             b"filenames": [b"img_%d.png" % i for i in range(n)]}
    for key in label_keys:
        batch[key] = rng.randint(0, n_classes, n).tolist()
    return batch


def _add(tar, name, obj):
    raw = obj if isinstance(obj, bytes) else pickle.dumps(obj, protocol=2)
    info = tarfile.TarInfo(name)
    info.size = len(raw)
    tar.addfile(info, io.BytesIO(raw))


CIFAR10_NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer",
                 b"dog", b"frog", b"horse", b"ship", b"truck"]


def _write_cifar10_tar(path, skip=(), extra=()):
    rng = np.random.RandomState(0)
    batches = {f"data_batch_{i}": _cifar_batch(4, 10, rng) for i in range(1, 6)}
    batches["test_batch"] = _cifar_batch(6, 10, rng)
    batches["batches.meta"] = {b"label_names": CIFAR10_NAMES, b"num_cases_per_batch": 4}
    # The official archive stores its members out of order too.
    order = ["data_batch_4", "test_batch", "data_batch_3", "batches.meta",
             "data_batch_2", "data_batch_5", "data_batch_1"]
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, "cifar-10-batches-py/readme.html", b"<html></html>")
        for name in order:
            if name not in skip:
                _add(tar, f"cifar-10-batches-py/{name}", batches[name])
        for name, obj in extra:
            _add(tar, name, obj)
    return batches


def test_load_cifar10_from_official_layout(tmp_path, monkeypatch):
    batches = _write_cifar10_tar(tmp_path / "cifar-10-python.tar.gz")
    _register_local(monkeypatch, "cifar10", tmp_path, algorithm="md5")
    data = load_cifar10(tmp_path)
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


def test_load_cifar100_fine_and_coarse(tmp_path, monkeypatch):
    rng = np.random.RandomState(1)
    keys = (b"fine_labels", b"coarse_labels")
    train, test = _cifar_batch(20, 20, rng, keys), _cifar_batch(8, 20, rng, keys)
    meta = {b"fine_label_names": [b"f%d" % i for i in range(100)],
            b"coarse_label_names": [b"c%d" % i for i in range(20)]}
    with tarfile.open(tmp_path / "cifar-100-python.tar.gz", "w:gz") as tar:
        for name, obj in [("meta", meta), ("test", test), ("train", train)]:
            _add(tar, f"cifar-100-python/{name}", obj)
    _register_local(monkeypatch, "cifar100", tmp_path, algorithm="md5")

    fine = load_cifar100(tmp_path)
    coarse = load_cifar100(tmp_path, label="coarse")
    np.testing.assert_array_equal(fine.y_train, train[b"fine_labels"])
    np.testing.assert_array_equal(coarse.y_test, test[b"coarse_labels"])
    np.testing.assert_array_equal(fine.X_train, coarse.X_train)
    np.testing.assert_array_equal(fine.X_test.reshape(8, -1), test[b"data"])
    assert len(fine.target_names) == 100 and coarse.target_names[3] == "c3"
    with pytest.raises(ValueError, match="label"):
        load_cifar100(tmp_path, label="medium")


def test_cifar_errors(tmp_path, monkeypatch):
    path = tmp_path / "cifar-10-python.tar.gz"
    _write_cifar10_tar(path, skip=("data_batch_3",))
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


def test_cifar_refuses_pickles_that_call_code(tmp_path):
    # A tampered batch (only reachable with verify=False or a forged checksum).
    _write_cifar10_tar(tmp_path / "cifar-10-python.tar.gz", skip=("test_batch",),
                       extra=[("cifar-10-batches-py/test_batch", {b"data": _Payload()})])
    with pytest.raises(ValueError,
                       match=r"test_batch is not a valid CIFAR pickle: refusing .*getcwd"):
        load_cifar10(tmp_path, verify=False)


# ====================================================================== image folders
def _write_tree(root, split="train"):
    """cat: three 6x4 PNGs; dog: one PNG and one JPEG; plus files to ignore."""
    from PIL import Image

    rng = np.random.RandomState(0)
    images = {}
    for cls, names in [("dog", ["b.png", "a.jpg"]), ("cat", ["2.png", "10.png", "1.png"])]:
        folder = root / split / cls if split else root / cls
        folder.mkdir(parents=True)
        for name in names:
            arr = rng.randint(0, 256, (4, 6, 3)).astype(np.uint8)
            if name.endswith(".jpg"):
                arr[:] = (200, 30, 90)  # flat colour: JPEG keeps it almost exactly
                Image.fromarray(arr).save(folder / name, quality=95)
            else:
                Image.fromarray(arr).save(folder / name)
            images[f"{cls}/{name}"] = arr
        (folder / "notes.txt").write_text("not an image")
        (folder / ".hidden.png").write_bytes(b"junk")
    return images


def _tar_tree(root, path, mode, prefix=""):
    with tarfile.open(path, mode) as tar:
        for f in sorted(root.rglob("*"), reverse=True):  # any member order must work
            tar.add(f, arcname=prefix + f.relative_to(root).as_posix(), recursive=False)
    return path


def _check_tree_bunch(data, images, split="train"):
    order = ["cat/1.png", "cat/10.png", "cat/2.png", "dog/a.jpg", "dog/b.png"]
    prefix = f"{split}/" if split else ""
    assert data.filenames.tolist() == [prefix + n for n in order]
    assert data.target_names.tolist() == ["cat", "dog"]
    assert data.target.tolist() == [0, 0, 0, 1, 1] and data.target.dtype == np.int64
    assert data.data.shape == (5, 3, 4, 6) and data.data.dtype == np.uint8
    for k, name in enumerate(order):
        expected = images[name].transpose(2, 0, 1).astype(int)
        tol = 3 if name.endswith(".jpg") else 0
        assert np.abs(data.data[k].astype(int) - expected).max() <= tol, name


def test_image_folder_directory(tmp_path):
    pytest.importorskip("PIL")
    images = _write_tree(tmp_path)
    _check_tree_bunch(load_image_folder(tmp_path, split="train"), images)
    _check_tree_bunch(load_image_folder(tmp_path / "train"), images, split=None)
    X, y = load_image_folder(tmp_path, split="train", return_X_y=True)
    assert X.shape == (5, 3, 4, 6) and y.tolist() == [0, 0, 0, 1, 1]


@pytest.mark.parametrize("mode, suffix, prefix", [("w", ".tar", ""), ("w:gz", ".tar.gz", "./")])
def test_image_folder_tar_matches_directory(tmp_path, mode, suffix, prefix):
    pytest.importorskip("PIL")
    images = _write_tree(tmp_path / "tree")
    (tmp_path / "tree" / "test" / "cat").mkdir(parents=True)
    archive = _tar_tree(tmp_path / "tree", tmp_path / f"data{suffix}", mode, prefix)
    data = load_image_folder(archive, split="train")
    _check_tree_bunch(data, images)
    from_dir = load_image_folder(tmp_path / "tree", split="train")
    np.testing.assert_array_equal(data.data, from_dir.data)

    with pytest.raises(ValueError, match=r"Split 'val' not found .*available: \['train'\]"):
        load_image_folder(archive, split="val")
    digest = _sha256(archive)
    assert load_image_folder(archive, split="train", sha256=digest).data.shape[0] == 5
    with pytest.raises(OSError, match="has SHA256"):
        load_image_folder(archive, split="train", sha256="1" * 64)


def test_image_folder_detects_truncated_archives(tmp_path):
    pytest.importorskip("PIL")
    _write_tree(tmp_path / "tree")
    plain = _tar_tree(tmp_path / "tree", tmp_path / "data.tar", "w")
    raw = plain.read_bytes()
    with tarfile.open(plain) as tar:
        members = tar.getmembers()
    # Cut exactly where a member starts: tarfile alone would just stop there.
    cut_at = next(m.offset for m in members if m.isfile() and m.offset > 0)
    for name, payload in [("boundary.tar", raw[:cut_at]),
                          ("inside.tar", raw[: cut_at + 700]),
                          ("boundary.tar.gz", gzip.compress(raw[:cut_at])),
                          ("gzip-cut.tar.gz", gzip.compress(raw)[:-200])]:
        (tmp_path / name).write_bytes(payload)
        with pytest.raises(ValueError, match=rf"{name}.* (is truncated|is not a complete tar)"):
            load_image_folder(tmp_path / name, split="train")


def test_image_folder_grey_mode_and_resize(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    images = _write_tree(tmp_path)
    grey = load_image_folder(tmp_path, split="train", mode="L")
    assert grey.data.shape == (5, 1, 4, 6)
    expected = np.asarray(Image.fromarray(images["cat/1.png"]).convert("L"))
    np.testing.assert_array_equal(grey.data[0, 0], expected)

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "train" / "dog" / "c.png")
    with pytest.raises(ValueError, match=r"cat/1\.png is 4x6 but train/dog/c\.png is 8x8.*size="):
        load_image_folder(tmp_path, split="train")
    resized = load_image_folder(tmp_path, split="train", size=(3, 5))
    assert resized.data.shape == (6, 3, 3, 5)
    expected = np.asarray(Image.fromarray(images["cat/1.png"]).resize((5, 3), Image.BILINEAR))
    np.testing.assert_array_equal(resized.data[0], expected.transpose(2, 0, 1))
    with pytest.raises(ValueError, match="size must be a"):
        load_image_folder(tmp_path, split="train", size=(3, 0))


def test_image_folder_errors(tmp_path):
    pytest.importorskip("PIL")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No class folders"):
        load_image_folder(tmp_path / "empty")
    _write_tree(tmp_path / "tree")
    with pytest.raises(ValueError, match=r"Split 'test' not found .*available: \['train'\]"):
        load_image_folder(tmp_path / "tree", split="test")
    (tmp_path / "tree" / "train" / "emu").mkdir()
    with pytest.raises(ValueError, match=r"emu holds no image"):
        load_image_folder(tmp_path / "tree", split="train")
    (tmp_path / "tree" / "train" / "emu" / "x.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"Cannot decode image train/emu/x\.png"):
        load_image_folder(tmp_path / "tree", split="train")
    with pytest.raises(FileNotFoundError):
        load_image_folder(tmp_path / "nowhere")
    (tmp_path / "file.txt").write_text("hello")
    with pytest.raises(ValueError, match="neither a folder nor a tar archive"):
        load_image_folder(tmp_path / "file.txt")
    with tarfile.open(tmp_path / "other.tar", "w") as tar:
        _add(tar, "train/readme.txt", b"no images")
    with pytest.raises(ValueError,
                       match=r"No image in .*other\.tar matches the layout train/<class>"):
        load_image_folder(tmp_path / "other.tar", split="train")
    with pytest.raises(ValueError, match="single folder name"):
        load_image_folder(tmp_path / "tree", split="../tree")


def test_image_folder_without_pillow(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    with pytest.raises(ImportError, match=r"pip install sklearn-lt\[images\]"):
        load_image_folder(tmp_path)


def test_image_folder_verbose_progress(tmp_path, capsys):
    pytest.importorskip("PIL")
    _write_tree(tmp_path)
    load_image_folder(tmp_path, split="train", verbose=True)
    err = capsys.readouterr().err
    assert "done: 5 images decoded" in err and "images/s" in err


# ====================================================================== real files
def _sums(folder):
    lines = (folder / "SHA256SUMS").read_text().split("\n")
    return dict(reversed(line.split()) for line in lines if line.strip())


@pytest.mark.data
@pytest.mark.parametrize("loader, name",
                         [(load_mnist, "mnist"), (load_fashion_mnist, "fashion-mnist")])
def test_real_idx_files(loader, name):
    folder = DATA / name
    if not (folder / "SHA256SUMS").is_file():
        pytest.skip(f"{folder} not present")
    sums = _sums(folder)
    # The registry holds the official SHA-256 values, which these copies match.
    assert {f: ("sha256", h) for f, h in sums.items()} == _fetch.REGISTRY[name]["files"]
    start = time.perf_counter()
    data = loader(folder)  # verify=True: every file is hashed
    elapsed = time.perf_counter() - start
    assert data.X_train.shape == (60000, 28, 28) and data.X_test.shape == (10000, 28, 28)
    assert data.y_train.shape == (60000,) and data.y_test.shape == (10000,)
    assert set(np.unique(data.y_train)) == set(range(10))
    if name == "fashion-mnist":
        assert np.bincount(data.y_train).tolist() == [6000] * 10
        assert np.bincount(data.y_test).tolist() == [1000] * 10
    assert elapsed < 10, f"loading {name} took {elapsed:.1f} s"


@pytest.mark.data
def test_real_cifar10_jpeg_test_split():
    folder = DATA / "cifar10-jpeg"
    archive = folder / "cifar10-jpeg.tar.gz"
    if not archive.is_file():
        pytest.skip(f"{archive} not present")
    digest = _sums(folder)["cifar10-jpeg.tar.gz"]
    start = time.perf_counter()
    data = load_image_folder(archive, split="test", sha256=digest)
    elapsed = time.perf_counter() - start
    assert data.data.shape == (10000, 3, 32, 32)
    assert np.bincount(data.target).tolist() == [1000] * 10
    assert data.target_names.tolist() == ["airplane", "automobile", "bird", "cat", "deer",
                                          "dog", "frog", "horse", "ship", "truck"]
    assert data.filenames[0] == "test/airplane/0000.jpg"
    assert data.filenames[-1] == "test/truck/0999.jpg"
    print(f"cifar10-jpeg test split: {elapsed:.1f} s")
