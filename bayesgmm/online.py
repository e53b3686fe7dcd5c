"""Online (stepwise) EM for streams of mini-batches.

Stepwise EM (Cappé & Moulines 2009, JRSS-B 71:593; mini-batch form of Liang & Klein 2009)
keeps a running average of the normalised sufficient statistics,

    s_t = (1 - eta_t) s_{t-1} + eta_t sbar(batch_t),   eta_t = (t + t0)^-kappa,

where ``kappa = learning_decay`` and ``t0 = learning_offset`` (scikit-learn's online LDA
names the same schedule so), ``sbar`` are the statistics of one batch per unit sample weight
under the current parameters (the E-step of ``em.py`` through the shared density), and takes
an M-step (``stats.m_step``) from ``s_t`` after every batch. With ``learning_decay`` in
(0.5, 1] the step sizes satisfy sum eta = inf, sum eta^2 < inf, and the parameters converge to
a stationary point of the expected log-likelihood.

Design choices (the why):

- **A fixed shift.** Batch statistics come out around the current means, which move after
  every step; running averages of moments around different points cannot be added. Every
  batch's statistics are therefore re-centred (:func:`recentre`, exact) to one shift per
  component fixed at :func:`online_init`: the initial means. Per component rather than one
  global point, because the covariance is ``sum_xx / n - (mean - shift)^2`` and loses
  ``eps * |mean - shift|^2 / sigma^2`` of relative accuracy: the initial means sit near
  their clusters, a global point can sit far from all of them. A fixed shift (rather than
  re-centring the running statistics onto the new means each step) keeps the averaged
  statistics free of accumulated re-centring rounding and makes the state easy to reason
  about. Measured: float32 on data offset by 1e4 fails outright (a covariance that is not
  positive definite) with moments around the origin, and matches float64 to 5e-4 in the means
  (the float32 spacing at 1e4 is 1e-3) with the initial means as shift. The density is also
  evaluated on data centred at the mean of the shifts, for its ``X @ U - mu U``.
- **Warm-up.** For the first ``warmup`` batches the parameters stay at their initial values
  and the batch statistics are pooled, weighted by batch weight (``eta = w_t / sum w``), so
  the first M-step is one batch-EM iteration on all warm-up batches together. Cappé & Moulines
  recommend not updating the parameters for the first observations because statistics from
  few points give degenerate covariances; with mini-batches of a few hundred rows one batch is
  enough (default ``warmup=1``: the first step is exactly one batch EM iteration on the first
  batch). Raise it when a batch holds fewer rows than a few times the number of covariance
  parameters per component.
- **Step size per batch**, whatever the batch's size or weight (as Liang & Klein); ``eta`` is
  clipped to 1. Defaults ``learning_decay=0.6``, ``learning_offset=2`` (Liang & Klein's
  offset) are a compromise measured on a simulated 2-D stream (200 batches of 500): from a
  k-means start, decay 1 (a plain running average) ends closest to batch EM (held-out gap
  0.000% against 0.013% at 0.6), but from a random start it cannot forget the early bad
  statistics (gap 17% against 2.7% at 0.6, 0.1% at 0.51).
- Components that receive no responsibility in a batch just decay with ``1 - eta``; the
  ``10 eps`` that ``m_step`` adds to every count keeps them finite.
- Batches are padded (edge rows, weight zero) to one of a few sizes per octave, so a stream of
  varying batch sizes compiles a handful of programs, not one per size.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bayesgmm import em, init, stats
from bayesgmm.covariance import FAMILIES, check_covariance_type
from bayesgmm.params import GMMParams, check_shapes
from bayesgmm.stats import SuffStats
from bayesgmm.validation import (check_array, check_choice, check_int, check_n_samples,
                                 check_real, check_sample_weight, check_structure)


class OnlineState(NamedTuple):
    """State of a stepwise EM fit (a pytree; shapes for ``K`` components, ``d`` features).

    Attributes
    ----------
    params : GMMParams
        Current parameters, in the data's coordinates.
    stats : SuffStats
        Running average of the batch statistics per unit sample weight, around ``shift``
        (``n_k`` sums to one; ``log_lik`` is the running average of the batches' mean
        log-likelihood under the parameters each batch met, a smoothed progress measure).
    shift : array, shape (K, d)
        Fixed centre of the moments in ``stats``: the initial means.
    n_steps : int array, shape ()
        Batches seen.
    weight_seen : array, shape ()
        Total sample weight seen (rows, when unweighted).
    batch_log_lik : array, shape ()
        Mean log-likelihood of the last batch under the parameters before its step (a
        prequential score: the batch was not yet used to fit them). NaN before the first step.
    """

    params: GMMParams
    stats: SuffStats
    shift: jax.Array
    n_steps: jax.Array
    weight_seen: jax.Array
    batch_log_lik: jax.Array


def recentre(total, old_shift, new_shift, covariance_type):
    """Statistics around ``old_shift`` re-expressed around ``new_shift`` (both (K, d)); exact.

    With ``delta_k = old_k - new_k``: ``sum_x' = sum_x + n_k delta``, and
    ``sum_xx' = sum_xx + sum_x delta^T + delta sum_x^T + n_k delta delta^T``, reduced as the
    covariance family reduces second moments (tied: summed over k; diag and spherical: the
    diagonal ``2 sum_x delta + n_k delta^2``). The correction is written as the family's own
    ``second_moment`` of two rows, so that the reduction is the one ``stats`` uses.
    """
    family = FAMILIES[covariance_type]
    delta = old_shift - new_shift

    def correction(sum_x, n, d):
        # sum_i a_i b_i^T with (a, b) = (sum_x, d), (d, sum_x + n d).
        return family.second_moment(jnp.stack([sum_x, d]), jnp.stack([d, sum_x + n * d]))

    extra = family.pool(jax.vmap(correction)(total.sum_x, total.n_k, delta))
    return total._replace(sum_x=total.sum_x + total.n_k[:, None] * delta,
                          sum_xx=total.sum_xx + extra)


def online_init(params, covariance_type):
    """Online EM state at ``params``, before any batch.

    Parameters
    ----------
    params : GMMParams
        Initial parameters; shapes (K,), (K, d) and as in :mod:`bayesgmm.covariance`. Their
        means become the fixed shift of the statistics.
    covariance_type : {"full", "tied", "diag", "spherical"}

    Returns
    -------
    OnlineState
        With zero statistics: the first step's weight is 1 whatever the step size, because
        the M-step does not depend on the statistics' overall scale.
    """
    check_covariance_type(covariance_type)
    params = GMMParams(*(jnp.asarray(p) for p in params))
    dtype = params.means.dtype
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"params.means must be floating point, got dtype {dtype}.")
    params = GMMParams(*(p.astype(dtype) for p in params))
    check_shapes(params, covariance_type)
    n_components = params.means.shape[0]
    # Zero statistics shaped as the covariance family shapes them (K rows standing in for data).
    shapes = jax.eval_shape(
        functools.partial(stats.from_responsibilities, covariance_type=covariance_type),
        params.means, jnp.ones((n_components, n_components), dtype), params.means)
    empty = jax.tree.map(lambda s: jnp.zeros(s.shape, dtype), shapes)
    return OnlineState(params, empty, params.means, jnp.int32(0), jnp.zeros((), dtype),
                       jnp.asarray(jnp.nan, dtype))


def initial_params(key, X, n_components, *, covariance_type="full", init_params="kmeans",
                   reg_covar=1e-6, sample_weight=None):
    """Initial parameters from a first batch by :func:`bayesgmm.init.initialize`.

    Parameters
    ----------
    key : jax.random key
    X : array, shape (N, d), N >= n_components
    n_components : int
    covariance_type, init_params, reg_covar : as :func:`bayesgmm.fit_em`
    sample_weight : array, shape (N,), optional

    Returns
    -------
    GMMParams
        To pass to :func:`online_init`; the batch is not consumed (step on it next).
    """
    check_covariance_type(covariance_type)
    n_components = check_int("n_components", n_components)
    reg_covar = check_real("reg_covar", reg_covar)
    # Called once per stream: the batch is checked on the host, device arrays included.
    X = check_array(X, name="X_batch", caller="online EM")
    check_n_samples(X.shape[0], n_components)
    check_choice("init_params", init_params, init.INIT_METHODS)
    sample_weight = check_sample_weight(sample_weight, X.shape[0], X.dtype)
    params = _initial_params(key, X, sample_weight, jnp.asarray(reg_covar, X.dtype),
                             n_components=n_components, covariance_type=covariance_type,
                             init_params=init_params)
    if not all(bool(jnp.all(jnp.isfinite(p))) for p in params):
        raise em.fit_failed_error(X.dtype)
    return params


@functools.partial(jax.jit, static_argnames=("n_components", "covariance_type", "init_params"))
def _initial_params(key, X, sample_weight, reg_covar, *, n_components, covariance_type,
                    init_params):
    # Initialise on centred data, as fit_em does (float32 on data far from the origin).
    w = jnp.ones(X.shape[0], X.dtype) if sample_weight is None else sample_weight
    centre = jnp.sum(w[:, None] * X, 0) / jnp.sum(w)
    params = init.initialize(key, X - centre, n_components, covariance_type, method=init_params,
                             reg_covar=reg_covar, sample_weight=sample_weight,
                             chunk_size=stats.default_chunk_size(X.shape[0], n_components,
                                                                 X.shape[1], X.dtype))
    return params._replace(means=params.means + centre)


def step_size(n_steps, weight_seen, batch_weight, warmup, learning_decay, learning_offset):
    """``eta`` of batch number ``n_steps`` (counting from 1): pooled during warm-up,
    ``min(1, (n_steps + learning_offset)^-learning_decay)`` after it.

    ``weight_seen`` includes this batch's ``batch_weight``. Traceable.
    """
    decayed = jnp.minimum(1.0, (n_steps + learning_offset) ** (-learning_decay))
    return jnp.where(n_steps <= warmup, batch_weight / weight_seen, decayed)


def stepwise_update(state, X, sample_weight, reg_covar, learning_decay, learning_offset,
                    warmup, *, covariance_type, chunk_size):
    """One stepwise EM step, traceable (no validation): :func:`online_step` compiles this.

    Parameters
    ----------
    state : OnlineState
    X : array, shape (N, d)
    sample_weight : array, shape (N,)
        Zero on padding rows.
    reg_covar, learning_decay, learning_offset, warmup : arrays, shape ()
    covariance_type, chunk_size : static

    Returns
    -------
    OnlineState
    """
    # Work around one fixed point near the data: the density's whitening X @ U - mu U loses
    # |x| * eps of absolute accuracy in float32 (harmless at an offset of 1e4, where the
    # fixed shift of the moments is what matters; not at 1e6).
    centre = jnp.mean(state.shift, axis=0)
    params = state.params._replace(means=state.params.means - centre)
    batch = em.e_step_statistics(X - centre, params, covariance_type,
                                 sample_weight=sample_weight, chunk_size=chunk_size)
    # Moments around the current means -> around the fixed shift, then per unit weight.
    batch = recentre(batch, state.params.means, state.shift, covariance_type)
    batch_weight = batch.weight
    batch = jax.tree.map(lambda a: a / batch_weight, batch)

    n_steps = state.n_steps + 1
    weight_seen = state.weight_seen + batch_weight
    # In the state's dtype whatever the hyperparameters' (a float64 eta would promote a
    # float32 state).
    eta = step_size(n_steps, weight_seen, batch_weight, warmup, learning_decay,
                    learning_offset).astype(batch_weight.dtype)
    # (1 - eta) s + eta b, not s + eta (b - s): eta = 1 then gives b exactly.
    running = jax.tree.map(lambda s, b: (1 - eta) * s + eta * b, state.stats, batch)

    new = stats.m_step(running, state.shift - centre, covariance_type, reg_covar)
    new = new._replace(means=new.means + centre)
    update = n_steps >= warmup
    params = jax.tree.map(lambda a, b: jnp.where(update, a, b), new, state.params)
    return OnlineState(params, running, state.shift, n_steps, weight_seen, batch.log_lik)


@functools.partial(jax.jit, static_argnames=("covariance_type", "chunk_size"))
def _online_step(state, X, sample_weight, hyper, *, covariance_type, chunk_size):
    # hyper: (reg_covar, learning_decay, learning_offset, warmup), one array, one transfer.
    new = stepwise_update(state, X, sample_weight, *hyper, covariance_type=covariance_type,
                          chunk_size=chunk_size)
    # Value checks ride along in the compiled step: one transfer for all of them.
    bad_rows = jnp.sum(~jnp.all(jnp.isfinite(X), axis=1))
    weights_ok = jnp.all(jnp.isfinite(sample_weight) & (sample_weight >= 0))
    weight_positive = jnp.sum(sample_weight) > 0
    params_ok = jnp.all(jnp.stack([jnp.all(jnp.isfinite(p)) for p in new.params]))
    return new, jnp.stack([bad_rows, weights_ok, weight_positive, params_ok])


def _padded_size(n):
    """``n`` rounded up to keep its 4 leading binary digits: at most 8 sizes per octave and
    at most 1/8 of padding."""
    step = 1 << max(0, n.bit_length() - 4)
    return -(-n // step) * step


def _pad(xp, X, w, size):
    """Edge rows of weight zero up to ``size`` rows (zero weight: no change to the statistics)."""
    n = X.shape[0]
    w = xp.ones(n, X.dtype) if w is None else w
    return xp.pad(X, ((0, size - n), (0, 0)), mode="edge"), xp.pad(w, (0, size - n))


# Device arrays are padded by one compiled call (stay on the device), host arrays by NumPy.
_pad_jax = jax.jit(functools.partial(_pad, jnp), static_argnums=2)


def _check_batch(X, sample_weight, dtype, n_features):
    """The batch (N, d) and its weights (N,) or None in ``dtype``, and their array module.

    Host arrays are checked on the host, values included (NumPy costs microseconds for a few
    hundred rows) and stay NumPy until the one transfer into the compiled step: eager jnp
    calls here would cost more than the step itself. Device arrays stay on the device: here
    only their shape and dtype are checked, their values inside the compiled step.
    """
    if isinstance(X, jax.Array):
        X = check_structure(X, name="X_batch", caller="online EM").astype(dtype)
        if sample_weight is not None:
            sample_weight = jnp.asarray(sample_weight).astype(dtype)
            if sample_weight.shape != (X.shape[0],):
                raise ValueError(f"sample_weight has shape {sample_weight.shape}, expected "
                                 f"({X.shape[0]},).")
        xp = jnp
    else:
        X = check_array(X, name="X_batch", dtype=dtype, caller="online EM")
        sample_weight = check_sample_weight(sample_weight, X.shape[0], dtype)
        xp = np
    if X.shape[1] != n_features:
        raise ValueError(f"X_batch has {X.shape[1]} features, but the online state has "
                         f"{n_features}.")
    return X, sample_weight, xp


def online_step(state, X_batch, sample_weight=None, *, covariance_type, reg_covar=1e-6,
                learning_decay=0.6, learning_offset=2.0, warmup=1, chunk_size=None):
    """One stepwise EM step on a batch: E-step under the current parameters, running average
    of the statistics, M-step.

    Parameters
    ----------
    state : OnlineState
        From :func:`online_init` or a previous step. It is not modified.
    X_batch : array, shape (N, d)
        Cast to the state's dtype. Any N >= 1; sizes are padded to a few compiled shapes.
    sample_weight : array, shape (N,), optional
        Non-negative frequency weights of the rows.
    covariance_type : {"full", "tied", "diag", "spherical"}
        The one the state was made with.
    reg_covar : float
        Added to the diagonal of every covariance.
    learning_decay : float in (0.5, 1]
        ``kappa`` of the step size ``(t + learning_offset)^-kappa``; smaller forgets faster.
    learning_offset : float >= 0
        ``t0``: larger damps the early steps.
    warmup : int >= 0
        Batches pooled under the initial parameters before the first update (module notes).
    chunk_size : int, optional
        Rows per E-step chunk; default as :func:`bayesgmm.fit_em`.

    Returns
    -------
    OnlineState

    Raises
    ------
    ValueError
        Bad shapes or hyperparameters; a batch or weights with NaN or infinity; weights that
        are negative or sum to zero; a covariance that lost positive definiteness (scikit-
        learn's advice). A host (NumPy) batch is checked before the step; the values of a
        device array, and the new parameters, after the compiled step and only outside a
        trace; under ``jit``, use :func:`stepwise_update` and check the state yourself.
    TypeError
        A complex batch (:class:`bayesgmm.exceptions.ComplexDataError`).
    """
    check_covariance_type(covariance_type)
    # In (0.5, 1]: the step sizes must sum to infinity and their squares not, for stepwise
    # EM to converge.
    check_real("learning_decay", learning_decay, low=0.5, high=1.0, low_open=True)
    check_real("learning_offset", learning_offset)
    check_int("warmup", warmup, low=0)
    check_real("reg_covar", reg_covar)
    check_shapes(state.params, covariance_type, name="state.params")
    dtype = state.params.means.dtype
    n_components, n_features = state.params.means.shape
    X, w, xp = _check_batch(X_batch, sample_weight, dtype, n_features)
    n = X.shape[0]
    size = _padded_size(n)
    X, w = _pad(np, X, w, size) if xp is np else _pad_jax(X, w, size)
    if chunk_size is None:
        chunk_size = stats.default_chunk_size(size, n_components, n_features, dtype,
                                              covariance_type)
    hyper = np.array([reg_covar, learning_decay, learning_offset, warmup], dtype)
    new, checks = _online_step(state, X, w, hyper, covariance_type=covariance_type,
                               chunk_size=int(min(chunk_size, size)))
    if not isinstance(checks, jax.core.Tracer):
        bad_rows, weights_ok, weight_positive, params_ok = np.asarray(checks).tolist()
        if bad_rows:  # a device array (host arrays were checked by _check_batch)
            raise ValueError(f"Input X_batch contains NaN or infinity in {bad_rows} row(s). "
                             f"Remove or impute them before fitting.")
        if not weights_ok:
            raise ValueError("sample_weight must be finite and non-negative.")
        if not weight_positive:
            raise ValueError("sample_weight sums to zero: at least one row needs positive "
                             "weight.")
        if not params_ok:
            raise em.fit_failed_error(dtype)
    return new


__all__ = ["OnlineState", "initial_params", "online_init", "online_step", "recentre",
           "step_size", "stepwise_update"]
