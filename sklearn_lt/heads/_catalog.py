"""One configured instance of every stage-2 head, found by discovery."""

from sklearn.base import clone

from ..utils.discovery import all_estimators


def head_catalog(*, joint_head=None, sgd_params=None, random_state=None):
    """Every head of ``sklearn_lt.heads.__all__``, configured alike, with a short label.

    The table the demo and the benchmarks iterate over: a head added to
    ``sklearn_lt.heads`` appears here without any list being edited. Each
    class contributes the variants of its ``_catalog_variants`` (cRT: both
    solvers), else one default instance labelled by its class name.

    Parameters
    ----------
    joint_head : tuple (coef, intercept), fitted estimator or None, default=None
        Given to every head with a ``joint_head`` parameter (e.g.
        ``(backbone.coef_, backbone.intercept_)``).
    sgd_params : dict, default=None
        Parameters given to every head that has them, e.g. small-data SGD
        settings ``{"batch_size": 64, "lr": 0.025, "epochs": 10}``. A key
        no head knows is an error.
    random_state : int or None, default=None
        Given to every head with a ``random_state`` parameter.

    Returns
    -------
    catalog : list of (str, estimator)
        ``(label, unfitted head)`` pairs, in the order of discovery.

    Examples
    --------
    >>> from sklearn_lt.heads import head_catalog
    >>> [label for label, _ in head_catalog()]  # doctest: +NORMALIZE_WHITESPACE
    ['cRT (lbfgs)', 'cRT (sgd)', 'LWS', 'post-hoc LA', 'meta-weighted', 'NCM', 'SRepr', 'tau-norm']
    """
    sgd_params = dict(sgd_params or {})
    used = set()
    catalog = []
    for name, cls in all_estimators(type_filter="head"):
        variants = getattr(cls, "_catalog_variants", None) or {name.removesuffix("Classifier"): {}}
        for label, params in variants.items():
            head = cls(**params)
            names = head.get_params(deep=False)
            extra = {k: v for k, v in sgd_params.items() if k in names}
            used.update(extra)
            if joint_head is not None and "joint_head" in names:
                extra["joint_head"] = joint_head
            if random_state is not None and "random_state" in names:
                extra["random_state"] = random_state
            catalog.append((label, clone(head).set_params(**extra)))
    unknown = set(sgd_params) - used
    if unknown:
        raise ValueError(f"sgd_params {sorted(unknown)} are parameters of no head.")
    return catalog
