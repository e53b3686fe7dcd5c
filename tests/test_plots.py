"""Figures: every plot function draws into given axes or a new bare figure and returns the
Figure, saving goes through one helper, and nothing changes matplotlib's global state."""

import subprocess
import sys

import jax
import numpy as np
import pytest

from bayesgmm import GaussianMixture, bic_sweep, plots
from bayesgmm.covariance import COVARIANCE_TYPES, model_label

pytest.importorskip("matplotlib")

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def sweep():
    from bayesgmm import datasets
    return bic_sweep(jax.random.key(0), datasets.load("faithful").data, n_components=range(1, 4),
                     n_init=2)


def test_plot_bic_writes_a_png_and_marks_the_best_model(sweep, tmp_path):
    fig = plots.plot_bic(sweep, tmp_path / "sub" / "bic.png", title="BIC")
    assert (tmp_path / "sub" / "bic.png").read_bytes()[:8] == PNG
    ax = fig.axes[0]
    assert ax.get_ylabel() == "BIC (lower is better)" and ax.get_title() == "BIC"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    best = f"best: {model_label(sweep.best_covariance_type)}, K={sweep.best_n_components}"
    # mclust's names, scikit-learn's beside them: "VVV (full)".
    assert labels == [model_label(t) for t in COVARIANCE_TYPES] + [best]
    assert plots.plot_bic(sweep, criterion="aic").axes[0].get_ylabel() == "AIC (lower is better)"
    with pytest.raises(ValueError, match="'criterion' should be in"):
        plots.plot_bic(sweep, criterion="bic2")


@pytest.mark.parametrize("n_features", [1, 2, 3])
def test_plot_fit_and_plot_data_density_draw_into_given_axes(n_features, tmp_path):
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(60, n_features)), rng.normal(size=(60, n_features)) + 5])
    model = GaussianMixture(2, random_state=0).fit(X)
    fig = plots.new_figure(figsize=(8, 4))
    left, right = fig.subplots(1, 2)
    assert plots.plot_fit(X, model, ax=left, title="fit") is fig
    em = ((model.weights_, model.means_, model.precisions_cholesky_), "full")
    assert plots.plot_data_density(X, model.score_samples, em=em, ax=right) is fig
    assert left.get_title() == "fit" and right.get_legend() is not None
    path = plots.save_figure(fig, tmp_path / f"d{n_features}.png", dpi=50)
    assert path.read_bytes()[:8] == PNG
    # Without axes, each makes its own figure.
    assert plots.plot_fit(X, model) is not fig
    assert plots.plot_data_density(X, model.score_samples) is not fig


def test_figures_leave_pyplot_and_the_backend_alone(tmp_path):
    code = (
        "import sys, numpy as np, matplotlib\n"
        "from bayesgmm import GaussianMixture, plots\n"
        "backend = matplotlib.rcParams._get_backend_or_none()\n"
        "X = np.random.default_rng(0).normal(size=(50, 2))\n"
        "fig = plots.plot_fit(X, GaussianMixture(2, random_state=0).fit(X))\n"
        f"plots.save_figure(fig, {str(tmp_path / 'f.png')!r})\n"
        "print('matplotlib.pyplot' in sys.modules,\n"
        "      matplotlib.rcParams._get_backend_or_none() == backend)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "True"]


def test_without_matplotlib_figures_say_what_to_install(sweep, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install bayesgmm\[plot\]"):
        plots.plot_bic(sweep)


def test_plot_k_posterior_draws_bars_priors_and_a_reference_into_given_axes(tmp_path):
    from bayesgmm import datasets
    from bayesgmm.bayes.telescope import sample_telescope
    # The shapes of tests/test_compare.py's run: the compiled program is shared.
    result = sample_telescope(jax.random.key(0), datasets.load("galaxy").data, k_max=3,
                              num_warmup=20, num_samples=100, num_chains=2)
    fig = plots.new_figure()
    ax = fig.add_subplot()
    assert plots.plot_k_posterior(result, ax=ax, reference={5: 0.2}, title="K") is fig
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, np.concatenate([result.k_posterior,
                                                        result.kplus_posterior]))
    labels = ax.get_legend_handles_labels()[1]
    assert {"P(K | data)", "P(K+ | data)", "prior of K", "prior of K+",
            "reference P(K)"} <= set(labels)
    path = plots.save_figure(plots.plot_k_posterior(result), tmp_path / "k.png")
    assert path.read_bytes().startswith(PNG)
