"""Warnings and errors specific to sklearn_lt."""

__all__ = ["StochasticFeaturesWarning"]


class StochasticFeaturesWarning(UserWarning):
    """A head asked for stochastic representations that its features do not have.

    Raised by :class:`~sklearn_lt.heads.SWAGReprClassifier` when no
    ``Backbone(swag=True)`` registered stochastic representations for the rows
    it is fitted on and none were passed: it then trains on the features alone.
    """
