"""scikit-learn's parameter protocol for bayesgmm's estimators, without scikit-learn."""

import inspect

import numpy as np


class ParamsMixin:
    """scikit-learn's parameter protocol (``get_params``, ``set_params``, a short ``repr``),
    read from the constructor's signature, so that ``clone``, ``Pipeline`` and
    ``GridSearchCV`` work without scikit-learn being a dependency."""

    @classmethod
    def _get_param_names(cls):
        signature = inspect.signature(cls.__init__)
        return sorted(p.name for p in signature.parameters.values()
                      if p.name != "self" and p.kind != p.VAR_KEYWORD)

    def get_params(self, deep=True):
        """Constructor parameters as a dict (``deep`` is accepted for compatibility)."""
        del deep
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params):
        """Set constructor parameters; unknown names raise ValueError."""
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for estimator "
                                 f"{type(self).__name__}. Valid parameters are: {valid}.")
            setattr(self, name, value)
        return self

    def __sklearn_tags__(self):
        """scikit-learn's estimator tags (a density estimator on dense 2-D float data).

        scikit-learn calls this only when it is installed, so it is imported here and not at
        module import: bayesgmm does not depend on it.
        """
        from sklearn.utils import Tags, TargetTags  # noqa: PLC0415 (optional dependency)
        return Tags(estimator_type="density_estimator", target_tags=TargetTags(required=False))

    def __repr__(self):
        defaults = {p.name: p.default
                    for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = [f"{name}={value!r}" for name, value in self.get_params().items()
                   if not _same(value, defaults.get(name))]
        return f"{type(self).__name__}({', '.join(changed)})"


def _same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return a is b
    return type(a) is type(b) and a == b


__all__ = ["ParamsMixin"]
