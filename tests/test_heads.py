"""Stage-2 heads and the shared feature trainer, checked against their formulas."""

import math
import warnings

import joblib
import numpy as np
import pytest
import torch
from scipy.special import softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, recall_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

import sklearn_lt.heads._linear as linear_module
from sklearn_lt.heads import (
    CRTClassifier,
    LogitAdjustedClassifier,
    LWSClassifier,
    NCMClassifier,
    TauNormClassifier,
    fit_linear_head,
)
from sklearn_lt.nn import train_module

ALL_HEADS = [
    lambda **kw: CRTClassifier(**kw),
    lambda **kw: CRTClassifier(solver="sgd", epochs=2, batch_size=32, random_state=0, **kw),
    lambda **kw: NCMClassifier(**kw),
    lambda **kw: TauNormClassifier(**kw),
    lambda **kw: LWSClassifier(epochs=2, batch_size=32, random_state=0, **kw),
    lambda **kw: LogitAdjustedClassifier(**kw),
]


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # The problems here are tiny; extra intra-op threads only add contention.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def skewed_gaussians(counts, rng, *, radius=2.0, scale=1.2):
    """Overlapping 2-D Gaussian classes on a circle, with the given class sizes."""
    k = len(counts)
    angles = 2 * np.pi * np.arange(k) / k
    centers = radius * np.c_[np.cos(angles), np.sin(angles)]
    X = np.concatenate([rng.normal(centers[j], scale, size=(n, 2)) for j, n in enumerate(counts)])
    y = np.repeat(np.arange(k), counts)
    return X, y


@pytest.fixture(scope="module")
def skewed():
    rng = np.random.RandomState(0)
    X, y = skewed_gaussians([600, 60, 15], rng)
    X_test, y_test = skewed_gaussians([400, 400, 400], rng)
    return X, y, X_test, y_test


@pytest.fixture(scope="module")
def iris():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


# --------------------------------------------------------------------------- fit_linear_head
def test_linear_head_matches_sklearn_logistic_regression(iris):
    X, y = iris
    coef, intercept = fit_linear_head(X, y, 3, C=0.5, tol=1e-10, max_iter=5000)
    lr = LogisticRegression(C=0.5, tol=1e-10, max_iter=5000).fit(X, y)
    np.testing.assert_allclose(coef, lr.coef_, atol=1e-5)
    # Softmax is invariant to a common shift of the unpenalised intercepts.
    np.testing.assert_allclose(intercept - intercept.mean(), lr.intercept_ - lr.intercept_.mean(), atol=1e-5)
    np.testing.assert_allclose(softmax(X @ coef.T + intercept, axis=1), lr.predict_proba(X), atol=1e-6)
    # Stationarity of the L2-penalised multinomial loss forces the class rows to sum to 0.
    np.testing.assert_allclose(coef.sum(axis=0), 0.0, atol=1e-6)


def test_linear_head_integer_class_weight_equals_duplicated_rows(iris):
    X, y = iris
    coef_w, int_w = fit_linear_head(X, y, 3, C=2.0, class_weight=[1.0, 2.0, 1.0], tol=1e-10)
    dup = y == 1
    X2, y2 = np.r_[X, X[dup]], np.r_[y, y[dup]]
    coef_d, int_d = fit_linear_head(X2, y2, 3, C=2.0, tol=1e-10)
    np.testing.assert_allclose(coef_w, coef_d, atol=1e-5)
    np.testing.assert_allclose(int_w - int_w.mean(), int_d - int_d.mean(), atol=1e-5)


def test_linear_head_balanced_weights_are_n_over_k_nj():
    rng = np.random.RandomState(1)
    X, y = skewed_gaussians([50, 10, 5], rng)
    n, counts = len(y), np.bincount(y)
    by_name = fit_linear_head(X, y, 3, class_weight="balanced")
    explicit = fit_linear_head(X, y, 3, class_weight=n / (3 * counts))
    np.testing.assert_array_equal(by_name[0], explicit[0])
    np.testing.assert_array_equal(by_name[1], explicit[1])


def test_linear_head_is_deterministic_and_warns_when_stopped_early(iris):
    X, y = iris
    a = fit_linear_head(X, y, 3)
    b = fit_linear_head(X, y, 3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        *_, n_iter = fit_linear_head(X, y, 3, max_iter=2, return_n_iter=True)
    assert n_iter == 2


# --------------------------------------------------------------------------- NCM
def test_ncm_euclidean_raw_features_by_hand():
    X = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0], [10.0, 12.0]])
    y = np.array(["a", "a", "b", "b"])
    ncm = NCMClassifier(normalize=None, temperature=1.0).fit(X, y)
    np.testing.assert_allclose(ncm.centroids_, [[1.0, 0.0], [10.0, 11.0]])
    np.testing.assert_array_equal(ncm.center_, [0.0, 0.0])
    x = np.array([[1.0, 1.0]])
    d = np.array([1.0, math.sqrt(81 + 100)])
    # Two classes: decision is score_b - score_a = d_a - d_b.
    np.testing.assert_allclose(ncm.decision_function(x), [d[0] - d[1]])
    np.testing.assert_allclose(ncm.predict_proba(x), softmax(-d)[None])
    assert ncm.predict(x).tolist() == ["a"]
    ncm.set_params(temperature=4.0)
    np.testing.assert_allclose(ncm.predict_proba(x), softmax(-d / 4.0)[None])


def test_ncm_auto_temperature_minimises_class_balanced_training_nll():
    rng = np.random.RandomState(0)
    # Overlapping clusters, 3:1 imbalanced, so the optimum is finite and the
    # class weighting matters.
    X = np.r_[rng.randn(60, 2) * 1.5 + [1, 0], rng.randn(20, 2) * 1.5 - [1, 0]]
    y = np.r_[np.zeros(60, int), np.ones(20, int)]
    ncm = NCMClassifier(normalize=None).fit(X, y)
    d = np.sqrt(((X[:, None, :] - ncm.centroids_[None]) ** 2).sum(-1))
    w = np.where(y == 0, 1 / 60, 1 / 20)

    def balanced_nll(t):
        logp = -d / t - np.log(np.exp(-d / t).sum(1, keepdims=True))
        return -(w * logp[np.arange(80), y]).sum() / w.sum()

    grid = np.exp(np.linspace(np.log(0.05), np.log(50), 4001))
    best = grid[np.argmin([balanced_nll(t) for t in grid])]
    assert ncm.temperature_ == pytest.approx(best, rel=5e-3)
    assert 0.05 < ncm.temperature_ < 50
    # Plain (unweighted) NLL has a different minimiser: the weighting is used.
    plain = grid[np.argmin([-(np.log(softmax(-d / t, axis=1))[np.arange(80), y]).mean()
                            for t in grid])]
    assert abs(plain - best) > 1e-2
    x = X[:5]
    np.testing.assert_allclose(ncm.predict_proba(x), softmax(-d[:5] / ncm.temperature_, axis=1))
    pred = ncm.predict(x)
    ncm.set_params(temperature=2.0)  # a number overrides the fitted value, no refit
    np.testing.assert_allclose(ncm.predict_proba(x), softmax(-d[:5] / 2.0, axis=1))
    np.testing.assert_array_equal(ncm.predict(x), pred)


def test_ncm_auto_temperature_follows_a_metric_changed_after_fit():
    rng = np.random.RandomState(0)
    X = rng.randn(200, 4)
    y = rng.randint(0, 3, 200)
    X[y == 1] += 1.0
    switched = NCMClassifier().fit(X, y).set_params(metric="cosine")
    refit = NCMClassifier(metric="cosine").fit(X, y)
    assert switched.temperatures_["cosine"] == refit.temperature_
    assert switched.temperature_ != refit.temperature_  # fitted for euclidean
    np.testing.assert_allclose(switched.predict_proba(X), refit.predict_proba(X))


def test_ncm_auto_temperature_stays_finite_on_separated_classes():
    X = np.array([[0.0], [0.1], [10.0], [10.1]])
    ncm = NCMClassifier(normalize=None).fit(X, [0, 0, 1, 1])
    # The NLL keeps falling as T -> 0 (until it underflows to 0): a small,
    # bounded temperature and confident, finite probabilities.
    assert 1e-4 <= ncm.temperature_ < 0.05
    proba = ncm.predict_proba(X)
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba[np.arange(4), [0, 0, 1, 1]], 1.0, atol=1e-6)


def test_ncm_centered_l2_by_hand_and_shift_invariant():
    shift = np.array([5.0, 7.0])
    X = np.array([[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0], [0.0, -2.0]]) + shift
    y = np.array([0, 0, 1, 1])
    ncm = NCMClassifier(temperature=1.0).fit(X, y)  # centered_l2, euclidean
    np.testing.assert_allclose(ncm.center_, shift)
    np.testing.assert_allclose(ncm.centroids_, [[0.5, 0.5], [-0.5, -0.5]])
    x = np.array([[3.0, 3.0]]) + shift  # centred and normalised: (1, 1)/sqrt(2)
    r = math.sqrt(2) / 2
    d = np.array([1 - r, 1 + r])
    np.testing.assert_allclose(ncm.predict_proba(x), softmax(-d)[None])
    np.testing.assert_allclose(ncm.decision_function(x), [d[0] - d[1]])
    cos = NCMClassifier(metric="cosine", temperature=1.0).fit(X, y)
    np.testing.assert_allclose(cos.predict_proba(x), softmax([1.0, -1.0])[None])
    # Without centring the shift dominates: every sample normalises to about the same point.
    raw = NCMClassifier(normalize="l2").fit(X, y)
    assert not np.allclose(raw.centroids_, ncm.centroids_)


def test_ncm_multiclass_decision_is_negative_distance():
    rng = np.random.RandomState(3)
    X, y = skewed_gaussians([30, 20, 10], rng)
    ncm = NCMClassifier(normalize="l2").fit(X, y)
    Z = X / np.linalg.norm(X, axis=1, keepdims=True)
    means = np.stack([Z[y == j].mean(0) for j in range(3)])
    np.testing.assert_allclose(ncm.centroids_, means)
    dist = np.linalg.norm(Z[:, None, :] - means[None], axis=2)
    np.testing.assert_allclose(ncm.decision_function(X), -dist, atol=1e-12)
    np.testing.assert_array_equal(ncm.predict(X), dist.argmin(1))


# --------------------------------------------------------------------------- tau-norm
@pytest.fixture(scope="module")
def joint():
    """A joint head whose bias matters and whose class-0 norm is largest."""
    coef = np.array([[3.0, 0.5], [0.2, 1.0], [-0.5, -1.5]])
    intercept = np.array([-4.0, 2.0, 0.0])
    rng = np.random.RandomState(5)
    X = rng.normal(size=(60, 2)) * 2
    y = np.repeat([0, 1, 2], 20)
    return coef, intercept, X, y


def test_tau_zero_is_joint_head_without_bias(joint):
    coef, intercept, X, y = joint
    clf = TauNormClassifier(tau=0.0, joint_head=(coef, intercept)).fit(X, y)
    np.testing.assert_allclose(clf.decision_function(X), X @ coef.T)
    np.testing.assert_array_equal(clf.predict(X), np.argmax(X @ coef.T, axis=1))
    # The bias was dropped: predictions differ from the full joint head here.
    assert np.any(clf.predict(X) != np.argmax(X @ coef.T + intercept, axis=1))
    np.testing.assert_array_equal(clf.intercept_, 0.0)


@pytest.mark.parametrize("tau", [0.0, 0.5, 1.0, 1.7])
def test_tau_norm_row_norms_and_logits(joint, tau):
    coef, intercept, X, y = joint
    clf = TauNormClassifier(tau=tau, joint_head=(coef, intercept)).fit(X, y)
    norms = np.linalg.norm(coef, axis=1)
    np.testing.assert_allclose(np.linalg.norm(clf.coef_, axis=1), norms ** (1 - tau))
    np.testing.assert_allclose(clf.decision_function(X), X @ (coef / norms[:, None] ** tau).T)


def test_tau_read_at_predict_time(joint):
    coef, intercept, X, y = joint
    clf = TauNormClassifier(tau=0.0, joint_head=(coef, intercept)).fit(X, y)
    before = clf.predict(X)
    clf.set_params(tau=1.0)
    unit = coef / np.linalg.norm(coef, axis=1, keepdims=True)
    np.testing.assert_array_equal(clf.predict(X), np.argmax(X @ unit.T, axis=1))
    assert np.any(clf.predict(X) != before)
    clf.set_params(tau=-0.5)
    with pytest.raises(InvalidParameterError, match="tau"):
        clf.predict(X)


def test_tau_norm_zero_weight_row_stays_zero(joint):
    coef, intercept, X, y = joint
    coef = coef.copy()
    coef[1] = 0.0
    clf = TauNormClassifier(tau=1.0, joint_head=(coef, intercept)).fit(X, y)
    np.testing.assert_array_equal(clf.coef_[1], 0.0)
    assert np.all(np.isfinite(clf.decision_function(X)))


# --------------------------------------------------------------------------- logit adjustment
def test_logit_adjustment_formula(joint):
    coef, intercept, X, _ = joint
    y = np.repeat([0, 1, 2], [40, 15, 5])
    clf = LogitAdjustedClassifier(tau=0.7, joint_head=(coef, intercept)).fit(X, y)
    log_pi = np.log(np.array([40, 15, 5]) / 60)
    np.testing.assert_allclose(clf.log_prior_, log_pi)
    np.testing.assert_allclose(clf.decision_function(X), X @ coef.T + intercept - 0.7 * log_pi)
    clf.set_params(tau=0.0)
    np.testing.assert_allclose(clf.decision_function(X), X @ coef.T + intercept)


# --------------------------------------------------------------------------- joint head resolution
def test_joint_head_none_fits_instance_balanced_head(skewed):
    X, y, *_ = skewed
    clf = TauNormClassifier(C=0.3).fit(X, y)
    coef, intercept = fit_linear_head(X, y, 3, C=0.3)
    np.testing.assert_array_equal(clf.joint_coef_, coef)
    np.testing.assert_array_equal(clf.joint_intercept_, intercept)
    assert clf.n_iter_ >= 1


def test_joint_head_from_tuple_and_from_fitted_estimator(iris):
    X, y = iris
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    lr = LogisticRegression(C=0.5).fit(X, labels)
    from_obj = LWSClassifier(joint_head=lr, epochs=2, batch_size=50, random_state=0).fit(X, labels)
    from_tuple = LWSClassifier(joint_head=(lr.coef_, lr.intercept_), epochs=2, batch_size=50,
                               random_state=0).fit(X, labels)
    np.testing.assert_array_equal(from_obj.joint_coef_, lr.coef_)
    np.testing.assert_array_equal(from_obj.scales_, from_tuple.scales_)
    assert from_obj.n_iter_ == 0
    assert set(from_obj.predict(X)) <= set(labels)
    # Stored copies: changing the source afterwards has no effect.
    source = lr.coef_.copy()
    tau = TauNormClassifier(joint_head=(source, lr.intercept_)).fit(X, labels)
    source[:] = 0.0
    np.testing.assert_array_equal(tau.joint_coef_, lr.coef_)


def test_joint_head_errors(iris):
    X, y = iris
    lr = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="expected \\(n_classes, n_features\\) = \\(3, 4\\)"):
        TauNormClassifier(joint_head=(lr.coef_[:, :3], lr.intercept_)).fit(X, y)
    with pytest.raises(ValueError, match="intercept has shape \\(2,\\)"):
        TauNormClassifier(joint_head=(lr.coef_, lr.intercept_[:2])).fit(X, y)
    with pytest.raises(ValueError, match="must be \\(coef, intercept\\)"):
        TauNormClassifier(joint_head=(lr.coef_, lr.intercept_, 1)).fit(X, y)
    with pytest.raises(ValueError, match="clone\\(\\) also un-fits"):
        TauNormClassifier(joint_head=LogisticRegression()).fit(X, y)
    with pytest.raises(ValueError, match="classes \\[0, 1, 2\\], but y has classes \\[1, 2, 3\\]"):
        TauNormClassifier(joint_head=lr).fit(X, y + 1)
    with pytest.raises(ValueError, match="NaN or infinity"):
        TauNormClassifier(joint_head=(lr.coef_ * np.nan, lr.intercept_)).fit(X, y)
    binary = LogisticRegression().fit(X, y > 0)
    with pytest.raises(ValueError, match="One-row binary"):
        LogitAdjustedClassifier(joint_head=binary).fit(X, y > 0)


def test_heads_on_backbone_features_and_joint_head():
    from sklearn_lt import Backbone

    rng = np.random.RandomState(0)
    X, y = skewed_gaussians([80, 20, 8], rng)
    X = np.c_[X, rng.normal(size=(len(y), 3))].astype(np.float32)
    bb = Backbone(module="mlp", module__hidden=(16,), max_epochs=2, batch_size=32,
                  random_state=0).fit(X, y)
    Z = bb.transform(X)
    clf = TauNormClassifier(tau=0.0, joint_head=bb).fit(Z, y)
    joint_logits = Z.astype(np.float64) @ bb.coef_.T
    np.testing.assert_allclose(clf.decision_function(Z), joint_logits, rtol=1e-6, atol=1e-6)
    pipe = Pipeline([("feat", bb), ("clf", LogitAdjustedClassifier(tau=0.0, joint_head=bb))])
    np.testing.assert_allclose(pipe.fit(X, y).named_steps["clf"].joint_coef_, bb.coef_)
    pipe = Pipeline([("feat", Backbone(module="mlp", module__hidden=(16,), max_epochs=1,
                                       batch_size=32, random_state=0)),
                     ("clf", NCMClassifier())]).fit(X, y)
    assert pipe.predict_proba(X).shape == (len(y), 3)


# --------------------------------------------------------------------------- memory caching
def test_memory_caches_joint_head_across_a_tau_search(tmp_path, monkeypatch, skewed):
    X, y, *_ = skewed
    calls = []
    real_minimize = linear_module.minimize

    def counting_minimize(*args, **kwargs):
        calls.append(1)
        return real_minimize(*args, **kwargs)

    monkeypatch.setattr(linear_module, "minimize", counting_minimize)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    grid = {"clf__tau": [0.0, 0.5, 1.0, 1.5]}

    def search(memory):
        pipe = Pipeline([("scale", StandardScaler()), ("clf", TauNormClassifier(memory=memory))])
        return GridSearchCV(pipe, grid, cv=cv, scoring="balanced_accuracy").fit(X, y)

    calls.clear()
    search(None)
    assert len(calls) == 3 * 4 + 1  # every candidate of every fold, plus the refit
    calls.clear()
    cached = search(str(tmp_path / "cache"))
    assert len(calls) == 3 + 1  # once per training fold, plus the refit
    calls.clear()
    search(joblib.Memory(str(tmp_path / "cache"), verbose=0))  # same store, a Memory object
    assert len(calls) == 0
    # The cache changes nothing: same best tau as the uncached search.
    assert cached.best_params_ == search(None).best_params_


# --------------------------------------------------------------------------- LWS
def test_lws_scales_move_tail_up_and_keep_joint_head(skewed):
    X, y, X_test, y_test = skewed
    coef, intercept = fit_linear_head(X, y, 3)
    lws = LWSClassifier(joint_head=(coef, intercept), epochs=30, batch_size=32, lr=0.1,
                        random_state=0).fit(X, y)
    f = lws.scales_
    assert f[2] > f[0] and f[1] > f[0]
    np.testing.assert_array_equal(lws.joint_coef_, coef)
    np.testing.assert_allclose(lws.coef_, f[:, None] * coef)
    np.testing.assert_allclose(lws.decision_function(X_test), f * (X_test @ coef.T + intercept))
    ib_recall = recall_score(y_test, np.argmax(X_test @ coef.T + intercept, 1), average=None)
    assert recall_score(y_test, lws.predict(X_test), average=None)[2] > ib_recall[2]
    again = LWSClassifier(joint_head=(coef, intercept), epochs=30, batch_size=32, lr=0.1,
                          random_state=0).fit(X, y)
    np.testing.assert_array_equal(again.scales_, f)
    assert len(lws.loss_curve_) == 30


# --------------------------------------------------------------------------- cRT
def test_crt_balances_recall_against_instance_balanced_head(skewed):
    X, y, X_test, y_test = skewed
    ib = CRTClassifier(sampler="instance", C=1.0).fit(X, y)  # weights 1: the plain IB head
    coef, intercept = fit_linear_head(X, y, 3)
    np.testing.assert_array_equal(ib.coef_, coef)
    np.testing.assert_array_equal(ib.intercept_, intercept)
    ib_recall = recall_score(y_test, ib.predict(X_test), average=None)
    for crt in (CRTClassifier().fit(X, y),
                CRTClassifier(solver="sgd", epochs=20, batch_size=32, lr=0.1,
                              random_state=0).fit(X, y)):
        recall = recall_score(y_test, crt.predict(X_test), average=None)
        assert recall[2] > ib_recall[2] + 0.1
        assert recall.max() - recall.min() < ib_recall.max() - ib_recall.min()
        assert (balanced_accuracy_score(y_test, crt.predict(X_test))
                > balanced_accuracy_score(y_test, ib.predict(X_test)) + 0.05)


def test_crt_sgd_and_lbfgs_agree(skewed):
    X, y, X_test, _ = skewed
    wd = 1e-3
    sgd = CRTClassifier(solver="sgd", epochs=40, batch_size=32, lr=0.05, weight_decay=wd,
                        random_state=0).fit(X, y)
    # SGD's weight decay on the mean loss is the L-BFGS objective with
    # C = 1 / (wd n), which C=None derives from weight_decay.
    lbfgs = CRTClassifier(weight_decay=wd).fit(X, y)
    explicit = CRTClassifier(C=1.0 / (wd * len(y)), weight_decay=0.0).fit(X, y)
    np.testing.assert_array_equal(lbfgs.coef_, explicit.coef_)
    with pytest.raises(ValueError, match="weight_decay, which is 0"):
        CRTClassifier(weight_decay=0.0).fit(X, y)
    agree = np.mean(sgd.predict(X_test) == lbfgs.predict(X_test))
    assert agree > 0.93
    assert np.allclose(sgd.predict_proba(X_test), lbfgs.predict_proba(X_test), atol=0.15)


def test_crt_sampler_maps_to_class_weights(skewed):
    X, y, *_ = skewed
    counts = np.bincount(y).astype(float)
    p = np.sqrt(counts) / np.sqrt(counts).sum()
    crt = CRTClassifier(sampler="sqrt").fit(X, y)
    coef, _ = fit_linear_head(X, y, 3, C=1.0 / (5e-4 * len(y)), class_weight=len(y) * p / counts)
    np.testing.assert_array_equal(crt.coef_, coef)
    np.testing.assert_array_equal(CRTClassifier(sampler=0.5).fit(X, y).coef_, coef)
    with pytest.raises(ValueError, match="progressive"):
        CRTClassifier(sampler="progressive").fit(X, y)


def test_crt_sgd_is_seeded_and_forgets_stale_attributes(skewed):
    X, y, *_ = skewed
    kw = dict(solver="sgd", epochs=2, batch_size=64)
    a = CRTClassifier(random_state=1, **kw).fit(X, y)
    b = CRTClassifier(random_state=1, **kw).fit(X, y)
    c = CRTClassifier(random_state=2, **kw).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert not np.array_equal(a.coef_, c.coef_)
    assert a.n_iter_ == 2 and len(a.loss_curve_) == 2
    a.set_params(solver="lbfgs").fit(X, y)
    assert not hasattr(a, "loss_curve_")


# --------------------------------------------------------------------------- common errors
@pytest.mark.parametrize("make", ALL_HEADS)
def test_input_errors(make, skewed):
    X, y, *_ = skewed
    clf = make().fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but .* is expecting 2 features"):
        clf.predict(np.c_[X, X[:, :1]])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clf.predict(np.where(np.eye(len(X), 2, dtype=bool), np.nan, X))
    with pytest.raises(ValueError, match="Input X contains NaN"):
        make().fit(np.where(np.eye(len(X), 2, dtype=bool), np.nan, X), y)


@pytest.mark.parametrize("make", ALL_HEADS)
def test_failed_fit_leaves_fitted_head_intact(make, skewed):
    X, y, X_test, _ = skewed
    clf = make().fit(X, y)
    before = clf.predict_proba(X_test)
    y_bad = np.r_[y[:-1], 7]  # class 7 has a single sample
    with pytest.raises(ValueError, match="at least 2 training samples; too few for class .*7.* \\(1 sample\\)"):
        clf.fit(np.c_[X, X], y_bad)
    assert clf.n_features_in_ == 2
    np.testing.assert_array_equal(clf.predict_proba(X_test), before)


@pytest.mark.parametrize("make", ALL_HEADS)
def test_string_labels_and_probabilities(make, skewed):
    X, y, X_test, y_test = skewed
    names = np.array(["cat", "dog", "emu"])
    clf = make().fit(X, names[y])
    assert clf.classes_.tolist() == ["cat", "dog", "emu"]
    np.testing.assert_array_equal(clf.class_counts_, [600, 60, 15])
    proba = clf.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(clf.predict(X_test), names[proba.argmax(1)])
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X_test)), proba, rtol=1e-10)


def test_invalid_tau_is_rejected(joint):
    coef, intercept, X, y = joint
    for cls in (TauNormClassifier, LogitAdjustedClassifier):
        with pytest.raises(InvalidParameterError, match="'tau' parameter"):
            cls(tau=-1.0, joint_head=(coef, intercept)).fit(X, y)


# --------------------------------------------------------------------------- trainer
def _toy_problem(n=40):
    rng = np.random.RandomState(0)
    X, y = skewed_gaussians([n - n // 4, n // 4], rng)
    return X.astype(np.float32), y


def test_trainer_trains_only_unfrozen_parameters_with_cosine_lr():
    X, y = _toy_problem()
    torch.manual_seed(0)
    lin = torch.nn.Linear(2, 2)
    lin.weight.requires_grad_(False)
    w0, b0 = lin.weight.clone(), lin.bias.clone()
    hist = train_module(lin, X, y, epochs=4, batch_size=8, lr=0.3, random_state=0)
    assert torch.equal(lin.weight, w0)
    assert not torch.equal(lin.bias, b0)
    expected_lr = [0.3 * 0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(4)]
    np.testing.assert_allclose(hist["lr"], expected_lr)
    assert len(hist["loss"]) == len(hist["time"]) == 4
    assert not lin.training  # left in eval mode


def test_trainer_is_deterministic_given_random_state():
    X, y = _toy_problem()

    def run(seed):
        torch.manual_seed(0)
        lin = torch.nn.Linear(2, 2)
        hist = train_module(lin, X, y, epochs=3, batch_size=8, lr=0.1, random_state=seed)
        return hist["loss"], lin.weight.detach().clone()

    (l1, w1), (l2, w2), (l3, w3) = run(0), run(0), run(1)
    assert l1 == l2 and torch.equal(w1, w2)
    assert not torch.equal(w1, w3)


def test_trainer_loss_fn_sees_every_index_once_per_instance_epoch():
    X, y = _toy_problem(40)
    seen = []

    def loss_fn(logits, yb, idx):
        seen.append(idx.clone())
        return torch.nn.functional.cross_entropy(logits, yb)

    train_module(torch.nn.Linear(2, 2), X, y, loss_fn=loss_fn, epochs=2, batch_size=16,
                 sampler="instance", random_state=0)
    assert [len(i) for i in seen] == [16, 16, 8] * 2
    for epoch in (seen[:3], seen[3:]):
        assert sorted(torch.cat(epoch).tolist()) == list(range(40))


def test_trainer_class_sampler_balances_batches():
    X, y = _toy_problem(400)  # 300 vs 100
    labels = []

    def step(module, optimizer, xb, yb, idx):
        labels.append(yb)
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(module(xb), yb)
        loss.backward()
        optimizer.step()
        return loss

    train_module(torch.nn.Linear(2, 2), X, y, step=step, epochs=5, batch_size=100,
                 sampler="class", random_state=0)
    assert len(labels) == 5 * 4
    tail_share = torch.cat(labels).float().mean().item()
    assert abs(tail_share - 0.5) < 0.05  # 2000 draws; instance sampling would give 0.25


def test_trainer_stacked_features_callback_and_verbose(capsys):
    X, y = _toy_problem()
    stack = np.repeat(X[:, None, :], 3, axis=1)  # (n, M=3, d) stochastic representations

    class MeanOverM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 2)

        def forward(self, x):
            return self.lin(x).mean(dim=1)

    hist = train_module(MeanOverM(), torch.from_numpy(stack), torch.from_numpy(y), epochs=10,
                        batch_size=8, random_state=0, verbose=1,
                        callback=lambda epoch, module, history: epoch == 2)
    assert len(hist["loss"]) == 3
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 3 and out[0].startswith("epoch   1/10  loss ")


def test_sgd_heads_warn_when_the_budget_is_a_handful_of_steps(skewed):
    # Counts [600, 60, 15]: a class-aware epoch is 3 * 600 = 1800 draws (the
    # official sampler's length), 4 batches of the ImageNet-LT 512.
    X, y, *_ = skewed
    with pytest.warns(ConvergenceWarning, match=r"Only 20 SGD steps in all \(5 epochs of 1800 "):
        LWSClassifier(random_state=0).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="Only 40 SGD steps"):
        CRTClassifier(solver="sgd", random_state=0).fit(X, y)
    # Other samplers keep n_samples = 675 draws per epoch: 2 batches.
    with pytest.warns(ConvergenceWarning, match=r"Only 10 SGD steps in all \(5 epochs of 675 "):
        LWSClassifier(sampler="sqrt", random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        # ceil(1800 / 128) = 15 steps per epoch: 3 epochs (45) warn, 4 (60) do not.
        LWSClassifier(batch_size=128, epochs=4, random_state=0).fit(X, y)
        with pytest.raises(ConvergenceWarning, match="Only 45 SGD steps"):
            LWSClassifier(batch_size=128, epochs=3, random_state=0).fit(X, y)


def test_crt_sgd_leaves_the_global_torch_rng_alone(skewed):
    X, y, *_ = skewed
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    CRTClassifier(solver="sgd", epochs=1, random_state=0).fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)


def test_trainer_errors():
    X, y = _toy_problem()
    frozen = torch.nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="nothing to train"):
        train_module(frozen, X, y)
    with pytest.raises(FloatingPointError, match="epoch 1"):
        train_module(torch.nn.Linear(2, 2), X, y, epochs=2,
                     loss_fn=lambda logits, yb, idx: logits.sum() * float("nan"))
    with pytest.raises(ValueError, match="y must have shape"):
        train_module(torch.nn.Linear(2, 2), X, y[:-1])


def test_cache_hit_still_warns_about_an_unconverged_head(tmp_path):
    from sklearn.exceptions import ConvergenceWarning

    from sklearn_lt.heads import CRTClassifier

    rng = np.random.RandomState(0)
    X = rng.randn(60, 4) * 50
    y = np.repeat([0, 1, 2], 20)
    for _ in range(2):  # first call computes, second is a joblib cache hit
        with pytest.warns(ConvergenceWarning, match="did not converge"):
            CRTClassifier(max_iter=1, memory=str(tmp_path)).fit(X, y)
