"""τ sweep: cross-validated scores (many/medium/few/all) against one parameter."""

import numpy as np

from ._base import _axes


class TauSweepDisplay:
    """Cross-validated scores against τ (or any one searched parameter).

    Kang et al. (ICLR 2020, Fig. 3) pick τ where the few-shot gain stops
    paying for the many-shot loss; this draws that trade-off from a
    :class:`~sklearn.model_selection.GridSearchCV` scored with several
    metrics, e.g. ``scoring={"many": make_shot_scorer("many"), ...,
    "all": make_shot_scorer("all")}``, one curve per metric with a band of
    ± one standard deviation over the folds.

    Parameters
    ----------
    param_values : array-like of shape (n_values,)
        The values of the parameter, increasing.
    mean_scores : dict of str to array-like of shape (n_values,)
        Mean test score of each metric at each value.
    std_scores : dict of str to array-like of shape (n_values,), default=None
        Their standard deviations over the folds.
    param_name : str, default="tau"
        x-axis label.
    best_value : float, default=None
        Value chosen by the search, marked with a vertical line.

    Attributes
    ----------
    lines_ : dict of str to matplotlib Line2D
        The curve of each metric.
    ax_ : matplotlib Axes
        Axes it was drawn on.
    figure_ : matplotlib Figure
        Figure holding ``ax_``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn_lt.heads import TauNormClassifier
    >>> from sklearn_lt.inspection import TauSweepDisplay
    >>> from sklearn_lt.metrics import make_shot_scorer
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], [300, 60, 12])  # many-, medium-, few-shot in every fold
    >>> Z = rng.normal(size=(372, 4)) + 2 * y[:, None]
    >>> scoring = {s: make_shot_scorer(s) for s in ("many", "few", "all")}
    >>> search = GridSearchCV(TauNormClassifier(), {"tau": [0.0, 1.0, 2.0]},
    ...                       scoring=scoring, refit="all", cv=3).fit(Z, y)
    >>> disp = TauSweepDisplay.from_estimator(search)
    >>> sorted(disp.mean_scores), disp.param_values
    (['all', 'few', 'many'], array([0., 1., 2.]))
    """

    def __init__(self, param_values, mean_scores, std_scores=None, *, param_name="tau",
                 best_value=None):
        self.param_values = np.asarray(param_values, dtype=np.float64)
        self.mean_scores = {k: np.asarray(v, dtype=np.float64) for k, v in mean_scores.items()}
        self.std_scores = (None if std_scores is None else
                           {k: np.asarray(v, dtype=np.float64) for k, v in std_scores.items()})
        for key, values in self.mean_scores.items():
            if values.shape != self.param_values.shape:
                raise ValueError(f"mean_scores[{key!r}] has shape {values.shape}, but "
                                 f"param_values has {self.param_values.shape}.")
        self.param_name = param_name
        self.best_value = best_value

    @classmethod
    def from_cv_results(cls, cv_results, *, param_name=None, metrics=None, best_value=None,
                        ax=None, **kwargs):
        """Scores of a search's ``cv_results_`` against its one varying parameter.

        Parameters
        ----------
        cv_results : dict
            ``cv_results_`` of a GridSearchCV or RandomizedSearchCV.
        param_name : str, default=None
            The parameter on the x axis, as in ``param_grid`` (e.g.
            ``"clf__tau"``); ``None``: the only parameter whose name ends in
            ``tau``, or the only parameter searched. It must be the only one
            that varies: with more, pass a ``cv_results`` restricted to the
            rows of one setting of the others.
        metrics : list of str, default=None
            Metrics to draw (the names in ``scoring``); ``None``: every
            ``mean_test_<metric>`` found (``"score"`` for a single metric).
        best_value : float, default=None
            Value to mark, e.g. ``search.best_params_[param_name]``.
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` makes a new figure.
        **kwargs : dict
            Passed to ``ax.plot`` for every curve.

        Returns
        -------
        display : TauSweepDisplay
            The display, drawn.
        """
        param_name = cls._param_name(cv_results, param_name)
        column = cv_results[f"param_{param_name}"]
        # A grid given as a list of dicts leaves the parameter masked in the rows of
        # the other dicts: those rows are other settings, not values of it.
        rows = np.flatnonzero(~np.ma.getmaskarray(column))
        if rows.size == 0:
            raise ValueError(f"No row of cv_results sets {param_name}.")
        values = np.asarray(np.ma.getdata(column)[rows], dtype=np.float64)
        if len(np.unique(values)) != len(values):
            raise ValueError(
                f"{param_name} takes the same value in several rows of cv_results, so "
                "another parameter varies too. Restrict cv_results to the rows of one "
                "setting of the other parameters."
            )
        if metrics is None:
            metrics = [key[len("mean_test_"):] for key in cv_results
                       if key.startswith("mean_test_")]
        missing = [m for m in metrics if f"mean_test_{m}" not in cv_results]
        if missing or not metrics:
            raise ValueError(f"cv_results has no mean_test_ column for {missing or metrics!r}.")
        order = rows[np.argsort(values)]
        values = np.sort(values)
        mean = {m: np.asarray(cv_results[f"mean_test_{m}"])[order] for m in metrics}
        std = {m: np.asarray(cv_results[f"std_test_{m}"])[order] for m in metrics
               if f"std_test_{m}" in cv_results}
        display = cls(values, mean, std or None, param_name=param_name,
                      best_value=best_value)
        return display.plot(ax=ax, **kwargs)

    @classmethod
    def from_estimator(cls, search, *, param_name=None, metrics=None, ax=None, **kwargs):
        """Scores of a fitted search, with the chosen value marked.

        Parameters
        ----------
        search : GridSearchCV or RandomizedSearchCV
            A fitted search.
        param_name : str, default=None
            See :meth:`from_cv_results`.
        metrics : list of str, default=None
            See :meth:`from_cv_results`.
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` makes a new figure.
        **kwargs : dict
            Passed to ``ax.plot`` for every curve.

        Returns
        -------
        display : TauSweepDisplay
            The display, drawn.
        """
        if not hasattr(search, "cv_results_"):
            raise AttributeError(
                f"{type(search).__name__} has no cv_results_: pass a fitted search "
                "(GridSearchCV, RandomizedSearchCV)."
            )
        param_name = cls._param_name(search.cv_results_, param_name)
        best = getattr(search, "best_params_", {}).get(param_name)
        return cls.from_cv_results(search.cv_results_, param_name=param_name,
                                   metrics=metrics, best_value=best, ax=ax, **kwargs)

    @staticmethod
    def _param_name(cv_results, param_name):
        params = [key[len("param_"):] for key in cv_results if key.startswith("param_")]
        if param_name is not None:
            if param_name not in params:
                raise ValueError(f"cv_results has no parameter {param_name!r}; it has "
                                 f"{params!r}.")
            return param_name
        taus = [p for p in params if p == "tau" or p.endswith("__tau")]
        if len(taus) == 1:
            return taus[0]
        if len(params) == 1:
            return params[0]
        raise ValueError(f"cv_results searches {params!r}: say which to draw with param_name.")

    def plot(self, ax=None, **kwargs):
        """Draw each metric's mean score, its ± std band, and the chosen value.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` makes a new figure.
        **kwargs : dict
            Passed to ``ax.plot`` for every curve.

        Returns
        -------
        display : TauSweepDisplay
            ``self``, with ``lines_``, ``ax_`` and ``figure_`` set.
        """
        ax = _axes(ax, type(self).__name__)
        kwargs.setdefault("marker", "o")
        kwargs.setdefault("markersize", 3)
        self.lines_ = {}
        for metric, mean in self.mean_scores.items():
            (line,) = ax.plot(self.param_values, mean, label=metric, **kwargs)
            std = (self.std_scores or {}).get(metric)
            if std is not None:
                ax.fill_between(self.param_values, mean - std, mean + std,
                                color=line.get_color(), alpha=0.15, lw=0)
            self.lines_[metric] = line
        if self.best_value is not None:
            ax.axvline(self.best_value, color="black", ls=":", lw=1,
                       label=f"chosen {self.param_name} = {self.best_value:g}")
        ax.set_xlabel(self.param_name)
        ax.set_ylabel("mean test score over the folds")
        ax.legend(loc="best")
        self.ax_, self.figure_ = ax, ax.figure
        return self
