"""Stage-2 classifiers on fixed features (Kang et al., ICLR 2020; Menon et al., ICLR 2021).

Each head is a scikit-learn classifier fitted on features (e.g. the output of
:class:`sklearn_lt.Backbone`), so it composes as the last step of a Pipeline:

- :class:`CRTClassifier` -- re-train a linear classifier class-balanced (cRT);
- :class:`NCMClassifier` -- nearest class mean on normalised features;
- :class:`TauNormClassifier` -- rescale the joint head's weights by ``||w_j||^-tau``;
- :class:`LWSClassifier` -- learn one scale per class of the joint head;
- :class:`LogitAdjustedClassifier` -- subtract ``tau * log(prior)`` from the logits;
- :class:`SWAGReprClassifier` -- re-train on SWAG stochastic representations with
  self-distillation (Nam et al., ICLR 2023);
- :class:`MetaWeightedClassifier` -- re-train with meta-learned per-example weights
  (Jamal et al., CVPR 2020).

:func:`fit_linear_head` is the deterministic L-BFGS solver behind the joint
head (when none is given) and cRT; :func:`head_catalog` configures one of each
head for a comparison. A new head is one module plus its name below
(base classes in :mod:`sklearn_lt.base`).
"""

from ._catalog import head_catalog
from ._crt import CRTClassifier
from ._linear import fit_linear_head
from ._logit_adjusted import LogitAdjustedClassifier
from ._lws import LWSClassifier
from ._meta_weighted import MetaWeightedClassifier
from ._ncm import NCMClassifier
from ._swag_repr import SWAGReprClassifier
from ._tau_norm import TauNormClassifier

__all__ = [
    "CRTClassifier",
    "LWSClassifier",
    "LogitAdjustedClassifier",
    "MetaWeightedClassifier",
    "NCMClassifier",
    "SWAGReprClassifier",
    "TauNormClassifier",
    "fit_linear_head",
    "head_catalog",
]
