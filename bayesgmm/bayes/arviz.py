"""ArviZ (>= 1.0) conversion and diagnostics; the only module of bayesgmm that imports arviz.

The DataTree holds relabelled draws only: R-hat and ESS of raw component parameters measure
label switching, not convergence, and are never shown.
"""

import numpyro  # must be imported before arviz: a lazy-module clash otherwise

import arviz as az  # noqa: E402  (after numpyro, see above)
import jax  # noqa: E402
import numpy as np  # noqa: E402

from bayesgmm.bayes import model as gmm  # noqa: E402
from bayesgmm.bayes.inference import PosteriorDraws  # noqa: E402
from bayesgmm.bayes.posterior import check_points, relabel  # noqa: E402
from bayesgmm.covariance import check_covariance_type  # noqa: E402
from bayesgmm.params import precisions_and_covariances  # noqa: E402

#: Attribute set on the posterior group of every DataTree made here.
RELABELLED_ATTR = "bayesgmm_relabelled"

#: NumPyro's NUTS field names -> ArviZ 1.x's sample_stats names (as ``az.from_numpyro``
#: names them; ``lp`` is the negated potential energy, ``tree_depth`` is derived from
#: ``n_steps``).
_STAT_NAMES = {"diverging": "diverging", "energy": "energy", "potential_energy": "lp",
               "accept_prob": "acceptance_rate", "num_steps": "n_steps"}

_COVARIANCE_DIMS = {"full": ["component", "feature", "feature_bis"],
                    "tied": ["feature", "feature_bis"],
                    "diag": ["component", "feature"],
                    "spherical": ["component"]}


def to_datatree(draws, X, covariance_type, *, pivot="em", key=None, feature_names=None,
                log_likelihood=True, posterior_predictive=True):
    """Convert posterior draws to an ArviZ DataTree (labels resolved first).

    Parameters
    ----------
    draws : PosteriorDraws
        From :func:`run_nuts` or :func:`run_svi` (raw labels; relabelled here).
    X : array, shape (N, d)
        The data the draws were fitted to (the observed_data group).
    covariance_type : str
    pivot : {"em", "map"} or GMMParams
        Relabelling pivot, see :func:`bayesgmm.bayes.posterior.relabel`.
    key : jax.random key, optional
        For the posterior predictive draws (default ``jax.random.key(0)``).
    feature_names : sequence of str, optional
        Coordinates of the feature dimension (default ``x0, x1, ...``).
    log_likelihood : bool
        Include the per-observation log-likelihood group (needed by :func:`loo`). Its size is
        chain * draw * N.
    posterior_predictive : bool
        Include one replicated data set per draw (chain * draw * N * d values).

    Returns
    -------
    xarray.DataTree
        Groups ``posterior`` (``weights`` (chain, draw, component), ``means`` (..., component,
        feature), ``covariances`` (shape by covariance type), ``concentration`` with a
        hyperprior), ``sample_stats`` (NUTS: ``diverging``, ``energy``, ``lp``,
        ``acceptance_rate``, ``n_steps``, ``tree_depth``: ArviZ 1.x's names, as
        ``az.from_numpyro`` gives them), ``log_likelihood`` (``obs`` (chain, draw, obs_id)),
        ``posterior_predictive`` (``obs`` (chain, draw, obs_id, feature)) and
        ``observed_data`` (``obs`` (obs_id, feature)). Every group carries ArviZ's
        attributes ``inference_library`` ("numpyro") and ``inference_library_version``
        besides ``created_at`` and ArviZ's own.
    """
    check_covariance_type(covariance_type)
    if not isinstance(draws, PosteriorDraws):
        raise TypeError(f"draws must be a PosteriorDraws (from run_nuts or run_svi), got "
                        f"{type(draws).__name__}.")
    X = np.asarray(check_points(X, draws.params, caller="to_datatree"))
    n_components, n_features = draws.params.means.shape[-2:]
    if feature_names is None:
        feature_names = [f"x{i}" for i in range(n_features)]
    if len(feature_names) != n_features:
        raise ValueError(f"feature_names has {len(feature_names)} names for {n_features} "
                         f"features.")
    relabelled, _ = relabel(draws, covariance_type, pivot=pivot)
    params = relabelled.params

    posterior = {
        "weights": np.asarray(params.weights),
        "means": np.asarray(params.means),
        "covariances": np.asarray(
            precisions_and_covariances(params.precisions_cholesky, covariance_type)[1]),
    }
    if "concentration" in draws.samples:
        posterior["concentration"] = np.asarray(draws.samples["concentration"])
    data = {"posterior": posterior, "observed_data": {"obs": X}}
    dims = {"weights": ["component"], "means": ["component", "feature"],
            "covariances": _COVARIANCE_DIMS[covariance_type]}
    if draws.sample_stats:
        data["sample_stats"] = {_STAT_NAMES[name]: np.asarray(value)
                                for name, value in draws.sample_stats.items()
                                if name in _STAT_NAMES}
        stats = data["sample_stats"]
        if "lp" in stats:
            stats["lp"] = -stats["lp"]  # log density = -potential energy
        if "n_steps" in stats:  # NUTS takes 2**depth - 1 leapfrog steps at depth `depth`
            stats["tree_depth"] = np.log2(stats["n_steps"]).astype(int) + 1
    if log_likelihood:
        data["log_likelihood"] = {"obs": np.asarray(
            gmm.pointwise_log_likelihood(X, params, covariance_type))}
    if posterior_predictive:
        key = jax.random.key(0) if key is None else key
        data["posterior_predictive"] = {"obs": np.asarray(
            gmm.posterior_predictive(key, params, covariance_type, X.shape[0]))}
    coords = {"component": np.arange(n_components), "feature": list(feature_names),
              "feature_bis": list(feature_names), "obs_id": np.arange(X.shape[0])}
    # One dims entry serves every "obs": in the log_likelihood group ArviZ drops the trailing
    # "feature" dimension the per-observation values do not have.
    library = {"inference_library": numpyro.__name__,
               "inference_library_version": numpyro.__version__}
    tree = az.from_dict(data, coords=coords, dims={**dims, "obs": ["obs_id", "feature"]},
                        attrs={group: library for group in data})
    tree["posterior"].attrs[RELABELLED_ATTR] = 1
    tree["posterior"].attrs["covariance_type"] = covariance_type
    tree["posterior"].attrs["pivot"] = pivot if isinstance(pivot, str) else "user"
    return tree


def _check_relabelled(tree):
    if not hasattr(tree, "children") or "posterior" not in tree.children:
        raise TypeError("Expected an xarray DataTree with a posterior group, made by "
                        "bayesgmm.bayes.to_datatree.")
    if not tree["posterior"].attrs.get(RELABELLED_ATTR):
        raise ValueError("This DataTree was not made by bayesgmm.bayes.to_datatree, so its "
                         "component labels may switch between draws and chains; per-component "
                         "diagnostics would be meaningless. Convert with to_datatree first.")


def summary(tree, *, var_names=None, ci_prob=0.95, kind="all"):
    """ArviZ summary (mean, sd, credible interval, R-hat, bulk and tail ESS) of relabelled
    draws.

    Parameters
    ----------
    tree : DataTree
        From :func:`to_datatree` (refused otherwise: see the module docstring).
    var_names : list of str, optional
        Default: every posterior variable.
    ci_prob : float
        Probability of the equal-tailed interval.
    kind : {"all", "stats", "diagnostics"}

    Returns
    -------
    pandas.DataFrame
        One row per scalar parameter; columns include ``r_hat``, ``ess_bulk``,
        ``ess_tail``.
    """
    _check_relabelled(tree)
    return az.summary(tree, var_names=var_names, kind=kind, ci_prob=ci_prob, ci_kind="eti")


def loo(tree, *, pointwise=False):
    """PSIS-LOO of a DataTree with a log_likelihood group (``az.loo``)."""
    _check_relabelled(tree)
    if "log_likelihood" not in tree.children:
        raise ValueError("The DataTree has no log_likelihood group: convert with "
                         "to_datatree(..., log_likelihood=True).")
    return az.loo(tree, pointwise=pointwise)


def loo_compare(trees, **kwargs):
    """Compare fits (e.g. different numbers of components) by PSIS-LOO (``az.compare``).

    Parameters
    ----------
    trees : dict of str to DataTree
        From :func:`to_datatree`, each with a log_likelihood group.
    **kwargs
        Passed to ``arviz.compare`` (``method``, ``round_to``, ...).

    Returns
    -------
    pandas.DataFrame
        Ranked by expected log pointwise predictive density.
    """
    if not isinstance(trees, dict) or len(trees) < 2:
        raise ValueError("loo_compare needs a dict of at least two named DataTrees.")
    for tree in trees.values():
        _check_relabelled(tree)
    return az.compare(trees, **kwargs)


__all__ = ["loo", "loo_compare", "summary", "to_datatree"]
