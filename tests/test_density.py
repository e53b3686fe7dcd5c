"""The shared density against SciPy's multivariate normal, and its basic identities."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import multivariate_normal

from bayesgmm import covariance, density, params as gmm_params

TYPES = covariance.COVARIANCE_TYPES


def random_covariances(rng, covariance_type, k, d):
    if covariance_type == "full":
        a = rng.normal(size=(k, d, d))
        return a @ a.transpose(0, 2, 1) + d * np.eye(d)
    if covariance_type == "tied":
        a = rng.normal(size=(d, d))
        return a @ a.T + d * np.eye(d)
    if covariance_type == "diag":
        return rng.uniform(0.5, 2.0, size=(k, d))
    return rng.uniform(0.5, 2.0, size=k)


def dense(covariances, covariance_type, k, d):
    if covariance_type == "full":
        return covariances
    if covariance_type == "tied":
        return np.broadcast_to(covariances, (k, d, d))
    if covariance_type == "diag":
        return np.stack([np.diag(c) for c in covariances])
    return np.stack([c * np.eye(d) for c in covariances])


def random_params(rng, covariance_type, k=3, d=4):
    weights = rng.dirichlet(np.ones(k))
    means = rng.normal(size=(k, d)) * 3
    covs = random_covariances(rng, covariance_type, k, d)
    return gmm_params.from_covariances(weights, means, covs, covariance_type), covs


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("columns_max_features", [0, 64], ids=["rows", "columns"])
def test_component_log_prob_equals_scipy(rng, monkeypatch, covariance_type,
                                         columns_max_features):
    # Both layouts of the whitened residuals (density.COLUMNS_MAX_FEATURES picks one by d).
    monkeypatch.setattr(density, "COLUMNS_MAX_FEATURES", columns_max_features)
    k, d = 3, 4
    params, covs = random_params(rng, covariance_type, k, d)
    X = rng.normal(size=(50, d)) * 3
    got = np.asarray(density.component_log_prob(X, params, covariance_type))
    full = dense(covs, covariance_type, k, d)
    want = np.stack([multivariate_normal(np.asarray(params.means[j]), full[j]).logpdf(X)
                     for j in range(k)], axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_log_prob_is_logsumexp_and_responsibilities_sum_to_one(rng, covariance_type):
    params, _ = random_params(rng, covariance_type)
    X = rng.normal(size=(40, 4)) * 3
    log_prob, log_resp = density.log_prob_and_responsibilities(X, params, covariance_type)
    joint = density.weighted_log_prob(X, params, covariance_type)
    np.testing.assert_allclose(log_prob, np.log(np.exp(joint).sum(1)), rtol=1e-12)
    np.testing.assert_allclose(np.exp(log_resp).sum(1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(density.log_prob(X, params, covariance_type), log_prob)
    np.testing.assert_allclose(density.responsibilities(X, params, covariance_type),
                               np.exp(log_resp))


def test_zero_weight_component_takes_no_responsibility(rng):
    params, _ = random_params(rng, "diag")
    params = params._replace(weights=params.weights.at[1].set(0.0))
    resp = np.asarray(density.responsibilities(rng.normal(size=(30, 4)), params, "diag"))
    assert np.all(resp[:, 1] == 0.0)
    np.testing.assert_allclose(resp.sum(1), 1.0)


def test_lower_triangular_precision_factor_gives_the_same_density(rng):
    # scikit-learn stores an upper factor after fitting and a lower one from precisions_init.
    params, covs = random_params(rng, "full")
    lower = gmm_params.from_precisions(params.weights, params.means, np.linalg.inv(covs), "full")
    X = rng.normal(size=(20, 4))
    np.testing.assert_allclose(density.log_prob(X, lower, "full"),
                               density.log_prob(X, params, "full"), rtol=1e-12)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_sample_moments_match_the_mixture(rng, covariance_type):
    k, d = 3, 2
    params, covs = random_params(rng, covariance_type, k, d)
    X, labels = density.sample(jax.random.key(0), params, covariance_type, 60_000)
    X, labels = np.asarray(X), np.asarray(labels)
    full = dense(covs, covariance_type, k, d)
    np.testing.assert_allclose(np.bincount(labels, minlength=k) / len(labels), params.weights,
                               atol=0.01)
    for j in range(k):
        rows = X[labels == j]
        standard_error = np.sqrt(np.diag(full[j]) / len(rows))
        assert np.all(np.abs(rows.mean(0) - params.means[j]) < 5 * standard_error)
        np.testing.assert_allclose(np.cov(rows.T), full[j], rtol=0.15, atol=0.05)


def test_responsibilities_sum_to_one_far_from_every_component():
    # Two equal components and a point so far away that log w_k N_k is -1e10 in float32:
    # the log 2 that splits its responsibility is below float32's resolution at that size,
    # so it must not be taken from logsumexp of the raw terms (each share came out as 1).
    params = gmm_params.from_covariances(
        jnp.array([0.5, 0.5], jnp.float32), jnp.array([[0.0], [0.0]], jnp.float32),
        jnp.array([1e-6, 1e-6], jnp.float32), "spherical")
    X = jnp.array([[0.0], [150.0]], jnp.float32)
    log_prob, log_resp = density.log_prob_and_responsibilities(X, params, "spherical")
    assert log_prob[1] < -1e9
    np.testing.assert_allclose(jnp.exp(log_resp), 0.5, rtol=1e-6)
    np.testing.assert_allclose(log_prob[0], density.log_prob(X, params, "spherical")[0],
                               rtol=1e-6)
