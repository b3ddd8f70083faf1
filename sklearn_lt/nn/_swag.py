"""SWA-Gaussian: a low-rank plus diagonal Gaussian over a network's weights.

Maddox et al. (NeurIPS 2019) fit ``q(theta | D) = N(theta_SWA, Sigma)`` from
the SGD iterates of the SWA phase:

``Sigma = 1/2 (diag(mean(theta^2) - theta_SWA^2) + D D^T / (K - 1))``

with ``D`` the deviations ``theta_i - theta_bar_i`` of the last ``K``
snapshots from the running mean. A sample is

``theta = theta_SWA + sqrt(scale) (sqrt(diag) * z1 + D z2 / sqrt(K - 1))``,
``z1 ~ N(0, I_P)``, ``z2 ~ N(0, I_K)``,

so ``scale = 1/2`` draws from ``Sigma`` as written above. Nam, Jang & Lee
(ICLR 2023) sample feature extractors from it to obtain stochastic
representations for classifier re-training.

The posterior keeps ``K + 2`` vectors of the parameter count (mean, second
moment, ``K`` deviations), in float32 on the CPU whatever device trained the
network: a GPU-fitted posterior pickles and loads anywhere, and the GPU keeps
its memory for training.
"""

import math
import numbers

import torch

__all__ = ["SWAGPosterior", "flat_parameters"]


def flat_parameters(module):
    """All parameters of ``module`` as one detached float32 CPU vector.

    Unlike ``torch.nn.utils.parameters_to_vector`` it accepts parameters in a
    non-contiguous memory format (channels-last convolutions): each is read in
    its logical order, the order :meth:`SWAGPosterior.load_into` writes back.

    Parameters
    ----------
    module : torch.nn.Module
        The network.

    Returns
    -------
    theta : torch.Tensor of shape (n_params,)
        The parameters, concatenated.
    """
    return torch.cat([p.detach().reshape(-1).float().cpu() for p in module.parameters()])


class SWAGPosterior:
    """SWAG posterior over the parameters of a module (Maddox et al., 2019).

    Parameters
    ----------
    module : torch.nn.Module
        The network whose ``parameters()`` (all of them, batch-norm affine
        weights included; buffers are not parameters) the posterior covers.
        Only their count and order are read here.
    max_rank : int, default=20
        ``K``, the number of deviation columns kept (the last ``K`` snapshots).

    Attributes
    ----------
    n_collected : int
        Snapshots collected so far.
    mean : torch.Tensor of shape (n_params,)
        Running mean of the snapshots, ``theta_SWA``.
    sq_mean : torch.Tensor of shape (n_params,)
        Running mean of the squared snapshots.
    deviations : torch.Tensor of shape (rank, n_params)
        The deviation rows ``D^T`` of the last ``rank <= max_rank``
        snapshots, oldest first.

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.nn import SWAGPosterior
    >>> net = torch.nn.Linear(3, 2)
    >>> post = SWAGPosterior(net, max_rank=5)
    >>> for _ in range(6):
    ...     with torch.no_grad():
    ...         _ = net.weight.add_(0.1 * torch.randn(2, 3))
    ...     post.collect(net)
    >>> post.n_collected, post.rank, post.sample(generator=torch.Generator().manual_seed(0)).shape
    (6, 5, torch.Size([8]))
    """

    def __init__(self, module, max_rank=20):
        if isinstance(max_rank, bool) or not isinstance(max_rank, numbers.Integral) \
                or max_rank < 1:
            raise ValueError(f"max_rank must be a positive int, got {max_rank!r}.")
        self.max_rank = int(max_rank)
        n = sum(p.numel() for p in module.parameters())
        self.n_collected = 0
        self.mean = torch.zeros(n)
        self.sq_mean = torch.zeros(n)
        self._dev = torch.zeros(self.max_rank, n)
        self._next = 0  # ring-buffer slot of the next deviation
        self.rank = 0

    @property
    def n_params(self):
        """Number of parameters covered."""
        return self.mean.shape[0]

    @property
    def deviations(self):
        order = [(self._next + i) % self.max_rank for i in range(self.rank)] \
            if self.rank == self.max_rank else list(range(self.rank))
        return self._dev[order]

    @property
    def nbytes(self):
        """Memory held: ``(max_rank + 2) * n_params`` float32 values."""
        return sum(t.numel() * t.element_size() for t in (self.mean, self.sq_mean, self._dev))

    @torch.no_grad()
    def collect(self, module):
        """Add the current parameters of ``module`` as a snapshot."""
        theta = flat_parameters(module)
        if theta.shape[0] != self.n_params:
            raise ValueError(f"module has {theta.shape[0]} parameters, the posterior "
                             f"{self.n_params}.")
        n = self.n_collected
        self.mean.mul_(n / (n + 1)).add_(theta / (n + 1))
        self.sq_mean.mul_(n / (n + 1)).add_(theta.square() / (n + 1))
        # Deviation from the mean *including* this snapshot (Maddox et al.'s code).
        self._dev[self._next] = theta - self.mean
        self._next = (self._next + 1) % self.max_rank
        self.rank = min(self.rank + 1, self.max_rank)
        self.n_collected += 1

    def variance(self):
        """The diagonal ``mean(theta^2) - theta_SWA^2``, clipped at 0 (rounding)."""
        return (self.sq_mean - self.mean.square()).clamp_min(0.0)

    @torch.no_grad()
    def sample(self, scale=0.5, *, generator=None, diagonal=True, low_rank=True):
        """One parameter vector ``theta_SWA + sqrt(scale) (sqrt(diag) z1 + D z2 / sqrt(K-1))``.

        Parameters
        ----------
        scale : float, default=0.5
            Multiplies the covariance; 0.5 is the full SWAG covariance as
            defined above, 0 returns ``theta_SWA``.
        generator : torch.Generator, default=None
            Source of ``z1`` and ``z2`` (a CPU generator).
        diagonal, low_rank : bool, default=True
            Which parts of the covariance to use. The low-rank part needs at
            least 2 snapshots (``K - 1`` divides it) and is skipped below that.

        Returns
        -------
        theta : torch.Tensor of shape (n_params,)
            A float32 CPU vector (see :meth:`load_into`).
        """
        if self.n_collected == 0:
            raise RuntimeError("The posterior has no snapshot yet; collect some first.")
        if not (isinstance(scale, numbers.Real) and math.isfinite(scale) and scale >= 0):
            raise ValueError(f"scale must be a finite number >= 0, got {scale!r}.")
        noise = torch.zeros(self.n_params)
        if diagonal:
            z1 = torch.randn(self.n_params, generator=generator)
            noise += self.variance().sqrt() * z1
        if low_rank and self.rank >= 2:
            z2 = torch.randn(self.rank, generator=generator)
            noise += (self._dev[: self.rank].T @ z2) / math.sqrt(self.rank - 1)
        return self.mean + math.sqrt(scale) * noise

    @torch.no_grad()
    def load_into(self, module, theta):
        """Write a parameter vector (e.g. a sample or ``mean``) into ``module``."""
        start = 0
        for p in module.parameters():
            n = p.numel()
            # copy_ keeps each parameter's memory format (channels-last convolutions).
            p.copy_(theta[start:start + n].view(p.shape))
            start += n
        return module
