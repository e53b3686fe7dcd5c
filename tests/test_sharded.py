"""Sharded EM equals single-device EM. The multi-device cases run in a subprocess, because the
number of (forced) host devices is fixed when JAX starts."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from bayesgmm import em

SCRIPT = textwrap.dedent("""
    import json, os, sys
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    from bayesgmm import em
    from bayesgmm.config import enable_compilation_cache
    if os.environ.get("CACHE_DIR"):
        enable_compilation_cache(os.environ["CACHE_DIR"])
    assert len(jax.devices()) == 4, jax.devices()

    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 0.0], [0.0, 6.0, 3.0]])
    X = np.concatenate([rng.normal(size=(n, 3)) + c for n, c in zip((401, 350, 250), centres)])
    X = X + 20.0  # N = 1001: not a multiple of 4, so the sharded fit pads
    weights = rng.uniform(0.2, 3.0, len(X))

    def rel(a, b):
        a, b = np.asarray(a, float), np.asarray(b, float)
        return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))

    def compare(single, sharded):
        return dict(n_iter=[int(single.n_iter), int(sharded.n_iter)],
                    lower_bound=rel(sharded.lower_bound, single.lower_bound),
                    params=max(rel(p, q) for p, q in zip(sharded.params, single.params)),
                    sharded_lower_bound=float(sharded.lower_bound))

    out = {}
    kw = dict(n_components=3, tol=1e-10, max_iter=300, chunk_size=64)
    for covariance_type in ("full", "diag"):
        for name, w in (("unweighted", None), ("weighted", weights)):
            single = em.fit_em(jax.random.key(0), X, covariance_type=covariance_type,
                               sample_weight=w, **kw)
            sharded = em.fit_em(jax.random.key(0), X, covariance_type=covariance_type,
                                sample_weight=w, devices=jax.devices(), **kw)
            out[f"{covariance_type}-{name}"] = compare(single, sharded)

    # A global jax.Array laid out on a 2 x 2 mesh, rows over both axes (the multi-host form).
    mesh = Mesh(np.array(jax.devices()).reshape(2, 2), ("hosts", "local"))
    Xs = jax.device_put(X[:1000], NamedSharding(mesh, P(("hosts", "local"), None)))
    ws = jax.device_put(weights[:1000], NamedSharding(mesh, P(("hosts", "local"))))
    single = em.fit_em(jax.random.key(0), X[:1000], covariance_type="full",
                       sample_weight=weights[:1000], **kw)
    sharded = em.fit_em(jax.random.key(0), Xs, covariance_type="full", sample_weight=ws, **kw)
    out["full-weighted-mesh-input"] = compare(single, sharded)
    print("RESULT" + json.dumps(out))
""")


@pytest.fixture(scope="module")
def four_device_results():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu")
    cache = os.environ.get("BAYESGMM_TEST_CACHE",
                           os.path.join(os.path.expanduser("~"), ".cache", "bayesgmm",
                                        "jax-tests"))
    if cache != "off":
        env["CACHE_DIR"] = cache
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [s for s in proc.stdout.splitlines() if s.startswith("RESULT")][-1]
    return json.loads(line[len("RESULT"):])


@pytest.mark.parametrize("case", ["full-unweighted", "full-weighted", "diag-unweighted",
                                  "diag-weighted", "full-weighted-mesh-input"])
def test_four_devices_equal_one(four_device_results, case):
    r = four_device_results[case]
    assert r["n_iter"][0] == r["n_iter"][1] > 3
    assert r["lower_bound"] < 1e-10
    assert r["params"] < 1e-10


def test_one_device_mesh_runs_the_sharded_program(faithful):
    single = em.fit_em(jax.random.key(0), faithful, n_components=2, init_params="k-means++")
    sharded = em.fit_em(jax.random.key(0), faithful, n_components=2, init_params="k-means++",
                        devices=jax.devices()[:1])
    np.testing.assert_allclose(float(sharded.lower_bound), float(single.lower_bound),
                               rtol=1e-12)


@pytest.mark.parametrize("devices, error, message", [
    (["cpu"], TypeError, "non-empty sequence of jax.Device"),
    ([], TypeError, "non-empty sequence of jax.Device"),
    (lambda: [jax.devices()[0]] * 2, ValueError, "devices must be distinct"),
])
def test_bad_devices_are_rejected(faithful, devices, error, message):
    devices = devices() if callable(devices) else devices
    with pytest.raises(error, match=message):
        em.fit_em(jax.random.key(0), faithful, n_components=2, devices=devices)
