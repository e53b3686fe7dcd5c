"""Saving and loading fitted models without pickle: NumPy arrays plus JSON metadata.

A saved model is one ``.npz`` file holding the fitted arrays and a JSON header (format name,
version, class, constructor parameters, scalar attributes and a SHA-256 digest of everything
else). :func:`load` opens it with ``allow_pickle=False``, so a file can never run code, and it
checks the digest, so a truncated or altered file is refused with a clear error. Arrays are
stored bit for bit: a loaded model predicts exactly what the saved one did.
"""

import hashlib
import io as _io
import json
import numbers
import zipfile

import numpy as np

from bayesgmm.validation import is_number

FORMAT = "bayesgmm.model"
VERSION = 1
_HEADER = "__bayesgmm_header__"


class ModelFileError(ValueError):
    """A model file is missing pieces, altered, truncated, or of an unknown format/version."""


def _registry():
    from bayesgmm.estimator import GaussianMixture
    return {"GaussianMixture": GaussianMixture}


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
    model : GaussianMixture
        Must be fitted.

    Notes
    -----
    Constructor parameters that are arrays are stored as arrays; a ``random_state`` that is a
    NumPy RandomState/Generator or a JAX key cannot be stored faithfully and is saved as None
    (the header records its type).
    """
    name = type(model).__name__
    if name not in _registry():
        raise TypeError(f"Cannot save a {name}; supported: {sorted(_registry())}.")
    model._check_is_fitted()
    arrays, params, dropped = {}, {}, {}
    for key, value in model.get_params().items():
        if _json_value(value):
            params[key] = value.item() if isinstance(value, np.generic) else value
        elif isinstance(value, (np.ndarray, list, tuple)):
            arrays[f"param/{key}"] = np.asarray(value)
            params[key] = {"array": f"param/{key}"}
        else:
            params[key] = None
            dropped[key] = type(value).__name__
    attributes = {}
    for key, value in vars(model).items():
        if not key.endswith("_") or key.startswith("_"):
            continue
        if isinstance(value, np.ndarray):
            arrays[f"attr/{key}"] = value
        else:
            attributes[key] = value.item() if isinstance(value, np.generic) else value
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
    params = {key: contents[value["array"]] if isinstance(value, dict) else value
              for key, value in header["params"].items()}
    model = cls(**params)
    for key, value in header["attributes"].items():
        setattr(model, key, value)
    for key, value in contents.items():
        if key.startswith("attr/"):
            setattr(model, key[len("attr/"):], value)
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
