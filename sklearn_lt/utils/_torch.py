"""Torch device, random-generator and thread helpers."""

import contextlib

import numpy as np
import torch


def resolve_device(device):
    """Map ``"auto"`` to CUDA when available, else CPU; pass others through.

    Parameters
    ----------
    device : str, torch.device or None
        ``"auto"`` or ``None`` for the automatic choice, else any device
        ``torch.device`` accepts.

    Returns
    -------
    device : torch.device
        The device.
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r}, but CUDA is not available here (torch "
                         f"{torch.__version__}); use device='cpu' or 'auto'.")
    if device.type == "cuda" and device.index is not None \
            and device.index >= torch.cuda.device_count():
        raise ValueError(f"device={str(device)!r}, but only {torch.cuda.device_count()} CUDA "
                         "device(s) exist.")
    return device


def torch_generator(random_state):
    """A CPU ``torch.Generator`` seeded from an int, a RandomState or None.

    Drawing the seed through numpy keeps ``random_state`` semantics identical to
    scikit-learn's (``None`` -> fresh entropy, an int -> repeatable).

    Parameters
    ----------
    random_state : int, RandomState instance or None
        Source of the seed; a RandomState is advanced by one draw.

    Returns
    -------
    generator : torch.Generator
        A seeded CPU generator.
    """
    from sklearn.utils import check_random_state

    rng = check_random_state(random_state)
    g = torch.Generator()
    g.manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
    return g


@contextlib.contextmanager
def thread_limit(n_threads):
    """Run a block with at most ``n_threads`` torch and BLAS/OpenMP threads.

    torch's intra-op pool and the BLAS under numpy/scipy each default to one
    thread per core. Next to another busy process (a second fit, a data
    loader, a notebook kernel) that oversubscribes the cores: 2-thread torch
    was seen running about 5x slower than 1 thread on a 2-core machine.
    Capping the threads per process is the fix. The previous settings are restored
    on exit, also when the block raises.

    Parameters
    ----------
    n_threads : int or None
        Threads for the block; ``None`` changes nothing.

    Yields
    ------
    None

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.utils import thread_limit
    >>> before = torch.get_num_threads()
    >>> with thread_limit(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    if n_threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(int(n_threads))
    try:
        with threadpool_limits(limits=int(n_threads)):
            yield
    finally:
        torch.set_num_threads(previous)


def feature_tensor(X, device):
    """Features as a tensor on ``device``: float32 kept, anything else float64.

    float32 features (a Backbone's) are computed on in float32, as
    scikit-learn's L-BFGS keeps them; a read-only buffer (a memory-mapped
    ``.npy``), which torch cannot wrap safely, is copied.
    """
    dtype = torch.float32 if getattr(X, "dtype", None) == np.float32 else torch.float64
    # Contiguous: torch cannot wrap negative strides (X[::-1]).
    arr = np.ascontiguousarray(X)
    tensor = torch.from_numpy(arr) if arr.flags.writeable else torch.tensor(arr)
    return tensor.to(device=device, dtype=dtype)
