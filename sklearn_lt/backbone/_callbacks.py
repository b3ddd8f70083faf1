"""Single-purpose skorch callbacks that make up the stage-1 recipe.

Each callback does one job at one point of skorch's loop, so that a recipe is a
list of them and an extension (SWAG collection beside SWA, a meta-weighted
phase) is one more callback or a subclass, not an edit of a monolith:

- learning rate: skorch's :class:`~skorch.callbacks.LRScheduler` around
  ``torch.optim.lr_scheduler.LambdaLR`` with :func:`sklearn_lt.nn.lr_lambda`
  (built by :func:`lr_scheduler`);
- :class:`SamplerEpoch` tells an epoch-aware sampler the epoch;
- :class:`DeferredReweighting` switches the loss to class weights (DRW);
- :class:`WeightAveraging` averages weights (SWA, ``torch.optim.swa_utils``),
  and :class:`SWAGCollection`, a subclass, also collects the SWAG posterior;
- :class:`BatchAccuracy` counts accuracy from the logits skorch already has;
- :class:`Throughput` records images per second;
- :class:`DivergenceCheck` stops a run whose loss is no longer finite;
- :class:`BestEpoch` stops when validation balanced accuracy stalls and
  restores the best epoch (skorch's ``EarlyStopping``);
- :class:`MetaWeightedEpochs` switches the last epochs to meta-weighted steps;
- :class:`TrainingCheckpoint` saves each epoch's end and resumes from it;
- :class:`BatchProgressBar` shows skorch's per-batch progress bar (``verbose >= 2``).
"""

import os
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import tqdm
from skorch.callbacks import Callback, EarlyStopping, LRScheduler, ProgressBar
from torch import nn

from ..nn import MetaReweighting, SWAGPosterior, flat_parameters, lr_lambda, raise_if_diverged
from ..nn._samplers import batch_count
from ..nn._trainer import DIVERGENCE_ADVICE
from ._files import ImageFiles


def _epoch(net):
    """Index (from 0) of the epoch in progress: skorch has already opened its row."""
    return len(net.history) - 1


class _HoldFrom:
    """``factor(epoch)`` until ``start``, then the constant ``hold`` (the SWA lr)."""

    def __init__(self, factor, start, hold):
        self.factor, self.start, self.hold = factor, start, hold

    def __call__(self, epoch):
        return self.hold if epoch >= self.start else self.factor(epoch)


def lr_scheduler(lr, epochs, *, schedule, warmup_epochs, milestones, decay, swa_start=None,
                 swa_lr=None):
    """skorch's LRScheduler stepping ``LambdaLR`` per epoch with the library schedule.

    From ``swa_start`` on the rate is held at ``swa_lr`` (SWA's constant
    rate). The rate of each epoch is recorded in the history as ``"lr"``.
    """
    factor = lr_lambda(epochs, schedule=schedule, warmup_epochs=warmup_epochs,
                       milestones=milestones, decay=decay)
    if swa_start is not None:
        factor = _HoldFrom(factor, swa_start, swa_lr / lr)
    return LRScheduler(policy=torch.optim.lr_scheduler.LambdaLR, lr_lambda=factor,
                       event_name="lr", step_every="epoch")


class SamplerEpoch(Callback):
    """Tell the sampler the epoch (progressively-balanced sampling changes with it)."""

    def __init__(self, sampler):
        self.sampler = sampler

    def on_epoch_begin(self, net, **kwargs):
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(_epoch(net))


class DeferredReweighting(Callback):
    """From ``start`` on, weigh the loss per class (Cao et al.'s DRW).

    Parameters
    ----------
    start : int
        First re-weighted epoch (from 0).
    weights : array-like of shape (n_classes,)
        Class weights, e.g. effective-number weights.
    """

    def __init__(self, start, weights):
        self.start = start
        self.weights = weights

    def on_epoch_begin(self, net, **kwargs):
        # Re-applied every epoch (cheap), so a resumed run is re-weighted too.
        if _epoch(net) >= self.start:
            weight = torch.as_tensor(np.asarray(self.weights), dtype=torch.float32,
                                     device=net.device)
            criterion = net.criterion_
            if hasattr(criterion, "set_weight"):
                criterion.set_weight(weight)
            elif hasattr(criterion, "weight"):
                criterion.weight = weight
            else:
                raise ValueError(
                    f"{type(criterion).__name__} takes no class weights, so DRW cannot apply."
                )


class WeightAveraging(Callback):
    """Stochastic weight averaging (Izmailov et al., 2018) with ``torch.optim.swa_utils``.

    From epoch ``start`` on, the weights at the end of every epoch are
    averaged into an :class:`~torch.optim.swa_utils.AveragedModel`. When
    training ends, batch-norm statistics of the average are recomputed on the
    training inputs (``update_bn``) and the average becomes ``net.module_``.

    Subclasses see every collection step through :meth:`collect` (SWAG keeps
    the second moment and the last deviations there).

    Parameters
    ----------
    start : int
        First averaged epoch (from 0).
    batch_size : int
        Batch size of the batch-norm pass.
    per_epoch : int, default=1
        Snapshots per epoch: 1 averages at the end of each epoch (Izmailov et
        al.); ``k > 1`` also after each ``1/k`` of its batches, for short runs
        whose averaging phase spans few epochs.
    batches_per_epoch : int, default=None
        Needed when ``per_epoch > 1``.
    """

    def __init__(self, start, batch_size, per_epoch=1, batches_per_epoch=None):
        self.start = start
        self.batch_size = batch_size
        self.per_epoch = per_epoch
        self.batches_per_epoch = batches_per_epoch

    def initialize(self):
        self.averaged_ = None
        self.n_averaged_ = 0
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.batch_ = 0
        if self.per_epoch > 1:
            # Batch counts after which a snapshot is taken, the last one at the
            # epoch's end (taken in on_epoch_end).
            n = self.batches_per_epoch
            self.marks_ = {round(n * i / self.per_epoch) for i in range(1, self.per_epoch)}

    def on_batch_end(self, net, training, **kwargs):
        if not training:
            return
        self.batch_ += 1
        if self.per_epoch > 1 and _epoch(net) >= self.start and self.batch_ in self.marks_:
            self.collect(net)

    def collect(self, net):
        """Add the current weights of ``net.module_`` to the average."""
        if self.averaged_ is None:
            self.averaged_ = torch.optim.swa_utils.AveragedModel(net.module_)
        else:
            self.averaged_.update_parameters(net.module_)
        self.n_averaged_ += 1

    def on_epoch_end(self, net, **kwargs):
        if _epoch(net) >= self.start:
            self.collect(net)

    def state_dict(self):
        """The running average, for a checkpoint."""
        return {"n": self.n_averaged_,
                "averaged": None if self.averaged_ is None else self.averaged_.state_dict()}

    def load_state_dict(self, net, state):
        """Restore :meth:`state_dict` on the freshly initialised ``net``."""
        self.n_averaged_ = state["n"]
        if state["averaged"] is not None:
            self.averaged_ = torch.optim.swa_utils.AveragedModel(net.module_)
            self.averaged_.load_state_dict(state["averaged"])

    def on_train_end(self, net, X=None, y=None, **kwargs):
        if self.averaged_ is None:
            return
        model = self.averaged_.module
        recompute_bn(model, X, self.batch_size, device=torch.device(net.device), amp=net.amp,
                     desc="SWA batch norm" if net.verbose >= 2 else None,
                     num_workers=net.get_params_for("iterator_train").get("num_workers", 0))
        net.module_ = model
        self.averaged_ = None  # now net.module_; do not pickle it twice


class SWAGCollection(WeightAveraging):
    """SWA plus the SWAG posterior (Maddox et al., 2019) at the same snapshots.

    Every snapshot that enters the average also enters a
    :class:`~sklearn_lt.nn.SWAGPosterior` (second moment and the last
    ``rank`` deviations). When training ends, the posterior's mean is set to
    the averaged weights, so that ``theta_SWA`` is exactly the fitted network.

    Parameters
    ----------
    start, batch_size, per_epoch, batches_per_epoch
        As for :class:`WeightAveraging`.
    rank : int, default=20
        Deviation columns kept (``K``).
    """

    def __init__(self, start, batch_size, per_epoch=1, batches_per_epoch=None, rank=20):
        super().__init__(start, batch_size, per_epoch, batches_per_epoch)
        self.rank = rank

    def initialize(self):
        super().initialize()
        self.posterior_ = None
        return self

    def state_dict(self):
        """The running average and the posterior, for a checkpoint."""
        return {**super().state_dict(), "posterior": self.posterior_}

    def load_state_dict(self, net, state):
        """Restore :meth:`state_dict` on the freshly initialised ``net``."""
        super().load_state_dict(net, state)
        self.posterior_ = state["posterior"]

    def collect(self, net):
        super().collect(net)
        if self.posterior_ is None:
            self.posterior_ = SWAGPosterior(net.module_, max_rank=self.rank)
        self.posterior_.collect(net.module_)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        if self.averaged_ is not None:
            self.posterior_.mean = flat_parameters(self.averaged_.module)
        super().on_train_end(net, X=X, y=y, **kwargs)


def recompute_bn(model, X, batch_size, *, device, amp=False, desc=None, num_workers=0):
    """Batch-norm statistics of ``model`` recomputed on ``X`` (``swa_utils.update_bn``).

    Does nothing for a model without batch norm. ``X`` is a tensor of inputs
    (or a skorch dataset holding one as ``.X``), or image files decoded by
    ``num_workers`` loader processes. ``desc``: show a progress bar
    over the batches, so named.
    """
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return
    X = getattr(X, "X", X)
    # update_bn runs the model in training mode, where batch norm cannot take a
    # batch of one sample: as in training, a last batch of one is left out.
    if isinstance(X, ImageFiles):  # decoded by the training loader's workers
        batches = X.loader(batch_size, drop_single=True, num_workers=num_workers)
        loader, total = (xb for xb, _ in batches), len(batches)
    else:
        starts = range(0, batch_count(len(X), batch_size, drop_single=True) * batch_size,
                       batch_size)
        loader, total = (X[i:i + batch_size] for i in starts), len(starts)
    loader = batch_progress(loader, total=total, desc=desc)
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
        torch.optim.swa_utils.update_bn(loader, model, device=device)


class BatchAccuracy(Callback):
    """Accuracy of the batches skorch already forwarded, without an extra pass.

    Records ``train_acc`` per epoch, and with a validation split
    ``valid_acc`` and ``valid_bal_acc`` (balanced accuracy, the mean
    per-class recall, what a long-tailed model is selected on). Counts stay on
    the device until the epoch ends: an ``.item()`` per batch would
    synchronise the GPU.
    """

    def __init__(self, n_classes):
        self.n_classes = n_classes

    def on_epoch_begin(self, net, **kwargs):
        shape = (2, self.n_classes)  # row 0: correct per class, row 1: seen per class
        self.counts_ = {True: torch.zeros(shape, dtype=torch.long, device=net.device),
                        False: torch.zeros(shape, dtype=torch.long, device=net.device)}

    def on_batch_end(self, net, batch, training, y_pred=None, **kwargs):
        if y_pred is None:
            return
        yb = batch[1].to(y_pred.device)
        correct = (y_pred.detach().argmax(1) == yb).long()
        counts = self.counts_[training]
        counts[0].index_add_(0, yb, correct)
        counts[1].index_add_(0, yb, torch.ones_like(yb))

    def on_epoch_end(self, net, dataset_valid=None, **kwargs):
        correct, seen = self.counts_[True].cpu().numpy()
        net.history.record("train_acc", correct.sum() / max(seen.sum(), 1))
        if dataset_valid is not None:
            correct, seen = self.counts_[False].cpu().numpy()
            present = seen > 0
            net.history.record("valid_acc", correct.sum() / max(seen.sum(), 1))
            net.history.record("valid_bal_acc", float(np.mean(correct[present] / seen[present])))


class Throughput(Callback):
    """Training images per second of each epoch (``img_per_s``)."""

    def on_epoch_begin(self, net, **kwargs):
        self.t0_ = time.perf_counter()
        self.n_seen_ = 0

    def on_batch_end(self, net, batch, training, **kwargs):
        if training:
            self.n_seen_ += len(batch[0])

    def on_epoch_end(self, net, **kwargs):
        elapsed = max(time.perf_counter() - self.t0_, 1e-9)
        net.history.record("img_per_s", self.n_seen_ / elapsed)


class BestEpoch(EarlyStopping):
    """skorch's ``EarlyStopping`` on ``valid_bal_acc``, restoring the best epoch's weights.

    skorch signals the stop with ``KeyboardInterrupt``, which LTNet lets
    propagate (a real interrupt must not end as a finished fit). This
    callback instead sets ``net.stop_training_``: LTNet ends the loop once
    every callback (the log line, the checkpoint) has seen the epoch, and the
    fit finishes normally, restoring the best weights.

    Parameters
    ----------
    patience : int
        Epochs without improvement before stopping.
    """

    def __init__(self, patience):
        # threshold 0: any gain counts (one more image right on a tail class).
        super().__init__(monitor="valid_bal_acc", patience=patience, threshold=0.0,
                         threshold_mode="abs", lower_is_better=False, load_best=True)

    def on_epoch_end(self, net, **kwargs):
        try:
            super().on_epoch_end(net, **kwargs)
        except KeyboardInterrupt:
            if self.misses_ < self.patience:
                raise  # not this callback's stop
            net.stop_training_ = True


class DivergenceCheck(Callback):
    """Stop with :class:`FloatingPointError` once the training loss or a weight is not finite.

    A NaN loss leaves NaN weights, whose predictions are all class 0: failing
    loudly, naming the epoch, is the only safe outcome. The weights are
    checked too, because the epoch's loss predates its last step.
    """

    def on_epoch_end(self, net, **kwargs):
        raise_if_diverged(float(net.history[-1, "train_loss"]), _epoch(net), net.module_)


def raise_if_outputs_diverged(net, X):
    """Stop a run whose final network gives non-finite outputs on (a batch of) ``X``.

    Finite weights can still be large enough to overflow the activations
    (seen: one step at lr 1e20 on inputs of about 100), which no loss
    recorded before that step shows; the fitted model would predict NaN.
    """
    net.module_.eval()
    with torch.inference_mode():
        out = net.infer(X)
    if not bool(torch.isfinite(out).all()):
        raise FloatingPointError(
            f"Training diverged: the network's outputs on the training inputs are not finite "
            f"after epoch {len(net.history)}. {DIVERGENCE_ADVICE}")


class MetaWeightedEpochs(Callback):
    """Meta-weighted steps (Jamal et al., 2020) from epoch ``start`` on.

    Installs itself as the net's ``step_hook_``: in its epochs the batch loss
    is :class:`~sklearn_lt.nn.MetaReweighting`'s ``mean_i (w_{y_i} + eps_i)
    L_i`` with a look-ahead on a batch of the balanced development set, at
    the current learning rate; the optimiser step is skorch's. Records the
    mean learned weight per class of each meta epoch as ``meta_weights`` in
    the history.

    Parameters
    ----------
    start : int
        First meta-weighted epoch (from 0).
    class_weights : array-like of shape (n_classes,)
        ``w_y``.
    per_sample_loss : torch.nn.Module
        The training loss with ``reduction="none"``.
    dev : tuple of torch.Tensor
        ``(X_dev, y_dev)``, the development set (dropped when training ends).
    dev_batch_size : int
        Development samples per step.
    eps_lr : float
        ``tau_eps``.
    seed : int
        Seeds the development batches.
    """

    def __init__(self, start, class_weights, per_sample_loss, dev, dev_batch_size, eps_lr, seed):
        self.start = start
        self.class_weights = class_weights
        self.per_sample_loss = per_sample_loss
        self.dev = dev
        self.dev_batch_size = dev_batch_size
        self.eps_lr = eps_lr
        self.seed = seed

    def initialize(self):
        self.meta_ = MetaReweighting(self.class_weights, self.per_sample_loss, self.eps_lr)
        self.generator_ = torch.Generator().manual_seed(self.seed)
        self.active_ = False
        return self

    def on_train_begin(self, net, **kwargs):
        net.step_hook_ = self
        self.per_sample_loss.to(net.device)

    def on_epoch_begin(self, net, **kwargs):
        self.active_ = _epoch(net) >= self.start
        n = len(self.class_weights)
        self.sums_ = torch.zeros(n, dtype=torch.float64)
        self.counts_ = torch.zeros(n, dtype=torch.float64)

    def loss(self, net, xb, yb):
        """The meta-weighted loss of a batch and its logits (called by the net)."""
        n_dev = self.dev[1].shape[0]
        idx = torch.randperm(n_dev, generator=self.generator_)[: self.dev_batch_size]
        idx = idx.to(self.dev[0].device)
        dev = (net._prepare(self.dev[0][idx]), self.dev[1][idx].to(yb.device))
        lr = net.optimizer_.param_groups[0]["lr"]
        loss = self.meta_.loss(net.module_, xb, yb, dev, lr)
        y = yb.cpu()
        self.sums_.index_add_(0, y, self.meta_.last_weights.double().cpu())
        self.counts_.index_add_(0, y, torch.ones_like(y, dtype=torch.float64))
        return loss, self.meta_.last_logits

    def on_epoch_end(self, net, **kwargs):
        if self.active_:
            mean = (self.sums_ / self.counts_.clamp_min(1)).tolist()
            net.history.record("meta_weights", mean)

    def state_dict(self):
        """The development batches' generator, for a checkpoint."""
        return {"generator": self.generator_.get_state()}

    def load_state_dict(self, net, state):
        """Restore :meth:`state_dict`."""
        self.generator_.set_state(state["generator"])

    def on_train_end(self, net, **kwargs):
        self.active_ = False
        net.step_hook_ = None
        self.dev = None  # the development data is not pickled with the model


class TrainingCheckpoint(Callback):
    """Save the state at the end of every epoch; resume an interrupted fit from it.

    The module, optimiser, criterion and history go through skorch's
    ``save_params``/``load_params`` (what skorch's ``Checkpoint`` and
    ``LoadInitState`` use); what they do not cover and a bit-identical
    resumption needs is saved beside them: torch's random state (augmentation,
    dropout), the sampler's generator and queues, and the state of the
    callbacks that have one (SWA average, SWAG posterior, meta-weighting's
    generator). skorch's pair is not used as such because its resumed fit
    trains ``max_epochs`` more epochs and it has no room for that state.

    Each epoch is written into a fresh sub-folder and then made current by
    an atomic rename of a pointer file, so a run killed while writing keeps
    the previous epoch's checkpoint. A checkpoint is used only when its
    fingerprint (the estimator's parameters and the training data) matches;
    a finished fit removes it. ``on_train_begin`` must run before the lr
    scheduler's (this callback comes first), and :meth:`save` after every
    other epoch-end callback (a :class:`CheckpointWriter` comes last).

    Parameters
    ----------
    dirname : str or path-like
        Folder of the checkpoint (created if needed).
    fingerprint : str
        Identifies the run; another run's checkpoint is not resumed.
    sampler : torch.utils.data.Sampler
        The training sampler, restored in place.
    owner : bool, default=True
        Whether this process removes the checkpoint once the fit is done
        (under data-parallel training, rank 0 alone writes and removes it;
        every rank resumes from it).
    """

    def __init__(self, dirname, fingerprint, sampler, owner=True):
        self.dirname = dirname
        self.fingerprint = fingerprint
        self.sampler = sampler
        self.owner = owner

    def initialize(self):
        self.resumed_from_ = None
        return self

    @property
    def _pointer(self):
        return Path(self.dirname) / "LATEST"

    def _stateful(self, net):
        return {name: cb for name, cb in net.callbacks_ if hasattr(cb, "load_state_dict")
                and cb is not self}

    def save(self, net):
        """Write the state at the end of the current epoch and make it current."""
        root = Path(self.dirname)
        epoch = len(net.history)
        folder = root / f"epoch-{epoch:05d}"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        net.save_params(f_params=folder / "params.pt", f_optimizer=folder / "optimizer.pt",
                        f_criterion=folder / "criterion.pt", f_history=folder / "history.json")
        extra = {"fingerprint": self.fingerprint, "epochs_done": epoch,
                 "torch_rng": torch.get_rng_state(),
                 "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                 "sampler": self.sampler.state_dict(),
                 "callbacks": {k: cb.state_dict() for k, cb in self._stateful(net).items()}}
        torch.save(extra, folder / "extra.pt")
        tmp = root / "LATEST.tmp"
        tmp.write_text(folder.name)
        os.replace(tmp, self._pointer)  # atomic: the old checkpoint stays valid until here
        for old in root.glob("epoch-*"):
            if old != folder:
                shutil.rmtree(old, ignore_errors=True)

    def on_train_begin(self, net, **kwargs):
        if not self._pointer.is_file():
            return
        folder = Path(self.dirname) / self._pointer.read_text().strip()
        try:
            extra = torch.load(folder / "extra.pt", map_location="cpu", weights_only=False)
        except (OSError, RuntimeError, EOFError) as exc:
            warnings.warn(f"Ignoring the unreadable checkpoint in {folder}: {exc}", stacklevel=2)
            return
        if extra.get("fingerprint") != self.fingerprint:
            warnings.warn(f"The checkpoint in {self.dirname} belongs to another run (other "
                          "parameters or data); starting afresh.", stacklevel=2)
            return
        net.load_params(f_params=folder / "params.pt", f_optimizer=folder / "optimizer.pt",
                        f_criterion=folder / "criterion.pt", f_history=folder / "history.json")
        torch.set_rng_state(extra["torch_rng"])
        if extra["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(extra["cuda_rng"])
        self.sampler.load_state_dict(extra["sampler"])
        for name, cb in self._stateful(net).items():
            if name in extra["callbacks"]:
                cb.load_state_dict(net, extra["callbacks"][name])
        self.resumed_from_ = extra["epochs_done"]
        net.resumed_epochs_ = extra["epochs_done"]

    def on_train_end(self, net, **kwargs):
        # The run is complete: a later fit with the same folder starts afresh.
        # Only what save() wrote is removed; the folder may hold other files.
        if not self.owner:
            return
        root = Path(self.dirname)
        for folder in root.glob("epoch-*"):
            shutil.rmtree(folder, ignore_errors=True)
        for name in ("LATEST", "LATEST.tmp"):
            (root / name).unlink(missing_ok=True)


class CheckpointWriter(Callback):
    """Calls :meth:`TrainingCheckpoint.save` after every other epoch-end callback."""

    def __init__(self, checkpoint):
        self.checkpoint = checkpoint

    def on_epoch_end(self, net, **kwargs):
        self.checkpoint.save(net)


def batch_progress(batches, *, total, desc):
    """``batches``, wrapped in a tqdm bar on stderr named ``desc`` unless ``desc`` is None.

    ``leave=False``: the bar of a finished loop is erased, so that only the
    per-epoch table (stdout) stays on screen.
    """
    if desc is None:
        return batches
    return tqdm.tqdm(batches, total=total, desc=desc, leave=False, file=sys.stderr)


class BatchProgressBar(ProgressBar):
    """skorch's per-epoch progress bar, its total read from the net's own iterators.

    skorch's ``"auto"`` count is ``ceil(len(dataset) / batch_size)``, which
    misses the batch of one that :class:`~sklearn_lt.backbone._net.BatchIterator`
    drops for batch norm and would be wrong for a sampler drawing another
    number of indices than the data holds; the iterator knows what it yields.
    Build it with ``detect_notebook=False``: a notebook widget needs
    ``ipywidgets``, and the inference bars are plain tqdm on stderr too.
    """

    def _get_batches_per_epoch_phase(self, net, dataset, training):
        if dataset is None:
            return 0
        return len(net.get_iterator(dataset, training=training))

    def on_epoch_begin(self, net, **kwargs):
        super().on_epoch_begin(net, **kwargs)
        # skorch's bar is unnamed; the epoch tells how far the whole fit is.
        self.pbar_.set_description(f"fit, epoch {len(net.history)}/{net.max_epochs}")
