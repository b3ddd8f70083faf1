import math

import numpy as np
import pytest
import torch
from torch import nn

from sklearn_lt.nn import (
    MLP,
    NormedLinear,
    ResNet10,
    ResNet32,
    ResNeXt50,
    SmallCNN,
    make_network,
)


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def conv_params(cin, cout, k, groups=1):
    return cin // groups * cout * k * k


def bn_params(c):
    return 2 * c


# --------------------------------------------------------------------- ResNet-32


def test_resnet32_parameter_count_matches_he_et_al():
    # Stem, then 3 stages of 5 basic blocks; option-A shortcuts carry no parameters.
    expected = conv_params(3, 16, 3) + bn_params(16)
    in_c = 16
    for c in (16, 32, 64):
        for _ in range(5):
            expected += conv_params(in_c, c, 3) + conv_params(c, c, 3) + 2 * bn_params(c)
            in_c = c
    net = ResNet32()
    assert n_params(net) == expected == 463_504
    # He et al. report 0.46M parameters for ResNet-32 (the 650 of the 10-way fc included).
    assert abs(n_params(net) + 64 * 10 + 10 - 0.46e6) < 0.01e6


def test_resnet32_structure_and_forward():
    net = ResNet32()
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 1 + 3 * 5 * 2  # 32 layers = 31 convolutions + the classifier
    assert all(m.kernel_size == (3, 3) for m in convs)  # no 1x1 projection shortcut
    assert net.out_features == 64
    out = net(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 64)
    assert torch.all(out >= 0)  # average of ReLU outputs
    assert ResNet32(in_channels=1)(torch.randn(2, 1, 32, 32)).shape == (2, 64)


def test_resnet32_option_a_shortcut_subsamples_and_zero_pads():
    block = ResNet32().layer2[0]  # 16 -> 32 channels, stride 2
    x = torch.randn(2, 16, 8, 8)
    out = block.shortcut(x)
    assert out.shape == (2, 32, 4, 4)
    torch.testing.assert_close(out[:, 8:24], x[:, :, ::2, ::2], rtol=0, atol=0)
    assert torch.all(out[:, :8] == 0) and torch.all(out[:, 24:] == 0)


def test_resnet32_kaiming_normal_init():
    torch.manual_seed(0)
    w = ResNet32().layer3[1].conv1.weight.detach()  # 64x64x3x3, fan_in = 576
    assert abs(w.mean().item()) < 0.01
    assert w.std().item() == pytest.approx(math.sqrt(2.0 / 576), rel=0.03)


def test_resnet32_rejects_decreasing_widths():
    with pytest.raises(ValueError, match="non-decreasing"):
        ResNet32(widths=(32, 16, 64))
    with pytest.raises(ValueError, match="3 entries"):
        ResNet32(widths=(16, 32))


# ------------------------------------------------------------------ small nets


def test_small_cnn_shapes_and_parameter_count():
    net = SmallCNN()
    expected = (conv_params(1, 32, 3) + bn_params(32) + conv_params(32, 64, 3) + bn_params(64)
                + 64 * 4 * 4 * 128 + 128)
    assert n_params(net) == expected
    assert net.out_features == 128
    assert net(torch.randn(3, 1, 28, 28)).shape == (3, 128)
    assert net(torch.randn(3, 1, 8, 8)).shape == (3, 128)
    assert net(torch.randn(3, 1, 13, 29)).shape == (3, 128)
    assert SmallCNN(in_channels=3, widths=(8, 16, 32), out_features=10)(
        torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_small_cnn_trains_one_step():
    torch.manual_seed(0)
    net = SmallCNN()
    head = nn.Linear(net.out_features, 10)
    opt = torch.optim.SGD([*net.parameters(), *head.parameters()], lr=0.1)
    x, y = torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))
    losses = []
    for _ in range(5):
        loss = nn.functional.cross_entropy(head(net(x)), y)
        opt.zero_grad()
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in net.parameters())
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_mlp_flattens_input_and_counts_parameters():
    net = MLP(64).eval()
    x = torch.randn(5, 1, 8, 8)
    torch.testing.assert_close(net(x), net(x.reshape(5, 64)))
    assert net.out_features == 128
    # Linear layers have no bias before batch-norm.
    assert n_params(net) == 64 * 256 + bn_params(256) + 256 * 128 + bn_params(128)
    plain = MLP(10, hidden=(7,), batch_norm=False)
    assert n_params(plain) == 10 * 7 + 7
    assert not any(isinstance(m, nn.BatchNorm1d) for m in plain.modules())
    assert torch.all(plain(torch.randn(4, 10)) >= 0)


def test_mlp_empty_hidden_is_identity_and_dropout_is_used():
    net = MLP(6, hidden=())
    x = torch.randn(3, 2, 3)
    assert net.out_features == 6
    torch.testing.assert_close(net(x), x.reshape(3, 6))
    drop = MLP(6, hidden=(4,), dropout=0.5)
    assert any(isinstance(m, nn.Dropout) and m.p == 0.5 for m in drop.modules())


def test_mlp_wrong_width_is_a_clear_error():
    with pytest.raises(ValueError, match="expects 64 features .* got 63"):
        MLP(64)(torch.randn(2, 63))
    with pytest.raises(ValueError, match="dropout"):
        MLP(4, dropout=1.0)


# --------------------------------------------------------- ImageNet backbones


def test_resnet10_parameter_count_and_forward():
    net = ResNet10()
    expected = conv_params(3, 64, 7) + bn_params(64)
    in_c = 64
    for c in (64, 128, 256, 512):
        expected += conv_params(in_c, c, 3) + conv_params(c, c, 3) + 2 * bn_params(c)
        if in_c != c:  # projection shortcut
            expected += conv_params(in_c, c, 1) + bn_params(c)
        in_c = c
    assert n_params(net) == expected
    assert abs(expected - 4.9e6) < 0.01e6
    assert net.out_features == 512
    assert net(torch.randn(2, 3, 64, 64)).shape == (2, 512)


def test_resnext50_parameter_count_and_forward():
    net = ResNeXt50()
    # torchvision's resnext50_32x4d has 25,028,904 parameters including the
    # 2048 x 1000 fc with bias; the feature extractor has the rest.
    assert n_params(net) == 25_028_904 - (2048 * 1000 + 1000)
    assert net.out_features == 2048
    first = net.layer1[0]
    assert first.conv2.groups == 32 and first.conv2.out_channels == 128  # 32 groups x 4d
    assert net.layer4[0].conv2.out_channels == 1024
    with torch.no_grad():
        assert net.eval()(torch.randn(1, 3, 64, 64)).shape == (1, 2048)


# ----------------------------------------------------------------- cosine head


def test_normed_linear_gives_cosines():
    torch.manual_seed(0)
    head = NormedLinear(5, 3)
    assert head.weight.shape == (3, 5)
    x = torch.randn(4, 5)
    xn = x.numpy() / np.linalg.norm(x.numpy(), axis=1, keepdims=True)
    w = head.weight.detach().numpy()
    wn = w / np.linalg.norm(w, axis=1, keepdims=True)
    out = head(x)
    # float32 normalisation and a 5-term dot product of unit vectors against a
    # float64 reference: errors of a few 1e-7, so 1e-5 / 1e-6 is ample.
    np.testing.assert_allclose(out.detach().numpy(), xn @ wn.T, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(head(7.0 * x), out)  # invariant to the feature norm
    out.sum().backward()
    assert torch.isfinite(head.weight.grad).all() and head.weight.grad.abs().sum() > 0


# --------------------------------------------------------------------- factory


@pytest.mark.parametrize(
    "shape, cls",
    [
        ((3, 32, 32), ResNet32),
        ((1, 28, 28), SmallCNN),
        ((3, 20, 20), SmallCNN),
        ((3, 48, 48), SmallCNN),
        ((3, 64, 64), ResNet10),
        ((3, 224, 224), ResNet10),
        ((20,), MLP),
        ((4, 5), MLP),
    ],
)
def test_make_network_auto(shape, cls):
    net = make_network("auto", shape)
    assert type(net) is cls


def test_make_network_derives_input_size_and_forwards_kwargs():
    net = make_network("resnet32", (1, 32, 32))
    assert net.conv1.in_channels == 1
    assert make_network("cnn", (2, 28, 28)).features[0].in_channels == 2
    mlp = make_network("mlp", (1, 8, 8), hidden=(7,))
    assert mlp.in_features == 64 and mlp.out_features == 7
    assert make_network("RESNET10", (3, 64, 64)).conv1.in_channels == 3


def test_make_network_errors():
    with pytest.raises(ValueError, match="'resnet32'.*'resnext50'"):
        make_network("vgg", (3, 32, 32))
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        make_network("resnet32", (10,))
    with pytest.raises(TypeError, match="derived from input_shape"):
        make_network("mlp", (10,), in_features=5)
    with pytest.raises(ValueError, match="input_shape"):
        make_network("mlp", (10, 0))
    with pytest.raises(TypeError, match="spec"):
        make_network(42, (10,))


class _NoOutFeatures(nn.Module):
    def __init__(self, width=3):
        super().__init__()
        self.lin = nn.Linear(4, width)
        self.bn = nn.BatchNorm1d(width)

    def forward(self, x):
        return self.bn(self.lin(x))


def test_make_network_infers_out_features_of_custom_modules():
    net = make_network(_NoOutFeatures, (4,), width=6)
    assert net.out_features == 6
    assert net.training  # mode restored after the eval-mode dry run
    assert net.bn.num_batches_tracked.item() == 0  # statistics untouched
    inst = _NoOutFeatures(5)
    assert make_network(inst, (4,)) is inst and inst.out_features == 5
    seq = make_network(nn.Sequential(nn.Flatten(), nn.Linear(12, 9)), (3, 4))
    assert seq.out_features == 9


def test_make_network_custom_module_errors():
    with pytest.raises(TypeError, match="already built"):
        make_network(_NoOutFeatures(), (4,), width=3)
    with pytest.raises(ValueError, match=r"\(n_samples, d\)"):
        make_network(nn.Conv2d(1, 2, 3), (1, 8, 8))
    bad = nn.Linear(3, 2)
    bad.out_features = 0
    with pytest.raises(ValueError, match="out_features"):
        make_network(bad, (3,))
