"""Why LWS trails on a few-shot tail, and what fixes it: scales learned on held-out features.

Protocol (issue 15's audit): Fashion-MNIST-LT IF=200 from 1000 per class (1000 .. 5
training images), a balanced development set of 20 per class held out first
(``make_long_tailed(dev_size=20)``), the small CNN trained 15 epochs with CE
(5 warm-up epochs, step decay, no augmentation), the official test set. Heads on
the cached features, with the backbone's joint head where they adjust one:

- cRT (L-BFGS), and cRT by SGD at small-data settings (batch 64, lr 0.025);
- LWS on the training features, as Kang et al. train it (class-aware sampler);
- LWS with the same settings on the *development* features (its 10 scales only);
- post-hoc logit adjustment (tau = 1).

Columns: few-shot (< 20 training images) and overall balanced accuracy, NLL,
the learned scales, and the joint head's accuracy on its own training features,
per seed and as mean +- std.

    python benchmarks/bench_lws.py [--quick] [--seeds 0 1 2] [--threads N]

Results and their reading: benchmarks/README.md.
"""

import argparse
import sys

import numpy as np
from _common import DATA, load_average, machine_info, set_threads, table, write_json

from sklearn_lt import Backbone
from sklearn_lt.datasets import load_fashion_mnist, make_long_tailed
from sklearn_lt.heads import CRTClassifier, LogitAdjustedClassifier, LWSClassifier
from sklearn_lt.metrics import negative_log_likelihood, shot_accuracy

BACKBONE = dict(module="cnn", max_epochs=15, batch_size=128, lr=0.1, warmup_epochs=5,
                lr_schedule="step", weight_decay=2e-4, augment="none", device="cpu")
SMALL_SGD = dict(batch_size=64, lr=0.025)


def heads(bb):
    return {
        "cRT (lbfgs)": (CRTClassifier(), "train"),
        "cRT (sgd, batch 64)": (CRTClassifier(solver="sgd", random_state=0, **SMALL_SGD),
                                "train"),
        "LWS on training features": (LWSClassifier(joint_head=bb, random_state=0,
                                                   **SMALL_SGD), "train"),
        "LWS on dev features": (LWSClassifier(joint_head=bb, epochs=50, random_state=0,
                                              **SMALL_SGD), "dev"),
        "post-hoc LA": (LogitAdjustedClassifier(joint_head=bb), "train"),
    }


def run_seed(seed, quick):
    fm = load_fashion_mnist(DATA / "fashion-mnist")
    X, y, X_dev, y_dev = make_long_tailed(fm.X_train, fm.y_train, 200, n_max=1000,
                                          dev_size=20, random_state=seed)
    X_te, y_te = fm.X_test, fm.y_test
    params = dict(BACKBONE, random_state=seed)
    if quick:
        params["max_epochs"], X_te, y_te = 2, X_te[::10], y_te[::10]
    bb = Backbone(**params).fit(X, y)
    features = {"train": (bb.transform(X), y), "dev": (bb.transform(X_dev), y_dev)}
    Z_te = bb.transform(X_te)
    counts = dict(zip(bb.classes_.tolist(), bb.class_counts_.tolist()))
    rows = []
    for label, (head, fit_on) in heads(bb).items():
        head.fit(*features[fit_on])
        acc = shot_accuracy(y_te, head.predict(Z_te), counts)
        rows.append({"head": label, "seed": seed, "few": acc["few"], "all": acc["all"],
                     "nll": negative_log_likelihood(y_te, head.predict_proba(Z_te)),
                     "scales": None if getattr(head, "scales_", None) is None
                     else head.scales_.tolist()})
    train_acc = float(np.mean(bb.predict(X) == y))
    return rows, train_acc


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    threads = set_threads(args.threads)
    payload = {"machine": machine_info(), "threads": threads, "load_before": load_average(),
               "backbone": BACKBONE, "rows": [], "joint_train_accuracy": {}}
    for seed in args.seeds:
        rows, train_acc = run_seed(seed, args.quick)
        payload["rows"] += rows
        payload["joint_train_accuracy"][seed] = train_acc
        print(f"\nseed {seed}: the joint head classifies {100 * train_acc:.1f}% of its "
              "training features correctly")
        print(table([{**r, "few": 100 * r["few"], "all": 100 * r["all"],
                      "scales": None if r["scales"] is None
                      else " ".join(f"{s:.2f}" for s in r["scales"])} for r in rows],
                    [("head", "head", ""), ("few", "few", ".1f"), ("all", "all", ".1f"),
                     ("nll", "NLL", ".3f"), ("scales", "scales", "")]), flush=True)
    summary = []
    for label in dict.fromkeys(r["head"] for r in payload["rows"]):
        mine = [r for r in payload["rows"] if r["head"] == label]
        entry = {"head": label}
        for key in ("few", "all", "nll"):
            values = np.array([r[key] for r in mine]) * (100 if key != "nll" else 1)
            entry[key] = float(values.mean())
            entry[key + "_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        summary.append(entry)
    payload["summary"] = summary
    print(f"\nmean +- std over seeds {args.seeds}")
    print(table(summary, [("head", "head", ""), ("few", "few", ".1f"),
                          ("few_std", "+-", ".1f"), ("all", "all", ".1f"),
                          ("all_std", "+-", ".1f"), ("nll", "NLL", ".3f")]))
    payload["complete"] = True
    print(f"\nwrote {write_json('bench_lws', payload, quick=args.quick)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
