"""Figures of long-tailed recognition, as scikit-learn-style displays.

Each display is built with ``from_estimator`` (a fitted model and data) or
``from_predictions`` / ``from_samples`` / ``from_cv_results`` (results you
already have), draws itself on ``ax`` (a new figure by default) and keeps
``ax_``, ``figure_`` and the values it drew. Several models are compared by
drawing them on the same axes. matplotlib is optional: it is imported when a
figure is drawn, and a clear ``ImportError`` says how to install it.

- :class:`ClassAccuracyDisplay` -- test accuracy of each class against its training size;
- :class:`WeightNormDisplay` -- norms of the classifier's per-class weights;
- :class:`TauSweepDisplay` -- many/medium/few/all scores against τ from a search;
- :class:`ReliabilityDisplay` -- reliability diagram with the ECE;
- :class:`DispersionDisplay` -- dispersion of SWAG representations per class;
- :class:`MetaWeightDisplay` -- meta-learned weight per class.
"""

from ._per_class import (
    ClassAccuracyDisplay,
    DispersionDisplay,
    MetaWeightDisplay,
    WeightNormDisplay,
)
from ._reliability import ReliabilityDisplay
from ._sweep import TauSweepDisplay

__all__ = [
    "ClassAccuracyDisplay",
    "DispersionDisplay",
    "MetaWeightDisplay",
    "ReliabilityDisplay",
    "TauSweepDisplay",
    "WeightNormDisplay",
]
