"""Why stage 2 keeps a lean trainer: skorch's per-batch cost on a linear head.

The same cRT-SGD run -- a linear head on cached features, 10 epochs of
K * max_j n_j class-aware draws in batches of 512, SGD lr 0.2 with cosine
decay, the same initialisation and sampler -- through the library's stage-2
trainer (``sklearn_lt.nn.train_module``) and through a ``skorch.NeuralNet``
fed by an equally lean batch iterator (fancy indexing of in-memory tensors,
not a per-sample DataLoader), with skorch's ``LRScheduler`` around the same
``LambdaLR``. Features: synthetic, Fashion-MNIST-LT-shaped (14,886 x 128,
counts 6000 .. 60), so the script needs no data files.

    python benchmarks/bench_trainers.py [--quick] [--threads N] [--reps N]

Reported: median seconds of each side over interleaved repetitions, their
ratio, and the largest difference between the two trained heads.
"""

import argparse
import statistics
import sys
import time

import numpy as np
import skorch
import torch
from _common import load_average, machine_info, set_threads, write_json

from sklearn_lt.base import init_linear
from sklearn_lt.nn import epoch_batches, epoch_order, lr_lambda, make_sampler, train_module
from sklearn_lt.utils import torch_generator

COUNTS = [6000, 3596, 2156, 1292, 774, 464, 278, 166, 100, 60]


class _Batches:
    """skorch iterator: whole batches by fancy indexing, the sampler's epoch order."""

    def __init__(self, dataset, batch_size, sampler=None):
        self.X, self.y, self.batch_size, self.sampler = dataset.X, dataset.y, batch_size, sampler

    def __len__(self):
        return -(-len(self.sampler) // self.batch_size)

    def __iter__(self):
        for idx in epoch_batches(epoch_order(self.sampler), self.batch_size):
            yield self.X[idx], self.y[idx]


def features(scale=1):
    rng = np.random.RandomState(0)
    counts = [max(2, c // scale) for c in COUNTS]
    y = np.repeat(np.arange(len(counts)), counts)
    centers = rng.randn(len(counts), 128).astype(np.float32)
    X = centers[y] + rng.randn(len(y), 128).astype(np.float32)
    return X, y


def lean(X, y, epochs, batch_size):
    gen = torch_generator(0)
    linear = init_linear(X.shape[1], 10, gen)
    train_module(linear, X, y, epochs=epochs, batch_size=batch_size, lr=0.2, momentum=0.9,
                 weight_decay=5e-4, sampler="class", generator=gen, num_samples="class_epoch")
    return linear.weight.detach().clone()


def with_skorch(X, y, epochs, batch_size):
    gen = torch_generator(0)
    linear = init_linear(X.shape[1], 10, gen)
    sampler = make_sampler("class", y, generator=gen, num_samples="class_epoch")
    net = skorch.NeuralNet(
        module=linear, criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.SGD,
        lr=0.2, optimizer__momentum=0.9, optimizer__weight_decay=5e-4, max_epochs=epochs,
        batch_size=batch_size, iterator_train=_Batches, iterator_train__sampler=sampler,
        train_split=None, verbose=0,
        callbacks=[skorch.callbacks.LRScheduler(policy=torch.optim.lr_scheduler.LambdaLR,
                                                lr_lambda=lr_lambda(epochs))])
    net.fit(torch.from_numpy(X), torch.from_numpy(y.astype(np.int64)))
    return net.module_.weight.detach().clone()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a tenth of the data, 2 epochs")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args(argv)
    threads = set_threads(args.threads)
    X, y = features(10 if args.quick else 1)
    epochs, batch = (2, 512) if args.quick else (10, 512)
    times = {"lean": [], "skorch": []}
    for _ in range(1 if args.quick else args.reps):
        for name, fn in (("lean", lean), ("skorch", with_skorch)):
            t0 = time.perf_counter()
            weights = fn(X, y, epochs, batch)
            times[name].append(time.perf_counter() - t0)
            if name == "lean":
                w_lean = weights
            else:
                w_skorch = weights
    med = {k: statistics.median(v) for k, v in times.items()}
    steps = epochs * -(-len(COUNTS) * max(np.bincount(y)) // batch)
    result = {"benchmark": "bench_trainers", "quick": args.quick,
              "machine": {**machine_info("cpu"), "torch_threads": threads},
              "n_samples": int(len(y)), "epochs": epochs, "batch_size": batch, "steps": steps,
              "seconds": times, "median_s": med, "ratio_skorch_over_lean": med["skorch"] /
              med["lean"], "max_abs_weight_diff": float((w_lean - w_skorch).abs().max()),
              "load_average": load_average()}
    print(f"{steps} SGD steps on {len(y)} x {X.shape[1]} features: lean {med['lean']:.2f}s, "
          f"skorch {med['skorch']:.2f}s -> skorch / lean = "
          f"{result['ratio_skorch_over_lean']:.2f}x; max |weight diff| "
          f"{result['max_abs_weight_diff']:.1e}")
    print(f"wrote {write_json('bench_trainers', result, quick=args.quick)}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
