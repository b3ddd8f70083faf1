"""Named stage-1 recipes: the settings of a published or measured training run.

Each recipe is a plain dict of :class:`~sklearn_lt.Backbone` parameters, so
``Backbone.from_recipe(name, **overrides)`` builds an ordinary estimator whose
``get_params`` shows every value (clone, GridSearchCV and pickling see nothing
special). Settings a recipe leaves out keep Backbone's defaults; the warm-up
(``"auto"``: 2.5% of the epochs) and step milestones (80% and 90%) scale with
``max_epochs``, so overriding the epoch count keeps the schedule's shape.
"""

# Kang et al.'s ImageNet-LT stage 1; the two recipes differ only in the network.
_IMAGENET_LT = dict(module="resnet10", max_epochs=90, batch_size=512, lr=0.2, momentum=0.9,
                    weight_decay=5e-4, warmup_epochs=0, lr_schedule="cosine",
                    augment="auto", image_size=224)

RECIPES = {
    "cifar_lt": {
        "params": dict(module="resnet32", max_epochs=200, batch_size=128, lr=0.1, momentum=0.9,
                       weight_decay=2e-4, warmup_epochs=5, lr_schedule="step",
                       milestones=(160, 180), lr_decay=0.01, augment="crop_flip"),
        "doc": "Cao et al. (NeurIPS 2019), CIFAR-10/100-LT with ResNet-32: 200 epochs, "
               "batch 128, SGD lr 0.1 momentum 0.9, weight decay 2e-4, 5 warm-up epochs, "
               "lr x0.01 at epochs 160 and 180, random crop (padding 4) + flip: "
               "Backbone's defaults, with the network named.",
    },
    "imagenet_lt": {
        "params": _IMAGENET_LT,
        "doc": "Kang et al. (ICLR 2020), ImageNet-LT stage 1 with ResNet-10 (ResNeXt-50: "
               "'imagenet_lt_resnext50'): 90 epochs, batch 512, SGD lr 0.2 momentum 0.9, weight "
               "decay 5e-4, cosine decay without warm-up, images of 224 px. Fitted on image "
               "files (X as paths), the augmentation is theirs too: a random-resized crop "
               "+ flip per file and colour jitter 0.4, and inference resizes to 256 and "
               "takes the centre 224; on arrays in memory it is the tensor crop + flip. "
               "Their stage 2 is 10 epochs (the heads' own defaults follow the same "
               "config).",
    },
    "imagenet_lt_resnext50": {
        "params": dict(_IMAGENET_LT, module="resnext50"),
        "doc": "Kang et al. (ICLR 2020), ImageNet-LT stage 1 with ResNeXt-50 (32x4d): the "
               "settings of 'imagenet_lt' with the larger network, whose decoupled heads "
               "they report (cRT 49.5, tau-norm 49.4, LWS 49.9 top-1, against 44.4 for the "
               "joint head). Same augmentation as 'imagenet_lt'.",
    },
    "small": {
        "params": dict(module="cnn", module__widths=(32, 64, 128), module__pooled_size=2,
                       max_epochs=60, batch_size=128, lr=0.1, momentum=0.9, weight_decay=5e-4,
                       warmup_epochs="auto", lr_schedule="cosine", augment="auto"),
        "doc": "Measured here for small images (MNIST to CIFAR size) on a CPU "
               "(benchmarks/bench_first_hour.py): the small CNN with a third block "
               "(32-64-128 channels, 0.16M parameters), 60 epochs, batch 128, SGD lr 0.1 "
               "momentum 0.9, weight decay 5e-4, 2 warm-up epochs then cosine decay to 0, "
               "random crop (crop + flip for RGB). Cosine decay, the weight decay and the "
               "crop are what let 60 epochs pay off, where the plain recipe overfits after "
               "about 15.",
    },
}

__all__ = ["RECIPES", "recipe_params"]


def recipe_params(name):
    """The Backbone parameters of a named recipe (a copy).

    Parameters
    ----------
    name : {"cifar_lt", "imagenet_lt", "imagenet_lt_resnext50", "small"}
        The recipe (:data:`RECIPES` lists them with their sources).

    Returns
    -------
    params : dict
        Backbone parameters.

    Examples
    --------
    >>> from sklearn_lt.backbone import recipe_params
    >>> recipe_params("small")["max_epochs"]
    60
    """
    if name not in RECIPES:
        raise ValueError(f"Unknown recipe {name!r}; choose one of {sorted(RECIPES)}.")
    return dict(RECIPES[name]["params"])
