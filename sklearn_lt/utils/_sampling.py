"""The sampling vocabulary shared by stage 1, stage 2 and the resamplers.

Kang et al. (ICLR 2020) draw class ``j`` with probability
``p_j = n_j^q / sum_k n_k^q``. Everything that speaks of such a distribution
-- :class:`~sklearn_lt.Backbone`'s and the SGD heads' ``sampler``,
:func:`~sklearn_lt.nn.make_sampler`, the torch samplers,
:class:`~sklearn_lt.resampling.PowerResampler`'s ``q`` and the L-BFGS form of
cRT -- reads its names, its exponent, its probabilities, its epoch length and
its parameter constraint from here, so that they cannot drift apart.
"""

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

# Named strategies with a fixed exponent q. "progressive" moves from q=1 to
# q=0 over training and has no single exponent.
SAMPLER_Q = {"instance": 1.0, "class": 0.0, "sqrt": 0.5}
PROGRESSIVE = "progressive"
SAMPLER_NAMES = (*SAMPLER_Q, PROGRESSIVE)

# One constraint for q wherever it appears: any finite power >= 0 (q > 1
# sharpens the imbalance; large q is safe, see power_class_probabilities).
Q_CONSTRAINT = Interval(numbers.Real, 0, None, closed="left")
SAMPLER_CONSTRAINT = [StrOptions(set(SAMPLER_NAMES)), Q_CONSTRAINT]

# ``num_samples`` value asking for the class-aware epoch length.
CLASS_EPOCH = "class_epoch"


def sampler_exponent(strategy):
    """The exponent ``q`` of a strategy name or number; ``None`` for "progressive".

    Parameters
    ----------
    strategy : {"instance", "class", "sqrt", "progressive"} or float
        A strategy name or a power ``q >= 0``.

    Returns
    -------
    q : float or None
        ``None`` for ``"progressive"``, whose exponent changes every epoch.

    Examples
    --------
    >>> from sklearn_lt.utils import sampler_exponent
    >>> sampler_exponent("sqrt"), sampler_exponent(0.25), sampler_exponent("progressive")
    (0.5, 0.25, None)
    """
    if isinstance(strategy, str):
        if strategy == PROGRESSIVE:
            return None
        if strategy in SAMPLER_Q:
            return SAMPLER_Q[strategy]
    elif isinstance(strategy, numbers.Real) and not isinstance(strategy, bool):
        q = float(strategy)
        if np.isfinite(q) and q >= 0:
            return q
        raise ValueError(f"q must be a finite number >= 0, got {strategy!r}.")
    raise ValueError(
        f"Unknown sampling strategy {strategy!r}; choose one of "
        f"{', '.join(repr(s) for s in SAMPLER_NAMES)} or a finite number q >= 0."
    )


def is_class_balanced(strategy):
    """Whether a strategy draws every class equally often (``q = 0``)."""
    return not (isinstance(strategy, str) and strategy == PROGRESSIVE) and \
        sampler_exponent(strategy) == 0.0


def power_class_probabilities(counts, q):
    """Class sampling probabilities ``p_j = n_j^q / sum_k n_k^q`` (Kang et al., 2020).

    ``q=1`` is instance-balanced, ``q=0.5`` square-root, ``q=0`` class-balanced.
    Any finite ``q`` works: where ``n_j^q`` overflows (``50**200`` is ``inf`` in
    float64) the powers are taken in log space relative to the largest class,
    ``(n_j / n_max)^q``, which only underflows towards 0 while the largest
    class keeps probability mass. (The direct powers are kept where they are
    finite, so that ``q = 1`` gives exactly ``n_j / n``.)

    Parameters
    ----------
    counts : array-like of shape (n_classes,)
        Positive samples per class.
    q : float
        Exponent, ``>= 0``.

    Returns
    -------
    p : ndarray of shape (n_classes,)
        Probabilities summing to 1.

    Examples
    --------
    >>> from sklearn_lt.utils import power_class_probabilities
    >>> power_class_probabilities([9, 1], 0.5)
    array([0.75, 0.25])
    >>> power_class_probabilities([50, 49], 200).round(3)
    array([0.983, 0.017])
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or counts.shape[0] == 0 or np.any(~np.isfinite(counts)) \
            or np.any(counts <= 0):
        raise ValueError("Class counts must be a non-empty 1-D array of positive numbers.")
    q = sampler_exponent(q)
    if q is None:
        raise ValueError("'progressive' sampling has no single exponent q; its "
                         "probabilities change every epoch (ProgressivelyBalancedSampler).")
    with np.errstate(over="ignore"):
        w = counts ** q
    if not np.isfinite(w.sum()):
        w = np.exp(q * (np.log(counts) - np.log(counts.max())))
    return w / w.sum()


def class_epoch_length(counts):
    """Draws in one class-aware epoch: ``n_classes * max_j n_j``.

    The epoch of Kang et al.'s ``ClassAwareSampler``: every class is visited
    as often as the largest class has samples. Their stage-2 epoch counts
    (cRT 10, LWS 5) assume it.

    Parameters
    ----------
    counts : array-like of shape (n_classes,)
        Samples per class.

    Returns
    -------
    n_draws : int

    Examples
    --------
    >>> from sklearn_lt.utils import class_epoch_length
    >>> class_epoch_length([100, 10, 1])
    300
    """
    counts = np.asarray(counts)
    return int(counts.shape[0] * counts.max())


def resolve_num_samples(num_samples, counts):
    """Draws per epoch from ``None`` (``n``), ``"class_epoch"`` or a positive int."""
    counts = np.asarray(counts)
    if num_samples is None:
        return int(counts.sum())
    if isinstance(num_samples, str) and num_samples == CLASS_EPOCH:
        return class_epoch_length(counts)
    if (isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral)
            or num_samples < 1):
        raise ValueError(
            f"num_samples must be a positive int, None or {CLASS_EPOCH!r}, got {num_samples!r}."
        )
    return int(num_samples)


def default_epoch_length(strategy):
    """``num_samples`` a stage-2 head uses for a strategy.

    Class-balanced sampling (``"class"`` or ``q = 0``) uses the official
    class-aware epoch (:func:`class_epoch_length`), so that epoch counts mean
    what Kang et al.'s do; the other strategies draw ``n`` samples per epoch.
    """
    return CLASS_EPOCH if is_class_balanced(strategy) else None
