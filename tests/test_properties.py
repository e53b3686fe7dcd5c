"""Property-based tests of the estimator's contract over generated data: either a valid fit
(finite parameters and log-densities, responsibilities summing to one) or a ValueError /
TypeError whose message names the problem. Never a silent NaN, never a raw JAX traceback.

BAYESGMM_HYPOTHESIS_EXAMPLES=N runs N generated fits instead of 40 (e.g. 500 for a thorough
search; each new shape compiles, so expect about a second per example)."""

import os
import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from bayesgmm import ConvergenceWarning, GaussianMixture  # noqa: E402

ACTIONABLE = ("increase reg_covar", "scale the data", "scale the input data")
FIT_EXAMPLES = int(os.environ.get("BAYESGMM_HYPOTHESIS_EXAMPLES", "40"))


@st.composite
def problems(draw):
    d = draw(st.integers(1, 3))
    k = draw(st.integers(1, 3))
    n = draw(st.integers(k, 30))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    scale = 10.0 ** draw(st.integers(-8, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    X = rng.normal(size=(n, d)) * scale + rng.normal(size=d) * scale * 10
    kind = draw(st.sampled_from(["plain", "duplicates", "constant-column", "collinear"]))
    if kind == "duplicates":
        X = np.repeat(X[: max(1, n // 3)], 3, axis=0)[:n]
    elif kind == "constant-column":
        X[:, 0] = X[0, 0]
    elif kind == "collinear" and d > 1:
        X[:, -1] = 2 * X[:, 0]
    covariance_type = draw(st.sampled_from(["full", "tied", "diag", "spherical"]))
    # frequency weights with zeros (at least one row keeps a positive weight), or none
    weight = None
    if draw(st.booleans()):
        weight = rng.integers(0, 4, size=X.shape[0]).astype(dtype)
        weight[0] = max(weight[0], 1)
    return X.astype(dtype), k, covariance_type, weight


def check_valid_fit(model, X):
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert np.all(np.isfinite(getattr(model, name))), name
    np.testing.assert_allclose(model.weights_.sum(), 1.0, rtol=1e-4)
    resp = model.predict_proba(X)
    assert np.all(np.isfinite(resp))
    np.testing.assert_allclose(resp.sum(1), 1.0, rtol=1e-4)
    assert np.all(np.isfinite(model.score_samples(X)))


@settings(max_examples=FIT_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_fit_is_valid_or_raises_an_actionable_error(problem):
    X, k, covariance_type, weight = problem
    model = GaussianMixture(k, covariance_type=covariance_type, random_state=0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, sample_weight=weight)
    except ValueError as err:
        assert any(a in str(err) for a in ACTIONABLE), str(err)
        return
    assert model.means_.dtype == X.dtype  # float32 stays float32, also with x64 on
    check_valid_fit(model, X)


BAD_ARRAYS = [
    [["1", "2"], ["x", "4"]], [[1 + 2j, 0.0]], np.array([[object()]], dtype=object),
    np.array([[{"a": 1}, 1.0]], dtype=object), [[np.nan, 1.0]], [[np.inf, 1.0]], [], [[]],
    [1.0, 2.0], [[[1.0]]], "text", [[1.0, 2.0], [3.0]], np.array([["2020-01-01"]], "M8[D]"),
    np.array([[None, 1.0]], dtype=object), np.array([[1.0, 2.0]], np.float32) * 1e36]


@settings(max_examples=2 * len(BAD_ARRAYS), deadline=None)
@given(st.sampled_from(BAD_ARRAYS))
def test_bad_arrays_raise_value_or_type_error_with_a_message(bad):
    try:
        GaussianMixture(1).fit(bad)
    except (ValueError, TypeError) as err:
        assert len(str(err)) > 20
    else:
        pytest.fail(f"accepted {bad!r}")
