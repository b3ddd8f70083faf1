"""Long-tailed versions of standard data sets, and loaders for their official files."""

from ._cifar import load_cifar10, load_cifar100
from ._digits import load_digits_lt
from ._idx import load_fashion_mnist, load_mnist, read_idx
from ._image_folder import load_image_folder
from ._long_tailed import make_long_tailed
from ._split_files import read_inat_json, read_split_file
from ._transforms import ImageTransform

__all__ = [
    "ImageTransform",
    "load_cifar10",
    "load_cifar100",
    "load_digits_lt",
    "load_fashion_mnist",
    "load_image_folder",
    "load_mnist",
    "make_long_tailed",
    "read_idx",
    "read_inat_json",
    "read_split_file",
]
