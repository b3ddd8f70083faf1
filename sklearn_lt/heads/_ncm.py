"""Nearest class mean classifier (Kang et al., 2020)."""

from numbers import Real

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.utils._param_validation import Interval, StrOptions

from ..utils._docstring import Substitution
from ._base import THREADS_CONSTRAINT, THREADS_PARAM_DOC, BaseHead


def _l2_normalize(Z):
    norms = np.linalg.norm(Z, axis=1, keepdims=True)
    # A zero row has no direction; leave it at the origin instead of dividing by 0.
    return Z / np.where(norms > 0, norms, 1.0)


def _normalize_features(X, normalize, center):
    X = np.asarray(X, dtype=np.float64)
    if normalize == "centered_l2":
        return _l2_normalize(X - center)
    if normalize == "l2":
        return _l2_normalize(X)
    return X


@Substitution(threads_param=THREADS_PARAM_DOC)
class NCMClassifier(BaseHead):
    """Nearest class mean (NCM) classifier on fixed features.

    The non-parametric stage-2 classifier of Kang et al. (ICLR 2020): each class
    is represented by the mean of its (normalised) training features and a
    sample goes to the nearest mean. Because every class mean is an average,
    its scale does not grow with the class size, which removes the norm bias
    of a jointly trained linear head.

    Parameters
    ----------
    metric : {"euclidean", "cosine"}, default="euclidean"
        ``"euclidean"``: score ``-||z - c_j||`` (the distance, not squared; the
        official code scores the negative squared distance, which ranks
        classes identically). ``"cosine"``: score
        ``z . c_j / (||z|| ||c_j||)``. The centroids do not depend on it, so it
        is read at predict time.
    normalize : {"centered_l2", "l2"} or None, default="centered_l2"
        Feature transform applied to training and test features before the
        class means are taken and before scoring. ``"centered_l2"`` subtracts
        the training mean ``center_`` and then scales each row to unit L2 norm
        (the official default, "cl2n"); ``"l2"`` only scales rows to unit
        norm; ``None`` uses raw features.
    temperature : "auto" or float, default="auto"
        ``predict_proba = softmax(scores / temperature)``. It only shapes the
        probabilities, never the predicted class. The scores are distances or
        cosines of order 1, so a temperature of 1 gives nearly uniform
        probabilities; ``"auto"`` uses ``temperature_``, the value that
        minimises the class-balanced negative log-likelihood of the training
        features (every class weighing the same, as on a balanced test set).
        A number is read at predict time, so it can be tuned on held-out data
        with ``set_params`` without refitting.
    {threads_param}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    class_counts_ : ndarray of shape (n_classes,)
        Training samples per class.
    center_ : ndarray of shape (n_features_in_,)
        Mean training feature, subtracted when ``normalize="centered_l2"``
        (zeros for the other choices).
    centroids_ : ndarray of shape (n_classes, n_features_in_)
        Class means of the transformed training features. They are not
        re-normalised (as in the official code), so with L2-normalised features
        their norms lie in [0, 1].
    normalize_ : str or None
        The ``normalize`` used at fit time; test features get the same transform
        even if ``normalize`` is changed afterwards.
    temperature_ : float
        Temperature minimising the class-balanced training NLL for the
        ``metric`` at fit time (always computed: it costs one scalar search).
    temperatures_ : dict
        The same for both metrics, ``{"euclidean": t, "cosine": t}``, so that
        ``temperature="auto"`` stays right when ``metric`` is changed after
        fit.
        Training features of a network that fits its training set are more
        separable than test features, so this temperature errs on the
        confident side, and when every training sample is nearest its own
        class mean the NLL has no interior minimum and the search ends near
        its lower bound. A number chosen on held-out data does better.
        (``benchmarks/bench_heads_quality.py``: on Fashion-MNIST-LT features "auto"
        lowers the test NLL from 1.74 at temperature 1 to 0.50, the best
        temperature in hindsight giving 0.41; on digits-LT, whose training
        features are separated, it reaches ECE 0.06 but NLL 1.98, against
        1.78 at temperature 1 and 0.22 at the best temperature.)
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when ``X`` has string feature names.

    See Also
    --------
    sklearn.neighbors.NearestCentroid : NCM without the feature normalisation.

    Notes
    -----
    ``decision_function`` returns the scores above, shape (n_samples, n_classes)
    (for two classes the difference ``score_1 - score_0``).

    References
    ----------
    Kang, B. et al. Decoupling representation and classifier for long-tailed
    recognition. ICLR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt.heads import NCMClassifier
    >>> X = np.array([[1.0, 0.1], [2.0, 0.0], [3.0, 0.2], [0.1, 1.0], [0.0, 2.0]])
    >>> y = np.array([0, 0, 0, 1, 1])
    >>> ncm = NCMClassifier(normalize="l2").fit(X, y)
    >>> ncm.predict([[5.0, 0.5], [0.3, 4.0]])
    array([0, 1])
    """

    # Labels and parameters of this head in heads.head_catalog (demo, benchmarks).
    _catalog_variants = {"NCM": {}}

    _parameter_constraints: dict = {
        "metric": [StrOptions({"euclidean", "cosine"})],
        "normalize": [StrOptions({"centered_l2", "l2"}), None],
        "temperature": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        **THREADS_CONSTRAINT,
    }

    def __init__(self, metric="euclidean", normalize="centered_l2", temperature="auto", *,
                 n_threads=None):
        self.metric = metric
        self.normalize = normalize
        self.temperature = temperature
        self.n_threads = n_threads

    def _fit(self, X, y_enc, classes, counts):
        X = np.asarray(X, dtype=np.float64)
        center = X.mean(axis=0) if self.normalize == "centered_l2" else np.zeros(X.shape[1])
        Z = _normalize_features(X, self.normalize, center)
        # Class sums as one sparse one-hot product: np.add.at is unbuffered and
        # orders of magnitude slower on large training sets.
        n = y_enc.shape[0]
        onehot = csr_matrix((np.ones(n), (y_enc, np.arange(n))), shape=(classes.shape[0], n))
        centroids = np.asarray(onehot @ Z) / counts[:, None]
        temperatures = {metric: _fit_temperature(_scores(Z, centroids, metric), y_enc, counts)
                        for metric in ("euclidean", "cosine")}
        return {
            "center_": center,
            "centroids_": centroids,
            # The fitted transform, kept so that set_params(normalize=...) after
            # fit cannot silently mismatch the stored centroids.
            "normalize_": self.normalize,
            "temperature_": temperatures[self.metric],
            "temperatures_": temperatures,
        }

    def _logits(self, X):
        self._validate_params()  # metric/temperature may have been set after fit
        Z = _normalize_features(X, self.normalize_, self.center_)
        return _scores(Z, self.centroids_, self.metric)

    def _proba_logits(self, logits):
        t = self.temperatures_[self.metric] if self.temperature == "auto" else self.temperature
        return logits / t


def _scores(Z, centroids, metric):
    if metric == "cosine":
        return _l2_normalize(Z) @ _l2_normalize(centroids).T
    sq = (Z * Z).sum(1)[:, None] + (centroids * centroids).sum(1)[None, :] - 2.0 * Z @ centroids.T
    return -np.sqrt(np.maximum(sq, 0.0))


def _fit_temperature(scores, y_enc, counts):
    """Temperature minimising the class-balanced NLL of ``softmax(scores / T)``.

    With ``b = 1 / T`` the NLL ``sum_i w_i (logsumexp(b s_i) - b s_{i, y_i})`` is
    convex in ``b``: its derivative is ``sum_i w_i (E_p[s_i] - s_{i, y_i})`` and its
    second derivative the weighted variance of the scores under the softmax, both
    from one softmax per step. Newton's method on that derivative, kept inside a
    bisection bracket in ``log b``, converges in a handful of softmaxes (a scalar
    search over the NLL alone needs a few dozen). ``T`` is bounded to
    [1e-4, 1e4]: when the training classes are perfectly separated the NLL keeps
    falling as ``T -> 0``, and when every score ties it is flat. The softmaxes run
    in float32, in row blocks, so memory stays that of the scores.
    """
    S = np.asarray(scores, dtype=np.float32)
    weights = (1.0 / counts)[y_enc]
    weights /= weights.sum()
    s_true = S[np.arange(S.shape[0]), y_enc].astype(np.float64)

    def slope_curvature(b):
        mean = np.empty(S.shape[0])
        var = np.empty(S.shape[0])
        for start in range(0, S.shape[0], 8192):
            block = S[start:start + 8192]
            z = block * np.float32(b)
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            m = (p * block).sum(axis=1, dtype=np.float64)
            mean[start:start + 8192] = m
            var[start:start + 8192] = (p * block * block).sum(axis=1, dtype=np.float64) - m * m
        return weights @ (mean - s_true), weights @ np.maximum(var, 0.0)

    lo, hi = np.log(1e-4), np.log(1e4)  # the bracket, in log b
    # Still falling at the smallest T (every training sample nearest its own class
    # mean; the slope is then exactly 0 once the softmax saturates): take it.
    if slope_curvature(np.exp(hi))[0] <= 0:
        return 1e-4
    if slope_curvature(np.exp(lo))[0] > 0:  # rising from the largest T on
        return 1e4
    log_b = 0.0
    for _ in range(100):
        b = np.exp(log_b)
        slope, curvature = slope_curvature(b)
        if slope > 0:
            hi = log_b
        else:
            lo = log_b
        step = b - slope / curvature if curvature > 0 else 0.0
        new = np.log(step) if step > 0 else -np.inf
        if not lo < new < hi:
            new = 0.5 * (lo + hi)  # Newton left the bracket: bisect instead
        if abs(new - log_b) < 1e-7 or hi - lo < 1e-7:
            log_b = new
            break
        log_b = new
    return float(1.0 / np.exp(log_b))
