"""Stage-2 heads on cached features (Kang et al. 2020; Menon et al. 2021), and what caching saves.

1. Quality. Three feature sets, each from a backbone trained instance-balanced
   with plain cross-entropy, features computed once and cached as .npy files in
   a temporary folder (outside the repository):

   (a) digits-LT (``load_digits_lt()``: train counts 144 .. 7, 2 many / 4
       medium / 4 few-shot classes, 30 test images per class), MLP backbone,
       60 epochs;
   (b) Fashion-MNIST-LT IF=100 (n_max=6000: 14,886 train images, 8 many /
       2 medium / 0 few-shot classes, so "few" is NaN and "medium" is the
       tail), small CNN, the stage-1 recipe of bench_backbone_quality.py
       (20 epochs, cosine) -- skipped with a message if the files are absent;
   (c) the same profile from n_max=1000 (2,478 train images, counts 1000 .. 10:
       5 many / 3 medium / 2 few-shot classes), same backbone recipe, stage-2
       SGD batch 128 / lr 0.05 / 5 epochs.

   Rows: joint head (``Backbone.predict_proba``), cRT (L-BFGS), cRT (SGD), NCM,
   tau-norm (tau chosen by k-fold CV of the Backbone + TauNormClassifier
   pipeline on the raw *training* split, backbone re-trained per fold -- 5
   folds on digits, 3 on Fashion-MNIST -- never on test), LWS and post-hoc
   logit adjustment (tau=1). Columns: many / medium /
   few / all accuracy (%), NLL, ECE and fit time.

2. Speed. (a) cRT-SGD, 10 epochs, on cached features against the official
   recipe, which runs the frozen backbone on every sampled batch (same trainer,
   sampler, epoch length and initialisation); the one-off feature extraction is
   timed too; (b)
   GridSearchCV over 21 tau x 5 folds on raw digits-LT inputs with a
   ``Pipeline(memory=...)`` that caches the fitted Backbone, against the same
   pipeline without memory, counting Backbone fits.

    python benchmarks/bench_heads.py [--quick] [--threads N] [--no-wait]

The full run waits (up to 12 minutes) for a quiet machine before timing, then
takes about 8 minutes on 2 idle cores; --quick (smaller budgets, a fifth of
Fashion-MNIST, 5 tau x 3 folds) only checks the plumbing.
"""

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_info, threadpool_limits

from _common import (RESULTS, fashion_mnist_lt, load_average, machine_info, set_threads, table,
                     wait_for_quiet_machine, write_json)
from sklearn_lt import Backbone
from sklearn_lt.datasets import load_digits_lt
from sklearn_lt.heads import (CRTClassifier, LogitAdjustedClassifier, LWSClassifier,
                              NCMClassifier, TauNormClassifier)
from sklearn_lt.metrics import (expected_calibration_error, make_shot_scorer,
                                negative_log_likelihood, shot_accuracy)
from sklearn_lt.heads._base import epoch_draws
from sklearn_lt.heads._crt import init_linear
from sklearn_lt.nn import train_module
from sklearn_lt.utils import torch_generator

TAUS = np.round(np.linspace(0, 2, 21), 10)

DIGITS_BACKBONE = dict(module="mlp", max_epochs=60, batch_size=64, lr=0.05, weight_decay=5e-4,
                       warmup_epochs=3, lr_schedule="cosine", device="cpu", random_state=0)
# The stage-1 recipe of bench_backbone_quality.py, so that the joint row here is
# its "CE + IB sampling" row.
FASHION_BACKBONE = dict(module="cnn", max_epochs=20, batch_size=128, lr=0.1, momentum=0.9,
                        weight_decay=2e-4, warmup_epochs=2, lr_schedule="cosine",
                        augment="none", device="cpu", random_state=0)
# Stage-2 SGD (cRT-SGD and LWS). Fashion-MNIST-LT: the official ImageNet-LT
# config (the library defaults: batch 512, lr 0.2, cRT 10 / LWS 5 epochs).
# A class-aware epoch is K * max_j n_j draws (the official sampler's length).
# digits-LT: 1,440 draws, about 3 batches of 512: batch 64 with the lr scaled
# linearly (0.2 * 64 / 512) and 10 epochs, so that both heads take about 230
# steps (as the LWS docstring advises for small data).
DIGITS_SGD = dict(batch_size=64, lr=0.025, epochs=10)
FASHION_SGD = dict()
# Fashion-MNIST-LT from n_max=1000 (10,000 draws per epoch, 20 batches of
# 512): batch 128, lr scaled linearly (0.2 * 128 / 512), 5 epochs, so that cRT
# and LWS take about 400 steps.
FASHION_1000_SGD = dict(batch_size=128, lr=0.05, epochs=5)

COLUMNS = [("method", "method", ""), ("many", "many %", ".1f"), ("medium", "medium %", ".1f"),
           ("few", "few %", ".1f"), ("all", "all %", ".1f"), ("nll", "NLL", ".3f"),
           ("ece", "ECE", ".3f"), ("fit_s", "fit s", ".2f")]
DECOUPLED = ("cRT (lbfgs)", "cRT (sgd)", "NCM", "tau-norm", "LWS")


def evaluate(name, proba, classes, counts, y_test, fit_s, **extra):
    pred = classes[proba.argmax(axis=1)]
    acc = shot_accuracy(y_test, pred, dict(zip(classes.tolist(), counts.tolist())))
    return {"method": name, **{k: float(v) for k, v in acc.items()},
            "nll": negative_log_likelihood(y_test, proba, labels=classes),
            "ece": expected_calibration_error(y_test, proba, labels=classes),
            "fit_s": fit_s, **extra}


def balanced_accuracy(clf, Z, y):
    return make_shot_scorer("all")(clf, Z, y)


def cache_features(bb, X_train, X_test, folder, name):
    """Features computed once, stored as .npy and read back by every head."""
    t0 = time.perf_counter()
    Z_train = bb.transform(X_train)
    transform_s = time.perf_counter() - t0
    paths = (folder / f"{name}_train.npy", folder / f"{name}_test.npy")
    np.save(paths[0], Z_train)
    np.save(paths[1], bb.transform(X_test))
    return np.load(paths[0]), np.load(paths[1]), transform_s


def heads_quality(name, bb, fit_s, X_train, y_train, X_test, y_test, sgd, cache_dir, quick,
                  backbone_params, tau_folds):
    Z_tr, Z_te, transform_s = cache_features(bb, X_train, X_test, cache_dir, name)
    joint = (bb.coef_, bb.intercept_)  # a tuple survives GridSearchCV's clone
    rows = [evaluate("joint (Backbone)", bb.predict_proba(X_test), bb.classes_, bb.class_counts_,
                     y_test, fit_s, note="fit s = stage-1 training")]

    # tau by k-fold CV on the raw training split: the library's recipe,
    # Pipeline(memory=...) over Backbone + TauNormClassifier, so each fold
    # re-trains the backbone once and scores every tau on images neither the
    # backbone nor the joint head saw. The chosen tau is then applied to the
    # joint head of the backbone trained on the whole split.
    taus = TAUS[::5] if quick else TAUS
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_heads_tau_") as tmp:
        pipe = Pipeline([("feat", Backbone(**backbone_params)),
                         ("clf", TauNormClassifier(memory=tmp + "/head"))], memory=tmp + "/pipe")
        search = GridSearchCV(pipe, {"clf__tau": taus},
                              cv=StratifiedKFold(tau_folds, shuffle=True, random_state=0),
                              scoring=make_shot_scorer("all")).fit(X_train, y_train)
    tau_s = time.perf_counter() - t0
    tau = float(search.best_params_["clf__tau"])
    cv_curve = search.cv_results_["mean_test_score"]
    tau_head = TauNormClassifier(tau=tau, joint_head=joint).fit(Z_tr, y_train)

    # The tempting shortcut, for the diagnostics only: CV over the cached
    # training features. The backbone and joint head were trained on every
    # validation fold, so on a backbone that fits its training set all tau tie.
    feature_cv = GridSearchCV(TauNormClassifier(joint_head=joint), {"tau": taus},
                              cv=StratifiedKFold(5, shuffle=True, random_state=0),
                              scoring=make_shot_scorer("all")).fit(Z_tr, y_train)
    feature_cv_curve = feature_cv.cv_results_["mean_test_score"]
    heads = [
        ("cRT (lbfgs)", CRTClassifier(solver="lbfgs")),
        ("cRT (sgd)", CRTClassifier(solver="sgd", random_state=0, **sgd)),
        ("NCM", NCMClassifier()),
        ("tau-norm", tau_head),
        ("LWS", LWSClassifier(joint_head=joint, random_state=0, **sgd)),
        ("post-hoc LA (tau=1)", LogitAdjustedClassifier(tau=1.0, joint_head=joint)),
    ]
    for label, head in heads:
        if label == "tau-norm":
            seconds, label = tau_s, f"tau-norm (CV tau={tau:.1f})"
            extra = {"note": f"fit s = the whole {len(taus)} tau x {tau_folds}-fold pipeline "
                             "CV search, backbone re-trained per fold"}
        else:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                t0 = time.perf_counter()
                head.fit(Z_tr, y_train)
                seconds = time.perf_counter() - t0
            extra = {"n_iter_": int(head.n_iter_)} if hasattr(head, "n_iter_") else {}
            if caught:
                extra["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
                print(f"  {label}: {'; '.join(extra['warnings'])}", flush=True)
        rows.append(evaluate(label, head.predict_proba(Z_te), head.classes_, head.class_counts_,
                             y_test, seconds, **extra))

    # Diagnostics only -- nothing below feeds back into a choice.
    probe = TauNormClassifier(joint_head=joint).fit(Z_tr, y_train)
    test_curve = [balanced_accuracy(probe.set_params(tau=t), Z_te, y_test) for t in taus]
    train_curve = [balanced_accuracy(probe.set_params(tau=t), Z_tr, y_train) for t in taus]
    best = cv_curve.max()
    diag = {
        "taus": taus.tolist(),
        "cv_tau": tau,
        "cv_folds": tau_folds,
        "cv_curve": cv_curve.tolist(),
        "cv_taus_tied_at_best": taus[np.isclose(cv_curve, best, rtol=0, atol=1e-12)].tolist(),
        "cv_seconds": tau_s,
        "feature_cv_tau_diagnostic_only": float(feature_cv.best_params_["tau"]),
        "feature_cv_curve_diagnostic_only": feature_cv_curve.tolist(),
        "train_curve": train_curve,
        "test_curve_diagnostic_only": test_curve,
        "test_best_tau_diagnostic_only": float(taus[int(np.argmax(test_curve))]),
        "joint_balanced_acc_train_features": balanced_accuracy(probe.set_params(tau=0.0), Z_tr,
                                                               y_train),
        "joint_train_balanced_acc": balanced_accuracy(bb, X_train, y_train),
        "joint_test_balanced_acc": rows[0]["all"],
        "transform_train_s": transform_s,
        "feature_dim": int(Z_tr.shape[1]),
    }
    return rows, diag


def verdict(rows):
    """Do the decoupled heads beat the joint head on the tail and overall?"""
    joint = rows[0]
    tail = "few" if np.isfinite(joint["few"]) else "medium"
    lines, wins_tail, wins_all = [], [], []
    for r in rows[1:]:
        d_tail, d_all = r[tail] - joint[tail], r["all"] - joint["all"]
        lines.append(f"  {r['method']:<26} {tail} {100 * d_tail:+5.1f} pt   all {100 * d_all:+5.1f} pt")
        if r["method"].startswith(DECOUPLED):
            if d_tail > 0:
                wins_tail.append(r["method"])
            if d_all > 0:
                wins_all.append(r["method"])
    summary = (f"{len(wins_tail)}/{len(DECOUPLED)} decoupled heads (cRT x2, NCM, tau-norm, LWS) "
               f"beat the joint head on the tail ('{tail}'), {len(wins_all)}/{len(DECOUPLED)} on "
               "balanced accuracy ('all').")
    return {"tail_split": tail, "lines": lines, "summary": summary,
            "beat_joint_on_tail": wins_tail, "beat_joint_on_all": wins_all}


def print_quality(title, rows, diag, v):
    print(f"\n{title}")
    shown = [{**r, **{k: 100 * r[k] for k in ("many", "medium", "few", "all")}} for r in rows]
    print(table(shown, COLUMNS))
    print("change against the joint head:")
    print("\n".join(v["lines"]))
    print(v["summary"])
    tied, taus = diag["cv_taus_tied_at_best"], np.asarray(diag["taus"])
    print(f"tau by {diag['cv_folds']}-fold pipeline CV (backbone re-trained per fold, "
          f"{diag['cv_seconds']:.0f}s): {diag['cv_tau']:.1f} (best CV score "
          f"{100 * max(diag['cv_curve']):.1f}%, tied by {len(tied)} of {len(taus)} values); "
          f"CV on the cached training features would pick "
          f"{diag['feature_cv_tau_diagnostic_only']:.1f}; diagnostic only: test would pick "
          f"{diag['test_best_tau_diagnostic_only']:.1f}")
    print(f"joint head balanced accuracy: train {100 * diag['joint_train_balanced_acc']:.1f}% vs "
          f"test {100 * diag['joint_test_balanced_acc']:.1f}%")
    step = 2 if len(taus) > 11 else 1
    print("tau:          " + " ".join(f"{t:5.1f}" for t in taus[::step]))
    for key, label in (("cv_curve", "pipeline CV"), ("feature_cv_curve_diagnostic_only",
                                                     "feature CV"),
                       ("train_curve", "train"), ("test_curve_diagnostic_only", "test*")):
        print(f"{label:<13} " + " ".join(f"{100 * s:5.1f}" for s in diag[key][::step]))
    print("(* test curve shown for diagnosis only; tau is chosen by the CV row)")


class _FrozenBackboneHead(torch.nn.Module):
    """The official cRT forward: frozen backbone on each sampled batch, then the head."""

    def __init__(self, embed_module, linear):
        super().__init__()
        self.backbone = embed_module
        self.linear = linear

    def train(self, mode=True):
        # Only the head trains; the backbone stays in eval mode (batch-norm
        # statistics and augmentation as in Backbone.transform), so that both
        # sides compute the same features.
        self.training = mode
        self.linear.train(mode)
        self.backbone.eval()
        return self

    def forward(self, x):
        with torch.no_grad():
            z = self.backbone.embed(x)
        return self.linear(z)


def crt_speed(bb, X_train, y_train, epochs=10, reps=3, sgd=None):
    """cRT-SGD on cached features vs. the official recipe (backbone run on every batch)."""
    params = dict(solver="sgd", epochs=epochs, random_state=0, **(sgd or {}))
    classes, counts = np.unique(y_train, return_counts=True)
    y_enc = np.searchsorted(classes, y_train)
    # The images as the network sees them: scaled to [0, 1] here because the
    # trainer hands float32 batches to the module (embed scales only uint8).
    X_img = bb._check_X(X_train, reset=False)
    X_img = torch.from_numpy(X_img.astype(np.float32) / 255.0 if X_img.dtype == np.uint8
                             else X_img)
    cached, rerun, transform, head_only = [], [], [], []
    for _ in range(reps):  # interleaved so that a change of load hits both sides
        t0 = time.perf_counter()
        Z = bb.transform(X_train)
        t1 = time.perf_counter()
        crt = CRTClassifier(**params).fit(Z, y_train)
        t2 = time.perf_counter()
        cached.append(t2 - t0)
        transform.append(t1 - t0)
        head_only.append(t2 - t1)

        # The official recipe: every sampled batch of images goes through the
        # frozen backbone before the head sees it. Same trainer, initialisation,
        # sampler and epoch length (K * max n_j class-aware draws) as
        # CRTClassifier(solver="sgd").
        t0 = time.perf_counter()
        generator = torch_generator(0)
        linear = init_linear(Z.shape[1], len(classes), generator)
        p = crt.get_params()
        train_module(_FrozenBackboneHead(bb.module_, linear), X_img, y_enc, epochs=epochs,
                     batch_size=p["batch_size"], lr=p["lr"], momentum=p["momentum"],
                     weight_decay=p["weight_decay"], sampler=p["sampler"], generator=generator,
                     device="cpu", num_samples=epoch_draws(p["sampler"], counts))
        rerun.append(time.perf_counter() - t0)
    bb.module_.eval()
    # Not bit-identical: the backbone sees batches of 512 sampled images rather
    # than transform's fixed batches, which changes float summation order.
    diff = float(np.abs(linear.weight.detach().double().numpy() - crt.coef_).max())
    med = {k: statistics.median(v) for k, v in
           (("cached", cached), ("rerun", rerun), ("transform", transform), ("head", head_only))}
    draws = epoch_draws(p["sampler"], counts) or len(y_train)
    return {
        "epochs": epochs, "reps": reps, "n_images": int(len(y_train)),
        "draws_per_epoch": int(draws), "steps": int(epochs * np.ceil(draws / p["batch_size"])),
        "cached_s": med["cached"], "rerun_backbone_s": med["rerun"],
        "one_transform_s": med["transform"], "head_only_s": med["head"],
        "ratio": med["rerun"] / med["cached"],
        "ratio_vs_head_only": med["rerun"] / med["head"],
        # (E * D/N * T + H) / (T + H) < E * D / N: D draws per epoch, T a pass over N images
        "ratio_upper_bound": epochs * draws / len(y_train),
        "all_cached_s": cached, "all_rerun_s": rerun,
        "max_abs_coef_diff_between_sides": diff,
        "stage2_params": {k: p[k] for k in ("batch_size", "lr", "momentum", "weight_decay",
                                            "sampler")},
    }


FITS = []


class CountingBackbone(Backbone):
    """Backbone that records each fit, to count them inside GridSearchCV."""

    def fit(self, X, y):
        FITS.append(len(y))
        return super().fit(X, y)


def search_speed(X, y, backbone, taus, n_splits):
    out = {}
    cv = StratifiedKFold(n_splits, shuffle=True, random_state=0)
    with tempfile.TemporaryDirectory(prefix="bench_heads_pipe_") as tmp:
        # "cached": the brief's comparison, Pipeline(memory=...) caches the fitted
        # Backbone per training fold. "cached + head": TauNormClassifier(memory=...)
        # also caches its L-BFGS joint-head fit, which tau (read at predict time)
        # does not change, so each fold fits it once instead of once per tau.
        variants = (("cached", tmp + "/pipe", None), ("cached + head", tmp + "/pipe2", tmp + "/head"),
                    ("naive", None, None))
        for label, memory, head_memory in variants:
            FITS.clear()
            pipe = Pipeline([("feat", CountingBackbone(**backbone)),
                             ("clf", TauNormClassifier(memory=head_memory))], memory=memory)
            load = load_average()
            t0 = time.perf_counter()
            search = GridSearchCV(pipe, {"clf__tau": taus}, cv=cv,
                                  scoring=make_shot_scorer("all")).fit(X, y)
            out[label] = {"seconds": time.perf_counter() - t0, "backbone_fits": len(FITS),
                          "best_tau": float(search.best_params_["clf__tau"]),
                          "best_cv_score": float(search.best_score_),
                          "load_average_at_start": load}
            print(f"  {label}: {out[label]['seconds']:.1f}s, {len(FITS)} backbone fits "
                  f"(load {load[0] if load else '?'})", flush=True)
    out["n_candidates"], out["n_splits"] = len(taus), n_splits
    out["ratio"] = out["naive"]["seconds"] / out["cached"]["seconds"]
    out["ratio_with_head_memory"] = out["naive"]["seconds"] / out["cached + head"]["seconds"]
    out["same_result"] = all(out[k]["best_tau"] == out["naive"]["best_tau"]
                             and out[k]["best_cv_score"] == out["naive"]["best_cv_score"]
                             for k in ("cached", "cached + head"))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small budgets: plumbing only")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--no-wait", action="store_true",
                    help="do not wait for a quiet machine before timing")
    args = ap.parse_args(argv)
    if args.threads is None:
        return run(args)
    # numpy/scipy's BLAS (L-BFGS, NCM, tau-norm) would otherwise keep its own
    # thread count, and oversubscribed BLAS threads are what a busy machine punishes.
    with threadpool_limits(args.threads):
        return run(args)


def run(args):
    threads = set_threads(args.threads)
    result = {"benchmark": "bench_heads", "quick": args.quick, "complete": False,
              "machine": machine_info("cpu"), "load_average_start": load_average()}
    result["machine"]["torch_threads"] = threads
    result["machine"]["blas_threads"] = [
        {"api": i["internal_api"], "threads": i["num_threads"]} for i in threadpool_info()]
    if args.quick or args.no_wait:
        result["wait"] = None
    else:
        # Another benchmark may share the 2 cores: oversubscribed torch threads
        # make timings meaningless, so wait for it (or for a low load).
        result["wait"] = wait_for_quiet_machine(
            1.5, done_file=RESULTS / "bench_backbone_quality.json", poll_s=30, timeout_s=720)
        print(f"wait: {result['wait']}", flush=True)

    def save(**extra):
        result.update(extra, load_average_end=load_average())
        return write_json("bench_heads", result, quick=args.quick)

    with tempfile.TemporaryDirectory(prefix="bench_heads_features_") as cache:
        cache = Path(cache)
        print(f"features cached under {cache} (deleted at exit)")

        # 1a. digits-LT
        d = load_digits_lt()
        params = dict(DIGITS_BACKBONE, max_epochs=10 if args.quick else 60)
        load = load_average()
        t0 = time.perf_counter()
        bb = Backbone(**params).fit(d.X_train, d.y_train)
        fit_s = time.perf_counter() - t0
        rows, diag = heads_quality("digits", bb, fit_s, d.X_train, d.y_train, d.X_test, d.y_test,
                                   DIGITS_SGD, cache, args.quick, params, 3 if args.quick else 5)
        v = verdict(rows)
        print_quality(f"digits-LT, train counts {d.class_counts.tolist()}, MLP backbone "
                      f"{params['max_epochs']} epochs (IB, CE), stage-2 SGD {DIGITS_SGD}",
                      rows, diag, v)
        result["digits_lt"] = {"train_counts": d.class_counts.tolist(), "backbone": params,
                               "stage2_sgd": DIGITS_SGD, "rows": rows, "tau_diagnostics": diag,
                               "verdict": v, "load_average_at_start": load}
        save()

        # 1b. Fashion-MNIST-LT, the backbone issue's data set (no few-shot
        # class), and 1c. the same profile from a 1000-image head, whose two
        # last classes (16 and 10 images) make a few-shot split.
        speed = None
        for key, n_max, sgd in (("fashion_mnist_lt", 6000, FASHION_SGD),
                                ("fashion_mnist_lt_1000", 1000, FASHION_1000_SGD)):
            try:
                X, y, X_te, y_te, source = fashion_mnist_lt(100, n_max=n_max)
            except SystemExit as exc:
                print(f"\nFashion-MNIST-LT skipped: {exc}")
                result[key] = {"skipped": str(exc)}
                continue
            thinned = args.quick and n_max == 6000  # n_max=1000 is small already
            if thinned:
                X, y, X_te, y_te = X[::5], y[::5], X_te[::5], y_te[::5]
            params = dict(FASHION_BACKBONE, max_epochs=2 if args.quick else 20,
                          warmup_epochs=1 if args.quick else 2)
            load = load_average()
            t0 = time.perf_counter()
            fbb = Backbone(**params).fit(X, y)
            fit_s = time.perf_counter() - t0
            # 3 folds: each is a 20-epoch CNN training (about 40 s on 2 cores
            # for n_max=6000).
            rows, diag = heads_quality(key, fbb, fit_s, X, y, X_te, y_te, sgd,
                                       cache, args.quick, params, 3)
            v = verdict(rows)
            print_quality(f"{source}{' (every 5th image)' if thinned else ''}, train counts "
                          f"{np.bincount(y).tolist()}, small CNN {params['max_epochs']} epochs "
                          f"(IB, CE), stage-2 SGD: {sgd or 'library defaults (batch 512, lr 0.2)'}",
                          rows, diag, v)
            result[key] = {"data": source, "train_counts": np.bincount(y).tolist(),
                           "backbone": params, "stage2_sgd": sgd or "library defaults",
                           "rows": rows, "tau_diagnostics": diag, "verdict": v,
                           "load_average_at_start": load}
            save()
            if speed is None:
                speed = (fbb, X, y, "Fashion-MNIST-LT, small CNN", sgd)

    # 2a. cRT: cached features vs. the backbone re-run every epoch
    if speed is None:
        speed = (bb, d.X_train, d.y_train, "digits-LT, MLP", DIGITS_SGD)
    speed_bb, speed_X, speed_y, where, sgd = speed
    load = load_average()
    s = crt_speed(speed_bb, speed_X, speed_y, epochs=10, reps=1 if args.quick else 3, sgd=sgd)
    s.update(data=where, load_average_at_start=load)
    verdict_20x = "met" if s["ratio_vs_head_only"] >= 20 else "NOT met"
    verdict_e2e = "met" if s["ratio"] >= 20 else "NOT met"
    print(f"\ncRT-SGD, {s['epochs']} epochs of {s['draws_per_epoch']} class-aware draws "
          f"({s['steps']} steps), {where}, {s['n_images']} training images (median of "
          f"{s['reps']}):\n"
          f"  stage 2 on cached features (the head fit): {s['head_only_s']:.2f}s\n"
          f"  official recipe, frozen backbone run on every sampled batch: "
          f"{s['rerun_backbone_s']:.2f}s\n"
          f"  ratio {s['ratio_vs_head_only']:.0f}x (target >= 20x: {verdict_20x})\n"
          f"  with the one-off feature extraction ({s['one_transform_s']:.2f}s, shared by "
          f"every head and search candidate on the same features) charged to this head: "
          f"{s['ratio']:.1f}x ({verdict_e2e}; bound {s['ratio_upper_bound']:.0f}x = epochs x "
          f"draws / images)\n"
          f"  max |coef difference| between the sides {s['max_abs_coef_diff_between_sides']:.1e}")
    s["target_20x_end_to_end"] = verdict_e2e
    s["target_20x_stage2_on_cached_features"] = verdict_20x
    result["crt_speed"] = s
    save()

    # 2b. GridSearchCV over tau on raw inputs: cached pipeline vs. naive
    taus, n_splits = (TAUS[::5], 3) if args.quick else (TAUS, 5)
    backbone = dict(DIGITS_BACKBONE, max_epochs=3 if args.quick else 20, warmup_epochs=2)
    print(f"\nGridSearchCV {len(taus)} tau x {n_splits} folds on raw digits-LT, "
          f"Pipeline(Backbone MLP {backbone['max_epochs']} epochs, TauNormClassifier):", flush=True)
    g = search_speed(d.X_train, d.y_train, backbone, taus, n_splits)
    g["backbone"] = backbone
    print(f"  cached {g['cached']['seconds']:.1f}s ({g['cached']['backbone_fits']} fits) vs naive "
          f"{g['naive']['seconds']:.1f}s ({g['naive']['backbone_fits']} fits) -> "
          f"{g['ratio']:.1f}x; with TauNormClassifier(memory=...) too: "
          f"{g['cached + head']['seconds']:.1f}s -> {g['ratio_with_head_memory']:.1f}x; "
          f"same best tau and score in all three: {g['same_result']}")
    result["grid_search_speed"] = g

    info = result["machine"]
    print(f"\nmachine: {info['cpu']}, {info['cores']} cores, torch {info['torch']} "
          f"({threads} threads); load average start {result['load_average_start']}, "
          f"end {load_average()}")
    path = save(complete=True)
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
