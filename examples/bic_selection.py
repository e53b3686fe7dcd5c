"""BIC selection: how many components and which covariance type for Old Faithful?

Fits K = 1..9 for the four covariance types by EM (one compiled program per type), prints
mclust's BIC table (scikit-learn's sign: lower is better) and the chosen model, and draws BIC
against K.

Usage: python examples/bic_selection.py [--out DIR] [--seed S]
"""

import argparse
import pathlib

import jax
import numpy as np

from bayesgmm import bic_sweep, datasets, plot_bic


def main(args):
    X = datasets.load("faithful").data
    sweep = bic_sweep(jax.random.key(args.seed), X, n_components=range(1, 10), n_init=3)
    bic = sweep.criterion_table("bic")
    print("BIC (lower is better)\n  K " + "".join(f"{t:>11}" for t in bic))
    for k in range(1, 10):
        print(f"{k:>3} " + "".join(f"{bic[t][k]:>11.1f}" for t in bic))
    print(f"best: K = {sweep.best_n_components}, covariance_type = "
          f"{sweep.best_covariance_type!r}")
    with np.printoptions(precision=3, suppress=True):
        print("weights", np.asarray(sweep.best_params.weights))
        print("means\n", np.asarray(sweep.best_params.means))
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot_bic(sweep, out / "bic_selection.png", title="Old Faithful: BIC by K")
    print(f"figure: {out / 'bic_selection.png'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="examples/out")
    parser.add_argument("--seed", type=int, default=0)
    main(parser.parse_args())
