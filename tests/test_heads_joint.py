"""The joint (instance-balanced) linear head that TauNorm, LWS and logit adjustment start from."""

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_lt import Backbone
from sklearn_lt.base import JOINT_HEAD_CONSTRAINTS, JointHeadMixin
from sklearn_lt.heads import (
    LogitAdjustedClassifier,
    LWSClassifier,
    NCMClassifier,
    TauNormClassifier,
    fit_linear_head,
)
from sklearn_lt.utils.discovery import all_estimators


def test_joint_head_none_fits_instance_balanced_head(skewed):
    X, y, *_ = skewed
    clf = TauNormClassifier(C=0.3).fit(X, y)
    coef, intercept = fit_linear_head(X, y, 3, C=0.3)
    np.testing.assert_array_equal(clf.joint_coef_, coef)
    np.testing.assert_array_equal(clf.joint_intercept_, intercept)
    assert clf.n_iter_ >= 1


def test_joint_head_from_tuple_and_from_fitted_estimator(iris):
    X, y = iris
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    lr = LogisticRegression(C=0.5).fit(X, labels)
    from_obj = LWSClassifier(joint_head=lr, epochs=2, batch_size=50, random_state=0).fit(X, labels)
    from_tuple = LWSClassifier(joint_head=(lr.coef_, lr.intercept_), epochs=2, batch_size=50,
                               random_state=0).fit(X, labels)
    np.testing.assert_array_equal(from_obj.joint_coef_, lr.coef_)
    np.testing.assert_array_equal(from_obj.scales_, from_tuple.scales_)
    assert from_obj.joint_n_iter_ == 0  # LWS: n_iter_ counts its own epochs
    assert set(from_obj.predict(X)) <= set(labels)
    # Stored copies: changing the source afterwards has no effect.
    source = lr.coef_.copy()
    tau = TauNormClassifier(joint_head=(source, lr.intercept_)).fit(X, labels)
    source[:] = 0.0
    np.testing.assert_array_equal(tau.joint_coef_, lr.coef_)


def test_joint_head_errors(iris):
    X, y = iris
    lr = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="expected \\(n_classes, n_features\\) = \\(3, 4\\)"):
        TauNormClassifier(joint_head=(lr.coef_[:, :3], lr.intercept_)).fit(X, y)
    with pytest.raises(ValueError, match="intercept has shape \\(2,\\)"):
        TauNormClassifier(joint_head=(lr.coef_, lr.intercept_[:2])).fit(X, y)
    with pytest.raises(ValueError, match="must be \\(coef, intercept\\)"):
        TauNormClassifier(joint_head=(lr.coef_, lr.intercept_, 1)).fit(X, y)
    with pytest.raises(ValueError, match="clone\\(\\) also un-fits"):
        TauNormClassifier(joint_head=LogisticRegression()).fit(X, y)
    with pytest.raises(ValueError, match="classes \\[0, 1, 2\\], but y has classes \\[1, 2, 3\\]"):
        TauNormClassifier(joint_head=lr).fit(X, y + 1)
    with pytest.raises(ValueError, match="NaN or infinity"):
        TauNormClassifier(joint_head=(lr.coef_ * np.nan, lr.intercept_)).fit(X, y)
    binary = LogisticRegression().fit(X, y > 0)
    with pytest.raises(ValueError, match="One-row binary"):
        LogitAdjustedClassifier(joint_head=binary).fit(X, y > 0)


def test_every_joint_head_family_member_shares_the_parameters(iris):
    # The family's parameters and their constraints are declared once, in sklearn_lt.base.
    X, y = iris
    members = [cls for _, cls in all_estimators("head") if issubclass(cls, JointHeadMixin)]
    assert {cls.__name__ for cls in members} >= {
        "TauNormClassifier", "LWSClassifier", "LogitAdjustedClassifier"}
    for cls in members:
        assert set(JOINT_HEAD_CONSTRAINTS) <= set(cls().get_params()), cls.__name__
        with pytest.raises(InvalidParameterError, match="'C' parameter"):
            cls(C=0.0).fit(X, y)
        with pytest.raises(InvalidParameterError, match="'memory' parameter"):
            cls(memory=3).fit(X, y)


def test_heads_on_backbone_features_and_joint_head(make_skewed):
    rng = np.random.RandomState(0)
    X, y = make_skewed([80, 20, 8], rng)
    X = np.c_[X, rng.normal(size=(len(y), 3))].astype(np.float32)
    bb = Backbone(module="mlp", module__hidden=(16,), max_epochs=2, batch_size=32,
                  random_state=0).fit(X, y)
    Z = bb.transform(X)
    clf = TauNormClassifier(tau=0.0, joint_head=bb).fit(Z, y)
    joint_logits = Z.astype(np.float64) @ bb.coef_.T
    # Both sides are the float64 product of the same float32 features and float64
    # weights (tau=0 divides by 1): only the summation order may differ, ~1e-15.
    np.testing.assert_allclose(clf.decision_function(Z), joint_logits, rtol=1e-6, atol=1e-6)
    pipe = Pipeline([("feat", bb), ("clf", LogitAdjustedClassifier(tau=0.0, joint_head=bb))])
    np.testing.assert_allclose(pipe.fit(X, y).named_steps["clf"].joint_coef_, bb.coef_)
    pipe = Pipeline([("feat", Backbone(module="mlp", module__hidden=(16,), max_epochs=1,
                                       batch_size=32, random_state=0)),
                     ("clf", NCMClassifier())]).fit(X, y)
    assert pipe.predict_proba(X).shape == (len(y), 3)


def _cache_entries(folder):
    """Results joblib stored under ``folder``: one ``output.pkl`` per computed call."""
    return {p: p.stat().st_mtime_ns for p in folder.rglob("output.pkl")}


def test_memory_caches_joint_head_across_a_tau_search(tmp_path, skewed):
    # A cache that works computes the joint head once per training set: one
    # stored result per CV training fold plus one for the refit on all data,
    # whatever the number of tau candidates; a second search on the same store
    # computes (and rewrites) nothing. If memory were ignored no result would be
    # stored; if tau reached the cached call there would be one per candidate.
    X, y, *_ = skewed
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    grid = {"clf__tau": [0.0, 0.5, 1.0, 1.5]}

    def search(memory):
        pipe = Pipeline([("scale", StandardScaler()), ("clf", TauNormClassifier(memory=memory))])
        return GridSearchCV(pipe, grid, cv=cv, scoring="balanced_accuracy").fit(X, y)

    store = tmp_path / "cache"
    uncached = search(None)
    assert not store.exists()
    cached = search(str(store))
    entries = _cache_entries(store)
    assert len(entries) == 3 + 1  # once per training fold, plus the refit
    search(joblib.Memory(str(store), verbose=0))  # same store, a Memory object
    assert _cache_entries(store) == entries  # nothing recomputed or added
    # The cache changes nothing: same best tau and scores as the uncached search.
    assert cached.best_params_ == uncached.best_params_
    np.testing.assert_array_equal(cached.cv_results_["mean_test_score"],
                                  uncached.cv_results_["mean_test_score"])
