"""Figures (matplotlib, the optional ``plot`` extra), imported only when a figure is drawn.

One convention throughout: every ``plot_*`` function draws into ``ax`` when given one and
otherwise into a new figure of its own, and returns the :class:`matplotlib.figure.Figure`.
New figures are bare ``Figure`` objects (:func:`new_figure`), not pyplot figures: no global
state, no GUI backend chosen or changed, nothing to close, and they show in a notebook as
any returned figure does. :func:`save_figure` writes one to disk.
"""

import pathlib

import jax.numpy as jnp
import numpy as np

from bayesgmm import density
from bayesgmm.covariance import model_label
from bayesgmm.params import GMMParams

_MARKERS = {"full": "o", "tied": "s", "diag": "^", "spherical": "D"}


# ---------------------------------------------------------------------------------- helpers

def new_figure(**kwargs):
    """A new bare matplotlib Figure with constrained layout.

    Parameters
    ----------
    **kwargs
        Passed to :class:`matplotlib.figure.Figure` (e.g. ``figsize``).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ImportError
        When matplotlib is not installed, saying how to install it.
    """
    try:
        from matplotlib.figure import Figure  # noqa: PLC0415 (optional dependency)
    except ImportError:
        raise ImportError("Figures need matplotlib: pip install bayesgmm[plot] (or pip install "
                          "matplotlib).") from None
    return Figure(**{"layout": "constrained", **kwargs})


def save_figure(fig, path, *, dpi=120):
    """Write ``fig`` to ``path`` (format from the suffix), creating its folder.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or path-like
    dpi : int, default 120

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def _figure_and_axes(ax, figsize):
    """``(ax.figure, ax)``, or a new figure of ``figsize`` and its one Axes."""
    if ax is not None:
        return ax.figure, ax
    fig = new_figure(figsize=figsize)
    return fig, fig.add_subplot()


def _data_and_names(X, feature_names):
    """X as a NumPy array and its feature names (``x0``, ``x1``, ... by default)."""
    X = np.asarray(X)
    names = (list(feature_names) if feature_names is not None
             else [f"x{i}" for i in range(X.shape[1])])
    return X, names


def _grid_2d(X, n):
    """An ``n x n`` grid over the first two features, 10% wider than the data: xx, yy (n, n)
    and the points (n * n, 2)."""
    pad = 0.1 * np.ptp(X, axis=0)
    xx, yy = np.meshgrid(np.linspace(X[:, 0].min() - pad[0], X[:, 0].max() + pad[0], n),
                         np.linspace(X[:, 1].min() - pad[1], X[:, 1].max() + pad[1], n))
    return xx, yy, np.column_stack([xx.ravel(), yy.ravel()])


def _grid_1d(X, n):
    """``n`` points 10% beyond the range of one-feature data, shape (n, 1)."""
    pad = 0.1 * np.ptp(X)
    return np.linspace(X.min() - pad, X.max() + pad, n)[:, None]


# ---------------------------------------------------------------------------------- figures

def plot_fit(X, model, *, feature_names=None, ax=None, title=None):
    """Data with a fitted mixture: a histogram and the density for 1-D data, a scatter
    coloured by component with log-density contours for 2-D data, and a scatter of the first
    two features otherwise.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_features)
    model : fitted GaussianMixture
        Anything with ``score_samples``, ``predict_proba`` and ``means_`` (n_components,
        n_features).
    feature_names : sequence of str, optional
    ax : matplotlib Axes, optional
        Draw into these axes instead of a new figure.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _figure_and_axes(ax, (7, 5))
    X, names = _data_and_names(X, feature_names)
    if X.shape[1] == 1:
        grid = _grid_1d(X, 500)
        mixture = np.exp(model.score_samples(grid))
        ax.hist(X[:, 0], bins=min(60, max(10, len(X) // 5)), density=True, color="0.85",
                label="data")
        for k, part in enumerate((model.predict_proba(grid) * mixture[:, None]).T):
            ax.plot(grid[:, 0], part, ls="--", lw=1, label=f"component {k}")
        ax.plot(grid[:, 0], mixture, "k", lw=2, label="mixture density")
        ax.set_xlabel(names[0])
        ax.set_ylabel("density")
    else:
        labels = model.predict_proba(X).argmax(1)
        ax.scatter(X[:, 0], X[:, 1], c=labels, cmap="tab10", s=10, vmin=0, vmax=9)
        if X.shape[1] == 2:
            xx, yy, grid = _grid_2d(X, 150)
            zz = model.score_samples(grid).reshape(xx.shape)
            top = zz.max()
            ax.contour(xx, yy, zz, levels=np.linspace(top - 10, top, 11), cmap="Greys",
                       linewidths=0.8)
        ax.scatter(model.means_[:, 0], model.means_[:, 1], marker="x", color="k", s=80,
                   label="component means")
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
    ax.legend(loc="best", fontsize=8)
    if title:
        ax.set_title(title)
    return fig


def plot_bic(result, path=None, *, criterion=None, ax=None, title=None, ylim=None):
    """Criterion against K, one line per covariance type, the chosen model marked.

    In the style of mclust's ``plot.mclustBIC``, with scikit-learn's sign (lower is better,
    stated on the axis).

    Parameters
    ----------
    result : SweepResult
        From :func:`bayesgmm.bic_sweep` (or ``GaussianMixtureIC.sweep_``).
    path : str or path-like, optional
        Where to write the figure (format from the suffix, e.g. ``.png``; 120 dpi).
    criterion : {"bic", "aic", "icl"}, optional
        Default: the criterion that chose ``result``'s best model.
    ax : matplotlib Axes, optional
        Draw into these axes instead of a new figure.
    title : str, optional
    ylim : (float, float), optional
        y-axis range, e.g. to zoom in near the best models when one covariance type is far
        worse than the others.

    Returns
    -------
    matplotlib.figure.Figure
    """
    values = result.criterion_table(criterion)  # {covariance_type: {K: value}}; validates
    criterion = result.criterion if criterion is None else criterion
    fig, ax = _figure_and_axes(ax, (6.4, 4.4))
    best = None
    for ctype, by_k in values.items():
        ax.plot(list(by_k), list(by_k.values()), marker=_MARKERS.get(ctype, "o"),
                markerfacecolor="none", linewidth=1.4, label=model_label(ctype))
        for k, value in by_k.items():
            if np.isfinite(value) and (best is None or value < best[2]):
                best = (ctype, k, value)
    if best is not None:
        ctype, k, value = best
        ax.scatter([k], [value], s=220, facecolors="none", edgecolors="black",
                   linewidths=2.0, zorder=5, label=f"best: {model_label(ctype)}, K={k}")
    ax.set_xlabel("Number of components K")
    ax.set_ylabel(f"{criterion.upper()} (lower is better)")
    ax.set_xticks(sorted({k for by_k in values.values() for k in by_k}))
    ax.grid(True, alpha=0.3)
    ax.legend(title="covariance type", frameon=False)
    if title is not None:
        ax.set_title(title)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_data_density(X, log_density, *, em=None, feature_names=None, ax=None):
    """The data with a posterior mean density (and an EM density): a histogram with curves
    for 1-D data, a scatter with log-density contours for 2-D data, a scatter of the first two
    features otherwise.

    Parameters
    ----------
    X : array, shape (N, d)
    log_density : callable
        ``log_density(points)`` with points of shape (M, d) returns the log of the posterior
        mean density, shape (M,) (e.g. ``BayesianGMM.score_samples``). Not called for d > 2.
    em : (GMMParams, str), optional
        An EM fit and its covariance type, drawn dashed.
    feature_names : sequence of str, optional
    ax : matplotlib Axes, optional
        Draw into these axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _figure_and_axes(ax, (7, 5))
    X, names = _data_and_names(X, feature_names)
    if em is not None:
        em_params, em_type = em
        em_params = GMMParams(*(jnp.asarray(a) for a in em_params))
        em_label = f"EM density (BIC: {em_type}, K={em_params.weights.shape[0]})"

        def em_log_density(points):
            points = jnp.asarray(points, em_params.means.dtype)
            return np.asarray(density.log_prob(points, em_params, em_type))
    if X.shape[1] == 1:
        grid = _grid_1d(X, 400)
        ax.hist(X[:, 0], bins=min(40, max(10, len(X) // 4)), density=True, color="0.85",
                label="data")
        ax.plot(grid[:, 0], np.exp(log_density(grid)), color="tab:blue", lw=2,
                label="posterior mean density")
        if em is not None:
            ax.plot(grid[:, 0], np.exp(em_log_density(grid)), color="tab:red", ls="--", lw=1.5,
                    label=em_label)
        ax.set_xlabel(names[0])
        ax.set_ylabel("density")
        ax.set_title("data, posterior mean and EM densities")
    else:
        ax.scatter(X[:, 0], X[:, 1], s=8, color="0.3", alpha=0.7, label="data")
        if X.shape[1] == 2:
            xx, yy, grid = _grid_2d(X, 80)
            post = np.asarray(log_density(grid)).reshape(xx.shape)
            top = post.max()
            levels = np.linspace(top - 8, top, 7)
            ax.contour(xx, yy, post, levels=levels, colors="tab:blue", linewidths=1.2)
            ax.plot([], [], color="tab:blue", label="posterior mean log-density")
            if em is not None:
                ax.contour(xx, yy, em_log_density(grid).reshape(xx.shape), levels=levels,
                           colors="tab:red", linewidths=1.0, linestyles="--")
                ax.plot([], [], color="tab:red", ls="--",
                        label=em_label.replace("density", "log-density"))
            ax.set_title("data, posterior mean and EM densities")
        else:
            ax.set_title("first two features (densities not drawn for d > 2)")
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
    ax.legend(frameon=False, fontsize=8)
    return fig


def plot_compare(result, path=None):
    """The comparison in one figure, four panels: BIC against K per covariance type; P(K+)
    bars with the BIC weights and the prior of K+ overlaid; the prior-sensitivity panel; the
    data with the posterior mean density and the density of BIC's choice. With a prior on K
    (``result.telescope``), a fifth: P(K) and P(K+) of the telescoping sampler with their
    priors and the BIC weights (:func:`plot_k_posterior`).

    Parameters
    ----------
    result : CompareResult
        From :func:`bayesgmm.compare.compare`.
    path : str or path-like, optional
        Where to write the figure (format from the suffix; 110 dpi).

    Returns
    -------
    matplotlib.figure.Figure
    """
    tele = getattr(result, "telescope", None)
    if tele is None:
        fig = new_figure(figsize=(12, 9))
        (ax_bic, ax_k), (ax_sens, ax_data) = fig.subplots(2, 2)
    else:  # a prior on K: a fifth panel, P(K) and P(K+) of the telescoping sampler
        fig = new_figure(figsize=(18, 9))
        grid = fig.add_gridspec(2, 3)
        ax_bic, ax_k, ax_tele = (fig.add_subplot(grid[0, i]) for i in range(3))
        ax_sens, ax_data = fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1:])
        plot_k_posterior(tele, ax=ax_tele, title=f"prior on K ({tele.settings['k_prior']}): "
                                                 f"telescoping sampler")
        ks = np.arange(1, result.k_max + 1)
        ax_tele.plot(ks, result.bic_weights, "o-", color="tab:red", ms=4,
                     label=f"BIC weights ({result.covariance_type})")
        ax_tele.legend(frameon=False, fontsize=8)
    plot_bic(result.sweep, ax=ax_bic, title="BIC (EM) by K and covariance type")

    ks = np.arange(1, result.k_max + 1)
    ax_k.bar(ks, result.kplus_posterior, width=0.6, color="tab:blue", alpha=0.75,
             label="posterior P(K+ | data)")
    ax_k.plot(ks, result.bic_weights, "o-", color="tab:red",
              label=f"BIC weights ({result.covariance_type})")
    ax_k.plot(ks, result.kplus_prior, "s--", color="0.4", markerfacecolor="none",
              label=f"prior of K+ ({result.prior_label})")
    ax_k.set_xticks(ks)
    ax_k.set_xlabel("number of (occupied) components")
    ax_k.set_ylabel("probability")
    ax_k.set_ylim(0, 1.05)
    frac = result.diagnostics["divergence_fraction"]
    ax_k.set_title(f"K+ posterior vs BIC (divergences {100 * frac:.2f}%)")
    ax_k.legend(frameon=False, fontsize=8)

    width = 0.8 / max(1, len(result.sensitivity))
    for i, (e0, p) in enumerate(result.sensitivity.items()):
        ax_sens.bar(ks + (i - (len(result.sensitivity) - 1) / 2) * width, p, width=width,
                    label=f"e0 = {e0:g}")
    ctype, k_bic = result.bic_choice
    ax_sens.axvline(k_bic, color="tab:red", ls=":", label=f"BIC choice K = {k_bic}")
    ax_sens.set_xticks(ks)
    ax_sens.set_xlabel("K+")
    ax_sens.set_ylabel("P(K+ | data)")
    ax_sens.set_ylim(0, 1.05)
    ax_sens.set_title("prior sensitivity of K+")
    ax_sens.legend(frameon=False, fontsize=8)

    plot_data_density(result.X, result.posterior_log_density, feature_names=result.feature_names,
                      em=(result.sweep.fit_result(ctype, k_bic).params, ctype), ax=ax_data)
    if path is not None:
        save_figure(fig, path, dpi=110)
    return fig


def plot_k_posterior(result, *, ax=None, reference=None, title=None):
    """P(K | data) and P(K+ | data) of the telescoping sampler as bars, with the priors of K
    and K+ (and, optionally, published values of P(K)) as lines.

    Parameters
    ----------
    result : TelescopeResult
        From :func:`bayesgmm.bayes.telescope.sample_telescope`.
    ax : matplotlib Axes, optional
        Draw into these axes instead of a new figure.
    reference : dict of int to float, optional
        Values of P(K = k) to mark (e.g. a published table).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _figure_and_axes(ax, (7, 4.5))
    ks = np.arange(1, result.k_max + 1)
    ax.bar(ks - 0.2, result.k_posterior, width=0.4, color="tab:blue", alpha=0.8,
           label="P(K | data)")
    ax.bar(ks + 0.2, result.kplus_posterior, width=0.4, color="tab:orange", alpha=0.8,
           label="P(K+ | data)")
    ax.plot(ks, result.k_prior, "--", color="tab:blue", lw=1, label="prior of K")
    ax.plot(ks, result.kplus_prior, ":", color="tab:orange", lw=1.5, label="prior of K+")
    if reference:
        ax.plot(list(reference), list(reference.values()), "kx", ms=8, mew=2,
                label="reference P(K)")
    ax.set_xlabel("number of components K / occupied components K+")
    ax.set_ylabel("probability")
    ax.set_xlim(0.3, min(result.k_max, max(int(np.flatnonzero(result.k_posterior > 1e-3).max())
                                           + 3, 6)) + 0.7)
    ax.legend(frameon=False, fontsize=8)
    if title:
        ax.set_title(title)
    return fig


__all__ = ["new_figure", "plot_bic", "plot_compare", "plot_data_density", "plot_fit",
           "plot_k_posterior", "save_figure"]
