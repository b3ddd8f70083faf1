"""Learnable weight scaling, LWS (Kang et al., 2020)."""

import numpy as np
import torch

from ..utils import resolve_device
from ..utils._docstring import Substitution
from ._base import BaseHead, LinearHeadMixin
from ._joint import JOINT_HEAD_CONSTRAINTS, JOINT_HEAD_PARAMS_DOC, JointHeadMixin
from ._sgd import SGD_CONSTRAINTS, SGD_PARAMS_DOC, SGDHeadMixin
from ._swag_repr import STOCHASTIC_PARAM_DOC, with_stochastic_rows


class _ScaledLinear(torch.nn.Module):
    """Frozen linear head times a learnable per-class scale: f_j (x . w_j + b_j)."""

    def __init__(self, coef, intercept):
        super().__init__()
        # Buffers, not parameters: the optimiser never sees the joint head.
        self.register_buffer("weight", torch.as_tensor(coef, dtype=torch.float32))
        self.register_buffer("bias", torch.as_tensor(intercept, dtype=torch.float32))
        self.scales = torch.nn.Parameter(torch.ones(coef.shape[0]))

    def forward(self, x):
        return torch.addmm(self.bias, x, self.weight.T) * self.scales


class _Scales(torch.nn.Module):
    """The same model on the frozen head's logits ``x . w_j + b_j``, computed once."""

    def __init__(self, n_classes):
        super().__init__()
        self.scales = torch.nn.Parameter(torch.ones(n_classes))

    def forward(self, logits):
        return logits * self.scales


def _frozen_logits(X, coef, intercept, device, block=8192):
    """``X @ coef.T + intercept`` in float32, computed on ``device`` a block at a time."""
    W = torch.as_tensor(coef, dtype=torch.float32, device=device)
    b = torch.as_tensor(intercept, dtype=torch.float32, device=device)
    out = np.empty((X.shape[0], W.shape[0]), dtype=np.float32)
    for start in range(0, X.shape[0], block):
        xb = torch.as_tensor(np.asarray(X[start:start + block], dtype=np.float32), device=device)
        out[start:start + block] = torch.addmm(b, xb, W.T).cpu().numpy()
    return out


@Substitution(joint_head_params=JOINT_HEAD_PARAMS_DOC, sgd_params=SGD_PARAMS_DOC,
              stochastic_param=STOCHASTIC_PARAM_DOC)
class LWSClassifier(SGDHeadMixin, JointHeadMixin, LinearHeadMixin, BaseHead):
    """Learnable weight scaling (LWS) of a jointly trained linear head.

    Kang et al. (ICLR 2020) write tau-normalisation as a per-class scale
    ``f_j = 1 / ||w_j||^tau`` and instead learn the scales: the joint head
    ``(W, b)`` and the features stay frozen and only ``f`` (initialised to 1)
    is trained with class-balanced sampling::

        logits_j(x) = f_j * (x . w_j + b_j)

    The scale multiplies the bias too, as in the official implementation. The
    defaults follow its ImageNet-LT config: 5 epochs, SGD lr 0.2, momentum
    0.9, weight decay 5e-4, batch 512, cosine schedule, class-aware sampler,
    run by :func:`sklearn_lt.nn.train_module`. With ``sampler="class"`` an
    epoch is ``n_classes * max_j n_j`` draws, the official class-aware
    sampler's epoch (``n_samples`` with the other samplers); on small data
    lower ``batch_size`` or raise ``epochs`` to take enough steps.

    The scales learn from the mistakes the joint head makes on the data they
    are fitted on. On the backbone's own training features, which a network
    that has fitted its training set nearly separates, there are few, and the
    scales stay close to 1. With ``joint_head`` given, LWS can instead be
    fitted on held-out features (a balanced development set of 20 images per
    class is enough for its one parameter per class): on Fashion-MNIST-LT
    IF=200 that raised few-shot accuracy by about 8 points
    (``benchmarks/bench_lws.py``). ``class_counts_`` are then those of the
    held-out set.

    Parameters
    ----------
    {joint_head_params}
    epochs : int, default=5
        Stage-2 epochs.
    {sgd_params}
    {stochastic_param}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    class_counts_ : ndarray of shape (n_classes,)
        Training samples per class.
    scales_ : ndarray of shape (n_classes,)
        Learned scales ``f_j``.
    joint_coef_ : ndarray of shape (n_classes, n_features_in_)
        Weights of the frozen joint head (a copy).
    joint_intercept_ : ndarray of shape (n_classes,)
        Bias of the frozen joint head (a copy).
    joint_head_source_ : {"backbone", "given", "fitted"}
        Where the joint head came from: the Backbone whose training features
        ``X`` are (``joint_head="auto"``), the ``joint_head`` parameter, or
        fitted on ``X``.
    coef_ : ndarray of shape (n_classes, n_features_in_)
        ``scales_[:, None] * joint_coef_``.
    intercept_ : ndarray of shape (n_classes,)
        ``scales_ * joint_intercept_``.
    loss_curve_ : list of float
        Mean training loss per epoch.
    n_iter_ : int
        Epochs of training the scales, as for every head trained by SGD
        (scikit-learn's ``SGDClassifier`` counts epochs too).
    joint_n_iter_ : int
        L-BFGS iterations of the joint-head fit (0 when ``joint_head`` is given).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when ``X`` has string feature names.

    See Also
    --------
    TauNormClassifier : fixed scales ``1 / ||w_j||^tau`` and no bias.

    References
    ----------
    Kang, B. et al. Decoupling representation and classifier for long-tailed
    recognition. ICLR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt.heads import LWSClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.randn(90, 2) + [1, 0], rng.randn(10, 2) - [1, 0]]
    >>> y = np.r_[np.zeros(90, int), np.ones(10, int)]
    >>> lws = LWSClassifier(epochs=20, batch_size=20, random_state=0).fit(X, y)
    >>> lws.scales_.shape
    (2,)
    """

    # Labels and parameters of this head in heads.head_catalog (demo, benchmarks).
    _catalog_variants = {"LWS": {}}

    _parameter_constraints: dict = {
        **JOINT_HEAD_CONSTRAINTS,
        **SGD_CONSTRAINTS,
        "stochastic": ["boolean"],
    }

    def __init__(self, joint_head="auto", *, C=1.0, max_iter=1000, tol=1e-4, memory=None, epochs=5,
                 batch_size=512, lr=0.2, momentum=0.9, weight_decay=5e-4, sampler="class",
                 random_state=None, device="cpu", verbose=0, n_threads=None,
                 stochastic=False):
        self.joint_head = joint_head
        self.C = C
        self.max_iter = max_iter
        self.tol = tol
        self.memory = memory
        self.stochastic = stochastic
        super().__init__(epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum,
                         weight_decay=weight_decay, sampler=sampler, random_state=random_state,
                         device=device, verbose=verbose, n_threads=n_threads)

    def _fit(self, X, y_enc, classes, counts):
        coef, intercept, n_iter, (source, _) = self._joint_head(X, y_enc, classes)
        X, y_enc = with_stochastic_rows(X, y_enc, self.stochastic)
        if coef.shape[0] <= X.shape[1]:
            # The joint head is frozen, so its logits are computed once and the
            # epochs train the scales on them: K operations per draw instead of
            # d * K (a class-aware epoch over ImageNet-LT is 1.28M draws). With
            # more classes than features the logits would outweigh the features.
            module = _Scales(coef.shape[0])
            X = _frozen_logits(X, coef, intercept, resolve_device(self.device))
        else:
            module = _ScaledLinear(coef, intercept)
        history = self._train_sgd(module, X, y_enc)
        scales = module.scales.detach().cpu().double().numpy()
        return {
            "joint_coef_": coef,
            "joint_intercept_": intercept,
            "joint_head_source_": source,
            "joint_n_iter_": n_iter,
            "n_iter_": len(history["loss"]),
            "scales_": scales,
            "coef_": scales[:, None] * coef,
            "intercept_": scales * intercept,
            "loss_curve_": history["loss"],
        }
