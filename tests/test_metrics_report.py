"""long_tail_report: shot accuracies, NLL and ECE as a dict or a text table."""

import numpy as np
import pytest

from sklearn_lt.metrics import long_tail_report


def test_long_tail_report_dict_and_text(shot_case):
    counts, y_true, y_pred, expected = shot_case
    y_proba = np.full((y_true.shape[0], 3), 0.1)
    y_proba[np.arange(y_true.shape[0]), np.searchsorted(["a", "b", "c"], y_pred)] = 0.8
    report = long_tail_report(y_true, y_pred, counts, y_proba=y_proba, output_dict=True)
    for split, value in expected.items():
        assert report[split]["accuracy"] == pytest.approx(value)
    assert [report[s]["n_classes"] for s in ("many", "medium", "few", "all")] == [1, 1, 1, 3]
    assert [report[s]["support"] for s in ("many", "medium", "few", "all")] == [4, 3, 2, 9]
    # 5 of 9 predictions right, each with p_y = 0.8; the 4 wrong have p_y = 0.1.
    assert report["nll"] == pytest.approx(-(5 * np.log(0.8) + 4 * np.log(0.1)) / 9)
    assert report["ece"] == pytest.approx(abs(5 / 9 - 0.8))

    text = long_tail_report(y_true, y_pred, counts, y_proba=y_proba, digits=3)
    lines = text.splitlines()
    assert lines[0].split() == ["accuracy", "n_classes", "support"]
    assert "medium-shot     0.333          1        3" in text
    assert "all     0.528          3        9" in text
    assert f"nll     {report['nll']:.3f}" in text and f"ece     {report['ece']:.3f}" in text

    plain = long_tail_report(y_true, y_pred, counts)
    assert "nll" not in plain and "0.33" in plain and "0.333" not in plain
    assert "nll" not in long_tail_report(y_true, y_pred, counts, output_dict=True)


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
