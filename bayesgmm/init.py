"""Initialisation: k-means++ seeding, Lloyd's k-means, random and random-from-data starts.

Every method ends as scikit-learn's does: initial responsibilities (one-hot or random), then
one M-step. All functions are pure and keyed, and memory stays bounded by the chunk size.
"""

import math

import jax
import jax.numpy as jnp
from jax import lax

from bayesgmm import linalg, stats
from bayesgmm.validation import check_choice

INIT_METHODS = ("kmeans", "k-means++", "random", "random_from_data")
#: Initialisations computed on the host before the compiled fit (:mod:`bayesgmm.hc`), which
#: fit_em and bic_sweep accept beside :data:`INIT_METHODS`.
HOST_INIT_METHODS = ("hc",)


def _squared_distances(X, sq_norms, centers):
    """``|x_n - c_j|^2`` by the expanded form (one GEMM), clipped at zero; shape (N, J)."""
    d2 = (sq_norms[:, None] - 2.0 * linalg.matmul(X, centers.T)
          + jnp.sum(centers * centers, axis=1)[None, :])
    return jnp.maximum(d2, 0.0)


def _local_trials(n_components):
    return 2 + int(math.log(n_components))


#: Uniform draws reserved per k-means++ step (the trials of ``K`` components, ``2 + log K``,
#: fit in it up to K = e^15, about 3 million): step ``c`` reads row ``c`` of one (K, stride) draw, so the
#: draws of the first steps do not depend on K and a padded seeding repeats the unpadded one.
_TRIAL_STRIDE = 16


def kmeans_plusplus(key, X, n_components, *, sample_weight=None, n_local_trials=None,
                    n_active=None):
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007), as scikit-learn does it.

    Parameters
    ----------
    key : jax.random key
    X : array, shape (N, d)
    n_components : int, static
    sample_weight : array, shape (N,), optional
    n_local_trials : int, optional
        Candidates tried per centre; default ``2 + int(log(n_components))``.
    n_active : int array, shape (), optional
        Seed only the first ``n_active`` centres (the rest are padding, see
        :func:`initialize`), exactly as an unpadded call with ``n_components = n_active``
        and the same key would (default trial count then follows ``n_active``).

    Returns
    -------
    indices : int array, shape (K,)
        Rows of ``X`` chosen as centres; entries from ``n_active`` on are 0.

    Notes
    -----
    Every centre, the first included, is drawn by inverting the cumulative weights of the
    rows (the first in proportion to ``sample_weight``, the others to ``w_n D(x_n)^2``), all
    from one uniform draw of shape (K, stride): each random draw is a copy of the Threefry
    rounds in the compiled program, and Old Faithful's k-means program compiled in 0.44 s
    instead of 0.54 s with a key split, a Gumbel draw over all N rows and two draws per step.
    """
    n_samples = X.shape[0]
    w = jnp.ones(n_samples, X.dtype) if sample_weight is None else sample_weight
    sq_norms = jnp.sum(X * X, axis=1)
    if n_local_trials is None:
        trials = _local_trials(n_components)
        if n_active is not None:  # the trial count of an unpadded fit with n_active components
            table = jnp.array([_local_trials(k) for k in range(1, n_components + 1)], jnp.int32)
            count = table[n_active - 1]
        else:
            count = trials
    else:
        trials = count = n_local_trials
    uniforms = jax.random.uniform(key, (n_components, max(_TRIAL_STRIDE, trials)),
                                  dtype=X.dtype)[:, :trials]
    tried = jnp.arange(trials) < count

    def add_center(c, carry):
        # Step 0 draws the first centre in proportion to w (its one candidate is tried
        # against closest = inf); step c > 0 draws candidates in proportion to w D^2.
        indices, closest = carry
        cumulative = jnp.cumsum(jnp.where(c == 0, w, w * closest))
        candidates = jnp.clip(jnp.searchsorted(cumulative, uniforms[c] * cumulative[-1]), 0,
                              n_samples - 1)
        trial = jnp.minimum(closest[:, None], _squared_distances(X, sq_norms, X[candidates]))
        cost = jnp.where(tried & ((c > 0) | (jnp.arange(trials) == 0)),
                         jnp.sum(w[:, None] * trial, axis=0), jnp.inf)
        best = jnp.argmin(cost)
        # Row indices are int64 under x64: store them as int32 explicitly (a silent downcast
        # in a scatter is deprecated in JAX).
        return indices.at[c].set(candidates[best].astype(jnp.int32)), trial[:, best]

    # A traced upper bound turns the loop into a while_loop: padded centres cost nothing.
    stop = n_components if n_active is None else n_active
    indices, _ = lax.fori_loop(0, stop, add_center, (jnp.zeros(n_components, jnp.int32),
                                                     jnp.full(n_samples, jnp.inf, X.dtype)))
    return indices


def _masked_distances(X, centers, component_mask):
    d2 = _squared_distances(X, jnp.sum(X * X, 1), centers)
    # Padded centres are infinitely far away, so no row is ever assigned to them.
    return d2 if component_mask is None else jnp.where(component_mask[None, :], d2, jnp.inf)


def _component_mask(n_components, n_active):
    return None if n_active is None else jnp.arange(n_components) < n_active


def kmeans(key, X, n_components, *, sample_weight=None, max_iter=300, tol=1e-4, chunk_size,
           n_active=None):
    """Lloyd's k-means from a k-means++ seeding, with scikit-learn's stopping rule.

    Stops when the squared movement of the centres falls to ``tol`` times the mean feature
    variance, or after ``max_iter`` iterations. A cluster that empties keeps its old centre.
    With ``n_active`` (int array, shape ()), only the first ``n_active`` centres exist; the
    others never receive a row and never move.

    ``chunk_size`` is the E-step's (rows of (rows, K, d) work); k-means forms only (rows, K)
    arrays and takes ``8 d`` times as many rows per chunk, up to 32 MiB of them.

    Returns
    -------
    centers : array, shape (K, d)
    """
    # Each chunk is one iteration of an XLA while loop, which costs ~25 us on a CPU: with the
    # E-step's 1024-row chunks that overhead was most of Lloyd's time (N = 1e5, d = 8,
    # K = 5..9 x 10 restarts, 2-core CPU: 5.7 s; one 1e5-row chunk: 2.1 s).
    # The bound matters for the diagonal families, whose E-step chunks are 8 times larger.
    most = max(chunk_size, (32 << 20) // (n_components * jnp.dtype(X.dtype).itemsize))
    chunk_size = int(min(X.shape[0], chunk_size * 8 * X.shape[1], most))
    w = jnp.ones(X.shape[0], X.dtype) if sample_weight is None else sample_weight
    mean = jnp.sum(w[:, None] * X, 0) / jnp.sum(w)
    threshold = tol * jnp.mean(jnp.sum(w[:, None] * (X - mean) ** 2, 0) / jnp.sum(w))
    centers = X[kmeans_plusplus(key, X, n_components, sample_weight=sample_weight,
                                n_active=n_active)]
    mask = _component_mask(n_components, n_active)

    def assign(centers):
        def chunk_fn(i, X_chunk, w_chunk):
            del i
            d2 = _masked_distances(X_chunk, centers, mask)
            one_hot = jax.nn.one_hot(jnp.argmin(d2, axis=1), n_components, dtype=X.dtype)
            if w_chunk is not None:
                one_hot = one_hot * w_chunk[:, None]
            return one_hot.sum(0), linalg.matmul(one_hot.T, X_chunk)
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


def initial_statistics(key, X, n_components, covariance_type, *, method, chunk_size,
                       sample_weight=None, n_active=None, centers=None):
    """Statistics of the initial responsibilities, around zero: EM's first M-step turns them
    into the initial parameters (:func:`initialize`; :func:`bayesgmm.em.em_loop` makes it the
    first trip of its loop, so that a program holds one M-step).

    Parameters
    ----------
    key : jax.random key
    X : array, shape (N, d)
        Data, already centred by the caller (EM is translation-equivariant).
    n_components : int, static
    covariance_type : str, static
    method : {"kmeans", "k-means++", "random", "random_from_data"}, static
        ``kmeans``: hard labels from Lloyd's k-means. ``k-means++`` and ``random_from_data``:
        each component starts at one data point (k-means++, or drawn uniformly, or in
        proportion to ``sample_weight`` when it is given), with count one whatever the
        point's weight, so that the M-step gives it that point as mean and covariance
        ``reg_covar * I``, exactly as scikit-learn. ``random``: uniform random
        responsibilities normalised per row.
    chunk_size : int, static
    sample_weight : array, shape (N,), optional
    n_active : int array, shape (), optional
        Only the first ``n_active`` of the ``n_components`` components exist; the rest are
        padding (model selection fits every K in one program padded to the largest K) and
        get no responsibility (weight exactly zero after the M-step). ``kmeans``,
        ``k-means++`` and ``random_from_data`` then give the same statistics for the active
        components as an unpadded call with ``n_components = n_active`` and the same key;
        ``random`` draws its responsibilities at the padded shape, so it starts differently
        (equally random) from the unpadded fit.
    centers : array, shape (K, d), optional
        ``kmeans`` only: Lloyd's centres computed beforehand with this key, in the frame of
        ``X`` (:func:`bayesgmm.em.kmeans_starts`, which shares them between programs).

    Returns
    -------
    SuffStats
        Around a zero shift, shape (K, d).
    """
    check_choice("init_params", method, INIT_METHODS)
    dtype = X.dtype
    mask = _component_mask(n_components, n_active)
    if method == "kmeans":
        if centers is None:
            centers = kmeans(key, X, n_components, sample_weight=sample_weight,
                             chunk_size=chunk_size, n_active=n_active)

        def resp_fn(i, Xc):
            del i
            d2 = _masked_distances(Xc, centers, mask)
            return jax.nn.one_hot(jnp.argmin(d2, axis=1), n_components, dtype=dtype)
    elif method == "random":
        def resp_fn(i, Xc):
            u = jax.random.uniform(jax.random.fold_in(key, i), (Xc.shape[0], n_components),
                                   dtype=dtype)
            if mask is not None:
                u = jnp.where(mask[None, :], u, 0.0)
            return u / u.sum(axis=1, keepdims=True)
    else:
        if method == "k-means++":
            indices = kmeans_plusplus(key, X, n_components, sample_weight=sample_weight,
                                      n_active=n_active)
        elif sample_weight is None:  # random_from_data
            indices = jax.random.choice(key, X.shape[0], (n_components,), replace=False)
        else:  # random_from_data, rows drawn in proportion to their weight (padding: never)
            indices = jax.random.choice(key, X.shape[0], (n_components,), replace=False,
                                        p=sample_weight / jnp.sum(sample_weight))
        # One point per component, unweighted: its mean is the point and its covariance
        # reg_covar * I. (jax.random.choice without replacement takes a prefix of one
        # permutation, or of one Gumbel top-k order when weighted, so the first n_active
        # points are those an unpadded call would choose.) Padded components own no point.
        eye = jnp.eye(n_components, dtype=dtype)
        if mask is not None:
            eye = eye * mask[None, :]
        X, sample_weight, chunk_size = X[indices], None, n_components

        def resp_fn(i, Xc):
            del i, Xc
            return eye
    shift = jnp.zeros((n_components, X.shape[1]), dtype)
    return stats.reduce_chunks(
        lambda i, Xc, wc: stats.from_responsibilities(Xc, resp_fn(i, Xc), shift,
                                                      covariance_type, wc),
        X, sample_weight, chunk_size)


def initialize(key, X, n_components, covariance_type, *, method, reg_covar, chunk_size,
               sample_weight=None, n_active=None, centers=None):
    """Initial parameters: one M-step from :func:`initial_statistics` (same parameters).

    Returns
    -------
    GMMParams
    """
    total = initial_statistics(key, X, n_components, covariance_type, method=method,
                               chunk_size=chunk_size, sample_weight=sample_weight,
                               n_active=n_active, centers=centers)
    return stats.m_step(total, jnp.zeros((n_components, X.shape[1]), X.dtype),
                        covariance_type, reg_covar,
                        component_mask=_component_mask(n_components, n_active))


def from_partition(X, labels, n_components, covariance_type, *, reg_covar, n_active=None,
                   structure=None):
    """Initial parameters from hard classes: one M-step, as mclust starts EM from ``hc``.

    Parameters
    ----------
    X : array, shape (N, d)
        Data, already centred by the caller.
    labels : int array, shape (N,)
        Class of every row in ``0 .. n_active - 1``; rows labelled -1 take no part.
    n_components : int, static
    covariance_type : str, static
    reg_covar : float
    n_active : int array, shape (), optional
        As :func:`initialize`: the components from ``n_active`` on are padding.
    structure : int array, shape (), optional
        As :func:`bayesgmm.stats.m_step`.

    Returns
    -------
    GMMParams
    """
    mask = _component_mask(n_components, n_active)
    resp = jax.nn.one_hot(labels, n_components, dtype=X.dtype)
    shift = jnp.zeros((n_components, X.shape[1]), X.dtype)
    total = stats.from_responsibilities(X, resp, shift, covariance_type)
    return stats.m_step(total, shift, covariance_type, reg_covar, component_mask=mask,
                        structure=structure)
