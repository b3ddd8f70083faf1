"""Throughput of ``Backbone.fit`` against a hand-written plain-torch loop.

Both sides train the same network (``make_network("cnn", (1, 28, 28))`` plus a
linear head) on the same uint8 images with the same input scaling, batch size
(128), instance-balanced sampler (``make_sampler("instance", ...)``), SGD
settings (momentum 0.9, weight decay 2e-4, constant lr) and no augmentation.
Data: Fashion-MNIST-LT, IF=100 (14,886 images); synthetic uint8 images of the
same size when the official files are absent.

Two comparisons, each measured in one process with library (A) and plain (B)
samples interleaved A B B A A B ... after one warm-up of each, so that machine
load hits both sides alike:

* ``fit``: one-epoch fits from the raw numpy arrays. A is
  ``Backbone(max_epochs=1).fit(X, y)`` (validation, scaling statistics, network
  build, skorch set-up, the epoch); B is the same set-up written by hand
  followed by the epoch.
* ``epoch``: steady-state epochs of an already built model. A continues the
  fitted skorch net (``net_.partial_fit``), B continues the plain model.

Reports the median images/s of each side and the ratio library / plain.
Target: ratio >= 0.95 on CPU. ``--profile`` adds a cProfile of library epochs.

    python benchmarks/bench_backbone_overhead.py [--quick] [--threads N] [--profile]
"""

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time

import numpy as np
import torch
from _common import (
    CpuContention,
    fashion_mnist_lt,
    load_average,
    machine_info,
    set_threads,
    table,
    write_json,
)
from torch import nn

from sklearn_lt import Backbone
from sklearn_lt.nn import make_network, make_sampler

BATCH = 128
LR = 0.05
MOMENTUM = 0.9
WEIGHT_DECAY = 2e-4
SEED = 0
TARGET = 0.95


class PlainNet(nn.Module):
    """What a user writes by hand: scale uint8 -> standardise -> CNN -> linear."""

    def __init__(self, mean, std):
        super().__init__()
        self.features = make_network("cnn", (1, 28, 28))
        self.head = nn.Linear(self.features.out_features, 10)
        self.mean, self.std = float(mean), float(std)

    def forward(self, x):
        x = (x.float().div_(255.0) - self.mean) / self.std
        return self.head(self.features(x))


class PlainTrainer:
    """Hand-written set-up and training loop on in-memory tensors."""

    def __init__(self, X, y):
        # The same set-up Backbone.fit performs: tensors, scaling statistics,
        # a seeded network, SGD and the instance-balanced sampler.
        self.Xt = torch.from_numpy(np.ascontiguousarray(X[:, None]))
        self.yt = torch.from_numpy(y.astype(np.int64))
        mean = X.mean(dtype=np.float64) / 255.0
        std = X.std(dtype=np.float64) / 255.0
        torch.manual_seed(SEED)
        self.model = PlainNet(mean, std)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR, momentum=MOMENTUM,
                                   weight_decay=WEIGHT_DECAY)
        self.loss_fn = nn.CrossEntropyLoss()
        self.sampler = make_sampler("instance", y, generator=torch.Generator().manual_seed(SEED))

    def epoch(self):
        self.model.train()
        order = self.sampler.epoch_indices()
        total = 0.0
        for start in range(0, len(order), BATCH):
            idx = order[start:start + BATCH]
            if len(idx) == 1:
                break  # batch norm cannot train on one sample
            xb, yb = self.Xt[idx], self.yt[idx]
            self.opt.zero_grad()
            loss = self.loss_fn(self.model(xb), yb)
            loss.backward()
            self.opt.step()
            total += loss.item()  # a hand-written loop logs its loss too
        return total


def make_backbone():
    return Backbone(module="cnn", max_epochs=1, batch_size=BATCH, lr=LR, momentum=MOMENTUM,
                    weight_decay=WEIGHT_DECAY, warmup_epochs=0, lr_schedule="constant",
                    sampler="instance", loss="ce", augment="none", device="cpu",
                    random_state=SEED)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def interleave(n_pairs, lib_fn, plain_fn, n_images):
    """Warm up both, then alternate library / plain; images per second of each.

    Pairs run A B, B A, A B, ... so that neither side always goes first.
    """
    lib_fn()
    plain_fn()
    lib, plain = [], []
    for i in range(n_pairs):
        for side in ("lib", "plain") if i % 2 == 0 else ("plain", "lib"):
            if side == "lib":
                lib.append(n_images / timed(lib_fn)[0])
            else:
                plain.append(n_images / timed(plain_fn)[0])
    return lib, plain


def profile_library(bb, Xt, yt, n_epochs=2, top=25):
    """cProfile of steady-state library epochs: where the time goes."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n_epochs):
        bb.net_.partial_fit(Xt, yt)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return buf.getvalue()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a quarter of the data, 3 pairs (< 1 min)")
    ap.add_argument("--pairs", type=int, default=None, help="timed A/B pairs per comparison")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--profile", action="store_true", help="also cProfile library epochs")
    args = ap.parse_args(argv)

    default_threads = torch.get_num_threads()
    threads = set_threads(args.threads)
    # A non-default thread count gets its own result file beside the reference one.
    result_name = "bench_backbone_overhead" + (
        f"_threads{threads}" if threads != default_threads else "")
    load_start = load_average()
    X, y, _, _, source = fashion_mnist_lt(100, allow_synthetic=True)
    if args.quick:
        X, y = X[::4], y[::4]
    n = len(y)
    pairs = args.pairs or (3 if args.quick else 7)
    print(f"{source}{' (every 4th image, --quick)' if args.quick else ''}: {n} images, "
          f"batch {BATCH}, SmallCNN, {threads} torch threads; {pairs} timed A/B pairs per "
          f"comparison after 1 warm-up each; load average at start {load_start}", flush=True)

    contention = CpuContention()
    # -- fit: one-epoch fits from numpy arrays, set-up included on both sides.
    def lib_fit():
        return make_backbone().fit(X, y)

    def plain_fit():
        trainer = PlainTrainer(X, y)
        trainer.epoch()
        return trainer

    fit_lib, fit_plain = interleave(pairs, lib_fit, plain_fit, n)

    # -- epoch: steady-state epochs of built models.
    bb = make_backbone().fit(X, y)
    Xt = torch.from_numpy(np.ascontiguousarray(X[:, None]))
    yt = torch.from_numpy(np.searchsorted(bb.classes_, y).astype(np.int64))
    trainer = PlainTrainer(X, y)
    ep_lib, ep_plain = interleave(pairs, lambda: bb.net_.partial_fit(Xt, yt), trainer.epoch, n)
    # skorch's own per-epoch timer (EpochTimer) on the same library epochs, as a cross-check.
    skorch_ips = [n / d for d in bb.net_.history[-pairs:, "dur"]]

    rows = []
    for name, lib, plain in (("fit (1 epoch, set-up incl.)", fit_lib, fit_plain),
                             ("epoch (steady state)", ep_lib, ep_plain)):
        lib_med, plain_med = statistics.median(lib), statistics.median(plain)
        # Each pair ran back to back, so its ratio cancels slow drifts in load.
        pair_ratio = statistics.median(a / b for a, b in zip(lib, plain))
        rows.append({"comparison": name, "library": lib_med, "plain": plain_med,
                     "ratio": lib_med / plain_med, "median_pair_ratio": pair_ratio,
                     "library_all": lib, "plain_all": plain})
    load_end = load_average()
    others = contention.other_fraction()

    print()
    print(table(rows, [("comparison", "comparison", ""), ("library", "library img/s", ".0f"),
                       ("plain", "plain img/s", ".0f"), ("ratio", "library/plain", ".3f"),
                       ("median_pair_ratio", "median pair ratio", ".3f")]))
    for r in rows:
        print(f"  {r['comparison']}: library {', '.join(f'{v:.0f}' for v in r['library_all'])}"
              f" | plain {', '.join(f'{v:.0f}' for v in r['plain_all'])}")
    print(f"  skorch EpochTimer on the steady-state library epochs: "
          f"{', '.join(f'{v:.0f}' for v in skorch_ips)} img/s")
    worst = min(r["ratio"] for r in rows)
    verdict = "meets" if worst >= TARGET else "MISSES"
    print(f"\nratio library/plain: {rows[0]['ratio']:.3f} (fit), {rows[1]['ratio']:.3f} (epoch); "
          f"{verdict} the target >= {TARGET}")
    contended = others is not None and others > 0.1
    print(f"load average: start {load_start}, end {load_end}; other processes used "
          f"{'?' if others is None else f'{100 * others:.0f}%'} of the CPU during the run"
          + (" -- contended: absolute img/s are depressed, the interleaved ratio is the"
             " meaningful number" if contended else ""))

    profile_text = None
    if args.profile or worst < TARGET:
        profile_text = profile_library(bb, Xt, yt)
        print("\ncProfile of 2 steady-state library epochs (top by own time):")
        print(profile_text)

    info = machine_info("cpu")
    path = write_json(result_name, {
        "benchmark": "bench_backbone_overhead",
        "data": source, "n_images": n, "quick": args.quick, "batch_size": BATCH,
        "network": "SmallCNN (make_network('cnn', (1, 28, 28))) + linear head",
        "sgd": {"lr": LR, "momentum": MOMENTUM, "weight_decay": WEIGHT_DECAY,
                "schedule": "constant"},
        "sampler": "instance", "augmentation": None, "timed_pairs": pairs,
        "protocol": "interleaved A B, B A, ... after one warm-up of each; medians",
        "results": rows, "skorch_epoch_timer_img_per_s": skorch_ips,
        "target_ratio": TARGET, "meets_target": worst >= TARGET,
        "load_average_start": load_start, "load_average_end": load_end,
        "other_processes_cpu_fraction": others,
        "profile": profile_text, "machine": info,
    }, quick=args.quick)
    print(f"wrote {path}")
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
