"""BayesianGMM: the estimator front end (NUTS and SVI)."""

import numpy as np
import pytest

from bayesgmm.bayes import BayesianGMM, Priors
from bayesgmm.exceptions import NotFittedError
from tests.test_compile_reuse import KEY_SPLIT, programs_compiled_by

MEANS = np.array([[0.0, 0.0], [6.0, 6.0], [-6.0, 6.0]])


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    return MEANS[rng.choice(3, 300, p=[0.3, 0.3, 0.4])] + rng.normal(size=(300, 2))


def _check_fitted(model, data):
    assert model.weights_.shape == (3,) and model.means_.shape == (3, 2)
    np.testing.assert_allclose(model.weights_.sum(), 1.0, rtol=1e-10)
    assert sorted(np.round(model.means_[:, 0]).astype(int)) == [-6, 0, 6]
    proba = model.predict_proba(data[:10])
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-10)
    labels = model.predict(data)
    assert np.mean(model.means_[labels] - data) < 1.0
    scores = model.score_samples(data[:10])
    assert scores.shape == (10,) and np.all(np.isfinite(scores))
    assert np.isclose(model.score(data[:10]), scores.mean())
    X, y = model.sample(40)
    assert X.shape == (40, 2) and np.all(np.diff(y) >= 0)
    table = model.summary(var_names=["weights"])
    assert "r_hat" in table.columns


def test_svi_fit_predict_score_sample(data):
    model = BayesianGMM(3, method="svi", guide="normal", num_steps=200, num_samples=100,
                        random_state=0, posterior_predictive=False).fit(data)
    _check_fitted(model, data)
    assert model.losses_.shape == (200,) and model.num_divergences_ == 0
    assert "posterior_predictive" not in model.datatree_.children


@pytest.mark.slow
def test_nuts_fit_predict_score_sample(data):
    model = BayesianGMM(3, num_warmup=200, num_samples=200, num_chains=2,
                        random_state=0).fit(data)
    _check_fitted(model, data)
    assert model.num_divergences_ == 0 and model.losses_ is None
    assert model.datatree_["posterior_predictive"]["obs"].shape == (2, 200, 300, 2)


@pytest.mark.parametrize("params, error, message", [
    (dict(method="vi"), ValueError, "'method'"),
    (dict(init="kmeans"), ValueError, "'init'"),
    (dict(pivot="median"), ValueError, "'pivot'"),
    (dict(covariance_type="cube"), ValueError, "covariance_type"),
    (dict(priors={"concentration": 1}), TypeError, "priors must be"),
])
def test_bad_parameters_raise_at_fit(data, params, error, message):
    with pytest.raises(error, match=message):
        BayesianGMM(3, **params).fit(data)


def test_unfitted_and_params_protocol(data):
    model = BayesianGMM(2, priors=Priors(concentration=0.5))
    with pytest.raises(NotFittedError, match="not fitted yet"):
        model.predict(data)
    assert model.get_params()["n_components"] == 2
    assert model.set_params(n_components=4).n_components == 4
    with pytest.raises(ValueError, match="Invalid parameter"):
        model.set_params(banana=1)


def test_a_first_fit_compiles_its_programs_and_nothing_else():
    # The post-processing (joining the chains, relabelling, posterior means) done op by op
    # compiled about 45 programs in a new process, 1.8-2.1 s of a 16 s first fit.
    compiled = programs_compiled_by("""
        from bayesgmm import BayesianGMM, datasets
        X = datasets.load("faithful").data
    """, """
        BayesianGMM(2, num_warmup=20, num_samples=20, num_chains=2, chain_method="parallel",
                    random_state=0).fit(X)
    """, timeout=600)
    programs = {"_pad_device_rows", "kmeans_starts", "fit_restarts", "sites_from_params",
                "_run_chains", "_concatenate_chains", "_draws", "cross_entropy_costs",
                "_permuted", "precisions_and_covariances"}
    assert programs <= compiled <= programs | KEY_SPLIT, compiled
