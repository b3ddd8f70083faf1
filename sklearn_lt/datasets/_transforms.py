"""Decoding one image file into a fixed-size uint8 array: the ImageNet transforms.

Written once here and used by :class:`~sklearn_lt.Backbone` when ``X`` holds
image file paths, in its DataLoader's worker processes. Geometry happens here,
per image, on the decoded file (a random-resized crop must see the whole
image, at its own size); the colour jitter of the ImageNet recipe is per
pixel and runs batched on the training device instead
(:class:`~sklearn_lt.nn.ColorJitter`).

The randomness comes from torch's generator, which a DataLoader seeds in
each worker process, so a fit with an int ``random_state`` and a given number
of workers is repeatable.
"""

import math
import os
from numbers import Integral, Real
from pathlib import PurePath

import numpy as np
import torch

from ._image_folder import IMAGE_FORMATS, _import_pil_image

__all__ = ["ImageTransform"]

MODES = ("random_resized_crop", "resize_center_crop", "resize")
# An unknown extension may hold any of the formats load_image_folder reads,
# and no other: Pillow would otherwise pick any plugin from the content.
_ANY_FORMAT = sorted(set(IMAGE_FORMATS.values()))


class ImageTransform:
    """Decode an image file to uint8 RGB pixels of shape (3, size, size).

    Three modes, the two of the ImageNet recipes (Kang et al., 2020, after He
    et al., 2016) and one for data sets stored at their training size:

    - ``"random_resized_crop"`` (training): a window of a random fraction
      ``scale`` of the image's area and a random aspect ratio in ``ratio``
      (log-uniform), at a uniform position, resized to ``size`` x ``size``;
      after 10 windows that do not fit, the largest centred window of an
      allowed ratio. Then a horizontal flip with probability ``flip``.
    - ``"resize_center_crop"`` (evaluation): the shorter side resized to
      ``round(size / crop_fraction)`` (256 for 224), then the centred
      ``size`` x ``size`` window.
    - ``"resize"``: the whole image resized to ``size`` x ``size`` (nothing
      happens to an image already of that size, e.g. CIFAR's 32 px files).

    Resizing is Pillow's bilinear filter, which averages over the source
    pixels a downscaled output pixel covers (it does not skip pixels).

    Parameters
    ----------
    size : int
        Side of the output.
    mode : {"random_resized_crop", "resize_center_crop", "resize"}, default="resize_center_crop"
        See above.
    scale : tuple of float, default=(0.08, 1.0)
        Range of the crop's area, as a fraction of the image's.
    ratio : tuple of float, default=(3/4, 4/3)
        Range of the crop's width / height.
    flip : float, default=0.5
        Probability of a horizontal flip (``"random_resized_crop"`` only).
    crop_fraction : float, default=0.875
        Output side over the resized shorter side in ``"resize_center_crop"``.

    Examples
    --------
    >>> import tempfile, os
    >>> import numpy as np
    >>> from PIL import Image
    >>> from sklearn_lt.datasets import ImageTransform
    >>> path = os.path.join(tempfile.mkdtemp(), "a.png")
    >>> Image.fromarray(np.zeros((300, 400, 3), np.uint8)).save(path)
    >>> ImageTransform(224)(path).shape
    (3, 224, 224)
    """

    def __init__(self, size, mode="resize_center_crop", *, scale=(0.08, 1.0),
                 ratio=(3 / 4, 4 / 3), flip=0.5, crop_fraction=0.875):
        if isinstance(size, bool) or not isinstance(size, Integral) or size < 1:
            raise ValueError(f"size must be a positive int, got {size!r}.")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
        if not (len(scale) == 2 and 0 < scale[0] <= scale[1] <= 1):
            raise ValueError(f"scale must be (low, high) with 0 < low <= high <= 1, got {scale}.")
        if not (len(ratio) == 2 and 0 < ratio[0] <= ratio[1]):
            raise ValueError(f"ratio must be (low, high) with 0 < low <= high, got {ratio}.")
        if not isinstance(flip, Real) or not 0 <= flip <= 1:
            raise ValueError(f"flip must be a probability in [0, 1], got {flip!r}.")
        if not isinstance(crop_fraction, Real) or not 0 < crop_fraction <= 1:
            raise ValueError(f"crop_fraction must be in (0, 1], got {crop_fraction!r}.")
        self.size = int(size)
        self.mode = mode
        self.scale = tuple(float(s) for s in scale)
        self.ratio = tuple(float(r) for r in ratio)
        self.flip = float(flip)
        self.crop_fraction = float(crop_fraction)

    def __repr__(self):
        return f"ImageTransform(size={self.size}, mode={self.mode!r})"

    def __call__(self, path):
        """The pixels of the image at ``path``: uint8 of shape (3, size, size)."""
        Image = _import_pil_image()
        fmt = IMAGE_FORMATS.get(PurePath(os.fspath(path)).suffix.lower())
        try:
            with Image.open(path, formats=[fmt] if fmt else _ANY_FORMAT) as im:
                im = im.convert("RGB")
        except (OSError, ValueError) as exc:
            # Raised in a DataLoader worker, the message is all that reaches the user.
            raise OSError(f"Cannot decode image file {os.fspath(path)!r}: {exc}") from exc
        im = getattr(self, "_" + self.mode)(im, Image)
        return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1).copy()

    def _resize(self, im, Image):
        if im.size == (self.size, self.size):
            return im
        return im.resize((self.size, self.size), Image.BILINEAR)

    def _resize_center_crop(self, im, Image):
        w, h = im.size
        short = round(self.size / self.crop_fraction)
        # The shorter side becomes `short`; the other keeps the aspect ratio.
        if w <= h:
            new = (short, max(short, round(h * short / w)))
        else:
            new = (max(short, round(w * short / h)), short)
        left, top = (new[0] - self.size) // 2, (new[1] - self.size) // 2
        # Resizing and cropping are one call: the box is in the source's coordinates.
        sx, sy = w / new[0], h / new[1]
        box = (left * sx, top * sy, (left + self.size) * sx, (top + self.size) * sy)
        return im.resize((self.size, self.size), Image.BILINEAR, box=box)

    def _random_resized_crop(self, im, Image):
        w, h = im.size
        left, top, cw, ch = self.crop_window(w, h)
        im = im.resize((self.size, self.size), Image.BILINEAR,
                       box=(left, top, left + cw, top + ch))
        if self.flip and _uniform() < self.flip:
            im = im.transpose(Image.FLIP_LEFT_RIGHT)
        return im

    def crop_window(self, width, height):
        """A random window ``(left, top, width, height)`` of a ``width`` x ``height``
        image, drawn as ``"random_resized_crop"`` draws it."""
        area = width * height
        log_lo, log_hi = math.log(self.ratio[0]), math.log(self.ratio[1])
        for _ in range(10):
            target = area * (self.scale[0] + _uniform() * (self.scale[1] - self.scale[0]))
            aspect = math.exp(log_lo + _uniform() * (log_hi - log_lo))
            cw = round(math.sqrt(target * aspect))
            ch = round(math.sqrt(target / aspect))
            if 0 < cw <= width and 0 < ch <= height:
                return _randint(width - cw + 1), _randint(height - ch + 1), cw, ch
        # No window fitted (a very elongated image): the whole image, or its
        # centred part of the nearest allowed ratio.
        aspect = width / height
        if aspect < self.ratio[0]:
            cw, ch = width, round(width / self.ratio[0])
        elif aspect > self.ratio[1]:
            cw, ch = round(height * self.ratio[1]), height
        else:
            cw, ch = width, height
        return (width - cw) // 2, (height - ch) // 2, cw, ch


# torch's generator, not numpy's: a DataLoader seeds torch in each worker.
def _uniform():
    return float(torch.rand(()))


def _randint(high):
    return int(torch.randint(high, ()))
