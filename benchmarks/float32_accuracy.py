"""float32 on JAX's default backend (a GPU or TPU where there is one) against float64 on the CPU.

JAX's default matrix products let an accelerator round float32 factors (to TensorFloat-32 on
NVIDIA GPUs since Ampere, to bfloat16 on TPUs); bayesgmm asks for full precision in every
product (``bayesgmm.linalg``). This script measures what a float32 user gets, on each data set:

1. density: the mixture log-density of every row at the float64 fit's parameters; the largest
   error in nats, and the relative error of the mean log-likelihood;
2. EM: 20 iterations (``tol = 0``) from the float64 fit's starting point; the relative
   difference of the final lower bound, and the largest difference of a mean in units of that
   component's standard deviation;
3. end to end: ``GaussianMixture(K, random_state=0).fit`` (k-means start, defaults); the
   relative difference of the lower bound, and the share of rows whose predicted label
   differs (after the one-to-one matching of the labels that agrees most).

Each float32 figure is against float64 on the CPU. The float32 CPU row is the floor that
float32 arithmetic itself sets: an accelerator's row should match it in order of magnitude.

Data: Old Faithful (272 x 2, K = 3), and a synthetic set (N = 200,000, d = 16, K = 8, full
covariances, centred 10 standard deviations away from the origin, where products that round
their factors lose the most).

Usage: python benchmarks/float32_accuracy.py
"""

import jax

jax.config.update("jax_enable_x64", True)  # the float64 reference; the library never sets it

import numpy as np  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402

from bayesgmm import GaussianMixture, GMMParams, datasets, density, fit_em  # noqa: E402

EM_ITERATIONS = 20


def synthetic(n=200_000, d=16, k=8, seed=0):
    rng = np.random.default_rng(seed)
    means = 10.0 + 4.0 * rng.normal(size=(k, d))
    factors = rng.normal(size=(k, d, d)) / np.sqrt(d) + np.eye(d)
    labels = rng.integers(k, size=n)
    noise = rng.normal(size=(n, d))
    return means[labels] + np.einsum("nde,ne->nd", factors[labels], noise)


def run_on(device, fn, *args):
    with jax.default_device(device):
        return jax.tree.map(np.asarray, jax.device_get(fn(*args)))


def as_float32(tree):
    return jax.tree.map(lambda a: np.asarray(a, np.float32), tree)


def log_density(X, params):
    return density.log_prob_and_responsibilities(X, params, "full")[0]


def em_from(start):
    def fit(X):
        result = fit_em(jax.random.key(0), X, n_components=start.means.shape[0], tol=0.0,
                        max_iter=EM_ITERATIONS, weights_init=start.weights,
                        means_init=start.means, precisions_cholesky_init=start.precisions_cholesky)
        return result.lower_bound, result.params.means
    return fit


def end_to_end(k):
    def fit(X):
        gmm = GaussianMixture(k, random_state=0).fit(X)
        return np.float64(gmm.lower_bound_), gmm.predict(X)
    return fit


def label_disagreement(a, b, k):
    counts = np.zeros((k, k))
    np.add.at(counts, (a, b), 1)
    rows, cols = linear_sum_assignment(-counts)
    return 1.0 - counts[rows, cols].sum() / len(a)


def compare(name, X64, k, devices):
    cpu = jax.devices("cpu")[0]
    reference = GaussianMixture(k, random_state=0).fit(X64)
    params = GMMParams(*(np.asarray(a) for a in (reference.weights_, reference.means_,
                                                 reference.precisions_cholesky_)))
    start = jax.tree.map(np.asarray, fit_em(jax.random.key(1), X64, n_components=k,
                                            max_iter=1).params)
    sd = np.sqrt(np.diagonal(reference.covariances_, axis1=-2, axis2=-1))

    density64 = run_on(cpu, log_density, X64, params)
    lb64, means64 = run_on(cpu, em_from(start), X64)
    fit_lb64, labels64 = run_on(cpu, end_to_end(k), X64)
    X32 = X64.astype(np.float32)
    for device in devices:
        density32 = run_on(device, log_density, X32, as_float32(params))
        lb32, means32 = run_on(device, em_from(as_float32(start)), X32)
        fit_lb32, labels32 = run_on(device, end_to_end(k), X32)
        print(f"{name:<10} {device.platform:<5} "
              f"{np.max(np.abs(density32 - density64)):11.2e} "
              f"{abs(density32.mean() - density64.mean()) / abs(density64.mean()):11.2e} "
              f"{abs(lb32 - lb64) / abs(lb64):11.2e} "
              f"{np.max(np.abs(means32 - means64) / sd):11.2e} "
              f"{abs(fit_lb32 - fit_lb64) / abs(fit_lb64):11.2e} "
              f"{label_disagreement(labels32, labels64, k):9.2e}", flush=True)


def main():
    devices = [jax.devices("cpu")[0]]
    if jax.default_backend() != "cpu":
        devices.append(jax.devices()[0])
    print(f"JAX {jax.__version__}, default backend: {jax.default_backend()} "
          f"({jax.devices()[0].device_kind}); float32 against float64 on the CPU")
    print(f"{'data':<10} {'f32 on':<5} {'density':>11} {'mean LL':>11} {'EM bound':>11} "
          f"{'EM means':>11} {'fit bound':>11} {'labels':>9}")
    print(f"{'':<10} {'':<5} {'max nats':>11} {'rel.':>11} {'rel.':>11} {'max (sd)':>11} "
          f"{'rel.':>11} {'differ':>9}")
    compare("faithful", np.asarray(datasets.load("faithful").data, np.float64), 3, devices)
    compare("synthetic", synthetic(), 8, devices)


if __name__ == "__main__":
    main()
