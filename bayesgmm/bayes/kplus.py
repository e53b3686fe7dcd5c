"""The prior of the number of occupied components K+ in closed form.

An overfitted mixture of K components with symmetric Dirichlet weights leaves some components
empty; K+ counts the occupied ones. Its prior, given N observations and the concentration e0,
is a Dirichlet-multinomial count of compositions (Malsiner-Walli, Frühwirth-Schnatter & Grün
2016): this module computes it exactly, with NumPy and SciPy only. The posterior of K+ is
sampled in :mod:`bayesgmm.bayes.posterior` (``occupied_components``), and so is the prior
under a Gamma hyperprior on e0 (``prior_occupied_components``).
"""

import numpy as np
from scipy.special import gammaln, logsumexp

from bayesgmm.validation import check_int, check_real


def log_compositions(n_obs, concentration, j_max):
    """``log sum prod_i Gamma(n_i + e0) / (Gamma(e0) n_i!)`` over the compositions of
    ``n_obs`` into j positive parts, j = 1..j_max.

    The recursion over j is a convolution over the counts, one (N, N) log-sum-exp per j.

    Returns
    -------
    ndarray, shape (j_max,)
        ``-inf`` for j > n_obs.
    """
    n = np.arange(1, n_obs + 1)
    log_f = gammaln(n + concentration) - gammaln(concentration) - gammaln(n + 1)
    # shift[m, a] = m - a: the last part's size when the first j - 1 parts hold a + 1 points.
    shift = n[:, None] - n[None, :]
    last = np.where(shift >= 1, log_f[np.clip(shift - 1, 0, None)], -np.inf)
    conv, out = log_f, np.full(j_max, -np.inf)
    out[0] = conv[-1]
    for j in range(2, min(j_max, n_obs) + 1):
        conv = logsumexp(conv[None, :] + last, axis=1)
        out[j - 1] = conv[-1]
    return out


def kplus_prior(n_obs, n_components, concentration, *, compositions=None):
    """Prior of the number of occupied components K+ under a symmetric Dirichlet.

    With ``weights ~ Dirichlet(e0, ..., e0)`` over ``K = n_components`` components and ``N``
    observations allocated multinomially, the counts are Dirichlet-multinomial and

    ``P(K+ = k) = C(K, k) * Gamma(K e0) / Gamma(N + K e0)
    * sum_{n_1 + ... + n_k = N, n_j >= 1} N! / prod n_j! * prod Gamma(n_j + e0) / Gamma(e0)``.

    The sum over compositions is a convolution (:func:`log_compositions`), O(K N^2).

    Parameters
    ----------
    n_obs : int
        Number of observations N >= 1.
    n_components : int
        Number of components K >= 1.
    concentration : float
        Symmetric Dirichlet concentration e0 > 0.
    compositions : ndarray, shape (>= K,), optional
        ``log_compositions(n_obs, concentration, j_max)`` already computed (a prior on K
        reuses it for every K with the same e0).

    Returns
    -------
    ndarray, shape (n_components,)
        ``P(K+ = 1), ..., P(K+ = K)``; sums to one.

    Raises
    ------
    ValueError
        For ``n_obs`` or ``n_components`` not an integer >= 1, or ``concentration`` not a
        finite positive number.
    """
    n_obs, n_components = check_int("n_obs", n_obs), check_int("n_components", n_components)
    e0 = check_real("concentration", concentration, low_open=True)
    if compositions is None:
        compositions = log_compositions(n_obs, e0, n_components)
    j = np.arange(1, n_components + 1)
    log_choose = gammaln(n_components + 1) - gammaln(j + 1) - gammaln(n_components - j + 1)
    log_p = (log_choose + gammaln(n_components * e0) - gammaln(n_obs + n_components * e0)
             + gammaln(n_obs + 1) + compositions[:n_components])
    p = np.exp(log_p - logsumexp(log_p))
    return p / p.sum()


__all__ = ["kplus_prior", "log_compositions"]
