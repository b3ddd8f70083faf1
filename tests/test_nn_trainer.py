"""The shared stage-2 trainer ``train_module`` on cached features."""

import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from sklearn_lt.nn import make_sampler, train_module


@pytest.fixture(scope="module")
def toy_problem(make_skewed):
    """``toy_problem(n=40) -> (X, y)``: two 2-D Gaussian classes, 3:1, float32."""

    def make(n=40):
        X, y = make_skewed([n - n // 4, n // 4], np.random.RandomState(0))
        return X.astype(np.float32), y

    return make


def test_trainer_trains_only_unfrozen_parameters_with_cosine_lr(toy_problem):
    X, y = toy_problem()
    torch.manual_seed(0)
    lin = torch.nn.Linear(2, 2)
    lin.weight.requires_grad_(False)
    w0, b0 = lin.weight.clone(), lin.bias.clone()
    hist = train_module(lin, X, y, epochs=4, batch_size=8, lr=0.3, random_state=0)
    assert torch.equal(lin.weight, w0)
    assert not torch.equal(lin.bias, b0)
    expected_lr = [0.3 * 0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(4)]
    np.testing.assert_allclose(hist["lr"], expected_lr)
    assert len(hist["loss"]) == len(hist["time"]) == 4
    assert not lin.training  # left in eval mode


def test_trainer_is_deterministic_given_random_state(toy_problem):
    X, y = toy_problem()

    def run(seed):
        torch.manual_seed(0)
        lin = torch.nn.Linear(2, 2)
        hist = train_module(lin, X, y, epochs=3, batch_size=8, lr=0.1, random_state=seed)
        return hist["loss"], lin.weight.detach().clone()

    (l1, w1), (l2, w2), (_l3, w3) = run(0), run(0), run(1)
    assert l1 == l2 and torch.equal(w1, w2)
    assert not torch.equal(w1, w3)


def test_trainer_loss_fn_sees_every_index_once_per_instance_epoch(toy_problem):
    X, y = toy_problem(40)
    seen = []

    def loss_fn(logits, yb, idx):
        seen.append(idx.clone())
        return torch.nn.functional.cross_entropy(logits, yb)

    train_module(torch.nn.Linear(2, 2), X, y, loss_fn=loss_fn, epochs=2, batch_size=16,
                 sampler="instance", random_state=0)
    assert [len(i) for i in seen] == [16, 16, 8] * 2
    for epoch in (seen[:3], seen[3:]):
        assert sorted(torch.cat(epoch).tolist()) == list(range(40))


def test_trainer_class_sampler_balances_batches(toy_problem):
    X, y = toy_problem(400)  # 300 vs 100
    labels = []

    def step(module, optimizer, xb, yb, idx):
        labels.append(yb)
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(module(xb), yb)
        loss.backward()
        optimizer.step()
        return loss

    train_module(torch.nn.Linear(2, 2), X, y, step=step, epochs=5, batch_size=100,
                 sampler="class", random_state=0)
    assert len(labels) == 5 * 4
    tail_share = torch.cat(labels).float().mean().item()
    assert abs(tail_share - 0.5) < 0.05  # 2000 draws; instance sampling would give 0.25


def test_trainer_stacked_features_callback_and_verbose(capsys, toy_problem):
    X, y = toy_problem()
    stack = np.repeat(X[:, None, :], 3, axis=1)  # (n, M=3, d) stochastic representations

    class MeanOverM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 2)

        def forward(self, x):
            return self.lin(x).mean(dim=1)

    hist = train_module(MeanOverM(), torch.from_numpy(stack), torch.from_numpy(y), epochs=10,
                        batch_size=8, random_state=0, verbose=1,
                        callback=lambda epoch, module, history: epoch == 2)
    assert len(hist["loss"]) == 3
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 3 and out[0].startswith("epoch   1/10  loss ")


def test_trainer_errors(toy_problem):
    X, y = toy_problem()
    frozen = torch.nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="nothing to train"):
        train_module(frozen, X, y)
    with pytest.raises(FloatingPointError, match="epoch 1"):
        train_module(torch.nn.Linear(2, 2), X, y, epochs=2,
                     loss_fn=lambda logits, yb, idx: logits.sum() * float("nan"))
    with pytest.raises(ValueError, match="y must have shape"):
        train_module(torch.nn.Linear(2, 2), X, y[:-1])


def test_trainer_catches_weights_overflowed_by_the_last_step(toy_problem):
    # One batch per epoch: its loss is finite (computed before the step), the
    # step at lr=1e30 on gradients of about 1e10 takes float32 weights past
    # their largest value (3.4e38).
    X, y = toy_problem()
    X = X * np.float32(1e10)
    lin = torch.nn.Linear(2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 1 step < 50
        with pytest.raises(FloatingPointError, match=r"weights became non-finite in epoch 1\."):
            train_module(lin, X, y, epochs=1, batch_size=len(X), lr=1e30, momentum=0.0,
                         random_state=0)


def test_trainer_schedules_and_samplers_as_given(toy_problem):
    X, y = toy_problem(40)
    hist = train_module(torch.nn.Linear(2, 2), X, y, epochs=3, batch_size=10, lr=0.2,
                        schedule="constant", random_state=0)
    np.testing.assert_allclose(hist["lr"], [0.2] * 3)
    hist = train_module(torch.nn.Linear(2, 2), X, y, epochs=4, batch_size=10, lr=1.0,
                        schedule=lambda epoch: 0.5 ** epoch, random_state=0)
    np.testing.assert_allclose(hist["lr"], [1.0, 0.5, 0.25, 0.125])
    # A ready sampler is used as given: 7 draws per epoch -> batches of 5 and 2.
    sizes = []

    def loss_fn(logits, yb, idx):
        sizes.append(len(idx))
        return torch.nn.functional.cross_entropy(logits, yb)

    sampler = make_sampler("class", y, num_samples=7, generator=torch.Generator().manual_seed(0))
    train_module(torch.nn.Linear(2, 2), X, y, loss_fn=loss_fn, epochs=2, batch_size=5,
                 sampler=sampler)
    assert sizes == [5, 2, 5, 2]
    # num_samples="class_epoch": n_classes * max_j n_j = 2 * 30 draws per epoch.
    sizes.clear()
    train_module(torch.nn.Linear(2, 2), X, y, loss_fn=loss_fn, epochs=1, batch_size=64,
                 num_samples="class_epoch", random_state=0)
    assert sizes == [60]


def test_trainer_warns_below_fifty_steps_and_checks_its_arguments(toy_problem):
    X, y = toy_problem(40)
    # 40 draws per epoch in batches of 8: 5 steps per epoch, 45 in 9 epochs (< 50).
    with pytest.warns(ConvergenceWarning, match=r"Only 45 SGD steps in all \(9 epochs of 40 "):
        train_module(torch.nn.Linear(2, 2), X, y, epochs=9, batch_size=8, random_state=0)
    for name, value in (("epochs", 0), ("batch_size", 2.5), ("epochs", True)):
        with pytest.raises(ValueError, match=f"{name} must be a positive int"):
            train_module(torch.nn.Linear(2, 2), X, y, **{name: value})
