"""bayesgmm: Gaussian mixture models in JAX, by maximum likelihood (EM) and Bayesian inference.

The public API:

- :class:`GaussianMixture`: scikit-learn's estimator API, fitted by a compiled JAX EM.
- :func:`fit_em` and :class:`EMResult`: the functional EM.
- :func:`bic_sweep`, :class:`GaussianMixtureIC`, :func:`select`, :func:`plot_bic`: BIC / AIC /
  ICL over K and covariance types, one compiled program for all K (and, on small data, for
  scikit-learn's four types).
- :func:`bootstrap`, :func:`fit_em_batch`: many fits at once (resamples, data sets).
- Scaling out: :func:`fit_em` on data sharded over devices (``devices=`` or a sharded
  ``jax.Array``); :func:`fit_em_chunks` with :func:`npy_chunks` / :func:`npy_dir_chunks` for
  data larger than memory; :mod:`bayesgmm.online` (``GaussianMixture.partial_fit``) for
  streams.
- :class:`BayesianGMM`, :func:`run_nuts`, :func:`run_svi`, :class:`Priors` and the
  :mod:`bayesgmm.bayes` package: the NumPyro model (imported on first use).
- :class:`GMMParams` and :mod:`bayesgmm.density`: the parameters and the one density
  implementation every route evaluates.
- :func:`bayesgmm.compare.compare`: BIC from EM beside the posterior number of occupied
  components K+ of an overfitted sparse mixture, and with ``k_prior`` beside P(K | data) of
  the telescoping sampler, :func:`bayesgmm.bayes.sample_telescope` (imported on first use).
- :mod:`bayesgmm.datasets`: classic data sets (Old Faithful, iris, galaxy, acidity, enzyme);
  :mod:`bayesgmm.io`: pickle-free save/load.
"""

import importlib

from bayesgmm import config, datasets, density, online
from bayesgmm.covariance import MCLUST_MODELS, MCLUST_MODELS_1D
from bayesgmm.em import EMResult, fit_em
from bayesgmm.estimator import GaussianMixture
from bayesgmm.estimator_ic import GaussianMixtureIC, select
from bayesgmm.exceptions import ConvergenceWarning, DivergenceWarning, NotFittedError
from bayesgmm.outofcore import fit_em_chunks, npy_chunks, npy_dir_chunks
from bayesgmm.params import GMMParams
from bayesgmm.plots import plot_bic
from bayesgmm.resampling import BootstrapResult, bootstrap, fit_em_batch
from bayesgmm.selection import SweepResult, bic_sweep
from bayesgmm.validation import MCLUST_TOL

__version__ = "0.1.0"

# Compiled programs are kept on disk so that a script's second run does not compile them
# again; see bayesgmm.config for the reason and for how to turn it off.
config.use_default_cache()

# The Bayesian route imports NumPyro; load it only when one of its names is first used, so
# that `import bayesgmm` stays quick for EM-only scripts and the command line.
_LAZY_NAMES = {"BayesianGMM": "bayesgmm.bayes", "PosteriorDraws": "bayesgmm.bayes",
               "Priors": "bayesgmm.bayes", "run_nuts": "bayesgmm.bayes",
               "run_svi": "bayesgmm.bayes", "CompareResult": "bayesgmm.compare"}


def __getattr__(name):
    if name == "bayes":
        return importlib.import_module("bayesgmm.bayes")
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(_LAZY_NAMES[name]), name)
    raise AttributeError(f"module 'bayesgmm' has no attribute {name!r}")


__all__ = [
    "BayesianGMM",
    "BootstrapResult",
    "CompareResult",
    "ConvergenceWarning",
    "DivergenceWarning",
    "EMResult",
    "GMMParams",
    "GaussianMixture",
    "GaussianMixtureIC",
    "MCLUST_MODELS",
    "MCLUST_MODELS_1D",
    "MCLUST_TOL",
    "NotFittedError",
    "PosteriorDraws",
    "Priors",
    "SweepResult",
    "bayes",
    "bic_sweep",
    "bootstrap",
    "datasets",
    "density",
    "fit_em",
    "fit_em_batch",
    "fit_em_chunks",
    "npy_chunks",
    "npy_dir_chunks",
    "online",
    "plot_bic",
    "run_nuts",
    "run_svi",
    "select",
    "__version__",
]
