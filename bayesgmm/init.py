"""Initialisation: k-means++ seeding, Lloyd's k-means, random and random-from-data starts.

Every method ends as scikit-learn's does: initial responsibilities (one-hot or random), then
one M-step. All functions are pure and keyed, and memory stays bounded by the chunk size.
"""

import math

import jax
import jax.numpy as jnp
from jax import lax

from bayesgmm import stats

INIT_METHODS = ("kmeans", "k-means++", "random", "random_from_data")


def _squared_distances(X, sq_norms, centers):
    """``|x_n - c_j|^2`` by the expanded form (one GEMM), clipped at zero; shape (N, J)."""
    d2 = sq_norms[:, None] - 2.0 * X @ centers.T + jnp.sum(centers * centers, axis=1)[None, :]
    return jnp.maximum(d2, 0.0)


def kmeans_plusplus(key, X, n_components, *, sample_weight=None, n_local_trials=None):
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007), as scikit-learn does it.

    Parameters
    ----------
    key : jax.random key
    X : array, shape (N, d)
    n_components : int, static
    sample_weight : array, shape (N,), optional
    n_local_trials : int, optional
        Candidates tried per centre; default ``2 + int(log(n_components))``.

    Returns
    -------
    indices : int array, shape (K,)
        Rows of ``X`` chosen as centres.
    """
    n_samples = X.shape[0]
    if n_local_trials is None:
        n_local_trials = 2 + int(math.log(n_components))
    w = jnp.ones(n_samples, X.dtype) if sample_weight is None else sample_weight
    sq_norms = jnp.sum(X * X, axis=1)
    key, first_key = jax.random.split(key)
    first = jax.random.categorical(first_key, jnp.log(w))
    closest = _squared_distances(X, sq_norms, X[first][None])[:, 0]
    indices = jnp.zeros(n_components, jnp.int32).at[0].set(first)

    def add_center(c, carry):
        indices, closest = carry
        weighted = w * closest
        cumulative = jnp.cumsum(weighted)
        draws = jax.random.uniform(jax.random.fold_in(key, c), (n_local_trials,),
                                   dtype=X.dtype) * cumulative[-1]
        candidates = jnp.clip(jnp.searchsorted(cumulative, draws), 0, n_samples - 1)
        trial = jnp.minimum(closest[:, None], _squared_distances(X, sq_norms, X[candidates]))
        best = jnp.argmin(jnp.sum(w[:, None] * trial, axis=0))
        return indices.at[c].set(candidates[best]), trial[:, best]

    indices, _ = lax.fori_loop(1, n_components, add_center, (indices, closest))
    return indices


def kmeans(key, X, n_components, *, sample_weight=None, max_iter=300, tol=1e-4, chunk_size):
    """Lloyd's k-means from a k-means++ seeding, with scikit-learn's stopping rule.

    Stops when the squared movement of the centres falls to ``tol`` times the mean feature
    variance, or after ``max_iter`` iterations. A cluster that empties keeps its old centre.

    Returns
    -------
    centers : array, shape (K, d)
    """
    w = jnp.ones(X.shape[0], X.dtype) if sample_weight is None else sample_weight
    mean = jnp.sum(w[:, None] * X, 0) / jnp.sum(w)
    threshold = tol * jnp.mean(jnp.sum(w[:, None] * (X - mean) ** 2, 0) / jnp.sum(w))
    centers = X[kmeans_plusplus(key, X, n_components, sample_weight=sample_weight)]

    def assign(centers):
        def chunk_fn(i, X_chunk, w_chunk):
            del i
            d2 = _squared_distances(X_chunk, jnp.sum(X_chunk * X_chunk, 1), centers)
            one_hot = jax.nn.one_hot(jnp.argmin(d2, axis=1), n_components, dtype=X.dtype)
            if w_chunk is not None:
                one_hot = one_hot * w_chunk[:, None]
            return one_hot.sum(0), one_hot.T @ X_chunk
        counts, sums = stats.reduce_chunks(chunk_fn, X, sample_weight, chunk_size)
        return jnp.where(counts[:, None] > 0, sums / jnp.maximum(counts, 1e-30)[:, None], centers)

    def cond(state):
        _, shift, it = state
        return (it < max_iter) & (shift > threshold)

    def body(state):
        centers, _, it = state
        new = assign(centers)
        return new, jnp.sum((new - centers) ** 2), it + 1

    centers, _, _ = lax.while_loop(cond, body, (centers, jnp.asarray(jnp.inf, X.dtype), 0))
    return centers


def _m_step_from(resp_fn, X, n_components, sample_weight, covariance_type, reg_covar,
                 chunk_size):
    shift = jnp.zeros((n_components, X.shape[1]), X.dtype)
    total = stats.reduce_chunks(
        lambda i, Xc, wc: stats.from_responsibilities(Xc, resp_fn(i, Xc), shift,
                                                      covariance_type, wc),
        X, sample_weight, chunk_size)
    return stats.m_step(total, shift, covariance_type, reg_covar)


def initialize(key, X, n_components, covariance_type, *, method, reg_covar, chunk_size,
               sample_weight=None):
    """Initial parameters: responsibilities from ``method``, then one M-step.

    Parameters
    ----------
    key : jax.random key
    X : array, shape (N, d)
        Data, already centred by the caller (EM is translation-equivariant).
    n_components : int, static
    covariance_type : str, static
    method : {"kmeans", "k-means++", "random", "random_from_data"}, static
        ``kmeans``: hard labels from Lloyd's k-means. ``k-means++`` and ``random_from_data``:
        each component starts at one data point (k-means++ or uniformly chosen), with
        covariance ``reg_covar * I``, exactly as scikit-learn. ``random``: uniform random
        responsibilities normalised per row.
    reg_covar : float
    chunk_size : int, static
    sample_weight : array, shape (N,), optional

    Returns
    -------
    GMMParams
    """
    dtype = X.dtype
    if method == "kmeans":
        centers = kmeans(key, X, n_components, sample_weight=sample_weight,
                         chunk_size=chunk_size)

        def resp_fn(i, Xc):
            del i
            d2 = _squared_distances(Xc, jnp.sum(Xc * Xc, 1), centers)
            return jax.nn.one_hot(jnp.argmin(d2, axis=1), n_components, dtype=dtype)
        return _m_step_from(resp_fn, X, n_components, sample_weight, covariance_type, reg_covar, chunk_size)
    if method == "random":
        def resp_fn(i, Xc):
            u = jax.random.uniform(jax.random.fold_in(key, i), (Xc.shape[0], n_components),
                                   dtype=dtype)
            return u / u.sum(axis=1, keepdims=True)
        return _m_step_from(resp_fn, X, n_components, sample_weight, covariance_type, reg_covar, chunk_size)
    if method == "k-means++":
        indices = kmeans_plusplus(key, X, n_components, sample_weight=sample_weight)
    elif method == "random_from_data":
        indices = jax.random.choice(key, X.shape[0], (n_components,), replace=False)
    else:
        raise ValueError(f"Invalid value for 'init_params': {method!r}; "
                         f"'init_params' should be in {list(INIT_METHODS)}")
    # One point per component: the point is the mean and the covariance is reg_covar * I.
    eye = jnp.eye(n_components, dtype=dtype)
    points = X[indices]
    return _m_step_from(lambda i, Xc: eye, points, n_components, None, covariance_type,
                        reg_covar, n_components)
