"""Deterministic multinomial linear head on fixed features (L-BFGS).

One solver serves two roles in stage 2: the instance-balanced "joint" head that
tau-normalisation, LWS and logit adjustment start from when no jointly trained
head is supplied, and cRT's class-balanced re-training (class weights chosen so
that every class carries the same total weight, which is the class-balanced
sampling objective in expectation).
"""

import warnings

import numpy as np
import torch
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_memory

from ..utils import resolve_device
from ..utils._torch import feature_tensor


def _sample_weights(y_enc, n_classes, class_weight):
    """Per-sample weights s_i = class_weight[y_i]."""
    if class_weight is None:
        return None
    counts = np.bincount(y_enc, minlength=n_classes).astype(np.float64)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(
                f"class_weight must be None, 'balanced' or an array, got {class_weight!r}.")
        present = counts > 0
        cw = np.zeros(n_classes)
        # n / (K n_j): every class sums to n / K and the weights sum to n, so C
        # keeps the same meaning as without weights.
        cw[present] = y_enc.shape[0] / (present.sum() * counts[present])
    else:
        cw = np.asarray(class_weight, dtype=np.float64)
        if cw.shape != (n_classes,):
            raise ValueError(f"class_weight must have shape ({n_classes},), got {cw.shape}.")
        if not np.all(np.isfinite(cw)) or np.any(cw < 0):
            raise ValueError("class_weight must be finite and non-negative.")
    return cw[y_enc]


# Rows per block of the objective: the block's logits (rows x classes) stay
# near 64 MB in float32, whatever the data set's size; at iNaturalist's 8,142
# classes the logits of all 437,513 rows would take 14 GB.
_BLOCK_ELEMENTS = 1 << 24


class _Objective:
    """Weighted softmax cross-entropy + L2 on the weights, divided by sum(s), and
    its gradient, computed by torch on ``device`` in the features' precision.

    The features stay in their dtype (float32 features, a Backbone's, are
    multiplied in float32: half the memory and twice the speed of float64 on a
    CPU, and what a GPU is fast at); the loss is summed in float64, so that
    L-BFGS's line search compares values more precise than one block's. The
    rows go through in blocks, so the logits never exist for all rows at once.
    """

    def __init__(self, X, y_enc, sw, sw_sum, alpha, n_classes, device):
        self.device = resolve_device(device)
        self.X = feature_tensor(X, self.device)
        self.dtype = self.X.dtype
        self.y = torch.as_tensor(y_enc).to(self.device)
        self.sw = None if sw is None else torch.as_tensor(sw, dtype=self.dtype).to(self.device)
        self.sw_sum, self.alpha, self.n_classes = sw_sum, alpha, n_classes
        self.block = max(1, _BLOCK_ELEMENTS // max(n_classes, 1))

    def __call__(self, params):
        K, (n, d) = self.n_classes, self.X.shape
        p = torch.from_numpy(params).to(self.device, self.dtype)
        W, b = p[:K * d].view(K, d), p[K * d:]
        gW = torch.zeros_like(W)
        gb = torch.zeros_like(b)
        loss = torch.zeros((), dtype=torch.float64, device=self.device)
        for start in range(0, n, self.block):
            Xb, yb = self.X[start:start + self.block], self.y[start:start + self.block]
            Z = torch.addmm(b, Xb, W.T)
            lse = torch.logsumexp(Z, dim=1)
            nll = lse - Z.gather(1, yb[:, None]).squeeze(1)
            Z.sub_(lse[:, None]).exp_()  # softmax, in place
            Z[torch.arange(len(yb), device=self.device), yb] -= 1.0  # softmax - one-hot
            if self.sw is not None:
                sw = self.sw[start:start + self.block]
                nll = nll * sw
                Z.mul_(sw[:, None])
            loss += nll.sum(dtype=torch.float64)
            gW.addmm_(Z.T, Xb)
            gb += Z.sum(dim=0)
        loss = loss / self.sw_sum + 0.5 * self.alpha * W.double().square().sum()
        grad = torch.cat([(gW / self.sw_sum + self.alpha * W).ravel(), gb / self.sw_sum])
        return float(loss), grad.double().cpu().numpy()


def fit_linear_head(X, y_enc, n_classes, *, C=1.0, class_weight=None, max_iter=1000, tol=1e-4,
                    device="cpu", return_n_iter=False):
    """Fit a multinomial logistic-regression head ``logits = X @ coef.T + intercept``.

    Minimises ``sum_i s_i * CE(x_i, y_i) + ||coef||_F^2 / (2 C)`` (the intercept
    is not penalised) with scipy's L-BFGS from a zero start, so the result is
    deterministic. This is scikit-learn's ``LogisticRegression`` objective;
    internally it is divided by ``sum_i s_i`` for conditioning. The objective
    and its gradient are computed by torch on ``device``, in blocks of rows,
    in the precision of ``X`` (float32 features stay float32, as scikit-learn's
    L-BFGS keeps them; other input is float64), with the loss summed in
    float64; L-BFGS's own steps run in float64 on the CPU.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Features; float32 is kept, anything else converted to float64.
    y_enc : array-like of shape (n_samples,)
        Encoded labels in ``0 .. n_classes - 1``.
    n_classes : int
        Number of output classes (rows of ``coef``).
    C : float, default=1.0
        Inverse L2 strength, as in ``LogisticRegression``.
    class_weight : None, "balanced" or array-like of shape (n_classes,), default=None
        Sample weight ``s_i`` of each class. ``None``: all 1 (instance-balanced).
        ``"balanced"``: ``n / (K n_j)``, i.e. every class carries the same total
        weight -- in expectation the loss of class-balanced sampling.
    max_iter : int, default=1000
        Maximum L-BFGS iterations; a :class:`~sklearn.exceptions.ConvergenceWarning`
        is raised when it is reached.
    tol : float, default=1e-4
        Stop when the largest gradient component of the normalised objective is
        below ``tol`` (scikit-learn's ``LogisticRegression`` default). On the
        14,886 x 128 Fashion-MNIST-LT features of ``benchmarks/bench_heads_quality.py``,
        1e-6 takes 4-6x the iterations and moves balanced test accuracy by
        less than 0.05 points.
    device : str or torch.device, default="cpu"
        Where the objective is computed (``"auto"``: CUDA when available).
        The features are copied there once.
    return_n_iter : bool, default=False
        Also return the number of L-BFGS iterations.

    Returns
    -------
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,)
    n_iter : int
        Only if ``return_n_iter=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt.heads import fit_linear_head
    >>> X = np.array([[0.0], [0.2], [1.0], [1.2]])
    >>> coef, intercept = fit_linear_head(X, np.array([0, 0, 1, 1]), 2, C=10.0)
    >>> coef.shape, intercept.shape
    ((2, 1), (2,))
    >>> bool(coef[1, 0] > coef[0, 0])
    True
    """
    coef, intercept, n_iter, problem = _lbfgs(X, y_enc, n_classes, C=C, class_weight=class_weight,
                                              max_iter=max_iter, tol=tol, device=device)
    _warn_unconverged(problem)
    if return_n_iter:
        return coef, intercept, n_iter
    return coef, intercept


def cached_linear_head(memory, X, y_enc, n_classes, **params):
    """``fit_linear_head`` through a joblib ``memory``, returning ``n_iter`` too.

    The convergence warning is raised here, outside the cached call, so a
    cache hit on an unconverged fit still warns (a warning inside the cached
    function would fire only on the first, computing call).
    """
    coef, intercept, n_iter, problem = check_memory(memory).cache(_lbfgs)(
        X, y_enc, n_classes, **params)
    _warn_unconverged(problem)
    return coef, intercept, n_iter


def _warn_unconverged(problem):
    if problem is not None:
        warnings.warn(problem, ConvergenceWarning, stacklevel=3)


def _convergence_problem(res, X, max_iter, tol):
    """What went wrong with an L-BFGS result, as a message; None when it converged.

    Status 1: the iteration budget ran out. Status 2: the line search failed.
    That is harmless at the optimum (machine precision reached), so it is
    reported only when the gradient is still large -- typically features so
    large that the first step overflows, which leaves the zero start and
    ``n_iter == 0`` (as scikit-learn's LogisticRegression reports it).
    """
    if res.status == 1:
        return (f"L-BFGS did not converge in {max_iter} iterations; increase max_iter, or "
                "scale the features.")
    gradient = np.max(np.abs(res.jac)) if res.jac.size else 0.0
    if res.status == 0 and X.dtype == np.float32 and gradient > tol:
        # The relative-reduction test (ftol) fired on float32 rounding of the loss.
        return (f"L-BFGS stopped where float32 features resolve the loss, with a gradient "
                f"of {gradient:.2g} above tol={tol:g}; pass float64 features "
                "(X.astype(np.float64)) for a tighter fit.")
    if res.status == 2 and gradient > max(tol, 1e-8) * 10:
        scale = float(np.abs(X).max()) if X.size else 0.0
        return (f"L-BFGS failed after {res.nit} iteration(s): the line search found no "
                f"descent ({res.message}). The features reach {scale:.3g} in magnitude; "
                "standardise them (or remove extreme values) before fitting.")
    return None


def _lbfgs(X, y_enc, n_classes, *, C=1.0, class_weight=None, max_iter=1000, tol=1e-4,
           device="cpu"):
    """The L-BFGS fit itself: (coef, intercept, iterations, problem or None); never warns."""

    # float32 features stay float32 (see _Objective); anything else is float64.
    X = np.asarray(X, dtype=np.float32 if getattr(X, "dtype", None) == np.float32
                   else np.float64)
    y_enc = np.asarray(y_enc, dtype=np.int64)
    if X.ndim != 2 or y_enc.shape != (X.shape[0],):
        raise ValueError(
            f"Expected X of shape (n, d) and y of shape (n,), got {X.shape} and {y_enc.shape}.")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or infinity.")
    if y_enc.size and (y_enc.min() < 0 or y_enc.max() >= n_classes):
        raise ValueError(f"Encoded labels must lie in [0, {n_classes - 1}].")
    if not C > 0:
        raise ValueError(f"C must be positive, got {C}.")
    n, d = X.shape
    sw = _sample_weights(y_enc, n_classes, class_weight)
    sw_sum = float(n if sw is None else sw.sum())
    if not sw_sum > 0:
        raise ValueError("The sample weights sum to zero; nothing to fit.")
    x0 = np.zeros(n_classes * (d + 1))
    objective = _Objective(X, y_enc, sw, sw_sum, 1.0 / (C * sw_sum), n_classes, device)
    res = minimize(
        objective, x0, jac=True, method="L-BFGS-B",
        options={"maxiter": max_iter, "gtol": tol, "ftol": 64 * np.finfo(float).eps, "maxls": 50},
    )
    coef = res.x[: n_classes * d].reshape(n_classes, d).copy()
    intercept = res.x[n_classes * d:].copy()
    problem = _convergence_problem(res, X, max_iter, tol)
    if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
        raise FloatingPointError(
            "L-BFGS returned non-finite weights; the features are too large to fit "
            f"(they reach {float(np.abs(X).max()):.3g}). Standardise them.")
    return coef, intercept, int(res.nit), problem
