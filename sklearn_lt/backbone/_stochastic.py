"""Stochastic representations of a SWAG Backbone and how they reach a head.

A Backbone fitted with ``swag=True`` holds a SWAG posterior over its weights
(:class:`~sklearn_lt.nn.SWAGPosterior`). Sample ``m`` of ``M`` is a network
with weights ``theta_m`` drawn from it and batch-norm statistics recomputed on
the training inputs; its features ``F(x; theta_m)`` are the stochastic
representations of Nam, Jang & Lee (ICLR 2023).

How they travel to a stage-2 head (the trade-off is in docs/user_guide/swag.md):
``transform`` keeps returning the ordinary SWA features, so every head works
unchanged. The stochastic representations of the *training* inputs are
computed once at fit and kept by the Backbone; it registers them in a
process-wide, weakly referenced cache keyed by a hash of each row of its
training features. A head that wants them (``SWAGReprClassifier``) looks up
the rows of the ``X`` it is fitted on -- whatever their order or subset, as
in cross-validation -- and gets their ``M`` stochastic copies. A Backbone
unpickled from a ``Pipeline(memory=...)`` cache registers its own again, so
searches over the head's parameters never refit or re-sample the backbone.

Two live Backbones can own the same training features and different
stochastic copies: SWAG's sampling settings (``swag_scale``,
``swag_samples``, ``swag_bn_size``) do not change the SWA network. The rows
alone cannot tell them apart, so the most recently registered entry wins --
the one a Pipeline just fitted or loaded from its cache, which is the one it
feeds to the head -- and a warning says when an older live entry holds other
copies of the same rows.
"""

import copy
import itertools
import threading
import warnings
import weakref

import numpy as np
import torch

from ..exceptions import StochasticFeaturesWarning
from ._callbacks import recompute_bn

# Fixed odd multipliers of the row hash: a 64-bit multiply-add of the float32
# bit patterns, exact and platform independent (no floating-point rounding),
# so equal rows always hash alike.
_HASH_DIM = 1 << 16
_MULT = np.random.RandomState(20230501).randint(1, 2**62, size=(2, _HASH_DIM),
                                                 dtype=np.int64).astype(np.uint64) * 2 + 1


def row_hashes(Z, chunk=4096):
    """Two 64-bit hashes per row of a float32 view of ``Z``, shape (n, 2)."""
    Z = np.ascontiguousarray(np.asarray(Z, dtype=np.float32))
    n, d = Z.shape
    mult = np.resize(_MULT, (2, d)) if d > _HASH_DIM else _MULT[:, :d]
    bits = Z.view(np.uint32)
    out = np.empty((n, 2), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for start in range(0, n, chunk):
            block = bits[start:start + chunk].astype(np.uint64)
            out[start:start + chunk, 0] = (block * mult[0]).sum(axis=1)
            out[start:start + chunk, 1] = (block * mult[1]).sum(axis=1)
    return out


class SortedRows:
    """The row hashes of a set of training features, sorted for lookup."""

    _serials = itertools.count()

    def __init__(self, hashes):
        self.serial = next(self._serials)  # creation order: the newest entry wins a tie
        self.order = np.argsort(hashes[:, 0], kind="stable")
        self.h0, self.h1 = hashes[self.order, 0], hashes[self.order, 1]

    def find(self, hashes):
        """Row index of each query row, or None if any row is unknown here."""
        pos = np.searchsorted(self.h0, hashes[:, 0])
        pos = np.minimum(pos, self.h0.shape[0] - 1)
        if not (np.array_equal(self.h0[pos], hashes[:, 0])
                and np.array_equal(self.h1[pos], hashes[:, 1])):
            return None
        return self.order[pos]


class _Entry(SortedRows):
    """Registered training rows and the stochastic copies of each row."""

    def __init__(self, Z, samples):
        super().__init__(row_hashes(Z))
        self.samples = samples  # (M, n, d) float32


class RowRegistry:
    """Process-wide entries of training rows, held weakly: the fitted Backbone that
    registered an entry keeps it alive as long as it lives."""

    def __init__(self):
        self._entries = weakref.WeakSet()
        # Searches with joblib's threading backend fit heads and backbones
        # concurrently; a set that grows while another thread iterates over it raises.
        self._lock = threading.Lock()

    def add(self, entry):
        with self._lock:
            self._entries.add(entry)
        return entry

    def newest_first(self):
        with self._lock:
            entries = list(self._entries)
        return sorted(entries, key=lambda e: e.serial, reverse=True)


_REGISTRY = RowRegistry()


def register(Z, samples):
    """Make ``samples`` (M, n, d) findable from the rows of ``Z`` (n, d); the entry."""
    return _REGISTRY.add(_Entry(Z, samples))


def lookup(Z):
    """The stochastic copies ``(M, n, d)`` of the rows of ``Z``, or None if unknown."""
    Z = np.asarray(Z)
    if Z.ndim != 2 or Z.shape[0] == 0:
        return None
    hashes = row_hashes(Z)
    found = None
    for entry in _REGISTRY.newest_first():
        if entry.samples.shape[2] != Z.shape[1]:
            continue
        idx = entry.find(hashes)
        if idx is None:
            continue
        if found is None:
            found = entry.samples[:, idx]
        elif entry.samples.shape[0] != found.shape[0] or not np.array_equal(
                entry.samples[:, idx], found):
            # Same rows, other copies: a Backbone with other SWAG sampling
            # settings (or seed) is still alive. Equal copies -- a Pipeline
            # cache loading the same fit again -- are no ambiguity.
            warnings.warn(
                "These features match the training features of more than one fitted "
                "Backbone(swag=True) with different stochastic representations (e.g. "
                "other swag_scale or swag_samples); using the most recently fitted or "
                "loaded one. Pass stochastic_features=backbone.transform_stochastic(X) "
                "to choose.", StochasticFeaturesWarning, stacklevel=4)
            break
    return found


class SampledNetworks:
    """The ``M`` networks drawn from a SWAG posterior, reproducibly.

    Weights are re-drawn from ``seed`` whenever needed (a vector of the
    parameter count per draw; keeping ``M`` of them would cost ``M`` times the
    network), while each draw's batch-norm buffers, recomputed once on the
    training inputs, are kept (they are small).

    Parameters
    ----------
    posterior : SWAGPosterior
        The fitted posterior.
    n_samples : int
        ``M``.
    scale : float
        Covariance scale of each draw.
    seed : int
        Seed of the draws.
    """

    def __init__(self, posterior, n_samples, scale, seed):
        self.posterior = posterior
        self.n_samples = n_samples
        self.scale = scale
        self.seed = seed
        self.bn_states = None

    def _thetas(self, n):
        gen = torch.Generator().manual_seed(self.seed)
        for _ in range(n):
            yield self.posterior.sample(self.scale, generator=gen)

    def fit_bn(self, module, X, batch_size, *, device, amp, bn_size=None, seed=0,
               progress=False):
        """Recompute each draw's batch-norm statistics on (a subset of) ``X``.

        ``progress``: show a progress bar over each draw's batches.
        """
        if bn_size is not None and bn_size < len(X):
            rows = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))[:bn_size]
            X = X[rows.to(X.device)]
        scratch = copy.deepcopy(module)
        has_bn = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
                     for m in scratch.modules())
        self.bn_states = []
        for m, theta in enumerate(self._thetas(self.n_samples), start=1):
            self.posterior.load_into(scratch, theta)
            if has_bn:
                desc = f"SWAG batch norm, draw {m}/{self.n_samples}" if progress else None
                recompute_bn(scratch, X, batch_size, device=device, amp=amp, desc=desc)
            self.bn_states.append({name: buf.detach().cpu().clone()
                                   for name, buf in scratch.named_buffers()})
        return self

    def networks(self, module, n=None):
        """Yield ``module``-shaped copies carrying draw ``m = 0 .. n-1`` (in eval mode)."""
        n = self.n_samples if n is None else n
        if not 1 <= n <= self.n_samples:
            raise ValueError(f"n_samples must be in [1, {self.n_samples}], got {n}.")
        scratch = copy.deepcopy(module).eval()
        for theta, buffers in zip(self._thetas(n), self.bn_states):
            self.posterior.load_into(scratch, theta)
            scratch.load_state_dict(buffers, strict=False)
            yield scratch
