"""Evaluate a function over the rows of a data set in blocks of one padded size, so that memory
stays bounded and one compiled program serves every N."""

import math

import jax
import jax.numpy as jnp
import numpy as np


def block_rows(n_rows, max_rows):
    """The block size for ``n_rows`` rows: a power of two, at most ``max_rows`` (rounded down
    to a power of two) and no larger than ``n_rows`` rounded up to one."""
    cap = 1 << (max(1, int(max_rows)).bit_length() - 1)
    return min(cap, 1 << max(0, math.ceil(math.log2(max(1, n_rows)))))


def map_row_blocks(fn, X, *, max_rows):
    """Apply ``fn`` to row blocks of ``X`` padded with zero rows to one block size.

    Parameters
    ----------
    fn : callable
        ``fn(block)`` with ``block`` of shape (rows, d) returns a pytree of arrays whose
        leading axis is the block's rows; a jitted ``fn`` compiles once.
    X : ndarray or jax.Array, shape (N, d)
    max_rows : int
        Largest block (see :func:`block_rows`).

    Returns
    -------
    pytree
        ``fn``'s outputs for the N real rows, concatenated along the leading axis: NumPy
        arrays for a NumPy ``X``, JAX arrays otherwise.
    """
    xp = np if isinstance(X, np.ndarray) else jnp
    n, n_features = X.shape
    rows = block_rows(n, max_rows)
    outputs = []
    for start in range(0, n, rows):
        part = X[start:start + rows]
        if xp is np:
            padded = np.zeros((rows, n_features), X.dtype)
            padded[:part.shape[0]] = part
        else:
            padded = jnp.zeros((rows, n_features), X.dtype).at[:part.shape[0]].set(part)
        out = fn(padded)
        outputs.append(jax.tree.map(lambda a, m=part.shape[0]: xp.asarray(a)[:m], out))
    return jax.tree.map(lambda *a: xp.concatenate(a), *outputs)


__all__ = ["block_rows", "map_row_blocks"]
