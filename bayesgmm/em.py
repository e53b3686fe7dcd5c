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

Sharded data: :func:`fit_em` with ``devices=`` (or given a ``jax.Array`` whose rows are
sharded by a ``NamedSharding``) compiles :func:`fit_restarts_sharded`, where every pass is a
``shard_map`` of per-device chunk loops whose statistics are summed with ``psum``. The EM step
and the stopping rule (:func:`convergence`, :func:`keep_iterating`) are shared with the host
loop of :mod:`bayesgmm.outofcore`.
"""

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from bayesgmm import density, hc, init, stats
from bayesgmm.covariance import (FAMILIES, STRUCTURES, check_em_covariance_type,
                                 from_full_storage, to_full_storage)
from bayesgmm.params import GMMParams, precisions_and_covariances
from bayesgmm.validation import check_structure, check_tol, compute_dtype


class EMResult(NamedTuple):
    """Outcome of :func:`fit_em` (the best of the restarts).

    Attributes
    ----------
    params : GMMParams
        Parameters after the last M-step.
    lower_bound : array, shape ()
        Per-sample (weighted) mean log-likelihood at the last E-step, as scikit-learn's
        ``lower_bound_``: it belongs to the parameters before the last M-step.
    lower_bounds : array, shape (max(max_iter, 1),)
        The lower bound of every iteration; entries from ``n_iter`` on are NaN.
    n_iter : int array, shape ()
    converged : bool array, shape ()
        Whether the change of the lower bound fell below ``tol``.
    restart_lower_bounds : array, shape (n_init,)
        Final lower bound of every restart (NaN for a restart that failed numerically).
    precisions, covariances : array or None
        The precision and covariance matrices of ``params``, shaped as its
        ``precisions_cholesky``: :func:`fit_em` computes them in the fit's own program, so
        that the estimator's fitted attributes compile nothing more. None where they were
        not computed (``bayesgmm.params.precisions_and_covariances`` gives them).
    """

    params: GMMParams
    lower_bound: jax.Array
    lower_bounds: jax.Array
    n_iter: jax.Array
    converged: jax.Array
    restart_lower_bounds: jax.Array
    precisions: jax.Array = None
    covariances: jax.Array = None


def e_step_statistics(X, params, covariance_type, *, sample_weight=None, chunk_size,
                      shift=None):
    """One pass over the data: the statistics of the responsibilities under ``params``.

    Parameters
    ----------
    X : array, shape (N, d)
    params : GMMParams
        In the frame of ``X - shift`` when ``shift`` is given.
    covariance_type : str, static
    sample_weight : array, shape (N,), optional
    chunk_size : int, static
    shift : array, shape (d,), optional
        Subtracted from every chunk as it is read: the fit works on centred data without a
        centred copy of X (which would add N d numbers to the peak memory).

    Returns
    -------
    SuffStats
        Moments around ``params.means``; ``log_lik`` is the weighted log-likelihood of X.
    """
    def chunk_fn(i, X_chunk, w_chunk):
        del i
        if shift is not None:
            X_chunk = X_chunk - shift
        log_prob, log_resp = density.log_prob_and_responsibilities(X_chunk, params,
                                                                    covariance_type)
        log_lik = jnp.sum(log_prob if w_chunk is None else w_chunk * log_prob)
        return stats.from_responsibilities(X_chunk, jnp.exp(log_resp), params.means,
                                           covariance_type, w_chunk, log_lik)
    return stats.reduce_chunks(chunk_fn, X, sample_weight, chunk_size)


def convergence(total, lower_bound, tol):
    """The lower bound of one pass and scikit-learn's convergence test.

    Parameters
    ----------
    total : SuffStats
        Statistics of one E-step.
    lower_bound : array, shape ()
        The previous iteration's lower bound (``-inf`` before the first).
    tol : float array, shape () or (2,)

    Returns
    -------
    new_bound : array, shape ()
        ``total.log_lik / total.weight``: the mean log-likelihood under the E-step's
        parameters.
    converged : bool array, shape ()
        ``|new_bound - lower_bound| < tol``; for ``tol`` of shape (2,), ``(absolute,
        relative)``, also when the total log-likelihood changed by less than ``relative *
        (1 + |total|)`` (mclust's rule, :data:`bayesgmm.MCLUST_TOL`).
    """
    new_bound = total.log_lik / total.weight
    change = jnp.abs(new_bound - lower_bound)
    if jnp.ndim(tol) == 1:
        # (absolute, relative): mclust's rule |L - L_prev| / (1 + |L|) < relative on the
        # total log-likelihood L, written for the per-sample mean, or the absolute one.
        return new_bound, (change < tol[0]) | (
            change < tol[1] * (1.0 / total.weight + jnp.abs(new_bound)))
    return new_bound, change < tol


def em_update(total, params, lower_bound, covariance_type, *, tol, reg_covar,
              component_mask=None):
    """One M-step from the statistics of one pass, and the convergence test.

    The host loop over chunks of data too large for memory (:mod:`bayesgmm.outofcore`) runs
    it; the compiled loop (:func:`em_loop`) runs its two parts, :func:`convergence` and
    :func:`bayesgmm.stats.m_step`, the same way, so that both stop by the same rule.

    Parameters
    ----------
    total : SuffStats
        Statistics around ``params.means`` under ``params``.
    params : GMMParams
    lower_bound : array, shape ()
        The previous iteration's lower bound (``-inf`` before the first).

    Returns
    -------
    new_params : GMMParams
    new_bound, converged : as :func:`convergence`
    """
    new_bound, converged = convergence(total, lower_bound, tol)
    new_params = stats.m_step(total, params.means, covariance_type, reg_covar,
                              component_mask=component_mask,
                              previous=params.precisions_cholesky)
    return new_params, new_bound, converged


def keep_iterating(lower_bound, n_iter, converged, max_iter):
    """The stopping rule: go on while under ``max_iter``, not converged and not NaN.

    Stopping at a NaN lower bound (a covariance lost positive definiteness) makes a failed fit
    cost one iteration, not ``max_iter``.
    """
    return (n_iter < max_iter) & ~converged & ~jnp.isnan(lower_bound)


def em_loop(statistics, start, covariance_type, *, tol, reg_covar, max_iter,
            component_mask=None, trace_size=None, previous_lower_bound=None, given=None,
            structure=None):
    """Run EM until the lower bound changes by less than ``tol``.

    Every trip through the loop is an M-step, then (unless EM stops there) an E-step. The
    first trip's M-step turns the initial responsibilities' statistics into the initial
    parameters, so that a compiled program holds one M-step (an initialisation of its own
    before the loop made a small fit's program about 40% larger, and its compilation slower
    in proportion).

    Parameters
    ----------
    statistics : callable
        ``params -> SuffStats``: one pass over the data (a chunk loop on one device, or a
        ``shard_map`` of chunk loops with a ``psum`` across devices).
    start : SuffStats or GMMParams
        Statistics of the initial responsibilities around zero
        (:func:`bayesgmm.init.initial_statistics`), or the parameters EM starts from.
    covariance_type : str, static
    tol, reg_covar : float arrays, shape ()
    max_iter : int, or int array of shape () (traced: one program serves every cap up to
        ``trace_size``)
    component_mask : bool array, shape (K,), optional
        Keeps padded components at weight zero (see :func:`bayesgmm.stats.m_step`).
    trace_size : int, static, optional
        Length of the lower-bound trace, at least ``max_iter``; default ``max(max_iter, 1)``
        (then ``max_iter`` must be a Python int).
    previous_lower_bound : float array, shape (), optional
        What the first iteration's convergence test compares against: the lower bound a
        previous fit ended with, when ``start`` is that fit's result (scikit-learn's warm
        start), so that a fit continued ``max_iter`` iterations at a time converges. Default
        ``-inf``: a fresh start never converges at its first iteration.
    given : tuple of 3 arrays or None, optional
        With statistics as ``start``: the initial weights, means and precision factors the
        user fixed (None where not), which replace the first M-step's.
    structure : int array, shape (), optional
        With ``covariance_type="full"``: the scikit-learn type fitted in the full storage
        (see :func:`bayesgmm.stats.m_step`).

    Returns
    -------
    params, lower_bound, n_iter, lower_bounds (trace_size,), converged
        With ``max_iter = 0`` the returned lower bound is ``previous_lower_bound``.
    """
    from_statistics = isinstance(start, stats.SuffStats)
    if from_statistics:
        total = start
        n_components, n_features = total.sum_x.shape
        dtype = total.sum_x.dtype
        # Placeholders for the first M-step: moments around zero, no previous covariances
        # (NaN: mclust's iterative M-steps then start afresh).
        shape = FAMILIES[covariance_type].shape(n_components, n_features)
        params = GMMParams(jnp.zeros(n_components, dtype),
                           jnp.zeros((n_components, n_features), dtype),
                           jnp.full(shape, jnp.nan, dtype))
    else:
        params = start
        n_components, n_features = params.means.shape
        dtype = params.means.dtype
        # Never used: the first trip keeps the given parameters.
        total = stats.zeros(n_components, n_features, covariance_type, dtype)
    if trace_size is None:
        trace_size = max(int(max_iter), 1)
    trace = jnp.full((trace_size,), jnp.nan, dtype)  # max_iter = 0: never written

    def body(state):
        params, total, lower_bound, n_iter, trace, converged, _ = state

        def m_step(params):
            return stats.m_step(total, params.means, covariance_type, reg_covar,
                                component_mask=component_mask,
                                previous=params.precisions_cholesky, structure=structure)

        if from_statistics:
            updated = m_step(params)
            if given is not None:
                updated = GMMParams(*(p if g is None else jnp.where(n_iter == 0, g, p)
                                      for p, g in zip(updated, given)))
        else:  # the first trip keeps the given parameters
            updated = lax.cond(n_iter == 0, lambda params: params, m_step, params)

        def e_step(params):
            total = statistics(params)
            new_bound, converged = convergence(total, lower_bound, tol)
            return (total, new_bound, n_iter + 1, trace.at[n_iter].set(new_bound), converged,
                    jnp.array(True))

        def stop(params):
            del params
            return total, lower_bound, n_iter, trace, converged, jnp.array(False)

        go = keep_iterating(lower_bound, n_iter, converged, max_iter)
        return (updated,) + lax.cond(go, e_step, stop, updated)

    bound = -jnp.inf if previous_lower_bound is None else previous_lower_bound
    state = (params, total, jnp.asarray(bound, dtype), jnp.int32(0), trace, jnp.array(False),
             jnp.array(True))
    params, _, lower_bound, n_iter, trace, converged, _ = lax.while_loop(
        lambda state: state[-1], body, state)
    return params, lower_bound, n_iter, trace, converged


def _weighted_mean(X, sample_weight):
    weight = jnp.ones(X.shape[0], X.dtype) if sample_weight is None else sample_weight
    return jnp.sum(weight[:, None] * X, axis=0) / jnp.sum(weight)


def _best_of_restarts(key, init_fn, statistics, shift, user_init, tol, reg_covar, mask, *,
                      n_components, covariance_type, max_iter, n_init, restart_batch_size,
                      has_init, max_iter_capacity, n_init_capacity, previous_lower_bound=None,
                      structure=None):
    """Restarts in a loop, ``restart_batch_size`` at a time under ``vmap``, each
    :func:`em_loop` from ``init_fn(key, restart_index)``, the initial responsibilities'
    statistics; the first best finite lower bound
    wins. Everything is in the frame centred at ``shift`` until the winner's means are shifted
    back.

    ``n_init`` and ``max_iter`` may be traced (bounded by the static capacities): restart
    ``i`` always starts from ``split(key, n_init_capacity)[i]``, which is
    ``split(key, n_init)[i]`` (a split's keys do not depend on how many are drawn), so the
    capacity never changes a result.
    """
    def one_restart(restart_key, index):
        # Every parameter given: nothing to draw, EM starts from them.
        start = GMMParams(*user_init) if has_init else init_fn(restart_key, index)
        params, bound, n_iter, trace, converged = em_loop(
            statistics, start, covariance_type, tol=tol, reg_covar=reg_covar,
            max_iter=max_iter, component_mask=mask, trace_size=max_iter_capacity,
            previous_lower_bound=previous_lower_bound, given=None if has_init else user_init,
            structure=structure)
        # No iteration ran: no lower bound either (-inf, scikit-learn's), also when a warm
        # start handed the loop the previous fit's bound.
        return params, jnp.where(n_iter == 0, -jnp.inf, bound), n_iter, trace, converged

    batch = restart_batch_size
    keys = jax.random.split(key, n_init_capacity)

    def run_batch(first):
        batch_keys = lax.dynamic_slice_in_dim(keys, first, batch)
        if batch == 1:
            return jax.tree.map(lambda a: a[None], one_restart(batch_keys[0], first))
        return jax.vmap(one_restart)(batch_keys, first + jnp.arange(batch))

    def score(outcome, index):
        params, bound, n_iter = outcome[0], outcome[1], outcome[2]
        # A restart failed when its bound or parameters are not finite; with max_iter = 0 no
        # iteration ran and the bound is -inf by definition (scikit-learn's), not a failure.
        finite = (jnp.isfinite(bound) | (n_iter == 0)) & jnp.all(
            jnp.stack([jnp.all(jnp.isfinite(p.reshape(batch, -1)), axis=1) for p in params]), 0)
        finite = finite & (index < n_init)
        return jnp.where(finite, bound, -jnp.inf), finite

    def body(state):
        first, best, best_score, restart_bounds = state
        outcome = run_batch(first)
        index = first + jnp.arange(batch)
        scores, finite = score(outcome, index)
        winner = jnp.argmax(scores)  # the first of equal scores, as an argmax over all
        # The first restart is kept even when it failed, so that a fit in which every
        # restart failed reports the failure (fit_em raises scikit-learn's error).
        take = (first == 0) | (scores[winner] > best_score)
        best = jax.tree.map(lambda old, new: jnp.where(take, new[winner], old), best, outcome)
        restart_bounds = lax.dynamic_update_slice_in_dim(
            restart_bounds, jnp.where(finite, outcome[1], jnp.nan), first, 0)
        return (first + batch, best, jnp.where(take, scores[winner], best_score),
                restart_bounds)

    # The carry's shapes written out (jax.eval_shape would trace the whole restart twice).
    dtype, n_features = shift.dtype, shift.shape[-1]
    shape = FAMILIES[covariance_type].shape(n_components, n_features)
    best = (GMMParams(jnp.zeros(n_components, dtype), jnp.zeros((n_components, n_features), dtype),
                      jnp.zeros(shape, dtype)),
            jnp.zeros((), dtype), jnp.int32(0), jnp.zeros(max_iter_capacity, dtype),
            jnp.array(False))
    start = (jnp.int32(0), best, jnp.asarray(-jnp.inf, dtype),
             jnp.full((n_init_capacity,), jnp.nan, dtype))
    _, best, _, restart_bounds = lax.while_loop(lambda state: state[0] < n_init, body, start)
    params, bound, n_iter, trace, converged = best
    params = params._replace(means=params.means + shift)
    return EMResult(params, bound, trace, n_iter, converged, restart_bounds)


def fit_restarts(key, X, sample_weight, weights_init, means_init, precisions_cholesky_init,
                 tol, reg_covar, n_active=None, previous_lower_bound=None, kmeans_centers=None,
                 structure=None, *, n_components, covariance_type, max_iter, n_init,
                 init_params, chunk_size, restart_batch_size, has_init, max_iter_capacity=None,
                 n_init_capacity=None):
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
    previous_lower_bound : float array, shape (), optional
        The lower bound of the fit whose result is the given start (a warm start); see
        :func:`em_loop`.
    kmeans_centers : array, shape (n_init_capacity, K', d), K' >= K, optional
        ``init_params="kmeans"``: every restart's Lloyd centres, computed beforehand by
        :func:`kmeans_starts` with the same key and data (its first K of K' centres are used),
        so that programs fitting other covariance types or K share one k-means run.
    structure : int array, shape (), optional
        With ``covariance_type="full"``: fit scikit-learn's type of this number
        (:data:`bayesgmm.covariance.STRUCTURES`) in the full storage, so that one program
        fits all four (:func:`shares_program`); the result's ``precisions_cholesky`` is
        (K, d, d) with that type's structure (:func:`bayesgmm.covariance.from_full_storage`).
    max_iter, n_init : int, or int arrays of shape ()
        As :func:`fit_em`. Traced values need the static capacities below; :func:`fit_em`
        passes them traced, so that changing them does not compile a new program.
    n_components, covariance_type, init_params, chunk_size, restart_batch_size,
    has_init : static
        As :func:`fit_em`; ``has_init`` says that all three initial parameters are given.
    max_iter_capacity, n_init_capacity : int, static, optional
        Upper bounds of ``max_iter`` and ``n_init``: the length of ``lower_bounds`` and of
        ``restart_lower_bounds`` (entries past ``n_iter`` / ``n_init`` are NaN). Default:
        ``max(max_iter, 1)`` and ``n_init`` (then both must be Python ints).

    Returns
    -------
    EMResult
        Parameters with ``n_components`` components (padded ones have weight 0). Failed
        restarts are not reported as errors here: check ``lower_bound`` for NaN.
    """
    # EM is translation-equivariant: work around the data mean so that float32 keeps its
    # digits on data far from the origin, and shift the means back at the end. The EM passes
    # subtract the shift chunk by chunk (no centred copy of X); the initialisation, which
    # needs the whole data at once, gets a centred copy, and only when it runs.
    shift = _weighted_mean(X, sample_weight)
    user_init = (weights_init, None if means_init is None else means_init - shift,
                 precisions_cholesky_init)
    mask = None if n_active is None else jnp.arange(n_components) < n_active

    def init_fn(restart_key, index):
        centers = None if kmeans_centers is None else kmeans_centers[index, :n_components]
        return init.initial_statistics(restart_key, X - shift, n_components, covariance_type,
                                       method=init_params, chunk_size=chunk_size,
                                       sample_weight=sample_weight, n_active=n_active,
                                       centers=centers)

    def statistics(params):
        return e_step_statistics(X, params, covariance_type, sample_weight=sample_weight,
                                 chunk_size=chunk_size, shift=shift)

    return _best_of_restarts(key, init_fn, statistics, shift, user_init, tol, reg_covar, mask,
                             n_components=n_components, covariance_type=covariance_type,
                             max_iter=max_iter, n_init=n_init,
                             restart_batch_size=restart_batch_size, has_init=has_init,
                             previous_lower_bound=previous_lower_bound, structure=structure,
                             **_capacities(max_iter, n_init, restart_batch_size,
                                           max_iter_capacity, n_init_capacity))


def kmeans_starts(key, X, sample_weight, n_init, n_active=None, *, n_components, chunk_size,
                  n_init_capacity):
    """Lloyd's centres of every restart of ``init_params="kmeans"``, in the frame centred at
    the data's weighted mean, as :func:`fit_restarts` computes them from the same key.

    k-means does not depend on the covariance type, and with ``n_active`` the first
    ``n_active`` centres equal those of an unpadded call with ``n_components = n_active``:
    computed once, they serve the programs of every type (:func:`bayesgmm.bic_sweep`) and,
    padded to :func:`kmeans_bucket`, nearby K (:func:`fit_em`), which then no longer compile
    k-means, and a sweep runs it once instead of once per type.

    Parameters
    ----------
    key : jax.random key
        Restart ``i`` uses ``split(key, n_init_capacity)[i]``, as :func:`fit_restarts`.
    X : array, shape (N, d)
    sample_weight : array, shape (N,), or None
    n_init : int or int array, shape ()
    n_active : int array, shape (), optional
    n_components, chunk_size, n_init_capacity : int, static

    Returns
    -------
    array, shape (n_init_capacity, n_components, d)
        Rows from ``n_init`` on are zero; centres from ``n_active`` on are padding (they never
        receive a row).
    """
    centred = X - _weighted_mean(X, sample_weight)
    keys = jax.random.split(key, n_init_capacity)

    def one_restart(i, centres):
        return centres.at[i].set(init.kmeans(keys[i], centred, n_components,
                                             sample_weight=sample_weight,
                                             chunk_size=chunk_size, n_active=n_active))

    return lax.fori_loop(0, n_init, one_restart,
                         jnp.zeros((n_init_capacity, n_components, X.shape[1]), X.dtype))


def batched_map(fn, xs, batch_size):
    """``lax.map(fn, xs)``, ``batch_size`` elements at a time under ``vmap``.

    A batch of 1 is the plain sequential map: ``lax.map`` with ``batch_size=1`` traces ``fn``
    through ``vmap`` all the same, turning every ``while_loop`` inside into a batched one
    (a reduced predicate and selects on the carry): half of a sweep program's tracing time.
    """
    return lax.map(fn, xs) if batch_size == 1 else lax.map(fn, xs, batch_size=batch_size)


def kmeans_bucket(n_components):
    """The component count k-means runs at for ``fit_em``: 4, 8, 16, ... (K padded with
    centres that never receive a row), so that nearby K share one k-means program."""
    return max(4, 1 << (int(n_components) - 1).bit_length())


def _capacities(max_iter, n_init, restart_batch_size, max_iter_capacity, n_init_capacity):
    """Static trace and restart lengths; the restart count rounds up to whole batches."""
    if max_iter_capacity is None:
        max_iter_capacity = max(int(max_iter), 1)
    if n_init_capacity is None:
        n_init_capacity = int(n_init)
    n_init_capacity = -(-n_init_capacity // restart_batch_size) * restart_batch_size
    return dict(max_iter_capacity=max_iter_capacity, n_init_capacity=n_init_capacity)


def fit_restarts_sharded(key, X, sample_weight, weights_init, means_init,
                         precisions_cholesky_init, tol, reg_covar, previous_lower_bound=None,
                         *, mesh, sample_axes,
                         n_samples, weighted, n_components, covariance_type, max_iter, n_init,
                         init_params, chunk_size, restart_batch_size, has_init):
    """:func:`fit_restarts` on data sharded along the sample axis (traceable, no jit).

    Every EM pass is a ``shard_map``: each device runs the chunk loop over its own rows and
    the statistics are summed across devices with ``psum`` (one all-reduce of K d^2 numbers
    per iteration); no device ever sees another's rows during EM.

    The initialisation (k-means++, k-means, ...) needs the whole data set: it runs on the
    rows gathered onto every device (an all-gather inside the same program), which makes the
    fit equal to the single-device fit with the same key. Passing all three initial
    parameters (``has_init``) skips it and with it the gather.

    Parameters
    ----------
    X : array, shape (N_pad, d)
        Rows sharded over ``sample_axes`` of ``mesh``; ``N_pad`` a multiple of the number of
        shards. Rows from ``n_samples`` on are padding.
    sample_weight : array, shape (N_pad,), or None
        Zero on padding rows; None only when there is no padding and no user weight.
    mesh : jax.sharding.Mesh, static
    sample_axes : tuple of str, static
        Mesh axes the sample axis is sharded over.
    n_samples : int, static
        Number of real rows (the first ``n_samples``).
    weighted : bool, static
        Whether the user gave sample weights (else the padding weights are only padding).
    Others : as :func:`fit_restarts`.
    """
    from jax.sharding import NamedSharding, PartitionSpec as P

    # Padding rows weigh zero, so they change neither the shift nor any statistic.
    shift = _weighted_mean(X, sample_weight)
    user_init = (weights_init, None if means_init is None else means_init - shift,
                 precisions_cholesky_init)
    rows_per_shard = X.shape[0] // _n_shards(mesh, sample_axes)
    local_chunk = int(min(chunk_size, rows_per_shard))
    replicated = NamedSharding(mesh, P())

    def init_fn(restart_key, index):
        del index
        X_all = lax.with_sharding_constraint(X[:n_samples], replicated)
        w_all = (lax.with_sharding_constraint(sample_weight[:n_samples], replicated)
                 if weighted else None)
        return init.initial_statistics(restart_key, X_all - shift, n_components,
                                       covariance_type, method=init_params,
                                       chunk_size=chunk_size, sample_weight=w_all)

    def local_statistics(params, shift, X_local, w_local=None):
        total = e_step_statistics(X_local, params, covariance_type, sample_weight=w_local,
                                  chunk_size=local_chunk, shift=shift)
        return lax.psum(total, sample_axes)

    # check_vma=False: the chunk loop's zero-initialised carry is device-invariant while each
    # chunk's statistics vary across devices, which the replication checker rejects; the psum
    # makes the result replicated, as out_specs=P() says.
    data = (X,) if sample_weight is None else (X, sample_weight)
    data_specs = (P(sample_axes, None), P(sample_axes))[:len(data)]
    local = jax.shard_map(local_statistics, mesh=mesh, in_specs=(P(), P()) + data_specs,
                          out_specs=P(), check_vma=False)

    def statistics(params):
        return local(params, shift, *data)

    return _best_of_restarts(key, init_fn, statistics, shift, user_init, tol, reg_covar, None,
                             n_components=n_components, covariance_type=covariance_type,
                             max_iter=max_iter, n_init=n_init,
                             restart_batch_size=restart_batch_size, has_init=has_init,
                             previous_lower_bound=previous_lower_bound,
                             **_capacities(max_iter, n_init, restart_batch_size, None, None))


def _n_shards(mesh, sample_axes):
    return math.prod(mesh.shape[a] for a in sample_axes)


def _with_matrices(fit):
    """``fit`` (:func:`fit_restarts` or :func:`fit_restarts_sharded`), and the precision and
    covariance matrices of its result in the same program: on its own, that conversion
    compiled a program of 0.07-0.08 s on the first fit of a process (Old Faithful, 2-core
    CPU)."""
    @functools.wraps(fit)
    def fit_and_matrices(*args, covariance_type, **kwargs):
        result = fit(*args, covariance_type=covariance_type, **kwargs)
        precisions, covariances = precisions_and_covariances(result.params.precisions_cholesky,
                                                             covariance_type)
        return result._replace(precisions=precisions, covariances=covariances)

    return fit_and_matrices


_STATIC = ("n_components", "covariance_type", "init_params", "chunk_size",
           "restart_batch_size", "has_init")
# max_iter and n_init are traced: a new value up to the capacities reuses the program.
_fit_em = jax.jit(_with_matrices(fit_restarts),
                  static_argnames=_STATIC + ("max_iter_capacity", "n_init_capacity"))
_kmeans_starts = jax.jit(kmeans_starts, static_argnames=("n_components", "chunk_size",
                                                          "n_init_capacity"))
_fit_em_sharded = jax.jit(_with_matrices(fit_restarts_sharded), static_argnames=_STATIC + (
    "max_iter", "n_init", "mesh", "sample_axes", "n_samples", "weighted"))


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
           chunk_size=None, restart_batch_size=1, devices=None, previous_lower_bound=None):
    """Fit a Gaussian mixture by EM; the whole fit is one compiled program.

    Parameters
    ----------
    key : jax.random key
        Randomness of the initialisation; restarts use ``split(key, n_init)``.
    X : array, shape (N, d)
        Real numbers, finite (not checked here: X may be traced; see
        :func:`bayesgmm.validation.check_data`). The fit runs in float32 for float32 data,
        otherwise in float64 when x64 is enabled and float32 when not
        (:func:`bayesgmm.validation.compute_dtype`).
    n_components : int
    covariance_type : {"full", "tied", "diag", "spherical"} or one of mclust's models
        mclust's: :data:`bayesgmm.MCLUST_MODELS` and "E", "V" (see
        :mod:`bayesgmm.covariance` for their shapes).
    tol : float, "mclust" or (float, float)
        Convergence threshold on the change of the per-sample mean log-likelihood
        (scikit-learn's rule). ``"mclust"``: mclust's rule instead, the relative change of the
        total log-likelihood below 1e-5 (:data:`bayesgmm.MCLUST_TOL`); a pair ``(absolute,
        relative)`` stops at whichever is met first.
    reg_covar : float
        Added to the diagonal of every covariance.
    max_iter : int
    n_init : int
        Restarts from independent initialisations; the best final lower bound wins. A
        restart that fails numerically is discarded if another one succeeds.
    init_params : {"kmeans", "k-means++", "random", "random_from_data", "hc"}
        ``"hc"``: mclust's start, one M-step from the hierarchical clustering of
        :mod:`bayesgmm.hc` (computed on the host; deterministic, so ``n_init`` is 1).
    weights_init, means_init, precisions_init : arrays, optional
        User initial parameters, shapes (K,), (K, d) and as in :mod:`bayesgmm.covariance`;
        each one given replaces the one ``init_params`` would give, as in scikit-learn.
    precisions_cholesky_init : array, optional
        Alternative to ``precisions_init``.
    sample_weight : array, shape (N,), optional
        Non-negative frequency weights: a weight of 2 counts a row twice.
    chunk_size : int, optional
        Rows per chunk of the E-step; memory is O(chunk_size * K * d). Default on a CPU: about
        4 MiB of (rows, K, d) work (2**19 / (K d) rows in float64, twice that in float32),
        32 MiB for diag and spherical (``stats.default_chunk_size``). k-means, whose arrays
        are (rows, K), takes ``8 d`` times as many, up to 32 MiB.
    restart_batch_size : int
        Restarts run ``restart_batch_size`` at a time under ``vmap`` and the batches one after
        another. 1 (the default) runs them sequentially, which is faster on CPU: a batched
        ``while_loop`` runs every restart to the slowest one's iteration count.
    devices : sequence of jax.Device, or jax.sharding.Mesh, optional
        Shard the rows over these devices (a Mesh: over all its axes) and fit on all of them
        at once. Without ``devices``, an ``X`` that is a ``jax.Array`` with a
        ``NamedSharding`` whose first (sample) axis is sharded is fitted on its own mesh, as
        it lies: this is the multi-host route (see ``examples/multihost.py``). Each EM pass
        runs the chunk loop on every device's own rows and sums the statistics across
        devices (``psum``) inside the compiled program. When N is not a multiple of the
        number of shards the rows are padded with zero-weight rows, which change nothing.
        The initialisation runs on the rows gathered onto every device, so the result equals
        the single-device fit with the same key (to rounding); pass ``weights_init``,
        ``means_init`` and ``precisions_init`` to skip it (and the gather) when the data are
        too large to replicate. A ``sample_weight`` for a sharded ``X`` may be a host array
        or a ``jax.Array`` sharded like X's rows.
    previous_lower_bound : float, optional
        For a warm start (the initial parameters are a previous fit's result): that fit's
        ``lower_bound``, which the first iteration's convergence test compares against, as
        scikit-learn's ``warm_start`` does. Default: a fresh start (``-inf``).

    Returns
    -------
    EMResult
        ``lower_bounds`` and ``restart_lower_bounds`` are NumPy arrays unless X is traced.

    Notes
    -----
    Compiled programs are reused across fits (README, "Compilation"): the rows are padded to
    :func:`row_bucket` rows with zero-weight rows (:func:`pad_rows`), and ``max_iter`` and
    ``n_init`` are arguments of the program up to capacities that grow in powers of two
    (at least 1024 iterations and 16 restarts). So a new N, ``max_iter`` or ``n_init``
    does not compile again. Restart ``i`` starts from ``split(key, n_init)[i]`` whatever
    ``n_init`` is. Under the caller's ``jit`` (X traced) nothing is padded.

    Raises
    ------
    ValueError
        When the best fit has non-finite parameters (a covariance that is not positive
        definite), with scikit-learn's advice. Only raised when called outside a trace;
        under ``jit``/``vmap``, check ``result.lower_bound`` for NaN. Also for an X that is
        not 2-D or has no rows or columns.
    TypeError
        For complex X (:class:`bayesgmm.exceptions.ComplexDataError`).
    """
    check_em_covariance_type(covariance_type)
    tol = check_tol(tol)
    mesh, sample_axes = sample_mesh(X, devices)
    if not isinstance(X, jax.Array):
        # Host data stay on the host until they are padded (below) or shard_rows copies
        # each shard to its device.
        X = np.asarray(X)
    # X may be traced: only its shape and dtype are checked (the values by the callers that
    # hold concrete data, e.g. GaussianMixture.fit).
    check_structure(X, caller="fit_em")
    dtype = compute_dtype(X.dtype)
    if X.dtype != dtype:
        X = X.astype(dtype)
    n_samples, n_features = X.shape

    def as_dtype(a):
        return None if a is None else jnp.asarray(a, dtype)

    if precisions_init is not None:
        precisions_cholesky_init = FAMILIES[covariance_type].precisions_cholesky_from_precisions(
            as_dtype(precisions_init))
    if init_params in init.HOST_INIT_METHODS:
        if mesh is not None:
            raise ValueError("init_params='hc' needs the data on one device; pass "
                             "weights_init, means_init and precisions_init instead.")
        # mclust's start, computed on the host: one M-step from the hierarchical partition.
        labels = hc.initial_partitions(np.asarray(X), [int(n_components)])[0]
        centre = jnp.mean(X, axis=0)
        start = init.from_partition(X - centre, jnp.asarray(labels), int(n_components),
                                    covariance_type, reg_covar=reg_covar)
        weights_init = start.weights if weights_init is None else weights_init
        means_init = start.means + centre if means_init is None else means_init
        if precisions_cholesky_init is None:
            precisions_cholesky_init = start.precisions_cholesky
        init_params = "kmeans"  # never used: every initial parameter is given
    has_init = all(a is not None for a in (weights_init, means_init, precisions_cholesky_init))
    n_init = 1 if has_init else int(n_init)
    # NumPy scalars: jnp.asarray of a Python number compiles a conversion in every new process.
    inits = (as_dtype(weights_init), as_dtype(means_init), as_dtype(precisions_cholesky_init),
             np.asarray(tol, dtype), np.asarray(reg_covar, dtype))
    statics = dict(n_components=int(n_components), covariance_type=covariance_type,
                   init_params=init_params, restart_batch_size=int(min(restart_batch_size, n_init)),
                   has_init=has_init)
    # Always an argument (-inf for a fresh start), so that a warm start shares the program.
    warm = dict(previous_lower_bound=np.asarray(
        -np.inf if previous_lower_bound is None else previous_lower_bound, dtype))
    if mesh is not None:
        X_sharded, weight_sharded = shard_rows(X, sample_weight, mesh, sample_axes)
        result = _fit_em_sharded(key, X_sharded, weight_sharded, *inits, **warm, mesh=mesh,
                                 sample_axes=sample_axes, n_samples=n_samples,
                                 weighted=sample_weight is not None, max_iter=int(max_iter),
                                 n_init=n_init, chunk_size=_chunk_size(chunk_size, X,
                                                                       n_components,
                                                                       covariance_type),
                                 **statics)
    elif isinstance(X, jax.core.Tracer):
        # Under the caller's jit the shapes are the caller's: no padding, exact capacities.
        result = _fit_em(
            key, X, as_dtype(sample_weight), *inits, **warm, max_iter=int(max_iter),
            n_init=n_init, chunk_size=_chunk_size(chunk_size, X, n_components, covariance_type),
            **statics,
            **_capacities(max_iter, n_init, statics["restart_batch_size"], None, None))
    else:
        # One program per row bucket and capacity: padding rows weigh zero, and max_iter and
        # n_init are traced, so refits with a new N, n_init or max_iter do not compile.
        X_padded, weight = ((X, sample_weight) if n_samples >= MAX_ROW_BUCKET
                            else pad_rows(X, sample_weight, row_bucket(n_samples)))
        weight = as_dtype(weight)
        capacities = bucketed_capacities(max_iter, n_init)
        structure = n_active = None
        if shares_program(covariance_type, X_padded.shape[0], kmeans_bucket(n_components),
                          n_features):
            # scikit-learn's four types share one program on small data: the full family fits
            # the type given as a traced number, at K padded to a bucket (not for the random
            # start, whose draw depends on K).
            k_fit = int(n_components) if init_params == "random" else kmeans_bucket(n_components)
            inits = _to_shared_storage(inits, covariance_type, int(n_components), k_fit,
                                       n_features)
            statics.update(n_components=k_fit, covariance_type="full")
            structure = np.int32(STRUCTURES[covariance_type])
            n_active = np.int32(n_components)
        chunk = _chunk_size(chunk_size, X_padded, statics["n_components"],
                            statics["covariance_type"])
        centres = None
        if init_params == "kmeans" and not has_init:
            # k-means in its own program, at K padded to a bucket on small data: a fit of
            # another covariance type or a nearby K then compiles only its EM program.
            k_kmeans = (kmeans_bucket(n_components) if n_samples < MAX_ROW_BUCKET
                        else int(n_components))
            centres = _kmeans_starts(key, X_padded, weight, n_init, np.int32(n_components),
                                     n_components=k_kmeans,
                                     chunk_size=_chunk_size(chunk_size, X_padded, k_kmeans),
                                     n_init_capacity=capacities["n_init_capacity"])
        result = _fit_em(key, X_padded, weight, *inits, **warm, n_active=n_active,
                         structure=structure, kmeans_centers=centres, max_iter=int(max_iter),
                         n_init=n_init, chunk_size=chunk, **statics, **capacities)
        # Cut to the documented lengths on the host (a device slice compiles per length).
        result = result._replace(
            lower_bounds=np.asarray(result.lower_bounds)[:max(int(max_iter), 1)],
            restart_lower_bounds=np.asarray(result.restart_lower_bounds)[:n_init])
        if structure is not None:
            result = _from_shared_storage(result, covariance_type, int(n_components))
    if not isinstance(result.lower_bound, jax.core.Tracer):
        finite = all(np.all(np.isfinite(np.asarray(p))) for p in result.params)
        if not finite or np.isnan(np.asarray(result.lower_bound)):
            raise fit_failed_error(dtype)
    return result


#: Largest (rows x K x d^2), rows and K as padded, at which scikit-learn's four types share
#: one compiled program (:func:`shares_program`).
SHARED_PROGRAM_MAX_SIZE = 1 << 20


def shares_program(covariance_type, n_rows, n_components, n_features):
    """Whether :func:`fit_em` and :func:`bayesgmm.selection.bic_sweep` fit ``covariance_type``
    in the program that scikit-learn's four types share.

    On small data a fit's time is mostly the compilation of its program (about 0.5-1 s
    each on a CPU), so one program fits all four types: the full family, whose M-step
    projects its covariances onto the type given as a traced number
    (:func:`bayesgmm.covariance.project`). It does (K, d, d) work where diag and spherical
    need (K, d), so it is used only while ``n_rows * n_components * n_features**2`` is at
    most :data:`SHARED_PROGRAM_MAX_SIZE`; larger fits have a program per type. Results
    equal the type's own program to rounding (tests/test_shared_program.py).
    """
    return (covariance_type in STRUCTURES
            and n_rows * n_components * n_features ** 2 <= SHARED_PROGRAM_MAX_SIZE)


def _to_shared_storage(inits, covariance_type, n_components, n_padded, n_features):
    """User starts of ``covariance_type`` and K components as the shared program's: K padded
    to ``n_padded`` with weightless components, precision factors (K, d, d). On the host."""
    weights, means, prec_chol, *settings = inits

    def pad(a, fill):
        a = np.asarray(a)
        padding = np.broadcast_to(np.asarray(fill, a.dtype),
                                  (n_padded - n_components,) + a.shape[1:])
        return np.concatenate([a, padding])

    if prec_chol is not None:
        prec_chol = pad(to_full_storage(np.asarray(prec_chol), covariance_type, n_components,
                                        n_features), np.eye(n_features))
    return (None if weights is None else pad(weights, 0.0),
            None if means is None else pad(means, 0.0), prec_chol, *settings)


def _from_shared_storage(result, covariance_type, n_components):
    """The shared program's result as ``covariance_type``'s: its parameters and matrices
    without the padding."""
    def own(a):
        return from_full_storage(np.asarray(a)[:n_components], covariance_type)

    weights, means = (np.asarray(a)[:n_components] for a in result.params[:2])
    params = GMMParams(*(jax.device_put(a) for a in (
        weights, means, own(result.params.precisions_cholesky))))
    return result._replace(params=params, precisions=own(result.precisions),
                           covariances=own(result.covariances))


def _chunk_size(chunk_size, X, n_components, covariance_type="full"):
    n_samples = X.shape[0]
    if chunk_size is None:
        chunk_size = stats.default_chunk_size(n_samples, n_components, X.shape[1], X.dtype,
                                              covariance_type)
        # A chunk that divides the rows leaves no remainder chunk, whose code XLA would
        # compile a second time (row buckets are multiples of large powers of two).
        divisor = n_samples & -n_samples
        if n_samples % chunk_size and divisor >= 256:
            chunk_size = min(chunk_size, divisor)
    return int(min(chunk_size, n_samples))


#: Smallest row bucket: every data set of up to this many rows shares one program (EM on a
#: thousand rows takes microseconds per iteration; compiling takes a second).
MIN_ROW_BUCKET = 1024
#: Above this many rows a fit costs far more than its compilation: no padding.
MAX_ROW_BUCKET = 1 << 20
#: Smallest capacities of the lower-bound trace and of the restarts (powers of two above).
MIN_ITER_CAPACITY = 1024
MIN_INIT_CAPACITY = 16


def row_bucket(n_samples):
    """The number of rows :func:`fit_em` pads ``n_samples`` rows to.

    :data:`MIN_ROW_BUCKET` for small data, then 8 buckets per octave (at most 12.5% extra
    rows, all of weight zero) up to :data:`MAX_ROW_BUCKET`; larger data are not padded.
    """
    if n_samples <= MIN_ROW_BUCKET:
        return MIN_ROW_BUCKET
    if n_samples >= MAX_ROW_BUCKET:
        return n_samples
    step = 1 << (n_samples.bit_length() - 4)
    return -(-n_samples // step) * step


def bucketed_capacities(max_iter, n_init):
    """The static capacities a compiled fit is given for ``max_iter`` and ``n_init``: powers
    of two, at least :data:`MIN_ITER_CAPACITY` and :data:`MIN_INIT_CAPACITY`, so that other
    values up to them reuse the program (keyword arguments of :func:`fit_restarts`)."""
    def capacity(value, minimum):
        return max(minimum, 1 << max(int(value) - 1, 0).bit_length())
    return dict(max_iter_capacity=capacity(max_iter, MIN_ITER_CAPACITY),
                n_init_capacity=capacity(n_init, MIN_INIT_CAPACITY))


def pad_rows(X, sample_weight, n_rows):
    """``X`` padded to ``n_rows`` rows with copies of its last row, and weights that are zero
    on the padding (ones, or ``sample_weight``, on the real rows).

    A zero-weight row changes no statistic, no lower bound and no initialisation (every
    initialiser draws rows in proportion to their weight), so the fit equals the unpadded
    one. Copies of a real row keep the padding's log-densities finite (``0 * inf`` would be
    NaN).

    Returns
    -------
    X : array, shape (n_rows, d)
    sample_weight : array, shape (n_rows,)
    """
    n_pad = n_rows - X.shape[0]
    weight = (np.ones(X.shape[0], X.dtype) if sample_weight is None
              else np.asarray(sample_weight, X.dtype))
    if not n_pad:
        return X, weight
    if isinstance(X, np.ndarray):
        return (np.concatenate([X, np.broadcast_to(X[-1:], (n_pad, X.shape[1]))]),
                np.concatenate([weight, np.zeros(n_pad, X.dtype)]))
    return (_pad_device_rows(X, n_pad), np.concatenate([weight, np.zeros(n_pad, X.dtype)]))


@functools.partial(jax.jit, static_argnames="n_pad")
def _pad_device_rows(X, n_pad):
    # One program (op by op, the slice, broadcast and concatenation compiled one each).
    return jnp.concatenate([X, jnp.broadcast_to(X[-1:], (n_pad, X.shape[1]))])


SAMPLE_AXIS = "samples"


def sample_mesh(X, devices):
    """Where :func:`fit_em` shards the rows: ``(mesh, sample_axes)``, or ``(None, None)``
    for an ordinary single-device fit.

    From ``devices`` when given (a Mesh: all its axes; a sequence of devices: a new 1-D mesh
    with axis ``"samples"``), else from X's ``NamedSharding`` when its first axis is sharded.

    Raises
    ------
    TypeError, ValueError
        ``devices`` that are not a non-empty sequence of distinct devices or a Mesh.
    """
    from jax.sharding import Mesh, NamedSharding
    if devices is not None:
        if isinstance(devices, Mesh):
            return devices, tuple(devices.axis_names)
        devices = list(devices)
        if not devices or not all(isinstance(d, jax.Device) for d in devices):
            raise TypeError(f"devices must be a non-empty sequence of jax.Device or a "
                            f"jax.sharding.Mesh, got {devices!r}")
        if len(set(devices)) != len(devices):
            raise ValueError(f"devices must be distinct, got {devices!r}")
        return Mesh(np.array(devices), (SAMPLE_AXIS,)), (SAMPLE_AXIS,)
    if isinstance(X, jax.core.Tracer):  # under jit the caller's jit decides the layout
        return None, None
    sharding = getattr(X, "sharding", None)
    if isinstance(X, jax.Array) and isinstance(sharding, NamedSharding):
        spec = tuple(sharding.spec) + (None,)
        if spec[0] is not None:
            axes = spec[0] if isinstance(spec[0], tuple) else (spec[0],)
            return sharding.mesh, axes
    return None, None


def shard_rows(X, sample_weight, mesh, sample_axes):
    """Lay the rows of X (and the weights) out over ``sample_axes`` of ``mesh``.

    Pads the rows to a multiple of the number of shards with zero rows of weight zero (and
    then always returns weights, ones on the real rows). A NumPy X is padded on the host and
    copied shard by shard; a ``jax.Array`` already laid out this way is used as it is.

    Returns
    -------
    X : jax.Array, shape (N_pad, d), sharded as ``P(sample_axes, None)``
    sample_weight : jax.Array, shape (N_pad,), sharded as ``P(sample_axes)``, or None
        None when there was neither padding nor a user weight.
    """
    from jax.sharding import NamedSharding, PartitionSpec as P

    n_samples = X.shape[0]
    n_pad = -n_samples % _n_shards(mesh, sample_axes)
    rows = NamedSharding(mesh, P(sample_axes, None))
    weights = NamedSharding(mesh, P(sample_axes))
    if isinstance(X, jax.Array):
        X = _pad_rows(X, n_pad, rows) if n_pad else jax.device_put(X, rows)
    else:
        X = jax.device_put(np.pad(X, ((0, n_pad), (0, 0))) if n_pad else X, rows)
    if sample_weight is None and not n_pad:
        return X, None
    if sample_weight is None:
        sample_weight = np.ones(n_samples, X.dtype)
    if not isinstance(sample_weight, jax.Array):
        sample_weight = np.asarray(sample_weight)
    if sample_weight.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},), got "
                         f"{sample_weight.shape}")
    if isinstance(sample_weight, jax.Array):
        sample_weight = sample_weight.astype(X.dtype)
        sample_weight = (_pad_rows(sample_weight, n_pad, weights) if n_pad
                         else jax.device_put(sample_weight, weights))
    else:
        sample_weight = jax.device_put(
            np.pad(np.asarray(sample_weight, X.dtype), (0, n_pad)), weights)
    return X, sample_weight


def _pad_rows(a, n_pad, sharding):
    pad = ((0, n_pad),) + ((0, 0),) * (a.ndim - 1)
    return jax.jit(lambda a: jnp.pad(a, pad), out_shardings=sharding)(a)
