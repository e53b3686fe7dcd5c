"""The persistent compilation cache that ``import bayesgmm`` turns on (bayesgmm.config).

Each case runs in a fresh interpreter: the cache is process-wide JAX state.
"""

import json
import os
import subprocess
import sys

REPORT = """
import json, jax
import bayesgmm
from bayesgmm import datasets
jax.block_until_ready(bayesgmm.fit_em(jax.random.key(0), datasets.load("faithful").data,
                                      n_components=2).params)
print(json.dumps({"dir": jax.config.jax_compilation_cache_dir,
                  "min_seconds": jax.config.jax_persistent_cache_min_compile_time_secs}))
"""


def run(tmp_path, code=REPORT, **env):
    environ = {k: v for k, v in os.environ.items()
               if k not in ("BAYESGMM_CACHE_DIR", "JAX_COMPILATION_CACHE_DIR")}
    environ.update(XDG_CACHE_HOME=str(tmp_path / "xdg"), **env)
    out = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True,
                         text=True, check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def programs_in(folder):
    return [name for name in os.listdir(folder) if not name.startswith(".")]


def test_on_by_default_under_the_user_cache_folder(tmp_path):
    report = run(tmp_path)
    folder = str(tmp_path / "xdg" / "bayesgmm" / "jax")
    assert report == {"dir": folder, "min_seconds": 0.0}
    assert programs_in(folder)  # the fit's program was written


def test_switched_off_by_the_environment(tmp_path):
    report = run(tmp_path, BAYESGMM_CACHE_DIR="off")
    assert report["dir"] is None
    assert not (tmp_path / "xdg").exists()


def test_a_folder_configured_for_jax_is_respected(tmp_path):
    mine = tmp_path / "mine"
    report = run(tmp_path, JAX_COMPILATION_CACHE_DIR=str(mine))
    assert report["dir"] == str(mine)
    assert report["min_seconds"] == 1.0  # JAX's default, untouched
    assert not (tmp_path / "xdg").exists()


def test_an_unwritable_folder_leaves_the_cache_off(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    report = run(tmp_path, BAYESGMM_CACHE_DIR=str(blocker / "jax"))
    assert report["dir"] is None  # and the fit ran


def test_disable_after_compiling_stops_writing(tmp_path):
    code = """
import json, jax, os
import bayesgmm
from bayesgmm import config, datasets
X = datasets.load("faithful").data
bayesgmm.fit_em(jax.random.key(0), X, n_components=2)
folder = config.default_cache_dir()
before = len(os.listdir(folder))
config.disable_compilation_cache()
bayesgmm.fit_em(jax.random.key(0), X, n_components=3, covariance_type="diag")
print(json.dumps({"dir": jax.config.jax_compilation_cache_dir, "before": before,
                  "after": len(os.listdir(folder))}))
"""
    report = run(tmp_path, code)
    assert report["dir"] is None
    assert report["before"] >= 1 and report["after"] == report["before"]
