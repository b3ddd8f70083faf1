"""A joblib Memory whose cached calls take a file lock: one computation per key.

``Pipeline(memory=...)`` caches each transformer's fit, so a search over a
head's parameters fits the Backbone once per training fold -- in one process.
When several processes (joblib's loky workers, a Dask cluster's workers) share
the cache and two of them reach the same fold at once, both miss the cache and
both train the network: joblib's cache has no lock. Here the second one waits
on a lock file next to the cache, then reads what the first one stored.
"""

import os
import threading
from pathlib import Path

import joblib
from joblib.func_inspect import filter_args

try:  # POSIX: lockf locks hold across processes, and across hosts on NFS with lockd
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["LockedMemory"]

# lockf locks belong to the process: two threads of one process would both
# hold it (a Dask worker with several threads). A thread lock per key goes first.
_THREAD_LOCKS = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def _thread_lock(key):
    with _THREAD_LOCKS_GUARD:
        return _THREAD_LOCKS.setdefault(key, threading.Lock())


class LockedMemory(joblib.Memory):
    """:class:`joblib.Memory` whose cached calls compute once per argument set,
    across processes.

    Use it as ``Pipeline(memory=LockedMemory(path))`` (or as a head's
    ``memory``) when the cache is shared by parallel workers: a search under
    ``joblib.parallel_backend("dask")`` or ``n_jobs > 1``. A call takes an
    exclusive lock (``fcntl.lockf``) on a file named after the hash of its
    arguments, under ``<location>/sklearn_lt_locks``, for as long as it runs;
    a call with the same arguments in another process waits, then loads the
    stored result instead of computing it again. Calls with other arguments
    do not wait. The lock lives on the cache's file system, so for workers on
    several hosts ``location`` must be a shared path whose file system honours
    POSIX locks (NFS with its lock manager does). Without ``fcntl`` (Windows)
    it behaves as :class:`joblib.Memory`.

    Parameters
    ----------
    location : str or os.PathLike
        The cache's folder, as for :class:`joblib.Memory` (required here: a
        lock needs a file system).
    **kwargs
        Other :class:`joblib.Memory` arguments (``verbose`` defaults to 0).

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from sklearn_lt.utils import LockedMemory
    >>> memory = LockedMemory(tempfile.mkdtemp())
    >>> square = memory.cache(np.square)
    >>> square(3), square.check_call_in_cache(3)
    (np.int64(9), True)
    """

    def __init__(self, location, **kwargs):
        kwargs.setdefault("verbose", 0)
        super().__init__(location, **kwargs)

    def cache(self, func=None, **kwargs):
        """``func`` cached as by :meth:`joblib.Memory.cache`, each call under its lock."""
        if func is None:  # used as a decorator with arguments
            return lambda f: self.cache(f, **kwargs)
        memorized = super().cache(func, **kwargs)
        if fcntl is None:
            return memorized
        return _LockedCall(memorized, Path(self.location) / "sklearn_lt_locks")


class _LockedCall:
    """A memorized function whose calls hold the lock of their arguments."""

    def __init__(self, memorized, lock_dir):
        self.memorized = memorized
        self.lock_dir = lock_dir
        lock_dir.mkdir(parents=True, exist_ok=True)

    def __getattr__(self, name):  # clear, check_call_in_cache, call_and_shelve...
        return getattr(self.memorized, name)

    def __call__(self, *args, **kwargs):
        # The arguments joblib keys its cache on: those not in ``ignore`` (Pipeline
        # ignores the caller, which holds the candidate's parameters).
        func, ignore = self.memorized.func, self.memorized.ignore
        key = joblib.hash((func, filter_args(func, ignore, args, kwargs)))
        with _thread_lock(key):  # other threads of this process wait here
            fd = os.open(self.lock_dir / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX)  # waits while another process computes it
                return self.memorized(*args, **kwargs)
            finally:
                os.close(fd)  # closing releases the lock
