"""Saving and loading models: exact round trips, and clear errors for damaged files."""

import io
import json

import numpy as np
import pytest

from bayesgmm import GaussianMixture
from bayesgmm import io as gmm_io


@pytest.fixture(scope="module")
def models():
    from bayesgmm import datasets
    X = datasets.load("faithful").data
    return X, {ct: GaussianMixture(3, covariance_type=ct, random_state=0,
                                   means_init=X[:3] if ct == "diag" else None).fit(X)
               for ct in ("full", "tied", "diag", "spherical")}


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_round_trip_is_exact(models, tmp_path, covariance_type):
    X, fitted = models
    model = fitted[covariance_type]
    path = tmp_path / "model.npz"
    gmm_io.save(path, model)
    loaded = gmm_io.load(path)
    assert type(loaded) is GaussianMixture
    assert loaded.get_params().keys() == model.get_params().keys()
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_",
                 "lower_bounds_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name))
        assert getattr(loaded, name).dtype == getattr(model, name).dtype
    assert (loaded.n_iter_, loaded.converged_, loaded.lower_bound_) == (
        model.n_iter_, model.converged_, model.lower_bound_)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    if covariance_type == "diag":
        np.testing.assert_array_equal(loaded.means_init, model.means_init)


def test_unfitted_model_cannot_be_saved(tmp_path):
    with pytest.raises(ValueError, match="not fitted yet"):
        gmm_io.save(tmp_path / "m.npz", GaussianMixture(2))


def test_truncated_file_is_refused(models, tmp_path):
    data = gmm_io.to_bytes(models[1]["full"])
    path = tmp_path / "cut.npz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(gmm_io.ModelFileError, match="not a readable bayesgmm model"):
        gmm_io.load(path)


def rewrite(data, change):
    with np.load(io.BytesIO(data)) as archive:
        contents = {name: archive[name] for name in archive.files}
    change(contents)
    buffer = io.BytesIO()
    np.savez(buffer, **contents)
    return buffer.getvalue()


def test_tampered_array_is_refused(models, tmp_path):
    def change(contents):
        contents["attr/means_"] = contents["attr/means_"] + 1.0
    path = tmp_path / "tampered.npz"
    path.write_bytes(rewrite(gmm_io.to_bytes(models[1]["full"]), change))
    with pytest.raises(gmm_io.ModelFileError, match="do not match their SHA-256 digest"):
        gmm_io.load(path)


def test_newer_version_is_refused(models, tmp_path):
    def change(contents):
        header = json.loads(contents["__bayesgmm_header__"].tobytes())
        header["version"] = 99
        contents["__bayesgmm_header__"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    path = tmp_path / "future.npz"
    path.write_bytes(rewrite(gmm_io.to_bytes(models[1]["full"]), change))
    with pytest.raises(gmm_io.ModelFileError, match="newer than this bayesgmm reads"):
        gmm_io.load(path)


def test_pickled_content_is_never_loaded(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, __bayesgmm_header__=np.array([object()], dtype=object))
    with pytest.raises(gmm_io.ModelFileError):
        gmm_io.load(path)


def test_foreign_npz_and_missing_file(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(gmm_io.ModelFileError, match="no bayesgmm header"):
        gmm_io.load(path)
    with pytest.raises(FileNotFoundError):
        gmm_io.load(tmp_path / "missing.npz")
