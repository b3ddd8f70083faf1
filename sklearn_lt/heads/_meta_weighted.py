"""Meta-weighted classifier re-training (Jamal et al., CVPR 2020)."""

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ..nn import MetaReweighting, make_loss, meta_class_weights
from ..utils import check_long_tailed_targets
from ..utils._docstring import Substitution
from ..utils._validation import balanced_holdout_indices
from ._base import BaseHead, LinearHeadMixin
from ._sgd import SGD_CONSTRAINTS, SGD_PARAMS_DOC, SGDHeadMixin, init_linear, linear_coef

META_LOSSES = ("ce", "focal", "ldam")


class MetaStep:
    """A ``train_module`` step: plain loss until ``start_epoch``, then meta-weighted.

    Keeps ``weights`` (``w_y + eps``) of each training row as last computed,
    for inspection; a callback advances ``epoch``.
    """

    def __init__(self, meta, per_sample_loss, dev, dev_batch_size, start_epoch, n_train,
                 generator):
        self.meta, self.per_sample_loss = meta, per_sample_loss
        self.dev, self.dev_batch_size = dev, dev_batch_size
        self.start_epoch, self.generator = start_epoch, generator
        self.epoch = 0
        self.weights = torch.full((n_train,), math.nan)

    def dev_batch(self, device):
        n_dev = self.dev[1].shape[0]
        idx = torch.randperm(n_dev, generator=self.generator)[: self.dev_batch_size]
        return self.dev[0][idx.to(self.dev[0].device)].to(device), \
            self.dev[1][idx.to(self.dev[1].device)].to(device)

    def __call__(self, module, optimizer, xb, yb, idx):
        optimizer.zero_grad(set_to_none=True)
        if self.epoch >= self.start_epoch:
            lr = optimizer.param_groups[0]["lr"]
            loss = self.meta.loss(module, xb, yb, self.dev_batch(xb.device), lr)
            self.weights[idx.cpu()] = self.meta.last_weights.float().cpu()
        else:
            loss = self.per_sample_loss(module(xb), yb).mean()
        loss.backward()
        optimizer.step()
        return loss

    def next_epoch(self, epoch, module, history):
        self.epoch = epoch + 1


def _mlp(n_features, hidden, n_classes, generator):
    layers, d = [], n_features
    for h in hidden:
        lin = init_linear(d, h, generator)
        layers += [lin, torch.nn.ReLU()]
        d = h
    return torch.nn.Sequential(*layers, init_linear(d, n_classes, generator))


@Substitution(sgd_params=SGD_PARAMS_DOC)
class MetaWeightedClassifier(SGDHeadMixin, LinearHeadMixin, BaseHead):
    """Classifier re-trained with meta-learned per-example weights (Jamal et al., 2020).

    Jamal et al. view long-tailed training as domain adaptation: the balanced
    test distribution differs from the training one both in the class prior
    (corrected by class weights ``w_y = (1 - beta) / (1 - beta^{n_y})``,
    Cui et al.'s effective number) and in the class-conditional ``p(x | y)``,
    corrected per example by ``eps_i``, learned on a small *balanced*
    development set. Each mini-batch's loss is ``mean_i (w_{y_i} + eps_i)
    L_i``, ``eps`` coming from a one-step look-ahead (a virtual SGD step on
    the summed weighted loss, then one gradient step of size ``eps_lr`` on
    ``eps`` against the development loss; ``eps`` starts at 0 for every batch
    and is neither clipped nor normalised) -- see
    :class:`sklearn_lt.nn.MetaReweighting`, shared with the Backbone's
    ``meta_epochs``. As in the paper's Algorithm 1, the first
    ``epochs - meta_epochs`` epochs use the plain loss.

    The development set is carved from the training features given to
    ``fit`` (``dev_size`` per class, drawn with ``random_state`` and removed
    from the training rows) unless ``X_dev, y_dev`` are passed to ``fit``;
    the paper removes it before building the long tail
    (``make_long_tailed(dev_size=...)`` does that for a data set). With an
    explicit ``dev_size``, a class with that many samples or fewer is an
    error, never an empty class.

    Parameters
    ----------
    loss : {"ce", "focal", "ldam"}, default="ce"
        The per-example loss ``L_i`` (the library's, unreduced).
    gamma : float, default=1.0
        Focusing parameter of ``loss="focal"``.
    beta : float in [0, 1) or "n", default=0.9999
        Of the class weights. 0.9999 reproduces the example weight vector the
        paper publishes for CIFAR-10-LT (IF=10); ``"n"`` is its text's
        ``(n - 1) / n``, ``n`` the training examples.
    eps_lr : float, default=0.01
        ``tau_eps``, the step on ``eps``.
    dev_size : int or "auto", default="auto"
        Development samples carved per class when ``X_dev`` is not given.
        ``"auto"``: 10 (the paper's CIFAR value), fewer when the smallest
        class has under 20 samples: half of it (at least 1), so that every
        class keeps training samples; ``dev_size_`` records the value used.
        An int that leaves a class without a training sample is an error.
    dev_batch_size : int, default=100
        Development samples per meta step (the paper's 100).
    hidden_layer_sizes : tuple of int, default=()
        ``()``: a linear head; otherwise a small ReLU MLP with these widths.
    epochs : int, default=20
        Stage-2 epochs in all. With instance sampling (the paper's) an epoch
        is ``n`` draws, not the class-aware ``K * max_j n_j`` of the other SGD
        heads, so the same epoch count is fewer steps: on digits-LT (489
        rows, batch 64) 10 epochs gave 86.2% balanced accuracy, 30 gave 91.8%
        and 60 gave 92.1% (``benchmarks/README.md``).
    meta_epochs : int or None, default=None
        The last epochs, meta-weighted; the earlier ones use the plain loss.
        None: half of ``epochs`` (at least 1).
    {sgd_params}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    class_counts_ : ndarray of shape (n_classes,)
        Samples per class given to ``fit`` (before carving the dev set).
    class_weights_ : ndarray of shape (n_classes,)
        ``w_y``.
    example_weights_ : ndarray of shape (n_train_rows,)
        ``w_{y_i} + eps_i`` of each training row the last time it was drawn
        in a meta epoch (NaN if never), rows in the order of ``train_indices_``.
    mean_weight_per_class_ : ndarray of shape (n_classes,)
        Mean of ``example_weights_`` per class.
    train_indices_ : ndarray
        Rows of ``X`` trained on.
    dev_indices_ : ndarray or None
        Rows of ``X`` carved as development set (None when ``X_dev`` was given).
    dev_size_ : int or None
        Development samples carved per class (None when ``X_dev`` was given).
    coef_ : ndarray of shape (n_classes, n_features_in_)
        Weights of a linear head (``hidden_layer_sizes=()`` only).
    intercept_ : ndarray of shape (n_classes,)
        Its bias.
    module_ : torch.nn.Module
        The trained head (an MLP when ``hidden_layer_sizes`` is not empty).
    loss_curve_ : list of float
        Mean training loss per epoch.
    n_iter_ : int
        Epochs run.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when ``X`` has string feature names.

    References
    ----------
    Jamal, M. A., Brown, M., Yang, M.-H., Wang, L. & Gong, B. Rethinking
    class-balanced methods for long-tailed visual recognition from a domain
    adaptation perspective. CVPR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt.heads import MetaWeightedClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.randn(90, 2) + [1.5, 0], rng.randn(20, 2) - [1.5, 0]]
    >>> y = np.r_[np.zeros(90, int), np.ones(20, int)]
    >>> clf = MetaWeightedClassifier(epochs=6, meta_epochs=3, dev_size=5, batch_size=16,
    ...                              lr=0.05, random_state=0).fit(X, y)
    >>> clf.dev_indices_.shape, clf.mean_weight_per_class_.shape
    ((10,), (2,))
    >>> clf.predict([[-2.0, 0.0], [2.0, 0.0]])
    array([1, 0])
    """

    # Labels and parameters of this head in heads.head_catalog (demo, benchmarks).
    _catalog_variants = {"meta-weighted": {}}

    _parameter_constraints: dict = {
        "loss": [StrOptions(set(META_LOSSES))],
        "gamma": [Interval(Real, 0, None, closed="left")],
        "beta": [Interval(Real, 0, 1, closed="left"), StrOptions({"n"})],
        "eps_lr": [Interval(Real, 0, None, closed="left")],
        "dev_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "dev_batch_size": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [tuple],
        "meta_epochs": [Interval(Integral, 0, None, closed="left"), None],
        **SGD_CONSTRAINTS,
    }

    def __init__(self, loss="ce", *, gamma=1.0, beta=0.9999, eps_lr=0.01, dev_size="auto",
                 dev_batch_size=100, hidden_layer_sizes=(), epochs=20, meta_epochs=None,
                 batch_size=512, lr=0.2, momentum=0.9, weight_decay=5e-4, sampler="instance",
                 random_state=None, device="cpu", verbose=0, n_threads=None):
        self.loss = loss
        self.gamma = gamma
        self.beta = beta
        self.eps_lr = eps_lr
        self.dev_size = dev_size
        self.dev_batch_size = dev_batch_size
        self.hidden_layer_sizes = hidden_layer_sizes
        self.meta_epochs = meta_epochs
        super().__init__(epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum,
                         weight_decay=weight_decay, sampler=sampler, random_state=random_state,
                         device=device, verbose=verbose, n_threads=n_threads)

    def fit(self, X, y, X_dev=None, y_dev=None):
        """Fit the head on features ``X`` and labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features (``dev_size`` per class are held out unless
            ``X_dev`` is given).
        y : array-like of shape (n_samples,)
            Class labels.
        X_dev : array-like of shape (n_dev, n_features), default=None
            A balanced development set, instead of carving one from ``X``.
        y_dev : array-like of shape (n_dev,), default=None
            Its labels, among those of ``y``.

        Returns
        -------
        self : MetaWeightedClassifier
            The fitted head.
        """
        if (X_dev is None) != (y_dev is None):
            raise ValueError("Pass both X_dev and y_dev, or neither.")
        self._dev = None if X_dev is None else (X_dev, y_dev)
        self._dev_size_used = None
        try:
            return super().fit(X, y)
        finally:
            del self._dev, self._dev_size_used

    def _split_dev(self, X, y_enc, classes):
        """(X_train, y_train, X_dev, y_dev, train rows, dev rows or None)."""
        if self._dev is None:
            size = self.dev_size
            if size == "auto":
                size = int(min(10, max(1, np.bincount(y_enc).min() // 2)))
            train, dev = balanced_holdout_indices(y_enc, size, random_state=self.random_state)
            self._dev_size_used = size
            return X[train], y_enc[train], X[dev], y_enc[dev], train, dev
        X_dev = np.asarray(self._dev[0], dtype=np.float32)
        if X_dev.ndim != 2 or X_dev.shape[1] != X.shape[1]:
            raise ValueError(f"X_dev must have shape (n_dev, {X.shape[1]}), got {X_dev.shape}.")
        dev_classes, dev_enc, _ = check_long_tailed_targets(self._dev[1], min_samples_per_class=1)
        if not np.isin(dev_classes, classes).all():
            raise ValueError(f"y_dev has classes {dev_classes.tolist()} not all in y's "
                             f"{classes.tolist()}.")
        return X, y_enc, X_dev, np.searchsorted(classes, dev_classes)[dev_enc], \
            np.arange(len(y_enc)), None

    def _fit(self, X, y_enc, classes, counts):
        meta_epochs = max(1, self.epochs // 2) if self.meta_epochs is None else self.meta_epochs
        if meta_epochs > self.epochs:
            raise ValueError(f"meta_epochs={meta_epochs} exceeds epochs={self.epochs}.")
        X = np.asarray(X, dtype=np.float32)
        X_tr, y_tr, X_dev, y_dev, train, dev = self._split_dev(X, y_enc, classes)
        train_counts = np.bincount(y_tr, minlength=len(classes))
        weights = meta_class_weights(train_counts, self.beta)
        params = {"gamma": self.gamma} if self.loss == "focal" else {}
        if self.loss == "ldam":
            params["scale"] = 1.0  # a linear head: its logits are not cosines
        per_sample = make_loss(self.loss, train_counts, reduction="none", **params)
        generator = self._sgd_generator()
        module = (_mlp(X.shape[1], self.hidden_layer_sizes, len(classes), generator)
                  if self.hidden_layer_sizes else init_linear(X.shape[1], len(classes), generator))
        step = MetaStep(MetaReweighting(weights, per_sample, self.eps_lr), per_sample,
                        (torch.from_numpy(X_dev), torch.from_numpy(np.asarray(y_dev))),
                        self.dev_batch_size, self.epochs - meta_epochs, len(y_tr),
                        generator)
        history = self._train_sgd(module, X_tr, y_tr, generator=generator, step=step,
                                  callback=step.next_epoch)
        example = step.weights.numpy().astype(np.float64)
        with np.errstate(invalid="ignore"):
            per_class = np.array([np.nanmean(example[y_tr == k]) if np.any(
                np.isfinite(example[y_tr == k])) else np.nan for k in range(len(classes))])
        fitted = {"class_weights_": weights, "example_weights_": example,
                  "mean_weight_per_class_": per_class, "train_indices_": train,
                  "dev_indices_": dev, "dev_size_": self._dev_size_used,
                  "module_": module.cpu().eval(),
                  "loss_curve_": history["loss"], "n_iter_": len(history["loss"])}
        if not self.hidden_layer_sizes:
            fitted["coef_"], fitted["intercept_"] = linear_coef(module)
        return fitted

    def _logits(self, X):
        if "coef_" in self.__dict__:
            return super()._logits(X)
        with torch.no_grad():
            return self.module_(torch.as_tensor(np.asarray(X, dtype=np.float32))).double().numpy()
