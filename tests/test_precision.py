"""Every product bayesgmm computes asks for full precision (``bayesgmm.linalg.matmul`` and
``einsum``).

JAX's default lets a GPU round float32 factors to TensorFloat-32 and a TPU to bfloat16; a CPU
ignores the setting, so this suite cannot see the rounding itself. It checks the programs
instead: every ``dot_general`` that bayesgmm's own code binds while tracing (the EM fit with
each covariance type and start, mclust's M-steps, prediction and sampling, the NumPyro model
and its gradient, the telescoping sampler's sweep) must carry ``Precision.HIGHEST``.
"""

import traceback

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.extend.core.primitives import dot_general_p

from bayesgmm import GaussianMixture, bic_sweep, datasets
from bayesgmm.bayes import gmm_model, resolve_priors
from bayesgmm.bayes import telescope

PACKAGE_DIR = "/bayesgmm/"


def _caller(stack):
    """The innermost frame outside JAX itself: the code that asked for the product."""
    for frame in reversed(stack):
        if "/jax/" not in frame.filename and "/jaxlib/" not in frame.filename:
            return frame
    return stack[-1]


@pytest.fixture
def products(monkeypatch):
    """Records ``(caller, precision)`` of every dot_general bound from bayesgmm's code."""
    seen = []
    bind = dot_general_p.bind

    def recording_bind(*args, **params):
        caller = _caller(traceback.extract_stack()[:-1])
        if PACKAGE_DIR in caller.filename:
            seen.append((f"{caller.filename.rsplit(PACKAGE_DIR, 1)[1]}:{caller.lineno}",
                         params.get("precision")))
        return bind(*args, **params)

    monkeypatch.setattr(dot_general_p, "bind", recording_bind)
    jax.clear_caches()  # a program traced earlier in this process would not be traced again
    yield seen
    jax.clear_caches()


def _assert_full_precision(seen, minimum):
    assert len(seen) >= minimum, seen  # the workload did reach bayesgmm's products
    full = (jax.lax.Precision.HIGHEST,) * 2
    low = sorted({where for where, precision in seen if precision != full})
    assert not low, f"products at JAX's default precision: {low}"


@pytest.fixture(scope="module")
def X32():
    return np.asarray(datasets.load("faithful").data, np.float32)


def test_em_fits_prediction_and_sampling(products, X32):
    for covariance_type in ("full", "tied", "diag", "spherical"):
        gmm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X32)
    gmm = GaussianMixture(2, init_params="k-means++", random_state=0).fit(X32)
    gmm.score_samples(X32)
    gmm.sample(5)
    # mclust's M-steps with their own products: orientations (EVE, VVE), common shapes (VEE)
    # and eigen-compositions (EEV, VEV).
    bic_sweep(jax.random.key(0), X32, n_components=[2],
              covariance_types=["EEV", "VEV", "EVE", "VVE", "VEE"])
    _assert_full_precision(products, minimum=20)


def test_numpyro_model_and_gradient(products, X32):
    covariance_type = "full"  # the other types' likelihoods have no products
    from numpyro.infer.util import initialize_model
    X = jnp.asarray(X32)
    priors = resolve_priors(X, 3, covariance_type)
    info = initialize_model(jax.random.key(0), gmm_model, model_args=(X, priors),
                            model_kwargs={"n_components": 3, "covariance_type": covariance_type})
    jax.make_jaxpr(jax.value_and_grad(info.potential_fn))(info.param_info.z)
    _assert_full_precision(products, minimum=1)


def test_telescope_sweep(products, X32):
    X = jnp.asarray(X32)
    priors = telescope.resolve_priors(X, 6)

    def sweep(key):
        state = telescope.init_state(key, X, priors, k_max=6, k_init=3)
        return telescope.gibbs_sweep(key, state, X, priors)

    jax.make_jaxpr(sweep)(jax.random.key(0))
    _assert_full_precision(products, minimum=5)
