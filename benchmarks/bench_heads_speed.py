"""What caching features saves: stage 2 on cached features vs re-running the backbone.

(a) cRT-SGD, 10 epochs of K * max_j n_j class-aware draws, on cached features
    against the official recipe, which runs the frozen backbone on every
    sampled batch (same trainer, sampler, epoch length and initialisation);
    the one-off feature extraction is timed too. Fashion-MNIST-LT (small CNN)
    when its files are present, else digits-LT (MLP).
(b) GridSearchCV over 21 tau x 5 folds on raw digits-LT inputs with a
    ``Pipeline(memory=...)`` that caches the fitted Backbone, against the same
    pipeline without memory, counting Backbone fits.

    python benchmarks/bench_heads_speed.py [--quick] [--threads N] [--no-wait]

Speed targets are ratios measured in one run; the machine and its load are
recorded in the JSON. Results and their reading: benchmarks/README.md.
"""

import argparse
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
from _common import (
    RESULTS,
    fashion_mnist_lt,
    load_average,
    machine_info,
    set_threads,
    wait_for_quiet_machine,
    write_json,
)
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from sklearn_lt import Backbone
from sklearn_lt.base import init_linear
from sklearn_lt.datasets import load_digits_lt
from sklearn_lt.heads import CRTClassifier, TauNormClassifier
from sklearn_lt.metrics import make_shot_scorer
from sklearn_lt.nn import train_module
from sklearn_lt.utils import class_epoch_length, torch_generator

TAUS = np.round(np.linspace(0, 2, 21), 10)
DIGITS_BACKBONE = dict(module="mlp", max_epochs=20, batch_size=64, lr=0.05, weight_decay=5e-4,
                       warmup_epochs=2, lr_schedule="cosine", device="cpu", random_state=0)
FASHION_BACKBONE = dict(module="cnn", max_epochs=20, batch_size=128, lr=0.1, momentum=0.9,
                        weight_decay=2e-4, warmup_epochs=2, lr_schedule="cosine",
                        augment="none", device="cpu", random_state=0)


class FrozenBackboneHead(torch.nn.Module):
    """The official cRT forward: the frozen backbone on each sampled batch, then the head."""

    def __init__(self, backbone_module, linear):
        super().__init__()
        self.backbone = backbone_module
        self.linear = linear

    def train(self, mode=True):
        # Only the head trains; the backbone stays in eval mode (batch-norm
        # statistics as in Backbone.transform), so both sides see the same features.
        self.training = mode
        self.linear.train(mode)
        self.backbone.eval()
        return self

    def forward(self, x):
        with torch.no_grad():
            z = self.backbone.embed(x)
        return self.linear(z)


def crt_speed(bb, X_train, y_train, epochs=10, reps=3, sgd=None):
    """cRT-SGD on cached features vs. the official recipe, interleaved ``reps`` times."""
    crt = CRTClassifier(solver="sgd", epochs=epochs, random_state=0, **(sgd or {}))
    p = crt.get_params()
    classes, y_enc, counts = np.unique(y_train, return_inverse=True, return_counts=True)
    # The raw images: the module scales them as at fit (X_train's dtype).
    X_img = np.asarray(X_train, dtype=np.float32)
    if X_img.ndim == 3:
        X_img = X_img[:, None]
    cached, rerun, transform, head_only = [], [], [], []
    for _ in range(reps):  # interleaved so that a change of load hits both sides
        t0 = time.perf_counter()
        Z = bb.transform(X_train)
        t1 = time.perf_counter()
        crt.fit(Z, y_train)
        t2 = time.perf_counter()
        cached.append(t2 - t0)
        transform.append(t1 - t0)
        head_only.append(t2 - t1)

        t0 = time.perf_counter()
        generator = torch_generator(0)
        linear = init_linear(Z.shape[1], len(classes), generator)
        train_module(FrozenBackboneHead(bb.module_, linear), X_img, y_enc, epochs=epochs,
                     batch_size=p["batch_size"], lr=p["lr"], momentum=p["momentum"],
                     weight_decay=p["weight_decay"], sampler=p["sampler"], generator=generator,
                     device="cpu", num_samples="class_epoch")
        rerun.append(time.perf_counter() - t0)
    bb.module_.eval()
    med = {k: statistics.median(v) for k, v in
           (("cached", cached), ("rerun", rerun), ("transform", transform), ("head", head_only))}
    draws = class_epoch_length(counts)
    return {
        "epochs": epochs, "reps": reps, "n_images": int(len(y_train)),
        "draws_per_epoch": draws, "steps": int(epochs * np.ceil(draws / p["batch_size"])),
        "cached_s": med["cached"], "rerun_backbone_s": med["rerun"],
        "one_transform_s": med["transform"], "head_only_s": med["head"],
        "ratio": med["rerun"] / med["cached"],
        "ratio_vs_head_only": med["rerun"] / med["head"],
        # (E * D/N * T + H) / (T + H) < E * D / N: D draws per epoch, T a pass over N images
        "ratio_upper_bound": epochs * draws / len(y_train),
        "all_cached_s": cached, "all_rerun_s": rerun,
        # Not bit-identical: the backbone sees batches of sampled images rather
        # than transform's fixed batches, which changes float summation order.
        "max_abs_coef_diff_between_sides": float(
            np.abs(linear.weight.detach().double().numpy() - crt.coef_).max()),
        "stage2_params": {k: p[k] for k in ("batch_size", "lr", "momentum", "weight_decay",
                                            "sampler")},
    }


# Sizes of the Backbone fits of the running search. The class lives at module
# level: Pipeline(memory=...) hashes the step by pickling it, which needs an
# importable class.
_FITS = []


class CountingBackbone(Backbone):
    """A Backbone that records each fit in ``_FITS``."""

    def fit(self, X, y):
        _FITS.append(len(y))
        return super().fit(X, y)


def search_speed(X, y, backbone, taus, n_splits):
    """GridSearchCV over tau: cached pipeline (with and without head memory) vs naive."""
    out = {}
    cv = StratifiedKFold(n_splits, shuffle=True, random_state=0)
    with tempfile.TemporaryDirectory(prefix="bench_heads_pipe_") as tmp:
        variants = (("cached", tmp + "/pipe", None),
                    ("cached + head", tmp + "/pipe2", tmp + "/head"), ("naive", None, None))
        for label, memory, head_memory in variants:
            _FITS.clear()
            pipe = Pipeline([("feat", CountingBackbone(**backbone)),
                             ("clf", TauNormClassifier(memory=head_memory))], memory=memory)
            load = load_average()
            t0 = time.perf_counter()
            search = GridSearchCV(pipe, {"clf__tau": taus}, cv=cv,
                                  scoring=make_shot_scorer("all")).fit(X, y)
            out[label] = {"seconds": time.perf_counter() - t0, "backbone_fits": len(_FITS),
                          "best_tau": float(search.best_params_["clf__tau"]),
                          "best_cv_score": float(search.best_score_),
                          "load_average_at_start": load}
            print(f"  {label}: {out[label]['seconds']:.1f}s, {len(_FITS)} backbone fits "
                  f"(load {load[0] if load else '?'})", flush=True)
    out["n_candidates"], out["n_splits"] = len(taus), n_splits
    out["ratio"] = out["naive"]["seconds"] / out["cached"]["seconds"]
    out["ratio_with_head_memory"] = out["naive"]["seconds"] / out["cached + head"]["seconds"]
    out["same_result"] = all(out[k]["best_tau"] == out["naive"]["best_tau"]
                             and out[k]["best_cv_score"] == out["naive"]["best_cv_score"]
                             for k in ("cached", "cached + head"))
    return out


def speed_data(quick):
    """(backbone, X, y, description, stage-2 SGD settings) for part (a)."""
    try:
        X, y, _, _, source = fashion_mnist_lt(100, n_max=6000)
        params = dict(FASHION_BACKBONE, max_epochs=2 if quick else 20)
        sgd, where = {}, "Fashion-MNIST-LT, small CNN"
    except SystemExit as exc:
        print(f"Fashion-MNIST absent ({exc}); timing on digits-LT")
        d = load_digits_lt()
        X, y, source = d.X_train, d.y_train, "digits-LT"
        params = dict(DIGITS_BACKBONE, max_epochs=60)
        sgd, where = dict(batch_size=64, lr=0.025), "digits-LT, MLP"
    if quick:
        X, y = X[::5], y[::5]
    return Backbone(**params).fit(X, y), X, y, f"{where} ({source})", sgd


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small budgets: plumbing only")
    ap.add_argument("--threads", type=int, default=None, help="torch and BLAS threads")
    ap.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine")
    args = ap.parse_args(argv)
    with threadpool_limits(args.threads):
        threads = set_threads(args.threads)
        result = {"benchmark": "bench_heads_speed", "quick": args.quick, "complete": False,
                  "machine": {**machine_info("cpu"), "torch_threads": threads}}
        result["wait"] = None if args.quick or args.no_wait else wait_for_quiet_machine(
            1.5, done_file=RESULTS / "bench_heads_quality.json", poll_s=30, timeout_s=720)
        result["load_average_start"] = load_average()
        bb, X, y, where, sgd = speed_data(args.quick)
        s = crt_speed(bb, X, y, reps=1 if args.quick else 3, sgd=sgd)
        s["data"] = where
        result["crt_speed"] = s
        print(f"cRT-SGD, {s['epochs']} epochs of {s['draws_per_epoch']} class-aware draws "
              f"({s['steps']} steps), {where}: cached {s['head_only_s']:.2f}s vs official "
              f"recipe {s['rerun_backbone_s']:.2f}s -> {s['ratio_vs_head_only']:.0f}x; with "
              f"the one-off transform ({s['one_transform_s']:.2f}s) charged: {s['ratio']:.1f}x "
              f"(bound {s['ratio_upper_bound']:.0f}x); max |coef diff| "
              f"{s['max_abs_coef_diff_between_sides']:.1e}", flush=True)
        write_json("bench_heads_speed", result, quick=args.quick)

        taus, n_splits = (TAUS[::5], 3) if args.quick else (TAUS, 5)
        backbone = dict(DIGITS_BACKBONE, max_epochs=3 if args.quick else 20)
        d = load_digits_lt()
        print(f"GridSearchCV {len(taus)} tau x {n_splits} folds on raw digits-LT:", flush=True)
        g = search_speed(d.X_train, d.y_train, backbone, taus, n_splits)
        g["backbone"] = backbone
        result["grid_search_speed"] = g
        print(f"  naive / cached = {g['ratio']:.1f}x; with head memory "
              f"{g['ratio_with_head_memory']:.1f}x; same best tau and score: {g['same_result']}")
        result.update(complete=True, load_average_end=load_average())
        print(f"wrote {write_json('bench_heads_speed', result, quick=args.quick)}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
