"""How many SGD steps a head on cached features needs: cRT and LWS against the step count.

Three feature sets, each from one seeded backbone: Fashion-MNIST-LT IF=200 from
1000 per class and IF=100 from 6000 (the small CNN, 15 epochs of CE, no
augmentation), and digits-LT (the MLP, 60 epochs). On each, cRT by SGD (a fresh
linear head, class-aware sampler) and LWS (scales on the backbone's joint head)
run for 1 to 40 epochs at batch 512 / lr 0.2 (Kang et al.'s ImageNet-LT
setting), 128 / 0.05 and 64 / 0.025 (the lr scaled linearly), skipping runs of
more than 6000 steps; the reference is cRT's exact optimum (L-BFGS). Columns:
steps, balanced accuracy and NLL on the test set. This is the evidence behind
the trainer's few-steps warning (``nn._trainer.FEW_STEPS``).

    python benchmarks/bench_sgd_steps.py [--quick] [--threads N]

Results and their reading: benchmarks/README.md.
"""

import argparse
import sys

import numpy as np
from _common import DATA, load_average, machine_info, set_threads, table, write_json
from sklearn.metrics import balanced_accuracy_score

from sklearn_lt import Backbone
from sklearn_lt.datasets import load_digits_lt, load_fashion_mnist, make_long_tailed
from sklearn_lt.heads import CRTClassifier, LWSClassifier
from sklearn_lt.metrics import negative_log_likelihood

SETTINGS = ((512, 0.2), (128, 0.05), (64, 0.025))
EPOCHS = (1, 2, 5, 10, 20, 40)
MAX_STEPS = 6000


def feature_sets(quick):
    fm = load_fashion_mnist(DATA / "fashion-mnist")
    cnn = dict(module="cnn", max_epochs=2 if quick else 15, random_state=0, augment="none",
               device="cpu")
    for name, imbalance, n_max in (("fashion_if200_n1000", 200, 1000),
                                   ("fashion_if100_n6000", 100, 6000)):
        X, y = make_long_tailed(fm.X_train, fm.y_train, imbalance, n_max=n_max, random_state=0)
        bb = Backbone(**cnn).fit(X, y)
        yield name, bb.transform(X), y, bb.transform(fm.X_test), fm.y_test, bb
    d = load_digits_lt()
    bb = Backbone(module="mlp", max_epochs=5 if quick else 60, batch_size=64, lr=0.05,
                  random_state=0, device="cpu").fit(d.X_train, d.y_train)
    yield "digits_lt", bb.transform(d.X_train), d.y_train, bb.transform(d.X_test), d.y_test, bb


def score(head, Z_te, y_te):
    return (100 * balanced_accuracy_score(y_te, head.predict(Z_te)),
            negative_log_likelihood(y_te, head.predict_proba(Z_te)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    threads = set_threads(args.threads)
    payload = {"machine": machine_info(), "threads": threads, "load_before": load_average(),
               "sets": {}}
    epochs_grid = EPOCHS[:2] if args.quick else EPOCHS
    for name, Z, y, Z_te, y_te, bb in feature_sets(args.quick):
        exact = score(CRTClassifier().fit(Z, y), Z_te, y_te)
        rows = []
        per_epoch_draws = len(np.unique(y)) * np.bincount(np.searchsorted(bb.classes_, y)).max()
        for batch, lr in SETTINGS:
            steps_per_epoch = -(-per_epoch_draws // batch)
            for epochs in epochs_grid:
                if epochs * steps_per_epoch > MAX_STEPS:
                    continue
                common = dict(batch_size=batch, lr=lr, epochs=epochs, random_state=0)
                for label, head in (("cRT", CRTClassifier(solver="sgd", **common)),
                                    ("LWS", LWSClassifier(joint_head=bb, **common))):
                    bacc, nll = score(head.fit(Z, y), Z_te, y_te)
                    rows.append({"head": label, "batch": batch, "lr": lr, "epochs": epochs,
                                 "steps": epochs * steps_per_epoch, "bacc": bacc, "nll": nll})
        payload["sets"][name] = {"n_train": len(y), "lbfgs_bacc": exact[0],
                                 "lbfgs_nll": exact[1], "rows": rows}
        print(f"\n{name} ({len(y)} training samples): cRT by L-BFGS {exact[0]:.2f} "
              f"(NLL {exact[1]:.3f})")
        print(table(rows, [("head", "head", ""), ("batch", "batch", ""), ("lr", "lr", ""),
                           ("epochs", "epochs", ""), ("steps", "steps", ""),
                           ("bacc", "bal. acc", ".2f"), ("nll", "NLL", ".3f")]), flush=True)
    payload["complete"] = True
    print(f"\nwrote {write_json('bench_sgd_steps', payload, quick=args.quick)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
