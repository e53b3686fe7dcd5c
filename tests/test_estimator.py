"""GaussianMixture as a drop-in for scikit-learn's: attributes, methods, errors."""

import warnings

import jax
import numpy as np
import pytest
import scipy.sparse

import bayesgmm
from bayesgmm import ConvergenceWarning, GaussianMixture, NotFittedError

sklearn_mixture = pytest.importorskip("sklearn.mixture")
TYPES = ("full", "tied", "diag", "spherical")


def fitted_pair(X, covariance_type, **kwargs):
    """A scikit-learn fit and a bayesgmm fit from the same initial parameters."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = sklearn_mixture.GaussianMixture(3, covariance_type=covariance_type, max_iter=2,
                                                random_state=0).fit(X)
    init = dict(weights_init=start.weights_, means_init=start.means_,
                precisions_init=start.precisions_)
    ours = GaussianMixture(3, covariance_type=covariance_type, **init, **kwargs).fit(X)
    theirs = sklearn_mixture.GaussianMixture(3, covariance_type=covariance_type, **init,
                                             **kwargs).fit(X)
    return ours, theirs


@pytest.mark.parametrize("covariance_type", TYPES)
def test_fitted_attributes_and_methods_equal_scikit_learn(faithful, covariance_type):
    ours, theirs = fitted_pair(faithful, covariance_type)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        got, want = getattr(ours, name), getattr(theirs, name)
        assert isinstance(got, np.ndarray) and got.shape == want.shape, name
        # the triangular factor is only defined up to orientation when given precisions_init
        if name != "precisions_cholesky_":
            np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=name)
    assert ours.n_iter_ == theirs.n_iter_ and ours.converged_ == theirs.converged_
    np.testing.assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=1e-8)
    np.testing.assert_allclose(ours.lower_bounds_, theirs.lower_bounds_, rtol=1e-8)
    assert ours.n_features_in_ == theirs.n_features_in_ == 2
    X = faithful[::7] + 0.3
    np.testing.assert_allclose(ours.score_samples(X), theirs.score_samples(X), rtol=1e-8)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-8)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.score(X), theirs.score(X), rtol=1e-8)
    np.testing.assert_allclose(ours.bic(X), theirs.bic(X), rtol=1e-8)
    np.testing.assert_allclose(ours.aic(X), theirs.aic(X), rtol=1e-8)


def test_predict_proba_rows_sum_to_one(faithful):
    model = GaussianMixture(3, random_state=0).fit(faithful)
    np.testing.assert_allclose(model.predict_proba(faithful).sum(1), 1.0, rtol=1e-12)


def test_fit_predict_equals_fit_then_predict(faithful):
    labels = GaussianMixture(3, random_state=1, n_init=2).fit_predict(faithful)
    model = GaussianMixture(3, random_state=1, n_init=2).fit(faithful)
    np.testing.assert_array_equal(labels, model.predict(faithful))


def test_same_random_state_gives_the_same_fit_bit_for_bit(faithful):
    a = GaussianMixture(3, random_state=7, init_params="k-means++").fit(faithful)
    b = GaussianMixture(3, random_state=7, init_params="k-means++").fit(faithful)
    np.testing.assert_array_equal(a.means_, b.means_)
    np.testing.assert_array_equal(a.precisions_cholesky_, b.precisions_cholesky_)


@pytest.mark.parametrize("random_state", [None, 3, np.random.RandomState(0),
                                          np.random.default_rng(0), jax.random.key(0),
                                          jax.random.PRNGKey(0)],
                         ids=["None", "int", "RandomState", "Generator", "key", "raw-key"])
def test_random_state_kinds(faithful, random_state):
    model = GaussianMixture(2, random_state=random_state).fit(faithful)
    assert np.isfinite(model.lower_bound_)


def test_bad_random_state_message(faithful):
    with pytest.raises(TypeError, match="random_state must be"):
        GaussianMixture(2, random_state="seed").fit(faithful)


def test_convergence_warning_when_max_iter_is_too_small(faithful):
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        model = GaussianMixture(3, max_iter=2, random_state=0).fit(faithful)
    assert not model.converged_ and model.n_iter_ == 2 and len(model.lower_bounds_) == 2


def test_warm_start_continues_from_the_previous_solution(faithful):
    model = GaussianMixture(3, random_state=0, warm_start=True, max_iter=3)
    with pytest.warns(ConvergenceWarning):
        model.fit(faithful)
    first = model.lower_bound_
    model.set_params(max_iter=100).fit(faithful)
    assert model.lower_bound_ >= first
    cold = GaussianMixture(3, random_state=0).fit(faithful)
    np.testing.assert_allclose(model.lower_bound_, cold.lower_bound_, rtol=1e-3)


def test_sample_shapes_labels_and_moments(faithful):
    model = GaussianMixture(2, random_state=0).fit(faithful)
    X, y = model.sample(20_000)
    assert X.shape == (20_000, 2) and y.shape == (20_000,)
    assert np.all(np.diff(y) >= 0)  # grouped by component, as scikit-learn returns them
    np.testing.assert_allclose(np.bincount(y) / len(y), model.weights_, atol=0.02)
    np.testing.assert_allclose(X.mean(0), model.weights_ @ model.means_, rtol=0.01)


def test_sample_draws_the_first_rows_of_one_compiled_draw(faithful):
    # Every n up to 1024 shares one program, and the rows are those of the unpadded draw.
    from bayesgmm import density, estimator
    from bayesgmm.validation import key_from_random_state
    model = GaussianMixture(3, covariance_type="tied", random_state=4).fit(faithful)
    estimator._sample.clear_cache()
    draws = {n: model.sample(n) for n in (1, 7, 1000, 1024)}
    assert estimator._sample._cache_size() == 1
    for n, (X, y) in draws.items():
        X_ref, y_ref = density.sample(key_from_random_state(4), model._params(), "tied", n)
        order = np.argsort(np.asarray(y_ref), kind="stable")
        np.testing.assert_array_equal(y, np.asarray(y_ref)[order])
        np.testing.assert_array_equal(X, np.asarray(X_ref)[order])


def test_sample_weight_changes_the_fit(faithful):
    weights = np.where(faithful[:, 0] > 3, 5.0, 1.0)
    weighted = GaussianMixture(2, random_state=0).fit(faithful, sample_weight=weights)
    plain = GaussianMixture(2, random_state=0).fit(faithful)
    heavy = np.argmax(weighted.means_[:, 0])
    assert weighted.weights_[heavy] > plain.weights_[np.argmax(plain.means_[:, 0])]


def test_get_set_params_and_clone():
    base = pytest.importorskip("sklearn.base")
    model = GaussianMixture(4, covariance_type="diag", tol=1e-4)
    params = model.get_params()
    assert params["n_components"] == 4 and params["covariance_type"] == "diag"
    assert set(params) >= {"n_components", "covariance_type", "tol", "reg_covar", "max_iter",
                           "n_init", "init_params", "weights_init", "means_init",
                           "precisions_init", "random_state", "warm_start", "verbose",
                           "verbose_interval"}
    clone = base.clone(model)
    assert clone.get_params() == params and clone is not model
    assert model.set_params(n_components=2) is model and model.n_components == 2
    assert repr(model) == "GaussianMixture(covariance_type='diag', n_components=2, tol=0.0001)"
    with pytest.raises(ValueError, match="Invalid parameter 'banana'"):
        model.set_params(banana=1)


def test_verbose_prints_progress(faithful, capsys):
    GaussianMixture(2, random_state=0, verbose=2, verbose_interval=1).fit(faithful)
    out = capsys.readouterr().out
    assert "Iteration 1" in out and "converged" in out


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples", "score",
                                    "bic", "aic"])
def test_not_fitted_error(faithful, method):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(GaussianMixture(2), method)(faithful)
    with pytest.raises(NotFittedError):
        GaussianMixture(2).sample(3)


BAD_DATA = [
    (np.array([1.0, 2.0, 3.0]), ValueError, "Expected 2D array, got 1D array"),
    (np.zeros((3, 2, 2)), ValueError, "Expected 2D array, got 3D array"),
    (np.zeros((0, 2)), ValueError, "at least one sample"),
    (np.array([[1.0, np.nan], [2.0, 3.0], [1.0, 1.0]]), ValueError, "contains NaN in 1 row"),
    (np.array([[1.0, np.inf], [2.0, 3.0], [1.0, 1.0]]), ValueError, "contains infinity"),
    (np.array([[1 + 1j, 2], [3, 4], [5, 6]]), TypeError, "Complex data not supported"),
    (np.array([["a", "b"], ["c", "d"], ["e", "f"]]), ValueError, "must contain numbers"),
    (np.array([[{}, 2], [3, 4], [5, 6]], dtype=object), TypeError, "must contain numbers"),
    (np.array([["2020-01-01"]] * 3, "M8[D]"), TypeError, "must contain numbers"),
    (scipy.sparse.csr_matrix(np.eye(3)), TypeError, "Sparse data was passed"),
    (np.zeros((3, 0)), ValueError, r"0 feature\(s\) \(shape=\(3, 0\)\)"),
    (np.array([[1.0, 2.0]]), ValueError, "Expected n_samples >= n_components"),
]


@pytest.mark.parametrize("X,error,message", BAD_DATA,
                         ids=["1d", "3d", "empty", "nan", "inf", "complex", "strings",
                              "objects", "dates", "sparse", "no-features", "too-few-rows"])
def test_bad_data_messages(X, error, message):
    with pytest.raises(error, match=message):
        GaussianMixture(2).fit(X)


def test_complex_data_is_both_a_type_error_and_scikit_learns_value_error():
    for error in (TypeError, ValueError):
        with pytest.raises(error, match="Complex data not supported"):
            GaussianMixture(1).fit(np.ones((3, 2), complex))


@pytest.mark.parametrize("dtype,expected", [(np.float32, np.float32), (np.float64, np.float64),
                                            (np.int64, np.float64), (np.float16, np.float64)])
def test_fit_keeps_float32_and_float64_with_x64_on(faithful, dtype, expected):
    # conftest turns x64 on; without it everything computes in float32 (tests/test_dtypes.py)
    X = (faithful * 10).astype(dtype)
    model = GaussianMixture(2, random_state=0).fit(X)
    assert model.means_.dtype == expected and model.covariances_.dtype == expected
    assert model.predict_proba(X).dtype == expected and model.score_samples(X).dtype == expected


BAD_PARAMS = [
    (dict(covariance_type="banana"), "'covariance_type' should be in"),
    (dict(init_params="banana"), "'init_params' should be in"),
    (dict(tol=-1.0), "'tol' must be a finite non-negative number"),
    (dict(reg_covar=-1e-6), "'reg_covar' must be a finite non-negative number"),
    (dict(n_init=0), "'n_init' must be an integer >= 1"),
    (dict(n_components=0), "'n_components' must be an integer >= 1"),
    (dict(n_components=2.5), "'n_components' must be an integer >= 1"),
    (dict(max_iter=-1), "'max_iter' must be an integer >= 0"),
    (dict(weights_init=[0.5, 0.5, 0.0]),
     r"The parameter 'weights' should have the shape of \(2,\), but got \(3,\) \(weights_init\)"),
    (dict(weights_init=[0.7, 0.7]), r"'weights' should be normalized, .* \(weights_init\)"),
    (dict(weights_init=[1.5, -0.5]), r"'weights' should be in the range \[0, 1\]"),
    (dict(means_init=np.zeros((2, 3))),
     r"'means' should have the shape of \(2, 2\), but got \(2, 3\) \(means_init\)"),
    (dict(precisions_init=np.ones((2, 2))),
     r"'full precision' should have the shape of \(2, 2, 2\), but got \(2, 2\) "
     r"\(precisions_init\)"),
    (dict(precisions_init=np.array([[[1.0, 2.0], [2.0, 1.0]]] * 2)),
     "should be symmetric, positive-definite"),
    (dict(covariance_type="diag", precisions_init=-np.ones((2, 2))),
     "'diag precision' should be positive"),
]


@pytest.mark.parametrize("params,message", BAD_PARAMS)
def test_bad_parameter_messages(faithful, params, message):
    with pytest.raises(ValueError, match=message):
        GaussianMixture(**{"n_components": 2, **params}).fit(faithful)


def test_feature_count_mismatch_at_predict(faithful):
    model = GaussianMixture(2, random_state=0).fit(faithful)
    with pytest.raises(ValueError, match="X has 3 features, but GaussianMixture is expecting 2"):
        model.predict(np.zeros((4, 3)))


def test_bad_sample_weight_messages(faithful):
    with pytest.raises(ValueError, match="sample_weight has shape"):
        GaussianMixture(2).fit(faithful, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="non-negative"):
        GaussianMixture(2).fit(faithful, sample_weight=-np.ones(len(faithful)))


@pytest.mark.parametrize("covariance_type", TYPES)
def test_from_em_result_equals_the_fit_without_fitting_again(faithful, covariance_type):
    model = GaussianMixture(2, covariance_type=covariance_type, tol=1e-4, random_state=0)
    model.fit(faithful)
    result = bayesgmm.fit_em(jax.random.key(0), faithful, n_components=2,
                             covariance_type=covariance_type, tol=1e-4)
    rebuilt = GaussianMixture.from_em_result(result, covariance_type=covariance_type,
                                             tol=1e-4, random_state=0)
    assert rebuilt.get_params() == model.get_params()
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_",
                 "lower_bounds_", "n_iter_", "converged_", "lower_bound_", "n_features_in_"):
        np.testing.assert_array_equal(getattr(rebuilt, name), getattr(model, name), name)
    np.testing.assert_array_equal(rebuilt.predict_proba(faithful), model.predict_proba(faithful))


def test_from_em_result_refuses_a_batch_and_a_wrong_covariance_type(faithful):
    batch = bayesgmm.fit_em_batch(jax.random.key(0), np.stack([faithful] * 2), n_components=2)
    with pytest.raises(ValueError,
                       match=r"result.params.means has shape \(2, 2, 2\), expected \(K, d\)"):
        GaussianMixture.from_em_result(batch, covariance_type="full")
    one = bayesgmm.fit_em(jax.random.key(0), faithful, n_components=2, covariance_type="diag")
    with pytest.raises(ValueError, match=r"precisions_cholesky has shape \(2, 2\), but "
                                         r"covariance_type 'full'"):
        GaussianMixture.from_em_result(one, covariance_type="full")
    with pytest.raises(ValueError, match="'tol' must be a finite non-negative number"):
        GaussianMixture.from_em_result(one, covariance_type="diag", tol=-1.0)


def test_ill_defined_covariance_raises_the_actionable_error():
    X = np.repeat([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]], 5, axis=0)
    with pytest.raises(ValueError, match="Try to decrease the number of components, increase "
                                         "reg_covar, or scale the input data"):
        GaussianMixture(3, reg_covar=0.0, random_state=0).fit(X)


def test_public_api_is_curated():
    assert set(bayesgmm.__all__) >= {"GaussianMixture", "fit_em", "EMResult", "GMMParams"}
    assert isinstance(bayesgmm.__version__, str)
