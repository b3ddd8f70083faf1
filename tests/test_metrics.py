"""Tests for sklearn_lt.metrics: shot splits, calibration, report and scorers."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, log_loss, recall_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_lt.metrics import (
    SCORERS,
    calibration_bins,
    ece_scorer,
    expected_calibration_error,
    get_scorer,
    get_scorer_names,
    long_tail_report,
    make_shot_scorer,
    negative_log_likelihood,
    nll_scorer,
    per_class_accuracy,
    shot_accuracy,
)

# Hand-computed case: train counts 500 / 50 / 5 put "a" in many, "b" in medium
# and "c" in few. Test: "a" 3 of 4 right, "b" 1 of 3, "c" 1 of 2.
COUNTS = {"a": 500, "b": 50, "c": 5}
Y_TRUE = np.array(["a", "a", "a", "a", "b", "b", "b", "c", "c"])
Y_PRED = np.array(["a", "a", "a", "b", "b", "a", "c", "c", "a"])
EXPECTED = {"many": 3 / 4, "medium": 1 / 3, "few": 1 / 2, "all": (3 / 4 + 1 / 3 + 1 / 2) / 3}


def assert_scores(scores, expected):
    assert set(scores) == set(expected)
    for key, value in expected.items():
        if np.isnan(value):
            assert np.isnan(scores[key]), key
        else:
            assert scores[key] == pytest.approx(value), key


# --------------------------------------------------------------------------- shots
def test_shot_accuracy_hand_computed():
    assert_scores(shot_accuracy(Y_TRUE, Y_PRED, COUNTS), EXPECTED)


@pytest.mark.parametrize(
    "counts, labels",
    [
        (COUNTS, None),
        (pd.Series(COUNTS), None),
        (np.array([500, 50, 5]), None),  # aligned with np.unique(y_true)
        ([5, 500, 50], ["c", "a", "b"]),  # aligned with labels
        ({"a": 500, "b": 50, "c": 5, "unused": 1}, None),
    ],
)
def test_shot_accuracy_count_formats(counts, labels):
    assert_scores(shot_accuracy(Y_TRUE, Y_PRED, counts, labels=labels), EXPECTED)


def test_shot_accuracy_value_counts_series():
    y_train = np.repeat(["a", "b", "c"], [500, 50, 5])
    counts = pd.Series(y_train).value_counts()
    assert_scores(shot_accuracy(Y_TRUE, Y_PRED, counts), EXPECTED)


def test_shot_accuracy_thresholds_are_strict_as_in_official_code():
    # many: count > 100; few: count < 20; medium: 20..100 inclusive.
    counts = {0: 101, 1: 100, 2: 20, 3: 19}
    y_true = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    y_pred = np.array([0, 0, 1, 9, 9, 9, 3, 9])
    report = long_tail_report(y_true, y_pred, counts, output_dict=True)
    assert [report[s]["n_classes"] for s in ("many", "medium", "few", "all")] == [1, 2, 1, 4]
    assert [report[s]["support"] for s in ("many", "medium", "few", "all")] == [2, 4, 2, 8]
    assert_scores(
        shot_accuracy(y_true, y_pred, counts),
        {"many": 1.0, "medium": (0.5 + 0.0) / 2, "few": 0.5, "all": 2.0 / 4},
    )
    # Moving the thresholds moves the classes.
    assert_scores(
        shot_accuracy(y_true, y_pred, counts, many_threshold=99, few_threshold=21),
        {"many": (1.0 + 0.5) / 2, "medium": np.nan, "few": (0.0 + 0.5) / 2, "all": 0.5},
    )


def test_shot_accuracy_empty_split_is_nan_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = shot_accuracy([0, 0, 1], [0, 1, 1], {0: 1000, 1: 500})
    assert_scores(scores, {"many": 0.75, "medium": np.nan, "few": np.nan, "all": 0.75})


def test_shot_accuracy_all_is_balanced_accuracy():
    rng = np.random.RandomState(0)
    y_true = rng.randint(0, 6, size=300)
    y_pred = np.where(rng.rand(300) < 0.6, y_true, rng.randint(0, 6, size=300))
    counts = np.array([400, 150, 60, 25, 10, 3])
    scores = shot_accuracy(y_true, y_pred, counts)
    assert scores["all"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    recalls = recall_score(y_true, y_pred, average=None)
    assert scores["many"] == pytest.approx(recalls[:2].mean())
    assert scores["medium"] == pytest.approx(recalls[2:4].mean())
    assert scores["few"] == pytest.approx(recalls[4:].mean())


def test_shot_accuracy_skips_labels_without_test_samples():
    # Class 2 (few-shot) has a count but no test sample: it must not drag the
    # few split to 0, it is simply absent.
    scores = shot_accuracy([0, 1], [0, 0], [500, 50, 5], labels=[0, 1, 2])
    assert_scores(scores, {"many": 1.0, "medium": 0.0, "few": np.nan, "all": 0.5})


def test_shot_accuracy_zero_count_is_few_shot():
    assert_scores(
        shot_accuracy([0, 1], [0, 1], {0: 500, 1: 0}),
        {"many": 1.0, "medium": np.nan, "few": 1.0, "all": 1.0},
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(train_class_counts=[500, 50]), "has 2 entries but the sorted classes"),
        (dict(train_class_counts=[500, 50, 5], labels=["a", "b"]), "not in labels"),
        (dict(train_class_counts=[500, 50, 5, 1], labels=["a", "b", "c"]),
         "has 4 entries"),
        (dict(train_class_counts={"a": 500, "b": 50}), r"No training count.*'c'"),
        (dict(train_class_counts={"a": 500, "b": -1, "c": 5}), "non-negative"),
        (dict(train_class_counts={"a": 500, "b": np.nan, "c": 5}), "finite"),
        (dict(train_class_counts=COUNTS, labels=["a", "b", "b"]), "duplicates"),
        (dict(train_class_counts=COUNTS, many_threshold=10, few_threshold=20),
         "must not exceed"),
    ],
)
def test_shot_accuracy_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        shot_accuracy(Y_TRUE, Y_PRED, **kwargs)


def test_shot_accuracy_bad_targets():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        shot_accuracy([0, 1, 1], [0, 1], {0: 5, 1: 5})
    with pytest.raises(ValueError, match="Mix of label input types"):
        shot_accuracy([0, 1], ["0", "1"], {0: 5, 1: 5})
    with pytest.raises(ValueError, match="empty"):
        shot_accuracy([], [], {0: 5})
    with pytest.raises(ValueError, match="many_threshold"):
        shot_accuracy([0, 1], [0, 1], {0: 5, 1: 5}, many_threshold=-1)


def test_per_class_accuracy():
    rng = np.random.RandomState(1)
    y_true = rng.randint(0, 4, size=100)
    y_pred = rng.randint(0, 4, size=100)
    assert np.allclose(
        per_class_accuracy(y_true, y_pred), recall_score(y_true, y_pred, average=None)
    )
    acc = per_class_accuracy(Y_TRUE, Y_PRED, labels=["c", "z", "a"])
    assert acc[0] == 0.5 and np.isnan(acc[1]) and acc[2] == 0.75


# --------------------------------------------------------------------- calibration
# Four samples whose confidences fall in four different bins of 15.
PROBA4 = np.array([[0.9, 0.1], [0.65, 0.35], [0.25, 0.75], [0.42, 0.58]])
Y4 = np.array([0, 1, 1, 0])  # right, wrong, right, wrong


def test_ece_hand_computed():
    # One sample per bin: ECE = mean |correct - confidence|.
    expected = (abs(1 - 0.9) + abs(0 - 0.65) + abs(1 - 0.75) + abs(0 - 0.58)) / 4
    assert expected_calibration_error(Y4, PROBA4) == pytest.approx(expected)  # 0.395
    # One bin: |mean accuracy - mean confidence| = |0.5 - 0.72|.
    assert expected_calibration_error(Y4, PROBA4, n_bins=1) == pytest.approx(0.22)


def test_ece_shared_bin_three_classes():
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.15, 0.75], [0.35, 0.33, 0.32]])
    y = np.array([0, 1, 0])  # right, wrong, right
    # 5 bins: 0.7 and 0.75 share (0.6, 0.8] (acc 0.5, conf 0.725); 0.35 in (0.2, 0.4].
    expected = 2 / 3 * abs(0.5 - 0.725) + 1 / 3 * abs(1 - 0.35)
    # Class 2 is never the true label: labels tells which column is which.
    assert expected_calibration_error(y, proba, n_bins=5, labels=[0, 1, 2]) == (
        pytest.approx(expected)
    )
    bins = calibration_bins(y, proba, n_bins=5, labels=[0, 1, 2])
    assert bins.bin_counts.tolist() == [0, 1, 0, 2, 0]
    assert np.allclose(bins.bin_accuracy[[1, 3]], [1.0, 0.5])
    assert np.allclose(bins.bin_confidence[[1, 3]], [0.35, 0.725])
    assert np.isnan(bins.bin_accuracy[[0, 2, 4]]).all()
    assert np.allclose(bins.bin_edges, [0, 0.2, 0.4, 0.6, 0.8, 1.0])


def test_calibration_bins_are_right_closed():
    # Confidence exactly 0.5 belongs to (0.25, 0.5], 1.0 to the last bin.
    proba = np.array([[0.5, 0.5], [1.0, 0.0], [0.75, 0.25]])
    bins = calibration_bins([0, 0, 0], proba, n_bins=4, labels=[0, 1])
    assert bins.bin_counts.tolist() == [0, 1, 1, 1]


def test_ece_matches_definition_on_random_data():
    rng = np.random.RandomState(0)
    logits = rng.randn(500, 5) * 2
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = rng.randint(0, 5, size=500)
    conf, correct = proba.max(axis=1), proba.argmax(axis=1) == y
    expected = 0.0
    for lo, hi in zip(np.linspace(0, 1, 16)[:-1], np.linspace(0, 1, 16)[1:]):
        in_bin = (conf > lo) & (conf <= hi)
        if in_bin.any():
            expected += in_bin.mean() * abs(correct[in_bin].mean() - conf[in_bin].mean())
    assert expected_calibration_error(y, proba) == pytest.approx(expected)


def test_ece_zero_for_confident_correct_predictions():
    assert expected_calibration_error([0, 2, 1], np.eye(3)[[0, 2, 1]]) == 0.0
    assert expected_calibration_error([0, 2, 1], np.eye(3)[[1, 0, 2]]) == 1.0


def test_labels_align_columns_and_strings():
    proba = PROBA4[:, ::-1]
    labels = ["yes", "no"]
    y = np.array(["no", "yes", "yes", "no"])  # same correctness as Y4
    assert expected_calibration_error(y, proba, labels=labels) == pytest.approx(
        expected_calibration_error(Y4, PROBA4)
    )
    assert negative_log_likelihood(y, proba, labels=labels) == pytest.approx(
        negative_log_likelihood(Y4, PROBA4)
    )


def test_nll_hand_computed_and_clipped():
    assert negative_log_likelihood(Y4, PROBA4) == pytest.approx(
        -np.mean(np.log([0.9, 0.35, 0.75, 0.42]))
    )
    # A confident mistake costs -log(eps) instead of infinity.
    nll = negative_log_likelihood([0, 1], [[1.0, 0.0], [1.0, 0.0]])
    assert nll == pytest.approx(-np.log(np.finfo(np.float64).eps) / 2)
    assert negative_log_likelihood([1], [[1.0, 0.0]], labels=[0, 1], eps=1e-3) == (
        pytest.approx(-np.log(1e-3))
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nll_equals_sklearn_log_loss(dtype):
    rng = np.random.RandomState(2)
    logits = rng.randn(200, 4)
    proba = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(dtype)
    y = rng.randint(0, 4, size=200)
    assert negative_log_likelihood(y, proba) == pytest.approx(
        log_loss(y, proba), rel=1e-6
    )
    # labels beyond the classes present in y_true
    y_sub = np.where(y == 3, 2, y)
    assert negative_log_likelihood(y_sub, proba, labels=[0, 1, 2, 3]) == pytest.approx(
        log_loss(y_sub, proba, labels=[0, 1, 2, 3]), rel=1e-6
    )


def test_binary_one_dimensional_proba():
    p1 = np.array([0.1, 0.35, 0.75, 0.58])
    assert negative_log_likelihood(Y4, p1) == pytest.approx(log_loss(Y4, p1))
    assert expected_calibration_error(Y4, p1) == pytest.approx(
        expected_calibration_error(Y4, PROBA4)
    )


@pytest.mark.parametrize("func", [expected_calibration_error, negative_log_likelihood])
@pytest.mark.parametrize(
    "y, proba, kwargs, match",
    [
        ([0, 1, 1], np.full((3, 3), 1 / 3), {}, "3 columns but there are 2 classes"),
        ([0, 1], [[1.2, -0.2], [0.5, 0.5]], {}, r"must lie in \[0, 1\]"),
        ([0, 1], [[0.6, 0.6], [0.5, 0.5]], {}, "sum to 1"),
        ([0, 1], [[np.nan, 0.5], [0.5, 0.5]], {}, "NaN"),
        ([0, 2], [[0.5, 0.5], [0.5, 0.5]], {"labels": [0, 1]}, "not in labels"),
        ([0, 1, 2], [0.5, 0.5, 0.5], {}, "1-D y_proba"),
        ([0, 1], [[0.5, 0.5], [0.5, 0.5]], {"labels": [0, 0]}, "duplicates"),
        ([0, 1, 1], [[0.5, 0.5], [0.5, 0.5]], {}, "inconsistent numbers"),
    ],
)
def test_proba_errors(func, y, proba, kwargs, match):
    with pytest.raises(ValueError, match=match):
        func(y, proba, **kwargs)


def test_ece_n_bins_validated():
    with pytest.raises(ValueError, match="n_bins"):
        expected_calibration_error(Y4, PROBA4, n_bins=0)


# -------------------------------------------------------------------------- report
def test_long_tail_report_dict_and_text():
    y_proba = np.full((Y_TRUE.shape[0], 3), 0.1)
    y_proba[np.arange(Y_TRUE.shape[0]), np.searchsorted(["a", "b", "c"], Y_PRED)] = 0.8
    report = long_tail_report(Y_TRUE, Y_PRED, COUNTS, y_proba=y_proba, output_dict=True)
    for split, value in EXPECTED.items():
        assert report[split]["accuracy"] == pytest.approx(value)
    assert [report[s]["n_classes"] for s in ("many", "medium", "few", "all")] == [1, 1, 1, 3]
    assert [report[s]["support"] for s in ("many", "medium", "few", "all")] == [4, 3, 2, 9]
    # 5 of 9 predictions right, each with p_y = 0.8; the 4 wrong have p_y = 0.1.
    assert report["nll"] == pytest.approx(-(5 * np.log(0.8) + 4 * np.log(0.1)) / 9)
    assert report["ece"] == pytest.approx(abs(5 / 9 - 0.8))

    text = long_tail_report(Y_TRUE, Y_PRED, COUNTS, y_proba=y_proba, digits=3)
    lines = text.splitlines()
    assert lines[0].split() == ["accuracy", "n_classes", "support"]
    assert "medium-shot     0.333          1        3" in text
    assert "all     0.528          3        9" in text
    assert f"nll     {report['nll']:.3f}" in text and f"ece     {report['ece']:.3f}" in text

    plain = long_tail_report(Y_TRUE, Y_PRED, COUNTS)
    assert "nll" not in plain and "0.33" in plain and "0.333" not in plain
    assert "nll" not in long_tail_report(Y_TRUE, Y_PRED, COUNTS, output_dict=True)


def test_long_tail_report_empty_split_and_labels():
    report = long_tail_report(
        [1, 0], [1, 1], [500, 200], labels=[1, 0], y_proba=[[0.9, 0.1], [0.6, 0.4]],
        output_dict=True,
    )
    # labels=[1, 0]: class 1 has 500 training samples, class 0 has 200.
    assert report["many"]["n_classes"] == 2 and np.isnan(report["few"]["accuracy"])
    assert report["all"]["accuracy"] == pytest.approx(0.5)
    assert report["nll"] == pytest.approx(-(np.log(0.9) + np.log(0.4)) / 2)
    assert "nan" in long_tail_report([1, 0], [1, 1], [500, 200], labels=[1, 0])


# ------------------------------------------------------------------------- scorers
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


class CountingLogisticRegression(LogisticRegression):
    """LogisticRegression that also stores the training class sizes."""

    def fit(self, X, y, sample_weight=None):
        super().fit(X, y, sample_weight=sample_weight)
        self.class_counts_ = np.unique(y, return_counts=True)[1]
        return self


def _lookup_case():
    y_train = np.repeat(["a", "b", "c"], [500, 50, 5])
    model = LookupClassifier().fit(np.zeros((y_train.shape[0], 1)), y_train)
    pred_idx = np.searchsorted(["a", "b", "c"], Y_PRED)
    proba = np.full((Y_TRUE.shape[0], 3), 0.1)
    proba[np.arange(Y_TRUE.shape[0]), pred_idx] = 0.8
    X_test = np.column_stack([pred_idx, proba])
    return model, X_test, proba


@pytest.mark.parametrize("split", ["many", "medium", "few", "all"])
def test_shot_scorer_hand_computed(split):
    model, X_test, _ = _lookup_case()
    assert make_shot_scorer(split)(model, X_test, Y_TRUE) == pytest.approx(EXPECTED[split])
    names = {"many": "many_shot_accuracy", "medium": "medium_shot_accuracy",
             "few": "few_shot_accuracy", "all": "shot_balanced_accuracy"}
    assert get_scorer(names[split])(model, X_test, Y_TRUE) == pytest.approx(EXPECTED[split])


def test_shot_scorer_empty_value_and_thresholds():
    model, X_test, _ = _lookup_case()
    keep = Y_TRUE != "b"  # no medium-shot test class left
    assert np.isnan(make_shot_scorer("medium")(model, X_test[keep], Y_TRUE[keep]))
    assert make_shot_scorer("medium", empty_value=0.0)(model, X_test[keep], Y_TRUE[keep]) == 0.0
    # With many_threshold=40 class "b" (50 samples) becomes many-shot.
    scorer = make_shot_scorer("many", many_threshold=40)
    assert scorer(model, X_test, Y_TRUE) == pytest.approx((3 / 4 + 1 / 3) / 2)


def test_shot_scorer_unseen_class_counts_as_few_shot():
    y_train = np.repeat([0, 1], [500, 50])
    model = LookupClassifier().fit(np.zeros((550, 1)), y_train)
    X_test = np.array([[0], [1], [0]])
    y_test = np.array([0, 1, 2])  # class 2 never seen in training
    assert make_shot_scorer("few")(model, X_test, y_test) == 0.0
    assert make_shot_scorer("all")(model, X_test, y_test) == pytest.approx(2 / 3)


def test_proba_scorers_are_negated_metrics():
    model, X_test, proba = _lookup_case()
    assert ece_scorer(model, X_test, Y_TRUE) == pytest.approx(
        -expected_calibration_error(Y_TRUE, proba, labels=["a", "b", "c"])
    )
    assert nll_scorer(model, X_test, Y_TRUE) == pytest.approx(
        -log_loss(Y_TRUE, proba, labels=["a", "b", "c"])
    )
    assert ece_scorer(model, X_test, Y_TRUE) < 0


def test_scorer_needs_class_counts():
    est = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    with pytest.raises(AttributeError, match="class_counts_"):
        make_shot_scorer("all")(est, [[0.0]], [0])


def test_get_scorer():
    assert get_scorer_names() == sorted(SCORERS) and "few_shot_accuracy" in SCORERS
    scorer = get_scorer("few_shot_accuracy")
    assert scorer is not SCORERS["few_shot_accuracy"]
    assert repr(scorer) == "make_shot_scorer(split='few')"
    assert repr(make_shot_scorer("few", few_threshold=10, empty_value=0.0)) == (
        "make_shot_scorer(split='few', few_threshold=10, empty_value=0.0)"
    )
    # sklearn names still work; callables pass through.
    model, X_test, _ = _lookup_case()
    assert get_scorer("accuracy")(model, X_test, Y_TRUE) == pytest.approx(5 / 9)
    assert get_scorer(ece_scorer) is ece_scorer
    with pytest.raises(ValueError, match="few_shot_accuracy"):
        get_scorer("no_such_scorer")
    with pytest.raises(ValueError, match="split"):
        make_shot_scorer("tail")


def test_scorers_pickle():
    model, X_test, _ = _lookup_case()
    for name, scorer in SCORERS.items():
        restored = pickle.loads(pickle.dumps(scorer))
        assert restored(model, X_test, Y_TRUE) == pytest.approx(scorer(model, X_test, Y_TRUE))


def test_scorers_in_pipeline_grid_search():
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
