"""Customer segmentation on recency, frequency and monetary value (RFM), with the customers
whose segment is uncertain flagged.

The walkthrough's simulated customers: VIP (50; recency 5 +- 2 days, 25 +- 5 purchases,
1500 +- 300), Active (100; 15 +- 5, 12 +- 3, 500 +- 100), Regular (80; 30 +- 8, 6 +- 2,
300 +- 80), At-Risk (70; 90 +- 20, 2 +- 1, 150 +- 50). Features are standardised first
(their scales differ by orders of magnitude), four full-covariance components are fitted, and
customers whose largest responsibility is below the threshold are listed for a closer look.

Usage: python examples/customer_segments.py [--out DIR] [--seed S] [--threshold P]
"""

import argparse
import pathlib

import numpy as np

from bayesgmm import GaussianMixture
from bayesgmm.plots import new_figure, save_figure

SEGMENTS = {"VIP": (50, (5, 2), (25, 5), (1500, 300)),
            "Active": (100, (15, 5), (12, 3), (500, 100)),
            "Regular": (80, (30, 8), (6, 2), (300, 80)),
            "At-Risk": (70, (90, 20), (2, 1), (150, 50))}
FEATURES = ("recency", "frequency", "monetary")


def simulate(rng):
    rows, truth = [], []
    for name, (n, *features) in SEGMENTS.items():
        columns = [rng.normal(mean, sd, n) for mean, sd in features]
        rows.append(np.column_stack(columns))
        truth += [name] * n
    X = np.vstack(rows)
    X = np.maximum(X, [1, 1, 50])  # as the walkthrough: no one below 1 day, 1 purchase, 50
    return X, np.array(truth)


def main(args):
    rng = np.random.default_rng(args.seed)
    X, truth = simulate(rng)
    centre, scale = X.mean(0), X.std(0)
    Z = (X - centre) / scale
    model = GaussianMixture(4, n_init=10, random_state=args.seed).fit(Z)
    resp = model.predict_proba(Z)
    labels, confidence = resp.argmax(1), resp.max(1)
    means = model.means_ * scale + centre
    print("segment  weight  recency  frequency  monetary   true segments (counts)")
    for k in np.argsort(means[:, 0]):
        names, counts = np.unique(truth[labels == k], return_counts=True)
        print(f"{k:>7} {model.weights_[k]:7.2f} {means[k, 0]:8.1f} {means[k, 1]:10.1f} "
              f"{means[k, 2]:9.0f}   " + ", ".join(f"{n} {c}" for n, c in zip(names, counts)))
    unsure = np.flatnonzero(confidence < args.threshold)
    print(f"\n{unsure.size} of {len(X)} customers have max responsibility < {args.threshold}:")
    for i in unsure[np.argsort(confidence[unsure])][:10]:
        print(f"  customer {i:3d} ({truth[i]:>7}): R {X[i, 0]:5.1f} F {X[i, 1]:5.1f} "
              f"M {X[i, 2]:7.1f}  responsibilities " + " ".join(f"{p:.2f}" for p in resp[i]))

    fig = new_figure(figsize=(15, 4.5))
    axes = fig.subplots(1, 3)
    for ax, (a, b) in zip(axes[:2], ((0, 1), (1, 2))):
        ax.scatter(X[:, a], X[:, b], c=labels, cmap="tab10", s=12, alpha=0.8)
        ax.scatter(X[unsure, a], X[unsure, b], facecolor="none", edgecolor="red", s=70,
                   label=f"confidence < {args.threshold}")
        ax.set_xlabel(FEATURES[a])
        ax.set_ylabel(FEATURES[b])
        ax.legend()
    axes[2].hist(confidence, bins=30, color="0.6")
    axes[2].axvline(args.threshold, color="red", ls="--")
    axes[2].set_xlabel("max responsibility (confidence)")
    axes[2].set_ylabel("customers")
    path = save_figure(fig, pathlib.Path(args.out) / "customer_segments.png", dpi=110)
    print(f"figure: {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="examples/out")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threshold", type=float, default=0.6)
    main(parser.parse_args())
