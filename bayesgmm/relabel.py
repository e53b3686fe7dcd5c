"""Label switching: match the components of many fits (bootstrap replicates, posterior draws)
to a reference fit by Hungarian assignment, and reorder them.

A mixture's component labels are arbitrary, so any per-component summary over several fits
must first put their components in one order. Two costs are offered: the Mahalanobis distance
of the means (:func:`mahalanobis_costs`, for EM fits on resampled data, whose covariances are
near the reference's) and the Gaussian cross-entropy (:func:`cross_entropy_costs`, which also
compares covariances; for posterior draws). :func:`hungarian` turns either into permutations
and :func:`permute_components` applies them.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from bayesgmm import density, linalg
from bayesgmm.covariance import FAMILIES, to_full_storage
from bayesgmm.params import GMMParams


@functools.partial(jax.jit, static_argnames=("covariance_type", "n_components", "n_features"))
def dense_matrices(precisions_cholesky, covariance_type, n_components, n_features):
    """Precision and covariance matrices, both of shape (K, d, d), for any covariance type
    (one compiled program, also when called from host code)."""
    family = FAMILIES[covariance_type]
    return tuple(to_full_storage(a, covariance_type, n_components, n_features)
                 for a in (family.precisions(precisions_cholesky),
                           family.covariances(precisions_cholesky)))


def mahalanobis_costs(means, reference_means, reference_precisions):
    """Squared Mahalanobis distance of every fit's means to the reference means.

    ``cost[b, k, j] = (m_bj - mu_k)^T P_k (m_bj - mu_k)``: under the reference component's
    precision, so that elongated clusters are matched along their own scale.

    Parameters
    ----------
    means : ndarray, shape (B, K, d)
    reference_means : ndarray, shape (K, d)
    reference_precisions : ndarray, shape (K, d, d)

    Returns
    -------
    ndarray, shape (B, K, K)
        Reference component k (rows) against fitted component j (columns).
    """
    diff = means[:, None, :, :] - reference_means[None, :, None, :]         # (B, K_ref, K, d)
    return np.einsum("bkjd,kde,bkje->bkj", diff, reference_precisions, diff)


@functools.partial(jax.jit, static_argnames=("covariance_type",))
def cross_entropy_costs(params, pivot, covariance_type):
    """Cost of giving each fit's component ``j`` the pivot's label ``k``.

    The cost is the cross-entropy ``E_{x ~ N_k^pivot}[-log N_j(x)]``, which differs from
    ``KL(N_k^pivot || N_j)`` by a term that does not depend on the matching; it compares
    means and covariances. The Gaussian log-density is :func:`density.component_log_prob`.

    Parameters
    ----------
    params : GMMParams
        Leaves with any leading batch axes, e.g. (chain, draw).
    pivot : GMMParams
        One set of parameters with the same K, d and covariance type.
    covariance_type : str, static

    Returns
    -------
    array, shape batch + (K, K)
        ``cost[..., k, j]``: pivot component k against fitted component j.
    """
    n_components, n_features = pivot.means.shape
    _, pivot_cov = dense_matrices(pivot.precisions_cholesky, covariance_type, n_components,
                                  n_features)

    def one(p):
        precision, _ = dense_matrices(p.precisions_cholesky, covariance_type, n_components,
                                      n_features)
        log_prob = density.component_log_prob(pivot.means, p, covariance_type)  # (k, j)
        trace = linalg.einsum("jab,kba->kj", precision, pivot_cov)
        return 0.5 * trace - log_prob

    batch = params.weights.shape[:-1]
    flat = jax.tree.map(lambda a: a.reshape((-1,) + a.shape[len(batch):]), params)
    return lax.map(one, flat).reshape(batch + (n_components, n_components))


def hungarian(costs):
    """Permutations minimising the summed matching cost, one per fit.

    Parameters
    ----------
    costs : array, shape batch + (K, K)
        ``costs[..., k, j]``: reference component k against fitted component j.

    Returns
    -------
    ndarray of int64, shape batch + (K,)
        ``perm[..., k]``: the fitted component that gets reference label k. A fit with a
        non-finite cost (numerically broken) keeps its own labels.
    """
    # scipy.optimize takes a third of a second to import: only when relabelling.
    from scipy.optimize import linear_sum_assignment

    costs = np.asarray(costs)
    batch, n_components = costs.shape[:-2], costs.shape[-1]
    flat = costs.reshape((-1, n_components, n_components))
    permutations = np.empty(flat.shape[:2], dtype=np.int64)
    for i, cost in enumerate(flat):
        if not np.all(np.isfinite(cost)):
            permutations[i] = np.arange(n_components)
            continue
        rows, cols = linear_sum_assignment(cost)
        permutations[i, rows] = cols
    return permutations.reshape(batch + (n_components,))


def take_components(a, permutations):
    """Reorder the component axis of ``a`` (the axis right after the permutations' batch
    axes; trailing axes follow along). NumPy in, NumPy out; JAX otherwise."""
    xp = np if isinstance(a, np.ndarray) and isinstance(permutations, np.ndarray) else jnp
    index = permutations.reshape(permutations.shape + (1,) * (a.ndim - permutations.ndim))
    return xp.take_along_axis(a, index, axis=permutations.ndim - 1)


def permute_components(params, permutations, covariance_type):
    """Reorder the components of a batch of fits.

    Parameters
    ----------
    params : GMMParams
        Leaves with leading batch axes.
    permutations : int array, shape batch + (K,)
        Component ``k`` of the result is component ``permutations[..., k]`` of the input.
    covariance_type : str

    Returns
    -------
    GMMParams
    """
    prec = params.precisions_cholesky
    if covariance_type != "tied":  # one tied factor serves every component: nothing to permute
        prec = take_components(prec, permutations)
    return GMMParams(take_components(params.weights, permutations),
                     take_components(params.means, permutations), prec)


__all__ = ["cross_entropy_costs", "dense_matrices", "hungarian", "mahalanobis_costs",
           "permute_components", "take_components"]
