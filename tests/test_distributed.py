"""Beyond one process: a shared cache with a lock, and a tau search on a Dask cluster."""

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline

from sklearn_lt import Backbone
from sklearn_lt.datasets import load_digits_lt
from sklearn_lt.heads import TauNormClassifier
from sklearn_lt.nn import MLP
from sklearn_lt.utils import LockedMemory

fork = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                          reason="needs the fork start method")


def _slow_square(x, log):
    with open(log, "a") as f:
        f.write("computed\n")
    time.sleep(1.5)
    return x * x


def _call_cached(memory, log, barrier, out):
    cached = memory.cache(_slow_square)
    barrier.wait()  # both processes call at the same moment
    out.put(cached(7, log))


def _computations(memory, tmp_path):
    ctx = multiprocessing.get_context("fork")
    log = tmp_path / "log.txt"
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_call_cached, args=(memory, str(log), barrier, out))
             for _ in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert results == [49, 49]
    return log.read_text().count("computed")


@fork
def test_locked_memory_computes_a_shared_key_once(tmp_path):
    # Two processes reach the same cached call together: with joblib.Memory
    # both compute it (no lock: this is the race a search on a cluster hits),
    # with LockedMemory the second waits and loads the first one's result.
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert _computations(joblib.Memory(tmp_path / "plain", verbose=0), tmp_path / "a") == 2
    assert _computations(LockedMemory(tmp_path / "locked"), tmp_path / "b") == 1


def test_locked_memory_keys_by_arguments_and_keeps_memory_api(tmp_path):
    memory = LockedMemory(tmp_path)
    cached = memory.cache(np.square)
    np.testing.assert_array_equal(cached(np.arange(3)), [0, 1, 4])
    assert cached.check_call_in_cache(np.arange(3))
    assert not cached.check_call_in_cache(np.arange(4))
    assert len(list((tmp_path / "sklearn_lt_locks").glob("*.lock"))) == 1
    import pickle

    again = pickle.loads(pickle.dumps(memory))  # travels to workers
    assert again.cache(np.square).check_call_in_cache(np.arange(3))


# ---------------------------------------------------------------------- Dask
class CountingMLP(MLP):
    """An MLP that records each construction, i.e. each Backbone fit, in a file."""

    def __init__(self, in_features=64, log=None, **kwargs):
        super().__init__(in_features, **kwargs)
        with open(log, "a") as f:
            f.write("fit\n")


def _search(memory, log, n_jobs):
    d = load_digits_lt()
    pipe = Pipeline([("feat", Backbone(module=CountingMLP, module__log=str(log),
                                       module__hidden=(32,), max_epochs=8, batch_size=64,
                                       lr=0.05, warmup_epochs=1, random_state=0, n_threads=1,
                                       device="cpu")),
                     ("clf", TauNormClassifier())], memory=memory)
    search = GridSearchCV(pipe, {"clf__tau": np.linspace(0, 2, 5)}, scoring="balanced_accuracy",
                          cv=StratifiedKFold(3, shuffle=True, random_state=0), n_jobs=n_jobs)
    return search.fit(d.X_train, d.y_train)


@pytest.mark.slow
def test_tau_search_on_a_dask_local_cluster_matches_one_process(tmp_path):
    distributed = pytest.importorskip("distributed")
    serial = _search(joblib.Memory(tmp_path / "serial", verbose=0), tmp_path / "serial.log", 1)
    assert (tmp_path / "serial.log").read_text().count("fit") == 3 + 1  # 3 folds + refit
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as cluster, \
            distributed.Client(cluster), joblib.parallel_backend("dask"):
        on_dask = _search(LockedMemory(tmp_path / "shared"), tmp_path / "dask.log", -1)
    assert on_dask.best_params_ == serial.best_params_
    np.testing.assert_allclose(on_dask.cv_results_["mean_test_score"],
                               serial.cv_results_["mean_test_score"], rtol=0, atol=1e-12)
    # Each fold's backbone was fitted once on the cluster, whatever the
    # order in which the two workers took the 15 (tau, fold) tasks.
    assert (tmp_path / "dask.log").read_text().count("fit") == 3 + 1


# ---------------------------------------------------------------------- DDP
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_data_parallel.py"


@pytest.mark.slow
def test_two_process_data_parallel_fit_matches_one_process(tmp_path):
    # The documented example, launched as the docs say (torchrun, gloo, 2 CPU
    # processes), against one process with the same global batch of 64.
    out = tmp_path / "ddp.joblib"
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         str(EXAMPLE), str(out)], capture_output=True, text=True, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    # Only rank 0 logged: one table, one header row.
    assert run.stdout.count("train_loss") == 1 and "test accuracy" in run.stdout
    ddp = joblib.load(out)
    assert type(ddp) is Backbone and "ddp_" not in ddp.net_.__dict__
    d = load_digits_lt()
    one = Backbone(**{k: v for k, v in ddp.get_params().items() if k != "verbose"}).fit(
        d.X_train, d.y_train)
    # Same data, order, initialisation and global batches; the two shards' mean
    # gradients are averaged instead of one mean over 64 rows, which changes
    # float32 rounding only. After 10 epochs (about 90 steps) features agree
    # to about 1e-5 of their scale.
    Z_ddp, Z_one = ddp.transform(d.X_test), one.transform(d.X_test)
    np.testing.assert_allclose(Z_ddp, Z_one, atol=1e-4 * np.abs(Z_one).max())
    np.testing.assert_array_equal(ddp.predict(d.X_test), one.predict(d.X_test))


def _add(a, b, note=None):
    return a + b


def test_locked_memory_lock_follows_the_cache_key(tmp_path):
    # Arguments the cache ignores (Pipeline ignores its caller) do not change the lock.
    cached = LockedMemory(tmp_path).cache(_add, ignore=["note"])
    assert cached(1, 2, note="x") == 3 and cached(1, 2, note="y") == 3
    assert cached(2, 2) == 4
    assert len(list((tmp_path / "sklearn_lt_locks").glob("*.lock"))) == 2


def test_locked_memory_makes_threads_of_one_process_wait_too(tmp_path):
    # lockf locks belong to the process: without a thread lock, two threads of
    # one Dask worker would both compute the key.
    import threading

    log = tmp_path / "log.txt"
    cached = LockedMemory(tmp_path / "cache").cache(_slow_square)
    barrier = threading.Barrier(2)

    def call():
        barrier.wait()
        cached(5, str(log))

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log.read_text().count("computed") == 1


RANK_SCRIPT = """
import sys
import numpy as np
import torch.distributed as dist
from sklearn_lt import Backbone
from sklearn_lt.datasets import load_digits_lt

dist.init_process_group("gloo")
d = load_digits_lt()
# 450 rows in batches of 64: the last global batch has 2 rows, one per rank, on
# which batch norm cannot train; every rank must skip it together.
X, y = d.X_train[:450], d.y_train[:450]
bb = Backbone(module="mlp", module__hidden=(16,), max_epochs=3, batch_size=64, lr=0.05,
              warmup_epochs=1, train_split=0.2, random_state=0, n_threads=1,
              device="cpu").fit(X, y)
buffers = np.concatenate([b.detach().double().numpy().ravel()
                          for b in bb.module_.buffers()])
np.save(sys.argv[1] + f"/rank{dist.get_rank()}.npy", buffers)
dist.destroy_process_group()
"""


@pytest.mark.slow
def test_data_parallel_ranks_end_with_one_model_despite_batch_norm_and_tiny_batches(tmp_path):
    script = tmp_path / "fit.py"
    script.write_text(RANK_SCRIPT)
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         str(script), str(tmp_path)], capture_output=True, text=True, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    # Each rank updated its batch-norm statistics from its own shard; rank 0's
    # were given to every rank at the end, so the ranks hold one model.
    np.testing.assert_array_equal(np.load(tmp_path / "rank0.npy"),
                                  np.load(tmp_path / "rank1.npy"))


def test_shards_split_a_batch_and_skip_one_too_small():
    import torch

    from sklearn_lt.backbone._distributed import shard_of

    idx = torch.arange(5)
    assert shard_of(idx, (0, 2)).tolist() == [0, 1, 2] and shard_of(idx, (1, 2)).tolist() == [3, 4]
    assert shard_of(idx[:1], (1, 2)) is None  # an empty shard: its mean loss would be NaN
    assert shard_of(idx[:3], (0, 2), drop_single=True) is None  # one row for batch norm
    assert shard_of(idx, None) is idx
