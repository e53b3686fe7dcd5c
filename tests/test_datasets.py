"""The shipped data sets load with their documented shapes and values."""

import numpy as np
import pytest

from bayesgmm import datasets

SHAPES = {"faithful": (272, 2), "iris": (150, 4), "galaxy": (82, 1), "acidity": (155, 1),
          "enzyme": (245, 1)}


@pytest.mark.parametrize("name", datasets.DATASETS)
def test_shapes_and_types(name):
    data = datasets.load(name)
    assert data.data.shape == SHAPES[name]
    assert data.data.dtype == np.float64 and np.all(np.isfinite(data.data))
    assert len(data.feature_names) == SHAPES[name][1]


def test_iris_has_species_and_galaxy_has_the_corrected_value():
    iris = datasets.load("iris")
    assert sorted(set(iris.target)) == ["setosa", "versicolor", "virginica"]
    assert datasets.load("galaxy").data[77, 0] == pytest.approx(26.960)
    assert datasets.load("faithful").feature_names == ("eruptions", "waiting")


def test_unknown_data_set_message():
    with pytest.raises(ValueError, match="Unknown data set 'geyser'; the shipped data sets are"):
        datasets.load("geyser")
