"""Backbone on image files: decoding transforms, streaming through a DataLoader."""

import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from sklearn_lt import Backbone
from sklearn_lt.backbone._files import EpochBatches, ImageFiles, as_paths
from sklearn_lt.datasets import ImageTransform
from sklearn_lt.heads import TauNormClassifier
from sklearn_lt.nn import ColorJitter, make_sampler
from sklearn_lt.nn._samplers import epoch_batches

FAST = dict(module="cnn", max_epochs=2, batch_size=16, random_state=0, device="cpu")


def _image_files(folder, counts, size=(32, 32), ext="png", seed=0):
    """Class-coloured noisy images written to ``folder``: paths, labels, pixels."""
    rng = np.random.default_rng(seed)
    paths, labels, pixels = [], [], []
    for k, n in enumerate(counts):
        for i in range(n):
            img = rng.integers(0, 60, (size[1], size[0], 3), dtype=np.uint8)
            img[..., k % 3] += np.uint8(120 + 30 * (k // 3))
            path = folder / f"c{k}_{i}.{ext}"
            Image.fromarray(img).save(path)
            paths.append(str(path))
            labels.append(k)
            pixels.append(img.transpose(2, 0, 1))
    return np.array(paths), np.array(labels), np.stack(pixels)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return _image_files(tmp_path_factory.mktemp("files"), [30, 15, 8, 5])


# ---------------------------------------------------------------------- fit on files
@pytest.mark.parametrize("num_workers", [0, 1])
def test_fit_on_files_equals_fit_on_decoded_arrays(files, num_workers):
    # Lossless files, all of them used for the input statistics, and no random
    # decoding: the streamed fit sees the bytes the in-memory fit sees, in the
    # same batches, so it trains the same network (same machine, same batches:
    # the tolerance only allows for a different float summation order).
    paths, y, X = files
    arrays = Backbone(**FAST).fit(X, y)
    streamed = Backbone(**FAST, num_workers=num_workers).fit(paths, y)
    assert streamed.input_shape_ == (3, 32, 32)
    assert streamed.image_transform_.mode == "resize"
    assert not hasattr(streamed, "n_features_in_")
    np.testing.assert_allclose(streamed.transform(paths), arrays.transform(X), atol=1e-5)
    # A file-fitted model also reads arrays of its input shape, the same way.
    np.testing.assert_allclose(streamed.transform(X), streamed.transform(paths), atol=1e-6)
    np.testing.assert_array_equal(streamed.predict(paths), arrays.predict(X))


def test_fit_on_files_takes_lists_of_paths_and_path_objects(files, tmp_path):
    paths, y, X = files
    from pathlib import Path

    as_list = Backbone(**FAST, num_workers=0).fit([Path(p) for p in paths], y)
    np.testing.assert_allclose(as_list.transform(list(paths)),
                               Backbone(**FAST, num_workers=0).fit(paths, y).transform(paths),
                               atol=1e-6)


def test_streaming_with_class_sampler_validation_and_swa(files):
    paths, y, _ = files
    bb = Backbone(**{**FAST, "max_epochs": 3}, sampler="class", train_split=0.25, swa=True,
                  swa_start=1, num_workers=1).fit(paths, y)
    hist = bb.history_
    assert len(hist) == 3 and "valid_bal_acc" in hist[-1]
    # SWA's batch-norm pass streamed the files too; the model is finite and usable.
    proba = bb.predict_proba(paths)
    assert np.isfinite(proba).all() and np.allclose(proba.sum(1), 1, atol=1e-5)


def test_files_x_dev_is_the_validation_set(files):
    paths, y, _ = files
    bb = Backbone(**FAST, num_workers=0).fit(paths[::2], y[::2], X_dev=paths[1::2],
                                             y_dev=y[1::2])
    assert "valid_bal_acc" in bb.history_[-1]
    with pytest.raises(ValueError, match="X_dev must hold paths too"):
        Backbone(**FAST, num_workers=0).fit(paths, y, X_dev=np.zeros((4, 3, 32, 32)),
                                            y_dev=y[:4])


def test_imagenet_augmentation_on_larger_files(tmp_path):
    paths, y, _ = _image_files(tmp_path, [12, 6, 4], size=(96, 80), ext="jpg")
    kw = dict(FAST, batch_size=8, num_workers=1)
    bb = Backbone(**kw).fit(paths, y)
    # "auto": the first image's shorter side (80 > 64 px) and the ImageNet recipe.
    assert bb.input_shape_ == (3, 80, 80)
    assert bb.image_transform_.mode == "resize_center_crop"
    assert isinstance(bb.net_.module_.augment, ColorJitter)
    # Repeatable with an int random_state, workers' random crops included.
    again = Backbone(**kw).fit(paths, y)
    np.testing.assert_allclose(bb.transform(paths), again.transform(paths), atol=1e-5)
    small = Backbone(**kw, image_size=40).fit(paths, y)
    assert small.input_shape_ == (3, 40, 40) and small.transform(paths).shape[0] == len(paths)


def test_file_backbone_in_pipeline_and_pickled(files):
    from sklearn.pipeline import make_pipeline

    paths, y, _ = files
    pipe = make_pipeline(Backbone(**FAST, num_workers=0), TauNormClassifier(tau=1.0))
    pipe.fit(paths, y)
    assert pipe[-1].joint_head_source_ == "backbone"
    loaded = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_allclose(loaded.predict_proba(paths), pipe.predict_proba(paths),
                               atol=1e-6)


# ---------------------------------------------------------------------- bad input
def test_file_input_errors(files, tmp_path):
    paths, y, X = files
    with pytest.raises(FileNotFoundError, match=r"1 of the 3 image files in X do not exist.*"
                                                r"nowhere\.png"):
        Backbone(**FAST).fit(np.array([paths[0], paths[1], str(tmp_path / "nowhere.png")]),
                             [0, 0, 1])
    with pytest.raises(ValueError, match="mixes image paths with 1 other value"):
        Backbone(**FAST).fit([paths[0], 3, paths[2]], y[:3])
    fitted = Backbone(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="fitted on arrays of samples of shape"):
        fitted.transform(paths)
    with pytest.raises(ValueError, match="augment='imagenet' .* needs X as image file paths"):
        Backbone(**FAST, augment="imagenet").fit(X, y)
    with pytest.raises(ValueError, match="swag and meta_epochs need in-memory arrays"):
        Backbone(**FAST, swag=True).fit(paths, y)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    bad = np.concatenate([paths, [str(broken)]])
    with pytest.raises(OSError, match="Cannot decode image file .*broken.png"):
        Backbone(**FAST, num_workers=0).fit(bad, np.concatenate([y, [0]]))
    # A failed fit leaves the fitted model as it was.
    before = fitted.transform(X)
    with pytest.raises(OSError):
        fitted.fit(bad, np.concatenate([y, [0]]))
    np.testing.assert_array_equal(fitted.transform(X), before)
    assert fitted.input_shape_ == (3, 32, 32) and fitted.n_features_in_ == 3 * 32 * 32


def test_as_paths_tells_paths_from_arrays():
    assert as_paths(np.zeros((3, 4))) is None
    assert as_paths("a.png") is None
    assert as_paths(["a.png", "b.png"]).tolist() == ["a.png", "b.png"]
    assert as_paths(np.array(["a.png"])).dtype.kind == "U"


# ---------------------------------------------------------------------- batches
def test_epoch_batches_match_the_in_memory_cut():
    y = np.repeat([0, 1, 2], [20, 6, 3])
    gen_a, gen_b = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    sampler_a = make_sampler("class", y, generator=gen_a)
    sampler_b = make_sampler("class", y, generator=gen_b)
    got = list(EpochBatches(len(y), 8, sampler=sampler_a, drop_single=True))
    from sklearn_lt.nn import epoch_order

    want = [b.tolist() for b in epoch_batches(epoch_order(sampler_b), 8, drop_single=True)]
    assert got == want and len(EpochBatches(len(y), 8, sampler=sampler_a,
                                            drop_single=True)) == len(want)
    # 29 draws in batches of 7: the last batch of one is dropped when asked.
    assert [len(b) for b in EpochBatches(29, 7, drop_single=True)] == [7, 7, 7, 7]


def test_image_files_dataset_items(files):
    paths, y, X = files
    data = ImageFiles(paths, y, ImageTransform(32, "resize"))
    x0, y0 = data[3]
    assert x0.dtype == torch.uint8 and torch.equal(x0, torch.from_numpy(X[3]))
    assert y0 == y[3] and len(data.subset([1, 2])) == 2
    pickle.loads(pickle.dumps(data))  # travels to worker processes


# ---------------------------------------------------------------------- transforms
def _save(tmp_path, pixels, name="im.png"):
    path = tmp_path / name
    Image.fromarray(pixels).save(path)
    return str(path)


def test_resize_center_crop_without_scaling_is_the_centre(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    out = ImageTransform(224, "resize_center_crop")(_save(tmp_path, img))
    # 224 / 0.875 = 256: no resizing, the centred 224 window (16 px margins).
    np.testing.assert_array_equal(out, img[16:240, 16:240].transpose(2, 0, 1))


def test_resize_center_crop_keeps_the_aspect_ratio(tmp_path):
    # Left quarter red, the rest blue, 600 x 300: the shorter side becomes 32,
    # the width 64 (not 32: the aspect ratio is kept); the centred 28 px window
    # is columns 18..45 of the 64. Red ends at column 16, and the filter of a
    # 9.4x downscale reaches 1 output column across, so the window is all blue.
    # (Squashed to 32 x 32, a quarter of the window would be red.)
    img = np.zeros((300, 600, 3), np.uint8)
    img[:, :150, 0] = 255
    img[:, 150:, 2] = 255
    out = ImageTransform(28, "resize_center_crop", crop_fraction=28 / 32)(_save(tmp_path, img))
    assert out.shape == (3, 28, 28)
    assert out[2].min() == 255 and out[0].max() == 0


def test_resize_mode_leaves_images_of_the_size_alone(tmp_path):
    img = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    np.testing.assert_array_equal(ImageTransform(32, "resize")(_save(tmp_path, img)),
                                  img.transpose(2, 0, 1))
    assert ImageTransform(16, "resize")(_save(tmp_path, img)).shape == (3, 16, 16)


def test_random_resized_crop_full_window_flips(tmp_path):
    img = np.random.default_rng(2).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    path = _save(tmp_path, img)
    whole = ImageTransform(40, "random_resized_crop", scale=(1, 1), ratio=(1, 1), flip=1.0)
    np.testing.assert_array_equal(whole(path), img[:, ::-1].transpose(2, 0, 1))
    kept = ImageTransform(40, "random_resized_crop", scale=(1, 1), ratio=(1, 1), flip=0.0)
    np.testing.assert_array_equal(kept(path), img.transpose(2, 0, 1))


def test_random_resized_crop_windows_follow_scale_and_ratio():
    t = ImageTransform(224, "random_resized_crop")
    torch.manual_seed(0)
    areas, ratios = [], []
    for _ in range(500):
        left, top, w, h = t.crop_window(400, 300)
        assert 0 <= left and left + w <= 400 and 0 <= top and top + h <= 300
        areas.append(w * h / 120_000)
        ratios.append(w / h)
    # Rounding to whole pixels moves area and ratio by a pixel's worth.
    assert 0.08 * 0.97 <= min(areas) and max(areas) <= 1.0
    assert 0.75 * 0.97 <= min(ratios) and max(ratios) <= 4 / 3 * 1.03
    # Uniform in area: the mean fraction is (0.08 + 1) / 2 = 0.54 when windows
    # fit; large windows of extreme ratio are redrawn, which lowers it a little.
    assert 0.40 < np.mean(areas) < 0.56
    # A 1000 x 10 strip fits no window of ratio <= 4/3 and area >= 8%: the
    # fallback is the centred window of ratio 4/3, full height.
    assert t.crop_window(1000, 10) == ((1000 - 13) // 2, 0, 13, 10)


def test_image_transform_errors(tmp_path):
    with pytest.raises(ValueError, match="mode must be one of"):
        ImageTransform(32, "zoom")
    with pytest.raises(ValueError, match="size must be a positive int"):
        ImageTransform(0)
    with pytest.raises(ValueError, match="scale must be"):
        ImageTransform(32, scale=(0.5, 0.1))
    # A TIFF saved under a .png name is refused: the extension fixes the format.
    img = np.zeros((8, 8, 3), np.uint8)
    path = tmp_path / "fake.png"
    Image.fromarray(img).save(path, format="TIFF")
    with pytest.raises(OSError, match="Cannot decode image file"):
        ImageTransform(8, "resize")(str(path))


# ---------------------------------------------------------------------- colour jitter
def test_color_jitter_brightness_is_a_clamped_scale():
    x = torch.rand(5, 3, 4, 4)
    gen = torch.Generator().manual_seed(3)
    out = ColorJitter(0.4, 0, 0, generator=gen)(x)
    f = 0.6 + 0.8 * torch.rand(5, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(out, (x * f.view(5, 1, 1, 1)).clamp(0, 1))


def test_color_jitter_contrast_and_saturation_formulas():
    x = torch.rand(4, 3, 6, 6)
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    grey = (x * luma).sum(1, keepdim=True)
    f = 0.6 + 0.8 * torch.rand(4, generator=torch.Generator().manual_seed(7))
    f = f.view(4, 1, 1, 1)
    sat = ColorJitter(0, 0, 0.4, generator=torch.Generator().manual_seed(7))(x)
    torch.testing.assert_close(sat, (f * x + (1 - f) * grey).clamp(0, 1))
    con = ColorJitter(0, 0.4, 0, generator=torch.Generator().manual_seed(7))(x)
    mean = grey.mean(dim=(2, 3), keepdim=True)
    torch.testing.assert_close(con, (f * x + (1 - f) * mean).clamp(0, 1))
    # A grey image has nothing to desaturate.
    g = grey.expand(4, 3, 6, 6)
    torch.testing.assert_close(ColorJitter(0, 0, 0.4)(g), g)
    with pytest.raises(ValueError, match="brightness must be in"):
        ColorJitter(brightness=1.5)


def test_close_stops_persistent_workers_mid_epoch(files):
    # A loader left mid-epoch (an exception in a fit) must not keep its workers.
    paths, y, _ = files
    data = ImageFiles(paths, y, ImageTransform(32, "resize"))
    loader = data.loader(8, num_workers=1)
    batches = iter(loader)
    next(batches)
    workers = list(loader._iterator._workers)
    assert all(w.is_alive() for w in workers)
    data.close()
    for w in workers:
        w.join(timeout=10)
    assert not any(w.is_alive() for w in workers)
