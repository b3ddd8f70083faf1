"""lr_lambda: the learning-rate factor of both training stages."""

import math
import pickle

import pytest

from sklearn_lt.nn import lr_lambda


def test_lr_schedule_matches_cifar_lt_recipe():
    step = lr_lambda(200, warmup_epochs=5, schedule="step", milestones=(160, 180), decay=0.01)
    assert 0.1 * step(0) == pytest.approx(0.02)
    assert 0.1 * step(4) == pytest.approx(0.1)
    assert 0.1 * step(159) == pytest.approx(0.1)
    assert 0.1 * step(160) == pytest.approx(1e-3)
    assert 0.1 * step(180) == pytest.approx(1e-5)
    cos = lr_lambda(200, warmup_epochs=5, schedule="cosine")
    assert 0.1 * cos(5) == pytest.approx(0.1)
    assert 0.1 * cos(5 + 195 // 2) == pytest.approx(0.05 * (1 + math.cos(math.pi * 97 / 195)))


def test_warmup_is_a_linear_ramp_and_cosine_reaches_zero_after_the_last_epoch():
    f = lr_lambda(10, schedule="cosine", warmup_epochs=4)
    assert [f(t) for t in range(4)] == [0.25, 0.5, 0.75, 1.0]
    # t = w .. T-1 follows (1 + cos(pi (t - w) / (T - w))) / 2; t = T would be 0.
    for t in range(4, 10):
        assert f(t) == pytest.approx(0.5 * (1 + math.cos(math.pi * (t - 4) / 6)))
    assert f(10) == pytest.approx(0.0, abs=1e-15)
    assert lr_lambda(5, schedule="constant", warmup_epochs=2)(3) == 1.0
    # The stage-2 "coslr": cosine without warm-up, starting at the peak.
    g = lr_lambda(4)
    assert [g(t) for t in range(4)] == pytest.approx([1.0, (1 + math.cos(math.pi / 4)) / 2,
                                                      0.5, (1 + math.cos(3 * math.pi / 4)) / 2])


def test_step_decay_compounds_and_milestones_may_be_unsorted():
    f = lr_lambda(10, schedule="step", milestones=(6, 3), decay=0.1)
    assert [f(t) for t in (0, 2, 3, 5, 6, 9)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])
    assert lr_lambda(10, schedule="step")(9) == 1.0  # no milestone, no decay


def test_factor_pickles_and_has_a_readable_repr():
    f = lr_lambda(20, schedule="step", warmup_epochs=2, milestones=[10, 15], decay=0.5)
    g = pickle.loads(pickle.dumps(f))
    assert [g(t) for t in range(20)] == [f(t) for t in range(20)]
    assert repr(f) == ("lr_lambda(20, schedule='step', warmup_epochs=2, milestones=(10, 15), "
                       "decay=0.5)")


@pytest.mark.parametrize("kwargs, match", [
    (dict(epochs=10, schedule="linear"), "schedule must be one of"),
    (dict(epochs=-1), "epochs must be a non-negative int"),
    (dict(epochs=2.5), "epochs must be a non-negative int"),
    (dict(epochs=10, warmup_epochs=True), "warmup_epochs must be a non-negative int"),
])
def test_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lr_lambda(**kwargs)
