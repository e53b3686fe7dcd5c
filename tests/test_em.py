"""EM against scikit-learn and closed forms, and its structural properties."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bayesgmm import covariance, em, stats
from bayesgmm.em import fit_em
from bayesgmm.params import GMMParams

sklearn_mixture = pytest.importorskip("sklearn.mixture")
TYPES = covariance.COVARIANCE_TYPES


def sklearn_start(X, covariance_type, k=3, seed=0):
    """Initial parameters: scikit-learn after two EM steps from its own k-means init."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = sklearn_mixture.GaussianMixture(k, covariance_type=covariance_type, max_iter=2,
                                            random_state=seed).fit(X)
    return dict(weights_init=g.weights_, means_init=g.means_, precisions_init=g.precisions_)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_same_start_same_answer_as_scikit_learn(faithful, covariance_type):
    start = sklearn_start(faithful, covariance_type)
    reference = sklearn_mixture.GaussianMixture(3, covariance_type=covariance_type, tol=1e-6,
                                                max_iter=300, **start).fit(faithful)
    result = fit_em(jax.random.key(0), faithful, n_components=3,
                    covariance_type=covariance_type, tol=1e-6, max_iter=300, **start)
    family = covariance.FAMILIES[covariance_type]
    assert int(result.n_iter) == reference.n_iter_
    assert bool(result.converged) == reference.converged_
    np.testing.assert_allclose(float(result.lower_bound), reference.lower_bound_, rtol=1e-8)
    np.testing.assert_allclose(result.params.weights, reference.weights_, rtol=1e-6)
    np.testing.assert_allclose(result.params.means, reference.means_, rtol=1e-6)
    np.testing.assert_allclose(family.covariances(result.params.precisions_cholesky),
                               reference.covariances_, rtol=1e-6)
    np.testing.assert_allclose(result.lower_bounds[:reference.n_iter_],
                               reference.lower_bounds_, rtol=1e-8)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_one_component_is_the_closed_form_mle(rng, covariance_type):
    X = rng.normal(size=(200, 3)) @ np.array([[2.0, 0, 0], [0.5, 1, 0], [0, -0.3, 0.2]]) + 5
    reg = 1e-6
    result = fit_em(jax.random.key(0), X, n_components=1, covariance_type=covariance_type,
                    reg_covar=reg)
    mean = X.mean(0)
    cov = (X - mean).T @ (X - mean) / len(X)
    expected = {"full": cov[None] + reg * np.eye(3), "tied": cov + reg * np.eye(3),
                "diag": np.diag(cov)[None] + reg, "spherical": np.diag(cov).mean()[None] + reg}
    got = covariance.FAMILIES[covariance_type].covariances(result.params.precisions_cholesky)
    np.testing.assert_allclose(result.params.means[0], mean, rtol=1e-12)
    np.testing.assert_allclose(got, expected[covariance_type], rtol=1e-10)
    np.testing.assert_allclose(result.params.weights, [1.0])


@pytest.mark.parametrize("covariance_type", TYPES)
def test_lower_bound_never_decreases(faithful, covariance_type):
    result = fit_em(jax.random.key(3), faithful, n_components=4, covariance_type=covariance_type,
                    init_params="random_from_data", tol=1e-8, max_iter=200)
    trace = np.asarray(result.lower_bounds)[:int(result.n_iter)]
    assert len(trace) > 5
    assert np.all(np.diff(trace) >= -1e-10 * np.abs(trace[1:]))


def test_chunked_statistics_equal_unchunked(faithful):
    params = fit_em(jax.random.key(0), faithful, n_components=3, max_iter=3).params
    whole = em.e_step_statistics(faithful, params, "full", chunk_size=len(faithful))
    for chunk_size in (1, 7, 100, 271):
        chunked = em.e_step_statistics(faithful, params, "full", chunk_size=chunk_size)
        for a, b in zip(whole, chunked):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-9)


def test_float32_moments_all_components_at_once_equal_one_at_a_time(rng):
    # float32 matrix moments take one component at a time (lax.map) on a CPU when the chunk's
    # (rows, K, d) work exceeds 2**20 entries, and all components at once (vmap) in smaller
    # chunks and on accelerators.
    X = (rng.normal(size=(20_000, 8)) + 5 * rng.integers(0, 3, (20_000, 1))).astype(np.float32)
    params = fit_em(jax.random.key(0), X, n_components=8, max_iter=3).params  # 1.28e6 entries
    one_at_a_time = em.e_step_statistics(X, params, "full", chunk_size=len(X))
    at_once = em.e_step_statistics(X, params, "full", chunk_size=1000)
    for a, b in zip(one_at_a_time, at_once):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-3)


def test_default_chunk_size_is_larger_on_accelerators(monkeypatch):
    # On a CPU about 4 MiB of (rows, K, d) work: 2**19 float64 or 2**20 float32 entries.
    assert stats.default_chunk_size(1_000_000, 16, 16, np.float64) == 2048
    assert stats.default_chunk_size(1_000_000, 16, 16, np.float32) == 4096
    assert stats.default_chunk_size(300, 16, 16, np.float64) == 300
    assert stats.default_chunk_size(1_000_000, 3, 2, np.float64) == 65_536
    assert stats.default_chunk_size(1_000_000, 64, 64, np.float64) == 256  # the floor
    # The diagonal families' chunks (elementwise work only) hold 32 MiB.
    for ctype in ("diag", "spherical", "VVI"):
        assert stats.default_chunk_size(1_000_000, 16, 16, np.float64, ctype) == 16_384
    assert stats.default_chunk_size(1_000_000, 16, 16, np.float64, "tied") == 2048
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    for dtype in (np.float32, np.float64):
        assert stats.default_chunk_size(1_000_000, 16, 16, dtype) == 32_768
        assert stats.default_chunk_size(1_000_000, 3, 2, dtype) == 1_000_000  # 2**20 > N


def test_chunked_fit_equals_unchunked(faithful):
    start = sklearn_start(faithful, "full")
    one = fit_em(jax.random.key(0), faithful, n_components=3, chunk_size=272, **start)
    many = fit_em(jax.random.key(0), faithful, n_components=3, chunk_size=50, **start)
    assert int(one.n_iter) == int(many.n_iter)
    np.testing.assert_allclose(one.lower_bound, many.lower_bound, rtol=1e-13)
    for a, b in zip(one.params, many.params):
        np.testing.assert_allclose(a, b, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_float32_on_offset_data_agrees_with_float64(faithful, covariance_type):
    X = faithful + 1e4
    start = sklearn_start(faithful, covariance_type)
    start["means_init"] = start["means_init"] + 1e4
    f64 = fit_em(jax.random.key(0), X, n_components=3, covariance_type=covariance_type,
                 max_iter=20, tol=0.0, **start)
    f32 = fit_em(jax.random.key(0), X.astype(np.float32), n_components=3,
                 covariance_type=covariance_type, max_iter=20, tol=0.0, **start)
    assert f32.lower_bound.dtype == np.float32
    np.testing.assert_allclose(float(f32.lower_bound), float(f64.lower_bound), rtol=1e-4)
    np.testing.assert_allclose(f32.params.means, f64.params.means, rtol=1e-5)


def test_statistics_are_centred_so_float32_keeps_far_apart_clusters(rng):
    # Two tight clusters 1e4 apart: x x^T moments would lose every digit in float32.
    X = np.concatenate([rng.normal(size=(500, 2)), rng.normal(size=(500, 2)) + 1e4])
    start = dict(weights_init=[0.5, 0.5], means_init=[[0.5, 0.5], [1e4 - 0.5, 1e4]],
                 precisions_init=np.stack([np.eye(2)] * 2))
    f64 = fit_em(jax.random.key(0), X, n_components=2, **start)
    f32 = fit_em(jax.random.key(0), X.astype(np.float32), n_components=2, **start)
    f64_cov = covariance.FULL.covariances(f64.params.precisions_cholesky)
    f32_cov = covariance.FULL.covariances(f32.params.precisions_cholesky)
    np.testing.assert_allclose(f32_cov, f64_cov, rtol=1e-3, atol=1e-3)


def test_best_restart_wins(faithful):
    result = fit_em(jax.random.key(0), faithful, n_components=4, n_init=6,
                    init_params="random_from_data")
    bounds = np.asarray(result.restart_lower_bounds)
    assert float(result.lower_bound) == bounds.max()
    assert len(np.unique(np.round(bounds, 8))) > 1  # the restarts did differ


def test_restart_batches_give_the_same_result(faithful):
    sequential = fit_em(jax.random.key(0), faithful, n_components=3, n_init=4,
                        init_params="k-means++")
    batched = fit_em(jax.random.key(0), faithful, n_components=3, n_init=4,
                     init_params="k-means++", restart_batch_size=4)
    np.testing.assert_allclose(sequential.restart_lower_bounds, batched.restart_lower_bounds,
                               rtol=1e-10)


def test_integer_sample_weights_equal_repeated_rows(faithful, rng):
    weights = rng.integers(0, 4, size=len(faithful))
    start = sklearn_start(faithful, "full")
    weighted = fit_em(jax.random.key(0), faithful, n_components=3, sample_weight=weights,
                      **start)
    repeated = fit_em(jax.random.key(0), np.repeat(faithful, weights, axis=0), n_components=3,
                      **start)
    assert int(weighted.n_iter) == int(repeated.n_iter)
    np.testing.assert_allclose(weighted.lower_bound, repeated.lower_bound, rtol=1e-10)
    for a, b in zip(weighted.params, repeated.params):
        np.testing.assert_allclose(a, b, rtol=1e-8)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_every_initialisation_fits(faithful, init_params):
    result = fit_em(jax.random.key(0), faithful, n_components=3, init_params=init_params,
                    n_init=2)
    assert np.isfinite(float(result.lower_bound))
    np.testing.assert_allclose(np.sum(result.params.weights), 1.0)


def test_kmeans_init_finds_the_kmeans_centres(rng):
    from sklearn.cluster import KMeans

    from bayesgmm import init
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    X = np.concatenate([rng.normal(size=(100, 2)) + c for c in centres])
    ours = np.asarray(init.kmeans(jax.random.key(0), jnp.asarray(X), 3, chunk_size=64))
    theirs = KMeans(3, n_init=1, random_state=0).fit(X).cluster_centers_
    order = [np.argmin(np.linalg.norm(ours - c, axis=1)) for c in theirs]
    np.testing.assert_allclose(ours[order], theirs, rtol=1e-10)


def test_point_inits_put_one_point_per_component_with_reg_covar(faithful):
    from bayesgmm import init
    params = init.initialize(jax.random.key(0), jnp.asarray(faithful), 3, "full",
                             method="random_from_data",
                             reg_covar=0.5, chunk_size=64)
    assert all(any(np.allclose(m, x) for x in faithful) for m in np.asarray(params.means))
    np.testing.assert_allclose(covariance.FULL.covariances(params.precisions_cholesky),
                               np.stack([0.5 * np.eye(2)] * 3), rtol=1e-10, atol=1e-10)


def test_collapsed_data_raise_the_actionable_error():
    X = np.repeat([[1.0, 2.0], [3.0, 4.0]], 10, axis=0)
    with pytest.raises(ValueError, match="increase reg_covar, or scale the input data"):
        fit_em(jax.random.key(0), X, n_components=2, reg_covar=0.0)
    result = fit_em(jax.random.key(0), X, n_components=2)  # the default reg_covar copes
    assert np.isfinite(float(result.lower_bound))


def test_float32_failure_suggests_float64():
    X = np.repeat([[1.0, 2.0], [3.0, 4.0]], 10, axis=0).astype(np.float32)
    with pytest.raises(ValueError, match="float64"):
        fit_em(jax.random.key(0), X, n_components=2, reg_covar=0.0)


@pytest.mark.parametrize("X, error, message", [
    (np.ones((4, 2, 2)), ValueError, r"Expected 2D array, got 3D array instead \(X.shape="),
    (np.ones(4), ValueError, "Expected 2D array, got 1D array"),
    (np.ones((0, 2)), ValueError, r"Found array with 0 sample\(s\)"),
    (np.ones((4, 2), complex), TypeError, "Complex data not supported: X has dtype complex"),
])
def test_fit_em_checks_the_structure_of_x_with_check_arrays_messages(X, error, message):
    with pytest.raises(error, match=message):
        fit_em(jax.random.key(0), X, n_components=1)


def test_fit_em_computes_integer_data_in_the_default_float_dtype(faithful):
    result = fit_em(jax.random.key(0), np.round(faithful * 10).astype(np.int32), n_components=2)
    assert result.params.means.dtype == jnp.float64  # x64 is on in the tests


def test_fit_em_under_jit_returns_nan_instead_of_raising():
    X = np.repeat([[1.0, 2.0], [3.0, 4.0]], 10, axis=0)
    traced = jax.jit(lambda X: fit_em(jax.random.key(0), X, n_components=2, reg_covar=0.0,
                                      chunk_size=20))
    assert np.isnan(float(traced(X).lower_bound))


def test_m_step_keeps_exactly_zero_weight_components_at_zero(faithful):
    params = fit_em(jax.random.key(0), faithful, n_components=3, max_iter=2).params
    params = GMMParams(params.weights.at[2].set(0.0) / params.weights[:2].sum(), params.means,
                       params.precisions_cholesky)
    total = em.e_step_statistics(faithful, params, "full", chunk_size=100)
    assert float(total.n_k[2]) == 0.0
    new = stats.m_step(total, params.means, "full", 1e-6)
    assert float(new.weights[2]) < 1e-15
    assert np.all(np.isfinite(np.asarray(new.precisions_cholesky)))
