"""Small dense linear algebra on stacks of (d, d) matrices, written with jax.numpy loops.

The Cholesky factor and the triangular inverse are loops over the d columns or rows (batched
over leading axes) rather than ``jnp.linalg.cholesky`` / ``jax.scipy.linalg.solve_triangular``:
lowering those LAPACK calls makes JAX import SciPy for its LAPACK pointers, 0.1 s in every
process, repeat runs included, where everything else is read from the compilation cache. The
covariance families (:mod:`bayesgmm.covariance`) and mclust's M-steps
(:mod:`bayesgmm.mclust_models`) factor their covariances here, in every M-step.

Every product of arrays in bayesgmm goes through :func:`matmul` and :func:`einsum`, which ask
for full precision. JAX's default lets an accelerator round float32 factors: to TensorFloat-32
(a 10-bit mantissa, about 3 significant digits) on NVIDIA GPUs since Ampere, to bfloat16
passes on TPUs. On an H200 that put float32 log-densities up to 0.98 nats away from float64's
(N = 2e5, d = 16, K = 8), against 2e-4 at full precision, as on a CPU
(``benchmarks/float32_accuracy.py``). On a CPU the setting changes nothing: the results are
the same bit for bit.
"""

import jax.numpy as jnp
from jax import lax

#: The precision of every product (see the module docstring).
PRECISION = lax.Precision.HIGHEST


def matmul(a, b):
    """``a @ b`` at full precision on every backend."""
    return jnp.matmul(a, b, precision=PRECISION)


def einsum(subscripts, *operands):
    """``jnp.einsum(subscripts, *operands)`` at full precision on every backend."""
    return jnp.einsum(subscripts, *operands, precision=PRECISION)


def cholesky(a):
    """Lower Cholesky factor of every matrix of ``a`` (shape (..., d, d)), column by column.

    A matrix that is not positive definite gets an all-NaN factor, as ``jnp.linalg.cholesky``
    gives.
    """
    a = jnp.asarray(a)
    n = a.shape[-1]
    index = jnp.arange(n)

    def column(j, chol):
        # Columns j.. of chol are still zero, so this is a[:, j] - L[:, :j] L[j, :j].
        v = a[..., :, j] - einsum("...ik,...k->...i", chol, chol[..., j, :])
        pivot = jnp.sqrt(v[..., j])[..., None]
        new = jnp.where(index > j, v / pivot, jnp.where(index == j, pivot, 0.0))
        return chol.at[..., :, j].set(new)

    chol = lax.fori_loop(0, n, column, jnp.zeros_like(a))
    positive = jnp.all(jnp.diagonal(chol, axis1=-2, axis2=-1) > 0, axis=-1)
    return jnp.where(positive[..., None, None], chol, jnp.nan)


def lower_triangular_inverse(chol):
    """``L^{-1}`` for every lower triangular matrix of ``chol`` (shape (..., d, d)), by
    forward substitution row by row."""
    chol = jnp.asarray(chol)
    n = chol.shape[-1]
    eye = jnp.eye(n, dtype=chol.dtype)

    def row(i, inverse):
        # Rows i.. of inverse are still zero: row i = (e_i - L[i, :i] inverse[:i]) / L[i, i].
        rest = einsum("...k,...kj->...j", chol[..., i, :], inverse)
        return inverse.at[..., i, :].set((eye[i] - rest) / chol[..., i, i][..., None])

    return lax.fori_loop(0, n, row, jnp.zeros_like(chol))
