"""Image files as Backbone input: paths in, batches streamed through a DataLoader.

``X`` may be a 1-D array of image file paths, as scikit-learn's text
vectorizers take strings. Nothing is decoded up front: a torch DataLoader's
worker processes decode each batch (:class:`~sklearn_lt.datasets.ImageTransform`)
while the network trains on the previous ones, into pinned memory on CUDA.
Memory then holds the paths, the network and a few batches in flight, whatever
the number of images. Arrays in memory stay the fast path for small data
(:class:`~sklearn_lt.backbone._net.BatchIterator`).
"""

import os

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from ..nn._samplers import batch_count, epoch_batches, epoch_order
from ._distributed import shard_of

# Decoded images per loader worker queued ahead of the network (torch's default).
PREFETCH_BATCHES = 2
# Images decoded to estimate the input statistics of a fit on files.
STATS_IMAGES = 1024


def as_paths(X):
    """``X`` as an array of path strings when it is a 1-D sequence of paths, else None."""
    if isinstance(X, (str, bytes, os.PathLike)):
        return None
    if hasattr(X, "__array__") or isinstance(X, (list, tuple)):
        arr = np.asarray(X, dtype=object) if not isinstance(X, np.ndarray) else X
        if arr.ndim != 1 or len(arr) == 0:
            return None
        if arr.dtype.kind == "U":
            return arr
        if arr.dtype == object and isinstance(arr[0], (str, os.PathLike)):
            bad = [type(v).__name__ for v in arr if not isinstance(v, (str, os.PathLike))]
            if bad:
                raise ValueError(f"X mixes image paths with {len(bad)} other value(s) "
                                 f"(e.g. of type {bad[0]}); give one path per sample.")
            return np.array([os.fspath(v) for v in arr], dtype=str)
    return None


def check_paths_exist(paths, name="X"):
    """Fail up front, naming the files, rather than in a loader worker mid-epoch."""
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} of the {len(paths)} image files in {name} do not exist, "
            f"e.g. {missing[:3]}.")


class ImageFiles(torch.utils.data.Dataset):
    """``(pixels, label)`` of the ``i``-th file: uint8 (3, S, S) and an int64 label.

    The paths are one numpy string array, not a list of Python strings: forked
    workers read it without touching reference counts, so it is not copied
    into each of them page by page.
    """

    def __init__(self, paths, labels, transform):
        self.paths = np.asarray(paths, dtype=str)
        self.labels = (np.zeros(len(self.paths), np.int64) if labels is None
                       else np.asarray(labels, dtype=np.int64))
        self.transform = transform
        self._loader = None

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return torch.from_numpy(self.transform(self.paths[i])), int(self.labels[i])

    def subset(self, rows, transform=None):
        """The files at ``rows``, decoded by ``transform`` (default: this one's)."""
        return ImageFiles(self.paths[rows], self.labels[rows], transform or self.transform)

    def loader(self, batch_size, *, sampler=None, drop_single=False, num_workers=0,
               pin_memory=False, seed=0, shard=None):
        """The DataLoader over this data set's batches; one per data set, so
        that its worker processes live as long as it does (across epochs)."""
        key = (batch_size, id(sampler), drop_single, num_workers, pin_memory, shard)
        if self._loader is None or self._loader[0] != key:
            batches = EpochBatches(len(self), batch_size, sampler=sampler,
                                   drop_single=drop_single, shard=shard)
            # Its own generator: the workers' seeds do not consume the global
            # one, which the fit seeded for initialisation and augmentation.
            gen = torch.Generator().manual_seed(seed)
            workers = dict(persistent_workers=True, prefetch_factor=PREFETCH_BATCHES) \
                if num_workers else {}
            self._loader = (key, DataLoader(self, batch_sampler=batches,
                                            num_workers=num_workers, pin_memory=pin_memory,
                                            generator=gen, **workers))
        return self._loader[1]

    def close(self):
        """Stop the loader's worker processes now.

        Dropping the loader is not enough: a traceback that holds its iterator
        (an exception raised mid-epoch, kept by a notebook as the last error)
        would keep persistent workers alive.
        """
        if self._loader is not None:
            iterator = getattr(self._loader[1], "_iterator", None)
            if iterator is not None and hasattr(iterator, "_shutdown_workers"):
                iterator._shutdown_workers()
        self._loader = None

    def __getstate__(self):
        # A loader (and its workers) does not travel to a worker process.
        return {**self.__dict__, "_loader": None}


class EpochBatches(Sampler):
    """Batches of indices, one epoch per iteration, cut as the in-memory path cuts them.

    The epoch's order comes from the Backbone's sampler (class-aware, power,
    progressive...) in the main process, so the workers only decode.
    """

    def __init__(self, n, batch_size, *, sampler=None, drop_single=False, shard=None):
        self.shard = shard  # (rank, world size) under DDP: this rank's part of each batch
        self.n = n
        self.batch_size = batch_size
        self.sampler = sampler
        self.drop_single = drop_single

    def __len__(self):
        n = len(self.sampler) if self.sampler is not None else self.n
        return batch_count(n, self.batch_size, drop_single=self.drop_single)

    def __iter__(self):
        order = epoch_order(self.sampler) if self.sampler is not None else torch.arange(self.n)
        for idx in epoch_batches(order, self.batch_size, drop_single=self.drop_single):
            idx = shard_of(idx, self.shard, self.drop_single)
            if idx is not None:  # None: too small to split over the ranks
                yield idx.tolist()


class FileBatchIterator:
    """skorch's ``iterator_train`` / ``iterator_valid`` for :class:`ImageFiles`:
    the same arguments as :class:`~sklearn_lt.backbone._net.BatchIterator`."""

    def __init__(self, dataset, batch_size, sampler=None, device=None, training=False,
                 drop_single=False, num_workers=0, seed=0, shard=None):
        pin = device is not None and torch.device(device).type == "cuda"
        self.loader = dataset.loader(batch_size, sampler=sampler,
                                     drop_single=training and drop_single,
                                     num_workers=num_workers, pin_memory=pin, seed=seed,
                                     shard=shard)

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        return iter(self.loader)


def first_batch(dataset, batch_size):
    """The first ``batch_size`` images of ``dataset``, decoded in this process."""
    rows = range(min(batch_size, len(dataset)))
    return torch.stack([dataset[i][0] for i in rows])


def sample_pixels(paths, transform, seed, n=STATS_IMAGES):
    """Up to ``n`` images decoded by ``transform``, as uint8 (n, 3, S, S): all of
    them, in order, when there are at most ``n``, else a seeded random subset in
    file order (for the input mean and standard deviation)."""
    rows = np.arange(len(paths))
    if len(rows) > n:
        rows = np.sort(np.random.default_rng(seed).choice(rows, n, replace=False))
    return np.stack([transform(paths[i]) for i in rows])
