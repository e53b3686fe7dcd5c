"""Mixture parameters as a pytree, and conversions between covariance parameterisations."""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from bayesgmm import covariance


class GMMParams(NamedTuple):
    """Parameters of a Gaussian mixture with ``K`` components in ``d`` dimensions.

    Attributes
    ----------
    weights : array, shape (K,)
        Mixing proportions, non-negative, summing to one.
    means : array, shape (K, d)
        Component means.
    precisions_cholesky : array
        Cholesky factors of the precision matrices, exactly as scikit-learn's
        ``precisions_cholesky_``; the shape depends on the covariance type (see
        :mod:`bayesgmm.covariance`). The covariance type itself is never stored here: it is
        a static Python string passed alongside.
    """

    weights: jax.Array
    means: jax.Array
    precisions_cholesky: jax.Array


def check_shapes(params, covariance_type, *, name="params", n_components=None,
                 n_features=None):
    """Raise a ValueError unless ``params`` has the shapes of one mixture of
    ``covariance_type`` (K and d read from its means, or the given ``n_components`` and
    ``n_features``); ``name`` is how messages call the parameters."""
    shape = tuple(jnp.shape(params.means))
    if len(shape) != 2 or (n_components, n_features) != (None, None) and shape != (
            n_components, n_features):
        want = "(K, d)" if n_components is None else f"({n_components}, {n_features})"
        raise ValueError(f"{name}.means has shape {shape}, expected {want}: the parameters "
                         f"of one mixture.")
    k, d = shape
    if tuple(jnp.shape(params.weights)) != (k,):
        raise ValueError(f"{name}.weights has shape {tuple(jnp.shape(params.weights))}, "
                         f"expected ({k},) to match {name}.means {shape}.")
    expected = covariance.FAMILIES[covariance_type].shape(k, d)
    if tuple(jnp.shape(params.precisions_cholesky)) != expected:
        raise ValueError(f"{name}.precisions_cholesky has shape "
                         f"{tuple(jnp.shape(params.precisions_cholesky))}, but covariance_type "
                         f"{covariance_type!r} with K={k}, d={d} needs {expected}.")


def from_covariances(weights, means, covariances, covariance_type):
    """Build :class:`GMMParams` from covariances (shapes as in :mod:`bayesgmm.covariance`)."""
    family = covariance.FAMILIES[covariance_type]
    return GMMParams(jnp.asarray(weights), jnp.asarray(means),
                     family.precisions_cholesky(jnp.asarray(covariances)))


def from_precisions(weights, means, precisions, covariance_type):
    """Build :class:`GMMParams` from precision matrices (the inverse covariances)."""
    family = covariance.FAMILIES[covariance_type]
    return GMMParams(jnp.asarray(weights), jnp.asarray(means),
                     family.precisions_cholesky_from_precisions(jnp.asarray(precisions)))


def covariances(params, covariance_type):
    """Covariance matrices of ``params``; shape as in :mod:`bayesgmm.covariance`."""
    return covariance.FAMILIES[covariance_type].covariances(params.precisions_cholesky)


def precisions(params, covariance_type):
    """Precision matrices of ``params``; shape as in :mod:`bayesgmm.covariance`."""
    return covariance.FAMILIES[covariance_type].precisions(params.precisions_cholesky)


@functools.partial(jax.jit, static_argnames="covariance_type")
def precisions_and_covariances(precisions_cholesky, covariance_type):
    """Precision and covariance matrices from ``precisions_cholesky`` (any leading batch
    axes, e.g. (chain, draw)), in one compiled program: for host code (fitted attributes,
    posterior summaries), where the family's dozen operations run one by one would each
    compile a program of their own in every new process."""
    family = covariance.FAMILIES[covariance_type]
    return family.precisions(precisions_cholesky), family.covariances(precisions_cholesky)


def scale_tril(params, covariance_type):
    """Lower Cholesky factors of the covariances, shape (K, d, d) for every type.

    This is the parameterisation NumPyro's ``MultivariateNormal(scale_tril=...)`` takes.
    """
    return covariance.FAMILIES[covariance_type].scale_tril(
        params.precisions_cholesky, params.means.shape)
