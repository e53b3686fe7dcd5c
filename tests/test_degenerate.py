"""Degenerate data and components that empty out during EM: with the default ``reg_covar``
a valid fit, with ``reg_covar=0`` scikit-learn's actionable error wherever the maximum-
likelihood covariance is singular, and the documented behaviour of empty components."""

import warnings

import numpy as np
import pytest

from bayesgmm import ConvergenceWarning, GaussianMixture

TYPES = ("full", "tied", "diag", "spherical")
ACTIONABLE = "Try to decrease the number of components, increase reg_covar, or scale the input"
N, D, K = 30, 3, 3


def degenerate_data(case):
    """(N, D) data, all of one shape so that the fits share compiled programs."""
    rng = np.random.default_rng(0)
    if case == "identical":
        return np.tile([[1.0, -2.0, 3.0]], (N, 1))
    if case == "fewer-distinct-than-components":  # 2 distinct rows, K = 3
        return np.repeat(rng.normal(size=(2, D)), N // 2, axis=0)
    if case == "constant-feature":
        X = rng.normal(size=(N, D))
        X[:, 1] = 5.0
        return X
    if case == "line-in-3d":
        return rng.normal(size=(N, 1)) * [[1.0, -2.0, 0.5]] + [1.0, 1.0, 1.0]
    raise ValueError(case)


CASES = ("identical", "fewer-distinct-than-components", "constant-feature", "line-in-3d")

# Where the maximum-likelihood covariance is NOT singular, reg_covar=0 must fit: a spherical
# variance averages over features (a constant feature does not make it zero), and a line that
# is not parallel to an axis varies along every axis (diagonal variances are positive).
FITS_WITHOUT_REGULARISATION = {("constant-feature", "spherical"), ("line-in-3d", "diag"),
                               ("line-in-3d", "spherical")}


def fit(X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(K, random_state=0, **kwargs).fit(X)


def assert_valid_fit(model, X):
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert np.all(np.isfinite(getattr(model, name))), name
    assert np.isfinite(model.lower_bound_) and np.isfinite(model.score(X))
    assert np.all(np.isfinite(model.score_samples(X)))
    resp = model.predict_proba(X)
    tol = 1e-5 if X.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, atol=tol)
    np.testing.assert_allclose(model.weights_.sum(), 1.0, atol=tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("case", CASES)
def test_degenerate_data_fits_with_the_default_reg_covar(case, covariance_type, dtype):
    X = degenerate_data(case).astype(dtype)
    model = fit(X, covariance_type=covariance_type)
    assert model.means_.dtype == dtype
    assert_valid_fit(model, X)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_identical_points_give_the_closed_form_density(covariance_type):
    # Every component sits on the one point with covariance reg_covar * I, so the mixture
    # density there is N(0 | 0, reg_covar I) whatever the weights.
    X = degenerate_data("identical")
    model = fit(X, covariance_type=covariance_type, reg_covar=1e-4)
    np.testing.assert_allclose(model.score(X), -D / 2 * np.log(2 * np.pi * 1e-4), rtol=1e-6)


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("case", CASES)
def test_degenerate_data_without_regularisation(case, covariance_type):
    X = degenerate_data(case)
    if (case, covariance_type) in FITS_WITHOUT_REGULARISATION:
        assert_valid_fit(fit(X, covariance_type=covariance_type, reg_covar=0.0), X)
    else:
        with pytest.raises(ValueError, match=ACTIONABLE):
            fit(X, covariance_type=covariance_type, reg_covar=0.0)


# ------------------------------------------------------------------------ empty components

def two_clusters_and_a_far_start(dtype):
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(size=(N // 2, 2)), rng.normal(size=(N // 2, 2)) + 6.0])
    # The third component starts 1e3 standard deviations from every row: it takes exactly
    # zero responsibility at the first E-step and stays empty.
    means_init = np.array([[0.0, 0.0], [6.0, 6.0], [1e3, -1e3]])
    return X.astype(dtype), means_init


def full_start(covariance_type):
    """Weights and unit precisions for :func:`two_clusters_and_a_far_start`: a start that
    does not depend on k-means (whose clusters could make another component narrow)."""
    precisions = {"full": np.tile(np.eye(2), (K, 1, 1)), "tied": np.eye(2),
                  "diag": np.ones((K, 2)), "spherical": np.ones(K)}[covariance_type]
    return dict(weights_init=np.full(K, 1 / K), precisions_init=precisions)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("covariance_type", TYPES)
def test_an_emptied_component_follows_the_documented_behaviour(covariance_type, dtype):
    X, means_init = two_clusters_and_a_far_start(dtype)
    reg_covar = 1e-4
    model = fit(X, covariance_type=covariance_type, means_init=means_init, reg_covar=reg_covar,
                **full_start(covariance_type))
    assert_valid_fit(model, X)
    eps = np.finfo(dtype).eps
    # weight 10 eps / n_samples: tiny, but not zero (its log-weight stays finite)
    np.testing.assert_allclose(model.weights_[2], 10 * eps / N, rtol=1e-4)
    # its mean stays where it emptied; it is not re-seeded and not moved to the origin
    np.testing.assert_allclose(model.means_[2], means_init[2], rtol=1e-6)
    if covariance_type != "tied":  # tied: it shares the pooled covariance
        expected = {"full": reg_covar * np.eye(2), "diag": [reg_covar] * 2,
                    "spherical": reg_covar}[covariance_type]
        np.testing.assert_allclose(model.covariances_[2], expected, rtol=1e-4)
    # the two real components share the data; the empty one wins no row, except one placed
    # right on its mean
    np.testing.assert_allclose(model.weights_[:2].sum(), 1.0, rtol=1e-5)
    assert set(model.predict(X)) == {0, 1}
    assert model.predict(means_init[2:].astype(dtype))[0] == 2


@pytest.mark.parametrize("covariance_type", TYPES)
def test_an_emptied_component_without_regularisation(covariance_type):
    X, means_init = two_clusters_and_a_far_start(np.float64)
    if covariance_type == "tied":  # the pooled covariance of the real clusters is regular
        model = fit(X, covariance_type="tied", means_init=means_init, reg_covar=0.0,
                    **full_start("tied"))
        assert_valid_fit(model, X)
    else:  # its covariance is 0 * I: the actionable error, not a NaN
        with pytest.raises(ValueError, match=ACTIONABLE):
            fit(X, covariance_type=covariance_type, means_init=means_init, reg_covar=0.0,
                **full_start(covariance_type))
