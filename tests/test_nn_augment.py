"""Batched random crop and flip: every output is one shifted (flipped) window, uniformly drawn."""

import itertools
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sklearn_lt.nn import CropFlip, random_crop_flip


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def naive_windows(img, padding):
    """Every (dy, dx, flipped) window of one zero-padded image, by plain slicing."""
    _, h, w = img.shape
    padded = F.pad(img, (padding,) * 4)
    out = {}
    for dy, dx, flipped in itertools.product(range(2 * padding + 1), range(2 * padding + 1),
                                             (False, True)):
        win = padded[:, dy:dy + h, dx:dx + w]
        out[(dy, dx, flipped)] = win.flip(-1) if flipped else win
    return out


def match_windows(x, out, padding):
    """The (dy, dx, flipped) of each output image, checked against a per-image loop."""
    found = []
    for img, res in zip(x, out):
        hits = [key for key, win in naive_windows(img, padding).items() if torch.equal(win, res)]
        assert len(hits) == 1, "output is not exactly one shifted (flipped) window"
        found.append(hits[0])
    return found


def test_padding_zero_flip_forced_and_disabled():
    x = torch.randn(5, 3, 6, 7)
    torch.testing.assert_close(random_crop_flip(x, padding=0, flip_prob=1.0), x.flip(-1),
                               rtol=0, atol=0)
    torch.testing.assert_close(random_crop_flip(x, padding=0, flip=False), x, rtol=0, atol=0)
    torch.testing.assert_close(random_crop_flip(x, padding=0, flip_prob=0.0), x, rtol=0, atol=0)


def test_crops_are_exact_shifted_windows_of_the_padded_image():
    torch.manual_seed(0)
    x = torch.randn(24, 2, 8, 8)  # continuous values: a window matches only itself
    x_before = x.clone()
    out = random_crop_flip(x, padding=2, generator=gen(1))
    assert out.shape == x.shape
    torch.testing.assert_close(x, x_before, rtol=0, atol=0)  # input untouched
    found = match_windows(x, out, padding=2)
    assert len({k[:2] for k in found}) > 5  # offsets differ between images


def test_offsets_and_flips_are_uniform():
    torch.manual_seed(0)
    x = torch.randn(1500, 1, 6, 6)
    found = match_windows(x, random_crop_flip(x, padding=1, generator=gen(2)), padding=1)
    dy = np.array([k[0] for k in found])
    dx = np.array([k[1] for k in found])
    flips = np.array([k[2] for k in found])
    # 3 offsets per axis with probability 1/3; sd of a frequency ~0.012.
    np.testing.assert_allclose(np.bincount(dy, minlength=3) / len(dy), [1 / 3] * 3, atol=0.05)
    np.testing.assert_allclose(np.bincount(dx, minlength=3) / len(dx), [1 / 3] * 3, atol=0.05)
    assert abs(flips.mean() - 0.5) < 0.05
    # independent axes: all 9 combinations occur
    assert len(set(zip(dy, dx))) == 9


def test_determinism_with_generator():
    x = torch.randn(16, 3, 32, 32)
    a = random_crop_flip(x, generator=gen(3))
    b = random_crop_flip(x, generator=gen(3))
    c = random_crop_flip(x, generator=gen(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_dtypes_and_layouts():
    x = torch.randint(0, 255, (4, 3, 10, 10), dtype=torch.uint8)
    out = random_crop_flip(x, padding=3, generator=gen(5))
    assert out.dtype == torch.uint8
    # Same generator state, same offsets: integer and float batches agree.
    ref = random_crop_flip(x.double(), padding=3, generator=gen(5))
    torch.testing.assert_close(out.double(), ref, rtol=0, atol=0)
    xc = x.double().contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(random_crop_flip(xc, padding=3, generator=gen(5)), ref,
                               rtol=0, atol=0)


def test_crop_flip_module_only_acts_in_training():
    x = torch.randn(8, 3, 12, 12)
    aug = CropFlip(padding=2, generator=gen(6))
    assert aug.training
    out = aug(x)
    assert not torch.equal(out, x)
    match_windows(x, out, padding=2)
    assert aug.eval()(x) is x
    torch.testing.assert_close(CropFlip(padding=2, generator=gen(6))(x), out, rtol=0, atol=0)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        random_crop_flip(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="padding"):
        random_crop_flip(torch.zeros(1, 1, 8, 8), padding=-1)
    with pytest.raises(ValueError, match="flip_prob"):
        random_crop_flip(torch.zeros(1, 1, 8, 8), flip_prob=1.5)
    with pytest.raises(ValueError, match="padding"):
        CropFlip(padding=2.5)


def test_speed_batch_128_cifar():
    # Under conftest's one torch thread: measures the algorithm, not the scheduler.
    x = torch.randn(128, 3, 32, 32)
    g = gen(7)
    best = float("inf")
    for _ in range(10):
        t0 = time.perf_counter()
        random_crop_flip(x, generator=g)
        best = min(best, time.perf_counter() - t0)
    assert best < 0.02, best  # about 1 ms on one core
