"""Batched EM fits and the nonparametric bootstrap: alignment, coverage, equality with fit_em."""

import itertools

import jax
import numpy as np
import pytest

from bayesgmm import em, relabel, resampling
from bayesgmm.params import GMMParams

TRUE_WEIGHTS = np.array([0.4, 0.6])
TRUE_MEANS = np.array([[0.0, 0.0], [5.0, 3.0]])
TRUE_COVARIANCES = np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.6, -0.2], [-0.2, 1.2]]])


def simulate(rng, n, weights=TRUE_WEIGHTS, means=TRUE_MEANS, covariances=TRUE_COVARIANCES):
    labels = rng.choice(len(weights), size=n, p=weights)
    noise = rng.normal(size=(n, means.shape[1]))
    chol = np.linalg.cholesky(covariances)
    return means[labels] + np.einsum("nde,ne->nd", chol[labels], noise)


# Data sets of 300 rows and K = 2, full, n_init = 1 throughout, so that the tests share one
# compiled fit_em (the full-data fit of every bootstrap) and the suite stays quick.
N = 300


def test_fit_em_batch_equals_one_fit_em_per_data_set(rng):
    X = np.stack([simulate(rng, N) for _ in range(3)])
    key = jax.random.key(7)
    # batch_size=3: the whole batch under vmap (the sequential default is what bootstrap runs).
    batch = resampling.fit_em_batch(key, X, n_components=2, batch_size=3)
    assert batch.params.means.shape == (3, 2, 2) and batch.n_iter.shape == (3,)
    for b, sub_key in enumerate(jax.random.split(key, 3)):
        single = em.fit_em(sub_key, X[b], n_components=2)
        assert int(batch.n_iter[b]) == int(single.n_iter)
        np.testing.assert_allclose(batch.lower_bound[b], single.lower_bound, rtol=1e-12)
        for a, s in zip(batch.params, single.params):
            np.testing.assert_allclose(a[b], s, rtol=1e-10, atol=1e-12)


def test_fit_em_batch_rejects_bad_shapes(rng):
    with pytest.raises(ValueError, match=r"Expected 3D array, got 2D array instead "
                                         r".*\(n_datasets, n_samples, n_features\)"):
        resampling.fit_em_batch(jax.random.key(0), np.ones((5, 2)), n_components=1)
    with pytest.raises(ValueError, match=r"sample_weight has shape \(2, 4\), expected \(2, 5\)"):
        resampling.fit_em_batch(jax.random.key(0), rng.normal(size=(2, 5, 2)), n_components=1,
                               sample_weight=np.ones((2, 4)))
    with pytest.raises(ValueError, match="n_components = 6, n_samples = 5"):
        resampling.fit_em_batch(jax.random.key(0), rng.normal(size=(2, 5, 2)), n_components=6)


def test_align_to_reference_recovers_known_permutations(rng):
    reference = rng.normal(scale=10.0, size=(4, 3))
    perms = np.array([list(p) for p in itertools.permutations(range(4))])
    # Replicate b stores reference component k (plus noise) in its slot perms[b, k].
    means = np.empty((len(perms), 4, 3))
    for b, p in enumerate(perms):
        means[b, p] = reference + rng.normal(scale=0.1, size=(4, 3))
    found = resampling.align_to_reference(means, reference, np.broadcast_to(np.eye(3), (4, 3, 3)))
    np.testing.assert_array_equal(found, perms)


def test_replicates_are_label_aligned_to_the_full_fit(rng):
    X = simulate(rng, N)
    # Fresh k-means++ starts label the clusters in a random order in every replicate.
    result = resampling.bootstrap(jax.random.key(1), X, 40, n_components=2, init="fresh")
    assert np.any(np.any(result.permutations != np.arange(2), axis=1)), \
        "the test needs replicates whose raw labels differ from the full fit's"
    full_means = result.full_fit.params.means
    assert np.max(np.abs(result.draws["means"] - full_means)) < 1.0
    raw = np.take_along_axis(result.params.means, np.argsort(result.permutations, axis=1)
                             [:, :, None], axis=1)
    assert np.max(np.abs(raw - full_means)) > 3.0  # unaligned labels would mix clusters


def test_bootstrap_intervals_cover_the_true_parameters(rng):
    covered, total = 0, 0
    for _ in range(12):
        X = simulate(rng, N)
        result = resampling.bootstrap(jax.random.key(int(rng.integers(2 ** 31))), X, 200,
                                     n_components=2)
        # Order the truth like the full fit (Hungarian on the means).
        order = resampling.align_to_reference(TRUE_MEANS[None], result.full_fit.params.means,
                                             np.broadcast_to(np.eye(2), (2, 2, 2)))[0]
        truth = {"weights": TRUE_WEIGHTS[order], "means": TRUE_MEANS[order],
                 "covariances": TRUE_COVARIANCES[order]}
        for name, value in truth.items():
            low, high = result.intervals[name]
            if name == "covariances":  # the free entries only
                low, high, value = (a[:, np.triu_indices(2)[0], np.triu_indices(2)[1]]
                                    for a in (low, high, value))
            inside = (low <= value) & (value <= high)
            covered += int(inside.sum())
            total += inside.size
    assert total == 12 * (2 + 4 + 6)
    assert covered / total >= 0.85


def test_bootstrap_result_shapes_and_summaries(rng):
    X = simulate(rng, N)
    result = resampling.bootstrap(jax.random.key(0), X, 200, n_components=2, level=0.9)
    assert result.draws["weights"].shape == (200, 2)
    assert result.draws["means"].shape == (200, 2, 2)
    assert result.draws["covariances"].shape == (200, 2, 2, 2)
    assert result.intervals["means"].shape == (2, 2, 2)
    np.testing.assert_allclose(result.intervals["means"],
                               np.quantile(result.draws["means"], [0.05, 0.95], axis=0))
    assert np.all(result.intervals["means"][0] <= result.intervals["means"][1])
    np.testing.assert_allclose(result.draws["weights"].sum(axis=1), 1.0)
    assert result.standard_errors["means"].shape == (2, 2)
    assert isinstance(result.params, GMMParams) and not result.failed.any()
    assert result.level == 0.9 and result.converged.all()


def test_permute_moves_per_component_parameters_only():
    rng = np.random.default_rng(0)
    perms = np.array([[1, 0, 2], [2, 1, 0]])
    for ctype, shape in [("full", (2, 3, 2, 2)), ("tied", (2, 2, 2)), ("diag", (2, 3, 2)),
                         ("spherical", (2, 3))]:
        params = GMMParams(rng.random((2, 3)), rng.random((2, 3, 2)), rng.random(shape))
        out = relabel.permute_components(params, perms, ctype)
        for b in range(2):
            np.testing.assert_array_equal(out.means[b], params.means[b, perms[b]])
            np.testing.assert_array_equal(out.weights[b], params.weights[b, perms[b]])
            expected = (params.precisions_cholesky[b] if ctype == "tied"
                        else params.precisions_cholesky[b, perms[b]])
            np.testing.assert_array_equal(out.precisions_cholesky[b], expected)


@pytest.mark.parametrize("kwargs,match", [
    (dict(n_boot=0), "'n_boot' must be an integer >= 1"),
    (dict(level=1.5), r"'level': 1.5; 'level' must be in \(0, 1\)"),
    (dict(init="warm"), r"'init' should be in \['full_fit', 'fresh'\]"),
    (dict(covariance_type="banded"), "'covariance_type' should be in"),
    (dict(n_components=0), "'n_components' must be an integer >= 1"),
    (dict(batch_size=0), "'batch_size' must be an integer >= 1"),
])
def test_bootstrap_bad_arguments_raise_clear_errors(rng, kwargs, match):
    arguments = dict(n_boot=10, n_components=2) | kwargs
    n_boot = arguments.pop("n_boot")
    with pytest.raises(ValueError, match=match):
        resampling.bootstrap(jax.random.key(0), rng.normal(size=(20, 2)), n_boot, **arguments)
