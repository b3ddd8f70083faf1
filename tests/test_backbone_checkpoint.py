"""Backbone(checkpoint=...): a fit killed mid-epoch resumes and ends bit-identical."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs

from sklearn_lt import Backbone

REPO = Path(__file__).resolve().parents[1]
PARAMS = dict(module="mlp", module__hidden=(16,), max_epochs=8, batch_size=16, lr=0.05,
              warmup_epochs=1, sampler="progressive", random_state=0, device="cpu",
              module__dropout=0.2, swag=True, swa_start=4, swa_snapshots_per_epoch=2,
              swag_rank=3, swag_samples=2)

# Killed by SIGKILL from inside the training loop, in epoch 5 (of 8) after its
# 3rd batch: nothing of that epoch is saved, and nothing can clean up.
KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    import torch
    torch.set_num_threads(1)  # as the tests (conftest): float sums depend on the thread count
    from sklearn.datasets import make_blobs
    import sklearn_lt.backbone._callbacks as cb
    from sklearn_lt import Backbone

    original = cb.Throughput.on_batch_end
    def on_batch_end(self, net, batch, training, **kw):
        original(self, net, batch, training, **kw)
        if training and len(net.history) == 5 and len(net.history[-1]["batches"]) == 3:
            os.kill(os.getpid(), signal.SIGKILL)
    cb.Throughput.on_batch_end = on_batch_end
    X, y = make_blobs(n_samples=[120, 40, 12], n_features=5, random_state=0)
    Backbone(**{params!r}, checkpoint=sys.argv[1]).fit(X.astype(np.float32), y)
""")


def _data():
    X, y = make_blobs(n_samples=[120, 40, 12], n_features=5, random_state=0)
    return X.astype(np.float32), y


def _state(bb):
    params = torch.nn.utils.parameters_to_vector(bb.module_.parameters()).detach()
    return params, [b.clone() for b in bb.module_.buffers()]


def test_killed_fit_resumes_bit_identical(tmp_path):
    X, y = _data()
    reference = Backbone(**PARAMS).fit(X, y)
    folder = tmp_path / "ckpt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO),
                                                         os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-c", KILLED_RUN.format(params=PARAMS), str(folder)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == -9, run.stderr[-2000:]  # killed, as intended
    assert (folder / "LATEST").read_text() == "epoch-00004"  # epochs 0..3 completed
    resumed = Backbone(**PARAMS, checkpoint=str(folder)).fit(X, y)
    checkpoint = dict(resumed.net_.callbacks_)["checkpoint"]
    assert checkpoint.resumed_from_ == 4
    assert len(resumed.history_) == 8
    # Same weights, batch-norm statistics, SWAG posterior and draws, to the bit:
    # the resumed epochs replay the same sampler draws, dropout masks and steps.
    (p1, b1), (p2, b2) = _state(reference), _state(resumed)
    assert torch.equal(p1, p2) and all(torch.equal(a, b) for a, b in zip(b1, b2))
    assert torch.equal(reference.swag_.sq_mean, resumed.swag_.sq_mean)
    np.testing.assert_array_equal(reference.transform_stochastic(X),
                                  resumed.transform_stochastic(X))
    assert [h["train_loss"] for h in reference.history_] == \
        [h["train_loss"] for h in resumed.history_]
    # A completed fit removes its checkpoint.
    assert not (folder / "LATEST").exists() and not list(folder.glob("epoch-*"))


def test_another_runs_checkpoint_is_not_resumed(tmp_path):
    X, y = _data()
    params = dict(PARAMS, max_epochs=3, swag=False)
    folder = tmp_path / "ckpt"
    bb = Backbone(**params, checkpoint=str(folder))
    # Write a checkpoint of a run on other data by interrupting it after epoch 1.
    class Stop(Exception):
        pass

    def stop_after_two(net, **kwargs):
        if len(net.history) == 2:
            raise Stop

    import sklearn_lt.backbone._callbacks as cb
    original = cb.CheckpointWriter.on_epoch_end

    def on_epoch_end(self, net, **kwargs):
        original(self, net, **kwargs)
        stop_after_two(net)

    cb.CheckpointWriter.on_epoch_end = on_epoch_end
    try:
        with pytest.raises(Stop):
            bb.fit(X[:100], y[:100])
    finally:
        cb.CheckpointWriter.on_epoch_end = original
    assert (folder / "LATEST").exists()
    with pytest.warns(UserWarning, match="belongs to another run"):
        fresh = Backbone(**params, checkpoint=str(folder)).fit(X, y)
    expected = Backbone(**params).fit(X, y)
    assert torch.equal(_state(fresh)[0], _state(expected)[0])
