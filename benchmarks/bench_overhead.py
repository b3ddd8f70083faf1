"""Backbone.fit throughput against a hand-written plain-torch loop, in one run.

Both sides train the same small CNN (``make_network("cnn", (1, 28, 28))``) with
the same batch size, instance-balanced sampler, input scaling and SGD settings
on Fashion-MNIST-LT (IF=100). Epochs alternate library / plain so that machine
load hits both alike; the median images/s of each and their ratio are reported.
Target: ratio >= 0.95 on CPU.

    python benchmarks/bench_overhead.py [--quick] [--epochs N]
"""

import argparse
import json
import os
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from sklearn_lt import Backbone
from sklearn_lt._backbone import _LTModule
from sklearn_lt.datasets import load_fashion_mnist, make_long_tailed
from sklearn_lt.nn import make_network, make_sampler
from sklearn_lt.nn._samplers import epoch_order

RESULTS = Path(__file__).resolve().parent / "results"
DATA = Path(os.environ.get("SKLEARN_LT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def machine():
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(), "device": "cpu",
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "loadavg": open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else None,
    }


def load_data(quick):
    if (DATA / "fashion-mnist").is_dir():
        fm = load_fashion_mnist(DATA / "fashion-mnist")
        X, y = make_long_tailed(fm.X_train, fm.y_train, imbalance_factor=100)
        source = "Fashion-MNIST-LT IF=100 (real files)"
    else:
        rng = np.random.RandomState(0)
        counts = [int(6000 * 100 ** (-i / 9)) for i in range(10)]
        y = np.repeat(np.arange(10), counts)
        X = rng.randint(0, 256, size=(len(y), 28, 28), dtype=np.uint8)
        source = "synthetic uint8 28x28 with Fashion-MNIST-LT counts (real files absent)"
    if quick:
        X, y = X[::4], y[::4]
    return X[:, None], y, source


def plain_epoch(module, opt, crit, Xt, yt, sampler, batch_size):
    """What a practitioner writes by hand: index batches, forward, backward, step."""
    module.train()
    order = epoch_order(sampler)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        if len(idx) == 1:
            break
        xb, yb = Xt[idx], yt[idx]
        opt.zero_grad()
        loss = crit(module(xb), yb)
        loss.backward()
        opt.step()
        loss.item()  # the library logs the loss each batch; so does a plain loop


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--epochs", type=int, default=None, help="timed epochs per side")
    args = ap.parse_args()
    epochs = args.epochs or (2 if args.quick else 4)
    X, y, source = load_data(args.quick)
    n = len(y)
    batch = 128
    print(f"{source}: {n} images; batch {batch}; {epochs} timed epochs per side (+1 warm-up)")

    # Plain side: the same network, scaling, sampler and optimiser, no skorch.
    torch.manual_seed(0)
    mean, std = X.mean() / 255.0, X.std() / 255.0
    module = _LTModule(make_network("cnn", (1, 28, 28)), 10,
                       mean=np.full((1, 1, 1, 1), mean), std=np.full((1, 1, 1, 1), std))
    opt = torch.optim.SGD(module.parameters(), lr=0.05, momentum=0.9, weight_decay=2e-4)
    crit = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(np.ascontiguousarray(X)), torch.from_numpy(y.astype(np.int64))
    sampler = make_sampler("instance", y, generator=torch.Generator().manual_seed(0))

    def lib_run(n_epochs):
        bb = Backbone(module="cnn", max_epochs=n_epochs, batch_size=batch, lr=0.05,
                      warmup_epochs=0, lr_schedule="constant", random_state=0)
        t0 = time.perf_counter()
        bb.fit(X, y)
        return time.perf_counter() - t0, bb

    # Warm-up both sides (allocator, threads, first-call costs).
    plain_epoch(module, opt, crit, Xt, yt, sampler, batch)
    lib_run(1)

    lib_ips, plain_ips = [], []
    for _ in range(epochs):
        # One-epoch library fits include set-up (validation, network build):
        # that is part of the price a user pays, so it is counted.
        seconds, _bb = lib_run(1)
        lib_ips.append(n / seconds)
        t0 = time.perf_counter()
        plain_epoch(module, opt, crit, Xt, yt, sampler, batch)
        plain_ips.append(n / (time.perf_counter() - t0))
    lib_med, plain_med = statistics.median(lib_ips), statistics.median(plain_ips)
    ratio = lib_med / plain_med

    rows = [("Backbone.fit (skorch)", lib_med, lib_ips), ("plain torch loop", plain_med, plain_ips)]
    print(f"{'side':<24}{'median img/s':>14}  per epoch")
    for name, med, all_ in rows:
        print(f"{name:<24}{med:>14.0f}  {', '.join(f'{v:.0f}' for v in all_)}")
    print(f"ratio library / plain = {ratio:.3f} (target >= 0.95)")

    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']} "
          f"({info['torch_threads']} threads), load {info['loadavg']}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("bench_overhead_quick.json" if args.quick else "bench_overhead.json")
    out.write_text(json.dumps({
        "benchmark": "backbone_overhead", "data": source, "n_images": n, "batch_size": batch,
        "network": "cnn (SmallCNN)", "timed_epochs_per_side": epochs,
        "library_img_per_s": lib_ips, "plain_img_per_s": plain_ips,
        "library_median": lib_med, "plain_median": plain_med, "ratio": ratio,
        "target": 0.95, "machine": info,
    }, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
