"""The bayesgmm command: demo, fit with its outputs, and its error messages."""

import json
import subprocess
import sys

import numpy as np
import pytest

from bayesgmm import cli, io


# Tiny sampler settings: the tests check the command's plumbing and outputs, not posteriors.
TINY = ["--k-max", "2", "--sweep-types", "spherical", "--covariance-type", "spherical",
        "--num-warmup", "20", "--num-samples", "20", "--sensitivity-e0", "0.01,1",
        "--sensitivity-num-warmup", "10", "--sensitivity-num-samples", "10", "--n-init", "1",
        "--no-progress", "--no-cache"]


@pytest.mark.parametrize("argv", [["--help"], ["compare", "--help"], ["bayes", "--help"]])
def test_help_does_not_import_numpyro(argv):
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "bayesgmm", *argv],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("usage: bayesgmm")
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:")]
    assert "bayesgmm.cli" in imported
    assert not [name for name in imported if name.split(".")[0] == "numpyro"]


def test_demo_writes_report_json_and_figure_and_prints_the_table(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--dataset", "galaxy", "--out", str(out)] + TINY) == 0
    printed = capsys.readouterr().out
    assert "| K+ | posterior | prior | BIC weight |" in printed and "EM sweep" in printed
    assert "## Prior sensitivity" in (out / "report.md").read_text()
    report = json.loads((out / "report.json").read_text())
    assert report["data"] == "galaxy" and set(report["sensitivity"]) == {"0.01", "1.0"}
    for p in report["sensitivity"].values():
        assert np.isclose(sum(p), 1.0, atol=1e-5)
    assert (out / "compare.png").stat().st_size > 20_000


def test_select_writes_table_plot_and_the_best_model(tmp_path, capsys):
    out = tmp_path / "sel"
    assert cli.main(["select", "--dataset", "faithful", "--k-max", "3", "--covariance-types",
                     "full,spherical", "--n-init", "1", "--out", str(out), "--no-cache"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("EM sweep") == 2 and "BIC (lower is better) chooses" in printed
    report = json.loads((out / "report.json").read_text())
    model = io.load(out / "model.npz")
    assert model.n_components == report["best"]["n_components"]
    assert (out / "bic.png").stat().st_size > 10_000


def test_bayes_nuts_writes_report_and_figure(tmp_path):
    out = tmp_path / "bayes"
    assert cli.main(["bayes", "--dataset", "galaxy", "-k", "2", "--covariance-type", "diag",
                     "--num-warmup", "20", "--num-samples", "20", "--out", str(out),
                     "--no-cache"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["num_draws"] == 40 and np.isclose(sum(report["kplus_posterior"]), 1.0)
    assert np.isclose(sum(report["weights_mean"]), 1.0)
    assert (out / "bayes.png").stat().st_size > 10_000
    model = io.load(out / "model.npz")  # the fitted BayesianGMM, draws and priors included
    assert type(model).__name__ == "BayesianGMM" and model.priors.concentration == 1.0
    assert model.draws_.params.means.shape == (2, 20, 2, 1)
    np.testing.assert_allclose(model.weights_, report["weights_mean"], rtol=1e-6)


@pytest.mark.parametrize("argv,message", [
    (["compare", "--dataset", "galaxy", "--sensitivity-e0", "a,b"], "comma-separated numbers"),
    (["compare", "--dataset", "galaxy", "--k-max", "0"], "'k_max' must be an integer >= 1"),
    (["select", "--dataset", "galaxy", "--covariance-types", "round"],
     "unknown covariance type 'round'"),
    (["bayes", "--dataset", "galaxy", "--e0", "0"], "--e0 must be positive"),
    (["compare", "--dataset", "nope"], "Unknown data set 'nope'"),
])
def test_new_subcommand_errors(argv, message, tmp_path):
    with pytest.raises(SystemExit, match=message):
        cli.main(argv + ["--out", str(tmp_path), "--no-cache"])


def test_fit_writes_report_figure_and_a_model_that_loads_back(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["fit", "--dataset", "faithful", "-k", "3", "--out", str(out),
                     "--no-cache"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["n_components"] == 3 and report["n_samples"] == 272
    assert np.isclose(sum(report["weights"]), 1.0)
    assert (out / "fit.png").stat().st_size > 10_000
    assert "| component | weight | mean |" in (out / "report.md").read_text()
    model = io.load(out / "model.npz")
    from bayesgmm import datasets
    X = datasets.load("faithful").data
    np.testing.assert_allclose(model.score(X), report["log_likelihood_per_sample"])


def test_fit_reads_csv_columns_and_standardises(tmp_path):
    path = tmp_path / "data.csv"
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(60, 2)), rng.normal(size=(60, 2)) + 6])
    with path.open("w") as f:
        f.write("a,b,label\n")
        for row in X:
            f.write(f"{row[0]},{row[1]},x\n")
    out = tmp_path / "out"
    assert cli.main(["fit", str(path), "--columns", "a,b", "--standardize", "-k", "2",
                     "--out", str(out), "--no-cache"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["features"] == ["a", "b"]
    assert abs(np.mean(report["means"], axis=0)).max() < 0.2  # standardised data


def write(tmp_path, text):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("argv,message", [
    (["fit", "/no/such/file.csv"], "No such file"),
    (["fit", "--dataset", "geyser"], "Unknown data set 'geyser'"),
    (["fit"], "give either a data file or --dataset"),
    (["fit", "--dataset", "faithful", "--columns", "height"], "no column 'height'"),
])
def test_error_messages(argv, message, capsys):
    with pytest.raises(SystemExit, match=message):
        cli.main(argv + ["--no-cache"])


def test_non_numeric_column_and_missing_values_are_named(tmp_path):
    with pytest.raises(SystemExit, match=r"column 'b' is not numeric \(line 3: 'oops'\)"):
        cli.main(["fit", write(tmp_path, "a,b\n1,2\n3,oops\n"), "--no-cache"])
    with pytest.raises(SystemExit, match=r"2 row\(s\) have missing or non-finite values "
                                         r"\(lines 3, 5\)"):
        cli.main(["fit", write(tmp_path, "a,b\n1,2\n3,\n4,5\nNA,1\n"), "--no-cache"])


def test_npy_input(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(1).normal(size=(40, 1)))
    X, names = io.load_table(path)
    assert X.shape == (40, 1) and names == ("x0",)
    np.save(path, np.array(["a", "b"]))
    with pytest.raises(ValueError, match="real numeric array"):
        io.load_table(path)


def test_compare_with_a_prior_on_k_reports_p_k_beside_bic(tmp_path, capsys):
    out = tmp_path / "k"
    argv = ["compare", "--dataset", "galaxy", "--out", str(out), "--k-prior", "bnb",
            "--k-prior-num-samples", "50", "--k-prior-thin", "1", "--sensitivity-e0", ""]
    assert cli.main(argv + [a for a in TINY if a not in ("--sensitivity-e0", "0.01,1")]) == 0
    printed = capsys.readouterr().out
    assert "telescoping sampler: mode K = " in printed
    assert "## Prior on K: bnb on 1..2 (telescoping sampler)" in printed
    report = json.loads((out / "report.json").read_text())
    assert len(report["posterior_K"]) == 2 and len(report["prior_K"]) == 2
    assert report["bic_weights"] and report["k_prior"]["num_chains"] == 4


def test_compare_rejects_a_bad_k_prior_concentration(tmp_path):
    argv = ["compare", "--dataset", "galaxy", "--out", str(tmp_path), "--k-prior", "uniform",
            "--k-prior-concentration", "-1"] + TINY
    with pytest.raises(SystemExit, match="'concentration' must be a finite positive"):
        cli.main(argv)
