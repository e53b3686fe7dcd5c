"""The Bayesian Gaussian mixture as a NumPyro model; the likelihood is :mod:`bayesgmm.density`.

Generative model for ``K`` components in ``d`` dimensions (``N`` observations, the component
assignments summed out)::

    alpha        ~ Gamma(shape, rate)                      (optional hyperprior; symmetric)
    g_k          ~ Gamma(alpha_k, 1),  weights = g / sum(g)   (so weights ~ Dirichlet(alpha))
    means_k      ~ Normal(mean_loc, mean_scale)            per feature
    scales       ~ LogNormal(log(scale_median), scale_log_sd)
    corr_chol_k  ~ LKJCholesky(d, lkj_concentration)       (full and tied only)
    x_n          ~ sum_k weights_k N(means_k, Sigma_k)      via density.log_prob

Covariance by type (site shapes): ``full`` scales (K, d) and corr_cholesky (K, d, d) with
``Sigma_k = diag(s_k) C_k C_k^T diag(s_k)``; ``tied`` scales (d,) and corr_cholesky (d, d);
``diag`` scales (K, d), ``Sigma_k = diag(s_k^2)``; ``spherical`` scales (K,),
``Sigma_k = s_k^2 I``. One-dimensional data have no ``corr_cholesky`` site.

Weight parameterisation. The weights are normalised Gamma variables rather than a Dirichlet site
with NumPyro's stick-breaking transform. NUTS then moves in ``u_k = log g_k``, where the prior
density ``exp(alpha_k u_k - e^{u_k})`` is log-concave for every ``alpha_k > 0``: an almost empty
component of a sparse (``alpha << 1``) mixture sits in a long exponential tail instead of the
funnel the stick-breaking logits produce. The overall scale ``sum(g) ~ Gamma(sum(alpha), 1)``
does not enter the likelihood and is sampled from its prior.

Priors scaled to the data (:func:`resolve_priors`), after Richardson and Green (1997): means
centred at the data mean with a prior standard deviation of the data range per feature;
component scales with a median of the data standard deviation and a log-scale standard deviation
of 2 (95% of the prior mass between ~1/50 and ~50 times the data standard deviation); LKJ
concentration 2 (mildly favours weak correlations); Dirichlet concentration 1 (uniform on the
simplex). Each of these can be overridden through :class:`Priors`.
"""

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax import lax
from jax.scipy.linalg import solve_triangular
from numpyro.distributions import constraints

from bayesgmm import density
from bayesgmm.covariance import FAMILIES, check_covariance_type
from bayesgmm.params import GMMParams

#: Name of the observation site (per-observation log-likelihoods and predictions live there).
OBS_SITE = "obs"


class Priors(NamedTuple):
    """Hyperparameters of the model; ``None`` fields are scaled to the data by
    :func:`resolve_priors`.

    Attributes
    ----------
    concentration : float or array, shape (K,)
        Dirichlet concentration ``alpha`` of the weights. A scalar gives the symmetric
        Dirichlet; values well below 1 give a sparse ("overfitted") mixture whose surplus
        components empty out. Ignored when ``concentration_prior`` is given.
    concentration_prior : (float, float), optional
        ``(shape, rate)`` of a Gamma hyperprior on a symmetric concentration; the sampled value
        is the site ``"concentration"``.
    mean_loc : array, shape (d,), optional
        Prior mean of the component means. Default: the data mean.
    mean_scale : float or array, shape (d,), optional
        Prior standard deviation of the component means. Default: the data range per feature.
    scale_median : float or array, shape (d,), optional
        Prior median of the component standard deviations. Default: the data standard
        deviation per feature (for ``spherical``, their geometric mean).
    scale_log_sd : float
        Standard deviation of the log component standard deviations (default 2).
    lkj_concentration : float
        LKJ concentration of the correlations (full and tied; default 2, 1 is uniform).
    """

    concentration: object = 1.0
    concentration_prior: object = None
    mean_loc: object = None
    mean_scale: object = None
    scale_median: object = None
    scale_log_sd: object = 2.0
    lkj_concentration: object = 2.0


def resolve_priors(X, n_components, covariance_type, priors=None):
    """Fill the data-scaled defaults of ``priors`` and convert every field to X's dtype.

    Parameters
    ----------
    X : array, shape (N, d)
        Concrete data (not traced).
    n_components : int
    covariance_type : {"full", "tied", "diag", "spherical"}
    priors : Priors, optional

    Returns
    -------
    Priors
        Every field an array: concentration (K,), concentration_prior (2,) or None,
        mean_loc (d,), mean_scale (d,), scale_median (d,) (``()`` for spherical),
        scale_log_sd (), lkj_concentration ().

    Raises
    ------
    TypeError
        When ``priors`` is not a :class:`Priors`.
    ValueError
        When a field has the wrong shape or is not finite and positive where it must be.
    """
    check_covariance_type(covariance_type)
    if priors is None:
        priors = Priors()
    if not isinstance(priors, Priors):
        raise TypeError(f"priors must be a bayesgmm.bayes.Priors, got {type(priors).__name__}.")
    X = np.asarray(X)
    dtype, n_features = X.dtype, X.shape[1]
    spread = X.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    data_range = np.ptp(X, axis=0)
    data_range = np.where(data_range > 0, data_range, spread)

    def field(name, value, shape, default, positive=True):
        value = default if value is None else value
        array = np.asarray(value, dtype=np.float64)
        try:
            array = np.broadcast_to(array, shape)
        except ValueError:
            raise ValueError(f"Priors.{name} has shape {np.shape(value)}, which does not "
                             f"broadcast to {shape}.") from None
        if not np.all(np.isfinite(array)) or (positive and np.any(array <= 0)):
            raise ValueError(f"Priors.{name} must be finite{' and positive' if positive else ''}"
                             f", got {value!r}.")
        # device_put: jnp.asarray compiles a conversion per shape in every new process.
        return jax.device_put(array.astype(dtype))

    hyper = None
    if priors.concentration_prior is not None:
        if np.shape(priors.concentration_prior) != (2,):
            raise ValueError(f"Priors.concentration_prior has shape "
                             f"{np.shape(priors.concentration_prior)}; it must be (shape, rate) "
                             f"of a Gamma distribution.")
        hyper = field("concentration_prior", priors.concentration_prior, (2,), None)
    median_default = (np.exp(np.mean(np.log(spread))) if covariance_type == "spherical"
                      else spread)
    return Priors(
        concentration=field("concentration", priors.concentration, (n_components,), None),
        concentration_prior=hyper,
        mean_loc=field("mean_loc", priors.mean_loc, (n_features,), X.mean(axis=0),
                       positive=False),
        mean_scale=field("mean_scale", priors.mean_scale, (n_features,), data_range),
        scale_median=field("scale_median", priors.scale_median,
                           () if covariance_type == "spherical" else (n_features,),
                           median_default),
        scale_log_sd=field("scale_log_sd", priors.scale_log_sd, (), None),
        lkj_concentration=field("lkj_concentration", priors.lkj_concentration, (), None),
    )


class GaussianMixtureLikelihood(dist.Distribution):
    """The mixture density of one observation, as a NumPyro distribution.

    ``log_prob`` is :func:`bayesgmm.density.log_prob` and ``sample`` is
    :func:`bayesgmm.density.sample`: NUTS, SVI, ``Predictive`` and per-observation
    log-likelihoods all evaluate the same code as EM.

    Parameters
    ----------
    params : GMMParams
        One set of parameters (no batch dimensions).
    covariance_type : {"full", "tied", "diag", "spherical"}, static

    Notes
    -----
    ``batch_shape`` is ``()`` and ``event_shape`` is ``(d,)``; use it inside a plate over the
    observations. ``log_prob`` of a value of shape ``(..., d)`` has shape ``(...)``.
    """

    arg_constraints = {}
    support = constraints.real_vector
    pytree_data_fields = ("params",)
    pytree_aux_fields = ("covariance_type",)

    def __init__(self, params, covariance_type, *, validate_args=None):
        self.params = params
        self.covariance_type = covariance_type
        super().__init__(batch_shape=(), event_shape=jnp.shape(params.means)[-1:],
                         validate_args=validate_args)

    def log_prob(self, value):
        value = jnp.asarray(value)
        n_features = self.event_shape[0]
        flat = jnp.reshape(value, (-1, n_features))
        log_prob = density.log_prob(flat, self.params, self.covariance_type)
        return jnp.reshape(log_prob, value.shape[:-1])

    def sample(self, key, sample_shape=()):
        n_samples = math.prod(sample_shape)
        X, _ = density.sample(key, self.params, self.covariance_type, n_samples)
        return jnp.reshape(X, tuple(sample_shape) + self.event_shape)


def _eye_like(a):
    return jnp.broadcast_to(jnp.eye(a.shape[-1], dtype=a.dtype), a.shape)


def params_from_sites(sites, covariance_type):
    """Turn the model's latent sites into :class:`GMMParams` (precision Cholesky layout).

    Parameters
    ----------
    sites : dict
        ``"weights"`` or ``"weight_gammas"`` (K,), ``"means"`` (K, d), ``"scales"`` and,
        for full/tied with d > 1, ``"corr_cholesky"``; shapes as in the module docstring,
        with any leading batch dimensions.
    covariance_type : str, static

    Returns
    -------
    GMMParams
        With the same leading batch dimensions. For full and tied the factor is the upper
        triangular ``U = L^{-T}`` of the covariance Cholesky ``L``, as scikit-learn stores it.
    """
    if "weights" in sites:
        weights = sites["weights"]
    else:
        gammas = sites["weight_gammas"]
        weights = gammas / jnp.sum(gammas, axis=-1, keepdims=True)
    means = sites["means"]
    scales = sites["scales"]
    if covariance_type in ("full", "tied"):
        # One-dimensional data have no correlations (and no corr_cholesky site).
        corr = sites.get("corr_cholesky", jnp.ones(scales.shape + (1,), scales.dtype))
        scale_tril = scales[..., :, None] * corr
        inverse = solve_triangular(scale_tril, _eye_like(scale_tril), lower=True)
        precisions_cholesky = jnp.swapaxes(inverse, -1, -2)
    else:
        precisions_cholesky = 1.0 / scales
    return GMMParams(weights, means, precisions_cholesky)


def sites_from_params(params, covariance_type, priors, *, ordered_means=False):
    """The inverse of :func:`params_from_sites`: latent site values that give ``params``.

    Used to start NUTS chains and SVI at an EM solution.

    Parameters
    ----------
    params : GMMParams
        One set of parameters (no batch dimensions).
    covariance_type : str
    priors : Priors
        Resolved priors; the Gamma variables are scaled to sum to ``sum(concentration)``
        (their prior mean), and the hyperprior site, if any, starts at its prior mean.
    ordered_means : bool
        Sort the components by their (one-dimensional) means, as the ordered model requires.

    Returns
    -------
    dict of site name to array
    """
    if ordered_means:
        order = jnp.argsort(params.means[:, 0])
        pc = params.precisions_cholesky
        params = GMMParams(params.weights[order], params.means[order],
                           pc if covariance_type == "tied" else pc[order])
    dtype = params.means.dtype
    sites = {}
    if priors.concentration_prior is not None:
        shape, rate = priors.concentration_prior[0], priors.concentration_prior[1]
        sites["concentration"] = jnp.asarray(shape / rate, dtype)
        total = params.weights.shape[0] * shape / rate
    else:
        total = jnp.sum(priors.concentration)
    sites["weight_gammas"] = jnp.asarray(params.weights * total, dtype)
    sites["means"] = params.means[:, 0] if ordered_means else params.means
    family = FAMILIES[covariance_type]
    if covariance_type in ("full", "tied"):
        chol = jnp.linalg.cholesky(family.covariances(params.precisions_cholesky))
        scales = jnp.sqrt(jnp.sum(chol * chol, axis=-1))
        sites["scales"] = scales
        if params.means.shape[-1] > 1:
            sites["corr_cholesky"] = chol / scales[..., :, None]
    else:
        sites["scales"] = 1.0 / params.precisions_cholesky
    return sites


def component_sites(covariance_type):
    """Names of the latent sites (and deterministics) whose leading event axis is the
    component axis, i.e. the ones a relabelling permutes."""
    shared = covariance_type == "tied"
    names = ("weight_gammas", "weights", "means")
    return names if shared else names + ("scales", "corr_cholesky")


def gmm_model(X=None, priors=None, *, n_components, covariance_type="full", n_obs=None,
              ordered_means=False, subsample_size=None):
    """NumPyro model of a Gaussian mixture with the assignments summed out.

    Parameters
    ----------
    X : array, shape (N, d), optional
        Observed data; ``None`` samples ``n_obs`` observations (prior or posterior predictive).
    priors : Priors
        Resolved priors (:func:`resolve_priors`); every field an array.
    n_components : int, static
    covariance_type : {"full", "tied", "diag", "spherical"}, static
    n_obs : int, optional, static
        Number of observations when ``X`` is None.
    ordered_means : bool, static
        Constrain the means to increase (one-dimensional data only): removes label switching
        for d = 1. The prior is then the iid Normal prior restricted to ordered vectors.
    subsample_size : int, optional, static
        Evaluate the likelihood on a random subset of this many rows of X (drawn anew at
        every evaluation, without replacement) scaled by ``N / subsample_size``: an unbiased
        estimate of the full log-likelihood, for stochastic-gradient SVI on large N. Ignored
        when X is None.

    Sites
    -----
    ``concentration`` () (with a hyperprior), ``weight_gammas`` (K,), ``weights`` (K,)
    (deterministic), ``means`` (K, d) (or (K,) when ordered), ``scales``, ``corr_cholesky``
    (shapes in the module docstring), ``obs`` (N, d).
    """
    if priors is None or priors.mean_loc is None:
        raise ValueError("gmm_model needs resolved priors: call resolve_priors(X, ...) first.")
    n_features = priors.mean_loc.shape[-1]
    dtype = priors.mean_loc.dtype
    one = jnp.ones((), dtype)
    k = n_components
    if priors.concentration_prior is not None:
        alpha = numpyro.sample("concentration", dist.Gamma(priors.concentration_prior[0],
                                                           priors.concentration_prior[1]))
        alpha = jnp.broadcast_to(alpha, (k,))
    else:
        alpha = priors.concentration
    gammas = numpyro.sample("weight_gammas", dist.Gamma(alpha, one).to_event(1))
    weights = numpyro.deterministic("weights", gammas / jnp.sum(gammas, axis=-1, keepdims=True))

    mean_prior = dist.Normal(priors.mean_loc, priors.mean_scale)
    if ordered_means:
        if n_features != 1:
            raise ValueError(f"ordered_means needs one-dimensional data, got d = {n_features}.")
        means = numpyro.sample("means", dist.ImproperUniform(constraints.ordered_vector, (),
                                                             (k,)))
        numpyro.factor("means_prior", jnp.sum(mean_prior.log_prob(means[:, None])))
        means = means[:, None]
    else:
        means = numpyro.sample("means", mean_prior.expand((k, n_features)).to_event(2))

    log_median = jnp.log(priors.scale_median)
    if covariance_type == "tied":
        scales = numpyro.sample("scales", dist.LogNormal(log_median, priors.scale_log_sd)
                                .expand((n_features,)).to_event(1))
    elif covariance_type == "spherical":
        scales = numpyro.sample("scales", dist.LogNormal(log_median, priors.scale_log_sd)
                                .expand((k,)).to_event(1))
    else:
        scales = numpyro.sample("scales", dist.LogNormal(log_median, priors.scale_log_sd)
                                .expand((k, n_features)).to_event(2))
    sites = {"weights": weights, "means": means, "scales": scales}
    if covariance_type in ("full", "tied") and n_features > 1:
        lkj = dist.LKJCholesky(n_features, priors.lkj_concentration)
        sites["corr_cholesky"] = numpyro.sample(
            "corr_cholesky", lkj if covariance_type == "tied" else lkj.expand((k,)).to_event(1))
    params = params_from_sites(sites, covariance_type)

    n = X.shape[0] if X is not None else n_obs
    if n is None:
        raise ValueError("gmm_model needs X or n_obs.")
    if X is None or subsample_size is None or subsample_size >= n:
        subsample_size = None
    # With subsample_size, NumPyro's plate draws the row indices and scales the site's
    # log-probability by n / subsample_size.
    with numpyro.plate("data", n, subsample_size=subsample_size) as rows:
        observed = X if subsample_size is None else X[rows]
        numpyro.sample(OBS_SITE, GaussianMixtureLikelihood(params, covariance_type),
                       obs=observed)


def make_model(n_components, covariance_type, *, ordered_means=False, subsample_size=None):
    """:func:`gmm_model` with its static arguments bound: ``model(X, priors, n_obs=None)``."""
    return functools.partial(gmm_model, n_components=int(n_components),
                             covariance_type=covariance_type, ordered_means=bool(ordered_means),
                             subsample_size=None if subsample_size is None
                             else int(subsample_size))


def _flat_map(fn, params):
    """Apply ``fn(one_params)`` to every draw of ``params`` with leading (chain, draw) axes."""
    batch = params.weights.shape[:-1]
    flat = jax.tree.map(lambda a: a.reshape((-1,) + a.shape[len(batch):]), params)
    out = lax.map(fn, flat)
    return jax.tree.map(lambda a: a.reshape(batch + a.shape[1:]), out)


@functools.partial(jax.jit, static_argnames=("covariance_type",))
def pointwise_log_likelihood(X, params, covariance_type):
    """Per-observation log-likelihood of every draw, through the observation distribution.

    Parameters
    ----------
    X : array, shape (N, d)
    params : GMMParams
        Leaves with leading (chain, draw) axes.
    covariance_type : str, static

    Returns
    -------
    array, shape (chain, draw, N)
    """
    return _flat_map(lambda p: GaussianMixtureLikelihood(p, covariance_type).log_prob(X), params)


@functools.partial(jax.jit, static_argnames=("covariance_type", "n_obs"))
def posterior_predictive(key, params, covariance_type, n_obs):
    """One replicated data set of ``n_obs`` rows per draw, through the observation distribution.

    Parameters
    ----------
    key : jax.random key
    params : GMMParams
        Leaves with leading (chain, draw) axes.
    covariance_type : str, static
    n_obs : int, static

    Returns
    -------
    array, shape (chain, draw, n_obs, d)
    """
    batch = params.weights.shape[:-1]
    keys = jax.random.split(key, math.prod(batch)).reshape(batch)
    flat_keys = keys.reshape(-1)
    flat = jax.tree.map(lambda a: a.reshape((-1,) + a.shape[len(batch):]), params)
    out = lax.map(lambda kp: GaussianMixtureLikelihood(kp[1], covariance_type).sample(
        kp[0], (n_obs,)), (flat_keys, flat))
    return out.reshape(batch + out.shape[1:])
