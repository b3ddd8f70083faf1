"""Recipes, a schedule that scales with the epochs, augmentation, validation, early stopping."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import balanced_accuracy_score

from sklearn_lt import Backbone
from sklearn_lt.backbone import RECIPES, recipe_params
from sklearn_lt.exceptions import ScheduleWarning
from sklearn_lt.nn import lr_lambda


def _recipe(X=None, **params):
    """The resolved settings of one fit (Backbone._recipe), without training."""
    X = np.zeros((2, 1, 28, 28), dtype=np.float32) if X is None else X
    return Backbone(**params)._recipe(X.shape[1:])


# ------------------------------------------------------------------ schedule
@pytest.mark.parametrize("epochs, warmup", [(200, 5), (90, 2), (60, 2), (40, 1), (15, 1),
                                            (1, 1)])
def test_auto_warmup_is_two_and_a_half_percent_of_the_epochs(epochs, warmup):
    # Cao et al.'s 5 of 200, scaled; at least one epoch. (1 epoch: inside it, warned.)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScheduleWarning)
        assert _recipe(max_epochs=epochs).warmup == warmup


def test_the_lr_a_fit_uses_follows_the_auto_warmup(tiny_backbone, blobs):
    X, y = blobs
    bb = tiny_backbone(max_epochs=40, lr=0.08, lr_schedule="cosine",
                       warmup_epochs="auto").fit(X, y)
    expected = [0.08 * lr_lambda(40, schedule="cosine", warmup_epochs=1)(t) for t in range(40)]
    np.testing.assert_allclose([h["lr"] for h in bb.history_], expected, rtol=1e-12)
    assert bb.history_[0]["lr"] == pytest.approx(0.08)  # a 1-epoch ramp starts at the peak


@pytest.mark.parametrize("params, message", [
    (dict(max_epochs=3, warmup_epochs=5), r"ends inside the 5-epoch warm-up"),
    (dict(max_epochs=3, warmup_epochs=3), r"ends inside the 3-epoch warm-up"),
    (dict(max_epochs=7, warmup_epochs=2), r"the warm-up takes 2 of the 7 epochs"),
    (dict(max_epochs=15, warmup_epochs=5), r"the warm-up takes 5 of the 15 epochs"),
    (dict(max_epochs=10, milestones=(8, 10, 12)), r"milestone\(s\) \[10, 12\] lie at or past"),
])
def test_a_schedule_that_misfits_the_epochs_warns(params, message):
    with pytest.warns(ScheduleWarning, match=message):
        _recipe(**params)


@pytest.mark.parametrize("params", [
    dict(max_epochs=15), dict(max_epochs=200), dict(max_epochs=4, warmup_epochs=1),
    dict(max_epochs=10, milestones=(12,), lr_schedule="cosine"),  # milestones unused
    dict(max_epochs=8, warmup_epochs=2),  # a quarter exactly is still fine
    dict(max_epochs=1), dict(max_epochs=2, warmup_epochs=1),  # 1 epoch of warm-up is none
])
def test_sensible_schedules_do_not_warn(params):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScheduleWarning)
        _recipe(**params)


def test_schedule_warning_points_at_the_callers_fit(blobs):
    X, y = blobs
    with pytest.warns(ScheduleWarning) as record:
        Backbone(module="mlp", max_epochs=1, warmup_epochs=2, batch_size=64).fit(X, y)
    assert record[0].filename == __file__


# -------------------------------------------------------------- augmentation
@pytest.mark.parametrize("shape, augment, padding", [
    ((1, 28, 28), "crop", 4),   # grey images: crop, no flip (digits, letters)
    ((3, 32, 32), "crop_flip", 4),
    ((1, 8, 8), "crop", 1),     # 1/8 of the side, so small images keep their content
    ((1, 64, 64), "crop", 8),
])
def test_auto_augmentation_suits_grey_and_colour_images(shape, augment, padding):
    recipe = _recipe(np.zeros((2, *shape), dtype=np.float32))
    assert (recipe.augment, recipe.padding) == (augment, padding)


@pytest.mark.parametrize("side, augment", [(224, "imagenet"), (80, "imagenet"),
                                           (64, "crop_flip"), (32, "crop_flip")])
def test_auto_augmentation_of_image_files(side, augment):
    # Files decoded above 64 px get the ImageNet recipe's random-resized crop;
    # CIFAR-sized files the tensor crop + flip of the arrays.
    recipe = Backbone()._recipe((3, side, side), files=True)
    assert recipe.augment == augment and recipe.image_size == side


def test_tabular_input_gets_no_augmentation():
    assert _recipe(np.zeros((4, 5), dtype=np.float32)).augment == "none"


def test_the_module_crops_with_the_resolved_padding():
    X = np.zeros((4, 1, 16, 16), dtype=np.float32)
    bb = Backbone(module="cnn")
    recipe = bb._recipe(X.shape[1:])
    module = bb._build_module(X, np.array([2, 2]), recipe, 1.0)
    assert module.augment.padding == 2 and module.augment.flip is False


# ------------------------------------------------------------------- recipes
@pytest.mark.parametrize("name", sorted(RECIPES))
def test_a_recipe_is_an_ordinary_backbone_with_its_values(name):
    bb = Backbone.from_recipe(name, random_state=3)
    params = bb.get_params()
    assert {k: params[k] for k in RECIPES[name]["params"]} == RECIPES[name]["params"]
    assert params["random_state"] == 3
    assert clone(bb).get_params() == params
    assert RECIPES[name]["doc"]


def test_recipe_overrides_and_copies():
    bb = Backbone.from_recipe("small", max_epochs=30, weight_decay=1e-3)
    assert (bb.max_epochs, bb.weight_decay, bb.lr_schedule) == (30, 1e-3, "cosine")
    params = recipe_params("small")
    params["max_epochs"] = 1
    assert RECIPES["small"]["params"]["max_epochs"] == 60  # a copy was returned
    with pytest.raises(ValueError, match=r"Unknown recipe 'tiny'; choose one of \['cifar_lt'"):
        Backbone.from_recipe("tiny")


def test_cifar_recipe_is_the_default_schedule():
    cifar = _recipe(np.zeros((2, 3, 32, 32), dtype=np.float32), **recipe_params("cifar_lt"))
    default = _recipe(np.zeros((2, 3, 32, 32), dtype=np.float32))
    assert (cifar.warmup, cifar.milestones, cifar.augment) == (5, (160, 180), "crop_flip")
    assert (default.warmup, default.milestones) == (cifar.warmup, cifar.milestones)


def test_small_recipe_schedule_scales_with_the_epochs():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScheduleWarning)
        for epochs in (10, 30, 60, 120):
            recipe = _recipe(**{**recipe_params("small"), "max_epochs": epochs})
            assert recipe.warmup == max(1, round(0.025 * epochs))


# ------------------------------------------------ validation and early stopping
def _dev_split(digits_lt):
    X, y = digits_lt.X_train, digits_lt.y_train
    return X, y, digits_lt.X_test, digits_lt.y_test


def test_x_dev_is_the_validation_set_without_meta(tiny_backbone, digits_lt):
    X, y, X_dev, y_dev = _dev_split(digits_lt)
    bb = tiny_backbone(max_epochs=4).fit(X, y, X_dev=X_dev, y_dev=y_dev)
    last = bb.history_[-1]
    # The last epoch's weights are the fitted ones: its validation score is theirs.
    assert last["valid_bal_acc"] == pytest.approx(
        balanced_accuracy_score(y_dev, bb.predict(X_dev)), abs=1.5 / len(y_dev))
    assert bb.best_epoch_ == 4


def test_early_stopping_restores_the_best_epoch(tiny_backbone, digits_lt):
    X, y, X_dev, y_dev = _dev_split(digits_lt)
    # A constant, too-high rate makes validation accuracy fluctuate, so the best
    # epoch is not the last one.
    bb = tiny_backbone(max_epochs=30, lr=0.5, lr_schedule="constant", early_stopping=3)
    bb.fit(X, y, X_dev=X_dev, y_dev=y_dev)
    scores = [h["valid_bal_acc"] for h in bb.history_]
    best = int(np.argmax(scores)) + 1  # the first maximum: later ties are no gain
    assert bb.best_epoch_ == best
    assert len(scores) == min(best + 3, 30)
    assert balanced_accuracy_score(y_dev, bb.predict(X_dev)) == pytest.approx(
        scores[best - 1], abs=1.5 / len(y_dev))


def test_patience_of_max_epochs_only_restores(tiny_backbone, digits_lt):
    X, y, X_dev, y_dev = _dev_split(digits_lt)
    bb = tiny_backbone(max_epochs=8, lr=0.5, lr_schedule="constant", early_stopping=8)
    bb.fit(X, y, X_dev=X_dev, y_dev=y_dev)
    assert len(bb.history_) == 8
    assert bb.best_epoch_ == int(np.argmax([h["valid_bal_acc"] for h in bb.history_])) + 1


def test_early_stopping_with_train_split(tiny_backbone, blobs):
    X, y = blobs
    bb = tiny_backbone(max_epochs=6, train_split=0.3, early_stopping=2).fit(X, y)
    assert 1 <= bb.best_epoch_ <= len(bb.history_) <= 6
    assert "valid_bal_acc" in bb.history_[-1]


@pytest.mark.parametrize("params, fit_dev, message", [
    (dict(early_stopping=2), False, "early_stopping needs validation data"),
    (dict(early_stopping=2, swa=True), True, "early_stopping restores the best epoch"),
    (dict(train_split=0.3), True, "Both train_split and X_dev"),
])
def test_validation_settings_that_conflict_are_refused(tiny_backbone, blobs, params, fit_dev,
                                                       message):
    X, y = blobs
    kwargs = dict(X_dev=X[::4], y_dev=y[::4]) if fit_dev else {}
    with pytest.raises(ValueError, match=message):
        tiny_backbone(max_epochs=2, **params).fit(X, y, **kwargs)


# ------------------------------------------------------------------- threads
class _ThreadProbe(torch.nn.Module):
    """A feature network recording torch's thread count at each training forward."""

    seen = []

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(5, 8)

    def forward(self, x):
        type(self).seen.append(torch.get_num_threads())
        return torch.relu(self.lin(x))


def test_n_threads_holds_during_fit_and_is_restored(blobs):
    X, y = blobs
    _ThreadProbe.seen.clear()
    before = torch.get_num_threads()
    target = 2 if before == 1 else 1
    Backbone(module=_ThreadProbe(), max_epochs=2, batch_size=64, n_threads=target,
             random_state=0).fit(X, y)
    assert set(_ThreadProbe.seen) == {target}
    assert torch.get_num_threads() == before
