"""load_image_folder: class folders of images, as a directory or a (gzipped) tar archive."""

import gzip
import re
import struct
import sys
import tarfile
import time
import tracemalloc
import zlib

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


# --------------------------------------------------------------------------- bounds on what is read
class _Zeros:
    """File-like source of ``n`` zero bytes, made on demand: building a large test
    member holds no more than one chunk in memory."""

    def __init__(self, n):
        self.left = n

    def read(self, n=-1):
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return bytes(n)


def _tar_with_zeros(path, size, name="train/cat/x.png"):
    """A .tar.gz whose only member is ``size`` zero bytes (compressed about 1000:1)."""
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        info = tarfile.TarInfo(name)
        info.size = size
        tar.addfile(info, _Zeros(size))
    return path


def _peak_bytes(func):
    """Peak of the Python allocations (tracemalloc) while ``func`` runs."""
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_image_folder_refuses_a_member_over_the_default_bound_from_its_header(tmp_path):
    pytest.importorskip("PIL")
    # The audit's case, scaled down: a zero-filled x.png one byte over the
    # default 64 MiB bound, 0.3 MB once gzipped. It is refused from its tar
    # header, before any of its data is read.
    archive = _tar_with_zeros(tmp_path / "bomb.tar.gz", (64 << 20) + 1)
    assert archive.stat().st_size < 1 << 20

    def load():
        with pytest.raises(ValueError, match=r"train/cat/x\.png is 67108865 bytes, more than "
                                             r"max_member_bytes=67108864"):
            load_image_folder(archive, split="train")

    assert _peak_bytes(load) < 4 << 20


def test_image_folder_streams_a_member_within_the_bound(tmp_path):
    pytest.importorskip("PIL")
    # 48 MiB of zeros that the bound lets through: it is copied in chunks, not
    # read whole (which peaked at twice its size), then refused as not a PNG.
    # What remains is tarfile's own burst, one 10 kB gzip record inflated at
    # once: about 8 MiB at this compression level, whatever the member's size.
    size = 48 << 20
    archive = _tar_with_zeros(tmp_path / "zeros.tar.gz", size)

    def load():
        with pytest.raises(ValueError, match=r"Cannot decode image train/cat/x\.png"):
            load_image_folder(archive, split="train", max_member_bytes=size)

    assert _peak_bytes(load) < size // 4


@pytest.mark.parametrize("as_tar", [False, True])
def test_image_folder_member_and_total_bounds(tmp_path, as_tar):
    pytest.importorskip("PIL")
    images = _write_tree(tmp_path / "tree")
    sizes = {f"train/{rel}": (tmp_path / "tree" / "train" / rel).stat().st_size
             for rel in images}
    biggest, total = max(sizes.values()), sum(sizes.values())
    source = (_tar_tree(tmp_path / "tree", tmp_path / "data.tar", "w") if as_tar
              else tmp_path / "tree")
    # Bounds equal to the largest file and to the sum admit everything (the
    # ignored notes.txt and .hidden.png count for nothing).
    data = load_image_folder(source, split="train", max_member_bytes=biggest,
                             max_total_bytes=total)
    assert data.data.shape == (5, 3, 4, 6)
    assert load_image_folder(source, split="train", max_member_bytes=None,
                             max_total_bytes=None).data.shape == (5, 3, 4, 6)
    names = "|".join(re.escape(rel) for rel, n in sizes.items() if n == biggest)
    with pytest.raises(ValueError, match=rf"({names}) is {biggest} bytes, more than "
                                         rf"max_member_bytes={biggest - 1}\b"):
        load_image_folder(source, split="train", max_member_bytes=biggest - 1)
    with pytest.raises(ValueError, match=rf"train/\w+/\w+\.(png|jpg) brings .* to {total} "
                                         rf"bytes, more than max_total_bytes={total - 1}\b"):
        load_image_folder(source, split="train", max_total_bytes=total - 1)


# --------------------------------------------------------------------------- formats
# Each documented extension and the Pillow format it names.
FORMAT_OF = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".gif": "GIF",
             ".ppm": "PPM", ".pgm": "PPM", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP"}
EPS = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 6 4\n"
       b"0 0 moveto 6 4 lineto stroke\nshowpage\n%%EOF\n")


def test_image_folder_reads_each_documented_format(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    grey = np.full((4, 6), 77, np.uint8)  # one flat grey: every format keeps it exactly
    for k, (ext, fmt) in enumerate(FORMAT_OF.items()):
        folder = tmp_path / f"c{k}"
        folder.mkdir()
        im = Image.fromarray(grey)
        kwargs = {"lossless": True} if fmt == "WEBP" else {"quality": 100} if fmt == "JPEG" else {}
        im.save(folder / f"img{ext}", format=fmt, **kwargs)
    data = load_image_folder(tmp_path, mode="L")
    assert data.filenames.tolist() == [f"c{k}/img{ext}" for k, ext in enumerate(FORMAT_OF)]
    assert np.array_equal(data.data[:, 0], np.broadcast_to(grey, (len(FORMAT_OF), 4, 6)))


@pytest.mark.parametrize("as_tar", [False, True])
def test_image_folder_refuses_content_not_matching_the_extension(tmp_path, as_tar):
    Image = pytest.importorskip("PIL.Image")
    (tmp_path / "tree" / "cat").mkdir(parents=True)
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(tmp_path / "tree" / "cat" / "a.png",
                                                         format="TIFF")
    source = _tar_tree(tmp_path / "tree", tmp_path / "d.tar", "w") if as_tar else tmp_path / "tree"
    # A TIFF under a .png name loaded silently.
    with pytest.raises(ValueError, match=r"Cannot decode image cat/a\.png: it is not a PNG "
                                         r"file, the format its extension \.png names"):
        load_image_folder(source)


def test_image_folder_never_hands_eps_to_pillow(tmp_path, monkeypatch):
    pytest.importorskip("PIL.Image")
    from PIL import EpsImagePlugin

    # Pillow's EPS plugin runs Ghostscript to decode: with the content naming
    # the format, an EPS file under a .png name reached it. A spy records any
    # use of the plugin.
    opened = []

    def spy(self):
        opened.append(self)
        raise SyntaxError("EPS plugin reached")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", spy)
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "a.png").write_bytes(EPS)
    with pytest.raises(ValueError, match=r"cat/a\.png: it is not a PNG file"):
        load_image_folder(tmp_path)
    assert opened == []


# --------------------------------------------------------------------------- 16-bit images
# 16-bit samples and their 8-bit values round(v / 257), by hand: 128 / 257 = 0.498,
# 129 / 257 = 0.502, 1000 / 257 = 3.89, 32768 / 257 = 127.502, 65407 / 257 = 254.502.
WIDE = np.array([[0, 128, 129, 257], [1000, 32768, 65407, 65535]], np.uint16)
NARROW = np.array([[0, 0, 1, 1], [4, 128, 255, 255]], np.uint8)


def _png16(arr, colour_type):
    """A 16-bit PNG (colour type 0: grey, 2: RGB) written by hand; Pillow writes
    16-bit grey but not 16-bit RGB."""
    h, w = arr.shape[:2]
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in arr)

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_image_folder_rescales_16_bit_images(tmp_path):
    pytest.importorskip("PIL.Image")
    assert np.array_equal(NARROW, np.round(WIDE / 257))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "a.png").write_bytes(_png16(WIDE, 0))
    (tmp_path / "c" / "b.pgm").write_bytes(b"P5\n4 2\n65535\n" + WIDE.astype(">u2").tobytes())
    # 16-bit grey became 255 from 256 up (clipped): [0, 128, 129, 255, 255, ...].
    grey = load_image_folder(tmp_path, mode="L")
    assert grey.filenames.tolist() == ["c/a.png", "c/b.pgm"]
    assert np.array_equal(grey.data[:, 0], np.stack([NARROW, NARROW]))
    rgb = load_image_folder(tmp_path)
    assert np.array_equal(rgb.data, np.broadcast_to(NARROW, (2, 3, 2, 4)))
    # A resize works on the rescaled pixels.
    resized = load_image_folder(tmp_path, mode="L", size=(1, 2))
    assert resized.data.shape == (2, 1, 1, 2) and 0 < resized.data.max() < 255

    # 16-bit colour: Pillow keeps each sample's high byte, v // 256, within 1 of v / 257.
    colour = np.stack([WIDE, WIDE[::-1], 65535 - WIDE], axis=-1)
    (tmp_path / "c" / "b.pgm").unlink()
    (tmp_path / "c" / "a.png").write_bytes(_png16(colour, 2))
    got = load_image_folder(tmp_path).data[0].transpose(1, 2, 0).astype(int)
    assert np.array_equal(got, colour // 256)
    assert np.abs(got - colour / 257).max() <= 1


@pytest.mark.parametrize("dtype, mode", [(np.int32, "I"), (np.float32, "F")])
def test_image_folder_refuses_wider_than_16_bit_images(tmp_path, dtype, mode):
    Image = pytest.importorskip("PIL.Image")
    (tmp_path / "c").mkdir()
    im = Image.fromarray(np.array([[0, 70000], [5, 1e6]], dtype))
    assert im.mode == mode
    im.save(tmp_path / "c" / "a.tif")
    # Clipped to 255 before: [[0, 255], [5, 255]].
    with pytest.raises(ValueError, match=rf"c/a\.tif holds pixels of Pillow mode {mode} "):
        load_image_folder(tmp_path, mode="L")


def test_image_folder_decompression_bomb_is_a_value_error(tmp_path, monkeypatch):
    Image = pytest.importorskip("PIL.Image")
    _write_tree(tmp_path)
    # Pillow refuses images of more than 2 * MAX_IMAGE_PIXELS pixels with its
    # own DecompressionBombError (not an OSError), which escaped raw. The 4x6
    # images have 24 pixels, more than 2 * 10.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)
    with pytest.raises(ValueError, match=r"Cannot decode image train/cat/1\.png: .*24 pixels.*"
                                         r"MAX_IMAGE_PIXELS") as info:
        load_image_folder(tmp_path, split="train")
    assert isinstance(info.value.__cause__, Image.DecompressionBombError)
