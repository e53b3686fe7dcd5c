"""Model selection: BIC / AIC / ICL over a grid of component counts and covariance types.

Every K of one covariance type is fitted by one compiled program: the components are padded to
the largest K and a mask says which exist (:func:`bayesgmm.em.fit_restarts` with ``n_active``).
Padded components have weight exactly zero, so the shared density gives them ``-inf``: they take
no responsibility, add nothing to the statistics or to the likelihood, and are not counted as
parameters. A sweep over K = 1..9 and the four covariance types compiles four programs, not 36,
and on small data one (scikit-learn's four types share a program there:
:func:`bayesgmm.em.shares_program`); with the default k-means start one more runs k-means once
for every type (k-means does not depend on the covariance type). On large data, where fitting
costs more than compiling, the K grid is split into up to three groups per type, each padded to
its own largest K (:func:`k_groups`). ``n_init`` and ``max_iter`` are traced: a sweep with
other values reuses the programs.

Sign convention: scikit-learn's, ``BIC = -2 log L + p log N``, lower is better. R's mclust
reports ``2 log L - p log N`` (higher is better): the same numbers with the opposite sign.
"""

import collections
import concurrent.futures
import functools
import math
import numbers
import os
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from bayesgmm import density, em, hc, init, stats
from bayesgmm.covariance import (COVARIANCE_TYPES, STRUCTURES, check_em_covariance_type,
                                 from_full_storage)
from bayesgmm.covariance import n_parameters as _n_parameters
from bayesgmm.init import HOST_INIT_METHODS, INIT_METHODS
from bayesgmm.params import GMMParams
from bayesgmm.validation import (check_choice, check_data, check_int, check_n_samples,
                                 check_real, check_tol)

CRITERIA = ("bic", "aic", "icl", "icl_hard")

#: Traces of the sweep program, by covariance type ("shared" for the program that
#: scikit-learn's four types share on small data). Tests read it to show that a sweep
#: compiles once per program, not once per K or per type.
TRACE_COUNTS = collections.Counter()

# How the K grid and the restarts are laid out inside one compiled program, by measurement on
# this project's 2-core CPU, shared with other jobs (Old Faithful, K = 1..9 x four types,
# n_init = 10, float64, warm sweep time, median of 3; compilation ~25-45 s cold in every case):
#   lax.map over K (batch 1), lax.map over restarts (batch 1)    1.02 s  (0.75-1.19)
#   vmap over K (batch 9),    lax.map over restarts              1.67 s
#   lax.map over K,           vmap over restarts (batch 10)      1.36 s  (0.84-1.37)
#   vmap over K,              vmap over restarts                 1.29 s
# A batched while_loop runs every member to the slowest one's iteration count (K = 1 stops
# after 2 iterations, large K often runs 20-40) and each batched iteration costs more, so
# sequential wins on CPU; on an accelerator a batch may win (``k_batch_size``,
# ``restart_batch_size``).
DEFAULT_K_BATCH_SIZE = 1
DEFAULT_RESTART_BATCH_SIZE = 1


class SweepResult(NamedTuple):
    """Outcome of :func:`bic_sweep`.

    Attributes
    ----------
    table : dict of str to ndarray
        Columns of one row per (covariance type, K), types in the order given, K ascending:
        ``covariance_type``, ``n_components``, ``log_likelihood`` (total, at the fitted
        parameters), ``n_parameters``, ``bic``, ``aic``, ``icl``, ``lower_bound`` (per-sample,
        at the last E-step, as scikit-learn's ``lower_bound_``), ``converged``, ``n_iter``.
        ``pandas.DataFrame(result.table)`` turns it into a data frame.
    criterion : str
        The criterion that chose the best model.
    best_index : int
        Row of the best model (lowest criterion among the rows whose fit succeeded).
    best_params : GMMParams
        Parameters of the best model, unpadded (NumPy arrays).
    fits : dict of str to EMResult
        Per covariance type, the fits of every K (leading axis over the K grid), parameters
        padded to the largest K (padded components have weight 0). See :meth:`fit_result`.
    """

    table: dict
    criterion: str
    best_index: int
    best_params: GMMParams
    fits: dict

    @property
    def best_covariance_type(self):
        """Covariance type of the best model."""
        return str(self.table["covariance_type"][self.best_index])

    @property
    def best_n_components(self):
        """Number of components of the best model."""
        return int(self.table["n_components"][self.best_index])

    def fit_result(self, covariance_type, n_components):
        """The :class:`bayesgmm.EMResult` of one row, unpadded to ``n_components``.

        Raises
        ------
        ValueError
            If the sweep did not fit that (covariance type, K).
        """
        rows = np.flatnonzero((self.table["covariance_type"] == covariance_type)
                              & (self.table["n_components"] == n_components))
        if rows.size == 0:
            raise ValueError(f"The sweep has no model with covariance_type={covariance_type!r} "
                             f"and n_components={n_components!r}.")
        fits = self.fits[covariance_type]
        grid = self.table["n_components"][self.table["covariance_type"] == covariance_type]
        i = int(np.flatnonzero(grid == n_components)[0])
        result = jax.tree.map(lambda a: a[i], fits)
        return result._replace(params=_unpad(result.params, n_components, covariance_type))

    def criterion_table(self, criterion=None):
        """One criterion as ``{covariance_type: {K: value}}``, mclust's layout.

        ``pandas.DataFrame(result.criterion_table("bic"))`` has K as index and one column per
        covariance type.
        """
        criterion = self.criterion if criterion is None else _check_criterion(criterion)
        out = {}
        for ctype, k, value in zip(self.table["covariance_type"], self.table["n_components"],
                                   self.table[criterion]):
            out.setdefault(str(ctype), {})[int(k)] = float(value)
        return out


def _unpad(params, n_components, covariance_type):
    prec = params.precisions_cholesky
    if covariance_type != "tied":
        prec = prec[:n_components]
    return GMMParams(params.weights[:n_components], params.means[:n_components], prec)


#: Data size (N d K_max numbers) above which a sweep splits the K grid into up to three
#: programs per covariance type (:func:`k_groups`).
K_GROUP_MIN_SIZE = 1 << 20


def k_groups(grid, n_samples, n_features):
    """The K values that share one compiled program, each group padded to its largest K.

    Small data: one group (compiling a program costs more than padding every K to the
    largest). Large data, where the fits cost more than compiling: up to three groups,
    ``K <= K_max / 4``, ``K <= K_max / 2`` and the rest, so that a fit pays for at most about
    twice its components (K = 1..9: 57 padded components instead of 81, for 45 real ones).
    """
    top = grid[-1]
    if n_samples * n_features * top < K_GROUP_MIN_SIZE:
        return [grid]
    groups = [[k for k in grid if k <= top / 4], [k for k in grid if top / 4 < k <= top / 2],
              [k for k in grid if k > top / 2]]
    return [group for group in groups if group]


def _pad_components(params, n_components, covariance_type):
    """Stacked parameters (leading axis over a K group) padded with weightless components."""
    def pad(a, fill):
        width = [(0, 0)] * a.ndim
        width[1] = (0, n_components - a.shape[1])
        return np.pad(a, width, constant_values=fill)
    prec = params.precisions_cholesky
    return GMMParams(pad(params.weights, 0.0), pad(params.means, 0.0),
                     prec if covariance_type == "tied" else pad(prec, 1.0))


def _check_criterion(criterion):
    return check_choice("criterion", criterion, CRITERIA)


def _check_grid(n_components, n_samples):
    if isinstance(n_components, numbers.Integral):
        n_components = [n_components]
    try:
        grid = list(n_components)
    except TypeError:
        raise TypeError(f"n_components must be an int or an iterable of ints, got "
                        f"{type(n_components).__name__}.") from None
    if not grid:
        raise ValueError("n_components is empty: give at least one number of components.")
    grid = sorted({check_int("n_components", k) for k in grid})
    check_n_samples(n_samples, grid[-1])
    return grid


def _check_types(covariance_types):
    if isinstance(covariance_types, str):
        covariance_types = (covariance_types,)
    types = list(dict.fromkeys(covariance_types))
    if not types:
        raise ValueError(f"covariance_types is empty: give some of {list(COVARIANCE_TYPES)}.")
    for ctype in types:
        check_em_covariance_type(ctype)
    return types


def _log_lik_and_entropy(X, params, covariance_type, chunk_size):
    """Total log-likelihood, total entropy ``-sum_nk r_nk log r_nk`` of the responsibilities
    and ``-sum_n log max_k r_nk`` (mclust's hard-assignment term), in one chunked pass.
    Padded components have ``r = 0`` and ``log r = -inf``: they count 0."""
    def chunk_fn(i, X_chunk, w_chunk):
        del i, w_chunk
        log_prob, log_resp = density.log_prob_and_responsibilities(X_chunk, params,
                                                                    covariance_type)
        resp = jnp.exp(log_resp)
        return (jnp.sum(log_prob), -jnp.sum(jnp.where(resp > 0, resp * log_resp, 0.0)),
                -jnp.sum(jnp.max(log_resp, axis=-1)))
    return stats.reduce_chunks(chunk_fn, X, None, chunk_size)


@functools.partial(jax.jit, static_argnames=(
    "max_components", "covariance_type", "init_params", "chunk_size", "k_batch_size",
    "restart_batch_size", "max_iter_capacity", "n_init_capacity"))
def _sweep_one_type(key, X, grid, tol, reg_covar, max_iter, n_init, init_labels=None,
                    kmeans_centers=None, structure=None, *, max_components, covariance_type,
                    init_params, chunk_size, k_batch_size, restart_batch_size,
                    max_iter_capacity, n_init_capacity):
    # Runs at trace time only. With a structure, the full family fits scikit-learn's type of
    # that number: the program that the four types share on small data (em.shares_program).
    TRACE_COUNTS["shared" if structure is not None else covariance_type] += 1

    # Every K uses the same key, so each row equals fit_em(key, X, n_components=K, ...).
    def fit_k(args):
        n_active, labels, centers = args
        user_init = (None, None, None)
        if labels is not None:  # init_params="hc": one M-step from mclust's partition
            centre = jnp.mean(X, axis=0)
            start = init.from_partition(X - centre, labels, max_components, covariance_type,
                                        reg_covar=reg_covar, n_active=n_active,
                                        structure=structure)
            user_init = (start.weights, start.means + centre, start.precisions_cholesky)
        result = em.fit_restarts(
            key, X, None, *user_init, tol, reg_covar, n_active,
            n_components=max_components, covariance_type=covariance_type, max_iter=max_iter,
            n_init=n_init, init_params=init_params, chunk_size=chunk_size,
            kmeans_centers=centers, structure=structure,
            restart_batch_size=restart_batch_size, has_init=labels is not None,
            max_iter_capacity=max_iter_capacity, n_init_capacity=n_init_capacity)
        # Evaluate around the data mean, as the fit itself does, for float32's sake.
        centre = jnp.mean(X, axis=0)
        centred = result.params._replace(means=result.params.means - centre)
        log_lik, entropy, hard = _log_lik_and_entropy(X - centre, centred, covariance_type,
                                                      chunk_size)
        return result, log_lik, entropy, hard

    return em.batched_map(fit_k, (grid, init_labels, kmeans_centers), k_batch_size)


@functools.partial(jax.jit, static_argnames=("max_components", "chunk_size", "n_init_capacity"))
def _sweep_kmeans(key, X, grid, n_init, *, max_components, chunk_size, n_init_capacity):
    """Every K's k-means centres, shape (len(grid), n_init_capacity, max_components, d): run
    once and shared by the programs of all covariance types (k-means does not depend on the
    type; it was about half of each restart's time on N = 1e5, d = 8)."""
    return lax.map(lambda n_active: em.kmeans_starts(
        key, X, None, n_init, n_active, n_components=max_components, chunk_size=chunk_size,
        n_init_capacity=n_init_capacity), grid)


def bic_sweep(key, X, *, n_components=range(1, 10), covariance_types=COVARIANCE_TYPES,
              n_init=1, criterion="bic", tol=1e-3, reg_covar=1e-6, max_iter=100,
              init_params="kmeans", chunk_size=None, k_batch_size=DEFAULT_K_BATCH_SIZE,
              restart_batch_size=DEFAULT_RESTART_BATCH_SIZE, progress=None):
    """Fit a grid of mixtures by EM and score them by BIC, AIC and ICL.

    Lower is better for every criterion (scikit-learn's convention):

    - ``BIC = -2 log L + p log N``
    - ``AIC = -2 log L + 2 p``
    - ``ICL = BIC + 2 EN``, with ``EN = -sum_n sum_k r_nk log r_nk`` the entropy of the
      responsibilities (Biernacki, Celeux & Govaert 2000): BIC penalised for overlapping
      clusters.
    - ``ICL_hard = BIC - 2 sum_n log max_k r_nk``: mclust's ``icl``, the complete-data
      log-likelihood of the MAP assignments (column ``icl_hard``).

    ``log L`` is the log-likelihood at the fitted parameters and ``p`` the number of free
    parameters of the K active components. R's mclust reports ``-BIC`` (higher is better);
    negate these values to compare.

    Each covariance type is one compiled program that fits every K of the grid (padded to the
    largest K; on large data up to three, see :func:`k_groups`), and on small data
    scikit-learn's four types share one (:func:`bayesgmm.em.shares_program`). Every row uses the
    same ``key``: row (type, K) equals ``fit_em(key, X, n_components=K, covariance_type=type,
    n_init=n_init, ...)``.

    Parameters
    ----------
    key : jax.random key
    X : array, shape (N, d)
    n_components : int or iterable of int, default range(1, 10)
    covariance_types : str or sequence of str
        scikit-learn's ``"full"``, ``"tied"``, ``"diag"``, ``"spherical"`` and mclust's
        models (:data:`bayesgmm.MCLUST_MODELS`, and ``"E"``, ``"V"`` for 1-D data).
    n_init : int, default 1
        EM restarts per model; the best lower bound wins.
    criterion : {"bic", "aic", "icl", "icl_hard"}, default "bic"
        The criterion that picks ``best_index``.
    tol, reg_covar, max_iter, init_params, chunk_size
        As :func:`bayesgmm.fit_em` (``chunk_size`` default for the largest K; ``tol="mclust"``
        stops by mclust's rule). ``init_params="hc"``: mclust's start, one hierarchical
        clustering (:mod:`bayesgmm.hc`) cut at every K, one EM run from each cut
        (``n_init`` is then 1).
    k_batch_size, restart_batch_size : int, default 1
        How many K values / restarts run at once under ``vmap``; the batches run one after
        another. 1 (sequential) measured fastest on CPU (see ``DEFAULT_K_BATCH_SIZE``).

    progress : callable, optional
        Called with one line of text as each covariance type is done (its best K and its
        time), e.g. ``print``.

    Returns
    -------
    SweepResult

    Raises
    ------
    ValueError
        For bad arguments, or when no model of the grid could be fitted (scikit-learn's
        advice to increase ``reg_covar`` or scale the data). A single failed model shows as
        NaN criteria in its row and is never chosen.
    TypeError
        For complex or non-numeric data (:func:`bayesgmm.validation.check_array`) or a
        non-iterable ``n_components``.
    """
    X = check_data(X, caller="bic_sweep")
    n_samples, n_features = X.shape
    grid = _check_grid(n_components, n_samples)
    types = _check_types(covariance_types)
    criterion = _check_criterion(criterion)
    n_init, max_iter = check_int("n_init", n_init), check_int("max_iter", max_iter, low=0)
    k_batch_size = check_int("k_batch_size", k_batch_size)
    restart_batch_size = check_int("restart_batch_size", restart_batch_size)
    tol, reg_covar = check_tol(tol), check_real("reg_covar", reg_covar)
    check_choice("init_params", init_params, INIT_METHODS + HOST_INIT_METHODS)
    max_components = grid[-1]
    init_labels = None
    if init_params == "hc":
        # One hierarchical clustering for every K and type, as mclust; EM then starts once
        # from its partition (n_init restarts would repeat the same start).
        init_labels = jnp.asarray(hc.initial_partitions(np.asarray(X), grid), jnp.int32)
        n_init = 1
    def chunk_for(covariance_type):
        size = (stats.default_chunk_size(n_samples, max_components, n_features, X.dtype,
                                         covariance_type) if chunk_size is None else chunk_size)
        return int(min(size, n_samples))

    dtype = X.dtype
    restart_batch_size = min(restart_batch_size, n_init)
    settings = (np.asarray(tol, dtype), np.asarray(reg_covar, dtype), max_iter, n_init)
    capacities = em.bucketed_capacities(max_iter, n_init)

    start = time.perf_counter()
    groups = k_groups(grid, n_samples, n_features)

    def kmeans_centers(group):
        return _sweep_kmeans(key, X, np.asarray(group, np.int32), n_init,
                             max_components=group[-1], chunk_size=chunk_for("full"),
                             n_init_capacity=capacities["n_init_capacity"])

    def fit_group(ctype, group, centers_task):
        labels = (None if init_labels is None
                  else init_labels[grid.index(group[0]):grid.index(group[-1]) + 1])
        args = (key, X, np.asarray(group, np.int32), *settings, labels)
        shared = em.shares_program(ctype, n_samples, group[-1], n_features)
        program_type = "full" if shared else ctype
        structure = np.int32(STRUCTURES[ctype]) if shared else None
        statics = dict(max_components=group[-1], covariance_type=program_type,
                       init_params=init_params, chunk_size=chunk_for(program_type),
                       k_batch_size=min(k_batch_size, len(group)),
                       restart_batch_size=restart_batch_size, **capacities)
        if centers_task is not None and not centers_task.done():
            # Compile this program while k-means is compiled and run in another thread: the
            # call below then finds it (jit shares its compiled programs with .compile()).
            abstract = jax.ShapeDtypeStruct(
                (len(group), capacities["n_init_capacity"], group[-1], n_features), X.dtype)
            _sweep_one_type.trace(*args, abstract, structure=structure,
                                  **statics).lower().compile()
        centers = None if centers_task is None else centers_task.result()
        result, log_lik, entropy, hard = _sweep_one_type(*args, centers, structure=structure,
                                                         **statics)
        result = jax.tree.map(np.asarray, result)
        params = _pad_components(result.params, max_components, program_type)
        if shared:
            params = params._replace(
                precisions_cholesky=from_full_storage(params.precisions_cholesky, ctype))
        result = result._replace(lower_bounds=result.lower_bounds[:, :max(max_iter, 1)],
                                 restart_lower_bounds=result.restart_lower_bounds[:, :n_init],
                                 params=params)
        return result, log_lik, entropy, hard

    # The programs (k-means once per K group, then one per type and K group) are compiled and
    # run from a pool of threads: XLA compiles and runs them outside Python's lock, so on a
    # multi-core CPU a cold sweep compiles several programs at once (Old Faithful, 2 cores:
    # see benchmarks/README.md). The k-means tasks are queued first, so that a type's task
    # never waits for one that has not started.
    columns = collections.defaultdict(list)
    fits = {}
    with concurrent.futures.ThreadPoolExecutor(
            min(len(types) * len(groups), os.cpu_count() or 1)) as pool:
        centers = {group[-1]: (pool.submit(kmeans_centers, group)
                               if init_params == "kmeans" else None) for group in groups}
        pending = {ctype: [pool.submit(fit_group, ctype, group, centers[group[-1]])
                           for group in groups] for ctype in types}
        for ctype in types:
            result, log_lik, entropy, hard = jax.tree.map(
                lambda *a: np.concatenate(a), *(task.result() for task in pending[ctype]))
            fits[ctype] = result
            log_lik, entropy, hard = (np.asarray(a, np.float64) for a in (log_lik, entropy, hard))
            finite = np.isfinite(result.lower_bound) & np.isfinite(log_lik) & np.all(
                [np.all(np.isfinite(p.reshape(len(grid), -1)), axis=1) for p in result.params],
                axis=0)
            n_params = np.array([_n_parameters(k, n_features, ctype) for k in grid])
            bic = np.where(finite, -2 * log_lik + n_params * math.log(n_samples), np.nan)
            columns["covariance_type"].extend([ctype] * len(grid))
            columns["n_components"].extend(grid)
            columns["log_likelihood"].extend(np.where(finite, log_lik, np.nan))
            columns["n_parameters"].extend(n_params)
            columns["bic"].extend(bic)
            columns["aic"].extend(np.where(finite, -2 * log_lik + 2 * n_params, np.nan))
            columns["icl"].extend(bic + 2 * entropy)
            columns["icl_hard"].extend(bic + 2 * hard)
            columns["lower_bound"].extend(np.where(finite, result.lower_bound, np.nan))
            columns["converged"].extend(finite & result.converged)
            columns["n_iter"].extend(result.n_iter)
            if progress is not None:
                scores = columns[criterion][-len(grid):]
                best_k = grid[int(np.nanargmin(scores))] if np.any(np.isfinite(scores)) else None
                progress(f"EM sweep {ctype:>9}: K = {grid[0]}..{grid[-1]}, best "
                         f"{criterion.upper()} at K = {best_k}, done after "
                         f"{time.perf_counter() - start:.1f} s")
    table = {name: np.asarray(values) for name, values in columns.items()}
    scores = table[criterion]
    if not np.any(np.isfinite(scores)):
        raise em.fit_failed_error(dtype)
    best = int(np.nanargmin(scores))
    out = SweepResult(table, criterion, best, None, fits)
    best_params = out.fit_result(out.best_covariance_type, out.best_n_components).params
    return out._replace(best_params=best_params)


# ------------------------------------------------------------------------------- weights

def bic_weights(bic):
    """``exp(-BIC/2)`` normalised: a rough posterior over models under a uniform prior.

    Parameters
    ----------
    bic : array-like, shape (M,)
        NaN entries (failed fits) get weight 0.

    Returns
    -------
    ndarray, shape (M,)

    Raises
    ------
    ValueError
        When no entry is finite.
    """
    bic = np.asarray(bic, np.float64)
    finite = np.isfinite(bic)
    if not finite.any():
        raise ValueError("bic_weights needs at least one finite BIC value.")
    # The lowest BIC gets exp(0) = 1, so the sum is >= 1 and nothing underflows to 0/0.
    weights = np.exp(np.where(finite, -0.5 * (bic - np.min(bic[finite])), -np.inf))
    return weights / weights.sum()
