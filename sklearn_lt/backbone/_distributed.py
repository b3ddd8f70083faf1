"""Stage 1 data-parallel under torch.distributed, as ``torchrun`` launches it.

When a process group of several processes is initialised (``torchrun``, then
``torch.distributed.init_process_group()`` in the script), every process runs
the same ``Backbone.fit`` on the same data:

- the fit's seed is rank 0's, so every rank draws the same initialisation,
  split and epoch order from the sampler (class-aware, power, progressive);
- each global batch of ``batch_size`` indices is cut into one shard per rank
  (:meth:`torch.Tensor.tensor_split`), so the ranks together see each batch
  exactly once;
- the training forward goes through :class:`torch.nn.parallel.DistributedDataParallel`,
  which averages the gradients over the ranks at every backward: with equal
  shards, the gradient of the global batch's mean loss;
- only rank 0 logs and writes checkpoints.

Every rank ends with the same weights and returns an ordinary Backbone (the
DDP wrapper is dropped), which pickles and predicts in one process.
"""

import torch
import torch.distributed as dist
from skorch.callbacks import Callback
from torch import nn

__all__ = ["DataParallel", "process_group_shard", "shard_weight"]


def process_group_shard():
    """``(rank, world_size)`` inside a process group of several processes, else None."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist.get_rank(), dist.get_world_size()
    return None


def shared_seed(seed):
    """Rank 0's ``seed``, on every rank (collective: every rank must call it)."""
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    value = torch.tensor([seed], dtype=torch.int64, device=device)
    dist.broadcast(value, src=0)
    return int(value.item())


def shard_of(idx, shard, drop_single=False):
    """This rank's part of a global batch of indices; None for a batch too small
    to give every rank a row, or two with ``drop_single`` (an empty shard's mean
    loss is NaN, and batch norm cannot train on one row): every rank skips it."""
    if shard is None:
        return idx
    rank, world = shard
    if len(idx) < world * (2 if drop_single else 1):
        return None
    return idx.tensor_split(world)[rank]


def shard_weight(n_rows, device):
    """The factor of this rank's mean loss that makes DDP's gradient average the
    gradient of the global batch's mean loss: ``n_rank * world / n_batch``.

    DDP averages the ranks' gradients with equal weights; the shards of a
    batch whose size the world does not divide differ by a row (the last
    batch of an epoch, typically), and would weigh their rows unequally.
    Collective: every rank calls it once per training step.
    """
    n = torch.tensor(float(n_rows), device=device)
    total = n.clone()
    dist.all_reduce(total)
    return n * dist.get_world_size() / total


class DataParallel(Callback):
    """Trains through :class:`~torch.nn.parallel.DistributedDataParallel`.

    The wrapper is built when training begins (after a checkpoint, if any, has
    restored the weights; DDP broadcasts rank 0's at construction) and used by
    :meth:`LTNet.infer <sklearn_lt.backbone._net.LTNet.infer>` for training
    batches only; validation and inference run the plain module.
    """

    def __init__(self, device):
        self.device = device

    def on_train_begin(self, net, **kwargs):
        self.buffers_synced_ = False
        ids = [self.device.index or 0] if self.device.type == "cuda" else None
        # Into __dict__, past skorch's __setattr__: skorch would register the
        # wrapper as one of the net's modules, to save, move and pickle; it only
        # lives for this fit.
        net.__dict__["ddp_"] = nn.parallel.DistributedDataParallel(net.module_, device_ids=ids)

    def on_epoch_begin(self, net, **kwargs):
        self.buffers_synced_ = False

    def on_batch_begin(self, net, training=False, **kwargs):
        # DDP gives every rank rank 0's buffers at each training forward, after
        # which each rank updates its batch-norm statistics from its own shard:
        # before validation, every rank takes rank 0's again, so that all of
        # them score (and stop early on) the same model.
        if not training and not self.buffers_synced_:
            broadcast_buffers(net.module_)
            self.buffers_synced_ = True

    def on_train_end(self, net, **kwargs):
        broadcast_buffers(net.module_)  # every rank ends with the same model
        net.__dict__.pop("ddp_", None)  # an ordinary net again: it pickles and predicts alone


def broadcast_buffers(module):
    """Rank 0's buffers (batch-norm statistics) on every rank (collective)."""
    for buffer in module.buffers():
        dist.broadcast(buffer, src=0)


def to_sync_batch_norm(module, device):
    """``module`` with batch norm over the global batch, and the classes it replaced
    (by layer name, for :func:`from_sync_batch_norm`). GPUs only, as in torch."""
    if device.type != "cuda":
        raise ValueError("sync_batch_norm needs CUDA: torch's SyncBatchNorm runs on GPUs only. "
                         "On CPUs, use a network without batch norm (module__batch_norm=False "
                         "for the MLP) or leave each rank its own batch statistics.")
    replaced = {name: type(m) for name, m in module.named_modules()
                if isinstance(m, nn.modules.batchnorm._BatchNorm)}
    return nn.SyncBatchNorm.convert_sync_batchnorm(module), replaced


def from_sync_batch_norm(module, replaced):
    """The original batch-norm classes again, with the trained parameters and statistics."""
    for name, cls in replaced.items():
        parent_name, _, child_name = name.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        sync = getattr(parent, child_name)
        bn = cls(sync.num_features, sync.eps, sync.momentum, sync.affine,
                 sync.track_running_stats)
        bn.load_state_dict(sync.state_dict())
        setattr(parent, child_name, bn.to(next(sync.buffers(), torch.empty(0)).device))
    return module
