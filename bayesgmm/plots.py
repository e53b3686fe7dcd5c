"""Figures (matplotlib, the optional ``plot`` extra), imported only when a figure is drawn."""

import numpy as np


def require_matplotlib():
    """Import matplotlib with the non-interactive Agg backend, or say how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError("Figures need matplotlib: pip install 'bayesgmm[plot]' "
                          "(or pip install matplotlib).") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_fit(X, model, *, feature_names=None, ax=None, title=None):
    """Draw data with a fitted mixture: a histogram and the density for 1-D data, a scatter
    coloured by component with log-density contours for 2-D data, and a scatter of the first
    two features otherwise.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_features)
    model : fitted GaussianMixture (anything with ``score_samples``, ``predict_proba``,
        ``means_``)
    feature_names : sequence of str, optional
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib Figure
    """
    plt = require_matplotlib()
    X = np.asarray(X)
    names = list(feature_names) if feature_names is not None else [f"x{i}"
                                                                   for i in range(X.shape[1])]
    fig = ax.figure if ax is not None else plt.subplots(figsize=(7, 5))[0]
    ax = ax if ax is not None else fig.axes[0]
    if X.shape[1] == 1:
        pad = 0.1 * np.ptp(X)
        grid = np.linspace(X.min() - pad, X.max() + pad, 500)[:, None]
        density = np.exp(model.score_samples(grid))
        ax.hist(X[:, 0], bins=min(60, max(10, len(X) // 5)), density=True, color="0.85",
                label="data")
        for k, part in enumerate((model.predict_proba(grid) * density[:, None]).T):
            ax.plot(grid[:, 0], part, ls="--", lw=1, label=f"component {k}")
        ax.plot(grid[:, 0], density, "k", lw=2, label="mixture density")
        ax.set_xlabel(names[0])
        ax.set_ylabel("density")
    else:
        labels = model.predict_proba(X).argmax(1)
        ax.scatter(X[:, 0], X[:, 1], c=labels, cmap="tab10", s=10, vmin=0, vmax=9)
        if X.shape[1] == 2:
            pad = 0.1 * np.ptp(X, axis=0)
            xx, yy = np.meshgrid(np.linspace(X[:, 0].min() - pad[0], X[:, 0].max() + pad[0], 150),
                                 np.linspace(X[:, 1].min() - pad[1], X[:, 1].max() + pad[1], 150))
            zz = model.score_samples(np.column_stack([xx.ravel(), yy.ravel()])).reshape(xx.shape)
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
    fig.tight_layout()
    return fig


def save_figure(fig, out_dir, filename, dpi=120):
    """Lay out ``fig``, write it to ``out_dir/filename`` (creating the folder), and return
    the path."""
    import pathlib
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out / filename, dpi=dpi)
    return out / filename
