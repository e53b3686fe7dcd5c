"""Classic mixture-model data sets shipped with bayesgmm (provenance in ``README.md`` here).

=============  =========  ====================================================================
name           shape      what
=============  =========  ====================================================================
``faithful``   (272, 2)   Old Faithful eruptions and waiting times (min), R ``datasets``
``iris``       (150, 4)   Fisher's/Anderson's iris measurements (cm); ``target`` = species
``galaxy``     (82, 1)    velocities of 82 galaxies (1000 km/s), Roeder 1990
``acidity``    (155, 1)   log(ANC + 50) acidity index of 155 Wisconsin lakes
``enzyme``     (245, 1)   enzymatic activity in the blood of 245 individuals
=============  =========  ====================================================================
"""

import csv
from importlib import resources
from typing import NamedTuple

import numpy as np

from bayesgmm.validation import is_number

DATASETS = ("faithful", "iris", "galaxy", "acidity", "enzyme")


class Dataset(NamedTuple):
    """A shipped data set.

    Attributes
    ----------
    data : ndarray, shape (n_samples, n_features), float64
    feature_names : tuple of str
    target : ndarray of str, shape (n_samples,), or None
        Known labels, where the data set has them (iris species).
    """

    data: np.ndarray
    feature_names: tuple
    target: np.ndarray | None


def load(name):
    """Load a shipped data set by name (see the module docstring for the list).

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`DATASETS`.
    """
    if name not in DATASETS:
        raise ValueError(f"Unknown data set {name!r}; the shipped data sets are "
                         f"{', '.join(DATASETS)}")
    with resources.files(__name__).joinpath(f"{name}.csv").open() as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    numeric = [i for i, value in enumerate(rows[0]) if is_number(value)]
    data = np.array([[float(row[i]) for i in numeric] for row in rows])
    labels = [i for i in range(len(header)) if i not in numeric]
    target = np.array([row[labels[0]] for row in rows]) if labels else None
    return Dataset(data, tuple(header[i] for i in numeric), target)
