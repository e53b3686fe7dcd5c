"""scikit-learn-style estimator front end: NumPy in, NumPy out, state and validation here."""

import functools
import math
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from bayesgmm import density, em, online, outofcore
from bayesgmm.base import ParamsMixin
from bayesgmm.covariance import FAMILIES, check_em_covariance_type
from bayesgmm.covariance import n_parameters as _n_parameters
from bayesgmm.exceptions import ConvergenceWarning
from bayesgmm.init import HOST_INIT_METHODS, INIT_METHODS
from bayesgmm.params import GMMParams, check_shapes, precisions_and_covariances
from bayesgmm.rows import map_row_blocks
from bayesgmm.validation import (check_array, check_choice, check_feature_names, check_int,
                                 check_is_fitted, check_n_samples, check_real,
                                 check_sample_weight, check_shape, check_sharded_array,
                                 check_tol, feature_names, key_from_random_state)

# Rows per block of the row-wise evaluation (score_samples, predict, ...): a handful of
# compiled shapes serve every N and memory stays bounded.
_BLOCK_ROWS = 1 << 16
# Rows drawn at least by GaussianMixture.sample (see _sample).
_MIN_SAMPLE_ROWS = 1024


@functools.partial(jax.jit, static_argnames=("covariance_type",))
def _block_log_prob_and_resp(X, params, covariance_type):
    # X is a power-of-two block; lax.map over row chunks keeps the (rows, K, d) work bounded.
    n, d = X.shape
    rows = min(n, 1 << max(8, (1 << 20).bit_length() - 1 - (params.means.size - 1).bit_length()))
    chunks = X.reshape(n // rows, rows, d)
    log_prob, log_resp = lax.map(
        lambda x: density.log_prob_and_responsibilities(x, params, covariance_type), chunks)
    return log_prob.reshape(n), log_resp.reshape(n, -1)


@functools.partial(jax.jit, static_argnames=("covariance_type", "n_samples"))
def _sample(key, params, covariance_type, n_samples):
    # One program for every n_samples up to _MIN_SAMPLE_ROWS, then one per power of two
    # (GaussianMixture.sample keeps the first rows): the unjitted draw compiled some twenty
    # operations one by one, 2.5-3 s in a new process on a 2-core CPU, and again for every
    # new n_samples. With JAX's default (partitionable) Threefry the first n rows of a larger
    # draw are the draw of n rows.
    return density.sample(key, params, covariance_type, n_samples)


def _log_prob_and_resp(X, params, covariance_type):
    """Per-row mixture log-density (N,) and log-responsibilities (N, K), NumPy out.

    ``X`` (N, d) is a NumPy array; its rows go through in blocks padded to a power of two
    (:func:`bayesgmm.rows.map_row_blocks`, at most ``_BLOCK_ROWS`` rows).
    """
    return map_row_blocks(
        lambda block: _block_log_prob_and_resp(block, params, covariance_type), X,
        max_rows=_BLOCK_ROWS)


class GaussianMixture(ParamsMixin):
    """Gaussian mixture fitted by expectation-maximisation, a drop-in for
    :class:`sklearn.mixture.GaussianMixture`.

    The parameters, methods and fitted attributes are scikit-learn's; the fit runs as one
    compiled JAX program (every restart included) on CPU, GPU or TPU. Arrays come back as
    NumPy arrays in the compute dtype: float32 for float32 input, otherwise float64 when
    JAX's x64 mode is enabled (``jax.config.update("jax_enable_x64", True)``) and float32
    when it is not.

    Parameters
    ----------
    n_components : int, default 1
    covariance_type : {"full", "tied", "diag", "spherical"} or an mclust model, default "full"
        mclust's names (:data:`bayesgmm.MCLUST_MODELS`, "E"/"V" in 1-D) fit mclust's
        constrained models; their covariances are stored per component ((K,), (K, d) or
        (K, d, d), see :mod:`bayesgmm.covariance`). EM only (not partial_fit).
    tol : float or "mclust", default 1e-3
        EM stops when the per-sample mean log-likelihood changes by less than ``tol``;
        ``"mclust"``: when the total changes by less than 1e-5 relative (mclust's rule).
    reg_covar : float, default 1e-6
        Non-negative regularisation added to the diagonal of the covariances.
    max_iter : int, default 100
    n_init : int, default 1
        Number of initialisations; the best result is kept.
    init_params : {"kmeans", "k-means++", "random", "random_from_data", "hc"}, default "kmeans"
        ``"hc"``: mclust's hierarchical start (:mod:`bayesgmm.hc`).
    weights_init : array of shape (n_components,), optional
    means_init : array of shape (n_components, n_features), optional
    precisions_init : array, optional
        Shape (n_components, d, d) full, (d, d) tied, (n_components, d) diag,
        (n_components,) spherical.
    random_state : int, numpy RandomState or Generator, JAX PRNG key, or None
    warm_start : bool, default False
        Start the next ``fit`` from this fit's solution (``n_init`` is then ignored).
    verbose : int, default 0
        1 prints a line per fit, 2 every ``verbose_interval`` iterations. The loop runs
        compiled, so the lines are printed when the fit returns.
    verbose_interval : int, default 10
    chunk_size : int, optional
        Rows per E-step chunk (bayesgmm only); memory is O(chunk_size * K * d).
    restart_batch_size : int, default 1
        Restarts run this many at a time under ``vmap`` (bayesgmm only); see
        :func:`bayesgmm.fit_em`.
    devices : sequence of jax.Device or jax.sharding.Mesh, optional
        Shard the rows over these devices; the EM statistics are summed across them inside
        the compiled fit (bayesgmm only; see :func:`bayesgmm.fit_em`). A ``jax.Array``
        already sharded along its rows is fitted where it lies without this.
    learning_decay, learning_offset : float, default 0.6, 2.0
        :meth:`partial_fit` step sizes ``(t + learning_offset) ** -learning_decay`` for
        batch t; ``learning_decay`` in (0.5, 1] (bayesgmm only; see :mod:`bayesgmm.online`).
    warmup_batches : int, default 1
        :meth:`partial_fit`: batches pooled under the initial parameters before the first
        update.

    Attributes
    ----------
    weights_ : ndarray, shape (n_components,)
    means_ : ndarray, shape (n_components, n_features)
    covariances_, precisions_, precisions_cholesky_ : ndarray
        Shapes as ``precisions_init``.
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Per-sample mean log-likelihood of the best run at its last E-step.
    lower_bounds_ : ndarray, shape (n_iter_,)
    n_features_in_ : int
    feature_names_in_ : ndarray of object, shape (n_features_in_,)
        The column names of a data frame given to ``fit`` when all are strings (absent
        otherwise); later calls check them as scikit-learn does: other names or another
        order raise a ValueError, names on one side only warn.

    Notes
    -----
    Degenerate data (identical rows, fewer distinct rows than components, a constant
    feature, collinear features) fit with the default ``reg_covar``: the regularisation keeps
    every covariance positive definite. With ``reg_covar=0`` a covariance that is singular
    raises scikit-learn's ValueError ("... increase reg_covar, or scale the input data").

    A component that empties during EM (takes no responsibility, e.g. initialised far from
    all data) is kept, not re-seeded, and stays finite: as in scikit-learn its weight becomes
    ``10 * eps / n_samples`` (eps of the compute dtype, n_samples the total sample weight
    when weighted; never exactly zero) and, unless
    ``covariance_type="tied"``, its covariance ``reg_covar * I``. Its mean stays where it
    was when it emptied (scikit-learn moves it to the origin). Its tiny weight keeps it out
    of the data's way, but it can still win new rows that lie near that mean.
    """

    def __init__(self, n_components=1, *, covariance_type="full", tol=1e-3, reg_covar=1e-6,
                 max_iter=100, n_init=1, init_params="kmeans", weights_init=None,
                 means_init=None, precisions_init=None, random_state=None, warm_start=False,
                 verbose=0, verbose_interval=10, chunk_size=None, restart_batch_size=1,
                 devices=None, learning_decay=0.6, learning_offset=2.0, warmup_batches=1):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.chunk_size = chunk_size
        self.restart_batch_size = restart_batch_size
        self.devices = devices
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset
        self.warmup_batches = warmup_batches

    # -- validation

    def _check_parameters(self):
        for name, low in (("n_components", 1), ("n_init", 1), ("max_iter", 0), ("verbose", 0),
                          ("verbose_interval", 1), ("restart_batch_size", 1),
                          ("warmup_batches", 0)):
            check_int(name, getattr(self, name), low=low)
        if self.chunk_size is not None:
            check_int("chunk_size", self.chunk_size)
        check_tol(self.tol)
        for name in ("reg_covar", "learning_offset"):
            check_real(name, getattr(self, name))
        check_real("learning_decay", self.learning_decay, low=0.5, high=1.0, low_open=True)
        check_em_covariance_type(self.covariance_type)
        check_choice("init_params", self.init_params, INIT_METHODS + HOST_INIT_METHODS)

    def _check_initial_parameters(self, n_features, dtype):
        k, family = self.n_components, FAMILIES[self.covariance_type]
        weights = means = precisions = None
        if self.weights_init is not None:
            weights = check_shape(self.weights_init, (k,), "weights", dtype,
                                  argument="weights_init")
            if np.any(weights < 0) or np.any(weights > 1):
                raise ValueError(f"The parameter 'weights' should be in the range [0, 1], "
                                 f"but got min value {weights.min():.5f}, max value "
                                 f"{weights.max():.5f} (weights_init)")
            if not np.allclose(weights.sum(), 1.0, atol=1e-6 if dtype == np.float32 else 1e-8):
                raise ValueError(f"The parameter 'weights' should be normalized, but got "
                                 f"sum(weights) = {weights.sum():.5f} (weights_init)")
        if self.means_init is not None:
            means = check_shape(self.means_init, (k, n_features), "means", dtype,
                                argument="means_init")
        if self.precisions_init is not None:
            precisions = check_shape(self.precisions_init, family.shape(k, n_features),
                                     f"{self.covariance_type} precision", dtype,
                                     argument="precisions_init")
            _check_precisions(precisions, self.covariance_type)
        return weights, means, precisions

    # -- fitting

    def fit(self, X, y=None, sample_weight=None):
        """Estimate the parameters by EM.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like, shape (n_samples,), optional
            Non-negative frequency weights (scikit-learn's GaussianMixture has none).

        Returns
        -------
        self
        """
        del y
        self._check_parameters()
        init = self._warm_start_init()
        self.__dict__.pop("_online_state", None)
        sharded = isinstance(X, jax.Array) and em.sample_mesh(X, None)[0] is not None
        # Rows sharded over devices (possibly over several hosts) stay where they are:
        # NumPy conversion would gather them.
        names = None if sharded else feature_names(X)
        X = check_sharded_array(X) if sharded else check_array(X)
        self._set_feature_names(names)
        n_samples, n_features = X.shape
        check_n_samples(n_samples, self.n_components)
        weight = (sample_weight if sharded
                  else check_sample_weight(sample_weight, n_samples, X.dtype))
        warm = init is not None
        if warm:
            self._check_n_features(X)
        else:
            weights, means, precisions = self._check_initial_parameters(n_features, X.dtype)
            init = dict(weights_init=weights, means_init=means, precisions_init=precisions)

        start = time.perf_counter()
        result = em.fit_em(
            key_from_random_state(self.random_state), X, n_components=self.n_components,
            covariance_type=self.covariance_type, tol=self.tol, reg_covar=self.reg_covar,
            max_iter=self.max_iter, n_init=1 if warm else self.n_init,
            init_params=self.init_params, sample_weight=weight, chunk_size=self.chunk_size,
            restart_batch_size=self.restart_batch_size, devices=self.devices, **init)
        self._set_em_result(result)
        self._report(time.perf_counter() - start)
        return self

    def _warm_start_init(self):
        """This fit's parameters as the next fit's start when ``warm_start`` applies, with
        its lower bound: as in scikit-learn, the next fit's first convergence test compares
        against it, so that a fit continued ``max_iter`` iterations at a time converges.
        After :meth:`partial_fit` there is no such bound (a running average over a stream
        is not the bound of an EM iteration on these data), so the test starts from -inf.
        """
        if self.warm_start and hasattr(self, "precisions_cholesky_"):
            online = "_online_state" in self.__dict__
            return dict(weights_init=self.weights_, means_init=self.means_,
                        precisions_cholesky_init=self.precisions_cholesky_,
                        previous_lower_bound=-np.inf if online else self.lower_bound_)
        return None

    def fit_chunks(self, chunks, y=None):
        """Estimate the parameters by exact EM over data too large for memory.

        One pass over ``chunks`` per EM iteration (see :func:`bayesgmm.fit_em_chunks`); the
        result equals :meth:`fit` on the concatenated rows from the same start. The start is
        ``init_params`` run on a uniform sample of rows, or the given/warm-start parameters.

        Parameters
        ----------
        chunks : callable
            ``chunks()`` returns a fresh iterable of arrays of shape (n_i, n_features), or of
            ``(X_i, sample_weight_i)`` pairs; e.g. :func:`bayesgmm.npy_chunks` (a .npy file)
            or :func:`bayesgmm.npy_dir_chunks` (a folder of .npy files).
        y : ignored

        Returns
        -------
        self
        """
        del y
        self._check_parameters()
        if self.n_init != 1:
            raise ValueError(f"fit_chunks makes one start (each start costs passes over the "
                             f"data); got n_init = {self.n_init}.")
        # The initial parameters' shapes are checked against the data's after the first pass.
        warm = self._warm_start_init()
        self.__dict__.pop("_online_state", None)
        init = warm or dict(weights_init=self.weights_init, means_init=self.means_init,
                            precisions_init=self.precisions_init)
        start = time.perf_counter()
        result = outofcore.fit_em_chunks(
            key_from_random_state(self.random_state), chunks, n_components=self.n_components,
            covariance_type=self.covariance_type, tol=self.tol, reg_covar=self.reg_covar,
            max_iter=self.max_iter, init_params=self.init_params, chunk_size=self.chunk_size,
            progress=self.verbose > 0, **init)
        self._set_em_result(result)
        self._report(time.perf_counter() - start)
        return self

    def partial_fit(self, X, y=None, sample_weight=None):
        """One step of online (stepwise) EM on a batch of a stream (Cappé & Moulines 2009).

        The first call on an unfitted estimator initialises from this batch as ``fit`` would
        (``init_params`` and ``random_state``, or ``weights_init``/``means_init``/
        ``precisions_init`` where given) and then takes a step on it; on an estimator fitted
        by ``fit``, the stream starts from the fitted parameters. Every call is one step: the
        E-step of the batch under the current parameters, a running average of the
        statistics with step size ``(t + learning_offset) ** -learning_decay`` (the first
        ``warmup_batches`` batches pooled under the initial parameters), one M-step (see
        :mod:`bayesgmm.online`). The fitted attributes are updated after every call;
        ``n_iter_`` counts the batches, ``lower_bounds_`` holds each batch's mean
        log-likelihood under the parameters before its step, ``lower_bound_`` their running
        average. ``n_init``, ``tol``, ``max_iter`` and ``warm_start`` do not apply.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like, shape (n_samples,), optional

        Returns
        -------
        self
        """
        del y
        self._check_parameters()
        state = getattr(self, "_online_state", None)
        fitted = hasattr(self, "precisions_cholesky_")
        # The stream's first batch sets the feature names (unless a fit did), as fit does.
        if fitted:
            self._warn_feature_names(X)
        names = feature_names(X)
        X = check_array(X, dtype=self.means_.dtype if fitted else None)
        if not fitted:
            self._set_feature_names(names)
        n_samples, n_features = X.shape
        weight = check_sample_weight(sample_weight, n_samples, X.dtype)
        if state is None:
            if fitted:
                self._check_n_features(X)
                params = self._params()
            else:
                params = self._online_initial_params(X, weight)
            state = online.online_init(params, self.covariance_type)
            self.lower_bounds_ = np.zeros(0, X.dtype)
        else:
            self._check_n_features(X)
        state = online.online_step(
            state, X, weight, covariance_type=self.covariance_type, reg_covar=self.reg_covar,
            learning_decay=self.learning_decay, learning_offset=self.learning_offset,
            warmup=self.warmup_batches, chunk_size=self.chunk_size)
        self._online_state = state
        self._set_fitted_params(state.params)
        self.n_iter_ = int(state.n_steps)
        self.converged_ = False  # a stream has no convergence test
        self.lower_bound_ = float(state.stats.log_lik)
        self.lower_bounds_ = np.append(self.lower_bounds_, float(state.batch_log_lik))
        self._restart_lower_bounds = np.array([self.lower_bound_])
        return self

    def _online_initial_params(self, X, weight):
        n_samples, n_features = X.shape
        check_n_samples(n_samples, self.n_components)
        weights, means, precisions = self._check_initial_parameters(n_features, X.dtype)
        family = FAMILIES[self.covariance_type]
        given = GMMParams(
            None if weights is None else jnp.asarray(weights),
            None if means is None else jnp.asarray(means),
            None if precisions is None
            else family.precisions_cholesky_from_precisions(jnp.asarray(precisions)))
        if all(p is not None for p in given):
            return given
        drawn = online.initial_params(
            key_from_random_state(self.random_state), X, self.n_components,
            covariance_type=self.covariance_type, init_params=self.init_params,
            reg_covar=self.reg_covar, sample_weight=weight)
        return GMMParams(*(d if g is None else g for d, g in zip(drawn, given)))

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then label every row by its most responsible component.

        Equals ``fit(X).predict(X)``: the labels come from a final E-step with the fitted
        parameters.
        """
        return self.fit(X, y, sample_weight=sample_weight).predict(X)

    @classmethod
    def from_em_result(cls, result, *, covariance_type, **params):
        """A fitted GaussianMixture holding an EM result, without fitting again.

        For a fit made by the functional API (:func:`bayesgmm.fit_em`, a row of
        :func:`bayesgmm.bic_sweep` through :meth:`bayesgmm.selection.SweepResult.fit_result`,
        :func:`bayesgmm.fit_em_chunks`), so that it predicts, scores, samples and saves as
        an estimator fitted by :meth:`fit`.

        Parameters
        ----------
        result : EMResult
            One fit (no batch axis): ``result.params`` has weights of shape
            (n_components,), means of shape (n_components, n_features) and precision
            Cholesky factors in ``covariance_type``'s shape.
        covariance_type : {"full", "tied", "diag", "spherical"}
            The covariance type the result was fitted with.
        **params
            Further constructor parameters (``tol``, ``random_state``, ...), as the
            estimator's ``get_params`` should report them; ``n_components`` comes from the
            result.

        Returns
        -------
        GaussianMixture
            Fitted: arrays in the dtype of ``result.params.means``.

        Raises
        ------
        ValueError
            Invalid parameters, or parameter shapes that do not fit ``covariance_type``.
        """
        model = cls(np.shape(result.params.weights)[-1], covariance_type=covariance_type,
                    **params)
        model._check_parameters()
        check_shapes(result.params, covariance_type, name="result.params")
        model._set_em_result(result)
        return model

    def _set_em_result(self, result):
        """The fitted attributes from an EMResult (see :meth:`_set_fitted_params`)."""
        self._set_fitted_params(result.params, result.precisions, result.covariances)
        self.n_iter_ = int(result.n_iter)
        self.converged_ = bool(result.converged)
        self.lower_bound_ = float(result.lower_bound)
        self.lower_bounds_ = np.asarray(result.lower_bounds)[:self.n_iter_]
        self._restart_lower_bounds = np.asarray(result.restart_lower_bounds)

    def _set_fitted_params(self, params, precisions=None, covariances=None):
        """``weights_``, ``means_``, the precision and covariance attributes and
        ``n_features_in_`` from ``params``, as NumPy arrays in the dtype of its means. The
        precision and covariance matrices are computed here unless given."""
        dtype = np.dtype(params.means.dtype)
        self.weights_, self.means_, self.precisions_cholesky_ = (
            np.asarray(a, dtype) for a in params)
        if precisions is None or covariances is None:
            precisions, covariances = precisions_and_covariances(params.precisions_cholesky,
                                                                 self.covariance_type)
        self.precisions_ = np.asarray(precisions, dtype)
        self.covariances_ = np.asarray(covariances, dtype)
        self.n_features_in_ = self.means_.shape[1]

    def _report(self, seconds):
        failed = int(np.sum(np.isnan(self._restart_lower_bounds)))
        if failed:
            # an instance, not a class: see ConvergenceWarning (scikit-learn's filters)
            warnings.warn(ConvergenceWarning(
                f"{failed} of {self._restart_lower_bounds.size} initialisations failed "
                f"(a covariance lost positive definiteness) and were discarded; increase "
                f"reg_covar or scale the data if this recurs."), stacklevel=3)
        if not self.converged_ and self.max_iter > 0:
            warnings.warn(ConvergenceWarning(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data."),
                stacklevel=3)
        if self.verbose >= 2:
            previous = -np.inf
            for i, bound in enumerate(self.lower_bounds_, start=1):
                if i % self.verbose_interval == 0:
                    print(f"  Iteration {i}\t lower bound {bound:.6f}\t ll change "
                          f"{bound - previous:.6f}")
                previous = bound
        if self.verbose >= 1:
            state = "converged" if self.converged_ else "did not converge"
            print(f"Fit {state} after {self.n_iter_} iterations in {seconds:.3f} s "
                  f"(lower bound {self.lower_bound_:.6f}).")

    # -- using a fitted model

    def _check_is_fitted(self):
        check_is_fitted(self, "precisions_cholesky_")

    def _set_feature_names(self, names):
        """``feature_names_in_`` from a fit's data frame columns; a fit on data without
        names removes those of an earlier fit (scikit-learn's rule)."""
        if names is not None:
            self.feature_names_in_ = names
        else:
            self.__dict__.pop("feature_names_in_", None)

    def _warn_feature_names(self, X):
        """Check X's column names against the fit's: an error when they differ, a warning
        when only one side has names (scikit-learn's rules)."""
        message = check_feature_names(getattr(self, "feature_names_in_", None), X,
                                      caller=type(self).__name__)
        if message is not None:
            warnings.warn(message, UserWarning, stacklevel=4)

    def _check_n_features(self, X):
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input.")

    def _params(self):
        # device_put, not jnp.asarray, which compiles a copy per shape in every new process.
        return GMMParams(*jax.device_put((self.weights_, self.means_,
                                          self.precisions_cholesky_)))

    def _evaluate(self, X):
        self._check_is_fitted()
        self._warn_feature_names(X)
        X = check_array(X, dtype=self.means_.dtype)
        self._check_n_features(X)
        return _log_prob_and_resp(X, self._params(), self.covariance_type)

    def score_samples(self, X):
        """Log-density of every row under the mixture, shape (n_samples,)."""
        return self._evaluate(X)[0]

    def score(self, X, y=None, sample_weight=None):
        """Mean log-density of the rows (weighted by ``sample_weight`` if given)."""
        del y
        log_prob = self.score_samples(X)
        weight = check_sample_weight(sample_weight, log_prob.shape[0], log_prob.dtype)
        return float(np.average(log_prob, weights=weight))

    def predict_proba(self, X):
        """Responsibilities ``p(component | x)``, shape (n_samples, n_components)."""
        return np.exp(self._evaluate(X)[1])

    def predict(self, X):
        """Most responsible component of every row, shape (n_samples,)."""
        return np.argmax(self._evaluate(X)[1], axis=1)

    def sample(self, n_samples=1):
        """Draw ``n_samples`` rows from the fitted mixture.

        Returns
        -------
        X : ndarray, shape (n_samples, n_features)
        y : ndarray of int, shape (n_samples,)
            Component labels, sorted ascending as scikit-learn returns them.
        """
        self._check_is_fitted()
        n_samples = check_int("n_samples", n_samples)
        X, y = _sample(key_from_random_state(self.random_state), self._params(),
                       self.covariance_type,
                       max(_MIN_SAMPLE_ROWS, 1 << (n_samples - 1).bit_length()))
        X, y = np.asarray(X)[:n_samples], np.asarray(y)[:n_samples]
        order = np.argsort(y, kind="stable")
        return X[order], y[order]

    def _n_parameters(self):
        return _n_parameters(self.n_components, self.means_.shape[1], self.covariance_type)

    def bic(self, X):
        """Bayesian information criterion on X (lower is better)."""
        n = np.asarray(X).shape[0]
        return -2 * self.score(X) * n + self._n_parameters() * math.log(n)

    def aic(self, X):
        """Akaike information criterion on X (lower is better)."""
        n = np.asarray(X).shape[0]
        return -2 * self.score(X) * n + 2 * self._n_parameters()


def _check_precisions(precisions, covariance_type):
    if covariance_type in ("diag", "spherical"):
        if np.any(precisions <= 0):
            raise ValueError(f"'{covariance_type} precision' should be positive")
        return
    matrices = precisions.reshape((-1,) + precisions.shape[-2:])
    for matrix in matrices:
        if not np.allclose(matrix, matrix.T) or np.any(np.linalg.eigvalsh(matrix) <= 0):
            raise ValueError(f"'{covariance_type} precision' should be symmetric, "
                             f"positive-definite")


__all__ = ["GaussianMixture"]
