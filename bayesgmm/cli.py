"""The ``bayesgmm`` command: a thin ``main(argv)`` over the estimators.

Subcommands, each on a CSV/NPY file or a shipped data set, each writing a report (Markdown and
JSON) and a figure to an output folder:

- ``fit``: one EM fit (and the saved model);
- ``select``: the BIC/AIC/ICL sweep over K and covariance types (and the saved best model);
- ``bayes``: a Bayesian mixture by NUTS or SVI (K+ posterior, divergences);
- ``compare``: BIC against the posterior of K+ (:func:`bayesgmm.compare.compare`);
- ``demo``: ``compare`` on a shipped data set (Old Faithful by default).

The command (not the library) enables JAX's persistent compilation cache in a per-user
folder, so a second run does not recompile.
"""

import argparse
import json
import pathlib
import sys
import time

import numpy as np

from bayesgmm import datasets
from bayesgmm.config import enable_compilation_cache

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


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


def _out_dir(args):
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _key(args):
    import jax
    return jax.random.key(args.seed)


def _select(args):
    from bayesgmm import io
    from bayesgmm.compare import _sweep
    from bayesgmm.estimator import GaussianMixture
    from bayesgmm.selection import plot_bic
    X, names, label = load_input(args)
    out = _out_dir(args)
    types = args.covariance_types.split(",")
    for ctype in types:
        if ctype not in COVARIANCE_TYPES:
            raise SystemExit(f"bayesgmm: unknown covariance type {ctype!r}; choose from "
                             f"{', '.join(COVARIANCE_TYPES)}.")
    if not 1 <= args.k_max <= X.shape[0]:
        raise SystemExit(f"bayesgmm: --k-max must lie in 1..{X.shape[0]} (the number of rows).")
    sweep = _sweep(_key(args), X, args.k_max, types, args.n_init, print)
    ctype, k = sweep.best_covariance_type, sweep.best_n_components
    # The sweep already fitted the chosen model: hand its result over instead of refitting.
    result = sweep.fit_result(ctype, k)
    model = GaussianMixture(k, covariance_type=ctype, n_init=args.n_init, random_state=args.seed)
    model._set_fitted(result, X.shape[1], result.params.means.dtype)
    table = {name: [v.item() if isinstance(v, np.generic) else v for v in column.tolist()]
             for name, column in sweep.table.items()}
    report = {"data": label, "n_samples": int(X.shape[0]), "features": list(names),
              "best": {"covariance_type": ctype, "n_components": k}, "table": table}
    bic = sweep.criterion_table("bic")
    lines = [f"# BIC sweep: {label}", "", f"BIC (lower is better) chooses **K = {k}**, "
             f"covariance `{ctype}`.", "", "| K | " + " | ".join(bic) + " |",
             "|---:|" + "---:|" * len(bic)]
    for kk in range(1, args.k_max + 1):
        lines.append(f"| {kk} | " + " | ".join(f"{bic[t][kk]:.1f}" for t in bic) + " |")
    lines += ["", f"The chosen model ({k} components, `{ctype}`):", "",
              "| component | weight | mean |", "|---:|---:|---|"]
    lines += [f"| {j} | {w:.4f} | {', '.join(f'{v:.4g}' for v in m)} |"
              for j, (w, m) in enumerate(zip(model.weights_, model.means_))]
    markdown = "\n".join(lines) + "\n"
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "report.md").write_text(markdown)
    plot_bic(sweep, out / "bic.png", title=f"{label}: BIC by K and covariance type")
    io.save(out / "model.npz", model)
    print(markdown)
    print(f"wrote {out / 'report.md'}, {out / 'report.json'}, {out / 'bic.png'}, "
          f"{out / 'model.npz'}")
    return 0


def _bayes(args):
    import jax
    from bayesgmm.bayes import Priors, inference, posterior
    from bayesgmm.compare import plot_data_density
    from bayesgmm.plots import require_matplotlib
    X, names, label = load_input(args)
    out = _out_dir(args)
    if not args.e0 > 0:
        raise SystemExit(f"bayesgmm: --e0 must be positive, got {args.e0}.")
    if not 1 <= args.n_components <= X.shape[0]:
        raise SystemExit(f"bayesgmm: -k must lie in 1..{X.shape[0]} (the number of rows).")
    key_fit, key_kplus = jax.random.split(_key(args))
    priors = Priors(concentration=args.e0)
    start = time.perf_counter()
    if args.method == "nuts":
        draws = inference.run_nuts(key_fit, X, n_components=args.n_components,
                                   covariance_type=args.covariance_type, priors=priors,
                                   num_warmup=args.num_warmup, num_samples=args.num_samples,
                                   num_chains=args.num_chains,
                                   target_accept_prob=args.target_accept,
                                   weights_sampler=args.weights_sampler, progress_bar=True)
    else:
        draws = inference.run_svi(key_fit, X, n_components=args.n_components,
                                  covariance_type=args.covariance_type, priors=priors,
                                  guide=args.guide, num_steps=args.num_steps,
                                  num_samples=args.num_samples,
                                  subsample_size=args.subsample_size, progress_bar=True)
    seconds = time.perf_counter() - start
    relabelled, _ = posterior.relabel(draws, args.covariance_type)
    kplus = posterior.kplus_probabilities(
        posterior.occupied_components(key_kplus, X, draws, args.covariance_type),
        args.n_components)
    divergences = int(np.sum(np.asarray(draws.num_divergences)))
    n_draws = int(np.prod(draws.params.weights.shape[:2]))
    weights = np.asarray(relabelled.params.weights).reshape(n_draws, -1)
    means = np.asarray(relabelled.params.means).reshape(n_draws, args.n_components, -1)
    report = {"data": label, "n_samples": int(X.shape[0]), "features": list(names),
              "method": args.method, "n_components": args.n_components,
              "covariance_type": args.covariance_type, "e0": args.e0,
              "seconds": round(seconds, 3), "num_draws": n_draws,
              "num_divergences": divergences if args.method == "nuts" else None,
              "kplus_posterior": kplus.tolist(),
              "weights_mean": weights.mean(0).tolist(), "weights_sd": weights.std(0).tolist(),
              "means_mean": means.mean(0).tolist()}
    lines = [f"# Bayesian mixture ({args.method.upper()}): {label}", "",
             f"{args.n_components} `{args.covariance_type}` components, e0 = {args.e0:g}, "
             f"{n_draws} draws in {seconds:.1f} s"
             + (f", {divergences} divergent ({100 * divergences / n_draws:.2f}%)"
                if args.method == "nuts" else "") + ".", "",
             "| component | weight (mean ± sd) | mean |", "|---:|---:|---|"]
    for k in range(args.n_components):
        lines.append(f"| {k} | {weights[:, k].mean():.3f} ± {weights[:, k].std():.3f} | "
                     + ", ".join(f"{v:.4g}" for v in means[:, k].mean(0)) + " |")
    lines += ["", "| K+ | " + " | ".join(str(k) for k in range(1, args.n_components + 1)) + " |",
              "|---|" + "---:|" * args.n_components,
              "| P(K+ \\| data) | " + " | ".join(f"{p:.3f}" for p in kplus) + " |"]
    markdown = "\n".join(lines) + "\n"
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "report.md").write_text(markdown)
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(7, 5))
    plot_data_density(ax, X, draws, args.covariance_type, feature_names=names)
    fig.tight_layout()
    fig.savefig(out / "bayes.png", dpi=110)
    plt.close(fig)
    print(markdown)
    print(f"wrote {out / 'report.md'}, {out / 'report.json'}, {out / 'bayes.png'}")
    return 0


def _compare(args, X=None, names=None, label=None):
    from bayesgmm.compare import compare
    if X is None:
        X, names, label = load_input(args)
    out = _out_dir(args)
    try:
        sensitivity = tuple(float(v) for v in args.sensitivity_e0.split(",") if v.strip())
    except ValueError:
        raise SystemExit(f"bayesgmm: --sensitivity-e0 must be comma-separated numbers, got "
                         f"{args.sensitivity_e0!r}.") from None
    try:
        result = compare(_key(args), X, k_max=args.k_max, covariance_type=args.covariance_type,
                         sweep_covariance_types=args.sweep_types.split(","), e0=args.e0,
                         num_warmup=args.num_warmup, num_samples=args.num_samples,
                         num_chains=args.num_chains, target_accept_prob=args.target_accept,
                         weights_sampler=args.weights_sampler, sensitivity_e0=sensitivity,
                         sensitivity_num_warmup=args.sensitivity_num_warmup,
                         sensitivity_num_samples=args.sensitivity_num_samples,
                         n_init=args.n_init, feature_names=names, data_label=label,
                         progress=print, progress_bar=not args.no_progress)
    except ValueError as err:
        raise SystemExit(f"bayesgmm: {err}") from None
    markdown = result.to_markdown()
    (out / "report.md").write_text(markdown)
    result.to_json(out / "report.json")
    result.plot(out / "compare.png")
    print(markdown)
    print(f"wrote {out / 'report.md'}, {out / 'report.json'}, {out / 'compare.png'}")
    return 0


def _demo(args):
    data = datasets.load(args.dataset)
    return _compare(args, data.data, data.feature_names, args.dataset)


def _add_compare_options(parser, *, k_max, num_warmup, num_samples, sensitivity_draws):
    from bayesgmm.compare import DEFAULT_E0, SENSITIVITY_E0
    parser.add_argument("--k-max", type=int, default=k_max,
                        help="largest K of the sweep; components of the sparse mixture")
    parser.add_argument("--covariance-type", default="full", choices=COVARIANCE_TYPES,
                        help="covariance type of the Bayesian mixture")
    parser.add_argument("--sweep-types", default=",".join(COVARIANCE_TYPES),
                        help="comma-separated covariance types of the BIC sweep")
    parser.add_argument("--e0", type=float, default=DEFAULT_E0,
                        help="Dirichlet concentration of the sparse mixture")
    parser.add_argument("--sensitivity-e0", default=",".join(f"{v:g}" for v in SENSITIVITY_E0),
                        help="comma-separated e0 values of the prior-sensitivity panel "
                             "('' to skip)")
    parser.add_argument("--num-warmup", type=int, default=num_warmup)
    parser.add_argument("--num-samples", type=int, default=num_samples)
    parser.add_argument("--num-chains", type=int, default=2)
    parser.add_argument("--target-accept", type=float, default=0.8)
    parser.add_argument("--weights-sampler", default="gibbs", choices=("gibbs", "nuts"),
                        help="weights by their Gibbs conditional (default; NUTS for the rest) "
                             "or by NUTS with everything else")
    parser.add_argument("--sensitivity-num-warmup", type=int, default=sensitivity_draws)
    parser.add_argument("--sensitivity-num-samples", type=int, default=sensitivity_draws)
    parser.add_argument("--n-init", type=int, default=3, help="EM restarts per model")
    parser.add_argument("--no-progress", action="store_true", help="no sampling progress bar")


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

    select = sub.add_parser("select", help="BIC/AIC/ICL sweep over K and covariance types; "
                                           "writes the table, the BIC plot and the best model")
    _add_input_options(select)
    select.add_argument("--k-max", type=int, default=9)
    select.add_argument("--covariance-types", default=",".join(COVARIANCE_TYPES))
    select.add_argument("--n-init", type=int, default=3)
    select.add_argument("--out", default="bayesgmm-out", help="output folder")
    select.set_defaults(func=_select)

    bayes = sub.add_parser("bayes", help="Bayesian mixture by NUTS or SVI; writes a report "
                                         "and a figure")
    _add_input_options(bayes)
    bayes.add_argument("-k", "--n-components", type=int, default=3)
    bayes.add_argument("--covariance-type", default="full", choices=COVARIANCE_TYPES)
    bayes.add_argument("--method", default="nuts", choices=("nuts", "svi"))
    bayes.add_argument("--e0", type=float, default=1.0, help="Dirichlet concentration")
    bayes.add_argument("--num-warmup", type=int, default=500)
    bayes.add_argument("--num-samples", type=int, default=500)
    bayes.add_argument("--num-chains", type=int, default=2)
    bayes.add_argument("--target-accept", type=float, default=0.8)
    bayes.add_argument("--weights-sampler", default="nuts", choices=("nuts", "gibbs"),
                       help="NUTS: weights by NUTS with everything else; 'gibbs' draws them "
                            "from their conditional (use with a sparse --e0)")
    bayes.add_argument("--guide", default="normal",
                       choices=("normal", "multivariate_normal", "delta"))
    bayes.add_argument("--num-steps", type=int, default=2000, help="SVI steps")
    bayes.add_argument("--subsample-size", type=int, default=None,
                       help="SVI: rows per step (minibatch SVI for large data)")
    bayes.add_argument("--out", default="bayesgmm-out", help="output folder")
    bayes.set_defaults(func=_bayes)

    comp = sub.add_parser("compare", help="BIC (EM) against the posterior of the number of "
                                          "occupied components (NUTS)")
    _add_input_options(comp)
    _add_compare_options(comp, k_max=10, num_warmup=500, num_samples=500,
                         sensitivity_draws=200)
    comp.add_argument("--out", default="bayesgmm-compare", help="output folder")
    comp.set_defaults(func=_compare)

    demo = sub.add_parser("demo", help="compare on a shipped data set (Old Faithful by "
                                       "default): report, figure and JSON")
    demo.add_argument("--dataset", default="faithful", choices=datasets.DATASETS)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--float64", action="store_true")
    demo.add_argument("--no-cache", action="store_true")
    demo.add_argument("--out", default="bayesgmm-demo", help="output folder")
    _add_compare_options(demo, k_max=6, num_warmup=200, num_samples=200, sensitivity_draws=100)
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
