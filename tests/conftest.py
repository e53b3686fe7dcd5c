"""Test configuration: the suite runs with JAX's x64 mode on, so that float64 reference
comparisons are possible; float32 paths are tested by passing float32 arrays explicitly (with
x64 on, bayesgmm computes in the input's dtype), and tests/test_dtypes.py checks the default
(x64 off) in a subprocess. The library itself never touches the flag."""

import gc
import os

import jax
import numpy as np
import pytest

from bayesgmm.config import disable_compilation_cache, enable_compilation_cache

jax.config.update("jax_enable_x64", True)

# XLA compilation dominates this suite (every new shape or setting compiles, and identical
# programs recur across tests and test modules): share compiled programs through
# JAX's persistent cache, per user, across tests and across runs. BAYESGMM_TEST_CACHE=off
# disables it; BAYESGMM_TEST_CACHE=DIR moves it.
_cache = os.environ.get("BAYESGMM_TEST_CACHE",
                        os.path.join(os.path.expanduser("~"), ".cache", "bayesgmm", "jax-tests"))
if _cache == "off":
    disable_compilation_cache()
else:
    enable_compilation_cache(_cache)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Free each test module's compiled programs when it ends. Every XLA CPU executable holds
    a few memory mappings, and the suite compiles thousands of programs: in one process they
    passed Linux's default limit of 65,530 mappings (vm.max_map_count), where the next
    compilation segfaults. Programs shared between modules come back from the persistent
    cache."""
    yield
    jax.clear_caches()
    gc.collect()


@pytest.fixture
def faithful():
    from bayesgmm import datasets
    return datasets.load("faithful").data


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
