"""Classifier re-training, cRT (Kang et al., 2020)."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from ..utils import power_class_probabilities, sampler_exponent
from ..utils._docstring import Substitution
from ._base import BaseHead, LinearHeadMixin
from ._linear import cached_linear_head
from ._sgd import SGD_CONSTRAINTS, SGD_PARAMS_DOC, SGDHeadMixin, init_linear, linear_coef
from ._swag_repr import STOCHASTIC_PARAM_DOC, with_stochastic_rows


@Substitution(sgd_params=SGD_PARAMS_DOC, stochastic_param=STOCHASTIC_PARAM_DOC)
class CRTClassifier(SGDHeadMixin, LinearHeadMixin, BaseHead):
    """Classifier re-training (cRT) on fixed features, class-balanced.

    Kang et al. (ICLR 2020) keep the representation learned with plain
    instance-balanced sampling and train a freshly initialised linear
    classifier ``logits = x . W^T + b`` on top of it with class-balanced
    sampling. Two solvers are offered:

    - ``solver="sgd"``: the paper's procedure -- SGD with momentum, the
      class-aware sampler (a class uniformly, then the next sample of that
      class), a cosine learning-rate schedule, a few epochs (10 in the
      official ImageNet-LT config with lr 0.2, batch 512, weight decay 5e-4,
      the defaults here), from a random initialisation.
    - ``solver="lbfgs"``: the objective that class-balanced sampling optimises
      in expectation, minimised deterministically to the gradient tolerance
      ``tol``. Drawing class
      ``j`` with probability ``p_j`` and then a uniform sample of it gives the
      expected loss ``sum_i (p_{y_i} / n_{y_i}) CE_i``; with ``p_j = 1/K`` this
      is cross-entropy with class weights ``n / (K n_j)``. That weighted loss
      plus ``||W||^2 / (2 C)`` is minimised with L-BFGS
      (:func:`fit_linear_head`). SGD's weight decay ``wd`` on the mean loss
      is the penalty ``C = 1 / (wd * n)``, which is what ``C=None`` (the
      default) uses, so both solvers share one objective (up to the bias,
      which SGD's weight decay also shrinks and L-BFGS leaves unpenalised); L-BFGS reaches its
      optimum to ``tol``, SGD approaches it in its few epochs. On tiny,
      separable training sets the objective is nearly flat and the default
      ``tol=1e-4`` (scikit-learn's) can stop visibly short of the optimum, so
      that the row order moves ``predict_proba`` by a few hundredths; pass
      ``tol=1e-6`` when the fit must not depend on the row order. (A weak penalty such as
      ``C=1`` lets the re-weighted tail overfit: on Fashion-MNIST-LT
      features it costs 0.7 points of balanced accuracy and raises the test
      NLL from 0.56 to 0.81.)

    Parameters
    ----------
    solver : {"lbfgs", "sgd"}, default="lbfgs"
        See above.
    C : float or None, default=None
        Inverse L2 strength (``solver="lbfgs"``). ``None``: ``1 / (weight_decay
        * n_samples)``, the penalty that ``weight_decay`` puts on SGD's mean
        loss.
    max_iter : int, default=1000
        L-BFGS iterations (``solver="lbfgs"``).
    tol : float, default=1e-4
        L-BFGS gradient tolerance (``solver="lbfgs"``).
    epochs : int, default=10
        Stage-2 epochs (``solver="sgd"``; the SGD parameters below apply to
        that solver). ``solver="lbfgs"`` turns ``sampler`` into the
        equivalent class weights ``n p_j / n_j`` (``"progressive"`` exists
        only for ``"sgd"``).
    {sgd_params}
    memory : None, str or joblib.Memory, default=None
        Caches the L-BFGS fit, as ``Pipeline(memory=...)`` does.
    {stochastic_param}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    class_counts_ : ndarray of shape (n_classes,)
        Training samples per class.
    coef_ : ndarray of shape (n_classes, n_features_in_)
        Re-trained weights.
    intercept_ : ndarray of shape (n_classes,)
        Re-trained bias.
    loss_curve_ : list of float
        Mean training loss per epoch (``solver="sgd"`` only).
    n_iter_ : int
        L-BFGS iterations (``"lbfgs"``) or epochs run (``"sgd"``).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when ``X`` has string feature names.

    References
    ----------
    Kang, B. et al. Decoupling representation and classifier for long-tailed
    recognition. ICLR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt.heads import CRTClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.randn(90, 2) + [2, 0], rng.randn(10, 2) - [2, 0]]
    >>> y = np.r_[np.zeros(90, int), np.ones(10, int)]
    >>> crt = CRTClassifier(C=10.0).fit(X, y)
    >>> crt.coef_.shape
    (2, 2)
    >>> crt.predict([[-1.5, 0.0], [1.5, 0.0]])
    array([1, 0])
    """

    # Labels and parameters of this head in heads.head_catalog (demo, benchmarks).
    _catalog_variants = {"cRT (lbfgs)": {"solver": "lbfgs"}, "cRT (sgd)": {"solver": "sgd"}}

    _parameter_constraints: dict = {
        "solver": [StrOptions({"lbfgs", "sgd"})],
        "C": [Interval(Real, 0, None, closed="neither"), None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        **SGD_CONSTRAINTS,
        "memory": [None, str, HasMethods(["cache"])],
        "stochastic": ["boolean"],
    }

    def __init__(self, solver="lbfgs", *, C=None, max_iter=1000, tol=1e-4, epochs=10,
                 batch_size=512, lr=0.2, momentum=0.9, weight_decay=5e-4, sampler="class",
                 random_state=None, device="cpu", verbose=0, n_threads=None, memory=None,
                 stochastic=False):
        self.solver = solver
        self.C = C
        self.max_iter = max_iter
        self.tol = tol
        self.memory = memory
        self.stochastic = stochastic
        super().__init__(epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum,
                         weight_decay=weight_decay, sampler=sampler, random_state=random_state,
                         device=device, verbose=verbose, n_threads=n_threads)

    def _fit(self, X, y_enc, classes, counts):
        X, y_enc = with_stochastic_rows(X, y_enc, self.stochastic)
        counts = np.bincount(y_enc, minlength=classes.shape[0])
        if self.solver == "lbfgs":
            return self._fit_lbfgs(X, y_enc, counts)
        return self._fit_sgd(X, y_enc, counts)

    def _fit_lbfgs(self, X, y_enc, counts):
        q = sampler_exponent(self.sampler)
        if q is None:
            raise ValueError(
                "sampler='progressive' changes the class distribution every epoch and has "
                "no fixed-weight equivalent; use solver='sgd' for it."
            )
        class_weight = y_enc.shape[0] * power_class_probabilities(counts, q) / counts
        C = self.C
        if C is None:
            if self.weight_decay == 0:
                raise ValueError(
                    "C=None takes the L2 strength from weight_decay, which is 0: an "
                    "unpenalised class-weighted fit diverges on separable features. Set C "
                    "or a positive weight_decay."
                )
            C = 1.0 / (self.weight_decay * y_enc.shape[0])
        coef, intercept, n_iter = cached_linear_head(
            self.memory, X, y_enc, counts.shape[0], C=C, class_weight=class_weight,
            max_iter=self.max_iter, tol=self.tol, device=self.device)
        return {"coef_": coef, "intercept_": intercept, "n_iter_": n_iter}

    def _fit_sgd(self, X, y_enc, counts):
        generator = self._sgd_generator()
        linear = init_linear(X.shape[1], counts.shape[0], generator)
        history = self._train_sgd(linear, X, y_enc, generator=generator)
        coef, intercept = linear_coef(linear)
        return {"coef_": coef, "intercept_": intercept, "loss_curve_": history["loss"],
                "n_iter_": len(history["loss"])}
