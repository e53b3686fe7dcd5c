"""The telescoping sampler of K and K+ (bayesgmm.bayes.telescope).

Exactness: on a tiny data set the sampler's stationary distribution of K (and of K+) equals
the posterior computed by brute force, summing over every labelled allocation with the
component parameters integrated out by quadrature; in two dimensions, where quadrature over
covariance matrices is out of reach, a joint-distribution test (Geweke 2004): sweeps alternate
with fresh data drawn from the model, so the chain's stationary distribution is the prior,
known in closed form. Each conditional is also checked on its own (the partition probability
against enumeration, the Wishart draws against SciPy's moments, the priors of K against SciPy).
"""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax
from scipy import special, stats

from bayesgmm import datasets
from bayesgmm.bayes import telescope
from bayesgmm.bayes.kplus import kplus_prior
from bayesgmm.bayes.telescope import TelescopePriors


# ------------------------------------------------------------------------ brute force (1-D)

def _partition_key(z):
    """Canonical form of the partition an allocation induces (blocks as sorted index tuples)."""
    blocks = {}
    for i, k in enumerate(z):
        blocks.setdefault(k, []).append(i)
    return tuple(sorted(tuple(b) for b in blocks.values()))


def _log_marginal_blocks(y, hyper):
    """log p(y_b | C0) for every subset b of the rows (d = 1), on a grid of log C0: mu
    integrated exactly, sigma^-2 ~ Gamma(c0, C0) by quadrature on the log scale. Returns the
    grid's log prior weights and a dict of subset -> (grid,) values."""
    b0, B0, c0, g0, G0 = (hyper[k] for k in ("b0", "B0", "c0", "g0", "G0"))
    u = np.linspace(np.log(g0 / G0) - 70, np.log(g0 / G0) + 12, 1000)       # log C0
    log_w_u = stats.gamma.logpdf(np.exp(u), g0, scale=1 / G0) + u + np.log(u[1] - u[0])
    v = np.linspace(-25, 5, 500)                                              # log t, t = C0 lam
    log_w_v = stats.gamma.logpdf(np.exp(v), c0) + v + np.log(v[1] - v[0])
    s = np.exp(u)[:, None] / np.exp(v)[None, :]                               # variance (C0, t)
    blocks = {}
    for size in range(1, len(y) + 1):
        for block in itertools.combinations(range(len(y)), size):
            r = y[list(block)] - b0
            denom = s + size * B0
            quad = (r @ r - B0 * r.sum() ** 2 / denom) / s
            log_n = (-0.5 * size * np.log(2 * np.pi) - 0.5 * (size - 1) * np.log(s)
                     - 0.5 * np.log(denom) - 0.5 * quad)
            blocks[block] = special.logsumexp(log_n + log_w_v, axis=1)
    return log_w_u, blocks


def _brute_force_posterior(y, k_max, priors, hyper):
    """P(K | y) and P(K+ | y) by summing over every allocation z in {1..K}^N, K = 1..k_max,
    with the weights integrated out (Dirichlet-multinomial, quadrature over e0 or alpha when
    they have a prior)."""
    p_k = telescope.k_prior_probabilities(priors.k_prior, k_max)
    spec = priors.concentration_prior
    if spec is None:
        values, log_w = np.array([priors.concentration]), np.zeros(1)
    else:
        grid = np.linspace(-14, 6, 400)
        if isinstance(spec[0], str):
            log_pdf = stats.f.logpdf(np.exp(grid), spec[1], spec[2])
        else:
            log_pdf = stats.gamma.logpdf(np.exp(grid), spec[0], scale=1 / spec[1])
        values, log_w = np.exp(grid), log_pdf + grid + np.log(grid[1] - grid[0])
    n = len(y)
    log_w_u, blocks = _log_marginal_blocks(y, hyper)
    cache = {}
    log_joint = np.full((k_max, n), -np.inf)  # [K - 1, K+ - 1]
    for k in range(1, k_max + 1):
        e0 = values / k if priors.weights == "dynamic" else values
        allocations = np.array(list(itertools.product(range(k), repeat=n)))     # (k^n, n)
        counts = (allocations[:, :, None] == np.arange(k)).sum(1)                # (k^n, k)
        # Dirichlet-multinomial probability of each labelled allocation, for each e0.
        log_dm = (special.gammaln(k * e0) - special.gammaln(n + k * e0)
                  + np.sum(special.gammaln(counts[:, :, None] + e0)
                           - special.gammaln(e0), axis=1))                       # (k^n, n_e0)
        log_pz = special.logsumexp(log_dm + log_w, axis=1)
        terms = {}
        for z, lp in zip(allocations, log_pz):
            key = _partition_key(z)
            if key not in cache:
                # C0 couples the blocks: integrate it over their product.
                cache[key] = special.logsumexp(sum(blocks[b] for b in key) + log_w_u)
            terms.setdefault(len(key), []).append(lp + cache[key])
        for kplus, values_k in terms.items():
            log_joint[k - 1, kplus - 1] = np.log(p_k[k - 1]) + special.logsumexp(values_k)
    joint = np.exp(log_joint - special.logsumexp(log_joint))
    return joint.sum(1), np.pad(joint.sum(0), (0, k_max - n))


def _chain_frequencies(draws, k_max):
    """Per-chain frequencies of 1..k_max, shape (chain, k_max)."""
    return np.stack([np.bincount(c, minlength=k_max + 1)[1:] / c.size for c in draws])


def _assert_matches(draws, exact, k_max, what):
    freq = _chain_frequencies(draws, k_max)
    estimate = freq.mean(0)
    # Monte Carlo standard error from the spread between independent chains.
    se = np.maximum(freq.std(0, ddof=1) / math.sqrt(freq.shape[0]), 0.002)
    z = np.abs(estimate - exact) / se
    assert np.all(z < 5), (f"{what}: sampler {np.round(estimate, 4)} vs exact "
                           f"{np.round(exact, 4)} (|z| {np.round(z, 1)})")


TINY = np.array([[-1.3], [-1.0], [0.9], [1.2], [3.1]])
VARIANTS = {
    "uniform, e0 = 1": TelescopePriors(k_prior="uniform", concentration=1.0),
    "bnb, e0 ~ G(1, 20)": TelescopePriors(k_prior="bnb", concentration=0.05,
                                          concentration_prior=(1.0, 20.0)),
    "poisson(3), dynamic alpha ~ F(6, 3)": TelescopePriors(
        k_prior=("poisson", 3.0), weights="dynamic", concentration=1.0,
        concentration_prior=("F", 6.0, 3.0)),
    "geometric(0.3), dynamic alpha = 2": TelescopePriors(
        k_prior=("geometric", 0.3), weights="dynamic", concentration=2.0),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_stationary_k_and_kplus_equal_brute_force_enumeration(name):
    priors = VARIANTS[name]
    k_max = 6
    hyper = telescope.default_hyperparameters(TINY)
    hyper = {k: float(np.squeeze(v)) for k, v in hyper.items()}
    exact_k, exact_kplus = _brute_force_posterior(TINY[:, 0], k_max, priors, hyper)
    result = telescope.sample_telescope(jax.random.key(3), TINY, k_max=k_max, priors=priors,
                                        num_warmup=500, num_samples=12000, num_chains=12,
                                        k_init=3)
    _assert_matches(result.draws.n_components, exact_k, k_max, f"P(K) {name}")
    _assert_matches(result.draws.n_occupied, exact_kplus, k_max, f"P(K+) {name}")
    assert np.all(result.draws.n_occupied <= result.draws.n_components)
    # The sampled partitions are consistent with K+ (occupied components first).
    counts = result.draws.counts
    assert np.all((counts > 0).sum(-1) == result.draws.n_occupied)
    assert np.all(counts.sum(-1) == TINY.shape[0])


# ------------------------------------------------------------ joint-distribution test (2-D)

def test_joint_distribution_test_recovers_the_prior_in_two_dimensions():
    """Sweeps alternate with data drawn afresh from the model given the allocations and the
    parameters: the chain then samples the joint p(parameters, data), whose marginals are the
    prior. A wrong conditional (of K, e0, C0, the precisions or the means) shifts them."""
    n_obs, k_max = 6, 5
    X0 = np.random.default_rng(0).normal(size=(n_obs, 2))
    priors = TelescopePriors(k_prior=("poisson", 2.0), concentration=0.5,
                             concentration_prior=(2.0, 4.0))
    resolved = telescope.resolve_priors(X0, k_max, priors)
    num_chains, num_steps = 16, 3000

    @jax.jit
    def run(keys):
        def one_chain(key):
            state = telescope.init_state(key, jnp.asarray(X0), resolved, k_max=k_max, k_init=2)

            def step(carry, key):
                state, X = carry
                key_sweep, key_x = jax.random.split(key)
                state, info = telescope.gibbs_sweep(key_sweep, state, X, resolved)
                # x_n = mu_z + U_z^-T eps has covariance (U U^T)^-1.
                U = state.precisions_cholesky[info.labels]
                eps = jax.random.normal(key_x, X.shape, X.dtype)
                X = state.means[info.labels] + jax.scipy.linalg.solve_triangular(
                    jnp.swapaxes(U, -1, -2), eps[..., None], lower=True)[..., 0]
                return (state, X), (state.n_components, info.n_occupied, state.e0,
                                    jnp.trace(state.C0), state.means[0])

            keys = jax.random.split(key, num_steps)
            return lax.scan(step, (state, jnp.asarray(X0)), keys)[1]

        return jax.vmap(one_chain)(keys)

    k, kplus, e0, trace_c0, mean0 = (np.asarray(a)[:, 500:]
                                     for a in run(jax.random.split(jax.random.key(0), num_chains)))
    _assert_matches(k, telescope.k_prior_probabilities(("poisson", 2.0), k_max), k_max,
                    "K against its prior")
    prior_kplus = telescope.kplus_prior_given_k_prior(n_obs, k_max, priors, num_draws=100000)
    _assert_matches(kplus, prior_kplus, k_max, "K+ against its prior")

    def assert_mean(draws, expected, what):
        per_chain = draws.reshape(num_chains, -1).mean(1)
        se = per_chain.std(ddof=1) / math.sqrt(num_chains)
        assert abs(per_chain.mean() - expected) < 5 * se, (what, per_chain.mean(), expected, se)

    assert_mean(e0, 2.0 / 4.0, "e0 ~ Gamma(2, 4)")
    assert_mean((e0 < stats.gamma.median(2.0, scale=0.25)).astype(float), 0.5, "median of e0")
    hyper = telescope.default_hyperparameters(X0)
    # C0 ~ W(g0, G0) (Frühwirth-Schnatter): mean g0 G0^-1.
    assert_mean(trace_c0, hyper["g0"] * np.trace(np.linalg.inv(hyper["G0"])), "tr C0")
    assert_mean(mean0[:, :, 1], hyper["b0"][1], "mu_1 ~ N(b0, B0)")


# ------------------------------------------------------------------- single conditionals

@pytest.mark.parametrize("e0", [0.3, 2.0])
def test_partition_probability_sums_the_labelled_allocations(e0):
    n_obs = 4
    for k in range(1, 6):
        by_partition = {}
        for z in itertools.product(range(k), repeat=n_obs):
            counts = np.bincount(z, minlength=k)
            log_dm = (special.gammaln(k * e0) - special.gammaln(n_obs + k * e0)
                      + np.sum(special.gammaln(counts + e0) - special.gammaln(e0)))
            key = _partition_key(z)
            by_partition[key] = by_partition.get(key, 0.0) + np.exp(log_dm)
        for key, prob in by_partition.items():
            sizes = np.zeros(6)
            sizes[:len(key)] = [len(b) for b in key]
            got = telescope.log_partition_probability(jnp.asarray(k), jnp.asarray(sizes),
                                                      jnp.asarray(e0))
            np.testing.assert_allclose(np.exp(got), prob, rtol=1e-10)
        # K < K+ is impossible.
        sizes = np.array([1.0] * (k + 1) + [0.0] * (5 - k))
        assert telescope.log_partition_probability(jnp.asarray(k), jnp.asarray(sizes),
                                                   jnp.asarray(e0)) == -np.inf


@pytest.mark.parametrize("d", [1, 3])
def test_wishart_draws_have_the_moments_of_scipys_wishart(d):
    rng = np.random.default_rng(1)
    A = rng.normal(size=(d, d))
    scale = A @ A.T + d * np.eye(d)
    shape = 2.5 + (d - 1) / 2
    num = 40000
    U = telescope.wishart_precision_cholesky(
        jax.random.key(0), jnp.full((num,), shape), jnp.broadcast_to(jnp.asarray(scale),
                                                                     (num, d, d)))
    U = np.asarray(U)
    assert np.allclose(np.tril(U, -1), 0)   # upper triangular, as covariance.py stores them
    P = U @ np.swapaxes(U, -1, -2)
    # W(c, C) in Frühwirth-Schnatter's parameterisation: 2c degrees of freedom, scale (2C)^-1.
    reference = stats.wishart(df=2 * shape, scale=np.linalg.inv(2 * scale))
    se = np.sqrt(reference.var() / num)
    assert np.all(np.abs(P.mean(0) - reference.mean()) < 5 * se)
    np.testing.assert_allclose(P.var(0), reference.var(), rtol=0.1)


def test_k_priors_match_scipy_truncated():
    k_max = 12
    x = np.arange(k_max)
    cases = {("poisson", 4.0): stats.poisson.pmf(x, 4.0),
             ("geometric", 0.2): stats.geom.pmf(x + 1, 0.2),
             "bnb": stats.betanbinom.pmf(x, 1, 4, 3),
             "uniform": np.ones(k_max)}
    for spec, pmf in cases.items():
        np.testing.assert_allclose(telescope.k_prior_probabilities(spec, k_max),
                                   pmf / pmf.sum(), rtol=1e-12)
    probs = np.arange(1.0, k_max + 1)
    np.testing.assert_allclose(telescope.k_prior_probabilities(probs, k_max),
                               probs / probs.sum())


def test_kplus_prior_exact_and_simulated_agree():
    priors = TelescopePriors(k_prior="bnb", concentration=0.5)
    exact = telescope.kplus_prior_given_k_prior(50, 8, priors)
    manual = sum(p * np.pad(kplus_prior(50, k, 0.5), (0, 8 - k))
                 for k, p in enumerate(telescope.k_prior_probabilities("bnb", 8), 1))
    np.testing.assert_allclose(exact, manual, rtol=1e-12)
    simulated = telescope.kplus_prior_given_k_prior(5000, 8, priors, num_draws=40000)
    assert simulated.shape == (8,) and abs(simulated.sum() - 1) < 1e-12


# ------------------------------------------------------------------- behaviour and errors

def test_separated_clusters_in_two_dimensions_are_found_and_relabelled(rng):
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    truth = np.repeat(np.arange(3), 40)
    X = centres[truth] + rng.normal(scale=0.7, size=(120, 2))
    result = telescope.sample_telescope(jax.random.key(0), X, k_max=8, num_warmup=200,
                                        num_samples=300, num_chains=2,
                                        priors=TelescopePriors(k_prior="bnb"))
    assert int(np.argmax(result.kplus_posterior)) + 1 == 3
    assert result.kplus_posterior[2] > 0.8
    assert np.all(result.draws.n_components >= result.draws.n_occupied)
    clusters = result.clusters(X)
    assert clusters.n_clusters == 3 and clusters.means.shape == (3, 2)
    np.testing.assert_allclose(np.sort(clusters.sizes), [40, 40, 40], atol=1.5)
    # Each true group is one cluster.
    for g in range(3):
        assert len(set(clusters.labels[truth == g])) == 1
    assert len(set(clusters.labels)) == 3
    diag = result.diagnostics
    assert set(diag) >= {"rhat_k", "rhat_kplus", "ess_k", "ess_kplus"}
    assert result.settings["k_prior"] == "bnb"


def test_float32_data_sample_in_float32():
    X = datasets.load("galaxy").data.astype(np.float32)
    result = telescope.sample_telescope(jax.random.key(0), X, k_max=10, num_warmup=50,
                                        num_samples=50, num_chains=2)
    assert result.draws.params.means.dtype == np.float32
    assert np.all(np.isfinite(result.draws.log_likelihood))
    assert result.k_posterior.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(priors=TelescopePriors(k_prior="zipf")), "'k_prior' should be in"),
    (dict(priors=TelescopePriors(k_prior=("poisson", 1.0, 2.0))), "takes 1 parameter"),
    (dict(priors=TelescopePriors(k_prior=np.ones(3))), "one per K = 1..k_max"),
    (dict(priors=TelescopePriors(weights="sparse")), "'weights' should be in"),
    (dict(priors=TelescopePriors(concentration=0.0)), "'concentration' must be"),
    (dict(priors=TelescopePriors(concentration_prior=(1.0,))), "concentration_prior must be"),
    (dict(priors=TelescopePriors(B0=-1.0)), "B0 must be positive definite"),
    (dict(priors=TelescopePriors(b0=[0.0, 1.0])), "TelescopePriors.b0 must be"),
    (dict(k_init=20), "k_init = 20 must not exceed"),
    (dict(priors="uniform"), "priors must be a bayesgmm.bayes.telescope.TelescopePriors"),
])
def test_bad_arguments_raise_clear_errors(kwargs, message):
    X = datasets.load("galaxy").data
    with pytest.raises((ValueError, TypeError), match=message):
        telescope.sample_telescope(jax.random.key(0), X, k_max=10, num_samples=5, **kwargs)


# ------------------------------------------------------------------- galaxy (slow)

#: P(K = 3..12) published in the univariate vignette of the R package telescope.
PUBLISHED_GALAXY = {3: 0.05, 4: 0.15, 5: 0.21, 6: 0.20, 7: 0.16, 8: 0.11, 9: 0.06, 10: 0.03,
                    11: 0.02, 12: 0.01}


@pytest.mark.slow
def test_galaxy_reproduces_the_telescope_vignette_and_two_seeds_agree():
    """K ~ U{1..30}, static e0 = 1, Richardson & Green's priors: each published P(K) within
    0.03 from 10,000 draws (16 chains x 625, thinned by 40 sweeps: on these data K needs
    about 180 sweeps per independent draw), K+ quartiles as published, and two seeds agree
    within their Monte Carlo error (estimated from the spread between chains)."""
    X = datasets.load("galaxy").data
    priors = TelescopePriors(k_prior="uniform", concentration=1.0)
    freqs = []
    for seed in (0, 1):
        result = telescope.sample_telescope(jax.random.key(seed), X, k_max=30, priors=priors,
                                            num_warmup=1000, num_samples=625, num_chains=16,
                                            thin=40)
        assert result.draws.n_components.size == 10000
        for k, published in PUBLISHED_GALAXY.items():
            assert abs(result.k_posterior[k - 1] - published) <= 0.03, (seed, k,
                                                                        result.k_posterior)
        # Published K+ quartiles 5 / 6 / 7. A long run (8 chains x 100,000 sweeps) gives
        # P(K+ <= 4) = 0.237 +- 0.004: the lower quartile sits on the edge between 4 and 5,
        # and 10,000 draws cannot settle it; the median and upper quartile are clear.
        q1, median, q3 = result.summary()["kplus_quartiles"]
        assert q1 in (4.0, 5.0) and (median, q3) == (6.0, 7.0)
        freqs.append(_chain_frequencies(result.draws.n_components, 30))
    (a, b) = freqs
    se = np.sqrt(a.var(0, ddof=1) / len(a) + b.var(0, ddof=1) / len(b))
    diff = np.abs(a.mean(0) - b.mean(0))
    # The standard error is itself estimated from 2 x 16 chains (t with ~30 degrees of
    # freedom), over ten values of K: 5 standard errors. P(K = 3) is the noisiest: K+ = 3 is
    # a separate mode, visited in long, rare excursions.
    assert np.all(diff <= 5 * np.maximum(se, 0.002)), (diff, se)


def test_one_compiled_program_serves_every_prior_and_run_length():
    X = datasets.load("galaxy").data[:40]
    runs = [dict(priors=TelescopePriors(k_prior="uniform"), num_warmup=10, thin=1),
            dict(priors=TelescopePriors(k_prior=("poisson", 3.0), weights="dynamic",
                                        concentration_prior=("F", 6.0, 3.0)),
                 num_warmup=30, thin=2),
            dict(priors=TelescopePriors(k_prior="bnb", concentration=0.01,
                                        concentration_prior=(1.0, 20.0), B0=4.0),
                 num_warmup=0, thin=3)]
    before = None
    for kwargs in runs:
        result = telescope.sample_telescope(jax.random.key(0), X, k_max=7, num_samples=20,
                                            num_chains=2, **kwargs)
        assert result.draws.n_components.shape == (2, 20)
        size = telescope._run_chains._cache_size()
        before = size if before is None else before
        assert size == before, "a new prior or run length compiled a new program"
