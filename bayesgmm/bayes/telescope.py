"""A prior on the number of components K: the telescoping Gibbs sampler of the joint posterior
of K and of the number of occupied components K+.

Model (Frühwirth-Schnatter, Malsiner-Walli & Grün 2021, "Generalized mixtures of finite
mixtures and telescoping sampling", Bayesian Analysis 16; the R package ``telescope``), for
``N`` observations in ``d`` dimensions::

    K            ~ p(K)                 on 1..k_max (uniform, Poisson, geometric, BNB, ...)
    weights | K  ~ Dirichlet_K(e0)      static: e0 fixed or e0 ~ Gamma(a, b), independent of K
                                        dynamic: e0 = alpha / K, alpha fixed or with a prior
    mu_k         ~ N(b0, B0)
    Sigma_k^-1   ~ W(c0, C0)            Wishart in Frühwirth-Schnatter's parameterisation:
                                        density ∝ |P|^(c0 - (d+1)/2) exp(-tr(C0 P)), i.e.
                                        a standard Wishart with 2 c0 degrees of freedom and
                                        scale (2 C0)^-1; for d = 1, sigma_k^-2 ~ Gamma(c0, C0)
    C0           ~ W(g0, G0)
    x_n          ~ sum_k weights_k N(mu_k, Sigma_k)

Default hyperparameters (``R`` the data range per feature): for d = 1 those of Richardson &
Green (1997), b0 = the midrange, B0 = R^2, c0 = 2, g0 = 0.2, G0 = 10 / R^2; for d > 1 the
conditionally conjugate hierarchical prior of Malsiner-Walli, Frühwirth-Schnatter & Grün
(2016) as the telescope package sets it, b0 = the median, B0 = diag(R^2),
c0 = 2.5 + (d - 1) / 2, g0 = 0.5 + (d - 1) / 2, G0 = 100 g0 / c0 diag(1 / R^2).

One sweep of the sampler (every block an exact conditional, or a Metropolis step that leaves
its conditional invariant):

1. allocations ``z_n`` given the parameters (through
   :func:`bayesgmm.density.log_prob_and_responsibilities`); the K+ occupied components are
   moved to the front, the empty ones dropped;
2. ``K | partition`` from ``p(K) p(partition | K, e0)`` with the weights and the empty
   components integrated out, where (e0 = alpha / K when dynamic)
   ``p(partition | K, e0) = K! / (K - K+)! Gamma(K e0) / Gamma(N + K e0)
   prod_k Gamma(N_k + e0) / Gamma(e0)``;
3. e0 (static) or alpha (dynamic) by a random-walk Metropolis step on its log, when it has a
   prior (K and e0 depend on the partition only, so they may be drawn before the component
   parameters, which do not depend on them);
4. ``Sigma_k^-1 | mu_k, z`` and then ``mu_k | Sigma_k, z`` for the occupied components;
5. ``C0 | Sigma_1..K+``, the empty components integrated out;
6. the K - K+ empty components from their prior given C0, and the weights from
   ``Dirichlet(e0 + N_1, ..., e0 + N_K)``.

Empty components come and go at every sweep, which is what the sparse-Dirichlet Gibbs
sampler of :mod:`bayesgmm.compare` cannot do. Everything is padded to ``k_max`` components:
component k is active when ``k < K`` (inactive ones have weight zero and finite parameters
drawn from their prior), so that one compiled program serves every K, every prior on K (a
vector of log-probabilities) and every weight prior (flags and numbers, not static settings).
"""

import functools
import math
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.linalg import cho_solve, solve_triangular
from jax.scipy.special import gammaln
from scipy import special, stats

from bayesgmm import density, init, linalg
from bayesgmm.bayes import kplus, sampler
from bayesgmm.bayes.diagnostics import ess, rhat
from bayesgmm.covariance import FAMILIES
from bayesgmm.params import GMMParams
from bayesgmm.relabel import hungarian, mahalanobis_costs
from bayesgmm.stats import default_chunk_size
from bayesgmm.validation import check_choice, check_data, check_int, check_real

#: Priors on K by name: ``(name, default parameters)``; K - 1 follows the named law except
#: "uniform" (K uniform on 1..k_max). Every prior is truncated to 1..k_max.
K_PRIORS = {
    "uniform": (),
    "poisson": (1.0,),          # K - 1 ~ Poisson(lambda); telescope's "Pois_1"
    "geometric": (0.1,),        # K - 1 ~ Geometric(p), p (1 - p)^x; Miller & Harrison (2018)
    "bnb": (1.0, 4.0, 3.0),     # K - 1 ~ BNB(alpha, a_pi, b_pi); the telescope authors' choice
}
#: Weight priors: "static" (e0 independent of K) or "dynamic" (e0 = alpha / K).
WEIGHT_PRIORS = ("static", "dynamic")
#: Hyperpriors of e0 (static) or alpha (dynamic), by code in the compiled program.
_FIXED, _GAMMA, _F = 0, 1, 2


# ------------------------------------------------------------------------------- the priors

class TelescopePriors(NamedTuple):
    """The prior of the telescoping sampler; ``None`` fields are set from the data.

    Attributes
    ----------
    k_prior : str, tuple or array, default "uniform"
        Prior on K over 1..k_max: a name of :data:`K_PRIORS` ("uniform", "poisson",
        "geometric", "bnb"), a tuple ``(name, *parameters)`` such as ``("poisson", 4.0)`` or
        ``("bnb", 1, 4, 3)``, or probabilities of K = 1..k_max (normalised here).
    weights : {"static", "dynamic"}, default "static"
        "static": a Dirichlet concentration e0 that does not depend on K; "dynamic":
        ``e0 = alpha / K``.
    concentration : float, default 1.0
        e0 (static) or alpha (dynamic): the fixed value, or the start under a hyperprior.
    concentration_prior : tuple, optional
        ``(shape, rate)`` of a Gamma prior on e0 or alpha (e.g. ``(1, 20)``, telescope's
        "G_1_20" for e0), or ``("F", d1, d2)``, an F distribution (``("F", 6, 3)``, the
        telescope authors' prior on alpha). None: the concentration is fixed.
    proposal_sd : float, default 1.5
        Standard deviation of the random walk on log e0 (or log alpha), as telescope.
    b0 : array, shape (d,), optional
        Prior mean of the component means.
    B0 : array, shape (d,) or (d, d), optional
        Prior covariance of the component means (a vector: its diagonal).
    c0, g0 : float, optional
        Shapes of the Wishart priors of the precisions and of C0.
    G0 : array, shape (d,) or (d, d), optional
        Scale of the Wishart prior of C0 (a vector: its diagonal).
    """

    k_prior: object = "uniform"
    weights: str = "static"
    concentration: float = 1.0
    concentration_prior: object = None
    proposal_sd: float = 1.5
    b0: object = None
    B0: object = None
    c0: object = None
    g0: object = None
    G0: object = None


class ResolvedPriors(NamedTuple):
    """Every number the compiled sampler reads, as arrays (arguments, not static settings).

    Attributes
    ----------
    log_prior_k : array, shape (k_max,)
        ``log p(K)``, K = 1..k_max (``-inf`` outside the support).
    dynamic : bool array, shape ()
    concentration : array, shape ()
        e0 (static) or alpha (dynamic), fixed value or start.
    hyper_kind : int array, shape ()
        0 fixed, 1 Gamma(shape, rate), 2 F(d1, d2).
    hyper : array, shape (2,)
    proposal_sd : array, shape ()
    b0 : array, shape (d,)
    B0_inv : array, shape (d, d)
        Inverse of B0.
    B0_chol : array, shape (d, d)
        Lower Cholesky factor of B0.
    c0, g0 : array, shape ()
    G0 : array, shape (d, d)
    """

    log_prior_k: jax.Array
    dynamic: jax.Array
    concentration: jax.Array
    hyper_kind: jax.Array
    hyper: jax.Array
    proposal_sd: jax.Array
    b0: jax.Array
    B0_inv: jax.Array
    B0_chol: jax.Array
    c0: jax.Array
    g0: jax.Array
    G0: jax.Array


def k_prior_probabilities(k_prior, k_max):
    """The prior of K on 1..k_max, truncated and normalised.

    Parameters
    ----------
    k_prior : str, tuple or array
        See :class:`TelescopePriors`.
    k_max : int

    Returns
    -------
    ndarray, shape (k_max,)
        ``P(K = 1), ..., P(K = k_max)``, summing to one.

    Raises
    ------
    ValueError
        An unknown name, parameters out of range, or probabilities of the wrong length,
        negative, or all zero.
    """
    k_max = check_int("k_max", k_max)
    if isinstance(k_prior, str) or (isinstance(k_prior, tuple) and k_prior
                                    and isinstance(k_prior[0], str)):
        name, *values = (k_prior,) if isinstance(k_prior, str) else k_prior
        name = check_choice("k_prior", name.lower(), tuple(K_PRIORS))
        defaults = K_PRIORS[name]
        if values and len(values) != len(defaults):
            raise ValueError(f"k_prior {name!r} takes {len(defaults)} parameter(s) "
                             f"{defaults}, got {tuple(values)}.")
        values = [check_real(f"k_prior {name} parameter", v, low_open=True)
                  for v in (values or defaults)]
        x = np.arange(k_max)  # K - 1
        if name == "uniform":
            log_p = np.zeros(k_max)
        elif name == "poisson":
            log_p = stats.poisson.logpmf(x, values[0])
        elif name == "geometric":
            if values[0] > 1:
                raise ValueError(f"k_prior geometric needs p in (0, 1], got {values[0]}.")
            log_p = x * np.log1p(-values[0]) + np.log(values[0]) if values[0] < 1 else (
                np.where(x == 0, 0.0, -np.inf))
        else:  # beta-negative-binomial, as extraDistr::dbnbinom(x, size, alpha, beta)
            r, a, b = values
            log_p = (special.gammaln(r + x) - special.gammaln(x + 1) - special.gammaln(r)
                     + special.betaln(a + r, b + x) - special.betaln(a, b))
        p = np.exp(log_p - np.max(log_p))
    else:
        p = np.asarray(k_prior, dtype=np.float64)
        if p.shape != (k_max,):
            raise ValueError(f"k_prior given as probabilities has shape {p.shape}; it needs "
                             f"one per K = 1..k_max, ({k_max},).")
        if not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
            raise ValueError("k_prior probabilities must be finite, non-negative and not all "
                             "zero.")
    return p / p.sum()


def _matrix(name, value, d, default):
    value = default if value is None else value
    a = np.asarray(value, dtype=np.float64)
    if a.shape in ((), (d,)):
        a = np.diag(np.broadcast_to(a, (d,)))
    if a.shape != (d, d):
        raise ValueError(f"TelescopePriors.{name} has shape {np.shape(value)}; it must be a "
                         f"number, ({d},) or ({d}, {d}).")
    if not np.all(np.isfinite(a)) or not np.allclose(a, a.T):
        raise ValueError(f"TelescopePriors.{name} must be a finite symmetric matrix.")
    if np.linalg.eigvalsh(a).min() <= 0:
        raise ValueError(f"TelescopePriors.{name} must be positive definite.")
    return a


def default_hyperparameters(X):
    """The data-scaled hyperparameters (see the module docstring), as NumPy values.

    Parameters
    ----------
    X : ndarray, shape (N, d)

    Returns
    -------
    dict
        ``b0`` (d,), ``B0`` (d, d), ``c0``, ``g0`` (float), ``G0`` (d, d).
    """
    X = np.asarray(X, np.float64)
    d = X.shape[1]
    R = np.ptp(X, axis=0)
    R = np.where(R > 0, R, 1.0)
    if d == 1:  # Richardson & Green (1997)
        return {"b0": (X.max(0) + X.min(0)) / 2, "B0": np.diag(R ** 2), "c0": 2.0, "g0": 0.2,
                "G0": np.diag(10.0 / R ** 2)}
    c0, g0 = 2.5 + (d - 1) / 2, 0.5 + (d - 1) / 2  # Malsiner-Walli et al. (2016)
    return {"b0": np.median(X, axis=0), "B0": np.diag(R ** 2), "c0": c0, "g0": g0,
            "G0": 100 * g0 / c0 * np.diag(1.0 / R ** 2)}


def resolve_priors(X, k_max, priors=None):
    """Check ``priors`` and fill its data-scaled defaults.

    Parameters
    ----------
    X : ndarray, shape (N, d)
        Concrete data.
    k_max : int
    priors : TelescopePriors, optional

    Returns
    -------
    ResolvedPriors
        In X's dtype.

    Raises
    ------
    TypeError
        When ``priors`` is not a :class:`TelescopePriors`.
    ValueError
        For any field out of range (the message names it).
    """
    priors = TelescopePriors() if priors is None else priors
    if not isinstance(priors, TelescopePriors):
        raise TypeError(f"priors must be a bayesgmm.bayes.telescope.TelescopePriors, got "
                        f"{type(priors).__name__}.")
    X = np.asarray(X)
    d = X.shape[1]
    defaults = default_hyperparameters(X)
    check_choice("weights", priors.weights, WEIGHT_PRIORS)
    concentration = check_real("concentration", priors.concentration, low_open=True)
    proposal_sd = check_real("proposal_sd", priors.proposal_sd, low_open=True)
    kind, hyper = _FIXED, (1.0, 1.0)
    if priors.concentration_prior is not None:
        spec = tuple(priors.concentration_prior)
        if len(spec) == 3 and isinstance(spec[0], str) and spec[0].upper() == "F":
            kind, hyper = _F, spec[1:]
        elif len(spec) == 2 and not isinstance(spec[0], str):
            kind, hyper = _GAMMA, spec
        else:
            raise ValueError(f"concentration_prior must be (shape, rate) of a Gamma "
                             f"distribution or ('F', d1, d2), got {priors.concentration_prior!r}.")
        hyper = tuple(check_real("concentration_prior parameter", v, low_open=True)
                      for v in hyper)
    b0 = np.asarray(defaults["b0"] if priors.b0 is None else priors.b0, np.float64)
    if b0.shape not in ((), (d,)) or not np.all(np.isfinite(b0)):
        raise ValueError(f"TelescopePriors.b0 must be finite, a number or of shape ({d},); "
                         f"got shape {b0.shape}.")
    b0 = np.broadcast_to(b0, (d,))
    B0 = _matrix("B0", priors.B0, d, defaults["B0"])
    G0 = _matrix("G0", priors.G0, d, defaults["G0"])
    # The Wishart priors need 2 c0 > d - 1 (and 2 g0 > d - 1) degrees of freedom.
    c0 = check_real("c0", defaults["c0"] if priors.c0 is None else priors.c0,
                    low=(d - 1) / 2, low_open=True)
    g0 = check_real("g0", defaults["g0"] if priors.g0 is None else priors.g0,
                    low=(d - 1) / 2, low_open=True)
    log_p = np.log(k_prior_probabilities(priors.k_prior, k_max))
    dtype = X.dtype
    as_array = functools.partial(jnp.asarray, dtype=dtype)
    return ResolvedPriors(
        log_prior_k=as_array(log_p), dynamic=jnp.asarray(priors.weights == "dynamic"),
        concentration=as_array(concentration), hyper_kind=jnp.asarray(kind, jnp.int32),
        hyper=as_array(hyper), proposal_sd=as_array(proposal_sd), b0=as_array(b0),
        B0_inv=as_array(np.linalg.inv(B0)), B0_chol=as_array(np.linalg.cholesky(B0)),
        c0=as_array(c0), g0=as_array(g0), G0=as_array(G0))


# ----------------------------------------------------------------------- exact conditionals

def log_partition_probability(n_components, counts, e0):
    """``log p(partition | K, e0)`` of a partition into K+ groups of sizes ``counts``.

    ``K! / (K - K+)! * Gamma(K e0) / Gamma(N + K e0) * prod_k Gamma(N_k + e0) / Gamma(e0)``:
    the probability, under weights ~ Dirichlet_K(e0) integrated out, that the allocations
    induce this partition (any K+ of the K labels, in any order). ``-inf`` where K < K+.

    Parameters
    ----------
    n_components : int array, shape batch
        K.
    counts : array, shape (k_max,)
        Group sizes; zeros are empty components (ignored).
    e0 : array, shape batch
        Dirichlet concentration (for a dynamic prior, alpha / K).

    Returns
    -------
    array, shape batch
    """
    counts = jnp.asarray(counts)
    e0 = jnp.asarray(e0, counts.dtype)
    k = jnp.asarray(n_components, counts.dtype)
    occupied = counts > 0
    n_occupied = jnp.sum(occupied).astype(counts.dtype)
    n_obs = jnp.sum(counts)
    ok = k >= n_occupied
    groups = jnp.sum(jnp.where(occupied, gammaln(counts + e0[..., None])
                               - gammaln(e0[..., None]), 0.0), axis=-1)
    value = (gammaln(k + 1) - gammaln(jnp.where(ok, k - n_occupied + 1, 1.0))
             + gammaln(k * e0) - gammaln(n_obs + k * e0) + groups)
    return jnp.where(ok, value, -jnp.inf)


def _concentration_log_prior(value, kind, hyper):
    """log density of e0 (or alpha) under its hyperprior; 0 when fixed."""
    a, b = hyper[0], hyper[1]
    gamma = a * jnp.log(b) - gammaln(a) + (a - 1) * jnp.log(value) - b * value
    f = (0.5 * a * jnp.log(a / b) + (0.5 * a - 1) * jnp.log(value)
         - 0.5 * (a + b) * jnp.log1p(a * value / b)
         - (gammaln(0.5 * a) + gammaln(0.5 * b) - gammaln(0.5 * (a + b))))
    return jnp.where(kind == _GAMMA, gamma, jnp.where(kind == _F, f, 0.0))


def wishart_precision_cholesky(key, shape, scale):
    """Draw ``P ~ W(shape, scale)`` in Frühwirth-Schnatter's parameterisation and return an
    upper-triangular ``U`` with ``U U^T = P`` (a precision Cholesky factor as
    :mod:`bayesgmm.covariance` stores them).

    ``W(c, C)`` has density ``∝ |P|^(c - (d+1)/2) exp(-tr(C P))``: a standard Wishart with
    ``2 c`` degrees of freedom and scale ``(2 C)^-1``, mean ``c C^-1``. Drawn by Bartlett's
    decomposition in its upper-triangular form, ``P = V B B^T V^T`` with ``V`` the upper factor
    of ``C^-1`` and ``B`` upper triangular, ``B_ii^2 ~ Gamma(c - (d - 1 - i) / 2, 1)`` and
    ``B_ij ~ N(0, 1/2)`` above the diagonal, so that ``V B`` is upper triangular.

    Parameters
    ----------
    key : jax.random key
    shape : array, shape batch
        c > (d - 1) / 2.
    scale : array, shape batch + (d, d)
        C, positive definite.

    Returns
    -------
    array, shape batch + (d, d)
    """
    d = scale.shape[-1]
    key_diag, key_off = jax.random.split(key)
    log_gamma = jax.random.loggamma(key_diag, _bartlett_shapes(shape, d), dtype=scale.dtype)
    normal = jax.random.normal(key_off, scale.shape, scale.dtype)
    return _wishart_from_variates(log_gamma, normal, scale)


def _bartlett_shapes(shape, d):
    """Gamma shapes of Bartlett's squared diagonal, ``c - (d - 1 - i) / 2``: batch + (d,)."""
    return shape[..., None] - (d - 1 - jnp.arange(d, dtype=shape.dtype)) / 2


def _wishart_from_variates(log_gamma, normal, scale):
    """:func:`wishart_precision_cholesky` from its variates: ``log_gamma`` batch + (d,) (log
    Gamma draws of the shapes :func:`_bartlett_shapes`), ``normal`` batch + (d, d) standard
    normals (the strict upper triangle is used). The sweep draws all its Gamma variates in one
    call: every ``jax.random.gamma`` is a rejection loop that costs seconds of compilation."""
    d = scale.shape[-1]
    eye = jnp.eye(d, dtype=scale.dtype)
    bartlett = jnp.triu(normal, 1) * math.sqrt(0.5) + jnp.exp(0.5 * log_gamma)[..., None] * eye
    return linalg.matmul(_inverse_cholesky(scale), bartlett)


def _inverse_cholesky(a):
    """Upper-triangular ``U`` with ``U U^T = a^-1`` (batch + (d, d)). For d = 1 elementwise:
    batched 1 x 1 LAPACK calls made a univariate sweep several times slower."""
    if a.shape[-1] == 1:
        return 1.0 / jnp.sqrt(a)
    return FAMILIES["full"].precisions_cholesky(a)


# ----------------------------------------------------------------------------- the sampler

class TelescopeState(NamedTuple):
    """One state of the chain, padded to k_max components.

    Attributes
    ----------
    weights : array, shape (k_max,)
        Zero for inactive components (k >= K).
    means : array, shape (k_max, d)
    precisions_cholesky : array, shape (k_max, d, d)
        Upper-triangular factors of the component precisions (``full`` covariance).
    n_components : int array, shape ()
        K.
    C0 : array, shape (d, d)
        The hyperparameter of the precisions' prior.
    e0 : array, shape ()
        The Dirichlet concentration in force (alpha / K when dynamic).
    alpha : array, shape ()
        e0 K (static) or the sampled / fixed alpha (dynamic).
    """

    weights: jax.Array
    means: jax.Array
    precisions_cholesky: jax.Array
    n_components: jax.Array
    C0: jax.Array
    e0: jax.Array
    alpha: jax.Array


class SweepInfo(NamedTuple):
    """What one sweep reports besides the state: the partition it sampled.

    Attributes
    ----------
    labels : int array, shape (N,)
        Allocations, relabelled so that occupied components come first.
    counts : int array, shape (k_max,)
        Group sizes N_k in that order (zeros after the K+ occupied components).
    n_occupied : int array, shape ()
        K+.
    accepted : bool array, shape ()
        Whether the Metropolis step of e0 / alpha moved (False when fixed).
    """

    labels: jax.Array
    counts: jax.Array
    n_occupied: jax.Array
    accepted: jax.Array


def _draw_means(key, precision, counts, sums, priors):
    """``mu_k ~ N(b_k, B_k)``, ``B_k^-1 = B0^-1 + N_k P_k``, ``b_k = B_k (B0^-1 b0 + P_k sum_k)``
    for every component (N_k = 0: the prior)."""
    inv_cov = priors.B0_inv + counts[:, None, None] * precision
    rhs = linalg.matmul(priors.B0_inv, priors.b0) + linalg.einsum("kde,ke->kd", precision, sums)
    noise = jax.random.normal(key, sums.shape, sums.dtype)
    if sums.shape[-1] == 1:  # elementwise (see _inverse_cholesky)
        return rhs / inv_cov[..., 0] + noise / jnp.sqrt(inv_cov[..., 0])
    chol = jnp.linalg.cholesky(inv_cov)
    mean = cho_solve((chol, True), rhs[..., None])[..., 0]
    # Covariance (L L^T)^-1 = L^-T L^-1: L^-T eps has it.
    return mean + solve_triangular(jnp.swapaxes(chol, -1, -2), noise[..., None],
                                   lower=False)[..., 0]


def gibbs_sweep(key, state, X, priors):
    """One sweep of the telescoping sampler (see the module docstring for its blocks).

    Parameters
    ----------
    key : jax.random key
    state : TelescopeState
    X : array, shape (N, d)
    priors : ResolvedPriors

    Returns
    -------
    (TelescopeState, SweepInfo)
    """
    k_max, d = state.means.shape
    n_obs = X.shape[0]
    dtype = X.dtype
    keys = jax.random.split(key, 8)
    family = FAMILIES["full"]

    # 1. Allocations from their conditional: the shared density (inactive weights are 0).
    params = GMMParams(state.weights, state.means, state.precisions_cholesky)
    _, log_resp = density.log_prob_and_responsibilities(X, params, "full")
    labels = jax.random.categorical(keys[0], log_resp, axis=-1)
    counts = jnp.zeros(k_max, jnp.int32).at[labels].add(1)
    n_occupied = jnp.sum(counts > 0)
    # Occupied components first (in their order); the empty ones are dropped below.
    order = jnp.argsort(counts == 0, stable=True)
    labels = jnp.argsort(order).astype(jnp.int32)[labels]
    counts = counts[order]
    means, prec_chol = state.means[order], state.precisions_cholesky[order]
    occupied = jnp.arange(k_max) < n_occupied
    n_k = counts.astype(dtype)

    # 2. K given the partition: p(K) p(partition | K, e0), the weights and the empty
    # components integrated out. K and e0 depend on the partition only, so they are drawn
    # before the component parameters (which do not depend on them): then every Gamma
    # variate of the sweep has a known shape and one call draws them all.
    ks = jnp.arange(1, k_max + 1)
    value = jnp.where(priors.dynamic, state.alpha, state.e0)  # the sampled concentration
    e0_of_k = jnp.where(priors.dynamic, value / ks, value)
    log_w = priors.log_prior_k + log_partition_probability(ks, n_k, e0_of_k)
    n_components = jax.random.categorical(keys[1], log_w) + 1

    # 3. e0 (static) or alpha (dynamic): random walk on the log scale, when it has a prior.
    def log_target(v):
        e0 = jnp.where(priors.dynamic, v / n_components, v)
        return (log_partition_probability(n_components, n_k, e0)
                + _concentration_log_prior(v, priors.hyper_kind, priors.hyper) + jnp.log(v))

    proposal = value * jnp.exp(priors.proposal_sd * jax.random.normal(keys[2], (), dtype))
    log_ratio = log_target(proposal) - log_target(value)
    accepted = (priors.hyper_kind != _FIXED) & (
        jnp.log(jax.random.uniform(keys[3], (), dtype)) < log_ratio)
    value = jnp.where(accepted, proposal, value)
    e0 = jnp.where(priors.dynamic, value / n_components, value)
    alpha = jnp.where(priors.dynamic, value, value * n_components)

    # Every Gamma variate of the sweep in one draw: Bartlett diagonals of the occupied
    # precisions (k_max, d), of C0 (d,) and of the prior draws (k_max, d); the weights (k_max,).
    c_k = priors.c0 + n_k / 2
    g_k = priors.g0 + n_occupied.astype(dtype) * priors.c0
    shapes = [_bartlett_shapes(c_k, d), _bartlett_shapes(g_k[None], d),
              _bartlett_shapes(jnp.broadcast_to(priors.c0, (k_max,)), d), (e0 + n_k)[:, None]]
    log_gamma = jax.random.loggamma(keys[4], jnp.concatenate([a.ravel() for a in shapes]),
                                    dtype=dtype)
    sizes = np.cumsum([a.size for a in shapes])[:-1].tolist()
    lg_post, lg_c0, lg_prior, lg_w = (a.reshape(shape.shape) for a, shape in
                                      zip(jnp.split(log_gamma, sizes), shapes))
    normal = jax.random.normal(keys[5], (2 * k_max + 1, d, d), dtype)

    # 4. Precisions given the means, then means given the precisions (occupied components).
    # One pass of N d^2 work by label: stats.from_responsibilities' per-component products
    # would cost k_max times that, for k_max components of which most are empty.
    diff = X - means[labels]
    scatter = jax.ops.segment_sum(diff[:, :, None] * diff[:, None, :], labels, k_max)
    prec_chol = _wishart_from_variates(lg_post, normal[:k_max], state.C0 + 0.5 * scatter)
    precision = family.precisions(prec_chol)
    sums = jax.ops.segment_sum(X, labels, k_max)
    means = _draw_means(keys[6], precision, n_k, sums, priors)

    # 5. C0 given the occupied components' precisions (the empty ones integrated out).
    total = jnp.sum(jnp.where(occupied[:, None, None], precision, 0.0), axis=0)
    C0_chol = _wishart_from_variates(lg_c0[0], normal[k_max], priors.G0 + total)
    C0 = linalg.matmul(C0_chol, C0_chol.T)

    # 6. Empty (and inactive) components from the prior given C0; weights given the partition.
    prior_chol = _wishart_from_variates(lg_prior, normal[k_max + 1:],
                                        jnp.broadcast_to(C0, (k_max, d, d)))
    prior_means = (priors.b0
                   + linalg.matmul(jax.random.normal(keys[7], (k_max, d), dtype), priors.B0_chol.T))
    prec_chol = jnp.where(occupied[:, None, None], prec_chol, prior_chol)
    means = jnp.where(occupied[:, None], means, prior_means)
    active = jnp.arange(k_max) < n_components
    log_g = jnp.where(active, lg_w[:, 0], -jnp.inf)
    weights = jnp.exp(log_g - jax.nn.logsumexp(log_g))
    new = TelescopeState(weights, means, prec_chol, n_components.astype(jnp.int32), C0, e0,
                         alpha)
    return new, SweepInfo(labels, counts, n_occupied.astype(jnp.int32), accepted)


def init_state(key, X, priors, *, k_max, k_init):
    """A start as the telescope package makes one: ``k_init`` k-means clusters (the EM
    route's :func:`bayesgmm.init.kmeans`), equal weights, covariances ``C0 / 2`` with C0 at
    its prior mean ``g0 G0^-1``, K = k_init; components beyond k_init inactive.

    Parameters
    ----------
    key : jax.random key
    X : array, shape (N, d)
    priors : ResolvedPriors
    k_max, k_init : int, static

    Returns
    -------
    TelescopeState
    """
    n_obs, d = X.shape
    dtype = X.dtype
    centres = init.kmeans(key, X, k_init, chunk_size=default_chunk_size(n_obs, k_init, d, dtype))
    C0 = priors.g0 * jnp.linalg.inv(priors.G0)
    # Components beyond k_init are inactive (weight 0): any finite values serve, and the
    # first sweep draws those it activates from their prior.
    start_chol = _inverse_cholesky(0.5 * C0)
    first = jnp.arange(k_max) < k_init
    means = jnp.where(first[:, None], jnp.zeros((k_max, d), dtype).at[:k_init].set(centres),
                      priors.b0)
    prec_chol = jnp.broadcast_to(start_chol, (k_max, d, d))
    weights = jnp.where(first, 1.0 / k_init, 0.0).astype(dtype)
    value = priors.concentration
    e0 = jnp.where(priors.dynamic, value / k_init, value)
    alpha = jnp.where(priors.dynamic, value, value * k_init)
    return TelescopeState(weights, means, prec_chol, jnp.asarray(k_init, jnp.int32), C0, e0,
                          alpha)


class TelescopeDraws(NamedTuple):
    """Draws of the telescoping sampler, every leaf with leading (chain, draw) axes.

    Attributes
    ----------
    n_components : int array, shape (chain, draw)
        K.
    n_occupied : int array, shape (chain, draw)
        K+.
    counts : int array, shape (chain, draw, k_max)
        Group sizes, occupied components first.
    params : GMMParams
        weights (chain, draw, k_max), means (chain, draw, k_max, d), precisions_cholesky
        (chain, draw, k_max, d, d), covariance type ``full``; the first K+ components are the
        occupied ones (their sizes in ``counts``), the next K - K+ empty, the rest inactive
        (weight zero).
    e0, alpha : array, shape (chain, draw)
    accepted : bool array, shape (chain, draw)
        The Metropolis step of e0 / alpha moved.
    log_likelihood : array, shape (chain, draw)
        ``sum_n log p(x_n | params)`` (label-invariant; R-hat).
    """

    n_components: jax.Array
    n_occupied: jax.Array
    counts: jax.Array
    params: GMMParams
    e0: jax.Array
    alpha: jax.Array
    accepted: jax.Array
    log_likelihood: jax.Array


@functools.partial(jax.jit, static_argnames=("k_max", "k_init", "num_samples", "progress"))
def _run_chains(keys, X, priors, bar_id, num_warmup, thin, *, k_max, k_init, num_samples,
                progress):
    # num_warmup and thin are arguments, not static: other run lengths reuse the program.
    total = num_warmup + num_samples * thin
    every = jnp.maximum(1, total // sampler.PROGRESS_UPDATES)

    def record(state, info):
        # The log-likelihood is filled in after the loop, for the kept draws only: in the
        # loop it would be evaluated at every sweep (warmup and thinned ones too).
        params = GMMParams(state.weights, state.means, state.precisions_cholesky)
        return TelescopeDraws(state.n_components, info.n_occupied, info.counts, params,
                              state.e0, state.alpha, info.accepted, jnp.zeros((), X.dtype))

    def log_likelihood(params):
        return jnp.sum(density.log_prob(X, params, "full"))

    def one_chain(key, chain):
        key_init, key_run = jax.random.split(key)
        state = init_state(key_init, X, priors, k_max=k_max, k_init=k_init)
        # The info's shapes written out: tracing the sweep once more (eval_shape) cost a
        # good part of a second per run.
        info_shape = SweepInfo(jax.ShapeDtypeStruct(X.shape[:1], jnp.int32),
                               jax.ShapeDtypeStruct((k_max,), jnp.int32),
                               jax.ShapeDtypeStruct((), jnp.int32),
                               jax.ShapeDtypeStruct((), jnp.bool_))
        shapes = jax.eval_shape(record, state, info_shape)
        draws = jax.tree.map(lambda s: jnp.zeros((num_samples,) + s.shape, s.dtype), shapes)

        def step(i, carry):
            state, draws = carry
            state, info = gibbs_sweep(jax.random.fold_in(key_run, i), state, X, priors)
            # One loop (one copy of the sweep in the program) for warmup and draws: a sweep
            # writes the slot of the draw it belongs to, the last sweep of each slot stays,
            # and warmup sweeps write slot 0, which the first kept draw overwrites.
            slot = jnp.maximum(i - num_warmup, 0) // thin
            draws = jax.tree.map(lambda buf, x: lax.dynamic_update_index_in_dim(buf, x, slot, 0),
                                 draws, record(state, info))
            if progress:
                lax.cond((i + 1) % every == 0, lambda: jax.debug.callback(
                    sampler._report_progress, bar_id, chain, i + 1), lambda: None)
            return state, draws

        draws = lax.fori_loop(0, total, step, (state, draws))[1]
        return draws._replace(log_likelihood=lax.map(log_likelihood, draws.params))

    return jax.vmap(one_chain)(keys, jnp.arange(keys.shape[0]))


def sample_telescope(key, X, *, k_max=30, priors=None, num_warmup=1000, num_samples=2500,
                     num_chains=4, thin=1, k_init=None, progress_bar=False):
    """Sample the joint posterior of K and K+ (and of the mixture) by telescoping Gibbs.

    All chains run as one compiled program (vectorised); a second run with the same shapes
    and settings (another seed, other data of the same size, another prior on K or on the
    weights) does not compile again.

    Parameters
    ----------
    key : jax.random key
    X : array-like, shape (N, d)
        Float32 or float64 (float64 with JAX's x64 mode on).
    k_max : int, default 30
        Largest K; the prior on K is truncated to 1..k_max.
    priors : TelescopePriors, optional
        Default: K uniform on 1..k_max, static e0 = 1, data-scaled component priors.
    num_warmup, num_samples : int
        Sweeps discarded, then draws kept, per chain.
    num_chains : int, default 4
        Each chain starts from its own k-means start.
    thin : int, default 1
        Sweeps per kept draw.
    k_init : int, optional
        Components of the start (default ``min(10, k_max, N)``, as telescope).
    progress_bar : bool
        A progress bar over the sweeps (a separately compiled program).

    Returns
    -------
    TelescopeResult

    Raises
    ------
    ValueError
        For bad arguments, priors (the message names the field) or data (NaN, infinity,
        not 2-D).
    TypeError
        For ``priors`` that are not :class:`TelescopePriors`, or sparse or complex data.
    FloatingPointError
        When a draw is not finite (float32 on badly scaled data).
    """
    X = check_data(X, caller="sample_telescope")
    n_obs = X.shape[0]
    k_max = check_int("k_max", k_max)
    num_warmup = check_int("num_warmup", num_warmup, 0)
    num_samples = check_int("num_samples", num_samples)
    num_chains = check_int("num_chains", num_chains)
    thin = check_int("thin", thin)
    k_init = min(10, k_max, n_obs) if k_init is None else check_int("k_init", k_init)
    if k_init > min(k_max, n_obs):
        raise ValueError(f"k_init = {k_init} must not exceed k_max = {k_max} or the number "
                         f"of rows {n_obs}.")
    resolved = resolve_priors(X, k_max, priors)
    priors = TelescopePriors() if priors is None else priors
    keys = jax.random.split(key, num_chains)
    bar_id = 0
    if progress_bar:
        bar_id = id(object()) % 2 ** 31
        sampler._PROGRESS[bar_id] = sampler._Progress(num_chains, num_warmup
                                                      + num_samples * thin)
    start = time.perf_counter()
    try:
        draws = jax.block_until_ready(_run_chains(
            keys, jnp.asarray(X), resolved, bar_id, num_warmup, thin, k_max=k_max,
            k_init=k_init, num_samples=num_samples, progress=progress_bar))
    finally:
        if progress_bar:
            sampler._PROGRESS.pop(bar_id).close()
    seconds = time.perf_counter() - start
    draws = jax.tree.map(np.asarray, draws)
    if not np.all(np.isfinite(draws.log_likelihood)):
        raise FloatingPointError("The telescoping sampler produced non-finite parameters; "
                                 "scale the data or compute in float64.")
    settings = {"k_max": k_max, "num_warmup": num_warmup, "num_samples": num_samples,
                "num_chains": num_chains, "thin": thin, "k_init": k_init,
                "weights": priors.weights, "concentration": float(priors.concentration),
                "concentration_prior": (None if priors.concentration_prior is None
                                        else list(priors.concentration_prior)),
                "k_prior": k_prior_label(priors.k_prior), "dtype": str(X.dtype),
                "seconds": round(seconds, 3)}
    return TelescopeResult(draws, k_max, n_obs, priors, resolved, settings)


def k_prior_label(k_prior):
    """The prior on K in words, for reports: ``"uniform"``, ``"poisson(4.0,)"``, ..."""
    if isinstance(k_prior, str):
        return k_prior
    if isinstance(k_prior, tuple) and k_prior and isinstance(k_prior[0], str):
        return f"{k_prior[0]}{tuple(float(v) for v in k_prior[1:])}"
    return "user-given probabilities"


# ----------------------------------------------------------------------- priors of K and K+

def kplus_prior_given_k_prior(n_obs, k_max, priors=None, *, num_draws=20000, seed=0):
    """The prior of K+ implied by the prior of K and of the weights, for N observations.

    ``P(K+ = j) = sum_K p(K) P(K+ = j | K, e0)`` with ``P(K+ = j | K, e0) = C(K, j)
    Gamma(K e0) / Gamma(N + K e0) N! sum over compositions of N into j positive parts of
    prod Gamma(n_i + e0) / (Gamma(e0) n_i!)`` (as :func:`bayesgmm.bayes.kplus.kplus_prior`):
    exact when the concentration is fixed and the convolutions are affordable (N <= 3000),
    simulated otherwise (K, e0 or alpha, the weights and multinomial counts drawn from the
    prior, ``num_draws`` times).

    Parameters
    ----------
    n_obs, k_max : int
    priors : TelescopePriors, optional
    num_draws, seed : int
        For the simulation.

    Returns
    -------
    ndarray, shape (k_max,)
        ``P(K+ = 1), ..., P(K+ = k_max)``.
    """
    priors = TelescopePriors() if priors is None else priors
    p_k = k_prior_probabilities(priors.k_prior, k_max)
    dynamic = priors.weights == "dynamic"
    value = priors.concentration
    cost = n_obs ** 2 * min(k_max, n_obs) * (k_max if dynamic else 1)
    if priors.concentration_prior is None and n_obs <= 3000 and cost <= 2e8:
        out = np.zeros(k_max)
        fixed = None if dynamic else kplus.log_compositions(n_obs, value, k_max)
        for k in np.flatnonzero(p_k > 0) + 1:
            e0 = value / k if dynamic else value
            compositions = kplus.log_compositions(n_obs, e0, k) if dynamic else fixed
            out[:k] += p_k[k - 1] * kplus.kplus_prior(n_obs, k, e0, compositions=compositions)
        return out / out.sum()
    rng = np.random.default_rng(seed)
    ks = rng.choice(np.arange(1, k_max + 1), size=num_draws, p=p_k)
    spec = priors.concentration_prior
    if spec is None:
        values = np.full(num_draws, float(value))
    elif isinstance(spec[0], str):
        values = rng.f(spec[1], spec[2], num_draws)
    else:
        values = rng.gamma(spec[0], 1.0 / spec[1], num_draws)
    e0 = values / ks if dynamic else values
    # Dirichlet in log space: G_a = G_(a+1) U^(1/a) keeps tiny concentrations from underflow.
    a = np.broadcast_to(e0[:, None], (num_draws, k_max))
    log_g = np.log(rng.gamma(a + 1.0)) + np.log(rng.uniform(size=a.shape)) / a
    log_g = np.where(np.arange(k_max) < ks[:, None], log_g, -np.inf)
    w = np.exp(log_g - special.logsumexp(log_g, axis=1, keepdims=True))
    counts = rng.multinomial(n_obs, w / w.sum(axis=1, keepdims=True))
    occupied = np.sum(counts > 0, axis=1)
    return np.bincount(occupied, minlength=k_max + 1)[1:] / num_draws


# --------------------------------------------------------------------------------- results

class Clusters(NamedTuple):
    """The clusters of the draws whose K+ equals its posterior mode, relabelled.

    Attributes
    ----------
    n_clusters : int
        The mode of K+.
    num_draws : int
        Draws with that K+.
    sizes : ndarray, shape (n_clusters,)
        Posterior mean number of observations per cluster.
    weights : ndarray, shape (n_clusters,)
        Posterior mean weights, renormalised over the occupied components.
    means : ndarray, shape (n_clusters, d)
    covariances : ndarray, shape (n_clusters, d, d)
        Posterior means.
    labels : ndarray of int, shape (N,)
        Each observation's cluster: the largest responsibility under the clusters' posterior
        mean weights, means and covariances.
    """

    n_clusters: int
    num_draws: int
    sizes: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    labels: np.ndarray


class TelescopeResult(NamedTuple):
    """Outcome of :func:`sample_telescope`.

    Attributes
    ----------
    draws : TelescopeDraws
        NumPy arrays.
    k_max, n_obs : int
    priors : TelescopePriors
    resolved : ResolvedPriors
    settings : dict
    """

    draws: TelescopeDraws
    k_max: int
    n_obs: int
    priors: TelescopePriors
    resolved: ResolvedPriors
    settings: dict

    @property
    def k_posterior(self):
        """``P(K = k | data)``, k = 1..k_max, shape (k_max,)."""
        counts = np.bincount(self.draws.n_components.ravel(), minlength=self.k_max + 1)
        return counts[1:] / counts.sum()

    @property
    def kplus_posterior(self):
        """``P(K+ = k | data)``, k = 1..k_max, shape (k_max,)."""
        counts = np.bincount(self.draws.n_occupied.ravel(), minlength=self.k_max + 1)
        return counts[1:] / counts.sum()

    @property
    def k_prior(self):
        """``P(K = k)``, k = 1..k_max."""
        return np.exp(np.asarray(self.resolved.log_prior_k, np.float64))

    @property
    def kplus_prior(self):
        """The prior of K+ (:func:`kplus_prior_given_k_prior`)."""
        return kplus_prior_given_k_prior(self.n_obs, self.k_max, self.priors)

    @property
    def diagnostics(self):
        """R-hat and ESS of K, K+ and the log-likelihood across chains (None where
        undefined), and the Metropolis acceptance rate of e0 / alpha."""
        d = self.draws
        return {"rhat_k": rhat(d.n_components), "rhat_kplus": rhat(d.n_occupied),
                "rhat_log_likelihood": rhat(d.log_likelihood),
                "ess_k": ess(d.n_components), "ess_kplus": ess(d.n_occupied),
                "ess_log_likelihood": ess(d.log_likelihood),
                "acceptance_rate": (float(np.mean(d.accepted))
                                    if self.priors.concentration_prior is not None else None)}

    def summary(self):
        """Mode and mean of K, mode and quartiles of K+ (dict)."""
        k = self.draws.n_components.ravel()
        occupied = self.draws.n_occupied.ravel()
        return {"k_mode": int(np.argmax(self.k_posterior)) + 1, "k_mean": float(k.mean()),
                "k_quartiles": np.quantile(k, [0.25, 0.5, 0.75]).tolist(),
                "kplus_mode": int(np.argmax(self.kplus_posterior)) + 1,
                "kplus_quartiles": np.quantile(occupied, [0.25, 0.5, 0.75]).tolist()}

    def clusters(self, X, n_clusters=None):
        """Identify the mixture from the draws with K+ = ``n_clusters`` (default: its mode).

        The occupied components of those draws are matched to those of a pivot draw (the one
        with the highest log-likelihood) by Hungarian matching of Mahalanobis distances
        between means (the telescope authors cluster the same draws in the point-process
        representation; both resolve label switching among the draws of one K+).

        Parameters
        ----------
        X : array, shape (N, d)
            The data the sampler ran on.
        n_clusters : int, optional

        Returns
        -------
        Clusters
        """
        d = self.draws
        j = int(np.argmax(self.kplus_posterior)) + 1 if n_clusters is None else n_clusters
        keep = d.n_occupied.ravel() == j
        if not keep.any():
            raise ValueError(f"No draw has K+ = {j}.")
        def flat(a):  # the kept draws' occupied components (the first j)
            return a.reshape((-1,) + a.shape[2:])[keep][:, :j]

        means, counts = flat(d.params.means), flat(d.counts).astype(np.float64)
        weights = flat(d.params.weights)
        prec_chol = flat(d.params.precisions_cholesky)
        precision = prec_chol @ np.swapaxes(prec_chol, -1, -2)
        pivot = int(np.argmax(d.log_likelihood.ravel()[keep]))
        perm = hungarian(mahalanobis_costs(means, means[pivot], precision[pivot]))

        def take(a):
            return np.take_along_axis(a, perm.reshape(perm.shape + (1,) * (a.ndim - 2)), axis=1)

        means, counts, weights = take(means), take(counts), take(weights)
        covariances = np.linalg.inv(take(precision))
        weights = weights / weights.sum(axis=1, keepdims=True)
        mean_params = GMMParams(jnp.asarray(weights.mean(0)), jnp.asarray(means.mean(0)),
                                FAMILIES["full"].precisions_cholesky(
                                    jnp.asarray(covariances.mean(0))))
        X = jnp.asarray(X, d.params.means.dtype)
        labels = np.asarray(jnp.argmax(density.responsibilities(X, mean_params, "full"), 1))
        return Clusters(j, int(keep.sum()), counts.mean(0), weights.mean(0), means.mean(0),
                        covariances.mean(0), labels)


__all__ = ["Clusters", "K_PRIORS", "ResolvedPriors", "SweepInfo", "TelescopeDraws",
           "TelescopePriors", "TelescopeResult", "TelescopeState", "WEIGHT_PRIORS",
           "default_hyperparameters", "gibbs_sweep", "init_state", "k_prior_probabilities",
           "k_prior_label", "kplus_prior_given_k_prior", "log_partition_probability",
           "resolve_priors",
           "sample_telescope", "wishart_precision_cholesky"]
