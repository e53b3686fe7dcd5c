"""Density estimation and outlier flagging: points of low log-density under a fitted mixture.

Old Faithful with a few implausible eruptions added; a mixture is fitted, every point's
log-density is computed, and points below the 1% quantile of the training log-densities are
flagged.

Usage: python examples/density_outliers.py [--out DIR] [--seed S] [--quantile Q]
"""

import argparse
import pathlib

import numpy as np

from bayesgmm import GaussianMixture, datasets
from bayesgmm.plots import new_figure, save_figure


def main(args):
    X = datasets.load("faithful").data
    odd = np.array([[1.0, 95.0], [5.8, 45.0], [3.2, 110.0]])  # short-but-late, long-but-early
    model = GaussianMixture(3, n_init=10, random_state=args.seed).fit(X)
    threshold = np.quantile(model.score_samples(X), args.quantile)
    candidates = np.vstack([X, odd])
    log_density = model.score_samples(candidates)
    flagged = np.flatnonzero(log_density < threshold)
    print(f"threshold: log-density < {threshold:.2f} (the {args.quantile:.0%} quantile of the "
          f"training data)")
    for i in flagged:
        tag = "added" if i >= len(X) else "observed"
        print(f"  {tag:>8} eruption {candidates[i, 0]:.1f} min, waiting {candidates[i, 1]:.0f} "
              f"min: log-density {log_density[i]:.2f}")

    xx, yy = np.meshgrid(np.linspace(0.5, 6.5, 200), np.linspace(35, 115, 200))
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    zz = model.score_samples(grid).reshape(xx.shape)
    fig = new_figure(figsize=(7, 5.5))
    ax = fig.add_subplot()
    contours = ax.contourf(xx, yy, zz, levels=np.linspace(-20, zz.max(), 25), cmap="Blues")
    ax.contour(xx, yy, zz, levels=[threshold], colors="red", linestyles="--")
    fig.colorbar(contours, label="log-density")
    ax.scatter(X[:, 0], X[:, 1], s=8, color="k")
    ax.scatter(candidates[flagged, 0], candidates[flagged, 1], s=90, facecolor="none",
               edgecolor="red", label="flagged (below the red contour)")
    ax.set_xlabel("eruption (min)")
    ax.set_ylabel("waiting (min)")
    ax.legend(loc="upper left")
    path = save_figure(fig, pathlib.Path(args.out) / "density_outliers.png")
    print(f"figure: {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="examples/out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quantile", type=float, default=0.01)
    main(parser.parse_args())
