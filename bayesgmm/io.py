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
