"""Images stored one folder per class, in a directory or a (gzipped) tar archive."""

import os
import shutil
import sys
import tarfile
import tempfile
import time
import zlib
from numbers import Integral
from pathlib import Path, PurePosixPath

import numpy as np
import tqdm
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._fetch import check_file_digest, check_tar_complete

__all__ = ["load_image_folder"]

# The image files read, by extension, and the one Pillow format each may hold.
# Pillow otherwise picks a decoder from the content, whatever the name: a TIFF
# under a .png name loaded silently and an EPS file reached the EPS plugin,
# which runs Ghostscript.
IMAGE_FORMATS = {
    ".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".gif": "GIF",
    ".ppm": "PPM", ".pgm": "PPM", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP",
}
IMAGE_EXTENSIONS = frozenset(IMAGE_FORMATS)
# An archive member is copied to a buffer that stays in memory up to this size
# and moves to a temporary file beyond it: decoding needs a seekable source,
# which a stream-mode tar member is not, and reading a member whole cost twice
# its size in memory (tarfile joins the chunks it reads).
_SPOOL_BYTES = 1 << 20
# Default bounds of load_image_folder: far above any photograph's file, and
# enough for data sets whose decoded arrays fit in the memory of a large machine.
MAX_MEMBER_BYTES = 64 << 20
MAX_TOTAL_BYTES = 32 << 30
_COPY_CHUNK = 1 << 16


def _import_pil_image():
    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError(
            "load_image_folder decodes images with Pillow, which is not installed. "
            "Install it with `pip install sklearn-lt[images]` (or `pip install pillow`)."
        ) from exc
    return Image


def _is_candidate(name):
    return not name.startswith(".") and PurePosixPath(name).suffix.lower() in IMAGE_EXTENSIONS


# Pillow modes of unsigned 16-bit samples (any byte order).
_UNSIGNED_16 = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})


class _Decoder:
    """Decode images to uint8 (C, H, W), checking they all share one size."""

    def __init__(self, mode, size, verbose, max_member_bytes=None, max_total_bytes=None):
        self.Image = _import_pil_image()
        self.mode, self.size, self.verbose = mode, size, verbose
        self.max_member_bytes, self.max_total_bytes = max_member_bytes, max_total_bytes
        self.first = None  # (shape, name) of the first image, for size errors
        self.count = 0
        self.members = 0
        self.total_bytes = 0
        self.start = time.perf_counter()
        self.bar = None

    def track(self, total=None):
        """Start the progress bar (when verbose): over ``total`` files to decode, or,
        with ``total=None``, over archive members, which a stream cannot count
        ahead (so the bar also moves while other splits' members are skipped)."""
        if self.verbose:
            self.bar = tqdm.tqdm(total=total, desc="load_image_folder",
                                 unit="image" if total is not None else "member",
                                 leave=False, file=sys.stderr)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def admit(self, name, n_bytes):
        """Count a file of ``n_bytes`` against the bounds, before any of it is read."""
        if self.max_member_bytes is not None and n_bytes > self.max_member_bytes:
            raise ValueError(
                f"{name} is {n_bytes} bytes, more than max_member_bytes="
                f"{self.max_member_bytes}; pass a larger max_member_bytes (or None) if the "
                "file is a genuine image."
            )
        self.total_bytes += n_bytes
        if self.max_total_bytes is not None and self.total_bytes > self.max_total_bytes:
            raise ValueError(
                f"Reading {name} brings the image files read to {self.total_bytes} bytes, "
                f"more than max_total_bytes={self.max_total_bytes}; pass a larger "
                "max_total_bytes (or None) to read more."
            )

    def _pixels(self, im, name):
        """uint8 (H, W) or (H, W, C) pixels of an open image, converted and resized."""
        if im.mode in _UNSIGNED_16 or (im.mode == "I" and im.format in ("PNG", "PPM")):
            # 16-bit samples (PNG and PPM/PGM ones span 0..65535 in Pillow's "I"
            # mode too): convert() would clip every value above 255, so map them
            # onto 0..255 by round(v / 257) (65535 = 255 * 257; 257 is odd, so
            # no value falls on a tie).
            wide = np.asarray(im).astype(np.uint32)
            im = self.Image.fromarray(((wide + 128) // 257).astype(np.uint8))
        elif im.mode in ("I", "F") or im.mode.startswith("I;"):
            raise ValueError(
                f"{name} holds pixels of Pillow mode {im.mode} (32-bit or signed integers, "
                "or floats), whose range is unknown; only 8-bit and unsigned 16-bit images "
                "are read. Convert it to 8 bits."
            )
        try:
            im = im.convert(self.mode)
        except ValueError as exc:  # a colour mode Pillow cannot convert
            raise ValueError(f"Cannot convert image {name} to {self.mode}: {exc}") from exc
        if self.size is not None and im.size != (self.size[1], self.size[0]):
            im = im.resize((self.size[1], self.size[0]), self.Image.BILINEAR)
        return np.asarray(im, dtype=np.uint8)

    def __call__(self, source, name):
        ext = PurePosixPath(name).suffix.lower()
        fmt = IMAGE_FORMATS[ext]
        try:
            # formats=: only the decoder of the format the extension names is tried.
            with self.Image.open(source, formats=[fmt]) as im:
                arr = self._pixels(im, name)
        except self.Image.UnidentifiedImageError as exc:
            raise ValueError(
                f"Cannot decode image {name}: it is not a {fmt} file, the format its "
                f"extension {ext} names (each file must hold the format its extension "
                "names)."
            ) from exc
        except self.Image.DecompressionBombError as exc:  # not an OSError
            raise ValueError(
                f"Cannot decode image {name}: {exc} Pillow refuses images of more than "
                "2 * PIL.Image.MAX_IMAGE_PIXELS pixels; raise that limit if the file is "
                "genuine."
            ) from exc
        except OSError as exc:
            raise ValueError(f"Cannot decode image {name}: {exc}") from exc
        arr = arr[np.newaxis] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        if self.first is None:
            self.first = (arr.shape, name)
        elif arr.shape != self.first[0]:
            (_, h0, w0), first_name = self.first
            raise ValueError(
                f"Images differ in size: {first_name} is {h0}x{w0} but {name} is "
                f"{arr.shape[1]}x{arr.shape[2]} (height x width); pass size=(height, width) "
                "to resize them all."
            )
        self.count += 1
        if self.bar is not None and not self.members:
            self.bar.update()
        return arr

    def member_read(self):
        """Count an archive member: in an archive, progress counts members, so that
        it also shows while the members of other splits are skipped."""
        self.members += 1
        if self.bar is not None:
            self.bar.set_postfix(decoded=self.count, refresh=False)
            self.bar.update()

    def report(self):
        elapsed = time.perf_counter() - self.start
        rate = self.count / elapsed if elapsed > 0 else float("inf")
        scanned = f", {self.members} archive members read" if self.members else ""
        print(
            f"[load_image_folder] done: {self.count} images decoded"
            f"{scanned} in {elapsed:.1f} s ({rate:.0f} images/s)",
            file=sys.stderr,
        )


def _list_directory(root, split):
    """``(base, files)``: the folder read and its image files as ``(class, file name)``
    pairs, by class then file name, listed without opening any file."""
    base = root / split if split is not None else root
    if split is not None and not base.is_dir():
        found = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        raise ValueError(f"Split {split!r} not found in {root}; available: {found}.")
    classes = sorted(d.name for d in base.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise ValueError(f"No class folders in {base}: expected <class>/<image file>.")
    files = []
    for cls in classes:
        names = sorted(
            f.name for f in (base / cls).iterdir() if f.is_file() and _is_candidate(f.name)
        )
        if not names:
            raise ValueError(f"Class folder {base / cls} holds no image file.")
        files += [(cls, fname) for fname in names]
    return base, files


def _relative(split, cls, fname):
    return "/".join(p for p in (split, cls, fname) if p is not None)


def _from_directory(root, split, decode):
    # Listed in full first, so that the progress bar knows its total.
    base, files = _list_directory(root, split)
    decode.track(total=len(files))
    items = []
    for cls, fname in files:
        rel = _relative(split, cls, fname)
        decode.admit(rel, (base / cls / fname).stat().st_size)
        items.append((cls, fname, rel, decode(base / cls / fname, rel)))
    return items


def _lazy_items(path, split):
    """The items of a folder with each image's absolute path instead of its pixels."""
    base, files = _list_directory(Path(os.path.abspath(path)), split)
    return [(cls, fname, _relative(split, cls, fname), str(base / cls / fname))
            for cls, fname in files]


def _spooled_copy(fileobj):
    """A seekable copy of ``fileobj``, made chunk by chunk: in memory while small,
    in a temporary file beyond ``_SPOOL_BYTES``."""
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)
    try:
        shutil.copyfileobj(fileobj, spool, _COPY_CHUNK)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


def _from_tar(path, split, decode):
    prefix = (split,) if split is not None else ()
    items, splits_seen = [], set()
    decode.track()
    try:
        # Stream mode: members are visited once, in archive order. Random access
        # into a .tar.gz would re-decompress from the start for every member.
        with tarfile.open(path, mode="r|*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                decode.member_read()
                parts = PurePosixPath(member.name).parts
                if parts and parts[0] == ".":
                    parts = parts[1:]
                if len(parts) >= 2:
                    splits_seen.add(parts[0])
                if (len(parts) != len(prefix) + 2 or parts[: len(prefix)] != prefix
                        or parts[-2].startswith(".") or not _is_candidate(parts[-1])):
                    continue
                rel = "/".join(parts)
                # The header gives the size: a member over the bounds is refused
                # before any of its data is decompressed.
                decode.admit(rel, member.size)
                with _spooled_copy(tar.extractfile(member)) as source:
                    items.append((parts[-2], parts[-1], rel, decode(source, rel)))
            check_tar_complete(tar, path)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ValueError(f"{path} is not a complete tar archive ({exc}).") from exc
    if not items:
        if split is not None and split not in splits_seen:
            raise ValueError(
                f"Split {split!r} not found in {path}; available: {sorted(splits_seen)}."
            )
        layout = f"{split}/<class>/<image file>" if split is not None else "<class>/<image file>"
        raise ValueError(f"No image in {path} matches the layout {layout}.")
    items.sort(key=lambda item: (item[0], item[1]))
    return items


def _read_items(path, split, decode):
    """The items of a folder or archive, decoded, with the progress display of ``decode``."""
    read = _from_directory if path.is_dir() else _from_tar
    try:
        items = read(path, split, decode)
    finally:
        decode.close()  # an error message is not printed over a live bar
    if decode.verbose:
        decode.report()
    return items


@validate_params(
    {
        "path": [str, os.PathLike],
        "split": [str, None],
        "size": [tuple, None],
        "mode": [StrOptions({"RGB", "L"})],
        "sha256": [str, None],
        "verbose": ["boolean", Interval(Integral, 0, None, closed="left")],
        "max_member_bytes": [Interval(Integral, 1, None, closed="left"), None],
        "max_total_bytes": [Interval(Integral, 1, None, closed="left"), None],
        "return_X_y": ["boolean"],
        "lazy": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_image_folder(path, *, split=None, size=None, mode="RGB", sha256=None, verbose=False,
                      max_member_bytes=MAX_MEMBER_BYTES, max_total_bytes=MAX_TOTAL_BYTES,
                      return_X_y=False, lazy=False):
    """Load images laid out one sub-folder per class, from a folder or a tar archive.

    The layout is ``<split>/<class>/<image file>`` under ``path`` (or
    ``<class>/<image file>`` when ``split`` is None), as used by
    ImageNet-style data sets. ``path`` may be a folder or a ``.tar`` /
    ``.tar.gz`` archive with that layout at its root (a leading ``./`` is
    accepted); archives are read in one sequential pass without extracting
    anything, each member streamed into a buffer (a temporary file beyond
    1 MiB) while it is decoded.

    The files read are those with the extensions ``.jpg`` / ``.jpeg``
    (JPEG), ``.png`` (PNG), ``.bmp`` (BMP), ``.gif`` (GIF, first frame),
    ``.ppm`` / ``.pgm`` (PPM), ``.tif`` / ``.tiff`` (TIFF) and ``.webp``
    (WebP), case-insensitive; each is decoded only as the format its
    extension names, and a file holding another format is refused. Other
    files, and hidden ones, are skipped.

    With ``lazy=True`` (a folder only) the files are listed but none is
    opened: ``data`` holds their absolute paths, for data sets too large to
    decode at once (decode them batch by batch, e.g. in a data loader).

    Parameters
    ----------
    path : str or path-like
        Folder or tar archive.
    split : str, default=None
        Sub-folder to read, e.g. ``"train"`` or ``"test"``.
    size : tuple of (int, int), default=None
        ``(height, width)`` to resize every image to (bilinear). Without it
        all images must already share one size.
    mode : {"RGB", "L"}, default="RGB"
        Colour mode images are converted to: 3 channels, or 1 grey channel.
        16-bit grey images are rescaled to 8 bits by ``round(v / 257)``;
        16-bit colour images keep each sample's high byte (``v // 256``, as
        Pillow decodes them); 32-bit integer, signed or float images are
        refused.
    sha256 : str, default=None
        Expected SHA-256 of the archive, checked before anything is decoded.
    verbose : bool or int, default=False
        Show a progress bar on stderr while reading (over the image files of
        a folder, out of their total; over the members of an archive, an
        open-ended count since a stream is read in one pass, with the images
        decoded so far), erased at the end, where one line reports the images
        decoded, the elapsed time and the rate.
    max_member_bytes : int or None, default=67108864
        Largest image file read (64 MiB). In an archive the size comes from the
        member's header, so a larger member is refused before any of its data
        is decompressed; ``None`` lifts the bound.
    max_total_bytes : int or None, default=34359738368
        Most bytes of image files read in all (32 GiB), counting only the files
        decoded (not the skipped ones nor the other splits of an archive);
        ``None`` lifts the bound.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    lazy : bool, default=False
        Return the image files' absolute paths in ``data`` (a 1-D object
        array of str, in the order of ``filenames``) instead of decoded
        pixels: the files are listed, not opened, so ``size``, ``mode``,
        ``verbose`` and the byte bounds have no effect. A tar archive cannot
        give paths: extract it first.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data``: uint8 array of shape (n_images, C, H, W) with C = 3 for RGB,
        1 for L; ``target``: int64 labels; ``target_names``: class folder
        names, sorted, so that label ``k`` is ``target_names[k]``;
        ``filenames``: paths relative to ``path`` (``split/class/file``).
        Images are ordered by class name, then file name (string order).
        With ``lazy=True``, ``data`` is a 1-D object array of absolute paths
        (str) instead.
    (data, target) : tuple
        When ``return_X_y=True``.

    Raises
    ------
    ImportError
        Pillow is not installed.
    OSError
        The archive does not match ``sha256``.
    ValueError
        No images, an unknown split, images of different sizes without
        ``size``, a class folder without images, an undecodable image, one
        of 32-bit, signed or float pixels, one beyond Pillow's
        decompression-bomb limit (``2 * PIL.Image.MAX_IMAGE_PIXELS`` pixels),
        a file whose content is not the format its extension names, a
        file beyond ``max_member_bytes`` or ``max_total_bytes``, or
        ``lazy=True`` with a tar archive.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from PIL import Image
    >>> from sklearn_lt.datasets import load_image_folder
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for cls, n in [("cat", 3), ("dog", 1)]:
    ...     (root / "train" / cls).mkdir(parents=True)
    ...     for i in range(n):
    ...         Image.new("RGB", (5, 4)).save(root / "train" / cls / f"{i}.png")
    >>> ds = load_image_folder(root, split="train")
    >>> ds.data.shape, ds.target.tolist(), ds.target_names.tolist()
    ((4, 3, 4, 5), [0, 0, 0, 1], ['cat', 'dog'])
    >>> paths = load_image_folder(root, split="train", lazy=True).data
    >>> paths.dtype, [pathlib.Path(p).relative_to(root).as_posix() for p in paths[2:]]
    (dtype('O'), ['train/cat/2.png', 'train/dog/0.png'])
    """
    if size is not None:
        if len(size) != 2 or not all(isinstance(s, Integral) and s > 0 for s in size):
            raise ValueError(f"size must be a (height, width) pair of positive ints, got {size!r}.")
        size = (int(size[0]), int(size[1]))
    if split is not None and (split in ("", ".", "..") or "/" in split or "\\" in split):
        raise ValueError(f"split must be a single folder name, got {split!r}.")
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    if path.is_dir():
        if sha256 is not None:
            raise ValueError("sha256 checks an archive file; path is a folder.")
    elif not tarfile.is_tarfile(path):
        raise ValueError(f"{path} is neither a folder nor a tar archive.")
    elif lazy:
        raise ValueError(
            f"lazy=True returns image file paths, which a tar archive such as {path} cannot "
            "give: extract it first (e.g. `tar -xf archive.tar.gz -C folder`) and pass the "
            "folder, or pass lazy=False to decode the images from the archive."
        )
    elif sha256 is not None:
        check_file_digest(path, "sha256", sha256)

    if lazy:
        items = _lazy_items(path, split)
    else:
        items = _read_items(path, split, _Decoder(mode, size, verbose, max_member_bytes,
                                                  max_total_bytes))

    target_names = np.asarray(sorted({cls for cls, *_ in items}))
    label_of = {name: k for k, name in enumerate(target_names.tolist())}
    data = (np.asarray([arr for *_, arr in items], dtype=object) if lazy
            else np.stack([arr for *_, arr in items]))
    target = np.fromiter((label_of[cls] for cls, *_ in items), dtype=np.int64, count=len(items))
    if return_X_y:
        return data, target
    return Bunch(
        data=data, target=target, target_names=target_names,
        filenames=np.asarray([rel for _, _, rel, _ in items]),
        DESCR=f"Images from {path}" + (f", split {split!r}" if split is not None else "") + ".",
    )
