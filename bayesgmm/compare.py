"""How many components? BIC from EM side by side with the posterior of the number of occupied
components K+ of an overfitted sparse finite mixture (NUTS).

The Bayesian side follows Malsiner-Walli, Frühwirth-Schnatter & Grün (2016, "Model-based
clustering based on sparse finite Gaussian mixtures", Statistics and Computing 26): fit
``k_max`` components, deliberately more than needed, under a symmetric Dirichlet prior on the
weights with a small concentration ``e0``; superfluous components empty out and the number of
*occupied* components K+ estimates the number of clusters.

Default prior: a fixed ``e0 = 0.01``. Malsiner-Walli et al. recommend either a fixed very small
``e0`` (0.01 in their examples) or a Gamma hyperprior ``e0 ~ G(10, 10 k_max)`` (prior mean
``1/k_max``). We default to the fixed value because (i) the prior of K+ it implies is available
in closed form (:func:`bayesgmm.bayes.kplus.kplus_prior`), so the report can show exactly how
much the prior drives the answer, and (ii) the hyperprior couples ``e0`` to every log-Gamma
weight variable, a funnel that adds divergences. ``concentration_prior=(10, 10 * k_max)`` selects the hyperprior
(its K+ prior is then simulated).

Sampler settings (measured on Old Faithful, ``e0 = 0.01``, full covariance, 2 chains; see
the issue-5 note and benchmarks/README.md). With the weights sampled by NUTS (the normalised
Gamma variables of :mod:`bayesgmm.bayes.model`, where an empty component's ``log g`` has a
standard deviation of about ``1/e0``), 43-47% of the draws were divergent (10 components) and
trees ran to 500+ leapfrog steps, whatever the start and ``target_accept_prob`` (0.8, 0.95).
The default is therefore HMC-within-Gibbs (``weights_sampler="gibbs"``): every step draws the
weights from their exact conditional ``Dirichlet(e0 + n_k)`` given assignments drawn from
their conditional (:func:`bayesgmm.bayes.inference.weights_gibbs_fn`), and NUTS moves means
and covariances with the weights fixed and the assignments summed out. Measured: 0-0.25% of
the draws divergent (10 and 6 components; 0 of 1000 on the 10-component case with these
defaults), 23-36 leapfrog steps per draw instead of 500+. Chains
start at the ``k_max``-component EM fit (``init="em"``) and let the surplus components drain,
as Malsiner-Walli et al. start from ``k_max`` k-means clusters; a start with pre-emptied
components (``init="empty"``) cannot reach K+ larger than the BIC choice. ``target_accept_prob``
is NumPyro's 0.8: with the weights out of NUTS, raising it only lengthened the trees.

What the Gibbs sampler cannot do is refill an empty component: on Old Faithful's full-
covariance model the posterior has modes at K+ = 2 and K+ = 3, and different chains drain to
different ones. R-hat of K+ shows it, and the report says so in words when it exceeds
:data:`bayesgmm.bayes.diagnostics.RHAT_WARNING`. Divergences are always reported.

On small data the posterior of K+ follows ``e0`` closely, so the result carries a
prior-sensitivity panel: P(K+) re-estimated for several ``e0`` values with shorter chains.

With a prior on K (``k_prior``), the comparison also runs the telescoping sampler of
:mod:`bayesgmm.bayes.telescope` (Frühwirth-Schnatter, Malsiner-Walli & Grün 2021): K itself
is sampled, empty components come and go, and the report sets P(K | data) and P(K+ | data)
beside BIC's weights and the priors of K and K+, with the clusters of the draws whose K+ is
its mode.
"""

import math
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bayesgmm import plots, report
from bayesgmm.bayes import inference, posterior, sampler, telescope
from bayesgmm.bayes.diagnostics import divergence_summary, ess, rhat
from bayesgmm.bayes.kplus import kplus_prior
from bayesgmm.bayes.model import Priors, pointwise_log_likelihood
from bayesgmm.covariance import COVARIANCE_TYPES, FAMILIES, check_covariance_type
from bayesgmm.params import GMMParams
from bayesgmm.selection import bic_sweep, bic_weights
from bayesgmm.validation import check_choice, check_data, check_int, check_real

#: Default Dirichlet concentration of the overfitted mixture (see the module docstring).
DEFAULT_E0 = 0.01
#: Default concentrations of the prior-sensitivity panel.
SENSITIVITY_E0 = (0.01, 0.1, 0.5, 1.0)
#: Start weight of each emptied component (the remaining mass goes to the BIC fit's components).
EMPTY_WEIGHT = 1e-4


# ---------------------------------------------------------------------------- chain starts

def empty_start(params, n_components, X, covariance_type, *, empty_weight=EMPTY_WEIGHT):
    """Pad a fitted mixture to ``n_components`` with emptied components: the NUTS start.

    Parameters
    ----------
    params : GMMParams
        A fit with K <= n_components components (e.g. the BIC choice), shapes as
        :mod:`bayesgmm.covariance` lists them for ``covariance_type``.
    n_components : int
    X : array-like, shape (N, d)
        The data: the emptied components get its mean and its covariance in the family's
        shape (that of one component holding every row, plus ``reg_covar = 1e-6``), so they
        are valid but carry no data. With ``tied`` covariance they share the fitted one.
    covariance_type : {"full", "tied", "diag", "spherical"}
    empty_weight : float
        Weight of each emptied component; the fitted weights are scaled to the rest.

    Returns
    -------
    GMMParams
        With ``n_components`` components, in X's compute dtype.

    Raises
    ------
    ValueError
        When ``params`` has more than ``n_components`` components, or the emptied components'
        weights leave no mass for the fitted ones.
    """
    check_covariance_type(covariance_type)
    X = check_data(X, caller="empty_start")
    n_samples, n_features = X.shape
    family = FAMILIES[covariance_type]
    params = GMMParams(*(jnp.asarray(a, X.dtype) for a in params))
    k = params.weights.shape[0]
    n_empty = n_components - k
    if n_empty < 0:
        raise ValueError(f"params has {k} components, more than n_components={n_components}.")
    if n_empty * empty_weight >= 1:
        raise ValueError(f"empty_weight={empty_weight!r} leaves no mass for the fitted "
                         f"components ({n_empty} emptied components).")
    weights = jnp.concatenate([params.weights * (1 - n_empty * empty_weight),
                               jnp.full(n_empty, empty_weight, X.dtype)])
    mean = X.mean(axis=0)
    means = jnp.concatenate([params.means, jnp.repeat(mean[None], n_empty, 0)])
    prec = params.precisions_cholesky
    if covariance_type != "tied":  # tied: the emptied components share the fitted factor
        diff = X - mean
        covariance = family.estimate(jnp.full(1, n_samples, X.dtype),
                                     jnp.zeros((1, n_features), X.dtype),
                                     family.pool(family.second_moment(diff, diff)[None]),
                                     1e-6)  # EM's default reg_covar
        empty = family.precisions_cholesky(covariance)
        prec = jnp.concatenate([prec, jnp.repeat(empty, n_empty, 0)])
    return GMMParams(weights, means, prec)


# ----------------------------------------------------------------------------------- result

class CompareResult(NamedTuple):
    """Outcome of :func:`compare`: BIC against the posterior of K+, side by side.

    The report's Markdown and JSON are written by :mod:`bayesgmm.report`, its figure by
    :func:`bayesgmm.plots.plot_compare` (:meth:`to_markdown`, :meth:`to_json`, :meth:`plot`).

    Attributes
    ----------
    sweep : SweepResult
        The EM sweep over K = 1..k_max and ``sweep_covariance_types``.
    covariance_type : str
        Covariance type of the Bayesian fit (and of ``bic_weights``).
    k_max : int
    bic_weights : ndarray, shape (k_max,)
        ``exp(-BIC/2)`` normalised over K = 1..k_max for ``covariance_type``.
    kplus_posterior : ndarray, shape (k_max,)
        ``P(K+ = k | data)``, k = 1..k_max.
    kplus_prior : ndarray, shape (k_max,)
        ``P(K+ = k)`` implied by the weight prior and N (closed form for a fixed e0,
        simulated under a hyperprior).
    kplus_draws : ndarray of int, shape (chain, draw)
    log_likelihood_draws : ndarray, shape (chain, draw)
        Total log-likelihood of every draw (label-invariant, for R-hat).
    diagnostics : dict
        ``num_divergences``, ``num_draws``, ``divergence_fraction``, ``rhat_kplus``,
        ``rhat_log_likelihood``, ``ess_log_likelihood`` (None where undefined, e.g. K+
        constant), ``mean_num_steps``, ``seconds``.
    sensitivity : dict of float to ndarray, shape (k_max,)
        P(K+) for each e0 of the prior-sensitivity panel.
    sensitivity_prior : dict of float to ndarray, shape (k_max,)
        The prior of K+ for each e0 of the panel.
    sensitivity_diagnostics : dict of float to dict
        ``num_divergences``, ``num_draws``, ``divergence_fraction`` per e0.
    settings : dict
        Prior and sampler settings (e0 or hyperprior, warmup, draws, chains,
        target_accept_prob, init, the panel's warmup/draws), and timings.
    draws : PosteriorDraws
        The posterior draws of the main fit (not relabelled).
    X : ndarray, shape (N, d)
    feature_names : tuple of str
    data_label : str
    telescope : TelescopeResult or None
        With a prior on K (``k_prior``): the telescoping sampler's draws of K and K+
        (``telescope.k_posterior``, ``kplus_posterior``, ``k_prior``, ``kplus_prior``,
        ``diagnostics``).
    clusters : Clusters or None
        With a prior on K: the relabelled clusters of the draws whose K+ is its mode.
    """

    sweep: object
    covariance_type: str
    k_max: int
    bic_weights: np.ndarray
    kplus_posterior: np.ndarray
    kplus_prior: np.ndarray
    kplus_draws: np.ndarray
    log_likelihood_draws: np.ndarray
    diagnostics: dict
    sensitivity: dict
    sensitivity_prior: dict
    sensitivity_diagnostics: dict
    settings: dict
    draws: object
    X: np.ndarray
    feature_names: tuple
    data_label: str
    telescope: object = None
    clusters: object = None

    @property
    def bic_choice(self):
        """``(covariance_type, K)`` with the lowest BIC over the whole sweep."""
        return self.sweep.best_covariance_type, self.sweep.best_n_components

    @property
    def bic_choice_same_type(self):
        """K with the lowest BIC among models of ``covariance_type``."""
        return int(np.argmax(self.bic_weights)) + 1

    @property
    def kplus_mode(self):
        """The posterior mode of K+."""
        return int(np.argmax(self.kplus_posterior)) + 1

    @property
    def kplus_chain_modes(self):
        """The most frequent K+ of each chain (list of int)."""
        return [int(np.bincount(chain).argmax()) for chain in np.asarray(self.kplus_draws)]

    @property
    def prior_label(self):
        """The weight prior in words: ``"e0 = 0.01"`` or ``"e0 ~ Gamma(10.0, 60.0)"``."""
        s = self.settings
        if s["concentration_prior"]:
            return f"e0 ~ Gamma{tuple(s['concentration_prior'])}"
        return f"e0 = {s['e0']:g}"

    def posterior_log_density(self, points, max_draws=400):
        """Log of the posterior mean density at ``points``, from at most ``max_draws``
        evenly thinned draws.

        Parameters
        ----------
        points : array, shape (M, d)
        max_draws : int

        Returns
        -------
        ndarray, shape (M,)
        """
        params = self.draws.params
        n_draws = params.weights.shape[0] * params.weights.shape[1]
        step = max(1, math.ceil(n_draws / max_draws))
        flat = jax.tree.map(lambda a: a.reshape((1, -1) + a.shape[2:])[:, ::step], params)
        points = jnp.asarray(points, params.means.dtype)
        return np.asarray(posterior.predictive_density(points, flat,
                                                       self.covariance_type).log_mean)

    def to_json(self, path=None):
        """The report as JSON text (:func:`bayesgmm.report.compare_report`); also written to
        ``path`` when given."""
        return report.to_json(report.compare_report(self), path)

    def to_markdown(self):
        """The report as Markdown (:func:`bayesgmm.report.compare_markdown`)."""
        return report.compare_markdown(self)

    def plot(self, path=None):
        """The four-panel figure (:func:`bayesgmm.plots.plot_compare`), written to ``path``
        when given; returns the matplotlib Figure."""
        return plots.plot_compare(self, path)


# ---------------------------------------------------------------------------------- compare

def _kplus_prior_for(key, n_obs, k_max, e0, concentration_prior):
    """The prior of K+: closed form for a fixed e0, simulated under a Gamma hyperprior."""
    if concentration_prior is None:
        return kplus_prior(n_obs, k_max, e0)
    dtype = jnp.result_type(float)
    priors = Priors(concentration=jnp.ones(k_max, dtype),
                    concentration_prior=jnp.asarray(concentration_prior, dtype))
    draws = posterior.prior_occupied_components(key, n_obs, priors, num_draws=20000)
    return posterior.kplus_probabilities(draws, k_max)


def compare(key, X, *, k_max=10, covariance_type="full", sweep_covariance_types=COVARIANCE_TYPES,
            e0=DEFAULT_E0, concentration_prior=None, num_warmup=500, num_samples=500,
            num_chains=2, chain_method=None, target_accept_prob=0.8, max_tree_depth=10,
            weights_sampler="gibbs", init="em",
            sensitivity_e0=SENSITIVITY_E0, sensitivity_num_warmup=200,
            sensitivity_num_samples=200, n_init=3, sweep=None, feature_names=None,
            data_label="data", progress=None, progress_bar=False, k_prior=None,
            k_prior_num_warmup=500, k_prior_num_samples=1000, k_prior_num_chains=4,
            k_prior_thin=10):
    """BIC (EM) against the posterior of the number of occupied components (NUTS).

    Parameters
    ----------
    key : jax.random key
    X : array-like, shape (N, d)
        Float32 or float64 (float64 with JAX's x64 mode on).
    k_max : int, default 10
        Largest K of the sweep, and the number of components of the overfitted mixture.
    covariance_type : {"full", "tied", "diag", "spherical"}, default "full"
        Covariance type of the Bayesian mixture (and of the BIC weights).
    sweep_covariance_types : sequence of str, default all four
        Covariance types of the BIC sweep; ``covariance_type`` is added if missing.
    e0 : float, default 0.01
        Fixed symmetric Dirichlet concentration (Malsiner-Walli et al. 2016).
    concentration_prior : (float, float), optional
        ``(shape, rate)`` of a Gamma hyperprior on e0 instead of the fixed value, e.g.
        ``(10, 10 * k_max)`` as in Malsiner-Walli et al.
    num_warmup, num_samples, num_chains, chain_method, target_accept_prob, max_tree_depth
        NUTS settings of the main fit (see :func:`bayesgmm.bayes.run_nuts`).
    weights_sampler : {"gibbs", "nuts"}, default "gibbs"
        How the weights are sampled (:func:`bayesgmm.bayes.run_nuts`): by their exact Gibbs
        conditional (the default; NUTS moves the rest) or by NUTS with everything else.
    init : {"em", "empty"}, default "em"
        "em": every chain starts at a k_max-component EM fit and the surplus components
        drain; "empty": at the BIC-chosen EM fit of ``covariance_type`` padded with emptied
        components (:func:`empty_start`), from which the Gibbs weights sampler cannot reach
        more occupied components than BIC chose.
    sensitivity_e0 : sequence of float, default (0.01, 0.1, 0.5, 1)
        e0 values of the prior-sensitivity panel; empty to skip it. A value equal to ``e0``
        (without hyperprior) reuses the main fit.
    sensitivity_num_warmup, sensitivity_num_samples : int, default 200, 200
        Shorter chains for the panel, to keep its cost to a few main fits' worth.
    n_init : int, default 3
        EM restarts per model of the sweep.
    sweep : SweepResult, optional
        A sweep already computed (K = 1..k_max, containing ``covariance_type``); skips it.
    feature_names : sequence of str, optional
    data_label : str
        Name of the data in the report.
    progress : callable, optional
        Called with one line of text after each stage (per covariance type of the sweep, the
        NUTS fit, each panel fit); e.g. ``print``.
    progress_bar : bool
        A progress bar over the sampling steps of every NUTS fit (and the telescoping run).
    k_prior : str, tuple, array or TelescopePriors, optional
        A prior on K over 1..k_max: also sample K and K+ by the telescoping sampler
        (:func:`bayesgmm.bayes.telescope.sample_telescope`). A name ("uniform", "poisson",
        "geometric", "bnb"), ``(name, *parameters)`` or probabilities give a static Dirichlet
        with e0 = 1 and the default component priors; a
        :class:`~bayesgmm.bayes.telescope.TelescopePriors` sets everything. Its components
        have full covariances (with the conditionally conjugate priors of the telescoping
        sampler), whatever ``covariance_type``; the BIC weights beside it are
        ``covariance_type``'s.
    k_prior_num_warmup, k_prior_num_samples, k_prior_num_chains, k_prior_thin : int
        Settings of the telescoping run (sweeps discarded, draws kept per chain, chains,
        sweeps per kept draw).

    Returns
    -------
    CompareResult

    Raises
    ------
    ValueError
        For bad arguments (k_max < 1 or > N, e0 <= 0, unknown init, ...), or data with NaN or
        infinity or entries that are not numbers.
    TypeError
        For sparse, complex or date data (see :func:`bayesgmm.validation.check_array`).
    """
    X = check_data(X, caller="compare")
    n_samples, n_features = X.shape
    k_max = check_int("k_max", k_max)
    if k_max > n_samples:
        raise ValueError(f"k_max = {k_max} exceeds the number of samples {n_samples}.")
    check_covariance_type(covariance_type)
    e0 = check_real("e0", e0, low_open=True)
    sensitivity_e0 = [check_real("sensitivity_e0", v, low_open=True) for v in sensitivity_e0]
    check_choice("init", init, ("empty", "em"))
    # Checked here, not after a minute of sweep:
    check_choice("weights_sampler", weights_sampler, inference.WEIGHT_SAMPLERS)
    telescope_priors = None
    if k_prior is not None:  # checked here, not after a minute of sweep and NUTS
        telescope_priors = (k_prior if isinstance(k_prior, telescope.TelescopePriors)
                            else telescope.TelescopePriors(k_prior=k_prior))
        telescope.resolve_priors(X, k_max, telescope_priors)
        for name, value, low in (("k_prior_num_warmup", k_prior_num_warmup, 0),
                                 ("k_prior_num_samples", k_prior_num_samples, 1),
                                 ("k_prior_num_chains", k_prior_num_chains, 1),
                                 ("k_prior_thin", k_prior_thin, 1)):
            check_int(name, value, low)
    sensitivity_num_warmup = check_int("sensitivity_num_warmup", sensitivity_num_warmup, 0)
    sensitivity_num_samples = check_int("sensitivity_num_samples", sensitivity_num_samples)
    if isinstance(sweep_covariance_types, str):
        sweep_covariance_types = (sweep_covariance_types,)
    types = list(dict.fromkeys(list(sweep_covariance_types) + [covariance_type]))
    names = (tuple(feature_names) if feature_names is not None
             else tuple(f"x{i}" for i in range(n_features)))
    if len(names) != n_features:
        raise ValueError(f"feature_names has {len(names)} names for {n_features} features.")
    say = progress if progress is not None else (lambda line: None)
    key_sweep, key_nuts, key_kplus, key_prior, key_sens = jax.random.split(key, 5)
    # Its own key (folded in), so that the other stages draw what they drew without it.
    key_telescope = jax.random.fold_in(key, 15)

    start = time.perf_counter()
    if sweep is None:
        # mclust's start and stopping rule: from k-means starts and scikit-learn's tol the
        # sweep stopped short of Old Faithful's best model (EEE, K = 3; issue 14).
        sweep = bic_sweep(key_sweep, X, n_components=range(1, k_max + 1),
                          covariance_types=types, n_init=n_init, init_params="hc",
                          tol="mclust", progress=say)
    elif covariance_type not in set(sweep.table["covariance_type"]):
        raise ValueError(f"sweep has no {covariance_type!r} models.")
    sweep_seconds = time.perf_counter() - start
    rows = sweep.table["covariance_type"] == covariance_type
    bic_by_k = dict(zip(sweep.table["n_components"][rows].tolist(), sweep.table["bic"][rows]))
    missing = [k for k in range(1, k_max + 1) if k not in bic_by_k]
    if missing:
        raise ValueError(f"sweep lacks K = {missing} for {covariance_type!r}; it must cover "
                         f"1..k_max.")
    weights = bic_weights([bic_by_k[k] for k in range(1, k_max + 1)])

    if concentration_prior is not None:
        priors = Priors(concentration_prior=tuple(float(v) for v in concentration_prior))
    else:
        priors = Priors(concentration=e0)
    # The sweep has fitted k_max components already (with its restarts): start there.
    start_params = sweep.fit_result(covariance_type, k_max).params
    if init == "empty":
        k_best = int(np.argmax(weights)) + 1
        start_params = empty_start(sweep.fit_result(covariance_type, k_best).params, k_max,
                                   X, covariance_type)
    if chain_method is None:  # resolved here, so that the report names it
        chain_method = sampler.default_chain_method(num_chains)
    nuts = dict(n_components=k_max, covariance_type=covariance_type, num_chains=num_chains,
                chain_method=chain_method, target_accept_prob=target_accept_prob,
                max_tree_depth=max_tree_depth, weights_sampler=weights_sampler,
                init=start_params, progress_bar=progress_bar)
    say(f"NUTS: sampling {k_max} {covariance_type} components, {num_chains} chains x "
        f"({num_warmup} warmup + {num_samples} draws) ...")
    start = time.perf_counter()
    draws = inference.run_nuts(key_nuts, X, priors=priors, num_warmup=num_warmup,
                               num_samples=num_samples, **nuts)
    kplus = np.asarray(posterior.occupied_components(key_kplus, X, draws, covariance_type))
    nuts_seconds = time.perf_counter() - start
    log_lik = np.asarray(pointwise_log_likelihood(
        jnp.asarray(X, draws.params.means.dtype), draws.params, covariance_type).sum(-1))
    diagnostics = divergence_summary(draws)
    diagnostics.update(
        rhat_kplus=rhat(kplus), rhat_log_likelihood=rhat(log_lik),
        ess_log_likelihood=ess(log_lik),
        mean_num_steps=float(np.mean(np.asarray(draws.sample_stats["num_steps"]))),
        seconds=round(nuts_seconds, 3))
    say(f"NUTS: {k_max} {covariance_type} components, {diagnostics['num_divergences']} "
        f"divergences in {diagnostics['num_draws']} draws, {nuts_seconds:.1f} s")
    kplus_post = posterior.kplus_probabilities(kplus, k_max)
    prior = _kplus_prior_for(key_prior, n_samples, k_max, e0, concentration_prior)

    sensitivity, sensitivity_prior, sensitivity_diag = {}, {}, {}
    start = time.perf_counter()
    for i, value in enumerate(sensitivity_e0):
        sensitivity_prior[value] = kplus_prior(n_samples, k_max, value)
        if concentration_prior is None and value == e0:
            sensitivity[value], sensitivity_diag[value] = kplus_post, divergence_summary(draws)
            continue
        k_run, k_occ = jax.random.split(jax.random.fold_in(key_sens, i))
        say(f"prior sensitivity e0 = {value:g}: sampling ...")
        run = inference.run_nuts(k_run, X, priors=Priors(concentration=value),
                                 num_warmup=sensitivity_num_warmup,
                                 num_samples=sensitivity_num_samples, **nuts)
        sensitivity[value] = posterior.kplus_probabilities(
            posterior.occupied_components(k_occ, X, run, covariance_type), k_max)
        sensitivity_diag[value] = divergence_summary(run)
        say(f"prior sensitivity e0 = {value:g}: mode K+ = "
            f"{int(np.argmax(sensitivity[value])) + 1}, "
            f"{sensitivity_diag[value]['num_divergences']} divergences")
    sensitivity_seconds = time.perf_counter() - start

    tele, clusters, telescope_seconds = None, None, 0.0
    if telescope_priors is not None:
        say(f"telescoping sampler: prior on K "
            f"{telescope.k_prior_label(telescope_priors.k_prior)} over 1..{k_max}, "
            f"{k_prior_num_chains} chains x ({k_prior_num_warmup} warmup + "
            f"{k_prior_num_samples} draws, thin {k_prior_thin}) ...")
        start = time.perf_counter()
        tele = telescope.sample_telescope(
            key_telescope, X, k_max=k_max, priors=telescope_priors,
            num_warmup=k_prior_num_warmup, num_samples=k_prior_num_samples,
            num_chains=k_prior_num_chains, thin=k_prior_thin, progress_bar=progress_bar)
        clusters = tele.clusters(X)
        telescope_seconds = time.perf_counter() - start
        say(f"telescoping sampler: mode K = {int(np.argmax(tele.k_posterior)) + 1}, mode "
            f"K+ = {int(np.argmax(tele.kplus_posterior)) + 1}, {telescope_seconds:.1f} s")

    settings = {
        "e0": None if concentration_prior is not None else e0,
        "concentration_prior": (None if concentration_prior is None
                                else [float(v) for v in concentration_prior]),
        "num_warmup": num_warmup, "num_samples": num_samples, "num_chains": num_chains,
        "chain_method": chain_method, "target_accept_prob": target_accept_prob,
        "max_tree_depth": max_tree_depth, "weights_sampler": weights_sampler,
        "init": ("BIC-chosen EM fit padded with emptied components" if init == "empty"
                 else f"{k_max}-component EM fit"),
        "sensitivity_num_warmup": sensitivity_num_warmup,
        "sensitivity_num_samples": sensitivity_num_samples, "n_init": n_init,
        "dtype": str(X.dtype), "sweep_seconds": round(sweep_seconds, 3),
        "nuts_seconds": round(nuts_seconds, 3),
        "sensitivity_seconds": round(sensitivity_seconds, 3),
        "telescope_seconds": round(telescope_seconds, 3),
    }
    return CompareResult(
        sweep=sweep, covariance_type=covariance_type, k_max=k_max, bic_weights=weights,
        kplus_posterior=kplus_post, kplus_prior=prior, kplus_draws=kplus,
        log_likelihood_draws=log_lik, diagnostics=diagnostics, sensitivity=sensitivity,
        sensitivity_prior=sensitivity_prior, sensitivity_diagnostics=sensitivity_diag,
        settings=settings, draws=draws, X=np.asarray(X), feature_names=names,
        data_label=str(data_label), telescope=tele, clusters=clusters)


__all__ = ["CompareResult", "DEFAULT_E0", "SENSITIVITY_E0", "compare", "empty_start"]
