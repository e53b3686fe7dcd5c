"""The four covariance types on elliptical clusters: which shapes each can represent.

Three clusters with the walkthrough's covariances (a horizontal, a vertical and a diagonal
ellipse, 100 points each); each covariance type is fitted and drawn with its 2-sigma ellipses,
its BIC and its agreement with the true clusters.

Usage: python examples/covariance_types.py [--out DIR] [--seed S]
"""

import argparse
import pathlib

import numpy as np

from bayesgmm import GaussianMixture
from bayesgmm.plots import new_figure, save_figure

CLUSTERS = [((0, 0), [[2.0, 0.5], [0.5, 0.5]]),
            ((5, 5), [[0.5, 0.3], [0.3, 2.0]]),
            ((5, 0), [[1.0, 0.8], [0.8, 1.0]])]


def full_covariances(model):
    """(K, d, d) covariance matrices whatever the covariance type stores."""
    k, d = model.means_.shape
    cov = model.covariances_
    if model.covariance_type == "full":
        return cov
    if model.covariance_type == "tied":
        return np.broadcast_to(cov, (k, d, d))
    if model.covariance_type == "diag":
        return np.stack([np.diag(c) for c in cov])
    return np.stack([c * np.eye(d) for c in cov])


def agreement(labels, truth):
    """Fraction of rows whose label matches the truth under the best label permutation."""
    from itertools import permutations
    return max(np.mean(np.asarray(p)[labels] == truth) for p in permutations(range(3)))


def main(args):
    rng = np.random.default_rng(args.seed)
    X = np.vstack([rng.multivariate_normal(m, c, 100) for m, c in CLUSTERS])
    truth = np.repeat(np.arange(3), 100)

    fig = new_figure(figsize=(16, 4.2))
    axes = fig.subplots(1, 4, sharex=True, sharey=True)
    angles = np.linspace(0, 2 * np.pi, 100)
    print("type        BIC      parameters  agreement with the true clusters")
    for ax, covariance_type in zip(axes, ("full", "tied", "diag", "spherical")):
        model = GaussianMixture(3, covariance_type=covariance_type, n_init=5,
                                random_state=args.seed).fit(X)
        labels = model.predict(X)
        print(f"{covariance_type:>9} {model.bic(X):9.1f} {model._n_parameters():9d}  "
              f"{agreement(labels, truth):.1%}")
        ax.scatter(X[:, 0], X[:, 1], c=labels, s=8, cmap="viridis")
        for mean, cov in zip(model.means_, full_covariances(model)):
            vals, vecs = np.linalg.eigh(cov)
            ellipse = (vecs * 2 * np.sqrt(vals)) @ np.stack([np.cos(angles), np.sin(angles)])
            ax.plot(mean[0] + ellipse[0], mean[1] + ellipse[1], "k", lw=1)
        ax.set_title(f"{covariance_type}: BIC {model.bic(X):.0f}")
        ax.set_aspect("equal")
    path = save_figure(fig, pathlib.Path(args.out) / "covariance_types.png", dpi=110)
    print(f"figure: {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="examples/out")
    parser.add_argument("--seed", type=int, default=42)
    main(parser.parse_args())
