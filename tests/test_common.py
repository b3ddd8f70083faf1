"""Common checks over every estimator that discovery finds; no list of estimators is kept.

The classes come from :func:`sklearn_lt.utils.discovery.all_estimators`. Each
is checked with the fast parameters of ``PER_ESTIMATOR_PARAMS`` (keyed by
class name, as scikit-learn's ``PER_ESTIMATOR_CHECK_PARAMS``; a list gives one
instance per entry), or with its defaults when it has no entry. On top of
scikit-learn's (and, for samplers, imbalanced-learn's) checks, every
classifier goes through the library's own checks (``LIBRARY_CHECKS``), plain
functions of an estimator instance that a new head can be run through too
(``test_a_head_added_in_one_module_is_discovered_and_checked``).
"""

import importlib.util
import io
import sys
import textwrap
from functools import partial

import joblib
import numpy as np
import pytest
from imblearn.utils.estimator_checks import estimator_checks_generator
from sklearn.base import clone, is_classifier
from sklearn.datasets import make_blobs
from sklearn.utils.estimator_checks import (
    check_estimator,
    check_param_validation,
    parametrize_with_checks,
)

import sklearn_lt.heads
from sklearn_lt.utils.discovery import all_estimators

# Fast settings per class name: the SGD heads take a few epochs of small
# batches (their defaults, 10 and 5 epochs of batch 512, would pass as well),
# the Backbone a tiny MLP for a few epochs.
PER_ESTIMATOR_PARAMS = {
    "Backbone": [dict(module="mlp", module__hidden=(16,), max_epochs=15, batch_size=32, lr=0.05,
                      warmup_epochs=1, random_state=0),
                 # SWAG and meta epochs take other code paths (fit_transform, sampling,
                 # the step hook): checked too, with small budgets.
                 dict(module="mlp", module__hidden=(8,), max_epochs=6, batch_size=32, lr=0.05,
                      warmup_epochs=1, random_state=0, swag=True, swa_start=3,
                      swa_snapshots_per_epoch=2, swag_rank=4, swag_samples=2),
                 dict(module="mlp", module__hidden=(8,), max_epochs=4, batch_size=32, lr=0.05,
                      warmup_epochs=1, random_state=0, meta_epochs=2, meta_dev_size=1)],
    "CRTClassifier": [{}, dict(solver="sgd", epochs=3, batch_size=64, random_state=0)],
    "LWSClassifier": [dict(epochs=3, batch_size=64, random_state=0)],
    "MetaWeightedClassifier": [dict(epochs=3, meta_epochs=2, batch_size=64, dev_size=1,
                                    dev_batch_size=16, random_state=0)],
    "SWAGReprClassifier": [dict(epochs=3, batch_size=64, random_state=0)],
    "NCMClassifier": [{}, dict(metric="cosine", normalize=None)],
    "PowerResampler": [dict(random_state=0),
                       dict(q=0.5, replacement=False, random_state=0),
                       dict(q=1.0, n_samples=500, replacement=True, random_state=0)],
}

# {class name: {check name: reason}} for scikit-learn's checks that fail.
EXPECTED_FAILED_CHECKS = {
    "Backbone": {
        "check_methods_subset_invariance": "float32 GEMM blocking depends on the batch size "
        "on some CPUs (AMD EPYC): rows differ by ~1e-6 relative, so near-zero features fail "
        "the check's atol=1e-7 (machine- and width-dependent: may XPASS)",
    },
}

# {class name: {library check name: reason}}: known defects, run as strict xfails so
# that a fix shows up (as XPASS -> failure) and the entry gets removed.
EXPECTED_LIBRARY_FAILURES = {}


def _instances(type_filter=None):
    for name, cls in all_estimators(type_filter):
        for params in PER_ESTIMATOR_PARAMS.get(name, [{}]):
            yield cls(**params)


ESTIMATORS = list(_instances())
CLASSIFIERS = [est for est in ESTIMATORS if is_classifier(est)]
SAMPLERS = list(_instances("sampler"))


def test_per_estimator_entries_name_discovered_classes():
    names = {name for name, _ in all_estimators()}
    stale = (set(PER_ESTIMATOR_PARAMS) | set(EXPECTED_FAILED_CHECKS)
             | set(EXPECTED_LIBRARY_FAILURES)) - names
    assert not stale, f"entries for classes discovery no longer finds: {sorted(stale)}"


@parametrize_with_checks(
    ESTIMATORS,
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(type(est).__name__, {}),
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# imblearn's own parametrize_with_checks hands pytest a generator, which pytest
# deprecates; the same (estimator, check) pairs are collected into a list here.
@pytest.mark.parametrize(
    "estimator, check",
    [pair for est in SAMPLERS for pair in estimator_checks_generator(est, mark="xfail")],
    ids=lambda v: v.func.__name__ if isinstance(v, partial) else repr(v),
)
def test_imblearn_sampler_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("name, cls", all_estimators(), ids=lambda v: getattr(v, "__name__", v))
def test_param_validation(name, cls):
    # Every constructor parameter has a constraint, and an invalid value fails
    # fit with a message naming it (defaults: routed Backbone parameters such as
    # module__hidden are checked when the network is built, not by constraints).
    check_param_validation(name, cls())


# --------------------------------------------------------------------------- library checks
CENTERS = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
COUNTS = [300, 60, 15]


def _long_tailed_data():
    """Overlapping 2-D Gaussians, 300/60/15 training samples, a balanced test set."""
    X, y = make_blobs(n_samples=COUNTS, centers=CENTERS, cluster_std=1.2, random_state=0)
    X_test, _ = make_blobs(n_samples=[100] * 3, centers=CENTERS, cluster_std=1.2,
                           random_state=1)
    return X, y, X_test


def _outputs(estimator, X):
    """Every prediction method's output on X, by method name."""
    methods = ("predict", "predict_proba", "predict_log_proba", "decision_function",
               "transform")
    return {m: getattr(estimator, m)(X) for m in methods if hasattr(estimator, m)}


def _assert_same_outputs(a, b):
    assert a.keys() == b.keys()
    for method in a:
        # Same fitted model, same input, same batches: the outputs are bit-identical.
        np.testing.assert_array_equal(a[method], b[method], err_msg=method)


def check_input_errors(estimator):
    """Wrong feature count and NaN are refused at predict and at fit, with sklearn's messages."""
    X, y, X_test = _long_tailed_data()
    est = clone(estimator).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but .* is expecting 2 features"):
        est.predict(np.c_[X_test, X_test[:, :1]])
    X_nan = np.where(np.eye(len(X), 2, dtype=bool), np.nan, X)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.predict(X_nan)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clone(estimator).fit(X_nan, y)


def check_failed_fit_keeps_predictions(estimator):
    """A fit that fails (a class with one sample, NaN in X) leaves the fitted model as it was."""
    X, y, X_test = _long_tailed_data()
    est = clone(estimator).fit(X, y)
    before = _outputs(est, X_test)
    y_bad = np.r_[y[:-1], 7]  # class 7 has a single sample
    with pytest.raises(ValueError,
                       match="at least 2 training samples; too few for class .*7.* \\(1 sample\\)"):
        est.fit(np.c_[X, X], y_bad)
    assert est.n_features_in_ == 2
    _assert_same_outputs(_outputs(est, X_test), before)
    X_nan = X.copy()
    X_nan[::7, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.fit(X_nan, y)
    _assert_same_outputs(_outputs(est, X_test), before)


def check_string_labels(estimator):
    """String labels: sorted ``classes_``, aligned ``class_counts_``, consistent predictions."""
    X, y, X_test = _long_tailed_data()
    names = np.array(["cat", "dog", "emu"])
    est = clone(estimator).fit(X, names[y])
    assert est.classes_.tolist() == ["cat", "dog", "emu"]
    np.testing.assert_array_equal(est.class_counts_, COUNTS)
    proba = est.predict_proba(X_test)
    assert proba.shape == (len(X_test), 3)
    # float64 softmax rows: sums are 1 to a few ulps.
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-12)
    pred = est.predict(X_test)
    assert set(pred) <= set(names)
    np.testing.assert_array_equal(pred, names[proba.argmax(1)])
    if hasattr(est, "predict_log_proba"):
        # log_softmax and softmax of the same float64 scores agree to ~1e-15.
        np.testing.assert_allclose(np.exp(est.predict_log_proba(X_test)), proba, rtol=1e-10)


def check_joblib_round_trip(estimator):
    """A fitted estimator pickled with joblib predicts exactly as before."""
    X, y, X_test = _long_tailed_data()
    est = clone(estimator).fit(X, y)
    buf = io.BytesIO()
    joblib.dump(est, buf)
    buf.seek(0)
    loaded = joblib.load(buf)
    assert type(loaded) is type(est) and loaded.get_params().keys() == est.get_params().keys()
    np.testing.assert_array_equal(loaded.class_counts_, est.class_counts_)
    _assert_same_outputs(_outputs(loaded, X_test), _outputs(est, X_test))


LIBRARY_CHECKS = [check_input_errors, check_failed_fit_keeps_predictions, check_string_labels,
                  check_joblib_round_trip]


def _library_check_params():
    for est in CLASSIFIERS:
        known = EXPECTED_LIBRARY_FAILURES.get(type(est).__name__, {})
        for check in LIBRARY_CHECKS:
            marks = ([pytest.mark.xfail(strict=True, reason=known[check.__name__])]
                     if check.__name__ in known else [])
            compact = "".join(repr(est).split())  # as parametrize_with_checks names them
            yield pytest.param(est, check, marks=marks, id=f"{compact}-{check.__name__}")


@pytest.mark.parametrize("estimator, check", list(_library_check_params()))
def test_library_checks(estimator, check):
    check(estimator)


# --------------------------------------------------------------------------- a new head
TOY_MODULE = '''
"""A toy stage-2 head: everything adding a head takes is this module."""

from numbers import Real

import numpy as np

from sklearn_lt.base import BaseHead, LinearHeadMixin


class ToyClassifier(LinearHeadMixin, BaseHead):
    """Linear head from the class means (nearest mean, shared identity covariance).

    Parameters
    ----------
    shrink : float, default=1.0
        Multiplies the weights and the biases.
    """

    # Every library head declares its constraints (BaseHead has none; see
    # tests/test_heads_base.py).
    _parameter_constraints = {"shrink": [Real]}

    def __init__(self, shrink=1.0):
        self.shrink = shrink

    def _fit(self, X, y_enc, classes, counts):
        means = np.stack([X[y_enc == k].mean(0) for k in range(len(classes))])
        return {"coef_": self.shrink * means,
                "intercept_": -0.5 * self.shrink * (means ** 2).sum(1)}
'''


def test_a_head_added_in_one_module_is_discovered_and_checked(tmp_path, monkeypatch):
    path = tmp_path / "sklearn_lt_toy_head.py"
    path.write_text(textwrap.dedent(TOY_MODULE))
    spec = importlib.util.spec_from_file_location("sklearn_lt_toy_head", path)
    module = importlib.util.module_from_spec(spec)
    # In sys.modules so that pickling the head (an estimator check) finds its class.
    monkeypatch.setitem(sys.modules, "sklearn_lt_toy_head", module)
    spec.loader.exec_module(module)
    toy = module.ToyClassifier
    with monkeypatch.context() as patch:
        # Exporting it from sklearn_lt.heads is the only edit a new head needs.
        patch.setattr(sklearn_lt.heads, "ToyClassifier", toy, raising=False)
        patch.setattr(sklearn_lt.heads, "__all__", [*sklearn_lt.heads.__all__, "ToyClassifier"])

        assert ("ToyClassifier", toy) in all_estimators("head")
        assert ("ToyClassifier", toy) in all_estimators("classifier")
        catalog = dict(sklearn_lt.heads.head_catalog())
        assert type(catalog["Toy"]) is toy
        check_estimator(toy())
        for check in LIBRARY_CHECKS:
            check(toy())
        # The library checks ran on a real model: the toy's weights are the class means.
        X, y, _ = _long_tailed_data()
        fitted = toy(shrink=2.0).fit(X, y)
        means = np.stack([X[y == k].mean(0) for k in range(3)])
        np.testing.assert_allclose(fitted.coef_, 2.0 * means)
    # Undone: discovery is back to the package's own estimators.
    assert "ToyClassifier" not in dict(all_estimators())
    assert "ToyClassifier" not in sklearn_lt.heads.__all__
