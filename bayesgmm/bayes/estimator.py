"""``BayesianGMM``: a scikit-learn-style front end to the Bayesian mixture (NUTS or SVI).

NumPy in, NumPy out; state, validation and warnings live here.
"""

import functools
import warnings

import jax
import numpy as np

from bayesgmm import density
from bayesgmm.bayes import inference, posterior
from bayesgmm.bayes.model import Priors
from bayesgmm.base import ParamsMixin
from bayesgmm.covariance import check_covariance_type
from bayesgmm.exceptions import DivergenceWarning
from bayesgmm.params import GMMParams, precisions_and_covariances
from bayesgmm.validation import (check_array, check_choice, check_int, check_is_fitted,
                                 key_from_random_state)


@functools.partial(jax.jit, static_argnames=("covariance_type", "n_samples"))
def _sample_posterior_predictive(key, params, covariance_type, n_samples):
    """Rows from random draws of ``params`` (leading (chain, draw) axes): X (n, d), labels."""
    flat = jax.tree.map(lambda a: a.reshape((-1,) + a.shape[2:]), params)
    key_pick, key_rows = jax.random.split(key)
    picks = jax.random.randint(key_pick, (n_samples,), 0, flat.weights.shape[0])

    def one(row_key, index):
        X, y = density.sample(row_key, GMMParams(*(a[index] for a in flat)), covariance_type, 1)
        return X[0], y[0]

    return jax.vmap(one)(jax.random.split(key_rows, n_samples), picks)


class BayesianGMM(ParamsMixin):
    """Bayesian Gaussian mixture fitted by NUTS (full posterior) or SVI (approximation / MAP).

    Not to be confused with :class:`sklearn.mixture.BayesianGaussianMixture`, which fits a
    mean-field *variational* approximation of a conjugate (Dirichlet / Normal-Wishart) model by
    coordinate ascent and returns point estimates. ``BayesianGMM`` samples the posterior of a
    non-conjugate model (Dirichlet weights, weakly informative Normal / LogNormal / LKJ priors;
    see :mod:`bayesgmm.bayes.model`) with NUTS, or fits a NumPyro guide by SVI, and keeps the
    draws: every prediction is a posterior average, with uncertainty, and the ArviZ DataTree is
    a fitted attribute. The likelihood is the same density code as
    :class:`bayesgmm.GaussianMixture`.

    Parameters
    ----------
    n_components : int, default 1
    covariance_type : {"full", "tied", "diag", "spherical"}, default "full"
    method : {"nuts", "svi"}, default "nuts"
    priors : Priors, optional
        Default: scaled to the data (:func:`bayesgmm.bayes.resolve_priors`).
    num_warmup, num_samples, num_chains : int, default 500, 500, 4
        NUTS settings; for SVI ``num_samples`` is the number of draws from the guide.
    chain_method : {"vectorized", "sequential", "parallel"}, optional
        Default: "parallel" over the local devices when there are several, else
        "vectorized" (see :func:`bayesgmm.bayes.run_nuts`).
    target_accept_prob : float, default 0.8
    weights_sampler : {"nuts", "gibbs"}, default "nuts"
        NUTS: how the weights are sampled; "gibbs" draws them from their exact conditional
        (use it with a sparse Dirichlet concentration; see :func:`bayesgmm.bayes.run_nuts`).
    guide : {"normal", "multivariate_normal", "delta"}, default "normal"
        SVI guide.
    num_steps : int, default 2000
        SVI optimisation steps.
    subsample_size : int, optional
        SVI on large data: each step uses this many random rows, the likelihood scaled to
        the full data (minibatch SVI; see :func:`bayesgmm.bayes.run_svi`).
    init : {"em", "prior"}, default "em"
        Start from the EM solution or from prior draws.
    ordered_means : bool, default False
        Order the means (one-dimensional data only).
    pivot : {"em", "map"}, default "em"
        Relabelling pivot (see :func:`bayesgmm.bayes.relabel`).
    random_state : int, numpy RandomState or Generator, JAX PRNG key, or None
    progress_bar : bool, default False
    posterior_predictive : bool, default True
        Store one replicated data set per draw in ``datatree_`` (chain * draw * N * d
        values); turn off for large data.

    Attributes
    ----------
    draws_ : PosteriorDraws
        Relabelled posterior draws, (chain, draw, ...).
    datatree_ : xarray.DataTree
        ArviZ DataTree (posterior, sample_stats, log_likelihood, posterior_predictive,
        observed_data), built when first read (the pointwise log-likelihood and the posterior
        predictive cost compilation and memory that a fit used only for predictions need
        not pay). The estimator keeps a reference to the training data and the key of the
        posterior predictive draws for it, and :func:`bayesgmm.io.save` stores both, so
        that a loaded model builds the same DataTree.
    weights_ : ndarray, shape (n_components,)
    means_ : ndarray, shape (n_components, n_features)
    covariances_ : ndarray
        Posterior means (of relabelled draws), shapes as in scikit-learn.
    em_params_ : GMMParams
        The EM solution the sampler started from.
    num_divergences_ : int
        Divergent NUTS transitions (0 for SVI).
    losses_ : ndarray or None
        SVI loss trace.
    n_features_in_ : int
    """

    # Part of the fit that bayesgmm.io saves although private: what datatree_ is built from.
    _saved_private_attributes = ("_datatree_inputs",)

    def __init__(self, n_components=1, *, covariance_type="full", method="nuts", priors=None,
                 num_warmup=500, num_samples=500, num_chains=4, chain_method=None,
                 target_accept_prob=0.8, weights_sampler="nuts", guide="normal",
                 num_steps=2000, subsample_size=None, init="em",
                 ordered_means=False, pivot="em", random_state=None, progress_bar=False,
                 posterior_predictive=True):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.method = method
        self.priors = priors
        self.num_warmup = num_warmup
        self.num_samples = num_samples
        self.num_chains = num_chains
        self.chain_method = chain_method
        self.target_accept_prob = target_accept_prob
        self.weights_sampler = weights_sampler
        self.guide = guide
        self.num_steps = num_steps
        self.subsample_size = subsample_size
        self.init = init
        self.ordered_means = ordered_means
        self.pivot = pivot
        self.random_state = random_state
        self.progress_bar = progress_bar
        self.posterior_predictive = posterior_predictive

    def _check_parameters(self):
        check_covariance_type(self.covariance_type)
        check_choice("method", self.method, ("nuts", "svi"))
        check_choice("init", self.init, ("em", "prior"))
        check_choice("pivot", self.pivot, ("em", "map"))
        if self.priors is not None and not isinstance(self.priors, Priors):
            raise TypeError(f"priors must be a bayesgmm.bayes.Priors, got "
                            f"{type(self.priors).__name__}.")

    def fit(self, X, y=None):
        """Sample (or approximate) the posterior given X.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self

        Warns
        -----
        DivergenceWarning
            When NUTS reports divergent transitions (their number is in
            ``num_divergences_``).
        """
        del y
        self._check_parameters()
        X = check_array(X, caller=type(self).__name__)
        key = key_from_random_state(self.random_state)
        key_fit, key_ppc = jax.random.split(key)
        common = dict(n_components=self.n_components, covariance_type=self.covariance_type,
                      priors=self.priors, init=self.init, ordered_means=self.ordered_means,
                      progress_bar=self.progress_bar)
        if self.method == "nuts":
            draws = inference.run_nuts(
                key_fit, X, num_warmup=self.num_warmup, num_samples=self.num_samples,
                num_chains=self.num_chains, chain_method=self.chain_method,
                target_accept_prob=self.target_accept_prob,
                weights_sampler=self.weights_sampler, **common)
        else:
            draws = inference.run_svi(key_fit, X, guide=self.guide, num_steps=self.num_steps,
                                      num_samples=self.num_samples,
                                      subsample_size=self.subsample_size, **common)
        self.draws_, _ = posterior.relabel(draws, self.covariance_type, pivot=self.pivot)
        self._datatree_inputs = (X, key_ppc)  # datatree_ is built from them when first read
        self.__dict__.pop("_datatree", None)
        self._set_fitted(X)
        if self.num_divergences_:
            total = self.num_chains * self.num_samples
            warnings.warn(f"NUTS reported {self.num_divergences_} divergent transitions in "
                          f"{total} draws: the posterior may be explored incompletely. Raise "
                          f"target_accept_prob, use weights_sampler='gibbs' (sparse Dirichlet "
                          f"concentrations), a less sparse concentration or fewer components.",
                          DivergenceWarning, stacklevel=2)
        return self

    @property
    def datatree_(self):
        """The ArviZ DataTree of the fit (built on first access; see the class docstring)."""
        self._check_is_fitted()
        if "_datatree" not in self.__dict__:
            from bayesgmm.bayes import arviz as bayes_arviz  # noqa: PLC0415 (ArviZ on use)
            X, key = self._datatree_inputs
            self._datatree = bayes_arviz.to_datatree(
                self.draws_, X, self.covariance_type, pivot=self.pivot, key=key,
                posterior_predictive=self.posterior_predictive)
        return self._datatree

    def _set_fitted(self, X):
        draws, dtype = self.draws_, X.dtype
        _, covariances = precisions_and_covariances(draws.params.precisions_cholesky,
                                                    self.covariance_type)
        self.weights_, self.means_, self.covariances_ = (
            np.asarray(a).mean(axis=(0, 1)).astype(dtype)
            for a in (draws.params.weights, draws.params.means, covariances))
        self.em_params_ = jax.tree.map(np.asarray, draws.em_params)
        self.num_divergences_ = int(np.sum(np.asarray(draws.num_divergences)))
        self.losses_ = None if draws.losses is None else np.asarray(draws.losses)
        self.n_features_in_ = X.shape[1]

    def _check_is_fitted(self):
        check_is_fitted(self, "draws_")

    def _check_X(self, X):
        self._check_is_fitted()
        X = check_array(X, dtype=self.means_.dtype, caller=type(self).__name__)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input.")
        return X

    def predict_proba(self, X):
        """Posterior mean responsibilities, shape (n_samples, n_components)."""
        X = self._check_X(X)
        summary = posterior.responsibilities(X, self.draws_, self.covariance_type)
        return np.asarray(summary.mean)

    def predict(self, X):
        """Component with the highest posterior mean responsibility, shape (n_samples,)."""
        return np.argmax(self.predict_proba(X), axis=1)

    def score_samples(self, X):
        """Log posterior predictive density of every row, shape (n_samples,)."""
        X = self._check_X(X)
        return np.asarray(posterior.predictive_density(X, self.draws_,
                                                       self.covariance_type).log_mean)

    def score(self, X, y=None):
        """Mean log posterior predictive density of the rows."""
        del y
        return float(np.mean(self.score_samples(X)))

    def sample(self, n_samples=1):
        """Draw rows from the posterior predictive distribution.

        Each row comes from a posterior draw picked at random, then from that draw's mixture.

        Returns
        -------
        X : ndarray, shape (n_samples, n_features)
        y : ndarray of int, shape (n_samples,)
            Component labels (relabelled), sorted ascending as scikit-learn returns them.
        """
        self._check_is_fitted()
        n_samples = check_int("n_samples", n_samples)
        key = key_from_random_state(self.random_state)
        X, y = _sample_posterior_predictive(key, self.draws_.params, self.covariance_type,
                                            n_samples)
        order = np.argsort(np.asarray(y), kind="stable")
        return np.asarray(X)[order], np.asarray(y)[order]

    def summary(self, **kwargs):
        """ArviZ summary of the relabelled posterior (see :func:`bayesgmm.bayes.summary`)."""
        from bayesgmm.bayes import arviz as bayes_arviz  # noqa: PLC0415

        self._check_is_fitted()
        return bayes_arviz.summary(self.datatree_, **kwargs)


__all__ = ["BayesianGMM", "DivergenceWarning"]
