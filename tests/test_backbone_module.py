"""The module a Backbone trains: input scaling, augmentation, features and the joint head."""

import numpy as np
import pytest
from scipy.special import softmax

from sklearn_lt import Backbone
from sklearn_lt.nn import LOSSES, CropFlip, NormedLinear

# float32's unit roundoff.
U32 = np.finfo(np.float32).eps / 2


def test_images_uint8_cnn_and_augmentation():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 255, size=(40, 3, 32, 32), dtype=np.uint8)
    y = np.repeat([0, 1], [30, 10])
    bb = Backbone(module="cnn", max_epochs=1, batch_size=16, random_state=0, augment="auto")
    bb.fit(X, y)
    assert isinstance(bb.module_.augment, CropFlip)  # crop+flip for RGB
    assert bb.module_.augment.flip and bb.module_.augment.padding == 4
    assert not bb.module_.training  # left in eval mode: inference is deterministic
    Z = bb.transform(X[:5])
    assert Z.shape == (5, bb.n_features_out_) and Z.dtype == np.float32
    np.testing.assert_array_equal(bb.transform(X[:5]), Z)
    # grey (N, H, W) images get a channel axis
    Xg = rng.randint(0, 255, size=(40, 28, 28), dtype=np.uint8)
    bb2 = Backbone(module="auto", max_epochs=1, batch_size=16, random_state=0).fit(Xg, y)
    assert bb2.input_shape_ == (1, 28, 28)
    # grey images are cropped, not flipped (a flip changes a digit)
    assert not bb2.module_.augment.flip and bb2.module_.augment.padding == 4
    with pytest.raises(ValueError, match="shape"):
        bb2.transform(X[:, :1, :28, :27])
    crop = Backbone(module="cnn", max_epochs=1, batch_size=16, random_state=0,
                    augment="crop").fit(X, y)
    assert not crop.module_.augment.flip
    with pytest.raises(ValueError, match="augment='crop' needs image input"):
        Backbone(module="mlp", augment="crop").fit(X.reshape(40, -1)[:, :10], y)


# --------------------------------------------------------------------------- (3) input dtype
@pytest.fixture(scope="module")
def pixels():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [20, 12, 8])
    X = np.clip(rng.normal(60 + 60 * y[:, None, None, None], 40, size=(40, 1, 8, 8)), 0, 255)
    return X.astype(np.uint8), y


@pytest.mark.parametrize("fit_dtype, predict_dtype", [(np.uint8, np.float32),
                                                      (np.float32, np.uint8)])
def test_03_input_scaling_follows_the_dtype_seen_at_fit(pixels, fit_dtype, predict_dtype):
    """(3) Old: uint8 input was always divided by 255 and floats never, whatever the fit saw."""
    X, y = pixels
    bb = Backbone(module="mlp", module__hidden=(16,), max_epochs=3, batch_size=16,
                  random_state=0).fit(X.astype(fit_dtype), y)
    same_pixels = X.astype(predict_dtype)
    # The same pixel values, cast before the same division: identical outputs.
    np.testing.assert_array_equal(bb.transform(same_pixels), bb.transform(X.astype(fit_dtype)))
    np.testing.assert_array_equal(bb.predict_proba(same_pixels),
                                  bb.predict_proba(X.astype(fit_dtype)))
    # The divisor is the fitted dtype's: a float model is not on a 0..1 scale.
    expected = 255.0 if fit_dtype == np.uint8 else 1.0
    assert bb.module_.input_divisor == expected


# --------------------------------------------------------------------------- (7) joint head
@pytest.mark.parametrize("loss", sorted(LOSSES))  # the registry: a new loss is covered
def test_07_every_loss_trains_and_its_joint_head_reads_out_the_logits(blobs, tiny_backbone,
                                                                       loss):
    """(7) Old: for LDAM (cosine head) coef_/intercept_ did not reproduce decision_function."""
    X, y = blobs
    bb = tiny_backbone(loss=loss, max_epochs=10).fit(X, y)
    assert np.isfinite(bb.net_.history[-1, "train_loss"])
    assert (bb.predict(X) == y).mean() > 0.8
    Z = bb.transform(X).astype(np.float64)
    logits = bb.decision_function(X)
    readout = Z @ bb.coef_.T + bb.intercept_
    # The network computes the logits in float32: a d-term dot product carries
    # at most d * u relative to sum_k |z_k w_jk| (plus a few roundings for the
    # bias, the cosine normalisation and the scale); the read-out is float64 of
    # the same float32 numbers. Twice that bound, entrywise.
    d = Z.shape[1]
    bound = 2 * (d + 4) * U32 * (np.abs(Z) @ np.abs(bb.coef_).T + np.abs(bb.intercept_))
    assert np.all(np.abs(readout - logits) <= bound), np.max(np.abs(readout - logits) / bound)
    # predict_proba is the float64 softmax of the very same float32 logits: it
    # differs from scipy's softmax by float64 rounding only.
    np.testing.assert_allclose(softmax(logits.astype(np.float64), axis=1), bb.predict_proba(X),
                               rtol=1e-12, atol=1e-15)
    cosine = LOSSES[loss].head == "cosine"
    assert isinstance(bb.module_.head, NormedLinear) == cosine
    assert bb.logit_scale_ == (30.0 if cosine else 1.0)
    if cosine:
        # transform returns the unit-norm features the cosine head reads.
        np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, rtol=1e-6)
        np.testing.assert_array_equal(bb.intercept_, 0.0)


def test_07_binary_decision_function_reads_out_the_difference(blobs, tiny_backbone):
    X, y = blobs
    keep = y < 2
    bb = tiny_backbone(max_epochs=3, loss="ldam").fit(X[keep], y[keep])
    Z = bb.transform(X[keep]).astype(np.float64)
    z = Z @ bb.coef_.T + bb.intercept_
    scores = bb.decision_function(X[keep])
    assert scores.shape == (keep.sum(),)
    # As above: float32 logits against a float64 read-out, 30-scaled cosines.
    bound = 4 * (Z.shape[1] + 4) * U32 * (np.abs(Z) @ np.abs(bb.coef_).T).sum(axis=1)
    assert np.all(np.abs(scores - (z[:, 1] - z[:, 0])) <= bound)
    np.testing.assert_array_equal(bb.predict(X[keep]), (scores > 0).astype(int))


@pytest.mark.parametrize("shape, dtype, axes", [
    ((300, 3, 6, 5), np.uint8, (0, 2, 3)),
    ((4100, 7), np.float32, (0,)),
    ((3, 1, 4, 4), np.uint8, (0, 2, 3)),
])
def test_input_moments_equal_numpy_mean_and_std(shape, dtype, axes):
    # Summed in blocks of rows (no float64 copy of the whole input), yet the
    # same statistics as numpy's mean and std, to float64 rounding.
    from sklearn_lt.backbone._estimator import _input_moments

    rng = np.random.default_rng(0)
    X = (rng.integers(0, 256, shape).astype(dtype) if dtype == np.uint8
         else rng.normal(3, 2, shape).astype(dtype))
    mean, std = _input_moments(X, axes, rows=64)
    np.testing.assert_allclose(mean, X.mean(axis=axes, dtype=np.float64), rtol=1e-13)
    np.testing.assert_allclose(std, X.std(axis=axes, dtype=np.float64), rtol=1e-12)
