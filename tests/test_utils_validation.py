"""check_long_tailed_targets and class_counts_of."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_lt.heads import NCMClassifier
from sklearn_lt.utils import check_long_tailed_targets, class_counts_of


def test_check_long_tailed_targets_encodes_and_counts():
    classes, y_enc, counts = check_long_tailed_targets(["b", "a", "c", "a", "b", "a", "c"])
    assert classes.tolist() == ["a", "b", "c"]
    assert y_enc.tolist() == [1, 0, 2, 0, 1, 0, 2] and y_enc.dtype == np.int64
    assert counts.tolist() == [3, 2, 2] and counts.dtype == np.int64


def test_check_long_tailed_targets_errors():
    with pytest.raises(ValueError, match="at least 2 classes .* only one class: 'a'"):
        check_long_tailed_targets(["a", "a"])
    with pytest.raises(ValueError, match=r"at least 2 training samples; too few for class 7 "
                                         r"\(1 sample\), 9 \(1 sample\)\."):
        check_long_tailed_targets([0, 0, 7, 9])
    with pytest.raises(ValueError, match=r"at least 3 training samples; too few for class 0 "
                                         r"\(2 samples\)"):
        check_long_tailed_targets([0, 0, 1, 1, 1], min_samples_per_class=3)
    assert check_long_tailed_targets([0, 1], min_samples_per_class=1)[2].tolist() == [1, 1]
    with pytest.raises(ValueError, match="Unknown label type"):
        check_long_tailed_targets([0.5, 1.5, 0.5, 1.5])


def test_class_counts_of_estimators_pipelines_and_searches():
    X = np.random.RandomState(0).randn(30, 2)
    y = np.repeat([0, 1, 2], [18, 8, 4])
    head = NCMClassifier().fit(X, y)
    classes, counts = class_counts_of(head)
    assert classes.tolist() == [0, 1, 2] and counts.tolist() == [18, 8, 4]
    pipe = make_pipeline(StandardScaler(), NCMClassifier()).fit(X, y)
    assert class_counts_of(pipe)[1].tolist() == [18, 8, 4]
    search = GridSearchCV(pipe, {"ncmclassifier__metric": ["euclidean", "cosine"]}, cv=2)
    assert class_counts_of(search.fit(X, y))[1].tolist() == [18, 8, 4]
    with pytest.raises(AttributeError, match="LogisticRegression exposes no 'class_counts_'"):
        class_counts_of(LogisticRegression().fit(X, y))
    with pytest.raises(AttributeError, match="class_counts_"):
        class_counts_of(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y))
