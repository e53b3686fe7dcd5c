"""Refits that do not compile: row buckets, traced n_init and max_iter (issue 12).

A program is counted by the size of the jitted function's cache: a refit that reuses a
compiled program adds no entry.
"""

import os
import re
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bayesgmm import GaussianMixture, em
from bayesgmm.params import precisions_and_covariances
from bayesgmm.validation import key_from_random_state

sklearn_model_selection = pytest.importorskip("sklearn.model_selection")


def programs():
    return em._fit_em._cache_size()


def test_row_bucket():
    assert [em.row_bucket(n) for n in (1, 272, 1024)] == [1024] * 3
    assert em.row_bucket(1025) == 1152  # 8 buckets per octave above the smallest
    for n in (1025, 3000, 99_999, 100_000, 500_001, em.MAX_ROW_BUCKET - 1):
        bucket = em.row_bucket(n)
        assert n <= bucket < 1.125 * n + 1
        assert em.row_bucket(bucket) == bucket
    assert em.row_bucket(em.MAX_ROW_BUCKET + 7) == em.MAX_ROW_BUCKET + 7  # no padding


def test_pad_rows_weights_only_the_real_rows(rng):
    X = rng.normal(size=(5, 2))
    padded, weight = em.pad_rows(X, None, 8)
    assert padded.shape == (8, 2) and np.array_equal(padded[:5], X)
    assert np.array_equal(padded[5:], np.repeat(X[-1:], 3, axis=0))
    assert np.array_equal(weight, [1, 1, 1, 1, 1, 0, 0, 0])
    _, weight = em.pad_rows(X, np.arange(5.0), 8)
    assert np.array_equal(weight, [0, 1, 2, 3, 4, 0, 0, 0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_padded_fit_equals_unpadded_fit_from_the_same_start(faithful, covariance_type, dtype):
    # Zero-weight rows add exact zeros to every statistic; only the order in which XLA sums
    # (reductions over 1024 rows instead of 272) differs, so the two agree to rounding, not
    # bit for bit.
    X = np.asarray(faithful, dtype)
    family_shape = {"full": (3, 2, 2), "tied": (2, 2), "diag": (3, 2), "spherical": (3,)}
    start = dict(weights_init=np.full(3, 1 / 3), means_init=X[[0, 100, 200]],
                 precisions_cholesky_init=np.broadcast_to(
                     0.3 * (np.eye(2) if covariance_type in ("full", "tied") else 1.0),
                     family_shape[covariance_type]))
    padded = em.fit_em(jax.random.key(0), X, n_components=3, covariance_type=covariance_type,
                       **start)
    unpadded = em._fit_em(
        jax.random.key(0), jnp.asarray(X), None,
        *(jnp.asarray(start[k], dtype) for k in ("weights_init", "means_init",
                                                 "precisions_cholesky_init")),
        jnp.asarray(1e-3, dtype), jnp.asarray(1e-6, dtype), n_components=3,
        covariance_type=covariance_type, max_iter=100, n_init=1, init_params="kmeans",
        chunk_size=272, restart_batch_size=1, has_init=True, max_iter_capacity=100,
        n_init_capacity=1)
    assert padded.params.means.dtype == dtype
    assert int(padded.n_iter) == int(unpadded.n_iter)
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    for a, b in zip(padded.params, unpadded.params):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(padded.lower_bound, unpadded.lower_bound, rtol=rtol)
    np.testing.assert_allclose(padded.lower_bounds, unpadded.lower_bounds, rtol=rtol)


def test_loops_over_n_init_and_max_iter_compile_once(rng):
    X = rng.normal(size=(301, 3))
    before = programs()
    results = [em.fit_em(jax.random.key(0), X, n_components=2, n_init=n_init, max_iter=max_iter)
               for n_init in (1, 2, 5, 16) for max_iter in (0, 1, 7, 100, 1024)]
    assert programs() - before == 1
    for r, (n_init, max_iter) in zip(results, [(a, b) for a in (1, 2, 5, 16)
                                               for b in (0, 1, 7, 100, 1024)]):
        assert r.restart_lower_bounds.shape == (n_init,)
        assert r.lower_bounds.shape == (max(max_iter, 1),)
        assert int(r.n_iter) <= max_iter
    # More restarts than the capacity: one new program, then reused.
    em.fit_em(jax.random.key(0), X, n_components=2, n_init=17, max_iter=5)
    em.fit_em(jax.random.key(0), X, n_components=2, n_init=30, max_iter=5)
    assert programs() - before == 2


def test_restart_results_do_not_depend_on_the_restart_count(faithful):
    # Restart i starts from split(key, n_init)[i] whatever n_init is: the best of the first
    # three restarts of a ten-restart fit is the three-restart fit.
    three = em.fit_em(jax.random.key(3), faithful, n_components=4, n_init=3)
    ten = em.fit_em(jax.random.key(3), faithful, n_components=4, n_init=10)
    np.testing.assert_array_equal(three.restart_lower_bounds, ten.restart_lower_bounds[:3])
    assert float(ten.lower_bound) >= float(three.lower_bound)


def test_grid_search_over_unequal_folds_compiles_once(faithful):
    search = sklearn_model_selection.GridSearchCV(
        GaussianMixture(covariance_type="diag", random_state=0),
        {"n_components": [2], "n_init": [1, 3], "max_iter": [20, 50]}, cv=5)
    em._fit_em.clear_cache()  # other tests may have compiled this program already
    before = programs()
    search.fit(faithful[:271])  # folds of 216 and 217 training rows
    assert programs() - before == 1


def test_bootstrap_of_subsamples_compiles_once(faithful, rng):
    em._fit_em.clear_cache()
    before = programs()
    for n in (150, 200, 250, 272, 1024):  # 1024: a bucket's exact size, no padding
        rows = rng.choice(len(faithful), n, replace=True)
        GaussianMixture(2, covariance_type="spherical", random_state=0).fit(faithful[rows])
    assert programs() - before == 1


def test_small_fits_of_every_type_and_nearby_k_share_one_em_program(faithful):
    # The three-fit script of benchmarks/latency.py, and the two other types: on small data
    # the four scikit-learn types run in one program (em.shares_program), K padded to 4.
    em._fit_em.clear_cache()
    for k, covariance_type in ((3, "full"), (4, "diag"), (2, "spherical"), (4, "tied")):
        GaussianMixture(k, covariance_type=covariance_type, n_init=10,
                        random_state=0).fit(faithful)
    GaussianMixture(3, random_state=0).fit(faithful[:200])
    assert programs() == 1
    assert em.shares_program("diag", 1024, 4, 2)
    assert not em.shares_program("diag", em.MAX_ROW_BUCKET, 4, 2)
    assert not em.shares_program("VVI", 1024, 4, 2)  # mclust's models keep their programs


def test_kmeans_is_one_program_for_nearby_k_and_every_type(rng):
    # k-means runs in its own program at K padded to a bucket (4 here): the scikit-learn
    # style script "K = 3 full, K = 4 diag, K = 2 spherical" compiles it once.
    X = rng.normal(size=(333, 3))
    em._kmeans_starts.clear_cache()  # other tests may have compiled this shape already
    before = em._kmeans_starts._cache_size()
    fits = [GaussianMixture(k, covariance_type=t, n_init=2, random_state=0).fit(X)
            for k, t in ((3, "full"), (4, "diag"), (2, "spherical"))]
    assert em._kmeans_starts._cache_size() - before == 1
    assert [f.means_.shape for f in fits] == [(3, 3), (4, 3), (2, 3)]


def test_shared_kmeans_start_equals_the_in_program_one(faithful):
    # The centres computed in their own program at a padded K are those the fit program
    # itself computes unpadded from the same key (fit_restarts without kmeans_centers).
    X = jnp.asarray(faithful)
    dtype = X.dtype
    inline = em._fit_em(jax.random.key(5), X, None, None, None, None, jnp.asarray(1e-3, dtype),
                        jnp.asarray(1e-6, dtype), n_components=3, covariance_type="full",
                        max_iter=100, n_init=4, init_params="kmeans",
                        chunk_size=len(faithful), restart_batch_size=1, has_init=False,
                        **em.bucketed_capacities(100, 4))
    shared = em.fit_em(jax.random.key(5), faithful, n_components=3, n_init=4)
    np.testing.assert_allclose(shared.restart_lower_bounds, inline.restart_lower_bounds[:4],
                               rtol=1e-5 if dtype == jnp.float32 else 1e-12)
    np.testing.assert_allclose(shared.params.means, inline.params.means,
                               rtol=1e-4 if dtype == jnp.float32 else 1e-10)


def programs_compiled_by(setup, code, timeout=300):
    """Names of the programs ``code`` compiles, run after ``setup`` in a new process (with
    bayesgmm's compilation cache off): in a new process every eager JAX operation on a new
    shape compiles a program of its own, 10-50 ms each on a 2-core CPU."""
    script = (textwrap.dedent(setup) + "\nimport jax\njax.config.update('jax_log_compiles', True)\n"
              + textwrap.dedent(code))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, BAYESGMM_CACHE_DIR="off"))
    assert done.returncode == 0, done.stderr[-2000:]
    return set(re.findall(r"Compiling jit\((\w+)\)", done.stderr))


#: Eager programs a caller's key split compiles (Threefry's split, and unstacking the pair).
KEY_SPLIT = {"_threefry_split", "unstack"}


def test_a_first_fit_compiles_its_programs_and_nothing_else():
    # No seeding of a key, no conversion of a Python number, no jnp.asarray copy: a first
    # fit compiles its k-means and EM programs, a sweep and a bootstrap their own (the
    # bootstrap's summaries convert its factors in precisions_and_covariances).
    compiled = programs_compiled_by("""
        from bayesgmm import GaussianMixture, bic_sweep, bootstrap, datasets
        from bayesgmm.validation import key_from_random_state
        X = datasets.load("faithful").data
        key = key_from_random_state(1)
    """, """
        GaussianMixture(3, n_init=2, random_state=0).fit(X)
        GaussianMixture(2, covariance_type="diag", random_state=0).fit(X[:200])
        bic_sweep(key, X, n_components=[1, 2], covariance_types=["spherical"], n_init=1)
        bootstrap(key, X, n_components=2, n_boot=10)
    """)
    programs = {"kmeans_starts", "fit_restarts", "precisions_and_covariances",
                "_sweep_kmeans", "_sweep_one_type", "_bootstrap_fits", "dense_matrices"}
    # The bootstrap gets a device array from check_data: its padding is one program.
    assert programs <= compiled <= programs | {"_pad_device_rows"} | KEY_SPLIT, compiled


def test_fitted_attributes_come_from_the_fit_program(faithful):
    # The precision and covariance attributes are computed in the EM program: the three
    # fits of benchmarks/latency.py's script compile two programs in all.
    compiled = programs_compiled_by("""
        from bayesgmm import GaussianMixture, datasets
        X = datasets.load("faithful").data
    """, """
        GaussianMixture(3, n_init=10, random_state=0).fit(X)
        GaussianMixture(4, covariance_type="diag", random_state=0).fit(X)
        GaussianMixture(3, random_state=0).fit(X[:200])
    """)
    assert {"kmeans_starts", "fit_restarts"} <= compiled
    assert compiled <= {"kmeans_starts", "fit_restarts"} | KEY_SPLIT, compiled
    for covariance_type in ("full", "tied", "diag", "spherical"):
        model = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(faithful)
        precisions, covariances = precisions_and_covariances(
            jnp.asarray(model.precisions_cholesky_), covariance_type)
        np.testing.assert_allclose(model.precisions_, precisions, rtol=1e-12)
        np.testing.assert_allclose(model.covariances_, covariances, rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 12345, 2 ** 31, 2 ** 32 - 1])
def test_key_from_an_integer_is_jax_random_key(seed):
    key = key_from_random_state(seed)
    assert key.dtype == jax.random.key(seed).dtype
    np.testing.assert_array_equal(jax.random.key_data(key),
                                  jax.random.key_data(jax.random.key(seed)))
