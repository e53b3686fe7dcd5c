"""The Bayesian Gaussian mixture: a NumPyro model whose likelihood is :mod:`bayesgmm.density`,
NUTS and SVI started from the EM solution, label switching resolved by Hungarian relabelling,
posterior summaries (responsibilities, predictive density, K+), ArviZ diagnostics, and the
telescoping sampler of K and K+ under a prior on K (``sample_telescope``).

``to_datatree``, ``summary``, ``loo`` and ``loo_compare`` live in :mod:`bayesgmm.bayes.arviz`
and are imported on first use, so that ``import bayesgmm.bayes`` does not import ArviZ.
"""

from bayesgmm.bayes.estimator import BayesianGMM
from bayesgmm.bayes.inference import PosteriorDraws, run_nuts, run_svi
from bayesgmm.bayes.model import GaussianMixtureLikelihood, Priors, gmm_model, resolve_priors
from bayesgmm.bayes.posterior import (
    kplus_probabilities,
    occupied_components,
    predictive_density,
    prior_occupied_components,
    relabel,
    responsibilities,
)
from bayesgmm.bayes.telescope import TelescopePriors, TelescopeResult, sample_telescope
from bayesgmm.exceptions import DivergenceWarning

_ARVIZ_NAMES = ("to_datatree", "summary", "loo", "loo_compare")


def __getattr__(name):
    if name in _ARVIZ_NAMES:
        from bayesgmm.bayes import arviz  # noqa: PLC0415 (ArviZ is imported on first use)
        return getattr(arviz, name)
    raise AttributeError(f"module 'bayesgmm.bayes' has no attribute {name!r}")


__all__ = [
    "BayesianGMM",
    "DivergenceWarning",
    "GaussianMixtureLikelihood",
    "PosteriorDraws",
    "Priors",
    "TelescopePriors",
    "TelescopeResult",
    "gmm_model",
    "kplus_probabilities",
    "loo",
    "loo_compare",
    "occupied_components",
    "predictive_density",
    "prior_occupied_components",
    "relabel",
    "resolve_priors",
    "responsibilities",
    "run_nuts",
    "run_svi",
    "sample_telescope",
    "summary",
    "to_datatree",
]
