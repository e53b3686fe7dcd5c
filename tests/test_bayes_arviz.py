"""ArviZ conversion: groups, shapes, relabelled posterior, summary, loo and loo_compare."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bayesgmm import density
from bayesgmm.bayes import arviz as bayes_arviz
from bayesgmm.bayes import posterior
from bayesgmm.bayes.inference import PosteriorDraws
from bayesgmm.params import GMMParams, from_covariances

K, D, N = 3, 2, 120
MEANS = np.array([[0.0, 0.0], [6.0, 6.0], [-6.0, 6.0]])


def _fake_nuts(rng, chains=2, n=60, scramble=True):
    truth = from_covariances(np.array([0.3, 0.3, 0.4]), MEANS,
                             np.broadcast_to(np.eye(D), (K, D, D)), "full")
    shape = (chains, n)
    params = GMMParams(jnp.asarray(rng.dirichlet([60, 60, 80], size=shape)),
                       jnp.asarray(MEANS + 0.1 * rng.normal(size=shape + (K, D))),
                       jnp.broadcast_to(truth.precisions_cholesky, shape + (K, D, D)))
    stats = {"diverging": jnp.zeros(shape, bool), "energy": jnp.asarray(rng.normal(size=shape)),
             "potential_energy": jnp.asarray(rng.normal(size=shape)),
             "accept_prob": jnp.full(shape, 0.8), "num_steps": jnp.full(shape, 7)}
    draws = PosteriorDraws(params, {"weights": params.weights, "means": params.means}, stats,
                           jnp.zeros(chains, jnp.int32), truth, None, None)
    if scramble:  # label switching between chains, as NUTS produces without relabelling
        perms = np.broadcast_to(np.arange(K), shape + (K,)).copy()
        perms[1] = [2, 0, 1]
        draws = posterior.permute(draws, perms, "full")
    return draws


@pytest.fixture
def data(rng):
    return MEANS[rng.choice(K, N)] + rng.normal(size=(N, D))


def test_datatree_has_every_group_with_named_dims(rng, data):
    draws = _fake_nuts(rng)
    tree = bayes_arviz.to_datatree(draws, data, "full", feature_names=["a", "b"])
    for group in ("posterior", "sample_stats", "log_likelihood", "posterior_predictive",
                  "observed_data"):
        assert group in tree.children, group
    post = tree["posterior"]
    assert post["weights"].dims == ("chain", "draw", "component")
    assert post["means"].shape == (2, 60, K, D)
    assert post["covariances"].dims == ("chain", "draw", "component", "feature", "feature_bis")
    assert list(post["means"].coords["feature"].values) == ["a", "b"]
    assert tree["sample_stats"]["diverging"].shape == (2, 60)
    assert set(tree["sample_stats"].data_vars) >= {"diverging", "energy", "lp"}
    assert tree["log_likelihood"]["obs"].dims == ("chain", "draw", "obs_id")
    assert tree["posterior_predictive"]["obs"].shape == (2, 60, N, D)
    assert tree["observed_data"]["obs"].shape == (N, D)
    # relabelled: chain 1 was scrambled, its means now match chain 0's
    np.testing.assert_allclose(post["means"].values.mean(1)[1], MEANS, atol=0.1)
    np.testing.assert_allclose(post["means"].values.mean(1)[0], MEANS, atol=0.1)


def test_log_likelihood_group_is_the_shared_density(rng, data):
    draws = _fake_nuts(rng, scramble=False)
    tree = bayes_arviz.to_datatree(draws, data, "full", posterior_predictive=False)
    one = jax.tree.map(lambda a: a[1, 7], draws.params)
    np.testing.assert_allclose(tree["log_likelihood"]["obs"].values[1, 7],
                               density.log_prob(jnp.asarray(data), one, "full"), rtol=1e-12)
    assert "posterior_predictive" not in tree.children


@pytest.mark.filterwarnings("ignore:Estimated shape parameter of Pareto")
def test_summary_of_relabelled_draws_and_loo_and_loo_compare(rng, data):
    tree = bayes_arviz.to_datatree(_fake_nuts(rng), data, "full", posterior_predictive=False)
    table = bayes_arviz.summary(tree, var_names=["weights", "means"])
    assert {"r_hat", "ess_bulk", "ess_tail"} <= set(table.columns)
    assert len(table) == K + K * D
    assert table["r_hat"].max() < 1.1  # would be huge without relabelling
    result = bayes_arviz.loo(tree)
    assert np.isfinite(result.elpd)
    other = bayes_arviz.to_datatree(_fake_nuts(np.random.default_rng(7)), data, "full",
                                    posterior_predictive=False)
    ranked = bayes_arviz.loo_compare({"a": tree, "b": other})
    assert set(ranked.index) == {"a", "b"}


def test_summary_refuses_trees_not_made_here(rng, data):
    import arviz as az
    tree = az.from_dict({"posterior": {"means": rng.normal(size=(2, 10, K))}})
    with pytest.raises(ValueError, match="not made by bayesgmm"):
        bayes_arviz.summary(tree)
    with pytest.raises(TypeError, match="DataTree"):
        bayes_arviz.summary({"posterior": 1})


def test_conversion_rejects_bad_input(rng, data):
    draws = _fake_nuts(rng)
    with pytest.raises(TypeError, match="PosteriorDraws"):
        bayes_arviz.to_datatree(draws.params, data, "full")
    with pytest.raises(ValueError, match="X must have shape"):
        bayes_arviz.to_datatree(draws, data[:, :1], "full")
    with pytest.raises(ValueError, match="feature_names"):
        bayes_arviz.to_datatree(draws, data, "full", feature_names=["a"])
    with pytest.raises(ValueError, match="log_likelihood group"):
        bayes_arviz.loo(bayes_arviz.to_datatree(draws, data, "full", log_likelihood=False,
                                                posterior_predictive=False))


def test_sample_stats_use_arviz_names_and_inference_library_attributes(rng, data):
    # The reference is ArviZ's own NumPyro converter on a NumPyro NUTS run recording the
    # same fields as bayesgmm's sampler: the same variable names (ArviZ 1.x: lp,
    # acceptance_rate, n_steps, tree_depth, ...), the same derived values, the same
    # inference_library attributes on every group.
    import arviz as az
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    from bayesgmm.bayes.sampler import NUTS_FIELDS

    def model():
        numpyro.sample("x", dist.Normal(0.0, 1.0))

    mcmc = MCMC(NUTS(model, max_tree_depth=30), num_warmup=10, num_samples=10,
                progress_bar=False)
    mcmc.run(jax.random.key(0), extra_fields=NUTS_FIELDS)
    reference = az.from_numpyro(mcmc)
    draws = _fake_nuts(rng, chains=1, n=10, scramble=False)
    stats = {name: jnp.asarray(value)[None] for name, value in mcmc.get_extra_fields().items()}
    tree = bayes_arviz.to_datatree(draws._replace(sample_stats=stats), data, "full")
    expected = set(reference["sample_stats"].data_vars) - {"reached_max_tree_depth"}
    assert set(tree["sample_stats"].data_vars) == expected
    for name in expected:
        np.testing.assert_array_equal(tree["sample_stats"][name].values,
                                      reference["sample_stats"][name].values, err_msg=name)
    for group in tree.children:
        assert tree[group].attrs["inference_library"] == "numpyro", group
        assert tree[group].attrs["inference_library_version"] == numpyro.__version__, group
