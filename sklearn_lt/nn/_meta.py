"""Meta-learned per-example weights (Jamal et al., CVPR 2020), one step at a time.

The loss of example ``i`` is weighed by ``w_{y_i} + eps_i``: a class weight
from the effective number of samples plus a per-example correction learned
on a small balanced development set. For a mini-batch ``B`` (the authors'
released CIFAR code, which the paper's Algorithm 1 describes):

1. ``eps_B = 0``;
2. a virtual SGD step on the *summed* weighted loss at the current learning
   rate, ``theta' = theta - lr * grad_theta sum_i (w_{y_i} + eps_i) L_i``,
   through all parameters (batch-norm affine weights included);
3. ``eps <- eps - tau_eps * grad_eps L_dev(theta')`` on one batch of the
   development set -- no clipping, no normalisation (what separates it from
   L2RW);
4. the real step on ``mean_i (w_{y_i} + eps_i) L_i`` at ``theta``.

The look-ahead uses ``torch.func.functional_call``: ``theta'`` is a dict of
tensors differentiable in ``eps``, with no module copied per step. Batch-norm
running statistics are updated by the forward at ``theta`` only -- the same
forward the real step needs, so it is computed once and reused -- while the
forward at ``theta'`` runs on cloned buffers that are thrown away.

:class:`MetaReweighting` is written once for both trainers: the stage-2 head
(:class:`~sklearn_lt.heads.MetaWeightedClassifier`, through
``train_module(step=...)``) and the Backbone's meta-weighted epochs (through
its skorch net's train step).
"""

import numbers

import numpy as np
import torch
from torch.func import functional_call

from ._losses import effective_number_weights

__all__ = ["MetaReweighting", "meta_class_weights"]


def meta_class_weights(counts, beta):
    """Class weights of meta-weighting: ``w_y = (1 - beta) / (1 - beta^{n_y})``, summing to C.

    Parameters
    ----------
    counts : array-like of shape (n_classes,)
        Training samples per class.
    beta : float in [0, 1) or "n"
        A number is used as is: 0.9999 reproduces the weight vector Jamal et
        al. publish for CIFAR-10-LT (IF=10). ``"n"`` is their text's
        ``beta = (n - 1) / n``, ``n`` the training examples.

    Returns
    -------
    weights : ndarray of shape (n_classes,)
        :func:`effective_number_weights` at that ``beta``.

    Examples
    --------
    >>> from sklearn_lt.nn import meta_class_weights
    >>> meta_class_weights([5000, 500], 0.9999).round(3)
    array([0.221, 1.779])
    """
    counts = np.asarray(counts)
    if isinstance(beta, str):
        n = counts.sum()
        beta = (n - 1) / n
    return effective_number_weights(counts, beta)


class MetaReweighting:
    """The meta-weighted loss of one mini-batch (Jamal et al., 2020).

    Parameters
    ----------
    class_weights : array-like of shape (n_classes,)
        ``w_y``, e.g. :func:`~sklearn_lt.nn.effective_number_weights`.
    per_sample_loss : callable
        ``per_sample_loss(logits, y) -> (n,)`` unreduced losses ``L_i`` (a
        library loss built with ``reduction="none"``).
    eps_lr : float, default=0.01
        ``tau_eps``, the step on ``eps``.

    Attributes
    ----------
    last_weights : torch.Tensor of shape (batch,)
        ``w_{y_i} + eps_i`` of the last batch (detached).
    last_logits : torch.Tensor of shape (batch, n_classes)
        The logits of the last batch at ``theta`` (the real step's forward).

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.nn import MetaReweighting
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> lin = torch.nn.Linear(2, 2)
    >>> meta = MetaReweighting([0.5, 1.5], torch.nn.CrossEntropyLoss(reduction="none"))
    >>> xb, yb = torch.randn(8, 2), torch.tensor([0] * 6 + [1] * 2)
    >>> loss = meta.loss(lin, xb, yb, (torch.randn(4, 2), torch.tensor([0, 0, 1, 1])), lr=0.1)
    >>> loss.backward()
    >>> meta.last_weights.shape
    torch.Size([8])
    """

    def __init__(self, class_weights, per_sample_loss, eps_lr=0.01):
        if not (isinstance(eps_lr, numbers.Real) and eps_lr >= 0):
            raise ValueError(f"eps_lr must be a number >= 0, got {eps_lr!r}.")
        self.class_weights = torch.as_tensor(class_weights, dtype=torch.float32)
        self.per_sample_loss = per_sample_loss
        self.eps_lr = float(eps_lr)
        self.last_weights = None
        self.last_logits = None

    def example_weights(self, module, xb, yb, dev_batch, lr):
        """``(w_{y_i} + eps_i, losses)``: the learned weights and the ``L_i`` at ``theta``.

        ``losses`` keeps its graph to the parameters (it is the real step's
        forward); the weights are detached.
        """
        params = {n: p for n, p in module.named_parameters() if p.requires_grad}
        buffers = dict(module.named_buffers())
        w = self.class_weights.to(device=yb.device)[yb]
        # The forward at theta: real buffers (it is the real step's forward too).
        logits = module(xb)
        self.last_logits = logits.detach()
        losses = self.per_sample_loss(logits, yb)
        eps = torch.zeros_like(losses, requires_grad=True)
        grads = torch.autograd.grad(((w + eps) * losses).sum(), list(params.values()),
                                    create_graph=True, retain_graph=True, allow_unused=True)
        ahead = {n: p if g is None else p - lr * g for (n, p), g in zip(params.items(), grads)}
        x_dev, y_dev = dev_batch
        # The forward at theta' on cloned buffers: its batch-norm update is discarded.
        scratch = {n: b.clone() for n, b in buffers.items()}
        dev_logits = functional_call(module, (ahead, scratch), (x_dev,))
        dev_loss = self.per_sample_loss(dev_logits, y_dev).mean()
        (grad_eps,) = torch.autograd.grad(dev_loss, eps)
        weights = (w + eps - self.eps_lr * grad_eps).detach()
        return weights, losses

    def loss(self, module, xb, yb, dev_batch, lr):
        """The real step's loss ``mean_i (w_{y_i} + eps_i) L_i`` (backpropagate it).

        Parameters
        ----------
        module : torch.nn.Module
            The model, in training mode; its parameters are read, not changed.
        xb, yb : torch.Tensor
            The training mini-batch.
        dev_batch : tuple of torch.Tensor
            ``(x_dev, y_dev)``, one batch of the balanced development set.
        lr : float
            The current learning rate (of the virtual step).

        Returns
        -------
        loss : torch.Tensor
            A scalar with a graph to the parameters.
        """
        weights, losses = self.example_weights(module, xb, yb, dev_batch, lr)
        self.last_weights = weights
        return (weights * losses).mean()
