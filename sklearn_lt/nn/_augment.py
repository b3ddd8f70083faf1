"""Batched augmentation on tensors: random crop + flip (CIFAR), colour jitter (ImageNet).

Zero-pad by 4 pixels, crop a random 32x32 window and flip horizontally with
probability 1/2 -- the standard CIFAR augmentation of He et al. (2016), used by
Cao et al. (2019) for CIFAR-LT. Here it runs on a whole batch at once, on any
device, with one gather: every image gets its own offsets and flip without a
Python loop over images.

References
----------
K. He, X. Zhang, S. Ren, J. Sun. "Deep residual learning for image recognition",
CVPR 2016, Section 4.2.
K. Cao, C. Wei, A. Gaidon, N. Arechiga, T. Ma. "Learning imbalanced datasets
with label-distribution-aware margin loss", NeurIPS 2019.
"""

import numbers

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ColorJitter", "CropFlip", "random_crop_flip"]


def _check_params(padding, flip_prob):
    if isinstance(padding, bool) or not isinstance(padding, numbers.Integral) or padding < 0:
        raise ValueError(f"padding must be a non-negative int, got {padding!r}.")
    if isinstance(flip_prob, bool) or not isinstance(flip_prob, numbers.Real) \
            or not 0.0 <= flip_prob <= 1.0:
        raise ValueError(f"flip_prob must be a probability in [0, 1], got {flip_prob!r}.")


def random_crop_flip(x, padding=4, flip=True, generator=None, *, flip_prob=0.5):
    """Zero-pad, randomly crop back to the input size and randomly flip each image.

    Parameters
    ----------
    x : Tensor of shape (N, C, H, W)
        Batch of images, on any device and of any dtype.
    padding : int, default=4
        Zero padding added on every side before cropping; offsets are uniform
        in ``0..2 * padding`` independently per image and axis.
    flip : bool, default=True
        Whether to flip images horizontally at random.
    generator : torch.Generator, default=None
        Source of randomness. The random numbers are drawn on the generator's
        device (the CPU for ``None``, with torch's global generator), so a CPU
        generator gives the same augmentation for a batch on any device.
    flip_prob : float, default=0.5
        Probability of flipping an image when ``flip`` is true.

    Returns
    -------
    out : Tensor of shape (N, C, H, W)
        Augmented batch, on the device of ``x``; ``x`` is not modified.

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.nn import random_crop_flip
    >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
    >>> torch.equal(random_crop_flip(x, padding=0, flip_prob=1.0), x.flip(-1))
    True
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a tensor of shape (N, C, H, W), got {shape}.")
    _check_params(padding, flip_prob)
    n, c, h, w = x.shape
    rand_device = generator.device if generator is not None else torch.device("cpu")
    offsets = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator, device=rand_device)
    flipped = torch.rand(n, generator=generator, device=rand_device) < flip_prob
    if not flip:
        flipped = torch.zeros_like(flipped)
    offsets, flipped = offsets.to(x.device), flipped.to(x.device)
    if n == 0:
        return x.clone()

    padded = F.pad(x, (padding, padding, padding, padding)) if padding else x
    hp, wp = h + 2 * padding, w + 2 * padding
    rows = offsets[:, :1] + torch.arange(h, device=x.device)  # (N, H)
    cols_out = torch.arange(w, device=x.device).expand(n, w)
    # A flip reverses the crop window, so cropping and flipping are one gather.
    cols = offsets[:, 1:] + torch.where(flipped[:, None], w - 1 - cols_out, cols_out)  # (N, W)
    flat = (rows[:, :, None] * wp + cols[:, None, :]).reshape(n, 1, h * w)
    out = torch.gather(padded.reshape(n, c, hp * wp), 2, flat.expand(n, c, h * w))
    return out.reshape(n, c, h, w)


class CropFlip(nn.Module):
    """Module form of :func:`random_crop_flip`, active only in training mode.

    In evaluation mode (``module.eval()``) the input passes through unchanged,
    so the module can sit in front of a network.

    Parameters
    ----------
    padding : int, default=4
        Zero padding before cropping.
    flip : bool, default=True
        Whether to flip horizontally with probability 1/2.
    generator : torch.Generator, default=None
        Source of randomness; ``None`` uses torch's global generator.

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.nn import CropFlip
    >>> aug = CropFlip().eval()
    >>> x = torch.randn(2, 3, 32, 32)
    >>> torch.equal(aug(x), x)
    True
    """

    def __init__(self, padding=4, flip=True, generator=None):
        super().__init__()
        _check_params(padding, 0.5)
        self.padding = int(padding)
        self.flip = bool(flip)
        self.generator = generator

    def forward(self, x):
        if not self.training:
            return x
        return random_crop_flip(x, self.padding, self.flip, self.generator)

    def extra_repr(self):
        return f"padding={self.padding}, flip={self.flip}"


class ColorJitter(nn.Module):
    """Random brightness, contrast and saturation per image, batched on the device.

    The colour part of the ImageNet training augmentation (Kang et al., 2020:
    0.4 each, no hue). Each image draws its factors uniformly from
    ``[1 - s, 1 + s]`` and, in this fixed order, is scaled (brightness),
    blended with its mean grey level (contrast) and blended with its own grey
    image (saturation), clamped to [0, 1] after each step; grey is ITU-R 601
    luma. Active only in training mode; expects 3-channel input in [0, 1].

    Parameters
    ----------
    brightness, contrast, saturation : float, default=0.4
        Strength ``s`` of each jitter; 0 turns it off.
    generator : torch.Generator, default=None
        Source of randomness (drawn on its device); ``None`` uses torch's
        global generator.

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.nn import ColorJitter
    >>> x = torch.rand(4, 3, 8, 8)
    >>> torch.equal(ColorJitter().eval()(x), x)
    True
    >>> bool(ColorJitter()(x).sub(x).abs().max() > 0)
    True
    """

    _LUMA = (0.299, 0.587, 0.114)

    def __init__(self, brightness=0.4, contrast=0.4, saturation=0.4, generator=None):
        super().__init__()
        for name, value in [("brightness", brightness), ("contrast", contrast),
                            ("saturation", saturation)]:
            if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                    or not 0 <= value <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}.")
        self.brightness = float(brightness)
        self.contrast = float(contrast)
        self.saturation = float(saturation)
        self.generator = generator

    def _factors(self, n, strength, device):
        rand_device = self.generator.device if self.generator is not None else "cpu"
        u = torch.rand(n, generator=self.generator, device=rand_device)
        return (1 - strength + 2 * strength * u).to(device).view(n, 1, 1, 1)

    def _grey(self, x):
        w = torch.tensor(self._LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x * w).sum(1, keepdim=True)

    def forward(self, x):
        if not self.training:
            return x
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"ColorJitter takes (N, 3, H, W) batches, got {tuple(x.shape)}.")
        n = x.shape[0]
        if self.brightness:
            x = (x * self._factors(n, self.brightness, x.device)).clamp(0, 1)
        if self.contrast:
            mean = self._grey(x).mean(dim=(2, 3), keepdim=True)
            f = self._factors(n, self.contrast, x.device)
            x = (f * x + (1 - f) * mean).clamp(0, 1)
        if self.saturation:
            f = self._factors(n, self.saturation, x.device)
            x = (f * x + (1 - f) * self._grey(x)).clamp(0, 1)
        return x

    def extra_repr(self):
        return (f"brightness={self.brightness}, contrast={self.contrast}, "
                f"saturation={self.saturation}")
