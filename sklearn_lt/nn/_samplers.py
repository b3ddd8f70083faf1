"""Class-aware data samplers for long-tailed training (Kang et al., 2020).

A sample of class ``j`` is drawn with probability ``p_j = n_j^q / sum_k n_k^q``:
``q = 1`` is instance-balanced (ordinary shuffling), ``q = 0`` class-balanced,
``q = 1/2`` square-root sampling; progressively-balanced sampling moves from
``q = 1`` to ``q = 0`` over training. Within a class, samples are served from a
shuffled queue that is reshuffled when exhausted (the ``RandomCycleIter`` of
Kang et al.'s ``ClassAwareSampler``), so a class's samples cycle without
repetition, and the queues persist from one epoch to the next.

An epoch is drawn at once with tensor operations: all class ids with one
``torch.multinomial`` call, then each class's share is read from its queue, new
per-class permutations being generated in one vectorised shuffle. The cost is
``O((num_samples + n) log)``, with no Python loop over samples or classes.

References
----------
B. Kang, S. Xie, M. Rohrbach, Z. Yan, A. Gordo, J. Feng, Y. Kalantidis.
"Decoupling representation and classifier for long-tailed recognition",
ICLR 2020, Section 3 (sampling strategies).
"""

import numbers

import numpy as np
import torch
from torch.utils.data import Sampler

from ..utils._sampling import (
    power_class_probabilities,
    resolve_num_samples,
    sampler_exponent,
)

__all__ = [
    "ClassAwareSampler",
    "PowerSampler",
    "ProgressivelyBalancedSampler",
    "epoch_batches",
    "epoch_order",
    "make_sampler",
]


def _arange_within(lengths):
    """``cat([arange(l) for l in lengths])`` without a Python loop."""
    total = int(lengths.sum())
    starts = torch.cumsum(lengths, 0) - lengths
    return torch.arange(total) - torch.repeat_interleave(starts, lengths, output_size=total)


class _CyclingQueues:
    """Per-group shuffled queues of indices, reshuffled when exhausted.

    ``sorted_idx`` holds the indices grouped by group (group ``j`` occupies
    ``sizes[j]`` consecutive entries). The state is one current permutation per
    group (``queue``, same layout) and a read position per group in
    ``[0, sizes[j]]``; a position equal to the size means "exhausted".
    """

    def __init__(self, sorted_idx, sizes):
        self.sorted_idx = sorted_idx
        self.sizes = sizes
        self.starts = torch.cumsum(sizes, 0) - sizes
        self.queue = sorted_idx.clone()
        self.pos = sizes.clone()  # all exhausted: the first draw shuffles

    def take(self, groups, generator):
        """Next queue element for each entry of ``groups``, in order."""
        n, G = self.sizes, self.sizes.shape[0]
        k = torch.bincount(groups, minlength=G)
        end = self.pos + k
        n_rounds = torch.clamp((end + n - 1) // n, min=1)  # current + fresh permutations
        fresh = n_rounds - 1
        stream_len = n_rounds * n
        # The stream of group j: its current permutation, then ``fresh[j]`` new ones.
        s0 = torch.cumsum(stream_len, 0) - stream_len
        stream = torch.empty(int(stream_len.sum()), dtype=torch.long)
        stream[torch.repeat_interleave(s0, n) + _arange_within(n)] = self.queue

        fresh_len = fresh * n
        if int(fresh_len.sum()) > 0:
            round_group = torch.repeat_interleave(torch.arange(G), fresh)
            round_len = n[round_group]
            elem_round = torch.repeat_interleave(torch.arange(round_group.shape[0]), round_len)
            first = self.starts[round_group][elem_round]
            values = self.sorted_idx[first + _arange_within(round_len)]
            # A random permutation, stably sorted by round, shuffles every round
            # independently and uniformly in one pass.
            perm = torch.randperm(values.shape[0], generator=generator)
            if round_group.shape[0] > 1:
                perm = perm[torch.argsort(elem_round[perm], stable=True)]
            dest = torch.repeat_interleave(s0 + n, fresh_len) + _arange_within(fresh_len)
            stream[dest] = values[perm]

        out = torch.empty(groups.shape[0], dtype=torch.long)
        slots = torch.argsort(groups, stable=True)
        out[slots] = stream[torch.repeat_interleave(s0 + self.pos, k) + _arange_within(k)]

        last = s0 + fresh * n
        self.queue = stream[torch.repeat_interleave(last, n) + _arange_within(n)]
        self.pos = end - fresh * n
        return out


def _encode_targets(y):
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] == 0:
        raise ValueError(f"y must be a non-empty 1-D array of labels, got shape {y.shape}.")
    classes, y_enc, counts = np.unique(y, return_inverse=True, return_counts=True)
    return classes, y_enc.reshape(-1).astype(np.int64), counts.astype(np.int64)


class _ClassQueueSampler(Sampler):
    """Draw a class ``j`` with probability ``p_j``, then the next sample of its queue."""

    def __init__(self, y, num_samples=None, generator=None):
        classes, y_enc, counts = _encode_targets(y)
        self.classes = classes
        self.class_counts = counts
        self.num_samples = resolve_num_samples(num_samples, counts)
        self.generator = generator
        self.epoch = 0
        order = torch.as_tensor(np.argsort(y_enc, kind="stable"))
        self._queues = _CyclingQueues(order, torch.as_tensor(counts))

    def class_probabilities(self):
        """Current probability ``p_j`` of drawing class ``j`` (aligned with ``classes``)."""
        raise NotImplementedError

    def set_epoch(self, epoch):
        """Record the current epoch (counted from 0); only progressive sampling uses it."""
        if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative int, got {epoch!r}.")
        self.epoch = int(epoch)

    def _sample_epoch(self):
        p = torch.as_tensor(self.class_probabilities(), dtype=torch.float64)
        groups = torch.multinomial(p, self.num_samples, replacement=True, generator=self.generator)
        return self._queues.take(groups, self.generator)

    def epoch_indices(self):
        """One epoch of indices as a LongTensor (what iterating the sampler yields)."""
        return self._sample_epoch()

    def state_dict(self):
        """Everything a resumed run needs to continue the same sequence of epochs."""
        queues = {k: (q.queue.clone(), q.pos.clone()) for k, q in vars(self).items()
                  if isinstance(q, _CyclingQueues)}
        gen = None if self.generator is None else self.generator.get_state()
        return {"epoch": self.epoch, "generator": gen, "queues": queues}

    def load_state_dict(self, state):
        """Restore :meth:`state_dict` (in place: trainers hold this object)."""
        self.epoch = state["epoch"]
        if state["generator"] is not None:
            self.generator.set_state(state["generator"])
        for key, (queue, pos) in state["queues"].items():
            getattr(self, key).queue, getattr(self, key).pos = queue.clone(), pos.clone()

    def __iter__(self):
        return iter(self._sample_epoch().tolist())

    def __len__(self):
        return self.num_samples


class ClassAwareSampler(_ClassQueueSampler):
    """Class-balanced sampling (``q = 0``) of Kang et al. (2020).

    Each draw picks a class uniformly at random, then the next sample from that
    class's shuffled queue (reshuffled when exhausted, kept across epochs).
    Unlike Kang et al.'s code, which cycles through a shuffled list of classes
    and sets the epoch to ``C * max_j n_j`` draws, classes are drawn
    independently (the ``p_j = 1 / C`` of the paper) and an epoch has
    ``num_samples`` draws, ``n`` by default, so that epochs of all strategies
    have the same length; ``num_samples="class_epoch"`` gives the official
    ``C * max_j n_j`` (the stage-2 heads use it, so that their epoch counts
    mean what the paper's do).

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Training labels.
    num_samples : int, "class_epoch" or None, default=None
        Draws per epoch; ``None`` means ``n_samples``, ``"class_epoch"`` the
        official class-aware epoch ``n_classes * max_j n_j``.
    generator : torch.Generator, default=None
        Source of randomness (a CPU generator); ``None`` uses torch's global one.

    Attributes
    ----------
    classes : ndarray of shape (n_classes,)
        Sorted unique labels.
    class_counts : ndarray of shape (n_classes,)
        Samples per class.

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.nn import ClassAwareSampler
    >>> y = [0] * 8 + [1] * 2
    >>> sampler = ClassAwareSampler(y, generator=torch.Generator().manual_seed(0))
    >>> sampler.class_probabilities()
    array([0.5, 0.5])
    >>> len(list(sampler))
    10
    """

    def class_probabilities(self):
        C = self.class_counts.shape[0]
        return np.full(C, 1.0 / C)


class PowerSampler(_ClassQueueSampler):
    """Sample class ``j`` with probability ``n_j^q / sum_k n_k^q`` (Kang et al., 2020).

    ``q = 1`` is instance-balanced sampling and is implemented as a fresh random
    permutation of the data at each epoch (ordinary shuffling; with
    ``num_samples != n`` the permutations are concatenated). Other ``q`` draw a
    class, then the next sample of its shuffled queue, as
    :class:`ClassAwareSampler` (``q = 0``) does.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Training labels.
    q : float
        Exponent, ``>= 0``: 1 instance-balanced, 1/2 square-root, 0 class-balanced.
    num_samples : int, "class_epoch" or None, default=None
        Draws per epoch; ``None`` means ``n_samples``, ``"class_epoch"`` the
        official class-aware epoch ``n_classes * max_j n_j``.
    generator : torch.Generator, default=None
        Source of randomness (a CPU generator); ``None`` uses torch's global one.

    Attributes
    ----------
    classes : ndarray of shape (n_classes,)
        Sorted unique labels.
    class_counts : ndarray of shape (n_classes,)
        Samples per class.

    Examples
    --------
    >>> from sklearn_lt.nn import PowerSampler
    >>> PowerSampler([0] * 9 + [1], q=0.5).class_probabilities()
    array([0.75, 0.25])
    """

    def __init__(self, y, q, num_samples=None, generator=None):
        super().__init__(y, num_samples=num_samples, generator=generator)
        if isinstance(q, str):
            raise ValueError(f"q must be a finite real number >= 0, got {q!r}.")
        try:
            self.q = sampler_exponent(q)
        except ValueError:
            raise ValueError(f"q must be a finite real number >= 0, got {q!r}.") from None
        if self.q == 1.0:
            n = self.class_counts.sum()
            self._all = _CyclingQueues(torch.arange(n), torch.as_tensor([n]))

    def class_probabilities(self):
        return power_class_probabilities(self.class_counts, self.q)

    def _sample_epoch(self):
        if self.q == 1.0:
            return self._all.take(torch.zeros(self.num_samples, dtype=torch.long), self.generator)
        return super()._sample_epoch()


class ProgressivelyBalancedSampler(_ClassQueueSampler):
    """Progressively-balanced sampling (Kang et al., 2020).

    ``p_j(t) = (1 - t/T) p_j^IB + (t/T) p_j^CB`` with ``p^IB = n_j / n``,
    ``p^CB = 1 / C``, ``t`` the epoch (counted from 0, set with
    :meth:`set_epoch`) and ``T = total_epochs``, exactly as in the paper: the
    first epoch is instance-balanced and the last one (``t = T - 1``) is
    ``1/T`` short of class-balanced. Epochs past ``T`` are class-balanced.
    Call ``set_epoch(t)`` before iterating over epoch ``t``; the sampler
    starts at ``t = 0``.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Training labels.
    total_epochs : int
        ``T``, the number of training epochs.
    num_samples : int, "class_epoch" or None, default=None
        Draws per epoch; ``None`` means ``n_samples``, ``"class_epoch"`` the
        official class-aware epoch ``n_classes * max_j n_j``.
    generator : torch.Generator, default=None
        Source of randomness (a CPU generator); ``None`` uses torch's global one.

    Attributes
    ----------
    classes : ndarray of shape (n_classes,)
        Sorted unique labels.
    class_counts : ndarray of shape (n_classes,)
        Samples per class.
    epoch : int
        Current epoch.

    Examples
    --------
    >>> from sklearn_lt.nn import ProgressivelyBalancedSampler
    >>> sampler = ProgressivelyBalancedSampler([0] * 9 + [1], total_epochs=4)
    >>> sampler.set_epoch(2)
    >>> sampler.class_probabilities()
    array([0.7, 0.3])
    """

    def __init__(self, y, total_epochs, num_samples=None, generator=None):
        super().__init__(y, num_samples=num_samples, generator=generator)
        if (isinstance(total_epochs, bool) or not isinstance(total_epochs, numbers.Integral)
                or total_epochs < 1):
            raise ValueError(f"total_epochs must be a positive int, got {total_epochs!r}.")
        self.total_epochs = int(total_epochs)

    def class_probabilities(self):
        alpha = min(self.epoch / self.total_epochs, 1.0)
        p_ib = self.class_counts / self.class_counts.sum()
        p_cb = np.full(p_ib.shape[0], 1.0 / p_ib.shape[0])
        return (1.0 - alpha) * p_ib + alpha * p_cb


def epoch_order(sampler):
    """One epoch of a sampler's indices as a LongTensor.

    Trainers index in-memory tensors with whole batches; taking the epoch as a
    tensor avoids a Python list of N ints for the built-in samplers, while any
    other torch ``Sampler`` still works through iteration.

    Parameters
    ----------
    sampler : torch.utils.data.Sampler
        A built-in sampler (drawn with ``epoch_indices``) or any sampler.

    Returns
    -------
    order : torch.Tensor of shape (len(sampler),)
        The indices of one epoch, dtype int64.

    Examples
    --------
    >>> from sklearn_lt.nn import epoch_order, make_sampler
    >>> order = epoch_order(make_sampler("instance", [0, 0, 1, 1]))
    >>> sorted(order.tolist())
    [0, 1, 2, 3]
    """
    if hasattr(sampler, "epoch_indices"):
        return sampler.epoch_indices().long()
    return torch.as_tensor(list(iter(sampler)), dtype=torch.long)


def epoch_batches(order, batch_size, *, drop_single=False):
    """Cut one epoch of indices into consecutive mini-batches of indices.

    The one batch-slicing loop of both trainers: stage 1 (the Backbone's
    batch iterator) and stage 2 (:func:`~sklearn_lt.nn.train_module`) index
    tensors held in memory with each yielded index tensor.

    Parameters
    ----------
    order : torch.Tensor of shape (n_draws,)
        One epoch of sample indices, e.g. ``epoch_order(sampler)``.
    batch_size : int
        Size of every batch but possibly the last.
    drop_single : bool, default=False
        Drop a last batch of exactly one sample (when the epoch has more than
        one batch): batch norm cannot normalise one sample in training mode.
        With a fresh epoch order each epoch, the dropped sample rejoins later.

    Yields
    ------
    idx : torch.Tensor
        Indices of one batch.

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.nn import epoch_batches
    >>> [b.tolist() for b in epoch_batches(torch.arange(5), 2)]
    [[0, 1], [2, 3], [4]]
    >>> [b.tolist() for b in epoch_batches(torch.arange(5), 2, drop_single=True)]
    [[0, 1], [2, 3]]
    """
    for b in range(batch_count(order.shape[0], batch_size, drop_single=drop_single)):
        yield order[b * batch_size:(b + 1) * batch_size]


def batch_count(n, batch_size, *, drop_single=False):
    """How many batches :func:`epoch_batches` cuts ``n`` draws into.

    The one place of the rule that a last batch of exactly one sample is
    dropped (with ``drop_single``, when there is more than one batch): the
    stage-1 iterator's length, the progress bar's total and the SWA batch-norm
    pass all read it here.
    """
    batches = -(-n // batch_size)
    if drop_single and batches > 1 and n - (batches - 1) * batch_size == 1:
        batches -= 1
    return batches


def make_sampler(strategy, y, *, total_epochs=None, generator=None, num_samples=None):
    """Build a sampler from a strategy name or an exponent ``q``.

    Parameters
    ----------
    strategy : {"instance", "class", "sqrt", "progressive"} or float
        ``"instance"`` is ``q = 1``, ``"class"`` ``q = 0``
        (:class:`ClassAwareSampler`), ``"sqrt"`` ``q = 1/2``, ``"progressive"``
        :class:`ProgressivelyBalancedSampler`; a number is used as ``q`` of
        :class:`PowerSampler`.
    y : array-like of shape (n_samples,)
        Training labels.
    total_epochs : int, default=None
        Required by ``"progressive"``.
    generator : torch.Generator, default=None
        Source of randomness.
    num_samples : int, "class_epoch" or None, default=None
        Draws per epoch; ``None`` means ``n_samples``, ``"class_epoch"`` the
        official class-aware epoch ``n_classes * max_j n_j``.

    Returns
    -------
    sampler : torch.utils.data.Sampler

    Examples
    --------
    >>> from sklearn_lt.nn import make_sampler
    >>> make_sampler("sqrt", [0, 0, 0, 0, 1]).class_probabilities()
    array([0.66666667, 0.33333333])
    """
    kw = {"num_samples": num_samples, "generator": generator}
    q = sampler_exponent(strategy)
    if q is None:  # "progressive"
        if total_epochs is None:
            raise ValueError("Progressively-balanced sampling needs total_epochs.")
        return ProgressivelyBalancedSampler(y, total_epochs, **kw)
    if q == 0.0:
        return ClassAwareSampler(y, **kw)
    return PowerSampler(y, q, **kw)
