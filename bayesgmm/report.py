"""Reports as JSON-ready dicts and Markdown: one EM fit, a model-selection sweep, a Bayesian fit,
and the comparison of BIC with the posterior of K+.

Each report is built from a fitted estimator or a result (never refitted here): ``*_report``
returns the dict written as ``report.json``, ``*_markdown`` the text written as ``report.md``,
and :func:`write_report` writes both.
"""

import json
import pathlib

import numpy as np

from bayesgmm.covariance import model_label


# ---------------------------------------------------------------------------------- helpers

def _fmt(value, spec=".3f"):
    return "n/a" if value is None or not np.isfinite(value) else format(value, spec)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _rounded(a):
    return [round(float(v), 6) for v in np.asarray(a).ravel()]


def _table(table):
    """A column table (dict of str to ndarray) as Python lists."""
    return {name: column.tolist() for name, column in table.items()}


def _component_rows(weights, means):
    return [f"| {k} | {w:.4f} | {', '.join(f'{v:.4g}' for v in m)} |"
            for k, (w, m) in enumerate(zip(weights, means))]


def to_json(report, path=None):
    """A report dict as JSON text (two-space indent; NumPy scalars and arrays converted),
    also written to ``path`` when given."""
    text = json.dumps(report, indent=2, default=_json_default)
    if path is not None:
        pathlib.Path(path).write_text(text)
    return text


def write_report(out, report, markdown):
    """Write ``report.json`` and ``report.md`` to the folder ``out`` (created if needed).

    Parameters
    ----------
    out : str or path-like
    report : dict
        JSON-ready (see :func:`to_json`).
    markdown : str

    Returns
    -------
    (pathlib.Path, pathlib.Path)
        The Markdown and JSON paths.
    """
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    to_json(report, out / "report.json")
    (out / "report.md").write_text(markdown)
    return out / "report.md", out / "report.json"


# ------------------------------------------------------------------------------------ EM fit

def fit_report(model, X, *, data_label, feature_names, seconds):
    """One EM fit.

    Parameters
    ----------
    model : fitted GaussianMixture
    X : ndarray, shape (n_samples, n_features)
        The data it was fitted to (for the score and the criteria).
    data_label : str
    feature_names : sequence of str
    seconds : float
        Time the fit took.

    Returns
    -------
    dict
    """
    return {
        "data": data_label, "n_samples": int(X.shape[0]), "features": list(feature_names),
        "n_components": model.n_components, "covariance_type": model.covariance_type,
        "dtype": str(model.means_.dtype), "seconds": round(seconds, 3),
        "converged": model.converged_, "n_iter": model.n_iter_,
        "log_likelihood_per_sample": model.score(X), "bic": model.bic(X), "aic": model.aic(X),
        "weights": model.weights_.tolist(), "means": model.means_.tolist(),
        "covariances": model.covariances_.tolist(),
    }


def fit_markdown(report):
    """Markdown of a :func:`fit_report` dict."""
    lines = [f"# EM fit: {report['data']}", "",
             f"{report['n_samples']} rows, features {', '.join(report['features'])}; "
             f"{report['n_components']} components, covariance `{report['covariance_type']}`, "
             f"{report['dtype']}; {report['n_iter']} iterations, "
             f"{'converged' if report['converged'] else 'NOT converged'} in "
             f"{report['seconds']} s.", "",
             f"log-likelihood per row {report['log_likelihood_per_sample']:.4f}, "
             f"BIC {report['bic']:.2f}, AIC {report['aic']:.2f} (lower is better)", "",
             "| component | weight | mean |", "|---:|---:|---|"]
    lines += _component_rows(report["weights"], report["means"])
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------- selection

def select_report(search, X, *, data_label, feature_names):
    """A model-selection sweep.

    Parameters
    ----------
    search : fitted GaussianMixtureIC
    X : ndarray, shape (n_samples, n_features)
    data_label : str
    feature_names : sequence of str

    Returns
    -------
    dict
        With the chosen model (``best``) and the sweep's whole table.
    """
    return {"data": data_label, "n_samples": int(X.shape[0]), "features": list(feature_names),
            "best": {"covariance_type": search.covariance_type_,
                     "n_components": search.n_components_},
            "table": _table(search.table_)}


def select_markdown(search, *, data_label):
    """Markdown of a sweep: the BIC table (K by covariance type) and the chosen model.

    Parameters
    ----------
    search : fitted GaussianMixtureIC
    data_label : str

    Returns
    -------
    str
    """
    bic, k, ctype = search.bic_, search.n_components_, search.covariance_type_
    grid = list(next(iter(bic.values())))
    lines = [f"# BIC sweep: {data_label}", "", f"BIC (lower is better) chooses **K = {k}**, "
             f"covariance `{model_label(ctype)}`.", "",
             "| K | " + " | ".join(model_label(t) for t in bic) + " |",
             "|---:|" + "---:|" * len(bic)]
    for kk in grid:
        lines.append(f"| {kk} | " + " | ".join(f"{bic[t][kk]:.1f}" for t in bic) + " |")
    lines += ["", f"The chosen model ({k} components, `{model_label(ctype)}`):", "",
              "| component | weight | mean |", "|---:|---:|---|"]
    best = search.best_estimator_
    lines += _component_rows(best.weights_, best.means_)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- Bayesian fit

def bayes_report(model, X, *, kplus_posterior, data_label, feature_names, seconds):
    """A Bayesian fit: posterior means and sds of the (relabelled) weights, posterior means of
    the means, the posterior of K+, and the divergences (NUTS).

    Parameters
    ----------
    model : fitted BayesianGMM
    X : ndarray, shape (n_samples, n_features)
    kplus_posterior : ndarray, shape (n_components,)
        ``P(K+ = k | data)``, k = 1..n_components.
    data_label : str
    feature_names : sequence of str
    seconds : float

    Returns
    -------
    dict
    """
    params = model.draws_.params
    n_draws = int(np.prod(params.weights.shape[:2]))
    weights = np.asarray(params.weights).reshape(n_draws, -1)
    means = np.asarray(params.means).reshape(n_draws, model.n_components, -1)
    return {"data": data_label, "n_samples": int(X.shape[0]), "features": list(feature_names),
            "method": model.method, "n_components": model.n_components,
            "covariance_type": model.covariance_type,
            "e0": float(model.priors.concentration), "seconds": round(seconds, 3),
            "num_draws": n_draws,
            "num_divergences": model.num_divergences_ if model.method == "nuts" else None,
            "kplus_posterior": np.asarray(kplus_posterior).tolist(),
            "weights_mean": weights.mean(0).tolist(), "weights_sd": weights.std(0).tolist(),
            "means_mean": means.mean(0).tolist()}


def bayes_markdown(report):
    """Markdown of a :func:`bayes_report` dict."""
    n_draws, divergences = report["num_draws"], report["num_divergences"]
    lines = [f"# Bayesian mixture ({report['method'].upper()}): {report['data']}", "",
             f"{report['n_components']} `{report['covariance_type']}` components, "
             f"e0 = {report['e0']:g}, {n_draws} draws in {report['seconds']:.1f} s"
             + (f", {divergences} divergent ({100 * divergences / n_draws:.2f}%)"
                if divergences is not None else "") + ".", "",
             "| component | weight (mean ± sd) | mean |", "|---:|---:|---|"]
    for k, (w, sd, m) in enumerate(zip(report["weights_mean"], report["weights_sd"],
                                       report["means_mean"])):
        lines.append(f"| {k} | {w:.3f} ± {sd:.3f} | " + ", ".join(f"{v:.4g}" for v in m) + " |")
    ks = range(1, report["n_components"] + 1)
    lines += ["", "| K+ | " + " | ".join(str(k) for k in ks) + " |",
              "|---|" + "---:|" * len(ks),
              "| P(K+ \\| data) | " + " | ".join(f"{p:.3f}" for p in report["kplus_posterior"])
              + " |"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------- comparison

def compare_report(result):
    """Everything in the comparison as JSON-ready Python values.

    Parameters
    ----------
    result : CompareResult

    Returns
    -------
    dict
    """
    ctype, k = result.bic_choice
    return {
        "data": result.data_label, "n_samples": int(result.X.shape[0]),
        "features": list(result.feature_names), "k_max": result.k_max,
        "covariance_type": result.covariance_type,
        "bic_choice": {"covariance_type": ctype, "n_components": k},
        "bic_choice_same_type": result.bic_choice_same_type,
        "bic_weights": _rounded(result.bic_weights),
        "kplus_posterior": _rounded(result.kplus_posterior),
        "kplus_prior": _rounded(result.kplus_prior),
        "kplus_mode": result.kplus_mode,
        "diagnostics": result.diagnostics,
        "sensitivity": {str(e0): _rounded(p) for e0, p in result.sensitivity.items()},
        "sensitivity_prior": {str(e0): _rounded(p)
                              for e0, p in result.sensitivity_prior.items()},
        "sensitivity_diagnostics": {str(e0): d
                                    for e0, d in result.sensitivity_diagnostics.items()},
        "settings": result.settings,
        "sweep": _table(result.sweep.table),
        **_k_prior_report(result),
    }


def _k_prior_report(result):
    """The telescoping sampler's part of :func:`compare_report` (empty without a prior on K):
    lists indexed from K = 1."""
    tele = getattr(result, "telescope", None)
    if tele is None:
        return {}
    c = result.clusters
    return {
        "posterior_K": _rounded(tele.k_posterior),
        "posterior_K_plus": _rounded(tele.kplus_posterior),
        "prior_K": _rounded(tele.k_prior),
        "prior_K_plus": _rounded(tele.kplus_prior),
        "k_prior": {**tele.settings, **tele.summary()},
        "k_prior_diagnostics": tele.diagnostics,
        "clusters": {"n_clusters": c.n_clusters, "num_draws": c.num_draws,
                     "sizes": _rounded(c.sizes), "weights": _rounded(c.weights),
                     "means": np.round(c.means, 6).tolist(),
                     "covariances": np.round(c.covariances, 6).tolist(),
                     "labels": c.labels.tolist()},
    }


def _k_prior_markdown(result):
    """The telescoping sampler's part of :func:`compare_markdown` (empty without a prior on
    K)."""
    tele = getattr(result, "telescope", None)
    if tele is None:
        return []
    s, d, summary = tele.settings, tele.diagnostics, tele.summary()
    weights = "e0 = alpha / K, alpha" if s["weights"] == "dynamic" else "static e0"
    hyper = (f" ~ {tuple(s['concentration_prior'])}" if s["concentration_prior"]
             else f" = {s['concentration']:g}")
    lines = ["", f"## Prior on K: {s['k_prior']} on 1..{s['k_max']} (telescoping sampler)", "",
             f"{weights}{hyper}; {s['num_chains']} chains x ({s['num_warmup']} warmup + "
             f"{s['num_samples']} draws, thin {s['thin']}), {s['seconds']:.1f} s. "
             f"P(K | data): mode **K = {summary['k_mode']}**, mean {summary['k_mean']:.2f}; "
             f"P(K+ | data): mode **K+ = {summary['kplus_mode']}**, quartiles "
             f"{' / '.join(f'{q:g}' for q in summary['kplus_quartiles'])}. R-hat K "
             f"{_fmt(d['rhat_k'])}, K+ {_fmt(d['rhat_kplus'])}; ESS K {_fmt(d['ess_k'], '.0f')}"
             f", K+ {_fmt(d['ess_kplus'], '.0f')}.", ""]
    from bayesgmm.bayes.diagnostics import RHAT_WARNING  # noqa: PLC0415 (NumPyro on use)
    worst = max((v for v in (d["rhat_k"], d["rhat_kplus"]) if v is not None), default=None)
    if worst is not None and worst > RHAT_WARNING:
        modes = [int(np.bincount(chain).argmax()) for chain in tele.draws.n_occupied]
        lines += [f"**The chains disagree** (R-hat {worst:.2f} > {RHAT_WARNING}; mode of K+ "
                  f"per chain: {', '.join(map(str, modes))}): the allocation sampler moves "
                  f"between numbers of clusters slowly on these data. Run longer chains "
                  f"(more draws or a larger thin) before quoting P(K) and P(K+).", ""]
    lines += [f"| K | BIC weight ({result.covariance_type}) | P(K \\| data) | P(K+ \\| data) "
              f"| prior of K | prior of K+ |", "|---:|---:|---:|---:|---:|---:|"]
    prior_kplus = tele.kplus_prior
    for k in range(1, result.k_max + 1):
        lines.append(f"| {k} | {result.bic_weights[k - 1]:.3f} | {tele.k_posterior[k - 1]:.3f} "
                     f"| {tele.kplus_posterior[k - 1]:.3f} | {tele.k_prior[k - 1]:.3f} | "
                     f"{prior_kplus[k - 1]:.3f} |")
    c = result.clusters
    lines += ["", f"Clusters of the {c.num_draws} draws with K+ = {c.n_clusters} (its mode), "
                  f"relabelled (full covariance):", "",
              "| cluster | weight | size | mean |", "|---:|---:|---:|---|"]
    for j, k in enumerate(np.argsort(c.means[:, 0]), 1):  # numbered by the first feature
        lines.append(f"| {j} | {c.weights[k]:.3f} | {c.sizes[k]:.1f} | "
                     + ", ".join(f"{v:.4g}" for v in c.means[k]) + " |")
    return lines


def compare_markdown(result):
    """The comparison as Markdown: BIC table, K+ posterior against prior and BIC weights, the
    prior-sensitivity panel, and the sampler diagnostics.

    Parameters
    ----------
    result : CompareResult

    Returns
    -------
    str
    """
    from bayesgmm.bayes.diagnostics import RHAT_WARNING  # noqa: PLC0415 (NumPyro on use)

    r = result
    d, s = r.diagnostics, r.settings
    ctype, k_bic = r.bic_choice
    lines = [
        f"# How many components? {r.data_label}", "",
        f"{r.X.shape[0]} rows, features {', '.join(r.feature_names)}; K = 1..{r.k_max}.",
        "",
        f"- **BIC (EM)** chooses **K = {k_bic}** (`{model_label(ctype)}`); among "
        f"`{r.covariance_type}` "
        f"models K = {r.bic_choice_same_type} (BIC weight "
        f"{r.bic_weights[r.bic_choice_same_type - 1]:.2f}).",
        f"- **Sparse finite mixture** ({r.k_max} `{r.covariance_type}` components, "
        f"{r.prior_label}, NUTS): posterior mode **K+ = {r.kplus_mode}** "
        f"(P = {r.kplus_posterior[r.kplus_mode - 1]:.2f}); the prior alone gives mode "
        f"K+ = {int(np.argmax(r.kplus_prior)) + 1}.",
    ]
    if getattr(r, "telescope", None) is not None:
        t = r.telescope
        lines.append(
            f"- **Prior on K** ({t.settings['k_prior']} on 1..{r.k_max}, telescoping "
            f"sampler): posterior mode **K = {int(np.argmax(t.k_posterior)) + 1}** "
            f"(P = {t.k_posterior.max():.2f}), **K+ = {int(np.argmax(t.kplus_posterior)) + 1}** "
            f"(P = {t.kplus_posterior.max():.2f}).")
    lines += [
        f"- Divergences: {d['num_divergences']} of {d['num_draws']} draws "
        f"({100 * d['divergence_fraction']:.2f}%); R-hat K+ {_fmt(d['rhat_kplus'])}, "
        f"R-hat log-likelihood {_fmt(d['rhat_log_likelihood'])}.",
    ]
    if d["rhat_kplus"] is not None and d["rhat_kplus"] > RHAT_WARNING:
        modes = r.kplus_chain_modes
        if len(set(modes)) > 1:
            how = (f"chains settled on different numbers of occupied components (per chain: "
                   f"{', '.join(map(str, modes))}). A component that empties out under a "
                   f"sparse prior rarely refills, so P(K+) mixes the chains' outcomes rather "
                   f"than the posterior; read both modes as plausible")
        else:
            # Same mode everywhere: the chains differ in how long they stay away from it.
            shares = np.mean(np.asarray(r.kplus_draws) == modes[0], axis=1)
            how = (f"every chain's mode is K+ = {modes[0]}, but the share of draws there "
                   f"differs (per chain: {', '.join(f'{x:.2f}' for x in shares)}), so P(K+) "
                   f"depends on which chains ran")
        lines.append(f"- **The chains disagree on K+** (R-hat {d['rhat_kplus']:.2f} > "
                     f"{RHAT_WARNING}): {how}; run more chains before quoting P(K+).")
    lines += ["", "## BIC (lower is better) by K and covariance type", ""]
    bic = r.sweep.criterion_table("bic")
    types = list(bic)
    lines += ["| K | " + " | ".join(model_label(t) for t in types)
              + f" | BIC weight ({r.covariance_type}) |",
              "|---:|" + "---:|" * (len(types) + 1)]
    for k in range(1, r.k_max + 1):
        cells = [_fmt(bic[t].get(k), ".1f") for t in types]
        lines.append(f"| {k} | " + " | ".join(cells) + f" | {r.bic_weights[k - 1]:.3f} |")
    lines += ["", "## Number of occupied components K+", "",
              "| K+ | posterior | prior | BIC weight |", "|---:|---:|---:|---:|"]
    for k in range(1, r.k_max + 1):
        lines.append(f"| {k} | {r.kplus_posterior[k - 1]:.3f} | "
                     f"{r.kplus_prior[k - 1]:.3f} | {r.bic_weights[k - 1]:.3f} |")
    lines += ["", f"## Prior sensitivity: P(K+ | data) for several e0 "
                  f"({s['sensitivity_num_warmup']} warmup + {s['sensitivity_num_samples']} "
                  f"draws x {s['num_chains']} chains each)", "",
              "| e0 | " + " | ".join(f"K+={k}" for k in range(1, r.k_max + 1))
              + " | mode | prior mode | divergences |",
              "|---:|" + "---:|" * (r.k_max + 3)]
    for e0, p in r.sensitivity.items():
        sd = r.sensitivity_diagnostics[e0]
        lines.append(f"| {e0:g} | " + " | ".join(f"{v:.2f}" for v in p)
                     + f" | {int(np.argmax(p)) + 1} | "
                     f"{int(np.argmax(r.sensitivity_prior[e0])) + 1} | "
                     f"{100 * sd['divergence_fraction']:.1f}% |")
    lines += ["", "## Sampler", "",
              f"NUTS ({s['weights_sampler']} weights), {s['num_chains']} chains x "
              f"({s['num_warmup']} warmup + "
              f"{s['num_samples']} draws), target_accept_prob {s['target_accept_prob']}, "
              f"start: {s['init']}; mean leapfrog steps per draw "
              f"{d['mean_num_steps']:.1f}; ESS log-likelihood "
              f"{_fmt(d['ess_log_likelihood'], '.0f')}. Times: sweep {s['sweep_seconds']:.1f} s, "
              f"NUTS {s['nuts_seconds']:.1f} s, panel {s['sensitivity_seconds']:.1f} s."]
    lines += _k_prior_markdown(r)
    return "\n".join(lines) + "\n"


__all__ = ["bayes_markdown", "bayes_report", "compare_markdown", "compare_report",
           "fit_markdown", "fit_report", "select_markdown", "select_report", "to_json",
           "write_report"]
