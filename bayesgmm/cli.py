"""The ``bayesgmm`` command: a thin ``main(argv)`` over the estimators.

Subcommands, each on a CSV/NPY file or a shipped data set, each writing a report (Markdown and
JSON) and a figure to an output folder:

- ``fit``: one EM fit (and the saved model);
- ``select``: the BIC/AIC/ICL sweep over K and covariance types (and the saved best model);
- ``bayes``: a Bayesian mixture by NUTS or SVI (K+ posterior, divergences, the saved model);
- ``compare``: BIC against the posterior of K+ (:func:`bayesgmm.compare.compare`), and with
  ``--k-prior`` against P(K | data) under a prior on K (the telescoping sampler);
- ``demo``: ``compare`` on a shipped data set (Old Faithful by default).

``import bayesgmm`` turns on JAX's persistent compilation cache (:mod:`bayesgmm.config`), so
a second run does not recompile; ``--no-cache`` turns it off for one run. Each subcommand
imports what it runs when it runs, so that ``bayesgmm --help`` stays quick and never imports
NumPyro.
"""

import argparse
import pathlib
import sys
import time
import warnings

import numpy as np

from bayesgmm import datasets, plots, report
from bayesgmm.config import disable_compilation_cache
from bayesgmm.covariance import COVARIANCE_TYPES, EM_COVARIANCE_TYPES, MCLUST_MODELS
from bayesgmm.exceptions import DivergenceWarning


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
                        help="do not use the persistent compilation cache (see bayesgmm.config)")


def _out_dir(args):
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _key(args):
    import jax
    return jax.random.key(args.seed)


def _fit(args):
    from bayesgmm import io
    from bayesgmm.estimator import GaussianMixture
    X, names, label = load_input(args)
    out = _out_dir(args)
    start = time.perf_counter()
    model = GaussianMixture(args.n_components, covariance_type=args.covariance_type,
                            n_init=args.n_init, max_iter=args.max_iter, tol=args.tol,
                            reg_covar=args.reg_covar, random_state=args.seed).fit(X)
    seconds = time.perf_counter() - start
    data = report.fit_report(model, X, data_label=label, feature_names=names, seconds=seconds)
    markdown = report.fit_markdown(data)
    written = report.write_report(out, data, markdown)
    fig = plots.plot_fit(X, model, feature_names=names,
                         title=f"{label}: {args.n_components} components ({args.covariance_type})")
    written += (plots.save_figure(fig, out / "fit.png"),)
    io.save(out / "model.npz", model)
    print(markdown)
    print(f"wrote {', '.join(map(str, written))}, {out / 'model.npz'}")
    return 0


def _select(args):
    from bayesgmm import io
    from bayesgmm.estimator_ic import GaussianMixtureIC
    X, names, label = load_input(args)
    out = _out_dir(args)
    types = [t for c in args.covariance_types.split(",")
             for t in (MCLUST_MODELS if c == "mclust" else (c,))]
    for ctype in types:
        if ctype not in EM_COVARIANCE_TYPES:
            raise SystemExit(f"bayesgmm: unknown covariance type {ctype!r}; choose from "
                             f"{', '.join(EM_COVARIANCE_TYPES)}, or 'mclust' for all of "
                             f"mclust's models.")
    if not 1 <= args.k_max <= X.shape[0]:
        raise SystemExit(f"bayesgmm: --k-max must lie in 1..{X.shape[0]} (the number of rows).")
    try:
        tol = args.tol if args.tol == "mclust" else float(args.tol)
    except ValueError:
        raise SystemExit(f"bayesgmm: --tol must be a number or 'mclust', got "
                         f"{args.tol!r}.") from None
    search = GaussianMixtureIC(range(1, args.k_max + 1), covariance_type=types,
                               n_init=args.n_init, random_state=args.seed, verbose=1,
                               init_params=args.init_params, tol=tol).fit(X)
    markdown = report.select_markdown(search, data_label=label)
    written = report.write_report(
        out, report.select_report(search, X, data_label=label, feature_names=names), markdown)
    plots.plot_bic(search.sweep_, out / "bic.png",
                   title=f"{label}: BIC by K and covariance type")
    io.save(out / "model.npz", search.best_estimator_)
    print(markdown)
    print(f"wrote {', '.join(map(str, written))}, {out / 'bic.png'}, {out / 'model.npz'}")
    return 0


def _bayes(args):
    import jax
    from bayesgmm import io
    from bayesgmm.bayes import posterior
    from bayesgmm.bayes.estimator import BayesianGMM
    from bayesgmm.bayes.model import Priors
    X, names, label = load_input(args)
    out = _out_dir(args)
    if not args.e0 > 0:
        raise SystemExit(f"bayesgmm: --e0 must be positive, got {args.e0}.")
    if not 1 <= args.n_components <= X.shape[0]:
        raise SystemExit(f"bayesgmm: -k must lie in 1..{X.shape[0]} (the number of rows).")
    model = BayesianGMM(args.n_components, covariance_type=args.covariance_type,
                        method=args.method, priors=Priors(concentration=args.e0),
                        num_warmup=args.num_warmup, num_samples=args.num_samples,
                        num_chains=args.num_chains, target_accept_prob=args.target_accept,
                        weights_sampler=args.weights_sampler, guide=args.guide,
                        num_steps=args.num_steps, subsample_size=args.subsample_size,
                        random_state=args.seed, progress_bar=True, posterior_predictive=False)
    start = time.perf_counter()
    with warnings.catch_warnings():  # the report states the divergences
        warnings.simplefilter("ignore", DivergenceWarning)
        model.fit(X)
    seconds = time.perf_counter() - start
    # K+ is label-invariant, so the relabelled draws serve; its key is the second half of the
    # seed's (BayesianGMM fits with the first).
    key_kplus = jax.random.split(_key(args))[1]
    kplus = posterior.kplus_probabilities(
        posterior.occupied_components(key_kplus, X, model.draws_, args.covariance_type),
        args.n_components)
    data = report.bayes_report(model, X, kplus_posterior=kplus, data_label=label,
                               feature_names=names, seconds=seconds)
    markdown = report.bayes_markdown(data)
    written = report.write_report(out, data, markdown)
    fig = plots.plot_data_density(X, model.score_samples, feature_names=names)
    written += (plots.save_figure(fig, out / "bayes.png", dpi=110),)
    io.save(out / "model.npz", model)  # draws, settings and priors: bayesgmm.io.load
    print(markdown)
    print(f"wrote {', '.join(map(str, written))}, {out / 'model.npz'}")
    return 0


def _compare(args, X=None, names=None, label=None):
    from bayesgmm.compare import compare
    if X is None:
        X, names, label = load_input(args)
    out = _out_dir(args)
    # e0 and the panel default to compare()'s own defaults (not imported here: --help stays
    # free of NumPyro).
    defaults = {}
    if args.e0 is not None:
        defaults["e0"] = args.e0
    if getattr(args, "k_prior", None) is not None:
        from bayesgmm.bayes.telescope import TelescopePriors
        defaults.update(k_prior=TelescopePriors(k_prior=args.k_prior,
                                                weights=args.k_prior_weights,
                                                concentration=args.k_prior_concentration),
                        k_prior_num_samples=args.k_prior_num_samples,
                        k_prior_thin=args.k_prior_thin)
    if args.sensitivity_e0 is not None:
        try:
            defaults["sensitivity_e0"] = tuple(float(v) for v in args.sensitivity_e0.split(",")
                                               if v.strip())
        except ValueError:
            raise SystemExit(f"bayesgmm: --sensitivity-e0 must be comma-separated numbers, "
                             f"got {args.sensitivity_e0!r}.") from None
    try:
        result = compare(_key(args), X, k_max=args.k_max, covariance_type=args.covariance_type,
                         sweep_covariance_types=args.sweep_types.split(","),
                         num_warmup=args.num_warmup, num_samples=args.num_samples,
                         num_chains=args.num_chains, target_accept_prob=args.target_accept,
                         weights_sampler=args.weights_sampler,
                         sensitivity_num_warmup=args.sensitivity_num_warmup,
                         sensitivity_num_samples=args.sensitivity_num_samples,
                         n_init=args.n_init, feature_names=names, data_label=label,
                         progress=print, progress_bar=not args.no_progress, **defaults)
    except ValueError as err:
        raise SystemExit(f"bayesgmm: {err}") from None
    markdown = report.compare_markdown(result)
    written = report.write_report(out, report.compare_report(result), markdown)
    plots.plot_compare(result, out / "compare.png")
    print(markdown)
    print(f"wrote {', '.join(map(str, written))}, {out / 'compare.png'}")
    return 0


def _demo(args):
    data = datasets.load(args.dataset)
    return _compare(args, data.data, data.feature_names, args.dataset)


def _add_compare_options(parser, *, k_max, num_warmup, num_samples, sensitivity_draws):
    parser.add_argument("--k-max", type=int, default=k_max,
                        help="largest K of the sweep; components of the sparse mixture")
    parser.add_argument("--covariance-type", default="full", choices=COVARIANCE_TYPES,
                        help="covariance type of the Bayesian mixture")
    parser.add_argument("--sweep-types", default=",".join(COVARIANCE_TYPES),
                        help="comma-separated covariance types of the BIC sweep")
    parser.add_argument("--e0", type=float,
                        help="Dirichlet concentration of the sparse mixture (default: "
                             "bayesgmm.compare.DEFAULT_E0)")
    parser.add_argument("--sensitivity-e0",
                        help="comma-separated e0 values of the prior-sensitivity panel ('' to "
                             "skip; default: bayesgmm.compare.SENSITIVITY_E0)")
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
    parser.add_argument("--k-prior", choices=("uniform", "poisson", "geometric", "bnb"),
                        help="a prior on K over 1..k-max: also sample P(K | data) and "
                             "P(K+ | data) by the telescoping sampler (poisson: K-1 ~ Pois(1); "
                             "geometric: K-1 ~ Geom(0.1); bnb: K-1 ~ BNB(1, 4, 3))")
    parser.add_argument("--k-prior-weights", default="static", choices=("static", "dynamic"),
                        help="with --k-prior: Dirichlet e0 fixed (static) or e0 = alpha / K")
    parser.add_argument("--k-prior-concentration", type=float, default=1.0,
                        help="with --k-prior: e0 (static) or alpha (dynamic); default 1")
    parser.add_argument("--k-prior-num-samples", type=int, default=1000,
                        help="with --k-prior: draws kept per chain (4 chains)")
    parser.add_argument("--k-prior-thin", type=int, default=10,
                        help="with --k-prior: sweeps per kept draw")


def build_parser():
    parser = argparse.ArgumentParser(prog="bayesgmm",
                                     description="Gaussian mixture models in JAX.")
    sub = parser.add_subparsers(dest="command")

    fit = sub.add_parser("fit", help="fit one mixture by EM; writes a report, a figure and "
                                     "the model")
    _add_input_options(fit)
    fit.add_argument("-k", "--n-components", type=int, default=2)
    fit.add_argument("--covariance-type", default="full", choices=EM_COVARIANCE_TYPES,
                     help="scikit-learn's four types or one of mclust's models")
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
    select.add_argument("--covariance-types", default=",".join(COVARIANCE_TYPES),
                        help="comma-separated: scikit-learn's types, mclust's models "
                             "(EII ... VVV, E/V in 1-D), or 'mclust' for all 14")
    select.add_argument("--n-init", type=int, default=3,
                        help="EM restarts per model (k-means starts; hc starts once)")
    select.add_argument("--init-params", default="hc",
                        choices=("hc", "kmeans", "k-means++", "random", "random_from_data"),
                        help="start of every fit; default mclust's hierarchical clustering")
    select.add_argument("--tol", default="mclust",
                        help="EM tolerance: a number (scikit-learn's rule on the mean "
                             "log-likelihood) or 'mclust' (relative change 1e-5, default)")
    select.add_argument("--out", default="bayesgmm-out", help="output folder")
    select.set_defaults(func=_select)

    bayes = sub.add_parser("bayes", help="Bayesian mixture by NUTS or SVI; writes a report, "
                                         "a figure and the model (model.npz)")
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
    # The panel runs as long as the main fit: it then shares its compiled program (100 draws
    # compiled a second one), and 100 draws put 0.33 on K+ = 2 at e0 = 0.1 where 200 put 0.
    _add_compare_options(demo, k_max=6, num_warmup=200, num_samples=200, sensitivity_draws=200)
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
    if args.no_cache:
        disable_compilation_cache()
    return args.func(args)
