"""Progress output: per-batch bars at Backbone(verbose=2), a file bar in load_image_folder.

tqdm writes to stderr; each bar's first render is ``0/N`` with its total N,
which the tests read back, whatever later renders tqdm's refresh interval skips.
"""

import re
import tarfile

import numpy as np
import pytest

from sklearn_lt import Backbone
from sklearn_lt.datasets import load_image_folder

_COUNT = re.compile(r"(\d+)/(\d+) \[")


def _bar_totals(err, desc=None):
    """The total of every bar render in ``err`` (only those named ``desc`` if given)."""
    renders = err.replace("\r", "\n").splitlines()
    if desc is not None:
        renders = [r for r in renders if r.startswith(desc)]
    return [int(m.group(2)) for r in renders for m in [_COUNT.search(r)] if m]


@pytest.fixture(scope="module")
def data():
    # 65 training rows in batches of 32: the last batch would hold one sample,
    # which the iterator drops for the MLP's batch norm, so 2 batches an epoch.
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [40, 17, 8])
    X = (rng.randn(len(y), 6) + y[:, None]).astype(np.float32)
    return X, y


def _backbone(verbose, **params):
    return Backbone(module="mlp", max_epochs=2, batch_size=32, predict_batch_size=16,
                    random_state=0, verbose=verbose, **params)


def test_fit_verbose_2_shows_a_bar_per_epoch_over_its_batches(data, capfd):
    X, y = data
    _backbone(2).fit(X, y)
    out, err = capfd.readouterr()
    totals = _bar_totals(err)
    assert totals and set(totals) == {2}
    assert "fit, epoch 1/2" in err and "fit, epoch 2/2" in err
    assert "train_loss" in out  # the epoch table is still printed


def test_fit_bar_counts_validation_batches(data, capfd):
    X, y = data
    rng = np.random.RandomState(1)
    X_dev = rng.randn(20, 6).astype(np.float32)
    y_dev = np.repeat([0, 1, 2], [7, 7, 6])
    _backbone(2).fit(X, y, X_dev, y_dev)
    # 2 training batches + ceil(20 / 32) = 1 validation batch.
    assert set(_bar_totals(capfd.readouterr().err)) == {3}


def test_verbose_1_prints_the_epoch_table_and_no_bar(data, capfd):
    X, y = data
    bb = _backbone(1).fit(X, y)
    bb.transform(X)
    out, err = capfd.readouterr()
    assert "epoch" in out and "train_loss" in out and len(out.strip().splitlines()) == 4
    assert err == ""


def test_verbose_0_prints_nothing(data, capfd):
    X, y = data
    bb = _backbone(0, swa=True).fit(X, y)
    bb.transform(X)
    bb.predict_proba(X)
    assert capfd.readouterr() == ("", "")


def test_inference_bars_count_predict_batches(data, capfd):
    X, y = data
    bb = _backbone(2).fit(X, y)
    capfd.readouterr()
    Z = bb.transform(X)
    bb.predict(X)
    err = capfd.readouterr().err
    # predict_batch_size=16 over 65 rows: ceil(65 / 16) = 5 batches.
    assert set(_bar_totals(err, "transform")) == {5}
    assert set(_bar_totals(err, "predict")) == {5}
    # The bars change nothing: a silent fit gives the same features.
    np.testing.assert_array_equal(_backbone(0).fit(X, y).transform(X), Z)


def test_swa_batch_norm_recomputation_shows_a_bar(data, capfd):
    X, y = data
    _backbone(2, swa=True).fit(X, y)
    # One pass over the 65 training rows in batches of 32, the last batch of
    # one left out (batch norm cannot take it; it used to raise).
    assert set(_bar_totals(capfd.readouterr().err, "SWA batch norm")) == {2}


def _image_tree(root, n_per_class=(3, 2)):
    from PIL import Image

    for k, n in enumerate(n_per_class):
        folder = root / f"class{k}"
        folder.mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (4, 3), color=(k * 80, i * 40, 0)).save(folder / f"{i}.png")
    return sum(n_per_class)


def test_image_folder_verbose_shows_a_bar_over_the_files(tmp_path, capfd):
    pytest.importorskip("PIL")
    n = _image_tree(tmp_path / "tree")
    data = load_image_folder(tmp_path / "tree", verbose=True)
    assert len(data.data) == n
    out, err = capfd.readouterr()
    assert set(_bar_totals(err, "load_image_folder")) == {n}
    assert f"done: {n} images decoded" in err
    assert out == ""


def test_image_folder_archive_bar_counts_members(tmp_path, capfd):
    pytest.importorskip("PIL")
    n = _image_tree(tmp_path / "tree")
    archive = tmp_path / "tree.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(tmp_path / "tree", arcname=".")
    load_image_folder(archive, verbose=True)
    err = capfd.readouterr().err
    assert "member" in err and not _bar_totals(err)  # open-ended: no total
    assert f"done: {n} images decoded, {n} archive members read" in err


def test_image_folder_quiet_by_default(tmp_path, capfd):
    pytest.importorskip("PIL")
    _image_tree(tmp_path / "tree")
    load_image_folder(tmp_path / "tree")
    load_image_folder(tmp_path / "tree", verbose=False)
    assert capfd.readouterr() == ("", "")
