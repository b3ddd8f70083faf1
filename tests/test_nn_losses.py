"""Losses against hand-written NumPy versions of the published formulas."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import sklearn_lt.losses as public_losses
import sklearn_lt.nn
from sklearn_lt.nn import (
    BalancedSoftmaxLoss,
    ClassBalancedLoss,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    drw_weights,
    effective_number_weights,
    make_loss,
)

# Three samples, three classes; the second one is misclassified.
Z = np.array([[2.0, -1.0, 0.5], [0.3, 1.2, -0.4], [-0.5, 0.1, 0.9]])
Y = np.array([0, 2, 2])
COUNTS = np.array([100, 10, 1])


def _t(a, dtype=torch.float32):
    return torch.tensor(a, dtype=dtype)


def np_log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def np_ce_per_sample(z, y):
    return -np_log_softmax(z)[np.arange(len(y)), y]


def np_focal_per_sample(z, y, gamma):
    p = np.exp(np_log_softmax(z))[np.arange(len(y)), y]
    return (1 - p) ** gamma * -np.log(p)


def np_effective_weights(counts, beta):
    w = (1 - beta) / (1 - beta ** np.asarray(counts, dtype=float))
    return w * len(counts) / w.sum()


# ------------------------------------------------------------------- focal


def test_focal_loss_by_hand_two_samples():
    # p_y = e^2/(e^2+1) and 1/(1+e); loss = mean((1-p)^2 * -log p).
    p1, p2 = np.e**2 / (np.e**2 + 1), 1 / (1 + np.e)
    expected = ((1 - p1) ** 2 * -np.log(p1) + (1 - p2) ** 2 * -np.log(p2)) / 2
    loss = FocalLoss(gamma=2.0)(_t([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0])
def test_focal_loss_matches_formula(gamma):
    loss = FocalLoss(gamma=gamma)(_t(Z), torch.tensor(Y))
    assert loss.item() == pytest.approx(np_focal_per_sample(Z, Y, gamma).mean(), rel=1e-5)


def test_focal_gamma_zero_is_cross_entropy():
    z, y = _t(Z), torch.tensor(Y)
    expected = F.cross_entropy(z, y).item()
    assert FocalLoss(gamma=0.0)(z, y).item() == pytest.approx(expected, rel=1e-6)


def test_weighted_focal_divides_by_batch_size():
    w = np.array([0.2, 1.0, 3.0])
    per = np_focal_per_sample(Z, Y, 1.0)
    loss = FocalLoss(gamma=1.0, weight=w)(_t(Z), torch.tensor(Y))
    assert loss.item() == pytest.approx((w[Y] * per).sum() / len(Y), rel=1e-5)
    # ... which is not torch's weighted mean (divided by the sum of weights).
    assert loss.item() != pytest.approx((w[Y] * per).sum() / w[Y].sum(), rel=1e-3)


# -------------------------------------------------------- effective number


def test_effective_number_weights_formula():
    for beta in (0.0, 0.5, 0.9, 0.999, 0.9999):
        w = effective_number_weights(COUNTS, beta)
        np.testing.assert_allclose(w, np_effective_weights(COUNTS, beta), rtol=1e-10)
        assert w.sum() == pytest.approx(3.0)
    # beta = 0: no re-weighting; beta -> 1: inverse class frequency.
    np.testing.assert_allclose(effective_number_weights(COUNTS, 0.0), np.ones(3))
    inv = 1.0 / COUNTS
    np.testing.assert_allclose(effective_number_weights(COUNTS, 1 - 1e-9), inv * 3 / inv.sum(),
                               rtol=1e-6)
    # By hand for [100, 10, 1], beta = 0.9: raw weights 0.1/(1-0.9^n).
    raw = np.array([0.1 / (1 - 0.9**100), 0.1 / (1 - 0.9**10), 1.0])
    np.testing.assert_allclose(effective_number_weights(COUNTS, 0.9), 3 * raw / raw.sum())


def test_effective_number_weights_reproduce_jamal_et_al_cifar10_lt_example():
    # Jamal et al. (CVPR 2020) list w_y for CIFAR-10-LT; they are reproduced by the
    # imbalance-factor-10 profile n_i = int(5000 * 0.1 ** (i / 9)) with
    # beta = 0.9999 and sum_j w_j = C, to within 0.005 (the listed values sum to
    # 9.994, so they carry rounding/transcription slack; 1.4328 vs 1.4375 is the
    # largest gap).
    published = [0.2923, 0.3583, 0.4441, 0.5551, 0.6995, 0.8860, 1.1265, 1.4328, 1.8409, 2.3588]
    counts = [int(5000 * 0.1 ** (i / 9)) for i in range(10)]
    assert counts == [5000, 3871, 2997, 2320, 1796, 1391, 1077, 834, 645, 500]
    w = effective_number_weights(counts, beta=0.9999)
    np.testing.assert_allclose(w, published, atol=5e-3)
    assert np.abs(w - published).max() > 1e-3  # not exact: see above


def test_drw_weights_schedule():
    assert drw_weights(COUNTS, epoch=0, drw_epoch=160) is None
    assert drw_weights(COUNTS, epoch=159, drw_epoch=160) is None
    for epoch in (160, 199):
        np.testing.assert_allclose(drw_weights(COUNTS, epoch, 160),
                                   np_effective_weights(COUNTS, 0.9999))
    np.testing.assert_allclose(drw_weights(COUNTS, 5, 5, beta=0.9),
                               np_effective_weights(COUNTS, 0.9))
    with pytest.raises(ValueError, match="epoch"):
        drw_weights(COUNTS, -1, 160)


# ----------------------------------------------------------- class-balanced


@pytest.mark.parametrize("loss_type, gamma", [("ce", 0.0), ("focal", 1.0), ("focal", 2.0)])
def test_class_balanced_loss_formula(loss_type, gamma):
    beta = 0.99
    w = np_effective_weights(COUNTS, beta)
    expected = (w[Y] * np_focal_per_sample(Z, Y, gamma)).sum() / len(Y)
    loss_fn = ClassBalancedLoss(COUNTS, beta=beta, loss_type=loss_type, gamma=gamma or 1.0)
    assert loss_fn(_t(Z), torch.tensor(Y)).item() == pytest.approx(expected, rel=1e-5)
    np.testing.assert_allclose(loss_fn.weight.numpy(), w, rtol=1e-6)


def test_class_balanced_loss_errors():
    with pytest.raises(ValueError, match="loss_type"):
        ClassBalancedLoss(COUNTS, loss_type="sigmoid")
    with pytest.raises(ValueError, match="beta"):
        ClassBalancedLoss(COUNTS, beta=1.0)
    with pytest.raises(ValueError, match="positive"):
        ClassBalancedLoss([5, 0, 3])


# --------------------------------------------------------------------- LDAM


def test_ldam_margins_for_100_10_1():
    m = LDAMLoss(COUNTS).margins.numpy()
    expected = 0.5 * np.array([100, 10, 1]) ** -0.25 / 1.0 ** -0.25
    np.testing.assert_allclose(m, expected, rtol=1e-6)
    np.testing.assert_allclose(m, [0.5 / np.sqrt(10), 0.5 / 10**0.25, 0.5], rtol=1e-6)
    assert m.argmax() == 2 and m.max() == pytest.approx(0.5)
    assert LDAMLoss([1, 16], max_margin=0.8).margins.numpy() == pytest.approx([0.8, 0.4])


def np_ldam_per_sample(z, y, counts, max_m, s):
    m = np.asarray(counts, dtype=float) ** -0.25
    m = m * max_m / m.max()
    zz = z.copy()
    zz[np.arange(len(y)), y] -= m[y]
    return np_ce_per_sample(s * zz, y)


def test_ldam_loss_formula_and_drw_weights():
    z, y = _t(Z), torch.tensor(Y)
    per = np_ldam_per_sample(Z, Y, COUNTS, 0.5, 30.0)
    loss_fn = LDAMLoss(COUNTS)
    assert loss_fn(z, y).item() == pytest.approx(per.mean(), rel=1e-5)
    w = np.array([0.3, 0.7, 2.0])
    loss_fn.set_weight(w)
    # Weighted as torch/Cao et al.: divided by the sum of the batch's weights.
    assert loss_fn(z, y).item() == pytest.approx((w[Y] * per).sum() / w[Y].sum(), rel=1e-5)
    loss_fn.set_weight(None)
    assert loss_fn(z, y).item() == pytest.approx(per.mean(), rel=1e-5)
    per1 = np_ldam_per_sample(Z, Y, COUNTS, 0.2, 1.0)
    assert LDAMLoss(COUNTS, max_margin=0.2, scale=1.0, weight=w)(z, y).item() == pytest.approx(
        (w[Y] * per1).sum() / w[Y].sum(), rel=1e-5)


def test_ldam_without_margin_is_scaled_cross_entropy():
    z, y = _t(Z), torch.tensor(Y)
    loss = LDAMLoss(COUNTS, max_margin=0.0, scale=2.0)(z, y)
    assert loss.item() == pytest.approx(np_ce_per_sample(2.0 * Z, Y).mean(), rel=1e-5)


def test_ldam_only_the_target_logit_is_shifted():
    # Shifting all logits of a row by a constant leaves CE unchanged, so raising the
    # non-target logits by Delta_y instead of lowering the target gives the same loss
    # only if the margin is applied to the target alone.
    z = _t(Z)
    y = torch.tensor(Y)
    m = LDAMLoss(COUNTS, scale=1.0).margins
    alt = z + m[y][:, None] * (1 - F.one_hot(y, 3).float())
    assert LDAMLoss(COUNTS, scale=1.0)(z, y).item() == pytest.approx(
        F.cross_entropy(alt, y).item(), rel=1e-6)


def test_ldam_set_weight_validates():
    loss_fn = LDAMLoss(COUNTS)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        loss_fn.set_weight([1.0, 2.0])
    with pytest.raises(ValueError, match="non-negative"):
        loss_fn.set_weight([1.0, -2.0, 1.0])


# -------------------------------------------------- logit adjustment / BSM


@pytest.mark.parametrize("tau", [0.0, 0.5, 1.0, 2.0])
def test_logit_adjusted_loss_formula(tau):
    prior = COUNTS / COUNTS.sum()
    expected = np_ce_per_sample(Z + tau * np.log(prior), Y).mean()
    loss = LogitAdjustedLoss(COUNTS, tau=tau)(_t(Z), torch.tensor(Y))
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_balanced_softmax_is_ren_et_al_form():
    # Ren et al.: -log(n_y e^{z_y} / sum_j n_j e^{z_j}).
    num = COUNTS[Y] * np.exp(Z[np.arange(3), Y])
    den = (COUNTS * np.exp(Z)).sum(axis=1)
    expected = -np.log(num / den).mean()
    z, y = _t(Z), torch.tensor(Y)
    assert BalancedSoftmaxLoss(COUNTS)(z, y).item() == pytest.approx(expected, rel=1e-5)
    assert LogitAdjustedLoss(COUNTS, tau=1.0)(z, y).item() == pytest.approx(expected, rel=1e-5)


# ------------------------------------------------------------- shared checks


ALL_LOSSES = [
    lambda: FocalLoss(gamma=0.5),
    lambda: FocalLoss(gamma=2.0, weight=[1.0, 2.0, 3.0]),
    lambda: ClassBalancedLoss(COUNTS, loss_type="focal", gamma=0.5),
    lambda: ClassBalancedLoss(COUNTS),
    lambda: LDAMLoss(COUNTS, weight=[1.0, 2.0, 3.0]),
    lambda: LogitAdjustedLoss(COUNTS, tau=1.5),
    lambda: BalancedSoftmaxLoss(COUNTS),
]
# All but the unweighted focal loss know the number of classes.
CLASS_AWARE_LOSSES = ALL_LOSSES[1:]


@pytest.mark.parametrize("factory", ALL_LOSSES)
def test_gradients_finite_even_for_saturated_logits(factory):
    loss_fn = factory()
    # Row 0 is classified with p_y == 1 in float32, where (1 - p)^gamma with
    # gamma < 1 has an infinite derivative.
    z = torch.tensor([[200.0, -200.0, 0.0], [0.3, 1.2, -0.4], [-50.0, 0.1, 90.0]],
                     requires_grad=True)
    loss = loss_fn(z, torch.tensor([0, 2, 1]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()
    assert z.grad.abs().sum() > 0


@pytest.mark.parametrize("factory", CLASS_AWARE_LOSSES)
def test_buffers_follow_module_conversion_and_float64(factory):
    loss_fn = factory()
    assert len(list(loss_fn.buffers())) >= 1
    loss64 = loss_fn.to(torch.float64)
    assert all(b.dtype == torch.float64 for b in loss64.buffers())
    out = loss64(_t(Z, torch.float64), torch.tensor(Y))
    assert out.dtype == torch.float64 and out.ndim == 0


@pytest.mark.parametrize("factory", CLASS_AWARE_LOSSES)
def test_wrong_number_of_classes_is_a_clear_error(factory):
    with pytest.raises(ValueError, match="classes|shape"):
        factory()(torch.zeros(2, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="target must have shape"):
        factory()(torch.zeros(2, 3), torch.tensor([0, 1, 1]))


# --------------------------------------------------------------------- factory


def test_make_loss_names_and_aliases():
    assert type(make_loss("ce", COUNTS)) is nn.CrossEntropyLoss
    assert type(make_loss("focal", None, gamma=2.0)) is FocalLoss
    for name in ("cb", "class_balanced"):
        loss_fn = make_loss(name, COUNTS, loss_type="focal", gamma=2.0)
        assert type(loss_fn) is ClassBalancedLoss and loss_fn.loss_type == "focal"
    assert type(make_loss("ldam", COUNTS)) is LDAMLoss
    for name in ("logit_adjusted", "la"):
        loss_fn = make_loss(name, COUNTS, tau=0.5)
        assert type(loss_fn) is LogitAdjustedLoss and loss_fn.tau == 0.5
    assert type(make_loss("balanced_softmax", COUNTS)) is BalancedSoftmaxLoss
    custom = nn.MSELoss()
    assert make_loss(custom) is custom


def test_make_loss_errors():
    with pytest.raises(ValueError, match="'ce'.*'ldam'.*'balanced_softmax'"):
        make_loss("hinge", COUNTS)
    with pytest.raises(ValueError, match="class_counts"):
        make_loss("ldam", None)
    with pytest.raises(TypeError):
        make_loss("ldam", COUNTS, margin=3)


def test_public_losses_module_reexports():
    for name in public_losses.__all__:
        assert getattr(public_losses, name) is getattr(sklearn_lt.nn, name)
    assert "LDAMLoss" in public_losses.__all__ and "make_loss" in public_losses.__all__


def test_loss_registry_specs():
    from sklearn_lt.nn import LOSS_NAMES, LOSSES, get_loss_spec

    assert set(LOSSES) == {"ce", "focal", "cb", "ldam", "ldam_drw", "logit_adjusted",
                           "balanced_softmax"}
    assert set(LOSS_NAMES) == set(LOSSES) | {"class_balanced", "la"}
    for name in LOSS_NAMES:
        spec = get_loss_spec(name.upper())  # case-insensitive
        assert spec is LOSSES[spec.name]
        module = make_loss(name, COUNTS)
        assert isinstance(module, nn.Module)
    assert [n for n, s in LOSSES.items() if s.head == "cosine"] == ["ldam", "ldam_drw"]
    assert [n for n, s in LOSSES.items() if s.drw] == ["ldam_drw"]
    assert {n for n, s in LOSSES.items() if s.prior_adjusted} == {"logit_adjusted",
                                                                  "balanced_softmax"}
    # The logits a cosine head trains are its cosines times the loss's scale.
    assert get_loss_spec("ldam").logit_scale(LDAMLoss(COUNTS, scale=12.0)) == 12.0
    assert get_loss_spec("ce").logit_scale(nn.CrossEntropyLoss()) == 1.0
    with pytest.raises(ValueError, match="Unknown loss 'hinge'"):
        get_loss_spec("hinge")
