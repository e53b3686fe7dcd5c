"""Posterior quantities of a Bayesian mixture: relabelling, responsibilities, predictive density
bands, and the number of occupied components K+.

Every function takes draws with leading ``(chain, draw)`` axes (:class:`PosteriorDraws` or its
``params``) and evaluates the mixture through :mod:`bayesgmm.density`.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from bayesgmm import density
from bayesgmm.bayes.inference import PosteriorDraws
from bayesgmm.bayes.model import component_sites
from bayesgmm.covariance import check_covariance_type
from bayesgmm.params import GMMParams
from bayesgmm.relabel import cross_entropy_costs, hungarian, permute_components, take_components
from bayesgmm.rows import map_row_blocks
from bayesgmm.validation import check_array, check_real


# ------------------------------------------------------------------------------- relabelling

def permute(draws, permutations, covariance_type):
    """Reorder the components of every draw.

    Parameters
    ----------
    draws : PosteriorDraws
    permutations : int array, shape (chain, draw, K)
        Component ``k`` of the result is component ``permutations[c, s, k]`` of draw (c, s).
    covariance_type : str

    Returns
    -------
    PosteriorDraws
        With ``params`` and the component sites of ``samples`` permuted; everything else
        unchanged.
    """
    if not isinstance(permutations, jax.Array):
        permutations = np.asarray(permutations)  # e.g. nested lists
    expected = draws.params.weights.shape
    if permutations.shape != expected:
        raise ValueError(f"permutations has shape {permutations.shape}; expected {expected} "
                         f"(chain, draw, n_components).")
    params, samples = _permuted(draws.params, draws.samples, permutations, covariance_type)
    return draws._replace(params=params, samples=samples)


@functools.partial(jax.jit, static_argnames=("covariance_type",))
def _permuted(params, samples, permutations, covariance_type):
    # One program: reordered one by one, every site compiled its own gathers in every new
    # process.
    names = component_sites(covariance_type)
    samples = {name: take_components(value, permutations) if name in names else value
               for name, value in samples.items()}
    return permute_components(params, permutations, covariance_type), samples


def highest_density_draw(draws):
    """The draw with the highest unnormalised log posterior density (NUTS draws only).

    Returns
    -------
    GMMParams
        One set of parameters.

    Raises
    ------
    ValueError
        When ``draws`` has no ``potential_energy`` (SVI draws).
    """
    if "potential_energy" not in draws.sample_stats:
        raise ValueError("The highest-density pivot needs NUTS draws (sample_stats has no "
                         "'potential_energy'); use pivot='em' or pass a GMMParams.")
    energy = np.asarray(draws.sample_stats["potential_energy"])
    chain, draw = np.unravel_index(np.nanargmin(energy), energy.shape)
    return jax.tree.map(lambda a: a[chain, draw], draws.params)


def relabel(draws, covariance_type, *, pivot="em"):
    """Resolve label switching: relabel every draw to a pivot by Hungarian matching.

    Each draw's components are matched to the pivot's by minimising the summed
    :func:`bayesgmm.relabel.cross_entropy_costs` (:func:`bayesgmm.relabel.hungarian`), then
    reordered so that component k of every draw corresponds to component k of the pivot. Do
    this before any per-component summary (means, intervals, R-hat): raw component labels are
    arbitrary. A numerically broken draw (a non-finite cost) keeps its labels.

    Parameters
    ----------
    draws : PosteriorDraws
    covariance_type : str
    pivot : {"em", "map"} or GMMParams
        "em" (default): the EM solution stored in ``draws``; "map": the highest-density draw
        (NUTS only); or any set of parameters with the same shapes.

    Returns
    -------
    relabelled : PosteriorDraws
    permutations : ndarray of int64, shape (chain, draw, K)
        ``relabelled`` is ``permute(draws, permutations)``.
    """
    check_covariance_type(covariance_type)
    if isinstance(pivot, GMMParams):
        pivot = GMMParams(*(jnp.asarray(a, draws.params.means.dtype) for a in pivot))
        expected = tuple(a.shape[2:] for a in draws.params)
        got = tuple(a.shape for a in pivot)
        if got != expected:
            raise ValueError(f"pivot has shapes {got}; the draws have {expected}.")
    elif pivot == "em":
        pivot = draws.em_params
    elif pivot == "map":
        pivot = highest_density_draw(draws)
    else:
        raise ValueError(f"Invalid value for 'pivot': {pivot!r}; it must be 'em', 'map' or a "
                         f"GMMParams.")
    permutations = hungarian(cross_entropy_costs(draws.params, pivot, covariance_type))
    return permute(draws, permutations, covariance_type), permutations


# ------------------------------------------------------------------- per-observation summaries

class ResponsibilitySummary(NamedTuple):
    """Posterior of the component responsibilities ``p(z_n = k | x_n, theta)``.

    Attributes
    ----------
    mean : array, shape (N, K)
        Posterior mean responsibilities (they sum to one over k).
    lower, upper : array, shape (N, K)
        Equal-tailed credible interval over the draws.
    entropy : array, shape (N,)
        Entropy (nats) of the posterior mean responsibilities: 0 for a certain assignment,
        ``log K`` for a uniform one.
    """

    mean: jax.Array
    lower: jax.Array
    upper: jax.Array
    entropy: jax.Array


class DensityBand(NamedTuple):
    """Posterior predictive density at some points, with a credible band.

    Attributes
    ----------
    mean : array, shape (M,)
        Posterior predictive density ``mean_s p(x | theta_s)``.
    lower, upper : array, shape (M,)
        Equal-tailed credible band of ``p(x | theta)`` over the draws.
    log_mean : array, shape (M,)
        ``log mean``, computed stably (``logsumexp``), for scoring.
    """

    mean: jax.Array
    lower: jax.Array
    upper: jax.Array
    log_mean: jax.Array


def _flatten_draws(params):
    if isinstance(params, PosteriorDraws):
        params = params.params
    batch = params.weights.shape[:-1]
    return jax.tree.map(lambda a: a.reshape((-1,) + a.shape[len(batch):]), params)


def _row_blocks(fn, X, params, max_elements=1 << 24):
    """Apply ``fn(X_block, flat_params)`` over row blocks of X padded to one block size
    (:func:`bayesgmm.rows.map_row_blocks`), so that (draws, rows, K) never exceeds
    ``max_elements``; the outputs are concatenated along their first axis."""
    n_draws, n_components = params.weights.shape
    return map_row_blocks(lambda block: fn(block, params), X,
                          max_rows=max(1, max_elements // (n_draws * n_components)))


def check_points(X, params, *, caller):
    """Validate points at which draws are evaluated.

    Parameters
    ----------
    X : array-like, shape (n, d)
    params : GMMParams
        Draws with any leading axes; their means give ``d`` and the dtype.
    caller : str
        The function that needs the points, for messages.

    Returns
    -------
    jax.Array, shape (n, d)
        In the dtype of ``params``.
    """
    X = check_array(X, dtype=params.means.dtype, caller=caller)
    n_features = params.means.shape[-1]
    if X.shape[1] != n_features:
        raise ValueError(f"X must have shape (n, {n_features}), got {X.shape}.")
    return jnp.asarray(X)


def _quantiles(prob, dtype):
    """The quantiles ``((1 - prob) / 2, (1 + prob) / 2)`` of an equal-tailed interval."""
    prob = check_real("prob", prob, high=1, low_open=True, high_open=True)
    return jnp.asarray(((1 - prob) / 2, (1 + prob) / 2), dtype)


@functools.partial(jax.jit, static_argnames=("covariance_type",))
def _responsibility_block(X, params, quantiles, covariance_type):
    resp = jax.vmap(lambda p: density.responsibilities(X, p, covariance_type))(params)
    mean = resp.mean(axis=0)
    lower, upper = jnp.quantile(resp, quantiles, axis=0)
    entropy = -jnp.sum(jnp.where(mean > 0, mean * jnp.log(mean), 0.0), axis=-1)
    return ResponsibilitySummary(mean, lower, upper, entropy)


def responsibilities(X, draws, covariance_type, *, prob=0.95):
    """Posterior responsibilities of every observation, with credible intervals.

    Parameters
    ----------
    X : array, shape (N, d)
    draws : PosteriorDraws or GMMParams with leading (chain, draw) axes
        Relabelled draws: per-component summaries of unrelabelled draws are meaningless.
    covariance_type : str
    prob : float
        Probability mass of the equal-tailed interval.

    Returns
    -------
    ResponsibilitySummary
    """
    params = _flatten_draws(draws)
    X = check_points(X, params, caller="responsibilities")
    quantiles = _quantiles(prob, X.dtype)
    return _row_blocks(lambda x, p: _responsibility_block(x, p, quantiles, covariance_type),
                       X, params)


@functools.partial(jax.jit, static_argnames=("covariance_type",))
def _density_block(X, params, quantiles, covariance_type):
    log_prob = jax.vmap(lambda p: density.log_prob(X, p, covariance_type))(params)
    log_mean = jax.nn.logsumexp(log_prob, axis=0) - jnp.log(log_prob.shape[0])
    lower, upper = jnp.quantile(jnp.exp(log_prob), quantiles, axis=0)
    return DensityBand(jnp.exp(log_mean), lower, upper, log_mean)


def predictive_density(X, draws, covariance_type, *, prob=0.95):
    """Posterior predictive density at the points X, with a credible band.

    Parameters
    ----------
    X : array, shape (M, d)
        Evaluation points (a grid, or held-out data).
    draws : PosteriorDraws or GMMParams with leading (chain, draw) axes
        Label switching does not matter here: the mixture density is label-invariant.
    covariance_type : str
    prob : float

    Returns
    -------
    DensityBand
    """
    params = _flatten_draws(draws)
    X = check_points(X, params, caller="predictive_density")
    quantiles = _quantiles(prob, X.dtype)
    return _row_blocks(lambda x, p: _density_block(x, p, quantiles, covariance_type),
                       X, params)


# ------------------------------------------------------------------------------------- K+

@functools.partial(jax.jit, static_argnames=("covariance_type",))
def _occupied(key, X, params, covariance_type):
    n_draws, n_components = params.weights.shape

    def one(args):
        draw_key, p = args
        _, log_resp = density.log_prob_and_responsibilities(X, p, covariance_type)
        labels = jax.random.categorical(draw_key, log_resp, axis=-1)
        counts = jnp.zeros(n_components, jnp.int32).at[labels].add(1)
        return jnp.sum(counts > 0)

    return lax.map(one, (jax.random.split(key, n_draws), params))


def occupied_components(key, X, draws, covariance_type):
    """Posterior of the number of occupied components K+.

    For every draw, sample the assignment of each observation from its conditional
    ``p(z_n | x_n, theta)`` and count the distinct components used.

    Parameters
    ----------
    key : jax.random key
    X : array, shape (N, d)
    draws : PosteriorDraws or GMMParams with leading (chain, draw) axes
    covariance_type : str

    Returns
    -------
    int array, shape (chain, draw)
        K+ of every draw (label-invariant, so no relabelling is needed).
    """
    source = draws.params if isinstance(draws, PosteriorDraws) else draws
    batch = source.weights.shape[:-1]
    params = _flatten_draws(source)
    X = check_points(X, params, caller="occupied_components")
    return _occupied(key, X, params, covariance_type).reshape(batch)


@functools.partial(jax.jit, static_argnames=("n_obs", "num_draws"))
def _prior_occupied(key, concentration, concentration_prior, n_obs, num_draws):
    n_components = concentration.shape[0]
    key_alpha, key_w, key_n = jax.random.split(key, 3)
    if concentration_prior is None:
        alpha = jnp.broadcast_to(concentration, (num_draws, n_components))
    else:
        shape, rate = concentration_prior[0], concentration_prior[1]
        alpha = jax.random.gamma(key_alpha, shape, (num_draws, 1), concentration.dtype) / rate
        alpha = jnp.broadcast_to(alpha, (num_draws, n_components))
    weights = jax.random.dirichlet(key_w, alpha, dtype=concentration.dtype)
    counts = jax.random.multinomial(key_n, n_obs, weights)
    return jnp.sum(counts > 0, axis=-1)


def prior_occupied_components(key, n_obs, priors, *, num_draws=4000):
    """Prior of K+ implied by the Dirichlet concentration (and its hyperprior, if any).

    Parameters
    ----------
    key : jax.random key
    n_obs : int
        Number of observations N.
    priors : Priors
        Resolved priors (e.g. ``draws.priors``).
    num_draws : int

    Returns
    -------
    int array, shape (num_draws,)
        K+ of simulated data sets: weights from the prior, counts multinomial.
    """
    return _prior_occupied(key, priors.concentration, priors.concentration_prior, int(n_obs),
                           int(num_draws))


def kplus_probabilities(kplus, n_components):
    """Frequencies of K+ = 1, ..., n_components, shape (n_components,)."""
    counts = np.bincount(np.asarray(kplus).reshape(-1), minlength=n_components + 1)
    return counts[1:] / counts.sum()


__all__ = ["DensityBand", "ResponsibilitySummary", "check_points", "highest_density_draw",
           "kplus_probabilities", "occupied_components", "permute", "predictive_density",
           "prior_occupied_components", "relabel", "responsibilities"]
