"""The NumPyro model: its likelihood is the shared density (bayesgmm.density)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro import handlers
from numpyro.infer import Predictive
from numpyro.infer.util import log_density

from bayesgmm import density
from bayesgmm.bayes import model as gmm
from bayesgmm.covariance import COVARIANCE_TYPES
from bayesgmm.params import from_covariances

K, D = 3, 2


def _random_params(rng, covariance_type, dtype=np.float64):
    weights = np.array([0.2, 0.3, 0.5])
    means = rng.normal(size=(K, D)) * 3
    a = rng.normal(size=(K, D, D))
    covariances = {"full": a @ a.transpose(0, 2, 1) + np.eye(D),
                   "tied": a[0] @ a[0].T + np.eye(D),
                   "diag": rng.uniform(0.5, 2.0, (K, D)),
                   "spherical": rng.uniform(0.5, 2.0, K)}[covariance_type]
    return from_covariances(*(np.asarray(x, dtype) for x in (weights, means, covariances)),
                            covariance_type)


def _log_likelihood_through_model(model, X, priors, sites):
    """log joint - log prior, both by NumPyro's log_density (the prior with 'obs' hidden)."""
    log_joint, _ = log_density(model, (X, priors), {}, sites)
    log_prior, _ = log_density(handlers.block(model, hide=[gmm.OBS_SITE]), (X, priors), {},
                               sites)
    return log_joint - log_prior


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_model_log_likelihood_equals_em_log_likelihood(rng, covariance_type):
    X = rng.normal(size=(200, D)) * 2
    params = _random_params(rng, covariance_type)
    priors = gmm.resolve_priors(X, K, covariance_type)
    sites = gmm.sites_from_params(params, covariance_type, priors)
    model = gmm.make_model(K, covariance_type)
    model_ll = _log_likelihood_through_model(model, X, priors, sites)
    em_ll = jnp.sum(density.log_prob(jnp.asarray(X), params, covariance_type))
    assert abs(float(model_ll - em_ll)) < 1e-10
    # and the check has teeth: moving one mean changes it
    moved = dict(sites, means=sites["means"] + 1e-3)
    assert abs(float(_log_likelihood_through_model(model, X, priors, moved) - em_ll)) > 1e-6


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sites_round_trip_to_params(rng, covariance_type):
    params = _random_params(rng, covariance_type)
    X = rng.normal(size=(50, D))
    priors = gmm.resolve_priors(X, K, covariance_type)
    back = gmm.params_from_sites(gmm.sites_from_params(params, covariance_type, priors),
                                 covariance_type)
    for a, b in zip(params, back):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_ordered_means_model_matches_density_in_one_dimension(rng):
    X = rng.normal(size=(100, 1))
    params = from_covariances(np.array([0.5, 0.5]), np.array([[1.0], [-1.0]]),
                              np.array([[[1.0]], [[2.0]]]), "full")
    priors = gmm.resolve_priors(X, 2, "full")
    sites = gmm.sites_from_params(params, "full", priors, ordered_means=True)
    assert sites["means"].shape == (2,) and sites["means"][0] < sites["means"][1]
    model = gmm.make_model(2, "full", ordered_means=True)
    model_ll = _log_likelihood_through_model(model, X, priors, sites)
    em_ll = jnp.sum(density.log_prob(jnp.asarray(X), params, "full"))
    assert abs(float(model_ll - em_ll)) < 1e-10


def test_likelihood_distribution_uses_density_and_samples_shapes(rng):
    params = _random_params(rng, "full")
    X = rng.normal(size=(7, 5, D))
    likelihood = gmm.GaussianMixtureLikelihood(params, "full")
    log_prob = likelihood.log_prob(X)
    assert log_prob.shape == (7, 5)
    np.testing.assert_allclose(log_prob.reshape(-1),
                               density.log_prob(jnp.asarray(X.reshape(-1, D)), params, "full"))
    draws = likelihood.sample(jax.random.key(0), (4, 3))
    assert draws.shape == (4, 3, D)
    expected, _ = density.sample(jax.random.key(0), params, "full", 12)
    np.testing.assert_array_equal(draws.reshape(12, D), expected)


def test_prior_predictive_through_numpyro_predictive(rng):
    X = rng.normal(size=(30, D))
    priors = gmm.resolve_priors(X, K, "diag", gmm.Priors(concentration_prior=(2.0, 2.0)))
    model = gmm.make_model(K, "diag")
    out = Predictive(model, num_samples=5)(jax.random.key(1), None, priors, n_obs=30)
    assert out["obs"].shape == (5, 30, D)
    assert out["weights"].shape == (5, K)
    assert out["concentration"].shape == (5,)
    np.testing.assert_allclose(out["weights"].sum(-1), 1.0, rtol=1e-12)


def test_resolve_priors_scales_to_data_and_keeps_dtype(rng):
    X = (rng.normal(size=(100, D)) * [1.0, 10.0] + [5.0, -3.0]).astype(np.float32)
    priors = gmm.resolve_priors(X, K, "full")
    assert all(a.dtype == np.float32 for a in priors if a is not None)
    np.testing.assert_allclose(priors.mean_loc, X.mean(0), rtol=1e-5)
    np.testing.assert_allclose(priors.mean_scale, np.ptp(X, 0), rtol=1e-5)
    np.testing.assert_allclose(priors.scale_median, X.std(0), rtol=1e-5)
    assert priors.concentration.shape == (K,)
    assert gmm.resolve_priors(X, K, "spherical").scale_median.shape == ()


@pytest.mark.parametrize("priors, message", [
    (gmm.Priors(concentration=-1.0), "concentration must be finite and positive"),
    (gmm.Priors(concentration=[1.0, 1.0]), "does not broadcast to"),
    (gmm.Priors(mean_scale=np.nan), "mean_scale must be finite"),
    (gmm.Priors(concentration_prior=(1.0,)), "concentration_prior has shape"),
])
def test_resolve_priors_rejects_bad_values(rng, priors, message):
    with pytest.raises(ValueError, match=message):
        gmm.resolve_priors(rng.normal(size=(10, D)), K, "full", priors)


def test_resolve_priors_rejects_wrong_type(rng):
    with pytest.raises(TypeError, match="priors must be a bayesgmm.bayes.Priors"):
        gmm.resolve_priors(rng.normal(size=(10, D)), K, "full", {"concentration": 1.0})


def test_ordered_means_needs_one_dimension(rng):
    X = rng.normal(size=(10, D))
    priors = gmm.resolve_priors(X, K, "full")
    model = gmm.make_model(K, "full", ordered_means=True)
    with pytest.raises(ValueError, match="ordered_means needs one-dimensional data"):
        handlers.seed(model, 0)(X, priors)


def test_subsampled_likelihood_is_an_unbiased_estimate_of_the_full_one(rng):
    """The minibatch model's log-likelihood (m rows, scaled by N / m) averages to the full
    data's over random subsets, within Monte Carlo error, and differs from it per subset."""
    params = _random_params(rng, "full")
    X, _ = density.sample(jax.random.key(0), params, "full", 1000)
    priors = gmm.resolve_priors(X, K, "full")
    sites = gmm.sites_from_params(params, "full", priors)
    full = _log_likelihood_through_model(gmm.make_model(K, "full"), X, priors, sites)
    minibatch = gmm.make_model(K, "full", subsample_size=50)

    def estimate(key):
        return _log_likelihood_through_model(handlers.seed(minibatch, key), X, priors, sites)

    estimates = np.asarray(jax.jit(jax.vmap(estimate))(jax.random.split(jax.random.key(1),
                                                                          2000)))
    error = estimates.std() / np.sqrt(len(estimates))
    assert estimates.std() > 1.0  # the subsets differ
    assert abs(estimates.mean() - float(full)) < 4 * error
