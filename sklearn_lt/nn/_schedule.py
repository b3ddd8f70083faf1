"""The learning-rate schedule of both training stages, as a ``LambdaLR`` factor.

Stage 1 (:class:`~sklearn_lt.Backbone`, through skorch's ``LRScheduler``
callback) and stage 2 (:func:`~sklearn_lt.nn.train_module`) step a
``torch.optim.lr_scheduler.LambdaLR`` once per epoch with the factor below, so
the two stages share one definition of warm-up, step decay and cosine decay.
Kang et al.'s stage-2 "coslr" is the cosine case without warm-up.
"""

import math
import numbers

SCHEDULES = ("step", "cosine", "constant")

__all__ = ["lr_lambda"]


def lr_lambda(epochs, *, schedule="cosine", warmup_epochs=0, milestones=(), decay=0.01):
    """Learning-rate factor per epoch: linear warm-up, then step, cosine or constant.

    Parameters
    ----------
    epochs : int
        Total number of epochs ``T``.
    schedule : {"step", "cosine", "constant"}, default="cosine"
        ``"step"`` multiplies by ``decay`` at each milestone; ``"cosine"`` is
        ``(1 + cos(pi (t - w) / (T - w))) / 2`` after ``w`` warm-up epochs
        (``CosineAnnealingLR`` with ``eta_min=0``, stepped per epoch);
        ``"constant"`` keeps the peak rate.
    warmup_epochs : int, default=0
        Epoch ``t < w`` uses ``(t + 1) / w``: a linear ramp up to the peak.
    milestones : sequence of int, default=()
        Epochs (from 0) at which ``"step"`` decays.
    decay : float, default=0.01
        Multiplier at each milestone of ``"step"``.

    Returns
    -------
    factor : callable
        ``factor(epoch) -> float``, the multiplier of the peak learning rate
        for an epoch counted from 0, as ``LambdaLR(lr_lambda=...)`` expects.

    Examples
    --------
    >>> from sklearn_lt.nn import lr_lambda
    >>> f = lr_lambda(200, schedule="step", warmup_epochs=5, milestones=(160, 180))
    >>> [round(f(t), 6) for t in (0, 4, 159, 160, 180)]
    [0.2, 1.0, 1.0, 0.01, 0.0001]
    >>> g = lr_lambda(10)
    >>> g(0), g(5)
    (1.0, 0.5)
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}.")
    for name, value in (("epochs", epochs), ("warmup_epochs", warmup_epochs)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}.")
    milestones = tuple(int(m) for m in milestones)
    return _Factor(int(epochs), schedule, int(warmup_epochs), milestones, float(decay))


class _Factor:
    """Picklable ``epoch -> factor`` (a fitted skorch net keeps its callbacks)."""

    def __init__(self, epochs, schedule, warmup, milestones, decay):
        self.epochs, self.schedule, self.warmup = epochs, schedule, warmup
        self.milestones, self.decay = milestones, decay

    def __call__(self, epoch):
        if self.warmup and epoch < self.warmup:
            return (epoch + 1) / self.warmup
        if self.schedule == "step":
            return self.decay ** sum(epoch >= m for m in self.milestones)
        if self.schedule == "cosine":
            span = max(self.epochs - self.warmup, 1)
            return 0.5 * (1 + math.cos(math.pi * (epoch - self.warmup) / span))
        return 1.0

    def __repr__(self):
        return (f"lr_lambda({self.epochs}, schedule={self.schedule!r}, "
                f"warmup_epochs={self.warmup}, milestones={self.milestones}, "
                f"decay={self.decay})")
