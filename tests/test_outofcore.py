"""Out-of-core EM: equals the in-memory fit, reads files by rows, and says what is wrong."""

import jax
import numpy as np
import pytest

from bayesgmm import em
from bayesgmm.outofcore import array_chunks, fit_em_chunks, npy_chunks, npy_dir_chunks


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    centres = np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 0.0], [0.0, 6.0, 3.0]])
    return np.concatenate([rng.normal(size=(n, 3)) + c
                           for n, c in zip((401, 350, 250), centres)]) + 50


def start_of(X, covariance_type, dtype=np.float64):
    """Initial parameters: two EM iterations of the in-memory fit."""
    p = em.fit_em(jax.random.key(1), X.astype(dtype), n_components=3,
                  covariance_type=covariance_type, max_iter=2).params
    return dict(weights_init=p.weights, means_init=p.means,
                precisions_cholesky_init=p.precisions_cholesky)


def assert_same_fit(a, b, rtol=1e-10):
    assert int(a.n_iter) == int(b.n_iter)
    np.testing.assert_allclose(float(a.lower_bound), float(b.lower_bound), rtol=rtol)
    n = int(a.n_iter)
    np.testing.assert_allclose(np.asarray(a.lower_bounds)[:n], np.asarray(b.lower_bounds)[:n],
                               rtol=rtol)
    for p, q in zip(a.params, b.params):
        np.testing.assert_allclose(p, q, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_equals_in_memory_fit_from_the_same_start(data, covariance_type):
    start = start_of(data, covariance_type)
    memory = em.fit_em(jax.random.key(0), data, n_components=3, covariance_type=covariance_type,
                       tol=1e-9, max_iter=200, **start)
    # Reads of 333 rows into blocks of 250: neither divides N = 1001.
    chunked = fit_em_chunks(jax.random.key(0), array_chunks(data, rows=333), n_components=3,
                            covariance_type=covariance_type, tol=1e-9, max_iter=200,
                            block_rows=250, progress=False, **start)
    assert int(chunked.n_iter) > 3
    assert_same_fit(chunked, memory)


def test_default_init_on_a_sample_holding_every_row_is_fit_ems(data):
    memory = em.fit_em(jax.random.key(0), data, n_components=3, tol=1e-6)
    chunked = fit_em_chunks(jax.random.key(0), array_chunks(data, rows=400), n_components=3,
                            tol=1e-6, progress=False, init_sample_size=len(data))
    # Both seed k-means++ from their own key (fit_em's restart key, the out-of-core fit's
    # initialisation key), so the same three centres may come in another order.
    order = [int(np.argmin(np.abs(np.asarray(chunked.params.means)[:, 0] - m)))
             for m in np.asarray(memory.params.means)[:, 0]]
    assert sorted(order) == [0, 1, 2]
    chunked = chunked._replace(params=type(chunked.params)(
        *(np.asarray(p)[order] for p in chunked.params)))
    assert_same_fit(chunked, memory)


def test_sample_weights_equal_in_memory_weights(data):
    rng = np.random.default_rng(3)
    weights = rng.integers(0, 3, len(data)).astype(float)
    start = start_of(data, "full")
    memory = em.fit_em(jax.random.key(0), data, n_components=3, sample_weight=weights,
                       tol=1e-8, **start)
    source = array_chunks(data, rows=300, sample_weight=weights)
    chunked = fit_em_chunks(jax.random.key(0), source, n_components=3, tol=1e-8,
                            progress=False, block_rows=256, **start)
    assert_same_fit(chunked, memory)


def test_float32_agrees_with_in_memory_float32(data):
    X = (data + 1e4).astype(np.float32)
    start = start_of(data + 1e4, "full")
    memory = em.fit_em(jax.random.key(0), X, n_components=3, max_iter=10, tol=0.0, **start)
    chunked = fit_em_chunks(jax.random.key(0), array_chunks(X, rows=128), n_components=3,
                            max_iter=10, tol=0.0, progress=False, **start)
    assert chunked.lower_bound.dtype == np.float32
    np.testing.assert_allclose(float(chunked.lower_bound), float(memory.lower_bound), rtol=1e-5)
    np.testing.assert_allclose(chunked.params.means, memory.params.means, rtol=1e-5)


def test_npy_file_memmap_and_directory_give_the_same_fit(data, tmp_path):
    start = start_of(data, "full")
    path = tmp_path / "all.npy"
    np.save(path, data)
    folder = tmp_path / "parts"
    folder.mkdir()
    for i, (a, b) in enumerate([(0, 100), (100, 517), (517, 518), (518, 1001)]):
        np.save(folder / f"part{i:02d}.npy", data[a:b])
    np.save(folder / "part99.npy", data[:0])  # an empty file is fine
    memory = em.fit_em(jax.random.key(0), data, n_components=3, tol=1e-8, **start)
    sources = [npy_chunks(path, rows=97), npy_chunks(np.load(path, mmap_mode="r"), rows=1000),
               npy_dir_chunks(folder, rows=64)]
    for source in sources:
        assert source.n_rows == len(data)
        fit = fit_em_chunks(jax.random.key(0), source, n_components=3, tol=1e-8,
                            block_rows=300, progress=False, **start)
        assert_same_fit(fit, memory)


def test_file_reader_reads_every_row_in_order(data, tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, data.astype(np.float32))
    got = np.concatenate([c.copy() for c in npy_chunks(path, rows=300)()])
    np.testing.assert_array_equal(got, data.astype(np.float32))


def test_progress_bar_runs(data, capsys):
    start = start_of(data, "diag")
    fit_em_chunks(jax.random.key(0), array_chunks(data, rows=500), n_components=3,
                  covariance_type="diag", max_iter=2, progress=True, **start)
    assert "EM pass" in capsys.readouterr().err


def chunks_of(*arrays):
    return lambda: iter(arrays)


@pytest.mark.parametrize("arrays, error, message", [
    ((np.zeros(5),), ValueError, r"chunk 0 \(rows 0 onwards\) has shape \(5,\)"),
    ((np.zeros((5, 2)), np.zeros((4, 3))), ValueError,
     r"chunk 1 .* has 3 features, but the chunks before it had 2"),
    ((), ValueError, "hold no rows"),
    ((np.zeros((0, 2)),), ValueError, "hold no rows"),
    ((np.zeros((5, 2), np.int64),), TypeError, "chunk 0 .* dtype int64.*floating-point"),
    ((np.zeros((5, 2)), np.ones((4, 2)), np.array([[1.0, 2.0], [np.nan, 0.0]])), ValueError,
     r"chunk 2 \(rows 9 onwards\): NaN or infinity at row 10 \(row 1 of the chunk\)"),
])
def test_bad_chunks_are_named(arrays, error, message):
    with pytest.raises(error, match=message):
        fit_em_chunks(jax.random.key(0), chunks_of(*arrays), n_components=1, progress=False)


def test_not_a_callable_and_bad_files(tmp_path, data):
    with pytest.raises(TypeError, match="chunks must be a callable"):
        fit_em_chunks(jax.random.key(0), [data], n_components=1, progress=False)
    np.save(tmp_path / "f.npy", np.asfortranarray(data))
    with pytest.raises(ValueError, match="Fortran-ordered"):
        npy_chunks(tmp_path / "f.npy")
    np.save(tmp_path / "v.npy", data[:, 0])
    with pytest.raises(ValueError, match="2-dimensional"):
        npy_chunks(tmp_path / "v.npy")
    with pytest.raises(ValueError, match="no file matches"):
        npy_dir_chunks(tmp_path / "nothing-here")


def test_chunks_that_change_between_passes_are_an_error(data):
    calls = []

    def shrinking():
        calls.append(1)
        return iter([data] if len(calls) == 1 else [data[:10]])
    with pytest.raises(ValueError, match="same rows on every call"):
        fit_em_chunks(jax.random.key(0), shrinking, n_components=2, progress=False)


def test_initial_parameters_of_the_wrong_shape_are_named(data):
    with pytest.raises(ValueError, match=r"means_init has shape \(2, 2\); expected \(3, "):
        fit_em_chunks(jax.random.key(0), array_chunks(data), n_components=3,
                      means_init=np.zeros((2, 2)), progress=False)
