"""Relabelling, responsibilities, predictive density bands and K+ on synthetic draws."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import gammaln

from bayesgmm import density
from bayesgmm.bayes import posterior
from bayesgmm.bayes.inference import PosteriorDraws
from bayesgmm.bayes.model import Priors, resolve_priors
from bayesgmm.params import GMMParams, from_covariances

K, D = 3, 2
MEANS = np.array([[0.0, 0.0], [6.0, 6.0], [-6.0, 6.0]])
WEIGHTS = np.array([0.3, 0.3, 0.4])


def _truth(covariance_type="full"):
    covariances = {"full": np.broadcast_to(np.eye(D), (K, D, D)), "tied": np.eye(D),
                   "diag": np.ones((K, D)), "spherical": np.ones(K)}[covariance_type]
    return from_covariances(WEIGHTS, MEANS, covariances, covariance_type)


def _draws(rng, covariance_type="full", chains=2, n=50):
    """Draws scattered around the truth, every component kept in its place."""
    truth = _truth(covariance_type)
    shape = (chains, n)
    weights = rng.dirichlet(WEIGHTS * 200, size=shape)
    means = MEANS + 0.1 * rng.normal(size=shape + (K, D))
    pc = np.asarray(truth.precisions_cholesky)
    pc = pc * np.exp(0.05 * rng.normal(size=shape + (1,) * pc.ndim))
    params = GMMParams(jnp.asarray(weights), jnp.asarray(means), jnp.asarray(pc))
    samples = {"weights": params.weights, "means": params.means}
    return PosteriorDraws(params, samples, {}, jnp.zeros(chains, jnp.int32), truth, None, None)


def _data(rng, n=300):
    labels = rng.choice(K, n, p=WEIGHTS)
    return MEANS[labels] + rng.normal(size=(n, D))


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_relabel_undoes_a_permutation_of_half_the_draws(rng, covariance_type):
    draws = _draws(rng, covariance_type)
    relabelled, identity = posterior.relabel(draws, covariance_type)
    np.testing.assert_array_equal(identity, np.broadcast_to(np.arange(K), identity.shape))
    applied = np.broadcast_to(np.arange(K), identity.shape).copy()
    half = rng.random(identity.shape[:2]) < 0.5
    applied[half] = np.array([rng.permutation(K) for _ in range(half.sum())])
    assert np.any(applied[half] != np.arange(K))
    scrambled = posterior.permute(draws, applied, covariance_type)
    listed = posterior.permute(draws, applied.tolist(), covariance_type)  # nested lists too
    np.testing.assert_array_equal(listed.params.means, scrambled.params.means)
    back, found = posterior.relabel(scrambled, covariance_type)
    for a, b in zip(back.params, draws.params):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(back.samples["means"], draws.samples["means"])
    # found[k] indexes the scrambled draw: applied[found[k]] == k
    np.testing.assert_array_equal(np.take_along_axis(applied, found, axis=-1),
                                  np.broadcast_to(np.arange(K), found.shape))


def test_relabel_matches_on_covariances_when_means_coincide():
    # two components with the same mean, told apart by their covariances only
    pivot = from_covariances(np.array([0.5, 0.5]), np.zeros((2, D)),
                             np.array([np.eye(D) * 0.1, np.eye(D) * 10.0]), "full")
    swapped = GMMParams(pivot.weights[::-1], pivot.means[::-1],
                        pivot.precisions_cholesky[::-1])
    params = jax.tree.map(lambda a, b: jnp.stack([a, b])[None], pivot, swapped)
    draws = PosteriorDraws(params, {}, {}, jnp.zeros(1, jnp.int32), pivot, None, None)
    _, permutations = posterior.relabel(draws, "full")
    np.testing.assert_array_equal(permutations[0], [[0, 1], [1, 0]])


def test_relabel_rejects_bad_pivots(rng):
    draws = _draws(rng)
    with pytest.raises(ValueError, match="'pivot'"):
        posterior.relabel(draws, "full", pivot="median")
    with pytest.raises(ValueError, match="needs NUTS draws"):
        posterior.relabel(draws, "full", pivot="map")
    with pytest.raises(ValueError, match="pivot has shapes"):
        posterior.relabel(draws, "full", pivot=GMMParams(np.ones(2), np.ones((2, 2)),
                                                          np.ones((2, 2, 2))))
    with pytest.raises(ValueError, match="permutations has shape"):
        posterior.permute(draws, np.zeros((2, 3), int), "full")


def test_map_pivot_is_the_lowest_potential_energy_draw(rng):
    draws = _draws(rng)
    energy = rng.normal(size=(2, 50))
    draws = draws._replace(sample_stats={"potential_energy": jnp.asarray(energy)})
    chain, index = np.unravel_index(np.argmin(energy), energy.shape)
    best = posterior.highest_density_draw(draws)
    np.testing.assert_array_equal(best.means, draws.params.means[chain, index])


def test_responsibilities_summary(rng):
    draws = _draws(rng)
    X = _data(rng)
    summary = posterior.responsibilities(X, draws, "full", prob=0.9)
    assert summary.mean.shape == summary.lower.shape == (300, K)
    np.testing.assert_allclose(summary.mean.sum(1), 1.0, rtol=1e-12)
    assert np.all(summary.lower <= summary.mean + 1e-12)
    assert np.all(summary.mean <= summary.upper + 1e-12)
    assert np.all((summary.entropy >= -1e-12) & (summary.entropy <= np.log(K) + 1e-12))
    flat = jax.tree.map(lambda a: a.reshape((-1,) + a.shape[2:]), draws.params)
    expected = np.mean([density.responsibilities(jnp.asarray(X), jax.tree.map(
        lambda a, i=i: a[i], flat), "full") for i in range(100)], axis=0)
    np.testing.assert_allclose(summary.mean, expected, rtol=1e-10, atol=1e-12)


def test_predictive_density_band_and_blocks(rng):
    draws = _draws(rng)
    X = _data(rng, 37)
    band = posterior.predictive_density(X, draws, "full")
    assert band.mean.shape == band.lower.shape == band.upper.shape == (37,)
    assert np.all((band.lower <= band.mean) & (band.mean <= band.upper))
    np.testing.assert_allclose(np.log(band.mean), band.log_mean, rtol=1e-10)
    flat = jax.tree.map(lambda a: a.reshape((-1,) + a.shape[2:]), draws.params)
    expected = np.mean([np.exp(density.log_prob(jnp.asarray(X), jax.tree.map(
        lambda a, i=i: a[i], flat), "full")) for i in range(100)], axis=0)
    np.testing.assert_allclose(band.mean, expected, rtol=1e-10)
    # tiny blocks give the same answer as one block
    small = posterior._row_blocks(
        lambda x, p: posterior._density_block(x, p, jnp.asarray([0.025, 0.975]), "full"),
        jnp.asarray(X), flat, max_elements=100 * K * 4)
    np.testing.assert_allclose(small.mean, band.mean, rtol=1e-12)
    with pytest.raises(ValueError, match="'prob' must be in"):
        posterior.predictive_density(X, draws, "full", prob=1.0)
    with pytest.raises(ValueError, match="X must have shape"):
        posterior.predictive_density(X[:, :1], draws, "full")


def test_occupied_components_counts_used_labels(rng):
    draws = _draws(rng)
    X = _data(rng)
    kplus = posterior.occupied_components(jax.random.key(0), X, draws, "full")
    assert kplus.shape == (2, 50)
    assert np.all(np.asarray(kplus) == K)
    # all the data in one cluster: only one component is ever used
    one_cluster = rng.normal(size=(100, D)) + MEANS[1]
    kplus = posterior.occupied_components(jax.random.key(1), one_cluster, draws, "full")
    assert np.all(np.asarray(kplus) == 1)
    np.testing.assert_allclose(posterior.kplus_probabilities(kplus, K), [1.0, 0.0, 0.0])


def test_prior_of_kplus_follows_the_concentration(rng):
    X = rng.normal(size=(20, D))
    dense = resolve_priors(X, 5, "full", Priors(concentration=100.0))
    sparse = resolve_priors(X, 5, "full", Priors(concentration=0.01))
    hyper = resolve_priors(X, 5, "full", Priors(concentration_prior=(1.0, 1.0)))
    k_dense = posterior.prior_occupied_components(jax.random.key(0), 200, dense, num_draws=500)
    k_sparse = posterior.prior_occupied_components(jax.random.key(0), 200, sparse,
                                                   num_draws=500)
    k_hyper = posterior.prior_occupied_components(jax.random.key(0), 200, hyper, num_draws=500)
    assert k_dense.shape == (500,)
    assert np.mean(np.asarray(k_dense) == 5) > 0.99
    # Dirichlet-multinomial: P(K+ = 1) = K G(A) G(N + a) / (G(N + A) G(a)), A = K a
    a, total, n = 0.01, 0.05, 200
    exact = 5 * np.exp(gammaln(total) + gammaln(n + a) - gammaln(n + total) - gammaln(a))
    assert abs(np.mean(np.asarray(k_sparse) == 1) - exact) < 0.06
    assert 1 < np.mean(np.asarray(k_hyper)) < 5
