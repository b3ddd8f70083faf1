"""MetaWeightedClassifier: development set, learned weights, effect, errors, composition."""

import io

import joblib
import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline

from sklearn_lt import Backbone
from sklearn_lt.heads import MetaWeightedClassifier
from sklearn_lt.nn import meta_class_weights


def _skewed(counts=(300, 60, 15), seed=0):
    X, y = make_blobs(n_samples=list(counts), n_features=4, random_state=seed, cluster_std=2.5)
    return X.astype(np.float32), y


FAST = dict(epochs=8, meta_epochs=4, batch_size=32, lr=0.05, random_state=0)


def test_dev_set_is_balanced_disjoint_and_exposed_weights_are_consistent():
    X, y = _skewed()
    clf = MetaWeightedClassifier(dev_size=5, **FAST).fit(X, y)
    dev, train = clf.dev_indices_, clf.train_indices_
    assert np.bincount(y[dev]).tolist() == [5, 5, 5]
    assert np.intersect1d(dev, train).size == 0 and len(dev) + len(train) == len(y)
    train_counts = np.bincount(y[train])
    np.testing.assert_allclose(clf.class_weights_, meta_class_weights(train_counts, 0.9999))
    # Every row drawn in the meta epochs has a weight w_y + eps; the mean per
    # class stays near w_y (eps is a small correction learned with step 0.01).
    seen = np.isfinite(clf.example_weights_)
    assert seen.mean() > 0.9
    np.testing.assert_allclose(
        clf.mean_weight_per_class_, clf.class_weights_, rtol=0.5)
    assert not np.allclose(clf.example_weights_[seen], clf.class_weights_[y[train][seen]])


def test_explicit_dev_set_trains_on_all_rows():
    X, y = _skewed()
    X_dev, y_dev = _skewed((4, 4, 4), seed=1)
    clf = MetaWeightedClassifier(**FAST).fit(X, y, X_dev=X_dev, y_dev=y_dev)
    assert clf.dev_indices_ is None and len(clf.train_indices_) == len(y)
    with pytest.raises(ValueError, match="both"):
        MetaWeightedClassifier(**FAST).fit(X, y, X_dev=X_dev)


def test_meta_weighting_raises_balanced_accuracy_over_plain_training():
    X, y = _skewed((400, 40, 10), seed=2)
    X_test, y_test = _skewed((500, 500, 500), seed=2)
    plain = MetaWeightedClassifier(epochs=10, meta_epochs=0, batch_size=32, lr=0.05,
                                   dev_size=3, random_state=0).fit(X, y)
    meta = MetaWeightedClassifier(epochs=10, meta_epochs=10, batch_size=32, lr=0.05,
                                  dev_size=3, random_state=0).fit(X, y)
    assert (balanced_accuracy_score(y_test, meta.predict(X_test))
            > balanced_accuracy_score(y_test, plain.predict(X_test)) + 0.05)


def test_mlp_head_focal_and_ldam_losses_and_pickling():
    X, y = _skewed()
    for params in (dict(hidden_layer_sizes=(16,)), dict(loss="focal", gamma=2.0),
                   dict(loss="ldam")):
        clf = MetaWeightedClassifier(dev_size=3, **FAST, **params).fit(X, y)
        proba = clf.predict_proba(X[:5])
        np.testing.assert_allclose(proba.sum(1), 1.0)
        buf = io.BytesIO()
        joblib.dump(clf, buf)
        buf.seek(0)
        np.testing.assert_array_equal(joblib.load(buf).predict_proba(X[:5]), proba)
    assert not hasattr(MetaWeightedClassifier(hidden_layer_sizes=(16,), dev_size=3, **FAST)
                       .fit(X, y), "coef_")


def test_dev_size_larger_than_a_class_is_a_clear_error():
    X, y = _skewed((100, 30, 6))
    with pytest.raises(ValueError, match=r"too few in class 2 \(6\)"):
        MetaWeightedClassifier(dev_size=6, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="meta_epochs=9 exceeds epochs=8"):
        MetaWeightedClassifier(meta_epochs=9, epochs=8, dev_size=2).fit(X, y)


FITS = []


class CountingBackbone(Backbone):
    def fit(self, X, y, X_dev=None, y_dev=None):
        FITS.append(len(y))
        return super().fit(X, y, X_dev=X_dev, y_dev=y_dev)


def test_search_over_the_heads_parameters_does_not_refit_the_backbone(tmp_path):
    X, y = _skewed((120, 40, 20))
    bb = CountingBackbone(module="mlp", max_epochs=4, batch_size=32, lr=0.05, warmup_epochs=1,
                          random_state=0, module__hidden=(8,))
    pipe = Pipeline([("feat", bb), ("clf", MetaWeightedClassifier(dev_size=3, **FAST))],
                    memory=str(tmp_path))
    FITS.clear()
    search = GridSearchCV(pipe, {"clf__eps_lr": [0.0, 0.01, 0.1], "clf__loss": ["ce", "focal"]},
                          cv=StratifiedKFold(3, shuffle=True, random_state=0))
    search.fit(X, y)
    assert len(FITS) == 4  # 3 splits + refit, not 6 candidates x 3 + 1


def test_auto_dev_size_keeps_training_samples_in_small_classes():
    X, y = _skewed((200, 40, 7))
    clf = MetaWeightedClassifier(**FAST).fit(X, y)
    # 10 per class (the paper's) does not fit a 7-sample class: half of it, 3.
    assert clf.dev_size_ == 3 and np.bincount(y[clf.dev_indices_]).tolist() == [3, 3, 3]
    X, y = _skewed((200, 40, 25))
    assert MetaWeightedClassifier(**FAST).fit(X, y).dev_size_ == 10
