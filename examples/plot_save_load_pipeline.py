"""
=====================================================
Saving a GPU-trained pipeline and loading it on a CPU
=====================================================

A fitted :class:`~sklearn_lt.Backbone` is a scikit-learn estimator holding a torch
network, and it pickles like any other estimator. This example fits a two-stage
pipeline with ``device="auto"``, saves it with :func:`joblib.dump`, loads it again in a
separate Python process that cannot see any GPU, checks that the predictions agree, and
shows how to move a loaded network from one device to another.

On the machine that builds this documentation there may be no GPU: the backbone then
trains on the CPU, and the same code trains on the GPU where CUDA is present. Everything
below holds either way; the text says where the two differ.
"""

# %%
# Fit a pipeline with ``device="auto"``
# -------------------------------------
#
# ``device="auto"`` (the default) trains on CUDA when torch sees a GPU, with bfloat16
# autocast, and on the CPU otherwise. The head,
# :class:`~sklearn_lt.heads.LogitAdjustedClassifier`, is fitted on the backbone's
# features; once fitted, every stage-2 head predicts with NumPy arrays (``coef_``,
# ``intercept_``), so only the backbone involves a device at all.
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import joblib
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.pipeline import Pipeline

import sklearn_lt
from sklearn_lt import Backbone
from sklearn_lt.datasets import load_digits_lt
from sklearn_lt.heads import LogitAdjustedClassifier
from sklearn_lt.metrics import shot_accuracy

start = time.perf_counter()
d = load_digits_lt()
pipe = Pipeline([
    ("feat", Backbone(module="mlp", max_epochs=30, batch_size=64, lr=0.05,
                      weight_decay=5e-4, device="auto", random_state=0, n_threads=1)),
    ("clf", LogitAdjustedClassifier(n_threads=1)),
])
pipe.fit(d.X_train, d.y_train)

backbone = pipe.named_steps["feat"]
print("CUDA available here:        ", torch.cuda.is_available())
print("the network's weights are on:", next(backbone.module_.parameters()).device)
print("bfloat16 autocast:          ", backbone.net_.amp)
proba = pipe.predict_proba(d.X_test)
acc = shot_accuracy(d.y_test, pipe.predict(d.X_test), backbone.class_counts_,
                    labels=backbone.classes_)
print("test accuracy (%):", {k: round(100 * v, 1) for k, v in acc.items()})

# %%
# Save it
# -------
#
# :func:`joblib.dump` pickles the whole pipeline: the head's arrays and the backbone's
# fitted skorch net. The Backbone writes that net through ``torch.save``, so that every
# tensor in it (the network's weights and batch-norm statistics, the loss, the
# optimiser and the learning-rate schedule holding it) can be mapped to another device
# when the file is loaded. A pickle is loaded as code: load
# only files you trust.
tmpdir = Path(tempfile.mkdtemp(prefix="sklearn_lt_example_"))
model_path = tmpdir / "pipeline.joblib"
joblib.dump(pipe, model_path)
print(f"{model_path.name}: {model_path.stat().st_size / 1024:.0f} KiB")
n_weights = sum(p.numel() for p in backbone.module_.parameters())
print(f"the network has {n_weights:,} weights ({4 * n_weights / 1024:.0f} KiB in float32)")

# %%
# The file is several times the size of the weights: it holds the whole fitted net, with
# the optimiser's state, the learning-rate schedule and the training history, not only
# the weights.
#
# Load it where there is no GPU
# -----------------------------
#
# A fresh Python process with ``CUDA_VISIBLE_DEVICES=""`` stands in for a CPU-only
# machine: torch sees no GPU there, whether or not this one has one. It loads the file
# and writes the predicted probabilities of the test set next to it.
LOAD_SCRIPT = """
import sys
import joblib
import numpy as np
import torch

model_path, X_path, out_path = sys.argv[1:]
pipe = joblib.load(model_path)
backbone = pipe.named_steps["feat"]
print("CUDA available:", torch.cuda.is_available())
print("loaded weights are on:", next(backbone.module_.parameters()).device)
np.save(out_path, pipe.predict_proba(np.load(X_path)))
"""
np.save(tmpdir / "X_test.npy", d.X_test)
env = dict(os.environ, CUDA_VISIBLE_DEVICES="",
           PYTHONPATH=os.pathsep.join([str(Path(sklearn_lt.__file__).parents[1]),
                                       os.environ.get("PYTHONPATH", "")]))
run = subprocess.run(
    [sys.executable, "-c", LOAD_SCRIPT, str(model_path), str(tmpdir / "X_test.npy"),
     str(tmpdir / "proba_cpu.npy")],
    capture_output=True, text=True, env=env, check=True, timeout=300)
print(run.stdout.strip())
if run.stderr.strip():
    print("the loading process warned:\n" + run.stderr.strip())

proba_cpu = np.load(tmpdir / "proba_cpu.npy")
print("same predicted classes:", np.array_equal(proba_cpu.argmax(1), proba.argmax(1)))
print(f"largest difference of a probability: {np.abs(proba_cpu - proba).max():.2g}")

# %%
# Where the pipeline was fitted on the CPU, as on a machine without CUDA, the loading
# process printed no warning and its probabilities equal the original ones exactly.
#
# On a machine with CUDA, the backbone above trains on the GPU, and the loading process
# is then the case of this example's title: a file written after a GPU fit, read where
# there is none. skorch records the device its net trained on (``"cuda"``). Where CUDA
# is not available, the Backbone maps every tensor of the net to the CPU as it loads,
# and skorch sets the net's device to ``"cpu"`` and says so with two
# ``skorch.exceptions.DeviceWarning`` messages ("Requested to load data to CUDA but no
# CUDA devices are available. Loading on device "cpu" instead." and "Setting
# self.device = cpu since the requested device (cuda) is
# not available."), which the loading process above would print. The CPU computes in
# float32 where the GPU used bfloat16 autocast, so the probabilities then agree closely
# but not bit for bit.
#
# Move a loaded network to another device
# ---------------------------------------
#
# The ``device`` parameter says where the *next* ``fit`` trains:
# ``set_params(feat__device="cpu")`` does not move a network that is already fitted.
# Leave it at ``"auto"`` and a refit (``sklearn.base.clone(pipe).fit(...)``) trains on
# whatever the machine has. The fitted network is the torch module ``module_``;
# ``transform`` and ``predict`` run on the device its weights are on, so moving it with
# torch's ``.to(...)`` is all it takes:
loaded = joblib.load(model_path)
loaded_backbone = loaded.named_steps["feat"]
target = "cuda" if torch.cuda.is_available() else "cpu"
loaded_backbone.module_.to(target)
print("weights now on:", next(loaded_backbone.module_.parameters()).device)
print("same predictions as before saving:",
      np.array_equal(loaded.predict(d.X_test), pipe.predict(d.X_test)))

# %%
# On a GPU machine ``target`` is ``"cuda"``; ``loaded_backbone.module_.cpu()`` moves it
# back. The test-set probabilities before saving and after loading in the CPU-only
# process, one point per test image and class:
fig, ax = plt.subplots(figsize=(4.2, 4))
ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
ax.scatter(proba.ravel(), proba_cpu.ravel(), s=6, alpha=0.5)
ax.set_xlabel("predict_proba before saving")
ax.set_ylabel("predict_proba after loading (no GPU)")
ax.set_title("the loaded pipeline predicts the same")
fig.tight_layout()

# %%
# Clean up the temporary folder.
shutil.rmtree(tmpdir)
print(f"run time: {time.perf_counter() - start:.0f} s")

# %%
# What we saw
# -----------
#
# - The pipeline, fitted with ``device="auto"``, saved to one file with
#   :func:`joblib.dump`; the file is a small multiple of the network's weights.
# - A separate process with no GPU in sight loaded it and predicted what the original
#   pipeline predicts. Fitted and loaded on CPUs, the probabilities are identical; from a
#   file written on a GPU, expect agreement up to bfloat16 rounding, which can flip the
#   odd borderline prediction.
# - Moving a loaded network to another device is ``module_.to(device)``; ``set_params``
#   only changes where the next fit trains.
