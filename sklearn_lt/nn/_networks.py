"""Feature extractors (backbones) and classifier heads.

Every network here maps a batch to a feature matrix of shape ``(n_samples, d)``
and exposes ``d`` as the int attribute ``out_features``; the classifier head is a
separate module, so that the representation and the classifier can be learned
(and re-learned) separately as in Kang et al. (2020).

References
----------
K. He, X. Zhang, S. Ren, J. Sun. "Deep residual learning for image recognition",
CVPR 2016 (ResNet-32 for CIFAR with the option-A shortcut; ResNet-10 from the
ImageNet family).
S. Xie, R. Girshick, P. Dollar, Z. Tu, K. He. "Aggregated residual
transformations for deep neural networks", CVPR 2017 (ResNeXt-50 32x4d).
K. Cao, C. Wei, A. Gaidon, N. Arechiga, T. Ma. "Learning imbalanced datasets
with label-distribution-aware margin loss", NeurIPS 2019 (ResNet-32 recipe,
cosine classifier ``NormedLinear``).
B. Kang, S. Xie, M. Rohrbach, Z. Yan, A. Gordo, J. Feng, Y. Kalantidis.
"Decoupling representation and classifier for long-tailed recognition",
ICLR 2020 (ResNet-10 / ResNeXt-50 backbones on ImageNet-LT).
"""

import math
import numbers

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "MLP",
    "NormedLinear",
    "ResNet10",
    "ResNet32",
    "ResNeXt50",
    "SmallCNN",
    "make_network",
]


def _kaiming_init(module, *, mode="fan_in"):
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode=mode, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def _use_channels_last(module):
    # oneDNN (CPU) and cuDNN convolutions are faster on NHWC tensors; moving
    # the module with ``.to(device)`` keeps this layout.
    module.to(memory_format=torch.channels_last)


def _channels_last(x):
    if x.ndim == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return int(value)


# ---------------------------------------------------------------------------
# CIFAR ResNet-32 (He et al. 2016, Section 4.2; the LDAM-DRW backbone)
# ---------------------------------------------------------------------------


class _ZeroPadShortcut(nn.Module):
    """Parameter-free "option A" shortcut: subsample, then zero-pad channels.

    He et al. use it for the CIFAR ResNets so that ResNet-32 keeps exactly the
    0.46M parameters reported there; a 1x1 projection would add parameters.
    """

    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.stride = stride
        self.pad_front = (planes - in_planes) // 2
        self.pad_back = planes - in_planes - self.pad_front

    def forward(self, x):
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.pad_front or self.pad_back:
            x = F.pad(x, (0, 0, 0, 0, self.pad_front, self.pad_back))
        return x


class _CifarBasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride != 1 or in_planes != planes:
            self.shortcut = _ZeroPadShortcut(in_planes, planes, stride)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet32(nn.Module):
    """ResNet-32 for 32x32 images (He et al., 2016), as used by LDAM-DRW.

    A 3x3 convolution with ``widths[0]`` channels, then three stages of
    ``num_blocks`` basic blocks with ``widths`` channels and strides 1/2/2,
    then global average pooling. Shortcuts that change the shape use the
    parameter-free option A of He et al. (stride-2 subsampling and zero-padded
    channels), as in Cao et al.'s code. Convolution weights are Kaiming-normal
    and kept in the channels-last layout (faster convolutions).

    Parameters
    ----------
    in_channels : int, default=3
        Channels of the input images.
    num_blocks : int, default=5
        Basic blocks per stage; the depth is ``6 * num_blocks + 2`` (5 -> 32).
    widths : tuple of 3 int, default=(16, 32, 64)
        Channels of the three stages; must be non-decreasing because option A
        can only add (zero) channels.

    Attributes
    ----------
    out_features : int
        Feature dimension, ``widths[-1]`` (64 by default).

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.nn import ResNet32
    >>> net = ResNet32()
    >>> net(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 64])
    """

    def __init__(self, in_channels=3, num_blocks=5, widths=(16, 32, 64)):
        super().__init__()
        in_channels = _check_positive_int(in_channels, "in_channels")
        num_blocks = _check_positive_int(num_blocks, "num_blocks")
        widths = tuple(_check_positive_int(w, "widths[i]") for w in widths)
        if len(widths) != 3:
            raise ValueError(f"widths must have 3 entries, got {widths!r}.")
        if any(b < a for a, b in zip(widths, widths[1:])):
            raise ValueError(
                f"widths must be non-decreasing for zero-padding shortcuts, got {widths!r}."
            )
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        stages = []
        in_planes = widths[0]
        for planes, stride in zip(widths, (1, 2, 2)):
            blocks = []
            for i in range(num_blocks):
                blocks.append(_CifarBasicBlock(in_planes, planes, stride if i == 0 else 1))
                in_planes = planes
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.out_features = widths[-1]
        _kaiming_init(self)
        _use_channels_last(self)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(_channels_last(x))))
        out = self.layer3(self.layer2(self.layer1(out)))
        return torch.flatten(F.adaptive_avg_pool2d(out, 1), 1)


# ---------------------------------------------------------------------------
# Small networks for 28x28 images and for tabular / flattened inputs
# ---------------------------------------------------------------------------


class SmallCNN(nn.Module):
    """A small convolutional feature extractor for MNIST-sized images.

    One ``conv3x3 - maxpool(2) - BatchNorm - ReLU`` block per entry of
    ``widths``, an adaptive average pooling to ``pooled_size x pooled_size``
    (so any input size works; the fully connected layer stays small), then a
    linear layer with ReLU to ``out_features``. With the defaults on 28x28 inputs
    this is 0.15M parameters; weights and inputs use the channels-last layout,
    which is the fast one for CPU convolutions.

    Parameters
    ----------
    in_channels : int, default=1
        Channels of the input images.
    widths : tuple of int, default=(32, 64)
        Channels of the convolutional blocks.
    out_features : int, default=128
        Feature dimension.
    pooled_size : int, default=4
        Spatial size after the adaptive pooling. Inputs smaller than
        ``2 ** len(widths) * pooled_size`` pixels a side are still accepted
        (pooling then repeats values); 8x8 is the smallest sensible input.

    Attributes
    ----------
    out_features : int
        Feature dimension.

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.nn import SmallCNN
    >>> SmallCNN()(torch.zeros(3, 1, 28, 28)).shape
    torch.Size([3, 128])
    """

    def __init__(self, in_channels=1, widths=(32, 64), out_features=128, pooled_size=4):
        super().__init__()
        in_channels = _check_positive_int(in_channels, "in_channels")
        widths = tuple(_check_positive_int(w, "widths[i]") for w in widths)
        if not widths:
            raise ValueError("widths must contain at least one convolutional width.")
        out_features = _check_positive_int(out_features, "out_features")
        pooled_size = _check_positive_int(pooled_size, "pooled_size")
        layers = []
        c = in_channels
        for w in widths:
            layers += [
                nn.Conv2d(c, w, 3, padding=1, bias=False),
                # Pooling before batch-norm and ReLU runs them on 4x fewer values
                # (2.5x faster training on a CPU); ceil_mode keeps odd and tiny
                # sizes (7 -> 4, 1 -> 1) valid.
                nn.MaxPool2d(2, ceil_mode=True),
                nn.BatchNorm2d(w),
                nn.ReLU(inplace=True),
            ]
            c = w
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(pooled_size)
        self.fc = nn.Linear(c * pooled_size * pooled_size, out_features)
        self.out_features = out_features
        _kaiming_init(self)
        _use_channels_last(self)

    def forward(self, x):
        out = self.pool(self.features(_channels_last(x)))
        return F.relu(self.fc(torch.flatten(out, 1)))


class MLP(nn.Module):
    """Multi-layer perceptron feature extractor.

    Each hidden layer is ``Linear - [BatchNorm1d] - ReLU - [Dropout]``; the
    features are the activations of the last hidden layer. The input is
    flattened inside ``forward``, so ``(n, 1, 8, 8)`` and ``(n, 64)`` both work.

    Parameters
    ----------
    in_features : int
        Number of input features after flattening.
    hidden : tuple of int, default=(256, 128)
        Widths of the hidden layers. An empty tuple gives the identity on the
        flattened input (``out_features == in_features``).
    dropout : float, default=0.0
        Dropout probability after each hidden activation.
    batch_norm : bool, default=True
        Whether to batch-normalise each hidden layer. Note that batch
        normalisation cannot train on a batch of a single sample.

    Attributes
    ----------
    out_features : int
        Feature dimension, ``hidden[-1]``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.nn import MLP
    >>> MLP(64)(torch.zeros(5, 1, 8, 8)).shape
    torch.Size([5, 128])
    """

    def __init__(self, in_features, hidden=(256, 128), dropout=0.0, batch_norm=True):
        super().__init__()
        in_features = _check_positive_int(in_features, "in_features")
        hidden = tuple(_check_positive_int(h, "hidden[i]") for h in hidden)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}.")
        layers = []
        d = in_features
        for h in hidden:
            layers.append(nn.Linear(d, h, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(nn.ReLU(inplace=True))
            if dropout > 0:
                layers.append(nn.Dropout(float(dropout)))
            d = h
        self.in_features = in_features
        self.layers = nn.Sequential(*layers)
        self.out_features = d
        _kaiming_init(self)

    def forward(self, x):
        x = torch.flatten(x, 1)
        if x.shape[1] != self.in_features:
            raise ValueError(
                f"MLP expects {self.in_features} features per sample after flattening, "
                f"got {x.shape[1]}."
            )
        return self.layers(x)


# ---------------------------------------------------------------------------
# ImageNet-size ResNet-10 and ResNeXt-50 32x4d (Kang et al.'s ImageNet-LT backbones)
# ---------------------------------------------------------------------------


def _projection(in_planes, planes, stride):
    return nn.Sequential(
        nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
    )


class _BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride, groups=1, base_width=64):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        need_proj = stride != 1 or in_planes != planes
        self.downsample = _projection(in_planes, planes, stride) if need_proj else nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.downsample(x))


class _Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_planes, planes, stride, groups=1, base_width=64):
        super().__init__()
        # ResNeXt "C x (base_width)d": the grouped 3x3 has C * base_width channels
        # at the first stage and doubles with the stage, like ``planes``.
        width = int(planes * (base_width / 64.0)) * groups
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv2d(in_planes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        need_proj = stride != 1 or in_planes != out_planes
        self.downsample = (
            _projection(in_planes, out_planes, stride) if need_proj else nn.Identity()
        )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + self.downsample(x))


class _ImageNetResNet(nn.Module):
    """ResNet/ResNeXt trunk with the ImageNet stem (7x7/2 conv + 3x3/2 max-pool)."""

    def __init__(self, block, layers, *, in_channels=3, groups=1, base_width=64):
        super().__init__()
        in_channels = _check_positive_int(in_channels, "in_channels")
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_planes = 64
        stages = []
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), layers)):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(block(in_planes, planes, stride, groups, base_width))
                in_planes = planes * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.out_features = in_planes
        _kaiming_init(self, mode="fan_out")

    def forward(self, x):
        out = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return torch.flatten(F.adaptive_avg_pool2d(out, 1), 1)


class ResNet10(_ImageNetResNet):
    """ResNet-10 (basic blocks ``[1, 1, 1, 1]``) with the ImageNet stem; 512-d features.

    The smaller of the ImageNet-LT backbones of Liu et al. (2019) and Kang et
    al. (2020); about 4.9M parameters without the classifier.

    Parameters
    ----------
    in_channels : int, default=3
        Channels of the input images.

    Attributes
    ----------
    out_features : int
        512.

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.nn import ResNet10
    >>> ResNet10()(torch.zeros(2, 3, 64, 64)).shape
    torch.Size([2, 512])
    """

    def __init__(self, in_channels=3):
        super().__init__(_BasicBlock, (1, 1, 1, 1), in_channels=in_channels)


class ResNeXt50(_ImageNetResNet):
    """ResNeXt-50 32x4d (bottlenecks ``[3, 4, 6, 3]``, 32 groups); 2048-d features.

    The main ImageNet-LT backbone of Kang et al. (2020); about 23.0M parameters
    without the classifier.

    Parameters
    ----------
    in_channels : int, default=3
        Channels of the input images.

    Attributes
    ----------
    out_features : int
        2048.

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.nn import ResNeXt50
    >>> ResNeXt50()(torch.zeros(1, 3, 64, 64)).shape
    torch.Size([1, 2048])
    """

    def __init__(self, in_channels=3):
        super().__init__(
            _Bottleneck, (3, 4, 6, 3), in_channels=in_channels, groups=32, base_width=4
        )


# ---------------------------------------------------------------------------
# Classifier head
# ---------------------------------------------------------------------------


class NormedLinear(nn.Module):
    """Cosine classifier: logits ``x_hat @ w_hat.T`` with unit-norm rows.

    Each logit is the cosine between the feature and the class weight, so it
    lies in ``[-1, 1]``; as in Cao et al.'s code, the scale ``s`` (30 for LDAM)
    is applied by the loss, not here. There is no bias. ``weight`` has the
    ``nn.Linear`` layout ``(out_features, in_features)``.

    Parameters
    ----------
    in_features : int
        Feature dimension.
    out_features : int
        Number of classes.

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.nn import NormedLinear
    >>> head = NormedLinear(4, 3)
    >>> logits = head(torch.randn(5, 4))
    >>> bool(logits.abs().max() <= 1 + 1e-6)
    True
    """

    def __init__(self, in_features, out_features):
        super().__init__()
        self.in_features = _check_positive_int(in_features, "in_features")
        self.out_features = _check_positive_int(out_features, "out_features")
        self.weight = nn.Parameter(torch.empty(self.out_features, self.in_features))
        self.reset_parameters()

    def reset_parameters(self):
        # Uniform directions of unit norm; only the direction matters for the logits.
        with torch.no_grad():
            self.weight.uniform_(-1.0, 1.0)
            self.weight.div_(self.weight.norm(dim=1, keepdim=True).clamp_min(1e-12))

    def forward(self, x):
        return F.normalize(x, dim=1) @ F.normalize(self.weight, dim=1).t()

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}"


# ---------------------------------------------------------------------------
# Factory
# ---------------------------------------------------------------------------

_NETWORKS = {
    "resnet32": ResNet32,
    "cnn": SmallCNN,
    "mlp": MLP,
    "resnet10": ResNet10,
    "resnext50": ResNeXt50,
}


def _auto_spec(input_shape):
    if len(input_shape) != 3:
        return "mlp"
    _, h, w = input_shape
    if min(h, w) >= 64:
        return "resnet10"
    if h == w == 32:
        return "resnet32"
    return "cnn"


def _infer_out_features(module, input_shape):
    ref = next(iter(module.parameters()), None)
    if ref is None:
        ref = next(iter(module.buffers()), None)
    device = ref.device if ref is not None else torch.device("cpu")
    dtype = ref.dtype if ref is not None and ref.is_floating_point() else torch.float32
    was_training = module.training
    module.eval()  # no batch-norm statistics are touched by the dry run
    try:
        with torch.no_grad():
            out = module(torch.zeros((2, *input_shape), device=device, dtype=dtype))
    finally:
        module.train(was_training)
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != 2:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"A custom network must return features of shape (n_samples, d); on an input "
            f"of shape {(2, *input_shape)} {type(module).__name__} returned {shape}."
        )
    return int(out.shape[1])


def make_network(spec, input_shape, **kwargs):
    """Build a feature extractor from a name, a module class or a module.

    Parameters
    ----------
    spec : {"auto", "resnet32", "cnn", "mlp", "resnet10", "resnext50"}, \
            nn.Module subclass or nn.Module instance
        Which network to build. ``"auto"`` picks by ``input_shape``:

        - anything but ``(C, H, W)`` (e.g. ``(n_features,)``) -> ``"mlp"``
          on the flattened input;
        - ``min(H, W) >= 64`` -> ``"resnet10"`` (ImageNet stem);
        - exactly 32x32 -> ``"resnet32"`` (CIFAR);
        - any other image (28x28 MNIST-like and other small sizes) -> ``"cnn"``.

        A class is instantiated as ``spec(**kwargs)``; an instance is used as is.
        Custom modules must return features of shape ``(n_samples, d)``.
    input_shape : tuple of int
        Shape of one sample, without the batch dimension: ``(C, H, W)`` for
        images, ``(n_features,)`` for vectors. The built-in networks derive
        ``in_channels`` (``C``) or ``in_features`` (the product of the shape)
        from it.
    **kwargs
        Extra constructor arguments of the chosen network (e.g. ``hidden`` for
        ``"mlp"``, ``widths`` for ``"cnn"``).

    Returns
    -------
    module : nn.Module
        The feature extractor, with an int attribute ``out_features``. When a
        custom module lacks it, ``d`` is inferred by one forward pass (in eval
        mode, without gradients) on a zero batch of two samples of
        ``input_shape`` and stored as ``module.out_features``.

    Examples
    --------
    >>> from sklearn_lt.nn import make_network
    >>> type(make_network("auto", (3, 32, 32))).__name__
    'ResNet32'
    >>> make_network("auto", (20,), hidden=(16,)).out_features
    16
    """
    try:
        input_shape = tuple(_check_positive_int(s, "input_shape[i]") for s in input_shape)
    except TypeError:
        raise ValueError(f"input_shape must be a tuple of ints, got {input_shape!r}.") from None
    if not input_shape:
        raise ValueError("input_shape must not be empty.")

    if isinstance(spec, str):
        name = spec.lower()
        if name == "auto":
            name = _auto_spec(input_shape)
        if name not in _NETWORKS:
            choices = ", ".join(repr(k) for k in ["auto", *_NETWORKS])
            raise ValueError(f"Unknown network {spec!r}; choose one of {choices}, "
                             "an nn.Module subclass or an nn.Module instance.")
        for derived in ("in_channels", "in_features"):
            if derived in kwargs:
                raise TypeError(f"{derived} is derived from input_shape; do not pass it.")
        if name == "mlp":
            return MLP(in_features=math.prod(input_shape), **kwargs)
        if len(input_shape) != 3:
            raise ValueError(
                f"Network {name!r} needs image inputs of shape (C, H, W), got input_shape "
                f"{input_shape}."
            )
        return _NETWORKS[name](in_channels=input_shape[0], **kwargs)

    if isinstance(spec, type) and issubclass(spec, nn.Module):
        module = spec(**kwargs)
    elif isinstance(spec, nn.Module):
        if kwargs:
            raise TypeError(
                f"Extra arguments {sorted(kwargs)} cannot be applied to an already built "
                "module; pass the class instead."
            )
        module = spec
    else:
        raise TypeError(
            f"spec must be a network name, an nn.Module subclass or instance; got {spec!r}."
        )

    d = getattr(module, "out_features", None)
    if d is None:
        module.out_features = _infer_out_features(module, input_shape)
    elif isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1:
        raise ValueError(
            f"{type(module).__name__}.out_features must be a positive int, got {d!r}."
        )
    return module
