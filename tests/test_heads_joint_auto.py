"""joint_head="auto": a head after a Backbone in a Pipeline adjusts that Backbone's joint head."""

import io
import warnings

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from sklearn_lt import Backbone
from sklearn_lt.exceptions import DoubleAdjustmentWarning
from sklearn_lt.heads import LogitAdjustedClassifier, LWSClassifier, TauNormClassifier
from sklearn_lt.metrics import make_shot_scorer


@pytest.fixture(scope="module")
def data():
    X, y = make_blobs(n_samples=[150, 50, 12], n_features=6, random_state=3, cluster_std=2.5)
    return X.astype(np.float32), y


def _backbone(**kw):
    params = dict(module="mlp", module__hidden=(16,), max_epochs=4, batch_size=32, lr=0.05,
                  warmup_epochs=1, random_state=0)
    params.update(kw)
    return Backbone(**params)


@pytest.mark.parametrize("head", [TauNormClassifier(tau=0.5), LogitAdjustedClassifier(),
                                  LWSClassifier(epochs=1, batch_size=64)])
def test_a_head_in_a_pipeline_adjusts_the_backbones_joint_head(data, head):
    X, y = data
    pipe = Pipeline([("feat", _backbone()), ("clf", head)]).fit(X, y)
    backbone, fitted = pipe[0], pipe[-1]
    assert fitted.joint_head_source_ == "backbone"
    np.testing.assert_array_equal(fitted.joint_coef_, backbone.coef_)
    np.testing.assert_array_equal(fitted.joint_intercept_, backbone.intercept_)


def test_tau_zero_in_a_pipeline_predicts_as_the_backbone_without_its_bias(data):
    # tau-norm drops the bias; at tau=0 it is the joint head's weights: the
    # pipeline's logits are the Backbone's minus its intercept.
    X, y = data
    pipe = Pipeline([("feat", _backbone()), ("clf", TauNormClassifier(tau=0.0))]).fit(X, y)
    expected = pipe[0].decision_function(X) - pipe[0].intercept_
    np.testing.assert_allclose(pipe.decision_function(X), expected, rtol=1e-5, atol=1e-5)


def test_features_from_elsewhere_fall_back_to_fitting_the_joint_head(data):
    X, y = data
    head = TauNormClassifier().fit(X, y)  # raw inputs, not a Backbone's features
    assert head.joint_head_source_ == "fitted" and head.n_iter_ > 0
    given = TauNormClassifier(joint_head=(head.joint_coef_, head.joint_intercept_)).fit(X, y)
    assert given.joint_head_source_ == "given"


def test_none_keeps_fitting_a_joint_head_inside_a_pipeline(data):
    X, y = data
    pipe = Pipeline([("feat", _backbone()), ("clf", TauNormClassifier(joint_head=None))])
    pipe.fit(X, y)
    assert pipe[-1].joint_head_source_ == "fitted"
    assert not np.allclose(pipe[-1].joint_coef_, pipe[0].coef_)


def test_a_subset_of_the_training_rows_in_any_order_is_found(data):
    X, y = data
    backbone = _backbone()
    Z = backbone.fit_transform(X, y)
    rows = np.random.default_rng(0).permutation(len(y))[:120]
    rows = rows[np.isin(y[rows], np.unique(y))]
    head = LogitAdjustedClassifier().fit(Z[rows], y[rows])
    assert head.joint_head_source_ == "backbone"
    # One feature changed by one float32 step: not the Backbone's rows any more.
    Z2 = Z.copy()
    Z2[0, 0] = np.nextafter(Z2[0, 0], np.float32(np.inf))
    assert LogitAdjustedClassifier().fit(Z2, y).joint_head_source_ == "fitted"


def test_a_refit_forgets_the_previous_training_rows(data):
    X, y = data
    backbone = _backbone()
    Z_old = backbone.fit_transform(X, y)
    backbone.set_params(random_state=1).fit_transform(X, y)
    assert LogitAdjustedClassifier().fit(Z_old, y).joint_head_source_ == "fitted"


def test_a_backbone_unpickled_registers_again(data):
    X, y = data
    backbone = _backbone()
    Z = backbone.fit_transform(X, y)
    buf = io.BytesIO()
    joblib.dump(backbone, buf)
    coef = backbone.coef_.copy()
    del backbone  # its registration goes with it
    assert TauNormClassifier().fit(Z, y).joint_head_source_ == "fitted"
    buf.seek(0)
    loaded = joblib.load(buf)
    head = TauNormClassifier().fit(Z, y)
    assert head.joint_head_source_ == "backbone"
    np.testing.assert_array_equal(head.joint_coef_, coef)
    del loaded


def test_a_tau_search_over_a_cached_pipeline_uses_the_joint_head(data, tmp_path):
    X, y = data
    pipe = Pipeline([("feat", _backbone()), ("clf", TauNormClassifier())],
                    memory=str(tmp_path / "cache"))
    search = GridSearchCV(pipe, {"clf__tau": [0.0, 1.0]}, cv=3,
                          scoring=make_shot_scorer("all")).fit(X, y)
    best = search.best_estimator_
    assert best[-1].joint_head_source_ == "backbone"
    np.testing.assert_array_equal(best[-1].joint_coef_, best[0].coef_)
    # A second search reads every backbone from the cache: still found.
    again = GridSearchCV(clone(pipe), {"clf__tau": [0.0, 1.0]}, cv=3,
                         scoring=make_shot_scorer("all")).fit(X, y)
    np.testing.assert_allclose(again.cv_results_["mean_test_score"],
                               search.cv_results_["mean_test_score"])


def test_logit_adjustment_after_a_prior_aware_backbone_warns_in_a_pipeline(data):
    X, y = data
    pipe = Pipeline([("feat", _backbone(loss="logit_adjusted")),
                     ("clf", LogitAdjustedClassifier())])
    with pytest.warns(DoubleAdjustmentWarning, match="loss='logit_adjusted'"):
        pipe.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DoubleAdjustmentWarning)
        pipe.set_params(clf__tau=0.0).fit(X, y)


def test_a_threaded_search_finds_the_joint_heads(data):
    # joblib's threading backend fits folds concurrently: backbones register while
    # heads look up.
    X, y = data
    pipe = Pipeline([("feat", _backbone()), ("clf", TauNormClassifier())])
    with joblib.parallel_backend("threading", n_jobs=2):
        search = GridSearchCV(pipe, {"clf__tau": [0.0, 1.0]}, cv=3, n_jobs=2,
                              scoring=make_shot_scorer("all")).fit(X, y)
    assert search.best_estimator_[-1].joint_head_source_ == "backbone"
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize("params, named", [
    ({"sampler": "class"}, "sampler='class'"),
    ({"sampler": "sqrt"}, "sampler='sqrt'"),
    ({"sampler": "progressive"}, "sampler='progressive'"),
    ({"loss": "class_balanced"}, "loss='cb'"),
    ({"loss": "ldam_drw"}, "loss='ldam_drw'"),
])
def test_logit_adjustment_after_a_rebalanced_backbone_warns(data, params, named):
    # Post-hoc LA assumes the joint head learned the training prior; a re-balanced
    # stage 1 already moved it towards the tail.
    X, y = data
    pipe = Pipeline([("feat", _backbone(**params)), ("clf", LogitAdjustedClassifier())])
    with pytest.warns(DoubleAdjustmentWarning, match=named.replace("(", r"\(")):
        pipe.fit(X, y)


@pytest.mark.parametrize("params", [{}, {"loss": "focal"}, {"loss": "ldam"}, {"sampler": 1.0}])
def test_instance_balanced_training_does_not_warn(data, params):
    X, y = data
    pipe = Pipeline([("feat", _backbone(**params)), ("clf", LogitAdjustedClassifier())])
    with warnings.catch_warnings():
        warnings.simplefilter("error", DoubleAdjustmentWarning)
        pipe.fit(X, y)


def test_other_labels_on_the_same_rows_are_another_task(data):
    # Review: the lookup matched rows only, so a head fitted with permuted labels
    # adjusted a joint head trained for other labels.
    X, y = data
    backbone = _backbone()
    Z = backbone.fit_transform(X, y)
    assert TauNormClassifier().fit(Z, (y + 1) % 3).joint_head_source_ == "fitted"
    assert TauNormClassifier().fit(Z, y).joint_head_source_ == "backbone"


def test_two_backbones_with_the_same_training_data_and_other_heads_warn(data):
    X, y = data
    first = _backbone()
    Z = first.fit_transform(X, y)
    second = _backbone()
    second.fit_transform(X, y)
    second._joint_entry.coef = second._joint_entry.coef + 1.0  # as if trained otherwise
    with pytest.warns(UserWarning, match="more than one fitted Backbone"):
        head = TauNormClassifier().fit(Z, y)
    np.testing.assert_array_equal(head.joint_coef_, second._joint_entry.coef)  # the newest
    del first


def test_fit_transform_passes_the_development_set(data):
    X, y = data
    backbone = _backbone(early_stopping=1, max_epochs=3)
    backbone.fit_transform(X, y, X_dev=X[:30], y_dev=y[:30])
    assert backbone.best_epoch_ >= 1
