"""Class-aware samplers: class frequencies p_j ~ n_j^q, cycling queues, epochs as tensors."""

import time

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from sklearn_lt.nn import (
    ClassAwareSampler,
    PowerSampler,
    ProgressivelyBalancedSampler,
    epoch_batches,
    epoch_order,
    make_sampler,
)

COUNTS = np.array([400, 100, 25, 5])


def labels(counts=COUNTS, seed=0):
    y = np.repeat(np.arange(len(counts)), counts)
    return np.random.default_rng(seed).permutation(y)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def frequencies(sampler, y, n_classes):
    idx = np.fromiter(iter(sampler), dtype=np.int64)
    return np.bincount(y[idx], minlength=n_classes) / len(idx)


# 60,000 draws: the standard error of a frequency is at most 0.002, the
# tolerance of 0.01 is five of them.
N_DRAWS = 60_000


@pytest.mark.parametrize("q", [0.0, 0.3, 0.5, 1.0])
def test_power_sampler_class_frequencies(q):
    y = labels()
    sampler = PowerSampler(y, q, num_samples=N_DRAWS, generator=gen(1))
    expected = COUNTS**q / (COUNTS**q).sum()
    np.testing.assert_allclose(sampler.class_probabilities(), expected, rtol=1e-12)
    np.testing.assert_allclose(frequencies(sampler, y, 4), expected, atol=0.01)


def test_power_sampler_with_a_huge_exponent_draws_the_largest_class():
    # Issue-8 regression: n_j**200 overflowed float64 and gave NaN frequencies
    # ("invalid multinomial distribution" in Backbone(sampler=150.0)).
    y = np.repeat([0, 1], [50, 49])
    sampler = PowerSampler(y, 200, num_samples=N_DRAWS, generator=gen(2))
    p1 = (49 / 50) ** 200 / (1 + (49 / 50) ** 200)  # 0.0173
    np.testing.assert_allclose(sampler.class_probabilities(), [1 - p1, p1], rtol=1e-12)
    # 60,000 draws: standard error of the frequency 5e-4, the tolerance is 6 of them.
    np.testing.assert_allclose(frequencies(sampler, y, 2), [1 - p1, p1], atol=3e-3)


def test_class_aware_sampler_is_uniform_over_classes():
    y = labels()
    sampler = ClassAwareSampler(y, num_samples=N_DRAWS, generator=gen(2))
    np.testing.assert_allclose(sampler.class_probabilities(), np.full(4, 0.25))
    np.testing.assert_allclose(frequencies(sampler, y, 4), np.full(4, 0.25), atol=0.01)


def test_instance_sampling_is_a_fresh_permutation_each_epoch():
    y = labels()
    sampler = PowerSampler(y, 1.0, generator=gen(3))
    first, second = list(sampler), list(sampler)
    assert len(first) == len(y) == len(sampler)
    assert sorted(first) == list(range(len(y))) == sorted(second)
    assert first != second and first != sorted(first)


@pytest.mark.parametrize("t", [0, 5, 9])
def test_progressively_balanced_schedule(t):
    T = 10
    y = labels()
    sampler = ProgressivelyBalancedSampler(y, total_epochs=T, num_samples=N_DRAWS,
                                           generator=gen(4))
    sampler.set_epoch(t)
    expected = (1 - t / T) * COUNTS / COUNTS.sum() + (t / T) * np.full(4, 0.25)
    np.testing.assert_allclose(sampler.class_probabilities(), expected, rtol=1e-12)
    np.testing.assert_allclose(frequencies(sampler, y, 4), expected, atol=0.01)


def test_progressive_end_points():
    sampler = ProgressivelyBalancedSampler(labels(), total_epochs=4)
    np.testing.assert_allclose(sampler.class_probabilities(), COUNTS / COUNTS.sum())
    sampler.set_epoch(4)
    np.testing.assert_allclose(sampler.class_probabilities(), np.full(4, 0.25))
    sampler.set_epoch(9)  # past T: stays class-balanced
    np.testing.assert_allclose(sampler.class_probabilities(), np.full(4, 0.25))
    with pytest.raises(ValueError, match="epoch"):
        sampler.set_epoch(-1)


@pytest.mark.parametrize(
    "make", [lambda y, g: ClassAwareSampler(y, num_samples=7, generator=g),
             lambda y, g: PowerSampler(y, 0.5, num_samples=7, generator=g)])
def test_within_class_samples_cycle_without_repetition(make):
    # Many short epochs: the queues must carry over from one epoch to the next.
    counts = [9, 4, 3]
    y = labels(counts, seed=5)
    sampler = make(y, gen(6))
    drawn = np.concatenate([list(sampler) for _ in range(200)])
    for c, n_c in enumerate(counts):
        members = np.flatnonzero(y == c)
        seq = drawn[y[drawn] == c]
        n_full = len(seq) // n_c
        assert n_full >= 10
        blocks = seq[: n_full * n_c].reshape(n_full, n_c)
        for block in blocks:  # each pass visits every sample of the class once
            np.testing.assert_array_equal(np.sort(block), members)
        # ... in a new random order each time.
        assert len({tuple(b) for b in blocks}) > 1


def test_determinism_given_the_generator():
    y = labels()
    for strategy in ("instance", "class", "sqrt", "progressive", 0.3):
        a = make_sampler(strategy, y, total_epochs=5, generator=gen(7))
        b = make_sampler(strategy, y, total_epochs=5, generator=gen(7))
        c = make_sampler(strategy, y, total_epochs=5, generator=gen(8))
        epochs_a = [list(a) for _ in range(3)]
        assert epochs_a == [list(b) for _ in range(3)]
        assert epochs_a != [list(c) for _ in range(3)]


def test_string_labels_and_tensor_labels():
    y = np.array(["cat"] * 6 + ["ant"] * 2 + ["bee"] * 2)
    sampler = PowerSampler(y, 1.0)
    np.testing.assert_array_equal(sampler.classes, ["ant", "bee", "cat"])
    np.testing.assert_array_equal(sampler.class_counts, [2, 2, 6])
    np.testing.assert_allclose(sampler.class_probabilities(), [0.2, 0.2, 0.6])
    t = ClassAwareSampler(torch.tensor([3, 3, 3, 7]))
    np.testing.assert_array_equal(t.classes, [3, 7])


def test_works_with_a_dataloader():
    y = labels()
    ds = TensorDataset(torch.arange(len(y)), torch.as_tensor(y))
    loader = DataLoader(ds, batch_size=64, sampler=make_sampler("class", y, generator=gen(9)))
    seen = torch.cat([b[1] for b in loader])
    assert len(seen) == len(y)
    assert np.bincount(seen.numpy(), minlength=4).min() > 0.15 * len(y)


def test_epoch_of_60000_is_fast():
    # Under conftest's one torch thread: measures the algorithm, not the scheduler.
    counts = [int(6000 * 0.01 ** (i / 9)) for i in range(10)]
    counts[0] += 60_000 - sum(counts)
    y = labels(counts)
    for strategy in ("instance", "class", "sqrt"):
        sampler = make_sampler(strategy, y, generator=gen(10))
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            idx = list(sampler)
            best = min(best, time.perf_counter() - t0)
        assert len(idx) == 60_000
        assert best < 0.1, (strategy, best)


def test_make_sampler_mapping_and_errors():
    y = labels()
    assert isinstance(make_sampler("class", y), ClassAwareSampler)
    assert isinstance(make_sampler(0.0, y), ClassAwareSampler)
    assert make_sampler("instance", y).q == 1.0
    assert make_sampler("sqrt", y).q == 0.5
    assert make_sampler(0.3, y).q == 0.3
    pb = make_sampler("progressive", y, total_epochs=3)
    assert isinstance(pb, ProgressivelyBalancedSampler) and pb.total_epochs == 3
    assert len(make_sampler("sqrt", y, num_samples=11)) == 11
    with pytest.raises(ValueError, match="total_epochs"):
        make_sampler("progressive", y)
    with pytest.raises(ValueError, match="'instance', 'class'"):
        make_sampler("balanced", y)
    with pytest.raises(ValueError, match="q must be"):
        make_sampler(-0.5, y)
    with pytest.raises(ValueError, match="num_samples"):
        make_sampler("class", y, num_samples=0)
    with pytest.raises(ValueError, match="1-D"):
        ClassAwareSampler(np.zeros((3, 2)))


@pytest.mark.parametrize("strategy", ["instance", "class", "sqrt", "progressive"])
def test_epoch_order_matches_iteration(strategy):
    y = np.repeat([0, 1, 2], [50, 10, 3])
    a = make_sampler(strategy, y, total_epochs=4, generator=torch.Generator().manual_seed(3))
    b = make_sampler(strategy, y, total_epochs=4, generator=torch.Generator().manual_seed(3))
    order = epoch_order(a)
    assert order.dtype == torch.long
    assert order.tolist() == list(iter(b))
    # a plain torch sampler goes through iteration
    assert epoch_order(torch.utils.data.SequentialSampler(range(5))).tolist() == [0, 1, 2, 3, 4]


def test_epoch_batches_cuts_consecutive_batches():
    order = torch.tensor([4, 2, 7, 1, 0, 3, 5])
    assert [b.tolist() for b in epoch_batches(order, 3)] == [[4, 2, 7], [1, 0, 3], [5]]
    # A last batch of one is dropped on request (batch norm cannot train on it) ...
    assert [b.tolist() for b in epoch_batches(order, 3, drop_single=True)] == [[4, 2, 7],
                                                                              [1, 0, 3]]
    # ... but never the only batch, and a last batch of two stays.
    assert [b.tolist() for b in epoch_batches(order[:1], 3, drop_single=True)] == [[4]]
    assert [len(b) for b in epoch_batches(order[:5], 3, drop_single=True)] == [3, 2]
    assert list(epoch_batches(order[:0], 3)) == []


def test_class_epoch_num_samples():
    y = labels()
    # n_classes * max_j n_j = 4 * 400 draws, for every strategy.
    for strategy in ("class", "sqrt", "progressive", "instance"):
        sampler = make_sampler(strategy, y, total_epochs=2, num_samples="class_epoch")
        assert len(sampler) == 1600 and len(epoch_order(sampler)) == 1600


def test_batch_count_is_what_epoch_batches_yields():
    from sklearn_lt.nn._samplers import batch_count, epoch_batches

    for n in range(1, 40):
        for bs in (1, 2, 3, 8, 16):
            for drop in (False, True):
                yielded = list(epoch_batches(torch.arange(n), bs, drop_single=drop))
                assert batch_count(n, bs, drop_single=drop) == len(yielded), (n, bs, drop)
                assert torch.equal(torch.cat(yielded), torch.arange(len(torch.cat(yielded))))
