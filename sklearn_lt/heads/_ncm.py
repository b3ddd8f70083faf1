"""Nearest class mean classifier (Kang et al., 2020)."""

from numbers import Real

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval, StrOptions

from ..utils import resolve_device
from ..utils._docstring import Substitution
from ..utils._torch import feature_tensor
from ._base import THREADS_CONSTRAINT, THREADS_PARAM_DOC, BaseHead

# Rows per block of the temperature's softmaxes and of the class sums.
_BLOCK = 8192


def _normalize_features(X, normalize, center):
    if normalize == "centered_l2":
        X = X - center
    if normalize in ("centered_l2", "l2"):
        # A zero row has no direction: F.normalize leaves it at the origin.
        X = F.normalize(X, dim=1, eps=1e-300 if X.dtype == torch.float64 else 1e-30)
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
    device : str or torch.device, default="cpu"
        Where the class means, scores and temperature are computed
        (``"auto"``: CUDA when available). float32 features are computed in
        float32 (the class sums in float64), other input in float64.
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
        "device": [str, torch.device],
        **THREADS_CONSTRAINT,
    }

    def __init__(self, metric="euclidean", normalize="centered_l2", temperature="auto", *,
                 device="cpu", n_threads=None):
        self.metric = metric
        self.normalize = normalize
        self.temperature = temperature
        self.device = device
        self.n_threads = n_threads

    def _fit(self, X, y_enc, classes, counts):
        device = resolve_device(self.device)
        X = feature_tensor(X, device)
        y = torch.as_tensor(y_enc, device=device)
        n, d = X.shape
        # The class sums in float64 whatever the features' precision, a block
        # of rows at a time (index_add_: no one-hot matrix, no float64 copy).
        center = torch.zeros(d, dtype=torch.float64, device=device)
        if self.normalize == "centered_l2":  # a pass over X only when it is used
            for start in range(0, n, _BLOCK):
                center += X[start:start + _BLOCK].sum(0, dtype=torch.float64)
            center /= n
        Z = _normalize_features(X, self.normalize, center.to(X.dtype))
        sums = torch.zeros(classes.shape[0], d, dtype=torch.float64, device=device)
        for start in range(0, n, _BLOCK):
            sums.index_add_(0, y[start:start + _BLOCK], Z[start:start + _BLOCK].double())
        centroids = sums / torch.as_tensor(counts, dtype=torch.float64, device=device)[:, None]
        temperatures = {
            metric: _fit_temperature(_scores(Z, centroids.to(Z.dtype), metric), y, counts)
            for metric in ("euclidean", "cosine")}
        return {
            "center_": center.cpu().numpy(),
            "centroids_": centroids.cpu().numpy(),
            # The fitted transform, kept so that set_params(normalize=...) after
            # fit cannot silently mismatch the stored centroids.
            "normalize_": self.normalize,
            "temperature_": temperatures[self.metric],
            "temperatures_": temperatures,
        }

    def _logits(self, X):
        self._validate_params()  # metric/temperature may have been set after fit
        X = feature_tensor(X, resolve_device(self.device))
        Z = _normalize_features(X, self.normalize_,
                                torch.as_tensor(self.center_, device=X.device, dtype=X.dtype))
        centroids = torch.as_tensor(self.centroids_, device=X.device, dtype=X.dtype)
        return _scores(Z, centroids, self.metric).double().cpu().numpy()

    def _proba_logits(self, logits):
        t = self.temperatures_[self.metric] if self.temperature == "auto" else self.temperature
        return logits / t


def _scores(Z, centroids, metric):
    """Scores of every row against every class mean: (n, K), in Z's precision."""
    if metric == "cosine":
        return F.normalize(Z, dim=1, eps=1e-30) @ F.normalize(centroids, dim=1, eps=1e-30).T
    sq = (Z * Z).sum(1)[:, None] + (centroids * centroids).sum(1)[None, :]
    sq.addmm_(Z, centroids.T, alpha=-2.0)
    return sq.clamp_(min=0.0).sqrt_().neg_()


def _fit_temperature(scores, y, counts):
    """Temperature minimising the class-balanced NLL of ``softmax(scores / T)``.

    With ``b = 1 / T`` the NLL ``sum_i w_i (logsumexp(b s_i) - b s_{i, y_i})`` is
    convex in ``b``: its derivative is ``sum_i w_i (E_p[s_i] - s_{i, y_i})`` and its
    second derivative the weighted variance of the scores under the softmax, both
    from one softmax per step. Newton's method on that derivative, kept inside a
    bisection bracket in ``log b``, converges in a handful of softmaxes (a scalar
    search over the NLL alone needs a few dozen). ``T`` is bounded to
    [1e-4, 1e4]: when the training classes are perfectly separated the NLL keeps
    falling as ``T -> 0``, and when every score ties it is flat. The softmaxes run
    in float32 on the scores' device, in row blocks, so memory stays that of the
    scores; the weighted sums are float64.
    """
    S = scores.float()
    device = S.device
    weights = torch.as_tensor(1.0 / counts, dtype=torch.float64, device=device)[y]
    weights /= weights.sum()
    s_true = S.gather(1, y[:, None]).squeeze(1).double()

    def slope_curvature(b):
        mean = torch.empty(S.shape[0], dtype=torch.float64, device=device)
        var = torch.empty_like(mean)
        for start in range(0, S.shape[0], _BLOCK):
            block = S[start:start + _BLOCK]
            p = torch.softmax(block * b, dim=1)
            m = (p * block).sum(1, dtype=torch.float64)
            mean[start:start + _BLOCK] = m
            var[start:start + _BLOCK] = (p * block * block).sum(1, dtype=torch.float64) - m * m
        return (float(weights @ (mean - s_true)),
                float(weights @ var.clamp(min=0.0)))

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
