"""Meta-weighting (Jamal et al., CVPR 2020) against plain and class-balanced training.

For each loss L in {CE, focal (gamma=1)}, each data set and seed:

- plain: ``Backbone(loss=L)``, its joint head;
- CB: ``Backbone(loss="cb", criterion__loss_type=L)`` (Cui et al.'s
  effective-number weights, beta=0.9999);
- meta, head only: ``MetaWeightedClassifier(loss=L)`` on the plain backbone's
  cached features, development set = the held-out images' features;
- meta, full: ``Backbone(loss=L, meta_epochs=...)``, the last 20% of the
  epochs meta-weighted (the paper's 160 + 40), its joint head.

The balanced development set (10 images per class; 5 for digits) is held out
*before* the long tail is built (``make_long_tailed(dev_size=...)``), as the
paper does for CIFAR. Data: digits-LT (IF=20, MLP, 60 epochs; test 30 per
class held out first) and Fashion-MNIST-LT IF=100 and IF=200 (small CNN, 20
epochs, the recipe of bench_backbone_quality.py; the official test set).
Columns: many / medium / few / all accuracy, NLL, ECE, fit time, mean +- std
over seeds; the cost of a meta-weighted epoch against a plain one of the same
run, as a ratio.

    python benchmarks/bench_meta.py [--quick] [--seeds 0 1 2] [--threads N] [--only NAME ...]

Results and their reading: benchmarks/README.md.
"""

import argparse
import sys
import time

import numpy as np
from _common import DATA, evaluate, load_average, machine_info, set_threads, write_json
from threadpoolctl import threadpool_limits

from sklearn_lt import Backbone
from sklearn_lt.datasets import load_fashion_mnist, make_long_tailed
from sklearn_lt.heads import MetaWeightedClassifier

DIGITS = dict(module="mlp", max_epochs=60, batch_size=64, lr=0.05, weight_decay=5e-4,
              warmup_epochs=3, lr_schedule="cosine", device="cpu")
FASHION = dict(module="cnn", max_epochs=20, batch_size=128, lr=0.1, momentum=0.9,
               weight_decay=2e-4, warmup_epochs=2, lr_schedule="cosine", augment="none",
               device="cpu")
DATASETS = {
    "digits_lt": dict(backbone=DIGITS, head=dict(batch_size=64, lr=0.025), dev=5),
    "fashion_mnist_lt_if100": dict(backbone=FASHION, head={}, dev=10, imbalance_factor=100),
    "fashion_mnist_lt_if200": dict(backbone=FASHION, head={}, dev=10, imbalance_factor=200),
}
METRICS = ("many", "medium", "few", "all", "nll", "ece")
LOSSES = {"CE": dict(loss="ce"), "focal": dict(loss="focal", criterion__gamma=1.0)}
CB = {"CE": dict(loss="cb", criterion__loss_type="ce"),
      "focal": dict(loss="cb", criterion__loss_type="focal", criterion__gamma=1.0)}


def load(name, quick, seed=0):
    """(X, y, X_dev, y_dev, X_test, y_test, description); the dev set is carved first."""
    cfg = DATASETS[name]
    if name == "digits_lt":
        from sklearn.datasets import load_digits

        d = load_digits()
        X, y = (d.data / 16.0).astype(np.float32), d.target
        # A balanced test set first (30 per class), then dev + long tail from the rest.
        _, _, test = make_long_tailed(X, y, 1, n_max=30, random_state=seed,
                                      return_indices=True)
        rest = np.setdiff1d(np.arange(len(y)), test)
        X_lt, y_lt, X_dev, y_dev = make_long_tailed(X[rest], y[rest], 20, dev_size=cfg["dev"],
                                                    random_state=seed)
        return X_lt, y_lt, X_dev, y_dev, X[test], y[test], "digits-LT IF=20"
    fm = load_fashion_mnist(DATA / "fashion-mnist")
    X_lt, y_lt, X_dev, y_dev = make_long_tailed(fm.X_train, fm.y_train, cfg["imbalance_factor"],
                                                dev_size=cfg["dev"], random_state=0)
    X_te, y_te = fm.X_test, fm.y_test
    if quick:
        X_lt, y_lt, X_te, y_te = X_lt[::5], y_lt[::5], X_te[::5], y_te[::5]
    return (X_lt, y_lt, X_dev, y_dev, X_te, y_te,
            f"Fashion-MNIST-LT IF={cfg['imbalance_factor']} (dev 10/class carved first)")


def fit_backbone(params, X, y, X_te, y_te, label, **fit_kw):
    bb = Backbone(**params)
    t0 = time.perf_counter()
    bb.fit(X, y, **fit_kw)
    seconds = time.perf_counter() - t0
    return bb, evaluate(label, bb.predict_proba(X_te), bb.classes_, bb.class_counts_, y_te,
                        seconds)


def run_seed(name, seed, data, quick):
    cfg = DATASETS[name]
    X, y, X_dev, y_dev, X_te, y_te = data
    params = dict(cfg["backbone"], random_state=seed)
    if quick:
        params.update(max_epochs=4, warmup_epochs=1)
    meta_epochs = max(1, params["max_epochs"] // 5)
    rows, cost = {}, {}
    for loss, loss_params in LOSSES.items():
        bb, rows[("plain", loss)] = fit_backbone({**params, **loss_params}, X, y, X_te, y_te,
                                                 f"plain {loss}")
        _, rows[("CB", loss)] = fit_backbone({**params, **CB[loss]}, X, y, X_te, y_te,
                                             f"CB-{loss}")
        head = MetaWeightedClassifier(loss=loss_params["loss"], random_state=seed,
                                      **cfg["head"])
        t0 = time.perf_counter()
        head.fit(bb.transform(X), y, X_dev=bb.transform(X_dev), y_dev=y_dev)
        rows[("meta head", loss)] = evaluate(
            f"meta head-only {loss}", head.predict_proba(bb.transform(X_te)), head.classes_,
            head.class_counts_, y_te, time.perf_counter() - t0)
        full, rows[("meta full", loss)] = fit_backbone(
            {**params, **loss_params, "meta_epochs": meta_epochs}, X, y, X_te, y_te,
            f"meta full {loss}", X_dev=X_dev, y_dev=y_dev)
        dur = np.array([h["dur"] for h in full.history_])
        cost[loss] = float(dur[-meta_epochs:].mean() / dur[1:-meta_epochs].mean())
    return rows, cost


def summarize(per_seed):
    out = []
    for key in per_seed[0]:
        runs = [s[key] for s in per_seed]
        row = {"method": key[0], "loss": key[1], "n_seeds": len(runs)}
        for m in (*METRICS, "fit_s"):
            vals = np.array([r[m] for r in runs], dtype=float)
            row[m] = float(np.mean(vals))
            row[m + "_std"] = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
        out.append(row)
    return out


def run_dataset(name, seeds, quick):
    per_seed, costs = [], []
    for seed in seeds:
        *data, source = load(name, quick, seed)
        rows, cost = run_seed(name, seed, data, quick)
        per_seed.append(rows)
        costs.append(cost)
        print(f"  {name} seed {seed}: " + ", ".join(
            f"{k[0]}/{k[1]} {100 * r['all']:.1f}" for k, r in rows.items()), flush=True)
    return {"data": source, "train_counts": np.bincount(data[1]).tolist(), "seeds": list(seeds),
            "rows": summarize(per_seed),
            "per_seed": [[{"key": list(k), **r} for k, r in s.items()] for s in per_seed],
            "meta_epoch_cost_ratio": {loss: [c[loss] for c in costs] for loss in LOSSES}}


def print_result(res):
    print(f"\n{res['data']}, counts {res['train_counts']}, seeds {res['seeds']}")
    print(f"{'method':<11} {'loss':<6}" + "".join(f"{m:>14}" for m in (*METRICS, "fit_s")))
    for r in res["rows"]:
        cells = "".join(
            f"{100 * r[m]:>8.1f}±{100 * r[m + '_std']:<5.1f}" if m in METRICS[:4]
            else f"{r[m]:>8.3f}±{r[m + '_std']:<5.3f}" for m in (*METRICS, "fit_s"))
        print(f"{r['method']:<11} {r['loss']:<6}{cells}")
    print("meta epoch / plain epoch time: " + ", ".join(
        f"{k} {np.mean(v):.2f}x" for k, v in res["meta_epoch_cost_ratio"].items()))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 epochs, a fifth of Fashion-MNIST")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--only", nargs="*", choices=sorted(DATASETS), default=None)
    args = ap.parse_args(argv)
    seeds = args.seeds[:1] if args.quick else args.seeds
    with threadpool_limits(args.threads):
        threads = set_threads(args.threads)
        result = {"benchmark": "bench_meta", "quick": args.quick, "complete": False,
                  "machine": {**machine_info("cpu"), "torch_threads": threads},
                  "load_average_start": load_average()}
        for name in args.only or DATASETS:
            try:
                result[name] = run_dataset(name, seeds, args.quick)
            except (FileNotFoundError, OSError) as exc:
                print(f"{name} skipped: {exc}")
                result[name] = {"skipped": str(exc)}
                continue
            print_result(result[name])
            write_json("bench_meta", result, quick=args.quick)
        result.update(complete=True, load_average_end=load_average())
        print(f"wrote {write_json('bench_meta', result, quick=args.quick)}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
