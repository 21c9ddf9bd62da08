"""The scripts of examples/python run (the explainer experiment's script needs the recommender
experiment's models and minutes of release-build time: README "Python" shows its run)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO


@pytest.mark.parametrize(
    "script, expect",
    [
        ("quickstart.py", ["tau_ap", "listeners", "item: int64"]),
        ("datafusion_functions.py", ["registered", "explanation", "tau_b", "rank"]),
    ],
)
def test_example_runs(script, expect, tmp_path):
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / "python" / script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    for text in expect:
        assert text in out.stdout
