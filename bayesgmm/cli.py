"""The ``bayesgmm`` command: a thin ``main(argv)`` over the estimators.

Subcommands: ``fit`` (EM on a file or a shipped data set, with a report, a figure and the saved
model) and ``demo`` (EM for K = 1..k_max on a shipped data set: the BIC table and the chosen
model). The command (not the library) enables JAX's persistent compilation cache in a per-user
folder, so a second run does not recompile.
"""

import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np

from bayesgmm import datasets

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def enable_compilation_cache(path=None):
    """Turn on JAX's persistent compilation cache (default ``~/.cache/bayesgmm/jax``, or
    ``$BAYESGMM_CACHE_DIR``, or ``$XDG_CACHE_HOME/bayesgmm/jax``). Returns the folder."""
    import jax
    if path is None:
        base = os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache"))
        path = os.environ.get("BAYESGMM_CACHE_DIR", os.path.join(base, "bayesgmm", "jax"))
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None  # a read-only home: run without the cache rather than fail
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path


def load_input(args):
    """(X, feature names, a label for reports) from ``--dataset`` or a CSV/NPY path."""
    from bayesgmm import io
    if (args.dataset is None) == (args.data is None):
        raise SystemExit("bayesgmm: give either a data file or --dataset NAME "
                         f"({', '.join(datasets.DATASETS)}).")
    if args.dataset is not None:
        try:
            data = datasets.load(args.dataset)
        except ValueError as err:
            raise SystemExit(f"bayesgmm: {err}") from None
        X, names, label = data.data, data.feature_names, args.dataset
        if args.columns:
            wanted = [c.strip() for c in args.columns.split(",")]
            unknown = [c for c in wanted if c not in names]
            if unknown:
                raise SystemExit(f"bayesgmm: no column {unknown[0]!r} in {label}; columns are "
                                 f"{', '.join(names)}.")
            X = X[:, [names.index(c) for c in wanted]]
            names = tuple(wanted)
    else:
        columns = [c.strip() for c in args.columns.split(",")] if args.columns else None
        try:
            X, names = io.load_table(args.data, columns)
        except (FileNotFoundError, ValueError) as err:
            raise SystemExit(f"bayesgmm: {err}") from None
        label = pathlib.Path(args.data).name
    if args.standardize:
        scale = X.std(axis=0)
        X = (X - X.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    return X, names, label


def _add_input_options(parser):
    parser.add_argument("data", nargs="?", help="a .csv (header row optional) or .npy file")
    parser.add_argument("--dataset", help=f"a shipped data set: {', '.join(datasets.DATASETS)}")
    parser.add_argument("--columns", help="comma-separated column names or 0-based positions")
    parser.add_argument("--standardize", action="store_true",
                        help="centre and scale every column to unit variance first")
    parser.add_argument("--float64", action="store_true",
                        help="compute in float64 (enables JAX's x64 mode for this run)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-cache", action="store_true",
                        help="do not use the persistent compilation cache")


def _fit(args):
    from bayesgmm import io
    from bayesgmm.estimator import GaussianMixture
    from bayesgmm.plots import plot_fit
    X, names, label = load_input(args)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    model = GaussianMixture(args.n_components, covariance_type=args.covariance_type,
                            n_init=args.n_init, max_iter=args.max_iter, tol=args.tol,
                            reg_covar=args.reg_covar, random_state=args.seed).fit(X)
    seconds = time.perf_counter() - start
    report = {
        "data": label, "n_samples": int(X.shape[0]), "features": list(names),
        "n_components": args.n_components, "covariance_type": args.covariance_type,
        "dtype": str(model.means_.dtype), "seconds": round(seconds, 3),
        "converged": model.converged_, "n_iter": model.n_iter_,
        "log_likelihood_per_sample": model.score(X), "bic": model.bic(X), "aic": model.aic(X),
        "weights": model.weights_.tolist(), "means": model.means_.tolist(),
        "covariances": model.covariances_.tolist(),
    }
    io.save(out / "model.npz", model)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "report.md").write_text(_fit_markdown(report))
    fig = plot_fit(X, model, feature_names=names,
                   title=f"{label}: {args.n_components} components ({args.covariance_type})")
    fig.savefig(out / "fit.png", dpi=120)
    print(_fit_markdown(report))
    print(f"wrote {out / 'report.md'}, {out / 'report.json'}, {out / 'fit.png'}, "
          f"{out / 'model.npz'}")
    return 0


def _fit_markdown(report):
    lines = [f"# EM fit: {report['data']}", "",
             f"{report['n_samples']} rows, features {', '.join(report['features'])}; "
             f"{report['n_components']} components, covariance `{report['covariance_type']}`, "
             f"{report['dtype']}; {report['n_iter']} iterations, "
             f"{'converged' if report['converged'] else 'NOT converged'} in "
             f"{report['seconds']} s.", "",
             f"log-likelihood per row {report['log_likelihood_per_sample']:.4f}, "
             f"BIC {report['bic']:.2f}, AIC {report['aic']:.2f} (lower is better)", "",
             "| component | weight | mean |", "|---:|---:|---|"]
    for k, (w, m) in enumerate(zip(report["weights"], report["means"])):
        lines.append(f"| {k} | {w:.4f} | {', '.join(f'{v:.4g}' for v in m)} |")
    return "\n".join(lines) + "\n"


def _demo(args):
    from bayesgmm.estimator import GaussianMixture
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
            if args.covariance_type == "full":
                print("    covariance " + str(model.covariances_[k]).replace("\n", "\n" + " " * 15))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="bayesgmm",
                                     description="Gaussian mixture models in JAX.")
    sub = parser.add_subparsers(dest="command")

    fit = sub.add_parser("fit", help="fit one mixture by EM; writes a report, a figure and "
                                     "the model")
    _add_input_options(fit)
    fit.add_argument("-k", "--n-components", type=int, default=2)
    fit.add_argument("--covariance-type", default="full", choices=COVARIANCE_TYPES)
    fit.add_argument("--n-init", type=int, default=5)
    fit.add_argument("--max-iter", type=int, default=100)
    fit.add_argument("--tol", type=float, default=1e-3)
    fit.add_argument("--reg-covar", type=float, default=1e-6)
    fit.add_argument("--out", default="bayesgmm-out", help="output folder")
    fit.set_defaults(func=_fit)

    demo = sub.add_parser("demo", help="EM for K = 1..k_max on a shipped data set: the BIC "
                                       "table and the chosen model")
    demo.add_argument("--dataset", default="faithful", choices=datasets.DATASETS)
    demo.add_argument("--k-max", type=int, default=6)
    demo.add_argument("--covariance-type", default="full", choices=COVARIANCE_TYPES)
    demo.add_argument("--n-init", type=int, default=5)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--float64", action="store_true")
    demo.add_argument("--no-cache", action="store_true")
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command is None:
        args = parser.parse_args(["demo"])
    if args.float64:
        import jax
        jax.config.update("jax_enable_x64", True)  # the command's choice, never the library's
    if not args.no_cache:
        enable_compilation_cache()
    return args.func(args)
