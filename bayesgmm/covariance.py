"""The covariance families: whitening, log-determinants, estimation, parameter counts.

Shapes follow scikit-learn exactly (``K`` components, ``d`` features):

============  ====================  ============================================
type          covariances           precisions_cholesky
============  ====================  ============================================
``full``      (K, d, d)             (K, d, d), triangular ``U_k``, ``P_k = U_k U_k^T``
``tied``      (d, d)                (d, d), one factor shared by all components
``diag``      (K, d)                (K, d), ``1 / sqrt(variance)``
``spherical`` (K,)                  (K,), ``1 / sqrt(variance)``
============  ====================  ============================================

mclust's models (:data:`MCLUST_MODELS`: EII ... VVV, and E / V for one-dimensional data) are
families too, stored per component whatever their constraint: EII, VII, E, V as ``spherical``
(K,), EEI, VEI, EVI, VVI as ``diag`` (K, d), the eight others as ``full`` (K, d, d) (EEE too:
K equal copies, where ``tied`` keeps scikit-learn's single (d, d)). Their M-steps are in
:mod:`bayesgmm.mclust_models`. The scikit-learn names stay, with scikit-learn's shapes, and fit
the same models: ``spherical`` = VII, ``diag`` = VVI, ``tied`` = EEE, ``full`` = VVV.

Each family is a bundle of small pure functions chosen by a dict lookup at trace time:
``FAMILIES[covariance_type]``. The covariance type is always a static Python string. On small
data one program fits scikit-learn's four types: the full family, whose M-step projects its
covariances onto the type given as a traced number (:func:`project`, :data:`STRUCTURES`).

The precision Cholesky factor only has to be triangular with ``U U^T = P``: scikit-learn itself
stores the upper factor ``L^{-T}`` (``L`` the covariance Cholesky) when it estimates covariances
and the lower Cholesky factor of ``P`` when given ``precisions_init``. Both work everywhere here.
"""

from typing import Callable, NamedTuple

import jax.numpy as jnp
import numpy as np

from bayesgmm import linalg, mclust_models
from bayesgmm.mclust_models import MCLUST_MODELS, MCLUST_MODELS_1D
from bayesgmm.validation import check_choice

#: scikit-learn's four covariance types (the Bayesian model supports these).
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
#: Every covariance type EM fits: scikit-learn's four and mclust's models.
EM_COVARIANCE_TYPES = COVARIANCE_TYPES + MCLUST_MODELS + MCLUST_MODELS_1D
#: mclust's name of each scikit-learn type (the same model).
MCLUST_NAMES = {"spherical": "VII", "diag": "VVI", "tied": "EEE", "full": "VVV"}


class CovarianceFamily(NamedTuple):
    """The functions that make up one covariance type (see the module docstring for shapes)."""

    name: str
    #: ``(n_components, n_features) -> shape`` of the covariances and of precisions_cholesky.
    shape: Callable
    #: ``(X (N, d), means (K, d), precisions_cholesky, columns) -> (N, K, d)`` whitened
    #: residuals ``y`` with ``|y_nk|^2 = (x_n - mu_k)^T P_k (x_n - mu_k)``; with ``columns``
    #: (static) the same numbers as (K, d, N), rows last (see
    #: :func:`bayesgmm.density.component_log_prob`).
    whiten: Callable
    #: ``(precisions_cholesky, n_features) -> (K,)`` (scalar for tied): ``0.5 log det P_k``.
    log_det: Callable
    #: ``(weighted_diff (N, d), diff (N, d)) ->`` one component's second moment of the
    #: residuals ``sum_n r_n (x_n - m)(x_n - m)^T``: (d, d), or its diagonal (d,).
    second_moment: Callable
    #: ``(K, ...) per-component second moments -> this family's statistic`` (tied pools them).
    pool: Callable
    #: ``(n_k (K,), mean_shift (K, d), second_moment, reg_covar) -> covariances``.
    estimate: Callable
    #: ``covariances -> precisions_cholesky`` (NaN where a covariance is not positive definite).
    precisions_cholesky: Callable
    #: ``precisions -> precisions_cholesky`` (lower Cholesky factor of P, as scikit-learn).
    precisions_cholesky_from_precisions: Callable
    #: ``precisions_cholesky -> covariances``.
    covariances: Callable
    #: ``precisions_cholesky -> precisions``.
    precisions: Callable
    #: ``(precisions_cholesky, (K, d)) -> (K, d, d)`` lower Cholesky factors of the covariances.
    scale_tril: Callable
    #: ``(n_components, n_features) ->`` number of free covariance parameters.
    n_parameters: Callable
    #: mclust's models only: ``(n_k (K,), mean_shift (K, d), second_moment, reg_covar,
    #: previous_precisions_cholesky or None) -> covariances``; replaces ``estimate``, with
    #: ``n_k`` zero on padded components (see :func:`_mclust_estimate`).
    estimate_constrained: Callable = None


def _cov_cholesky_to_prec_cholesky(cov):
    # U = L^{-T}: upper triangular with U U^T = (L L^T)^{-1}, as scikit-learn computes it.
    return jnp.swapaxes(linalg.lower_triangular_inverse(linalg.cholesky(cov)), -1, -2)


def _matrix_precisions(prec_chol):
    return linalg.matmul(prec_chol, jnp.swapaxes(prec_chol, -1, -2))


def _matrix_covariances(prec_chol):
    # Sigma = (U U^T)^{-1} = U^{-T} U^{-1}: invert the triangular factor itself. Forming
    # P = U U^T first squares the condition number, and in float32 a covariance that EM had
    # factorised fine (reg_covar tiny next to the data's variance) then lost positive
    # definiteness: NaN covariances_ beside finite precisions_cholesky_. The factor may be
    # upper or lower triangular (see the module docstring): an upper U is inverted as the
    # transpose of the inverse of the lower U^T.
    upper = jnp.all(jnp.tril(prec_chol, -1) == 0, axis=(-2, -1))[..., None, None]
    transposed = jnp.swapaxes(prec_chol, -1, -2)
    inverse = linalg.lower_triangular_inverse(jnp.where(upper, transposed, prec_chol))
    inverse = jnp.where(upper, jnp.swapaxes(inverse, -1, -2), inverse)
    return _symmetrise(linalg.matmul(jnp.swapaxes(inverse, -1, -2), inverse))


def _symmetrise(a):
    return 0.5 * (a + jnp.swapaxes(a, -1, -2))


def _add_to_diagonal(a, value):
    d = a.shape[-1]
    return a + value * jnp.eye(d, dtype=a.dtype)


def _full_whiten(X, means, prec_chol, columns=False):
    n_components, n_features = means.shape
    # One GEMM against all factors side by side, (N, d) @ (d, K*d), then subtract mu_k U_k:
    # cheaper than an einsum over (N, K, d) residuals and exactly scikit-learn's formula.
    # With columns the same products as (K*d, d) @ (N, d)^T, the rows on the last axis.
    means_whitened = linalg.einsum("kd,kde->ke", means, prec_chol)
    if columns:
        factors = jnp.swapaxes(prec_chol, 1, 2).reshape(n_components * n_features, n_features)
        projected = linalg.einsum("fd,nd->fn", factors, X)
        return (projected.reshape(n_components, n_features, X.shape[0])
                - means_whitened[:, :, None])
    factors = jnp.transpose(prec_chol, (1, 0, 2)).reshape(n_features, n_components * n_features)
    projected = linalg.matmul(X, factors).reshape(X.shape[0], n_components, n_features)
    return projected - means_whitened


def _full_estimate(n_k, mean_shift, second_moment, reg_covar):
    cov = second_moment / n_k[:, None, None] - linalg.einsum("kd,ke->kde", mean_shift, mean_shift)
    return _add_to_diagonal(_symmetrise(cov), reg_covar)


def _matrix_scale_tril(prec_chol, shape):
    chol = linalg.cholesky(_matrix_covariances(prec_chol))
    return jnp.broadcast_to(chol, (shape[0], shape[1], shape[1]))


FULL = CovarianceFamily(
    name="full",
    shape=lambda k, d: (k, d, d),
    whiten=_full_whiten,
    log_det=lambda u, d: jnp.sum(jnp.log(jnp.diagonal(u, axis1=-2, axis2=-1)), axis=-1),
    second_moment=lambda weighted_diff, diff: linalg.matmul(weighted_diff.T, diff),
    pool=lambda second: second,
    estimate=_full_estimate,
    precisions_cholesky=_cov_cholesky_to_prec_cholesky,
    precisions_cholesky_from_precisions=linalg.cholesky,
    covariances=_matrix_covariances,
    precisions=_matrix_precisions,
    scale_tril=_matrix_scale_tril,
    n_parameters=lambda k, d: k * d * (d + 1) // 2,
)


def _tied_whiten(X, means, prec_chol, columns=False):
    if columns:
        return (linalg.einsum("de,nd->en", prec_chol, X)[None]
                - linalg.matmul(means, prec_chol)[:, :, None])
    return (linalg.matmul(X, prec_chol)[:, None, :]
            - linalg.matmul(means, prec_chol)[None, :, :])


def _tied_estimate(n_k, mean_shift, second_moment, reg_covar):
    between = linalg.einsum("k,kd,ke->de", n_k, mean_shift, mean_shift)
    return _add_to_diagonal(_symmetrise((second_moment - between) / n_k.sum()), reg_covar)


TIED = FULL._replace(
    name="tied",
    shape=lambda k, d: (d, d),
    whiten=_tied_whiten,
    pool=lambda second: second.sum(0),
    estimate=_tied_estimate,
    n_parameters=lambda k, d: d * (d + 1) // 2,
)


def _diag_whiten(X, means, prec_chol, columns=False):
    if columns:
        return (X.T[None] - means[:, :, None]) * prec_chol[:, :, None]
    return (X[:, None, :] - means[None, :, :]) * prec_chol[None, :, :]


def _diag_estimate(n_k, mean_shift, second_moment, reg_covar):
    return second_moment / n_k[:, None] - mean_shift ** 2 + reg_covar


def _diag_scale_tril(prec_chol, shape):
    return jnp.broadcast_to(1.0 / prec_chol, shape)[..., :, None] * jnp.eye(shape[1],
                                                                           dtype=prec_chol.dtype)


DIAG = CovarianceFamily(
    name="diag",
    shape=lambda k, d: (k, d),
    whiten=_diag_whiten,
    log_det=lambda p, d: jnp.sum(jnp.log(p), axis=-1),
    second_moment=lambda weighted_diff, diff: jnp.sum(weighted_diff * diff, axis=0),
    pool=lambda second: second,
    estimate=_diag_estimate,
    precisions_cholesky=lambda cov: 1.0 / jnp.sqrt(cov),
    precisions_cholesky_from_precisions=jnp.sqrt,
    covariances=lambda p: 1.0 / p ** 2,
    precisions=lambda p: p ** 2,
    scale_tril=_diag_scale_tril,
    n_parameters=lambda k, d: k * d,
)


def _spherical_whiten(X, means, prec_chol, columns=False):
    return _diag_whiten(X, means, jnp.broadcast_to(prec_chol[:, None], means.shape), columns)


def _spherical_estimate(n_k, mean_shift, second_moment, reg_covar):
    return _diag_estimate(n_k, mean_shift, second_moment, reg_covar).mean(axis=1)


SPHERICAL = DIAG._replace(
    name="spherical",
    shape=lambda k, d: (k,),
    whiten=_spherical_whiten,
    log_det=lambda p, d: d * jnp.log(p),
    estimate=_spherical_estimate,
    scale_tril=lambda p, shape: _diag_scale_tril(jnp.broadcast_to(p[:, None], shape), shape),
    n_parameters=lambda k, d: k,
)

FAMILIES = {"full": FULL, "tied": TIED, "diag": DIAG, "spherical": SPHERICAL}

#: scikit-learn's four types as :func:`project` numbers them. On small data one compiled EM
#: program fits all four: the full family, its M-step's covariances projected onto the type
#: given as a traced number (:func:`bayesgmm.em.shares_program`).
STRUCTURES = {"full": 0, "tied": 1, "diag": 2, "spherical": 3}


def project(covariances, structure, n_k):
    """Full covariances onto scikit-learn's type number ``structure`` (:data:`STRUCTURES`).

    The maximum-likelihood covariances of the constrained types are functions of the full
    ones, ``reg_covar`` included: the diagonal (diag), the mean diagonal entry (spherical),
    the count-weighted average over components (tied, each component holding the copy).
    Every candidate is computed (a few K d^2 numbers) and ``structure`` picks one.

    Parameters
    ----------
    covariances : array, shape (K, d, d)
    structure : int array, shape ()
    n_k : array, shape (K,)
        Component counts, zero on padded components (no share of the tied average).

    Returns
    -------
    array, shape (K, d, d)
    """
    eye = jnp.eye(covariances.shape[-1], dtype=covariances.dtype)
    variances = jnp.diagonal(covariances, axis1=-2, axis2=-1)
    pooled = linalg.einsum("k,kde->de", n_k / n_k.sum(), covariances)
    candidates = (covariances, jnp.broadcast_to(pooled, covariances.shape),
                  variances[..., None] * eye, jnp.mean(variances, axis=-1)[:, None, None] * eye)
    return jnp.select([structure == i for i in range(len(candidates))], candidates)


def to_full_storage(a, covariance_type, n_components, n_features):
    """One of scikit-learn's per-type arrays (``precisions_cholesky``, precisions or
    covariances) as (K, d, d) matrices: diagonal ones for diag and spherical, the tied one
    repeated K times; mclust's models by their storage. It is the storage of the program
    :func:`project` serves. NumPy in, NumPy out (host code then compiles nothing); JAX
    arrays, traced ones too, likewise."""
    xp = np if isinstance(a, np.ndarray) else jnp
    if a.ndim == 3:  # full storage
        return a
    if covariance_type == "tied":
        return xp.broadcast_to(a, (n_components, n_features, n_features))
    eye = xp.eye(n_features, dtype=a.dtype)
    return (a[:, :, None] if a.ndim == 2 else a[:, None, None]) * eye


def from_full_storage(matrices, covariance_type):
    """The inverse of :func:`to_full_storage` on matrices that have ``covariance_type``'s
    structure (precision factors, precisions or covariances, as :func:`project`'s program
    makes them): (..., K, d, d) to scikit-learn's shape for that type, any leading axes
    kept. NumPy arrays."""
    if covariance_type == "full":
        return matrices
    if covariance_type == "tied":
        return matrices[..., 0, :, :]
    if covariance_type == "diag":
        return np.diagonal(matrices, axis1=-2, axis2=-1)
    return matrices[..., 0, 0]


def _mclust_estimate(model, family):
    """The ``estimate_constrained`` of one mclust model: the components' scatter matrices
    around their new means, ``reg_covar`` added to their diagonals in proportion to ``n_k``
    (so that VVV, VVI and VII get exactly scikit-learn's ``S_k + reg_covar I``), then the
    model's M-step from :mod:`bayesgmm.mclust_models`."""
    estimator = mclust_models.ESTIMATORS[model][0]

    def estimate(n_k, mean_shift, second_moment, reg_covar, previous=None):
        if second_moment.ndim == 3:
            scatter = (second_moment - linalg.einsum("k,kd,ke->kde", n_k, mean_shift, mean_shift))
            scatter = _symmetrise(scatter) + (n_k * reg_covar)[:, None, None] * jnp.eye(
                scatter.shape[-1], dtype=scatter.dtype)
        else:
            scatter = second_moment - n_k[:, None] * mean_shift ** 2 + (n_k * reg_covar)[:, None]
        previous_cov = None if previous is None else family.covariances(previous)
        return estimator(n_k, scatter, previous_cov)
    return estimate


def _mclust_family(model):
    storage = mclust_models.ESTIMATORS[model][1]
    base = {"spherical": SPHERICAL, "diag": DIAG, "full": FULL}[storage]
    # EII, EEI, EVI and VEI need only the diagonal of the scatter: the spherical storage still
    # takes per-feature second moments (DIAG's), which EII pools itself.
    family = base._replace(
        name=model, second_moment=DIAG.second_moment if storage != "full" else
        FULL.second_moment,
        n_parameters=lambda k, d: mclust_models.n_covariance_parameters(model, k, d))
    return family._replace(estimate_constrained=_mclust_estimate(model, family))


FAMILIES.update({model: _mclust_family(model) for model in MCLUST_MODELS + MCLUST_MODELS_1D})


def n_parameters(n_components, n_features, covariance_type):
    """Free parameters of a mixture: covariances, means and the K - 1 free weights (mclust's
    ``nMclustParams`` for mclust's models)."""
    cov = FAMILIES[covariance_type].n_parameters(n_components, n_features)
    return int(cov + n_components * n_features + n_components - 1)


def model_label(covariance_type):
    """How reports and figures name a covariance type: mclust's name, with scikit-learn's
    beside it for the four scikit-learn types (``"tied"`` -> ``"EEE (tied)"``)."""
    mclust = MCLUST_NAMES.get(covariance_type)
    return covariance_type if mclust is None else f"{mclust} ({covariance_type})"


def check_covariance_type(covariance_type):
    """``covariance_type`` if it is one of :data:`COVARIANCE_TYPES`; a ValueError naming the
    valid choices otherwise."""
    return check_choice("covariance_type", covariance_type, COVARIANCE_TYPES)


def check_em_covariance_type(covariance_type):
    """``covariance_type`` if EM fits it (:data:`EM_COVARIANCE_TYPES`: scikit-learn's four or
    one of mclust's models); a ValueError naming the valid choices otherwise."""
    return check_choice("covariance_type", covariance_type, EM_COVARIANCE_TYPES)
