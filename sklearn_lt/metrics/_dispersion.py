"""Dispersion of stochastic representations or predictions (Nam, Jang & Lee, ICLR 2023)."""

import numpy as np
from sklearn.utils._param_validation import validate_params
from sklearn.utils.validation import check_array


@validate_params({"samples": ["array-like"], "relative": ["boolean"]},
                 prefer_skip_nested_validation=True)
def dispersion(samples, *, relative=True):
    """How far the ``M`` stochastic copies of each input scatter around their mean.

    For the copies ``v_1 .. v_M`` of one input (representations
    ``F(x; theta_m)`` of networks drawn from SWAG, or their predicted
    probabilities), with mean ``v_bar``:

    ``dispersion = mean_m ||v_m - v_bar||^2``, divided by ``||v_bar||^2`` when
    ``relative`` (so that it does not grow with the feature norm, which
    differs between classes). 0 means the copies agree. Nam et al. (Fig. 3)
    report it larger for tail classes: the network is less certain about them.

    Parameters
    ----------
    samples : array-like of shape (M, n_inputs, d)
        The copies, e.g. ``Backbone.transform_stochastic(X)`` (``d`` features)
        or ``transform_stochastic(X, output="proba")`` (``d`` classes).
    relative : bool, default=True
        Divide by the squared norm of the mean copy (representations); use
        ``False`` for probabilities, whose squared distances are already on a
        common scale.

    Returns
    -------
    dispersion : ndarray of shape (n_inputs,)
        One value per input.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt.metrics import dispersion
    >>> S = np.array([[[1.0, 0.0], [2.0, 2.0]], [[1.0, 0.0], [2.0, 0.0]]])  # M=2, 2 inputs
    >>> dispersion(S, relative=False)
    array([0., 1.])
    >>> dispersion(S)
    array([0. , 0.2])
    """
    S = np.asarray(samples, dtype=np.float64)
    if S.ndim != 3 or S.shape[0] < 1:
        raise ValueError(f"samples must have shape (M, n_inputs, d) with M >= 1, got {S.shape}.")
    check_array(S.reshape(-1, S.shape[-1]), input_name="samples")  # finite values
    mean = S.mean(axis=0)
    spread = ((S - mean) ** 2).sum(axis=-1).mean(axis=0)
    if not relative:
        return spread
    norm = (mean**2).sum(axis=-1)
    return np.divide(spread, norm, out=np.zeros_like(spread), where=norm > 0)
