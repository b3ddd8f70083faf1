"""Classifier re-training on stochastic representations (Nam, Jang & Lee, ICLR 2023)."""

import warnings
from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval

from ..backbone._stochastic import lookup
from ..exceptions import StochasticFeaturesWarning
from ..nn import distillation_kl
from ..utils._docstring import Substitution
from ._base import BaseHead, LinearHeadMixin
from ._sgd import SGD_CONSTRAINTS, SGD_PARAMS_DOC, SGDHeadMixin, init_linear, linear_coef


def stochastic_views(X, n_samples, stochastic_features=None):
    """``(M, n, d)`` stochastic copies of the rows of ``X``, or an empty stack.

    ``stochastic_features`` if given, else the copies a ``Backbone(swag=True)``
    registered for these rows (see :mod:`sklearn_lt.backbone._stochastic`).
    ``n_samples=None`` takes all; a warning says when none are found.
    """
    empty = np.empty((0, *np.shape(X)), dtype=np.float32)
    if n_samples == 0:
        return empty
    S = stochastic_features if stochastic_features is not None else lookup(X)
    if S is None:
        warnings.warn(
            "No stochastic representations are registered for these features, so the head "
            "trains on X alone. Fit it on the training features of a Backbone(swag=True) "
            "(as a Pipeline does), or pass stochastic_features=Backbone.transform_stochastic(X).",
            StochasticFeaturesWarning, stacklevel=3,
        )
        return empty
    S = np.asarray(S, dtype=np.float32)
    if S.ndim != 3 or S.shape[1:] != np.shape(X):
        raise ValueError(f"stochastic_features must have shape (M, {X.shape[0]}, {X.shape[1]}), "
                         f"got {S.shape}.")
    if n_samples is not None:
        if n_samples > S.shape[0]:
            raise ValueError(f"n_samples={n_samples}, but only {S.shape[0]} stochastic "
                             "representations exist (Backbone's swag_samples).")
        S = S[:n_samples]
    return S


def with_stochastic_rows(X, y_enc, stochastic):
    """``X`` and ``y_enc`` with the stochastic copies of each row appended (if asked).

    The cheap way to put a head that knows nothing of views on stochastic
    representations: every copy is one more training row with its label.
    """
    if not stochastic:
        return X, y_enc
    S = stochastic_views(X, None)
    rows = np.concatenate([np.asarray(X, dtype=np.float32)[None], S])
    return rows.reshape(-1, rows.shape[-1]), np.tile(y_enc, rows.shape[0])


STOCHASTIC_PARAM_DOC = """\
stochastic : bool, default=False
    Also train on the stochastic representations of the rows of ``X`` that a
    ``Backbone(swag=True)`` registered (each copy one more row with its
    label), as Nam et al.'s cRT/LWS on stochastic representations; a
    :class:`~sklearn_lt.exceptions.StochasticFeaturesWarning` and ``X`` alone
    if there are none. :class:`SWAGReprClassifier` adds self-distillation.
"""


class _DistillLoss:
    """Logit-adjusted CE on every view plus ``weight * T^2 * KL(teacher || student)``.

    View 0 is the student (the SWA representation); views 1..M the stochastic
    ones, whose averaged softmax at temperature ``T`` is the teacher.
    """

    def __init__(self, log_prior, tau, weight, temperature):
        self.shift = tau * log_prior
        self.weight = weight
        self.T = temperature

    def __call__(self, logits, yb, idx):
        n_views = logits.shape[1]
        shift = self.shift.to(logits.device)
        ce = F.cross_entropy((logits + shift).flatten(0, 1), yb.repeat_interleave(n_views))
        if n_views == 1 or self.weight == 0:
            return ce
        return ce + self.weight * distillation_kl(logits[:, 1:], logits[:, 0], self.T)


@Substitution(sgd_params=SGD_PARAMS_DOC)
class SWAGReprClassifier(SGDHeadMixin, LinearHeadMixin, BaseHead):
    """Linear head re-trained on SWAG stochastic representations with self-distillation.

    Nam, Jang & Lee (ICLR 2023): a feature extractor trained with SWA is
    better than the last SGD iterate, but its classifier remains the
    bottleneck on long-tailed data. Networks ``theta_m`` drawn from the SWAG
    posterior of the extractor give ``M`` stochastic representations of
    every training input, whose spread is larger for tail classes. A fresh
    linear head ``W, b`` is re-trained on them with

    ``L = mean_v L_LA(W z_v + b, y) + lambda * T^2 * KL(p_teacher || p_student)``

    where ``v`` runs over the SWA representation (the student view) and the
    ``M`` stochastic ones, ``L_LA`` is the logit-adjusted cross-entropy of
    Menon et al. (``tau * log prior`` added to the logits), the teacher is the
    head's softmax at temperature ``T`` averaged over the ``M`` stochastic
    views (no gradient) and the student the same head on the SWA
    representation. Predictions use the student view only: the ordinary SWA
    features, at the cost of one linear layer.

    The stochastic representations come from the Backbone: fitted with
    ``swag=True``, it registers those of its training inputs, and this head
    finds them from the rows of the ``X`` it is fitted on (a ``Pipeline``
    does nothing more; a search over this head's parameters reuses them). They
    can also be passed explicitly (``stochastic_features``). Without any, the
    head trains on ``X`` alone with a
    :class:`~sklearn_lt.exceptions.StochasticFeaturesWarning`.

    Parameters
    ----------
    n_samples : int or None, default=None
        ``M`` stochastic views used (the first ``M`` draws); None: all the
        Backbone drew (its ``swag_samples``); 0: none, i.e. logit-adjusted
        re-training on ``X`` alone (the ablation "SWA + LA").
    distill_weight : float, default=1.0
        ``lambda``; 0 trains on the stochastic views without distillation.
    temperature : float, default=1.0
        ``T`` of teacher and student in the distillation term.
    tau : float, default=1.0
        Strength of the logit adjustment of the cross-entropy (0: plain CE).
    epochs : int, default=10
        Stage-2 epochs.
    {sgd_params}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    class_counts_ : ndarray of shape (n_classes,)
        Training samples per class.
    coef_ : ndarray of shape (n_classes, n_features_in_)
        Weights of the re-trained head.
    intercept_ : ndarray of shape (n_classes,)
        Its bias.
    n_samples_ : int
        Stochastic views used in training.
    loss_curve_ : list of float
        Mean training loss per epoch.
    n_iter_ : int
        Epochs run.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when ``X`` has string feature names.

    See Also
    --------
    sklearn_lt.Backbone : ``swag=True`` provides the stochastic representations.
    LogitAdjustedClassifier : post-hoc logit adjustment of the joint head.

    References
    ----------
    Nam, G., Jang, S. & Lee, J. Decoupled training for long-tailed
    classification with stochastic representations. ICLR 2023.

    Maddox, W. J. et al. A simple baseline for Bayesian uncertainty in deep
    learning. NeurIPS 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt.heads import SWAGReprClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.randn(60, 2) + [2, 0], rng.randn(12, 2) - [2, 0]]
    >>> y = np.r_[np.zeros(60, int), np.ones(12, int)]
    >>> S = X[None] + 0.3 * rng.randn(4, *X.shape)  # stand-in stochastic copies
    >>> clf = SWAGReprClassifier(epochs=20, batch_size=16, lr=0.05, random_state=0)
    >>> clf.fit(X, y, stochastic_features=S).n_samples_
    4
    >>> clf.predict([[-2.0, 0.0], [2.0, 0.0]])
    array([1, 0])
    """

    # Labels and parameters of this head in heads.head_catalog (demo, benchmarks).
    _catalog_variants = {"SRepr": {}}

    _parameter_constraints: dict = {
        "n_samples": [None, Interval(Integral, 0, None, closed="left")],
        "distill_weight": [Interval(Real, 0, None, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "tau": [Interval(Real, 0, None, closed="left")],
        **SGD_CONSTRAINTS,
    }

    def __init__(self, n_samples=None, *, distill_weight=1.0, temperature=1.0, tau=1.0,
                 epochs=10, batch_size=512, lr=0.2, momentum=0.9, weight_decay=5e-4,
                 sampler="instance", random_state=None, device="cpu", verbose=0,
                 n_threads=None):
        self.n_samples = n_samples
        self.distill_weight = distill_weight
        self.temperature = temperature
        self.tau = tau
        super().__init__(epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum,
                         weight_decay=weight_decay, sampler=sampler, random_state=random_state,
                         device=device, verbose=verbose, n_threads=n_threads)

    def fit(self, X, y, stochastic_features=None):
        """Fit the head on features ``X``, their stochastic copies and labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            SWA features, e.g. ``Backbone(swag=True).fit_transform``.
        y : array-like of shape (n_samples,)
            Class labels; every class needs at least 2 samples.
        stochastic_features : array-like of shape (M, n_samples, n_features), default=None
            The stochastic representations of the rows of ``X``; None looks
            up those a ``Backbone(swag=True)`` registered.

        Returns
        -------
        self : SWAGReprClassifier
            The fitted head.
        """
        self._stochastic_features = stochastic_features
        try:
            return super().fit(X, y)
        finally:
            del self._stochastic_features

    def _fit(self, X, y_enc, classes, counts):
        S = stochastic_views(X, self.n_samples, self._stochastic_features)
        views = np.concatenate([np.asarray(X, dtype=np.float32)[None], S]).transpose(1, 0, 2)
        generator = self._sgd_generator()
        linear = init_linear(X.shape[1], counts.shape[0], generator)
        log_prior = torch.as_tensor(np.log(counts / counts.sum()), dtype=torch.float32)
        loss = _DistillLoss(log_prior, self.tau, self.distill_weight, self.temperature)
        history = self._train_sgd(linear, np.ascontiguousarray(views), y_enc,
                                  generator=generator, loss_fn=loss)
        coef, intercept = linear_coef(linear)
        return {"coef_": coef, "intercept_": intercept, "n_samples_": int(S.shape[0]),
                "loss_curve_": history["loss"], "n_iter_": len(history["loss"])}
