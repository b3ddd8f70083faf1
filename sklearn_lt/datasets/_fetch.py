"""Known files of the public data sets: where to get them and their checksums.

Every loader resolves its files through :func:`_fetch_file`, which checks a
local copy against the checksum published with the data set, or downloads it
when asked to. The registry is a module-level dict so that a mirror (or a
test server) can be swapped in; the loaders also accept ``base_url=``.
"""

import hashlib
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from sklearn.datasets import get_data_home

# The parameters every loader of official files shares (validate_params).
LOADER_PARAMS = {
    "data_home": [str, os.PathLike, None],
    "download": ["boolean"],
    "verify": ["boolean"],
    "base_url": [str, None],
    "return_X_y": ["boolean"],
}

# (algorithm, hex digest) per file. MNIST and Fashion-MNIST: SHA-256 of the
# official files. CIFAR: the MD5 sums published on the CIFAR page, which is all
# the authors publish.
REGISTRY = {
    "mnist": {
        # The original host (yann.lecun.com/exdb/mnist) no longer serves the
        # files; this is the mirror PyTorch switched to, holding the same bytes.
        "base_url": "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "files": {
            "train-images-idx3-ubyte.gz": (
                "sha256", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
            "train-labels-idx1-ubyte.gz": (
                "sha256", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
            "t10k-images-idx3-ubyte.gz": (
                "sha256", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
            "t10k-labels-idx1-ubyte.gz": (
                "sha256", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
        },
    },
    "fashion-mnist": {
        "base_url": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "files": {
            "train-images-idx3-ubyte.gz": (
                "sha256", "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
            "train-labels-idx1-ubyte.gz": (
                "sha256", "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
            "t10k-images-idx3-ubyte.gz": (
                "sha256", "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
            "t10k-labels-idx1-ubyte.gz": (
                "sha256", "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
        },
    },
    "cifar10": {
        "base_url": "https://www.cs.toronto.edu/~kriz/",
        "files": {"cifar-10-python.tar.gz": ("md5", "c58f30108f718f92721af3b95e74349a")},
    },
    "cifar100": {
        "base_url": "https://www.cs.toronto.edu/~kriz/",
        "files": {"cifar-100-python.tar.gz": ("md5", "eb9058c3a382ffc7106e4002c42a8d85")},
    },
}

_CHUNK = 1 << 20


def _new_hash(algorithm):
    # MD5 here identifies a file, it protects nothing; saying so keeps it
    # usable on FIPS-mode Pythons.
    return hashlib.new(algorithm, usedforsecurity=False)


def file_digest(path, algorithm="sha256"):
    """Hex digest of a file, read in chunks."""
    h = _new_hash(algorithm)
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def check_file_digest(path, algorithm, expected, *, advice=""):
    """Raise OSError naming ``path`` when its checksum is not ``expected``."""
    actual = file_digest(path, algorithm)
    if actual != expected.lower():
        raise OSError(
            f"{path} has {algorithm.upper()} {actual}, expected {expected}: the file is "
            f"corrupt, truncated or not the official one. {advice}".rstrip()
        )


def check_tar_complete(tar, path):
    """Raise ValueError unless a stream-mode ``tar`` was read up to its end marker.

    Call after iterating over every member. A tar read in stream mode stops
    without complaint when the data runs out exactly between two members; only
    the zero block that closes every complete archive tells a cut download from
    a whole one.
    """
    if tar.fileobj.tell() - tar.offset < tarfile.BLOCKSIZE:
        raise ValueError(
            f"{os.fspath(path)} is truncated: it ends before the tar end-of-archive "
            "marker. Download it again."
        )


def resolve_data_home(data_home, dataset):
    """``data_home`` as a Path; ``None`` means a sub-folder of scikit-learn's data home."""
    home = (Path(get_data_home()) / "sklearn_lt" / dataset if data_home is None
            else Path(data_home).expanduser())
    # A file where the folder (or one of its parents) should be made mkdir fail
    # with a bare FileExistsError / NotADirectoryError, or read as "file not found".
    existing = next((p for p in (home, *home.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise ValueError(
            f"data_home {home} is not a folder: {existing} is a file. Pass a folder "
            "(it is created when missing)."
        )
    return home


def _download(url, path, algorithm, digest, *, verify, timeout=60):
    path.parent.mkdir(parents=True, exist_ok=True)
    # A unique ".part" in the target folder: the final os.replace is then atomic
    # and an interrupted or concurrent download never leaves a half file under
    # the real name.
    fd, part = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".part")
    part = Path(part)
    h = _new_hash(algorithm)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    while chunk := response.read(_CHUNK):
                        h.update(chunk)
                        out.write(chunk)
            except (urllib.error.URLError, OSError) as exc:
                raise OSError(f"Could not download {url} to {path}: {exc}") from exc
        if verify and h.hexdigest() != digest.lower():
            raise OSError(
                f"Downloaded {url} has {algorithm.upper()} {h.hexdigest()}, expected "
                f"{digest}; the download was discarded. Retry later or use another mirror "
                "(base_url=...)."
            )
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    return path


def _fetch_file(dataset, filename, data_home, *, download, verify, base_url=None):
    """Path of a registered file in ``data_home``, checked or downloaded.

    Raises FileNotFoundError when the file is absent and ``download`` is
    False, OSError when its checksum (or the download) fails, ValueError when
    a folder stands in its place.
    """
    entry = REGISTRY[dataset]
    algorithm, digest = entry["files"][filename]
    url = (base_url or entry["base_url"]).rstrip("/") + "/" + filename
    path = Path(data_home) / filename
    if path.exists() and not path.is_file():
        # Otherwise reported as missing, or, with download=True, fetched whole
        # before os.replace fails with a bare IsADirectoryError.
        raise ValueError(
            f"{path} is a folder, not the file {filename}; remove it (or move it away) "
            "and call again."
        )
    if not path.is_file():
        if not download:
            raise FileNotFoundError(
                f"{filename} not found in {data_home}. Pass download=True to fetch it "
                f"from {url}, or place the official file in that folder."
            )
        return _download(url, path, algorithm, digest, verify=verify)
    if verify:
        check_file_digest(
            path, algorithm, digest,
            advice=f"Delete it and call again with download=True to fetch it from {url}.",
        )
    return path
