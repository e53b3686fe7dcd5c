"""The NUTS sampling program: every chain, the warmup and the draws in one compiled function.

NumPyro's ``MCMC`` builds its sampling loop anew for every ``MCMC`` object (and, with a Gibbs
kernel whose update closes over the data, for every data set), so each fit paid tracing and
XLA compilation again: most of a small fit's wall time. Here the kernel is built inside one
``jax.jit`` whose arguments are the data, the priors and the start, and whose static
arguments are the shapes' settings: a second fit with the same shapes and settings (another
seed, other data of the same size, another Dirichlet concentration, as the prior-sensitivity
panel of :mod:`bayesgmm.compare` runs) reuses the compiled program.

The steps are NumPyro's own (``NUTS`` / ``HMCGibbs`` ``init`` and ``sample``, with its
warmup adaptation), driven the way ``MCMC`` drives them (one key per chain, ``num_warmup``
adapting steps, then ``num_samples`` kept), so a fit draws what ``MCMC`` would draw from the
same key.
"""

import concurrent.futures
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from bayesgmm import density
from bayesgmm.bayes import model as gmm

#: NUTS diagnostics kept per draw (NumPyro's names).
NUTS_FIELDS = ("diverging", "energy", "potential_energy", "accept_prob", "num_steps")
#: How chains run: "vectorized" (``vmap``, one program), "sequential" (``lax.map``, one
#: program), "parallel" (a one-chain program per chain, run concurrently from host threads:
#: on a CPU on its cores, otherwise spread over the local devices).
CHAIN_METHODS = ("vectorized", "sequential", "parallel")
#: Progress updates per chain and run (when a progress bar is asked for).
PROGRESS_UPDATES = 50


def default_chain_method(num_chains):
    """"parallel" on a CPU or with several local devices, "vectorized" on one accelerator.

    Measured on a 2-core CPU (Old Faithful, K = 3, full, 4 chains x 2000 steps, one CPU
    device): four one-chain programs run concurrently took 4.4 s, the vectorized program 13.9 s
    (vectorized chains advance in lockstep, every step as long as the longest of the chains'
    trees, and batching NumPyro's tree building costs more per step); one chain alone 2.2 s.
    On a GPU or TPU the batch is what the device is for.
    """
    if num_chains > 1 and (jax.default_backend() == "cpu" or len(jax.local_devices()) > 1):
        return "parallel"
    return "vectorized"


def weights_gibbs_fn(X, priors, covariance_type, *, ordered_means=False):
    """The Gibbs update of the weights used by ``run_nuts(weights_sampler="gibbs")``.

    Data augmentation: draw every assignment ``z_n`` from its conditional given the current
    parameters (responsibilities from :mod:`bayesgmm.density`), then the weights from their
    exact conditional ``Dirichlet(alpha + n)``, ``n_k`` the number of points assigned to
    component k; the assignments are then discarded. The two draws together leave the
    posterior of the weights given the other parameters invariant. The model's weight sites
    are Gamma variables ``g = G w`` whose total ``G ~ Gamma(sum(alpha), 1)`` is independent of
    the weights and does not enter the likelihood, so it is drawn from its prior.

    Both draws are made in log space (an empty component's ``log w`` under ``alpha = 0.01``
    is often below -100); values below the dtype's smallest normal number are stored as that
    number, so that the model's log-density stays finite (such a weight contributes nothing
    to the likelihood of any data set).

    Parameters
    ----------
    X : array, shape (N, d)
    priors : Priors
        Resolved priors; with a hyperprior, the current ``concentration`` is read from the
        other sites.
    covariance_type : str
    ordered_means : bool
        Whether the model's ``means`` site is the ordered (K,) vector.

    Returns
    -------
    callable
        ``gibbs_fn(rng_key, gibbs_sites, hmc_sites) -> {"weight_gammas": (K,)}`` for
        :class:`numpyro.infer.HMCGibbs`.
    """
    tiny = jnp.finfo(X.dtype).tiny

    def gibbs_fn(rng_key, gibbs_sites, hmc_sites):
        gammas = gibbs_sites["weight_gammas"]
        sites = {**hmc_sites, "weight_gammas": gammas}
        if ordered_means:
            sites["means"] = sites["means"][:, None]
        alpha = (jnp.broadcast_to(hmc_sites["concentration"], gammas.shape)
                 if "concentration" in hmc_sites else priors.concentration)
        params = gmm.params_from_sites(sites, covariance_type)
        _, log_resp = density.log_prob_and_responsibilities(X, params, covariance_type)
        key_z, key_w, key_total = jax.random.split(rng_key, 3)
        z = jax.random.categorical(key_z, log_resp)
        counts = jnp.zeros(gammas.shape, X.dtype).at[z].add(1.0)
        log_g = jax.random.loggamma(key_w, alpha + counts)
        log_total = jax.random.loggamma(key_total, jnp.sum(alpha))
        log_gammas = log_g - jax.nn.logsumexp(log_g) + log_total
        return {"weight_gammas": jnp.maximum(jnp.exp(log_gammas), tiny)}

    return gibbs_fn


class _Progress:
    """A tqdm bar over the steps of all chains, fed from inside the compiled loops."""

    def __init__(self, num_chains, steps):
        from tqdm.auto import tqdm  # noqa: PLC0415 (NumPyro's dependency; only for the bar)
        self.steps = [0] * num_chains
        self.bar = tqdm(total=num_chains * steps, unit="step", leave=True,
                        desc=f"sampling {num_chains} chain{'s' * (num_chains > 1)}")

    def update(self, chain, step):
        self.steps[int(chain)] = int(step)
        self.bar.update(sum(self.steps) - self.bar.n)

    def close(self):
        self.bar.close()


_PROGRESS = {}  # the bars of the sampling runs in progress, by an id passed into the program


def _report_progress(bar_id, chain, step):
    bar = _PROGRESS.get(int(bar_id))
    if bar is not None:
        bar.update(chain, step)


@jax.jit
def _concatenate_chains(chains):
    # One program for the whole tree: leaf by leaf, each concatenation compiled on its own.
    return jax.tree.map(lambda *a: jnp.concatenate(a), *chains)


def run_chains(key, X, priors, start, gibbs_start, *, num_chains, chain_method, progress_bar,
               **settings):
    """Run ``num_chains`` NUTS (or HMC-within-Gibbs) chains; draws and diagnostics.

    Parameters
    ----------
    key : jax.random key
        Chain c starts from ``split(key, num_chains)[c]`` (one chain: from ``key``), as
        NumPyro's ``MCMC``; the chain method does not change the draws (beyond rounding).
    X : array, shape (N, d)
    priors : Priors
        Resolved (every field an array).
    start : dict of str to array, or None
        Initial values of the model's sites (``init_to_value``); None draws each chain's start
        from the prior (``init_to_sample``).
    gibbs_start : array, shape (K,), or None
        Initial ``weight_gammas`` of the Gibbs block (``gibbs=True``).
    num_chains : int
    chain_method : {"vectorized", "sequential", "parallel"}
        See :data:`CHAIN_METHODS` and :func:`default_chain_method`.
    progress_bar : bool
        A tqdm bar over the steps (a separately compiled program: it calls back to Python).
    **settings
        Static settings, one compiled program per combination: ``n_components``,
        ``covariance_type``, ``num_warmup``, ``num_samples``, ``target_accept_prob``,
        ``max_tree_depth``, ``dense_mass``, ``ordered_means`` (as
        :func:`bayesgmm.bayes.run_nuts`) and ``gibbs`` (weights by their Gibbs conditional,
        :func:`weights_gibbs_fn`, the rest by NUTS: NumPyro's ``HMCGibbs``).

    Returns
    -------
    samples : dict of str to array, each (num_chains, num_samples, ...)
        Constrained sites, as ``MCMC.get_samples(group_by_chain=True)``.
    stats : dict of str to array, each (num_chains, num_samples)
        :data:`NUTS_FIELDS` (of the NUTS block with ``gibbs``).
    """
    # Chain keys and indices are sliced on the host: on the device every slice compiles a
    # program of its own in a new process.
    impl = jax.random.key_impl(key)
    key_data = np.asarray(jax.random.key_data(
        key if num_chains == 1 else jax.random.split(key, num_chains))).reshape(num_chains, -1)
    keys = jax.random.wrap_key_data(key_data, impl=impl)
    bar_id = 0
    if progress_bar:
        bar_id = id(object()) % 2 ** 31
        _PROGRESS[bar_id] = _Progress(num_chains, settings["num_warmup"]
                                      + settings["num_samples"])
    program = functools.partial(_run_chains, progress=progress_bar, **settings)
    try:
        if chain_method != "parallel" or num_chains == 1:
            return jax.block_until_ready(program(keys, np.arange(num_chains), X, priors,
                                                 start, gibbs_start, bar_id,
                                                 sequential=chain_method == "sequential"))
        # On a CPU the concurrent runs share one device (XLA runs them on separate cores;
        # several host devices would only compile the program once per device).
        devices = jax.local_devices()[:1 if jax.default_backend() == "cpu" else None]

        def one(chain):
            # Inputs committed to a device run the program there.
            chain_key = jax.random.wrap_key_data(key_data[chain:chain + 1], impl=impl)
            inputs = jax.device_put((chain_key, np.arange(chain, chain + 1), X,
                                     priors, start, gibbs_start),
                                    devices[chain % len(devices)])
            return program(*inputs, bar_id, sequential=False)

        # The first chain compiles the program (once) in this thread; the others are then
        # dispatched from threads, so that the runs overlap.
        first = one(0)
        with concurrent.futures.ThreadPoolExecutor(num_chains - 1) as pool:
            # Each thread waits for its own run: measured, runs overlap more than when
            # one thread dispatches them all.
            chains = [first] + list(pool.map(lambda c: jax.block_until_ready(one(c)),
                                             range(1, num_chains)))
        chains = jax.block_until_ready(chains)
        return _concatenate_chains(jax.device_put(chains, devices[0]))
    finally:
        if progress_bar:
            _PROGRESS.pop(bar_id).close()


@functools.partial(jax.jit, static_argnames=(
    "n_components", "covariance_type", "num_warmup", "num_samples", "target_accept_prob",
    "max_tree_depth", "dense_mass", "ordered_means", "gibbs", "progress", "sequential"))
def _run_chains(keys, chains, X, priors, start, gibbs_start, bar_id, *, n_components,
                covariance_type, num_warmup, num_samples, target_accept_prob, max_tree_depth,
                dense_mass, ordered_means, gibbs, progress, sequential):
    # Imported here: NumPyro's kernels are only needed when a program is traced.
    from numpyro.infer import NUTS, HMCGibbs  # noqa: PLC0415
    from numpyro.infer.initialization import init_to_sample, init_to_value  # noqa: PLC0415

    model = gmm.make_model(n_components, covariance_type, ordered_means=ordered_means)
    strategy = init_to_sample if start is None else init_to_value(values=start)
    kernel = NUTS(model, init_strategy=strategy, target_accept_prob=target_accept_prob,
                  max_tree_depth=max_tree_depth, dense_mass=dense_mass)
    init_params = None
    if gibbs:
        # The update closes over this trace's X and priors: arguments of the compiled
        # program, not constants, so other data and concentrations reuse it.
        kernel = HMCGibbs(kernel, gibbs_fn=weights_gibbs_fn(X, priors, covariance_type,
                                                            ordered_means=ordered_means),
                          gibbs_sites=["weight_gammas"])
        init_params = {"weight_gammas": gibbs_start}
    args, kwargs = (X, priors), {}
    total = num_warmup + num_samples
    every = max(1, math.ceil(total / PROGRESS_UPDATES))

    def record(state):
        hmc_state = state.hmc_state if gibbs else state
        return (kernel.postprocess_fn(args, kwargs)(state.z),
                {name: getattr(hmc_state, name) for name in NUTS_FIELDS})

    def one_chain(chain_key, chain):
        state = kernel.init(chain_key, num_warmup, init_params, model_args=args,
                            model_kwargs=kwargs)
        shapes = jax.eval_shape(record, state)
        draws = jax.tree.map(lambda s: jnp.zeros((num_samples,) + s.shape, s.dtype), shapes)

        def step(i, carry):
            state, draws = carry
            state = kernel.sample(state, args, kwargs)
            # Warmup steps write slot 0, which the first kept draw overwrites: one loop (one
            # copy of the NUTS step in the program) for warmup and draws.
            slot = jnp.maximum(i - num_warmup, 0)
            draws = jax.tree.map(lambda buf, x: lax.dynamic_update_index_in_dim(buf, x, slot, 0),
                                 draws, record(state))
            if progress:
                lax.cond((i + 1) % every == 0, lambda: jax.debug.callback(
                    _report_progress, bar_id, chain, i + 1), lambda: None)
            return state, draws

        return lax.fori_loop(0, total, step, (state, draws))[1]

    if keys.shape[0] == 1:  # one chain: no batching (a vmap of one still batches the loops)
        return jax.tree.map(lambda a: a[None], one_chain(keys[0], chains[0]))
    if sequential:
        return lax.map(lambda kc: one_chain(*kc), (keys, chains))
    return jax.vmap(one_chain)(keys, chains)


__all__ = ["CHAIN_METHODS", "NUTS_FIELDS", "default_chain_method", "run_chains",
           "weights_gibbs_fn"]
