"""The command line: ``sklearn-lt demo`` trains a backbone and compares every head."""

import re

import pytest

from sklearn_lt.cli import main
from sklearn_lt.datasets import load_digits_lt
from sklearn_lt.heads import head_catalog


def test_demo_reports_the_joint_head_and_every_catalog_head(capsys):
    assert main(["demo", "--epochs", "2", "--imbalance-factor", "10", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    counts = load_digits_lt(imbalance_factor=10, random_state=1).class_counts.tolist()
    assert f"digits-LT: {sum(counts)} train samples, class counts {counts}" in out
    assert "stage 1: MLP backbone, 2 epochs" in out
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^(.+?)\s+((?:-?\d+\.\d+\s*){7})$", line)
        if m:
            rows[m.group(1).strip()] = [float(v) for v in m.group(2).split()]
    # One row for the backbone's joint head, then one per head the catalog discovers.
    assert list(rows) == ["joint"] + [label for label, _ in head_catalog()]
    for label, (many, medium, few, all_, nll, ece, seconds) in rows.items():
        # 'all' is the mean over classes, the splits means over disjoint groups of
        # classes: it lies between them (printed to 0.1 %).
        assert min(many, medium, few) - 0.05 <= all_ <= max(many, medium, few) + 0.05, label
        assert all(0 <= v <= 100 for v in (many, medium, few, all_)), label
        assert nll > 0 and 0 <= ece <= 1 and seconds >= 0, label


def test_help_and_unknown_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "demo" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["bogus"])
    assert exc.value.code == 2
