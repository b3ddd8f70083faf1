"""The stage-2 trainer: a lean SGD loop for modules on cached (fixed) features.

Stage-2 methods (cRT, LWS, SWAG representations, meta-weighting) train a few
parameters on top of features computed once. Everything is small enough to sit
on the device as one tensor, so batches are taken by fancy indexing.

Why not the Backbone's skorch net? Stage 1 and stage 2 share every piece that
carries meaning -- the samplers and their epoch length
(:func:`~sklearn_lt.nn.make_sampler`), the batch slicing
(:func:`~sklearn_lt.nn.epoch_batches`), the learning-rate schedule
(:func:`~sklearn_lt.nn.lr_lambda` under torch's ``LambdaLR``), the losses
(:func:`~sklearn_lt.nn.make_loss`) and the divergence check -- but not skorch's
per-batch machinery (history records, callback notifications, ``.item()``
syncs). On a cRT run over 14,886 x 128 features in batches of 512 that
machinery costs about 0.12 ms per batch on a 2-core CPU, 1.15x the lean
loop's time (``benchmarks/bench_trainers.py``; the share grows wherever a
step is shorter), and the features need none of what skorch offers
(datasets, validation splits, checkpointing).
"""

import math
import numbers
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.exceptions import ConvergenceWarning

from ..utils import resolve_device, torch_generator
from ._samplers import epoch_batches, epoch_order, make_sampler
from ._schedule import lr_lambda

__all__ = ["raise_if_diverged", "train_module"]


# What every divergence error tells the user to do (both stages, loss and outputs).
DIVERGENCE_ADVICE = ("Lower the learning rate (or add warm-up epochs), and check the input for "
                     "extreme values.")


def raise_if_diverged(loss, epoch, module=None):
    """Stop training whose loss or weights are no longer finite (one message for both stages).

    The epoch's mean loss is computed before its last optimiser step, so a
    step that overflows at the very end leaves a finite loss and NaN
    weights: ``module``, if given, has its parameters and floating-point
    buffers (batch-norm statistics) checked too.

    Parameters
    ----------
    loss : float
        Mean training loss of the epoch.
    epoch : int
        The epoch, counted from 0.
    module : torch.nn.Module, optional
        The trained network, checked after the epoch's last step.

    Raises
    ------
    FloatingPointError
        If ``loss`` is NaN or infinite, or a weight of ``module`` is.
    """
    advice = DIVERGENCE_ADVICE
    if not math.isfinite(loss):
        raise FloatingPointError(
            f"Training diverged: the loss became {loss} in epoch {epoch + 1}. {advice}")
    if module is not None:
        tensors = [*module.parameters(),
                   *(b for b in module.buffers() if b.is_floating_point())]
        # One device-to-host sync for the whole network, not one per tensor.
        if tensors and not bool(torch.stack([t.isfinite().all() for t in tensors]).all()):
            raise FloatingPointError(
                f"Training diverged: the weights became non-finite in epoch {epoch + 1}. "
                f"{advice}")


def _default_loss(logits, yb, idx):
    return F.cross_entropy(logits, yb)


def train_module(module, X, y, *, loss_fn=None, step=None, epochs=10, batch_size=512, lr=0.2,
                 momentum=0.9, weight_decay=5e-4, nesterov=False, sampler="class",
                 schedule="cosine", random_state=None, generator=None, device="cpu",
                 verbose=0, callback=None, num_samples=None):
    """Train the trainable parameters of ``module`` on fixed features with SGD.

    Each epoch draws ``len(sampler)`` indices (``num_samples``, by default
    ``N``, for the built-in strategies), cuts them into mini-batches of
    ``batch_size`` (the last one may be smaller) and takes one SGD step per
    batch. Only parameters with ``requires_grad=True`` are optimised, so
    freezing a parameter is how a caller keeps it fixed (LWS freezes the joint
    head and trains the scales).

    Parameters
    ----------
    module : torch.nn.Module
        Maps a batch ``X[idx]`` to logits. Moved to ``device``; left there, in
        eval mode, after training.
    X : array-like or torch.Tensor of shape (n_samples, ...)
        Cached features, indexed along the first axis only, so a stack of
        several representations per sample, shape (n_samples, M, d), works
        when the module (or ``loss_fn``) handles the extra axis. Arrays are
        converted to float32; a floating tensor keeps its dtype. Moved to
        ``device`` once.
    y : array-like or torch.Tensor of shape (n_samples,)
        Encoded labels ``0 .. K-1`` (int64).
    loss_fn : callable, default=None
        ``loss_fn(logits, yb, idx) -> scalar tensor``; ``idx`` are the batch's
        sample indices (on ``device``), e.g. to look up per-sample weights.
        Default: mean cross-entropy.
    step : callable, default=None
        Replaces the whole update: ``step(module, optimizer, xb, yb, idx)``
        must do the forward/backward/``optimizer.step()`` itself and return the
        batch loss (tensor or float), e.g. for a bi-level meta-weighting update.
        ``loss_fn`` is then unused.
    epochs : int, default=10
    batch_size : int, default=512
    lr : float, default=0.2
        Peak learning rate (Kang et al.'s stage-2 value for batch 512).
    momentum : float, default=0.9
    weight_decay : float, default=5e-4
        SGD weight decay (adds ``weight_decay * p`` to each gradient, biases
        and scales included, as in the official code).
    nesterov : bool, default=False
    sampler : {"class", "instance", "sqrt", "progressive"}, float or torch Sampler, default="class"
        Strategy for :func:`sklearn_lt.nn.make_sampler` (``"class"``:
        class-aware sampling, each class drawn uniformly), or a ready sampler
        over ``0 .. n_samples - 1``. A sampler with ``set_epoch`` is told the
        epoch before each one.
    schedule : {"cosine", "constant", "step"} or callable, default="cosine"
        Learning-rate factor per epoch, as :func:`~sklearn_lt.nn.lr_lambda`
        defines it (no warm-up; ``"cosine"`` is
        ``(1 + cos(pi * epoch / epochs)) / 2``); a callable maps the epoch
        (from 0) to a factor. Applied by ``torch.optim.lr_scheduler.LambdaLR``.
    random_state : int, RandomState instance or None, default=None
        Seeds the sampler's generator when ``generator`` is None.
    generator : torch.Generator, default=None
        Generator of the sampler (takes precedence over ``random_state``).
    device : str or torch.device, default="cpu"
        ``"auto"`` picks CUDA when available.
    verbose : int, default=0
        If > 0, print one line per epoch: loss, learning rate and duration.
    callback : callable, default=None
        ``callback(epoch, module, history)`` after each epoch (from 0); a
        return value of ``True`` stops training.
    num_samples : int, "class_epoch" or None, default=None
        Draws per epoch of a built-in sampler; ``None`` means ``n_samples``,
        ``"class_epoch"`` ``n_classes * max_j n_j`` (the official class-aware
        epoch). Ignored when ``sampler`` is a Sampler object.

    Returns
    -------
    history : dict of lists
        Per epoch: ``"loss"`` (mean batch loss weighted by batch size),
        ``"lr"`` and ``"time"`` (seconds).

    Raises
    ------
    FloatingPointError
        If an epoch's loss is not finite (learning rate too high, or bad
        features); see :func:`raise_if_diverged`.

    Warns
    -----
    ConvergenceWarning
        When the run takes fewer than 50 SGD steps in all (what the heads
        measurably need, see ``FEW_STEPS``), naming the epochs or batch size
        that would reach them. The stage-2 defaults (batch 512) come from
        ImageNet-LT; on a few hundred samples they give one step per epoch.

    Notes
    -----
    With ``random_state`` fixed the run is deterministic on CPU; initialising
    the module's parameters reproducibly is the caller's job.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklearn_lt.nn import train_module
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.randn(40, 2) + 2, rng.randn(8, 2) - 2]
    >>> y = np.r_[np.zeros(40, dtype=np.int64), np.ones(8, dtype=np.int64)]
    >>> lin = torch.nn.Linear(2, 2)
    >>> hist = train_module(lin, X, y, epochs=20, batch_size=16, lr=0.1, random_state=0)
    >>> len(hist["loss"]), bool(hist["loss"][-1] < hist["loss"][0])
    (20, True)
    """
    device = resolve_device(device)
    _check_positive(epochs, "epochs")
    _check_positive(batch_size, "batch_size")
    Xt, yt, y_np = _as_device_tensors(X, y, device)
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        raise ValueError("module has no parameter with requires_grad=True: nothing to train.")
    module.to(device)
    optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum,
                                weight_decay=weight_decay, nesterov=nesterov)
    factor = schedule if callable(schedule) else lr_lambda(epochs, schedule=schedule)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    if not isinstance(sampler, torch.utils.data.Sampler):
        generator = torch_generator(random_state) if generator is None else generator
        sampler = make_sampler(sampler, y_np, total_epochs=epochs, generator=generator,
                               num_samples=num_samples)
    _warn_if_few_steps(sampler, epochs, batch_size)
    if step is None:
        step = _LossStep(_default_loss if loss_fn is None else loss_fn)

    history = {"loss": [], "lr": [], "time": []}
    module.train()
    try:
        for epoch in range(epochs):
            t0 = time.perf_counter()
            epoch_lr = optimizer.param_groups[0]["lr"]
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch)
            epoch_loss = _run_epoch(module, optimizer, step, Xt, yt, sampler, batch_size)
            raise_if_diverged(epoch_loss, epoch, module)
            scheduler.step()
            history["loss"].append(epoch_loss)
            history["lr"].append(epoch_lr)
            history["time"].append(time.perf_counter() - t0)
            if verbose > 0:
                print(f"epoch {epoch + 1:>3}/{epochs}  loss {epoch_loss:.4f}  "
                      f"lr {epoch_lr:.4g}  {history['time'][-1]:.2f}s", flush=True)
            if callback is not None and callback(epoch, module, history) is True:
                break
    finally:
        module.eval()
    return history


class _LossStep:
    """The plain update: forward, ``loss_fn``, backward, optimiser step."""

    def __init__(self, loss_fn):
        self.loss_fn = loss_fn

    def __call__(self, module, optimizer, xb, yb, idx):
        optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(module(xb), yb, idx)
        loss.backward()
        optimizer.step()
        return loss


def _run_epoch(module, optimizer, step, Xt, yt, sampler, batch_size):
    """One epoch of updates; returns the mean batch loss weighted by batch size."""
    order = epoch_order(sampler)
    device = Xt.device
    total = torch.zeros((), device=device)
    for idx in epoch_batches(order, batch_size):
        idx = idx.to(device)
        loss = step(module, optimizer, Xt[idx], yt[idx], idx)
        # Summed on the device: one host sync per epoch, not per batch.
        total = total + torch.as_tensor(loss, device=device).detach() * idx.shape[0]
    return total.item() / max(order.shape[0], 1)


def _check_positive(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")


def _as_device_tensors(X, y, device):
    """Features as a floating tensor and labels as int64, both on ``device``."""
    if isinstance(X, torch.Tensor):
        Xt = X if X.is_floating_point() else X.float()
    else:
        arr = np.asarray(X, dtype=np.float32)
        # torch cannot wrap a read-only buffer (e.g. a memmap) safely; copy it.
        Xt = torch.from_numpy(arr if arr.flags.writeable else arr.copy())
    y_np = y.cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    y_np = y_np.astype(np.int64, copy=False)
    if y_np.ndim != 1 or y_np.shape[0] != Xt.shape[0]:
        raise ValueError(f"y must have shape ({Xt.shape[0]},), got {y_np.shape}.")
    return Xt.to(device), torch.as_tensor(y_np).to(device), y_np


# What a linear head on cached features needs (benchmarks/bench_sgd_steps.py, cRT and
# LWS on digits-LT and Fashion-MNIST-LT features): 3 steps left cRT 3.7 points short of
# the exact (L-BFGS) optimum on digits, 6 steps 1.7; from about 25 steps every run was
# within 1.7 points (5 of 300 test images) on digits and 0.6 on Fashion-MNIST-LT, and
# more steps never raised accuracy. More training did
# raise cRT's NLL on memorised training features (Fashion-MNIST-LT IF=200: 0.67 after
# 157 steps of batch 64 and lr 0.025, 0.99 after 200 of batch 512 and lr 0.2), so the
# warning asks for a few dozen steps, not hundreds.
FEW_STEPS = 50


def _warn_if_few_steps(index_sampler, epochs, batch_size):
    try:
        per_epoch = len(index_sampler)
    except TypeError:  # a sampler without a length: nothing to judge
        return
    per_epoch_steps = math.ceil(per_epoch / batch_size)
    steps = epochs * per_epoch_steps
    if steps < FEW_STEPS:
        advice = f"epochs={math.ceil(FEW_STEPS / per_epoch_steps)} at this batch size"
        if batch_size > 64:
            small_steps = math.ceil(per_epoch / 64)
            advice += (f", or batch_size=64 with lr scaled by 64/{batch_size} and "
                       f"epochs={math.ceil(FEW_STEPS / small_steps)}")
        warnings.warn(
            f"Only {steps} SGD steps in all ({epochs} epochs of {per_epoch} draws in batches "
            f"of {batch_size}); a head on cached features needs about {FEW_STEPS} to reach "
            f"its accuracy. Use {advice}.",
            ConvergenceWarning, stacklevel=3,
        )
