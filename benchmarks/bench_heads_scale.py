"""Every stage-2 head at ImageNet-LT shape on the CPU: fit time and peak memory.

Issue 13's targets: every head at most 60 s on ImageNet-LT-shaped features (115,846 x
2048, 1,000 classes) on this 2-core machine. Synthetic features stand in for a
network's: ``n_classes`` Gaussian class means in ``d`` dimensions, noise 2.0, class
sizes falling as a power law from 1,280 to 5 with the exponent chosen so that they sum
to ``n_rows`` (ImageNet-LT's profile), float32. The joint head the post-hoc heads adjust
is given as a tuple (the class means, zero bias), so their time excludes a joint-head
fit, as it does after a Backbone. SGD heads run their defaults (ImageNet-LT's stage-2
config: 10 epochs, batch 512). Each head fits in its own process, so its peak resident
memory (``ru_maxrss``) is its own; the features themselves (``n_rows x d x 4`` bytes)
are part of every peak, and the baseline row is a process that only builds them.

    python benchmarks/bench_heads_scale.py [--quick] [--threads 2] [--timeout 900]
        [--shape {imagenet_lt,inaturalist}] [--only LABEL ...]

``--shape inaturalist``: 437,513 x 2048, 8,142 classes (iNaturalist 2018's
training set; the power law then runs from 1,280 down to 5 images to sum to it),
written to ``results/bench_heads_scale_inaturalist.json``.
"""

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
from _common import CpuContention, machine_info, set_threads, table, write_json

SHAPES = {"imagenet_lt": (115_846, 2048, 1000), "inaturalist": (437_513, 2048, 8142),
          "quick": (11_585, 256, 100)}


def counts_summing_to(n_rows, n_classes, head=1280, tail=5):
    """Power-law class sizes from ``head`` down to ``tail`` whose sum is ``n_rows``."""
    ranks = np.arange(1, n_classes + 1, dtype=np.float64)
    lo, hi = 0.0, 10.0
    for _ in range(100):  # bisect the exponent: the sum falls as it grows
        a = 0.5 * (lo + hi)
        total = np.maximum(tail, np.floor(head * ranks ** -a)).sum()
        lo, hi = (a, hi) if total > n_rows else (lo, a)
    return np.maximum(tail, np.floor(head * ranks ** -a)).astype(int)


def features(n_rows, d, n_classes, seed=0):
    counts = counts_summing_to(n_rows, n_classes)
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), counts)
    means = rng.normal(size=(n_classes, d)).astype(np.float32)
    X = means[y]
    X += 2.0 * rng.standard_normal(size=X.shape, dtype=np.float32)
    return X, y, means


def run_one(label, shape, threads):
    """Child process: build the features, fit one head, print its time and peak."""
    from threadpoolctl import threadpool_limits

    from sklearn_lt.heads import head_catalog

    X, y, means = features(*shape)
    result = {"label": label, "n_rows": int(len(y))}
    if label != "features only (baseline)":
        joint = (means.astype(np.float64), np.zeros(len(means)))
        head = dict(head_catalog(joint_head=joint, random_state=0))[label]
        if "n_threads" in head.get_params():
            head.set_params(n_threads=threads)
        with threadpool_limits(threads):
            start = time.perf_counter()
            head.fit(X, y)
            result["fit_s"] = time.perf_counter() - start
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=900, help="seconds per head")
    parser.add_argument("--shape", choices=["imagenet_lt", "inaturalist"], default="imagenet_lt")
    parser.add_argument("--only", nargs="+", help="these heads (catalog labels) only")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    shape = SHAPES["quick" if args.quick else args.shape]
    threads = set_threads(args.threads)
    if args.one:
        return run_one(args.one, shape, threads)

    from sklearn_lt.heads import head_catalog

    labels = ["features only (baseline)"] + [label for label, _ in head_catalog()
                                             if not args.only or label in args.only]
    print(f"{shape[0]} x {shape[1]} features, {shape[2]} classes, {threads} threads")
    rows, contention = [], CpuContention()
    for label in labels:
        cmd = [sys.executable, __file__, "--one", label, "--threads", str(threads)]
        cmd += ["--quick"] if args.quick else ["--shape", args.shape]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
            lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
            row = json.loads(lines[-1]) if lines else {
                "label": label, "error": (done.stderr.strip().splitlines() or ["?"])[-1]}
        except subprocess.TimeoutExpired:
            row = {"label": label, "error": f"over {args.timeout} s"}
        row["target_met"] = row.get("fit_s", np.inf) <= 60 if "fit_s" in row else None
        rows.append(row)
        print(f"  {label}: {row.get('fit_s', row.get('error'))}", flush=True)
    print(table(rows, [("label", "head", ""), ("fit_s", "fit s", ".1f"),
                       ("peak_mb", "peak MB", ".0f"), ("error", "note", "")]))
    other = contention.other_fraction()
    name = "bench_heads_scale" + ("" if args.shape == "imagenet_lt" or args.quick
                                  else f"_{args.shape}")
    path = write_json(name, {
        "machine": machine_info(), "threads": threads, "shape": shape,
        "other_cpu_fraction": other, "rows": rows, "target_s": 60, "only": args.only,
    }, quick=args.quick)
    print(f"CPU taken by other processes: {other:.0%}; wrote {path}"
          if other is not None else f"wrote {path}")


if __name__ == "__main__":
    main()
