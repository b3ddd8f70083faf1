"""NCMClassifier.fit at ImageNet-LT scale: the previous algorithm as the baseline, same run.

Issue 13 measured NCM at 55 s on 1 CPU thread for synthetic features of 37,464 x 512
and 1,000 classes: class means by ``np.add.at``, then the temperature of each metric
by a bounded Brent search over ``log T`` with a float64 softmax of every training
score per step (a few dozen steps, two metrics). The library now computes in torch
(on its ``device``, float32 features in float32): class sums in float64 blocks of
rows, and each temperature by safeguarded Newton steps on the convex NLL in ``1/T``
(a handful of float32 softmaxes). The baseline below is the
previous algorithm, reimplemented here, so both run on the same machine and data.

Synthetic features: ``n_classes`` Gaussian class means in ``d`` dimensions, noise
2.0, exponentially decaying class sizes from ``n_max`` to 5 (about 36k rows at the
defaults), and 2,000 test rows. Reported: fit time of each, the ratio, whether the
predictions of the test rows are equal, and the two temperatures of each.

    python benchmarks/bench_ncm_fit.py [--quick] [--threads 1] [--repeats 2]
"""

import argparse
import time

import numpy as np
from _common import CpuContention, machine_info, set_threads, table, write_json
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax
from threadpoolctl import threadpool_limits

from sklearn_lt.heads import NCMClassifier


def baseline_fit(X, y, n_classes):
    """The previous NCMClassifier fit (centred L2 features), as it was."""
    X = np.asarray(X, dtype=np.float64)
    center = X.mean(axis=0)
    Z = X - center
    Z /= np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-300)
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    sums = np.zeros((n_classes, X.shape[1]))
    np.add.at(sums, y, Z)
    centroids = sums / counts[:, None]
    weights = (1.0 / counts)[y]
    weights /= weights.sum()
    rows = np.arange(len(y))
    temperatures = {}
    for metric in ("euclidean", "cosine"):
        if metric == "cosine":
            C = centroids / np.linalg.norm(centroids, axis=1, keepdims=True)
            scores = Z @ C.T
        else:
            sq = (Z * Z).sum(1)[:, None] + (centroids ** 2).sum(1)[None, :] - 2 * Z @ centroids.T
            scores = -np.sqrt(np.maximum(sq, 0.0))

        def nll(log_t, scores=scores):
            return -(weights * log_softmax(scores / np.exp(log_t), axis=1)[rows, y]).sum()

        res = minimize_scalar(nll, bounds=(np.log(1e-4), np.log(1e4)), method="bounded",
                              options={"xatol": 1e-4})
        temperatures[metric] = float(np.exp(res.x))
    return center, centroids, temperatures


def baseline_predict(center, centroids, X):
    Z = np.asarray(X, dtype=np.float64) - center
    Z /= np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-300)
    sq = (Z * Z).sum(1)[:, None] + (centroids ** 2).sum(1)[None, :] - 2 * Z @ centroids.T
    return np.argmax(-np.sqrt(np.maximum(sq, 0.0)), axis=1)


def data(n_classes, d, n_max, seed=0):
    rng = np.random.default_rng(seed)
    ranks = np.arange(n_classes) / (n_classes - 1)
    counts = np.maximum(5, n_max * (5 / n_max) ** ranks).astype(int)
    y = np.repeat(np.arange(n_classes), counts)
    means = rng.normal(size=(n_classes, d)).astype(np.float32)
    X = means[y] + 2.0 * rng.normal(size=(len(y), d)).astype(np.float32)
    y_test = np.arange(2000) % n_classes
    X_test = means[y_test] + 2.0 * rng.normal(size=(2000, d)).astype(np.float32)
    return X, y, X_test


def timed(fn, repeats):
    best, out = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 classes, d=128")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    threads = set_threads(args.threads)
    n_classes, d, n_max = (200, 128, 120) if args.quick else (1000, 512, 120)
    X, y, X_test = data(n_classes, d, n_max)
    print(f"{len(y)} x {d} features, {n_classes} classes, {threads} thread(s)")
    contention = CpuContention()
    with threadpool_limits(threads):
        base_s, (center, centroids, base_t) = timed(
            lambda: baseline_fit(X, y, n_classes), args.repeats)
        new_s, model = timed(lambda: NCMClassifier(n_threads=threads).fit(X, y), args.repeats)
    other = contention.other_fraction()
    equal = bool(np.array_equal(baseline_predict(center, centroids, X_test),
                                model.predict(X_test)))
    rows = [{"fit": "previous (add.at + Brent, float64)", "s": base_s,
             "T_euclidean": base_t["euclidean"], "T_cosine": base_t["cosine"]},
            {"fit": "NCMClassifier (torch: block sums, Newton)", "s": new_s,
             "T_euclidean": model.temperatures_["euclidean"],
             "T_cosine": model.temperatures_["cosine"]}]
    print(table(rows, [("fit", "fit", ""), ("s", "seconds", ".2f"),
                       ("T_euclidean", "T euclidean", ".3g"), ("T_cosine", "T cosine", ".3g")]))
    print(f"speed-up {base_s / new_s:.1f}x; equal test predictions: {equal}; "
          f"CPU taken by other processes: {other:.0%}" if other is not None else "")
    path = write_json("bench_ncm_fit", {
        "machine": machine_info(), "threads": threads, "n_rows": int(len(y)), "d": d,
        "n_classes": n_classes, "repeats": args.repeats, "other_cpu_fraction": other,
        "rows": rows, "speedup": base_s / new_s, "equal_test_predictions": equal,
    }, quick=args.quick)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
