"""Chain diagnostics of scalar quantities: R-hat and ESS where defined, None where not, and the
divergence summary."""

import types

import numpy as np
import pytest

from bayesgmm.bayes.diagnostics import divergence_summary, ess, rhat


def test_rhat_is_near_one_for_mixed_chains_and_large_for_separated_ones():
    x = np.random.default_rng(0).normal(size=(4, 500))
    assert rhat(x) == pytest.approx(1.0, abs=0.02)
    assert rhat(x + np.arange(4)[:, None] * 5) > 2
    assert 1000 < ess(x) <= 2500


@pytest.mark.parametrize("x", [np.full((2, 50), 3.0), np.ones((2, 3))])
def test_rhat_and_ess_are_none_where_undefined(x):
    assert rhat(x) is None and ess(x) is None


def test_divergence_summary_counts_divergent_draws():
    diverging = np.zeros((2, 10), bool)
    diverging[0, :3] = True
    draws = types.SimpleNamespace(sample_stats={"diverging": diverging})  # as PosteriorDraws
    assert divergence_summary(draws) == {"num_divergences": 3, "num_draws": 20,
                                         "divergence_fraction": 0.15}
