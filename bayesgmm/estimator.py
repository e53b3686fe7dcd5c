"""scikit-learn-style estimator front end: NumPy in, NumPy out, state and validation here."""

import functools
import inspect
import math
import numbers
import sys
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from bayesgmm import density, em, online, outofcore
from bayesgmm.covariance import COVARIANCE_TYPES, FAMILIES, check_covariance_type
from bayesgmm.covariance import n_parameters as _n_parameters
from bayesgmm.init import INIT_METHODS
from bayesgmm.params import GMMParams


class ConvergenceWarning(UserWarning):
    """The best EM run stopped at ``max_iter`` before the lower bound settled."""


class NotFittedError(ValueError, AttributeError):
    """An estimator was used before ``fit`` (a ValueError and AttributeError, as scikit-learn's).

    When scikit-learn is already imported, the error raised is also an instance of
    ``sklearn.exceptions.NotFittedError``, so code written for scikit-learn (and its
    ``check_estimator``) catches it; bayesgmm never imports scikit-learn for this.
    """

    def __new__(cls, *args, **kwargs):
        sklearn_exceptions = sys.modules.get("sklearn.exceptions")
        if cls is NotFittedError and sklearn_exceptions is not None:
            cls = _not_fitted_error_for(sklearn_exceptions.NotFittedError)
        return super().__new__(cls, *args, **kwargs)


@functools.cache
def _not_fitted_error_for(sklearn_not_fitted_error):
    return type("NotFittedError", (NotFittedError, sklearn_not_fitted_error),
                {"__module__": __name__, "__doc__": NotFittedError.__doc__})


class ComplexDataError(TypeError, ValueError):
    """Complex input: a TypeError (the wrong kind of number) that is also a ValueError, the
    class scikit-learn raises for it, so that either ``except`` clause catches it."""


# ----------------------------------------------------------------------------- input checks

def default_float_dtype():
    """float64 when JAX's x64 mode is on, float32 otherwise (bayesgmm never flips the flag)."""
    return np.dtype(jnp.result_type(float))


def compute_dtype(input_dtype):
    """The dtype a fit on data of ``input_dtype`` runs in.

    float32 data stay float32 (also when x64 is on, as scikit-learn preserves float32);
    everything else (float64, integers, booleans, float16) computes in
    :func:`default_float_dtype`, so float64 data give float32 when x64 is off.
    """
    return np.dtype(np.float32) if np.dtype(input_dtype) == np.float32 else default_float_dtype()


def check_array(X, *, name="X", dtype=None, estimator="GaussianMixture"):
    """Validate a 2-D numeric array and convert it to the compute dtype.

    ``dtype=None`` means :func:`compute_dtype` of the input's dtype. Raises ValueError (wrong
    ndim, empty, NaN or infinity, strings that are not numbers) or TypeError (sparse matrices,
    dates, objects that are not numbers; complex numbers raise :class:`ComplexDataError`,
    both) with a message naming the problem.
    """
    if hasattr(X, "toarray") and hasattr(X, "nnz"):  # a scipy.sparse matrix or array
        raise TypeError(f"Sparse data was passed as {name} ({type(X).__name__}), but "
                        f"{estimator} needs dense data: use X.toarray().")
    if isinstance(X, jax.Array):
        X = np.asarray(X)
    array = np.asarray(X)
    if np.iscomplexobj(array):
        raise ComplexDataError(f"Complex data not supported: {name} has dtype "
                               f"{array.dtype}; {estimator} needs real numbers.")
    if array.dtype.kind in "mMV":  # dates, durations, structured records: not numbers
        raise TypeError(f"{name} must contain numbers, got dtype {array.dtype}.")
    if array.dtype.kind not in "biuf":
        try:
            array = array.astype(np.float64)
        # Python's own split: a string that is not a number is a ValueError, an object that
        # is not a number (a dict) a TypeError; keep it, as scikit-learn does.
        except (TypeError, ValueError) as err:
            raise type(err)(f"{name} must contain numbers; converting its {array.dtype} "
                            f"entries to float failed: {err}") from None
    if array.ndim != 2:
        if array.ndim == 1:
            raise ValueError(
                f"Expected 2D array, got 1D array instead: {name}.shape={array.shape}. Reshape "
                f"your data either using array.reshape(-1, 1) if your data has a single "
                f"feature or array.reshape(1, -1) if it contains a single sample.")
        raise ValueError(f"Expected 2D array, got {array.ndim}D array instead "
                         f"({name}.shape={array.shape}).")
    for axis, what in enumerate(("sample", "feature")):
        if array.shape[axis] == 0:  # scikit-learn's wording
            raise ValueError(f"Found array with 0 {what}(s) (shape={array.shape}) while a "
                             f"minimum of 1 is required ({name}: at least one sample and one "
                             f"feature).")
    dtype = compute_dtype(array.dtype) if dtype is None else np.dtype(dtype)
    array = array.astype(dtype, copy=False)
    if not np.all(np.isfinite(array)):
        bad_rows = np.flatnonzero(~np.all(np.isfinite(array), axis=1))
        what = "NaN" if np.isnan(array).any() else "infinity"
        raise ValueError(f"Input {name} contains {what} in {bad_rows.size} row(s) (first: "
                         f"{bad_rows[:5].tolist()}). Remove or impute them before fitting.")
    if dtype == np.float32 and np.abs(array).max() > np.finfo(np.float32).max / 1e6:
        raise ValueError(f"{name} has entries up to {np.abs(array).max():.3g}, too large for "
                         f"float32 arithmetic; scale the data or enable float64 "
                         f"(jax.config.update('jax_enable_x64', True)).")
    return array


def check_sample_weight(sample_weight, n_samples, dtype):
    """Validate non-negative frequency weights of shape (n_samples,); None stays None."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=dtype)
    if w.ndim == 0:
        w = np.full(n_samples, w, dtype)
    if w.shape != (n_samples,):
        raise ValueError(f"sample_weight has shape {w.shape}, expected ({n_samples},).")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("sample_weight must be finite and non-negative.")
    if w.sum() <= 0:
        raise ValueError("sample_weight sums to zero: at least one row needs positive weight.")
    return w


def key_from_random_state(random_state):
    """A JAX key from an int, None, a NumPy RandomState/Generator, or a JAX key."""
    if isinstance(random_state, jax.Array):
        if jnp.issubdtype(random_state.dtype, jax.dtypes.prng_key):
            return random_state
        if random_state.dtype == jnp.uint32 and random_state.shape == (2,):
            return jax.random.wrap_key_data(random_state)
        raise TypeError(f"random_state given as a JAX array must be a PRNG key, got dtype "
                        f"{random_state.dtype} and shape {random_state.shape}.")
    if random_state is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    elif isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        seed = int(random_state)
        if not 0 <= seed < 2 ** 32:
            raise ValueError(f"random_state must be in [0, 2**32), got {seed}.")
    elif isinstance(random_state, np.random.RandomState):
        seed = int(random_state.randint(2 ** 31 - 1))
    elif isinstance(random_state, np.random.Generator):
        seed = int(random_state.integers(2 ** 31 - 1))
    else:
        raise TypeError(f"random_state must be None, an int, a numpy RandomState or Generator, "
                        f"or a JAX PRNG key; got {type(random_state).__name__}.")
    return jax.random.key(seed)


# ----------------------------------------------------------------------- row-chunked density

@functools.partial(jax.jit, static_argnames=("covariance_type",))
def _block_log_prob_and_resp(X, params, covariance_type):
    # X is a power-of-two block; lax.map over row chunks keeps the (rows, K, d) work bounded.
    n, d = X.shape
    rows = min(n, 1 << max(8, (1 << 20).bit_length() - 1 - (params.means.size - 1).bit_length()))
    chunks = X.reshape(n // rows, rows, d)
    log_prob, log_resp = lax.map(
        lambda x: density.log_prob_and_responsibilities(x, params, covariance_type), chunks)
    return log_prob.reshape(n), log_resp.reshape(n, -1)


def _log_prob_and_resp(X, params, covariance_type, block=1 << 16):
    """Per-row mixture log-density (N,) and log-responsibilities (N, K), NumPy out.

    Rows go through in blocks padded to a power of two (at most ``block`` rows), so a handful
    of compiled shapes serve every N and memory stays bounded.
    """
    n = X.shape[0]
    size = min(block, 1 << max(0, math.ceil(math.log2(n))))
    log_prob, log_resp = [], []
    for start in range(0, n, size):
        part = X[start:start + size]
        padded = np.zeros((size, X.shape[1]), X.dtype)
        padded[:part.shape[0]] = part
        lp, lr = _block_log_prob_and_resp(padded, params, covariance_type)
        log_prob.append(np.asarray(lp)[:part.shape[0]])
        log_resp.append(np.asarray(lr)[:part.shape[0]])
    return np.concatenate(log_prob), np.concatenate(log_resp)


# --------------------------------------------------------------------------------- estimator

class ParamsMixin:
    """scikit-learn's parameter protocol (``get_params``, ``set_params``, a short ``repr``),
    read from the constructor's signature, so that ``clone``, ``Pipeline`` and
    ``GridSearchCV`` work without scikit-learn being a dependency."""

    @classmethod
    def _get_param_names(cls):
        signature = inspect.signature(cls.__init__)
        return sorted(p.name for p in signature.parameters.values()
                      if p.name != "self" and p.kind != p.VAR_KEYWORD)

    def get_params(self, deep=True):
        """Constructor parameters as a dict (``deep`` is accepted for compatibility)."""
        del deep
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params):
        """Set constructor parameters; unknown names raise ValueError."""
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for estimator "
                                 f"{type(self).__name__}. Valid parameters are: {valid}.")
            setattr(self, name, value)
        return self

    def __sklearn_tags__(self):
        """scikit-learn's estimator tags (a density estimator on dense 2-D float data).

        scikit-learn calls this only when it is installed, so it is imported here and not at
        module import: bayesgmm does not depend on it.
        """
        from sklearn.utils import Tags, TargetTags  # noqa: PLC0415 (optional dependency)
        return Tags(estimator_type="density_estimator", target_tags=TargetTags(required=False))

    def __repr__(self):
        defaults = {p.name: p.default
                    for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = [f"{name}={value!r}" for name, value in self.get_params().items()
                   if not _same(value, defaults.get(name))]
        return f"{type(self).__name__}({', '.join(changed)})"


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
    covariance_type : {"full", "tied", "diag", "spherical"}, default "full"
    tol : float, default 1e-3
        EM stops when the per-sample mean log-likelihood changes by less than ``tol``.
    reg_covar : float, default 1e-6
        Non-negative regularisation added to the diagonal of the covariances.
    max_iter : int, default 100
    n_init : int, default 1
        Number of initialisations; the best result is kept.
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}, default "kmeans"
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
        def check_int(name, low):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
                raise ValueError(f"Invalid value for '{name}': {value!r}; '{name}' must be an "
                                 f"integer >= {low}.")

        def check_real(name):
            value = getattr(self, name)
            if (not isinstance(value, numbers.Real) or isinstance(value, bool)
                    or not math.isfinite(value) or value < 0):
                raise ValueError(f"Invalid value for '{name}': {value!r}; '{name}' must be a "
                                 f"finite non-negative number.")

        check_int("n_components", 1)
        check_int("n_init", 1)
        check_int("max_iter", 0)
        check_int("verbose", 0)
        check_int("verbose_interval", 1)
        check_int("restart_batch_size", 1)
        check_int("warmup_batches", 0)
        check_real("learning_offset")
        if (not isinstance(self.learning_decay, numbers.Real)
                or not 0.5 < self.learning_decay <= 1):
            raise ValueError(f"Invalid value for 'learning_decay': {self.learning_decay!r}; "
                             f"'learning_decay' must be in (0.5, 1].")
        if self.chunk_size is not None:
            check_int("chunk_size", 1)
        check_real("tol")
        check_real("reg_covar")
        check_covariance_type(self.covariance_type)
        if self.init_params not in INIT_METHODS:
            raise ValueError(f"Invalid value for 'init_params': {self.init_params!r}; "
                             f"'init_params' should be in {list(INIT_METHODS)}")

    def _check_initial_parameters(self, n_features, dtype):
        k, family = self.n_components, FAMILIES[self.covariance_type]
        weights = means = precisions = None
        if self.weights_init is not None:
            weights = _check_shape(self.weights_init, (k,), "weights_init", dtype)
            if np.any(weights < 0) or np.any(weights > 1):
                raise ValueError(f"The parameter 'weights_init' should be in the range [0, 1], "
                                 f"but got min value {weights.min():.5f}, max value "
                                 f"{weights.max():.5f}")
            if not np.allclose(weights.sum(), 1.0, atol=1e-6 if dtype == np.float32 else 1e-8):
                raise ValueError(f"The parameter 'weights_init' should be normalized, but got "
                                 f"sum(weights) = {weights.sum():.5f}")
        if self.means_init is not None:
            means = _check_shape(self.means_init, (k, n_features), "means_init", dtype)
        if self.precisions_init is not None:
            precisions = _check_shape(self.precisions_init, family.shape(k, n_features),
                                      "precisions_init", dtype)
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
        self.__dict__.pop("_online_state", None)
        sharded = isinstance(X, jax.Array) and em.sample_mesh(X, None)[0] is not None
        # Rows sharded over devices (possibly over several hosts) stay where they are:
        # NumPy conversion would gather them.
        X = _check_sharded(X) if sharded else check_array(X)
        n_samples, n_features = X.shape
        if n_samples < self.n_components:
            raise ValueError(f"Expected n_samples >= n_components but got n_components = "
                             f"{self.n_components}, n_samples = {n_samples}")
        weight = (sample_weight if sharded
                  else check_sample_weight(sample_weight, n_samples, X.dtype))
        init = self._warm_start_init()
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
        self._set_fitted(result, n_features, X.dtype)
        self._report(result, time.perf_counter() - start)
        return self

    def _warm_start_init(self):
        """This fit's parameters as the next fit's start when ``warm_start`` applies."""
        if self.warm_start and hasattr(self, "precisions_cholesky_"):
            return dict(weights_init=self.weights_, means_init=self.means_,
                        precisions_cholesky_init=self.precisions_cholesky_)
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
        self.__dict__.pop("_online_state", None)
        # The initial parameters' shapes are checked against the data's after the first pass.
        init = self._warm_start_init() or dict(weights_init=self.weights_init,
                                               means_init=self.means_init,
                                               precisions_init=self.precisions_init)
        start = time.perf_counter()
        result = outofcore.fit_em_chunks(
            key_from_random_state(self.random_state), chunks, n_components=self.n_components,
            covariance_type=self.covariance_type, tol=self.tol, reg_covar=self.reg_covar,
            max_iter=self.max_iter, init_params=self.init_params, chunk_size=self.chunk_size,
            progress=self.verbose > 0, **init)
        means = result.params.means
        self._set_fitted(result, means.shape[1], means.dtype)
        self._report(result, time.perf_counter() - start)
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
        X = check_array(X, dtype=self.means_.dtype if fitted else None)
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
        family = FAMILIES[self.covariance_type]
        prec_chol = state.params.precisions_cholesky
        self.weights_, self.means_, self.precisions_cholesky_ = (
            np.asarray(a, X.dtype) for a in state.params)
        self.precisions_ = np.asarray(family.precisions(prec_chol), X.dtype)
        self.covariances_ = np.asarray(family.covariances(prec_chol), X.dtype)
        self.n_iter_ = int(state.n_steps)
        self.converged_ = False  # a stream has no convergence test
        self.lower_bound_ = float(state.stats.log_lik)
        self.lower_bounds_ = np.append(self.lower_bounds_, float(state.batch_log_lik))
        self.n_features_in_ = n_features
        self._restart_lower_bounds = np.array([self.lower_bound_])
        return self

    def _online_initial_params(self, X, weight):
        n_samples, n_features = X.shape
        if n_samples < self.n_components:
            raise ValueError(f"Expected n_samples >= n_components but got n_components = "
                             f"{self.n_components}, n_samples = {n_samples}")
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

    def _set_fitted(self, result, n_features, dtype):
        family = FAMILIES[self.covariance_type]
        params = jax.tree.map(lambda a: np.asarray(a, dtype), result.params)
        self.weights_ = params.weights
        self.means_ = params.means
        self.precisions_cholesky_ = params.precisions_cholesky
        self.precisions_ = np.asarray(family.precisions(result.params.precisions_cholesky),
                                      dtype)
        self.covariances_ = np.asarray(family.covariances(result.params.precisions_cholesky),
                                       dtype)
        self.n_iter_ = int(result.n_iter)
        self.converged_ = bool(result.converged)
        self.lower_bound_ = float(result.lower_bound)
        self.lower_bounds_ = np.asarray(result.lower_bounds)[:self.n_iter_]
        self.n_features_in_ = n_features
        self._restart_lower_bounds = np.asarray(result.restart_lower_bounds)

    def _report(self, result, seconds):
        failed = int(np.sum(np.isnan(self._restart_lower_bounds)))
        if failed:
            warnings.warn(
                f"{failed} of {self._restart_lower_bounds.size} initialisations failed "
                f"(a covariance lost positive definiteness) and were discarded; increase "
                f"reg_covar or scale the data if this recurs.", ConvergenceWarning, stacklevel=3)
        if not self.converged_ and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning, stacklevel=3)
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
        if not hasattr(self, "precisions_cholesky_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                f"appropriate arguments before using this estimator.")

    def _check_n_features(self, X):
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input.")

    def _params(self):
        return GMMParams(jnp.asarray(self.weights_), jnp.asarray(self.means_),
                         jnp.asarray(self.precisions_cholesky_))

    def _evaluate(self, X):
        self._check_is_fitted()
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
        if not isinstance(n_samples, numbers.Integral) or n_samples < 1:
            raise ValueError(f"Invalid value for 'n_samples': {n_samples!r}; it must be an "
                             f"integer >= 1.")
        X, y = density.sample(key_from_random_state(self.random_state), self._params(),
                              self.covariance_type, int(n_samples))
        order = np.argsort(np.asarray(y), kind="stable")
        return np.asarray(X)[order], np.asarray(y)[order]

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


def _check_sharded(X):
    """The checks :func:`check_array` makes, for a row-sharded ``jax.Array`` (not gathered)."""
    if X.ndim != 2:
        raise ValueError(f"Expected 2D array, got a sharded array of shape {X.shape}.")
    if not jnp.issubdtype(X.dtype, jnp.floating):
        raise TypeError(f"A sharded X must hold floating-point numbers, got {X.dtype}.")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"Found array with shape {X.shape}; it needs at least one sample "
                         f"and one feature.")
    return X


def _same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return a is b
    return type(a) is type(b) and a == b


def _check_shape(value, shape, name, dtype):
    array = np.asarray(value, dtype=dtype)
    if array.shape != tuple(shape):
        raise ValueError(f"The parameter '{name}' should have the shape {tuple(shape)}, but got "
                         f"{array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"The parameter '{name}' contains NaN or infinity.")
    return array


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


__all__ = ["COVARIANCE_TYPES", "ComplexDataError", "ConvergenceWarning", "GaussianMixture",
           "NotFittedError",
           "ParamsMixin"]
