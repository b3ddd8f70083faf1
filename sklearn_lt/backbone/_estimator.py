"""Backbone: stage 1 of decoupled training as a scikit-learn estimator."""

import copy
import dataclasses
import io
import numbers
import os
import warnings
from dataclasses import dataclass

import joblib
import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_n_features,
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)
from skorch.callbacks import PrintLog
from skorch.dataset import Dataset
from skorch.helper import predefined_split
from torch import nn

from ..datasets import ImageTransform
from ..datasets._image_folder import _import_pil_image
from ..exceptions import ScheduleWarning
from ..nn import (
    LOSS_NAMES,
    ColorJitter,
    CropFlip,
    effective_number_weights,
    get_loss_spec,
    make_loss,
    make_network,
    make_sampler,
    meta_class_weights,
)
from ..utils import check_long_tailed_targets, resolve_device, thread_limit
from ..utils._sampling import SAMPLER_CONSTRAINT
from ..utils._validation import balanced_holdout_indices, input_attributes_restored_on_error
from . import _callbacks as cb
from ._distributed import (
    DataParallel,
    from_sync_batch_norm,
    process_group_shard,
    shared_seed,
    to_sync_batch_norm,
)
from ._files import (
    FileBatchIterator,
    ImageFiles,
    as_paths,
    check_paths_exist,
    first_batch,
    sample_pixels,
)
from ._joint_registry import register_joint_head
from ._module import LTModule
from ._net import BatchIterator, LTNet
from ._stochastic import SampledNetworks, register, row_hashes

# skorch-style routed parameters: ``module__width=...`` goes to the network
# constructor, ``optimizer__nesterov=True`` to SGD, ``criterion__gamma=2`` to the loss.
_PREFIXES = ("module__", "optimizer__", "criterion__")
_NO_Y = object()  # "no y given", distinct from y=None, which fit must refuse
NETWORK_NAMES = ("auto", "resnet32", "cnn", "mlp", "resnet10", "resnext50")
# Parameters that Backbone sets itself; routing them would silently fight the recipe.
_RESERVED = {"optimizer__lr": "lr", "optimizer__momentum": "momentum",
             "optimizer__weight_decay": "weight_decay"}


@dataclass(frozen=True)
class _Recipe:
    """The settings of one fit, every ``"auto"`` resolved."""

    loss: object  # nn.LossSpec
    epochs: int
    drw_epoch: object  # int or None
    swa_start: object  # int or None
    swa_lr: float
    milestones: tuple
    warmup: int
    augment: str
    padding: int
    device: torch.device
    amp: bool
    channels_last: bool
    image_size: object = None  # int for a fit on files, else None
    num_workers: int = 0



@dataclass(frozen=True)
class _SavedNet:
    """A fitted skorch net as ``torch.save`` wrote it, inside a pickled Backbone."""

    data: bytes


class Backbone(ClassNamePrefixFeaturesOutMixin, ClassifierMixin, TransformerMixin, BaseEstimator):
    """Representation learner for long-tailed data (stage 1), wrapping a skorch net.

    ``fit`` trains a torch feature network plus a linear head jointly;
    ``transform`` returns the penultimate features (float32) for stage-2 heads;
    ``predict``/``predict_proba`` use the jointly trained head. The defaults are
    the CIFAR-LT ResNet-32 recipe of Cao et al. (2019): 200 epochs, batch 128,
    SGD lr 0.1 momentum 0.9, 5 warm-up epochs, lr x0.01 at epochs 160 and 180,
    weight decay 2e-4, random crop (padding 4) + horizontal flip.

    Parameters
    ----------
    module : {"auto", "resnet32", "cnn", "mlp", "resnet10", "resnext50"} or nn.Module, \
            default="auto"
        Feature network. ``"auto"`` picks an MLP for 2-D (tabular) input,
        ResNet-32 for 32x32 images, the small CNN for other small images and
        ResNet-10 from 64x64 up. A user module must map a batch to
        ``(n, d)`` features (see :func:`sklearn_lt.nn.make_network`); an
        instance is copied at fit, so the caller's object is never trained
        and every refit starts from its initial weights.
        Constructor arguments go through ``module__<name>=...``.
    max_epochs : int, default=200
        Training epochs.
    batch_size : int, default=128
        Mini-batch size.
    lr : float, default=0.1
        Peak learning rate of SGD (``optimizer__*`` routes other SGD
        arguments; the rate, momentum and weight decay are set here only).
    momentum : float, default=0.9
        SGD momentum.
    weight_decay : float, default=2e-4
        SGD weight decay.
    warmup_epochs : "auto" or int, default="auto"
        Linear warm-up from ``lr/warmup_epochs`` to ``lr``. ``"auto"`` scales
        it with the run: 2.5% of ``max_epochs``, rounded, at least 1 (Cao et
        al.'s 5 of 200; 2 of 60; 1 of 15). A warm-up that the epoch count
        cannot accommodate raises a :class:`~sklearn_lt.exceptions.ScheduleWarning`.
    lr_schedule : {"step", "cosine", "constant"}, default="step"
        Decay after the warm-up (:func:`sklearn_lt.nn.lr_lambda`, applied by
        torch's ``LambdaLR`` through skorch's ``LRScheduler``).
    milestones : "auto" or tuple of int, default="auto"
        Epochs where a step schedule multiplies the lr by ``lr_decay``;
        ``"auto"`` is 80% and 90% of ``max_epochs`` (160, 180 of 200).
    lr_decay : float, default=0.01
        Multiplier at each milestone.
    sampler : {"instance", "class", "sqrt", "progressive"} or float, default="instance"
        Mini-batch sampling, p_j proportional to n_j^q: instance-balanced
        (q=1), class-balanced (q=0, class-aware sampler), square-root (q=1/2),
        any power q >= 0, or progressively balanced (linear IB -> CB over
        epochs). An epoch draws ``n_samples`` indices whatever the strategy.
    loss : {"ce", "focal", "cb", "ldam", "ldam_drw", "logit_adjusted", "balanced_softmax"}, \
            default="ce"
        Training loss (:mod:`sklearn_lt.losses`; aliases ``"class_balanced"``
        and ``"la"``); parameters via ``criterion__gamma``,
        ``criterion__beta``, ``criterion__tau``, ``criterion__max_margin``,
        ``criterion__scale``. LDAM trains a cosine (normalised) head, as in
        Cao et al.; its ``transform`` then returns L2-normalised features,
        which is what that head reads.
    drw_epoch : None, "auto" or int, default=None
        Deferred re-weighting: from this epoch, class weights become the
        effective-number weights (beta=0.9999). ``"auto"`` = 80% of the epochs;
        ``loss="ldam_drw"`` implies ``"auto"`` when left None.
    augment : {"auto", "crop_flip", "crop", "imagenet", "none"}, default="auto"
        ``"crop_flip"`` / ``"crop"``: random crop with zero padding of 1/8 of
        the image side (4 pixels at 28 and 32 px; + horizontal flip), done on
        tensors on the training device. ``"imagenet"`` (``X`` as image files
        only): Kang et al.'s ImageNet-LT augmentation, a random-resized crop
        and flip per decoded file (:class:`~sklearn_lt.datasets.ImageTransform`)
        then colour jitter 0.4 on the device (:class:`~sklearn_lt.nn.ColorJitter`);
        inference then resizes the shorter side to ``image_size / 0.875`` and
        takes the centre. ``"auto"``: ``"imagenet"`` for files decoded above
        64 px, crop+flip for other 3-channel images, crop alone for 1-channel
        ones (a flip changes the meaning of digits and letters; on
        Fashion-MNIST-LT crop alone was also the better of the two), none for
        tabular input.
    swa : bool, default=False
        Stochastic weight averaging (Izmailov et al., 2018): from ``swa_start``
        the lr is held at ``swa_lr`` and weights are averaged each epoch; BN
        statistics are recomputed and the averaged network is the fitted one.
    swa_start : "auto" or int, default="auto"
        First averaged epoch; ``"auto"`` = 75% of ``max_epochs``.
    swa_lr : "auto" or float, default="auto"
        Constant lr during averaging; ``"auto"`` = ``lr / 2``.
    swa_snapshots_per_epoch : int, default=1
        Snapshots averaged (and collected by SWAG) per epoch of the averaging
        phase: 1 at each epoch's end as Izmailov et al.; more, evenly spaced
        over the batches, for short runs whose averaging phase spans only a
        few epochs (SWAG wants ``swag_rank`` snapshots).
    swag : bool, default=False
        SWA-Gaussian (Maddox et al., 2019; implies ``swa``): the snapshots also
        give a Gaussian posterior over the weights, kept as ``swag_``, from
        which ``swag_samples`` networks are drawn after training, each with
        batch-norm statistics recomputed on the training inputs, for the
        stochastic representations of Nam, Jang & Lee (ICLR 2023):
        :meth:`transform_stochastic`, and the training ones for
        :class:`~sklearn_lt.heads.SWAGReprClassifier`. ``transform`` keeps
        returning the SWA features, so every other head is unaffected.
    swag_rank : int, default=20
        ``K``, the deviation columns of the low-rank covariance (Maddox et
        al.'s value). The posterior holds ``K + 2`` copies of the weights.
    swag_samples : int, default=10
        ``M``, the networks drawn. SWAG's reference averages 30 for Bayesian
        model averaging; here the draws feed a head's teacher (an average of
        ``M`` softmaxes, whose Monte-Carlo error falls as ``1/sqrt(M)``)
        while fit time and the stored training representations grow
        linearly in ``M``; 10 keeps most of the benefit at a third of the
        cost. A head may use fewer (its ``n_samples``).
    swag_scale : float, default=0.5
        Covariance scale of each draw; 0.5 is the full SWAG covariance
        ``(diag + D D^T / (K - 1)) / 2``.
    swag_bn_size : int or None, default=None
        Training inputs used to recompute each draw's batch-norm statistics
        (a random subset; None: all, one pass per draw).
    meta_epochs : int, default=0
        The last epochs train with meta-learned per-example weights (Jamal et
        al., CVPR 2020; :class:`~sklearn_lt.nn.MetaReweighting`, the step
        :class:`~sklearn_lt.heads.MetaWeightedClassifier` uses too): the loss
        ``mean_i (w_{y_i} + eps_i) L_i`` with effective-number class weights
        and ``eps`` from a look-ahead on a batch of a balanced development
        set. 0: none. The authors' CIFAR-LT schedule is ``max_epochs=200,
        meta_epochs=40, lr_schedule="step", milestones=(160, 180),
        lr_decay=0.01, batch_size=100, weight_decay=5e-4,
        optimizer__nesterov=True``.
    meta_dev_size : int, default=10
        Development samples carved per class from ``X`` (and not trained on)
        when ``fit`` gets no ``X_dev``; the paper's 10 (CIFAR), 20
        (ImageNet-LT), 2 (iNaturalist). A class too small for it is an error.
    meta_beta : float in [0, 1) or "n", default=0.9999
        ``beta`` of the class weights (``"n"``: ``(n - 1) / n``).
    meta_eps_lr : float, default=0.01
        ``tau_eps``, the step on ``eps``.
    checkpoint : None, str or path-like, default=None
        A folder where the state at the end of every epoch is saved. A fit
        interrupted (killed, or stopped by an exception) is resumed from
        there by the next ``fit`` of an estimator with the same parameters on
        the same data, and on the CPU with an int ``random_state`` it ends
        bit-identical to an uninterrupted fit. A checkpoint written on a GPU
        resumes on the CPU. A completed fit removes its checkpoint. The files
        are pickles: resume only from folders you trust.
    train_split : None or float, default=None
        Fraction held out, stratified, for validation: the sampler draws from
        the rest only, and ``history_`` records ``valid_loss``, ``valid_acc``
        and ``valid_bal_acc`` per epoch. Every class keeps at least one
        training sample. None: no split, so no tail sample is lost; a
        validation set can instead be passed to ``fit`` as ``X_dev, y_dev``
        (a balanced one, as ImageNet-LT's 20 images per class, measures
        balanced accuracy best).
    early_stopping : None or int, default=None
        Patience, in epochs, on the validation balanced accuracy
        (``valid_bal_acc``, from ``train_split`` or ``X_dev``): training stops
        after that many epochs without improvement, and in any case the
        weights of the best epoch are restored at the end (skorch's
        ``EarlyStopping`` with ``load_best``). ``best_epoch_`` says which.
        Use ``max_epochs`` as the patience for best-epoch restore alone.
        None: the last epoch's weights. Not with ``swa``/``swag``, which
        average epochs instead of picking one. A fit resumed from a
        ``checkpoint`` starts counting patience afresh.
    device : str, default="auto"
        ``"auto"`` uses CUDA when present.
    amp : bool or "auto", default="auto"
        bfloat16 autocast; ``"auto"`` enables it on CUDA only.
    channels_last : bool or "auto", default="auto"
        NHWC memory layout for images; ``"auto"`` enables it on CUDA only.
    predict_batch_size : int, default=1024
        Batch size of ``transform`` and the predictions.
    image_size : "auto" or int, default="auto"
        With ``X`` as image file paths: the side of the square images the
        network sees. ``"auto"``: the shorter side of the first training
        image, at most 224 (CIFAR's 32 px files train at 32 px, photographs
        at 224). Ignored for arrays.
    num_workers : "auto" or int, default="auto"
        With ``X`` as image file paths: DataLoader worker processes that
        decode the files while the network trains (0 decodes in this
        process). ``"auto"``: one per core but one, at most 8. The workers
        of a fit live until it ends. Ignored for arrays.
    sync_batch_norm : bool, default=False
        When training data-parallel (see Notes): normalise batch-norm layers over
        the global batch (:class:`torch.nn.SyncBatchNorm`, CUDA only) rather
        than over each rank's shard. The fitted network has plain batch norm.
    random_state : int, RandomState or None, default=None
        Seeds initialisation, sampling, augmentation, dropout and the
        validation split; CPU runs with an int are repeatable.
    n_threads : int or None, default=None
        Torch (and BLAS) threads while fitting and predicting
        (:func:`~sklearn_lt.utils.thread_limit`); None keeps torch's setting,
        one thread per core. Lower it when other work shares the machine:
        next to one busy process, 2-thread torch was seen running about 5x
        slower than 1 thread on a 2-core machine, as the threads wait for
        each other.
    verbose : int, default=0
        0: silent. 1: one line per epoch on stdout (loss, train accuracy,
        lr, images/s, time). 2: also a progress bar per batch on stderr, in
        ``fit`` (one per epoch, its batches of training and validation;
        meta-weighted epochs included), in the batch-norm recomputation of
        ``swa``/``swag``, and in ``transform``, ``transform_stochastic``,
        ``predict``, ``predict_proba`` and ``decision_function``. The bars are
        erased when done.
    **kwargs
        Routed parameters with prefixes ``module__``, ``optimizer__``, ``criterion__``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    class_counts_ : ndarray of shape (n_classes,)
        Training samples per class (used by shot metrics and balanced losses),
        counted before any validation split.
    coef_ : ndarray of shape (n_classes, n_features_out_)
        Weights of the jointly trained head, such that
        ``transform(X) @ coef_.T + intercept_`` equals
        ``decision_function(X)`` for every loss (for LDAM: the normalised
        weights times the logit scale, read on normalised features).
    intercept_ : ndarray of shape (n_classes,)
        Bias of the joint head.
    loss_ : str
        Canonical name of the training loss (``"la"`` becomes
        ``"logit_adjusted"``).
    n_features_in_ : int
        Number of input features (product of an image's dimensions); not
        defined for a fit on image files.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when ``X`` has string feature names.
    input_shape_ : tuple
        Shape of one input sample (without batch dimension); ``(3, S, S)``
        for a fit on image files.
    image_transform_ : ImageTransform
        How ``transform`` and the predictions decode an image file (defined
        only for a fit on image files; arrays of shape ``input_shape_`` are
        accepted too).
    n_features_out_ : int
        Dimension of the features ``transform`` returns.
    net_ : skorch.NeuralNet
        The fitted skorch net; ``net_.history`` holds per-epoch loss, lr,
        train accuracy and timing.
    best_epoch_ : int
        The epoch (from 1) whose weights were kept: the best validation
        balanced accuracy with ``early_stopping``, else the last one.

    Notes
    -----
    **Data-parallel training.** Inside a ``torch.distributed`` process group
    of several processes (a script launched by ``torchrun``, which calls
    ``torch.distributed.init_process_group()``), ``fit`` trains with
    :class:`~torch.nn.parallel.DistributedDataParallel`: every process holds
    the data, draws the same epoch order from the sampler (rank 0's seed)
    and trains on its shard of each global batch of ``batch_size``; the
    gradients are averaged over the processes at every step. Only rank 0
    logs and writes checkpoints. Every rank returns the same ordinary
    Backbone. Batch norm sees each rank's shard unless ``sync_batch_norm``
    (rank 0's running statistics are given to every rank before validation
    and at the end). Each rank weighs its mean loss by its share of the
    batch; for a class-weighted mean (DRW epochs) that averages the ranks'
    weighted means, close to but not exactly the global batch's. A last
    batch with fewer rows than processes (two per process with batch norm)
    is skipped. ``meta_epochs`` are refused there. See the user guide's
    "Beyond one machine" page.

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
        "module": [StrOptions(set(NETWORK_NAMES)), nn.Module, type],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "warmup_epochs": [StrOptions({"auto"}), Interval(numbers.Integral, 0, None, closed="left")],
        "lr_schedule": [StrOptions({"step", "cosine", "constant"})],
        "milestones": [StrOptions({"auto"}), tuple, list],
        "lr_decay": [Interval(numbers.Real, 0, 1, closed="right")],
        "sampler": SAMPLER_CONSTRAINT,
        "loss": [StrOptions(set(LOSS_NAMES))],
        "drw_epoch": [None, StrOptions({"auto"}),
                      Interval(numbers.Integral, 0, None, closed="left")],
        "augment": [StrOptions({"auto", "crop_flip", "crop", "imagenet", "none"}), None],
        "swa": ["boolean"],
        "swa_start": [StrOptions({"auto"}), Interval(numbers.Integral, 0, None, closed="left")],
        "swa_lr": [StrOptions({"auto"}), Interval(numbers.Real, 0, None, closed="neither")],
        "swa_snapshots_per_epoch": [Interval(numbers.Integral, 1, None, closed="left")],
        "swag": ["boolean"],
        "swag_rank": [Interval(numbers.Integral, 1, None, closed="left")],
        "swag_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "swag_scale": [Interval(numbers.Real, 0, None, closed="left")],
        "swag_bn_size": [None, Interval(numbers.Integral, 2, None, closed="left")],
        "meta_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "meta_dev_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "meta_beta": [Interval(numbers.Real, 0, 1, closed="left"), StrOptions({"n"})],
        "meta_eps_lr": [Interval(numbers.Real, 0, None, closed="left")],
        "checkpoint": [None, str, os.PathLike],
        "train_split": [None, Interval(numbers.Real, 0, 1, closed="neither")],
        "early_stopping": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "amp": ["boolean", StrOptions({"auto"})],
        "channels_last": ["boolean", StrOptions({"auto"})],
        "predict_batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "image_size": [StrOptions({"auto"}), Interval(numbers.Integral, 8, None, closed="left")],
        "num_workers": [StrOptions({"auto"}), Interval(numbers.Integral, 0, None, closed="left")],
        "sync_batch_norm": ["boolean"],
        "random_state": ["random_state"],
        "n_threads": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "verbose": ["verbose"],
    }

    def __init__(self, module="auto", *, max_epochs=200, batch_size=128, lr=0.1,
                 momentum=0.9, weight_decay=2e-4, warmup_epochs="auto", lr_schedule="step",
                 milestones="auto", lr_decay=0.01, sampler="instance", loss="ce",
                 drw_epoch=None, augment="auto", swa=False, swa_start="auto",
                 swa_lr="auto", swa_snapshots_per_epoch=1, swag=False, swag_rank=20,
                 swag_samples=10, swag_scale=0.5, swag_bn_size=None, meta_epochs=0,
                 meta_dev_size=10, meta_beta=0.9999, meta_eps_lr=0.01, checkpoint=None,
                 train_split=None, early_stopping=None, device="auto", amp="auto",
                 channels_last="auto", predict_batch_size=1024, image_size="auto",
                 num_workers="auto", sync_batch_norm=False, random_state=None, n_threads=None,
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
        self.swa_snapshots_per_epoch = swa_snapshots_per_epoch
        self.swag = swag
        self.swag_rank = swag_rank
        self.swag_samples = swag_samples
        self.swag_scale = swag_scale
        self.swag_bn_size = swag_bn_size
        self.meta_epochs = meta_epochs
        self.meta_dev_size = meta_dev_size
        self.meta_beta = meta_beta
        self.meta_eps_lr = meta_eps_lr
        self.checkpoint = checkpoint
        self.train_split = train_split
        self.early_stopping = early_stopping
        self.device = device
        self.amp = amp
        self.channels_last = channels_last
        self.predict_batch_size = predict_batch_size
        self.image_size = image_size
        self.num_workers = num_workers
        self.sync_batch_norm = sync_batch_norm
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose
        # Routed parameters are stored as given in one private dict (names are
        # checked in fit: sklearn validates nothing in __init__) and read
        # through __getattr__, so that they are parameters but not attributes
        # set in __init__.
        self._routed_params = dict(kwargs)

    @classmethod
    def from_recipe(cls, name, **params):
        """A Backbone with the settings of a named recipe, ``params`` overriding them.

        Parameters
        ----------
        name : {"cifar_lt", "imagenet_lt", "imagenet_lt_resnext50", "small"}
            ``"cifar_lt"``: Cao et al.'s 200-epoch ResNet-32 recipe (the
            defaults); ``"imagenet_lt"``: Kang et al.'s 90-epoch ResNet-10
            stage 1 (``"imagenet_lt_resnext50"``: with their ResNeXt-50);
            ``"small"``: a 3-block CNN, 60 epochs, cosine, weight
            decay 5e-4 and crop augmentation, measured here for small images
            on a CPU.
            :data:`sklearn_lt.backbone.RECIPES` holds each one's values and
            source.
        **params
            Any Backbone parameter, replacing the recipe's value (warm-up and
            milestones left at ``"auto"`` scale with an overridden
            ``max_epochs``).

        Returns
        -------
        backbone : Backbone
            An unfitted estimator; ``get_params`` shows every value.

        Examples
        --------
        >>> from sklearn_lt import Backbone
        >>> bb = Backbone.from_recipe("small", max_epochs=30, random_state=0)
        >>> bb.max_epochs, bb.lr_schedule, bb.weight_decay
        (30, 'cosine', 0.0005)
        """
        from ._recipes import recipe_params

        return cls(**{**recipe_params(name), **params})

    # -- skorch-style routed parameters -------------------------------------
    def __getattr__(self, name):
        routed = self.__dict__.get("_routed_params", {})
        if name in routed:
            return routed[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_params(self, deep=True):
        """Parameters of this estimator, the routed ``module__*`` ones included.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of contained estimators.

        Returns
        -------
        params : dict
            Parameter names mapped to their values; routed parameters
            (``module__*``, ``optimizer__*``, ``criterion__*``) appear as given.
        """
        params = super().get_params(deep=deep)
        params.update(self._routed_params)
        return params

    def set_params(self, **params):
        """Set parameters, routed ``module__*`` / ``optimizer__*`` / ``criterion__*`` ones included.

        Parameters
        ----------
        **params : dict
            Estimator parameters. Names with a routing prefix are stored as
            given and checked at ``fit``.

        Returns
        -------
        self : Backbone
            This estimator.
        """
        routed = {k: params.pop(k) for k in list(params) if k.startswith(_PREFIXES)}
        self._routed_params.update(routed)
        return super().set_params(**params)

    def _routed(self, prefix):
        n = len(prefix)
        return {k[n:]: v for k, v in self._routed_params.items() if k.startswith(prefix)}

    def _check_routed_params(self):
        unknown = [k for k in self._routed_params if not k.startswith(_PREFIXES)]
        if unknown:
            raise TypeError(
                f"Backbone got unexpected parameter(s) {unknown}; routed parameters must "
                f"start with one of {_PREFIXES}."
            )
        for key, param in _RESERVED.items():
            if key in self._routed_params:
                raise ValueError(
                    f"{key} is Backbone's own parameter {param!r}: the schedule, SWA and "
                    f"the docs read it from there. Set {param}=... instead."
                )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    @property
    def _n_features_out(self):
        # ClassNamePrefixFeaturesOutMixin names the output backbone0, backbone1, ...
        return self.n_features_out_

    # -- input handling -------------------------------------------------------
    def _check_X(self, X, *, reset, y=_NO_Y):
        """Validated X (uint8 or float32, images (N, C, H, W), or an array of
        image file paths), and y when given."""
        paths = as_paths(X)
        if paths is not None:
            return self._check_paths(paths, reset=reset, y=y)
        kwargs = dict(ensure_2d=False, allow_nd=True, dtype="numeric", reset=reset)
        if y is _NO_Y:
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
            raise ValueError(
                f"Backbone takes 2-D tabular or 3-/4-D image arrays, got {X.ndim}-D input.")
        X = _as_network_dtype(X)
        if X.ndim == 3:
            X = X[:, None]  # (N, H, W) grey images -> (N, 1, H, W)
        if X.ndim == 4 and X.shape[1] not in (1, 3) and X.shape[-1] in (1, 3):
            raise ValueError(
                f"Images must be channels-first (N, C, H, W); got shape {X.shape}, which "
                "looks channels-last. Use X.transpose(0, 3, 1, 2)."
            )
        tabular_fit = not reset and len(self.input_shape_) == 1
        if not reset and not (tabular_fit and X.ndim == 2) \
                and tuple(X.shape[1:]) != self.input_shape_:
            raise ValueError(_shape_mismatch(X.shape[1:], self.input_shape_))
        # validate_data only tracks n_features_in_ when ensure_2d is on, which
        # would refuse images; track it here on the flattened array instead
        # (for a 2-D X this is scikit-learn's own check and message).
        _check_n_features(self, X.reshape(len(X), -1), reset=reset)
        return X if y is _NO_Y else (X, y)

    def _check_paths(self, paths, *, reset, y=_NO_Y, name="X"):
        """Image file paths (an array of str) that all exist, and y when given."""
        if not reset and "image_transform_" not in self.__dict__:
            raise ValueError(
                f"{name} holds image file paths, but this Backbone was fitted on arrays of "
                f"samples of shape {self.input_shape_}. Decode the files as the training "
                "inputs were (e.g. with sklearn_lt.datasets.load_image_folder), or fit it "
                "on file paths.")
        check_paths_exist(paths, name)
        if reset:
            # As for scikit-learn's text vectorizers: strings have no feature count.
            for key in ("n_features_in_", "feature_names_in_"):
                self.__dict__.pop(key, None)
        if y is _NO_Y:
            return paths
        y = column_or_1d(y, warn=True)
        check_consistent_length(paths, y)
        return paths, y

    def _image_size(self, paths):
        """``image_size`` resolved: the first image's shorter side, at most 224."""
        if self.image_size != "auto":
            return int(self.image_size)
        with _import_pil_image().open(paths[0]) as im:  # reads the header, decodes nothing
            return max(8, min(224, *im.size))

    def _file_transforms(self, recipe):
        """The training and inference decoding of a fit on files."""
        size = recipe.image_size
        if recipe.augment == "imagenet":
            return (ImageTransform(size, "random_resized_crop"),
                    ImageTransform(size, "resize_center_crop"))
        return ImageTransform(size, "resize"), ImageTransform(size, "resize")

    # -- fitting ----------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, X_dev=None, y_dev=None):
        """Train the feature network and joint head (stage 1).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, [C,] H, W)
            Tabular features, or images as uint8 (scaled by 1/255) or floats.
        y : array-like of shape (n_samples,)
            Class labels; every class needs at least 2 samples.
        X_dev : array-like, default=None
            A held-out development set, same layout as ``X``, best balanced.
            It is the validation set (``valid_*`` columns of ``history_``,
            ``early_stopping``) unless ``train_split`` makes one, and with
            ``meta_epochs`` the meta-weighting's development set
            (``meta_dev_size`` per class is carved from ``X`` otherwise).
        y_dev : array-like of shape (n_dev,), default=None
            Its labels.

        Returns
        -------
        self : Backbone
            The fitted estimator.
        """
        self._check_routed_params()
        with input_attributes_restored_on_error(self), thread_limit(self.n_threads):
            return self._fit(X, y, X_dev, y_dev)

    def _fit(self, X, y, X_dev, y_dev):
        """The body of ``fit``; the fitted state is assigned only at its end."""
        X, y = self._check_X(X, reset=True, y=y)
        files = X.dtype.kind == "U"
        classes, y_enc, counts = check_long_tailed_targets(y)
        shape = (3,) + (self._image_size(X),) * 2 if files else X.shape[1:]
        recipe, shard = self._data_parallel(self._recipe(shape, files))
        transforms = self._file_transforms(recipe) if files else None
        dev = self._dev_set(X, y_enc, classes, X_dev, y_dev, transforms)
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        if shard is not None:  # data-parallel: every rank draws rank 0's seed
            seed = shared_seed(seed)
        devices = [recipe.device.index or 0] if recipe.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            criterion = make_loss(recipe.loss.name, counts, **self._routed("criterion__"))
            # Files: the input statistics of a sample of the images, decoded for inference.
            pixels = sample_pixels(X, transforms[1], seed) if files else X
            module = self._build_module(pixels, counts, recipe,
                                        recipe.loss.logit_scale(criterion))
            synced = None
            if shard is not None and self.sync_batch_norm:
                module, synced = to_sync_batch_norm(module, recipe.device)
            if shard is not None:
                # The same initialisation everywhere (DDP broadcasts rank 0's too), but
                # each rank its own augmentation and dropout draws from here on.
                torch.manual_seed(seed + 7919 * shard[0])
            train, valid = self._split(y_enc, seed, exclude=dev["rows"] if dev else None)
            Xt, yt = _training_data(X, y_enc, dev, recipe.device, transforms)
            valid_data = self._valid_data(Xt, yt, valid, dev, transforms)
            meta = (self._meta_callback(dev, y_enc[train], recipe, seed)
                    if self.meta_epochs else None)
            fingerprint = self._fingerprint(X, y_enc) if self.checkpoint is not None else None
            net = self._build_net(module, criterion, y_enc[train], counts, recipe, seed,
                                  valid_data, meta, fingerprint, shard)
            X_fit = Xt if len(train) == len(Xt) else _rows(Xt, train)
            try:
                net.fit(X_fit, yt if len(train) == len(yt) else yt[train])
            finally:
                for data in (X_fit, valid_data):
                    if isinstance(data, ImageFiles):
                        data.close()  # stops the loader's worker processes
            probe = (first_batch(X_fit.subset(slice(None), transforms[1]), self.batch_size)
                     if files else X_fit[:self.batch_size])
            if synced:
                from_sync_batch_norm(net.module_, synced)
            cb.raise_if_outputs_diverged(net, probe)
            swag = self._sample_networks(net, X_fit, recipe, seed) if self.swag else None
        # The validation data served its purpose; it is not pickled with the model.
        net.train_split = None
        # Only now, with training done, assign fitted state: a failed fit leaves
        # a previously fitted model intact.
        self._set_fitted(net, classes, counts, shape, recipe)
        self.__dict__.pop("image_transform_", None)
        if files:
            self.image_transform_ = transforms[1]
        stopper = dict(net.callbacks_).get("early_stopping")
        self.best_epoch_ = int(stopper.best_epoch_) if stopper else len(net.history)
        self._set_stochastic(swag, X)
        self._set_meta(meta, dev)
        return self

    def _data_parallel(self, recipe):
        """``(recipe, (rank, world size))`` inside a process group of several
        processes, checked, with "cuda" made this rank's GPU; else ``(recipe, None)``."""
        shard = process_group_shard()
        if shard is None:
            return recipe, None
        self._check_data_parallel(shard)
        if recipe.device.type == "cuda" and recipe.device.index is None:
            # One GPU per process: "cuda" means this rank's (torch.cuda.set_device).
            recipe = dataclasses.replace(
                recipe, device=torch.device("cuda", torch.cuda.current_device()))
        return recipe, shard

    def _check_data_parallel(self, shard):
        world = shard[1]
        if self.meta_epochs:
            raise ValueError("meta_epochs do not train data-parallel: their look-ahead step "
                             "is not synchronised across processes. Fit them in one process.")
        if self.batch_size < world:
            raise ValueError(f"batch_size={self.batch_size} is the global batch, shared by "
                             f"{world} processes: it must be at least {world}.")

    def _dev_set(self, X, y_enc, classes, X_dev, y_dev, transforms=None):
        """The development set: given (validation, and the meta epochs' if any), or
        carved from ``X`` for the meta epochs; None without either."""
        if (X_dev is None) != (y_dev is None):
            raise ValueError("Pass both X_dev and y_dev, or neither.")
        if self.meta_epochs > self.max_epochs:
            raise ValueError(f"meta_epochs={self.meta_epochs} exceeds max_epochs="
                             f"{self.max_epochs}.")
        if X_dev is None and self.meta_epochs == 0:
            return None
        if X_dev is None:
            rest, rows = balanced_holdout_indices(y_enc, self.meta_dev_size,
                                                  random_state=self.random_state,
                                                  min_remaining=2)
            return {"rows": rows, "X": X[rows], "y": y_enc[rows]}
        if transforms is not None:  # a fit on files: X_dev holds paths too
            dev_paths = as_paths(X_dev)
            if dev_paths is None:
                raise ValueError("X holds image file paths, so X_dev must hold paths too.")
            check_paths_exist(dev_paths, "X_dev")
            X_dev = dev_paths
        else:
            X_dev = _as_network_dtype(check_array(X_dev, ensure_2d=False, allow_nd=True,
                                                  dtype="numeric", input_name="X_dev"))
        if X_dev.ndim == 3 and X.ndim == 4:
            X_dev = X_dev[:, None]
        if X_dev.shape[1:] != X.shape[1:]:
            msg = _shape_mismatch(X_dev.shape[1:], X.shape[1:])
            raise ValueError(msg.replace("X ", "X_dev ", 1))
        y_dev = np.asarray(y_dev)
        unknown = np.setdiff1d(y_dev, classes)
        if unknown.size or y_dev.shape != (len(X_dev),):
            raise ValueError(f"y_dev must hold {len(X_dev)} labels among {classes.tolist()}; "
                             f"unknown: {unknown.tolist()}.")
        y_dev = np.searchsorted(classes, y_dev)
        dev = {"rows": None, "X": X_dev, "y": y_dev}
        if transforms is not None:
            dev["tensors"] = ImageFiles(X_dev, y_dev, transforms[1])
        return dev

    def _valid_data(self, Xt, yt, valid, dev, transforms=None):
        """The validation set: the ``train_split`` rows, else a given ``X_dev``."""
        given = dev is not None and dev["rows"] is None
        if valid is not None and given and self.meta_epochs == 0:
            raise ValueError("Both train_split and X_dev would be the validation set; "
                             "pass one of them.")
        if valid is not None:
            data = (Xt.subset(valid, transforms[1]) if transforms is not None
                    else Dataset(Xt[valid], yt[valid]))
        elif given:
            data = (dev["tensors"] if transforms is not None
                    else Dataset(*dev["tensors"]))
        else:
            data = None
        if self.early_stopping is not None and data is None:
            raise ValueError("early_stopping needs validation data: set train_split, or "
                             "pass a held-out X_dev, y_dev to fit.")
        return data

    def _meta_callback(self, dev, y_train, recipe, seed):
        counts = np.bincount(y_train, minlength=int(y_train.max()) + 1)
        per_sample = make_loss(recipe.loss.name, counts, reduction="none",
                               **self._routed("criterion__"))
        weights = meta_class_weights(counts, self.meta_beta)
        return cb.MetaWeightedEpochs(
            self.max_epochs - self.meta_epochs, weights, per_sample, dev["tensors"],
            self.batch_size, self.meta_eps_lr, seed + 3)

    def _set_meta(self, meta, dev):
        for key in ("meta_class_weights_", "meta_dev_indices_"):
            self.__dict__.pop(key, None)
        if meta is not None:
            self.meta_class_weights_ = np.asarray(meta.class_weights)
            self.meta_dev_indices_ = dev["rows"]

    def _resolve(self, value, default):
        return default if isinstance(value, str) and value == "auto" else value

    def _recipe(self, shape, files=False):
        """Resolve every "auto" setting and check the combination, for samples of
        ``shape`` (image files: ``(3, S, S)``)."""
        T = self.max_epochs
        spec = get_loss_spec(self.loss)
        drw_epoch = self.drw_epoch
        if spec.drw and drw_epoch is None:
            drw_epoch = "auto"
        drw_epoch = self._resolve(drw_epoch, int(0.8 * T))
        swa_start = (self._resolve(self.swa_start, int(0.75 * T)) if self.swa or self.swag
                     else None)
        if swa_start is not None and swa_start >= T:
            raise ValueError(f"swa_start={swa_start} must be below max_epochs={T}.")
        if swa_start is not None and self.early_stopping is not None:
            raise ValueError("early_stopping restores the best epoch, while swa/swag "
                             "average epochs; use one of them.")
        is_image = len(shape) == 3
        augment = self.augment or "none"
        if augment == "auto":
            augment = ("none" if not is_image else "imagenet" if files and shape[-1] > 64
                       else "crop_flip" if shape[0] == 3 else "crop")
        if augment != "none" and not is_image:
            raise ValueError(f"augment={self.augment!r} needs image input (N, C, H, W); got 2-D X.")
        if augment == "imagenet" and not files:
            raise ValueError("augment='imagenet' crops each decoded file: it needs X as image "
                             "file paths. For arrays, use 'crop_flip'.")
        if files and (self.swag or self.meta_epochs):
            raise ValueError("swag and meta_epochs need in-memory arrays, not image file "
                             "paths: decode the images (load_image_folder) first.")
        device = resolve_device(self.device)
        cuda = device.type == "cuda"
        milestones = tuple(self._resolve(self.milestones, (int(0.8 * T), int(0.9 * T))))
        warmup = self._resolve(self.warmup_epochs, max(1, round(0.025 * T)))
        _warn_if_schedule_misfits(T, warmup, self.lr_schedule, milestones)
        return _Recipe(
            loss=spec, epochs=T,
            drw_epoch=drw_epoch if drw_epoch is not None and drw_epoch < T else None,
            swa_start=swa_start, swa_lr=self._resolve(self.swa_lr, self.lr / 2),
            milestones=milestones, warmup=warmup, augment=augment,
            # 1/8 of the side: the CIFAR 4 pixels at 32 px, 1 pixel on 8x8 digits.
            padding=max(1, round(min(shape[-2:]) / 8)) if is_image else 0, device=device,
            amp=cuda if self.amp == "auto" else bool(self.amp),
            channels_last=is_image and (cuda if self.channels_last == "auto"
                                        else bool(self.channels_last)),
            image_size=shape[-1] if files else None,
            num_workers=self._num_workers(),
        )

    def _num_workers(self):
        if self.num_workers == "auto":
            return min(8, max(1, (os.cpu_count() or 2) - 1))
        return self.num_workers

    def _build_module(self, X, counts, recipe, logit_scale):
        """The network to train, on a copy of a user-given module."""
        spec = copy.deepcopy(self.module) if isinstance(self.module, nn.Module) else self.module
        features = make_network(spec, tuple(X.shape[1:]), **self._routed("module__"))
        if self.batch_size < 2 and _has_batch_norm(features):
            raise ValueError(
                f"batch_size={self.batch_size} cannot train {type(features).__name__}: batch "
                "norm needs at least 2 samples per batch. Use batch_size >= 2."
            )
        is_image = X.ndim == 4
        divisor = 255.0 if X.dtype == np.uint8 else 1.0
        axes = (0, 2, 3) if is_image else (0,)
        # Input statistics, per channel for images, per feature for tables.
        mean, std = _input_moments(X, axes)
        mean, std = mean / divisor, std / divisor
        std = np.where(std > 1e-8, std, 1.0)
        shape = (1, -1, 1, 1) if is_image else (1, -1)
        if recipe.augment == "imagenet":  # the crop and flip happened at decoding
            augment = ColorJitter(0.4, 0.4, 0.4)
        elif recipe.augment != "none":
            augment = CropFlip(padding=recipe.padding, flip=recipe.augment == "crop_flip")
        else:
            augment = None
        module = LTModule(
            features, len(counts), input_divisor=divisor, mean=mean.reshape(shape),
            std=std.reshape(shape), augment=augment, cosine_head=recipe.loss.head == "cosine",
            logit_scale=logit_scale,
        )
        if recipe.channels_last:
            module.to(memory_format=torch.channels_last)
        return module

    def _split(self, y_enc, seed, exclude=None):
        """Training and validation indices (stratified), or (all, None) without a split.

        Rows in ``exclude`` (a development set) are in neither.
        """
        rows = np.arange(y_enc.shape[0])
        if exclude is not None:
            rows = np.setdiff1d(rows, exclude)
        if self.train_split is None:
            return rows, None
        try:
            train, valid = train_test_split(rows, test_size=self.train_split,
                                            stratify=y_enc[rows], random_state=seed)
        except ValueError as exc:
            raise ValueError(f"train_split={self.train_split} cannot split these labels: {exc}") \
                from None
        lost = np.setdiff1d(np.unique(y_enc), y_enc[train])
        if lost.size:
            raise ValueError(
                f"train_split={self.train_split} leaves class index(es) {lost.tolist()} with no "
                "training sample; lower train_split."
            )
        return np.sort(train), np.sort(valid)

    def _fingerprint(self, X, y_enc):
        """Identifies a run for its checkpoint: parameters that shape training, and data."""
        ignored = {"checkpoint", "verbose", "device", "amp", "channels_last",
                   "predict_batch_size", "n_threads"}
        params = {k: v for k, v in self.get_params(deep=False).items() if k not in ignored}
        return joblib.hash((params, X, y_enc))

    def _callbacks(self, sampler, counts, recipe, meta=None, fingerprint=None, shard=None):
        main = shard is None or shard[0] == 0  # only rank 0 logs and writes checkpoints
        checkpoint = None
        if fingerprint is not None:
            checkpoint = cb.TrainingCheckpoint(self.checkpoint, fingerprint, sampler,
                                               owner=main)
        callbacks = [] if checkpoint is None else [("checkpoint", checkpoint)]
        if shard is not None:  # after the checkpoint restored the weights
            callbacks.append(("data_parallel", DataParallel(recipe.device)))
        callbacks += [
            ("lr", cb.lr_scheduler(self.lr, recipe.epochs, schedule=self.lr_schedule,
                                   warmup_epochs=recipe.warmup,
                                   milestones=recipe.milestones, decay=self.lr_decay,
                                   swa_start=recipe.swa_start, swa_lr=recipe.swa_lr)),
            ("sampler_epoch", cb.SamplerEpoch(sampler)),
            ("accuracy", cb.BatchAccuracy(len(counts))),
            ("throughput", cb.Throughput()),
            ("divergence", cb.DivergenceCheck()),
        ]
        if recipe.drw_epoch is not None:
            callbacks.append(("drw", cb.DeferredReweighting(
                recipe.drw_epoch, effective_number_weights(counts, 0.9999))))
        if recipe.swa_start is not None:
            averaging = cb.SWAGCollection if self.swag else cb.WeightAveraging
            extra = {"rank": self.swag_rank} if self.swag else {}
            callbacks.append(("swa", averaging(
                recipe.swa_start, self.batch_size, per_epoch=self.swa_snapshots_per_epoch,
                batches_per_epoch=-(-len(sampler) // self.batch_size), **extra)))
        if meta is not None:
            callbacks.append(("meta", meta))
        if checkpoint is not None and main:
            callbacks.append(("checkpoint_writer", cb.CheckpointWriter(checkpoint)))
        verbose = self.verbose if main else 0
        if verbose >= 2:
            # Before PrintLog: the epoch's bar is closed before its row prints.
            callbacks.append(("progress_bar", cb.BatchProgressBar(detect_notebook=False)))
        if verbose:
            callbacks.append(("print_log", PrintLog(
                keys_ignored=["train_batch_count", "valid_batch_count"])))
        if self.early_stopping is not None:
            # Last: its stop ends the epoch's callbacks, so the row is logged
            # and checkpointed first ("accuracy" recorded valid_bal_acc).
            callbacks.append(("early_stopping", cb.BestEpoch(self.early_stopping)))
        return callbacks

    def _build_net(self, module, criterion, y_train, counts, recipe, seed, valid_data, meta=None,
                   fingerprint=None, shard=None):
        gen = torch.Generator().manual_seed(seed)
        sampler = make_sampler(self.sampler, y_train, total_epochs=recipe.epochs, generator=gen)
        optimizer_kw = {"momentum": self.momentum, "weight_decay": self.weight_decay,
                        **self._routed("optimizer__")}
        iterator, loader_kw = BatchIterator, {}
        if recipe.image_size is not None:
            iterator = FileBatchIterator
            # Per rank under DDP: each rank's workers draw their own crops.
            rank = shard[0] if shard is not None else 0
            loader_kw = {"num_workers": recipe.num_workers, "seed": seed + 4 + 7919 * rank}
        loader_kw = {f"{p}__{k}": v for k, v in loader_kw.items()
                     for p in ("iterator_train", "iterator_valid")}
        return LTNet(
            module=module, criterion=criterion, optimizer=torch.optim.SGD, lr=self.lr,
            max_epochs=recipe.epochs, batch_size=self.batch_size,
            iterator_train=iterator, iterator_train__sampler=sampler,
            iterator_train__device=recipe.device, iterator_train__training=True,
            iterator_train__drop_single=_has_batch_norm(module), iterator_train__shard=shard,
            iterator_valid=iterator, iterator_valid__device=recipe.device, **loader_kw,
            train_split=None if valid_data is None else predefined_split(valid_data),
            callbacks=self._callbacks(sampler, counts, recipe, meta, fingerprint, shard),
            device=recipe.device, verbose=self.verbose if shard is None or shard[0] == 0 else 0,
            predict_nonlinearity=None,
            amp=recipe.amp, channels_last=recipe.channels_last,
            **{f"optimizer__{k}": v for k, v in optimizer_kw.items()},
        )

    def _sample_networks(self, net, X_fit, recipe, seed):
        """Draw the SWAG networks and recompute their batch-norm statistics."""
        posterior = dict(net.callbacks_)["swa"].posterior_
        sampled = SampledNetworks(posterior, self.swag_samples, self.swag_scale, seed + 1)
        return sampled.fit_bn(net.module_, X_fit, self.batch_size, device=recipe.device,
                              amp=recipe.amp, bn_size=self.swag_bn_size, seed=seed + 2,
                              progress=self.verbose >= 2)

    def _set_stochastic(self, sampled, X):
        """Store the posterior and register the training inputs' stochastic features."""
        # A refit forgets what the previous fit registered: its training features
        # (which fit_transform would otherwise return) and their registrations.
        for key in ("swag_", "_swag_networks", "swag_train_features_", "_swag_entry",
                    "_train_features", "_train_rows", "_joint_entry"):
            self.__dict__.pop(key, None)
        if sampled is None:
            return
        self.swag_ = sampled.posterior
        self._swag_networks = sampled
        Z = self.transform(X)
        self.swag_train_features_ = self.transform_stochastic(X)
        self._train_features = Z
        self._swag_entry = register(Z, self.swag_train_features_)

    def _set_fitted(self, net, classes, counts, input_shape, recipe):
        net.module_.eval()
        coef, intercept = net.module_.joint_head()
        self.classes_ = classes
        self.class_counts_ = counts
        self.input_shape_ = tuple(input_shape)
        self.n_features_out_ = int(coef.shape[1])
        self.coef_ = coef.cpu().numpy().astype(np.float64)
        self.intercept_ = intercept.cpu().numpy().astype(np.float64)
        self.loss_ = recipe.loss.name
        self.net_ = net

    # -- inference --------------------------------------------------------------
    def _forward_batches(self, X, fn, desc, out=None):
        """``fn`` over ``X`` in batches of ``predict_batch_size``, written into ``out``
        (float32, allocated after the first batch when None); ``desc`` names the
        progress bar shown at ``verbose >= 2``."""
        device = next(self.module_.parameters()).device
        amp = self.net_.amp and device.type == "cuda"
        self.module_.eval()
        bs = self.predict_batch_size
        starts = range(0, len(X), bs)
        files = None
        if X.dtype.kind == "U":  # image files, decoded by loader workers
            files = ImageFiles(X, None, self.image_transform_)
            # One batch is decoded faster here than worker processes start.
            workers = self._num_workers() if len(starts) > 1 else 0
            batches = (xb for xb, _ in files.loader(
                bs, num_workers=workers, pin_memory=device.type == "cuda"))
        else:
            batches = (torch.from_numpy(np.ascontiguousarray(X[i:i + bs])) for i in starts)
        progress = cb.batch_progress(starts, total=len(starts),
                                     desc=desc if self.verbose >= 2 else None)
        try:
            with torch.inference_mode(), thread_limit(getattr(self, "n_threads", None)):
                for i, xb in zip(progress, batches):
                    xb = xb.to(device, non_blocking=True)
                    if self.net_.channels_last and xb.ndim == 4:
                        xb = xb.contiguous(memory_format=torch.channels_last)
                    with torch.autocast(device_type=device.type, dtype=torch.bfloat16,
                                        enabled=amp):
                        rows = fn(xb).float().cpu().numpy()
                    if out is None:
                        # Filled in place, batch by batch: no list of batches to
                        # concatenate, so the peak is the result, not twice it.
                        out = np.empty((len(X), rows.shape[1]), dtype=np.float32)
                    out[i:i + len(rows)] = rows
        finally:
            if files is not None:
                files.close()  # stops the loader's worker processes
        return out

    def transform(self, X, out=None):
        """Penultimate features of the fitted network, as the joint head reads them.

        Parameters
        ----------
        X : array-like, same layout as in ``fit``
            Inputs; any dtype is scaled as the training inputs were.
        out : ndarray of shape (n_samples, n_features_out_), dtype float32, default=None
            Where to write the features, batch by batch, e.g. a memory-mapped
            ``.npy`` file (``np.lib.format.open_memmap(path, mode="w+",
            dtype=np.float32, shape=(n_samples, backbone.n_features_out_))``)
            for features larger than memory; every head accepts such a file
            opened with ``np.load(path, mmap_mode="r")``. None allocates them.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_features_out_), dtype float32
            The features (``out`` itself when given).
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        if out is not None:
            expected = (len(X), self.n_features_out_)
            if getattr(out, "shape", None) != expected or getattr(out, "dtype", None) != np.float32:
                raise ValueError(
                    f"out must be a float32 array of shape {expected} (n_samples, "
                    f"n_features_out_), got {getattr(out, 'dtype', type(out).__name__)} of "
                    f"shape {getattr(out, 'shape', None)}."
                )
        return self._forward_batches(X, self.module_.embed, "transform", out=out)

    def fit_transform(self, X, y=None, **fit_params):
        """Fit, then return the features of ``X`` (what ``Pipeline.fit`` calls).

        The rows returned are registered with a copy of the joint head
        (``coef_``, ``intercept_``), so that a head fitted on them with
        ``joint_head="auto"`` (:class:`~sklearn_lt.heads.TauNormClassifier`,
        :class:`~sklearn_lt.heads.LWSClassifier`,
        :class:`~sklearn_lt.heads.LogitAdjustedClassifier`, the next step of a
        Pipeline) adjusts this joint head, as the decoupling papers do.

        Parameters
        ----------
        X : array-like, same layout as in ``fit``
            Training inputs.
        y : array-like of shape (n_samples,)
            Class labels.
        **fit_params : dict
            Passed to ``fit``: ``X_dev``, ``y_dev`` (in a Pipeline,
            ``fit(X, y, feat__X_dev=..., feat__y_dev=...)``).

        Returns
        -------
        Z : ndarray of shape (n_samples, n_features_out_), dtype float32
            ``transform(X)``. With ``swag=True``, exactly the rows whose
            stochastic representations were registered at fit, whatever the
            device's determinism.
        """
        self.fit(X, y, **fit_params)
        if "_train_features" in self.__dict__:
            Z = self._train_features.copy()
        else:
            Z = self.transform(X)
        # A head after this step in a Pipeline (joint_head="auto") finds the
        # joint head from these rows; see _joint_registry.
        # The labels too: a head fitted on these rows with other labels is
        # another task, whose joint head this is not.
        self._train_rows = (row_hashes(Z), np.searchsorted(self.classes_, column_or_1d(y)))
        self._joint_entry = register_joint_head(*self._train_rows, self)
        return Z

    def transform_stochastic(self, X, n_samples=None, *, output="features"):
        """Stochastic representations: ``X`` through each network drawn from SWAG.

        Draw ``m`` has the weights ``theta_m`` of the ``m``-th sample of
        ``swag_`` and its own batch-norm statistics (recomputed at fit); the
        draws are the same on every call.

        Parameters
        ----------
        X : array-like, same layout as in ``fit``
            Inputs.
        n_samples : int, default=None
            The first ``n_samples`` draws; None: all ``swag_samples``.
        output : {"features", "proba"}, default="features"
            ``"features"``: ``F(x; theta_m)`` as ``transform`` gives them;
            ``"proba"``: the softmax of each draw's own joint head.

        Returns
        -------
        samples : ndarray of shape (n_samples, n_inputs, n_features_out_ or n_classes)
            float32.
        """
        if output not in ("features", "proba"):
            raise ValueError(f"output must be 'features' or 'proba', got {output!r}.")
        networks = self.swag_networks(n_samples)
        X = self._check_X(X, reset=False)
        out = []
        total = self.swag_samples if n_samples is None else n_samples
        for m, net in enumerate(networks, start=1):
            desc = f"transform_stochastic, draw {m}/{total}"
            if output == "features":
                Z = self._forward_batches(X, net.embed, desc)
                out.append(Z.astype(np.float32, copy=False))
            else:
                logits = torch.from_numpy(self._forward_batches(X, net.logits, desc))
                out.append(torch.softmax(logits.double(), dim=1).float().numpy())
        return np.stack(out)

    def swag_networks(self, n_samples=None):
        """The networks drawn from the SWAG posterior, one at a time.

        Parameters
        ----------
        n_samples : int, default=None
            The first ``n_samples`` draws; None: all ``swag_samples``.

        Yields
        ------
        module : torch.nn.Module
            A copy of ``module_`` in eval mode carrying draw ``m``'s weights and
            batch-norm statistics. The same object is reused from one draw to
            the next: copy it to keep one.
        """
        check_is_fitted(self)
        if "swag_" not in self.__dict__:
            raise ValueError("This Backbone was fitted with swag=False: it has no posterior to "
                             "draw networks from. Fit it with swag=True.")
        yield from self._swag_networks.networks(self.module_, n_samples)

    def __getstate__(self):
        # A copy: object.__getstate__ returns the live __dict__, and dropping the
        # entry from it would unregister this fitted backbone.
        state = dict(super().__getstate__())
        # The registrations are rebuilt on load.
        state.pop("_swag_entry", None)
        state.pop("_joint_entry", None)
        if "net_" in state:
            # skorch maps module_, optimizer_ and criterion_ to the CPU on a machine
            # without CUDA, but a fitted net holds other CUDA tensors: its module
            # parameter is the trained network itself, the lr scheduler holds the
            # optimizer, a loss its class weights. Saved through torch.save, every
            # one of them can be mapped in __setstate__.
            buf = io.BytesIO()
            torch.save(state["net_"], buf)
            state["net_"] = _SavedNet(buf.getvalue())
        return state

    def __setstate__(self, state):
        if isinstance(state.get("net_"), _SavedNet):
            # None keeps each tensor where it was saved when that device exists.
            where = None if torch.cuda.is_available() else "cpu"
            state["net_"] = torch.load(io.BytesIO(state["net_"].data), map_location=where,
                                       weights_only=False)
        super().__setstate__(state)
        if "swag_train_features_" in self.__dict__:
            self._swag_entry = register(self._train_features, self.swag_train_features_)
        if "_train_rows" in self.__dict__:
            self._joint_entry = register_joint_head(*self._train_rows, self)

    def _logits(self, X, desc):
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        return self._forward_batches(X, self.module_.logits, desc)

    def decision_function(self, X):
        """Logits of the jointly trained head.

        Parameters
        ----------
        X : array-like, same layout as in ``fit``
            Inputs.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes), or (n_samples,) for two classes
            For two classes, the logit of ``classes_[1]`` minus that of
            ``classes_[0]``, as scikit-learn's binary classifiers do.
        """
        logits = self._logits(X, "decision_function")
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def predict_proba(self, X):
        """Softmax of the joint head's logits.

        Parameters
        ----------
        X : array-like, same layout as in ``fit``
            Inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        logits = torch.from_numpy(self._logits(X, "predict_proba")).double()
        return torch.softmax(logits, dim=1).numpy()

    def predict(self, X):
        """Class labels from the jointly trained head.

        Parameters
        ----------
        X : array-like, same layout as in ``fit``
            Inputs.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels.
        """
        logits = self._logits(X, "predict")  # checks fitted before classes_ is read
        return self.classes_[logits.argmax(axis=1)]

    @property
    def module_(self):
        """The fitted torch network (the SWA average when ``swa=True``)."""
        return self.net_.module_

    @property
    def logit_scale_(self):
        """Factor from the head's output to the logits (LDAM's scale; 1 otherwise)."""
        check_is_fitted(self)
        return self.module_.logit_scale

    @property
    def history_(self):
        """Per-epoch training history (list of dicts) of the skorch net."""
        check_is_fitted(self)
        return self.net_.history


def _warn_if_schedule_misfits(epochs, warmup, schedule, milestones):
    """Warn when the learning-rate schedule does not fit ``epochs`` (ScheduleWarning)."""
    problems = []
    # A 1-epoch warm-up starts at the peak ((t + 1) / 1): nothing to misfit.
    if warmup >= 2 and warmup >= epochs:
        problems.append(f"training ends inside the {warmup}-epoch warm-up, so the lr reaches "
                        "its peak late or never")
    elif warmup >= 2 and warmup > epochs / 4:
        problems.append(f"the warm-up takes {warmup} of the {epochs} epochs")
    late = [m for m in milestones if m >= epochs] if schedule == "step" else []
    if late:
        problems.append(f"milestone(s) {late} lie at or past the last epoch and never apply")
    if problems:
        warnings.warn(
            f"The lr schedule does not fit max_epochs={epochs}: {'; '.join(problems)}. "
            "Leave warmup_epochs and milestones at 'auto', which scale with max_epochs, or "
            "start from a named recipe (Backbone.from_recipe).",
            ScheduleWarning, stacklevel=6)


def _input_moments(X, axes, rows=None):
    """Mean and standard deviation of ``X`` over ``axes`` (which include 0), in
    float64, as ``X.mean`` / ``X.std`` give them.

    ``X.std(dtype=np.float64)`` subtracts the mean from a float64 copy of the
    whole array: 8x uint8 images' size (1.2 GB for CIFAR's 153 MB). Here the
    squared deviations are summed ``rows`` samples at a time (default: blocks
    of about 32 MB in float64, whatever the sample's size).
    """
    if rows is None:
        rows = max(1, (1 << 22) // max(1, X[0].size if len(X) else 1))
    mean = X.mean(axis=axes, dtype=np.float64, keepdims=True)
    total = np.zeros_like(mean)
    for start in range(0, len(X), rows):
        dev = X[start:start + rows].astype(np.float64)
        dev -= mean
        np.square(dev, out=dev)
        total += dev.sum(axis=axes, keepdims=True)
    std = np.sqrt(total / (X.size // mean.size))
    return mean.reshape(-1), std.reshape(-1)


def _has_batch_norm(module):
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def _as_network_dtype(X):
    """uint8 stays (scaled inside the module); anything else becomes float32.

    Finite float64 values beyond float32's range would become infinities and
    poison training or predictions silently, so they are refused here.
    """
    if X.dtype == np.uint8:
        return X
    with np.errstate(over="ignore"):  # reported below, as a clear error
        X32 = X.astype(np.float32, copy=False)
    if not np.isfinite(X32).all():
        big = float(np.abs(X[np.isfinite(X)]).max())
        raise ValueError(
            f"X has values up to {big:.3g} in magnitude, beyond float32's range "
            f"({np.finfo(np.float32).max:.3g}), in which the network computes. Rescale X."
        )
    return X32


def _shape_mismatch(got, expected):
    got, expected = tuple(got), tuple(expected)
    msg = (f"X has samples of shape {got}, but Backbone was fitted on samples of shape "
           f"{expected}.")
    if len(expected) == 3 and int(np.prod(got)) == int(np.prod(expected)):
        msg += f" Reshape the input with X.reshape(-1, {', '.join(map(str, expected))})"
        if len(got) == 3 and got[-1] == expected[0]:
            msg += " (the images look channels-last: X.transpose(0, 3, 1, 2))"
        msg += "."
    return msg


def _training_data(X, y_enc, dev, device, transforms):
    """``(inputs, labels)`` to train on: tensors (on the GPU when they fit there) or
    image files; a development set's arrays move to the device once too."""
    if transforms is not None:
        return ImageFiles(X, y_enc, transforms[0]), torch.from_numpy(y_enc)
    if dev is not None:  # moved once, for validation and the meta epochs alike
        dev["tensors"] = _to_device(dev["X"], dev["y"], device)
    return _to_device(X, y_enc, device)


def _rows(X, rows):
    """The training rows of in-memory tensors or of image files."""
    return X.subset(rows) if isinstance(X, ImageFiles) else X[rows]


def _to_device(X, y_enc, device):
    Xt = torch.from_numpy(np.ascontiguousarray(X))
    yt = torch.from_numpy(y_enc)
    if device.type == "cuda" and Xt.numel() * Xt.element_size() < 2 * 1024**3:
        # Small enough to live on the GPU: no host->device copy per batch.
        Xt, yt = Xt.to(device), yt.to(device)
    return Xt, yt
