"""The ``bayesgmm`` command: a thin ``main(argv)`` over the estimators."""

import argparse
import sys

import numpy as np

from bayesgmm import datasets
from bayesgmm.estimator import GaussianMixture


def _demo(args):
    data = datasets.load(args.dataset)
    X = data.data
    print(f"{args.dataset}: {X.shape[0]} rows, features {', '.join(data.feature_names)}")
    print(f"EM fits, covariance_type={args.covariance_type!r}, n_init={args.n_init}, "
          f"seed={args.seed}")
    print(f"{'K':>3} {'log-lik/row':>12} {'BIC':>10} {'AIC':>10} {'iters':>5}  converged")
    models = {}
    for k in range(1, args.k_max + 1):
        model = GaussianMixture(k, covariance_type=args.covariance_type, n_init=args.n_init,
                                random_state=args.seed).fit(X)
        models[k] = model
        print(f"{k:>3} {model.score(X):>12.4f} {model.bic(X):>10.2f} {model.aic(X):>10.2f} "
              f"{model.n_iter_:>5}  {model.converged_}")
    best = min(models, key=lambda k: models[k].bic(X))
    model = models[best]
    print(f"\nBIC chooses K = {best} (lower is better). Fitted model:")
    with np.printoptions(precision=4, suppress=True):
        for k in range(best):
            print(f"  component {k}: weight {model.weights_[k]:.4f}, mean {model.means_[k]}")
            print(f"    covariance\n{_indent(model.covariances_[k], 6)}"
                  if args.covariance_type == "full" else "", end="")
    return 0


def _indent(array, spaces):
    return "\n".join(" " * spaces + line for line in str(array).splitlines()) + "\n"


def build_parser():
    parser = argparse.ArgumentParser(
        prog="bayesgmm", description="Gaussian mixture models in JAX.")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="fit EM for K = 1..k_max on a shipped data set and "
                                       "print the BIC table and the chosen model")
    demo.add_argument("--dataset", default="faithful", choices=datasets.DATASETS)
    demo.add_argument("--k-max", type=int, default=6)
    demo.add_argument("--covariance-type", default="full",
                      choices=("full", "tied", "diag", "spherical"))
    demo.add_argument("--n-init", type=int, default=5)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command is None:
        args = parser.parse_args(["demo"])
    return args.func(args)
