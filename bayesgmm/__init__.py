"""bayesgmm: Gaussian mixture models in JAX, by maximum likelihood (EM) and Bayesian inference.

The public API:

- :class:`GaussianMixture`: scikit-learn's estimator API, fitted by a compiled JAX EM.
- :func:`fit_em` and :class:`EMResult`: the functional EM.
- :class:`GMMParams`: the parameter pytree shared by every route.
- :mod:`bayesgmm.density`: the one Gaussian-mixture density implementation.
- :mod:`bayesgmm.datasets`: classic data sets (Old Faithful, iris, galaxy, acidity, enzyme).
"""

from bayesgmm import datasets, density
from bayesgmm.em import EMResult, fit_em
from bayesgmm.estimator import ConvergenceWarning, GaussianMixture, NotFittedError
from bayesgmm.params import GMMParams

__version__ = "0.1.0"

__all__ = [
    "ConvergenceWarning",
    "EMResult",
    "GMMParams",
    "GaussianMixture",
    "NotFittedError",
    "datasets",
    "density",
    "fit_em",
    "__version__",
]
