"""Posterior inference for the Bayesian mixture: NUTS and SVI, started from the EM solution.

Both return a :class:`PosteriorDraws`, a plain pytree of draws shaped ``(chain, draw, ...)``
(SVI draws have one chain). Component labels are as sampled: relabel them with
:func:`bayesgmm.bayes.posterior.relabel` before any per-component summary.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpyro import optim
from numpyro.infer import SVI, Trace_ELBO
from numpyro.infer import autoguide
from numpyro.infer.initialization import init_to_sample, init_to_value

from bayesgmm.bayes import model as gmm
from bayesgmm.bayes import sampler
from bayesgmm.bayes.sampler import CHAIN_METHODS, NUTS_FIELDS, weights_gibbs_fn
from bayesgmm.covariance import check_covariance_type
from bayesgmm.em import fit_em
from bayesgmm.params import GMMParams, check_shapes
from bayesgmm.validation import check_choice, check_data, check_int, check_n_samples, check_real

GUIDES = {
    "normal": autoguide.AutoNormal,
    "multivariate_normal": autoguide.AutoMultivariateNormal,
    "delta": autoguide.AutoDelta,
}
#: How the weights are sampled: inside NUTS, or by their Gibbs conditional (see run_nuts).
WEIGHT_SAMPLERS = ("nuts", "gibbs")


class PosteriorDraws(NamedTuple):
    """Posterior draws of a Bayesian mixture, every leaf shaped ``(chain, draw, ...)``.

    Attributes
    ----------
    params : GMMParams
        ``weights`` (chain, draw, K), ``means`` (chain, draw, K, d), ``precisions_cholesky``
        (chain, draw, ...) in the layout of :mod:`bayesgmm.covariance`.
    samples : dict of str to array
        Every latent site of :func:`bayesgmm.bayes.model.gmm_model` and the deterministic
        ``"weights"``; ``"means"`` always has shape (chain, draw, K, d), also when ordered.
    sample_stats : dict of str to array
        NUTS: ``diverging``, ``energy``, ``potential_energy``, ``accept_prob``,
        ``num_steps``, each (chain, draw). SVI: empty.
    num_divergences : int array, shape (chain,)
        Divergent transitions after warmup, per chain (zeros for SVI).
    em_params : GMMParams
        The EM maximum-likelihood fit on the same data (or the GMMParams given as ``init``):
        the start and the default relabelling pivot.
    priors : Priors
        The resolved priors the draws were made under.
    losses : array, shape (num_steps,), or None
        SVI: the loss (negative ELBO) of every step. NUTS: None.
    """

    params: GMMParams
    samples: dict
    sample_stats: dict
    num_divergences: jax.Array
    em_params: GMMParams
    priors: gmm.Priors
    losses: jax.Array | None


def _check_model_data(X, n_components, covariance_type, *, caller):
    """Validate the data and the model size.

    Parameters
    ----------
    X : array-like, shape (N, d)
    n_components : int
    covariance_type : str
    caller : str
        The function that needs the data, for messages.

    Returns
    -------
    X : jax.Array, shape (N, d)
        In its compute dtype (:func:`bayesgmm.validation.compute_dtype`: float32 stays
        float32, everything else the default float dtype).
    n_components : int
    """
    check_covariance_type(covariance_type)
    n_components = check_int("n_components", n_components)
    X = check_data(X, caller=caller)
    check_n_samples(X.shape[0], n_components)
    return X, n_components


def _start(key, X, n_components, covariance_type, init, priors, ordered_means):
    """The pivot parameters (``em_params``) and the initial site values, if any.

    The pivot is an EM fit, except when ``init`` is a GMMParams: the chains start there and
    those parameters serve as the pivot (no second fit; e.g. :func:`bayesgmm.compare.compare`
    passes the K = k_max fit its BIC sweep already made)."""
    if ordered_means and X.shape[1] != 1:
        raise ValueError(f"ordered_means needs one-dimensional data, got X.shape = {X.shape}.")
    if isinstance(init, GMMParams):
        start = GMMParams(*(jnp.asarray(a, X.dtype) for a in init))
        check_shapes(start, covariance_type, name="init", n_components=n_components,
                     n_features=X.shape[1])
        em = start
    elif init in ("em", "prior"):
        em = fit_em(key, X, n_components=n_components, covariance_type=covariance_type).params
        if init == "prior":
            return em, None
        start = em
    else:
        raise ValueError(f"Invalid value for 'init': {init!r}; it must be 'em', 'prior' or a "
                         f"GMMParams.")
    return em, _sites_from_params(start, covariance_type, priors, ordered_means=ordered_means)


# Compiled as one program each: op by op, these small conversions cost dozens of compilations.
_sites_from_params = jax.jit(gmm.sites_from_params,
                             static_argnames=("covariance_type", "ordered_means"))


def _sampling_dtype(X):
    """(X to compute with, dtype of the returned draws).

    With x64 enabled, float32 data are fitted in float64: NumPyro keeps float64 state (step
    sizes, optimiser state) under x64, which promotes float32 latent values and breaks the
    type agreement of its compiled branches. The draws are returned in float32.
    """
    if X.dtype == jnp.float32 and jax.config.jax_enable_x64:
        return X.astype(jnp.float64), X.dtype
    return X, X.dtype


def _cast(draws, dtype):
    return jax.tree.map(
        lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, draws)


@functools.partial(jax.jit, static_argnames=("covariance_type", "ordered_means"))
def _draws(samples, covariance_type, ordered_means):
    samples = dict(samples)
    if ordered_means:
        samples["means"] = samples["means"][..., None]
    samples.pop("means_prior", None)
    gammas = samples["weight_gammas"]
    samples["weights"] = gammas / jnp.sum(gammas, axis=-1, keepdims=True)
    return gmm.params_from_sites(samples, covariance_type), samples


def run_nuts(key, X, *, n_components, covariance_type="full", priors=None, num_warmup=500,
             num_samples=500, num_chains=4, chain_method=None, target_accept_prob=0.8,
             max_tree_depth=10, dense_mass=False, init="em", ordered_means=False,
             weights_sampler="nuts", progress_bar=False):
    """Sample the posterior of a Gaussian mixture with NUTS.

    Parameters
    ----------
    key : jax.random key
        Split into the EM fit's key and the sampler's.
    X : array-like, shape (N, d)
        The data. Draws come back in X's dtype (float32, or float64 with x64 enabled). With
        x64 enabled, float32 data are sampled in float64: NumPyro's integrator state is
        float64 then, and mixing the two fails inside its compiled branches.
    n_components : int
    covariance_type : {"full", "tied", "diag", "spherical"}
    priors : Priors, optional
        Defaults scaled to the data (see :mod:`bayesgmm.bayes.model`).
    num_warmup, num_samples, num_chains : int
    chain_method : {"vectorized", "sequential", "parallel"}, optional
        "vectorized" runs the chains in lockstep in one program (``vmap``), "sequential" one
        after another in one program, "parallel" as concurrent runs of a one-chain program,
        spread over the local devices (on one CPU device, on separate cores). Default:
        "parallel" on a CPU or with several devices, "vectorized" on one GPU/TPU
        (:func:`bayesgmm.bayes.sampler.default_chain_method`; on 2 CPU cores parallel chains
        sampled 3x faster than vectorized ones). The chain method does not change the draws
        beyond rounding. Every setting compiles once per process: a later call with the same
        shapes and settings (other data, seed or priors included) reuses the program.
    target_accept_prob : float in (0, 1)
    max_tree_depth : int
    dense_mass : bool
        Adapt a dense mass matrix instead of a diagonal one.
    init : {"em", "prior"} or GMMParams
        "em" (default) starts every chain at the EM solution; "prior" at independent prior
        draws (chains may then settle in different label orders or local modes); a
        GMMParams starts every chain there and is the relabelling pivot (no EM fit is made).
    ordered_means : bool
        Constrain the means to increase (d = 1 only).
    weights_sampler : {"nuts", "gibbs"}
        "nuts" samples the weights' Gamma variables with NUTS together with everything else,
        the assignments summed out. "gibbs" (HMC-within-Gibbs, NumPyro's ``HMCGibbs``) draws
        the weights from their exact conditional at every step (:func:`weights_gibbs_fn`:
        assignments drawn and discarded, then ``Dirichlet(alpha + counts)``) and moves the
        other parameters by NUTS with the weights fixed, the assignments summed out. Use
        "gibbs" for sparse priors (``alpha`` well below 1): NUTS in the sparse corner of the
        Dirichlet diverges (Old Faithful, 10 full components, ``alpha = 0.01``: 47% of the
        draws divergent with "nuts", under 1% with "gibbs"; see :mod:`bayesgmm.compare`).
        With "gibbs", ``energy`` and ``potential_energy`` are those of the NUTS block: the
        joint log-density at the current weights.
    progress_bar : bool

    Returns
    -------
    PosteriorDraws
        Draws (num_chains, num_samples, ...), NUTS diagnostics and the divergence count per
        chain.
    """
    X, n_components = _check_model_data(X, n_components, covariance_type, caller="run_nuts")
    num_warmup = check_int("num_warmup", num_warmup, 0)
    num_samples = check_int("num_samples", num_samples)
    num_chains = check_int("num_chains", num_chains)
    max_tree_depth = check_int("max_tree_depth", max_tree_depth)
    if chain_method is None:
        chain_method = sampler.default_chain_method(num_chains)
    check_choice("chain_method", chain_method, sampler.CHAIN_METHODS)
    target_accept_prob = check_real("target_accept_prob", target_accept_prob, high=1,
                                    low_open=True, high_open=True)
    check_choice("weights_sampler", weights_sampler, WEIGHT_SAMPLERS)
    X, out_dtype = _sampling_dtype(X)
    priors = gmm.resolve_priors(X, n_components, covariance_type, priors)
    key_em, key_mcmc = jax.random.split(key)
    em, start = _start(key_em, X, n_components, covariance_type, init, priors, ordered_means)
    gibbs_start = None
    if weights_sampler == "gibbs":
        # The Gibbs block is not covered by the NUTS init strategy: without a value it would
        # start at a prior draw, which for a sparse Dirichlet underflows to 0 in float32.
        gibbs_start = (start["weight_gammas"] if start is not None
                       else jnp.ones(n_components, X.dtype))
    samples, stats = sampler.run_chains(
        key_mcmc, X, priors, start, gibbs_start, n_components=n_components,
        covariance_type=covariance_type, num_warmup=num_warmup, num_samples=num_samples,
        num_chains=num_chains, chain_method=chain_method,
        target_accept_prob=target_accept_prob, max_tree_depth=max_tree_depth,
        dense_mass=bool(dense_mass), ordered_means=bool(ordered_means),
        gibbs=weights_sampler == "gibbs", progress_bar=bool(progress_bar))
    params, samples = _draws(samples, covariance_type, ordered_means)
    divergences = jax.device_put(np.sum(np.asarray(stats["diverging"]), axis=1))
    draws = PosteriorDraws(params, samples, stats, divergences, em, priors, None)
    return _cast(draws, out_dtype)


def run_svi(key, X, *, n_components, covariance_type="full", priors=None, guide="normal",
            optimizer=None, num_steps=2000, num_samples=1000, init="em", init_scale=0.01,
            ordered_means=False, subsample_size=None, progress_bar=False):
    """Fit a variational approximation (or MAP point) of the posterior with SVI.

    Parameters
    ----------
    key : jax.random key
    X : array-like, shape (N, d)
    n_components : int
    covariance_type : {"full", "tied", "diag", "spherical"}
    priors : Priors, optional
    guide : {"normal", "multivariate_normal", "delta"}
        NumPyro's AutoNormal (mean field), AutoMultivariateNormal (full-rank) or AutoDelta
        (the MAP estimate in the constrained space; every draw identical).
    optimizer : numpyro.optim optimizer (or an optax one), optional
        Default ``numpyro.optim.Adam(1e-2)``.
    num_steps : int
    num_samples : int
        Draws taken from the fitted guide.
    init : {"em", "prior"} or GMMParams
        Where the guide's location starts. From prior draws, SVI tends to stop in
        merged-cluster optima; the EM solution (default) avoids that.
    init_scale : float
        Initial standard deviation of the normal guides in the unconstrained space.
    ordered_means : bool
    subsample_size : int, optional
        Minibatch SVI for large N: every step evaluates the likelihood on this many rows
        drawn at random (without replacement) and scales it by ``N / subsample_size``, an
        unbiased estimate of the full-data ELBO (see :func:`bayesgmm.bayes.model.gmm_model`).
        A step then costs O(subsample_size) instead of O(N); the losses are noisier, so use
        more steps or a decaying learning rate. ``None`` (default) uses every row.
    progress_bar : bool

    Returns
    -------
    PosteriorDraws
        Draws shaped (1, num_samples, ...), ``losses`` the loss of every step.
    """
    X, n_components = _check_model_data(X, n_components, covariance_type, caller="run_svi")
    num_steps = check_int("num_steps", num_steps)
    num_samples = check_int("num_samples", num_samples)
    check_choice("guide", guide, GUIDES)
    init_scale = check_real("init_scale", init_scale, low_open=True)
    if subsample_size is not None:
        subsample_size = check_int("subsample_size", subsample_size)
    X, out_dtype = _sampling_dtype(X)
    priors = gmm.resolve_priors(X, n_components, covariance_type, priors)
    key_em, key_svi, key_draws = jax.random.split(key, 3)
    em, start = _start(key_em, X, n_components, covariance_type, init, priors, ordered_means)
    model = gmm.make_model(n_components, covariance_type, ordered_means=ordered_means,
                           subsample_size=subsample_size)
    init_loc_fn = init_to_sample if start is None else init_to_value(values=start)
    options = {} if guide == "delta" else {"init_scale": init_scale}
    auto = GUIDES[guide](model, init_loc_fn=init_loc_fn, **options)
    optimizer = optim.Adam(1e-2) if optimizer is None else optimizer
    svi = SVI(model, auto, optimizer, Trace_ELBO())
    result = svi.run(key_svi, num_steps, X, priors, progress_bar=progress_bar,
                     stable_update=True)
    draw = jax.jit(lambda k, p, x, pr: auto.sample_posterior(k, p, x, pr,
                                                           sample_shape=(num_samples,)))
    latent = draw(key_draws, result.params, X, priors)
    latent = {name: value[None] for name, value in latent.items()
              if not name.startswith("_") and name != gmm.OBS_SITE}
    params, samples = _draws(latent, covariance_type, ordered_means)
    return _cast(PosteriorDraws(params, samples, {}, jnp.zeros((1,), jnp.int32), em, priors,
                                result.losses), out_dtype)


__all__ = ["CHAIN_METHODS", "GUIDES", "WEIGHT_SAMPLERS", "PosteriorDraws", "run_nuts", "run_svi",
           "weights_gibbs_fn"]
