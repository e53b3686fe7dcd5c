"""mclust's covariance models: the M-step of ``Sigma_k = lambda_k D_k A_k D_k^T`` under each
of mclust's 14 constraints, and mclust's parameter counts.

Names read volume, shape, orientation: ``E`` equal across components, ``V`` variable, ``I``
the identity (Banfield & Raftery 1993; Celeux & Govaert 1995). ``lambda_k`` is a scalar,
``A_k`` diagonal with ``|A_k| = 1`` and ``D_k`` orthogonal.

Every estimator here takes the scatter matrices of the components around their new means,
``W_k = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T`` (shape (K, d, d); (K, d), the diagonal only,
for the diagonal and spherical models), and the counts ``n_k = sum_n r_nk`` (shape (K,)), and
maximises ``-sum_k [n_k log|Sigma_k| + tr(Sigma_k^{-1} W_k)]`` under the model's constraint.
Components with ``n_k = 0`` are padding (model selection pads K): they add nothing to pooled
quantities and get a finite, never used covariance. Closed forms (Celeux & Govaert 1995,
table 1) for EII, VII, EEI, EVI, VVI, EEE, EEV, EVV, VVV; alternating maximisation for VEI,
VEE and VEV (Celeux & Govaert 1995, section 4.2), and Browne & McNicholas's (2014)
majorisation-minimisation for the common orientation of EVE and VVE. The iterative ones start
from the previous covariances when given and finite (so that every M-step raises the expected
log-likelihood from where EM stands; EM's first M-step, from the initial responsibilities,
passes NaN: there is no previous) and stop when the objective changes by less than
``sqrt(eps)`` relative, as mclust's inner loops (``emControl()$tol[2]``).

Pure JAX (with :mod:`bayesgmm.linalg`, the shared Cholesky factor): :mod:`bayesgmm.covariance`
assembles these estimators into covariance families.
"""

import jax.numpy as jnp
from jax import lax

from bayesgmm import linalg

#: The 14 multivariate models in mclust's order (``mclust.options("emModelNames")``).
MCLUST_MODELS = ("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE", "EEV",
                 "VEV", "EVV", "VVV")
#: mclust's names for one-dimensional data: equal and variable variance.
MCLUST_MODELS_1D = ("E", "V")

#: Upper bound on the inner iterations of an iterative M-step (mclust has none; these
#: converge in a handful of iterations once EM is under way).
MAX_INNER_ITER = 500
#: Relative change of the parameters that ends an iterative M-step in float64
#: (``sqrt(.Machine$double.eps)``, the value of mclust's ``emControl()$tol[2]``).
INNER_TOL = 1.4901161193847656e-08


def n_covariance_parameters(model, n_components, n_features):
    """Free covariance parameters of ``model`` with K components in d dimensions, exactly
    mclust's ``nVarParams``."""
    g, d = n_components, n_features
    off = d * (d - 1) // 2
    return {
        "E": 1, "V": g,
        "EII": 1, "VII": g, "EEI": d, "VEI": g + d - 1, "EVI": 1 + g * (d - 1), "VVI": g * d,
        "EEE": d * (d + 1) // 2, "VEE": g + d - 1 + off, "EVE": 1 + g * (d - 1) + off,
        "VVE": g * d + off, "EEV": d + g * off, "VEV": g + d - 1 + g * off,
        "EVV": 1 - g + g * d * (d + 1) // 2, "VVV": g * d * (d + 1) // 2,
    }[model]


def _safe(n_k):
    return jnp.where(n_k > 0, n_k, 1.0)


def _geometric_mean(values):
    return jnp.exp(jnp.mean(jnp.log(values), axis=-1))


def _det_root(matrices):
    # |S|^{1/d} through the Cholesky factor: the scatter matrices are positive definite.
    chol = linalg.cholesky(matrices)
    return jnp.exp(2.0 * jnp.mean(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1))


def _eye_like(W):
    return jnp.broadcast_to(jnp.eye(W.shape[-1], dtype=W.dtype), W.shape)


def _where_active(n_k, cov, fallback):
    active = (n_k > 0).reshape((-1,) + (1,) * (cov.ndim - 1))
    return jnp.where(active, cov, fallback)


def _finite(a):
    return jnp.all(jnp.isfinite(a))


def _iterate(step, start, dtype, measure=lambda state: state):
    """Repeat ``state = step(state)`` until ``measure(state)`` changes by at most
    ``INNER_TOL`` relative to its largest entry (float32: ``64 eps``), at most
    MAX_INNER_ITER steps; returns the last state.

    The parameters are watched rather than the objective (mclust watches the objective with
    ``sqrt(eps)``): these loops converge linearly and slowly, and in float32 the objective
    stopped changing by more than rounding while VEI's and EVE's covariances were still 1%
    away from their optimum.
    """
    tol = max(64 * float(jnp.finfo(dtype).eps), INNER_TOL)

    def cond(carry):
        _, previous, current, it = carry
        change = jnp.max(jnp.abs(current - previous))
        return (it < MAX_INNER_ITER) & (change > tol * jnp.max(jnp.abs(current)))

    def body(carry):
        state, _, current, it = carry
        state = step(state)
        return state, current, measure(state), it + 1

    first = measure(start)
    state = step(start)
    return lax.while_loop(cond, body, (state, first, measure(state), 1))[0]


# Spherical storage: (K,) variances ---------------------------------------------------------

def eii(n_k, W, previous=None):
    """EII: ``lambda I``; W (K, d) diagonals; returns (K,) variances."""
    del previous
    variance = jnp.sum(W) / (jnp.sum(n_k) * W.shape[-1])
    return jnp.broadcast_to(variance, n_k.shape)


def vii(n_k, W, previous=None):
    """VII: ``lambda_k I``; W (K, d) diagonals; returns (K,) variances."""
    del previous
    return _where_active(n_k, jnp.sum(W, -1) / (_safe(n_k) * W.shape[-1]), 1.0)


# Diagonal storage: (K, d) variances --------------------------------------------------------

def eei(n_k, W, previous=None):
    """EEI: ``lambda A``; W (K, d) diagonals; returns (K, d)."""
    del previous
    return jnp.broadcast_to(jnp.sum(W, 0) / jnp.sum(n_k), W.shape)


def vvi(n_k, W, previous=None):
    """VVI: ``lambda_k A_k``; W (K, d); returns (K, d)."""
    del previous
    return _where_active(n_k, W / _safe(n_k)[:, None], 1.0)


def evi(n_k, W, previous=None):
    """EVI: ``lambda A_k``: ``A_k = diag(W_k) / |diag(W_k)|^{1/d}``,
    ``lambda = sum_k |diag(W_k)|^{1/d} / n``."""
    del previous
    active = n_k > 0
    root = jnp.where(active, _geometric_mean(jnp.where(active[:, None], W, 1.0)), 0.0)
    shape = jnp.where(active[:, None], W / jnp.where(active, root, 1.0)[:, None], 1.0)
    return jnp.sum(root) / jnp.sum(n_k) * shape


def _volumes_and_shared_shape(n_k, diagonals):
    """``lambda_k`` (K,) and ``A`` (d,) for ``lambda_k A`` fitted to per-component diagonals
    (K, d) of the scatter (VEI: the diagonal of ``W_k``; VEV: its eigenvalues): alternating
    ``lambda_k = tr(Omega_k A^{-1}) / (d n_k)`` and ``A = sum_k Omega_k / lambda_k`` normalised
    to ``|A| = 1``. A convex problem in ``log lambda``, ``log A``: the start does not change
    the answer."""
    d = diagonals.shape[-1]
    active = n_k > 0

    def scales(shape):
        return jnp.where(active, jnp.sum(diagonals / shape, -1) / (d * _safe(n_k)), 1.0)

    def step(shape):
        pooled = jnp.sum(diagonals / scales(shape)[:, None], 0)
        return pooled / _geometric_mean(pooled)

    shape = _iterate(step, jnp.ones(d, diagonals.dtype), diagonals.dtype)
    return scales(shape), shape


def vei(n_k, W, previous=None):
    """VEI: ``lambda_k A`` (:func:`_volumes_and_shared_shape` on the diagonal of ``W_k``)."""
    del previous
    volumes, shape = _volumes_and_shared_shape(n_k, W)
    return volumes[:, None] * shape


# Full storage: (K, d, d) covariances ------------------------------------------------------

def eee(n_k, W, previous=None):
    """EEE: one covariance ``sum_k W_k / n`` for all components."""
    del previous
    return jnp.broadcast_to(jnp.sum(W, 0) / jnp.sum(n_k), W.shape)


def vvv(n_k, W, previous=None):
    """VVV: ``W_k / n_k``."""
    del previous
    return _where_active(n_k, W / _safe(n_k)[:, None, None], _eye_like(W))


def evv(n_k, W, previous=None):
    """EVV: ``lambda C_k`` with ``C_k = W_k / |W_k|^{1/d}`` and
    ``lambda = sum_k |W_k|^{1/d} / n`` (closed form)."""
    del previous
    active = n_k > 0
    safe_W = _where_active(n_k, W, _eye_like(W))
    root = jnp.where(active, _det_root(safe_W), 0.0)
    shape = safe_W / jnp.where(active, root, 1.0)[:, None, None]
    return jnp.sum(root) / jnp.sum(n_k) * shape


def _descending_eigh(W):
    values, vectors = jnp.linalg.eigh(W)
    return values[..., ::-1], vectors[..., ::-1]


def _compose(scale, vectors, shape):
    # lambda_k D_k diag(a_k) D_k^T for (K,) scales, (K, d, d) orientations, (K, d) shapes.
    return scale[:, None, None] * linalg.einsum("kij,kj,klj->kil", vectors, shape, vectors)


def eev(n_k, W, previous=None):
    """EEV: ``lambda D_k A D_k^T``: ``D_k`` the eigenvectors of ``W_k``, ``A`` the normalised
    sum of their eigenvalues (both in decreasing order), ``lambda = |sum_k Omega_k|^{1/d} / n``
    (closed form)."""
    del previous
    omega, vectors = _descending_eigh(W)
    pooled = jnp.sum(omega, 0)
    root = _geometric_mean(pooled)
    shape = jnp.broadcast_to(pooled / root, omega.shape)
    return _compose(jnp.broadcast_to(root / jnp.sum(n_k), n_k.shape), vectors, shape)


def vev(n_k, W, previous=None):
    """VEV: ``lambda_k D_k A D_k^T``: ``D_k`` the eigenvectors of ``W_k`` (eigenvalues
    ``Omega_k`` decreasing), then :func:`_volumes_and_shared_shape` on the eigenvalues."""
    del previous
    omega, vectors = _descending_eigh(W)
    volumes, shape = _volumes_and_shared_shape(n_k, omega)
    return _compose(volumes, vectors, jnp.broadcast_to(shape, omega.shape))


def vee(n_k, W, previous=None):
    """VEE: ``lambda_k C`` with ``|C| = 1``, alternating ``lambda_k = tr(W_k C^{-1}) / (d n_k)``
    and ``C = sum_k W_k / lambda_k`` normalised; starts from the previous ``C`` when given.

    Parameters
    ----------
    n_k : array, shape (K,)
    W : array, shape (K, d, d)
    previous : array, shape (K, d, d), optional
        The covariances EM stands at (component 0 gives the start of ``C``; the identity when
        absent or not finite).
    """
    d = W.shape[-1]
    active = n_k > 0
    start = jnp.eye(d, dtype=W.dtype)
    if previous is not None:
        start = jnp.where(_finite(previous[0]), previous[0], start)
    start = start / _det_root(start)

    def scales(shape):
        inverse = jnp.linalg.inv(shape)
        return jnp.where(active, linalg.einsum("kij,ji->k", W, inverse) / (d * _safe(n_k)), 1.0)

    def step(shape):
        pooled = jnp.sum(W / scales(shape)[:, None, None], 0)
        return pooled / _det_root(pooled)

    shape = _iterate(step, start, W.dtype)
    return scales(shape)[:, None, None] * shape


def _common_orientation(W, previous, diagonal_fn):
    """Browne & McNicholas's (2014) two majorisation-minimisation steps for a common
    orientation ``D`` of ``Sigma_k = D diag(s_k) D^T``, each followed by the diagonals.

    ``diagonal_fn(D) -> (K, d)`` gives the best diagonals for an orientation. Each MM step
    minimises a majoriser of ``f(D) = sum_k tr(W_k D diag(1/s_k) D^T)`` over orthogonal ``D``
    (``f`` is a concave quadratic plus a constant once ``W_k`` or ``diag(1/s_k)`` is replaced
    by its largest eigenvalue), so neither step nor the diagonal update raises the objective.
    """
    # Without (finite) previous covariances: the eigenvectors of the pooled scatter, EVE and
    # VVE's orientation when all the components' shapes are equal. With them: the
    # eigenvectors of a generic combination of them (they share their eigenvectors, and
    # distinct weights keep equal eigenvalues of one component from mixing them).
    start = jnp.sum(W, 0)
    if previous is not None:
        weights = jnp.arange(1, W.shape[0] + 1, dtype=W.dtype)
        start = jnp.where(_finite(previous), linalg.einsum("k,kij->ij", weights, previous), start)
    orientation = _descending_eigh(start)[1]
    omega = jnp.linalg.eigvalsh(W)[:, -1]

    def polar(F):
        left, _, right = jnp.linalg.svd(F)
        return linalg.matmul(left, right)

    def step(orientation):
        inverse = 1.0 / diagonal_fn(orientation)                      # (K, d)
        first = linalg.einsum("kij,jl,kl->il", W, orientation, inverse) - linalg.einsum(
            "k,il,kl->il", omega, orientation, inverse)
        orientation = polar(first)
        inverse = 1.0 / diagonal_fn(orientation)
        top = jnp.max(inverse, axis=-1)
        second = linalg.einsum("kij,jl,kl->il", W, orientation,
                               inverse - top[:, None])
        return polar(second)

    # Watch the diagonals: the orientation's columns are only defined up to sign.
    return _iterate(step, orientation, W.dtype, measure=diagonal_fn)


def _rotated_diagonals(W, orientation):
    return linalg.einsum("ji,kjl,li->ki", orientation, W, orientation)


def eve(n_k, W, previous=None):
    """EVE: ``lambda D A_k D^T``: a common orientation (MM), ``A_k`` the normalised diagonal
    of ``D^T W_k D``, ``lambda = sum_k tr(D^T W_k D A_k^{-1}) / (n d)``."""
    d = W.shape[-1]
    active = n_k > 0
    n = jnp.sum(n_k)

    def shapes(orientation):
        diag = jnp.where(active[:, None], _rotated_diagonals(W, orientation), 1.0)
        return diag / _geometric_mean(diag)[:, None]

    orientation = _common_orientation(W, previous, shapes)
    shape = shapes(orientation)
    lam = jnp.sum(_rotated_diagonals(W, orientation) / shape) / (n * d)
    return _compose(jnp.broadcast_to(lam, n_k.shape),
                    jnp.broadcast_to(orientation, W.shape), shape)


def vve(n_k, W, previous=None):
    """VVE: ``D diag(s_k) D^T`` with a common orientation (MM) and ``s_k`` the diagonal of
    ``D^T W_k D / n_k`` (``lambda_k A_k`` together)."""
    active = n_k > 0

    def diagonals(orientation):
        return jnp.where(active[:, None],
                         _rotated_diagonals(W, orientation) / _safe(n_k)[:, None], 1.0)

    orientation = _common_orientation(W, previous, diagonals)
    return _compose(jnp.ones_like(n_k), jnp.broadcast_to(orientation, W.shape),
                    diagonals(orientation))


#: Estimator and storage of every model: "spherical" (K,), "diag" (K, d) or "full" (K, d, d).
ESTIMATORS = {
    "E": (eii, "spherical"), "V": (vii, "spherical"),
    "EII": (eii, "spherical"), "VII": (vii, "spherical"),
    "EEI": (eei, "diag"), "VEI": (vei, "diag"), "EVI": (evi, "diag"), "VVI": (vvi, "diag"),
    "EEE": (eee, "full"), "VEE": (vee, "full"), "EVE": (eve, "full"), "VVE": (vve, "full"),
    "EEV": (eev, "full"), "VEV": (vev, "full"), "EVV": (evv, "full"), "VVV": (vvv, "full"),
}
#: Models whose M-step iterates.
ITERATIVE = ("VEI", "VEE", "VEV", "EVE", "VVE")
