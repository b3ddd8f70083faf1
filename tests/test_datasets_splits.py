"""Split files (ImageNet-LT text, iNaturalist JSON) and load_image_folder(lazy=True)."""

import json
import os
import tarfile

import numpy as np
import pytest

from sklearn_lt.datasets import load_image_folder, read_inat_json, read_split_file


# --------------------------------------------------------------------------- read_split_file
def _write(path, text):
    path.write_bytes(text.encode("utf-8"))
    return path


def _object_strs(array, expected):
    assert array.dtype == object and array.ndim == 1
    assert all(type(v) is str for v in array)
    assert array.tolist() == expected


def test_split_file_values(tmp_path):
    path = _write(tmp_path / "train.txt",
                  "train/n01440764/n01440764_10026.JPEG 0\n"
                  "\n"
                  "  train/n015/with space.JPEG   3  \n"
                  "train/n01440764/n01440764_10027.JPEG\t0\r\n"
                  "   \n"
                  "val/x.png 1\n\n")
    split = read_split_file(path)
    names = ["train/n01440764/n01440764_10026.JPEG", "train/n015/with space.JPEG",
             "train/n01440764/n01440764_10027.JPEG", "val/x.png"]
    _object_strs(split.filenames, names)
    _object_strs(split.paths, names)
    assert split.target.tolist() == [0, 3, 0, 1] and split.target.dtype == np.int64
    assert split.class_counts.tolist() == [2, 1, 0, 1]
    assert split.class_counts.dtype == np.int64

    rooted = read_split_file(str(path), root=tmp_path / "imagenet")
    _object_strs(rooted.paths, [os.path.join(tmp_path / "imagenet", n) for n in names])
    _object_strs(rooted.filenames, names)
    np.testing.assert_array_equal(rooted.target, split.target)


def test_split_file_bom_and_no_trailing_newline(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffa.jpg 2\nb.jpg 0".encode())
    split = read_split_file(path, root="r")
    assert split.filenames.tolist() == ["a.jpg", "b.jpg"]
    assert split.paths.tolist() == [os.path.join("r", "a.jpg"), os.path.join("r", "b.jpg")]
    assert split.class_counts.tolist() == [1, 0, 1]


@pytest.mark.parametrize("text, message", [
    ("a.jpg 0\n\nb.jpg\n",
     r"Line 3 of .*malformed: it holds 'b.jpg', not '<relative path> <label>'"),
    ("a.jpg 0\nb.jpg 1.5\n", r"Line 2 of .*label '1.5' is not an integer .*'b.jpg 1.5'"),
    ("a.jpg 0\nb.jpg cat\n", r"Line 2 of .*label 'cat' is not an integer"),
    ("a.jpg 0\nb.jpg -2\n", r"Line 2 of .*negative label -2 \(for 'b.jpg'\)"),
    ("", r"holds no entry"),
    ("\n  \n\n", r"holds no entry"),
])
def test_split_file_errors(tmp_path, text, message):
    path = _write(tmp_path / "bad.txt", text)
    with pytest.raises(ValueError, match=message):
        read_split_file(path)


def test_split_file_not_utf8(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes(b"caf\xe9.jpg 0\n")
    with pytest.raises(ValueError, match="not UTF-8 text"):
        read_split_file(path)


# --------------------------------------------------------------------------- read_inat_json
def _inat(images, annotations, categories=None):
    content = {"info": {"year": 2018}, "images": images, "annotations": annotations}
    if categories is not None:
        content["categories"] = categories
    return content


def _write_json(tmp_path, content):
    path = tmp_path / "split.json"
    path.write_text(json.dumps(content))
    return path


INAT_IMAGES = [
    {"id": 10, "file_name": "train_val2018/Plantae/5/a.jpg", "width": 800, "height": 600},
    {"id": 3, "file_name": "train_val2018/Aves/0/b c.jpg", "width": 800, "height": 600},
    {"id": 4, "file_name": "train_val2018/Plantae/5/d.jpg", "width": 800, "height": 600},
]


def test_inat_json_values(tmp_path):
    annotations = [{"id": 0, "image_id": 4, "category_id": 5},
                   {"id": 1, "image_id": 10, "category_id": 5},
                   {"id": 2, "image_id": 3, "category_id": 0}]
    path = _write_json(tmp_path, _inat(INAT_IMAGES, annotations,
                                       [{"id": k, "name": str(k)} for k in range(8)]))
    inat = read_inat_json(path)
    names = [im["file_name"] for im in INAT_IMAGES]
    _object_strs(inat.filenames, names)
    _object_strs(inat.paths, names)
    assert inat.target.tolist() == [5, 0, 5] and inat.target.dtype == np.int64
    # Length from the categories (8), not only from the labels (6).
    assert inat.class_counts.tolist() == [1, 0, 0, 0, 0, 2, 0, 0]
    assert inat.image_ids.tolist() == [10, 3, 4]

    rooted = read_inat_json(str(path), root=tmp_path)
    _object_strs(rooted.paths, [os.path.join(tmp_path, n) for n in names])

    no_categories = read_inat_json(_write_json(tmp_path, _inat(INAT_IMAGES, annotations)))
    assert no_categories.class_counts.tolist() == [1, 0, 0, 0, 0, 2]


def test_inat_json_unlabelled(tmp_path):
    annotations = [{"image_id": 3, "category_id": 2}]
    path = _write_json(tmp_path, _inat(INAT_IMAGES, annotations))
    with pytest.raises(ValueError, match=r"2 images of .* have no annotation, the first 10 "
                                         r"\('train_val2018/Plantae/5/a.jpg'\); pass "
                                         r"allow_unlabelled=True"):
        read_inat_json(path)
    inat = read_inat_json(path, allow_unlabelled=True)
    assert inat.target.tolist() == [-1, 2, -1]
    assert inat.class_counts.tolist() == [0, 0, 1]

    # The official test file: images, an empty annotation list, the categories.
    test = _write_json(tmp_path, _inat(INAT_IMAGES, [], [{"id": 0}, {"id": 1}]))
    inat = read_inat_json(test, allow_unlabelled=True)
    assert inat.target.tolist() == [-1, -1, -1] and inat.class_counts.tolist() == [0, 0]
    no_key = {"images": INAT_IMAGES}
    assert read_inat_json(_write_json(tmp_path, no_key),
                          allow_unlabelled=True).class_counts.tolist() == []


@pytest.mark.parametrize("content, message", [
    (_inat(INAT_IMAGES + [{"id": 3, "file_name": "x.jpg"}], []),
     r"Images 1 and 3 of .* share the id 3"),
    (_inat(INAT_IMAGES, [{"image_id": 3, "category_id": 0}, {"image_id": 99, "category_id": 1}]),
     r"Annotation 1 of .* is for image 99, which is not in 'images'"),
    (_inat(INAT_IMAGES, [{"image_id": 3, "category_id": 0}, {"image_id": 3, "category_id": 0}]),
     r"Image 3 of .* has more than one annotation"),
    (_inat(INAT_IMAGES, [{"image_id": 3, "category_id": -1}]), r"category_id -1"),
    (_inat(INAT_IMAGES, [{"image_id": 3, "category_id": "bird"}]), r"category_id 'bird'"),
    (_inat(INAT_IMAGES, [{"image_id": 3}]), r"Annotation 0 of .* has no 'category_id'"),
    (_inat([{"id": 1}], []), r"Image 0 of .* has no 'file_name'"),
    (_inat([], []), r"holds no image"),
    ({"annotations": []}, r"has no 'images' list"),
    ([1, 2], r"has no 'images' list"),
])
def test_inat_json_errors(tmp_path, content, message):
    with pytest.raises(ValueError, match=message):
        read_inat_json(_write_json(tmp_path, content), allow_unlabelled=True)


def test_inat_json_not_json(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"images": [')
    with pytest.raises(ValueError, match="is not UTF-8 JSON"):
        read_inat_json(path)


# --------------------------------------------------------------------------- lazy image folder
def _write_tree(root):
    from PIL import Image

    for cls, names in [("dog", ["b.png", "a.jpg"]), ("cat", ["2.png", "10.png", "1.png"])]:
        folder = root / "train" / cls
        folder.mkdir(parents=True)
        for name in names:
            Image.new("RGB", (6, 4), (10, 20, 30)).save(folder / name)
        (folder / "notes.txt").write_text("not an image")
        (folder / ".hidden.png").write_bytes(b"junk: never opened")


def test_image_folder_lazy(tmp_path, monkeypatch):
    pytest.importorskip("PIL")
    _write_tree(tmp_path)
    decoded = load_image_folder(tmp_path, split="train")
    lazy = load_image_folder(tmp_path, split="train", lazy=True)
    assert lazy.data.dtype == object and lazy.data.shape == (5,)
    assert lazy.filenames.tolist() == decoded.filenames.tolist()
    assert lazy.data.tolist() == [str(tmp_path / f) for f in decoded.filenames]
    assert all(os.path.isabs(p) for p in lazy.data)
    np.testing.assert_array_equal(lazy.target, decoded.target)
    np.testing.assert_array_equal(lazy.target_names, decoded.target_names)

    # A relative folder gives absolute paths too; nothing is decoded.
    import PIL.Image

    def no_open(*args, **kwargs):
        raise AssertionError("lazy=True opened an image")

    monkeypatch.setattr(PIL.Image, "open", no_open)
    monkeypatch.chdir(tmp_path)
    X, y = load_image_folder("train", lazy=True, return_X_y=True)
    assert X.tolist() == lazy.data.tolist() and y.tolist() == lazy.target.tolist()


def test_image_folder_lazy_refuses_a_tar(tmp_path):
    pytest.importorskip("PIL")
    _write_tree(tmp_path / "tree")
    archive = tmp_path / "data.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "tree" / "train", arcname="train")
    with pytest.raises(ValueError, match=r"lazy=True returns image file paths, which a tar "
                                         r"archive .* cannot give: extract it first"):
        load_image_folder(archive, split="train", lazy=True)
    assert load_image_folder(archive, split="train").data.shape == (5, 3, 4, 6)


# --------------------------------------------------------------------------- real files
CLASSES = ("airplane", "automobile", "bird")
# A long-tailed subset of the extracted images: 20, 8 and 3 per class.
LT_COUNTS = (20, 8, 3)


@pytest.fixture(scope="module")
def cifar_jpeg_subset(tmp_path_factory, data_dir):
    """The first 20 training images of 3 classes of ../shared/data/cifar10-jpeg, extracted.

    The archive lists train/<class>/NNNN.jpg class by class, in order; the stream
    stops after the third class's images (about 10,000 members read).
    """
    root = tmp_path_factory.mktemp("cifar10-jpeg")
    wanted = {f"train/{cls}/{k:04d}.jpg" for cls in CLASSES for k in range(LT_COUNTS[0])}
    with tarfile.open(data_dir / "cifar10-jpeg" / "cifar10-jpeg.tar.gz", "r|gz") as tar:
        for member in tar:
            name = member.name.removeprefix("./")
            if name in wanted and member.isfile():
                target = root / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(tar.extractfile(member).read())
                wanted.discard(name)
                if not wanted:
                    break
    assert not wanted, f"absent from the archive: {sorted(wanted)[:3]}"
    return root


@pytest.mark.data("cifar10-jpeg/cifar10-jpeg.tar.gz")
def test_split_file_on_cifar10_jpeg(cifar_jpeg_subset, tmp_path):
    from PIL import Image

    lines = [f"train/{cls}/{k:04d}.jpg {label}"
             for label, (cls, n) in enumerate(zip(CLASSES, LT_COUNTS)) for k in range(n)]
    split_path = _write(tmp_path / "CIFAR_LT_train.txt", "\n".join(lines) + "\n")
    split = read_split_file(split_path, root=cifar_jpeg_subset)
    assert split.class_counts.tolist() == list(LT_COUNTS)
    assert split.target.tolist() == [0] * 20 + [1] * 8 + [2] * 3
    assert split.filenames[0] == "train/airplane/0000.jpg"
    for path in split.paths:
        assert os.path.isfile(path), path
        with Image.open(path, formats=["JPEG"]) as im:
            assert im.size == (32, 32)
            im.load()


@pytest.mark.data("cifar10-jpeg/cifar10-jpeg.tar.gz")
def test_lazy_image_folder_on_cifar10_jpeg(cifar_jpeg_subset):
    pytest.importorskip("PIL")
    decoded = load_image_folder(cifar_jpeg_subset, split="train")
    lazy = load_image_folder(cifar_jpeg_subset, split="train", lazy=True)
    assert decoded.data.shape == (60, 3, 32, 32)
    assert lazy.filenames.tolist() == decoded.filenames.tolist()
    assert lazy.data.tolist() == [os.path.join(cifar_jpeg_subset, f) for f in decoded.filenames]
    assert lazy.target.tolist() == decoded.target.tolist() == [0] * 20 + [1] * 20 + [2] * 20
    assert lazy.target_names.tolist() == list(CLASSES)
