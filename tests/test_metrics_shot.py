"""Shot-split accuracy (many / medium / few) and per-class accuracy.

``shot_case`` (conftest): train counts 500 / 50 / 5 put "a" in many, "b" in
medium and "c" in few; on the test labels "a" is 3 of 4 right, "b" 1 of 3 and
"c" 1 of 2.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score, recall_score

from sklearn_lt.metrics import long_tail_report, per_class_accuracy, shot_accuracy


def assert_scores(scores, expected):
    assert set(scores) == set(expected)
    for key, value in expected.items():
        if np.isnan(value):
            assert np.isnan(scores[key]), key
        else:
            assert scores[key] == pytest.approx(value), key


def test_shot_accuracy_hand_computed(shot_case):
    counts, y_true, y_pred, expected = shot_case
    assert_scores(shot_accuracy(y_true, y_pred, counts), expected)


@pytest.mark.parametrize(
    "counts, labels",
    [
        ({"a": 500, "b": 50, "c": 5}, None),
        (pd.Series({"a": 500, "b": 50, "c": 5}), None),
        (np.array([500, 50, 5]), None),  # aligned with np.unique(y_true)
        ([5, 500, 50], ["c", "a", "b"]),  # aligned with labels
        ({"a": 500, "b": 50, "c": 5, "unused": 1}, None),
    ],
)
def test_shot_accuracy_count_formats(counts, labels, shot_case):
    y_true, y_pred, expected = shot_case.y_true, shot_case.y_pred, shot_case.expected
    assert_scores(shot_accuracy(y_true, y_pred, counts, labels=labels), expected)


def test_shot_accuracy_value_counts_series(shot_case):
    y_true, y_pred, expected = shot_case.y_true, shot_case.y_pred, shot_case.expected
    y_train = np.repeat(["a", "b", "c"], [500, 50, 5])
    counts = pd.Series(y_train).value_counts()
    assert_scores(shot_accuracy(y_true, y_pred, counts), expected)


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
        (dict(train_class_counts={"a": 500, "b": 50, "c": 5}, labels=["a", "b", "b"]),
         "duplicates"),
        (dict(train_class_counts={"a": 500, "b": 50, "c": 5}, many_threshold=10,
              few_threshold=20),
         "must not exceed"),
    ],
)
def test_shot_accuracy_errors(kwargs, match, shot_case):
    y_true, y_pred = shot_case.y_true, shot_case.y_pred
    with pytest.raises(ValueError, match=match):
        shot_accuracy(y_true, y_pred, **kwargs)


def test_shot_accuracy_bad_targets():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        shot_accuracy([0, 1, 1], [0, 1], {0: 5, 1: 5})
    with pytest.raises(ValueError, match="Mix of label input types"):
        shot_accuracy([0, 1], ["0", "1"], {0: 5, 1: 5})
    with pytest.raises(ValueError, match="empty"):
        shot_accuracy([], [], {0: 5})
    with pytest.raises(ValueError, match="many_threshold"):
        shot_accuracy([0, 1], [0, 1], {0: 5, 1: 5}, many_threshold=-1)


def test_per_class_accuracy(shot_case):
    case = shot_case
    rng = np.random.RandomState(1)
    y_true = rng.randint(0, 4, size=100)
    y_pred = rng.randint(0, 4, size=100)
    assert np.allclose(
        per_class_accuracy(y_true, y_pred), recall_score(y_true, y_pred, average=None)
    )
    acc = per_class_accuracy(case.y_true, case.y_pred, labels=["c", "z", "a"])
    assert acc[0] == 0.5 and np.isnan(acc[1]) and acc[2] == 0.75


# --------------------------------------------------------------------------- array counts
def test_array_counts_refused_when_y_true_cannot_be_their_classes():
    # Training classes 0, 1, 2 with 500 / 50 / 5 samples; the test set lacks 1
    # and holds 3, unseen in training. Aligned with the sorted classes of
    # y_true, [0, 2, 3], the counts read {0: 500, 2: 50, 3: 5}: class 2 became
    # medium-shot and the unseen class few-shot, silently
    # (many 0.5, medium 0.5, few 0.0). The predictions of class 1, absent
    # from y_true, show that y_true does not hold the classes of the counts.
    y_true = [0, 0, 2, 2, 3, 3]
    y_pred = [0, 1, 2, 1, 1, 0]
    for metric in (shot_accuracy, long_tail_report):
        with pytest.raises(ValueError, match=r"y_pred holds label\(s\) \[1\] absent from "
                                             r"y_true.*Pass labels"):
            metric(y_true, y_pred, [500, 50, 5])
    # Made explicit, the alignment is right: 0 many (1 of 2), 2 few (1 of 2), and
    # 3 few with its count of 0 (0 of 2).
    expected = {"many": 0.5, "medium": np.nan, "few": (0.5 + 0.0) / 2, "all": 1 / 3}
    assert_scores(shot_accuracy(y_true, y_pred, [500, 50, 5, 0], labels=[0, 1, 2, 3]),
                  expected)
    assert_scores(shot_accuracy(y_true, y_pred, {0: 500, 1: 50, 2: 5, 3: 0}), expected)


def test_array_counts_aligned_with_y_true_when_it_holds_every_class():
    # The normal case: y_true holds every training class. Class 2 is never
    # predicted, which is no sign of misalignment (y_pred stays within y_true).
    y_true = [0, 0, 1, 1, 2, 2]
    y_pred = [0, 0, 0, 1, 0, 1]
    assert_scores(shot_accuracy(y_true, y_pred, np.array([500, 50, 5])),
                  {"many": 1.0, "medium": 0.5, "few": 0.0, "all": 0.5})
