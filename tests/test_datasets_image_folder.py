"""load_image_folder: class folders of images, as a directory or a (gzipped) tar archive."""

import gzip
import sys
import tarfile
import time

import numpy as np
import pytest

from sklearn_lt.datasets import load_image_folder


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
def test_image_folder_tar_matches_directory(tmp_path, dataset_files, mode, suffix, prefix):
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
    digest = dataset_files.sha256(archive)
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


def test_image_folder_errors(tmp_path, dataset_files):
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
        dataset_files.tar_add(tar, "train/readme.txt", b"no images")
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


@pytest.mark.data("cifar10-jpeg/cifar10-jpeg.tar.gz", "cifar10-jpeg/SHA256SUMS")
def test_real_cifar10_jpeg_test_split(data_dir, dataset_files):
    pytest.importorskip("PIL")
    folder = data_dir / "cifar10-jpeg"
    archive = folder / "cifar10-jpeg.tar.gz"
    digest = dataset_files.sums(folder)["cifar10-jpeg.tar.gz"]
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
