"""Model-selection sweep and bootstrap: bayesgmm against scikit-learn, in one process.

Sweep: K = 1..9 x four covariance types, n_init restarts per model, on Old Faithful and on a
synthetic set (N = 100,000, d = 8). bayesgmm runs ``bic_sweep`` (one compiled program per
covariance type); scikit-learn runs its Python loop over ``GaussianMixture(...).fit(X)`` and
``.bic(X)``. Cold = first call in this process (compilation included); warm = later calls with a
fresh key (medians over repeats).

Bootstrap: 1,000 replicate fits of a 3-component full model on Old Faithful. bayesgmm's
``bootstrap`` against scikit-learn fitting the same kind of resamples from the same start (the
full-data solution, as bayesgmm's default) and from its default k-means start. scikit-learn's
time for 1,000 fits is extrapolated from ``--sklearn-boot-fits`` fits; the output says so.

Usage: python benchmarks/sweep_vs_sklearn.py [--repeats 3] [--synthetic-n-init 10]
       [--sklearn-synthetic-n-init 1] [--skip-synthetic]
"""

import argparse
import os
import statistics
import time

# "Cold" means compiling: keep bayesgmm's persistent compilation cache (on by default) off in
# this process and in the interpreters it starts.
os.environ["BAYESGMM_CACHE_DIR"] = "off"

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)  # both libraries in float64, as scikit-learn computes

from sklearn.mixture import GaussianMixture as SkGaussianMixture  # noqa: E402

from bayesgmm import datasets, resampling, selection  # noqa: E402
from bayesgmm.covariance import COVARIANCE_TYPES  # noqa: E402

GRID = range(1, 10)


def sklearn_sweep(X, n_init, seed):
    bics = {}
    for ctype in COVARIANCE_TYPES:
        for k in GRID:
            model = SkGaussianMixture(k, covariance_type=ctype, n_init=n_init,
                                      random_state=seed).fit(X)
            bics[(ctype, k)] = model.bic(X)
    best = min(bics, key=bics.get)
    return best, bics[best]


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def bench_sweep(name, X, n_init, sklearn_n_init, repeats):
    print(f"\n== sweep on {name}: N={X.shape[0]}, d={X.shape[1]}, K=1..9 x 4 types, "
          f"n_init={n_init} ==")
    cold, result = timed(lambda: selection.bic_sweep(jax.random.key(0), X, n_init=n_init))
    warm = [timed(lambda r=r: selection.bic_sweep(jax.random.key(r), X, n_init=n_init))[0]
            for r in range(1, repeats + 1)]
    ours = (result.best_covariance_type, result.best_n_components,
            result.table["bic"][result.best_index])
    print(f"bayesgmm: cold {cold:.2f} s, warm median {statistics.median(warm):.3f} s "
          f"({', '.join(f'{t:.3f}' for t in warm)}); best {ours[0]} K={ours[1]} "
          f"BIC {ours[2]:.3f}")
    sk_times = []
    for r in range(repeats if sklearn_n_init == n_init and X.shape[0] < 10_000 else 1):
        t, (best, bic) = timed(lambda r=r: sklearn_sweep(X, sklearn_n_init, r))
        sk_times.append(t)
    sk = statistics.median(sk_times)
    scale = n_init / sklearn_n_init
    note = ""
    if scale != 1:
        note = (f" [measured with n_init={sklearn_n_init}: {sk:.2f} s, extrapolated x{scale:g} "
                f"to n_init={n_init}]")
        sk *= scale
    print(f"scikit-learn: {sk:.2f} s (median of {len(sk_times)}){note}; best {best[0]} "
          f"K={best[1]} BIC {bic:.3f}")
    print(f"ratio sklearn/bayesgmm: cold {sk / cold:.1f}x, warm "
          f"{sk / statistics.median(warm):.1f}x")


def bench_bootstrap(X, n_boot, sklearn_fits, repeats):
    print(f"\n== bootstrap on Old Faithful: {n_boot} fits, K=3, full ==")
    cold, result = timed(lambda: resampling.bootstrap(jax.random.key(0), X, n_boot,
                                                     n_components=3))
    warm = [timed(lambda r=r: resampling.bootstrap(jax.random.key(r), X, n_boot,
                                                  n_components=3))[0]
            for r in range(1, repeats + 1)]
    ours = statistics.median(warm)
    print(f"bayesgmm: cold {cold:.2f} s, warm median {ours:.3f} s "
          f"({', '.join(f'{t:.3f}' for t in warm)}); median n_iter "
          f"{np.median(result.n_iter):.0f}")
    full = result.full_fit.params
    rng = np.random.default_rng(0)
    precisions = np.asarray(full.precisions_cholesky) @ np.swapaxes(
        np.asarray(full.precisions_cholesky), -1, -2)
    for label, kwargs in [
        ("from the full-data fit (same work as bayesgmm)",
         dict(weights_init=np.asarray(full.weights), means_init=np.asarray(full.means),
              precisions_init=precisions)),
        ("from its default k-means init", {}),
    ]:
        start = time.perf_counter()
        for _ in range(sklearn_fits):
            rows = rng.integers(0, X.shape[0], X.shape[0])
            SkGaussianMixture(3, random_state=0, **kwargs).fit(X[rows])
        per_fit = (time.perf_counter() - start) / sklearn_fits
        sk = per_fit * n_boot
        print(f"scikit-learn {label}: {per_fit * 1e3:.1f} ms per fit, {sk:.1f} s for "
              f"{n_boot} fits [extrapolated from {sklearn_fits} fits]; ratio "
              f"sklearn/bayesgmm warm {sk / ours:.0f}x, cold {sk / cold:.1f}x")


def main(args):
    print(f"jax {jax.__version__}, devices {jax.devices()}")
    faithful = datasets.load("faithful").data
    bench_sweep("Old Faithful", faithful, args.n_init, args.n_init, args.repeats)
    bench_bootstrap(faithful, 1000, args.sklearn_boot_fits, args.repeats)
    if not args.skip_synthetic:
        rng = np.random.default_rng(0)
        centres = rng.normal(scale=4.0, size=(5, 8))
        labels = rng.integers(0, 5, 100_000)
        X = centres[labels] + rng.normal(size=(100_000, 8)) @ np.diag(rng.uniform(0.5, 2, 8))
        bench_sweep("synthetic", X, args.synthetic_n_init, args.sklearn_synthetic_n_init,
                    args.repeats)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="warm repeats (median)")
    parser.add_argument("--n-init", type=int, default=10, help="restarts, Old Faithful")
    parser.add_argument("--synthetic-n-init", type=int, default=10,
                        help="restarts per model on the synthetic set (bayesgmm)")
    parser.add_argument("--sklearn-synthetic-n-init", type=int, default=1,
                        help="restarts scikit-learn actually runs on the synthetic set; its "
                             "time is scaled to --synthetic-n-init (its sweep takes tens of "
                             "minutes otherwise)")
    parser.add_argument("--sklearn-boot-fits", type=int, default=100,
                        help="scikit-learn bootstrap fits timed (extrapolated to 1,000)")
    parser.add_argument("--skip-synthetic", action="store_true")
    main(parser.parse_args())
