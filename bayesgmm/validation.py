"""Checks of user input, in one place: arrays and their dtypes, sample weights, random states,
integer / real / choice parameters, and the number of samples against the number of components.

Everything here runs on concrete values, before any compiled code sees them (under ``jit`` a
check cannot raise); the core modules check only shapes, which are static. Messages follow
scikit-learn's wording where it has one, and say what to do.
"""

import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from bayesgmm.exceptions import ComplexDataError, NotFittedError

# ------------------------------------------------------------------------------------ dtypes


def default_float_dtype():
    """float64 when JAX's x64 mode is on, float32 otherwise (bayesgmm never flips the flag)."""
    return np.dtype(jnp.result_type(float))


def compute_dtype(input_dtype):
    """The dtype a fit on data of ``input_dtype`` runs in.

    float32 data stay float32 (also when x64 is on, as scikit-learn preserves float32);
    everything else (float64, integers, booleans, float16) computes in
    :func:`default_float_dtype`, so float64 data give float32 when x64 is off.
    """
    return np.dtype(np.float32) if np.dtype(input_dtype) == np.float32 else default_float_dtype()


# ------------------------------------------------------------------------------------ arrays

def check_array(X, *, name="X", dtype=None, caller="GaussianMixture"):
    """Validate a 2-D numeric array and convert it to the compute dtype.

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
    name : str
        How messages call the array.
    dtype : dtype, optional
        Default: :func:`compute_dtype` of the input's dtype.
    caller : str
        What needs the data, for messages ("GaussianMixture needs dense data").

    Returns
    -------
    ndarray, shape (n_samples, n_features)
        A NumPy array (a copy only where a conversion needed one).

    Raises
    ------
    ValueError
        Wrong number of dimensions, no rows or columns, NaN or infinity, strings that are not
        numbers, values too large for float32.
    TypeError
        Sparse matrices, dates, objects that are not numbers; complex numbers raise
        :class:`~bayesgmm.exceptions.ComplexDataError`, which is both.
    """
    if hasattr(X, "toarray") and hasattr(X, "nnz"):  # a scipy.sparse matrix or array
        raise TypeError(f"Sparse data was passed as {name} ({type(X).__name__}), but "
                        f"{caller} needs dense data: use X.toarray().")
    array = np.asarray(X)
    if array.dtype.kind in "mMV":  # dates, durations, structured records: not numbers
        raise TypeError(f"{name} must contain numbers, got dtype {array.dtype}.")
    if array.dtype.kind not in "biufc":
        try:
            array = array.astype(np.float64)
        # Python's own split: a string that is not a number is a ValueError, an object that
        # is not a number (a dict) a TypeError; keep it, as scikit-learn does.
        except (TypeError, ValueError) as err:
            raise type(err)(f"{name} must contain numbers; converting its {array.dtype} "
                            f"entries to float failed: {err}") from None
    check_structure(array, name=name, caller=caller)
    dtype = compute_dtype(array.dtype) if dtype is None else np.dtype(dtype)
    # NaN and infinity are looked for in the values as given, before the cast: a finite
    # value that the cast turns into infinity is an overflow, and says so below.
    if not np.all(np.isfinite(array)):
        bad_rows = np.flatnonzero(~np.all(np.isfinite(array), axis=1))
        what = "NaN" if np.isnan(array).any() else "infinity"
        hint = ""
        if what == "infinity" and array.dtype.kind == "f" and array.dtype.itemsize <= 4:
            hint = (f" ({array.dtype.name} overflows to infinity beyond "
                    f"{np.finfo(array.dtype).max:.3g}: scale the data before converting it "
                    f"to {array.dtype.name})")
        raise ValueError(f"Input {name} contains {what} in {bad_rows.size} row(s) (first: "
                         f"{bad_rows[:5].tolist()}){hint}. Remove or impute them before "
                         f"fitting.")
    with np.errstate(over="ignore"):  # an overflow is reported below, not as a warning
        converted = array.astype(dtype, copy=False)
    largest = float(np.abs(array).max())
    if not np.all(np.isfinite(converted)):
        raise ValueError(f"{name} has values up to {largest:.3g}, which overflow {dtype.name} "
                         f"(largest {np.finfo(dtype).max:.3g}); scale the data"
                         f"{_FLOAT64_HINT if dtype == np.float32 else ''}.")
    if dtype == np.float32 and largest > np.finfo(np.float32).max / 1e6:
        raise ValueError(f"{name} has entries up to {largest:.3g}, too large for float32 "
                         f"arithmetic; scale the data{_FLOAT64_HINT}.")
    return converted


_FLOAT64_HINT = " or enable float64 (jax.config.update('jax_enable_x64', True))"


def check_structure(X, *, name="X", caller="bayesgmm", axes=("sample", "feature")):
    """The checks of :func:`check_array` that read only ``X``'s dtype and shape.

    For arrays whose values must not be read where they are checked: traced arrays (under
    ``jit`` or ``vmap``, where only the shape and dtype are known) and arrays on a device
    (which :func:`check_array` would copy to the host). Messages are :func:`check_array`'s.

    Parameters
    ----------
    X : array, one axis per entry of ``axes``
    name, caller : str
        As :func:`check_array`.
    axes : tuple of str
        What one entry along each axis is, e.g. ``("dataset", "sample", "feature")`` for a
        batch of data sets; every axis needs at least one.

    Returns
    -------
    X, unchanged

    Raises
    ------
    ValueError
        A wrong number of dimensions or an empty axis.
    ComplexDataError
        Complex numbers.
    """
    if np.issubdtype(X.dtype, np.complexfloating):
        raise ComplexDataError(f"Complex data not supported: {name} has dtype "
                               f"{X.dtype}; {caller} needs real numbers.")
    ndim = len(axes)
    if X.ndim != ndim:
        if ndim == 2 and X.ndim == 1:
            raise ValueError(
                f"Expected 2D array, got 1D array instead: {name}.shape={X.shape}. Reshape "
                f"your data either using array.reshape(-1, 1) if your data has a single "
                f"feature or array.reshape(1, -1) if it contains a single sample.")
        layout = "" if ndim == 2 else f"; its axes are ({', '.join(f'n_{a}s' for a in axes)})"
        raise ValueError(f"Expected {ndim}D array, got {X.ndim}D array instead "
                         f"({name}.shape={X.shape}){layout}.")
    needs = " and ".join((", ".join(f"one {a}" for a in axes[:-1]), f"one {axes[-1]}"))
    for axis, what in enumerate(axes):
        if X.shape[axis] == 0:  # scikit-learn's wording
            raise ValueError(f"Found array with 0 {what}(s) (shape={X.shape}) while a "
                             f"minimum of 1 is required ({name}: at least {needs}).")
    return X


def feature_names(X):
    """The column names of a data frame (pandas, polars, ...) when all are strings, else None.

    scikit-learn's rule (``feature_names_in_``): names are kept only when every column name
    is a string; a mix of strings and other names is an error; no names (a NumPy array, a
    frame with integer column names) is None. Data frames are recognised by their
    ``columns`` attribute, without importing any data-frame library.

    Returns
    -------
    ndarray of object, shape (n_features,), or None

    Raises
    ------
    TypeError
        Column names of mixed types, some strings (scikit-learn's message).
    """
    columns = getattr(X, "columns", None)
    if columns is None or isinstance(X, np.ndarray) or len(getattr(X, "shape", ())) != 2:
        return None
    names = np.asarray(list(columns), dtype=object)
    if names.size == 0:
        return None
    types = sorted(t.__qualname__ for t in {type(v) for v in names})
    if len(types) > 1 and "str" in types:
        raise TypeError(
            f"Feature names are only supported if all input features have string names, but "
            f"your input has {types} as feature name / column name types. If you want feature "
            f"names to be stored and validated, you must convert them all to strings, by "
            f"using X.columns = X.columns.astype(str) for example. Otherwise you can remove "
            f"feature / column names from your input data, or convert them all to a "
            f"non-string data type.")
    return names if types == ["str"] else None


def check_feature_names(fitted_names, X, *, caller):
    """Compare the column names of ``X`` with those seen at fit (scikit-learn's rules).

    Parameters
    ----------
    fitted_names : ndarray of object or None
        The estimator's ``feature_names_in_`` (None when it was fitted without names).
    X : array-like or data frame, shape (n_samples, n_features)
    caller : str
        The estimator's class name, for messages.

    Returns
    -------
    str or None
        A message to warn with (``UserWarning``, as scikit-learn) when only one side has
        names; None when both agree or neither has names.

    Raises
    ------
    ValueError
        Both have names and they differ, in content or in order (scikit-learn's message,
        listing unseen and missing names).
    """
    names = feature_names(X)
    if fitted_names is None and names is None:
        return None
    if fitted_names is None:
        return f"X has feature names, but {caller} was fitted without feature names"
    if names is None:
        return f"X does not have valid feature names, but {caller} was fitted with feature names"
    if len(fitted_names) == len(names) and np.all(fitted_names == names):
        return None
    unexpected = sorted(set(names) - set(fitted_names))
    missing = sorted(set(fitted_names) - set(names))

    def listed(items):  # at most five, as scikit-learn lists them
        return "".join(f"- {item}\n" for item in items[:5]) + ("- ...\n" if len(items) > 5 else "")

    message = "The feature names should match those that were passed during fit.\n"
    if unexpected:
        message += "Feature names unseen at fit time:\n" + listed(unexpected)
    if missing:
        message += "Feature names seen at fit time, yet now missing:\n" + listed(missing)
    if not unexpected and not missing:
        message += "Feature names must be in the same order as they were in fit.\n"
    raise ValueError(message)


def check_data(X, *, name="X", caller="bayesgmm"):
    """:func:`check_array`, returned as a JAX array (for the functional API)."""
    # device_put, not jnp.asarray: the latter compiles a copy program for every new shape
    # (in every new process). Both narrow float64 to float32 unless x64 is enabled.
    return jax.device_put(check_array(X, name=name, caller=caller))


def check_sharded_array(X, *, name="X", caller="GaussianMixture"):
    """:func:`check_structure` for a row-sharded ``jax.Array``, which must also be floating.

    Its values are not read: that would gather the rows (possibly from other hosts).
    """
    check_structure(X, name=name, caller=caller)
    if not jnp.issubdtype(X.dtype, jnp.floating):
        raise TypeError(f"A sharded {name} must hold floating-point numbers, got {X.dtype}.")
    return X


def check_is_fitted(estimator, attribute):
    """Raise :class:`~bayesgmm.exceptions.NotFittedError` (scikit-learn's message) unless
    ``estimator`` has the fitted ``attribute``."""
    if not hasattr(estimator, attribute):
        raise NotFittedError(f"This {type(estimator).__name__} instance is not fitted yet. Call "
                             f"'fit' with appropriate arguments before using this estimator.")


def is_number(text):
    """Whether a string (a CSV cell) parses as a float."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_sample_weight(sample_weight, n_samples, dtype):
    """Validate non-negative frequency weights of shape (n_samples,); None stays None.

    A scalar is broadcast to every row.
    """
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=dtype)
    if w.ndim == 0:
        w = np.full(n_samples, w, dtype)
    if w.shape != (n_samples,):
        raise ValueError(f"sample_weight has shape {w.shape}, expected ({n_samples},).")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("sample_weight must be finite and non-negative.")
    if w.sum() <= 0:
        raise ValueError("sample_weight sums to zero: at least one row needs positive weight.")
    return w


def check_shape(value, shape, name, dtype, *, argument=None):
    """``value`` as a finite NumPy array of exactly ``shape``.

    ``name`` is scikit-learn's name for the parameter in its message ("weights",
    "full precision"); ``argument``, when given, the keyword the user passed it as
    ("weights_init"), appended so that the message says where to look.
    """
    array = np.asarray(value, dtype=dtype)
    where = "" if argument is None else f" ({argument})"
    if array.shape != tuple(shape):
        raise ValueError(f"The parameter '{name}' should have the shape of {tuple(shape)}, but "
                         f"got {array.shape}{where}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"The parameter '{name}'{where} contains NaN or infinity.")
    return array


def check_n_samples(n_samples, n_components):
    """A mixture of ``n_components`` needs at least that many rows (scikit-learn's message)."""
    if n_samples < n_components:
        raise ValueError(f"Expected n_samples >= n_components but got n_components = "
                         f"{n_components}, n_samples = {n_samples}")


# -------------------------------------------------------------------------------- parameters

def check_int(name, value, low=1):
    """``value`` as a Python int >= ``low`` (booleans are not integers here)."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
        raise ValueError(f"Invalid value for '{name}': {value!r}; '{name}' must be an integer "
                         f">= {low}.")
    return int(value)


def check_real(name, value, *, low=0.0, high=math.inf, low_open=False, high_open=False):
    """``value`` as a finite Python float in the interval from ``low`` to ``high``.

    The interval is closed unless ``low_open`` / ``high_open``; the default is the finite
    non-negative numbers.
    """
    ok = (isinstance(value, numbers.Real) and not isinstance(value, bool)
          and math.isfinite(value)
          and (value > low if low_open else value >= low)
          and (value < high if high_open else value <= high))
    if not ok:
        if high == math.inf and low == 0:
            what = "a finite positive number" if low_open else "a finite non-negative number"
        else:
            what = (f"in {'(' if low_open else '['}{low:g}, {high:g}"
                    f"{')' if high_open else ']'}")
        raise ValueError(f"Invalid value for '{name}': {value!r}; '{name}' must be {what}.")
    return float(value)


#: ``tol`` for mclust's stopping rule: the relative change of the total log-likelihood
#: ``|L - L_prev| / (1 + |L|)`` below 1e-5 (``mclust::emControl()$tol[1]``), no absolute test.
MCLUST_TOL = (0.0, 1e-5)


def check_tol(tol):
    """EM's ``tol``: a finite non-negative float (scikit-learn's rule on the per-sample
    log-likelihood), ``"mclust"`` (:data:`MCLUST_TOL`) or a pair ``(absolute, relative)``;
    returned as a float or a tuple of two floats. Arrays (a traced ``tol``) pass unchecked."""
    if isinstance(tol, str):
        if tol == "mclust":
            return MCLUST_TOL
        raise ValueError(f"Invalid value for 'tol': {tol!r}; 'tol' must be a finite "
                         f"non-negative number, 'mclust' or a pair (absolute, relative).")
    if isinstance(tol, (tuple, list)):
        if len(tol) != 2:
            raise ValueError(f"Invalid value for 'tol': {tol!r}; a pair (absolute, relative) "
                             f"has two entries.")
        return tuple(check_real("tol", t) for t in tol)
    if isinstance(tol, numbers.Real):
        return check_real("tol", tol)
    return tol


def check_choice(name, value, choices):
    """``value`` if it is one of ``choices`` (scikit-learn's message otherwise)."""
    if isinstance(value, str) and value in choices:
        return value
    raise ValueError(f"Invalid value for '{name}': {value!r}; '{name}' should be in "
                     f"{list(choices)}")


def key_from_random_state(random_state):
    """A JAX key from an int, None, a NumPy RandomState/Generator, or a JAX key."""
    if isinstance(random_state, jax.Array):
        if jnp.issubdtype(random_state.dtype, jax.dtypes.prng_key):
            return random_state
        if random_state.dtype == jnp.uint32 and random_state.shape == (2,):
            return jax.random.wrap_key_data(random_state)
        raise TypeError(f"random_state given as a JAX array must be a PRNG key, got dtype "
                        f"{random_state.dtype} and shape {random_state.shape}.")
    if random_state is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    elif isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        seed = int(random_state)
        if not 0 <= seed < 2 ** 32:
            raise ValueError(f"random_state must be in [0, 2**32), got {seed}.")
    elif isinstance(random_state, np.random.RandomState):
        seed = int(random_state.randint(2 ** 31 - 1))
    elif isinstance(random_state, np.random.Generator):
        seed = int(random_state.integers(2 ** 31 - 1))
    else:
        raise TypeError(f"random_state must be None, an int, a numpy RandomState or Generator, "
                        f"or a JAX PRNG key; got {type(random_state).__name__}.")
    if jax.config.jax_default_prng_impl == "threefry2x32":
        # The key jax.random.key(seed) gives (Threefry seeds a 32-bit seed as the pair
        # (0, seed)), built on the host: jax.random.key compiles its seeding program in every
        # new process, 0.06 s of a first fit on a 2-core CPU.
        return jax.random.wrap_key_data(np.array([0, seed], np.uint32))
    return jax.random.key(seed)


__all__ = ["check_array", "check_choice", "check_data", "check_feature_names", "check_int",
           "check_is_fitted", "check_n_samples", "check_real", "check_sample_weight",
           "check_shape", "check_sharded_array", "check_structure", "compute_dtype",
           "default_float_dtype", "feature_names", "is_number", "key_from_random_state"]
