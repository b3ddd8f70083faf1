"""The SGD head family: shared parameters, epoch length and the few-steps warning."""

import warnings

import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_lt.base import SGD_CONSTRAINTS, SGD_PARAMS_DOC, SGDHeadMixin, init_linear
from sklearn_lt.heads import CRTClassifier, LWSClassifier
from sklearn_lt.utils.discovery import all_estimators


def test_sgd_heads_warn_when_the_budget_is_a_handful_of_steps(skewed):
    # Counts [600, 60, 15]: a class-aware epoch is 3 * 600 = 1800 draws (the
    # official sampler's length), 4 batches of the ImageNet-LT 512.
    X, y, *_ = skewed
    with pytest.warns(ConvergenceWarning, match=r"Only 20 SGD steps in all \(5 epochs of 1800 "):
        LWSClassifier(random_state=0).fit(X, y)
    # The warning names the settings that reach 50 steps: ceil(50 / 4) epochs of
    # batch 512, or ceil(1800 / 64) = 29 steps per epoch of batch 64, so 2 epochs.
    advice = (r"Use epochs=13 at this batch size, or batch_size=64 with lr scaled by "
              r"64/512 and epochs=2\.")
    with pytest.warns(ConvergenceWarning, match="Only 40 SGD steps(.|\n)*" + advice):
        CRTClassifier(solver="sgd", random_state=0).fit(X, y)
    # Other samplers keep n_samples = 675 draws per epoch: 2 batches.
    with pytest.warns(ConvergenceWarning, match=r"Only 10 SGD steps in all \(5 epochs of 675 "):
        LWSClassifier(sampler="sqrt", random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        # ceil(1800 / 128) = 15 steps per epoch: 3 epochs (45) warn, 4 (60) do not.
        LWSClassifier(batch_size=128, epochs=4, random_state=0).fit(X, y)
        with pytest.raises(ConvergenceWarning, match="Only 45 SGD steps"):
            LWSClassifier(batch_size=128, epochs=3, random_state=0).fit(X, y)


def test_init_linear_is_seeded_bounded_and_leaves_the_global_rng_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    a = init_linear(16, 4, torch.Generator().manual_seed(1))
    torch.testing.assert_close(torch.rand(3), expected)  # global RNG not advanced
    b = init_linear(16, 4, torch.Generator().manual_seed(1))
    c = init_linear(16, 4, torch.Generator().manual_seed(2))
    assert a.weight.shape == (4, 16) and a.bias.shape == (4,)
    assert a.weight.device.type == "cpu"
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    assert not torch.equal(a.weight, c.weight)
    # nn.Linear's default: uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)] = [-0.25, 0.25];
    # 64 uniform draws fill most of that range.
    for p in (a.weight, a.bias):
        assert p.abs().max() <= 0.25
    assert a.weight.abs().max() > 0.2


def test_every_sgd_head_has_the_family_parameters_and_docstring(skewed):
    X, y, *_ = skewed
    members = [cls for _, cls in all_estimators("head") if issubclass(cls, SGDHeadMixin)]
    assert {cls.__name__ for cls in members} >= {"CRTClassifier", "LWSClassifier"}
    for cls in members:
        assert set(SGD_CONSTRAINTS) <= set(cls().get_params()), cls.__name__
        # The shared parameter block is substituted into the class docstring.
        assert SGD_PARAMS_DOC.splitlines()[0] in cls.__doc__, cls.__name__
        assert "{sgd_params}" not in cls.__doc__
        with pytest.raises(InvalidParameterError, match="'sampler' parameter"):
            cls(sampler="balanced").fit(X, y)
        with pytest.raises(InvalidParameterError, match="'momentum' parameter"):
            cls(momentum=1.0).fit(X, y)
