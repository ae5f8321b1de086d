"""Scored files and model bundles get the mode the user's umask gives any new file, not a temp file's 0600."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

from conftest import ROOT, SAMPLE

SCRIPT = """
import os, sys
from pathlib import Path
os.umask(0o027)
from sentiment.apps.cli import main
from sentiment import SentimentClassifier
model, out = sys.argv[1], Path(sys.argv[2])
for name in ("scored.csv", "scored.parquet"):
    assert main(["score", sys.argv[3], "-o", str(out / name), "--model", model, "-q", "--workers", "1"]) == 0
SentimentClassifier.load(model).save(out / "bundle")
"""


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_outputs_follow_the_umask(tiny_model_dir, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tiny_model_dir), str(tmp_path), str(SAMPLE)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    modes = {p.relative_to(tmp_path).as_posix(): oct(_mode(p)) for p in tmp_path.rglob("*")}
    assert modes == {
        "scored.csv": "0o640",
        "scored.parquet": "0o640",
        "bundle": "0o750",
        **{f"bundle/{name}": "0o640" for name in os.listdir(tmp_path / "bundle")},
    }
    assert {"bundle/meta.json", "bundle/model.keras"} <= set(modes)


def test_usual_mode_reads_the_umask_without_changing_it():
    from sentiment.io.file_modes import current_umask, usual_mode

    old = os.umask(0o077)
    try:
        assert current_umask() == 0o077
        assert (usual_mode(), usual_mode(directory=True)) == (0o600, 0o700)
        os.umask(0o002)
        assert (usual_mode(), usual_mode(directory=True)) == (0o664, 0o775)
        assert current_umask() == 0o002
    finally:
        os.umask(old)
