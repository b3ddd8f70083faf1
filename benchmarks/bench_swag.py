"""SWA and SWAG extractors, stochastic representations and self-distillation (Nam et al., 2023).

For each data set and seed, two stage-1 backbones with the same recipe and
seed: SGD (the last iterate) and SWAG (SWA from 75% of the epochs with 4
snapshots per epoch, rank 20, 10 sampled networks; its features are the SWA
ones). A third fit with plain SWA (no SWAG) on the first seed times what SWAG
collection and sampling add. Heads on each extractor's cached features:

- cRT (SGD, class-aware), LWS (on the extractor's own joint head),
- LA: a linear head re-trained with the logit-adjusted loss
  (``SWAGReprClassifier(n_samples=0)``),
- on the SWAG extractor only: SRepr without distillation
  (``distill_weight=0``: LA loss on the SWA and the 10 stochastic views) and
  SRepr (``distill_weight=1, temperature=1``).

Data: digits-LT (MLP, 60 epochs), Fashion-MNIST-LT IF=100 from n_max=6000 and
from n_max=1000 (small CNN, 20 epochs, the recipe of bench_backbone_quality.py).
Columns: many / medium / few / all accuracy, NLL, ECE, as mean +- standard
deviation over the seeds. The first seed of Fashion-MNIST-LT (n_max=6000)
also gives the dispersion of the stochastic representations per class against
the class size, saved as ``results/bench_swag_dispersion.png`` when matplotlib
is installed.

    python benchmarks/bench_swag.py [--quick] [--seeds 0 1 2] [--threads N] [--only NAME ...]

Results and their reading: benchmarks/README.md.
"""

import argparse
import sys
import time

import numpy as np
from _common import (
    RESULTS,
    evaluate,
    fashion_mnist_lt,
    load_average,
    machine_info,
    set_threads,
    write_json,
)
from threadpoolctl import threadpool_limits

from sklearn_lt import Backbone
from sklearn_lt.datasets import load_digits_lt
from sklearn_lt.heads import CRTClassifier, LWSClassifier, SWAGReprClassifier
from sklearn_lt.metrics import dispersion

DIGITS = dict(module="mlp", max_epochs=60, batch_size=64, lr=0.05, weight_decay=5e-4,
              warmup_epochs=3, lr_schedule="cosine", device="cpu")
FASHION = dict(module="cnn", max_epochs=20, batch_size=128, lr=0.1, momentum=0.9,
               weight_decay=2e-4, warmup_epochs=2, lr_schedule="cosine", augment="none",
               device="cpu")
SWAG = dict(swag=True, swa_snapshots_per_epoch=4, swag_rank=20, swag_samples=10)
# Stage-2 SGD per data set, as bench_heads_quality.py.
DATASETS = {
    "digits_lt": dict(backbone=DIGITS, sgd=dict(batch_size=64, lr=0.025, epochs=10)),
    "fashion_mnist_lt": dict(backbone=FASHION, sgd={}, n_max=6000),
    "fashion_mnist_lt_1000": dict(backbone=FASHION, sgd=dict(batch_size=128, lr=0.05, epochs=5),
                                  n_max=1000),
}
METRICS = ("many", "medium", "few", "all", "nll", "ece")


def heads(sgd, seed, swag, joint):
    """(label, head) pairs; SRepr rows only on a SWAG extractor."""
    out = [("cRT", CRTClassifier(solver="sgd", random_state=seed, **sgd)),
           ("LWS", LWSClassifier(joint_head=joint, random_state=seed, **sgd)),
           ("LA (re-trained)", SWAGReprClassifier(n_samples=0, random_state=seed, **sgd))]
    if swag:
        out += [("SRepr, no distillation",
                 SWAGReprClassifier(distill_weight=0.0, random_state=seed, **sgd)),
                ("SRepr", SWAGReprClassifier(distill_weight=1.0, temperature=1.0,
                                             random_state=seed, **sgd))]
    return out


def load(name, quick):
    if name == "digits_lt":
        d = load_digits_lt()
        return d.X_train, d.y_train, d.X_test, d.y_test, "digits-LT"
    X, y, X_te, y_te, source = fashion_mnist_lt(100, n_max=DATASETS[name]["n_max"])
    if quick:
        X, y, X_te, y_te = X[::5], y[::5], X_te[::5], y_te[::5]
    return X, y, X_te, y_te, source


def run_extractor(kind, params, seed, data, sgd):
    X, y, X_te, y_te = data
    extra = SWAG if kind == "SWAG" else {"swa": True} if kind == "SWA" else {}
    bb = Backbone(**params, **extra, random_state=seed)
    t0 = time.perf_counter()
    Z = bb.fit_transform(X, y)
    fit_s = time.perf_counter() - t0
    Z_te = bb.transform(X_te)
    rows = [evaluate("joint", bb.predict_proba(X_te), bb.classes_, bb.class_counts_, y_te, fit_s)]
    if kind == "SWA":
        return bb, rows, fit_s
    for label, head in heads(sgd, seed, kind == "SWAG", (bb.coef_, bb.intercept_)):
        t0 = time.perf_counter()
        head.fit(Z, y)
        rows.append(evaluate(label, head.predict_proba(Z_te), head.classes_,
                             head.class_counts_, y_te, time.perf_counter() - t0))
    return bb, rows, fit_s


def summarize(per_seed):
    """Mean and standard deviation over seeds of each (extractor, method) row."""
    out = []
    for key in per_seed[0]:
        runs = [s[key] for s in per_seed]
        row = {"extractor": key[0], "method": key[1], "n_seeds": len(runs)}
        for m in (*METRICS, "fit_s"):
            vals = np.array([r[m] for r in runs], dtype=float)
            row[m] = float(np.mean(vals))
            row[m + "_std"] = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
        out.append(row)
    return out


def dispersion_by_class(bb, X, y, X_te, y_te, data_name):
    """Mean dispersion per class (representation and probability space), train and test."""
    out = {}
    for split, (A, b) in {"train": (X, y), "test": (X_te, y_te)}.items():
        rep = dispersion(bb.transform_stochastic(A))
        prob = dispersion(bb.transform_stochastic(A, output="proba"), relative=False)
        out[split] = {"representation": [float(rep[b == c].mean()) for c in bb.classes_],
                      "probability": [float(prob[b == c].mean()) for c in bb.classes_]}
    out["class_counts"] = bb.class_counts_.tolist()
    out["data"] = data_name
    c = np.log(bb.class_counts_)
    out["spearman_like_corr_log_count_vs_test_rep"] = float(
        np.corrcoef(np.argsort(np.argsort(c)),
                    np.argsort(np.argsort(out["test"]["representation"])))[0, 1])
    return out


def plot_dispersion(disp, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib absent: no dispersion plot")
        return None
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    counts = np.asarray(disp["class_counts"])
    for ax, space in zip(axes, ("representation", "probability")):
        for split, marker in (("train", "o"), ("test", "s")):
            ax.plot(counts, disp[split][space], marker, label=split)
        ax.set_xscale("log")
        ax.set_xlabel("training images of the class")
        ax.set_ylabel(f"mean dispersion ({space})")
        ax.legend()
    axes[0].set_title(disp.get('data', '') + ': SWAG representations')
    axes[1].set_title("... and their joint-head probabilities")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def run_dataset(name, seeds, quick):
    cfg = DATASETS[name]
    X, y, X_te, y_te, source = load(name, quick)
    params = dict(cfg["backbone"])
    if quick:
        params.update(max_epochs=4, warmup_epochs=1)
    per_seed, costs, disp = [], {}, None
    for seed in seeds:
        rows = {}
        for kind in ("SGD", "SWAG"):
            bb, out, fit_s = run_extractor(kind, params, seed, (X, y, X_te, y_te), cfg["sgd"])
            costs.setdefault(f"{kind}_fit_s", []).append(fit_s)
            rows.update({(kind, r["method"]): r for r in out})
            if kind == "SWAG" and seed == seeds[0]:
                t0 = time.perf_counter()
                bb.transform_stochastic(X)
                costs["swag_representations_train_s"] = time.perf_counter() - t0
                if name == "fashion_mnist_lt" or (quick and disp is None):
                    disp = dispersion_by_class(bb, X, y, X_te, y_te, source.split(" (")[0])
        per_seed.append(rows)
        print(f"  {name} seed {seed}: " + ", ".join(
            f"{k[0]}/{k[1]} {100 * r['all']:.1f}" for k, r in rows.items()), flush=True)
    _, _, costs["SWA_fit_s"] = run_extractor("SWA", params, seeds[0], (X, y, X_te, y_te), {})
    return {"data": source, "train_counts": np.unique(y, return_counts=True)[1].tolist(),
            "backbone": params, "swag": SWAG, "stage2_sgd": cfg["sgd"] or "library defaults",
            "seeds": list(seeds), "rows": summarize(per_seed),
            "per_seed": [[{"extractor": k[0], **r} for k, r in s.items()] for s in per_seed],
            "costs": costs, "dispersion": disp}


def print_result(res):
    print(f"\n{res['data']}, counts {res['train_counts']}, seeds {res['seeds']}")
    print(f"{'extractor':<6} {'method':<24}" + "".join(f"{m:>14}" for m in METRICS))
    for r in res["rows"]:
        cells = "".join(
            f"{100 * r[m]:>8.1f}±{100 * r[m + '_std']:<5.1f}" if m not in ("nll", "ece")
            else f"{r[m]:>8.3f}±{r[m + '_std']:<5.3f}" for m in METRICS)
        print(f"{r['extractor']:<6} {r['method']:<24}{cells}")
    c = res["costs"]
    print(f"stage 1: SGD {np.mean(c['SGD_fit_s']):.1f}s, SWA {c['SWA_fit_s']:.1f}s, SWAG "
          f"{np.mean(c['SWAG_fit_s']):.1f}s (collection + 10 draws with BN recomputation + "
          f"training representations); the training representations alone "
          f"{c['swag_representations_train_s']:.1f}s")


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
        result = {"benchmark": "bench_swag", "quick": args.quick, "complete": False,
                  "machine": {**machine_info("cpu"), "torch_threads": threads},
                  "load_average_start": load_average()}
        for name in args.only or DATASETS:
            try:
                result[name] = run_dataset(name, seeds, args.quick)
            except SystemExit as exc:
                print(f"{name} skipped: {exc}")
                result[name] = {"skipped": str(exc)}
                continue
            print_result(result[name])
            if result[name]["dispersion"] is not None:
                result[name]["dispersion_plot"] = plot_dispersion(
                    result[name]["dispersion"],
                    RESULTS / f"bench_swag_dispersion{'_quick' if args.quick else ''}.png")
            write_json("bench_swag", result, quick=args.quick)
        result.update(complete=True, load_average_end=load_average())
        print(f"wrote {write_json('bench_swag', result, quick=args.quick)}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
