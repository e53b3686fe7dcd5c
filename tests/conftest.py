"""Test configuration: the suite runs with JAX's x64 mode on, so that float64 reference
comparisons are possible; float32 paths are tested by passing float32 arrays explicitly (with
x64 on, bayesgmm computes in the input's dtype), and tests/test_dtypes.py checks the default
(x64 off) in a subprocess. The library itself never touches the flag."""

import jax
import numpy as np
import pytest

jax.config.update("jax_enable_x64", True)


@pytest.fixture
def faithful():
    from bayesgmm import datasets
    return datasets.load("faithful").data


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
