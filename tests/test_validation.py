"""Messages of bayesgmm.validation that are not tied to one estimator: values that overflow
the compute dtype, infinity in float32 data, data-frame column names."""

import warnings

import numpy as np
import pytest

from bayesgmm import GaussianMixture
from bayesgmm.validation import check_array, check_feature_names, feature_names


def test_values_that_overflow_float32_say_so(rng):
    X = rng.normal(size=(20, 2)) * 1e200  # finite in float64
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from the cast either
        with pytest.raises(ValueError, match=r"X has values up to \d\.\d+e\+200, which overflow "
                                             r"float32 \(largest 3\.4e\+38\); scale the data"):
            check_array(X, dtype=np.float32)
    model = GaussianMixture(1).fit(rng.normal(size=(20, 2)).astype(np.float32))
    with pytest.raises(ValueError, match="overflow float32") as err:
        model.predict(X)
    assert "infinity" not in str(err.value)


def test_infinity_in_float32_data_points_at_overflow(rng):
    X = rng.normal(size=(20, 2)).astype(np.float32)
    X[3, 1] = np.inf  # what float32 data scaled past 3.4e38 hold
    with pytest.raises(ValueError, match=r"contains infinity in 1 row\(s\) \(first: \[3\]\) "
                                         r"\(float32 overflows to infinity beyond 3\.4e\+38"):
        GaussianMixture(1).fit(X)
    with pytest.raises(ValueError, match=r"contains infinity in 1 row\(s\) \(first: \[3\]\)\. "):
        GaussianMixture(1).fit(X.astype(np.float64))  # no overflow hint for float64


class Frame:
    """The one thing feature_names reads of a data frame: ``columns`` (and the shape)."""

    def __init__(self, columns):
        self.columns, self.shape = columns, (3, len(columns))

    def __array__(self, dtype=None, copy=None):
        return np.zeros(self.shape, dtype)


def test_feature_names_without_a_data_frame_library():
    assert feature_names(np.zeros((3, 2))) is None
    assert feature_names(Frame([0, 1])) is None  # non-string names are not kept
    names = feature_names(Frame(["a", "b"]))
    assert names.dtype == object and names.tolist() == ["a", "b"]
    with pytest.raises(TypeError, match=r"but your input has \['int', 'str'\] as feature"):
        feature_names(Frame(["a", 1]))
    fitted = np.array(["a", "b", "c", "d", "e", "f", "g"], dtype=object)
    assert check_feature_names(fitted, Frame(list(fitted)), caller="GM") is None
    assert check_feature_names(None, np.zeros((3, 7)), caller="GM") is None
    assert "fitted without feature names" in check_feature_names(None, Frame(["a"]),
                                                                  caller="GM")
    with pytest.raises(ValueError, match="unseen at fit time:\n- u\n- v\n- w\n- x\n- y\n- ...\n"
                                         "Feature names seen at fit time, yet now missing:\n"
                                         "- a\n- b\n- c\n- d\n- e\n- ...\n$"):
        check_feature_names(fitted, Frame(["u", "v", "w", "x", "y", "z", "g"]), caller="GM")
