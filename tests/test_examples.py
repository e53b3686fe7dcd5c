"""Every example script runs and writes its figure (each in a fresh interpreter); the
multi-host example, run as one process, writes its fit as JSON."""

import json
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = sorted(p for p in (pathlib.Path(__file__).parent.parent / "examples").glob("*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_and_writes_its_figure(script, tmp_path):
    done = subprocess.run([sys.executable, str(script), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    if script.stem == "multihost":
        result = json.loads((tmp_path / "multihost.json").read_text())
        assert result and all(v is not None for v in result.values())
        return
    figures = list(tmp_path.glob("*.png"))
    assert figures and all(f.stat().st_size > 10_000 for f in figures)
