"""Sampling new points from a fitted mixture: a generative model of Old Faithful.

Fits three components, draws as many synthetic eruptions as were observed, and compares the
two side by side (means, covariances, and a scatter plot).

Usage: python examples/sampling.py [--out DIR] [--seed S]
"""

import argparse
import pathlib

import numpy as np

from bayesgmm import GaussianMixture, datasets
from bayesgmm.plots import new_figure, save_figure


def main(args):
    X = datasets.load("faithful").data
    model = GaussianMixture(3, n_init=10, random_state=args.seed).fit(X)
    synthetic, component = model.sample(len(X))
    with np.printoptions(precision=3, suppress=True):
        print("observed mean ", X.mean(0), "  synthetic mean ", synthetic.mean(0))
        print("observed covariance\n", np.cov(X.T), "\nsynthetic covariance\n",
              np.cov(synthetic.T))
    print("draws per component:", np.bincount(component, minlength=3),
          " weights:", np.round(model.weights_, 3))

    fig = new_figure(figsize=(11, 4.5))
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    axes[0].scatter(X[:, 0], X[:, 1], s=10, color="k")
    axes[0].set_title("observed (272 eruptions)")
    axes[1].scatter(synthetic[:, 0], synthetic[:, 1], c=component, cmap="viridis", s=10)
    axes[1].set_title("sampled from the fitted mixture (colour = component)")
    for ax in axes:
        ax.set_xlabel("eruption (min)")
    axes[0].set_ylabel("waiting (min)")
    path = save_figure(fig, pathlib.Path(args.out) / "sampling.png", dpi=110)
    print(f"figure: {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="examples/out")
    parser.add_argument("--seed", type=int, default=0)
    main(parser.parse_args())
