"""Reports: the dicts are JSON-ready, the Markdown says what the fit found, and write_report
writes both files. (The comparison's report is tested in test_compare.py.)"""

import json

import numpy as np
import pytest

from bayesgmm import GaussianMixture, GaussianMixtureIC, report
from bayesgmm.covariance import model_label


@pytest.fixture(scope="module")
def faithful_data():
    from bayesgmm import datasets
    return datasets.load("faithful")


def test_fit_report_and_markdown(faithful_data, tmp_path):
    X = faithful_data.data
    model = GaussianMixture(2, random_state=0).fit(X)
    data = report.fit_report(model, X, data_label="faithful",
                             feature_names=faithful_data.feature_names, seconds=1.23456)
    assert data["n_components"] == 2 and data["seconds"] == 1.235
    assert data["log_likelihood_per_sample"] == pytest.approx(model.score(X))
    markdown = report.fit_markdown(data)
    assert markdown.startswith("# EM fit: faithful\n")
    assert f"BIC {model.bic(X):.2f}" in markdown and "| component | weight | mean |" in markdown
    md, js = report.write_report(tmp_path / "out", data, markdown)
    assert md.read_text() == markdown and json.loads(js.read_text()) == data


def test_select_report_and_markdown(faithful_data):
    X = faithful_data.data
    search = GaussianMixtureIC(range(1, 4), covariance_type=("full", "spherical"),
                               random_state=0).fit(X)
    data = report.select_report(search, X, data_label="faithful",
                                feature_names=faithful_data.feature_names)
    assert data["best"] == {"covariance_type": search.covariance_type_,
                            "n_components": search.n_components_}
    assert json.loads(report.to_json(data))["table"]["bic"] == search.table_["bic"].tolist()
    markdown = report.select_markdown(search, data_label="faithful")
    assert (f"chooses **K = {search.n_components_}**, covariance "
            f"`{model_label(search.covariance_type_)}`" in markdown)
    # mclust's names, scikit-learn's beside them.
    assert "| K | VVV (full) | VII (spherical) |" in markdown and "| 3 | " in markdown


@pytest.mark.parametrize("method,divergences", [("nuts", 4), ("svi", None)])
def test_bayes_markdown_reports_divergences_for_nuts_only(method, divergences):
    data = {"data": "d", "method": method, "n_components": 2, "covariance_type": "diag",
            "e0": 0.5, "seconds": 2.0, "num_draws": 40, "num_divergences": divergences,
            "kplus_posterior": [0.25, 0.75], "weights_mean": [0.4, 0.6],
            "weights_sd": [0.1, 0.1], "means_mean": [[1.0], [5.0]]}
    markdown = report.bayes_markdown(data)
    assert markdown.startswith(f"# Bayesian mixture ({method.upper()}): d\n")
    assert ("4 divergent (10.00%)" in markdown) == (method == "nuts")
    assert "| 1 | 0.600 ± 0.100 | 5 |" in markdown
    assert "| P(K+ \\| data) | 0.250 | 0.750 |" in markdown


def test_to_json_converts_numpy_values():
    text = report.to_json({"a": np.float32(1.5), "b": np.arange(3), "c": None})
    assert json.loads(text) == {"a": 1.5, "b": [0, 1, 2], "c": None}
    with pytest.raises(TypeError, match="not JSON serializable"):
        report.to_json({"a": object()})
