"""MNIST and Fashion-MNIST from their official gzipped IDX files."""

import gzip
import os
import zlib

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import validate_params

from ._fetch import LOADER_PARAMS, _fetch_file, resolve_data_home

__all__ = ["load_mnist", "load_fashion_mnist"]

# IDX type codes (third byte of the magic number); every value is big-endian.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

_FASHION_NAMES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]


def _read_exact(fh, buffer):
    """Fill ``buffer`` from ``fh``; GzipFile.readinto may return short reads."""
    view = memoryview(buffer).cast("B")
    filled = 0
    while filled < len(view):
        n = fh.readinto(view[filled:])
        if not n:
            break
        filled += n
    return filled


def read_idx(path, *, ndim=None):
    """Read a gzipped IDX file into a native-endian ndarray.

    The format (LeCun et al.): a 4-byte magic number ``0x00 0x00 <type> <ndim>``,
    ``ndim`` big-endian uint32 sizes, then the values, big-endian, row-major.

    Parameters
    ----------
    path : str or path-like
        ``.gz`` IDX file.
    ndim : int, default=None
        Number of dimensions the file must have.

    Returns
    -------
    array : ndarray of shape given by the header
    """
    name = os.fspath(path)
    try:
        with gzip.open(path, "rb") as fh:
            header = fh.read(4)
            if len(header) < 4 or header[0] != 0 or header[1] != 0 or header[2] not in _IDX_DTYPES:
                raise ValueError(
                    f"{name} is not an IDX file: bad magic number {header.hex() or '(empty)'}."
                )
            dtype, file_ndim = _IDX_DTYPES[header[2]], header[3]
            if ndim is not None and file_ndim != ndim:
                raise ValueError(f"{name} holds a {file_ndim}-d IDX array, expected {ndim}-d.")
            raw_shape = fh.read(4 * file_ndim)
            if len(raw_shape) < 4 * file_ndim:
                raise ValueError(f"{name} is truncated inside its IDX header.")
            shape = tuple(int(d) for d in np.frombuffer(raw_shape, dtype=">u4"))
            out = np.empty(shape, dtype=dtype.newbyteorder("="))
            got = _read_exact(fh, out)
            if got < out.nbytes:
                raise ValueError(
                    f"{name} is truncated: the header announces shape {shape} "
                    f"({out.nbytes} bytes of data) but only {got} bytes follow."
                )
            if fh.read(1):
                raise ValueError(f"{name} has data beyond the {shape} array its header announces.")
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ValueError(f"{name} is not a complete gzip file ({exc}); re-download it.") from exc
    if dtype.itemsize > 1:
        # The bytes were read into a native buffer as they came: swap them in place.
        out = out.view(dtype).astype(dtype.newbyteorder("="))
    return out


def _load_idx_dataset(dataset, data_home, *, download, verify, base_url, target_names, descr):
    home = resolve_data_home(data_home, dataset)
    # Every file is found (or fetched) and verified before any is parsed, so a
    # missing file is reported at once rather than after seconds of decoding.
    paths = {
        name: _fetch_file(dataset, name, home, download=download, verify=verify,
                          base_url=base_url)
        for pair in _FILES.values() for name in pair
    }
    arrays = {}
    for split, (images_file, labels_file) in _FILES.items():
        images_path, labels_path = paths[images_file], paths[labels_file]
        X = read_idx(images_path, ndim=3)
        y = read_idx(labels_path, ndim=1)
        if X.dtype != np.uint8:
            raise ValueError(f"{images_file} holds {X.dtype} values, expected unsigned bytes.")
        if X.shape[0] != y.shape[0]:
            raise ValueError(
                f"{images_file} holds {X.shape[0]} images but {labels_file} "
                f"{y.shape[0]} labels."
            )
        if y.size and (y.min() < 0 or y.max() >= len(target_names)):
            raise ValueError(
                f"{labels_file} has labels outside 0..{len(target_names) - 1}."
            )
        arrays[split] = (X, y.astype(np.int64))
    (X_train, y_train), (X_test, y_test) = arrays["train"], arrays["test"]
    return X_train, y_train, X_test, y_test, Bunch(
        X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
        target_names=np.asarray(target_names), DESCR=descr,
    )




@validate_params(LOADER_PARAMS, prefer_skip_nested_validation=True)
def load_mnist(data_home=None, *, download=False, verify=True, base_url=None, return_X_y=False):
    """Load MNIST (60,000 train / 10,000 test 28x28 grey digits) from IDX files.

    Reads the four official files ``train-images-idx3-ubyte.gz``,
    ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz`` and
    ``t10k-labels-idx1-ubyte.gz`` from ``data_home``. The original host
    (yann.lecun.com) no longer serves them; downloads come from the mirror
    https://ossci-datasets.s3.amazonaws.com/mnist/ with the same bytes.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding the four files. ``None`` means
        ``<sklearn.datasets.get_data_home()>/sklearn_lt/mnist``.
    download : bool, default=False
        Fetch missing files into ``data_home`` (written to a ``.part`` file
        and renamed once complete and verified).
    verify : bool, default=True
        Check every file against its official SHA-256.
    base_url : str, default=None
        Mirror to download from instead of the registered one.
    return_X_y : bool, default=False
        Return ``(X_train, y_train, X_test, y_test)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X_train`` uint8 of shape (60000, 28, 28), ``y_train`` int64 of shape
        (60000,), ``X_test`` (10000, 28, 28), ``y_test`` (10000,),
        ``target_names`` ("0" to "9") and ``DESCR``.
    (X_train, y_train, X_test, y_test) : tuple
        When ``return_X_y=True``.

    Raises
    ------
    FileNotFoundError
        A file is missing and ``download=False``.
    OSError
        A checksum does not match, or a download failed.
    ValueError
        A file is not a valid (complete) gzipped IDX file, ``data_home`` is
        not a folder, or a folder stands in the place of one of the files.

    Examples
    --------
    >>> from sklearn_lt.datasets import load_mnist
    >>> mnist = load_mnist("~/data/mnist", download=True)  # doctest: +SKIP
    >>> mnist.X_train.shape, mnist.y_train.dtype  # doctest: +SKIP
    ((60000, 28, 28), dtype('int64'))
    """
    *Xy, bunch = _load_idx_dataset(
        "mnist", data_home, download=download, verify=verify, base_url=base_url,
        target_names=[str(d) for d in range(10)],
        descr="MNIST handwritten digits (LeCun et al., 1998): 60,000 train and 10,000 "
              "test 28x28 uint8 grey images of the digits 0-9.",
    )
    return tuple(Xy) if return_X_y else bunch


@validate_params(LOADER_PARAMS, prefer_skip_nested_validation=True)
def load_fashion_mnist(data_home=None, *, download=False, verify=True, base_url=None,
                       return_X_y=False):
    """Load Fashion-MNIST (60,000 train / 10,000 test 28x28 grey images) from IDX files.

    Same layout and file names as MNIST (Xiao et al., 2017), 10 clothing
    classes of 6,000 train and 1,000 test images each. Downloads come from
    http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding the four ``.gz`` files. ``None`` means
        ``<sklearn.datasets.get_data_home()>/sklearn_lt/fashion-mnist``.
    download : bool, default=False
        Fetch missing files into ``data_home``.
    verify : bool, default=True
        Check every file against its official SHA-256.
    base_url : str, default=None
        Mirror to download from instead of the registered one.
    return_X_y : bool, default=False
        Return ``(X_train, y_train, X_test, y_test)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X_train`` uint8 (60000, 28, 28), ``y_train`` int64, ``X_test`` uint8
        (10000, 28, 28), ``y_test`` int64, ``target_names`` and ``DESCR``.
    (X_train, y_train, X_test, y_test) : tuple
        When ``return_X_y=True``.

    Raises
    ------
    FileNotFoundError
        A file is missing and ``download=False``.
    OSError
        A checksum does not match, or a download failed.
    ValueError
        A file is not a valid (complete) gzipped IDX file, ``data_home`` is
        not a folder, or a folder stands in the place of one of the files.

    Examples
    --------
    >>> from sklearn_lt.datasets import load_fashion_mnist, make_long_tailed
    >>> fm = load_fashion_mnist("~/data/fashion-mnist", download=True)  # doctest: +SKIP
    >>> X_lt, y_lt = make_long_tailed(fm.X_train, fm.y_train, 100)  # doctest: +SKIP
    >>> len(y_lt)  # doctest: +SKIP
    14886
    """
    *Xy, bunch = _load_idx_dataset(
        "fashion-mnist", data_home, download=download, verify=verify, base_url=base_url,
        target_names=_FASHION_NAMES,
        descr="Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017): 60,000 train and 10,000 "
              "test 28x28 uint8 grey images of 10 clothing classes.",
    )
    return tuple(Xy) if return_X_y else bunch
