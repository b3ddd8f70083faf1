"""Split files of the large long-tailed benchmarks: image paths and their labels.

ImageNet-LT and Places-LT ship text files of ``<relative path> <label>`` lines,
iNaturalist 2018 COCO-style JSON files; both name image files kept elsewhere.
"""

import json
import os
import re
from numbers import Integral

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import validate_params

__all__ = ["read_inat_json", "read_split_file"]

_INTEGER = re.compile(r"[+-]?[0-9]+")


def _join(root, names):
    """``names`` joined with ``root`` (as they are without one), a 1-D object array of str."""
    if root is not None:
        root = os.fspath(root)
        names = [os.path.join(root, name) for name in names]
    return np.asarray(names, dtype=object).reshape(len(names))


def _parse_split_line(line, number, name):
    """``(relative path, label)`` of one non-blank line of a split file."""
    parts = line.strip().rsplit(maxsplit=1)
    if len(parts) != 2:
        raise ValueError(
            f"Line {number} of {name} is malformed: it holds {line.strip()!r}, not "
            "'<relative path> <label>'."
        )
    rel, label = parts
    if _INTEGER.fullmatch(label) is None:
        raise ValueError(
            f"Line {number} of {name} is malformed: its label {label!r} is not an integer "
            f"(the line holds {line.strip()!r})."
        )
    if int(label) < 0:
        raise ValueError(
            f"Line {number} of {name} holds the negative label {int(label)} (for {rel!r}); "
            "labels must be 0 or more."
        )
    return rel, int(label)


@validate_params(
    {"path": [str, os.PathLike], "root": [str, os.PathLike, None]},
    prefer_skip_nested_validation=True,
)
def read_split_file(path, *, root=None):
    """Read an ImageNet-LT / Places-LT split file of ``<relative path> <label>`` lines.

    Each line names an image file and its integer class label, separated by
    whitespace, as in the official ``ImageNet_LT_train.txt``::

        train/n01440764/n01440764_10026.JPEG 0

    A line is split at its **last** whitespace, so a path holding spaces
    (which the official files do not have) is read whole; whitespace around
    a line is dropped. Blank lines are skipped, and Windows line ends, a
    trailing newline and a UTF-8 byte-order mark are accepted. Nothing is
    checked on disk: the files named need not exist.

    Parameters
    ----------
    path : str or path-like
        The split file (UTF-8 text).
    root : str or path-like, default=None
        Folder the relative paths start from (e.g. the ImageNet folder holding
        ``train/``); ``paths`` are joined with it when given.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``paths``: 1-D object array of str, each file name joined with
        ``root`` (the file names themselves without ``root``);
        ``target``: int64 labels, in the order of the lines;
        ``class_counts``: int64 number of images of each label, index =
        label, of length ``target.max() + 1`` (a label absent from the file
        counts 0); ``filenames``: 1-D object array of the file names as
        written.

    Raises
    ------
    ValueError
        The file holds no entry, or a line is malformed: not a path and a
        label, or a label that is not a non-negative integer (the message
        gives the line number and what the line holds).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sklearn_lt.datasets import read_split_file
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "train.txt").write_text(
    ...     "train/n01/a.JPEG 0\\ntrain/n01/b.JPEG 0\\n\\ntrain/n03/c d.JPEG 2\\n")
    >>> split = read_split_file(folder / "train.txt", root="/data/imagenet")
    >>> split.target.tolist(), split.class_counts.tolist()
    ([0, 0, 2], [2, 0, 1])
    >>> split.filenames[2], split.paths[0]
    ('train/n03/c d.JPEG', '/data/imagenet/train/n01/a.JPEG')
    """
    name = os.fspath(path)
    try:
        with open(path, encoding="utf-8-sig") as fh:
            entries = [_parse_split_line(line, number, name)
                       for number, line in enumerate(fh, start=1) if line.strip()]
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name} is not UTF-8 text: {exc}") from exc
    if not entries:
        raise ValueError(f"{name} holds no entry: expected '<relative path> <label>' lines.")
    filenames = [rel for rel, _ in entries]
    target = np.fromiter((label for _, label in entries), dtype=np.int64, count=len(entries))
    return Bunch(
        paths=_join(root, filenames), target=target,
        class_counts=np.bincount(target).astype(np.int64),
        filenames=np.asarray(filenames, dtype=object),
        DESCR=f"Split file {name}: {len(entries)} images, {target.max() + 1} labels.",
    )


def _json_id(value):
    """Whether ``value`` can be an image id: a JSON integer or string."""
    return isinstance(value, (str, Integral)) and not isinstance(value, bool)


def _is_label(value):
    """Whether ``value`` can be a category id: a JSON integer, 0 or more."""
    return isinstance(value, Integral) and not isinstance(value, bool) and value >= 0


def _check_field(record, key, where, name):
    if not isinstance(record, dict) or key not in record:
        raise ValueError(f"{where} of {name} has no {key!r}: {record!r}.")
    return record[key]


def _image_index(images, name):
    """``{image id: position}`` of the ``images`` list, with its file names."""
    index, file_names = {}, []
    for k, image in enumerate(images):
        image_id = _check_field(image, "id", f"Image {k}", name)
        file_name = _check_field(image, "file_name", f"Image {k}", name)
        if not isinstance(file_name, str):
            raise ValueError(f"Image {k} of {name} has the file_name {file_name!r}, not a str.")
        file_names.append(file_name)
        if not _json_id(image_id):
            raise ValueError(f"Image {k} of {name} has the id {image_id!r}, not an int or str.")
        if image_id in index:
            raise ValueError(
                f"Images {index[image_id]} and {k} of {name} share the id {image_id!r}; "
                "image ids must be unique."
            )
        index[image_id] = k
    if not index:
        raise ValueError(f"{name} holds no image: its 'images' list is empty.")
    return index, file_names


def _labels(annotations, index, name):
    """Category of each image (-1 where none), from the annotations."""
    target = np.full(len(index), -1, dtype=np.int64)
    for k, annotation in enumerate(annotations):
        image_id = _check_field(annotation, "image_id", f"Annotation {k}", name)
        category = _check_field(annotation, "category_id", f"Annotation {k}", name)
        if not _json_id(image_id) or image_id not in index:
            raise ValueError(
                f"Annotation {k} of {name} is for image {image_id!r}, which is not in "
                "'images'."
            )
        if not _is_label(category):
            raise ValueError(
                f"Annotation {k} of {name} has category_id {category!r}; category ids must "
                "be integers, 0 or more."
            )
        position = index[image_id]
        if target[position] != -1:
            raise ValueError(
                f"Image {image_id!r} of {name} has more than one annotation (annotation {k} "
                "is another); one label per image is expected."
            )
        target[position] = category
    return target


@validate_params(
    {"path": [str, os.PathLike], "root": [str, os.PathLike, None],
     "allow_unlabelled": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def read_inat_json(path, *, root=None, allow_unlabelled=False):
    """Read an iNaturalist 2018 split file (COCO-style JSON) of image paths and labels.

    The file (``train2018.json``, ``val2018.json``, ``test2018.json``) holds
    ``{"images": [{"id", "file_name", ...}], "annotations": [{"image_id",
    "category_id", ...}], "categories": [{"id", ...}]}``; each image's label
    is the ``category_id`` of its one annotation. Other keys are ignored, and
    nothing is checked on disk.

    The official test file gives images without annotations: read it with
    ``allow_unlabelled=True``, which labels them -1.

    Parameters
    ----------
    path : str or path-like
        The JSON file.
    root : str or path-like, default=None
        Folder the ``file_name`` paths start from (the one holding
        ``train_val2018/``); ``paths`` are joined with it when given.
    allow_unlabelled : bool, default=False
        Accept images without an annotation, with target -1, instead of
        raising an error.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``paths``: 1-D object array of str, in the order of ``images``, each
        ``file_name`` joined with ``root`` (as written without ``root``);
        ``target``: int64 category ids (-1 for an unlabelled image);
        ``class_counts``: int64 number of images of each category id, index =
        id, of length one more than the largest category id among the labels
        and ``categories`` (so that files of one data set agree; all 0 where
        no image is labelled); ``filenames``: 1-D object array of the
        ``file_name`` values as written; ``image_ids``: the images' ids, in
        the same order (what a test-set submission names).

    Raises
    ------
    ValueError
        The file has no ``images`` list, an image or annotation lacks a
        field, two images share an id, an annotation names an unknown image
        or is a second one for its image, a category id is not a
        non-negative integer, or an image has no annotation while
        ``allow_unlabelled=False``.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> from sklearn_lt.datasets import read_inat_json
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "val2018.json"
    >>> _ = path.write_text(json.dumps({
    ...     "images": [{"id": 7, "file_name": "train_val2018/Aves/3/a.jpg"},
    ...                {"id": 9, "file_name": "train_val2018/Aves/1/b.jpg"}],
    ...     "annotations": [{"image_id": 9, "category_id": 1},
    ...                     {"image_id": 7, "category_id": 3}],
    ...     "categories": [{"id": k} for k in range(5)]}))
    >>> inat = read_inat_json(path, root="/data/inat")
    >>> inat.target.tolist(), inat.class_counts.tolist(), inat.image_ids.tolist()
    ([3, 1], [0, 1, 0, 1, 0], [7, 9])
    >>> inat.paths[0]
    '/data/inat/train_val2018/Aves/3/a.jpg'
    """
    name = os.fspath(path)
    with open(path, encoding="utf-8-sig") as fh:
        try:
            content = json.load(fh)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{name} is not UTF-8 JSON: {exc}") from exc
    if not isinstance(content, dict) or not isinstance(content.get("images"), list):
        raise ValueError(f"{name} has no 'images' list: not an iNaturalist (COCO-style) file.")
    index, file_names = _image_index(content["images"], name)
    target = _labels(content.get("annotations") or [], index, name)
    unlabelled = np.flatnonzero(target < 0)
    if unlabelled.size and not allow_unlabelled:
        first = content["images"][unlabelled[0]]
        raise ValueError(
            f"{unlabelled.size} images of {name} have no annotation, the first "
            f"{first['id']!r} ({first['file_name']!r}); pass allow_unlabelled=True to read "
            "them with target -1 (as for the test set)."
        )
    categories = [c["id"] for c in content.get("categories") or []
                  if isinstance(c, dict) and _is_label(c.get("id"))]
    n_classes = max([-1, *categories, int(target.max(initial=-1))]) + 1
    return Bunch(
        paths=_join(root, file_names), target=target,
        class_counts=np.bincount(target[target >= 0], minlength=n_classes).astype(np.int64),
        filenames=np.asarray(file_names, dtype=object).reshape(len(file_names)),
        image_ids=np.asarray(list(index)),
        DESCR=f"iNaturalist split file {name}: {len(file_names)} images.",
    )
