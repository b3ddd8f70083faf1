"""The family of stage-2 heads trained by SGD on cached features.

Every such head (cRT's ``solver="sgd"``, LWS, and the heads on stochastic
representations or with meta-weighting) shares one parameter set, one
constraint table, one docstring block and one call into the shared trainer
(:func:`sklearn_lt.nn.train_module`), written here once.
"""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval

from ..nn import train_module
from ..utils import torch_generator
from ..utils._docstring import Substitution
from ..utils._sampling import SAMPLER_CONSTRAINT, default_epoch_length
from ._base import THREADS_CONSTRAINT, THREADS_PARAM_DOC

SGD_CONSTRAINTS = {
    "epochs": [Interval(Integral, 1, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "lr": [Interval(Real, 0, None, closed="neither")],
    "momentum": [Interval(Real, 0, 1, closed="left")],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "sampler": SAMPLER_CONSTRAINT,
    "random_state": ["random_state"],
    "device": [str, torch.device],
    "verbose": ["verbose"],
    **THREADS_CONSTRAINT,
}

SGD_PARAMS_DOC = """\
batch_size : int, default=512
    Mini-batch size (Kang et al.'s ImageNet-LT stage-2 value; on small data
    lower it, scaling ``lr`` linearly: a head needs a few dozen steps, and a
    lower rate also keeps cRT's probabilities from growing over-confident).
lr : float, default=0.2
    Peak learning rate of the cosine schedule.
momentum : float, default=0.9
    SGD momentum.
weight_decay : float, default=5e-4
    SGD weight decay, applied to every trained parameter.
sampler : {"class", "instance", "sqrt", "progressive"} or float, default="class"
    Class distribution of the mini-batches, ``p_j ~ n_j^q``
    (:func:`sklearn_lt.nn.make_sampler`): class-balanced (``q = 0``),
    instance-balanced (1), square-root (1/2), any ``q >= 0``, or
    progressive. With class-balanced sampling an epoch is ``n_classes *
    max_j n_j`` draws, the official class-aware sampler's epoch; ``n_samples``
    with the other strategies.
random_state : int, RandomState instance or None, default=None
    Seeds the initialisation and the sampler.
device : str or torch.device, default="cpu"
    Torch device of the training, and of any L-BFGS fit the head makes
    (a joint head fitted here, cRT's ``solver="lbfgs"``); ``"auto"`` picks
    CUDA if available.
verbose : int, default=0
    Print one line per epoch.
""" + THREADS_PARAM_DOC


@Substitution(sgd_params=SGD_PARAMS_DOC)
class SGDHeadMixin:
    """Train a torch module of a head with the shared stage-2 trainer.

    Uses the parameters ``epochs``, ``batch_size``, ``lr``, ``momentum``,
    ``weight_decay``, ``sampler``, ``random_state``, ``device``, ``verbose`` and
    ``n_threads``,
    which a head's ``__init__`` stores through this one (as scikit-learn's SGD
    estimators share ``BaseSGD.__init__``); the head's own signature still
    lists them, with its defaults, for ``get_params``.

    Parameters
    ----------
    epochs : int
        Stage-2 epochs.
    {sgd_params}
    """

    def __init__(self, *, epochs, batch_size, lr, momentum, weight_decay, sampler,
                 random_state, device, verbose, n_threads=None):
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.sampler = sampler
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.n_threads = n_threads

    def _sgd_generator(self):
        """The head's generator: seeds the initialisation, then the sampler."""
        return torch_generator(self.random_state)

    def _train_sgd(self, module, X, y_enc, *, generator=None, **trainer_kwargs):
        """Run :func:`~sklearn_lt.nn.train_module` with the head's SGD parameters.

        Returns the trainer's history; extra keywords (``loss_fn``, ``step``)
        go to the trainer.
        """
        return train_module(
            module, X, y_enc, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
            momentum=self.momentum, weight_decay=self.weight_decay, sampler=self.sampler,
            generator=self._sgd_generator() if generator is None else generator,
            device=self.device, verbose=self.verbose,
            num_samples=default_epoch_length(self.sampler), **trainer_kwargs,
        )


def init_linear(n_features, n_classes, generator):
    """A fresh ``nn.Linear`` with torch's default init, drawn from ``generator``.

    Built on the meta device and then allocated, so that torch's own
    initialisation does not draw from (and advance) the global RNG; the
    weights use nn.Linear's default bound ``1/sqrt(fan_in)``, so that
    ``random_state`` makes the fit repeatable.

    Parameters
    ----------
    n_features : int
        Input dimension.
    n_classes : int
        Output dimension.
    generator : torch.Generator
        Source of the initial weights.

    Returns
    -------
    linear : torch.nn.Linear
        On the CPU.
    """
    linear = torch.nn.Linear(n_features, n_classes, device="meta").to_empty(device="cpu")
    bound = 1.0 / np.sqrt(n_features)
    with torch.no_grad():
        linear.weight.uniform_(-bound, bound, generator=generator)
        linear.bias.uniform_(-bound, bound, generator=generator)
    return linear


def linear_coef(linear):
    """``(coef, intercept)`` of a trained ``nn.Linear`` as float64 arrays."""
    return (linear.weight.detach().cpu().double().numpy(),
            linear.bias.detach().cpu().double().numpy())
