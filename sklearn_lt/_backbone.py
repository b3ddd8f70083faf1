"""Stage 1 of decoupled training: a skorch-wrapped torch network as an estimator.

`Backbone` learns a representation (Kang et al., ICLR 2020, stage 1) with the
CIFAR-LT recipe of Cao et al. (2019) by default, then acts as a transformer
(``transform`` -> penultimate features) and as a classifier (the jointly trained
linear head). Stage-2 heads in :mod:`sklearn_lt.heads` train on the cached
features and may reuse the joint head (``coef_``, ``intercept_``).
"""

import functools
import math
import numbers
import time

import numpy as np
import skorch
import torch
from skorch.callbacks import Callback, PrintLog
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_n_features, check_is_fitted, validate_data
from torch import nn

from .nn._augment import CropFlip
from .nn._losses import effective_number_weights, make_loss
from .nn._networks import NormedLinear, make_network
from .nn._samplers import epoch_order, make_sampler
from .utils import check_long_tailed_targets, resolve_device

# skorch-style routed parameters: ``module__width=...`` goes to the network
# constructor, ``optimizer__nesterov=True`` to SGD, ``criterion__gamma=2`` to the loss.
_PREFIXES = ("module__", "optimizer__", "criterion__")

_LOSSES = ("ce", "focal", "cb", "class_balanced", "ldam", "ldam_drw",
           "logit_adjusted", "la", "balanced_softmax")


class _LTModule(nn.Module):
    """Input scaling + augmentation + feature network + linear head.

    Scaling lives inside the module so that uint8 images travel to the device
    as bytes (4x less traffic) and a pickled model carries its preprocessing.
    """

    def __init__(self, features, n_classes, *, mean, std, augment=None, normed_head=False):
        super().__init__()
        self.features = features
        d = int(features.out_features)
        self.head = NormedLinear(d, n_classes) if normed_head else nn.Linear(d, n_classes)
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.augment = augment

    def embed(self, x):
        if x.dtype == torch.uint8:
            x = x.float().div_(255.0)
        else:
            x = x.float()
        if self.training and self.augment is not None:
            x = self.augment(x)
        x = (x - self.mean) / self.std
        return self.features(x)

    def forward(self, x):
        return self.head(self.embed(x))


class _BatchIterator:
    """Yields ``(X[idx], y[idx])`` batches by fancy indexing in-memory tensors.

    A per-sample ``Dataset.__getitem__`` + collate costs more than a small CNN's
    forward pass on CPU; slicing whole batches keeps the library within a few
    percent of a hand-written loop.
    """

    def __init__(self, dataset, batch_size, sampler=None, device=None, training=False):
        self.training = training
        self.X = dataset.X
        self.y = dataset.y
        self.batch_size = batch_size
        self.sampler = sampler
        self.device = device

    def __len__(self):
        n = len(self.sampler) if self.sampler is not None else len(self.X)
        return math.ceil(n / self.batch_size)

    def __iter__(self):
        if self.sampler is not None:
            order = epoch_order(self.sampler)
        else:
            order = torch.arange(len(self.X))
        pin = self.device is not None and self.device.type == "cuda" and not self.X.is_cuda
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            if self.training and len(idx) == 1 and start > 0:
                break  # batch norm cannot train on one sample; it rejoins next epoch
            if self.X.is_cuda:
                idx = idx.to(self.X.device)
            xb, yb = self.X[idx], self.y[idx]
            if pin:
                xb, yb = xb.pin_memory(), yb.pin_memory()
            yield xb, yb


class _LTNet(skorch.NeuralNet):
    """skorch net with the long-tail training step.

    Overrides the step for mixed precision and for counting training accuracy
    without an extra pass; the epoch-level recipe lives in `_RecipeCallback`.
    """

    def __init__(self, *args, amp=False, channels_last=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.amp = amp
        self.channels_last = channels_last

    @property
    def _default_callbacks(self):
        # The recipe callback must run before PrintLog so the printed row has
        # lr and train accuracy: PrintLog is appended by Backbone after it.
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

    def infer(self, x, **fit_params):
        x = self._prepare(x)
        with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16, enabled=self.amp):
            out = self.module_(x, **fit_params)
        return out.float()

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        xi, yi = batch
        yi = skorch.utils.to_tensor(yi, device=self.device)
        y_pred = self.infer(xi, **fit_params)
        loss = self.criterion_(y_pred, yi)
        loss.backward()
        with torch.no_grad():
            # Kept as a tensor: an .item() here would sync the GPU every batch.
            self.n_correct_ = self.n_correct_ + (y_pred.argmax(1) == yi).sum()
        return {"loss": loss, "y_pred": y_pred}

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self.criterion_(y_pred, skorch.utils.to_tensor(y_true, device=self.device))


def _lr_at(epoch, *, lr, total, warmup, schedule, milestones, decay):
    """Learning rate of an epoch: linear warm-up then step or cosine decay."""
    if warmup and epoch < warmup:
        return lr * (epoch + 1) / warmup
    if schedule == "step":
        return lr * decay ** sum(epoch >= m for m in milestones)
    if schedule == "cosine":
        span = max(total - warmup, 1)
        return 0.5 * lr * (1 + math.cos(math.pi * (epoch - warmup) / span))
    return lr


class _RecipeCallback(Callback):
    """Per-epoch recipe: lr schedule, PB sampler epoch, DRW weights, SWA averaging."""

    def __init__(self, *, lr_fn, sampler, drw_epoch, drw_weights, swa_start, swa_lr):
        self.lr_fn = lr_fn
        self.sampler = sampler
        self.drw_epoch = drw_epoch
        self.drw_weights = drw_weights
        self.swa_start = swa_start
        self.swa_lr = swa_lr

    def initialize(self):
        self.swa_model_ = None
        self.n_swa_ = 0
        return self

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history) - 1
        in_swa = self.swa_start is not None and epoch >= self.swa_start
        lr = self.swa_lr if in_swa else self.lr_fn(epoch)
        for group in net.optimizer_.param_groups:
            group["lr"] = lr
        net.history.record("lr", lr)
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)
        if self.drw_epoch is not None and epoch == self.drw_epoch:
            _set_class_weight(net.criterion_, self.drw_weights.to(net.device))
        net.n_correct_ = torch.zeros((), dtype=torch.long, device=net.device)
        self._t0 = time.perf_counter()

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history) - 1
        n_seen = sum(net.history[-1, "batches", :, "train_batch_size"])
        net.history.record("train_acc", float(net.n_correct_.item()) / max(n_seen, 1))
        net.history.record("img_per_s", n_seen / max(time.perf_counter() - self._t0, 1e-9))
        if self.swa_start is not None and epoch >= self.swa_start:
            if self.swa_model_ is None:
                self.swa_model_ = torch.optim.swa_utils.AveragedModel(net.module_)
            else:
                self.swa_model_.update_parameters(net.module_)
            self.n_swa_ += 1


def _set_class_weight(criterion, weight):
    # Losses of sklearn_lt.losses expose set_weight; torch's CE keeps a buffer.
    if hasattr(criterion, "set_weight"):
        criterion.set_weight(weight)
    elif hasattr(criterion, "weight"):
        criterion.weight = weight
    else:
        raise ValueError(f"{type(criterion).__name__} takes no class weights, so DRW cannot apply.")


class Backbone(ClassifierMixin, TransformerMixin, BaseEstimator):
    """Representation learner for long-tailed data (stage 1), wrapping a skorch net.

    ``fit`` trains a torch feature network plus a linear head jointly;
    ``transform`` returns the penultimate features (float32) for stage-2 heads;
    ``predict``/``predict_proba`` use the jointly trained head. The defaults are
    the CIFAR-LT ResNet-32 recipe of Cao et al. (2019): 200 epochs, batch 128,
    SGD lr 0.1 momentum 0.9, 5 warm-up epochs, lr x0.01 at epochs 160 and 180,
    weight decay 2e-4, random crop (padding 4) + horizontal flip.

    Parameters
    ----------
    module : {"auto", "resnet32", "cnn", "mlp", "resnet10", "resnext50"} or nn.Module, default="auto"
        Feature network. ``"auto"`` picks an MLP for 2-D (tabular) input,
        ResNet-32 for 32x32 images, the small CNN for other small images and
        ResNet-10 from 64x64 up. A user module must map a batch to
        ``(n, d)`` features (see :func:`sklearn_lt.nn.make_network`).
        Constructor arguments go through ``module__<name>=...``.
    max_epochs : int, default=200
    batch_size : int, default=128
    lr : float, default=0.1
        Peak learning rate of SGD (momentum 0.9; ``optimizer__*`` for others).
    momentum : float, default=0.9
    weight_decay : float, default=2e-4
    warmup_epochs : int, default=5
        Linear warm-up from ``lr/warmup_epochs`` to ``lr``.
    lr_schedule : {"step", "cosine", "constant"}, default="step"
    milestones : "auto" or tuple of int, default="auto"
        Epochs where a step schedule multiplies the lr by ``lr_decay``;
        ``"auto"`` is 80% and 90% of ``max_epochs`` (160, 180 of 200).
    lr_decay : float, default=0.01
    sampler : {"instance", "class", "sqrt", "progressive"} or float, default="instance"
        Mini-batch sampling, p_j proportional to n_j^q: instance-balanced
        (q=1), class-balanced (q=0, class-aware sampler), square-root (q=1/2),
        any power q, or progressively balanced (linear IB -> CB over epochs).
    loss : {"ce", "focal", "cb", "ldam", "ldam_drw", "logit_adjusted", "balanced_softmax"}, default="ce"
        Training loss (:mod:`sklearn_lt.losses`); parameters via
        ``criterion__gamma``, ``criterion__beta``, ``criterion__tau``,
        ``criterion__max_margin``, ``criterion__scale``. LDAM uses a cosine
        (normalised) head, as in Cao et al.
    drw_epoch : None, "auto" or int, default=None
        Deferred re-weighting: from this epoch, class weights become the
        effective-number weights (beta=0.9999). ``"auto"`` = 80% of the epochs;
        ``loss="ldam_drw"`` implies ``"auto"`` when left None.
    augment : {"auto", "crop_flip", "crop", "none"}, default="auto"
        Random crop with 4-pixel zero padding (+ horizontal flip), done on
        tensors on the training device. ``"auto"``: crop+flip for 3-channel
        images, none otherwise (flips change the meaning of digits).
    swa : bool, default=False
        Stochastic weight averaging (Izmailov et al., 2018): from ``swa_start``
        the lr is held at ``swa_lr`` and weights are averaged each epoch; BN
        statistics are recomputed and the averaged network is the fitted one.
    swa_start : "auto" or int, default="auto"
        First averaged epoch; ``"auto"`` = 75% of ``max_epochs``.
    swa_lr : "auto" or float, default="auto"
        Constant lr during averaging; ``"auto"`` = ``lr / 2``.
    train_split : None or float, default=None
        Fraction held out (stratified) as skorch's validation set. None: no
        split, so no tail sample is silently lost.
    device : str, default="auto"
        ``"auto"`` uses CUDA when present.
    amp : bool or "auto", default="auto"
        bfloat16 autocast; ``"auto"`` enables it on CUDA only.
    channels_last : bool or "auto", default="auto"
        NHWC memory layout for images; ``"auto"`` enables it on CUDA only.
    predict_batch_size : int, default=1024
    random_state : int, RandomState or None, default=None
        Seeds initialisation, sampling, augmentation and dropout; CPU runs with
        an int are repeatable.
    verbose : int, default=0
        One line per epoch (loss, train accuracy, lr, images/s, time).
    **kwargs
        Routed parameters with prefixes ``module__``, ``optimizer__``, ``criterion__``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    class_counts_ : ndarray of shape (n_classes,)
        Training samples per class (used by shot metrics and balanced losses).
    coef_ : ndarray of shape (n_classes, n_features_out_)
        Weights of the jointly trained linear head (for LDAM: the normalised
        weights times the logit scale).
    intercept_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    input_shape_ : tuple
        Shape of one input sample (without batch dimension).
    n_features_out_ : int
    net_ : skorch.NeuralNet
        The fitted skorch net; ``net_.history`` holds per-epoch loss, lr,
        train accuracy and timing.
    module_ : torch.nn.Module
        The fitted network (the SWA-averaged one when ``swa=True``).

    Examples
    --------
    >>> from sklearn_lt import Backbone
    >>> from sklearn_lt.datasets import load_digits_lt
    >>> d = load_digits_lt()
    >>> bb = Backbone(module="mlp", max_epochs=5, batch_size=64, random_state=0)
    >>> Z = bb.fit(d.X_train, d.y_train).transform(d.X_test)
    >>> Z.shape[0] == d.X_test.shape[0], Z.dtype
    (True, dtype('float32'))
    """

    _parameter_constraints = {
        "module": [StrOptions({"auto", "resnet32", "cnn", "mlp", "resnet10", "resnext50"}),
                   nn.Module, type],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "warmup_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "lr_schedule": [StrOptions({"step", "cosine", "constant"})],
        "milestones": [StrOptions({"auto"}), tuple, list],
        "lr_decay": [Interval(numbers.Real, 0, 1, closed="right")],
        "sampler": [StrOptions({"instance", "class", "sqrt", "progressive"}),
                    Interval(numbers.Real, 0, None, closed="left")],
        "loss": [StrOptions(set(_LOSSES))],
        "drw_epoch": [None, StrOptions({"auto"}), Interval(numbers.Integral, 0, None, closed="left")],
        "augment": [StrOptions({"auto", "crop_flip", "crop", "none"}), None],
        "swa": ["boolean"],
        "swa_start": [StrOptions({"auto"}), Interval(numbers.Integral, 0, None, closed="left")],
        "swa_lr": [StrOptions({"auto"}), Interval(numbers.Real, 0, None, closed="neither")],
        "train_split": [None, Interval(numbers.Real, 0, 1, closed="neither")],
        "device": [str, torch.device],
        "amp": ["boolean", StrOptions({"auto"})],
        "channels_last": ["boolean", StrOptions({"auto"})],
        "predict_batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, module="auto", *, max_epochs=200, batch_size=128, lr=0.1,
                 momentum=0.9, weight_decay=2e-4, warmup_epochs=5, lr_schedule="step",
                 milestones="auto", lr_decay=0.01, sampler="instance", loss="ce",
                 drw_epoch=None, augment="auto", swa=False, swa_start="auto",
                 swa_lr="auto", train_split=None, device="auto", amp="auto",
                 channels_last="auto", predict_batch_size=1024, random_state=None,
                 verbose=0, **kwargs):
        self.module = module
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.warmup_epochs = warmup_epochs
        self.lr_schedule = lr_schedule
        self.milestones = milestones
        self.lr_decay = lr_decay
        self.sampler = sampler
        self.loss = loss
        self.drw_epoch = drw_epoch
        self.augment = augment
        self.swa = swa
        self.swa_start = swa_start
        self.swa_lr = swa_lr
        self.train_split = train_split
        self.device = device
        self.amp = amp
        self.channels_last = channels_last
        self.predict_batch_size = predict_batch_size
        self.random_state = random_state
        self.verbose = verbose
        # Stored as given; names are checked in fit (sklearn: no validation in __init__).
        for key, value in kwargs.items():
            setattr(self, key, value)

    # -- skorch-style routed parameters -------------------------------------
    def _extra_params(self):
        named = set(self._get_param_names())
        return {k: v for k, v in vars(self).items()
                if not k.startswith("_") and not k.endswith("_") and k not in named}

    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        params.update(self._extra_params())
        return params

    def set_params(self, **params):
        routed = {k: params.pop(k) for k in list(params) if k.startswith(_PREFIXES)}
        for key, value in routed.items():
            setattr(self, key, value)
        return super().set_params(**params)

    def _routed(self, prefix):
        n = len(prefix)
        return {k[n:]: v for k, v in vars(self).items() if k.startswith(prefix)}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    # -- input handling -------------------------------------------------------
    def _check_X(self, X, *, reset, y="no_validation"):
        kwargs = dict(ensure_2d=False, allow_nd=True, dtype="numeric", reset=reset)
        if isinstance(y, str) and y == "no_validation":
            X = validate_data(self, X, **kwargs)
        else:
            X, y = validate_data(self, X, y, **kwargs)
        if X.ndim == 1:
            raise ValueError(
                "Expected 2D array, got 1D array instead. Reshape your data using "
                "array.reshape(-1, 1) for a single feature or array.reshape(1, -1) "
                "for a single sample."
            )
        if X.ndim > 4:
            raise ValueError(f"Backbone takes 2-D tabular or 3-/4-D image arrays, got {X.ndim}-D input.")
        if X.dtype != np.uint8:
            X = X.astype(np.float32, copy=False)
        if X.ndim == 3:
            X = X[:, None]  # (N, H, W) grey images -> (N, 1, H, W)
        # validate_data only tracks n_features_in_ when ensure_2d is on, which
        # would refuse images; track it here on the converted array instead.
        _check_n_features(self, X, reset=reset)
        if X.ndim == 4 and X.shape[1] not in (1, 3) and X.shape[-1] in (1, 3):
            raise ValueError(
                f"Images must be channels-first (N, C, H, W); got shape {X.shape}, which "
                "looks channels-last. Use X.transpose(0, 3, 1, 2)."
            )
        if not reset and tuple(X.shape[1:]) != self.input_shape_:
            raise ValueError(
                f"X has samples of shape {tuple(X.shape[1:])}, but Backbone was fitted "
                f"on samples of shape {self.input_shape_}."
            )
        return X if isinstance(y, str) and y == "no_validation" else (X, y)

    def _resolve(self, value, default):
        return default if isinstance(value, str) and value == "auto" else value

    # -- fitting ----------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the feature network and joint head (stage 1).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, [C,] H, W)
            Tabular features, or images as uint8 (scaled by 1/255) or floats.
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : Backbone
        """
        unknown = [k for k in self._extra_params() if not k.startswith(_PREFIXES)]
        if unknown:
            raise TypeError(
                f"Backbone got unexpected parameter(s) {unknown}; routed parameters must "
                f"start with one of {_PREFIXES}."
            )
        X, y = self._check_X(X, reset=True, y=y)
        classes, y_enc, counts = check_long_tailed_targets(y)
        T = self.max_epochs
        device = resolve_device(self.device)
        cuda = device.type == "cuda"
        is_image = X.ndim == 4
        loss = {"class_balanced": "cb", "la": "logit_adjusted"}.get(self.loss, self.loss)
        drw_epoch = self.drw_epoch
        if loss == "ldam_drw":
            loss, drw_epoch = "ldam", ("auto" if drw_epoch is None else drw_epoch)
        drw_epoch = self._resolve(drw_epoch, int(0.8 * T))
        swa_start = self._resolve(self.swa_start, int(0.75 * T)) if self.swa else None
        if swa_start is not None and swa_start >= T:
            raise ValueError(f"swa_start={swa_start} must be below max_epochs={T}.")
        milestones = tuple(self._resolve(self.milestones, (int(0.8 * T), int(0.9 * T))))
        augment = self.augment or "none"
        if augment == "auto":
            augment = "crop_flip" if is_image and X.shape[1] == 3 else "none"
        if augment != "none" and not is_image:
            raise ValueError(f"augment={self.augment!r} needs image input (N, C, H, W); got 2-D X.")

        # Input scaling statistics, per channel for images, per feature for tables.
        axes = (0, 2, 3) if is_image else (0,)
        scale = 255.0 if X.dtype == np.uint8 else 1.0
        mean = X.mean(axis=axes, dtype=np.float64) / scale
        std = X.std(axis=axes, dtype=np.float64) / scale
        std = np.where(std > 1e-8, std, 1.0)
        shape = (1, -1, 1, 1) if is_image else (1, -1)

        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        devices = [device.index or 0] if cuda else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            features = make_network(self.module, tuple(X.shape[1:]), **self._routed("module__"))
            module = _LTModule(
                features, len(classes), mean=mean.reshape(shape), std=std.reshape(shape),
                augment=CropFlip(padding=4, flip=augment == "crop_flip") if augment != "none" else None,
                normed_head=loss == "ldam",
            )
            criterion = make_loss(loss, counts, **self._routed("criterion__"))
            gen = torch.Generator().manual_seed(seed)
            sampler = make_sampler(self.sampler, y_enc, total_epochs=T, generator=gen)
            recipe = _RecipeCallback(
                lr_fn=functools.partial(_lr_at, lr=self.lr, total=T, warmup=self.warmup_epochs,
                                        schedule=self.lr_schedule, milestones=milestones,
                                        decay=self.lr_decay),
                sampler=sampler,
                drw_epoch=drw_epoch if drw_epoch is not None and drw_epoch < T else None,
                drw_weights=torch.as_tensor(effective_number_weights(counts, 0.9999),
                                            dtype=torch.float32),
                swa_start=swa_start,
                swa_lr=self._resolve(self.swa_lr, self.lr / 2),
            )
            callbacks = [("recipe", recipe)]
            if self.verbose:
                callbacks.append(("print_log", PrintLog(
                    keys_ignored=["train_batch_count", "valid_batch_count"])))
            optimizer_kw = {"momentum": self.momentum, "weight_decay": self.weight_decay}
            optimizer_kw.update(self._routed("optimizer__"))
            train_split = None
            if self.train_split is not None:
                train_split = skorch.dataset.ValidSplit(self.train_split, stratified=True,
                                                        random_state=seed)
            net = _LTNet(
                module=module, criterion=criterion, optimizer=torch.optim.SGD, lr=self.lr,
                max_epochs=T, batch_size=self.batch_size,
                iterator_train=_BatchIterator, iterator_train__sampler=sampler,
                iterator_train__device=device, iterator_train__training=True,
                iterator_valid=_BatchIterator, iterator_valid__device=device,
                train_split=train_split, callbacks=callbacks, device=device,
                verbose=self.verbose, predict_nonlinearity=None,
                amp=cuda if self.amp == "auto" else bool(self.amp),
                channels_last=is_image and (cuda if self.channels_last == "auto" else bool(self.channels_last)),
                **{f"optimizer__{k}": v for k, v in optimizer_kw.items()},
            )
            Xt = torch.from_numpy(np.ascontiguousarray(X))
            yt = torch.from_numpy(y_enc)
            if cuda and Xt.numel() * Xt.element_size() < 2 * 1024**3:
                # Small enough to live on the GPU: no host->device copy per batch.
                Xt, yt = Xt.to(device), yt.to(device)
            if net.channels_last:
                module.to(memory_format=torch.channels_last)
            net.fit(Xt, yt)
            if swa_start is not None:
                net.module_ = self._finish_swa(recipe.swa_model_, Xt, net)
                recipe.swa_model_ = None  # the averaged net is now module_; don't pickle twice

        net.module_.eval()
        head = net.module_.head
        if isinstance(head, NormedLinear):
            w = nn.functional.normalize(head.weight.detach().float(), dim=1)
            w = w * float(getattr(net.criterion_, "scale", 1.0))
            coef, intercept = w, torch.zeros(len(classes))
        else:
            coef, intercept = head.weight.detach(), head.bias.detach()
        # Only now, with training done, assign fitted state: a failed fit leaves
        # a previously fitted model intact.
        self.classes_ = classes
        self.class_counts_ = counts
        self.input_shape_ = tuple(X.shape[1:])
        self.n_features_out_ = int(features.out_features)
        self.coef_ = coef.cpu().numpy().astype(np.float64)
        self.intercept_ = intercept.cpu().numpy().astype(np.float64)
        self.logit_scale_ = float(getattr(net.criterion_, "scale", 1.0)) if loss == "ldam" else 1.0
        self.net_ = net
        return self

    def _finish_swa(self, swa_model, Xt, net):
        """Recompute BN statistics of the averaged network on the training data."""
        model = swa_model.module
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
            device = torch.device(net.device)
            loader = (Xt[i:i + self.batch_size] for i in range(0, len(Xt), self.batch_size))
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=net.amp):
                torch.optim.swa_utils.update_bn(loader, model, device=device)
        return model

    # -- inference --------------------------------------------------------------
    def _forward_batches(self, X, fn):
        device = next(self.module_.parameters()).device
        amp = self.net_.amp and device.type == "cuda"
        out = []
        self.module_.eval()
        with torch.inference_mode():
            for i in range(0, len(X), self.predict_batch_size):
                xb = torch.from_numpy(np.ascontiguousarray(X[i:i + self.predict_batch_size])).to(device)
                if self.net_.channels_last and xb.ndim == 4:
                    xb = xb.contiguous(memory_format=torch.channels_last)
                with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
                    out.append(fn(xb).float().cpu())
        return torch.cat(out).numpy()

    def transform(self, X):
        """Penultimate features of the fitted network.

        Parameters
        ----------
        X : array-like, same layout as in ``fit``

        Returns
        -------
        Z : ndarray of shape (n_samples, n_features_out_), dtype float32
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        return self._forward_batches(X, self.module_.embed).astype(np.float32, copy=False)

    def _logits(self, X):
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        return self._forward_batches(X, self.module_)

    def decision_function(self, X):
        """Logits of the jointly trained head.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes), or (n_samples,) for two
            classes (logit of ``classes_[1]`` minus that of ``classes_[0]``, as
            scikit-learn's binary classifiers do).
        """
        logits = self._logits(X)
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def predict_proba(self, X):
        """Softmax of the joint head's logits (times ``logit_scale_`` for LDAM)."""
        logits = torch.from_numpy(self._logits(X)).double() * self.logit_scale_
        return torch.softmax(logits, dim=1).numpy()

    def predict(self, X):
        """Class labels from the jointly trained head."""
        logits = self._logits(X)
        return self.classes_[logits.argmax(axis=1)]

    @property
    def module_(self):
        """The fitted torch network (the SWA average when ``swa=True``)."""
        return self.net_.module_

    @property
    def history_(self):
        """Per-epoch training history (list of dicts) of the skorch net."""
        check_is_fitted(self)
        return self.net_.history
