"""The bayesgmm command: demo, fit with its outputs, and its error messages."""

import json

import numpy as np
import pytest

from bayesgmm import cli, io


def test_demo_prints_the_bic_table_and_the_chosen_model(capsys):
    assert cli.main(["demo", "--k-max", "3", "--n-init", "2", "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "BIC chooses K =" in out and "log-lik/row" in out
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) >= 3


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
