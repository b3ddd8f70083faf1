"""
==============================
Decoupling on Fashion-MNIST-LT
==============================

Kang et al. (ICLR 2020, "Decoupling representation and classifier for long-tailed
recognition") split long-tailed training in two. Stage 1 learns the representation
with plain instance-balanced sampling, each image drawn as often as any other, together
with a linear classifier, the *joint head*. Stage 2 freezes that representation and
re-balances only the classifier. They found that re-balanced sampling does not give
better features than plain sampling, that re-balancing the classifier alone matches or
beats methods that re-balance the whole training, and that the joint head's bias towards
the head classes shows in the norms of its per-class weights.

This example trains one small CNN on a long-tailed Fashion-MNIST, computes its features
once, and compares on those same features the joint head with the three stage-2
classifiers of the paper: classifier re-training (cRT), τ-normalisation and learnable
weight scaling (LWS). It needs the Fashion-MNIST files (see below); without them it runs
on the bundled digits-LT instead and says so.
"""

# %%
# A long-tailed Fashion-MNIST
# ---------------------------
#
# :func:`~sklearn_lt.datasets.load_fashion_mnist` reads the four official files from a
# folder: ``$SKLEARN_LT_DATA/fashion-mnist`` when that variable is set, else
# ``shared/data/fashion-mnist`` next to the repository (the documentation build runs
# this script from ``examples/``).
#
# :func:`~sklearn_lt.datasets.make_long_tailed` sub-samples the balanced training set
# with the CIFAR-LT protocol: class *i* keeps ``int(n_max * 100 ** (-i / 9))`` images, an
# imbalance factor of 100 between the first and the last class. We cap the head at
# ``n_max=1000`` images (the full set has 6,000 per class) so that the example trains in
# seconds on a CPU, and so that, with the usual thresholds (many-shot: more than 100
# training images; few-shot: fewer than 20), all three shot groups have classes.
# ``dev_size=20`` first holds out a balanced development set of 20 images per class,
# which we use below to choose τ; the test set is the official balanced one, 1,000
# images per class, and is used for nothing but the final numbers.
import os
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from sklearn_lt.datasets import load_digits_lt, load_fashion_mnist, make_long_tailed

start = time.perf_counter()
data_dir = Path(os.environ.get("SKLEARN_LT_DATA", Path.cwd().parents[1] / "shared" / "data"))
try:
    fm = load_fashion_mnist(data_dir / "fashion-mnist")
except FileNotFoundError:
    fm = None

if fm is not None:
    dataset = "Fashion-MNIST-LT"
    X_train, y_train, X_dev, y_dev = make_long_tailed(
        fm.X_train, fm.y_train, imbalance_factor=100, n_max=1000, dev_size=20,
        random_state=0)
    X_test, y_test = fm.X_test, fm.y_test
    class_names = fm.target_names
    # A small CNN (two convolutional blocks of 16 and 32 channels), 15 epochs with
    # cosine decay; the images are randomly cropped during training (augment="auto").
    backbone_params = dict(module="cnn", module__widths=(16, 32), max_epochs=15,
                           lr_schedule="cosine", weight_decay=5e-4)
else:
    print(f"Fashion-MNIST not found in {data_dir / 'fashion-mnist'}: using digits-LT.")
    dataset = "digits-LT"
    d = load_digits_lt()
    X_train, y_train = d.X_train, d.y_train
    # digits-LT has a balanced test set of 30 images per class: 10 of them become the
    # development set.
    X_dev, X_test, y_dev, y_test = train_test_split(
        d.X_test, d.y_test, train_size=100, stratify=d.y_test, random_state=0)
    class_names = [str(c) for c in d.target_names]
    backbone_params = dict(module="mlp", max_epochs=30)

print(f"{dataset}, training images per class:")
print(", ".join(f"{name} {n}" for name, n in zip(class_names, np.bincount(y_train))))
print(f"development set: {len(y_dev)} images, test set: {len(y_test)} images")

# %%
# Stage 1: one backbone, features computed once
# ---------------------------------------------
#
# :class:`~sklearn_lt.Backbone` trains the network and its joint head with
# instance-balanced sampling and plain cross-entropy, as stage 1 of the paper
# prescribes. ``transform`` then maps every image to its penultimate features, once:
# stage 2 never runs the network again. ``n_threads=1``: a network this small runs
# faster on one thread than on two, and the documentation build shares the machine.
from sklearn_lt import Backbone

t0 = time.perf_counter()
backbone = Backbone(**backbone_params, random_state=0, n_threads=1).fit(X_train, y_train)
print(f"stage 1 trained in {time.perf_counter() - t0:.1f} s")
Z_train, Z_dev, Z_test = (backbone.transform(X) for X in (X_train, X_dev, X_test))
print("features:", Z_train.shape[1], "per image")

# %%
# Stage 2: three ways to re-balance the classifier
# ------------------------------------------------
#
# All three see only the cached features and the training labels:
#
# - :class:`~sklearn_lt.heads.CRTClassifier` (cRT) throws the joint head away and
#   re-trains a linear classifier from scratch with class-balanced sampling, every class
#   drawn equally often. By default it minimises the loss that sampling optimises in
#   expectation (class-weighted cross-entropy) with a deterministic L-BFGS solver.
# - :class:`~sklearn_lt.heads.TauNormClassifier` re-trains nothing: it divides the weight
#   vector ``w_j`` of each class in the joint head by ``||w_j|| ** tau`` and drops the
#   bias. ``tau=0`` is the joint head without its bias; ``tau=1`` gives every class a
#   weight vector of norm 1.
# - :class:`~sklearn_lt.heads.LWSClassifier` (learnable weight scaling) keeps the joint
#   head's weights and learns one scale per class, with class-balanced sampling, by SGD.
#
# τ-norm and LWS start from the joint head, passed as ``joint_head=(coef, intercept)``.
# The defaults of LWS's SGD are Kang et al.'s ImageNet-LT settings (batch 512, lr 0.2);
# on a training set this small we use batch 128 with the learning rate scaled with it,
# so that it takes a few hundred steps.
from sklearn_lt.heads import CRTClassifier, LWSClassifier, TauNormClassifier

joint_head = (backbone.coef_, backbone.intercept_)
crt = CRTClassifier(n_threads=1).fit(Z_train, y_train)
tau_norm = TauNormClassifier(joint_head=joint_head, n_threads=1).fit(Z_train, y_train)
lws = LWSClassifier(joint_head=joint_head, batch_size=128, lr=0.05, epochs=5,
                    random_state=0, n_threads=1).fit(Z_train, y_train)

# %%
# Kang et al. choose τ on a validation set. τ is read at prediction time, so trying a
# value is ``set_params(tau=...)`` without refitting; we keep the one with the best
# balanced accuracy on the development set (never on the test set).
from sklearn.metrics import balanced_accuracy_score

taus = np.linspace(0, 2, 21)
dev_scores = [balanced_accuracy_score(y_dev, tau_norm.set_params(tau=t).predict(Z_dev))
              for t in taus]
best_tau = taus[int(np.argmax(dev_scores))]
tau_norm.set_params(tau=best_tau)
print(f"tau chosen on the development set: {best_tau:.1f}")

# %%
# Accuracy per shot split
# -----------------------
#
# Each test class is put in a group by its number of *training* images: many-shot
# (more than 100), medium-shot (20 to 100) and few-shot (fewer than 20);
# :func:`~sklearn_lt.metrics.shot_accuracy` averages the per-class test accuracies of
# each group, and ``all`` is the mean over every class (the balanced accuracy). The
# joint head predicts from images (the Backbone), the heads from the cached features.
from sklearn_lt.metrics import shot_accuracy

predictions = {
    "joint": backbone.predict(X_test),
    "cRT": crt.predict(Z_test),
    f"tau-norm (tau={best_tau:.1f})": tau_norm.predict(Z_test),
    "LWS": lws.predict(Z_test),
}
counts = backbone.class_counts_
splits = ("many", "medium", "few", "all")
print(f"{'test accuracy (%)':<22}" + "".join(f"{s:>8}" for s in splits))
for name, y_pred in predictions.items():
    acc = shot_accuracy(y_test, y_pred, counts, labels=backbone.classes_)
    print(f"{name:<22}" + "".join(f"{100 * acc[s]:>8.1f}" for s in splits))

# %%
# Accuracy of each class
# ----------------------
#
# :class:`~sklearn_lt.inspection.ClassAccuracyDisplay` draws each class's test accuracy,
# classes in decreasing order of training size, the shot groups shaded: the figure Kang
# et al. use to compare the heads.
import matplotlib.pyplot as plt

from sklearn_lt.inspection import ClassAccuracyDisplay, WeightNormDisplay

fig, ax = plt.subplots(figsize=(7, 4.2))
for name, y_pred in predictions.items():
    ClassAccuracyDisplay.from_predictions(y_test, y_pred, counts, labels=backbone.classes_,
                                          name=name, ax=ax)
ax.legend(loc="lower left")
ax.set_title(f"{dataset}: test accuracy per class")
fig.tight_layout()

# %%
# Norms of the classifier weights
# -------------------------------
#
# Why re-scaling the joint head can work at all: trained on a long tail, its weight
# vectors are longer for the classes with more training images, so those classes win
# close calls. :class:`~sklearn_lt.inspection.WeightNormDisplay` draws ``||w_j||`` of
# each classifier against the class's training size. For τ-norm it is
# ``||w_j|| ** (1 - tau)``, for LWS the learned scale times ``||w_j||``. cRT is a new
# classifier with its own regularisation, so its norms have their own overall level;
# on a log axis multiplying all of a classifier's weights by one constant shifts its
# curve without changing its shape, so the shapes can be compared.
from matplotlib.ticker import ScalarFormatter

models = dict(zip(predictions, (backbone, crt, tau_norm, lws)))
fig, ax = plt.subplots(figsize=(7, 4.2))
norms = {name: WeightNormDisplay.from_estimator(model, name=name, ax=ax)
         for name, model in models.items()}
ax.set_yscale("log")
ax.yaxis.set_major_formatter(ScalarFormatter())
ax.yaxis.set_minor_formatter(ScalarFormatter())
ax.set_title(f"{dataset}: weight norm per class")
fig.tight_layout()

# %%
# Each display keeps the values it drew (``norms``, with ``class_counts``). The mean
# norm of each shot group, divided by the classifier's mean norm over all classes so
# that the rows compare:
print(f"{'relative weight norm':<22}" + "".join(f"{s:>8}" for s in splits[:3]))
for name, disp in norms.items():
    groups = {"many": disp.class_counts > 100, "few": disp.class_counts < 20}
    groups["medium"] = ~groups["many"] & ~groups["few"]
    relative = disp.norms / disp.norms.mean()
    print(f"{name:<22}" + "".join(f"{relative[groups[s]].mean():>8.2f}" for s in splits[:3]))
print(f"run time: {time.perf_counter() - start:.0f} s")

# %%
# What we saw
# -----------
#
# On Fashion-MNIST-LT (the digits-LT fallback, with its near-perfect joint head and
# small test set, shows much smaller differences):
#
# - The joint head is most accurate on the many-shot classes and falls off towards the
#   tail, and its relative weight norm falls from the many- to the few-shot group: the
#   bias Kang et al. describe.
# - All three stage-2 classifiers, fitted in seconds on the cached features, raise the
#   few-shot and the balanced accuracy over the joint head, with little change on the
#   many-shot classes. The features were learned without any re-balancing and were
#   left untouched: only the classifier changed.
# - τ-norm, with the τ chosen on the development set, makes the norms nearly equal; LWS
#   learns scales that reverse the joint head's order, the few-shot weights ending
#   longer than the many-shot ones. cRT re-trains the bias as well as the weights, so
#   its norms alone do not tell how it re-balances.
# - The medium-shot group is not easier than the few-shot one: it holds "Shirt" (the
#   seventh class in the figure), on which every classifier here does far worse than
#   on its neighbours. Shot groups mix class size with class difficulty.
# - How cRT, τ-norm and LWS rank against each other depends on the run (the seed, the
#   backbone, the stage-2 settings): one run with one seed is not a benchmark.
#   ``benchmarks/bench_heads_quality.py`` in the repository compares every head, and the
#   user guide's "Choosing and tuning a head" says when to use which.
