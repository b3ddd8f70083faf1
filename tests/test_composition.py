"""Backbone + stage-2 heads in Pipeline, GridSearchCV and joblib."""

import io

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline

from sklearn_lt import Backbone
from sklearn_lt.datasets import load_digits_lt
from sklearn_lt.heads import TauNormClassifier
from sklearn_lt.metrics import make_shot_scorer

FITS = []


class CountingBackbone(Backbone):
    """Backbone that records each real (not cached) fit."""

    def fit(self, X, y):
        FITS.append(len(y))
        return super().fit(X, y)


@pytest.fixture(scope="module")
def digits():
    return load_digits_lt()


def _pipe(memory=None):
    bb = CountingBackbone(module="mlp", max_epochs=8, batch_size=64, lr=0.05,
                          random_state=0, module__hidden=(32,))
    return Pipeline([("feat", bb), ("clf", TauNormClassifier(tau=1.0))], memory=memory)


def test_pipeline_fits_predicts_and_pickles(digits):
    pipe = _pipe().fit(digits.X_train, digits.y_train)
    proba = pipe.predict_proba(digits.X_test)
    assert proba.shape == (len(digits.y_test), 10)
    buf = io.BytesIO()
    joblib.dump(pipe, buf)
    buf.seek(0)
    np.testing.assert_allclose(joblib.load(buf).predict_proba(digits.X_test), proba)


def test_grid_search_over_tau_fits_backbone_once_per_split(digits, tmp_path):
    FITS.clear()
    taus = np.linspace(0, 2, 21)
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    search = GridSearchCV(_pipe(memory=str(tmp_path)), {"clf__tau": taus}, cv=cv,
                          scoring=make_shot_scorer("all"))
    search.fit(digits.X_train, digits.y_train)
    # 3 CV splits + 1 refit on all data; without the cache it would be 21*3 + 1.
    assert len(FITS) == 4
    assert search.best_params_["clf__tau"] in taus
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
