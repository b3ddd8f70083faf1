"""Warnings and errors specific to sklearn_lt."""

__all__ = ["DoubleAdjustmentWarning", "ScheduleWarning", "StochasticFeaturesWarning"]


class StochasticFeaturesWarning(UserWarning):
    """A head asked for stochastic representations that its features do not have.

    Raised by :class:`~sklearn_lt.heads.SWAGReprClassifier` when no
    ``Backbone(swag=True)`` registered stochastic representations for the rows
    it is fitted on and none were passed: it then trains on the features alone.
    """


class ScheduleWarning(UserWarning):
    """A stage-1 learning-rate schedule that does not fit its epoch count.

    Raised by :class:`~sklearn_lt.Backbone` when training ends inside the
    warm-up, the warm-up takes more than a quarter of the epochs, or a step
    milestone lies at or past the last epoch (it never applies).
    """


class DoubleAdjustmentWarning(UserWarning):
    """A post-hoc prior correction on a head whose training already corrected for the prior.

    Raised by :class:`~sklearn_lt.heads.LogitAdjustedClassifier` when its joint
    head comes from a :class:`~sklearn_lt.Backbone` trained towards balance:
    with the logit-adjusted or balanced-softmax loss, the class-balanced or
    LDAM-DRW loss, or a sampler other than ``"instance"``. Subtracting
    ``tau * log(prior)`` again over-corrects towards the tail (in an
    exploratory Fashion-MNIST-LT IF=100 run with the logit-adjusted loss,
    balanced accuracy fell from 89.4 to 85.5).
    """
