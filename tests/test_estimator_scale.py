"""GaussianMixture past one batch in memory: partial_fit (online EM), fit_chunks (out-of-core
EM) and devices= (sharded EM) through the estimator."""

import jax
import numpy as np
import pytest

from bayesgmm import GaussianMixture, outofcore

MEANS = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])


def simulate(n, seed):
    rng = np.random.default_rng(seed)
    return MEANS[rng.choice(3, n, p=[0.5, 0.3, 0.2])] + rng.normal(size=(n, 2))


def test_partial_fit_on_a_stream_scores_within_one_percent_of_fit():
    stream, held_out = simulate(20_000, 0), simulate(5_000, 1)
    batch = GaussianMixture(3, random_state=0).fit(stream)
    online = GaussianMixture(3, random_state=0)
    for rows in np.array_split(stream, 40):
        online.partial_fit(rows)
    assert online.n_iter_ == 40 and online.lower_bounds_.shape == (40,)
    assert not online.converged_
    gap = abs(online.score(held_out) - batch.score(held_out)) / abs(batch.score(held_out))
    assert gap < 0.01, gap
    np.testing.assert_allclose(np.sort(online.weights_), np.sort(batch.weights_), atol=0.02)


def test_partial_fit_after_fit_continues_from_the_fitted_model():
    X = simulate(3_000, 2)
    model = GaussianMixture(3, random_state=0).fit(X)
    means = model.means_.copy()
    model.partial_fit(simulate(500, 3))
    # one stepwise step from the fitted parameters stays near them
    np.testing.assert_allclose(model.means_, means, atol=0.3)
    assert model.n_iter_ == 1
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(np.zeros((10, 3)))
    model.fit(X)  # a full fit forgets the stream
    assert not hasattr(model, "_online_state")


def test_partial_fit_rejects_small_first_batch_and_bad_step_sizes():
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        GaussianMixture(3).partial_fit(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="'learning_decay' must be in"):
        GaussianMixture(3, learning_decay=0.4).partial_fit(simulate(100, 0))


@pytest.mark.filterwarnings("ignore::bayesgmm.ConvergenceWarning")  # the 1-iteration start
def test_fit_chunks_equals_fit_from_the_same_start():
    X = simulate(1_001, 4)
    start = GaussianMixture(3, random_state=0, max_iter=1).fit(X)
    init = dict(weights_init=start.weights_, means_init=start.means_,
                precisions_init=start.precisions_)
    in_memory = GaussianMixture(3, **init).fit(X)
    chunked = GaussianMixture(3, **init).fit_chunks(outofcore.array_chunks(X, rows=333))
    assert chunked.n_iter_ == in_memory.n_iter_
    np.testing.assert_allclose(chunked.lower_bound_, in_memory.lower_bound_, rtol=1e-10)
    np.testing.assert_allclose(chunked.covariances_, in_memory.covariances_, rtol=1e-8)
    np.testing.assert_allclose(chunked.predict_proba(X), in_memory.predict_proba(X), atol=1e-8)
    with pytest.raises(ValueError, match="one start"):
        GaussianMixture(3, n_init=2).fit_chunks(outofcore.array_chunks(X))


def test_devices_with_one_device_equals_the_plain_fit():
    X = simulate(1_000, 5)
    plain = GaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
    sharded = GaussianMixture(3, covariance_type="diag", random_state=0,
                              devices=jax.devices()[:1]).fit(X)
    np.testing.assert_allclose(sharded.lower_bound_, plain.lower_bound_, rtol=1e-12)
    np.testing.assert_allclose(sharded.means_, plain.means_, rtol=1e-10)
    assert "devices" in sharded.get_params() and "learning_decay" in sharded.get_params()
