"""PowerResampler: imbalanced-learn sampler with class targets N n_j^q / sum_k n_k^q.

scikit-learn's and imbalanced-learn's estimator checks run in tests/test_common.py.
"""

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from imblearn.pipeline import make_pipeline
from imblearn.utils.estimator_checks import check_param_validation
from scipy import sparse
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_lt.resampling import PowerResampler
from sklearn_lt.utils import power_class_probabilities

COUNTS = np.array([50, 30, 12, 5, 3])
Y = np.repeat(np.arange(5), COUNTS)
X = np.column_stack([np.arange(Y.shape[0]), Y]).astype(float)  # row id, label

# Targets for N = 100, computed by hand with the largest-remainder method.
# q=0.5: sqrt(counts) = 7.071, 5.477, 3.464, 2.236, 1.732 (sum 19.981), so
# 100 p = 35.39, 27.41, 17.34, 11.19, 8.67; floors 35, 27, 17, 11, 8 sum to 98
# and the two leftover rows go to the largest remainders, .67 and .41.
HAND_TARGETS = {
    0.0: [20, 20, 20, 20, 20],
    0.5: [35, 28, 17, 11, 9],
    1.0: [50, 30, 12, 5, 3],
}


@pytest.mark.parametrize("replacement", ["auto", False, True])
@pytest.mark.parametrize("q", [0.0, 0.5, 1.0])
def test_class_counts_follow_power_law(q, replacement):
    sampler = PowerResampler(q=q, replacement=replacement, random_state=0)
    X_res, y_res = sampler.fit_resample(X, Y)
    counts = np.bincount(y_res, minlength=5)
    assert counts.tolist() == HAND_TARGETS[q]
    assert counts.sum() == Y.shape[0]
    assert np.all(np.abs(counts - Y.shape[0] * power_class_probabilities(COUNTS, q)) < 1)
    assert list(sampler.sampling_strategy_.items()) == list(enumerate(HAND_TARGETS[q]))
    # Every output row is a copy of the input row named by sample_indices_.
    assert np.array_equal(X_res, X[sampler.sample_indices_])
    assert np.array_equal(y_res, Y[sampler.sample_indices_])


@pytest.mark.parametrize(
    "q, n_samples, expected",
    [
        (0.0, 1000, [200] * 5),
        # 1.4 rows each: floors 1, and the 2 leftover rows go to the first classes.
        (0.0, 7, [2, 2, 1, 1, 1]),
        # q=2: n_j^2 = 2500, 900, 144, 25, 9 sum to 3578, so N = 3578 gives them exactly.
        (2.0, 3578, [2500, 900, 144, 25, 9]),
    ],
)
def test_n_samples(q, n_samples, expected):
    _, y_res = PowerResampler(q=q, n_samples=n_samples, random_state=0).fit_resample(X, Y)
    assert np.bincount(y_res).tolist() == expected


def test_q_one_returns_data_unchanged():
    sampler = PowerResampler(q=1.0, random_state=0)
    X_res, y_res = sampler.fit_resample(X, Y)
    assert np.array_equal(X_res, X) and np.array_equal(y_res, Y)
    assert np.array_equal(sampler.sample_indices_, np.arange(Y.shape[0]))


@pytest.mark.parametrize("replacement", ["auto", False])
def test_originals_kept_when_over_sampling(replacement):
    sampler = PowerResampler(q=0.0, replacement=replacement, random_state=0)
    sampler.fit_resample(X, Y)
    idx = sampler.sample_indices_
    uses = np.bincount(idx, minlength=Y.shape[0])
    for label, (n, target) in enumerate(zip(COUNTS, HAND_TARGETS[0.0])):
        rows = uses[Y == label]
        if target >= n:
            assert rows.min() >= 1  # every original row kept
        else:
            assert rows.max() == 1  # under-sampled without replacement
    # Kept rows first, in input order.
    n_kept = int(np.sum(np.minimum(COUNTS, HAND_TARGETS[0.0])))
    assert np.all(np.diff(idx[:n_kept]) > 0)
    if replacement is False:
        # Smallest spread: class 4 (3 rows -> 20) uses each row 6 or 7 times.
        assert set(uses[Y == 4]) <= {6, 7} and uses[Y == 4].sum() == 20
        assert set(uses[Y == 3]) == {4}  # 5 rows -> 20: exactly 4 copies each


def test_replacement_true_bootstraps_every_class():
    sampler = PowerResampler(q=1.0, replacement=True, random_state=0)
    _, y_res = sampler.fit_resample(X, Y)
    assert np.bincount(y_res).tolist() == COUNTS.tolist()
    assert np.any(np.bincount(sampler.sample_indices_, minlength=Y.shape[0]) > 1)
    assert np.array_equal(Y[sampler.sample_indices_], y_res)


def test_reproducible_with_random_state():
    a = PowerResampler(q=0.5, random_state=3).fit_resample(X, Y)[0]
    b = PowerResampler(q=0.5, random_state=3).fit_resample(X, Y)[0]
    c = PowerResampler(q=0.5, random_state=4).fit_resample(X, Y)[0]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_fit_sets_targets_without_resampling():
    sampler = PowerResampler(q=0.5).fit(X, Y)
    assert list(sampler.sampling_strategy_.values()) == HAND_TARGETS[0.5]
    assert sampler.n_features_in_ == 2 and not hasattr(sampler, "sample_indices_")


def test_string_labels_dataframe_and_sparse():
    y_str = np.array(["cat", "dog", "owl"])[np.minimum(Y, 2)]
    df = pd.DataFrame(X, columns=["id", "label"])
    X_res, y_res = PowerResampler(random_state=0).fit_resample(df, pd.Series(y_str, name="t"))
    assert isinstance(X_res, pd.DataFrame) and list(X_res.columns) == ["id", "label"]
    assert isinstance(y_res, pd.Series) and y_res.name == "t"
    # 50 / 30 / 20 rows, q=0: 33.3 each, the leftover row goes to "cat".
    assert Counter(y_res) == {"cat": 34, "dog": 33, "owl": 33}
    X_sp, _ = PowerResampler(random_state=0).fit_resample(sparse.csr_matrix(X), Y)
    X_dense, _ = PowerResampler(random_state=0).fit_resample(X, Y)
    assert sparse.issparse(X_sp) and np.array_equal(X_sp.toarray(), X_dense)


def test_nan_features_pass_through():
    X_nan = X.copy()
    X_nan[Y == 4, 0] = np.nan
    X_res, y_res = PowerResampler(random_state=0).fit_resample(X_nan, Y)
    assert np.isnan(X_res[y_res == 4, 0]).all() and not np.isnan(X_res[y_res != 4]).any()


def test_single_sample_class_is_repeated():
    y = np.array([0, 0, 0, 0, 0, 1])
    X_res, y_res = PowerResampler(q=0.0, random_state=0).fit_resample(np.arange(6)[:, None], y)
    assert np.bincount(y_res).tolist() == [3, 3]
    assert np.all(X_res[y_res == 1, 0] == 5)


def test_errors():
    with pytest.raises(ValueError, match="class"):
        PowerResampler().fit_resample(X, np.zeros(Y.shape[0]))
    with pytest.raises(InvalidParameterError, match="q"):
        PowerResampler(q=-0.5).fit_resample(X, Y)
    with pytest.raises(InvalidParameterError, match="replacement"):
        PowerResampler(replacement="always").fit_resample(X, Y)
    with pytest.raises(ValueError, match="would receive no rows"):
        PowerResampler(q=1.0, n_samples=10).fit_resample(X, Y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        PowerResampler().fit_resample(X[:-1], Y)


def test_failed_call_keeps_fitted_state():
    sampler = PowerResampler(q=0.5, random_state=0)
    sampler.fit_resample(X, Y)
    before = (dict(sampler.sampling_strategy_), sampler.n_features_in_,
              sampler.sample_indices_.copy())
    with pytest.raises(ValueError):
        sampler.fit_resample(np.zeros((4, 3)), [0, 0, 0, 0])
    with pytest.raises(ValueError):
        sampler.set_params(n_samples=3).fit_resample(np.zeros((6, 3)), [0, 0, 0, 1, 2, 3])
    assert dict(sampler.sampling_strategy_) == before[0]
    assert sampler.n_features_in_ == before[1]
    assert np.array_equal(sampler.sample_indices_, before[2])


def test_in_imblearn_pipeline(counting_logistic_regression):
    CountingLogisticRegression = counting_logistic_regression
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [300, 60, 12])
    Xf = rng.randn(y.shape[0], 3) + y[:, None]
    pipe = make_pipeline(PowerResampler(q=0.0, random_state=0), CountingLogisticRegression())
    pipe.fit(Xf, y)
    # The classifier saw the class-balanced data: 372 rows, 124 per class.
    assert pipe[-1].class_counts_.tolist() == [124, 124, 124]
    # At predict time the sampler is skipped: one prediction per input row.
    assert pipe.predict(Xf).shape == y.shape
    # Balanced training raises the tail recall over instance-balanced training.
    plain = CountingLogisticRegression().fit(Xf, y)
    tail = y == 2
    assert np.mean(pipe.predict(Xf[tail]) == 2) > np.mean(plain.predict(Xf[tail]) == 2)


def test_imblearn_param_validation():
    check_param_validation("PowerResampler", PowerResampler(random_state=0))


def test_source_counts_kept_and_used_by_shot_scorers_in_a_pipeline():
    from sklearn_lt.heads import NCMClassifier
    from sklearn_lt.metrics import make_shot_scorer
    from sklearn_lt.utils import class_counts_of

    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [300, 30, 3])
    X = rng.randn(y.shape[0], 3) + 3 * y[:, None]
    pipe = make_pipeline(PowerResampler(q=0.0, random_state=0), NCMClassifier()).fit(X, y)
    assert pipe[-1].class_counts_.tolist() == [111, 111, 111]  # what the head saw
    classes, counts = class_counts_of(pipe)
    assert counts.tolist() == [300, 30, 3] and classes.tolist() == [0, 1, 2]
    # With the source counts class 2 is few-shot and class 1 medium; with the
    # resampled ones all three would be "many" and "few" would be NaN.
    pred = pipe.predict(X)
    few = make_shot_scorer("few")(pipe, X, y)
    assert few == pytest.approx(np.mean(pred[y == 2] == 2))
    assert np.isfinite(few)


def test_fit_forgets_indices_of_an_earlier_fit_resample():
    y = np.array([0] * 8 + [1] * 2)
    X = np.arange(10)[:, None]
    sampler = PowerResampler(q=0.0, random_state=0)
    sampler.fit_resample(X, y)
    assert sampler.sample_indices_.shape == (10,)
    sampler.fit(X[:6], y[[0, 1, 2, 3, 8, 9]])
    assert not hasattr(sampler, "sample_indices_")
    assert sampler.class_counts_.tolist() == [4, 2]


def test_power_resampler_does_not_overflow_for_large_q():
    # q=200: 50**200 overflows float64; power_class_probabilities works in log
    # space (tests/test_utils_sampling.py), so the targets stay finite: 1000 p_j.
    p0 = 1.0 / (1 + (49 / 50) ** 200)
    X_res, y_res = PowerResampler(q=200, n_samples=1000, random_state=0).fit_resample(
        np.zeros((99, 1)), np.repeat([0, 1], [50, 49]))
    assert np.bincount(y_res).tolist() == [983, 17]
    assert abs(983 - 1000 * p0) < 1


# --------------------------------------------------------------------------- N-D input
IMAGES = np.random.RandomState(0).randint(0, 256, size=(Y.shape[0], 3, 4, 5)).astype(np.uint8)


@pytest.mark.parametrize("q", [0.0, 0.5])
def test_images_are_resampled_as_rows(q):
    # (N, C, H, W) uint8 images were refused ("Found array with dim 4").
    sampler = PowerResampler(q=q, random_state=0)
    X_res, y_res = sampler.fit_resample(IMAGES, Y)
    assert np.bincount(y_res).tolist() == HAND_TARGETS[q]
    assert X_res.dtype == np.uint8 and X_res.shape == (100, 3, 4, 5)
    assert np.array_equal(X_res, IMAGES[sampler.sample_indices_])
    # The rows drawn are those of the same sampler on a 2-D view of the images.
    flat = PowerResampler(q=q, random_state=0)
    flat.fit_resample(IMAGES.reshape(len(Y), -1), Y)
    assert np.array_equal(flat.sample_indices_, sampler.sample_indices_)
    # Features counted as Backbone counts them: the product of a sample's dimensions.
    assert sampler.n_features_in_ == 3 * 4 * 5 and sampler.fit(IMAGES, Y).n_features_in_ == 60
    # Grey (N, H, W) images too; a 1-D X is still refused.
    assert PowerResampler(q=q, random_state=0).fit_resample(IMAGES[:, 0], Y)[0].shape[1:] == (4, 5)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        PowerResampler().fit_resample(IMAGES[:, 0, 0, 0], Y)


def test_in_front_of_the_image_backbone_in_an_imblearn_pipeline():
    from sklearn_lt import Backbone

    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [24, 6, 2])
    X = rng.randint(0, 256, size=(y.shape[0], 1, 8, 8)).astype(np.uint8)
    pipe = make_pipeline(
        PowerResampler(q=0.0, random_state=0),
        Backbone(module="cnn", module__widths=(4,), max_epochs=1, batch_size=16,
                 augment="none", random_state=0),
    ).fit(X, y)
    # The backbone trained on class-balanced images: 32 rows, 11 / 11 / 10.
    assert pipe[-1].class_counts_.tolist() == [11, 11, 10]
    assert pipe[-1].input_shape_ == (1, 8, 8)
    assert pipe[0].class_counts_.tolist() == [24, 6, 2]
    # At predict time the sampler is skipped: one prediction per input image.
    assert pipe.predict(X).shape == y.shape
