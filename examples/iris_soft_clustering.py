"""Iris soft clustering: three components on the four measurements, and the flowers the model
is unsure about.

Usage: python examples/iris_soft_clustering.py [--out DIR] [--seed S] [--threshold P]
"""

import argparse
import pathlib

import numpy as np

from bayesgmm import GaussianMixture, datasets
from bayesgmm.plots import new_figure, save_figure


def main(args):
    iris = datasets.load("iris")
    X, species = iris.data, iris.target
    model = GaussianMixture(3, n_init=10, random_state=args.seed).fit(X)
    resp = model.predict_proba(X)
    labels = resp.argmax(1)
    confidence = resp.max(1)
    print("component  weight  mean petal length  mean petal width  species (counts)")
    for k in np.argsort(model.means_[:, 2]):
        names, counts = np.unique(species[labels == k], return_counts=True)
        print(f"{k:>9} {model.weights_[k]:7.2f} {model.means_[k, 2]:18.2f} "
              f"{model.means_[k, 3]:16.2f}  " + ", ".join(f"{n} {c}" for n, c in zip(names, counts)))
    unsure = np.flatnonzero(confidence < args.threshold)
    print(f"\n{unsure.size} flowers with max responsibility < {args.threshold}:")
    for i in unsure:
        print(f"  row {i:3d} ({species[i]}): " + ", ".join(f"{p:.2f}" for p in resp[i]))

    fig = new_figure(figsize=(7, 5))
    ax = fig.add_subplot()
    ax.scatter(X[:, 2], X[:, 3], c=labels, cmap="viridis", s=15 + 60 * (1 - confidence),
               alpha=0.4 + 0.6 * confidence, edgecolor="none")
    ax.scatter(X[unsure, 2], X[unsure, 3], facecolor="none", edgecolor="red", s=120,
               label=f"max responsibility < {args.threshold}")
    ax.scatter(model.means_[:, 2], model.means_[:, 3], marker="x", color="k", s=100,
               label="component means")
    ax.set_xlabel(iris.feature_names[2] + " (cm)")
    ax.set_ylabel(iris.feature_names[3] + " (cm)")
    ax.set_title("Iris: GMM soft clustering (colour = label, fading = uncertainty)")
    ax.legend(loc="upper left")
    path = save_figure(fig, pathlib.Path(args.out) / "iris_soft_clustering.png")
    print(f"figure: {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="examples/out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=0.9)
    main(parser.parse_args())
