"""Saving and loading fitted models without pickle: NumPy arrays plus JSON metadata.

A saved model is one ``.npz`` file holding the fitted arrays and a JSON header (format name,
version, class, constructor parameters, scalar attributes and a SHA-256 digest of everything
else). :func:`load` opens it with ``allow_pickle=False``, so a file can never run code, and it
checks the digest, so a truncated or altered file is refused with a clear error. Arrays are
stored bit for bit: a loaded model predicts exactly what the saved one did.

Structured values (a :class:`bayesgmm.BayesianGMM`'s posterior draws and priors, its JAX
random key) are written as a JSON skeleton whose leaves name arrays in the archive:
``{"array": name}``, ``{"tuple": [...]}``, ``{"list": [...]}``, ``{"dict": {...}}``,
``{"namedtuple": type, "fields": {...}}`` for the library's own NamedTuples (read back only
for the types in :func:`_namedtuples`, never an arbitrary class) and
``{"prng_key": name, "impl": ...}``; scalars are plain JSON.
"""

import hashlib
import io as _io
import json
import numbers
import zipfile

import numpy as np

from bayesgmm.validation import is_number

FORMAT = "bayesgmm.model"
# 2: structured values (draws, priors, keys, object arrays) as a JSON skeleton, BayesianGMM.
# Version 1 files read as before; a version 1 reader refuses version 2 files rather than
# misreading a skeleton as a plain value.
VERSION = 2
_HEADER = "__bayesgmm_header__"


class ModelFileError(ValueError):
    """A model file is missing pieces, altered, truncated, or of an unknown format/version."""


def _registry():
    from bayesgmm.bayes.estimator import BayesianGMM
    from bayesgmm.estimator import GaussianMixture
    return {"GaussianMixture": GaussianMixture, "BayesianGMM": BayesianGMM}


def _namedtuples():
    """The NamedTuple types a file may hold (by name): nothing else is ever constructed."""
    from bayesgmm.bayes.inference import PosteriorDraws
    from bayesgmm.bayes.model import Priors
    from bayesgmm.params import GMMParams
    return {t.__name__: t for t in (GMMParams, Priors, PosteriorDraws)}


_MARKERS = ("array", "tuple", "list", "dict", "namedtuple", "prng_key")


def _encode(value, name, arrays):
    """``value`` as JSON, its arrays stored in ``arrays`` under names starting with ``name``.

    Raises TypeError for what cannot be stored faithfully (a NumPy random generator, an
    arbitrary object).
    """
    import jax

    if isinstance(value, np.generic):
        value = value.item()
    if _json_value(value):
        return value
    if isinstance(value, jax.Array) and jax.dtypes.issubdtype(value.dtype,
                                                               jax.dtypes.prng_key):
        arrays[name] = np.asarray(jax.random.key_data(value))
        return {"prng_key": name, "impl": str(jax.random.key_impl(value))}
    if isinstance(value, (np.ndarray, jax.Array)):
        value = np.asarray(value)
        if value.dtype == object:  # feature names: strings, stored as a unicode array
            if not all(isinstance(v, str) for v in value.flat):
                raise TypeError(f"{name}: an object array of other than strings")
            arrays[name] = value.astype(str)
            return {"array": name, "dtype": "object"}
        arrays[name] = value
        return {"array": name}
    if isinstance(value, tuple) and type(value).__name__ in _namedtuples():
        return {"namedtuple": type(value).__name__,
                "fields": {f: _encode(v, f"{name}/{f}", arrays)
                           for f, v in zip(value._fields, value)}}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": {k: _encode(v, f"{name}/{k}", arrays) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return {kind: [_encode(v, f"{name}/{i}", arrays) for i, v in enumerate(value)]}
    raise TypeError(f"{name}: a {type(value).__name__} cannot be saved")


def _decode(value, contents, path):
    """The inverse of :func:`_encode` (arrays from ``contents``, the archive)."""
    if not isinstance(value, dict):
        return value
    if len(value) > 2 or not value.keys() & set(_MARKERS):
        raise ModelFileError(f"{path}: unexpected entry {value!r} in the header.")
    try:
        if "array" in value:
            array = contents[value["array"]]
            return array.astype(object) if value.get("dtype") == "object" else array
        if "prng_key" in value:
            import jax
            return jax.random.wrap_key_data(contents[value["prng_key"]], impl=value["impl"])
        if "namedtuple" in value:
            cls = _namedtuples()[value["namedtuple"]]
            return cls(**{f: _decode(v, contents, path) for f, v in value["fields"].items()})
        if "dict" in value:
            return {k: _decode(v, contents, path) for k, v in value["dict"].items()}
        items = [_decode(v, contents, path) for v in value.get("list", value.get("tuple"))]
        return items if "list" in value else tuple(items)
    except KeyError as err:
        raise ModelFileError(f"{path}: the header names {err} but the file does not hold "
                             f"it.") from None


def _digest(header, arrays):
    h = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _json_value(value):
    return value is None or isinstance(value, (bool, str, numbers.Integral, numbers.Real))


def save(path, model):
    """Write a fitted model to ``path`` (an ``.npz`` file; the suffix is not added).

    Parameters
    ----------
    path : str or path-like or binary file object
    model : GaussianMixture or BayesianGMM
        Must be fitted. A BayesianGMM is saved with its posterior draws, its priors (given
        and resolved), its settings, and the training data and key its ``datatree_`` is
        built from, so that the loaded model's predictions, samples and DataTree are the
        saved one's exactly.

    Notes
    -----
    Constructor parameters that are arrays are stored as arrays, and so is a JAX key; a
    ``random_state`` that is a NumPy RandomState/Generator cannot be stored faithfully and is
    saved as None (the header records its type).
    """
    name = type(model).__name__
    if name not in _registry():
        raise TypeError(f"Cannot save a {name}; supported: {sorted(_registry())}.")
    model._check_is_fitted()
    arrays, params, dropped = {}, {}, {}
    for key, value in model.get_params().items():
        try:
            params[key] = _encode(value, f"param/{key}", arrays)
        except TypeError:
            params[key] = None
            dropped[key] = type(value).__name__
    attributes = {}
    # Fitted attributes, and the private state a class lists as part of its fit.
    private = getattr(model, "_saved_private_attributes", ())
    for key, value in vars(model).items():
        if (not key.endswith("_") or key.startswith("_")) and key not in private:
            continue
        if isinstance(value, np.ndarray) and value.dtype != object:
            arrays[f"attr/{key}"] = value  # version 1's layout, kept for plain arrays
        else:
            attributes[key] = _encode(value, f"attr/{key}", arrays)
    header = {"format": FORMAT, "version": VERSION, "class": name, "params": params,
              "attributes": attributes, "not_saved": dropped}
    header["sha256"] = _digest(header, arrays)
    encoded = np.frombuffer(json.dumps(header, sort_keys=True).encode(), dtype=np.uint8)
    np.savez(path, **arrays, **{_HEADER: encoded})


def load(path):
    """Read a model written by :func:`save`.

    Raises
    ------
    ModelFileError
        If the file is not a bayesgmm model, is truncated or altered (digest mismatch), or
        was written by a newer format version. Never unpickles anything.
    FileNotFoundError
        If ``path`` does not exist.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            contents = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as err:
        raise ModelFileError(f"{path}: not a readable bayesgmm model file (truncated or not "
                             f"an .npz archive): {err}") from None
    if _HEADER not in contents:
        raise ModelFileError(f"{path}: no bayesgmm header; this .npz was not written by "
                             f"bayesgmm.io.save.")
    try:
        header = json.loads(contents.pop(_HEADER).tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"{path}: the header is corrupted: {err}") from None
    if header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: unknown format {header.get('format')!r}.")
    if not isinstance(header.get("version"), int) or header["version"] > VERSION:
        raise ModelFileError(f"{path}: format version {header.get('version')!r} is newer than "
                             f"this bayesgmm reads ({VERSION}); upgrade bayesgmm.")
    expected = header.pop("sha256", None)
    if expected != _digest(header, contents):
        raise ModelFileError(f"{path}: the contents do not match their SHA-256 digest; the "
                             f"file was altered or damaged.")
    cls = _registry().get(header["class"])
    if cls is None:
        raise ModelFileError(f"{path}: unknown model class {header['class']!r}.")
    params = {key: _decode(value, contents, path) for key, value in header["params"].items()}
    model = cls(**params)
    for key, value in header["attributes"].items():
        setattr(model, key, _decode(value, contents, path))
    for key, value in contents.items():  # plain array attributes (version 1's layout)
        name = key[len("attr/"):]
        if key.startswith("attr/") and "/" not in name and name not in header["attributes"]:
            setattr(model, name, value)
    return model


def to_bytes(model):
    """The bytes :func:`save` would write (handy for tests and network transfer)."""
    buffer = _io.BytesIO()
    save(buffer, model)
    return buffer.getvalue()


def load_table(path, columns=None):
    """Read a numeric table from a ``.csv`` (header row optional) or ``.npy`` file.

    Parameters
    ----------
    path : str or path-like
    columns : sequence of str or int, optional
        Columns to keep, by header name or 0-based position; default all.

    Returns
    -------
    X : ndarray, shape (n_samples, n_features), float64
    names : tuple of str
        Column names (``x0, x1, ...`` where the file has none).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        For an unknown column, a column that is not numeric (named, with the first offending
        line), rows with missing values (how many, and which), or an unsupported suffix.
    """
    import csv
    import pathlib

    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such file: {path}")
    if path.suffix == ".npy":
        X = np.load(path, allow_pickle=False)
        if X.ndim == 1:
            X = X[:, None]
        if X.ndim != 2:
            raise ValueError(f"{path}: expected a 2-D array, got shape {X.shape}.")
        names = [f"x{i}" for i in range(X.shape[1])]
        rows = None
    elif path.suffix in (".csv", ".txt"):
        with path.open(newline="") as f:
            rows = [row for row in csv.reader(f) if row and any(cell.strip() for cell in row)]
        if not rows:
            raise ValueError(f"{path}: the file is empty.")
        has_header = not all(is_number(cell) or not cell.strip() for cell in rows[0])
        names = [c.strip() for c in rows[0]] if has_header else [f"x{i}"
                                                                 for i in range(len(rows[0]))]
        first_line = 2 if has_header else 1
        rows = rows[1:] if has_header else rows
        X = None
    else:
        raise ValueError(f"{path}: unsupported file type {path.suffix!r}; use .csv or .npy.")

    if columns is not None:
        keep = []
        for c in columns:
            if isinstance(c, int) or (isinstance(c, str) and c.isdigit() and c not in names):
                index = int(c)
                if not 0 <= index < len(names):
                    raise ValueError(f"{path}: column {index} out of range; the file has "
                                     f"{len(names)} columns.")
            elif c in names:
                index = names.index(c)
            else:
                raise ValueError(f"{path}: no column {c!r}; columns are {', '.join(names)}.")
            keep.append(index)
    else:
        keep = list(range(len(names)))

    if X is None:  # CSV: convert column by column so that errors can name the column
        X = np.empty((len(rows), len(keep)))
        for j, index in enumerate(keep):
            for i, row in enumerate(rows):
                cell = row[index].strip() if index < len(row) else ""
                if cell == "" or cell.lower() in ("na", "nan", "null"):
                    X[i, j] = np.nan
                elif is_number(cell):
                    X[i, j] = float(cell)
                else:
                    raise ValueError(f"{path}: column {names[index]!r} is not numeric (line "
                                     f"{i + first_line}: {cell!r}); choose numeric columns "
                                     f"with --columns.")
        line_of = lambda i: i + first_line  # noqa: E731
    else:
        if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
            raise ValueError(f"{path}: the array has dtype {X.dtype}; a real numeric array "
                             f"is needed.")
        X = X[:, keep].astype(np.float64)
        line_of = lambda i: i  # noqa: E731
    missing = np.flatnonzero(~np.all(np.isfinite(X), axis=1))
    if missing.size:
        where = ", ".join(str(line_of(i)) for i in missing[:10])
        unit = "lines" if rows is not None else "rows"
        raise ValueError(f"{path}: {missing.size} row(s) have missing or non-finite values "
                         f"({unit} {where}{', ...' if missing.size > 10 else ''}); remove or "
                         f"impute them.")
    return X, tuple(names[i] for i in keep)
