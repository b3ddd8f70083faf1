"""Deterministic multinomial linear head on fixed features (L-BFGS).

One solver serves two roles in stage 2: the instance-balanced "joint" head that
tau-normalisation, LWS and logit adjustment start from when no jointly trained
head is supplied, and cRT's class-balanced re-training (class weights chosen so
that every class carries the same total weight, which is the class-balanced
sampling objective in expectation).
"""

import warnings

import numpy as np
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_memory


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


def _loss_grad(params, X, y_enc, sw, sw_sum, alpha, n_classes):
    """Weighted softmax cross-entropy + L2 on the weights, divided by sum(s).

    Written out with in-place numpy instead of ``scipy.special.logsumexp``:
    this runs once per L-BFGS step on the whole training set, and the generic
    routine's checks cost as much as the matrix products here.
    """
    n, d = X.shape
    W = params[: n_classes * d].reshape(n_classes, d)
    b = params[n_classes * d:]
    rows = np.arange(n)
    Z = X @ W.T
    Z += b
    z_true = Z[rows, y_enc]
    Z -= Z.max(axis=1, keepdims=True)
    shift = z_true - Z[rows, y_enc]  # the row maximum, removed above
    np.exp(Z, out=Z)
    total = Z.sum(axis=1)
    nll = np.log(total) + shift - z_true  # logsumexp - true logit
    Z /= total[:, None]  # softmax
    Z[rows, y_enc] -= 1.0  # softmax - one-hot
    if sw is not None:
        nll *= sw
        Z *= sw[:, None]
    loss = nll.sum() / sw_sum + 0.5 * alpha * np.einsum("ij,ij->", W, W)
    gW = Z.T @ X
    gW /= sw_sum
    gW += alpha * W
    gb = Z.sum(axis=0) / sw_sum
    return loss, np.concatenate([gW.ravel(), gb])


def fit_linear_head(X, y_enc, n_classes, *, C=1.0, class_weight=None, max_iter=1000, tol=1e-4,
                    return_n_iter=False):
    """Fit a multinomial logistic-regression head ``logits = X @ coef.T + intercept``.

    Minimises ``sum_i s_i * CE(x_i, y_i) + ||coef||_F^2 / (2 C)`` (the intercept
    is not penalised) with scipy's L-BFGS in float64 from a zero start, so the
    result is deterministic. This is scikit-learn's ``LogisticRegression``
    objective; internally it is divided by ``sum_i s_i`` for conditioning.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Features (converted to float64).
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
                                              max_iter=max_iter, tol=tol)
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
    if res.status == 2 and np.max(np.abs(res.jac)) > max(tol, 1e-8) * 10:
        scale = float(np.abs(X).max()) if X.size else 0.0
        return (f"L-BFGS failed after {res.nit} iteration(s): the line search found no "
                f"descent ({res.message}). The features reach {scale:.3g} in magnitude; "
                "standardise them (or remove extreme values) before fitting.")
    return None


def _lbfgs(X, y_enc, n_classes, *, C=1.0, class_weight=None, max_iter=1000, tol=1e-4):
    """The L-BFGS fit itself: (coef, intercept, iterations, problem or None); never warns."""

    X = np.ascontiguousarray(X, dtype=np.float64)
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
    res = minimize(
        _loss_grad, x0, jac=True, method="L-BFGS-B",
        args=(X, y_enc, sw, sw_sum, 1.0 / (C * sw_sum), n_classes),
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
