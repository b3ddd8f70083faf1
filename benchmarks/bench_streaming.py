"""Backbone.fit streaming image files, against a hand-written DataLoader loop.

Data: CIFAR-10-JPEG's training files (``../shared/data/cifar10-jpeg``, unpacked
to a temporary folder, or ``--root`` for an unpacked copy), cut to CIFAR-10-LT
IF=100 (Cao et al.'s exponential profile, 5,000 -> 50 images per class:
12,406 files), 32x32 JPEG.

**Throughput.** Both sides train the same network (the small CNN for 3x32x32
plus a linear head, seeded alike) with batch 128, SGD (lr 0.05 constant,
momentum 0.9, weight decay 2e-4), cross-entropy, no augmentation, on files
decoded by Pillow in the same number of DataLoader worker processes
(``--workers``, default 1: the machine has 2 cores), persistent, prefetch 2:

* A: ``Backbone(module="cnn", max_epochs=E, num_workers=W).fit(paths, y)``,
  everything included (path checks, the input statistics from 1,024 decoded
  images, the network, skorch's set-up, the epochs).
* B: a plain-torch script: a ``Dataset`` that opens each file with Pillow, a
  ``DataLoader(shuffle=True, num_workers=W, persistent_workers=True)``, the
  mean and std from the same 1,024 images, the epochs.

Samples are interleaved A B, B A, ... after one warm-up of each; images/s are
medians. Target: ratio A/B >= 0.9.

**Memory.** One 1-epoch streaming fit per size (2,000 / 12,406 / 50,000 files,
each in a fresh process): peak resident memory of the main process and of the
largest worker (``getrusage``), against decoding the same files into an array
first (``load_image_folder``-style, then ``fit(X, y)``), whose peak grows with
the data. The main process's peak is sampled every 2 ms during the fit and
reported over its resident memory just before (imports alone set a higher
``ru_maxrss`` mark than a fit on small data).

    python benchmarks/bench_streaming.py [--quick] [--root DIR] [--workers W] [--epochs E]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
from _common import CpuContention, load_average, machine_info, set_threads, table, write_json
from PIL import Image
from torch import nn

from sklearn_lt import Backbone
from sklearn_lt.nn import make_network

BATCH = 128
LR = 0.05
MOMENTUM = 0.9
WEIGHT_DECAY = 2e-4
SEED = 0
TARGET = 0.9
STATS_IMAGES = 1024
ARCHIVE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cifar10-jpeg" \
    / "cifar10-jpeg.tar.gz"


def unpack(root):
    """The unpacked archive's folder (``root``, or a new temporary folder)."""
    if root is not None:
        return Path(root)
    folder = Path(tempfile.mkdtemp(prefix="cifar10-jpeg-"))
    with tarfile.open(ARCHIVE) as tar:
        tar.extractall(folder, filter="data")
    return folder


def cifar_lt_files(folder, n_total=None, imbalance=100, n_max=5000):
    """Paths and labels of CIFAR-10-LT (first n_k files of class k), or the first
    ``n_total`` files of the balanced set."""
    classes = sorted(p.name for p in (folder / "train").iterdir())
    paths, labels = [], []
    for k, name in enumerate(classes):
        files = sorted((folder / "train" / name).glob("*.jpg"))
        n_k = len(files) if n_total else int(n_max * imbalance ** (-k / (len(classes) - 1)))
        paths += [str(f) for f in files[:n_k]]
        labels += [k] * n_k
    paths, labels = np.array(paths), np.array(labels)
    if n_total:
        keep = np.random.default_rng(0).permutation(len(paths))[:n_total]
        paths, labels = paths[np.sort(keep)], labels[np.sort(keep)]
    return paths, labels


# ------------------------------------------------------------------ plain torch
class PlainFiles(torch.utils.data.Dataset):
    """What a user writes: open the file with Pillow, to a uint8 CHW tensor."""

    def __init__(self, paths, labels):
        self.paths, self.labels = paths, labels

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        with Image.open(self.paths[i]) as im:
            x = np.asarray(im.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1).copy()
        return torch.from_numpy(x), int(self.labels[i])


class PlainNet(nn.Module):
    def __init__(self, mean, std, n_classes):
        super().__init__()
        self.features = make_network("cnn", (3, 32, 32))
        self.head = nn.Linear(self.features.out_features, n_classes)
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x):
        return self.head(self.features((x.float() / 255 - self.mean) / self.std))


def plain_fit(paths, labels, epochs, workers):
    data = PlainFiles(paths, labels)
    rows = np.sort(np.random.default_rng(SEED).choice(len(paths), min(STATS_IMAGES, len(paths)),
                                                      replace=False))
    sample = np.stack([data[i][0].numpy() for i in rows]).astype(np.float64) / 255
    torch.manual_seed(SEED)
    model = PlainNet(sample.mean((0, 2, 3)), sample.std((0, 2, 3)), int(labels.max()) + 1)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM,
                          weight_decay=WEIGHT_DECAY)
    loss_fn = nn.CrossEntropyLoss()
    extra = dict(persistent_workers=True, prefetch_factor=2) if workers else {}
    loader = torch.utils.data.DataLoader(data, batch_size=BATCH, shuffle=True,
                                         num_workers=workers, **extra)
    model.train()
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            loss.item()  # a hand-written loop logs its loss
    return model


def library_fit(paths, labels, epochs, workers):
    return Backbone(module="cnn", max_epochs=epochs, batch_size=BATCH, lr=LR,
                    momentum=MOMENTUM, weight_decay=WEIGHT_DECAY, warmup_epochs=0,
                    lr_schedule="constant", augment="none", device="cpu",
                    num_workers=workers, random_state=SEED).fit(paths, labels)


# ------------------------------------------------------------------ memory
def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakRSS(threading.Thread):
    """Samples this process's resident memory every 2 ms: the peak of a span of
    work, which ``ru_maxrss`` cannot give once imports set a higher mark."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.done = _rss_mb(), threading.Event()

    def run(self):
        while not self.done.wait(0.002):
            self.peak = max(self.peak, _rss_mb())

    def stop(self):
        self.done.set()
        self.join()
        return self.peak


def _memory_child(args):
    """Run in a fresh process: one fit, then print the peaks as JSON."""
    folder, n, mode, workers = Path(args[0]), int(args[1]), args[2], int(args[3])
    paths, labels = cifar_lt_files(folder, n_total=n)
    before = _rss_mb()
    sampler = PeakRSS()
    sampler.start()
    t0 = time.perf_counter()
    if mode == "arrays":  # decode everything first, as load_image_folder does
        X = np.stack([PlainFiles(paths, labels)[i][0].numpy() for i in range(len(paths))])
        Backbone(module="cnn", max_epochs=1, batch_size=BATCH, augment="none", device="cpu",
                 random_state=SEED).fit(X, labels)
    else:
        library_fit(paths, labels, 1, workers)
    fit_s = time.perf_counter() - t0
    peak = sampler.stop()
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"n_images": n, "mode": mode, "rss_before_mb": before,
                      "fit_peak_over_before_mb": peak - before,
                      "largest_worker_peak_mb": child_kb / 1024 if mode == "files" else None,
                      "fit_s": fit_s}))


def memory_runs(folder, sizes, workers):
    rows = []
    for n in sizes:
        for mode in ("files", "arrays"):
            out = subprocess.run([sys.executable, __file__, "--memory-child", str(folder),
                                  str(n), mode, str(workers)], capture_output=True, text=True,
                                 check=True, cwd=Path(__file__).parent)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"  memory: {rows[-1]}", flush=True)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2,000 files, 1 pair, small sizes")
    ap.add_argument("--root", default=None, help="an unpacked cifar10-jpeg folder")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--pairs", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None)
    if argv and argv[0] == "--memory-child":
        return _memory_child(argv[1:])
    args = ap.parse_args(argv)
    threads = set_threads(args.threads)
    folder = unpack(args.root)
    paths, labels = cifar_lt_files(folder)
    if args.quick:
        keep = np.random.default_rng(0).permutation(len(paths))[:2000]
        paths, labels = paths[np.sort(keep)], labels[np.sort(keep)]
    n = len(paths)
    pairs = args.pairs or (1 if args.quick else 3)
    load_start = load_average()
    print(f"CIFAR-10-JPEG-LT IF=100: {n} files, {args.epochs} epochs, batch {BATCH}, "
          f"{args.workers} loader worker(s), {threads} torch threads; {pairs} timed pairs "
          f"after one warm-up each; load average at start {load_start}", flush=True)
    contention = CpuContention()
    images = n * args.epochs
    lib, plain = [], []
    library_fit(paths, labels, 1, args.workers)  # warm-up: page cache, imports
    plain_fit(paths, labels, 1, args.workers)
    for i in range(pairs):
        for side in ("lib", "plain") if i % 2 == 0 else ("plain", "lib"):
            t0 = time.perf_counter()
            if side == "lib":
                library_fit(paths, labels, args.epochs, args.workers)
                lib.append(images / (time.perf_counter() - t0))
            else:
                plain_fit(paths, labels, args.epochs, args.workers)
                plain.append(images / (time.perf_counter() - t0))
            print(f"  {side}: {images / (time.perf_counter() - t0):.0f} img/s", flush=True)
    others = contention.other_fraction()
    ratio = statistics.median(lib) / statistics.median(plain)
    pair_ratio = statistics.median(a / b for a, b in zip(lib, plain))
    rows = [{"comparison": f"fit, {args.epochs} epochs, set-up incl.",
             "library": statistics.median(lib), "plain": statistics.median(plain),
             "ratio": ratio, "median_pair_ratio": pair_ratio, "library_all": lib,
             "plain_all": plain}]
    print()
    print(table(rows, [("comparison", "comparison", ""), ("library", "library img/s", ".0f"),
                       ("plain", "plain img/s", ".0f"), ("ratio", "library/plain", ".3f"),
                       ("median_pair_ratio", "median pair ratio", ".3f")]))
    print(f"{'meets' if ratio >= TARGET else 'MISSES'} the target >= {TARGET}; other "
          f"processes used {'?' if others is None else f'{100 * others:.0f}%'} of the CPU")

    sizes = [500, 2000] if args.quick else [2000, 12406, 50000]
    memory = memory_runs(folder, sizes, args.workers)
    print()
    print(table(memory, [("n_images", "files", "d"), ("mode", "input", ""),
                         ("rss_before_mb", "main before fit MB", ".0f"),
                         ("fit_peak_over_before_mb", "main peak - before MB", ".0f"),
                         ("largest_worker_peak_mb", "worker peak MB", ".0f"),
                         ("fit_s", "fit s", ".1f")]))
    path = write_json("bench_streaming", {
        "benchmark": "bench_streaming", "data": "CIFAR-10-JPEG-LT IF=100 (train files)",
        "n_images": n, "epochs": args.epochs, "batch_size": BATCH, "workers": args.workers,
        "network": "SmallCNN (make_network('cnn', (3, 32, 32))) + linear head",
        "protocol": "interleaved A B, B A after one warm-up each; medians",
        "throughput": rows, "target_ratio": TARGET, "meets_target": ratio >= TARGET,
        "memory": memory, "load_average_start": load_start, "load_average_end": load_average(),
        "other_processes_cpu_fraction": others, "machine": machine_info("cpu"),
    }, quick=args.quick)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
