"""
Stage 1 on several processes (DistributedDataParallel)
======================================================

Launch this script with ``torchrun``; each process runs it whole::

    torchrun --standalone --nproc_per_node=2 examples/train_data_parallel.py model.joblib

``torch.distributed.init_process_group`` joins the processes (gloo on CPUs,
NCCL on GPUs, one GPU per process). Inside the group, ``Backbone.fit``
trains data-parallel: the same epoch order on every rank, a shard of each
global batch of ``batch_size`` per rank, gradients averaged over the ranks
at every step. Every rank ends with the same weights; rank 0 saves the
fitted Backbone, an ordinary estimator that loads and predicts in one
process.

This script is not executed by the documentation build (it needs
``torchrun``); ``tests/test_distributed.py`` launches it with 2 processes
and compares the result with a one-process fit of the same global batch.
"""

import sys

import joblib
import torch
import torch.distributed as dist

from sklearn_lt import Backbone
from sklearn_lt.datasets import load_digits_lt

# %%
# Join the process group that torchrun set up through its environment variables.
dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
rank = dist.get_rank()
if torch.cuda.is_available():
    torch.cuda.set_device(rank % torch.cuda.device_count())

# %%
# Every rank loads the same data and fits the same estimator. On CPUs the
# MLP trains without batch norm, which torch synchronises on GPUs only
# (``sync_batch_norm=True`` there).
d = load_digits_lt()
backbone = Backbone(module="mlp", module__batch_norm=False, max_epochs=10, batch_size=64,
                    lr=0.05, warmup_epochs=1, random_state=0, n_threads=1,
                    device="cuda" if torch.cuda.is_available() else "cpu",
                    verbose=1).fit(d.X_train, d.y_train)

# %%
# Rank 0 saves the model; the others hold the same weights.
if rank == 0:
    joblib.dump(backbone, sys.argv[1] if len(sys.argv) > 1 else "backbone.joblib")
    print(f"test accuracy {backbone.score(d.X_test, d.y_test):.3f}")
dist.destroy_process_group()
