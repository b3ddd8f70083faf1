"""The torch module a Backbone trains: input scaling, augmentation, features, head."""

import torch
import torch.nn.functional as F
from torch import nn

from ..nn import NormedLinear


class LTModule(nn.Module):
    """Input scaling + augmentation + feature network + joint classifier head.

    Scaling lives inside the module so that uint8 images travel to the device
    as bytes (4x less traffic) and a pickled model carries its preprocessing.
    The divisor is fixed at fit time from the training dtype (255 for uint8,
    1 otherwise), so the same pixels give the same features whatever dtype
    they arrive in later.

    The head is linear, or cosine (:class:`~sklearn_lt.nn.NormedLinear`) for
    losses trained on cosine logits (LDAM). ``embed`` returns the features the
    head consumes -- L2-normalised for a cosine head -- so that
    :meth:`joint_head` is an exact linear read-out of them:
    ``embed(x) @ coef.T + intercept == logits(x)``.

    Parameters
    ----------
    features : nn.Module
        Feature network with an int ``out_features``.
    n_classes : int
        Number of classes.
    input_divisor : float
        Inputs are divided by it (255 for images fitted as uint8, else 1).
    mean, std : array-like
        Standardisation of the scaled input, broadcastable to a batch.
    augment : nn.Module or None, default=None
        Applied to scaled training batches only.
    cosine_head : bool, default=False
        Use a cosine head instead of a linear one.
    logit_scale : float, default=1.0
        Factor from the head's output to the logits (the loss's scale for a
        cosine head).
    """

    def __init__(self, features, n_classes, *, input_divisor, mean, std, augment=None,
                 cosine_head=False, logit_scale=1.0):
        super().__init__()
        self.features = features
        d = int(features.out_features)
        self.head = NormedLinear(d, n_classes) if cosine_head else nn.Linear(d, n_classes)
        # Plain floats, not buffers: reading a GPU buffer as a Python number
        # would synchronise the device on every batch.
        self.input_divisor = float(input_divisor)
        self.logit_scale = float(logit_scale)
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.augment = augment

    @property
    def cosine_head(self):
        """Whether the head is a cosine classifier."""
        return isinstance(self.head, NormedLinear)

    def standardize(self, x):
        """Scaled, (when training) augmented and standardised input."""
        x = x.float()
        if self.input_divisor != 1.0:
            x = x / self.input_divisor
        if self.training and self.augment is not None:
            x = self.augment(x)
        return (x - self.mean) / self.std

    def _raw_features(self, x):
        return self.features(self.standardize(x))

    def embed(self, x):
        """The features the head reads (unit-norm rows for a cosine head)."""
        z = self._raw_features(x)
        return F.normalize(z, dim=1) if self.cosine_head else z

    def forward(self, x):
        """The head's output, what the training loss sees."""
        # The head reads the raw features: a cosine head normalises them itself
        # (normalising twice would change the training in the last bits).
        return self.head(self._raw_features(x))

    def logits(self, x):
        """The logits predictions use: ``forward(x)`` times ``logit_scale``."""
        out = self.forward(x)
        return out * self.logit_scale if self.cosine_head else out

    @torch.no_grad()
    def joint_head(self):
        """``(coef, intercept)`` with ``embed(x) @ coef.T + intercept == logits(x)``."""
        if self.cosine_head:
            coef = F.normalize(self.head.weight.float(), dim=1) * self.logit_scale
            return coef, torch.zeros(coef.shape[0], device=coef.device)
        return self.head.weight.detach().float(), self.head.bias.detach().float()
