"""Chain diagnostics of scalar, label-invariant quantities (K+, the total log-likelihood) and
the divergence summary of a NUTS run.

Split R-hat and the effective sample size are NumPyro's estimators, applied to one
``(chain, draw)`` array at a time; they are ``None`` where undefined (fewer than four draws
per chain, or draws that never change), so that a report can say "n/a" instead of printing
NaN. Per-component parameters need relabelling first: use the ArviZ summary of
:mod:`bayesgmm.bayes.arviz` for those.
"""

import math

import numpy as np
from numpyro.diagnostics import effective_sample_size, split_gelman_rubin

#: R-hat of K+ above which a report says that the chains disagree.
RHAT_WARNING = 1.1


def _chain_statistic(statistic, x):
    """``statistic`` of a (chain, draw) array as a float; None with fewer than four draws per
    chain, constant draws, or a non-finite value."""
    x = np.asarray(x, np.float64)
    if x.shape[1] < 4 or np.ptp(x) == 0:
        return None
    value = float(statistic(x))
    return value if math.isfinite(value) else None


def rhat(x):
    """Split R-hat of one scalar quantity, ``x`` of shape (chain, draw); float or None."""
    return _chain_statistic(split_gelman_rubin, x)


def ess(x):
    """Effective sample size of one scalar quantity, ``x`` of shape (chain, draw); float or
    None."""
    return _chain_statistic(effective_sample_size, x)


def divergence_summary(draws):
    """How many NUTS transitions diverged.

    Parameters
    ----------
    draws : PosteriorDraws
        From :func:`bayesgmm.bayes.run_nuts`; ``sample_stats["diverging"]`` has shape
        (chain, draw).

    Returns
    -------
    dict
        ``num_divergences`` (int), ``num_draws`` (int), ``divergence_fraction`` (float).
    """
    diverging = np.asarray(draws.sample_stats["diverging"])
    return {"num_divergences": int(diverging.sum()), "num_draws": int(diverging.size),
            "divergence_fraction": float(diverging.mean())}


__all__ = ["RHAT_WARNING", "divergence_summary", "ess", "rhat"]
