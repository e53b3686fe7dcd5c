"""The shared Gaussian-mixture density: component log-densities, mixture log-density,
responsibilities and sampling.

This is the one density implementation in bayesgmm. EM (``em.py``) and the Bayesian model
(``bayes/model.py``) both evaluate it; nothing else computes a Gaussian log-density.
"""

import math

import jax
import jax.numpy as jnp
from jax import lax

from bayesgmm import linalg
from bayesgmm.covariance import FAMILIES

#: Up to this many features the whitened residuals are formed as (K, d, N), the rows on the
#: last axis, and reduced over d there; above it as (N, K, d). With d small the (N, K, d)
#: layout puts a short axis last, which vectorises badly: one EM iteration (N = 5e5, K = 8,
#: 2-core AMD EPYC) took 0.66-0.88x the time at d = 2 to 8 (full, float64), 0.49-0.79x (diag
#: and full, float32), a warm Old Faithful fit 0.65x, NUTS on N = 1,000 rows 0.75x of the
#: wall; at d = 16, K = 16 (float64) the (N, K, d) layout was 7% faster.
COLUMNS_MAX_FEATURES = 8


def component_log_prob(X, params, covariance_type):
    """Log-density of every observation under every component, without the weights.

    Parameters
    ----------
    X : array, shape (N, d)
    params : GMMParams
    covariance_type : {"full", "tied", "diag", "spherical"}, static

    Returns
    -------
    array, shape (N, K)
        ``log N(x_n | mu_k, Sigma_k)``.

    Notes
    -----
    Forms an (N, K, d) array of whitened residuals (as (K, d, N) up to
    :data:`COLUMNS_MAX_FEATURES` features): callers with large N evaluate it on chunks of rows
    (``stats.reduce_chunks``) so that memory stays bounded.
    """
    family = FAMILIES[covariance_type]
    n_features = X.shape[-1]
    columns = n_features <= COLUMNS_MAX_FEATURES
    y = family.whiten(X, params.means, params.precisions_cholesky, columns)
    squared = jnp.sum(y * y, axis=1).T if columns else jnp.sum(y * y, axis=-1)
    log_det = family.log_det(params.precisions_cholesky, n_features)
    return -0.5 * (n_features * math.log(2 * math.pi) + squared) + log_det


def weighted_log_prob(X, params, covariance_type):
    """``log w_k + log N(x_n | mu_k, Sigma_k)``, shape (N, K).

    Components of weight exactly zero give ``-inf`` and so never take responsibility.
    """
    return component_log_prob(X, params, covariance_type) + jnp.log(params.weights)


def log_prob_and_responsibilities(X, params, covariance_type):
    """Mixture log-density and log-responsibilities in one pass.

    Returns
    -------
    log_prob : array, shape (N,)
        ``log sum_k w_k N(x_n | mu_k, Sigma_k)``.
    log_resp : array, shape (N, K)
        ``log p(z_n = k | x_n)``; ``exp(log_resp)`` sums to one over k.
    """
    joint = weighted_log_prob(X, params, covariance_type)
    # Responsibilities relative to the largest term: far from every component the terms are
    # huge (-1e10 in float32) and ``joint - logsumexp(joint)`` would lose log 2 to rounding
    # (two equal terms, each given responsibility 1). The shift is exact for the largest
    # term; it carries no gradient (the result does not depend on it).
    top = jnp.max(joint, axis=-1, keepdims=True)
    top = lax.stop_gradient(jnp.where(jnp.isfinite(top), top, 0.0))
    shifted = joint - top
    log_norm = jnp.log(jnp.sum(jnp.exp(shifted), axis=-1, keepdims=True))
    return (top + log_norm)[:, 0], shifted - log_norm


def log_prob(X, params, covariance_type):
    """Mixture log-density ``log p(x_n)``, shape (N,)."""
    return jax.nn.logsumexp(weighted_log_prob(X, params, covariance_type), axis=-1)


def responsibilities(X, params, covariance_type):
    """Posterior component probabilities ``p(z_n = k | x_n)``, shape (N, K)."""
    return jnp.exp(log_prob_and_responsibilities(X, params, covariance_type)[1])


def sample(key, params, covariance_type, n_samples):
    """Draw ``n_samples`` observations from the mixture.

    Returns
    -------
    X : array, shape (n_samples, d)
    labels : int array, shape (n_samples,)
        The component each draw came from.
    """
    key_labels, key_noise = jax.random.split(key)
    labels = jax.random.categorical(key_labels, jnp.log(params.weights), shape=(n_samples,))
    scale_tril = FAMILIES[covariance_type].scale_tril(params.precisions_cholesky,
                                                      params.means.shape)
    noise = jax.random.normal(key_noise, (n_samples, params.means.shape[1]),
                              dtype=params.means.dtype)
    X = params.means[labels] + linalg.einsum("nde,ne->nd", scale_tril[labels], noise)
    return X, labels
