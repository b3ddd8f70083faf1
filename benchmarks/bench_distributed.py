"""Beyond one process: a tau search on a Dask LocalCluster, stage 1 under DDP.

**Search.** ``GridSearchCV(Pipeline([Backbone, TauNormClassifier], memory=...),
{"clf__tau": 21 values in [0, 2]}, cv=5)`` on digits-LT (489 training images,
an MLP trained 60 epochs), balanced accuracy:

* A: ``n_jobs=1`` with a ``joblib.Memory`` cache;
* B: ``n_jobs=-1`` under ``joblib.parallel_backend("dask")`` on a
  ``distributed.LocalCluster`` of 2 worker processes of 1 thread, the cache a
  ``LockedMemory`` (one backbone fit per fold); the cluster's start-up is timed
  separately.

Both fit the backbone with 1 torch thread. Reported: wall times, their ratio,
the best tau of each and the largest difference of mean test scores, and how
many backbone fits each made (counted by the network's constructor).

**Stage 1.** ``Backbone(module="cnn", max_epochs=E, batch_size=128)`` on
Fashion-MNIST-LT (IF=100, 14,886 images; synthetic images of the same counts
without the files): one process with 1 thread, one process with 2 threads,
and 2 processes of 1 thread under ``torchrun`` (gloo, the same global batch of
128). Reported: training images/s (from skorch's epoch timer, all epochs), the
ratio to the 1-process runs, and balanced test accuracy.

    python benchmarks/bench_distributed.py [--quick] [--epochs E]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
from _common import (
    CountingMLP,
    CpuContention,
    fashion_mnist_lt,
    load_average,
    machine_info,
    table,
    write_json,
)
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline

from sklearn_lt import Backbone
from sklearn_lt.datasets import load_digits_lt
from sklearn_lt.heads import TauNormClassifier
from sklearn_lt.utils import LockedMemory

HERE = Path(__file__).resolve().parent


def search(memory, log, n_jobs, epochs):
    d = load_digits_lt()
    pipe = Pipeline([("feat", Backbone(module=CountingMLP, module__log=str(log),
                                       max_epochs=epochs, batch_size=64, lr=0.05,
                                       random_state=0, n_threads=1, device="cpu")),
                     ("clf", TauNormClassifier())], memory=memory)
    gs = GridSearchCV(pipe, {"clf__tau": np.linspace(0, 2, 21)}, scoring="balanced_accuracy",
                      cv=StratifiedKFold(5, shuffle=True, random_state=0), n_jobs=n_jobs)
    t0 = time.perf_counter()
    gs.fit(d.X_train, d.y_train)
    return gs, time.perf_counter() - t0, Path(log).read_text().count("fit")


def search_rows(epochs):
    from distributed import Client, LocalCluster

    folder = Path(tempfile.mkdtemp(prefix="bench-distributed-"))
    serial, serial_s, serial_fits = search(joblib.Memory(folder / "serial", verbose=0),
                                           folder / "serial.log", 1, epochs)
    t0 = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=40) as cluster, Client(cluster):
        start_s = time.perf_counter() - t0
        with joblib.parallel_backend("dask"):
            dask, dask_s, dask_fits = search(LockedMemory(folder / "shared"),
                                             folder / "dask.log", -1, epochs)
    diff = np.abs(dask.cv_results_["mean_test_score"]
                  - serial.cv_results_["mean_test_score"]).max()
    return [
        {"run": "n_jobs=1 (joblib.Memory)", "wall_s": serial_s, "backbone_fits": serial_fits,
         "best_tau": serial.best_params_["clf__tau"], "best_score": serial.best_score_},
        {"run": "Dask LocalCluster, 2 workers (LockedMemory)", "wall_s": dask_s,
         "cluster_start_s": start_s, "backbone_fits": dask_fits,
         "best_tau": dask.best_params_["clf__tau"], "best_score": dask.best_score_,
         "speedup": serial_s / dask_s, "max_abs_score_diff": float(diff)},
    ]


# ------------------------------------------------------------------ stage 1
def stage1_fit(epochs, threads, out):
    """One fit (rank 0 of a torchrun group writes ``out``), as JSON."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        dist.init_process_group("gloo")
    X, y, X_test, y_test, source = fashion_mnist_lt(100, allow_synthetic=True)
    bb = Backbone(module="cnn", max_epochs=epochs, batch_size=128, lr=0.05, warmup_epochs=1,
                  augment="none", random_state=0, n_threads=threads, device="cpu").fit(X, y)
    if world == 1 or dist.get_rank() == 0:
        durations = [float(d) for d in bb.net_.history[:, "dur"]]
        result = {"processes": world, "threads_per_process": threads, "data": source,
                  "epoch_s": durations, "img_per_s": len(y) * epochs / sum(durations),
                  "balanced_accuracy": balanced_accuracy_score(y_test, bb.predict(X_test))}
        Path(out).write_text(json.dumps(result))
    if world > 1:
        dist.destroy_process_group()


def stage1_rows(epochs):
    rows = []
    folder = Path(tempfile.mkdtemp(prefix="bench-ddp-"))
    runs = [("1 process, 1 thread", 1, 1), ("1 process, 2 threads", 1, 2),
            ("2 processes (torchrun, gloo), 1 thread each", 2, 1)]
    for name, procs, threads in runs:
        out = folder / f"{procs}x{threads}.json"
        cmd = [sys.executable, str(Path(__file__)), "--stage1-child", str(epochs), str(threads),
               str(out)]
        if procs > 1:
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   f"--nproc_per_node={procs}"] + cmd[1:]
        subprocess.run(cmd, check=True, cwd=HERE, capture_output=True, text=True,
                       env={**os.environ, "OMP_NUM_THREADS": str(threads)})
        rows.append({"run": name, **json.loads(out.read_text())})
        print(f"  {name}: {rows[-1]['img_per_s']:.0f} img/s, balanced accuracy "
              f"{rows[-1]['balanced_accuracy']:.3f}", flush=True)
    for row in rows:
        row["ratio_to_1x1"] = row["img_per_s"] / rows[0]["img_per_s"]
        row["ratio_to_1x2"] = row["img_per_s"] / rows[1]["img_per_s"]
    return rows


def main(argv=None):
    if argv and argv[0] == "--stage1-child":
        return stage1_fit(int(argv[1]), int(argv[2]), argv[3])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer epochs")
    ap.add_argument("--epochs", type=int, default=None, help="stage-1 epochs (default 3)")
    args = ap.parse_args(argv)
    load_start = load_average()
    contention = CpuContention()
    search_epochs = 15 if args.quick else 60
    print(f"tau search: 21 tau x 5 folds on digits-LT, MLP {search_epochs} epochs; load average "
          f"at start {load_start}", flush=True)
    searches = search_rows(search_epochs)
    print(table(searches, [("run", "search", ""), ("wall_s", "wall s", ".1f"),
                           ("backbone_fits", "backbone fits", "d"),
                           ("best_tau", "best tau", ".1f"), ("best_score", "best score", ".4f")]))
    dask = searches[1]
    print(f"speed-up {dask['speedup']:.2f}x (cluster start-up {dask['cluster_start_s']:.1f} s "
          f"not included); largest score difference {dask['max_abs_score_diff']:.2g}\n")
    epochs = args.epochs or (1 if args.quick else 3)
    stage1 = stage1_rows(epochs)
    print(table(stage1, [("run", "stage 1", ""), ("img_per_s", "img/s", ".0f"),
                         ("ratio_to_1x1", "vs 1x1", ".2f"), ("ratio_to_1x2", "vs 1x2", ".2f"),
                         ("balanced_accuracy", "bal. acc.", ".3f")]))
    others = contention.other_fraction()
    path = write_json("bench_distributed", {
        "benchmark": "bench_distributed", "search": searches, "search_epochs": search_epochs,
        "stage1": stage1, "stage1_epochs": epochs, "load_average_start": load_start,
        "load_average_end": load_average(), "other_processes_cpu_fraction": others,
        "machine": machine_info("cpu"),
    }, quick=args.quick)
    print(f"other processes used {'?' if others is None else f'{100 * others:.0f}%'} of the "
          f"CPU; wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
