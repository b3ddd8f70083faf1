"""SWAGReprClassifier: its loss, where its stochastic views come from, and composition."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import make_blobs
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline

from sklearn_lt import Backbone
from sklearn_lt.exceptions import StochasticFeaturesWarning
from sklearn_lt.heads import SWAGReprClassifier
from sklearn_lt.nn import distillation_kl


def _data(seed=0):
    X, y = make_blobs(n_samples=[150, 40, 10], n_features=4, random_state=seed, cluster_std=2.0)
    rng = np.random.RandomState(seed)
    S = X[None] + 0.4 * rng.randn(5, *X.shape)
    return X.astype(np.float32), y, S.astype(np.float32)


def test_distillation_gradient_is_zero_when_teacher_equals_student():
    torch.manual_seed(0)
    student = torch.randn(6, 4, requires_grad=True)
    # Every stochastic view equal to the student: the averaged teacher is the student.
    teacher = student.detach()[:, None].repeat(1, 3, 1)
    for T in (1.0, 2.5):
        loss = distillation_kl(teacher, student, T)
        (grad,) = torch.autograd.grad(loss, student)
        assert abs(loss.item()) < 1e-6
        assert grad.abs().max().item() < 1e-6
    # And it is not zero otherwise (the test can fail).
    loss = distillation_kl(teacher + torch.randn_like(teacher), student, 1.0)
    (grad,) = torch.autograd.grad(loss, student)
    assert loss.item() > 1e-3 and grad.abs().max().item() > 1e-4


def test_distillation_kl_matches_the_formula():
    torch.manual_seed(1)
    t, s, T = torch.randn(5, 3, 4), torch.randn(5, 4), 2.0
    p = F.softmax(t / T, dim=-1).mean(1)
    q = F.softmax(s / T, dim=-1)
    expected = T**2 * (p * (p.log() - q.log())).sum(-1).mean()
    # Both sides are float32 with different operation orders (log-softmax vs
    # log of softmax): agreement to float32 rounding of a few terms.
    torch.testing.assert_close(distillation_kl(t, s, T), expected, rtol=1e-5, atol=1e-6)


def test_no_samples_is_logit_adjusted_retraining_and_samples_change_the_head():
    X, y, S = _data()
    common = dict(epochs=5, batch_size=32, lr=0.05, random_state=0)
    alone = SWAGReprClassifier(n_samples=0, **common).fit(X, y, stochastic_features=S)
    assert alone.n_samples_ == 0
    # n_samples=0 with any stochastic features is the same as none at all.
    with pytest.warns(StochasticFeaturesWarning):
        fallback = SWAGReprClassifier(**common).fit(X, y)
    np.testing.assert_array_equal(alone.coef_, fallback.coef_)
    with_views = SWAGReprClassifier(**common).fit(X, y, stochastic_features=S)
    assert with_views.n_samples_ == 5 and not np.allclose(with_views.coef_, alone.coef_)
    no_distill = SWAGReprClassifier(distill_weight=0.0, **common).fit(X, y, stochastic_features=S)
    assert not np.allclose(no_distill.coef_, with_views.coef_)
    three = SWAGReprClassifier(n_samples=3, **common).fit(X, y, stochastic_features=S)
    assert three.n_samples_ == 3


def test_logit_adjustment_raises_tail_recall():
    X, y, S = _data(1)
    common = dict(epochs=20, batch_size=32, lr=0.05, random_state=0, distill_weight=0.0)
    plain = SWAGReprClassifier(tau=0.0, **common).fit(X, y, stochastic_features=S)
    adjusted = SWAGReprClassifier(tau=1.0, **common).fit(X, y, stochastic_features=S)
    Xt, yt = make_blobs(n_samples=[300, 300, 300], n_features=4, random_state=1, cluster_std=2.0)
    tail = yt == 2
    assert (adjusted.predict(Xt[tail]) == 2).mean() > (plain.predict(Xt[tail]) == 2).mean()


def test_bad_stochastic_features_and_n_samples():
    X, y, S = _data()
    with pytest.raises(ValueError, match="shape"):
        SWAGReprClassifier(epochs=1).fit(X, y, stochastic_features=S[:, :10])
    with pytest.raises(ValueError, match="only 5 stochastic"):
        SWAGReprClassifier(n_samples=6, epochs=1).fit(X, y, stochastic_features=S)


FITS, SAMPLINGS = [], []


class CountingBackbone(Backbone):
    """Records each real fit and each drawing of stochastic representations."""

    def fit(self, X, y):
        FITS.append(len(y))
        return super().fit(X, y)

    def transform_stochastic(self, X, n_samples=None, *, output="features"):
        SAMPLINGS.append(len(X))
        return super().transform_stochastic(X, n_samples, output=output)


def test_search_over_the_heads_parameters_neither_refits_nor_resamples(tmp_path):
    X, y = make_blobs(n_samples=[90, 30, 12], n_features=6, random_state=0, cluster_std=2.0)
    bb = CountingBackbone(module="mlp", max_epochs=6, batch_size=32, lr=0.05, warmup_epochs=1,
                          random_state=0, module__hidden=(16,), swag=True, swa_start=3,
                          swa_snapshots_per_epoch=2, swag_samples=4)
    pipe = Pipeline([("feat", bb), ("clf", SWAGReprClassifier(epochs=2, batch_size=32,
                                                               random_state=0))],
                    memory=str(tmp_path))
    FITS.clear()
    SAMPLINGS.clear()
    grid = {"clf__distill_weight": [0.0, 1.0], "clf__temperature": [1.0, 2.0],
            "clf__n_samples": [2, 4]}
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(pipe, grid, cv=cv)
    search.fit(X.astype(np.float32), y)
    # 3 CV splits + 1 refit, each fitting and sampling the backbone once; without
    # the cache it would be 8 candidates x 3 splits + 1.
    assert len(FITS) == 4 and len(SAMPLINGS) == 4
    assert search.best_estimator_[-1].n_samples_ in (2, 4)
