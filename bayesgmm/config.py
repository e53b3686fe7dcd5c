"""JAX's persistent compilation cache, which bayesgmm turns on by default.

A cold EM fit or NUTS run is mostly XLA compilation (a second or more per program on a CPU),
and a script run again compiles the same programs again. With JAX's persistent cache the
second process loads them from disk instead, so ``import bayesgmm`` turns the cache on
(:func:`use_default_cache`) unless one of these holds:

- the environment says ``BAYESGMM_CACHE_DIR=off`` (or ``0``, ``false``, ``none``);
- a cache folder is already configured for JAX (``JAX_COMPILATION_CACHE_DIR`` or
  ``jax.config.update("jax_compilation_cache_dir", ...)`` before the import): it is used as
  it is, with the user's settings;
- the folder cannot be created or written (a read-only home): the cache stays off, silently.

:func:`disable_compilation_cache` turns it off again; :func:`enable_compilation_cache` turns
it on for another folder. The cache is process-wide (JAX has one): while it is on, the
user's own programs are kept there too. No other JAX setting is changed (never x64). JAX
evicts nothing from the folder (its size limit needs the ``filelock`` package); it can be
deleted at any time (typically tens of MB per script).
"""

import os

_OFF = ("off", "0", "false", "none")
#: Programs quicker to compile than this are not written (JAX's default is 1 s). Every
#: program is: loading a small one (~2 ms) still beats compiling it again (~15 ms), and a
#: repeat run of Old Faithful's three-fit script compiled 36 small ones (0.5 s) at 0.1 s.
DEFAULT_MIN_COMPILE_SECONDS = 0.0
_enabled_path = None  # the folder this module turned on, if any


def default_cache_dir():
    """``$BAYESGMM_CACHE_DIR``, else ``$XDG_CACHE_HOME/bayesgmm/jax``, else
    ``~/.cache/bayesgmm/jax``."""
    base = os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache"))
    return os.environ.get("BAYESGMM_CACHE_DIR", os.path.join(base, "bayesgmm", "jax"))


def enable_compilation_cache(path=None, *, min_compile_seconds=0.0):
    """Keep compiled XLA programs on disk so that a new process does not compile them again.

    Sets JAX's process-wide ``jax_compilation_cache_dir`` (replacing any folder set before).

    Parameters
    ----------
    path : str, optional
        Cache folder; default :func:`default_cache_dir`.
    min_compile_seconds : float
        Programs that compile faster than this are not cached (0: every program).

    Returns
    -------
    str or None
        The folder in use, or None if it could not be created or written (the cache is then
        left as it was).
    """
    global _enabled_path
    import jax
    path = default_cache_dir() if path is None else os.fspath(path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None
    if not os.access(path, os.W_OK):
        return None
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_seconds))
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    _reset()
    _enabled_path = path
    return path


def disable_compilation_cache():
    """Turn off the persistent cache that bayesgmm turned on (a folder the user configured
    for JAX is left alone)."""
    global _enabled_path
    import jax
    if _enabled_path is not None and jax.config.jax_compilation_cache_dir == _enabled_path:
        jax.config.update("jax_compilation_cache_dir", None)
        _reset()
    _enabled_path = None


def _reset():
    # JAX decides once, at the first compilation, whether the cache is used and where:
    # reset that decision so that a change made after some compilations takes effect.
    from jax.experimental.compilation_cache import compilation_cache
    compilation_cache.reset_cache()


def use_default_cache():
    """The default at ``import bayesgmm``: turn the cache on at :func:`default_cache_dir`
    unless it is switched off, already configured, or not writable (module docstring).

    Returns
    -------
    str or None
        The folder turned on, or None.
    """
    import jax
    if os.environ.get("BAYESGMM_CACHE_DIR", "").strip().lower() in _OFF:
        return None
    if jax.config.jax_compilation_cache_dir:
        return None
    return enable_compilation_cache(min_compile_seconds=DEFAULT_MIN_COMPILE_SECONDS)
