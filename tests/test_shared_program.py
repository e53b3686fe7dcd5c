"""scikit-learn's four covariance types in one compiled program on small data (issue 12):
the full family with its M-step projected onto the type (covariance.project), against each
type's own program."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bayesgmm import covariance, em, selection, stats
from bayesgmm.covariance import COVARIANCE_TYPES, STRUCTURES

KEY = jax.random.key(0)


def own_program(monkeypatch):
    """Every fit in the type's own program, as on data above the shared program's size."""
    monkeypatch.setattr(em, "SHARED_PROGRAM_MAX_SIZE", 0)


def random_statistics(rng, n_components, n_features, n_active, n_rows=50):
    X = rng.normal(size=(n_rows, n_features)) * rng.uniform(0.5, 3, n_features)
    resp = np.zeros((n_rows, n_components))  # padded components take no responsibility
    resp[:, :n_active] = rng.dirichlet(np.ones(n_active), size=n_rows)
    shift = jnp.asarray(rng.normal(size=(n_components, n_features)))
    return {ctype: stats.from_responsibilities(jnp.asarray(X), jnp.asarray(resp), shift, ctype)
            for ctype in COVARIANCE_TYPES}, shift


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("masked", [False, True])
def test_projected_m_step_is_the_types_own_m_step(rng, covariance_type, masked):
    totals, shift = random_statistics(rng, 4, 3, n_active=3 if masked else 4)
    mask = jnp.asarray([True, True, True, False]) if masked else None
    own = stats.m_step(totals[covariance_type], shift, covariance_type, 1e-6,
                       component_mask=mask)
    shared = stats.m_step(totals["full"], shift, "full", 1e-6, component_mask=mask,
                          structure=jnp.int32(STRUCTURES[covariance_type]))
    np.testing.assert_allclose(shared.weights, own.weights, rtol=1e-14)
    np.testing.assert_allclose(shared.means, own.means, rtol=1e-13)
    prec = np.asarray(shared.precisions_cholesky)
    # The active components' factors have the type's structure (padded ones: the identity).
    active = slice(0, 3) if masked else slice(None)
    np.testing.assert_array_equal(prec[active], covariance.to_full_storage(
        covariance.from_full_storage(prec, covariance_type), covariance_type, 4, 3)[active])
    if masked:
        np.testing.assert_array_equal(prec[3], np.eye(3))
    if covariance_type == "tied":
        active = slice(None)
    np.testing.assert_allclose(covariance.from_full_storage(prec, covariance_type)[active],
                               np.asarray(own.precisions_cholesky)[active], rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_full_storage_round_trip(rng, covariance_type):
    shape = covariance.FAMILIES[covariance_type].shape(3, 2)
    prec = rng.uniform(0.5, 2, size=shape)
    if len(shape) == 3 or covariance_type == "tied":
        prec = np.tril(prec)
    full = covariance.to_full_storage(prec, covariance_type, 3, 2)
    assert isinstance(full, np.ndarray) and full.shape == (3, 2, 2)
    np.testing.assert_array_equal(covariance.from_full_storage(full, covariance_type), prec)
    # The full family reads the stored factors as the type's precision matrices.
    precisions = covariance.FAMILIES[covariance_type].precisions(jnp.asarray(prec))
    np.testing.assert_allclose(
        covariance.FULL.precisions(jnp.asarray(full)),
        covariance.to_full_storage(precisions, covariance_type, 3, 2), rtol=1e-14)


def assert_same_fit(shared, own, rtol):
    for a, b in zip(shared.params, own.params):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(shared.lower_bound, own.lower_bound, rtol=rtol)
    np.testing.assert_allclose(shared.restart_lower_bounds, own.restart_lower_bounds,
                               rtol=rtol)


FITS = {
    "kmeans, 3 restarts": dict(n_components=3, n_init=3),
    "k-means++, sample weights": dict(n_components=2, init_params="k-means++", weights=True),
    "random start": dict(n_components=3, init_params="random", n_init=2),
    "user means, hc start": dict(n_components=3, init_params="hc", user_means=True),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("case", list(FITS))
def test_shared_program_fits_as_the_types_own_program(faithful, rng, monkeypatch,
                                                      covariance_type, dtype, case):
    X = np.asarray(faithful, dtype)
    kwargs = dict(FITS[case])
    if kwargs.pop("weights", False):
        kwargs["sample_weight"] = rng.integers(1, 4, len(X)).astype(dtype)
    if kwargs.pop("user_means", False):
        kwargs["means_init"] = X[[0, 100, 200]]
    if dtype == np.float32:
        # Rounding may move float32's stop by an iteration: run a fixed number instead.
        kwargs.update(tol=0.0, max_iter=20)
    assert em.shares_program(covariance_type, em.row_bucket(len(X)),
                             em.kmeans_bucket(kwargs["n_components"]), 2)
    shared = em.fit_em(KEY, X, covariance_type=covariance_type, **kwargs)
    own_program(monkeypatch)
    own = em.fit_em(KEY, X, covariance_type=covariance_type, **kwargs)
    assert int(shared.n_iter) == int(own.n_iter)
    assert_same_fit(shared, own, rtol=1e-10 if dtype == np.float64 else 1e-4)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_warm_start_from_a_given_fit(faithful, monkeypatch, covariance_type):
    # All three parameters given (has_init) and a previous lower bound: scikit-learn's
    # warm start, converted into the full storage and back.
    first = em.fit_em(KEY, faithful, n_components=3, covariance_type=covariance_type,
                      max_iter=5)
    start = dict(weights_init=first.params.weights, means_init=first.params.means,
                 precisions_cholesky_init=first.params.precisions_cholesky,
                 previous_lower_bound=float(first.lower_bound))
    shared = em.fit_em(KEY, faithful, n_components=3, covariance_type=covariance_type, **start)
    own_program(monkeypatch)
    own = em.fit_em(KEY, faithful, n_components=3, covariance_type=covariance_type, **start)
    assert int(shared.n_iter) == int(own.n_iter)
    assert_same_fit(shared, own, rtol=1e-10)


def test_sweep_in_the_shared_program_equals_the_per_type_programs(faithful, monkeypatch):
    kwargs = dict(n_components=range(1, 5), n_init=2)
    before = selection.TRACE_COUNTS.copy()
    shared = selection.bic_sweep(KEY, faithful, **kwargs)
    hc = selection.bic_sweep(KEY, faithful, init_params="hc", **kwargs)
    assert (selection.TRACE_COUNTS - before).keys() == {"shared"}
    own_program(monkeypatch)
    own = selection.bic_sweep(KEY, faithful, **kwargs)
    own_hc = selection.bic_sweep(KEY, faithful, init_params="hc", **kwargs)
    for a, b in ((shared, own), (hc, own_hc)):
        for column in ("bic", "log_likelihood", "lower_bound", "icl", "n_iter"):
            np.testing.assert_allclose(a.table[column], b.table[column], rtol=1e-10)
        for ctype in COVARIANCE_TYPES:
            for x, y in zip(a.fits[ctype].params, b.fits[ctype].params):
                assert x.shape == y.shape
                np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12)


def test_full_storage_of_mclust_models_follows_their_storage(rng):
    # VVI is stored as diag (K, d), VII as spherical (K,), EEE as K full copies.
    diag, spherical = rng.uniform(0.5, 2, (3, 2)), rng.uniform(0.5, 2, 3)
    np.testing.assert_array_equal(covariance.to_full_storage(diag, "VVI", 3, 2),
                                  covariance.to_full_storage(diag, "diag", 3, 2))
    np.testing.assert_array_equal(covariance.to_full_storage(spherical, "VII", 3, 2),
                                  covariance.to_full_storage(spherical, "spherical", 3, 2))
    full = rng.uniform(size=(3, 2, 2))
    assert covariance.to_full_storage(full, "EEE", 3, 2) is full
