"""Online (stepwise) EM against batch EM on the same stream: held-out log-likelihood and time.

For each case a mixture is simulated, the stream is cut into batches, and

- batch EM (``fit_em``, k-means init on all the data, tol 1e-4) fits all of the stream at
  once: what a user gets;
- batch EM again from the online fit's starting point (k-means on the first batch), which
  separates the optimiser from the initialisation (column "same start");
- online EM initialises from the first batch (k-means) and takes one ``online_step`` per
  batch (one pass; default step sizes).

The gap is ``(batch - online) / |batch|`` of the held-out mean log-likelihood (negative:
online is better, which happens when the two reach different local optima).

Both are scored by the mean log-likelihood of a held-out sample. Times are medians of
``--repeats`` runs after one untimed run (compilation excluded); the online time includes the
per-batch host round trip (validation, padding, one transfer of the value checks).

Usage: python benchmarks/online.py [--repeats 3] [--batch 500]
"""

import argparse
import statistics
import time

import jax

jax.config.update("jax_enable_x64", True)  # float64 reference; the library never sets it

import numpy as np  # noqa: E402

from bayesgmm import density, online  # noqa: E402
from bayesgmm.em import fit_em  # noqa: E402
from bayesgmm.params import from_covariances  # noqa: E402


def simulate(n_features, n_components, n_samples, seed):
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=4.0, size=(n_components, n_features))
    factors = rng.normal(size=(n_components, n_features, n_features)) / np.sqrt(n_features)
    covs = factors @ factors.transpose(0, 2, 1) + 0.3 * np.eye(n_features)
    weights = rng.dirichlet(np.full(n_components, 5.0))
    truth = from_covariances(weights, means, covs, "full")
    X, _ = density.sample(jax.random.key(seed), truth, "full", n_samples)
    return np.asarray(X)


def run_batch(X, k, covariance_type, start=None):
    init = {} if start is None else dict(
        weights_init=start.weights, means_init=start.means,
        precisions_cholesky_init=start.precisions_cholesky)
    result = fit_em(jax.random.key(0), X, n_components=k, covariance_type=covariance_type,
                    tol=1e-4, max_iter=300, **init)
    jax.block_until_ready(result.params)
    return result.params, int(result.n_iter)


def first_batch_start(X, k, covariance_type, batch):
    return online.initial_params(jax.random.key(0), X[:batch], k,
                                 covariance_type=covariance_type)


def run_online(X, k, covariance_type, batch):
    params = first_batch_start(X, k, covariance_type, batch)
    state = online.online_init(params, covariance_type)
    for start in range(0, X.shape[0], batch):
        state = online.online_step(state, X[start:start + batch],
                                   covariance_type=covariance_type)
    jax.block_until_ready(state.params)
    return state.params, int(state.n_steps)


def timed(fn, repeats):
    out = fn()  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    cases = [  # (d, K, covariance_type, N)
        (2, 3, "full", 100_000), (5, 3, "full", 100_000), (16, 8, "full", 1_000_000),
        (16, 8, "diag", 1_000_000)]
    print(f"{'d':>3} {'K':>3} {'cov':>5} {'N':>9} {'batches':>7} | {'batch EM ll':>11} "
          f"{'iters':>5} {'time s':>7} | {'same start':>11} {'iters':>5} | {'online ll':>11} "
          f"{'time s':>7} | {'gap %':>6} {'gap same %':>10} {'time ratio':>10}")
    for d, k, cov, n in cases:
        X = simulate(d, k, n + 50_000, seed=d * 100 + k)
        stream, held_out = X[:n], X[n:]
        (p_batch, iters), t_batch = timed(lambda: run_batch(stream, k, cov), args.repeats)
        p_same, iters_same = run_batch(stream, k, cov,
                                       first_batch_start(stream, k, cov, args.batch))
        (p_online, steps), t_online = timed(lambda: run_online(stream, k, cov, args.batch),
                                            args.repeats)
        ll_batch, ll_same, ll_online = (float(density.log_prob(held_out, p, cov).mean())
                                        for p in (p_batch, p_same, p_online))
        gap = 100 * (ll_batch - ll_online) / abs(ll_batch)
        gap_same = 100 * (ll_same - ll_online) / abs(ll_same)
        print(f"{d:>3} {k:>3} {cov:>5} {n:>9} {steps:>7} | {ll_batch:>11.5f} {iters:>5} "
              f"{t_batch:>7.2f} | {ll_same:>11.5f} {iters_same:>5} | {ll_online:>11.5f} "
              f"{t_online:>7.2f} | {gap:>6.3f} {gap_same:>10.3f} {t_online / t_batch:>10.2f}",
              flush=True)


if __name__ == "__main__":
    main()
