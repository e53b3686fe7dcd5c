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

    Raises
    ------
    ValueError
        For ``n_obs`` or ``n_components`` not an integer >= 1, or ``concentration`` not a
        finite positive number.
    """
    n_obs, n_components = check_int("n_obs", n_obs), check_int("n_components", n_components)
    e0 = check_real("concentration", concentration, low_open=True)
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


__all__ = ["kplus_prior"]
