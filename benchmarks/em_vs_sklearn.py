"""EM: bayesgmm against scikit-learn, in one process, on the same data and initialisation.

Prints medians over repeats and ratios (the machines are shared and noisy: read the ratios,
not the absolute times):

1. time per EM iteration after compilation (full covariance unless ``--covariance-type``
   says otherwise, default N = 1,000,000, d = 16, K = 16), float64 and float32: scikit-learn's
   ``_e_step`` + ``_m_step`` against one compiled bayesgmm iteration (E-step statistics in
   chunks + M-step);
2. for full covariances, the achieved floating-point rate of that iteration, counting
   4 N K d^2 (E-step products and M-step second moments), as a fraction of this machine's
   matrix-multiply rate measured in the same run;
3. a cold end-to-end ``fit`` (n_init=10) on Old Faithful including compilation, each side in a
   fresh interpreter;
4. peak resident memory of a float32 fit with N = 10,000,000, d = 16, K = 16 (3 iterations),
   bayesgmm and scikit-learn each in a fresh interpreter (``--skip-memory`` to leave it out).

Usage: python benchmarks/em_vs_sklearn.py [--n-samples N] [--repeats R] [--skip-memory]
       [--covariance-type {full,tied,diag,spherical}]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

# "Cold" means compiling: keep bayesgmm's persistent compilation cache (on by default) off in
# this process and in the interpreters it starts.
os.environ["BAYESGMM_CACHE_DIR"] = "off"

import jax

jax.config.update("jax_enable_x64", True)  # the benchmark needs both dtypes; the library never sets it

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.mixture import GaussianMixture as SkGaussianMixture  # noqa: E402

from bayesgmm import em, params as gmm_params, stats  # noqa: E402


def sk_precisions_cholesky(covariances, covariance_type):
    """scikit-learn's precisions_cholesky_ of the covariances (as its _compute_precision_cholesky)."""
    if covariance_type in ("diag", "spherical"):
        return 1.0 / np.sqrt(covariances)
    chol = np.linalg.cholesky(covariances)
    return np.linalg.inv(chol).swapaxes(-1, -2)


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_data(n_samples, n_features, n_components, dtype, seed=0, covariance_type="full"):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(n_components, n_features))
    labels = rng.integers(0, n_components, n_samples)
    X = (centres[labels] + rng.normal(size=(n_samples, n_features))).astype(dtype)
    start = dict(weights=np.full(n_components, 1.0 / n_components),
                 means=centres + rng.normal(scale=0.5, size=centres.shape),
                 covariances={"full": np.broadcast_to(np.eye(n_features),
                                                      (n_components, n_features, n_features)),
                              "tied": np.eye(n_features),
                              "diag": np.ones((n_components, n_features)),
                              "spherical": np.ones(n_components)}[covariance_type].copy())
    return X, start


def matmul_rate(dtype, size=2048, repeats=5):
    a = jnp.asarray(np.random.default_rng(0).normal(size=(size, size)), dtype)
    # Full precision, as bayesgmm's products (JAX's default would round float32 factors to
    # TensorFloat-32 on a GPU: a higher rate than any float32 product of bayesgmm reaches).
    f = jax.jit(lambda a: jnp.matmul(a, a, precision="highest"))
    f(a).block_until_ready()
    return 2 * size ** 3 / median_time(lambda: f(a).block_until_ready(), repeats)


def per_iteration(n_samples, n_features, n_components, dtype, repeats, covariance_type="full"):
    X, start = make_data(n_samples, n_features, n_components, dtype,
                         covariance_type=covariance_type)

    # scikit-learn: one E-step + M-step, exactly what each of its iterations runs.
    sk = SkGaussianMixture(n_components, covariance_type=covariance_type)
    sk.weights_, sk.means_ = start["weights"].astype(dtype), start["means"].astype(dtype)
    sk.covariances_ = start["covariances"].astype(dtype)
    sk.precisions_cholesky_ = sk_precisions_cholesky(sk.covariances_, covariance_type)

    def sk_iteration():
        _, log_resp = sk._e_step(X)
        sk._m_step(X, log_resp)
    sk_time = median_time(sk_iteration, repeats)

    # bayesgmm: the body of its compiled while_loop, compiled once and timed after that.
    Xj = jnp.asarray(X)
    params = gmm_params.from_covariances(start["weights"].astype(dtype),
                                         start["means"].astype(dtype),
                                         start["covariances"].astype(dtype), covariance_type)
    chunk = stats.default_chunk_size(n_samples, n_components, n_features, dtype,
                                     covariance_type)

    @jax.jit
    def iteration(X, params):
        total = em.e_step_statistics(X, params, covariance_type, chunk_size=chunk)
        return stats.m_step(total, params.means, covariance_type, 1e-6)
    jax.block_until_ready(iteration(Xj, params))
    ours = median_time(lambda: jax.block_until_ready(iteration(Xj, params)), repeats)
    return sk_time, ours


COLD_FIT = """
import time, warnings, numpy as np
warnings.simplefilter("ignore")
{imports}
X = np.loadtxt({path!r}, delimiter=",", skiprows=1)
start = time.perf_counter()
GaussianMixture(3, n_init=10, random_state=0).fit(X)
print(time.perf_counter() - start)
"""


def cold_fit(which, repeats):
    import bayesgmm.datasets
    path = os.path.join(os.path.dirname(bayesgmm.datasets.__file__), "faithful.csv")
    imports = ("from sklearn.mixture import GaussianMixture" if which == "sklearn" else
               "import jax; jax.config.update('jax_enable_x64', True)\n"
               "from bayesgmm import GaussianMixture")
    code = COLD_FIT.format(imports=imports, path=path)
    times = [float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                  text=True).stdout.split()[-1]) for _ in range(repeats)]
    return statistics.median(times)


PEAK_MEMORY = """
import resource, warnings, numpy as np
warnings.simplefilter("ignore")
n, d, k = {n}, 16, 16
rng = np.random.default_rng(0)
X = np.empty((n, d), np.float32)
for s in range(0, n, 1_000_000):  # generate in pieces: the data alone are the baseline
    m = min(n - s, 1_000_000)
    X[s:s + m] = rng.normal(size=(m, d)) + 4 * rng.integers(0, k, (m, 1))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
init = dict(weights_init=np.full(k, 1 / k), means_init=X[:k].astype(np.float64),
            precisions_init=np.broadcast_to(np.eye(d), (k, d, d)).copy())
{fit}
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(base / 2**20, peak / 2**20)
"""


def peak_memory(which, n_samples):
    fit = ("from sklearn.mixture import GaussianMixture\n"
           "GaussianMixture(k, max_iter=3, tol=0, **init).fit(X)" if which == "sklearn" else
           "from bayesgmm import GaussianMixture\n"
           "GaussianMixture(k, max_iter=3, tol=0, **init).fit(X)")
    out = subprocess.run([sys.executable, "-c", PEAK_MEMORY.format(n=n_samples, fit=fit)],
                         check=True, capture_output=True, text=True).stdout.split()
    return float(out[-2]), float(out[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--n-features", type=int, default=16)
    parser.add_argument("--n-components", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--memory-samples", type=int, default=10_000_000)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--covariance-type", default="full",
                        choices=("full", "tied", "diag", "spherical"),
                        help="of the per-iteration timing (parts 1-2)")
    args = parser.parse_args(argv)
    n, d, k = args.n_samples, args.n_features, args.n_components
    print(f"jax {jax.__version__}, devices {jax.devices()}, {os.cpu_count()} CPUs; "
          f"medians of {args.repeats} repeats")

    ctype = args.covariance_type
    print(f"\n1-2. One EM iteration, {ctype} covariance, N={n:,}, d={d}, K={k}")
    flops = 4 * n * k * d * d
    for dtype in (np.float64, np.float32):
        sk_time, ours = per_iteration(n, d, k, dtype, args.repeats, ctype)
        line = (f"  {np.dtype(dtype).name}: scikit-learn {sk_time * 1e3:8.1f} ms, bayesgmm "
                f"{ours * 1e3:8.1f} ms  -> {sk_time / ours:5.2f}x faster")
        if ctype == "full":
            peak = matmul_rate(dtype)
            line += (f"; {flops / ours / 1e9:6.1f} GFLOP/s = {flops / ours / peak:5.1%} of "
                     f"this machine's matmul rate ({peak / 1e9:.1f} GFLOP/s)")
        print(line)

    print("\n3. Cold fit on Old Faithful (n_init=10, K=3, full), compilation included, "
          "fresh interpreter each")
    sk_cold, ours_cold = cold_fit("sklearn", args.repeats), cold_fit("bayesgmm", args.repeats)
    print(f"  scikit-learn {sk_cold:.2f} s, bayesgmm {ours_cold:.2f} s  -> ratio "
          f"bayesgmm/scikit-learn {ours_cold / sk_cold:.2f}")

    if not args.skip_memory:
        n_mem = args.memory_samples
        print(f"\n4. Peak RSS, float32 fit, N={n_mem:,}, d=16, K=16, 3 iterations "
              f"(data alone: {n_mem * 16 * 4 / 2**30:.2f} GiB)")
        for which in ("bayesgmm", "sklearn"):
            base, peak = peak_memory(which, n_mem)
            print(f"  {which:>12}: peak {peak:.2f} GiB (before the fit {base:.2f} GiB)")


if __name__ == "__main__":
    main()
