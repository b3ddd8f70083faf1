"""Runs the table "What bad input gets" of docs/user_guide/bad_inputs.md, so it stays true."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning

from sklearn_lt import Backbone
from sklearn_lt.heads import CRTClassifier, MetaWeightedClassifier, TauNormClassifier

DOC = Path(__file__).resolve().parents[1] / "docs" / "user_guide" / "bad_inputs.md"


def _table():
    text = DOC.read_text(encoding="utf-8").split("# What bad input gets", 1)[1]
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("case", "---") and not set(cells[0]) <= {"-"}:
            rows[cells[0]] = (cells[2], cells[3])
    return rows


def _X():
    X, y = make_blobs(n_samples=[30, 20, 10], n_features=4, random_state=0)
    return X.astype(np.float32), y


def _bb(**kw):
    base = dict(module="mlp", max_epochs=2, batch_size=16, random_state=0)
    if kw.get("module", "mlp") == "mlp":
        base["module__hidden"] = (8,)
    return Backbone(**{**base, **kw})


def nan_features():
    X, y = _X()
    X[0, 0] = np.nan
    CRTClassifier().fit(X, y)


def one_sample_class():
    X, y = _X()
    keep = np.r_[np.flatnonzero(y != 2), np.flatnonzero(y == 2)[:1]]
    _bb().fit(X[keep], y[keep])


def single_class():
    X, _ = _X()
    CRTClassifier().fit(X, np.zeros(len(X), int))


def beyond_float32():
    X, y = _X()
    _bb().fit(X.astype(np.float64) * 1e39, y)


def diverged():
    X, y = _X()
    _bb(lr=1e6, warmup_epochs=0, max_epochs=3).fit(X * 100, y)


def channels_last():
    _bb(module="cnn").fit(np.zeros((4, 8, 8, 3), np.uint8), [0, 0, 1, 1])


def flattened_image():
    X = np.random.RandomState(0).randint(0, 255, (20, 1, 8, 8)).astype(np.uint8)
    bb = _bb(module="cnn", max_epochs=1).fit(X, np.repeat([0, 1], 10))
    bb.predict(X.reshape(20, -1))


def wrong_features():
    X, y = _X()
    CRTClassifier().fit(X, y).predict(X[:, :3])


def batch_norm_batch_1():
    X, y = _X()
    _bb(batch_size=1).fit(X, y)


def routed_lr():
    X, y = _X()
    _bb(optimizer__lr=0.3).fit(X, y)


def unknown_routed():
    X, y = _X()
    Backbone(hidden=3).fit(X, y)


def cuda_missing():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    X, y = _X()
    _bb(device="cuda").fit(X, y)


def dev_too_large():
    X, y = make_blobs(n_samples=[30, 20, 6], n_features=4, random_state=0)
    MetaWeightedClassifier(dev_size=6, epochs=2).fit(X, y)


def swag_missing():
    X, y = _X()
    _bb().fit(X, y).transform_stochastic(X)


def extreme_lbfgs():
    X, y = _X()
    X = X.astype(np.float64)
    X[0, 0] = 1e30
    CRTClassifier().fit(X, y)


def extension_mismatch():
    import tempfile

    from PIL import Image

    from sklearn_lt.datasets import load_image_folder

    with tempfile.TemporaryDirectory() as tmp:
        for cls in ("a", "b"):
            (Path(tmp) / cls).mkdir()
            Image.new("L", (4, 4)).save(Path(tmp) / cls / "x.png", format="TIFF")
        load_image_folder(tmp)


def nan_labels():
    from sklearn_lt.datasets import make_long_tailed

    make_long_tailed(np.zeros((4, 1)), np.array([0.0, 1.0, np.nan, 1.0]))


def continuous_labels():
    from sklearn_lt.datasets import make_long_tailed

    make_long_tailed(np.zeros((4, 1)), np.array([0.1, 1.7, 2.3, 1.2]))


def bad_joint_head():
    X, y = _X()
    TauNormClassifier(joint_head=(np.zeros((3, 5)), np.zeros(3))).fit(X, y)


def early_stopping_without_validation():
    X, y = _X()
    _bb(early_stopping=3).fit(X, y)


def early_stopping_with_swa():
    X, y = _X()
    _bb(early_stopping=3, swa=True).fit(X, y, X_dev=X[::5], y_dev=y[::5])


def two_validation_sets():
    X, y = _X()
    _bb(train_split=0.2).fit(X, y, X_dev=X[::5], y_dev=y[::5])


def unknown_recipe():
    Backbone.from_recipe("tiny")


SCENARIOS = {name.replace("_", "-"): fn for name, fn in list(globals().items())
             if callable(fn) and fn.__module__ == __name__ and not name.startswith("_")
             and name not in ("test_every_documented_case_has_a_scenario",)}


def test_every_documented_case_has_a_scenario():
    rows = _table()
    assert len(rows) >= 15
    assert set(rows) == set(SCENARIOS), set(rows) ^ set(SCENARIOS)


@pytest.mark.parametrize("case", sorted(_table()))
def test_documented_bad_input(case):
    error, fragment = _table()[case]
    if error.startswith("ConvergenceWarning"):
        with pytest.warns(ConvergenceWarning, match=re.escape(fragment)):
            SCENARIOS[case]()
        return
    error_type = {"ValueError": ValueError, "TypeError": TypeError,
                  "FloatingPointError": FloatingPointError}[error]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error_type, match=re.escape(fragment)):
            SCENARIOS[case]()
