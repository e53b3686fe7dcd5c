"""The closed-form prior of the number of occupied components K+: hand-computed cases, the
simulated prior, and bad input."""

import math

import jax
import numpy as np
import pytest

from bayesgmm.bayes import Priors, kplus_probabilities, prior_occupied_components
from bayesgmm.bayes.kplus import kplus_prior
from bayesgmm.bayes.model import resolve_priors


def test_kplus_prior_small_cases_match_hand_computation():
    np.testing.assert_allclose(kplus_prior(1, 5, 0.3), [1, 0, 0, 0, 0])
    # K = 2, N = 2: both points in one component with probability (e0 + 1) / (2 e0 + 1).
    for e0 in (0.01, 0.5, 2.0):
        p = kplus_prior(2, 2, e0)
        np.testing.assert_allclose(p, [(e0 + 1) / (2 * e0 + 1), e0 / (2 * e0 + 1)])


@pytest.mark.parametrize("e0", [0.01, 0.5])
def test_kplus_prior_matches_simulation(e0):
    n_obs, k = 40, 6
    priors = resolve_priors(np.zeros((2, 1)), k, "full", Priors(concentration=e0))
    draws = prior_occupied_components(jax.random.key(1), n_obs, priors, num_draws=20000)
    simulated = kplus_probabilities(draws, k)
    exact = kplus_prior(n_obs, k, e0)
    assert math.isclose(exact.sum(), 1.0, rel_tol=1e-12)
    np.testing.assert_allclose(simulated, exact, atol=0.015)


@pytest.mark.parametrize("args,message", [
    ((0, 3, 0.1), "'n_obs' must be an integer >= 1"),
    ((10, 2.5, 0.1), "'n_components' must be an integer >= 1"),
    ((10, 3, 0.0), "'concentration' must be a finite positive number"),
    ((10, 3, math.nan), "'concentration' must be a finite positive number"),
])
def test_bad_arguments_raise_clear_errors(args, message):
    with pytest.raises(ValueError, match=message):
        kplus_prior(*args)
