"""Find the library's public estimators, so that nothing keeps a list of them by hand.

Tests, the demo and the benchmarks ask :func:`all_estimators` instead of
naming classes: a new head is one module plus its name in
``sklearn_lt.heads.__all__``, and from then on it is checked, demonstrated and
benchmarked.
"""

import importlib
import inspect

from sklearn.base import BaseEstimator, ClassifierMixin

# Public modules whose __all__ declares estimators.
_MODULES = ("sklearn_lt", "sklearn_lt.heads", "sklearn_lt.resampling")
_FILTERS = ("head", "classifier", "transformer", "sampler")


def _is_type(cls, kind):
    if kind == "head":
        from ..heads._base import BaseHead

        return issubclass(cls, BaseHead)
    if kind == "classifier":
        return issubclass(cls, ClassifierMixin)
    if kind == "transformer":
        return hasattr(cls, "transform")
    return hasattr(cls, "fit_resample")  # "sampler"


def all_estimators(type_filter=None):
    """Public estimator classes of sklearn_lt, from the ``__all__`` of its public modules.

    Parameters
    ----------
    type_filter : {"head", "classifier", "transformer", "sampler"}, list of them or None, \
            default=None
        Keep only estimators of these kinds: ``"head"`` are the stage-2
        classifiers (subclasses of :class:`sklearn_lt.base.BaseHead`),
        ``"classifier"`` every classifier (the heads and the Backbone),
        ``"transformer"`` estimators with ``transform``, ``"sampler"`` those
        with ``fit_resample``. ``None`` keeps all.

    Returns
    -------
    estimators : list of (name, class)
        Sorted by name, each class once; abstract classes are left out.

    Examples
    --------
    >>> from sklearn_lt.utils.discovery import all_estimators
    >>> [name for name, _ in all_estimators("sampler")]
    ['PowerResampler']
    """
    kinds = [type_filter] if isinstance(type_filter, str) else type_filter
    if kinds is not None:
        unknown = set(kinds) - set(_FILTERS)
        if unknown:
            raise ValueError(f"Unknown type_filter {sorted(unknown)}; choose among {_FILTERS}.")
    found = {}
    for module_name in _MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name, None)
            if (inspect.isclass(obj) and issubclass(obj, BaseEstimator)
                    and not inspect.isabstract(obj)):
                found.setdefault(name, obj)
    return sorted((name, cls) for name, cls in found.items()
                  if kinds is None or any(_is_type(cls, k) for k in kinds))
