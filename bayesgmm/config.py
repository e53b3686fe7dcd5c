"""Opt-in process-wide JAX settings that pay off for bayesgmm users.

The library itself changes no global JAX setting (neither x64 nor caching); scripts, the
command line and the test suite opt in here.
"""

import os


def default_cache_dir():
    """``$BAYESGMM_CACHE_DIR``, else ``$XDG_CACHE_HOME/bayesgmm/jax``, else
    ``~/.cache/bayesgmm/jax``."""
    base = os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache"))
    return os.environ.get("BAYESGMM_CACHE_DIR", os.path.join(base, "bayesgmm", "jax"))


def enable_compilation_cache(path=None):
    """Keep compiled XLA programs on disk so that a new process does not compile them again.

    A cold EM or NUTS fit is mostly compilation (seconds on a CPU); with the cache a second
    run of the same script loads the compiled programs instead. This sets JAX's process-wide
    ``jax_compilation_cache_dir`` (and caches every program, however quick to compile).

    Parameters
    ----------
    path : str, optional
        Cache folder; default :func:`default_cache_dir`.

    Returns
    -------
    str or None
        The folder in use, or None if it could not be created (the cache stays off).
    """
    import jax
    path = default_cache_dir() if path is None else os.fspath(path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None  # a read-only home: run without the cache rather than fail
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
