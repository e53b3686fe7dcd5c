"""mclust's initialisation: model-based hierarchical agglomeration (hcVVV) and quantile classes.

mclust starts EM for every K from one hierarchical clustering of the data (Fraley 1998;
``mclust::hc``): every observation (duplicated rows together) starts as its own cluster, and
the two clusters whose merge costs the least classification likelihood under the VVV model are
merged, until one cluster is left; cutting the tree gives one partition per K. mclust's
default (``mclust.options("hcUse") == "SVD"``) runs it on the scaled, whitened singular-value
coordinates of the data, and on a random subset of 2000 rows for larger data sets. In one
dimension mclust starts from quantile classes instead (``qclass``).

The cost of a cluster of ``n`` rows with scatter ``W`` is mclust's regularised VVV term
``n log(|W / n| + beta (tr W + alpha) / n)`` (``vvvtij`` in mclust.f; the determinant is zero
for ``n <= d``), with ``beta = 1`` and ``alpha`` the trace of the data's scatter over
``N d`` (``hcVVV(alpha = 1, beta = 1)``); a merge costs the new cluster's term minus its two
parts'.

Host code (NumPy): the agglomeration is sequential, one merge at a time, and runs once before
the compiled fits. Ties between equal merge costs may be broken differently from mclust's
Fortran, so partitions can differ from mclust's in places.
"""

import numpy as np

#: Rows above which the agglomeration runs on a random subset (``mclust.options("subset")``).
MAX_ROWS = 2000


def svd_coordinates(X):
    """mclust's ``hcUse = "SVD"`` transform: standardise the columns, rotate to the right
    singular vectors and divide by the square roots of the singular values.

    Parameters
    ----------
    X : array, shape (N, d)

    Returns
    -------
    ndarray, shape (N, min(N, d))
    """
    X = np.asarray(X, np.float64)
    scale = X.std(axis=0, ddof=1)
    Z = (X - X.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    _, singular, vt = np.linalg.svd(Z, full_matrices=False)
    return Z @ vt.T / np.sqrt(np.where(singular > 0, singular, 1.0))


def _terms(counts, scatter, alpha, beta):
    """mclust's VVV cluster term for (m,) counts and (m, d, d) scatters."""
    d = scatter.shape[-1]
    trace = np.einsum("mii->m", scatter)
    det = np.where(counts > d, np.linalg.det(scatter / counts[:, None, None]), 0.0)
    return counts * np.log(np.maximum(det, 0.0) + beta * (trace + alpha) / counts)


def _merged(counts, means, scatter, i, others):
    """Counts, means and scatters of cluster ``i`` merged with each of ``others``."""
    n_i, n_o = counts[i], counts[others]
    n = n_i + n_o
    delta = means[others] - means[i]
    w = (n_i * n_o / n)[:, None, None] * np.einsum("md,me->mde", delta, delta)
    merged_means = (n_i * means[i] + n_o[:, None] * means[others]) / n[:, None]
    return n, merged_means, scatter[i] + scatter[others] + w


def agglomerate(Z, n_clusters, *, alpha=1.0, beta=1.0):
    """Model-based (VVV) hierarchical agglomeration of the rows of ``Z``.

    Parameters
    ----------
    Z : array, shape (N, d)
    n_clusters : sequence of int
        The numbers of clusters at which to cut the tree, each in 1..N.
    alpha, beta : float
        mclust's regularisation (``hcVVV``); ``alpha`` is scaled by the trace of the data's
        scatter over ``N d`` as mclust does.

    Returns
    -------
    ndarray of int, shape (len(n_clusters), N)
        Row ``g``: the class (0 .. n_clusters[g] - 1) of every row.
    """
    Z = np.asarray(Z, np.float64)
    n_rows, d = Z.shape
    alpha = max(alpha * np.sum((Z - Z.mean(0)) ** 2) / (n_rows * d), np.finfo(float).eps)
    # Duplicated rows start in one cluster (mclust's dupPartition).
    uniques, group = np.unique(Z, axis=0, return_inverse=True)
    group = group.reshape(-1)
    m = len(uniques)
    counts = np.bincount(group, minlength=m).astype(np.float64)
    means = uniques.copy()
    scatter = np.zeros((m, d, d))
    terms = _terms(counts, scatter, alpha, beta)
    active = np.ones(m, bool)
    cost = np.full((m, m), np.inf)
    for i in range(m - 1):
        others = np.arange(i + 1, m)
        n, _, w = _merged(counts, means, scatter, i, others)
        cost[i, others] = cost[others, i] = _terms(n, w, alpha, beta) - terms[i] - terms[others]
    best = np.argmin(cost, axis=1)
    best_cost = cost[np.arange(m), best]
    parent = np.arange(m)  # cluster of each initial group
    wanted = {int(k) for k in n_clusters}
    cuts = {}
    n_active = m
    if n_active in wanted:
        cuts[n_active] = parent.copy()
    while n_active > 1:
        i = int(np.argmin(np.where(active, best_cost, np.inf)))
        j = int(best[i])
        i, j = min(i, j), max(i, j)
        # Merge j into i.
        n, mu, w = _merged(counts, means, scatter, i, np.array([j]))
        counts[i], means[i], scatter[i] = n[0], mu[0], w[0]
        terms[i] = _terms(counts[i:i + 1], scatter[i:i + 1], alpha, beta)[0]
        active[j] = False
        cost[j, :] = cost[:, j] = np.inf
        parent[parent == j] = i
        n_active -= 1
        others = np.flatnonzero(active)
        others = others[others != i]
        if others.size:
            n, _, w = _merged(counts, means, scatter, i, others)
            cost[i, others] = cost[others, i] = (_terms(n, w, alpha, beta) - terms[i]
                                                 - terms[others])
        cost[i, i] = np.inf
        # Rows whose best partner was i or j, and row i itself, look again; the others only
        # compare with their new cost against i.
        stale = np.flatnonzero(active & ((best == i) | (best == j)))
        stale = np.union1d(stale, [i])
        best[stale] = np.argmin(cost[stale], axis=1)
        best_cost[stale] = cost[stale, best[stale]]
        better = active & (cost[:, i] < best_cost)
        best[better], best_cost[better] = i, cost[better, i]
        best_cost[~active] = np.inf
        if n_active in wanted:
            cuts[n_active] = parent.copy()
    out = np.empty((len(n_clusters), n_rows), np.int64)
    for g, k in enumerate(n_clusters):
        clusters = cuts[int(k)][group]
        # Classes numbered by first appearance, as mclust's partconv.
        _, first, inverse = np.unique(clusters, return_index=True, return_inverse=True)
        out[g] = np.argsort(np.argsort(first))[inverse.reshape(-1)]
    return out


def quantile_classes(x, n_classes):
    """mclust's ``qclass``: ``n_classes`` classes of one-dimensional data cut at quantiles.

    Parameters
    ----------
    x : array, shape (N,)
    n_classes : int

    Returns
    -------
    ndarray of int, shape (N,), values 0 .. n_classes - 1
    """
    x = np.asarray(x, np.float64).reshape(-1)
    eps = x.std(ddof=1) * np.sqrt(np.finfo(float).eps) if x.size > 1 else 0.0
    n = n_classes
    q = np.array([np.nan])
    while len(q) < n_classes + 1:
        n += 1
        q = np.unique(np.quantile(x, np.linspace(0, 1, n)))
    if len(q) > n_classes + 1:
        # Drop the cut points closest to their left neighbour (R's order() is stable).
        drop = np.argsort(np.diff(q), kind="stable")[:len(q) - n_classes - 1]
        q = np.delete(q, drop)
    q[0], q[-1] = x.min() - eps, x.max() + eps
    return np.clip(np.searchsorted(q, x, side="right") - 1, 0, n_classes - 1)


def initial_partitions(X, n_components, *, seed=0, max_rows=MAX_ROWS):
    """mclust's starting partition for every K: hcVVV on the SVD coordinates (quantile classes
    in one dimension), on a random subset of ``max_rows`` rows for larger data.

    Parameters
    ----------
    X : array, shape (N, d)
    n_components : sequence of int
    seed : int
        Chooses the subset (NumPy's generator); unused when ``N <= max_rows``.
    max_rows : int

    Returns
    -------
    ndarray of int, shape (len(n_components), N)
        The class of every row for each K; -1 for rows outside the subset (they take no part
        in the first M-step, as in mclust).
    """
    X = np.asarray(X, np.float64)
    n_rows = X.shape[0]
    rows = np.arange(n_rows)
    if n_rows > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(n_rows, max_rows, replace=False))
    out = np.full((len(n_components), n_rows), -1, np.int64)
    if X.shape[1] == 1:
        for g, k in enumerate(n_components):
            out[g, rows] = quantile_classes(X[rows, 0], int(k))
    else:
        out[:, rows] = agglomerate(svd_coordinates(X[rows]), n_components)
    return out
