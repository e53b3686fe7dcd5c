"""How many galaxy groups, with a prior on K: the telescoping sampler on the galaxy data.

Reproduces the univariate vignette of the R package ``telescope`` (Malsiner-Walli,
Frühwirth-Schnatter & Grün): 82 galaxy velocities (1000 km/s), K ~ Uniform{1, ..., 30}, a
static Dirichlet with e0 = 1, and Richardson & Green's priors mu_k ~ N(midrange, R^2),
sigma_k^2 ~ InvGamma(2, C0), C0 ~ Gamma(0.2, 10 / R^2). Prints P(K | data) next to the
vignette's published values, the posterior of K+ and its quartiles, and the clusters of the
draws whose K+ equals its mode (relabelled), and draws both posteriors.

The vignette ran one chain of 10,000 draws without thinning; the sampler's draws of K are
strongly autocorrelated on these data (about 180 sweeps per independent draw), so its
published figures carry a Monte Carlo error of several hundredths. This script keeps 10,000
draws from 8 chains thinned by ``--thin`` (default 20) sweeps.

Usage: python examples/galaxy_telescope.py [--out DIR] [--seed S] [--thin T]
"""

import argparse
import pathlib
import time

import jax
import numpy as np

from bayesgmm import datasets, plots
from bayesgmm.bayes.telescope import TelescopePriors, sample_telescope

#: P(K = 3..12) in the vignette (``round(p_K[1:20], 2)``).
PUBLISHED = {3: 0.05, 4: 0.15, 5: 0.21, 6: 0.20, 7: 0.16, 8: 0.11, 9: 0.06, 10: 0.03,
             11: 0.02, 12: 0.01}


def main(args):
    X = datasets.load("galaxy").data
    priors = TelescopePriors(k_prior="uniform", weights="static", concentration=1.0)
    start = time.perf_counter()
    result = sample_telescope(jax.random.key(args.seed), X, k_max=30, priors=priors,
                              num_warmup=1000, num_samples=1250, num_chains=8,
                              thin=args.thin, progress_bar=True)
    print(f"10,000 draws (8 chains x 1250, thin {args.thin}) in "
          f"{time.perf_counter() - start:.1f} s")
    print("\n| K | P(K | data) | published | P(K+ | data) |\n|---:|---:|---:|---:|")
    for k in range(1, 16):
        print(f"| {k} | {result.k_posterior[k - 1]:.3f} | "
              f"{PUBLISHED.get(k, float('nan')):.2f} | {result.kplus_posterior[k - 1]:.3f} |")
    summary, diag = result.summary(), result.diagnostics
    print(f"\nK: mode {summary['k_mode']}, mean {summary['k_mean']:.2f} (published: 5, 6.25); "
          f"K+: mode {summary['kplus_mode']}, quartiles {summary['kplus_quartiles']} "
          f"(published 5 / 6 / 7); R-hat K {diag['rhat_k']:.3f}, K+ {diag['rhat_kplus']:.3f}")
    clusters = result.clusters(X)
    print(f"\n{clusters.n_clusters} clusters ({clusters.num_draws} draws with K+ = "
          f"{clusters.n_clusters}), relabelled:\n\n| cluster | mean | sd | weight | size |\n"
          "|---:|---:|---:|---:|---:|")
    order = np.argsort(clusters.means[:, 0])
    for j, k in enumerate(order):
        print(f"| {j + 1} | {clusters.means[k, 0]:.2f} | "
              f"{np.sqrt(clusters.covariances[k, 0, 0]):.2f} | {clusters.weights[k]:.3f} | "
              f"{clusters.sizes[k]:.1f} |")
    out = pathlib.Path(args.out)
    fig = plots.new_figure(figsize=(12, 4.5))
    ax_k, ax_data = fig.subplots(1, 2)
    plots.plot_k_posterior(result, ax=ax_k, reference=PUBLISHED,
                           title="galaxy: K ~ U{1..30}, e0 = 1 (x: telescope vignette)")
    ax_data.hist(X[:, 0], bins=40, color="0.8")
    for k in order:
        ax_data.axvline(clusters.means[k, 0], color="tab:red", lw=1)
    ax_data.scatter(X[:, 0], np.zeros(len(X)), c=clusters.labels, cmap="tab10", s=15, zorder=3)
    ax_data.set_xlabel("velocity (1000 km/s)")
    ax_data.set_title(f"{clusters.n_clusters} clusters (draws with K+ = its mode), means")
    plots.save_figure(fig, out / "galaxy_telescope.png")
    print(f"figure: {out / 'galaxy_telescope.png'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="examples/out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--thin", type=int, default=20)
    main(parser.parse_args())
