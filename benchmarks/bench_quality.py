"""Stage-1 quality on Fashion-MNIST-LT (IF=100), small CNN, CPU budget.

Joint training with each sampler (IB / CB / SQRT / PB, loss CE) and with each
loss under IB sampling (focal, class-balanced CE, LDAM-DRW, logit-adjusted,
balanced softmax). Every row gets the same budget (epochs, batch, schedule).
Reports many / medium / few / all accuracy, NLL, ECE and fit time; the test
set is the official balanced 10,000-image test set.

    python benchmarks/bench_quality.py [--quick] [--epochs N]
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from sklearn_lt import Backbone
from sklearn_lt.datasets import load_fashion_mnist, make_long_tailed
from sklearn_lt.metrics import expected_calibration_error, negative_log_likelihood, shot_accuracy

from bench_overhead import DATA, RESULTS, machine

ROWS = [
    ("CE, instance-balanced", dict(sampler="instance", loss="ce")),
    ("CE, class-balanced", dict(sampler="class", loss="ce")),
    ("CE, square-root", dict(sampler="sqrt", loss="ce")),
    ("CE, progressive", dict(sampler="progressive", loss="ce")),
    ("focal (g=1), IB", dict(loss="focal", criterion__gamma=1.0)),
    ("CB-CE (b=0.9999), IB", dict(loss="cb", criterion__beta=0.9999)),
    ("LDAM-DRW, IB", dict(loss="ldam_drw")),
    ("logit-adjusted (t=1), IB", dict(loss="logit_adjusted", criterion__tau=1.0)),
    ("balanced softmax, IB", dict(loss="balanced_softmax")),
]


def evaluate(name, proba, classes, counts, y_test, seconds):
    pred = classes[proba.argmax(1)]
    acc = shot_accuracy(y_test, pred, dict(zip(classes, counts)))
    return {"method": name, **{k: float(v) for k, v in acc.items()},
            "nll": float(negative_log_likelihood(y_test, proba, labels=classes)),
            "ece": float(expected_calibration_error(y_test, proba, labels=classes)),
            "fit_s": seconds}


def print_table(rows):
    head = f"{'method':<28}{'many':>7}{'medium':>8}{'few':>7}{'all':>7}{'NLL':>7}{'ECE':>7}{'fit s':>8}"
    print(head)
    print("-" * len(head))
    for r in rows:
        cells = [100 * r[k] for k in ("many", "medium", "few", "all")]
        shown = "".join(f"{c:>{w}.1f}" if np.isfinite(c) else f"{'n/a':>{w}}"
                        for c, w in zip(cells, (7, 8, 7, 7)))
        print(f"{r['method']:<28}{shown}{r['nll']:>7.3f}{r['ece']:>7.3f}{r['fit_s']:>8.1f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--epochs", type=int, default=None)
    args = ap.parse_args()
    if not (DATA / "fashion-mnist").is_dir():
        raise SystemExit(f"needs Fashion-MNIST under {DATA} (or $SKLEARN_LT_DATA)")
    fm = load_fashion_mnist(DATA / "fashion-mnist")
    X, y = make_long_tailed(fm.X_train, fm.y_train, imbalance_factor=100)
    X_test, y_test = fm.X_test, fm.y_test
    rows_spec = ROWS
    epochs = args.epochs or (2 if args.quick else 12)
    if args.quick:
        X, y = X[::5], y[::5]
        X_test, y_test = X_test[::5], y_test[::5]
        rows_spec = ROWS[:2]
    counts = np.bincount(y)
    print(f"Fashion-MNIST-LT IF=100: train counts {counts.tolist()} ({len(y)} images); "
          f"many={int((counts > 100).sum())}, medium={int(((counts >= 20) & (counts <= 100)).sum())}, "
          f"few={int((counts < 20).sum())} classes; {epochs} epochs per row, SmallCNN, batch 128, "
          "cosine lr 0.05, 1 warm-up epoch")
    rows = []
    for name, params in rows_spec:
        bb = Backbone(module="cnn", max_epochs=epochs, batch_size=128, lr=0.05, warmup_epochs=1,
                      lr_schedule="cosine", weight_decay=5e-4, random_state=0, **params)
        t0 = time.perf_counter()
        bb.fit(X, y)
        seconds = time.perf_counter() - t0
        rows.append(evaluate(name, bb.predict_proba(X_test), bb.classes_, bb.class_counts_,
                             y_test, seconds))
        print(f"  done: {name} ({seconds:.0f}s)", flush=True)
    print_table(rows)
    base = rows[0]
    better = [r["method"] for r in rows[1:] if r["all"] > base["all"]]
    print(f"rows beating CE-IB on balanced accuracy ('all'): {better}")
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']} "
          f"({info['torch_threads']} threads), load {info['loadavg']}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("bench_quality_quick.json" if args.quick else "bench_quality.json")
    out.write_text(json.dumps({"benchmark": "backbone_quality", "epochs": epochs,
                               "train_counts": counts.tolist(), "rows": rows,
                               "machine": info}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
