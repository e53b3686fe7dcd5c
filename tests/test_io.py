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


def _assert_same_tree(a, b, where="draws_"):
    # every leaf equal bit for bit, with the same dtype and the same structure
    import jax
    leaves_a, tree_a = jax.tree.flatten(a)
    leaves_b, tree_b = jax.tree.flatten(b)
    assert tree_a == tree_b, where
    for x, y in zip(leaves_a, leaves_b):
        if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=where)
        assert np.asarray(x).dtype == np.asarray(y).dtype, where


@pytest.mark.parametrize("method", ["svi", "nuts"])
def test_bayesian_gmm_round_trip_is_exact(tmp_path, method):
    import jax
    from bayesgmm import BayesianGMM
    from bayesgmm.bayes import Priors
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(40, 2)), rng.normal(size=(40, 2)) + 5])
    settings = dict(svi=dict(method="svi", num_steps=50, num_samples=20, guide="normal"),
                    nuts=dict(num_warmup=20, num_samples=20, num_chains=2,
                              weights_sampler="gibbs"))[method]
    model = BayesianGMM(2, covariance_type="diag", priors=Priors(concentration=0.5),
                        random_state=jax.random.key(7), **settings).fit(X)
    path = tmp_path / "bayes.npz"
    gmm_io.save(path, model)
    loaded = gmm_io.load(path)
    assert type(loaded) is BayesianGMM
    params = model.get_params()
    assert loaded.get_params().keys() == params.keys()
    assert loaded.priors == Priors(concentration=0.5)
    for key, value in params.items():
        if key not in ("priors", "random_state"):
            assert loaded.get_params()[key] == value, key
    _assert_same_tree(loaded.random_state, model.random_state, "random_state")
    _assert_same_tree(loaded.draws_, model.draws_)  # params, samples, stats, priors, em start
    _assert_same_tree(loaded.em_params_, model.em_params_, "em_params_")
    for name in ("weights_", "means_", "covariances_", "losses_", "num_divergences_",
                 "n_features_in_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))
    for a, b in zip(loaded.sample(5), model.sample(5)):
        np.testing.assert_array_equal(a, b)
    # the DataTree (built on first access) from the saved data and key: the same numbers
    ours, theirs = loaded.datatree_, model.datatree_
    assert set(ours.children) == set(theirs.children)
    for group in theirs.children:
        a, b = ours[group].to_dataset(), theirs[group].to_dataset()
        assert a.equals(b), group  # values, dims and coordinates
        for attrs in (a.attrs, b.attrs):
            attrs.pop("created_at")  # when each DataTree was built
        assert a.attrs == b.attrs, group


def test_feature_names_and_a_jax_key_round_trip(tmp_path):
    import jax
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(30, 2)), columns=["eruptions", "waiting"])
    model = GaussianMixture(2, random_state=jax.random.key(5)).fit(frame)
    gmm_io.save(tmp_path / "m.npz", model)
    loaded = gmm_io.load(tmp_path / "m.npz")
    assert loaded.feature_names_in_.dtype == object
    np.testing.assert_array_equal(loaded.feature_names_in_, ["eruptions", "waiting"])
    np.testing.assert_array_equal(jax.random.key_data(loaded.random_state),
                                  jax.random.key_data(model.random_state))
    with pytest.raises(ValueError, match="same order"):
        loaded.predict(frame[["waiting", "eruptions"]])
    np.testing.assert_array_equal(loaded.sample(3)[0], model.sample(3)[0])


def test_version_1_files_still_load(models, tmp_path):
    # a GaussianMixture written by version 1 (the same layout: plain arrays, scalar
    # attributes), its header re-signed as that version wrote it
    def change(contents):
        header = json.loads(contents["__bayesgmm_header__"].tobytes())
        header.pop("sha256")
        header["version"] = 1
        arrays = {k: v for k, v in contents.items() if k != "__bayesgmm_header__"}
        header["sha256"] = gmm_io._digest(header, arrays)
        contents["__bayesgmm_header__"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    X, fitted = models
    path = tmp_path / "v1.npz"
    path.write_bytes(rewrite(gmm_io.to_bytes(fitted["full"]), change))
    np.testing.assert_array_equal(gmm_io.load(path).predict_proba(X),
                                  fitted["full"].predict_proba(X))
