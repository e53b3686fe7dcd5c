"""Numerical stress: each case either fits with finite output or raises the actionable
error, and the test says which. Outcomes (scikit-learn's default reg_covar = 1e-6, float32
unless noted; every case was also tried in float64 and with all four covariance types, with
the same outcome):

=====================================  ========  ==============================================
case                                   outcome   why
=====================================  ========  ==============================================
offset by 1e6 (float32)                fits      data centred before any moment is taken;
                                                 equals the float64 fit of the same numbers
scaled by 1e-6 (float32)               fits      variance 1e-12 << reg_covar: the covariances
                                                 are reg_covar (scale the data to see structure)
offset 1e6 and scaled 1e-6 (float32)   fits      float32 cannot tell the rows apart (spacing
                                                 0.0625 at 1e6): identical points, see
                                                 tests/test_degenerate.py
K = 50 on N = 60                       fits      singleton components get reg_covar * I
K = 50 on N = 60, reg_covar = 0        raises    singleton covariances are zero
d = 64, full covariance                fits      ~150 rows per component, covariances regular
=====================================  ========  ==============================================
"""

import warnings

import numpy as np
import pytest

from bayesgmm import ConvergenceWarning, GaussianMixture

ACTIONABLE = "Try to decrease the number of components, increase reg_covar, or scale the input"


def two_clusters(rng, n=100, d=2):
    return np.concatenate([rng.normal(size=(n, d)), 0.5 * rng.normal(size=(n, d)) + 4.0])


def fit(X, n_components, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(n_components, random_state=0, **kwargs).fit(X)


def assert_finite_fit(model, X):
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert np.all(np.isfinite(getattr(model, name))), name
    assert np.isfinite(model.lower_bound_)
    assert np.all(np.isfinite(model.score_samples(X)))
    resp = model.predict_proba(X)
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, atol=1e-5)


def test_float32_data_offset_by_1e6_fits_as_float64_does():
    X = (two_clusters(np.random.default_rng(0)) + 1e6).astype(np.float32)
    model = fit(X, 2)
    assert model.means_.dtype == np.float32
    assert_finite_fit(model, X)
    # the same numbers in float64: float32 loses nothing beyond its rounding, because the
    # moments are taken around the data's mean and the current means
    reference = fit(X.astype(np.float64), 2)
    np.testing.assert_allclose(model.lower_bound_, reference.lower_bound_, atol=1e-3)
    np.testing.assert_allclose(np.sort(model.weights_), np.sort(reference.weights_), atol=1e-3)


def test_float32_data_scaled_by_1e_minus_6_fits_and_reg_covar_dominates():
    X = (two_clusters(np.random.default_rng(0)) * 1e-6).astype(np.float32)
    model = fit(X, 2, covariance_type="diag")
    assert_finite_fit(model, X)
    # reg_covar is absolute: next to 1e-6 the data's variance (~1e-12) is invisible
    np.testing.assert_allclose(model.covariances_, 1e-6, rtol=1e-4)


def test_float32_data_offset_and_scaled_collapse_to_identical_rows_and_fit():
    X = (two_clusters(np.random.default_rng(0)) * 1e-6 + 1e6).astype(np.float32)
    assert len(np.unique(X, axis=0)) == 1  # 1e-6 steps vanish next to float32's 0.0625
    model = fit(X, 2)
    assert_finite_fit(model, X)
    # every component sits on the one point with covariance reg_covar * I
    np.testing.assert_allclose(model.score(X), -np.log(2 * np.pi * 1e-6), rtol=1e-4)


@pytest.mark.parametrize("covariance_type", ["full"] + [
    pytest.param(t, marks=pytest.mark.slow) for t in ("tied", "diag", "spherical")])
def test_50_components_on_60_points_fit(covariance_type):
    X = np.random.default_rng(1).normal(size=(60, 2)).astype(np.float32)
    model = fit(X, 50, covariance_type=covariance_type)
    assert_finite_fit(model, X)
    assert model.weights_.shape == (50,) and model.means_.shape == (50, 2)


def test_50_components_on_60_points_without_regularisation_raise_the_actionable_error():
    X = np.random.default_rng(1).normal(size=(60, 2)).astype(np.float32)
    with pytest.raises(ValueError, match=ACTIONABLE):
        fit(X, 50, reg_covar=0.0)


@pytest.mark.parametrize("dtype", [np.float32, pytest.param(np.float64, marks=pytest.mark.slow)])
def test_64_features_full_covariance_fit(dtype):
    X = two_clusters(np.random.default_rng(2), n=150, d=64).astype(dtype)
    model = fit(X, 2, covariance_type="full")
    assert_finite_fit(model, X)
    assert model.covariances_.shape == (2, 64, 64)
    # the two clusters are found: one component each, every row to its own cluster
    labels = model.predict(X)
    assert len(set(labels[:150])) == 1 and len(set(labels[150:])) == 1
    assert labels[0] != labels[-1]


def test_float32_nearly_singular_tied_covariance_gives_finite_covariances():
    # Found by the property tests (300 examples): 3 distinct rows on a scale of 1e5, weights
    # with zeros, 2 tied components. EM factorises the covariance (condition ~1e14) fine, but
    # covariances_ used to be recomputed through P = U U^T, which squares the condition
    # number: NaN covariances_ beside finite precisions_cholesky_. Now U is inverted directly.
    X = np.array([[1.5266494e5, 1.7830008e4]] * 3 + [[1.4434272e5, -1.4459729]] * 3
                 + [[1.6532941e5, 1.1934007e4]] * 3, np.float32)
    weight = np.array([1, 0, 0, 3, 0, 0, 0, 2, 1], np.float32)
    model = GaussianMixture(2, covariance_type="tied", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, sample_weight=weight)
    assert_finite_fit(model, X)
    # the inverse of the fitted precision, computed in float64 from the same factor
    U = model.precisions_cholesky_.astype(np.float64)
    np.testing.assert_allclose(model.covariances_, np.linalg.inv(U @ U.T), rtol=1e-3)
