"""mclust's hierarchical start (bayesgmm.hc) against the partitions mclust 6.0.0 started from
(tests/data/mclust/*_init.csv, written by tests/data/mclust/make_tables.R)."""

import jax
import numpy as np
import pytest

import bayesgmm
from bayesgmm import hc
from bayesgmm.covariance import n_parameters
from tests.test_mclust import _data, _mclust_selected, _partitions


def _same_partition(a, b):
    """Equal up to a renaming of the classes."""
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.mark.parametrize("name", ["iris", "galaxy", "acidity", "enzyme"])
def test_partitions_equal_mclust(name):
    ours = hc.initial_partitions(_data(name), range(1, 10))
    theirs = _partitions(name)
    for k in range(9):
        assert _same_partition(ours[k], theirs[k]), k + 1


def test_faithful_partitions_are_nested_cuts_of_one_tree():
    # Old Faithful has many exactly tied merge costs (waiting times are integers), which
    # mclust's Fortran breaks in its own loop order: the cuts differ from mclust's there, but
    # every cut must refine the next coarser one.
    parts = hc.initial_partitions(_data("faithful"), range(1, 10))
    for k in range(9):
        assert sorted(set(parts[k].tolist())) == list(range(k + 1))
    for k in range(1, 9):
        for cls in range(k + 1):
            assert len(set(parts[k - 1][parts[k] == cls].tolist())) == 1


def test_duplicated_rows_stay_together():
    X = np.repeat(np.random.default_rng(0).normal(size=(20, 3)), 2, axis=0)
    labels = hc.agglomerate(X, [5, 10, 20])
    np.testing.assert_array_equal(labels[:, 0::2], labels[:, 1::2])


def test_agglomeration_separates_distant_groups():
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(size=(30, 2)) + c for c in ([0, 0], [20, 0], [0, 20])])
    labels = hc.agglomerate(X, [3])[0]
    truth = np.repeat(np.arange(3), 30)
    assert _same_partition(labels, truth)


def test_quantile_classes_equal_counts():
    x = np.arange(12.0)
    np.testing.assert_array_equal(hc.quantile_classes(x, 3), np.repeat([0, 1, 2], 4))


def test_large_data_agglomerate_a_subset():
    X = np.random.default_rng(2).normal(size=(500, 2))
    parts = hc.initial_partitions(X, [2, 3], max_rows=100, seed=3)
    outside = parts[0] < 0
    assert outside.sum() == 400
    np.testing.assert_array_equal(parts[1] < 0, outside)
    assert set(parts[1][~outside].tolist()) == {0, 1, 2}


def test_svd_coordinates_are_whitened_principal_axes():
    X = _data("iris")
    Z = hc.svd_coordinates(X)
    gram = Z.T @ Z
    np.testing.assert_allclose(gram, np.diag(np.diag(gram)), atol=1e-9)


def test_fit_em_from_hc_equals_em_from_the_partition():
    X = _data("faithful")
    result = bayesgmm.fit_em(jax.random.key(0), X, n_components=3, covariance_type="EEE",
                             init_params="hc", tol="mclust", reg_covar=0.0)
    again = bayesgmm.fit_em(jax.random.key(5), X, n_components=3, covariance_type="EEE",
                            init_params="hc", tol="mclust", reg_covar=0.0)
    # Deterministic: the key plays no part.
    np.testing.assert_array_equal(result.params.means, again.params.means)
    # mclust's optimum (tests/data/mclust/summary.csv: EEE, K = 3). The last E-step's
    # log-likelihood, as mclust reports it; the start differs slightly from mclust's.
    model, k, ref_bic = _mclust_selected("faithful")
    assert (model, k) == ("EEE", 3)
    bic = -2 * float(result.lower_bound) * len(X) + n_parameters(3, 2, "EEE") * np.log(len(X))
    assert bic == pytest.approx(ref_bic, abs=0.1)


def test_sweep_from_hc_selects_mclusts_model_on_faithful():
    X = _data("faithful")
    result = bayesgmm.bic_sweep(jax.random.key(0), X, covariance_types=("tied", "full"),
                                init_params="hc", tol="mclust")
    assert (result.best_covariance_type, result.best_n_components) == ("tied", 3)
