"""The skorch net behind Backbone and its in-memory batch iterator."""


import skorch
import torch
from skorch.dataset import unpack_data

from ..nn._samplers import batch_count, epoch_batches, epoch_order
from ._distributed import shard_of, shard_weight


class BatchIterator:
    """Yields ``(X[idx], y[idx])`` batches by fancy indexing in-memory tensors.

    A per-sample ``Dataset.__getitem__`` + collate costs more than a small CNN's
    forward pass on CPU; slicing whole batches keeps the library within a few
    percent of a hand-written loop (``benchmarks/bench_backbone_overhead.py``).
    The batches are cut by :func:`~sklearn_lt.nn.epoch_batches`, the slicing
    the stage-2 trainer uses too.
    """

    def __init__(self, dataset, batch_size, sampler=None, device=None, training=False,
                 drop_single=False, shard=None):
        self.training = training
        self.shard = shard  # (rank, world size) under DDP: this rank's part of each batch
        self.drop_single = drop_single
        self.X = dataset.X
        self.y = dataset.y
        self.batch_size = batch_size
        self.sampler = sampler
        self.device = device

    def __len__(self):
        # The batches __iter__ yields (the progress bar's total reads this).
        n = len(self.sampler) if self.sampler is not None else len(self.X)
        return batch_count(n, self.batch_size, drop_single=self.training and self.drop_single)

    def __iter__(self):
        if self.sampler is not None:
            order = epoch_order(self.sampler)
        else:
            order = torch.arange(len(self.X))
        pin = self.device is not None and self.device.type == "cuda" and not self.X.is_cuda
        # Batch norm cannot train on one sample: with it, a last batch of one is dropped.
        for idx in epoch_batches(order, self.batch_size,
                                 drop_single=self.training and self.drop_single):
            idx = shard_of(idx, self.shard, self.drop_single)
            if idx is None:
                continue  # too small to split over the ranks: every rank skips it
            if self.X.is_cuda:
                idx = idx.to(self.X.device)
            xb, yb = self.X[idx], self.y[idx]
            if pin:
                xb, yb = xb.pin_memory(), yb.pin_memory()
            yield xb, yb


class _StopTraining(Exception):
    """Ends ``fit_loop`` after the epoch in which a callback set ``stop_training_``."""


class LTNet(skorch.NeuralNet):
    """skorch net with mixed precision and channels-last inference.

    The training step is skorch's own: ``train_step_single`` computes the loss
    through :meth:`get_loss`, the one place where it is computed, and the
    epoch-level recipe lives in single-purpose callbacks
    (:mod:`sklearn_lt.backbone._callbacks`). A callback may install a
    ``step_hook_`` that replaces the loss of the batches of its epochs
    (:class:`~sklearn_lt.backbone._callbacks.MetaWeightedEpochs` does, for the
    meta-weighting look-ahead); the optimiser step stays skorch's.
    """

    def __init__(self, *args, amp=False, channels_last=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.amp = amp
        self.channels_last = channels_last

    @property
    def _default_callbacks(self):
        # The recipe callbacks must run before PrintLog so that the printed row
        # has lr and train accuracy: PrintLog is appended by Backbone after them.
        return [
            ("epoch_timer", skorch.callbacks.EpochTimer()),
            ("train_loss", skorch.callbacks.PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", skorch.callbacks.PassthroughScoring(name="valid_loss")),
        ]

    def _prepare(self, x):
        x = skorch.utils.to_tensor(x, device=self.device)
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        # skorch's own swallows KeyboardInterrupt and finishes as if training had
        # ended: an interrupted fit would return a silently half-trained model.
        # Here the interrupt propagates (a checkpoint, if any, allows resuming).
        if not self.initialized_:
            self.initialize()
        routing_method = fit_params.pop("_routing_method", "partial_fit")
        # Set by TrainingCheckpoint when on_train_begin restores a run.
        self.resumed_epochs_ = 0
        self.notify("on_train_begin", X=X, y=y)
        self.stop_training_ = False
        try:
            self.fit_loop(X, y, _routing_method=routing_method, **fit_params)
        except _StopTraining:
            pass  # a callback asked to stop: finish as a completed fit
        self.notify("on_train_end", X=X, y=y)
        return self

    def notify(self, method_name, **cb_kwargs):
        super().notify(method_name, **cb_kwargs)
        # Checked once every callback has seen the epoch (skorch keeps PrintLog
        # last), so an early stop still logs and checkpoints its final epoch.
        if method_name == "on_epoch_end" and getattr(self, "stop_training_", False):
            raise _StopTraining

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        # A run resumed from a checkpoint (history restored at on_train_begin)
        # trains only the epochs it lacks; otherwise, as in skorch, max_epochs
        # more (so partial_fit on a fitted net keeps training).
        if epochs is None:
            epochs = max(self.max_epochs - self.resumed_epochs_, 0)
        return super().fit_loop(X, y, epochs=epochs, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        ddp = self.__dict__.get("ddp_")
        if training and ddp is not None:
            loss = loss * shard_weight(len(y_true), loss.device)
        return loss

    def train_step_single(self, batch, **fit_params):
        hook = getattr(self, "step_hook_", None)
        if hook is None or not hook.active_:
            return super().train_step_single(batch, **fit_params)
        self._set_training(True)
        xi, yi = unpack_data(batch)
        xi = self._prepare(xi)
        yi = skorch.utils.to_tensor(yi, device=self.device)
        with torch.autocast(device_type=xi.device.type, dtype=torch.bfloat16, enabled=self.amp):
            loss, y_pred = hook.loss(self, xi, yi)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred.float()}

    def infer(self, x, **fit_params):
        x = self._prepare(x)
        # Under DDP (backbone._distributed.DataParallel), training batches go
        # through the wrapper, whose backward averages the gradients over ranks.
        ddp = self.__dict__.get("ddp_")
        module = ddp if ddp is not None and self.module_.training else self.module_
        with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16, enabled=self.amp):
            out = module(x, **fit_params)
        return out.float()
