"""Covariance families: conversions, shapes and parameter counts."""

import numpy as np
import pytest

from bayesgmm import covariance, params as gmm_params
from tests.test_density import random_covariances

TYPES = covariance.COVARIANCE_TYPES


@pytest.mark.parametrize("covariance_type", TYPES)
def test_covariance_precision_round_trip(rng, covariance_type):
    k, d = 3, 4
    covs = random_covariances(rng, covariance_type, k, d)
    family = covariance.FAMILIES[covariance_type]
    prec_chol = family.precisions_cholesky(covs)
    assert prec_chol.shape == family.shape(k, d)
    np.testing.assert_allclose(family.covariances(prec_chol), covs, rtol=1e-10)
    precisions = family.precisions(prec_chol)
    if covariance_type in ("full", "tied"):
        np.testing.assert_allclose(precisions, np.linalg.inv(covs), rtol=1e-10, atol=1e-12)
    else:
        np.testing.assert_allclose(precisions, 1 / covs, rtol=1e-12)
    again = family.precisions_cholesky_from_precisions(precisions)
    np.testing.assert_allclose(family.precisions(again), precisions, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_scale_tril_reproduces_the_covariance(rng, covariance_type):
    k, d = 3, 4
    covs = random_covariances(rng, covariance_type, k, d)
    params = gmm_params.from_covariances(np.ones(k) / k, np.zeros((k, d)), covs,
                                         covariance_type)
    tril = np.asarray(gmm_params.scale_tril(params, covariance_type))
    assert tril.shape == (k, d, d)
    assert np.allclose(np.triu(tril, 1), 0)
    from tests.test_density import dense
    np.testing.assert_allclose(tril @ tril.transpose(0, 2, 1), dense(covs, covariance_type, k, d),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("k,d", [(1, 1), (3, 2), (5, 7)])
def test_n_parameters_matches_scikit_learn(covariance_type, k, d):
    sklearn_mixture = pytest.importorskip("sklearn.mixture")
    reference = sklearn_mixture.GaussianMixture(k, covariance_type=covariance_type)
    reference.means_ = np.zeros((k, d))
    assert covariance.n_parameters(k, d, covariance_type) == reference._n_parameters()


def test_not_positive_definite_gives_nan_not_an_exception():
    # Inside jit a failed Cholesky cannot raise; callers detect the NaN (see em.fit_em).
    family = covariance.FAMILIES["full"]
    assert np.isnan(family.precisions_cholesky(np.array([[[1.0, 2.0], [2.0, 1.0]]]))).any()


def test_unknown_covariance_type_message():
    with pytest.raises(ValueError, match="'covariance_type' should be in"):
        covariance.check_covariance_type("banana")
