"""Estimator front end of model selection: fit a BIC/AIC/ICL sweep, keep the best
:class:`bayesgmm.GaussianMixture`."""

import numbers

from bayesgmm import plots, selection
from bayesgmm.base import ParamsMixin
from bayesgmm.covariance import COVARIANCE_TYPES
from bayesgmm.estimator import GaussianMixture
from bayesgmm.validation import (check_array, check_int, check_is_fitted, feature_names,
                                 key_from_random_state)


class GaussianMixtureIC(ParamsMixin):
    """Choose K and the covariance type by an information criterion, scikit-learn style.

    Fits every (K, covariance type) of the grid by EM (one compiled program per covariance
    type, see :func:`bayesgmm.selection.bic_sweep`) and keeps the model with the lowest
    criterion as a fitted :class:`bayesgmm.GaussianMixture`. Lower is better (scikit-learn's
    sign; R's mclust reports the negated BIC).

    Parameters
    ----------
    n_components : int or iterable of int, default (1, 2, ..., 9)
        A tuple by default, not a ``range``: scikit-learn's estimator checks allow only
        plain types as default parameters.
    covariance_type : str or sequence of str, default all four types
        ``"full"``, ``"tied"``, ``"diag"``, ``"spherical"``, mclust's models
        (:data:`bayesgmm.MCLUST_MODELS`, ``"E"``, ``"V"``), or a sequence of them.
    criterion : {"bic", "aic", "icl", "icl_hard"}, default "bic"
        ``"icl"`` with the entropy of the responsibilities, ``"icl_hard"`` mclust's ICL
        (hard assignments).
    tol, reg_covar, max_iter, n_init, init_params, random_state, chunk_size
        As :class:`bayesgmm.GaussianMixture`; every model of the grid is fitted with them and
        the same random state, so the chosen model equals ``GaussianMixture(K, ...).fit(X)``.
    verbose : int, default 0
        1 prints a line as each covariance type's sweep is done.

    Attributes
    ----------
    best_estimator_ : GaussianMixture
        The chosen model, fitted.
    n_components_ : int
    covariance_type_ : str
    criterion_ : float
        The chosen model's criterion value.
    table_ : dict of str to ndarray
        One row per (covariance type, K): log-likelihood, number of parameters, BIC, AIC, ICL,
        mclust's ICL (``icl_hard``), lower bound, converged, n_iter.
        ``pandas.DataFrame(model.table_)`` makes it a frame.
    bic_, aic_, icl_ : dict of str to dict of int to float
        ``{covariance_type: {K: value}}``; ``pandas.DataFrame(model.bic_)`` has K as index and
        one column per covariance type, as mclust's BIC table.
    sweep_ : bayesgmm.selection.SweepResult
        The whole sweep (every fit), e.g. for :func:`bayesgmm.plots.plot_bic`.
    n_features_in_ : int
    feature_names_in_ : ndarray of object, shape (n_features_in_,)
        A data frame's column names, as :class:`bayesgmm.GaussianMixture`.
    """

    def __init__(self, n_components=tuple(range(1, 10)), *, covariance_type=COVARIANCE_TYPES,
                 criterion="bic", tol=1e-3, reg_covar=1e-6, max_iter=100, n_init=1,
                 init_params="kmeans", random_state=None, chunk_size=None, verbose=0):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.criterion = criterion
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state
        self.chunk_size = chunk_size
        self.verbose = verbose

    def fit(self, X, y=None):
        """Fit the grid and keep the best model.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        del y
        names = feature_names(X)
        X = check_array(X, caller=type(self).__name__)
        if self.chunk_size is not None:
            check_int("chunk_size", self.chunk_size)
        check_int("verbose", self.verbose, 0)
        key = key_from_random_state(self.random_state)
        sweep = selection.bic_sweep(
            key, X, n_components=self.n_components, covariance_types=self.covariance_type,
            n_init=self.n_init, criterion=self.criterion, tol=self.tol,
            reg_covar=self.reg_covar, max_iter=self.max_iter, init_params=self.init_params,
            chunk_size=self.chunk_size, progress=print if self.verbose > 0 else None)
        k, ctype = sweep.best_n_components, sweep.best_covariance_type
        # The chosen fit is one the sweep already ran (same key as a standalone fit would
        # use): hand it to a GaussianMixture instead of fitting again. An int random_state
        # is passed on as it is (it gives the same key, and a model file can store it).
        seed = self.random_state if isinstance(self.random_state, numbers.Integral) else key
        self.best_estimator_ = GaussianMixture.from_em_result(
            sweep.fit_result(ctype, k), covariance_type=ctype, tol=self.tol,
            reg_covar=self.reg_covar, max_iter=self.max_iter, n_init=self.n_init,
            init_params=self.init_params, random_state=seed, chunk_size=self.chunk_size)
        self.sweep_ = sweep
        self.n_components_ = k
        self.covariance_type_ = ctype
        self.criterion_ = float(sweep.table[sweep.criterion][sweep.best_index])
        self.table_ = sweep.table
        self.bic_ = sweep.criterion_table("bic")
        self.aic_ = sweep.criterion_table("aic")
        self.icl_ = sweep.criterion_table("icl")
        self.n_features_in_ = X.shape[1]
        # Data frame column names, checked by the chosen model at predict (its rules).
        self.best_estimator_._set_feature_names(names)
        if names is not None:
            self.feature_names_in_ = names
        else:
            self.__dict__.pop("feature_names_in_", None)
        return self

    def _best(self):
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_

    def predict(self, X):
        """Labels under the chosen model, shape (n_samples,)."""
        return self._best().predict(X)

    def predict_proba(self, X):
        """Responsibilities under the chosen model, shape (n_samples, n_components_)."""
        return self._best().predict_proba(X)

    def score_samples(self, X):
        """Log-density of every row under the chosen model, shape (n_samples,)."""
        return self._best().score_samples(X)

    def score(self, X, y=None):
        """Mean log-density of the rows under the chosen model."""
        return self._best().score(X, y)

    def fit_predict(self, X, y=None):
        """Fit, then label the rows with the chosen model."""
        return self.fit(X, y).predict(X)

    def plot(self, path=None, *, criterion=None):
        """The criterion against K per covariance type (see :func:`bayesgmm.plots.plot_bic`)."""
        self._best()
        return plots.plot_bic(self.sweep_, path, criterion=criterion)


def select(X, *, n_components=range(1, 10), covariance_type=COVARIANCE_TYPES, criterion="bic",
           **kwargs):
    """Fit a grid of mixtures and return the best as a fitted :class:`GaussianMixture`.

    ``select(X)`` is ``GaussianMixtureIC(...).fit(X).best_estimator_``; the returned model
    carries the sweep's table as ``selection_table_`` (columns as
    :attr:`GaussianMixtureIC.table_`). Keyword arguments as :class:`GaussianMixtureIC`.

    Returns
    -------
    GaussianMixture
    """
    model = GaussianMixtureIC(n_components, covariance_type=covariance_type,
                              criterion=criterion, **kwargs).fit(X)
    best = model.best_estimator_
    best.selection_table_ = model.table_
    return best


__all__ = ["GaussianMixtureIC", "select"]
