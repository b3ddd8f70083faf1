"""Losses for long-tailed classification.

Each loss is an ``nn.Module`` whose ``forward(logits, target)`` returns the
scalar mean loss over the batch. Class counts are a 1-D array aligned with the
class indices ``0..C-1``; whatever is derived from them (weights, margins,
log-priors) is a registered buffer, so ``.to(device)`` moves it with the loss.

References
----------
T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollar. "Focal loss for dense object
detection", ICCV 2017.
Y. Cui, M. Jia, T.-Y. Lin, Y. Song, S. Belongie. "Class-balanced loss based on
effective number of samples", CVPR 2019.
K. Cao, C. Wei, A. Gaidon, N. Arechiga, T. Ma. "Learning imbalanced datasets
with label-distribution-aware margin loss", NeurIPS 2019 (LDAM, DRW).
J. Ren, C. Yu, S. Sheng, R. Ma, H. Zhao, S. Yi, H. Li. "Balanced meta-softmax
for long-tailed visual recognition", NeurIPS 2020.
A. K. Menon, S. Jayasumana, A. S. Rawat, H. Jain, A. Veit, S. Kumar.
"Long-tail learning via logit adjustment", ICLR 2021.
"""

import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..utils._docstring import Substitution

__all__ = [
    "LOSSES",
    "LOSS_NAMES",
    "BalancedSoftmaxLoss",
    "ClassBalancedLoss",
    "FocalLoss",
    "LDAMLoss",
    "LogitAdjustedLoss",
    "LossSpec",
    "distillation_kl",
    "drw_weights",
    "effective_number_weights",
    "get_loss_spec",
    "make_loss",
]


def _as_counts(class_counts):
    if isinstance(class_counts, torch.Tensor):
        class_counts = class_counts.detach().cpu().numpy()
    counts = np.asarray(class_counts, dtype=np.float64)
    if counts.ndim != 1 or counts.shape[0] < 1:
        raise ValueError(
            f"class_counts must be a non-empty 1-D array, got shape {counts.shape}."
        )
    if not np.all(np.isfinite(counts)) or np.any(counts <= 0):
        raise ValueError(
            "class_counts must be finite and positive (every class needs at least one "
            f"training sample), got {class_counts!r}."
        )
    return counts


def _as_weight(weight, n_classes=None):
    """A 1-D float tensor of per-class weights, or None."""
    if weight is None:
        return None
    w = torch.as_tensor(
        weight.detach().cpu().numpy() if isinstance(weight, torch.Tensor) else weight,
        dtype=torch.float32,
    )
    if w.ndim != 1 or (n_classes is not None and w.shape[0] != n_classes):
        expected = f"({n_classes},)" if n_classes is not None else "(n_classes,)"
        raise ValueError(f"weight must have shape {expected}, got {tuple(w.shape)}.")
    if not torch.all(torch.isfinite(w)) or torch.any(w < 0):
        raise ValueError("weight must be finite and non-negative.")
    return w


def _check_logits(logits, target, n_classes):
    if logits.ndim != 2:
        raise ValueError(
            f"logits must have shape (n_samples, n_classes), got {tuple(logits.shape)}."
        )
    if target.ndim != 1 or target.shape[0] != logits.shape[0]:
        raise ValueError(
            f"target must have shape ({logits.shape[0]},) to match logits, got "
            f"{tuple(target.shape)}."
        )
    if n_classes is not None and logits.shape[1] != n_classes:
        raise ValueError(
            f"logits have {logits.shape[1]} columns but the loss was built for "
            f"{n_classes} classes."
        )


def _check_real(value, name, low, high=None):
    """A float in ``[low, high)`` (``[low, inf)`` without ``high``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}.")
    value = float(value)
    if not (np.isfinite(value) and value >= low and (high is None or value < high)):
        interval = f"[{low}, {high})" if high is not None else f"[{low}, inf)"
        raise ValueError(f"{name} must be in {interval}, got {value!r}.")
    return value


def _focal_factor(logp_y, gamma):
    """``(1 - p_y) ** gamma``, computed stably from ``log p_y``."""
    if gamma == 0:
        return torch.ones_like(logp_y)
    # -expm1(log p) is 1 - p without cancellation; the clamp keeps the gradient of
    # x ** gamma (gamma < 1) finite where a sample is classified with p_y == 1.
    one_minus_p = (-torch.expm1(logp_y)).clamp_min(torch.finfo(logp_y.dtype).tiny)
    return one_minus_p.pow(gamma)


def _weighted_focal_mean(logits, target, gamma, weight, reduction="mean"):
    """``sum_i w_{y_i} (1 - p_{y_i})^gamma CE_i / N`` (Cui et al.'s normalisation).

    ``reduction="none"`` returns the per-sample terms instead of their mean.
    """
    logp_y = F.log_softmax(logits, dim=1).gather(1, target[:, None]).squeeze(1)
    loss = -logp_y * _focal_factor(logp_y, gamma)
    if weight is not None:
        loss = loss * weight.to(loss.dtype)[target]
    return loss.mean() if reduction == "mean" else loss


REDUCTION_DOC = """\
reduction : {"mean", "none"}, default="mean"
    ``"none"`` returns the loss of each sample (shape ``(n_samples,)``),
    as per-example re-weighting needs (:class:`MetaReweighting`).
"""


def _check_reduction(reduction):
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}.")
    return reduction


def effective_number_weights(class_counts, beta=0.9999):
    """Class-balanced weights from the effective number of samples (Cui et al., 2019).

    ``w_j = (1 - beta) / (1 - beta ** n_j)``, i.e. the inverse of the effective
    number ``E_{n_j} = (1 - beta ** n_j) / (1 - beta)``, normalised so that
    ``sum_j w_j = C`` (the number of classes). ``beta = 0`` gives equal weights,
    ``beta -> 1`` inverse class frequency.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training samples per class.
    beta : float, default=0.9999
        Hyper-parameter in ``[0, 1)``.

    Returns
    -------
    weights : ndarray of shape (n_classes,)
        Per-class weights summing to ``n_classes``.

    Examples
    --------
    >>> from sklearn_lt.nn import effective_number_weights
    >>> effective_number_weights([100, 10, 1], beta=0.0)
    array([1., 1., 1.])
    >>> effective_number_weights([100, 10, 1], beta=0.9).round(3)
    array([0.239, 0.367, 2.393])
    """
    counts = _as_counts(class_counts)
    beta = _check_real(beta, "beta", 0.0, 1.0)
    if beta == 0.0:
        w = np.ones_like(counts)
    else:
        # 1 - beta**n via expm1/log1p stays accurate for beta close to 1
        # (beta - 1 is exact in floating point there).
        effective = -np.expm1(counts * np.log1p(beta - 1.0)) / (1.0 - beta)
        w = 1.0 / effective
    return w * (counts.shape[0] / w.sum())


def drw_weights(class_counts, epoch, drw_epoch, beta=0.9999):
    """Per-class weights of the Deferred Re-Weighting schedule (Cao et al., 2019).

    No re-weighting before ``drw_epoch``, effective-number weights
    (:func:`effective_number_weights`) from then on. Epochs count from 0, so
    Cao et al.'s CIFAR recipe (200 epochs, re-weighting in the last 40) is
    ``drw_epoch=160``.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training samples per class.
    epoch : int
        Current epoch, counted from 0.
    drw_epoch : int
        First epoch that is re-weighted.
    beta : float, default=0.9999
        Effective-number hyper-parameter.

    Returns
    -------
    weights : ndarray of shape (n_classes,) or None
        ``None`` (unweighted) while ``epoch < drw_epoch``.

    Examples
    --------
    >>> from sklearn_lt.nn import drw_weights
    >>> drw_weights([100, 10], epoch=3, drw_epoch=160) is None
    True
    >>> drw_weights([100, 10], epoch=160, drw_epoch=160, beta=0.9).round(3)
    array([0.789, 1.211])
    """
    for name, value in (("epoch", epoch), ("drw_epoch", drw_epoch)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}.")
    if epoch < drw_epoch:
        _as_counts(class_counts)  # still report bad counts early
        return None
    return effective_number_weights(class_counts, beta)


@Substitution(reduction=REDUCTION_DOC)
class FocalLoss(nn.Module):
    """Softmax focal loss ``(1 - p_y) ** gamma * CE`` (Lin et al., 2017).

    The multi-class (softmax) form used for the focal-loss baselines of Cao et
    al. (2019); ``gamma = 0`` is cross-entropy. With per-class ``weight`` the
    loss of sample ``i`` is ``w_{y_i} (1 - p_{y_i}) ** gamma CE_i`` and the batch
    loss is ``sum_i (...) / N`` -- the normalisation of Cui et al. (2019), not
    the ``/ sum_i w_{y_i}`` of ``torch.nn.CrossEntropyLoss(weight=...)``. The
    modulating factor uses the unweighted probability ``p_y``.

    Parameters
    ----------
    gamma : float, default=1.0
        Focusing parameter, ``>= 0``.
    weight : array-like of shape (n_classes,), default=None
        Optional per-class weights.
    {reduction}

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.nn import FocalLoss
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    >>> loss = FocalLoss(gamma=2.0)(logits, torch.tensor([0, 0]))
    >>> round(loss.item(), 4)
    0.3518
    """

    def __init__(self, gamma=1.0, weight=None, reduction="mean"):
        super().__init__()
        self.gamma = _check_real(gamma, "gamma", 0.0)
        self.reduction = _check_reduction(reduction)
        self.register_buffer("weight", _as_weight(weight))

    def forward(self, logits, target):
        n = None if self.weight is None else self.weight.shape[0]
        _check_logits(logits, target, n)
        return _weighted_focal_mean(logits, target, self.gamma, self.weight, self.reduction)

    def extra_repr(self):
        return f"gamma={self.gamma}"


@Substitution(reduction=REDUCTION_DOC)
class ClassBalancedLoss(nn.Module):
    """Class-balanced loss of Cui et al. (2019): effective-number weights on CE or focal.

    The loss of sample ``i`` is ``w_{y_i} * L_i`` with
    ``w = effective_number_weights(class_counts, beta)`` (summing to ``C``) and
    ``L`` softmax cross-entropy or the softmax focal loss; the batch loss is
    ``sum_i w_{y_i} L_i / N``, as in Cui et al.'s formulation.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training samples per class.
    beta : float, default=0.9999
        Effective-number hyper-parameter in ``[0, 1)``.
    loss_type : {"ce", "focal"}, default="ce"
        Base loss.
    gamma : float, default=1.0
        Focusing parameter of the focal loss (ignored for ``"ce"``).
    {reduction}

    Attributes
    ----------
    weight : Tensor of shape (n_classes,)
        The per-class weights (a buffer).

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.nn import ClassBalancedLoss
    >>> loss_fn = ClassBalancedLoss([90, 10], beta=0.99)
    >>> loss_fn.weight
    tensor([0.2768, 1.7232])
    """

    def __init__(self, class_counts, beta=0.9999, loss_type="ce", gamma=1.0, reduction="mean"):
        super().__init__()
        self.reduction = _check_reduction(reduction)
        if loss_type not in ("ce", "focal"):
            raise ValueError(f"loss_type must be 'ce' or 'focal', got {loss_type!r}.")
        self.beta = _check_real(beta, "beta", 0.0, 1.0)
        self.loss_type = loss_type
        self.gamma = _check_real(gamma, "gamma", 0.0)
        w = effective_number_weights(class_counts, self.beta)
        self.register_buffer("weight", torch.as_tensor(w, dtype=torch.float32))

    def forward(self, logits, target):
        _check_logits(logits, target, self.weight.shape[0])
        gamma = self.gamma if self.loss_type == "focal" else 0.0
        return _weighted_focal_mean(logits, target, gamma, self.weight, self.reduction)

    def extra_repr(self):
        return f"beta={self.beta}, loss_type={self.loss_type!r}, gamma={self.gamma}"


@Substitution(reduction=REDUCTION_DOC)
class LDAMLoss(nn.Module):
    """Label-distribution-aware margin loss (Cao et al., 2019).

    Class ``j`` gets the margin ``Delta_j = c / n_j ** (1/4)`` with ``c`` chosen
    so that the largest margin (that of the rarest class) is ``max_margin``. The
    margin is subtracted from the target logit only, the logits are multiplied
    by ``scale``, and the result goes through (optionally class-weighted)
    cross-entropy::

        loss_i = CE(scale * (z_i - Delta_{y_i} e_{y_i}), y_i; weight)

    As in Cao et al.'s code the logits are meant to be cosines from a
    :class:`NormedLinear` head, hence the scale ``s = 30``; use ``scale=1`` with
    a plain linear head. With weights the batch loss is
    ``sum_i w_{y_i} loss_i / sum_i w_{y_i}`` (``torch.nn.functional.cross_entropy``,
    as in Cao et al.'s code). For Deferred Re-Weighting (LDAM-DRW) call
    :meth:`set_weight` with :func:`drw_weights` at each epoch.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training samples per class.
    max_margin : float, default=0.5
        Margin of the rarest class (``C`` in the paper is tuned through it).
    scale : float, default=30.0
        Multiplier of the logits.
    weight : array-like of shape (n_classes,), default=None
        Optional per-class weights.
    {reduction}

    Attributes
    ----------
    margins : Tensor of shape (n_classes,)
        ``Delta_j`` (a buffer).

    Examples
    --------
    >>> from sklearn_lt.nn import LDAMLoss
    >>> LDAMLoss([10000, 100, 1]).margins
    tensor([0.0500, 0.1581, 0.5000])
    """

    def __init__(self, class_counts, max_margin=0.5, scale=30.0, weight=None, reduction="mean"):
        super().__init__()
        self.reduction = _check_reduction(reduction)
        counts = _as_counts(class_counts)
        self.max_margin = _check_real(max_margin, "max_margin", 0.0)
        self.scale = _check_real(scale, "scale", 0.0)
        if self.scale == 0.0:
            raise ValueError("scale must be positive.")
        m = counts ** -0.25
        m = m * (self.max_margin / m.max())
        self.register_buffer("margins", torch.as_tensor(m, dtype=torch.float32))
        self.register_buffer("weight", _as_weight(weight, counts.shape[0]))

    def set_weight(self, weight):
        """Replace the per-class weights (``None`` for unweighted), e.g. for DRW.

        The new weights go to the device of the loss.
        """
        w = _as_weight(weight, self.margins.shape[0])
        self.weight = None if w is None else w.to(self.margins.device)
        return self

    def forward(self, logits, target):
        _check_logits(logits, target, self.margins.shape[0])
        margins = self.margins.to(logits.dtype)
        # Only the target logit is pushed down, by its own class margin.
        onehot = F.one_hot(target, logits.shape[1]).to(logits.dtype)
        adjusted = logits - onehot * margins[target][:, None]
        weight = None if self.weight is None else self.weight.to(logits.dtype)
        # reduction="none" gives w_{y_i} loss_i (no division by the weights).
        return F.cross_entropy(self.scale * adjusted, target, weight=weight,
                               reduction=self.reduction)

    def extra_repr(self):
        return f"max_margin={self.max_margin}, scale={self.scale}"


@Substitution(reduction=REDUCTION_DOC)
class LogitAdjustedLoss(nn.Module):
    """Logit-adjusted softmax cross-entropy (Menon et al., 2021).

    ``loss_i = CE(z_i + tau * log(pi), y_i)`` with the class priors
    ``pi_j = n_j / sum_k n_k`` estimated from the training counts. Predict with
    the plain logits ``z``: the adjustment only acts during training. ``tau = 1``
    is the balanced softmax of Ren et al. (2020), see
    :class:`BalancedSoftmaxLoss`.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training samples per class.
    tau : float, default=1.0
        Temperature of the adjustment, ``>= 0`` (0 is plain cross-entropy).
    {reduction}

    Attributes
    ----------
    log_prior : Tensor of shape (n_classes,)
        ``log(pi_j)`` (a buffer).

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.nn import LogitAdjustedLoss
    >>> loss_fn = LogitAdjustedLoss([3, 1])
    >>> round(loss_fn(torch.zeros(1, 2), torch.tensor([1])).item(), 4)  # -log(1/4)
    1.3863
    """

    def __init__(self, class_counts, tau=1.0, reduction="mean"):
        super().__init__()
        self.reduction = _check_reduction(reduction)
        counts = _as_counts(class_counts)
        self.tau = _check_real(tau, "tau", 0.0)
        log_prior = np.log(counts) - np.log(counts.sum())
        self.register_buffer("log_prior", torch.as_tensor(log_prior, dtype=torch.float32))

    def forward(self, logits, target):
        _check_logits(logits, target, self.log_prior.shape[0])
        return F.cross_entropy(logits + self.tau * self.log_prior.to(logits.dtype), target,
                               reduction=self.reduction)

    def extra_repr(self):
        return f"tau={self.tau}"


@Substitution(reduction=REDUCTION_DOC)
class BalancedSoftmaxLoss(LogitAdjustedLoss):
    """Balanced softmax (Ren et al., 2020): the logit-adjusted loss with ``tau = 1``.

    Ren et al. write the softmax as ``n_j exp(z_j) / sum_k n_k exp(z_k)``,
    i.e. cross-entropy on ``z + log n``, which equals ``z + log(pi)`` up to a
    constant shift that the softmax ignores.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training samples per class.
    {reduction}

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.nn import BalancedSoftmaxLoss
    >>> loss_fn = BalancedSoftmaxLoss([3, 1])
    >>> round(loss_fn(torch.zeros(1, 2), torch.tensor([0])).item(), 4)  # -log(3/4)
    0.2877
    """

    def __init__(self, class_counts, reduction="mean"):
        super().__init__(class_counts, tau=1.0, reduction=reduction)


def distillation_kl(teacher_logits, student_logits, temperature):
    """``T^2 * KL(mean_m softmax(t_m / T) || softmax(s / T))``, averaged over the batch.

    The teacher is detached: gradients reach only the student, and the ``T^2``
    factor keeps the gradient scale independent of ``T`` (Hinton et al., 2015).

    Parameters
    ----------
    teacher_logits : torch.Tensor of shape (n, M, n_classes)
        Logits of the ``M`` stochastic views.
    student_logits : torch.Tensor of shape (n, n_classes)
        Logits of the student view.
    temperature : float
        ``T > 0``.

    Returns
    -------
    loss : torch.Tensor
        A scalar.

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.nn import distillation_kl
    >>> s = torch.tensor([[2.0, 0.0]])
    >>> round(float(distillation_kl(s[:, None].repeat(1, 3, 1), s, 1.0)), 6)  # teacher = student
    0.0
    """
    with torch.no_grad():
        teacher = F.softmax(teacher_logits / temperature, dim=-1).mean(dim=1)
    log_student = F.log_softmax(student_logits / temperature, dim=-1)
    kl = F.kl_div(log_student, teacher, reduction="batchmean")
    return kl * temperature**2


def _ce_loss(class_counts=None, **params):
    return nn.CrossEntropyLoss(**params)


def _focal_loss(class_counts=None, **params):
    return FocalLoss(**params)


@dataclass(frozen=True)
class LossSpec:
    """What the library knows about a named loss, in one place.

    The parameters are also the (read-only) attributes.

    Parameters
    ----------
    name : str
        Canonical name.
    factory : callable
        ``factory(class_counts, **params) -> nn.Module``.
    needs_counts : bool
        Whether the loss is built from the training class counts.
    head : {"linear", "cosine"}
        The classifier the loss trains: LDAM expects cosine logits from a
        :class:`~sklearn_lt.nn.NormedLinear` head (Cao et al.).
    drw : bool
        Whether deferred re-weighting is on by default ("ldam_drw").
    prior_adjusted : bool
        Whether training already adds the log-prior to the logits (logit
        adjustment, balanced softmax), so that the trained head estimates
        ``p(y | x)`` under a balanced prior and must not be adjusted again.
    aliases : tuple of str
        Other accepted names.
    """

    name: str
    factory: Callable
    needs_counts: bool = True
    head: str = "linear"
    drw: bool = False
    prior_adjusted: bool = False
    aliases: tuple = ()

    def logit_scale(self, criterion):
        """Factor between the head's output and the logits the loss trains.

        A cosine head outputs cosines in [-1, 1]; the loss multiplies them by
        its ``scale`` (30 for LDAM), so predictions must too.
        """
        return float(getattr(criterion, "scale", 1.0)) if self.head == "cosine" else 1.0


LOSSES = {spec.name: spec for spec in (
    LossSpec("ce", _ce_loss, needs_counts=False),
    LossSpec("focal", _focal_loss, needs_counts=False),
    LossSpec("cb", ClassBalancedLoss, aliases=("class_balanced",)),
    LossSpec("ldam", LDAMLoss, head="cosine"),
    LossSpec("ldam_drw", LDAMLoss, head="cosine", drw=True),
    LossSpec("logit_adjusted", LogitAdjustedLoss, prior_adjusted=True, aliases=("la",)),
    LossSpec("balanced_softmax", BalancedSoftmaxLoss, prior_adjusted=True),
)}
_ALIASES = {alias: spec.name for spec in LOSSES.values() for alias in spec.aliases}
LOSS_NAMES = (*LOSSES, *_ALIASES)


def get_loss_spec(name):
    """The :class:`LossSpec` of a loss name or alias (case-insensitive).

    Parameters
    ----------
    name : str
        One of ``LOSS_NAMES``.

    Returns
    -------
    spec : LossSpec

    Examples
    --------
    >>> from sklearn_lt.nn import get_loss_spec
    >>> spec = get_loss_spec("ldam_drw")
    >>> spec.name, spec.head, spec.drw
    ('ldam_drw', 'cosine', True)
    >>> get_loss_spec("la").prior_adjusted
    True
    """
    key = name.lower() if isinstance(name, str) else None
    key = _ALIASES.get(key, key)
    if key not in LOSSES:
        choices = ", ".join(repr(k) for k in LOSS_NAMES)
        raise ValueError(f"Unknown loss {name!r}; choose one of {choices}, or pass an nn.Module.")
    return LOSSES[key]


def make_loss(name, class_counts=None, **params):
    """Build a loss module by name.

    Parameters
    ----------
    name : {"ce", "focal", "cb", "class_balanced", "ldam", "ldam_drw", \
            "logit_adjusted", "la", "balanced_softmax"} or nn.Module
        ``"ce"`` is ``torch.nn.CrossEntropyLoss``; ``"cb"``/``"class_balanced"``
        is :class:`ClassBalancedLoss` (choose ``loss_type="ce"`` or ``"focal"``),
        ``"la"`` is :class:`LogitAdjustedLoss`, ``"ldam_drw"`` is
        :class:`LDAMLoss` (the re-weighting schedule is the trainer's job).
        A module is returned unchanged.
    class_counts : array-like of shape (n_classes,), default=None
        Training samples per class; required by every loss but ``"ce"`` and
        ``"focal"``.
    **params
        Constructor arguments of the loss.

    Returns
    -------
    loss : nn.Module
        The loss module.

    Examples
    --------
    >>> from sklearn_lt.nn import make_loss
    >>> make_loss("la", [50, 5], tau=1.5)
    LogitAdjustedLoss(tau=1.5)
    """
    if isinstance(name, nn.Module):
        if params:
            raise TypeError(f"Extra arguments {sorted(params)} cannot be applied to a built loss.")
        return name
    spec = get_loss_spec(name)
    if not spec.needs_counts:
        return spec.factory(**params)
    if class_counts is None:
        raise ValueError(f"Loss {name!r} needs the training class counts (class_counts).")
    return spec.factory(class_counts, **params)
