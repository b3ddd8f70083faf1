"""MetaReweighting: the look-ahead gradient, what it leaves untouched, the class weights."""

import copy

import numpy as np
import pytest
import torch

from sklearn_lt.nn import MetaReweighting, effective_number_weights, meta_class_weights


def _tiny_problem(seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    xb = torch.randn(6, 3, generator=gen, dtype=dtype)
    yb = torch.tensor([0, 0, 0, 1, 1, 2])
    x_dev = torch.randn(4, 3, generator=gen, dtype=dtype)
    y_dev = torch.tensor([0, 1, 2, 2])
    lin = torch.nn.Linear(3, 3).to(dtype)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(3, 3, generator=gen, dtype=dtype))
        lin.bias.copy_(torch.randn(3, generator=gen, dtype=dtype))
    return lin, xb, yb, (x_dev, y_dev)


def _dev_loss_after_virtual_step(lin, xb, yb, dev, w, eps, lr):
    """L_dev(theta - lr * grad sum_i (w_i + eps_i) L_i), written out by hand."""
    ce = torch.nn.CrossEntropyLoss(reduction="none")
    W = lin.weight.detach().clone().requires_grad_(True)
    b = lin.bias.detach().clone().requires_grad_(True)
    total = ((w + eps) * ce(xb @ W.T + b, yb)).sum()
    gW, gb = torch.autograd.grad(total, (W, b))
    W2, b2 = W - lr * gW, b - lr * gb
    return ce(dev[0] @ W2.T + b2, dev[1]).mean().item()


def test_eps_gradient_matches_finite_differences():
    lin, xb, yb, dev = _tiny_problem()
    class_weights = torch.tensor([0.5, 1.0, 1.5], dtype=torch.float64)
    lr = 0.3
    # eps_lr = 1 makes the learned weights w - grad_eps, so grad_eps = w - weights.
    meta = MetaReweighting(class_weights, torch.nn.CrossEntropyLoss(reduction="none"), eps_lr=1.0)
    weights, _ = meta.example_weights(lin, xb, yb, dev, lr)
    w = class_weights[yb]
    grad = (w - weights).numpy()
    h = 1e-6
    fd = []
    for i in range(len(yb)):
        e = torch.zeros(len(yb), dtype=torch.float64)
        e[i] = h
        plus = _dev_loss_after_virtual_step(lin, xb, yb, dev, w, e, lr)
        minus = _dev_loss_after_virtual_step(lin, xb, yb, dev, w, -e, lr)
        fd.append((plus - minus) / (2 * h))
    # Central differences in float64: truncation O(h^2) ~ 1e-12, rounding
    # ~ 1e-16 / h = 1e-10; the gradient entries are of order 0.01 to 1.
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)
    assert np.abs(grad).max() > 1e-3  # a real signal, not a zero that matches trivially


def test_look_ahead_leaves_parameters_and_batch_norm_buffers_untouched():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(),
                              torch.nn.Linear(8, 3)).train()
    reference = copy.deepcopy(net)
    xb, yb = torch.randn(10, 4), torch.randint(0, 3, (10,))
    dev = (torch.randn(6, 4) * 5 + 3, torch.randint(0, 3, (6,)))  # shifted: distinct BN stats
    params = [p.detach().clone() for p in net.parameters()]
    meta = MetaReweighting([1.0, 2.0, 3.0], torch.nn.CrossEntropyLoss(reduction="none"))
    loss = meta.loss(net, xb, yb, dev, lr=0.5)
    # Parameters: untouched until the caller steps the optimiser.
    for p, q in zip(net.parameters(), params):
        assert torch.equal(p, q)
    # Buffers: exactly what one ordinary training forward of the batch leaves
    # (the real step's forward); the development forward at theta' left nothing.
    reference(xb)
    for (name, b), (_, r) in zip(net.named_buffers(), reference.named_buffers()):
        assert torch.equal(b, r), name
    loss.backward()
    assert all(p.grad is not None for p in net.parameters())


def test_real_loss_is_the_weighted_mean_of_the_per_example_losses():
    lin, xb, yb, dev = _tiny_problem(1, torch.float32)
    meta = MetaReweighting([1.0, 1.0, 1.0], torch.nn.CrossEntropyLoss(reduction="none"),
                           eps_lr=0.0)
    loss = meta.loss(lin, xb, yb, dev, lr=0.1)
    # eps_lr = 0 leaves eps at 0: the weights are the class weights.
    torch.testing.assert_close(meta.last_weights, torch.ones(6))
    expected = torch.nn.functional.cross_entropy(lin(xb), yb)
    torch.testing.assert_close(loss, expected)


def test_class_weights_match_the_formula_and_the_published_vector():
    # CIFAR-10-LT at IF=10, the counts of the paper's example vector.
    counts = np.array([5000, 3871, 2997, 2320, 1796, 1391, 1077, 834, 645, 500])
    beta = 0.9999
    w = (1 - beta) / (1 - beta**counts)
    np.testing.assert_allclose(meta_class_weights(counts, beta), w / w.sum() * 10, rtol=1e-12)
    published = [0.2923, 0.3583, 0.4441, 0.5551, 0.6995, 0.8860, 1.1265, 1.4328, 1.8409, 2.3588]
    # The paper prints 4 decimals of a vector computed from its own counts
    # (one class differs in the 3rd decimal); 0.005 covers both.
    np.testing.assert_allclose(meta_class_weights(counts, beta), published, atol=0.005)
    n = counts.sum()
    np.testing.assert_allclose(meta_class_weights(counts, "n"),
                               effective_number_weights(counts, (n - 1) / n))
    # The text's beta = (n-1)/n does not give the published vector.
    assert np.abs(meta_class_weights(counts, "n") - published).max() > 0.03


def test_errors():
    with pytest.raises(ValueError, match="eps_lr"):
        MetaReweighting([1.0], torch.nn.CrossEntropyLoss(reduction="none"), eps_lr=-1)
