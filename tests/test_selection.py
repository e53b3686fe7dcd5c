"""Model selection: padded sweeps, information criteria, the estimator front end, the plot."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bayesgmm import density, em, init, selection, stats
from bayesgmm.covariance import COVARIANCE_TYPES
from bayesgmm.covariance import n_parameters
from bayesgmm.estimator import GaussianMixture
from bayesgmm.estimator_ic import GaussianMixtureIC, select
from bayesgmm.exceptions import NotFittedError

# scikit-learn's best BIC over K = 1..9 x four types on Old Faithful, n_init=10, random_state=0
# (tied, K = 3). Recomputed by test_faithful_sweep_against_sklearn_full_grid (slow, ~1 min).
SKLEARN_BEST_BIC = 2315.6452381274585
N_INIT = 10
KEY = jax.random.key(0)


@pytest.fixture(scope="module")
def faithful_data():
    from bayesgmm import datasets
    return datasets.load("faithful").data


@pytest.fixture(scope="module")
def faithful_sweep(faithful_data):
    return selection.bic_sweep(KEY, faithful_data, n_init=N_INIT)


# ------------------------------------------------------------------------------ the sweep

def test_faithful_sweep_selects_tied_three_and_beats_sklearn(faithful_sweep, faithful_data):
    from sklearn.mixture import GaussianMixture as SkGaussianMixture
    assert (faithful_sweep.best_covariance_type, faithful_sweep.best_n_components) == ("tied", 3)
    best_bic = faithful_sweep.table["bic"][faithful_sweep.best_index]
    assert best_bic <= SKLEARN_BEST_BIC + 1e-6
    reference = SkGaussianMixture(3, covariance_type="tied", n_init=N_INIT,
                                  random_state=0).fit(faithful_data)
    assert best_bic <= reference.bic(faithful_data) + 1e-6


@pytest.mark.slow
def test_faithful_sweep_against_sklearn_full_grid(faithful_sweep, faithful_data):
    from sklearn.mixture import GaussianMixture as SkGaussianMixture
    bics = {(t, k): SkGaussianMixture(k, covariance_type=t, n_init=N_INIT, random_state=0)
            .fit(faithful_data).bic(faithful_data)
            for t in COVARIANCE_TYPES for k in range(1, 10)}
    assert min(bics, key=bics.get) == ("tied", 3)
    assert faithful_sweep.table["bic"][faithful_sweep.best_index] <= min(bics.values()) + 1e-6


def test_table_has_one_row_per_model_and_consistent_columns(faithful_sweep, faithful_data):
    table = faithful_sweep.table
    n, d = faithful_data.shape
    assert len(table["bic"]) == 36
    assert list(table["covariance_type"][::9]) == list(COVARIANCE_TYPES)
    assert np.array_equal(table["n_components"][:9], np.arange(1, 10))
    expected_p = [n_parameters(k, d, t) for t, k in zip(table["covariance_type"],
                                                         table["n_components"])]
    assert np.array_equal(table["n_parameters"], expected_p)
    np.testing.assert_allclose(table["bic"], -2 * table["log_likelihood"]
                               + table["n_parameters"] * math.log(n))
    np.testing.assert_allclose(table["aic"], -2 * table["log_likelihood"]
                               + 2 * table["n_parameters"])
    assert table["converged"].dtype == bool and table["converged"].all()
    # K = 1 is the same Gaussian for full and tied.
    np.testing.assert_allclose(table["log_likelihood"][0], table["log_likelihood"][9])


def test_icl_is_bic_plus_twice_the_entropy_of_the_responsibilities(faithful_sweep,
                                                                   faithful_data):
    X = jnp.asarray(faithful_data)
    evaluate = jax.jit(density.log_prob_and_responsibilities, static_argnums=2)
    for ctype, k in [("full", 1), ("tied", 3), ("diag", 4), ("spherical", 7)]:
        params = faithful_sweep.fit_result(ctype, k).params
        log_prob, log_resp = evaluate(X, params, ctype)
        resp = np.exp(np.asarray(log_resp))
        entropy = -np.sum(resp * np.where(resp > 0, np.asarray(log_resp), 0.0))
        bic = -2 * float(jnp.sum(log_prob)) + n_parameters(k, 2, ctype) * math.log(len(X))
        row = np.flatnonzero((faithful_sweep.table["covariance_type"] == ctype)
                             & (faithful_sweep.table["n_components"] == k))[0]
        np.testing.assert_allclose(faithful_sweep.table["bic"][row], bic, rtol=1e-10)
        np.testing.assert_allclose(faithful_sweep.table["icl"][row], bic + 2 * entropy,
                                   rtol=1e-10)
        assert (entropy > 1e-8) == (k > 1)


# Each case compiles one fit_em: three cases keep the suite quick; the masked M-step test
# below covers all four covariance families.
@pytest.mark.parametrize("ctype,k", [("full", 2), ("tied", 3), ("spherical", 9)])
def test_padded_fit_equals_unpadded_fit(faithful_sweep, faithful_data, ctype, k):
    # Row (type, K) of the sweep is fitted padded to K = 9 with the same key as this fit.
    padded = faithful_sweep.fit_result(ctype, k)
    plain = em.fit_em(KEY, faithful_data, n_components=k, covariance_type=ctype,
                      n_init=N_INIT)
    assert int(padded.n_iter) == int(plain.n_iter)
    np.testing.assert_allclose(padded.lower_bound, plain.lower_bound, rtol=1e-12)
    np.testing.assert_allclose(padded.restart_lower_bounds, plain.restart_lower_bounds,
                               rtol=1e-12)
    for a, b in zip(padded.params, plain.params):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_padded_components_have_zero_weight_and_finite_parameters(faithful_sweep):
    fits = faithful_sweep.fits["full"]
    for i, k in enumerate(range(1, 10)):
        assert np.all(fits.params.weights[i, k:] == 0.0)
        np.testing.assert_allclose(fits.params.weights[i, :k].sum(), 1.0)
        assert np.all(np.isfinite(fits.params.means[i]))
        assert np.all(np.isfinite(fits.params.precisions_cholesky[i]))


def test_masked_m_step_excludes_padding_from_tied_covariance(rng):
    X = jnp.asarray(rng.normal(size=(50, 3)))
    resp = jax.nn.softmax(jnp.asarray(rng.normal(size=(50, 2))), axis=1)
    padded_resp = jnp.concatenate([resp, jnp.zeros((50, 2))], axis=1)

    @jax.jit
    def fit(resp, mask):
        shift = jnp.zeros((resp.shape[1], 3))
        return {ctype: stats.m_step(stats.from_responsibilities(X, resp, shift, ctype), shift,
                                    ctype, 1e-6, component_mask=mask)
                for ctype in COVARIANCE_TYPES}

    plain_fits = fit(resp, None)
    padded_fits = fit(padded_resp, jnp.arange(4) < 2)
    for ctype in COVARIANCE_TYPES:
        plain, padded = plain_fits[ctype], padded_fits[ctype]
        assert np.all(np.asarray(padded.weights[2:]) == 0.0)
        np.testing.assert_allclose(padded.weights[:2], plain.weights, rtol=1e-14)
        np.testing.assert_allclose(padded.means[:2], plain.means, rtol=1e-13)
        pc = padded.precisions_cholesky if ctype == "tied" else padded.precisions_cholesky[:2]
        np.testing.assert_allclose(pc, plain.precisions_cholesky, rtol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3, 8])
def test_padded_kmeans_plusplus_seeds_as_unpadded(rng, k):
    X = jnp.asarray(rng.normal(size=(200, 2)))
    key = jax.random.key(3)
    plain = init.kmeans_plusplus(key, X, k)
    padded = init.kmeans_plusplus(key, X, 12, n_active=jnp.int32(k))
    np.testing.assert_array_equal(padded[:k], plain)
    np.testing.assert_array_equal(padded[k:], 0)


@pytest.mark.parametrize("shared", [True, False])
def test_sweep_compiles_once_per_program(rng, monkeypatch, shared):
    # Small data: one program for both types; above em.SHARED_PROGRAM_MAX_SIZE one per type.
    if not shared:
        monkeypatch.setattr(em, "SHARED_PROGRAM_MAX_SIZE", 0)
    # Shapes no other test sweeps, so not in the jit cache.
    X = rng.normal(size=(61 if shared else 63, 2))
    X[:30] += 4.0
    before = selection.TRACE_COUNTS.copy()
    kmeans_before = selection._sweep_kmeans._cache_size()
    kwargs = dict(n_components=range(1, 6), covariance_types=("diag", "spherical"))
    selection.bic_sweep(KEY, X, max_iter=37, **kwargs)
    after_first = selection.TRACE_COUNTS.copy()
    if shared:
        assert after_first - before == {"shared": 1}
    else:
        assert after_first - before == {"diag": 1, "spherical": 1}
    # k-means ran in one program, shared by both types (one K group on small data).
    assert selection._sweep_kmeans._cache_size() - kmeans_before == 1
    # New key, data, restarts and iteration cap: no retrace (n_init and max_iter are traced).
    again = selection.bic_sweep(jax.random.key(1), X + 1.0, max_iter=12, n_init=3, **kwargs)
    assert selection.TRACE_COUNTS == after_first
    assert selection._sweep_kmeans._cache_size() - kmeans_before == 1
    assert again.fits["diag"].restart_lower_bounds.shape == (5, 3)
    assert again.fits["diag"].lower_bounds.shape == (5, 12)
    assert np.all(again.table["n_iter"] <= 12)


def test_k_groups():
    assert selection.k_groups([1, 2, 3], 272, 2) == [[1, 2, 3]]  # small data: one program
    big = selection.K_GROUP_MIN_SIZE
    assert selection.k_groups(list(range(1, 10)), big, 1) == [[1, 2], [3, 4], [5, 6, 7, 8, 9]]
    assert selection.k_groups([2, 7, 8], big, 1) == [[2], [7, 8]]
    assert selection.k_groups([4], big, 1) == [[4]]


def test_sweep_in_k_groups_equals_one_program(faithful_data, monkeypatch):
    # Padding each K to its group's largest K instead of the grid's changes only the shapes
    # XLA sums over: the same fits to rounding.
    kwargs = dict(n_components=range(1, 7), covariance_types=("full", "tied"), n_init=2)
    one = selection.bic_sweep(KEY, faithful_data, **kwargs)
    monkeypatch.setattr(selection, "K_GROUP_MIN_SIZE", 1)
    grouped = selection.bic_sweep(KEY, faithful_data, **kwargs)
    for column in ("bic", "log_likelihood", "lower_bound", "n_iter"):
        np.testing.assert_allclose(grouped.table[column], one.table[column], rtol=1e-9)
    for ctype in kwargs["covariance_types"]:
        for a, b in zip(grouped.fits[ctype].params, one.fits[ctype].params):
            assert a.shape == b.shape
        np.testing.assert_allclose(grouped.fit_result(ctype, 4).params.means,
                                   one.fit_result(ctype, 4).params.means, rtol=1e-8)


def test_sweep_in_float32_matches_float64(faithful_sweep, faithful_data):
    r32 = selection.bic_sweep(KEY, faithful_data.astype(np.float32), n_init=N_INIT,
                              covariance_types=("tied",))
    assert r32.best_params.means.dtype == np.float32
    assert r32.best_n_components == 3
    # Same models to float32 accuracy; a few rows stop at a neighbouring optimum (e.g. tied
    # K = 3 at scikit-learn's 2315.65 rather than 2314.99), hence 1e-3.
    np.testing.assert_allclose(r32.table["bic"], faithful_sweep.table["bic"][9:18], rtol=1e-3)
    np.testing.assert_allclose(r32.table["bic"][:2], faithful_sweep.table["bic"][9:11],
                               rtol=1e-6)


def test_criterion_picks_the_minimum_of_its_column(faithful_sweep, faithful_data):
    for criterion in ("aic", "icl"):
        result = selection.bic_sweep(KEY, faithful_data, n_init=N_INIT, criterion=criterion)
        assert result.best_index == int(np.nanargmin(result.table[criterion]))
    assert faithful_sweep.criterion_table()["tied"][3] == pytest.approx(
        faithful_sweep.table["bic"][faithful_sweep.best_index])


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(criterion="loglik"), ValueError, "'criterion' should be in"),
    (dict(covariance_types=("full", "banded")), ValueError, "'covariance_type' should be in"),
    (dict(covariance_types=()), ValueError, "covariance_types is empty"),
    (dict(n_components=[]), ValueError, "n_components is empty"),
    (dict(n_components=[0, 1]), ValueError, "'n_components': 0; 'n_components' must be an "
                                            "integer >= 1"),
    (dict(n_components=[1, 2.5]), ValueError, "'n_components': 2.5; 'n_components' must be an "
                                              "integer >= 1"),
    (dict(n_components=None), TypeError, "an int or an iterable of ints"),
    (dict(n_components=[300]), ValueError, "n_components = 300, n_samples = 272"),
    (dict(n_init=0), ValueError, "'n_init' must be an integer >= 1"),
    (dict(tol=-1.0), ValueError, "'tol' must be a finite non-negative"),
    (dict(init_params="hierarchical"), ValueError, "'init_params' should be in"),
])
def test_bad_arguments_raise_clear_errors(faithful_data, kwargs, error, match):
    with pytest.raises(error, match=match):
        selection.bic_sweep(KEY, faithful_data, **kwargs)


@pytest.mark.parametrize("X,error,match", [
    (np.ones(10), ValueError, "Expected 2D array, got 1D array"),
    (np.ones((0, 2)), ValueError, r"Found array with 0 sample\(s\)"),
    (np.array([[1.0, np.nan], [2.0, 3.0]]), ValueError, r"contains NaN in 1 row\(s\)"),
    (np.ones((4, 2), complex), TypeError, "real numbers"),
    (np.array([["a", "b"]]), ValueError, "must contain numbers"),
])
def test_bad_data_raise_clear_errors(X, error, match):
    with pytest.raises(error, match=match):
        selection.bic_sweep(KEY, X, n_components=[1])


def test_fit_result_of_unknown_model_raises(faithful_sweep):
    with pytest.raises(ValueError, match="no model with covariance_type='full' and "
                                         "n_components=12"):
        faithful_sweep.fit_result("full", 12)


# ------------------------------------------------------------------- estimator front end

def test_gaussian_mixture_ic_keeps_the_best_fitted_gaussian_mixture(faithful_sweep,
                                                                    faithful_data):
    model = GaussianMixtureIC(n_init=N_INIT, random_state=KEY).fit(faithful_data)
    assert (model.n_components_, model.covariance_type_) == (3, "tied")
    best = model.best_estimator_
    assert isinstance(best, GaussianMixture)
    assert best.n_components == 3 and best.covariance_type == "tied"
    np.testing.assert_allclose(best.bic(faithful_data), model.criterion_, rtol=1e-10)
    np.testing.assert_allclose(model.table_["bic"], faithful_sweep.table["bic"])
    assert set(model.bic_) == set(COVARIANCE_TYPES) and set(model.bic_["full"]) == set(range(1, 10))
    assert model.icl_["tied"][3] >= model.bic_["tied"][3]
    np.testing.assert_array_equal(model.predict(faithful_data), best.predict(faithful_data))
    # The kept model is the one a standalone fit with the same random state gives.
    refit = GaussianMixture(3, covariance_type="tied", n_init=N_INIT,
                            random_state=KEY).fit(faithful_data)
    np.testing.assert_allclose(refit.means_, best.means_, rtol=1e-10)
    assert refit.n_iter_ == best.n_iter_


def test_tables_turn_into_pandas_frames(faithful_sweep):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(faithful_sweep.table)
    assert frame.shape == (36, 11)  # 10 columns and mclust's hard ICL, icl_hard
    bic = pd.DataFrame(faithful_sweep.criterion_table("bic"))
    assert list(bic.columns) == list(COVARIANCE_TYPES) and list(bic.index) == list(range(1, 10))
    assert bic.stack().idxmin() == (3, "tied")


def test_select_returns_a_fitted_gaussian_mixture(faithful_data):
    best = select(faithful_data, n_components=[1, 2, 3], covariance_type="tied", n_init=2,
                  random_state=0)
    table = best.selection_table_
    assert isinstance(best, GaussianMixture) and best.covariance_type == "tied"
    assert table["bic"].shape == (3,)
    assert best.n_components == table["n_components"][np.argmin(table["bic"])]
    assert best.predict_proba(faithful_data).shape == (272, best.n_components)


def test_gaussian_mixture_ic_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        GaussianMixtureIC().predict(np.ones((3, 2)))


def test_gaussian_mixture_ic_validates_input():
    with pytest.raises(ValueError, match="Expected 2D array"):
        GaussianMixtureIC().fit(np.ones(5))
    with pytest.raises(ValueError, match="Invalid parameter 'k'"):
        GaussianMixtureIC().set_params(k=3)


# -------------------------------------------------------------------------------- plot

def test_gaussian_mixture_ic_plots_its_sweep(faithful_data, tmp_path):
    pytest.importorskip("matplotlib")
    with pytest.raises(NotFittedError, match="not fitted yet"):
        GaussianMixtureIC().plot()
    model = GaussianMixtureIC([1, 2, 3], covariance_type=("tied", "full"),
                              random_state=0).fit(faithful_data)
    fig = model.plot(tmp_path / "bic.png", criterion="aic")
    assert (tmp_path / "bic.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig.axes[0].get_ylabel() == "AIC (lower is better)"


def test_sweep_progress_reports_each_covariance_type(faithful):
    lines = []
    sweep = selection.bic_sweep(jax.random.key(0), faithful, n_components=range(1, 4),
                                covariance_types=("diag", "spherical"), progress=lines.append)
    assert len(lines) == 2
    best_diag = sweep.criterion_table("bic")["diag"]
    assert lines[0].startswith("EM sweep      diag: K = 1..3, best BIC at K = "
                               f"{min(best_diag, key=best_diag.get)}, ")
    assert "spherical" in lines[1]
