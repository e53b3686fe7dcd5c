"""Expectation-maximisation for Gaussian mixtures, the whole loop compiled.

One iteration is one pass over the data in row chunks (E-step and sufficient statistics
together), then an M-step from the summed statistics. The loop is a ``lax.while_loop`` with
scikit-learn's stopping rule; ``n_init`` restarts run inside the same compiled program.

:func:`fit_restarts` is the traceable core (no validation, no jit) that :func:`fit_em` compiles;
model selection and batched fitting compile it under their own ``lax.map``/``vmap``. Its
``n_active`` argument pads a fit: only the first ``n_active`` of ``n_components`` components
exist, the rest have weight exactly zero (so the shared density gives them ``-inf``, they take
no responsibility and add nothing to the statistics), which lets one compiled program fit
every K of a sweep.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from bayesgmm import density, init, stats
from bayesgmm.covariance import FAMILIES, check_covariance_type
from bayesgmm.params import GMMParams


class EMResult(NamedTuple):
    """Outcome of :func:`fit_em` (the best of the restarts).

    Attributes
    ----------
    params : GMMParams
        Parameters after the last M-step.
    lower_bound : array, shape ()
        Per-sample (weighted) mean log-likelihood at the last E-step, as scikit-learn's
        ``lower_bound_``: it belongs to the parameters before the last M-step.
    lower_bounds : array, shape (max_iter,)
        The lower bound of every iteration; entries from ``n_iter`` on are NaN.
    n_iter : int array, shape ()
    converged : bool array, shape ()
        Whether the change of the lower bound fell below ``tol``.
    restart_lower_bounds : array, shape (n_init,)
        Final lower bound of every restart (NaN for a restart that failed numerically).
    """

    params: GMMParams
    lower_bound: jax.Array
    lower_bounds: jax.Array
    n_iter: jax.Array
    converged: jax.Array
    restart_lower_bounds: jax.Array


def e_step_statistics(X, params, covariance_type, *, sample_weight=None, chunk_size):
    """One pass over the data: the statistics of the responsibilities under ``params``.

    Parameters
    ----------
    X : array, shape (N, d)
    params : GMMParams
    covariance_type : str, static
    sample_weight : array, shape (N,), optional
    chunk_size : int, static

    Returns
    -------
    SuffStats
        Moments around ``params.means``; ``log_lik`` is the weighted log-likelihood of X.
    """
    def chunk_fn(i, X_chunk, w_chunk):
        del i
        log_prob, log_resp = density.log_prob_and_responsibilities(X_chunk, params,
                                                                    covariance_type)
        log_lik = jnp.sum(log_prob if w_chunk is None else w_chunk * log_prob)
        return stats.from_responsibilities(X_chunk, jnp.exp(log_resp), params.means,
                                           covariance_type, w_chunk, log_lik)
    return stats.reduce_chunks(chunk_fn, X, sample_weight, chunk_size)


def em_iterations(X, params, covariance_type, *, tol, reg_covar, max_iter, chunk_size,
                  sample_weight=None, component_mask=None):
    """Run EM from ``params`` until the lower bound changes by less than ``tol``.

    Stops early if the lower bound becomes NaN (a covariance lost positive definiteness), so
    that a failed fit costs one iteration, not ``max_iter``. ``component_mask`` (bool, shape
    (K,)) keeps padded components at weight zero (see :func:`bayesgmm.stats.m_step`).

    Returns
    -------
    params, lower_bound, lower_bounds (max_iter,), n_iter, converged
    """
    dtype = X.dtype
    trace = jnp.full((max_iter,), jnp.nan, dtype)

    def cond(state):
        _, lower_bound, n_iter, _, converged = state
        return (n_iter < max_iter) & ~converged & ~jnp.isnan(lower_bound)

    def body(state):
        params, lower_bound, n_iter, trace, _ = state
        total = e_step_statistics(X, params, covariance_type, sample_weight=sample_weight,
                                  chunk_size=chunk_size)
        new_bound = total.log_lik / total.weight
        new_params = stats.m_step(total, params.means, covariance_type, reg_covar,
                                  component_mask=component_mask)
        converged = jnp.abs(new_bound - lower_bound) < tol
        return new_params, new_bound, n_iter + 1, trace.at[n_iter].set(new_bound), converged

    start = (params, jnp.asarray(-jnp.inf, dtype), jnp.int32(0), trace, jnp.array(False))
    return lax.while_loop(cond, body, start)


def fit_restarts(key, X, sample_weight, weights_init, means_init, precisions_cholesky_init,
                 tol, reg_covar, n_active=None, *, n_components, covariance_type, max_iter,
                 n_init, init_params, chunk_size, restart_batch_size, has_init):
    """The whole EM fit, best of ``n_init`` restarts, as a traceable function (no jit).

    :func:`fit_em` validates its input and compiles this; :mod:`bayesgmm.selection` and
    :mod:`bayesgmm.resampling` compile it under ``lax.map``/``vmap`` over K or data sets.

    Parameters
    ----------
    key : jax.random key
        Restart ``i`` initialises from ``split(key, n_init)[i]``.
    X : array, shape (N, d)
    sample_weight : array, shape (N,), or None
    weights_init, means_init, precisions_cholesky_init : arrays or None
        Shapes (K,), (K, d) and as in :mod:`bayesgmm.covariance`; each one given replaces the
        initialiser's. With padding, a given ``weights_init`` must be zero on padded components.
    tol, reg_covar : float arrays, shape ()
    n_active : int array, shape (), optional
        Number of components that exist; the remaining ``n_components - n_active`` are
        padding with weight exactly zero, excluded from the statistics and the likelihood.
        ``None`` (the default) is the ordinary unpadded fit, and the result for the active
        components equals the unpadded fit with ``n_components = n_active`` and the same key
        (initialisations ``kmeans``, ``k-means++``, ``random_from_data``).
    n_components, covariance_type, max_iter, n_init, init_params, chunk_size,
    restart_batch_size, has_init : static
        As :func:`fit_em`; ``has_init`` says that all three initial parameters are given.

    Returns
    -------
    EMResult
        Parameters with ``n_components`` components (padded ones have weight 0). Failed
        restarts are not reported as errors here: check ``lower_bound`` for NaN.
    """
    # EM is translation-equivariant: centre once so that float32 keeps its digits on data far
    # from the origin, and shift the means back at the end.
    weight = jnp.ones(X.shape[0], X.dtype) if sample_weight is None else sample_weight
    shift = jnp.sum(weight[:, None] * X, axis=0) / jnp.sum(weight)
    X = X - shift
    user_init = (weights_init, None if means_init is None else means_init - shift,
                 precisions_cholesky_init)
    mask = None if n_active is None else jnp.arange(n_components) < n_active

    def one_restart(restart_key):
        if has_init:  # every parameter given: nothing to draw
            params = GMMParams(*user_init)
        else:
            params = init.initialize(restart_key, X, n_components, covariance_type,
                                     method=init_params, reg_covar=reg_covar,
                                     chunk_size=chunk_size, sample_weight=sample_weight,
                                     n_active=n_active)
            params = GMMParams(*(p if u is None else u for p, u in zip(params, user_init)))
        return em_iterations(X, params, covariance_type, tol=tol, reg_covar=reg_covar,
                             max_iter=max_iter, chunk_size=chunk_size,
                             sample_weight=sample_weight, component_mask=mask)

    keys = jax.random.split(key, n_init)
    params, bounds, n_iters, traces, converged = lax.map(one_restart, keys,
                                                         batch_size=restart_batch_size)
    finite = jnp.isfinite(bounds) & jnp.all(
        jnp.stack([jnp.all(jnp.isfinite(p.reshape(n_init, -1)), axis=1) for p in params]), 0)
    best = jnp.argmax(jnp.where(finite, bounds, -jnp.inf))
    best_params = jax.tree.map(lambda p: p[best], params)
    best_params = best_params._replace(means=best_params.means + shift)
    return EMResult(best_params, bounds[best], traces[best], n_iters[best], converged[best],
                    jnp.where(finite, bounds, jnp.nan))


_fit_em = jax.jit(fit_restarts, static_argnames=(
    "n_components", "covariance_type", "max_iter", "n_init", "init_params", "chunk_size",
    "restart_batch_size", "has_init"))


FIT_FAILED_MESSAGE = (
    "Fitting the mixture model failed because some components have ill-defined empirical "
    "covariance (for instance caused by singleton or collapsed samples). Try to decrease the "
    "number of components, increase reg_covar, or scale the input data{dtype_hint}.")


def fit_failed_error(dtype):
    """scikit-learn's actionable error, with a float64 hint when the data are float32."""
    hint = (", or fit in float64 (jax.config.update('jax_enable_x64', True))"
            if jnp.dtype(dtype) == jnp.float32 else "")
    return ValueError(FIT_FAILED_MESSAGE.format(dtype_hint=hint))


def fit_em(key, X, *, n_components, covariance_type="full", tol=1e-3, reg_covar=1e-6,
           max_iter=100, n_init=1, init_params="kmeans", weights_init=None, means_init=None,
           precisions_init=None, precisions_cholesky_init=None, sample_weight=None,
           chunk_size=None, restart_batch_size=1):
    """Fit a Gaussian mixture by EM; the whole fit is one compiled program.

    Parameters
    ----------
    key : jax.random key
        Randomness of the initialisation; restarts use ``split(key, n_init)``.
    X : array, shape (N, d)
        Floating-point data. The fit runs in X's dtype (float32 unless x64 is enabled).
    n_components : int
    covariance_type : {"full", "tied", "diag", "spherical"}
    tol : float
        Convergence threshold on the change of the per-sample mean log-likelihood.
    reg_covar : float
        Added to the diagonal of every covariance.
    max_iter : int
    n_init : int
        Restarts from independent initialisations; the best final lower bound wins. A
        restart that fails numerically is discarded if another one succeeds.
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}
    weights_init, means_init, precisions_init : arrays, optional
        User initial parameters, shapes (K,), (K, d) and as in :mod:`bayesgmm.covariance`;
        each one given replaces the one ``init_params`` would give, as in scikit-learn.
    precisions_cholesky_init : array, optional
        Alternative to ``precisions_init``.
    sample_weight : array, shape (N,), optional
        Non-negative frequency weights: a weight of 2 counts a row twice.
    chunk_size : int, optional
        Rows per chunk of the E-step; memory is O(chunk_size * K * d). Default: about
        2**17 / (K d) rows.
    restart_batch_size : int
        Restarts run ``restart_batch_size`` at a time under ``vmap`` and the batches one after
        another. 1 (the default) runs them sequentially, which is faster on CPU: a batched
        ``while_loop`` runs every restart to the slowest one's iteration count.

    Returns
    -------
    EMResult

    Raises
    ------
    ValueError
        When the best fit has non-finite parameters (a covariance that is not positive
        definite), with scikit-learn's advice. Only raised when called outside a trace;
        under ``jit``/``vmap``, check ``result.lower_bound`` for NaN.
    """
    check_covariance_type(covariance_type)
    X = jnp.asarray(X)
    if not jnp.issubdtype(X.dtype, jnp.floating):
        X = X.astype(jnp.result_type(float))
    n_samples, n_features = X.shape
    dtype = X.dtype

    def as_dtype(a):
        return None if a is None else jnp.asarray(a, dtype)

    if precisions_init is not None:
        precisions_cholesky_init = FAMILIES[covariance_type].precisions_cholesky_from_precisions(
            as_dtype(precisions_init))
    has_init = all(a is not None for a in (weights_init, means_init, precisions_cholesky_init))
    if chunk_size is None:
        chunk_size = stats.default_chunk_size(n_samples, n_components, n_features)
    result = _fit_em(
        key, X, as_dtype(sample_weight), as_dtype(weights_init), as_dtype(means_init),
        as_dtype(precisions_cholesky_init), jnp.asarray(tol, dtype), jnp.asarray(reg_covar, dtype),
        n_components=int(n_components), covariance_type=covariance_type,
        max_iter=int(max_iter), n_init=1 if has_init else int(n_init), init_params=init_params,
        chunk_size=int(min(chunk_size, n_samples)), restart_batch_size=int(min(restart_batch_size, n_init)),
        has_init=has_init)
    if not isinstance(result.lower_bound, jax.core.Tracer):
        finite = all(bool(jnp.all(jnp.isfinite(p))) for p in result.params)
        if not finite or bool(jnp.isnan(result.lower_bound)):
            raise fit_failed_error(dtype)
    return result
