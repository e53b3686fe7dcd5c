"""bayesgmm's warnings and errors, at the bottom of the package so that every layer can raise
them without importing a front end."""

import functools
import sys


class ConvergenceWarning(UserWarning):
    """The best EM run stopped at ``max_iter`` before the lower bound settled.

    When scikit-learn is already imported, an instance is also an instance of
    ``sklearn.exceptions.ConvergenceWarning``, so that code filtering scikit-learn's warning
    (``warnings.filterwarnings("ignore", category=...)``, ``pytest.warns``) filters this one;
    bayesgmm never imports scikit-learn for this. The warning machinery matches filters
    against the category of the instance when warn() is given an instance, not a class:
    bayesgmm warns with ``warnings.warn(ConvergenceWarning(message))``.
    """

    def __new__(cls, *args, **kwargs):
        sklearn_exceptions = sys.modules.get("sklearn.exceptions")
        if cls is ConvergenceWarning and sklearn_exceptions is not None:
            cls = _with_sklearn_base(ConvergenceWarning, sklearn_exceptions.ConvergenceWarning)
        return super().__new__(cls, *args, **kwargs)


class DivergenceWarning(UserWarning):
    """NUTS reported divergent transitions: the posterior may be explored incompletely."""


class NotFittedError(ValueError, AttributeError):
    """An estimator was used before ``fit`` (a ValueError and AttributeError, as scikit-learn's).

    When scikit-learn is already imported, the error raised is also an instance of
    ``sklearn.exceptions.NotFittedError``, so code written for scikit-learn (and its
    ``check_estimator``) catches it; bayesgmm never imports scikit-learn for this.
    """

    def __new__(cls, *args, **kwargs):
        sklearn_exceptions = sys.modules.get("sklearn.exceptions")
        if cls is NotFittedError and sklearn_exceptions is not None:
            cls = _with_sklearn_base(NotFittedError, sklearn_exceptions.NotFittedError)
        return super().__new__(cls, *args, **kwargs)


@functools.cache
def _with_sklearn_base(own, sklearn_class):
    """A subclass of both ``own`` and scikit-learn's ``sklearn_class``, made once."""
    return type(own.__name__, (own, sklearn_class),
                {"__module__": __name__, "__doc__": own.__doc__})


class ComplexDataError(TypeError, ValueError):
    """Complex input: a TypeError (the wrong kind of number) that is also a ValueError, the
    class scikit-learn raises for it, so that either ``except`` clause catches it."""


__all__ = ["ComplexDataError", "ConvergenceWarning", "DivergenceWarning", "NotFittedError"]
