"""SWAGPosterior: moments of the collected snapshots and of the samples drawn from it."""

import io
import math
import pickle

import numpy as np
import pytest
import torch

from sklearn_lt.nn import SWAGPosterior


def _snapshots(module, n, seed=0):
    """Move ``module``'s weights through ``n`` random snapshots; return them stacked."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        with torch.no_grad():
            for p in module.parameters():
                p.add_(0.3 * torch.randn(p.shape, generator=gen))
        out.append(torch.nn.utils.parameters_to_vector(module.parameters()).detach().clone())
    return torch.stack(out).double()


def test_collected_moments_and_deviations_match_their_formulas():
    net = torch.nn.Linear(3, 2)  # 8 parameters
    post = SWAGPosterior(net, max_rank=4)
    thetas = []
    for theta in _snapshots(net, 7):
        with torch.no_grad():
            torch.nn.utils.vector_to_parameters(theta.float(), net.parameters())
        post.collect(net)
        thetas.append(theta)
    thetas = torch.stack(thetas)
    # float32 running means of 7 values of order 1: errors of a few ulps.
    torch.testing.assert_close(post.mean.double(), thetas.mean(0), rtol=0, atol=1e-5)
    torch.testing.assert_close(post.sq_mean.double(), (thetas**2).mean(0), rtol=0, atol=1e-5)
    # Deviations of the last 4 snapshots from the running mean including each of them.
    running = torch.cumsum(thetas, 0) / torch.arange(1, 8, dtype=torch.float64)[:, None]
    expected = (thetas - running)[-4:]
    torch.testing.assert_close(post.deviations.double(), expected, rtol=0, atol=1e-5)
    assert post.rank == 4 and post.n_collected == 7


def test_samples_have_the_swag_mean_and_covariance():
    net = torch.nn.Linear(3, 2)
    post = SWAGPosterior(net, max_rank=5)
    for theta in _snapshots(net, 9, seed=1):
        with torch.no_grad():
            torch.nn.utils.vector_to_parameters(theta.float(), net.parameters())
        post.collect(net)
    scale, n = 0.5, 40_000
    gen = torch.Generator().manual_seed(3)
    draws = torch.stack([post.sample(scale, generator=gen) for _ in range(n)]).double()
    D = post.deviations.double()
    sigma = scale * (torch.diag(post.variance().double()) + D.T @ D / (post.rank - 1))
    mean = post.mean.double()
    # Monte Carlo: the sample mean of coordinate i has standard error
    # sqrt(sigma_ii / n); the sample covariance entry (i, j) has standard error
    # sqrt((sigma_ii sigma_jj + sigma_ij^2) / n). 5 standard errors on 8 + 64
    # entries: a false alarm has probability below 1e-4.
    se_mean = torch.sqrt(torch.diag(sigma) / n)
    assert torch.all((draws.mean(0) - mean).abs() < 5 * se_mean)
    cov = torch.cov(draws.T)
    d = torch.diag(sigma)
    se_cov = torch.sqrt((d[:, None] * d[None, :] + sigma**2) / n)
    assert torch.all((cov - sigma).abs() < 5 * se_cov)


def test_samples_differ_and_shrink_to_the_mean_as_scale_goes_to_zero():
    net = torch.nn.Linear(4, 3)
    post = SWAGPosterior(net, max_rank=3)
    for _ in range(5):
        _snapshots(net, 1, seed=_)
        post.collect(net)
    gen = torch.Generator().manual_seed(0)
    a, b = post.sample(generator=gen), post.sample(generator=gen)
    assert not torch.equal(a, b)
    dist = []
    for scale in (1.0, 1e-2, 1e-4):
        gen = torch.Generator().manual_seed(0)
        draws = torch.stack([post.sample(scale, generator=gen) for _ in range(20)]).double()
        dist.append(float((draws.mean(0) - post.mean.double()).norm()))
    # With the same noise, the distance scales with sqrt(scale); float32 draws
    # of order 1 carry rounding errors of ~1e-7, far below the distances.
    assert dist[1] == pytest.approx(dist[0] * math.sqrt(1e-2), rel=1e-3)
    assert dist[2] == pytest.approx(dist[0] * math.sqrt(1e-4), rel=1e-2)
    assert torch.equal(post.sample(0.0, generator=torch.Generator().manual_seed(0)), post.mean)


def test_memory_is_k_plus_two_copies_of_the_parameters():
    net = torch.nn.Sequential(torch.nn.Linear(10, 7), torch.nn.BatchNorm1d(7),
                              torch.nn.Linear(7, 3))
    n_params = sum(p.numel() for p in net.parameters())
    post = SWAGPosterior(net, max_rank=20)
    assert post.n_params == n_params
    assert post.nbytes == (20 + 2) * n_params * 4  # float32, whatever was collected
    for _ in range(25):
        post.collect(net)
    assert post.nbytes == (20 + 2) * n_params * 4 and post.rank == 20


def test_low_rank_part_needs_two_snapshots_and_errors():
    net = torch.nn.Linear(2, 2)
    post = SWAGPosterior(net, max_rank=4)
    with pytest.raises(RuntimeError, match="no snapshot"):
        post.sample()
    post.collect(net)
    # One snapshot: zero variance and no low-rank part, so the sample is the mean.
    torch.testing.assert_close(post.sample(), post.mean)
    with pytest.raises(ValueError, match="scale"):
        post.sample(-1.0)
    with pytest.raises(ValueError, match="max_rank"):
        SWAGPosterior(net, max_rank=0)
    with pytest.raises(ValueError, match="parameters"):
        post.collect(torch.nn.Linear(3, 2))


def test_load_into_writes_the_vector_and_pickles():
    net = torch.nn.Linear(3, 2)
    post = SWAGPosterior(net, max_rank=2)
    for _ in range(3):
        _snapshots(net, 1)
        post.collect(net)
    theta = post.sample(generator=torch.Generator().manual_seed(1))
    post.load_into(net, theta)
    np.testing.assert_array_equal(
        torch.nn.utils.parameters_to_vector(net.parameters()).detach().numpy(), theta.numpy())
    buf = io.BytesIO()
    pickle.dump(post, buf)
    buf.seek(0)
    loaded = pickle.load(buf)
    a = loaded.sample(generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, theta) and loaded.mean.device.type == "cpu"
