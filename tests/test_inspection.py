"""Displays: the data they draw equals what the metrics compute, and their axes say what it is."""

import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sklearn_lt.heads import (  # noqa: E402
    CRTClassifier,
    LogitAdjustedClassifier,
    MetaWeightedClassifier,
    NCMClassifier,
    TauNormClassifier,
)
from sklearn_lt.inspection import (  # noqa: E402
    ClassAccuracyDisplay,
    DispersionDisplay,
    MetaWeightDisplay,
    ReliabilityDisplay,
    TauSweepDisplay,
    WeightNormDisplay,
)
from sklearn_lt.inspection._base import _BAND_GID  # noqa: E402
from sklearn_lt.metrics import (  # noqa: E402
    calibration_bins,
    dispersion,
    expected_calibration_error,
    make_shot_scorer,
    per_class_accuracy,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def features():
    """Three classes of 300 / 60 / 12 samples: one per shot split in every CV fold."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [300, 60, 12])
    Z = rng.normal(size=(len(y), 5)) + 1.5 * y[:, None]
    return Z, y


def _bands(ax):
    return sorted((p.get_x(), p.get_x() + p.get_width()) for p in ax.patches
                  if p.get_gid() == _BAND_GID)


# --- ClassAccuracyDisplay ---------------------------------------------------------------

def test_accuracy_from_predictions_by_hand():
    # owl is listed first but is the smallest class: it is drawn last.
    counts = {"owl": 5, "cat": 500, "dog": 50}
    y_true = ["cat", "cat", "dog", "dog", "owl", "owl", "owl", "owl"]
    y_pred = ["cat", "cat", "dog", "cat", "owl", "cat", "cat", "cat"]
    disp = ClassAccuracyDisplay.from_predictions(y_true, y_pred, counts, name="joint")
    np.testing.assert_array_equal(disp.classes, ["owl", "cat", "dog"])
    np.testing.assert_allclose(disp.accuracy, [0.25, 1.0, 0.5])
    np.testing.assert_allclose(disp.line_.get_ydata(), [1.0, 0.5, 0.25])  # cat, dog, owl
    np.testing.assert_array_equal(disp.line_.get_xdata(), [0, 1, 2])
    assert disp.ax_.get_xlabel() == "class, by decreasing training size"
    assert disp.ax_.get_ylabel() == "test accuracy of the class"
    assert disp.ax_.get_legend().get_texts()[0].get_text() == "joint"
    assert isinstance(disp.figure_, matplotlib.figure.Figure)
    # one band per split, over the ranks of its classes
    assert _bands(disp.ax_) == [(-0.5, 0.5), (0.5, 1.5), (1.5, 2.5)]


def test_accuracy_count_axis_is_log_and_placed_at_the_sizes():
    disp = ClassAccuracyDisplay.from_predictions([0, 1, 2], [0, 1, 1], [800, 40, 4],
                                                 labels=[0, 1, 2], x="count")
    np.testing.assert_array_equal(disp.line_.get_xdata(), [800, 40, 4])
    np.testing.assert_array_equal(disp.line_.get_ydata(), [1, 1, 0])
    assert disp.ax_.get_xscale() == "log"
    assert disp.ax_.get_xlabel() == "training samples of the class"
    lo, hi = _bands(disp.ax_)[0]  # the few-shot band surrounds 4 on the log axis
    assert lo < 4 < hi < 20


def test_accuracy_from_estimator_equals_the_metric_and_shares_the_axes(features):
    Z, y = features
    joint = Pipeline([("scale", StandardScaler()), ("clf", TauNormClassifier(tau=0.0))]).fit(Z, y)
    crt = CRTClassifier().fit(Z, y)
    first = ClassAccuracyDisplay.from_estimator(joint, Z, y)
    second = ClassAccuracyDisplay.from_estimator(crt, Z, y, ax=first.ax_, x="rank")
    np.testing.assert_allclose(first.accuracy, per_class_accuracy(y, joint.predict(Z)))
    np.testing.assert_allclose(second.line_.get_ydata(), per_class_accuracy(y, crt.predict(Z)))
    assert second.ax_ is first.ax_ and len(first.ax_.lines) == 2
    labels = [t.get_text() for t in first.ax_.get_legend().get_texts()]
    assert labels == ["TauNormClassifier", "CRTClassifier", "many-shot (> 100)", "medium-shot",
                      "few-shot (< 20)"]
    assert len(_bands(first.ax_)) == 3  # shaded once, not once per model


def test_accuracy_thresholds_move_the_bands():
    disp = ClassAccuracyDisplay([1.0, 0.5, 0.2], [500, 50, 5], many_threshold=40,
                                few_threshold=10).plot()
    assert _bands(disp.ax_) == [(-0.5, 1.5), (1.5, 2.5)]  # many (2 classes), few; no medium


def test_accuracy_leaves_a_gap_for_a_class_without_test_samples():
    disp = ClassAccuracyDisplay.from_predictions([0, 0, 1], [0, 1, 1], {0: 90, 1: 30, 2: 3})
    assert np.isnan(disp.accuracy[2]) and np.isnan(disp.line_.get_ydata()[2])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ClassAccuracyDisplay([1.0, 0.5], [10, 5, 1]), "aligned"),
        (lambda: ClassAccuracyDisplay([1.0], [10]).plot(x="size"), "x must be 'rank' or 'count'"),
        (lambda: ClassAccuracyDisplay.from_predictions([0, 1], [0, 1], {0: 5}), "no count"),
    ],
)
def test_accuracy_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- WeightNormDisplay ------------------------------------------------------------------

def test_weight_norms_of_tau_norm_follow_the_formula(features):
    Z, y = features
    for tau in (0.0, 0.5, 1.0):
        clf = TauNormClassifier(tau=tau).fit(Z, y)
        disp = WeightNormDisplay.from_estimator(clf)
        joint = np.linalg.norm(clf.joint_coef_, axis=1)
        np.testing.assert_allclose(disp.norms, joint ** (1 - tau), rtol=1e-10)
    assert disp.ax_.get_ylabel() == "norm of the class's weights"
    np.testing.assert_array_equal(disp.class_counts, [300, 60, 12])


def test_weight_norms_read_the_last_step_that_has_coef(features):
    Z, y = features
    pipe = Pipeline([("scale", StandardScaler()), ("clf", CRTClassifier())]).fit(Z, y)
    disp = WeightNormDisplay.from_estimator(pipe, name="cRT")
    np.testing.assert_allclose(disp.norms, np.linalg.norm(pipe[-1].coef_, axis=1))
    assert disp.line_.get_label() == "cRT"


def test_weight_norms_refuse_a_head_without_weights(features):
    Z, y = features
    with pytest.raises(AttributeError, match="has no fitted 'coef_'"):
        WeightNormDisplay.from_estimator(NCMClassifier().fit(Z, y))


# --- TauSweepDisplay --------------------------------------------------------------------

def _cv_results():
    return {
        "param_clf__tau": np.ma.masked_array([2.0, 0.0, 1.0]),
        "mean_test_many": np.array([0.7, 0.9, 0.8]),
        "std_test_many": np.array([0.01, 0.02, 0.03]),
        "mean_test_few": np.array([0.6, 0.2, 0.5]),
        "std_test_few": np.array([0.1, 0.1, 0.1]),
        "params": [{"clf__tau": 2.0}, {"clf__tau": 0.0}, {"clf__tau": 1.0}],
    }


def test_tau_sweep_from_cv_results_sorts_by_tau():
    disp = TauSweepDisplay.from_cv_results(_cv_results(), best_value=1.0)
    assert disp.param_name == "clf__tau"
    np.testing.assert_array_equal(disp.lines_["many"].get_xdata(), [0.0, 1.0, 2.0])
    np.testing.assert_allclose(disp.lines_["many"].get_ydata(), [0.9, 0.8, 0.7])
    np.testing.assert_allclose(disp.lines_["few"].get_ydata(), [0.2, 0.5, 0.6])
    np.testing.assert_allclose(disp.std_scores["many"], [0.02, 0.03, 0.01])
    assert len(disp.ax_.collections) == 2  # one ± std band per metric
    assert disp.ax_.get_xlabel() == "clf__tau"
    assert disp.ax_.get_ylabel() == "mean test score over the folds"
    assert disp.ax_.lines[-1].get_xdata()[0] == 1.0  # the chosen value


def test_tau_sweep_from_a_search_marks_the_best_tau(features):
    Z, y = features
    scoring = {s: make_shot_scorer(s) for s in ("many", "medium", "few", "all")}
    search = GridSearchCV(TauNormClassifier(), {"tau": [0.0, 0.5, 1.0, 1.5]}, scoring=scoring,
                          refit="all", cv=3).fit(Z, y)
    disp = TauSweepDisplay.from_estimator(search, metrics=["few", "all"])
    assert list(disp.lines_) == ["few", "all"]
    np.testing.assert_allclose(disp.lines_["all"].get_ydata(), search.cv_results_["mean_test_all"])
    assert disp.best_value == search.best_params_["tau"]
    legend = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert legend[-1] == f"chosen tau = {search.best_params_['tau']:g}"


@pytest.mark.parametrize(
    "edit, kwargs, match",
    [
        (lambda r: r.update(param_alpha=np.array([1, 1, 2])), {}, "say which to draw"),
        (lambda r: r.update(param_clf__tau=np.array([0.0, 0.0, 1.0])), {}, "another parameter"),
        (lambda r: None, {"metrics": ["medium"]}, "no mean_test_ column"),
        (lambda r: None, {"param_name": "C"}, "no parameter 'C'"),
    ],
)
def test_tau_sweep_bad_input(edit, kwargs, match):
    results = _cv_results()
    edit(results)
    if "param_alpha" in results:
        results["param_clf__tau2"] = results.pop("param_clf__tau")
    with pytest.raises(ValueError, match=match):
        TauSweepDisplay.from_cv_results(results, **kwargs)


def test_tau_sweep_needs_a_fitted_search():
    with pytest.raises(AttributeError, match="no cv_results_"):
        TauSweepDisplay.from_estimator(TauNormClassifier())


# --- ReliabilityDisplay -----------------------------------------------------------------

def test_reliability_plots_the_calibration_bins(features):
    Z, y = features
    clf = LogitAdjustedClassifier().fit(Z, y)
    proba = clf.predict_proba(Z)
    disp = ReliabilityDisplay.from_estimator(clf, Z, y, n_bins=10)
    bins = calibration_bins(y, proba, n_bins=10, labels=clf.classes_)
    full = bins.bin_counts > 0
    np.testing.assert_allclose(disp.line_.get_xdata(), bins.bin_confidence[full])
    np.testing.assert_allclose(disp.line_.get_ydata(), bins.bin_accuracy[full])
    ece = expected_calibration_error(y, proba, n_bins=10, labels=clf.classes_)
    assert disp.ece == pytest.approx(ece)
    assert disp.line_.get_label() == f"LogitAdjustedClassifier (ECE {ece:.3f})"
    assert disp.ax_.get_xlim() == (0, 1) and disp.ax_.get_ylim() == (0, 1)
    assert disp.ax_.get_ylabel() == "accuracy in the bin"


def test_reliability_by_hand_and_as_bars():
    y = ["b", "a", "a", "b"]
    proba = [[0.1, 0.9], [0.6, 0.4], [0.8, 0.2], [0.7, 0.3]]  # columns a, b
    disp = ReliabilityDisplay.from_predictions(y, proba, labels=["a", "b"], n_bins=4, kind="bar",
                                               name="head")
    # confidences .9 (right), .6 (right), .8 (right), .7 (wrong): bins (.5,.75] and (.75,1]
    np.testing.assert_array_equal(disp.bin_counts, [0, 0, 2, 2])
    heights = [bar.get_height() for bar in disp.line_]
    np.testing.assert_allclose(heights, [0.5, 1.0])
    np.testing.assert_allclose([bar.get_x() for bar in disp.line_], [0.5, 0.75])
    assert disp.ece == pytest.approx((2 * abs(0.5 - 0.65) + 2 * abs(1.0 - 0.85)) / 4)


def test_reliability_draws_the_diagonal_once_for_several_heads(features):
    Z, y = features
    first = ReliabilityDisplay.from_estimator(CRTClassifier().fit(Z, y), Z, y)
    ReliabilityDisplay.from_estimator(TauNormClassifier().fit(Z, y), Z, y, ax=first.ax_)
    diagonals = [ln for ln in first.ax_.lines if ln.get_gid() == "sklearn_lt-diagonal"]
    assert len(diagonals) == 1 and len(first.ax_.lines) == 3


def test_reliability_bad_input():
    with pytest.raises(ValueError, match="one value per bin"):
        ReliabilityDisplay([0.5], [0.5, 0.2], [1, 1], [0, 0.5, 1])
    with pytest.raises(ValueError, match="kind must be"):
        ReliabilityDisplay([0.5], [0.5], [1], [0, 1]).plot(kind="pie")


# --- DispersionDisplay ------------------------------------------------------------------

def test_dispersion_from_samples_is_the_class_mean_of_the_metric():
    rng = np.random.default_rng(1)
    samples = rng.normal(size=(4, 9, 3))
    y = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    disp = DispersionDisplay.from_samples(samples, y, [200, 40, 8], labels=[0, 1, 2])
    per_input = dispersion(samples)
    np.testing.assert_allclose(disp.dispersion, [per_input[y == k].mean() for k in range(3)])
    assert disp.ax_.get_ylabel() == "mean dispersion of the class's inputs"
    with pytest.raises(ValueError, match="9 inputs but y has 8"):
        DispersionDisplay.from_samples(samples, y[:8], [200, 40, 8], labels=[0, 1, 2])


class _FakeSWAGBackbone:
    """What DispersionDisplay reads from a Backbone fitted with swag=True."""

    classes_ = np.array([0, 1])
    class_counts_ = np.array([120, 10])

    def __init__(self):
        self.calls = []

    def transform_stochastic(self, X, n_samples=None, *, output="features"):
        self.calls.append((n_samples, output))
        X = np.asarray(X, dtype=float)
        return np.stack([X, X + [[0.0, 1.0]]])  # the second copy moves the second feature by 1


def test_dispersion_from_estimator_asks_the_backbone_for_its_copies():
    X, y = np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([0, 1])
    backbone = _FakeSWAGBackbone()
    disp = DispersionDisplay.from_estimator(Pipeline([("feat", backbone)]), X, y, n_samples=2)
    assert backbone.calls == [(2, "features")]
    # ||v - mean||^2 averaged = 0.25; relative to ||mean||^2 = 1.25 and 6.25
    np.testing.assert_allclose(disp.dispersion, [0.25 / 1.25, 0.25 / 6.25])
    disp = DispersionDisplay.from_estimator(backbone, X, y, output="proba")
    np.testing.assert_allclose(disp.dispersion, [0.25, 0.25])  # proba: not relative
    assert disp.line_.get_label() == "SWAG proba"


# --- MetaWeightDisplay ------------------------------------------------------------------

def test_meta_weights_are_the_heads_learned_weights(features):
    Z, y = features
    clf = MetaWeightedClassifier(epochs=4, meta_epochs=2, dev_size=4, batch_size=32, lr=0.05,
                                 random_state=0).fit(Z, y)
    disp = MetaWeightDisplay.from_estimator(clf)  # "auto": the example weights of a head
    np.testing.assert_allclose(disp.weights, clf.mean_weight_per_class_)
    np.testing.assert_allclose(disp.line_.get_ydata(), clf.mean_weight_per_class_)  # by size
    assert disp.ax_.get_ylabel() == "mean weight of the class's examples, w_y + eps_i"
    disp = MetaWeightDisplay.from_estimator(clf, kind="class")
    np.testing.assert_allclose(disp.weights, clf.class_weights_)
    assert disp.ax_.get_ylabel() == "class weight w_y (from the class sizes)"


class _MetaBackbone:
    """What MetaWeightDisplay reads from a Backbone fitted with meta_epochs."""

    classes_ = np.array([0, 1, 2])
    class_counts_ = np.array([300, 60, 12])
    meta_class_weights_ = np.array([0.2, 0.9, 1.9])


def test_meta_weights_of_a_backbone_are_its_class_weights():
    disp = MetaWeightDisplay.from_estimator(Pipeline([("feat", _MetaBackbone())]))
    np.testing.assert_allclose(disp.weights, [0.2, 0.9, 1.9])
    with pytest.raises(AttributeError, match="of kind 'example'"):
        MetaWeightDisplay.from_estimator(_MetaBackbone(), kind="example")


def test_meta_weights_refuse_a_model_without_them(features):
    Z, y = features
    with pytest.raises(AttributeError, match="no meta-weighting weights"):
        MetaWeightDisplay.from_estimator(CRTClassifier().fit(Z, y))
    with pytest.raises(ValueError, match="kind must be"):
        MetaWeightDisplay.from_estimator(CRTClassifier(), kind="both")


# --- matplotlib is optional -------------------------------------------------------------

def test_importing_the_displays_does_not_import_matplotlib():
    code = "import sys, sklearn_lt.inspection; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("display", [
    lambda: ClassAccuracyDisplay([1.0], [10]).plot(),
    lambda: ReliabilityDisplay([0.5], [0.5], [1], [0, 1]).plot(),
    lambda: TauSweepDisplay([0.0, 1.0], {"all": [0.5, 0.6]}).plot(),
])
def test_missing_matplotlib_gives_a_clear_error(monkeypatch, display):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="needs matplotlib.*pip install matplotlib"):
        display()


# --- unwrapping (review findings) -------------------------------------------------------

def test_a_search_inside_a_pipeline_is_looked_into(features):
    Z, y = features
    pipe = Pipeline([("scale", StandardScaler()),
                     ("clf", GridSearchCV(TauNormClassifier(), {"tau": [0.0, 1.0]}, cv=3))])
    pipe.fit(Z, y)
    tuned = pipe[-1].best_estimator_
    disp = WeightNormDisplay.from_estimator(pipe)
    np.testing.assert_allclose(disp.norms, np.linalg.norm(tuned.coef_, axis=1))
    assert disp.line_.get_label() == "TauNormClassifier"


def test_weight_norms_are_placed_at_the_original_training_sizes(features):
    # A head after a resampler saw resampled counts; the figure places classes at
    # the training sizes, as the scorers and ClassAccuracyDisplay do.
    from imblearn.pipeline import Pipeline as ImbPipeline

    from sklearn_lt.resampling import PowerResampler

    Z, y = features
    pipe = ImbPipeline([("rs", PowerResampler(q=0.0, random_state=0)),
                        ("clf", TauNormClassifier(tau=0.0))]).fit(Z, y)
    assert not np.array_equal(pipe[-1].class_counts_, [300, 60, 12])
    disp = WeightNormDisplay.from_estimator(pipe)
    np.testing.assert_array_equal(disp.class_counts, [300, 60, 12])


def test_tau_sweep_leaves_out_the_rows_of_another_grid(features):
    Z, y = features
    grid = [{"tau": [0.5, 1.0, 2.0]}, {"joint_head": [None], "C": [0.01]}]
    search = GridSearchCV(TauNormClassifier(), grid, cv=3).fit(Z, y)
    disp = TauSweepDisplay.from_estimator(search, param_name="tau")
    np.testing.assert_array_equal(disp.param_values, [0.5, 1.0, 2.0])
    np.testing.assert_allclose(disp.lines_["score"].get_ydata(),
                               search.cv_results_["mean_test_score"][:3])
