"""head_catalog: one configured instance of every discovered head."""

import numpy as np
import pytest

from sklearn_lt.heads import CRTClassifier, head_catalog
from sklearn_lt.utils.discovery import all_estimators


def test_catalog_covers_every_discovered_head_once_per_variant():
    catalog = head_catalog()
    labels = [label for label, _ in catalog]
    assert len(set(labels)) == len(labels)
    heads = dict(all_estimators("head"))
    assert {type(head) for _, head in catalog} == set(heads.values())
    for label, head in catalog:
        assert not hasattr(head, "classes_"), label  # unfitted
        # Configured alike: no setting was given, so each head keeps the
        # defaults of its variant (cRT's solver aside, the class defaults).
        defaults = type(head)().get_params()
        changed = {k for k, v in head.get_params().items() if v != defaults[k]}
        assert changed <= {"solver"}, (label, changed)
    # cRT contributes both solvers.
    solvers = {head.solver for _, head in catalog if isinstance(head, CRTClassifier)}
    assert solvers == {"lbfgs", "sgd"}


def test_catalog_routes_shared_settings_to_the_heads_that_take_them():
    coef, intercept = np.eye(3, 2), np.zeros(3)
    sgd = {"batch_size": 16, "lr": 0.05, "epochs": 2}
    catalog = head_catalog(joint_head=(coef, intercept), sgd_params=sgd, random_state=7)
    for label, head in catalog:
        params = head.get_params()
        for key, value in sgd.items():
            if key in params:
                assert params[key] == value, (label, key)
        if "joint_head" in params:
            assert params["joint_head"][0] is coef, label
        if "random_state" in params:
            assert params["random_state"] == 7, label
    taking_sgd = [label for label, head in catalog if "batch_size" in head.get_params()]
    assert set(taking_sgd) >= {"cRT (lbfgs)", "cRT (sgd)", "LWS"}
    # Every call builds new instances.
    first, second = head_catalog(), head_catalog()
    assert all(a is not b for (_, a), (_, b) in zip(first, second))


def test_catalog_refuses_settings_no_head_has():
    with pytest.raises(ValueError, match=r"sgd_params \['bogus'\] are parameters of no head"):
        head_catalog(sgd_params={"bogus": 1, "epochs": 2})


def test_every_catalog_head_fits_and_predicts(skewed):
    X, y, X_test, _ = skewed
    for label, head in head_catalog(sgd_params={"batch_size": 64, "lr": 0.05, "epochs": 2},
                                    random_state=0):
        proba = head.fit(X, y).predict_proba(X_test)
        assert proba.shape == (len(X_test), 3), label
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, err_msg=label)
        np.testing.assert_array_equal(head.class_counts_, [600, 60, 15])
