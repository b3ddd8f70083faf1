"""CIFAR-10 and CIFAR-100 from the official python-pickle tarballs."""

import codecs
import io
import os
import pickle
import tarfile
import zlib

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import StrOptions, validate_params

from ._fetch import LOADER_PARAMS, _fetch_file, check_tar_complete, resolve_data_home

__all__ = ["load_cifar10", "load_cifar100"]


def _numpy_rebuilders():
    # Taken from numpy's own reduce output rather than imported by name, so the
    # private module path (numpy.core in 1.x, numpy._core in 2.x) does not matter.
    probe = np.zeros(1, dtype=np.uint8)
    return probe.__reduce__()[0], probe.__reduce_ex__(5)[0]


_RECONSTRUCT, _FROMBUFFER = _numpy_rebuilders()
# The only globals a CIFAR batch (pickled by Python 2 cPickle, or by a Python 3
# writer of the same format) refers to. Anything else is refused, which makes
# a tampered file fail to load instead of running its code.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # Python 3 protocol-2 pickles spell bytes as _codecs.encode(str, "latin1").
    ("_codecs", "encode"): codecs.encode,
}


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: a CIFAR batch holds only dicts, "
                "lists and numpy arrays"
            ) from None


def _unpickle(raw, where):
    try:
        return _BatchUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as exc:
        raise ValueError(f"{where} is not a valid CIFAR pickle: {exc}") from exc


def _read_members(path, wanted):
    """Unpickle the members of a tarball whose base names are in ``wanted``.

    One sequential pass in stream mode: a .tar.gz cannot be seeked cheaply,
    and the batches are read straight from the archive, never extracted.
    """
    found = {}
    try:
        with tarfile.open(path, mode="r|*") as tar:
            for member in tar:
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and base in wanted and base not in found:
                    raw = tar.extractfile(member).read()
                    found[base] = _unpickle(raw, f"{os.fspath(path)}:{member.name}")
            check_tar_complete(tar, path)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ValueError(
            f"{os.fspath(path)} is not a complete tar archive ({exc}); delete it and "
            "download it again."
        ) from exc
    missing = sorted(set(wanted) - found.keys())
    if missing:
        raise ValueError(
            f"{os.fspath(path)} lacks {', '.join(missing)}; it is not a complete "
            "official CIFAR archive."
        )
    return found


def _batch_arrays(batch, label_key, name, n_classes):
    for key in (b"data", label_key):
        if key not in batch:
            raise ValueError(f"CIFAR batch {name} has no {key!r} entry.")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.dtype != np.uint8:
        raise ValueError(
            f"CIFAR batch {name}: data must be uint8 of shape (n, 3072), got "
            f"{data.dtype} {data.shape}."
        )
    if labels.shape != (data.shape[0],):
        raise ValueError(
            f"CIFAR batch {name} has {data.shape[0]} images but {labels.size} labels."
        )
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"CIFAR batch {name} has labels outside 0..{n_classes - 1}.")
    # Each row is the red, then green, then blue 32x32 plane: already NCHW.
    return data.reshape(-1, 3, 32, 32), labels


def _names(meta, key, name):
    if key not in meta:
        raise ValueError(f"CIFAR meta file {name} has no {key!r} entry.")
    return np.asarray([n.decode("ascii") if isinstance(n, bytes) else str(n) for n in meta[key]])




@validate_params(LOADER_PARAMS, prefer_skip_nested_validation=True)
def load_cifar10(data_home=None, *, download=False, verify=True, base_url=None,
                 return_X_y=False):
    """Load CIFAR-10 (50,000 train / 10,000 test 32x32 colour images, 10 classes).

    Reads ``cifar-10-python.tar.gz`` (Krizhevsky, 2009;
    https://www.cs.toronto.edu/~kriz/cifar.html) directly from the archive,
    without extracting it: ``data_batch_1`` .. ``data_batch_5`` form the train
    set in that order, ``test_batch`` the test set, ``batches.meta`` the names.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding ``cifar-10-python.tar.gz``. ``None`` means
        ``<sklearn.datasets.get_data_home()>/sklearn_lt/cifar10``.
    download : bool, default=False
        Fetch the archive (163 MB) into ``data_home`` when it is missing.
    verify : bool, default=True
        Check the archive against its official MD5.
    base_url : str, default=None
        Mirror to download from instead of https://www.cs.toronto.edu/~kriz/.
    return_X_y : bool, default=False
        Return ``(X_train, y_train, X_test, y_test)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X_train`` uint8 of shape (50000, 3, 32, 32) (NCHW, as torch expects),
        ``y_train`` int64, ``X_test`` uint8 (10000, 3, 32, 32), ``y_test``,
        ``target_names`` and ``DESCR``.
    (X_train, y_train, X_test, y_test) : tuple
        When ``return_X_y=True``.

    Raises
    ------
    FileNotFoundError
        The archive is missing and ``download=False``.
    OSError
        The checksum does not match, or the download failed.
    ValueError
        The archive is incomplete or a batch is malformed, ``data_home`` is
        not a folder, or a folder stands in the place of the archive.

    Notes
    -----
    The batches are Python pickles, a format that can run code when loaded
    and is unsafe for files from an untrusted source. They are read with
    ``encoding="bytes"`` by an unpickler that only accepts dicts, lists and
    numpy arrays, after the archive has been checked against its published
    MD5 (``verify=True``); still, only load archives you trust.

    Examples
    --------
    >>> from sklearn_lt.datasets import load_cifar10, make_long_tailed
    >>> c10 = load_cifar10("~/data/cifar", download=True)  # doctest: +SKIP
    >>> X_lt, y_lt = make_long_tailed(c10.X_train, c10.y_train, 100)  # doctest: +SKIP
    >>> X_lt.shape  # doctest: +SKIP
    (12406, 3, 32, 32)
    """
    home = resolve_data_home(data_home, "cifar10")
    filename = "cifar-10-python.tar.gz"
    path = _fetch_file("cifar10", filename, home, download=download, verify=verify,
                       base_url=base_url)
    train_names = [f"data_batch_{i}" for i in range(1, 6)]
    members = _read_members(path, set(train_names) | {"test_batch", "batches.meta"})
    target_names = _names(members["batches.meta"], b"label_names", "batches.meta")
    n = len(target_names)
    train = [_batch_arrays(members[b], b"labels", b, n) for b in train_names]
    X_train = np.concatenate([X for X, _ in train])
    y_train = np.concatenate([y for _, y in train])
    X_test, y_test = _batch_arrays(members["test_batch"], b"labels", "test_batch", n)
    if return_X_y:
        return X_train, y_train, X_test, y_test
    return Bunch(X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
                 target_names=target_names,
                 DESCR="CIFAR-10 (Krizhevsky, 2009): 50,000 train and 10,000 test 32x32 "
                       "RGB images of 10 classes, uint8 NCHW.")


@validate_params(
    {**LOADER_PARAMS, "label": [StrOptions({"fine", "coarse"})]},
    prefer_skip_nested_validation=True,
)
def load_cifar100(data_home=None, *, label="fine", download=False, verify=True,
                  base_url=None, return_X_y=False):
    """Load CIFAR-100 (50,000 train / 10,000 test 32x32 colour images).

    Reads the ``train``, ``test`` and ``meta`` members of
    ``cifar-100-python.tar.gz`` (Krizhevsky, 2009) directly from the archive.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding ``cifar-100-python.tar.gz``. ``None`` means
        ``<sklearn.datasets.get_data_home()>/sklearn_lt/cifar100``.
    label : {"fine", "coarse"}, default="fine"
        The 100 fine classes, or the 20 coarse super-classes.
    download : bool, default=False
        Fetch the archive (161 MB) into ``data_home`` when it is missing.
    verify : bool, default=True
        Check the archive against its official MD5.
    base_url : str, default=None
        Mirror to download from instead of https://www.cs.toronto.edu/~kriz/.
    return_X_y : bool, default=False
        Return ``(X_train, y_train, X_test, y_test)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X_train`` uint8 (50000, 3, 32, 32), ``y_train`` int64, ``X_test``
        uint8 (10000, 3, 32, 32), ``y_test``, ``target_names`` (of the chosen
        ``label`` level) and ``DESCR``.
    (X_train, y_train, X_test, y_test) : tuple
        When ``return_X_y=True``.

    Raises
    ------
    FileNotFoundError
        The archive is missing and ``download=False``.
    OSError
        The checksum does not match, or the download failed.
    ValueError
        The archive is incomplete or a batch is malformed, ``data_home`` is
        not a folder, or a folder stands in the place of the archive.

    Notes
    -----
    The batches are Python pickles, a format that can run code when loaded
    and is unsafe for files from an untrusted source. They are read with
    ``encoding="bytes"`` by an unpickler that only accepts dicts, lists and
    numpy arrays, after the archive has been checked against its published
    MD5 (``verify=True``); still, only load archives you trust.

    Examples
    --------
    >>> from sklearn_lt.datasets import load_cifar100, make_long_tailed
    >>> c100 = load_cifar100("~/data/cifar", download=True)  # doctest: +SKIP
    >>> X_lt, y_lt = make_long_tailed(c100.X_train, c100.y_train, 100)  # doctest: +SKIP
    >>> len(y_lt)  # doctest: +SKIP
    10847
    """
    home = resolve_data_home(data_home, "cifar100")
    path = _fetch_file("cifar100", "cifar-100-python.tar.gz", home, download=download,
                       verify=verify, base_url=base_url)
    members = _read_members(path, {"train", "test", "meta"})
    label_key = b"fine_labels" if label == "fine" else b"coarse_labels"
    names_key = b"fine_label_names" if label == "fine" else b"coarse_label_names"
    target_names = _names(members["meta"], names_key, "meta")
    n = len(target_names)
    X_train, y_train = _batch_arrays(members["train"], label_key, "train", n)
    X_test, y_test = _batch_arrays(members["test"], label_key, "test", n)
    if return_X_y:
        return X_train, y_train, X_test, y_test
    return Bunch(X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
                 target_names=target_names,
                 DESCR=f"CIFAR-100 (Krizhevsky, 2009), {label} labels: 50,000 train and "
                       "10,000 test 32x32 RGB images, uint8 NCHW.")

