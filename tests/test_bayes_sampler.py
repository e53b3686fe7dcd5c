"""The compiled NUTS program (bayesgmm.bayes.sampler): NumPyro's MCMC draws from the same key,
one compilation per shape and setting, chains over several devices, the progress bar."""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.infer import MCMC, NUTS, HMCGibbs
from numpyro.infer.initialization import init_to_value

from bayesgmm.bayes import Priors, model as gmm, run_nuts, sampler
from bayesgmm.bayes.inference import _start


def _data(rng, n=120):
    labels = rng.integers(0, 2, n)
    return np.array([[-2.0, 0.0], [2.0, 1.0]])[labels] + rng.normal(size=(n, 2))


@pytest.mark.filterwarnings("ignore:Some donated buffers")  # NumPyro MCMC, the reference
@pytest.mark.parametrize("gibbs", [False, True])
def test_draws_equal_numpyro_mcmc_from_the_same_key(rng, gibbs):
    # Without warmup (no step-size or mass-matrix adaptation, whose float rounding depends on
    # how XLA fuses the surrounding program) the compiled program and NumPyro's MCMC take
    # the same steps from the same key: every draw and diagnostic agrees to rounding
    # (float64; the Gibbs update's normalisation differs in the last bits).
    X = jnp.asarray(_data(rng), jnp.float64)
    priors = gmm.resolve_priors(X, 2, "full", Priors(concentration=0.5))
    _, start = _start(jax.random.key(3), X, 2, "full", "em", priors, False)
    key = jax.random.key(7)
    samples, stats = sampler.run_chains(
        key, X, priors, start, start["weight_gammas"] if gibbs else None, n_components=2,
        covariance_type="full", num_warmup=0, num_samples=25, num_chains=2,
        chain_method="vectorized", target_accept_prob=0.8, max_tree_depth=10, dense_mass=False,
        ordered_means=False, gibbs=gibbs, progress_bar=False)

    kernel = NUTS(gmm.make_model(2, "full"), init_strategy=init_to_value(values=start))
    init_params, fields = None, sampler.NUTS_FIELDS
    if gibbs:
        kernel = HMCGibbs(kernel, gibbs_fn=sampler.weights_gibbs_fn(X, priors, "full"),
                          gibbs_sites=["weight_gammas"])
        init_params = {"weight_gammas": jnp.broadcast_to(start["weight_gammas"], (2, 2))}
        fields = tuple(f"hmc_state.{name}" for name in fields)
    mcmc = MCMC(kernel, num_warmup=0, num_samples=25, num_chains=2, progress_bar=False,
                chain_method=jax.vmap if gibbs else "vectorized")
    mcmc.run(key, X, priors, extra_fields=fields, init_params=init_params)
    expected = mcmc.get_samples(group_by_chain=True)
    assert set(samples) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(samples[name], value, rtol=1e-12, atol=1e-14,
                                   err_msg=name)
    for name, value in mcmc.get_extra_fields(group_by_chain=True).items():
        np.testing.assert_allclose(stats[name.removeprefix("hmc_state.")], value,
                                   rtol=1e-12, atol=1e-14, err_msg=name)


@pytest.mark.parametrize("weights_sampler", ["nuts", "gibbs"])
def test_a_second_fit_of_the_same_shapes_does_not_compile_again(rng, weights_sampler):
    # Other data of the same shape, another seed and another concentration (as the
    # prior-sensitivity panel of compare runs): the sampling program is reused.
    settings = dict(n_components=2, covariance_type="diag", num_warmup=20, num_samples=20,
                    num_chains=2, chain_method="vectorized", weights_sampler=weights_sampler)
    run_nuts(jax.random.key(0), _data(rng), priors=Priors(concentration=1.0), **settings)
    compiled = sampler._run_chains._cache_size()
    draws = run_nuts(jax.random.key(1), _data(rng), priors=Priors(concentration=0.05),
                     **settings)
    assert sampler._run_chains._cache_size() == compiled
    assert draws.params.weights.shape == (2, 20, 2)
    np.testing.assert_allclose(draws.priors.concentration, [0.05, 0.05], rtol=1e-6)


def test_default_chain_method_is_parallel_on_a_cpu():
    assert jax.default_backend() == "cpu"
    assert sampler.default_chain_method(4) == "parallel"
    assert sampler.default_chain_method(1) == "vectorized"


@pytest.mark.parametrize("chain_method", ["parallel", "sequential"])
def test_chain_methods_draw_what_vectorized_chains_draw(rng, chain_method):
    # Chain c runs on split(key)[c] whatever the method; without warmup adaptation the
    # programs agree to rounding.
    X = _data(rng, 80)
    common = dict(n_components=2, covariance_type="full", num_warmup=0, num_samples=15,
                  num_chains=3)
    other = run_nuts(jax.random.key(0), X, chain_method=chain_method, **common)
    vectorized = run_nuts(jax.random.key(0), X, chain_method="vectorized", **common)
    np.testing.assert_allclose(other.params.means, vectorized.params.means, rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_array_equal(other.sample_stats["num_steps"],
                                  vectorized.sample_stats["num_steps"])


def test_parallel_chains_with_several_host_devices_equal_vectorized_chains():
    script = textwrap.dedent("""
        import jax, numpy as np
        jax.config.update("jax_enable_x64", True)
        from bayesgmm.bayes import run_nuts
        rng = np.random.default_rng(0)
        X = np.array([[-2.0, 0.0], [2.0, 1.0]])[rng.integers(0, 2, 100)] + rng.normal(
            size=(100, 2))
        common = dict(n_components=2, covariance_type="full", num_warmup=0, num_samples=15,
                      num_chains=6)
        parallel = run_nuts(jax.random.key(0), X, **common)
        vectorized = run_nuts(jax.random.key(0), X, chain_method="vectorized", **common)
        np.testing.assert_allclose(parallel.params.means, vectorized.params.means,
                                   rtol=1e-10, atol=1e-12)
        print("ok", len(jax.devices()))
    """)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               BAYESGMM_TEST_CACHE="off")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[-2:] == ["ok", "4"]


def test_progress_bar_counts_every_step(rng, capsys):
    run_nuts(jax.random.key(0), _data(rng), n_components=2, covariance_type="spherical",
             num_warmup=10, num_samples=10, num_chains=2, progress_bar=True)
    err = capsys.readouterr().err
    assert "sampling 2 chains" in err
    assert "40/40" in err  # 2 chains x (10 + 10) steps
