"""Sufficient statistics of a Gaussian mixture, computed chunk by chunk over the data.

The statistics form a monoid (``zeros``, ``add``): one EM iteration maps chunks of rows to
statistics, adds them up, and turns the sum into parameters. The same reduction serves a loop
over chunks on one device, a sample-sharded array (XLA inserts the all-reduce), and a host loop
over data too large for memory.

Second moments are taken around a per-component shift (the current means), so that float32
keeps its accuracy on data far from the origin or clusters far from each other.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from bayesgmm import linalg
from bayesgmm.covariance import FAMILIES, project
from bayesgmm.params import GMMParams


class SuffStats(NamedTuple):
    """Weighted sufficient statistics around a shift ``m`` (shape (K, d)).

    Attributes
    ----------
    n_k : array, shape (K,)
        ``sum_n w_n r_nk``.
    sum_x : array, shape (K, d)
        ``sum_n w_n r_nk (x_n - m_k)``.
    sum_xx : array
        ``sum_n w_n r_nk (x_n - m_k)(x_n - m_k)^T``, reduced to the covariance family's shape:
        (K, d, d) full, (d, d) tied (summed over k), (K, d) diag and spherical (diagonal only).
    log_lik : array, shape ()
        ``sum_n w_n log p(x_n)`` under the parameters the responsibilities came from.
    weight : array, shape ()
        ``sum_n w_n`` (the number of rows when unweighted).
    """

    n_k: jax.Array
    sum_x: jax.Array
    sum_xx: jax.Array
    log_lik: jax.Array
    weight: jax.Array


def add(a, b):
    """Sum of two statistics (the monoid operation)."""
    return jax.tree.map(jnp.add, a, b)


def _matrix_moment(family):
    """Whether the family keeps (d, d) second moments (full, tied, mclust's full storage)."""
    return family.second_moment is FAMILIES["full"].second_moment


def zeros(n_components, n_features, covariance_type, dtype):
    """The zero statistics (the monoid's identity) of K components in d dimensions."""
    family = FAMILIES[covariance_type]
    moment = (n_features, n_features) if _matrix_moment(family) else (n_features,)
    return SuffStats(jnp.zeros(n_components, dtype), jnp.zeros((n_components, n_features), dtype),
                     family.pool(jnp.zeros((n_components,) + moment, dtype)),
                     jnp.zeros((), dtype), jnp.zeros((), dtype))


def from_responsibilities(X, resp, shift, covariance_type, sample_weight=None, log_lik=0.0):
    """Statistics of one chunk of rows.

    Parameters
    ----------
    X : array, shape (N, d)
    resp : array, shape (N, K)
        Responsibilities (soft or one-hot assignments).
    shift : array, shape (K, d)
        Centre of the moments, usually the means the responsibilities were computed with.
    covariance_type : str, static
    sample_weight : array, shape (N,), optional
    log_lik : array, shape ()
        Already weighted ``sum_n w_n log p(x_n)`` of the chunk, carried along.
    """
    if sample_weight is not None:
        resp = resp * sample_weight[:, None]
        weight = jnp.sum(sample_weight)
    else:
        weight = jnp.asarray(X.shape[0], X.dtype)
    family = FAMILIES[covariance_type]
    n_components, n_features = shift.shape
    # full, tied and mclust's full-storage models share FULL's (d, d) moment.
    if _matrix_moment(family) and X.dtype == jnp.float64:
        # Every component's matrix moment from one (d + 1, N) @ (N, K d) product:
        #   sum_n r_nk (x_n - m_k)(x_n - m_k)^T = [sum_n r_nk (x_n - m_k) x_n^T] - s_k m_k^T
        # with s_k = sum_n r_nk (x_n - m_k), the product's row of ones. One factor is not
        # shifted, so the rounding error grows with |m_k| / sigma_k: float64 absorbs it (1e-14
        # at 100 sigma), float32 would not, and keeps the per-component loop below.
        # Per pass (N = 2^20, float64, 2-core Xeon): K = d = 16 460 -> 240 ms, K = 9, d = 12
        # 172 -> 134 ms, d = 8 114 -> 103 ms against that loop. This (N, K d) layout, its
        # rows contracted in the product, took 529-542 ms per EM iteration in 512-row chunks
        # and 499-531 ms in 2,048-row chunks, against 680-714 and 543-603 ms for the
        # transposed (K d, N) layout used before (N = 1e6, d = K = 16, 2-core AMD EPYC, two
        # interleaved runs).
        weighted_diff = (resp[:, :, None] * (X[:, None, :] - shift[None])).reshape(
            X.shape[0], n_components * n_features)  # (N, K d)
        with_ones = jnp.concatenate([X, jnp.ones((X.shape[0], 1), X.dtype)], axis=1)
        product = linalg.einsum("ne,nf->ef", with_ones, weighted_diff)  # (d + 1, K d)
        sum_x = product[n_features].reshape(n_components, n_features)
        n_k = resp.sum(0)
        second = (product[:n_features].T.reshape(n_components, n_features, n_features)
                  - sum_x[:, :, None] * shift[:, None, :])
    else:
        def one_component(args):
            r, m = args
            diff = X - m
            weighted_diff = r[:, None] * diff
            return weighted_diff.sum(0), family.second_moment(weighted_diff, diff)

        # One component at a time under lax.map: the (N, d) residuals stay in cache, where
        # an (N, K, d) array was 3x slower (N = 4e5, d = K = 16, 2-core CPU) and an unrolled
        # Python loop over K compiled 2x slower. A chunk whose (K, N, d) array is small takes
        # all components at once under vmap: up to 2**16 entries for every family (a small
        # data set in one chunk: XLA's CPU backend compiles lax.map's loop as a separate
        # call, and the three-fit script of benchmarks/latency.py started 3.38 -> 3.16 s,
        # medians, first run), and up to a default CPU chunk (2**20 float32 entries) for the
        # matrix moments, whose K small products gain more from one batched product than
        # they lose to the larger array: one EM iteration (float32, 2-core AMD EPYC) took
        # 0.76-0.96x lax.map's time at K = 8 to 16 (N = 1e5 to 1e6, d = 2 to 64), 1.04-1.07x
        # at K = 4 (the diagonal families, at their 32 MiB chunks, 1.18-1.53x: they keep
        # the smaller bound; results are bit for bit the same). On an accelerator lax.map's
        # iterations run one after another, each a few small kernels: there every chunk
        # takes all components at once (lax.platform_dependent lowers only the branch of the
        # platform the program is compiled for).
        def all_at_once(r, m):
            return jax.vmap(one_component)((r, m))

        def one_at_a_time(r, m):
            return lax.map(one_component, (r, m))

        at_once_max = (_cpu_chunk_bytes(family) // X.dtype.itemsize if _matrix_moment(family)
                       else 2 ** 16)
        if X.size * n_components <= at_once_max:
            sum_x, second = all_at_once(resp.T, shift)
        else:
            sum_x, second = lax.platform_dependent(resp.T, shift, cpu=one_at_a_time,
                                                   default=all_at_once)
        n_k = resp.sum(0)
    return SuffStats(n_k, sum_x, family.pool(second), jnp.asarray(log_lik, X.dtype),
                     weight)


def m_step(total, shift, covariance_type, reg_covar, component_mask=None, previous=None,
           structure=None):
    """Maximum-likelihood parameters from statistics taken around ``shift`` (shape (K, d)).

    Empty components (deliberate, documented in :class:`bayesgmm.GaussianMixture`): as
    scikit-learn, ``10 * eps`` is added to every ``n_k``, so a component that took no
    responsibility gets weight ``10 eps / (N + 10 K eps)`` (tiny but never zero: its
    log-weight stays finite), keeps its mean ``shift`` (its first moment around ``shift`` is
    zero; scikit-learn, whose moments are not shifted, moves it to the origin instead) and,
    unless tied, gets covariance ``reg_covar * I`` (its second moment is zero), so with
    ``reg_covar = 0`` the fit fails with the actionable error. It is not re-seeded.

    Parameters
    ----------
    total : SuffStats
    shift : array, shape (K, d)
    covariance_type : str, static
    reg_covar : float
    component_mask : bool array, shape (K,), optional
        Which components exist (model selection pads every K to the largest one). Inactive
        components get weight exactly zero, so the shared density gives them ``-inf`` and they
        never take responsibility; their mean stays at ``shift`` and their covariance is the
        identity (finite, never used). They add nothing to the tied covariance.
    previous : array, optional
        The ``precisions_cholesky`` EM stands at: mclust's iterative M-steps (VEI, VEE, VEV,
        EVE, VVE) start from it, so that the M-step never lowers the expected
        log-likelihood. Unused by the other families.
    structure : int array, shape (), optional
        With ``covariance_type="full"``: fit scikit-learn's type of this number instead
        (:func:`bayesgmm.covariance.project`), in the full storage.

    Returns
    -------
    GMMParams
        ``precisions_cholesky`` is NaN where a covariance is not positive definite; callers
        check finiteness once the values are concrete.
    """
    family = FAMILIES[covariance_type]
    n_k = total.n_k + 10 * jnp.finfo(total.n_k.dtype).eps
    if component_mask is None:
        divisor = n_k
    else:
        # Inactive components: zero count (exactly zero weight, and no share of the tied
        # covariance's total), but a divisor of one so that their empty statistics give a
        # finite mean and covariance rather than 0 / 0.
        n_k = jnp.where(component_mask, n_k, 0.0)
        divisor = jnp.where(component_mask, n_k, 1.0)
    mean_shift = total.sum_x / divisor[:, None]
    if family.estimate_constrained is not None:
        # mclust's models pool some quantities and divide per component others: they take
        # the counts themselves (zero on padded components) and guard their own divisions.
        covariances = family.estimate_constrained(n_k, mean_shift, total.sum_xx, reg_covar,
                                                  previous)
    else:
        # The tied family divides only by the pooled count; the others divide per component.
        estimate_counts = n_k if family.name == "tied" else divisor
        covariances = family.estimate(estimate_counts, mean_shift, total.sum_xx, reg_covar)
        if structure is not None:
            covariances = project(covariances, structure, n_k)
    if component_mask is not None and family.name != "tied":
        # Padded components get the identity: a finite factor whatever reg_covar is
        # (reg_covar * I has none at reg_covar = 0, and fit_em pads K on small data).
        identity = jnp.eye(mean_shift.shape[1], dtype=covariances.dtype)
        covariances = jnp.where(
            component_mask.reshape((-1,) + (1,) * (covariances.ndim - 1)), covariances,
            identity if covariances.ndim == 3 else 1.0)
    return GMMParams(n_k / n_k.sum(), shift + mean_shift, family.precisions_cholesky(covariances))


def reduce_chunks(chunk_fn, X, sample_weight, chunk_size):
    """Sum ``chunk_fn(index, X_chunk, weight_chunk)`` over consecutive row chunks of ``X``.

    No array larger than one chunk's worth of per-row work is formed: full chunks are read with
    ``dynamic_slice`` inside a ``fori_loop`` (no padded copy of the data), and the remainder is
    one more static slice.

    Parameters
    ----------
    chunk_fn : callable
        ``(index: int32 scalar, X_chunk (c, d), weight_chunk (c,) or None) -> pytree``.
    X : array, shape (N, d)
    sample_weight : array, shape (N,), or None
    chunk_size : int, static
    """
    n_samples = X.shape[0]
    n_full, remainder = divmod(n_samples, chunk_size)

    def chunk(start, size):
        weights = (None if sample_weight is None
                   else lax.dynamic_slice_in_dim(sample_weight, start, size))
        return lax.dynamic_slice_in_dim(X, start, size), weights

    if n_full == 1 and not remainder:  # one chunk: no loop for XLA to compile
        return chunk_fn(jnp.int32(0), *chunk(0, chunk_size))
    total = None
    if n_full:
        def body(i, acc):
            return jax.tree.map(jnp.add, acc, chunk_fn(i, *chunk(i * chunk_size, chunk_size)))
        shapes = jax.eval_shape(chunk_fn, jnp.int32(0), *chunk(0, chunk_size))
        zero = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
        total = lax.fori_loop(0, n_full, body, zero)
    if remainder:
        last = chunk_fn(jnp.int32(n_full), *chunk(n_full * chunk_size, remainder))
        total = last if total is None else jax.tree.map(jnp.add, total, last)
    return total


def _cpu_chunk_bytes(family):
    """Bytes of (rows, K, d) work in a default CPU chunk (:func:`default_chunk_size`)."""
    return (4 if _matrix_moment(family) else 32) << 20


def default_chunk_size(n_samples, n_components, n_features, dtype, covariance_type="full"):
    """Rows per chunk: a power of two of at least 256 (``n_samples`` where that is fewer).

    - On a CPU: near 4 MiB of (rows, K, d) work per chunk for the families with (d, d)
      moments (full, tied, mclust's full-storage models), 2**19 entries in float64 and 2**20
      in float32; 32 MiB for the diagonal families, whose chunks are elementwise work only.
      One EM iteration (N = 1e6, d = K = 16, medians of 11 interleaved calls, two runs,
      2-core AMD EPYC with AVX-512):

      - full, float64, at 512 / 1,024 / 2,048 / 4,096 rows: 512-535 / 516-559 / 488-518 /
        506-541 ms; float32 (then one component at a time, see below) at 512 / 2,048 /
        4,096 / 8,192 rows: 652-655 / 542-552 / 407-412 / 390-415 ms. Smaller chunks pay a
        fixed cost per chunk (a while-loop trip, and small GEMMs: XLA's (rows, 16) @ (16, 256)
        product ran at 42 GFLOP/s at 512 rows and 63 at 2,048), larger ones spill the
        caches (float64: 589 ms at 8,192 rows, 949 at 16,384, against 540 at 2,048).
      - diag, float64: 519 ms at 512 rows, 482 at 2,048, 311 at 8,192, 279 at 32,768;
        spherical, float32: 524 / 432 / 337 / 291 ms at 512 / 2,048 / 8,192 / 32,768.

      An earlier rule of 2**17 entries (512 rows here) was measured on a Xeon, where full
      fits in 512 to 2,048 rows were within 5%.
    - Where JAX's default backend is an accelerator: near 2**23 / (K d) rows. A chunk there
      is a few kernels run one after another, and small ones leave the device idle: one EM
      iteration (N = 1e6, d = K = 16, float64, an H200 GPU) took 41.7 ms in chunks of 512
      rows, 7.7 ms in 4,096, 4.2 ms in 32,768 (the size chosen) and 3.8 ms in 262,144. At
      2**23 entries a (rows, K, d) temporary takes 64 MB in float64.

    Parameters
    ----------
    n_samples, n_components, n_features : int
    dtype : dtype of the data
    covariance_type : str
        Any of bayesgmm's covariance types or mclust's models.
    """
    if jax.default_backend() == "cpu":
        entries = _cpu_chunk_bytes(FAMILIES[covariance_type]) // jnp.dtype(dtype).itemsize
    else:
        entries = 1 << 23
    rows = max(256, entries // max(1, n_components * n_features))
    return int(min(n_samples, 1 << (rows.bit_length() - 1)))
