"""Scorers for model selection: shot accuracies from the model's training counts, ECE, NLL."""

import pickle

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_lt.metrics import (
    SCORERS,
    ece_scorer,
    expected_calibration_error,
    get_scorer,
    get_scorer_names,
    make_shot_scorer,
    nll_scorer,
    shot_accuracy,
)


class LookupClassifier(ClassifierMixin, BaseEstimator):
    """Records training class sizes; predicts the label stored in column 0 of X
    and returns columns 1: of X as probabilities, so test cases are exact."""

    def fit(self, X, y):
        self.classes_, self.class_counts_ = np.unique(y, return_counts=True)
        return self

    def predict(self, X):
        return self.classes_[np.asarray(X)[:, 0].astype(int)]

    def predict_proba(self, X):
        return np.asarray(X)[:, 1:]


def _lookup_case(case):
    y_train = np.repeat(["a", "b", "c"], [500, 50, 5])
    model = LookupClassifier().fit(np.zeros((y_train.shape[0], 1)), y_train)
    pred_idx = np.searchsorted(["a", "b", "c"], case.y_pred)
    proba = np.full((case.y_true.shape[0], 3), 0.1)
    proba[np.arange(case.y_true.shape[0]), pred_idx] = 0.8
    X_test = np.column_stack([pred_idx, proba])
    return model, X_test, proba


@pytest.mark.parametrize("split", ["many", "medium", "few", "all"])
def test_shot_scorer_hand_computed(split, shot_case):
    y_true, expected = shot_case.y_true, shot_case.expected
    model, X_test, _ = _lookup_case(shot_case)
    assert make_shot_scorer(split)(model, X_test, y_true) == pytest.approx(expected[split])
    names = {"many": "many_shot_accuracy", "medium": "medium_shot_accuracy",
             "few": "few_shot_accuracy", "all": "shot_balanced_accuracy"}
    assert get_scorer(names[split])(model, X_test, y_true) == pytest.approx(expected[split])


def test_shot_scorer_empty_value_and_thresholds(shot_case):
    y_true = shot_case.y_true
    model, X_test, _ = _lookup_case(shot_case)
    keep = y_true != "b"  # no medium-shot test class left
    assert np.isnan(make_shot_scorer("medium")(model, X_test[keep], y_true[keep]))
    assert make_shot_scorer("medium", empty_value=0.0)(model, X_test[keep], y_true[keep]) == 0.0
    # With many_threshold=40 class "b" (50 samples) becomes many-shot.
    scorer = make_shot_scorer("many", many_threshold=40)
    assert scorer(model, X_test, y_true) == pytest.approx((3 / 4 + 1 / 3) / 2)


def test_shot_scorer_unseen_class_counts_as_few_shot():
    y_train = np.repeat([0, 1], [500, 50])
    model = LookupClassifier().fit(np.zeros((550, 1)), y_train)
    X_test = np.array([[0], [1], [0]])
    y_test = np.array([0, 1, 2])  # class 2 never seen in training
    assert make_shot_scorer("few")(model, X_test, y_test) == 0.0
    assert make_shot_scorer("all")(model, X_test, y_test) == pytest.approx(2 / 3)


def test_proba_scorers_are_negated_metrics(shot_case):
    y_true = shot_case.y_true
    model, X_test, proba = _lookup_case(shot_case)
    assert ece_scorer(model, X_test, y_true) == pytest.approx(
        -expected_calibration_error(y_true, proba, labels=["a", "b", "c"])
    )
    assert nll_scorer(model, X_test, y_true) == pytest.approx(
        -log_loss(y_true, proba, labels=["a", "b", "c"])
    )
    assert ece_scorer(model, X_test, y_true) < 0


def test_scorer_needs_class_counts():
    est = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    with pytest.raises(AttributeError, match="class_counts_"):
        make_shot_scorer("all")(est, [[0.0]], [0])


def test_get_scorer(shot_case):
    y_true = shot_case.y_true
    assert get_scorer_names() == sorted(SCORERS) and "few_shot_accuracy" in SCORERS
    scorer = get_scorer("few_shot_accuracy")
    assert scorer is not SCORERS["few_shot_accuracy"]
    assert repr(scorer) == "make_shot_scorer(split='few')"
    assert repr(make_shot_scorer("few", few_threshold=10, empty_value=0.0)) == (
        "make_shot_scorer(split='few', few_threshold=10, empty_value=0.0)"
    )
    # sklearn names still work; callables pass through.
    model, X_test, _ = _lookup_case(shot_case)
    assert get_scorer("accuracy")(model, X_test, y_true) == pytest.approx(5 / 9)
    assert get_scorer(ece_scorer) is ece_scorer
    with pytest.raises(ValueError, match="few_shot_accuracy"):
        get_scorer("no_such_scorer")
    with pytest.raises(ValueError, match="split"):
        make_shot_scorer("tail")


def test_scorers_pickle(shot_case):
    y_true = shot_case.y_true
    model, X_test, _ = _lookup_case(shot_case)
    for scorer in SCORERS.values():
        restored = pickle.loads(pickle.dumps(scorer))
        assert restored(model, X_test, y_true) == pytest.approx(scorer(model, X_test, y_true))


def test_scorers_in_pipeline_grid_search(counting_logistic_regression):
    CountingLogisticRegression = counting_logistic_regression
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [240, 60, 18])
    X = rng.randn(y.shape[0], 2) + 1.2 * y[:, None]
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    scoring = {
        "few": make_shot_scorer("few"),
        "all": get_scorer("shot_balanced_accuracy"),
        "ece": ece_scorer,
        "nll": nll_scorer,
    }
    search = GridSearchCV(
        make_pipeline(StandardScaler(), CountingLogisticRegression()),
        {"countinglogisticregression__C": [0.001, 1.0]},
        scoring=scoring, refit="all", cv=cv,
    )
    search.fit(X, y)

    # Recompute every fold by hand: the split of each class follows its count
    # in the *training* fold (160 / 40 / 12 -> many / medium / few).
    for i, C in enumerate([0.001, 1.0]):
        few, bal, ece, nll = [], [], [], []
        for train, test in cv.split(X, y):
            model = clone(search.estimator).set_params(countinglogisticregression__C=C)
            model.fit(X[train], y[train])
            scores = shot_accuracy(y[test], model.predict(X[test]),
                                   np.bincount(y[train]))
            proba = model.predict_proba(X[test])
            few.append(scores["few"])
            bal.append(scores["all"])
            ece.append(-expected_calibration_error(y[test], proba))
            nll.append(-log_loss(y[test], proba))
        assert search.cv_results_["mean_test_few"][i] == pytest.approx(np.mean(few))
        assert search.cv_results_["mean_test_all"][i] == pytest.approx(np.mean(bal))
        assert search.cv_results_["mean_test_ece"][i] == pytest.approx(np.mean(ece))
        assert search.cv_results_["mean_test_nll"][i] == pytest.approx(np.mean(nll))
    assert search.best_index_ == np.argmax(search.cv_results_["mean_test_all"])
    # The scorer unwraps the search itself (best_estimator_ -> last pipeline step).
    assert make_shot_scorer("all")(search, X, y) == pytest.approx(
        shot_accuracy(y, search.predict(X), np.bincount(y))["all"]
    )
