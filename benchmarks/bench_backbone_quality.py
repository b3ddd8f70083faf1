"""Stage-1 (joint training) quality of ``Backbone`` on Fashion-MNIST-LT, CPU budget.

Data: Fashion-MNIST-LT, IF=100, n_max=6000 (class sizes 6000, 3596, ..., 100,
60; 14,886 images, exponential profile of Cao et al. 2019); test set: the
official balanced 10,000-image test set. Network: the small CNN
(``module="cnn"``). Every row gets the same budget: all training images,
20 epochs, batch 128, SGD lr 0.1 (momentum 0.9, weight decay 2e-4), 2 warm-up
epochs then cosine decay, no augmentation, ``random_state=0``.

Rows: CE with instance- (IB), class- (CB), square-root (SQRT) and
progressively-balanced (PB) sampling; then, under IB sampling, focal (gamma=1),
class-balanced CE (beta=0.9999), LDAM-DRW, logit-adjusted (tau=1) and balanced
softmax. Columns: many/medium/few/all accuracy (``shot_accuracy`` with the
training class counts; many > 100 >= medium >= 20 > few; "all" is the
balanced accuracy), NLL, ECE (15 bins) and fit time.

    python benchmarks/bench_backbone_quality.py [--quick] [--epochs N] [--threads N]

--quick (a fifth of the data, 2 epochs) checks the plumbing and says nothing
about quality. Results and their reading: benchmarks/README.md.
"""

import argparse
import sys
import time

import numpy as np
from _common import (
    CpuContention,
    evaluate,
    fashion_mnist_lt,
    load_average,
    machine_info,
    set_threads,
    table,
    write_json,
)

from sklearn_lt import Backbone

# (row name, family, Backbone parameters); the family tells the sampler rows
# from the loss rows for the verdict.
ROWS = [
    ("CE + IB sampling", "baseline", dict(sampler="instance", loss="ce")),
    ("CE + CB sampling", "sampler", dict(sampler="class", loss="ce")),
    ("CE + SQRT sampling", "sampler", dict(sampler="sqrt", loss="ce")),
    ("CE + PB sampling", "sampler", dict(sampler="progressive", loss="ce")),
    ("focal (gamma=1) + IB", "loss", dict(loss="focal", criterion__gamma=1.0)),
    ("CB-CE (beta=0.9999) + IB", "loss",
     dict(loss="cb", criterion__beta=0.9999, criterion__loss_type="ce")),
    ("LDAM-DRW + IB", "loss", dict(loss="ldam_drw")),
    ("logit-adjusted (tau=1) + IB", "loss", dict(loss="logit_adjusted", criterion__tau=1.0)),
    ("balanced softmax + IB", "loss", dict(loss="balanced_softmax")),
]
BALANCING = ("CE + CB sampling", "CE + SQRT sampling", "CE + PB sampling",
             "CB-CE (beta=0.9999) + IB", "LDAM-DRW + IB", "logit-adjusted (tau=1) + IB",
             "balanced softmax + IB")

COLUMNS = [("method", "method", ""), ("many", "many", ".3f"), ("medium", "medium", ".3f"),
           ("few", "few", ".3f"), ("all", "all", ".3f"), ("nll", "NLL", ".3f"),
           ("ece", "ECE", ".3f"), ("fit_s", "fit s", ".0f")]


def recipe(epochs):
    return dict(module="cnn", max_epochs=epochs, batch_size=128, lr=0.1, momentum=0.9,
                weight_decay=2e-4, warmup_epochs=max(1, epochs // 10), lr_schedule="cosine",
                augment="none", device="cpu", random_state=0)


def verdict(rows):
    """Does re-balancing beat plain CE on the tail and on balanced accuracy?"""
    base = rows[0]
    lines = []
    for r in rows[1:]:
        d_all = r["all"] - base["all"]
        d_med = r["medium"] - base["medium"]
        lines.append(f"  {r['method']:<28} all {d_all:+.3f}   medium (tail) {d_med:+.3f}")
    balancing = [r for r in rows if r["method"] in BALANCING]
    wins_all = [r["method"] for r in balancing if r["all"] > base["all"]]
    wins_tail = [r["method"] for r in balancing if r["medium"] > base["medium"]]
    summary = (f"{len(wins_all)}/{len(balancing)} re-balancing rows beat CE+IB on balanced "
               f"accuracy ('all'), {len(wins_tail)}/{len(balancing)} on the tail ('medium'; "
               "'few' is empty at this imbalance).")
    return lines, summary, wins_all, wins_tail


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="a fifth of train and test, 2 epochs: plumbing only")
    ap.add_argument("--epochs", type=int, default=None, help="epochs per row (default 20)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_args(argv)

    threads = set_threads(args.threads)
    load_start = load_average()
    X, y, X_test, y_test, source = fashion_mnist_lt(100, n_max=6000)
    if args.quick:
        X, y, X_test, y_test = X[::5], y[::5], X_test[::5], y_test[::5]
    epochs = args.epochs or (2 if args.quick else 20)
    params = recipe(epochs)

    counts = np.bincount(y)
    many, few = counts > 100, counts < 20
    split = {"many": np.flatnonzero(many).tolist(),
             "medium": np.flatnonzero(~many & ~few).tolist(),
             "few": np.flatnonzero(few).tolist()}
    print(f"{source}{' (every 5th image, --quick)' if args.quick else ''}")
    print(f"train counts {counts.tolist()} ({len(y)} images); test {np.bincount(y_test).tolist()}")
    print(f"shot split by training count: many (>100) = classes {split['many']}, medium "
          f"(20..100) = {split['medium']}, few (<20) = {split['few'] or 'none -> NaN'}")
    print(f"budget per row: {epochs} epochs, batch 128, SGD lr 0.1 m 0.9 wd 2e-4, "
          f"{params['warmup_epochs']} warm-up epoch(s) + cosine, no augmentation, "
          f"{threads} torch threads; load average at start {load_start}", flush=True)

    rows = []
    info = machine_info("cpu")

    def save(complete, **extra):
        return write_json("bench_backbone_quality", {
            "benchmark": "bench_backbone_quality", "complete": complete, "quick": args.quick,
            "data": source, "train_counts": counts.tolist(), "n_train": int(len(y)),
            "n_test": int(len(y_test)), "shot_split_classes": split,
            "recipe": {k: v for k, v in params.items() if k != "device"},
            "rows": rows, "load_average_start": load_start,
            "load_average_end": load_average(), "machine": info, **extra,
        }, quick=args.quick)

    t_total = time.perf_counter()
    contention_total = CpuContention()
    for name, family, extra in ROWS:
        load_row = load_average()
        contention = CpuContention()
        bb = Backbone(**params, **extra)
        t0 = time.perf_counter()
        bb.fit(X, y)
        fit_s = time.perf_counter() - t0
        rows.append(evaluate(name, bb.predict_proba(X_test), bb.classes_, bb.class_counts_,
                             y_test, fit_s, family=family, params=extra,
                             load_average_at_start=load_row,
                             other_processes_cpu_fraction=contention.other_fraction()))
        r = rows[-1]
        others = r["other_processes_cpu_fraction"]
        print(f"  {name:<28} all {r['all']:.3f}  medium {r['medium']:.3f}  fit {fit_s:.0f}s "
              f"(other processes: {'?' if others is None else f'{100 * others:.0f}%'} CPU)",
              flush=True)
        save(complete=False)  # partial results survive an interrupted run
    total_s = time.perf_counter() - t_total
    others_total = contention_total.other_fraction()

    print()
    print(table(rows, COLUMNS))
    print("\nper-class test accuracy (classes 0..9, training counts "
          f"{counts.tolist()}):")
    for r in rows:
        print(f"  {r['method']:<28} " + " ".join(f"{a:.2f}" for a in r["per_class_accuracy"]))
    lines, summary, wins_all, wins_tail = verdict(rows)
    print("\nchange against CE + IB sampling:")
    print("\n".join(lines))
    print(summary)
    load_end = load_average()
    print(f"total {total_s:.0f}s; load average start {load_start}, end {load_end}; other "
          f"processes used {'?' if others_total is None else f'{100 * others_total:.0f}%'} "
          "of the CPU (fit times are only comparable between rows when this is low)")
    path = save(complete=True, total_s=total_s, verdict=summary,
                other_processes_cpu_fraction=others_total,
                beat_ce_ib_on_all=wins_all, beat_ce_ib_on_medium=wins_tail)
    print(f"wrote {path}")
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
