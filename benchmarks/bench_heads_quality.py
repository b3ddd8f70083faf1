"""Quality of every stage-2 head on cached features (Kang et al. 2020; Menon et al. 2021).

Three feature sets, each from a backbone trained instance-balanced with plain
cross-entropy, features computed once and cached as .npy files in a temporary
folder (outside the repository):

(a) digits-LT (``load_digits_lt()``, counts 144 .. 7), MLP backbone, 60 epochs;
(b) Fashion-MNIST-LT IF=100, n_max=6000 (no few-shot class: "medium" is the
    tail), the small CNN with the stage-1 recipe of bench_backbone_quality.py
    -- skipped with a message if the files are absent;
(c) the same profile from n_max=1000 (counts 1000 .. 10, a few-shot split).

Rows: the joint head (``Backbone.predict_proba``) and every head of
``sklearn_lt.heads.head_catalog`` (discovered, not listed here), with the
joint head given as a tuple and stage-2 SGD settings per data set. tau of
``TauNormClassifier`` is chosen by k-fold CV of the Backbone +
TauNormClassifier pipeline on the raw *training* split, backbone re-trained
per fold, never on test. Columns: many / medium / few / all accuracy (%),
NLL, ECE, fit time.

    python benchmarks/bench_heads_quality.py [--quick] [--threads N] [--only NAME ...]

--quick (smaller budgets, a fifth of Fashion-MNIST, 5 tau x 3 folds) only checks
the plumbing. Results and their reading: benchmarks/README.md.
"""

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _common import (
    evaluate,
    fashion_mnist_lt,
    load_average,
    machine_info,
    set_threads,
    table,
    write_json,
)
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from sklearn_lt import Backbone
from sklearn_lt.datasets import load_digits_lt
from sklearn_lt.heads import TauNormClassifier, head_catalog
from sklearn_lt.metrics import make_shot_scorer

TAUS = np.round(np.linspace(0, 2, 21), 10)

DIGITS_BACKBONE = dict(module="mlp", max_epochs=60, batch_size=64, lr=0.05, weight_decay=5e-4,
                       warmup_epochs=3, lr_schedule="cosine", device="cpu", random_state=0)
# The stage-1 recipe of bench_backbone_quality.py, so that the joint row here
# is its "CE + IB sampling" row.
FASHION_BACKBONE = dict(module="cnn", max_epochs=20, batch_size=128, lr=0.1, momentum=0.9,
                        weight_decay=2e-4, warmup_epochs=2, lr_schedule="cosine",
                        augment="none", device="cpu", random_state=0)
# Stage-2 SGD settings per data set. A class-aware epoch is K * max_j n_j draws
# (the official sampler's length). digits-LT: 1,440 draws, about 3 batches of
# 512, so batch 64 with the lr scaled linearly (0.2 * 64 / 512) and 10 epochs
# (about 230 steps). Fashion-MNIST-LT n_max=6000: the library defaults (Kang et
# al.'s ImageNet-LT config, batch 512, lr 0.2). n_max=1000: 10,000 draws per
# epoch, batch 128 with lr 0.05 and 5 epochs (about 400 steps).
DATASETS = {
    "digits_lt": dict(backbone=DIGITS_BACKBONE, sgd=dict(batch_size=64, lr=0.025, epochs=10),
                      folds=5),
    "fashion_mnist_lt": dict(backbone=FASHION_BACKBONE, sgd={}, folds=3, n_max=6000),
    "fashion_mnist_lt_1000": dict(backbone=FASHION_BACKBONE,
                                  sgd=dict(batch_size=128, lr=0.05, epochs=5), folds=3,
                                  n_max=1000),
}

COLUMNS = [("method", "method", ""), ("many", "many %", ".1f"), ("medium", "medium %", ".1f"),
           ("few", "few %", ".1f"), ("all", "all %", ".1f"), ("nll", "NLL", ".3f"),
           ("ece", "ECE", ".3f"), ("fit_s", "fit s", ".2f")]


def load(name, quick):
    """(X_train, y_train, X_test, y_test, description) of a data set."""
    if name == "digits_lt":
        d = load_digits_lt()
        return d.X_train, d.y_train, d.X_test, d.y_test, "digits-LT (load_digits_lt)"
    X, y, X_te, y_te, source = fashion_mnist_lt(100, n_max=DATASETS[name]["n_max"])
    if quick and DATASETS[name]["n_max"] == 6000:
        X, y, X_te, y_te, source = X[::5], y[::5], X_te[::5], y_te[::5], source + ", every 5th"
    return X, y, X_te, y_te, source


def cached_features(bb, X_train, X_test, folder, name):
    """Features computed once, stored as .npy and read back by every head."""
    paths = (folder / f"{name}_train.npy", folder / f"{name}_test.npy")
    np.save(paths[0], bb.transform(X_train))
    np.save(paths[1], bb.transform(X_test))
    return np.load(paths[0]), np.load(paths[1])


def tau_by_pipeline_cv(backbone_params, X, y, taus, folds):
    """tau of the library's recipe: GridSearchCV of Pipeline([Backbone, TauNorm], memory).

    Each fold re-trains the backbone once and scores every tau on images neither
    the backbone nor its joint head saw.
    """
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_heads_tau_") as tmp:
        pipe = Pipeline([("feat", Backbone(**backbone_params)),
                         ("clf", TauNormClassifier(memory=tmp + "/head"))], memory=tmp + "/pipe")
        search = GridSearchCV(pipe, {"clf__tau": taus},
                              cv=StratifiedKFold(folds, shuffle=True, random_state=0),
                              scoring=make_shot_scorer("all")).fit(X, y)
    return (float(search.best_params_["clf__tau"]), search.cv_results_["mean_test_score"],
            time.perf_counter() - t0)


def fit_heads(catalog, Z_tr, y_train, Z_te, y_test, cv_tau, cv_seconds, folds, n_taus):
    rows = []
    for label, head in catalog:
        extra = {}
        if isinstance(head, TauNormClassifier):
            head.set_params(tau=cv_tau)
            label = f"{label} (CV tau={cv_tau:.1f})"
            extra["note"] = (f"fit s = the whole {n_taus} tau x {folds}-fold pipeline CV "
                             "search, backbone re-trained per fold")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t0 = time.perf_counter()
            head.fit(Z_tr, y_train)
            seconds = time.perf_counter() - t0
        if isinstance(head, TauNormClassifier):
            seconds = cv_seconds
        if hasattr(head, "n_iter_"):
            extra["n_iter_"] = int(head.n_iter_)
        if caught:
            extra["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
            print(f"  {label}: {'; '.join(extra['warnings'])}", flush=True)
        rows.append(evaluate(label, head.predict_proba(Z_te), head.classes_,
                             head.class_counts_, y_test, seconds, **extra))
    return rows


def tau_diagnostics(joint, Z_tr, y_train, Z_te, y_test, taus):
    """tau curves on train and test features, and the shortcut of CV on cached features.

    For diagnosis only: nothing here feeds back into a choice.
    """
    score = make_shot_scorer("all")
    feature_cv = GridSearchCV(TauNormClassifier(joint_head=joint), {"tau": taus},
                              cv=StratifiedKFold(5, shuffle=True, random_state=0),
                              scoring=score).fit(Z_tr, y_train)
    probe = TauNormClassifier(joint_head=joint).fit(Z_tr, y_train)
    test_curve = [score(probe.set_params(tau=t), Z_te, y_test) for t in taus]
    return {
        "feature_cv_tau_diagnostic_only": float(feature_cv.best_params_["tau"]),
        "feature_cv_curve_diagnostic_only": feature_cv.cv_results_["mean_test_score"].tolist(),
        "train_curve": [score(probe.set_params(tau=t), Z_tr, y_train) for t in taus],
        "test_curve_diagnostic_only": test_curve,
        "test_best_tau_diagnostic_only": float(taus[int(np.argmax(test_curve))]),
    }


def run_dataset(name, quick, cache):
    cfg = DATASETS[name]
    X, y, X_te, y_te, source = load(name, quick)
    params = dict(cfg["backbone"])
    if quick:
        params.update(max_epochs=max(2, params["max_epochs"] // 10), warmup_epochs=1)
    taus, folds = (TAUS[::5], 3) if quick else (TAUS, cfg["folds"])
    load_start = load_average()
    t0 = time.perf_counter()
    bb = Backbone(**params).fit(X, y)
    fit_s = time.perf_counter() - t0
    Z_tr, Z_te = cached_features(bb, X, X_te, cache, name)
    joint = (bb.coef_, bb.intercept_)  # a tuple survives GridSearchCV's clone
    cv_tau, cv_curve, cv_s = tau_by_pipeline_cv(params, X, y, taus, folds)
    catalog = head_catalog(joint_head=joint, sgd_params=cfg["sgd"], random_state=0)
    rows = [evaluate("joint (Backbone)", bb.predict_proba(X_te), bb.classes_, bb.class_counts_,
                     y_te, fit_s, note="fit s = stage-1 training")]
    rows += fit_heads(catalog, Z_tr, y, Z_te, y_te, cv_tau, cv_s, folds, len(taus))
    diag = {"taus": taus.tolist(), "cv_tau": cv_tau, "cv_folds": folds,
            "cv_curve": cv_curve.tolist(), "cv_seconds": cv_s,
            **tau_diagnostics(joint, Z_tr, y, Z_te, y_te, taus),
            "joint_train_balanced_acc": make_shot_scorer("all")(bb, X, y),
            "feature_dim": int(Z_tr.shape[1])}
    return {"data": source, "train_counts": np.bincount(np.unique(y, return_inverse=True)[1])
            .tolist(), "backbone": params, "stage2_sgd": cfg["sgd"] or "library defaults",
            "rows": rows, "tau_diagnostics": diag, "verdict": verdict(rows),
            "load_average_at_start": load_start}


def verdict(rows):
    """Do the decoupled heads beat the joint head on the tail and overall?"""
    joint = rows[0]
    tail = "few" if np.isfinite(joint["few"]) else "medium"
    lines, wins_tail, wins_all = [], [], []
    for r in rows[1:]:
        d_tail, d_all = r[tail] - joint[tail], r["all"] - joint["all"]
        lines.append(f"  {r['method']:<26} {tail} {100 * d_tail:+5.1f} pt   "
                     f"all {100 * d_all:+5.1f} pt")
        if d_tail > 0:
            wins_tail.append(r["method"])
        if d_all > 0:
            wins_all.append(r["method"])
    n = len(rows) - 1
    summary = (f"{len(wins_tail)}/{n} heads beat the joint head on the tail ('{tail}'), "
               f"{len(wins_all)}/{n} on balanced accuracy ('all').")
    return {"tail_split": tail, "lines": lines, "summary": summary,
            "beat_joint_on_tail": wins_tail, "beat_joint_on_all": wins_all}


def print_result(res):
    print(f"\n{res['data']}, train counts {res['train_counts']}, stage-2 SGD "
          f"{res['stage2_sgd']}")
    shown = [{**r, **{k: 100 * r[k] for k in ("many", "medium", "few", "all")}}
             for r in res["rows"]]
    print(table(shown, COLUMNS))
    print("change against the joint head:\n" + "\n".join(res["verdict"]["lines"]))
    print(res["verdict"]["summary"])
    diag = res["tau_diagnostics"]
    taus = np.asarray(diag["taus"])
    print(f"tau by {diag['cv_folds']}-fold pipeline CV ({diag['cv_seconds']:.0f}s): "
          f"{diag['cv_tau']:.1f}; CV on the cached training features would pick "
          f"{diag['feature_cv_tau_diagnostic_only']:.1f}; diagnostic only: test would pick "
          f"{diag['test_best_tau_diagnostic_only']:.1f}")
    step = 2 if len(taus) > 11 else 1
    print("tau:          " + " ".join(f"{t:5.1f}" for t in taus[::step]))
    for key, label in (("cv_curve", "pipeline CV"), ("feature_cv_curve_diagnostic_only",
                                                     "feature CV"),
                       ("train_curve", "train"), ("test_curve_diagnostic_only", "test*")):
        print(f"{label:<13} " + " ".join(f"{100 * s:5.1f}" for s in diag[key][::step]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small budgets: plumbing only")
    ap.add_argument("--threads", type=int, default=None, help="torch and BLAS threads")
    ap.add_argument("--only", nargs="*", choices=sorted(DATASETS), default=None)
    args = ap.parse_args(argv)
    with threadpool_limits(args.threads):
        threads = set_threads(args.threads)
        result = {"benchmark": "bench_heads_quality", "quick": args.quick, "complete": False,
                  "machine": {**machine_info("cpu"), "torch_threads": threads},
                  "load_average_start": load_average()}
        with tempfile.TemporaryDirectory(prefix="bench_heads_features_") as cache:
            for name in args.only or DATASETS:
                try:
                    result[name] = run_dataset(name, args.quick, Path(cache))
                except SystemExit as exc:  # Fashion-MNIST files absent
                    print(f"\n{name} skipped: {exc}")
                    result[name] = {"skipped": str(exc)}
                    continue
                print_result(result[name])
                write_json("bench_heads_quality", result, quick=args.quick)
        result.update(complete=True, load_average_end=load_average())
        print(f"\nwrote {write_json('bench_heads_quality', result, quick=args.quick)}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
