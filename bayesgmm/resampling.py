"""Batched EM fits (many data sets at once) and the nonparametric bootstrap built on them.

A batch of fits is one compiled program: :func:`bayesgmm.em.fit_restarts` mapped over a leading
batch axis. The bootstrap never copies the data: a resample is the same rows with multinomial
frequency weights (how often each row was drawn), which EM takes as ``sample_weight``; the
weights of one replicate are drawn inside the compiled program from its key, so memory is that
of ``batch_size`` fits, not of ``n_boot`` data sets.

Component labels are arbitrary in every replicate: each one is aligned to the full-data fit
by Hungarian matching (:mod:`bayesgmm.relabel`) before any summary.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bayesgmm import em, relabel, stats
from bayesgmm.covariance import check_covariance_type
from bayesgmm.init import INIT_METHODS
from bayesgmm.params import GMMParams, precisions_and_covariances
from bayesgmm.validation import (check_choice, check_data, check_int, check_n_samples,
                                 check_real, check_structure, compute_dtype)

# Replicates fitted at once under vmap; batches run one after another (lax.map). Measured on a
# 2-core CPU (shared, so noisy): 1,000 bootstrap fits of K = 3, full, on Old Faithful from the
# full-data solution, warm, median of 3 runs: batch 1: 0.30-0.58 s; 4: 0.52 s; 16: 1.3 s;
# 50: 2.5 s; 250: 2.2 s; 1000: 2.6 s. Replicates need 4 iterations in the median but up to 37,
# and a batched while_loop runs every member to the slowest one's count: sequential wins on
# CPU. On an accelerator a wide batch may win; pass ``batch_size``.
DEFAULT_BATCH_SIZE = 1


def _fit_static_names():
    return ("n_components", "covariance_type", "max_iter", "n_init", "init_params",
            "chunk_size", "restart_batch_size", "has_init", "batch_size")


def _check_fit_arguments(n_components, covariance_type, tol, reg_covar, max_iter, n_init,
                         init_params, batch_size):
    """The arguments :func:`fit_em_batch` and :func:`bootstrap` share, checked and converted
    to Python numbers."""
    check_covariance_type(covariance_type)
    check_choice("init_params", init_params, INIT_METHODS)
    return (check_int("n_components", n_components), check_real("tol", tol),
            check_real("reg_covar", reg_covar), check_int("max_iter", max_iter, low=0),
            check_int("n_init", n_init), check_int("batch_size", batch_size))


@functools.partial(jax.jit, static_argnames=_fit_static_names())
def _fit_batch(keys, X, sample_weight, weights_init, means_init, prec_init, tol, reg_covar, *,
               n_components, covariance_type, max_iter, n_init, init_params, chunk_size,
               restart_batch_size, has_init, batch_size):
    def fit_one(args):
        key, X_one, weight_one = args
        return em.fit_restarts(
            key, X_one, weight_one, weights_init, means_init, prec_init, tol, reg_covar,
            n_components=n_components, covariance_type=covariance_type, max_iter=max_iter,
            n_init=n_init, init_params=init_params, chunk_size=chunk_size,
            restart_batch_size=restart_batch_size, has_init=has_init)
    return em.batched_map(fit_one, (keys, X, sample_weight), batch_size)


def fit_em_batch(key, X, *, n_components, covariance_type="full", tol=1e-3, reg_covar=1e-6,
                 max_iter=100, n_init=1, init_params="kmeans", sample_weight=None,
                 weights_init=None, means_init=None, precisions_cholesky_init=None,
                 chunk_size=None, batch_size=DEFAULT_BATCH_SIZE):
    """Fit one mixture to each of many data sets of the same shape, in one compiled program.

    Parameters
    ----------
    key : jax.random key
        Data set ``b`` uses ``split(key, B)[b]`` as :func:`bayesgmm.fit_em` would use its key.
    X : array, shape (B, N, d)
        Real numbers, finite (not checked here, as in :func:`bayesgmm.fit_em`: X may be
        traced); the fit runs in the dtype :func:`bayesgmm.fit_em` would choose.
    n_components, covariance_type, tol, reg_covar, max_iter, n_init, init_params
        As :func:`bayesgmm.fit_em`.
    sample_weight : array, shape (B, N), optional
        Frequency weights per data set.
    weights_init, means_init, precisions_cholesky_init : arrays, optional
        One start shared by every data set (shapes as in :func:`bayesgmm.fit_em`); each one
        given replaces the initialiser's.
    chunk_size : int, optional
        Rows per E-step chunk.
    batch_size : int, default DEFAULT_BATCH_SIZE (1)
        Data sets fitted at once under ``vmap``; batches run one after another (``lax.map``).
        Sequential measured fastest on CPU (see ``DEFAULT_BATCH_SIZE``); ``batch_size=B``
        vmaps the whole batch, which may pay on an accelerator.

    Returns
    -------
    EMResult
        Every field with a leading axis of length B. Failed fits are not raised: their
        ``lower_bound`` is NaN.
    """
    # As fit_em: X may be traced, so only its shape and dtype are checked.
    X = jnp.asarray(X)
    check_structure(X, caller="fit_em_batch", axes=("dataset", "sample", "feature"))
    dtype = compute_dtype(X.dtype)
    if X.dtype != dtype:
        X = X.astype(dtype)
    n_batch, n_samples, n_features = X.shape
    n_components, tol, reg_covar, max_iter, n_init, batch_size = _check_fit_arguments(
        n_components, covariance_type, tol, reg_covar, max_iter, n_init, init_params,
        batch_size)
    check_n_samples(n_samples, n_components)
    if sample_weight is not None:
        sample_weight = jnp.asarray(sample_weight, X.dtype)
        if sample_weight.shape != (n_batch, n_samples):
            raise ValueError(f"sample_weight has shape {sample_weight.shape}, expected "
                             f"{(n_batch, n_samples)}.")
    init_values = tuple(None if a is None else jnp.asarray(a, X.dtype)
                        for a in (weights_init, means_init, precisions_cholesky_init))
    has_init = all(a is not None for a in init_values)
    if chunk_size is None:
        chunk_size = stats.default_chunk_size(n_samples, n_components, n_features, X.dtype,
                                              covariance_type)
    return _fit_batch(
        jax.random.split(key, n_batch), X, sample_weight, *init_values,
        np.asarray(tol, X.dtype), np.asarray(reg_covar, X.dtype),
        n_components=n_components, covariance_type=covariance_type, max_iter=max_iter,
        n_init=1 if has_init else n_init, init_params=init_params,
        chunk_size=int(min(chunk_size, n_samples)), restart_batch_size=1, has_init=has_init,
        batch_size=min(batch_size, n_batch))


@functools.partial(jax.jit, static_argnames=_fit_static_names())
def _bootstrap_fits(keys, X, weights_init, means_init, prec_init, tol, reg_covar, *,
                    n_components, covariance_type, max_iter, n_init, init_params, chunk_size,
                    restart_batch_size, has_init, batch_size):
    n_samples = X.shape[0]

    def fit_one(key):
        draw_key, fit_key = jax.random.split(key)
        rows = jax.random.randint(draw_key, (n_samples,), 0, n_samples)
        counts = jnp.zeros(n_samples, X.dtype).at[rows].add(1.0)
        return em.fit_restarts(
            fit_key, X, counts, weights_init, means_init, prec_init, tol, reg_covar,
            n_components=n_components, covariance_type=covariance_type, max_iter=max_iter,
            n_init=n_init, init_params=init_params, chunk_size=chunk_size,
            restart_batch_size=restart_batch_size, has_init=has_init)
    return em.batched_map(fit_one, keys, batch_size)


class BootstrapResult(NamedTuple):
    """Outcome of :func:`bootstrap`.

    Attributes
    ----------
    full_fit : EMResult
        The fit to the whole data set; replicates are aligned to its component order.
    params : GMMParams
        Label-aligned replicate parameters, NumPy arrays with a leading axis of length
        ``n_boot``.
    draws : dict of str to ndarray
        ``weights`` (n_boot, K), ``means`` (n_boot, K, d), ``covariances`` (n_boot, ...) in the
        covariance type's shape, aligned, failed replicates removed.
    intervals : dict of str to ndarray
        Percentile intervals per parameter: shape (2, ...) with the lower bound in ``[0]`` and
        the upper in ``[1]``, e.g. ``intervals["means"][:, k, j]``.
    standard_errors : dict of str to ndarray
        Bootstrap standard deviation of every parameter.
    level : float
    permutations : ndarray of int, shape (n_boot, K)
        ``permutations[b, k]``: the replicate's own label of the component aligned to the
        full fit's component ``k``.
    lower_bounds : ndarray, shape (n_boot,)
        Per-sample weighted log-likelihood of each replicate (NaN for a failed fit).
    n_iter : ndarray of int, shape (n_boot,)
    converged : ndarray of bool, shape (n_boot,)
    failed : ndarray of bool, shape (n_boot,)
        Replicates whose fit failed numerically (excluded from draws and intervals).
    """

    full_fit: em.EMResult
    params: GMMParams
    draws: dict
    intervals: dict
    standard_errors: dict
    level: float
    permutations: np.ndarray
    lower_bounds: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    failed: np.ndarray


def align_to_reference(means, reference_means, reference_precisions):
    """Hungarian matching of replicate components to reference components by the squared
    Mahalanobis distance of the means under the reference component's precision.

    The arguments are those of :func:`bayesgmm.relabel.mahalanobis_costs`: replicate
    ``means`` (B, K, d), ``reference_means`` (K, d) and ``reference_precisions`` (K, d, d).

    Returns
    -------
    ndarray of int, shape (B, K)
        ``perm[b, k]``: the replicate component matched to reference component ``k``, so that
        ``means[b, perm[b]]`` is in the reference order. A replicate with non-finite
        parameters keeps its own labels.
    """
    return relabel.hungarian(relabel.mahalanobis_costs(means, reference_means,
                                                       reference_precisions))


def bootstrap(key, X, n_boot, *, n_components, covariance_type="full", level=0.95,
              init="full_fit", n_init=1, init_params="kmeans", tol=1e-3, reg_covar=1e-6,
              max_iter=100, chunk_size=None, batch_size=DEFAULT_BATCH_SIZE):
    """Nonparametric bootstrap of a Gaussian mixture fitted by EM.

    Fits the whole data set once, then ``n_boot`` resamples of its rows (drawn with
    replacement, as multinomial frequency weights), all in one compiled program; aligns every
    replicate's component labels to the full-data fit by Hungarian matching; and summarises
    each parameter by its bootstrap distribution and a percentile interval.

    Parameters
    ----------
    key : jax.random key
    X : array, shape (N, d)
    n_boot : int
        Number of bootstrap replicates.
    n_components : int
    covariance_type : {"full", "tied", "diag", "spherical"}
    level : float in (0, 1), default 0.95
        Coverage of the percentile intervals.
    init : {"full_fit", "fresh"}, default "full_fit"
        ``full_fit``: every replicate starts from the full-data estimate (as mclust's
        ``MclustBootstrap``), which is fast and follows the full fit's mode. ``fresh``: every
        replicate initialises anew with ``init_params`` and ``n_init`` restarts, which also
        reflects the uncertainty of finding the mode.
    n_init, init_params, tol, reg_covar, max_iter, chunk_size
        As :func:`bayesgmm.fit_em`; ``n_init`` applies to the full-data fit and, with
        ``init="fresh"``, to every replicate.
    batch_size : int, default DEFAULT_BATCH_SIZE
        Replicates fitted at once under ``vmap``; batches run one after another.

    Returns
    -------
    BootstrapResult

    Raises
    ------
    ValueError
        For bad arguments, when the full-data fit fails, or when every replicate fails.
    """
    X = check_data(X, caller="bootstrap")
    n_samples, n_features = X.shape
    n_components, tol, reg_covar, max_iter, n_init, batch_size = _check_fit_arguments(
        n_components, covariance_type, tol, reg_covar, max_iter, n_init, init_params,
        batch_size)
    n_boot = check_int("n_boot", n_boot)
    level = check_real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    check_choice("init", init, ("full_fit", "fresh"))
    check_n_samples(n_samples, n_components)
    full_key, boot_key = jax.random.split(key)
    full = em.fit_em(full_key, X, n_components=n_components, covariance_type=covariance_type,
                     tol=tol, reg_covar=reg_covar, max_iter=max_iter, n_init=n_init,
                     init_params=init_params, chunk_size=chunk_size)
    if chunk_size is None:
        chunk_size = stats.default_chunk_size(n_samples, n_components, n_features, X.dtype,
                                              covariance_type)
    start = tuple(full.params) if init == "full_fit" else (None, None, None)
    has_init = init == "full_fit"
    fits = _bootstrap_fits(
        jax.random.split(boot_key, n_boot), X, *start, np.asarray(tol, X.dtype),
        np.asarray(reg_covar, X.dtype), n_components=n_components,
        covariance_type=covariance_type, max_iter=max_iter, n_init=1 if has_init else n_init,
        init_params=init_params, chunk_size=int(min(chunk_size, n_samples)),
        restart_batch_size=1, has_init=has_init, batch_size=min(batch_size, n_boot))
    fits = jax.tree.map(np.asarray, fits)
    full = jax.tree.map(np.asarray, full)

    failed = ~np.isfinite(fits.lower_bound) | ~np.all(
        [np.all(np.isfinite(p.reshape(n_boot, -1)), axis=1) for p in fits.params], axis=0)
    if np.all(failed):
        raise em.fit_failed_error(X.dtype)
    reference_precisions, _ = relabel.dense_matrices(full.params.precisions_cholesky,
                                                     covariance_type, n_components, n_features)
    perms = align_to_reference(fits.params.means, full.params.means,
                               np.asarray(reference_precisions))
    params = relabel.permute_components(fits.params, perms, covariance_type)
    ok = ~failed
    draws = {
        "weights": params.weights[ok],
        "means": params.means[ok],
        "covariances": np.asarray(
            precisions_and_covariances(params.precisions_cholesky[ok], covariance_type)[1]),
    }
    alpha = 1.0 - level
    intervals = {name: np.quantile(value, [alpha / 2, 1 - alpha / 2], axis=0)
                 for name, value in draws.items()}
    errors = {name: np.std(value, axis=0, ddof=1) if value.shape[0] > 1
              else np.full(value.shape[1:], np.nan) for name, value in draws.items()}
    return BootstrapResult(full, params, draws, intervals, errors, level, perms,
                           np.where(failed, np.nan, fits.lower_bound), fits.n_iter,
                           fits.converged & ok, failed)
