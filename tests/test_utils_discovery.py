"""all_estimators: the public estimators, found from the ``__all__`` of the public modules."""

import inspect

import pytest
from sklearn.base import BaseEstimator, is_classifier

import sklearn_lt
import sklearn_lt.heads
import sklearn_lt.resampling
from sklearn_lt.base import BaseHead
from sklearn_lt.utils.discovery import all_estimators


def test_finds_the_public_estimators_sorted_and_once():
    found = all_estimators()
    names = [name for name, _ in found]
    assert names == sorted(set(names))
    assert {"Backbone", "CRTClassifier", "LWSClassifier", "LogitAdjustedClassifier",
            "NCMClassifier", "PowerResampler", "TauNormClassifier"} <= set(names)
    public = {**{n: getattr(sklearn_lt, n) for n in sklearn_lt.__all__},
              **{n: getattr(sklearn_lt.heads, n) for n in sklearn_lt.heads.__all__},
              **{n: getattr(sklearn_lt.resampling, n) for n in sklearn_lt.resampling.__all__}}
    for name, cls in found:
        assert public[name] is cls  # exported under its own name
        assert issubclass(cls, BaseEstimator) and not inspect.isabstract(cls)
    # Public estimator classes are all found; the abstract template is not.
    expected = {n for n, obj in public.items()
                if inspect.isclass(obj) and issubclass(obj, BaseEstimator)
                and not inspect.isabstract(obj)}
    assert set(names) == expected
    assert BaseHead not in dict(found).values()


def test_type_filters():
    heads = dict(all_estimators("head"))
    classifiers = dict(all_estimators("classifier"))
    assert heads and all(issubclass(cls, BaseHead) for cls in heads.values())
    assert set(heads) < set(classifiers) and "Backbone" in classifiers
    assert all(is_classifier(cls()) for cls in classifiers.values())
    assert [name for name, _ in all_estimators("transformer")] == ["Backbone"]
    assert [name for name, _ in all_estimators("sampler")] == ["PowerResampler"]
    union = dict(all_estimators(["sampler", "transformer"]))
    assert set(union) == {"Backbone", "PowerResampler"}
    assert all_estimators(None) == all_estimators()


def test_unknown_filter_is_an_error():
    with pytest.raises(ValueError, match=r"Unknown type_filter \['regressor'\]"):
        all_estimators("regressor")
    with pytest.raises(ValueError, match=r"Unknown type_filter \['cluster'\]"):
        all_estimators(["head", "cluster"])
