"""A small SGD loop for modules trained on cached (fixed) features.

Stage-2 methods (cRT, LWS, and later meta-weighting or re-training on
stochastic representations) train a few parameters on top of features that are
computed once. Everything is then small enough to sit on the device as one
tensor, so batches are taken by fancy indexing rather than through a
DataLoader, whose per-sample Python overhead would dominate.
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
from ._samplers import epoch_order, make_sampler


def _lr_factor(schedule, epoch, epochs):
    if callable(schedule):
        return float(schedule(epoch))
    if schedule == "cosine":
        # CosineAnnealingLR(T_max=epochs, eta_min=0) stepped once per epoch, as
        # in Kang et al.'s stage-2 configs ("coslr").
        return 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))
    if schedule == "constant":
        return 1.0
    raise ValueError(f"schedule must be 'cosine', 'constant' or a callable, got {schedule!r}.")


def _default_loss(logits, yb, idx):
    return F.cross_entropy(logits, yb)


def train_module(module, X, y, *, loss_fn=None, step=None, epochs=10, batch_size=512, lr=0.2,
                 momentum=0.9, weight_decay=5e-4, nesterov=False, sampler="class",
                 schedule="cosine", random_state=None, generator=None, device="cpu",
                 verbose=0, callback=None, num_samples=None):
    """Train the trainable parameters of ``module`` on fixed features with SGD.

    Each epoch draws ``len(sampler)`` indices (``num_samples``, by default
    ``N``, for the built-in strategies), cuts them into mini-batches of ``batch_size`` (the last one may
    be smaller) and takes one SGD step per batch. Only parameters with
    ``requires_grad=True`` are optimised, so freezing a parameter is how a
    caller keeps it fixed (LWS freezes the joint head and trains the scales).

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
    schedule : {"cosine", "constant"} or callable, default="cosine"
        Learning-rate factor per epoch: ``"cosine"`` is
        ``(1 + cos(pi * epoch / epochs)) / 2``; a callable maps the epoch
        (from 0) to a factor.
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
    num_samples : int, default=None
        Draws per epoch of a built-in sampler; ``None`` means ``n_samples``.
        Ignored when ``sampler`` is a Sampler object.

    Returns
    -------
    history : dict of lists
        Per epoch: ``"loss"`` (mean batch loss weighted by batch size),
        ``"lr"`` and ``"time"`` (seconds).

    Raises
    ------
    FloatingPointError
        If a batch loss is not finite (learning rate too high, or bad features).

    Warns
    -----
    ConvergenceWarning
        When the run takes fewer than 50 SGD steps in all. The stage-2
        defaults (batch 512) come from ImageNet-LT; on a few hundred samples
        they give one step per epoch, too few to move the head.

    Notes
    -----
    With ``random_state`` fixed the run is deterministic on CPU; initialising
    the module's parameters reproducibly is the caller's job.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklearn_lt.nn._trainer import train_module
    >>> X = np.r_[np.random.RandomState(0).randn(40, 2) + 2, np.random.RandomState(1).randn(8, 2) - 2]
    >>> y = np.r_[np.zeros(40, dtype=np.int64), np.ones(8, dtype=np.int64)]
    >>> lin = torch.nn.Linear(2, 2)
    >>> hist = train_module(lin, X, y, epochs=20, batch_size=16, lr=0.1, random_state=0)
    >>> len(hist["loss"]), bool(hist["loss"][-1] < hist["loss"][0])
    (20, True)
    """
    device = resolve_device(device)
    if not isinstance(epochs, numbers.Integral) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}.")
    if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
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
    Xt = Xt.to(device)
    yt = torch.as_tensor(y_np).to(device)

    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        raise ValueError("module has no parameter with requires_grad=True: nothing to train.")
    module.to(device)
    optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum,
                                weight_decay=weight_decay, nesterov=nesterov)
    if isinstance(sampler, torch.utils.data.Sampler):
        index_sampler = sampler
    else:
        if generator is None:
            generator = torch_generator(random_state)
        index_sampler = make_sampler(sampler, y_np, total_epochs=epochs, generator=generator,
                                     num_samples=num_samples)
    loss_fn = _default_loss if loss_fn is None else loss_fn
    _warn_if_few_steps(index_sampler, epochs, batch_size)

    history = {"loss": [], "lr": [], "time": []}
    module.train()
    try:
        for epoch in range(epochs):
            t0 = time.perf_counter()
            epoch_lr = lr * _lr_factor(schedule, epoch, epochs)
            for group in optimizer.param_groups:
                group["lr"] = epoch_lr
            if hasattr(index_sampler, "set_epoch"):
                index_sampler.set_epoch(epoch)
            order = epoch_order(index_sampler)
            total = torch.zeros((), device=device)
            for start in range(0, order.shape[0], batch_size):
                idx = order[start:start + batch_size].to(device)
                xb, yb = Xt[idx], yt[idx]
                if step is None:
                    optimizer.zero_grad(set_to_none=True)
                    loss = loss_fn(module(xb), yb, idx)
                    loss.backward()
                    optimizer.step()
                else:
                    loss = step(module, optimizer, xb, yb, idx)
                # Summed on the device: one host sync per epoch, not per batch.
                total = total + torch.as_tensor(loss, device=device).detach() * idx.shape[0]
            epoch_loss = total.item() / max(order.shape[0], 1)
            if not math.isfinite(epoch_loss):
                raise FloatingPointError(
                    f"Training loss became {epoch_loss} in epoch {epoch + 1}; lower lr or "
                    "check the features for extreme values."
                )
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


FEW_STEPS = 50


def _warn_if_few_steps(index_sampler, epochs, batch_size):
    try:
        per_epoch = len(index_sampler)
    except TypeError:  # a sampler without a length: nothing to judge
        return
    steps = epochs * math.ceil(per_epoch / batch_size)
    if steps < FEW_STEPS:
        warnings.warn(
            f"Only {steps} SGD steps in all ({epochs} epochs of {per_epoch} draws in batches "
            f"of {batch_size}): too few to train the head. For small data lower batch_size "
            "(scaling lr with it) or raise epochs.",
            ConvergenceWarning, stacklevel=3,
        )
