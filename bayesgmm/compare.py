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
in closed form (:func:`kplus_prior`), so the report can show exactly how much the prior drives
the answer, and (ii) the hyperprior couples ``e0`` to every log-Gamma weight variable, a
funnel that adds divergences. ``concentration_prior=(10, 10 * k_max)`` selects the hyperprior
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
:data:`RHAT_WARNING`. Divergences are always reported.

On small data the posterior of K+ follows ``e0`` closely, so the result carries a
prior-sensitivity panel: P(K+) re-estimated for several ``e0`` values with shorter chains.
"""

import json
import math
import numbers
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.diagnostics import effective_sample_size, split_gelman_rubin
from scipy.special import gammaln, logsumexp

from bayesgmm import density
from bayesgmm.bayes import inference, posterior
from bayesgmm.bayes.model import Priors, pointwise_log_likelihood
from bayesgmm.covariance import COVARIANCE_TYPES, check_covariance_type
from bayesgmm.params import GMMParams
from bayesgmm.selection import bic_sweep, check_data, plot_bic

#: Default Dirichlet concentration of the overfitted mixture (see the module docstring).
DEFAULT_E0 = 0.01
#: Default concentrations of the prior-sensitivity panel.
SENSITIVITY_E0 = (0.01, 0.1, 0.5, 1.0)
#: R-hat of K+ above which the report says that the chains disagree.
RHAT_WARNING = 1.1
#: Start weight of each emptied component (the remaining mass goes to the BIC fit's components).
EMPTY_WEIGHT = 1e-4


# ----------------------------------------------------------------------------- closed forms

def kplus_prior(n_obs, n_components, concentration):
    """Prior of the number of occupied components K+ under a symmetric Dirichlet.

    With ``weights ~ Dirichlet(e0, ..., e0)`` over ``K = n_components`` components and ``N``
    observations allocated multinomially, the counts are Dirichlet-multinomial and

    ``P(K+ = k) = C(K, k) * Gamma(K e0) / Gamma(N + K e0)
    * sum_{n_1 + ... + n_k = N, n_j >= 1} N! / prod n_j! * prod Gamma(n_j + e0) / Gamma(e0)``.

    The sum over compositions is a convolution, computed here in log space in O(K N^2).

    Parameters
    ----------
    n_obs : int
        Number of observations N >= 1.
    n_components : int
        Number of components K >= 1.
    concentration : float
        Symmetric Dirichlet concentration e0 > 0.

    Returns
    -------
    ndarray, shape (n_components,)
        ``P(K+ = 1), ..., P(K+ = K)``; sums to one.
    """
    n_obs, n_components = _check_int("n_obs", n_obs), _check_int("n_components", n_components)
    e0 = float(concentration)
    if not (math.isfinite(e0) and e0 > 0):
        raise ValueError(f"concentration must be finite and positive, got {concentration!r}.")
    n = np.arange(1, n_obs + 1)
    # log of Gamma(n + e0) / (Gamma(e0) n!) for one occupied component holding n >= 1 points.
    term = gammaln(n + e0) - gammaln(e0) - gammaln(n + 1)
    kmax = min(n_components, n_obs)
    log_p = np.full(n_components, -np.inf)
    # conv[m]: log sum over compositions of m into j positive parts (index m - 1).
    conv = term.copy()
    for j in range(1, kmax + 1):
        if j > 1:
            new = np.full(n_obs, -np.inf)
            for m in range(j, n_obs + 1):  # m points in j parts: the last part holds 1..m-j+1
                new[m - 1] = logsumexp(conv[j - 2:m - 1][::-1] + term[:m - j + 1])
            conv = new
        log_choose = gammaln(n_components + 1) - gammaln(j + 1) - gammaln(n_components - j + 1)
        log_p[j - 1] = (log_choose + gammaln(n_components * e0) - gammaln(n_obs + n_components * e0)
                        + gammaln(n_obs + 1) + conv[n_obs - 1])
    p = np.exp(log_p - logsumexp(log_p))
    return p / p.sum()


def bic_weights(bic):
    """``exp(-BIC/2)`` normalised: a rough posterior over models under a uniform prior.

    Parameters
    ----------
    bic : array, shape (M,)
        NaN entries (failed fits) get weight 0.

    Returns
    -------
    ndarray, shape (M,)
    """
    bic = np.asarray(bic, np.float64)
    finite = np.isfinite(bic)
    if not finite.any():
        raise ValueError("bic_weights needs at least one finite BIC value.")
    log_w = np.where(finite, -0.5 * (bic - np.min(bic[finite])), -np.inf)
    return np.exp(log_w - logsumexp(log_w))


def empty_start(params, n_components, X, covariance_type, *, empty_weight=EMPTY_WEIGHT):
    """Pad a fitted mixture to ``n_components`` with emptied components: the NUTS start.

    Parameters
    ----------
    params : GMMParams
        A fit with K <= n_components components (e.g. the BIC choice).
    n_components : int
    X : array, shape (N, d)
        The data: the emptied components get its mean and covariance (its variance for
        diag/spherical), so they are valid but carry no data.
    covariance_type : str
    empty_weight : float
        Weight of each emptied component; the fitted weights are scaled to the rest.

    Returns
    -------
    GMMParams
        With ``n_components`` components, in X's dtype.
    """
    dtype = check_data(X).dtype  # X's compute dtype (float64 only with x64 on)
    X = np.asarray(X, np.float64)
    params = GMMParams(*(np.asarray(a, np.float64) for a in params))
    k = params.weights.shape[0]
    n_empty = n_components - k
    if n_empty < 0:
        raise ValueError(f"params has {k} components, more than n_components={n_components}.")
    if n_empty * empty_weight >= 1:
        raise ValueError(f"empty_weight={empty_weight!r} leaves no mass for the fitted "
                         f"components ({n_empty} emptied components).")
    weights = np.concatenate([params.weights * (1 - n_empty * empty_weight),
                              np.full(n_empty, empty_weight)])
    means = np.concatenate([params.means, np.repeat(X.mean(0)[None], n_empty, 0)])
    prec = params.precisions_cholesky
    if covariance_type in ("full", "diag", "spherical"):
        n_features = X.shape[1]
        variance = X.var(axis=0) + 1e-6
        if covariance_type == "full":
            cov = np.atleast_2d(np.cov(X.T)) + 1e-6 * np.eye(n_features)
            empty = np.linalg.inv(np.linalg.cholesky(cov)).T  # upper U with U U^T = cov^{-1}
        elif covariance_type == "diag":
            empty = 1 / np.sqrt(variance)
        else:
            empty = np.asarray(1 / np.sqrt(variance.mean()))
        prec = np.concatenate([prec, np.repeat(empty[None], n_empty, 0)])
    return GMMParams(*(jnp.asarray(a, dtype) for a in (weights, means, prec)))


def _check_int(name, value, low=1):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
        raise ValueError(f"Invalid value for '{name}': {value!r}; '{name}' must be an integer "
                         f">= {low}.")
    return int(value)


def _chain_diagnostic(statistic, x):
    """``statistic`` of a (chain, draw) array; None where undefined (few or constant draws)."""
    x = np.asarray(x, np.float64)
    if x.shape[1] < 4 or np.ptp(x) == 0:
        return None
    value = float(statistic(x))
    return value if math.isfinite(value) else None


def _rhat(x):
    """Split R-hat of a (chain, draw) array."""
    return _chain_diagnostic(split_gelman_rubin, x)


def _ess(x):
    """Effective sample size of a (chain, draw) array."""
    return _chain_diagnostic(effective_sample_size, x)


# ----------------------------------------------------------------------------------- result

class CompareResult(NamedTuple):
    """Outcome of :func:`compare`: BIC against the posterior of K+, side by side.

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

    def to_dict(self):
        """Everything in the report as JSON-ready Python values."""
        def arr(a):
            return [round(float(v), 6) for v in np.asarray(a).ravel()]

        table = {name: [v.item() if isinstance(v, np.generic) else v for v in column.tolist()]
                 for name, column in self.sweep.table.items()}
        ctype, k = self.bic_choice
        return {
            "data": self.data_label, "n_samples": int(self.X.shape[0]),
            "features": list(self.feature_names), "k_max": self.k_max,
            "covariance_type": self.covariance_type,
            "bic_choice": {"covariance_type": ctype, "n_components": k},
            "bic_choice_same_type": self.bic_choice_same_type,
            "bic_weights": arr(self.bic_weights),
            "kplus_posterior": arr(self.kplus_posterior),
            "kplus_prior": arr(self.kplus_prior),
            "kplus_mode": self.kplus_mode,
            "diagnostics": self.diagnostics,
            "sensitivity": {str(e0): arr(p) for e0, p in self.sensitivity.items()},
            "sensitivity_prior": {str(e0): arr(p) for e0, p in self.sensitivity_prior.items()},
            "sensitivity_diagnostics": {str(e0): d
                                        for e0, d in self.sensitivity_diagnostics.items()},
            "settings": self.settings,
            "sweep": table,
        }

    def to_json(self, path=None):
        """The report as JSON text; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False, default=_json_default)
        if path is not None:
            with open(path, "w") as f:
                f.write(text)
        return text

    def to_markdown(self):
        """The report as Markdown: BIC table, K+ posterior against prior and BIC weights, the
        prior-sensitivity panel, and the sampler diagnostics."""
        d, s = self.diagnostics, self.settings
        ctype, k_bic = self.bic_choice
        prior = (f"e0 ~ Gamma{tuple(s['concentration_prior'])}" if s["concentration_prior"]
                 else f"e0 = {s['e0']:g}")
        lines = [
            f"# How many components? {self.data_label}", "",
            f"{self.X.shape[0]} rows, features {', '.join(self.feature_names)}; K = 1..{self.k_max}.",
            "",
            f"- **BIC (EM)** chooses **K = {k_bic}** (`{ctype}`); among `{self.covariance_type}` "
            f"models K = {self.bic_choice_same_type} (BIC weight "
            f"{self.bic_weights[self.bic_choice_same_type - 1]:.2f}).",
            f"- **Sparse finite mixture** ({self.k_max} `{self.covariance_type}` components, "
            f"{prior}, NUTS): posterior mode **K+ = {self.kplus_mode}** "
            f"(P = {self.kplus_posterior[self.kplus_mode - 1]:.2f}); the prior alone gives mode "
            f"K+ = {int(np.argmax(self.kplus_prior)) + 1}.",
            f"- Divergences: {d['num_divergences']} of {d['num_draws']} draws "
            f"({100 * d['divergence_fraction']:.2f}%); R-hat K+ {_fmt(d['rhat_kplus'])}, "
            f"R-hat log-likelihood {_fmt(d['rhat_log_likelihood'])}.",
        ]
        if d["rhat_kplus"] is not None and d["rhat_kplus"] > RHAT_WARNING:
            lines.append(
                f"- **The chains disagree on K+** (R-hat {d['rhat_kplus']:.2f} > "
                f"{RHAT_WARNING}): chains settled on different numbers of occupied components "
                f"(per chain: {', '.join(str(m) for m in self.kplus_chain_modes)}). A "
                f"component that empties out under a sparse prior rarely refills, so P(K+) "
                f"mixes the chains' outcomes rather than the posterior; read both modes as "
                f"plausible and run more chains before quoting P(K+).")
        lines += ["", "## BIC (lower is better) by K and covariance type", ""]
        bic = self.sweep.criterion_table("bic")
        types = list(bic)
        lines += ["| K | " + " | ".join(types) + f" | BIC weight ({self.covariance_type}) |",
                  "|---:|" + "---:|" * (len(types) + 1)]
        for k in range(1, self.k_max + 1):
            cells = [_fmt(bic[t].get(k), ".1f") for t in types]
            lines.append(f"| {k} | " + " | ".join(cells) + f" | {self.bic_weights[k - 1]:.3f} |")
        lines += ["", "## Number of occupied components K+", "",
                  "| K+ | posterior | prior | BIC weight |", "|---:|---:|---:|---:|"]
        for k in range(1, self.k_max + 1):
            lines.append(f"| {k} | {self.kplus_posterior[k - 1]:.3f} | "
                         f"{self.kplus_prior[k - 1]:.3f} | {self.bic_weights[k - 1]:.3f} |")
        lines += ["", f"## Prior sensitivity: P(K+ | data) for several e0 "
                      f"({s['sensitivity_num_warmup']} warmup + {s['sensitivity_num_samples']} "
                      f"draws x {s['num_chains']} chains each)", "",
                  "| e0 | " + " | ".join(f"K+={k}" for k in range(1, self.k_max + 1))
                  + " | mode | prior mode | divergences |",
                  "|---:|" + "---:|" * (self.k_max + 3)]
        for e0, p in self.sensitivity.items():
            sd = self.sensitivity_diagnostics[e0]
            lines.append(f"| {e0:g} | " + " | ".join(f"{v:.2f}" for v in p)
                         + f" | {int(np.argmax(p)) + 1} | "
                         f"{int(np.argmax(self.sensitivity_prior[e0])) + 1} | "
                         f"{100 * sd['divergence_fraction']:.1f}% |")
        lines += ["", "## Sampler", "",
                  f"NUTS ({s['weights_sampler']} weights), {s['num_chains']} chains x "
                  f"({s['num_warmup']} warmup + "
                  f"{s['num_samples']} draws), target_accept_prob {s['target_accept_prob']}, "
                  f"start: {s['init']}; mean leapfrog steps per draw "
                  f"{d['mean_num_steps']:.1f}; ESS log-likelihood "
                  f"{_fmt(d['ess_log_likelihood'], '.0f')}. Times: sweep {s['sweep_seconds']:.1f} s, "
                  f"NUTS {s['nuts_seconds']:.1f} s, panel {s['sensitivity_seconds']:.1f} s."]
        return "\n".join(lines) + "\n"

    def plot(self, path=None):
        """One figure, four panels: BIC against K per covariance type; P(K+) bars with the
        BIC weights and the prior of K+ overlaid; the prior-sensitivity panel; the data with
        the posterior mean density and the EM density.

        Parameters
        ----------
        path : str or path-like, optional
            Where to write the figure (PNG by suffix).

        Returns
        -------
        matplotlib.figure.Figure
        """
        try:
            from matplotlib.figure import Figure
        except ImportError:
            raise ImportError("CompareResult.plot needs matplotlib: pip install "
                              "bayesgmm[plot]") from None
        fig = Figure(figsize=(12, 9), layout="constrained")
        (ax_bic, ax_k), (ax_sens, ax_data) = fig.subplots(2, 2)
        plot_bic(self.sweep, ax=ax_bic, title="BIC (EM) by K and covariance type")

        ks = np.arange(1, self.k_max + 1)
        ax_k.bar(ks, self.kplus_posterior, width=0.6, color="tab:blue", alpha=0.75,
                 label="posterior P(K+ | data)")
        ax_k.plot(ks, self.bic_weights, "o-", color="tab:red",
                  label=f"BIC weights ({self.covariance_type})")
        ax_k.plot(ks, self.kplus_prior, "s--", color="0.4", markerfacecolor="none",
                  label=f"prior of K+ ({self._prior_label()})")
        ax_k.set_xticks(ks)
        ax_k.set_xlabel("number of (occupied) components")
        ax_k.set_ylabel("probability")
        ax_k.set_ylim(0, 1.05)
        frac = self.diagnostics["divergence_fraction"]
        ax_k.set_title(f"K+ posterior vs BIC (divergences {100 * frac:.2f}%)")
        ax_k.legend(frameon=False, fontsize=8)

        width = 0.8 / max(1, len(self.sensitivity))
        for i, (e0, p) in enumerate(self.sensitivity.items()):
            ax_sens.bar(ks + (i - (len(self.sensitivity) - 1) / 2) * width, p, width=width,
                        label=f"e0 = {e0:g}")
        ctype, k_bic = self.bic_choice
        ax_sens.axvline(k_bic, color="tab:red", ls=":", label=f"BIC choice K = {k_bic}")
        ax_sens.set_xticks(ks)
        ax_sens.set_xlabel("K+")
        ax_sens.set_ylabel("P(K+ | data)")
        ax_sens.set_ylim(0, 1.05)
        ax_sens.set_title("prior sensitivity of K+")
        ax_sens.legend(frameon=False, fontsize=8)

        self._plot_data(ax_data)
        if path is not None:
            fig.savefig(path, dpi=110)
        return fig

    def _prior_label(self):
        s = self.settings
        if s["concentration_prior"]:
            return f"e0 ~ Gamma{tuple(s['concentration_prior'])}"
        return f"e0 = {s['e0']:g}"

    def _plot_data(self, ax):
        ctype, k = self.bic_choice
        plot_data_density(ax, self.X, self.draws, self.covariance_type,
                          feature_names=self.feature_names,
                          em=(self.sweep.fit_result(ctype, k).params, ctype))


def _posterior_density(points, draws, covariance_type, max_draws=400):
    """Posterior mean density at ``points`` (M, d) from at most ``max_draws`` thinned draws."""
    params = draws.params
    n_draws = params.weights.shape[0] * params.weights.shape[1]
    step = max(1, math.ceil(n_draws / max_draws))
    flat = jax.tree.map(lambda a: a.reshape((1, -1) + a.shape[2:])[:, ::step], params)
    pts = jnp.asarray(points, params.means.dtype)
    return np.asarray(posterior.predictive_density(pts, flat, covariance_type).mean)


def plot_data_density(ax, X, draws, covariance_type, *, feature_names=None, em=None):
    """The data with the posterior mean density (and an EM density): a histogram with curves
    for 1-D data, a scatter with log-density contours for 2-D data, a scatter of the first two
    features otherwise.

    Parameters
    ----------
    ax : matplotlib Axes
    X : array, shape (N, d)
    draws : PosteriorDraws
    covariance_type : str
        Of the draws.
    feature_names : sequence of str, optional
    em : (GMMParams, str), optional
        An EM fit and its covariance type, drawn dashed.
    """
    X = np.asarray(X)
    names = (list(feature_names) if feature_names is not None
             else [f"x{i}" for i in range(X.shape[1])])
    dtype = draws.params.means.dtype
    if em is not None:
        em_params, em_type = em
        em_params = GMMParams(*(jnp.asarray(a, dtype) for a in em_params))
        em_label = f"EM density (BIC: {em_type}, K={em_params.weights.shape[0]})"

        def em_log_density(points):
            return np.asarray(density.log_prob(jnp.asarray(points, dtype), em_params, em_type))
    if X.shape[1] == 1:
        pad = 0.1 * np.ptp(X)
        grid = np.linspace(X.min() - pad, X.max() + pad, 400)[:, None]
        ax.hist(X[:, 0], bins=min(40, max(10, len(X) // 4)), density=True, color="0.85",
                label="data")
        ax.plot(grid[:, 0], _posterior_density(grid, draws, covariance_type), color="tab:blue",
                lw=2, label="posterior mean density")
        if em is not None:
            ax.plot(grid[:, 0], np.exp(em_log_density(grid)), color="tab:red", ls="--", lw=1.5,
                    label=em_label)
        ax.set_xlabel(names[0])
        ax.set_ylabel("density")
        ax.set_title("data, posterior mean and EM densities")
    else:
        ax.scatter(X[:, 0], X[:, 1], s=8, color="0.3", alpha=0.7, label="data")
        if X.shape[1] == 2:
            pad = 0.1 * np.ptp(X, axis=0)
            xx, yy = np.meshgrid(np.linspace(X[:, 0].min() - pad[0], X[:, 0].max() + pad[0], 80),
                                 np.linspace(X[:, 1].min() - pad[1], X[:, 1].max() + pad[1], 80))
            grid = np.column_stack([xx.ravel(), yy.ravel()])
            post = np.log(_posterior_density(grid, draws, covariance_type)).reshape(xx.shape)
            top = post.max()
            levels = np.linspace(top - 8, top, 7)
            ax.contour(xx, yy, post, levels=levels, colors="tab:blue", linewidths=1.2)
            ax.plot([], [], color="tab:blue", label="posterior mean log-density")
            if em is not None:
                ax.contour(xx, yy, em_log_density(grid).reshape(xx.shape), levels=levels,
                           colors="tab:red", linewidths=1.0, linestyles="--")
                ax.plot([], [], color="tab:red", ls="--", label=em_label.replace("density",
                                                                                   "log-density"))
            ax.set_title("data, posterior mean and EM densities")
        else:
            ax.set_title("first two features (densities not drawn for d > 2)")
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
    ax.legend(frameon=False, fontsize=8)


def _fmt(value, spec=".3f"):
    return "n/a" if value is None or not np.isfinite(value) else format(value, spec)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# ---------------------------------------------------------------------------------- compare

def _kplus_prior_for(key, n_obs, k_max, e0, concentration_prior):
    if concentration_prior is None:
        return kplus_prior(n_obs, k_max, e0)
    dtype = jnp.result_type(float)
    priors = Priors(concentration=jnp.ones(k_max, dtype),
                    concentration_prior=jnp.asarray(concentration_prior, dtype))
    draws = posterior.prior_occupied_components(key, n_obs, priors, num_draws=20000)
    return posterior.kplus_probabilities(draws, k_max)


def _divergence_summary(draws):
    diverging = np.asarray(draws.sample_stats["diverging"])
    return {"num_divergences": int(diverging.sum()), "num_draws": int(diverging.size),
            "divergence_fraction": float(diverging.mean())}


def compare(key, X, *, k_max=10, covariance_type="full", sweep_covariance_types=COVARIANCE_TYPES,
            e0=DEFAULT_E0, concentration_prior=None, num_warmup=500, num_samples=500,
            num_chains=2, chain_method="vectorized", target_accept_prob=0.8, max_tree_depth=10,
            weights_sampler="gibbs", init="em",
            sensitivity_e0=SENSITIVITY_E0, sensitivity_num_warmup=200,
            sensitivity_num_samples=200, n_init=3, sweep=None, feature_names=None,
            data_label="data", progress=None, progress_bar=False):
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
        NumPyro's progress bar during sampling (NumPyro draws none for several vectorized
        chains with ``weights_sampler="gibbs"``; ``progress`` still reports each stage).

    Returns
    -------
    CompareResult

    Raises
    ------
    ValueError
        For bad arguments (k_max < 1 or > N, e0 <= 0, unknown init, ...) or data with NaN.
    TypeError
        For non-numeric data.
    """
    X = check_data(X)
    n_samples, n_features = X.shape
    k_max = _check_int("k_max", k_max)
    if k_max > n_samples:
        raise ValueError(f"k_max = {k_max} exceeds the number of samples {n_samples}.")
    check_covariance_type(covariance_type)
    for name, value in [("e0", e0)] + [("sensitivity_e0", v) for v in sensitivity_e0]:
        if not isinstance(value, numbers.Real) or not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite positive number, got {value!r}.")
    if init not in ("empty", "em"):
        raise ValueError(f"Invalid value for 'init': {init!r}; it must be 'empty' or 'em'.")
    if weights_sampler not in inference.WEIGHT_SAMPLERS:  # here, not after a minute of sweep
        raise ValueError(f"Invalid value for 'weights_sampler': {weights_sampler!r}; it should "
                         f"be in {list(inference.WEIGHT_SAMPLERS)}")
    sensitivity_num_warmup = _check_int("sensitivity_num_warmup", sensitivity_num_warmup, 0)
    sensitivity_num_samples = _check_int("sensitivity_num_samples", sensitivity_num_samples)
    if isinstance(sweep_covariance_types, str):
        sweep_covariance_types = (sweep_covariance_types,)
    types = list(dict.fromkeys(list(sweep_covariance_types) + [covariance_type]))
    names = (tuple(feature_names) if feature_names is not None
             else tuple(f"x{i}" for i in range(n_features)))
    if len(names) != n_features:
        raise ValueError(f"feature_names has {len(names)} names for {n_features} features.")
    say = progress if progress is not None else (lambda line: None)
    key_sweep, key_nuts, key_kplus, key_prior, key_sens = jax.random.split(key, 5)

    start = time.perf_counter()
    if sweep is None:
        sweep = _sweep(key_sweep, X, k_max, types, n_init, say)
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
        priors = Priors(concentration=float(e0))
    # The sweep has fitted k_max components already (with its restarts): start there.
    start_params = sweep.fit_result(covariance_type, k_max).params
    if init == "empty":
        k_best = int(np.argmax(weights)) + 1
        start_params = empty_start(sweep.fit_result(covariance_type, k_best).params, k_max,
                                   np.asarray(X), covariance_type)
    nuts = dict(n_components=k_max, covariance_type=covariance_type, num_chains=num_chains,
                chain_method=chain_method, target_accept_prob=target_accept_prob,
                max_tree_depth=max_tree_depth, weights_sampler=weights_sampler,
                init=start_params, progress_bar=progress_bar)
    # NumPyro shows no bar for vectorized chains with Gibbs weights: say what is running.
    say(f"NUTS: sampling {k_max} {covariance_type} components, {num_chains} chains x "
        f"({num_warmup} warmup + {num_samples} draws) ...")
    start = time.perf_counter()
    draws = inference.run_nuts(key_nuts, X, priors=priors, num_warmup=num_warmup,
                               num_samples=num_samples, **nuts)
    kplus = np.asarray(posterior.occupied_components(key_kplus, X, draws, covariance_type))
    nuts_seconds = time.perf_counter() - start
    log_lik = np.asarray(pointwise_log_likelihood(
        jnp.asarray(X, draws.params.means.dtype), draws.params, covariance_type).sum(-1))
    diagnostics = _divergence_summary(draws)
    diagnostics.update(
        rhat_kplus=_rhat(kplus), rhat_log_likelihood=_rhat(log_lik),
        ess_log_likelihood=_ess(log_lik),
        mean_num_steps=float(np.mean(np.asarray(draws.sample_stats["num_steps"]))),
        seconds=round(nuts_seconds, 3))
    say(f"NUTS: {k_max} {covariance_type} components, {diagnostics['num_divergences']} "
        f"divergences in {diagnostics['num_draws']} draws, {nuts_seconds:.1f} s")
    kplus_post = posterior.kplus_probabilities(kplus, k_max)
    prior = _kplus_prior_for(key_prior, n_samples, k_max, e0, concentration_prior)

    sensitivity, sensitivity_prior, sensitivity_diag = {}, {}, {}
    start = time.perf_counter()
    for i, value in enumerate(sensitivity_e0):
        value = float(value)
        sensitivity_prior[value] = kplus_prior(n_samples, k_max, value)
        if concentration_prior is None and value == float(e0):
            sensitivity[value], sensitivity_diag[value] = kplus_post, _divergence_summary(draws)
            continue
        k_run, k_occ = jax.random.split(jax.random.fold_in(key_sens, i))
        say(f"prior sensitivity e0 = {value:g}: sampling ...")
        run = inference.run_nuts(k_run, X, priors=Priors(concentration=value),
                                 num_warmup=sensitivity_num_warmup,
                                 num_samples=sensitivity_num_samples, **nuts)
        sensitivity[value] = posterior.kplus_probabilities(
            posterior.occupied_components(k_occ, X, run, covariance_type), k_max)
        sensitivity_diag[value] = _divergence_summary(run)
        say(f"prior sensitivity e0 = {value:g}: mode K+ = "
            f"{int(np.argmax(sensitivity[value])) + 1}, "
            f"{sensitivity_diag[value]['num_divergences']} divergences")
    sensitivity_seconds = time.perf_counter() - start

    settings = {
        "e0": None if concentration_prior is not None else float(e0),
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
    }
    return CompareResult(
        sweep=sweep, covariance_type=covariance_type, k_max=k_max, bic_weights=weights,
        kplus_posterior=kplus_post, kplus_prior=prior, kplus_draws=kplus,
        log_likelihood_draws=log_lik, diagnostics=diagnostics, sensitivity=sensitivity,
        sensitivity_prior=sensitivity_prior, sensitivity_diagnostics=sensitivity_diag,
        settings=settings, draws=draws, X=np.asarray(X), feature_names=names,
        data_label=str(data_label))


def _sweep(key, X, k_max, types, n_init, say):
    """:func:`bic_sweep` one covariance type at a time (a progress line each), merged into one
    :class:`SweepResult`. Rows equal one sweep over all types: each type is its own compiled
    program with the same key either way."""
    parts = []
    for ctype in types:
        start = time.perf_counter()
        part = bic_sweep(key, X, n_components=range(1, k_max + 1), covariance_types=ctype,
                         n_init=n_init)
        parts.append(part)
        say(f"EM sweep {ctype:>9}: K = 1..{k_max}, best BIC at K = {part.best_n_components}, "
            f"{time.perf_counter() - start:.1f} s")
    return merge_sweeps(parts)


def merge_sweeps(parts):
    """Concatenate :class:`SweepResult` objects of disjoint covariance types with the same
    criterion and K grid; the best row is chosen again over all of them.

    Parameters
    ----------
    parts : sequence of SweepResult

    Returns
    -------
    SweepResult
    """
    if not parts:
        raise ValueError("merge_sweeps needs at least one SweepResult.")
    if len(parts) == 1:
        return parts[0]
    criteria = {p.criterion for p in parts}
    if len(criteria) != 1:
        raise ValueError(f"Cannot merge sweeps scored by different criteria: {sorted(criteria)}.")
    fits = {}
    for p in parts:
        overlap = set(fits) & set(p.fits)
        if overlap:
            raise ValueError(f"Sweeps overlap in covariance types {sorted(overlap)}.")
        fits.update(p.fits)
    table = {name: np.concatenate([p.table[name] for p in parts]) for name in parts[0].table}
    criterion = parts[0].criterion
    best = int(np.nanargmin(table[criterion]))
    merged = parts[0]._replace(table=table, best_index=best, fits=fits)
    return merged._replace(best_params=merged.fit_result(merged.best_covariance_type,
                                                         merged.best_n_components).params)


__all__ = ["CompareResult", "DEFAULT_E0", "SENSITIVITY_E0", "bic_weights", "compare",
           "empty_start", "kplus_prior", "merge_sweeps",
           "plot_data_density"]
