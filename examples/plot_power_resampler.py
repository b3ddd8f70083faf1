"""
===============================================
PowerResampler in an imbalanced-learn pipeline
===============================================

Kang et al. (ICLR 2020) write the usual sampling schemes of long-tailed learning as one
family: draw class *j* with probability p_j ∝ n_j^q, where n_j is its number of training
samples. q = 1 is instance-balanced sampling (the data as it is), q = 1/2 square-root
sampling and q = 0 class-balanced sampling.

:class:`~sklearn_lt.resampling.PowerResampler` materialises that distribution as a
resampled training set, so that any scikit-learn estimator can train on it. It is an
imbalanced-learn sampler: it goes into an :class:`imblearn.pipeline.Pipeline`, which
resamples the data when the pipeline is fitted and never when it predicts. This example
sweeps q for a logistic regression on digits-LT and shows how the accuracy moves between
the head and the tail classes.
"""

# %%
# The data and the resampled class counts
# ---------------------------------------
#
# :func:`~sklearn_lt.datasets.load_digits_lt` gives 489 training images (144 of digit 0
# down to 7 of digit 9) and a balanced test set of 30 images per class; the pixels are
# the features here. With the default ``n_samples=None`` the resampler keeps the total
# number of rows and shares it out in proportion to n_j^q: at q = 0 every class gets
# about 49 rows, so digit 0 is *under*-sampled (a random subset, without repeats) while
# digit 9 is *over*-sampled (its 7 images, plus draws with replacement from them). Pass
# ``n_samples`` to choose the total, e.g. ``10 * 144`` to over-sample only.
import time

import matplotlib.pyplot as plt
import numpy as np
from imblearn.pipeline import Pipeline
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklearn_lt.datasets import load_digits_lt
from sklearn_lt.inspection import TauSweepDisplay
from sklearn_lt.metrics import make_shot_scorer, shot_accuracy
from sklearn_lt.resampling import PowerResampler

start = time.perf_counter()
d = load_digits_lt()
print("original training counts:", d.class_counts.tolist())
counts = {}
for q in (1.0, 0.5, 0.0):
    _, y_res = PowerResampler(q=q, random_state=0).fit_resample(d.X_train, d.y_train)
    counts[q] = np.bincount(y_res)
    print(f"after PowerResampler(q={q}): {counts[q].tolist()} ({counts[q].sum()} rows)")

fig, ax = plt.subplots(figsize=(7, 3.2))
width = 0.27
for i, q in enumerate(counts):
    ax.bar(np.arange(10) + (i - 1) * width, counts[q], width, label=f"q = {q:g}")
ax.set_xticks(np.arange(10))
ax.set_xlabel("digit (class), by decreasing training size")
ax.set_ylabel("training rows")
ax.set_title("Class counts after PowerResampler (total kept at 489)")
ax.legend()
fig.tight_layout()

# %%
# Sweeping q
# ----------
#
# The pipeline resamples, then fits a multinomial logistic regression. On its own
# (q = 1) the regression favours the large classes; lowering q moves the decision
# boundaries towards them. The resampling is random, so each q is fitted with five seeds
# of the resampler and the figure shows the mean and the spread (q = 1 returns the data
# unchanged and has no spread).
#
# The regularisation ``C=0.1`` matters: the stronger the penalty, the more a linear
# model's boundaries depend on how many samples each class contributes, and so the more
# the resampling changes. With weak regularisation the 64 pixels nearly separate the
# training set and every q gives similar boundaries.
SPLITS = ("many", "medium", "few", "all")
QS = (0.0, 0.25, 0.5, 0.75, 1.0)


def make_pipe(q, seed=0):
    return Pipeline([
        ("resample", PowerResampler(q=q, random_state=seed)),
        ("clf", LogisticRegression(C=0.1, max_iter=2000)),
    ])


results = np.empty((len(QS), 5, len(SPLITS)))
for i, q in enumerate(QS):
    for seed in range(5):
        pipe = make_pipe(q, seed).fit(d.X_train, d.y_train)
        acc = shot_accuracy(d.y_test, pipe.predict(d.X_test), d.class_counts)
        results[i, seed] = [100 * acc[s] for s in SPLITS]

print(f"{'q':>5}" + "".join(f"{s:>14}" for s in SPLITS))
for q, res in zip(QS, results):
    print(f"{q:>5.2f}" + "".join(f"{m:>8.1f} ± {s:<3.1f}"
                                for m, s in zip(res.mean(0), res.std(0))))

# %%
# ``pipe.predict`` above received the 300 test images and returned 300 predictions:
# imbalanced-learn's Pipeline calls the sampler's ``fit_resample`` only inside ``fit``,
# and skips the sampler when it predicts or scores. The test set keeps its true
# distribution, and no test image is dropped or repeated. (scikit-learn's own
# :class:`~sklearn.pipeline.Pipeline` refuses a sampler: it has no ``transform``.)
fig, ax = plt.subplots(figsize=(6, 4))
for k, split in enumerate(SPLITS):
    mean, std = results[:, :, k].mean(1), results[:, :, k].std(1)
    ax.errorbar(QS, mean, yerr=std, marker="o", capsize=3, label=split)
ax.set_xlabel("q  (0: class-balanced, 1: instance-balanced)")
ax.set_ylabel("test accuracy (%)")
ax.set_title("Logistic regression on PowerResampler(q) output")
ax.legend(title="classes")
fig.tight_layout()

# %%
# Choosing q without the test set
# -------------------------------
#
# The test set should only measure the final model. To choose q, cross-validate the
# pipeline on the training set: :class:`~sklearn.model_selection.GridSearchCV` clones it
# for every fold, resamples each training fold and scores each validation fold as it is,
# so the score is always measured on the fold's original class distribution.
#
# The shot scorers need the training size of each class. They read the resampler's
# ``class_counts_``, the counts *before* resampling, so that "many", "medium" and "few"
# keep meaning the original training sizes (those of the training folds here: with
# four fifths of the data, digit 1 has fewer than 100 images and is counted medium-shot
# inside the search). The few-shot classes have only one to four images in each
# validation fold, so their curve is noisy; ``refit="all"`` picks q on the balanced
# accuracy.
scoring = {s: make_shot_scorer(s) for s in SPLITS}
search = GridSearchCV(make_pipe(1.0), {"resample__q": list(QS)}, scoring=scoring,
                      refit="all", cv=StratifiedKFold(5, shuffle=True, random_state=0))
search.fit(d.X_train, d.y_train)
best_q = search.best_params_["resample__q"]
print(f"q chosen by 5-fold cross-validation: {best_q:g}")
acc = shot_accuracy(d.y_test, search.predict(d.X_test), d.class_counts)
print("its test accuracy (%):", {k: round(100 * v, 1) for k, v in acc.items()})

# %%
# :class:`~sklearn_lt.inspection.TauSweepDisplay` draws any one searched parameter, not
# only τ, with ± one standard deviation over the folds:
disp = TauSweepDisplay.from_estimator(search, param_name="resample__q")
disp.ax_.set_xlabel("q")
disp.ax_.set_title("Cross-validated scores against q")
disp.figure_.tight_layout()

# %%
# For comparison, ``class_weight="balanced"`` re-weights the loss by ``n / (K n_j)``,
# which is what class-balanced sampling (q = 0) optimises in expectation, without
# drawing any rows:
weighted = LogisticRegression(C=0.1, max_iter=2000, class_weight="balanced")
weighted.fit(d.X_train, d.y_train)
acc = shot_accuracy(d.y_test, weighted.predict(d.X_test), d.class_counts)
print('class_weight="balanced" (%):', {k: round(100 * v, 1) for k, v in acc.items()})
print(f"run time: {time.perf_counter() - start:.0f} s")

# %%
# What we saw
# -----------
#
# - Without resampling (q = 1) the regression is right on nearly every many-shot test
#   image and wrong on more than half of the few-shot ones. Lowering q trades a few
#   points on the many-shot classes for a large gain on the few-shot ones (the
#   medium-shot classes gain a little too), and the balanced accuracy rises steadily
#   down to class-balanced sampling (q = 0), the best q on this data.
# - Cross-validation on the training set, which never looks at the test set, also
#   prefers a small q here, though its few-shot scores rest on a handful of images per
#   class and fold.
# - Weighting the loss by class (``class_weight="balanced"``) lands close to q = 0:
#   the two optimise the same objective, one by drawing rows, the other by weighting
#   them.
