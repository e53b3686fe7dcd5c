"""Exact EM over data that do not fit in memory: one pass over host chunks per iteration.

The data are a *chunk source*: a callable with no arguments that returns a fresh iterable of
NumPy arrays of shape (n_i, d) (or ``(X_i, w_i)`` pairs with sample weights of shape (n_i,)),
the rows of the data set in the same order every time it is called. :func:`npy_chunks` reads
a ``.npy`` file or a NumPy memmap, :func:`npy_dir_chunks` a folder of ``.npy`` files, and
:func:`array_chunks` an array in memory (for tests and small data).

:func:`fit_em_chunks` is EM with the statistics of :mod:`bayesgmm.stats` summed over chunks:

1. a first pass checks every chunk (shape, dtype, NaN), counts the rows, takes their mean
   (the fit works around it, for float32's sake, as :func:`bayesgmm.em.fit_em` does) and
   keeps a uniform random sample of ``init_sample_size`` rows (reservoir sampling);
2. the initialisation (:func:`bayesgmm.init.initialize`: k-means, k-means++, ...) runs on that
   sample in memory, unless initial parameters are given;
3. each EM iteration is one pass: the rows are copied into fixed-size blocks (one compiled
   shape, the last block padded with zero-weight rows), each block goes to the device and a
   jitted :func:`bayesgmm.em.e_step_statistics` turns it into statistics that are added up on
   the device; then :func:`bayesgmm.em.em_update` does the M-step and the convergence test,
   and :func:`bayesgmm.em.keep_iterating` is the same stopping rule as the compiled loop's.

With the same initial parameters the result equals the in-memory :func:`bayesgmm.em.fit_em`
(to rounding: the sums are taken in another order). Memory is O(block_rows * d + sample),
independent of N: the file readers use explicit reads into one reused buffer, never a memory
map, because mapped file pages count in the resident set size.
"""

import functools
import glob
import math
import os

import jax
import jax.numpy as jnp
import numpy as np

from bayesgmm import em, init, stats
from bayesgmm.covariance import FAMILIES, check_covariance_type
from bayesgmm.params import GMMParams
from bayesgmm.validation import check_int, check_n_samples, compute_dtype

DEFAULT_READ_ROWS = 1 << 16


# --------------------------------------------------------------------------- chunk sources

def _npy_layout(path):
    """(data offset in bytes, shape, dtype) of a .npy file, from its header alone."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran_order, dtype = read_header(f)
        offset = f.tell()
    if fortran_order and len(shape) > 1 and shape[1] > 1:
        raise ValueError(f"{path}: Fortran-ordered arrays cannot be read by rows; save the "
                         f"data in C order (np.ascontiguousarray)")
    return offset, shape, dtype


def _read_rows(path, offset, n_rows, n_features, dtype, rows):
    """Yield consecutive blocks of up to ``rows`` rows of a raw C-ordered file, read with
    ``readinto`` into one reused buffer (valid until the next block is requested)."""
    dtype = np.dtype(dtype)
    buffer = np.empty((min(rows, max(n_rows, 1)), n_features), dtype)
    with open(path, "rb", buffering=0) as f:
        f.seek(offset)
        done = 0
        while done < n_rows:
            count = min(rows, n_rows - done)
            view = buffer[:count]
            got = f.readinto(memoryview(view.reshape(-1)).cast("B"))
            if got != view.nbytes:
                raise ValueError(f"{path}: the file ended before row {done + count} of "
                                 f"{n_rows} (truncated file?)")
            done += count
            yield view


def npy_chunks(source, *, rows=DEFAULT_READ_ROWS):
    """Chunk source over a ``.npy`` file or a NumPy memmap, read ``rows`` rows at a time.

    Parameters
    ----------
    source : str, os.PathLike or numpy.memmap
        A ``.npy`` file holding a C-ordered (N, d) array, or a memmap of a C-contiguous
        (N, d) array (``np.load(path, mmap_mode="r")`` or ``np.memmap``). A memmap is read
        through its file with explicit reads, not through the mapping: mapped pages count in
        the resident memory, reads into a reused buffer do not.
    rows : int
        Rows per read.

    Returns
    -------
    callable
        ``() -> iterator`` of arrays of shape (<= rows, d); each array is a view of one
        reused buffer, valid until the next one is requested.
    """
    rows = check_int("rows", rows)
    if isinstance(source, np.memmap):
        if source.ndim != 2:
            raise ValueError(f"expected a 2-dimensional memmap (n_samples, n_features), got "
                             f"shape {source.shape}")
        if not source.flags.c_contiguous or source.filename is None:
            raise ValueError("the memmap must be a C-contiguous view of a whole file region "
                             "(not a strided slice)")
        path, offset, shape, dtype = source.filename, source.offset, source.shape, source.dtype
    else:
        path = os.fspath(source)
        offset, shape, dtype = _npy_layout(path)
        if len(shape) != 2:
            raise ValueError(f"{path}: expected a 2-dimensional array (n_samples, n_features), "
                             f"got shape {shape}")

    def chunks():
        return _read_rows(path, offset, shape[0], shape[1], dtype, rows)
    chunks.n_rows = shape[0]  # lets the progress bar of the first pass show a total
    return chunks


def npy_dir_chunks(directory, *, pattern="*.npy", rows=DEFAULT_READ_ROWS):
    """Chunk source over every ``.npy`` file of a folder, in sorted file-name order.

    Each file holds an (n_i, d) array (C order) and is read as :func:`npy_chunks` reads one.

    Raises
    ------
    ValueError
        If no file matches ``pattern``.
    """
    paths = sorted(glob.glob(os.path.join(os.fspath(directory), pattern)))
    if not paths:
        raise ValueError(f"no file matches {pattern!r} in {os.fspath(directory)!r}")
    sources = [npy_chunks(p, rows=rows) for p in paths]

    def chunks():
        for source in sources:
            yield from source()
    chunks.n_rows = sum(s.n_rows for s in sources)
    return chunks


def array_chunks(X, *, rows=DEFAULT_READ_ROWS, sample_weight=None):
    """Chunk source over an array in memory: consecutive blocks of ``rows`` rows
    (``(X_i, w_i)`` pairs when ``sample_weight`` is given)."""
    rows = check_int("rows", rows)
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"expected a 2-dimensional array (n_samples, n_features), got shape "
                         f"{X.shape}")
    weight = None if sample_weight is None else np.asarray(sample_weight)

    def chunks():
        for start in range(0, len(X), rows):
            block = X[start:start + rows]
            yield block if weight is None else (block, weight[start:start + rows])
    chunks.n_rows = len(X)
    return chunks


# --------------------------------------------------------------------------- validation

class _Checker:
    """Checks the chunks of one pass and numbers their rows for error messages."""

    def __init__(self, n_features=None, dtype=None, check_values=True):
        self.n_features, self.dtype, self.check_values = n_features, dtype, check_values
        self.index = -1
        self.rows = 0

    def __call__(self, item):
        self.index += 1
        where = f"chunk {self.index} (rows {self.rows} onwards)"
        X, w = item if isinstance(item, tuple) else (item, None)
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"{where} has shape {X.shape}; every chunk must be a "
                             f"2-dimensional array (n_rows, n_features)")
        if not np.issubdtype(X.dtype, np.floating):
            raise TypeError(f"{where} has dtype {X.dtype}; out-of-core EM reads "
                            f"floating-point data (float32 or float64): convert the data")
        if self.n_features is None:
            self.n_features = X.shape[1]
            self.dtype = compute_dtype(X.dtype)
        elif X.shape[1] != self.n_features:
            raise ValueError(f"{where} has {X.shape[1]} features, but the chunks before it "
                             f"had {self.n_features}")
        if w is not None:
            w = np.asarray(w)
            if w.shape != (X.shape[0],):
                raise ValueError(f"{where}: sample weights of shape {w.shape} for "
                                 f"{X.shape[0]} rows")
        if self.check_values:
            self._check_finite(X, where, "")
            if w is not None:
                self._check_finite(w, where, " sample weight")
                if np.any(w < 0):
                    row = self.rows + int(np.argmax(w < 0))
                    raise ValueError(f"{where}: negative sample weight at row {row}")
        self.rows += X.shape[0]
        return X, w

    def _check_finite(self, a, where, what):
        bad = ~np.isfinite(a)
        if np.any(bad):
            local = int(np.argmax(bad.reshape(len(a), -1).any(axis=1)))
            raise ValueError(f"{where}:{what} NaN or infinity at row {self.rows + local} "
                             f"(row {local} of the chunk)")


def _blocks(items, block_rows, n_features, dtype, buffers, wait):
    """Copy the rows of ``items`` into fixed-size blocks (one compiled shape for the device).

    Yields ``(X_block, w_block, n_valid)``: rows from ``n_valid`` on are padding with weight
    zero. Two host buffers alternate; before one is refilled, ``wait(slot)`` blocks until the
    device is done with what was last sent from it (on CPU, JAX may use the buffer in place).
    """
    slot, filled = 0, 0
    for X, w in items:
        start = 0
        while start < len(X):
            if filled == 0:
                wait(slot)
            Xb, wb = buffers[slot]
            take = min(block_rows - filled, len(X) - start)
            Xb[filled:filled + take] = X[start:start + take]
            wb[filled:filled + take] = 1.0 if w is None else w[start:start + take]
            filled += take
            start += take
            if filled == block_rows:
                yield slot, filled
                slot, filled = 1 - slot, 0
    if filled:
        Xb, wb = buffers[slot]
        Xb[filled:] = 0.0
        wb[filled:] = 0.0
        yield slot, filled


# --------------------------------------------------------------------------- first pass

class _Survey:
    """First pass: row count, weighted mean (float64 on the host), and a weighted uniform
    random sample of rows without replacement (Efraimidis-Spirakis reservoir: keep the rows
    with the largest ``log(u) / w``), kept in their original order."""

    def __init__(self, sample_size, seed):
        self.sample_size = sample_size
        self.rng = np.random.default_rng(seed)
        self.total = None
        self.weight = 0.0
        self.keys = np.empty(0)
        self.order = np.empty(0, np.int64)
        self.rows = None
        self.n_rows = 0

    def add(self, X, w):
        n = len(X)
        if n == 0:
            return
        w64 = np.ones(n) if w is None else np.asarray(w, np.float64)
        s = (w64 @ X.astype(np.float64, copy=False)) if w is not None else X.sum(0, np.float64)
        self.total = s if self.total is None else self.total + s
        self.weight += w64.sum()
        self.n_rows += n
        if self.sample_size == 0:
            return
        with np.errstate(divide="ignore"):
            keys = np.log(self.rng.random(n)) / w64
        order = self.n_rows - n + np.arange(n)
        if len(self.keys) == self.sample_size:
            # A full reservoir: only rows whose key beats its smallest can enter, and after
            # the first few chunks they are few (about sample_size * n / rows seen).
            enter = keys > self.keys.min()
            if not enter.any():
                return
            keys, order, X = keys[enter], order[enter], X[enter]
        keys = np.concatenate([self.keys, keys])
        order = np.concatenate([self.order, order])
        rows = X if self.rows is None else np.concatenate([self.rows, X])
        if len(keys) > self.sample_size:
            keep = np.argpartition(-keys, self.sample_size - 1)[:self.sample_size]
            keep.sort()  # original row order
            keys, order, rows = keys[keep], order[keep], rows[keep]
        if rows is X:
            rows = X.copy()  # the reader reuses its buffer
        self.keys, self.order, self.rows = keys, order, rows

    def sample(self):
        """The sampled rows, in the order they came, and their count."""
        keep = np.argsort(self.order, kind="stable")
        return self.rows[keep][np.isfinite(self.keys[keep])]


# --------------------------------------------------------------------------- the fit

@functools.lru_cache(maxsize=32)
def _block_statistics(covariance_type, chunk_size):
    """The jitted statistics of one block; cached so that a second fit does not compile."""
    def statistics(X_block, w_block, params, shift):
        return em.e_step_statistics(X_block, params, covariance_type, sample_weight=w_block,
                                    chunk_size=chunk_size, shift=shift)
    return jax.jit(statistics)


_em_update = jax.jit(em.em_update, static_argnames=("covariance_type",))
_add = jax.jit(stats.add)


_jit_initialize = jax.jit(init.initialize, static_argnames=(
    "n_components", "covariance_type", "method", "chunk_size"))


def _initialize(key, sample, shift, n_components, covariance_type, init_params, reg_covar,
                chunk_size):
    return _jit_initialize(key, jnp.asarray(sample) - shift, n_components=n_components,
                           covariance_type=covariance_type, method=init_params,
                           reg_covar=reg_covar, chunk_size=chunk_size)


def fit_em_chunks(key, chunks, *, n_components, covariance_type="full", tol=1e-3,
                  reg_covar=1e-6, max_iter=100, init_params="kmeans", weights_init=None,
                  means_init=None, precisions_init=None, precisions_cholesky_init=None,
                  init_sample_size=100_000, block_rows=None, chunk_size=None, progress=True,
                  previous_lower_bound=None):
    """Fit a Gaussian mixture by EM over data read chunk by chunk, one pass per iteration.

    Parameters
    ----------
    key : jax.random key
        Randomness of the row sample and of the initialisation.
    chunks : callable
        ``() -> iterable`` of arrays of shape (n_i, d), or of ``(X_i, w_i)`` pairs with
        non-negative frequency weights of shape (n_i,), giving the same rows in the same
        order on every call (see :func:`npy_chunks`, :func:`npy_dir_chunks`,
        :func:`array_chunks`). The chunks may have any sizes and may be views of a reused
        buffer. The fit runs in the dtype :func:`bayesgmm.validation.compute_dtype` gives
        the first chunk's: float32 for float32, otherwise float64 when x64 is enabled and
        float32 when not.
    n_components : int
    covariance_type : {"full", "tied", "diag", "spherical"}
    tol, reg_covar, max_iter : as :func:`bayesgmm.em.fit_em`
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}
        Run on a uniform random sample of ``init_sample_size`` rows (weighted by the sample
        weights) drawn in the first pass; with ``init_sample_size >= N`` it is the whole data
        in order, and the initialisation is the one :func:`bayesgmm.em.fit_em` makes.
    weights_init, means_init, precisions_init, precisions_cholesky_init : arrays, optional
        As :func:`bayesgmm.em.fit_em`; each one given replaces the initialiser's, and with
        all three given no sample is drawn.
    init_sample_size : int
    block_rows : int, optional
        Rows sent to the device at a time (one compiled shape); default about 4 million
        numbers per block (16 MiB of float32).
    chunk_size : int, optional
        Rows per chunk of the E-step inside a block, as in :func:`bayesgmm.em.fit_em`.
    progress : bool
        A progress bar (tqdm) per pass over the data.
    previous_lower_bound : float, optional
        A warm start's previous lower bound, as in :func:`bayesgmm.em.fit_em`.

    Returns
    -------
    EMResult
        ``restart_lower_bounds`` has one entry (there is one start). The lower bound is that
        of :func:`bayesgmm.em.fit_em`: the mean log-likelihood before the last M-step.

    Raises
    ------
    ValueError
        Empty input; a chunk that is not 2-dimensional, whose number of features differs
        from the first chunk's, or that holds NaN/infinity (the message names the chunk and
        the row); data that change between passes; a failed fit (scikit-learn's advice).
    TypeError
        A chunk that is not floating-point.
    """
    check_covariance_type(covariance_type)
    if not callable(chunks):
        raise TypeError("chunks must be a callable returning an iterable of (n_i, d) arrays "
                        "(e.g. npy_chunks(path)), so that every EM pass can read the data "
                        f"again; got {type(chunks).__name__}")
    n_components = check_int("n_components", n_components)
    max_iter = check_int("max_iter", max_iter, low=0)
    init_sample_size = check_int("init_sample_size", init_sample_size)
    user = dict(weights=weights_init, means=means_init, precisions=precisions_init,
                precisions_cholesky=precisions_cholesky_init)
    has_init = (weights_init is not None and means_init is not None
                and (precisions_init is not None or precisions_cholesky_init is not None))
    sample_key, init_key = jax.random.split(key)
    seed = int(jax.random.randint(sample_key, (), 0, np.iinfo(np.int32).max))

    # Pass 0: check, count, mean, sample.
    checker = _Checker()
    survey = _Survey(0 if has_init else init_sample_size, seed)
    with _progress(progress, getattr(chunks, "n_rows", None), "survey") as bar:
        for item in chunks():
            X, w = checker(item)
            survey.add(X, w)
            bar.update(len(X))
    if survey.n_rows == 0 or survey.weight <= 0:
        raise ValueError("the chunks hold no rows (or only rows of weight zero)")
    n_rows, n_features, dtype = survey.n_rows, checker.n_features, checker.dtype
    if not has_init:
        check_n_samples(survey.sample().shape[0], n_components)
    shift = jnp.asarray(survey.total / survey.weight, dtype)
    reg = jnp.asarray(reg_covar, dtype)
    if chunk_size is None:
        chunk_size = stats.default_chunk_size(n_rows, n_components, n_features, dtype,
                                              covariance_type)
    if block_rows is None:
        block_rows = max(chunk_size, (1 << 22) // n_features)
    block_rows = min(check_int("block_rows", block_rows), n_rows)
    chunk_size = int(min(chunk_size, block_rows))

    params = _initial_params(user, init_key, survey, shift, dtype, n_components,
                             covariance_type, init_params, reg, chunk_size, has_init)
    block_statistics = _block_statistics(covariance_type, chunk_size)
    buffers = [(np.empty((block_rows, n_features), dtype), np.empty(block_rows, dtype))
               for _ in range(2)]
    pending = [None, None]

    def wait(slot):
        if pending[slot] is not None:
            jax.block_until_ready(pending[slot])
            pending[slot] = None

    # A warm start's first convergence test compares against the previous fit's bound.
    lower_bound = jnp.asarray(-jnp.inf if previous_lower_bound is None
                              else previous_lower_bound, dtype)
    trace = np.full(max_iter, np.nan, dtype)
    n_iter, converged = 0, False
    tol_ = jnp.asarray(tol, dtype)
    while bool(em.keep_iterating(lower_bound, n_iter, np.bool_(converged), max_iter)):
        checker = _Checker(n_features, dtype, check_values=False)
        total = None
        with _progress(progress, n_rows, f"EM pass {n_iter + 1}") as bar:
            items = (checker(item) for item in chunks())
            for slot, n_valid in _blocks(items, block_rows, n_features, dtype, buffers, wait):
                X_block, w_block = buffers[slot]
                block_total = block_statistics(jnp.asarray(X_block), jnp.asarray(w_block),
                                               params, shift)
                pending[slot] = block_total
                total = block_total if total is None else _add(total, block_total)
                bar.update(n_valid)
        if checker.rows != n_rows:
            raise ValueError(f"the chunks gave {checker.rows} rows in EM pass {n_iter + 1} "
                             f"but {n_rows} in the first pass: the chunk source must give "
                             f"the same rows on every call")
        params, lower_bound, converged = _em_update(total, params, lower_bound,
                                                    covariance_type=covariance_type,
                                                    tol=tol_, reg_covar=reg)
        trace[n_iter] = float(lower_bound)
        n_iter += 1
        converged = bool(converged)
    pending[:] = [None, None]
    if n_iter == 0:  # no iteration, no lower bound (scikit-learn's -inf)
        lower_bound = jnp.asarray(-jnp.inf, dtype)

    params = params._replace(means=params.means + shift)
    finite = all(bool(jnp.all(jnp.isfinite(p))) for p in params)
    if not finite or math.isnan(float(lower_bound)):
        raise em.fit_failed_error(dtype)
    return em.EMResult(params, lower_bound, jnp.asarray(trace), jnp.asarray(n_iter, jnp.int32),
                       jnp.asarray(converged), jnp.asarray([lower_bound]))


def _initial_params(user, key, survey, shift, dtype, n_components, covariance_type,
                    init_params, reg, chunk_size, has_init):
    """Initial parameters in the frame centred at ``shift``: the user's, completed by
    ``init_params`` on the row sample."""
    family = FAMILIES[covariance_type]
    n_features = shift.shape[0]
    expected = {"weights": (n_components,), "means": (n_components, n_features),
                "precisions": family.shape(n_components, n_features),
                "precisions_cholesky": family.shape(n_components, n_features)}
    for name, shape in expected.items():
        if user[name] is not None and np.shape(user[name]) != shape:
            raise ValueError(f"{name}_init has shape {np.shape(user[name])}; expected {shape} "
                             f"for {n_components} components, {n_features} features and "
                             f"covariance_type={covariance_type!r}.")

    def as_dtype(a):
        return None if a is None else jnp.asarray(a, dtype)

    chol = as_dtype(user["precisions_cholesky"])
    if user["precisions"] is not None:
        chol = family.precisions_cholesky_from_precisions(as_dtype(user["precisions"]))
    means = None if user["means"] is None else as_dtype(user["means"]) - shift
    given = (as_dtype(user["weights"]), means, chol)
    if has_init:
        return GMMParams(*given)
    sample = survey.sample().astype(dtype, copy=False)
    drawn = _initialize(key, sample, shift, n_components, covariance_type, init_params, reg,
                        int(min(chunk_size, len(sample))))
    return GMMParams(*(d if g is None else g for d, g in zip(drawn, given)))


class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        pass


def _progress(enabled, total, desc):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm  # a NumPyro dependency
    return tqdm(total=total, desc=desc, unit="rows", unit_scale=True, leave=False)
