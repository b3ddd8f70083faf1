"""Backbone + stage-2 heads in Pipeline, GridSearchCV and joblib."""

import io

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline

from sklearn_lt import Backbone
from sklearn_lt.heads import TauNormClassifier
from sklearn_lt.metrics import make_shot_scorer


def _pipe(backbone_cls=Backbone, memory=None, head_memory=None):
    bb = backbone_cls(module="mlp", max_epochs=8, batch_size=64, lr=0.05,
                      random_state=0, module__hidden=(32,))
    return Pipeline([("feat", bb), ("clf", TauNormClassifier(tau=1.0, memory=head_memory))],
                    memory=memory)


def test_pipeline_fits_predicts_and_pickles(digits_lt):
    pipe = _pipe().fit(digits_lt.X_train, digits_lt.y_train)
    proba = pipe.predict_proba(digits_lt.X_test)
    assert proba.shape == (len(digits_lt.y_test), 10)
    buf = io.BytesIO()
    joblib.dump(pipe, buf)
    buf.seek(0)
    np.testing.assert_allclose(joblib.load(buf).predict_proba(digits_lt.X_test), proba)


def test_grid_search_over_tau_fits_backbone_once_per_split(digits_lt, tmp_path,
                                                          counting_backbone):
    CountingBackbone, fits = counting_backbone
    taus = np.linspace(0, 2, 21)
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    # The head caches its joint-head fit too (as the README advises), which only
    # saves time here: tau does not change it.
    pipe = _pipe(CountingBackbone, memory=str(tmp_path / "pipe"),
                 head_memory=str(tmp_path / "head"))
    search = GridSearchCV(pipe, {"clf__tau": taus}, cv=cv, scoring=make_shot_scorer("all"))
    search.fit(digits_lt.X_train, digits_lt.y_train)
    # 3 CV splits + 1 refit on all data; without the cache it would be 21*3 + 1.
    assert len(fits) == 4
    n = len(digits_lt.y_train)
    assert sorted(fits) == sorted([n - len(test) for _, test in
                                   cv.split(digits_lt.X_train, digits_lt.y_train)] + [n])
    assert search.best_params_["clf__tau"] in taus
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_a_cached_backbone_with_random_state_none_is_the_first_draw(digits_lt, tmp_path):
    # What the README says of Pipeline(memory=...): the cache key holds the
    # parameters and the data, not randomness, so with random_state=None a
    # second fit returns the first fit's model instead of a new draw.
    X, y = digits_lt.X_train, digits_lt.y_train

    def pipe(memory):
        bb = Backbone(module="mlp", max_epochs=3, batch_size=64, lr=0.05,
                      module__hidden=(16,), random_state=None)
        return Pipeline([("feat", bb), ("clf", TauNormClassifier(tau=1.0))], memory=memory)

    first = pipe(str(tmp_path)).fit(X, y)
    again = pipe(str(tmp_path)).fit(X, y)
    np.testing.assert_array_equal(again[0].transform(X), first[0].transform(X))
    # Without the cache, random_state=None draws another network.
    fresh = pipe(None).fit(X, y)
    assert not np.allclose(fresh[0].transform(X), first[0].transform(X))


@pytest.mark.data("fashion-mnist")
def test_fashion_mnist_lt_end_to_end_small_cnn(data_dir):
    from sklearn_lt.datasets import load_fashion_mnist, make_long_tailed
    from sklearn_lt.heads import CRTClassifier
    from sklearn_lt.metrics import shot_accuracy

    fm = load_fashion_mnist(data_dir / "fashion-mnist")
    X, y = make_long_tailed(fm.X_train, fm.y_train, imbalance_factor=100, n_max=300)
    # n_max=300, IF=100 keeps every shot split populated: 300 ... 3 per class
    bb = Backbone(module="cnn", max_epochs=2, batch_size=64, lr=0.05, warmup_epochs=0,
                  lr_schedule="cosine", random_state=0).fit(X, y)
    assert bb.input_shape_ == (1, 28, 28)
    Z_tr, Z_te = bb.transform(X), bb.transform(fm.X_test[:2000])
    assert Z_tr.shape == (len(y), bb.n_features_out_) and Z_tr.dtype == np.float32
    crt = CRTClassifier().fit(Z_tr, y)
    acc = shot_accuracy(fm.y_test[:2000], crt.predict(Z_te),
                        dict(zip(crt.classes_, crt.class_counts_)))
    assert acc["all"] > 0.3  # far above the 0.1 of chance after two epochs
