"""BIC against the posterior of K+: closed forms, the report, the panel, and bad input."""

import json
import math

import jax
import numpy as np
import pytest

from bayesgmm import bic_sweep, datasets
from bayesgmm.bayes.kplus import kplus_prior
from bayesgmm.compare import CompareResult, compare, empty_start
from bayesgmm.covariance import COVARIANCE_TYPES, FAMILIES
from bayesgmm.selection import bic_weights

# Tiny sampler settings: these tests check the plumbing and the report, not the posterior.
FAST = dict(num_warmup=30, num_samples=30, num_chains=2, max_tree_depth=5,
            sensitivity_e0=(0.01, 1.0), sensitivity_num_warmup=20, sensitivity_num_samples=20,
            n_init=1)


@pytest.fixture(scope="module")
def galaxy_result():
    X = datasets.load("galaxy").data
    return compare(jax.random.key(0), X, k_max=3, covariance_type="spherical",
                   sweep_covariance_types=("spherical", "diag"), data_label="galaxy", **FAST)


def test_bic_weights_normalise_and_ignore_failed_fits():
    w = bic_weights([100.0, 98.0, np.nan, 110.0])
    assert math.isclose(w.sum(), 1.0) and w[2] == 0
    np.testing.assert_allclose(w[0] / w[1], math.exp(-1.0))
    with pytest.raises(ValueError, match="at least one finite"):
        bic_weights([np.nan])


def test_empty_start_pads_with_emptied_components(faithful):
    fit = bic_sweep(jax.random.key(0), faithful, n_components=2, covariance_types="full")
    start = empty_start(fit.best_params, 5, faithful, "full")
    assert start.weights.shape == (5,) and start.precisions_cholesky.shape == (5, 2, 2)
    np.testing.assert_allclose(float(start.weights.sum()), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(start.weights[2:]), 1e-4)
    with pytest.raises(ValueError, match="more than n_components"):
        empty_start(fit.best_params, 1, faithful, "full")


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_empty_start_gives_emptied_components_the_data_mean_and_covariance(faithful,
                                                                          covariance_type):
    fit = bic_sweep(jax.random.key(0), faithful, n_components=2,
                    covariance_types=covariance_type).best_params
    start = empty_start(fit, 4, faithful, covariance_type)
    np.testing.assert_allclose(start.weights[:2], np.asarray(fit.weights) * (1 - 2e-4))
    np.testing.assert_allclose(start.means[:2], fit.means)
    np.testing.assert_allclose(start.means[2:], np.tile(faithful.mean(0), (2, 1)), rtol=1e-12)
    covariances = np.asarray(FAMILIES[covariance_type].covariances(start.precisions_cholesky))
    variance = faithful.var(0) + 1e-6  # one component holding every row, EM's reg_covar
    expected = {"full": np.cov(faithful.T, bias=True) + 1e-6 * np.eye(2),
                "diag": variance, "spherical": variance.mean()}
    if covariance_type == "tied":  # one factor shared by all components: unchanged
        np.testing.assert_array_equal(start.precisions_cholesky, fit.precisions_cholesky)
    else:
        np.testing.assert_allclose(start.precisions_cholesky[:2], fit.precisions_cholesky)
        for emptied in covariances[2:]:
            np.testing.assert_allclose(emptied, expected[covariance_type], rtol=1e-10)


def test_compare_reports_bic_kplus_prior_and_diagnostics(galaxy_result):
    r = galaxy_result
    assert isinstance(r, CompareResult) and r.k_max == 3
    for p in (r.bic_weights, r.kplus_posterior, r.kplus_prior):
        assert p.shape == (3,) and math.isclose(p.sum(), 1.0, rel_tol=1e-9)
    np.testing.assert_allclose(r.kplus_prior, kplus_prior(82, 3, 0.01))
    assert r.kplus_draws.shape == (2, 30) and r.log_likelihood_draws.shape == (2, 30)
    d = r.diagnostics
    assert d["num_draws"] == 60 and 0 <= d["divergence_fraction"] <= 1
    assert d["num_divergences"] == int(np.asarray(r.draws.sample_stats["diverging"]).sum())
    assert d["rhat_log_likelihood"] is None or d["rhat_log_likelihood"] > 0.5
    assert r.bic_choice[0] in ("spherical", "diag") and 1 <= r.bic_choice[1] <= 3


def test_prior_sensitivity_panel_is_there_and_each_pkplus_sums_to_one(galaxy_result):
    r = galaxy_result
    assert list(r.sensitivity) == [0.01, 1.0]
    for e0, p in r.sensitivity.items():
        assert p.shape == (3,) and math.isclose(p.sum(), 1.0, rel_tol=1e-9)
        np.testing.assert_allclose(r.sensitivity_prior[e0], kplus_prior(82, 3, e0))
        assert r.sensitivity_diagnostics[e0]["num_draws"] > 0
    # e0 = 0.01 is the main fit's prior: the panel reuses its draws.
    np.testing.assert_array_equal(r.sensitivity[0.01], r.kplus_posterior)
    assert r.sensitivity_diagnostics[1.0]["num_draws"] == 40


def test_markdown_json_and_figure(galaxy_result, tmp_path):
    r = galaxy_result
    md = r.to_markdown()
    assert "## Prior sensitivity" in md and "BIC (EM)" in md and "Divergences:" in md
    assert "| K+ | posterior | prior | BIC weight |" in md
    data = json.loads(r.to_json(tmp_path / "r.json"))
    assert json.loads((tmp_path / "r.json").read_text()) == data
    assert set(data["sensitivity"]) == {"0.01", "1.0"}
    assert math.isclose(sum(data["kplus_posterior"]), 1.0, abs_tol=1e-5)
    assert data["settings"]["target_accept_prob"] == 0.8
    assert data["settings"]["weights_sampler"] == "gibbs"
    r.plot(tmp_path / "compare.png")
    assert (tmp_path / "compare.png").stat().st_size > 20_000


def test_markdown_says_when_chains_disagree_on_kplus(galaxy_result):
    r = galaxy_result
    assert "chains disagree" not in r._replace(
        diagnostics={**r.diagnostics, "rhat_kplus": 1.0}).to_markdown()
    split = r._replace(diagnostics={**r.diagnostics, "rhat_kplus": 3.0},
                       kplus_draws=np.array([[2] * 30, [3] * 30]))
    assert split.kplus_chain_modes == [2, 3]
    assert "**The chains disagree on K+** (R-hat 3.00 > 1.1)" in split.to_markdown()
    assert "per chain: 2, 3" in split.to_markdown()
    # One chain leaves the common mode K+ = 3 a third of the time: the shares, not the modes.
    shares = split._replace(kplus_draws=np.array([[3] * 30, [3] * 20 + [2] * 10]))
    assert shares.kplus_chain_modes == [3, 3]
    assert "every chain's mode is K+ = 3" in shares.to_markdown()
    assert "(per chain: 1.00, 0.67)" in shares.to_markdown()
    assert "settled on different numbers" not in shares.to_markdown()


@pytest.mark.slow
def test_sparse_mixture_on_old_faithful_has_under_one_percent_divergences(faithful):
    """Issue 5's case with the defaults (weights by their Gibbs conditional): e0 = 0.01,
    full covariance, k_max = 6, float32 as the command line runs it."""
    r = compare(jax.random.key(0), faithful.astype(np.float32), k_max=6,
                sweep_covariance_types=("full",), num_warmup=200, num_samples=200,
                sensitivity_e0=())
    assert r.diagnostics["divergence_fraction"] < 0.01
    assert 2 <= r.kplus_mode <= 4


@pytest.mark.slow
def test_compare_float32_data(galaxy_result):
    X = datasets.load("galaxy").data.astype(np.float32)
    r = compare(jax.random.key(0), X, k_max=2, covariance_type="spherical",
                sweep_covariance_types="spherical", sweep=None,
                **{**FAST, "sensitivity_e0": ()})
    assert r.draws.params.means.dtype == np.float32 and r.sensitivity == {}
    assert math.isclose(r.kplus_posterior.sum(), 1.0, rel_tol=1e-6)


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(k_max=0), ValueError, "'k_max' must be an integer >= 1"),
    (dict(k_max=500), ValueError, "exceeds the number of samples"),
    (dict(e0=-1.0), ValueError, "'e0' must be a finite positive number"),
    (dict(sensitivity_e0=(0.1, 0.0)), ValueError, "'sensitivity_e0' must be a finite positive"),
    (dict(init="kmeans"), ValueError, r"'init' should be in \['empty', 'em'\]"),
    (dict(covariance_type="banana"), ValueError, "covariance_type"),
    (dict(feature_names=("a", "b")), ValueError, "feature_names has 2 names for 1 features"),
])
def test_bad_arguments_raise_clear_errors(kwargs, error, message):
    X = datasets.load("galaxy").data
    with pytest.raises(error, match=message):
        compare(jax.random.key(0), X, **kwargs)


def test_bad_data_raise_clear_errors():
    X = datasets.load("galaxy").data.copy()
    X[3] = np.nan
    with pytest.raises(ValueError, match=r"contains NaN in 1 row\(s\)"):
        compare(jax.random.key(0), X)
    with pytest.raises(ValueError, match="must contain numbers"):
        compare(jax.random.key(0), np.array([["a"], ["b"]]))
    with pytest.raises(TypeError, match="needs real numbers"):
        compare(jax.random.key(0), np.ones((5, 1), complex))


def test_prior_on_k_adds_the_telescoping_posteriors_to_report_json_and_figure(galaxy_result,
                                                                              tmp_path):
    X = datasets.load("galaxy").data
    r = compare(jax.random.key(0), X, k_max=3, covariance_type="spherical",
                sweep=galaxy_result.sweep, data_label="galaxy",
                **{**FAST, "sensitivity_e0": ()}, k_prior="uniform", k_prior_num_warmup=50,
                k_prior_num_samples=100, k_prior_num_chains=2, k_prior_thin=1)
    assert r.telescope is not None and r.clusters is not None
    data = json.loads(r.to_json(tmp_path / "r.json"))
    # Lists indexed from K = 1.
    for key in ("posterior_K", "posterior_K_plus", "prior_K", "prior_K_plus"):
        assert len(data[key]) == 3 and math.isclose(sum(data[key]), 1.0, abs_tol=1e-5), key
    np.testing.assert_allclose(data["prior_K"], [1 / 3] * 3, atol=1e-6)
    np.testing.assert_allclose(data["posterior_K"], r.telescope.k_posterior, atol=1e-6)
    assert data["k_prior"]["k_prior"] == "uniform" and "rhat_k" in data["k_prior_diagnostics"]
    clusters = data["clusters"]
    assert clusters["n_clusters"] == int(np.argmax(r.telescope.kplus_posterior)) + 1
    assert math.isclose(sum(clusters["sizes"]), X.shape[0], rel_tol=1e-6)
    assert len(clusters["labels"]) == X.shape[0]
    md = r.to_markdown()
    assert "## Prior on K: uniform on 1..3 (telescoping sampler)" in md
    assert "| K | BIC weight (spherical) | P(K \\| data) | P(K+ \\| data) |" in md
    assert "**Prior on K** (uniform on 1..3" in md
    r.plot(tmp_path / "compare.png")
    assert (tmp_path / "compare.png").stat().st_size > 20_000
    assert "**The chains disagree**" not in md or r.telescope.diagnostics["rhat_kplus"] > 1.1
    # Chains stuck at different K+: the report says so.
    draws = r.telescope.draws
    split = np.repeat(np.array([[1], [2]]), draws.n_occupied.shape[1], axis=1)
    split[:, ::10] = 3 - split[:, ::10]  # some spread within each chain
    stuck = r._replace(telescope=r.telescope._replace(
        draws=draws._replace(n_occupied=split, n_components=split + 1)))
    assert "**The chains disagree** (R-hat" in stuck.to_markdown()
    assert "mode of K+ per chain: 1, 2" in stuck.to_markdown()
    # Without a prior on K the report has none of these keys.
    assert "posterior_K" not in json.loads(galaxy_result.to_json())


def test_bad_prior_on_k_fails_before_sampling():
    X = datasets.load("galaxy").data
    with pytest.raises(ValueError, match="'k_prior' should be in"):
        compare(jax.random.key(0), X, k_max=3, k_prior="zipf", **FAST)
    with pytest.raises(ValueError, match="k_prior_thin"):
        compare(jax.random.key(0), X, k_max=3, k_prior="bnb", k_prior_thin=0, **FAST)
