"""
=======================================
Tuning τ without refitting the backbone
=======================================

τ-normalisation (Kang et al., ICLR 2020) divides the weight vector of each class in the
jointly trained classifier by its norm to the power τ. With ``tau=0`` the head classes
keep the advantage their longer weight vectors give them; as τ grows the tail classes
gain and the head classes lose. Kang et al. choose τ on a validation set.

This example chooses τ by cross-validation with scikit-learn's
:class:`~sklearn.model_selection.GridSearchCV`, scoring the many-, medium- and
few-shot classes separately, and draws the trade-off. A grid search clones and refits
the whole pipeline for every candidate and every fold; with caching, the expensive
part, the network, is trained once per fold instead of once per τ. It also shows, with
the weight norms, what τ corrects.
"""

# %%
# The data and the pipeline
# -------------------------
#
# digits-LT (:func:`~sklearn_lt.datasets.load_digits_lt`): 144 training images of digit
# 0 down to 7 of digit 9, and a balanced test set of 30 images per digit, kept for the
# final numbers only.
#
# The pipeline is a :class:`~sklearn_lt.Backbone` (a small MLP, 30 epochs) followed by
# :class:`~sklearn_lt.heads.TauNormClassifier`. Inside a Pipeline the head receives the
# backbone's features, not the backbone itself; ``Backbone.fit_transform`` registers
# those training rows with a copy of its joint head, and the head's default
# ``joint_head="auto"`` finds it from the rows it is fitted on. So the head normalises
# the classifier trained jointly with the network, as Kang et al. do, and fits nothing
# itself; τ is only read at prediction time.
#
# ``Pipeline(memory=...)`` makes the search cheap: it stores each fitted Backbone on
# disk with joblib, keyed on its parameters and its training data. Candidates that
# differ only in ``clf__tau`` train the backbone on the same fold with the same
# parameters, so all but the first load it from the cache (and a Backbone loaded from
# the cache registers its training rows again). The key does not know about randomness:
# the Backbone needs an integer ``random_state`` for a cached model to be the one a
# fresh fit would give.
#
# ``n_threads=1``: a network this small runs faster on one thread than on two, and the
# documentation build shares the machine with other work.
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline

from sklearn_lt import Backbone
from sklearn_lt.datasets import load_digits_lt
from sklearn_lt.heads import TauNormClassifier

start = time.perf_counter()
d = load_digits_lt()
print("training images per digit:", d.class_counts.tolist())

cache = Path(tempfile.mkdtemp(prefix="sklearn_lt_tau_"))
pipe = Pipeline(
    [("feat", Backbone(module="mlp", max_epochs=30, random_state=0, n_threads=1)),
     ("clf", TauNormClassifier(n_threads=1))],
    memory=str(cache / "pipe"),  # scikit-learn takes a str (or a joblib.Memory)
)

# %%
# Folds, and the shot groups inside them
# --------------------------------------
#
# Five stratified folds need at least five training images in every class; the
# smallest digit has 7, so ``cv=5`` works, with one or two images of the rarest digit in
# each validation fold. That makes the few-shot scores of a single fold coarse, which
# is why the figure below shows their spread over the folds. (For a classifier ``cv=5``
# means ``StratifiedKFold(5)``, which we build ourselves to look at the folds.)
#
# The shot scorers (:func:`~sklearn_lt.metrics.make_shot_scorer`) read the training
# class sizes from the fitted pipeline, and during cross-validation those are the
# sizes in the training folds, 4/5 of the full ones. With the usual thresholds (many-shot:
# more than 100 images, few-shot: fewer than 20) digit 1 (103 images, 82 or 83 in a
# fold) would drop out of the many-shot group. We lower the thresholds to 80 and 18,
# values in the gaps between the folds' class sizes, so that every fold puts the same
# digits in each group as the full training set does.
from sklearn.model_selection import StratifiedKFold

cv = StratifiedKFold(n_splits=5)
folds = cv.split(d.X_train, d.y_train)
fold_counts = np.array([np.bincount(d.y_train[train]) for train, _ in folds])
print("training images per digit in the folds (min-max):",
      ", ".join(f"{lo}-{hi}" for lo, hi in zip(fold_counts.min(0), fold_counts.max(0))))

# %%
# The search
# ----------
#
# 21 values of τ from 0 to 2, five folds, one scorer per shot group and ``"all"``, the
# mean per-class accuracy (balanced accuracy), which ``refit="all"`` uses to pick τ and
# refit the pipeline on the whole training set.
from sklearn.model_selection import GridSearchCV

from sklearn_lt.metrics import make_shot_scorer

thresholds = dict(many_threshold=80, few_threshold=18)
scoring = {split: make_shot_scorer(split, **thresholds)
           for split in ("many", "medium", "few", "all")}
search = GridSearchCV(pipe, {"clf__tau": np.linspace(0, 2, 21)}, scoring=scoring,
                      refit="all", cv=cv)
t0 = time.perf_counter()
search.fit(d.X_train, d.y_train)
search_time = time.perf_counter() - t0

# %%
# How many times was the backbone trained?
# ----------------------------------------
#
# Without the caches the search would train 21 x 5 + 1 = 106 backbones (the last one
# for the refit). joblib keeps one folder per distinct call it has computed, so counting
# the folders of the pipeline's cached fitting step counts the backbones actually
# trained. ``joint_head_source_`` tells where each head's joint head came from.
n_candidates = len(search.cv_results_["params"])


def cache_entries(folder):
    """Results computed (and stored) by joblib under ``folder``: one folder per call."""
    return sum(1 for p in folder.rglob("*") if (p / "output.pkl").exists())


print(f"{n_candidates} candidates x {cv.get_n_splits()} folds + 1 refit = "
      f"{n_candidates * cv.get_n_splits() + 1} pipeline fits, in {search_time:.1f} s")
print("backbones trained:    ", cache_entries(cache / "pipe"))
print("joint head of the refitted pipeline's head:",
      search.best_estimator_.named_steps["clf"].joint_head_source_)

# %%
# The τ trade-off
# ---------------
#
# :class:`~sklearn_lt.inspection.TauSweepDisplay` draws the mean validation score of
# each shot group against τ, with a band of one standard deviation over the folds, and
# marks the τ the search chose.
import matplotlib.pyplot as plt

from sklearn_lt.inspection import TauSweepDisplay, WeightNormDisplay

fig, ax = plt.subplots(figsize=(7, 4.2))
TauSweepDisplay.from_estimator(search, ax=ax)
ax.set_title("digits-LT: 5-fold cross-validated accuracy of τ-norm")
fig.tight_layout()

# %%
# What τ corrects
# ---------------
#
# τ-normalisation works on the norms of the classifier's weight vectors: it helps when
# they grow with the class size, as they do in a head trained jointly with the network
# on a long tail (Kang et al., Fig. 4).
# :class:`~sklearn_lt.inspection.WeightNormDisplay` shows them for the refitted
# pipeline's Backbone. For contrast, it also shows a linear classifier fitted on the
# same training features after the fact (``joint_head=None``: a logistic regression,
# ``C=1``, at its optimum). The network has fitted its training images, so their
# features are nearly separable by class, and such a fit need not inherit the joint
# head's norms: τ-normalising it would have little to correct.
best = search.best_estimator_
backbone = best.named_steps["feat"]
refitted = TauNormClassifier(joint_head=None, tau=0.0, n_threads=1).fit(
    backbone.transform(d.X_train), d.y_train)

fig, ax = plt.subplots(figsize=(7, 4.2))
displays = [
    WeightNormDisplay.from_estimator(backbone, ax=ax, name="Backbone's joint head"),
    WeightNormDisplay.from_estimator(refitted, ax=ax,
                                     name="linear head fitted on the features"),
]
ax.set_ylim(bottom=0)
ax.set_title("digits-LT: weight norm per class")
fig.tight_layout()
for disp in displays:
    many, few = disp.class_counts > 100, disp.class_counts < 20
    print(f"{disp.name}: mean norm of the many-shot / the few-shot digits = "
          f"{disp.norms[many].mean() / disp.norms[few].mean():.2f}")

# %%
# The chosen τ on the test set
# ----------------------------
#
# The refitted search predicts with the chosen τ on a backbone trained on the whole
# training set. On the test set the groups are those of the full training set, with
# the usual thresholds. The refitted Backbone's own joint head is printed for
# reference.
from sklearn_lt.metrics import shot_accuracy

print(f"chosen tau: {search.best_params_['clf__tau']:.1f} "
      f"(mean validation balanced accuracy {search.best_score_:.3f})")
splits = ("many", "medium", "few", "all")
print(f"{'test accuracy (%)':<24}" + "".join(f"{s:>8}" for s in splits))
for name, model in [("joint head (Backbone)", backbone), ("tau-norm, chosen tau", search)]:
    acc = shot_accuracy(d.y_test, model.predict(d.X_test), d.class_counts)
    print(f"{name:<24}" + "".join(f"{100 * acc[s]:>8.1f}" for s in splits))

shutil.rmtree(cache)  # the cache folders are only for this search
print(f"run time: {time.perf_counter() - start:.0f} s")

# %%
# What we saw
# -----------
#
# - The count shows the cache at work: one backbone per fold plus the refit, not one per
#   candidate; the head used the Backbone's joint head.
# - The sweep shows the trade-off τ controls: as τ grows, the few-shot digits gain and
#   the many-shot digits lose a little. The bands are wide, since each validation fold
#   holds only a handful of few-shot images, so neighbouring values of τ are not told
#   apart.
# - The Backbone's joint head has longer weight vectors for the larger classes, which is
#   what τ divides out; a linear head fitted on the training features afterwards varies
#   much less with the class size (its printed ratio is closer to 1).
# - With 30 test images per class, one image is more than three points of a class's
#   accuracy: read the test rows as a check that the chosen τ behaves, not as a ranking.
# - The search machinery (caching, shot scorers, the sweep display) works the same for
#   any stage-2 parameter.
